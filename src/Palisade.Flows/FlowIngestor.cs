using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;
using Palisade.Flows.Storage;

namespace Palisade.Flows;

/// <summary>How far an ingest has come; reported after each stored batch.</summary>
public readonly record struct IngestProgress(string Source, long Lines, long Flows, long Written, long Duplicates, long Malformed, TimeSpan Elapsed);

/// <summary>What an ingest did, in all; <see cref="Expired"/> counts the flows retention deleted while it ran.</summary>
public sealed record IngestResult(FlowReadReport Read, FlowWriteResult Stored, TimeSpan Elapsed, IReadOnlyList<string> Sources)
{
    /// <summary>Flows the store's retention rules deleted during the ingest.</summary>
    public long Expired { get; init; }
}

/// <summary>
/// Reads Hubble flow files or streams and stores their flows, batch by batch: reading on one thread,
/// parsing and attributing chunks of lines on pool threads (as many chunks at a time as there are
/// cores, at least two), storing them in reading order on another, up to <see cref="BatchesPerWrite"/>
/// batches already parsed in one write and up to <see cref="WritesInFlight"/> writes at once. A write
/// is one transaction, so a crash loses at most the writes being stored, the batches being parsed and
/// the one being read (on two cores, 7 × 8,192 flows with one write in flight, 11 × 8,192 with two);
/// reading the same files again stores only what is missing. The store's retention rules are applied
/// at the start, every <see cref="RetentionInterval"/> and at the end.
/// </summary>
public sealed class FlowIngestor(IFlowStore store)
{
    /// <summary>Flows per stored batch.</summary>
    public int BatchSize { get; init; } = 8192;

    /// <summary>Parsed batches stored together in one write at most, when several are ready at once.</summary>
    public int BatchesPerWrite { get; init; } = 4;

    /// <summary>
    /// Writes stored at once, each a transaction of its own; by default as many as the store takes to
    /// its benefit (<see cref="IFlowStore.ConcurrentWrites"/>). Writes finish, and <see cref="OnNew"/>
    /// hears of them, in reading order.
    /// </summary>
    public int WritesInFlight { get; init; } = Math.Max(1, store.ConcurrentWrites);

    /// <summary>Something to change each flow before it is stored (attribution), or null. It is called on several threads at once.</summary>
    public Func<FlowRecord[], FlowRecord[]>? Enrich { get; init; }

    /// <summary>
    /// How often the store's retention rules are applied while ingesting (once at the start, then at this
    /// interval, beside the writes); null never.
    /// </summary>
    public TimeSpan? RetentionInterval { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Called with the flows each batch added to the store (not those already stored): where alerts are raised. Null when nothing needs them.</summary>
    public Func<IReadOnlyList<FlowRecord>, CancellationToken, Task>? OnNew { get; init; }

    /// <summary>The clock retention is judged by.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Reads every source (a file, a folder of rotated files, or <c>-</c> for standard input) and stores its flows.</summary>
    public async Task<IngestResult> IngestAsync(IReadOnlyList<string> sources, IProgress<IngestProgress>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var files = sources.SelectMany(FlowFileReader.Expand).ToList();
        var report = new FlowReadReport();
        var stopwatch = Stopwatch.StartNew();
        // Chunks of lines are parsed (and attributed) on pool threads, as many at a time as there are
        // cores; the storing side takes their results in reading order.
        var channel = Channel.CreateBounded<(string Source, Task<FlowRecord[]> Batch)>(new BoundedChannelOptions(Math.Max(2, Environment.ProcessorCount)) { SingleReader = true, SingleWriter = true });
        var parsers = new ConcurrentBag<HubbleFlowParser>();
        // Reading blocks (on files, on standard input), so it has a thread of its own, which may also wait for room.
        var reading = Task.Factory.StartNew(
            () =>
            {
                try
                {
                    foreach (var file in files)
                    {
                        Stream stream;
                        try
                        {
                            stream = FlowFileReader.Open(file);
                        }
                        catch (Exception failure) when (failure is IOException or UnauthorizedAccessException)
                        {
                            report.Problem(new FlowReadProblem(file, 0, 0, Palisade.Diagnostics.DiagnosticCodes.UnreadableFlowFile, $"cannot read: {failure.Message}"));
                            continue;
                        }

                        using (stream)
                        {
                            foreach (var chunk in FlowFileReader.ReadChunks(stream, file, report, BatchSize, cancel))
                            {
                                if (!channel.Writer.WaitToWriteAsync(cancel).AsTask().GetAwaiter().GetResult())
                                {
                                    chunk.Dispose();
                                    return;
                                }

                                channel.Writer.TryWrite((file, Task.Run(() => ParseAndEnrich(chunk, parsers, report), cancel)));
                            }
                        }
                    }

                    channel.Writer.TryComplete();
                }
                catch (Exception failure)
                {
                    channel.Writer.TryComplete(failure);
                }
            },
            cancel,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

        using var stopRetention = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var retention = RetentionInterval is { } interval ? Task.Run(() => EnforceRetentionAsync(interval, stopRetention.Token), CancellationToken.None) : Task.FromResult(0L);
        var stored = default(FlowWriteResult);
        // Batches stored together are gathered here, in one list for the whole ingest: at four batches it
        // is a large object, which a new one each write would make the collector walk the whole heap for.
        // Alerts may keep what a write returns, and writes in flight together each need theirs, so then
        // each write has a list of its own.
        var gathered = OnNew is null && WritesInFlight <= 1 ? new List<FlowRecord>(BatchSize * BatchesPerWrite) : null;
        var writing = new Queue<(string Source, Task<(FlowWriteResult Result, IReadOnlyList<FlowRecord>? Added)> Write)>();
        async Task<(FlowWriteResult, IReadOnlyList<FlowRecord>?)> WriteAsync(IReadOnlyList<FlowRecord> batch)
        {
            if (OnNew is null)
            {
                return (await store.WriteAsync(batch, cancel).ConfigureAwait(false), null);
            }

            var added = await store.WriteNewAsync(batch, cancel).ConfigureAwait(false);
            return (new FlowWriteResult(added.Count, batch.Count - added.Count), added);
        }

        async Task FinishOldestAsync()
        {
            var (source, write) = writing.Dequeue();
            var (result, added) = await write.ConfigureAwait(false);
            stored += result;
            if (added is not null)
            {
                await OnNew!(added, cancel).ConfigureAwait(false);
            }

            progress?.Report(new IngestProgress(source, report.Lines, report.Flows, stored.Written, stored.Duplicates, report.Malformed, stopwatch.Elapsed));
        }

        try
        {
            await foreach (var (source, parsing) in channel.Reader.ReadAllAsync(cancel).ConfigureAwait(false))
            {
                IReadOnlyList<FlowRecord> batch = await parsing.ConfigureAwait(false);

                // Batches of the same source already parsed are stored with this one, up to BatchesPerWrite:
                // a store pays for each write as well as for each flow. Only finished batches are taken, so
                // a live stream waits for nothing.
                List<FlowRecord>? merged = null;
                for (var taken = 1; taken < BatchesPerWrite && channel.Reader.TryPeek(out var next) && next.Source == source && next.Batch.IsCompletedSuccessfully
                    && channel.Reader.TryRead(out next); taken++)
                {
                    if (merged is null)
                    {
                        merged = gathered ?? new List<FlowRecord>(BatchSize * BatchesPerWrite);
                        merged.Clear();
                        merged.AddRange(batch);
                    }

                    merged.AddRange(next.Batch.Result);
                    batch = merged;
                }

                writing.Enqueue((source, WriteAsync(batch)));
                while (writing.Count >= Math.Max(1, WritesInFlight))
                {
                    await FinishOldestAsync().ConfigureAwait(false);
                }
            }

            while (writing.Count > 0)
            {
                await FinishOldestAsync().ConfigureAwait(false);
            }
        }
        catch
        {
            // Writes still in flight end before the failure is passed on; those that stored flows are
            // still heard of, in order, since reading the input again would find them stored. What else
            // fails meanwhile is not passed on: the first failure is.
            foreach (var (_, write) in writing)
            {
                try
                {
                    if ((await write.ConfigureAwait(false)).Added is { } added)
                    {
                        await OnNew!(added, CancellationToken.None).ConfigureAwait(false);
                    }
                }
                catch (Exception)
                {
                }
            }

            // Stop the reader, which may be waiting for room in the channel, before passing the failure on.
            channel.Writer.TryComplete();
            try
            {
                await reading.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            throw;
        }
        finally
        {
            await stopRetention.CancelAsync().ConfigureAwait(false);
        }

        await reading.ConfigureAwait(false);
        var expired = await retention.ConfigureAwait(false);
        if (RetentionInterval is not null)
        {
            // Once more at the end, so that old flows this ingest stored do not wait for the next round.
            expired += (await store.ApplyRetentionAsync(FlowTimes.ToNanos(Clock.GetUtcNow()), dryRun: false, cancel).ConfigureAwait(false)).Deleted;
        }

        return new IngestResult(report, stored, stopwatch.Elapsed, files) { Expired = expired };
    }

    private FlowRecord[] ParseAndEnrich(FlowLineChunk chunk, ConcurrentBag<HubbleFlowParser> parsers, FlowReadReport report)
    {
        var parser = parsers.TryTake(out var idle) ? idle : new HubbleFlowParser();
        try
        {
            var flows = FlowFileReader.Parse(chunk, parser, report);
            return Enrich is null ? flows : Enrich(flows);
        }
        finally
        {
            parsers.Add(parser);
            chunk.Dispose();
        }
    }

    /// <summary>Applies the store's retention rules now and at each interval until stopped; the flows it deleted.</summary>
    private async Task<long> EnforceRetentionAsync(TimeSpan interval, CancellationToken stop)
    {
        long deleted = 0;
        try
        {
            while (true)
            {
                var now = Clock.GetUtcNow();
                var result = await store.ApplyRetentionAsync(FlowTimes.ToNanos(now), dryRun: false, stop).ConfigureAwait(false);
                deleted += result.Deleted;
                await Task.Delay(interval, Clock, stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            return deleted;
        }
    }
}
