using System.Diagnostics;
using System.Threading.Channels;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;
using Palisade.Flows.Storage;

namespace Palisade.Flows;

/// <summary>How far an ingest has come; reported after each stored batch.</summary>
public readonly record struct IngestProgress(string Source, long Lines, long Flows, long Written, long Duplicates, long Malformed, TimeSpan Elapsed);

/// <summary>What an ingest did, in all.</summary>
public sealed record IngestResult(FlowReadReport Read, FlowWriteResult Stored, TimeSpan Elapsed, IReadOnlyList<string> Sources);

/// <summary>
/// Reads Hubble flow files or streams and stores their flows, batch by batch: reading and parsing on
/// one thread, storing on another, with at most two batches between them. A batch is stored in one
/// transaction, so a crash loses at most the batch being stored and the one waiting (by default
/// 2 × 8,192 flows); reading the same files again stores only what is missing.
/// </summary>
public sealed class FlowIngestor(IFlowStore store)
{
    /// <summary>Flows per stored batch.</summary>
    public int BatchSize { get; init; } = 8192;

    /// <summary>Something to change each flow before it is stored (attribution), or null.</summary>
    public Func<FlowRecord[], FlowRecord[]>? Enrich { get; init; }

    /// <summary>Reads every source (a file, a folder of rotated files, or <c>-</c> for standard input) and stores its flows.</summary>
    public async Task<IngestResult> IngestAsync(IReadOnlyList<string> sources, IProgress<IngestProgress>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(sources);
        var files = sources.SelectMany(FlowFileReader.Expand).ToList();
        var report = new FlowReadReport();
        var stopwatch = Stopwatch.StartNew();
        var channel = Channel.CreateBounded<(string Source, FlowRecord[] Batch)>(new BoundedChannelOptions(2) { SingleReader = true, SingleWriter = true });
        var reading = Task.Run(
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
                            foreach (var batch in FlowFileReader.ReadBatches(stream, file, report, BatchSize, cancel))
                            {
                                var enriched = Enrich is null ? batch : Enrich(batch);
                                if (!channel.Writer.WaitToWriteAsync(cancel).AsTask().GetAwaiter().GetResult())
                                {
                                    return;
                                }

                                channel.Writer.TryWrite((file, enriched));
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
            cancel);

        var stored = default(FlowWriteResult);
        try
        {
            await foreach (var (source, batch) in channel.Reader.ReadAllAsync(cancel).ConfigureAwait(false))
            {
                stored += await store.WriteAsync(batch, cancel).ConfigureAwait(false);
                progress?.Report(new IngestProgress(source, report.Lines, report.Flows, stored.Written, stored.Duplicates, report.Malformed, stopwatch.Elapsed));
            }
        }
        catch
        {
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

        await reading.ConfigureAwait(false);
        return new IngestResult(report, stored, stopwatch.Elapsed, files);
    }
}
