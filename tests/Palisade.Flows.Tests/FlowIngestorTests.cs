using Palisade.Flows.Records;
using Palisade.Flows.Storage;
using Palisade.Flows.Tests.Reading;

namespace Palisade.Flows.Tests;

/// <summary>The ingestor parses chunks on several threads: what it stores and reports must not depend on that.</summary>
public sealed class FlowIngestorTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("palisade-ingest-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Ingest_SmallChunksOnManyThreads_StoresEveryFlowOnceAndReportsProblemsInLineOrder()
    {
        var lines = File.ReadAllLines(Path.Combine(HubbleCaptureTests.CaptureFolder, "basic-sample-400-tcp-flows.json")).ToList();
        foreach (var at in new[] { 350, 200, 17 })
        {
            lines.Insert(at, "{\"flow\": oops}");
        }

        var file = Path.Combine(_folder, "flows.json");
        await File.WriteAllLinesAsync(file, lines);
        await using var store = await DuckDbFlowStore.OpenAsync(Path.Combine(_folder, "flows.duckdb"));

        var result = await new FlowIngestor(store) { BatchSize = 7, RetentionInterval = null }.IngestAsync([file, HubbleCaptureTests.CaptureFolder]);

        Assert.Equal(403 + 1518, result.Read.Lines);
        Assert.Equal(3, result.Read.Malformed);
        Assert.Equal([18L, 202L, 353L], result.Read.Problems.Select(p => p.Line));
        Assert.Equal(1481, result.Stored.Written);
        Assert.Equal(1481, await store.CountAsync(FlowQuery.All));
    }

    [Fact]
    public async Task Ingest_TwoWritesInFlight_StoresEveryFlowOnceAndHearsOfEachWriteInReadingOrder()
    {
        // Reading order, from an ingest with one write in flight.
        var order = new Dictionary<(long, UInt128), int>();
        await using (var alone = await DuckDbFlowStore.OpenAsync(Path.Combine(_folder, "alone.duckdb")))
        {
            await Ingest(alone, 1, heard => heard.ForEach(f => order.Add((f.TimeUnixNanos, f.Id), order.Count)));
        }

        await using var inner = await DuckDbFlowStore.OpenAsync(Path.Combine(_folder, "flows.duckdb"));
        var store = new OverlappingStore(inner);
        var calls = new List<List<FlowRecord>>();
        var result = await Ingest(store, 2, calls.Add);

        Assert.True(store.Overlapped, "the first write ended before the second began");
        Assert.Equal(1481, result.Stored.Written);
        Assert.Equal(1481, await inner.CountAsync(FlowQuery.All));
        var heard = calls.SelectMany(static c => c).Select(static f => (f.TimeUnixNanos, f.Id)).ToList();
        Assert.Equal(order.Keys.Order(), heard.Order());

        // Each write is heard of after the one read before it (a flow both stored is heard of with the write that committed first).
        var firsts = calls.Where(static c => c.Count > 0).Select(c => order[(c[0].TimeUnixNanos, c[0].Id)]).ToList();
        Assert.True(firsts.Count > 10);
        Assert.Equal(firsts.Order(), firsts);

        Task<IngestResult> Ingest(IFlowStore into, int inFlight, Action<List<FlowRecord>> hear) =>
            new FlowIngestor(into)
            {
                BatchSize = 50,
                BatchesPerWrite = 1,
                WritesInFlight = inFlight,
                RetentionInterval = null,
                OnNew = (flows, _) =>
                {
                    hear([.. flows]);
                    return Task.CompletedTask;
                },
            }.IngestAsync([HubbleCaptureTests.CaptureFolder]);
    }

    [Fact]
    public async Task Ingest_FirstOfTwoWritesInFlightFails_TheOtherIsStillHeardOf()
    {
        await using var inner = await DuckDbFlowStore.OpenAsync(Path.Combine(_folder, "flows.duckdb"));
        var store = new OverlappingStore(inner) { FailFirst = true };
        var heard = new List<FlowRecord>();
        var ingest = new FlowIngestor(store)
        {
            BatchSize = 50,
            BatchesPerWrite = 1,
            WritesInFlight = 2,
            RetentionInterval = null,
            OnNew = (flows, _) =>
            {
                heard.AddRange(flows);
                return Task.CompletedTask;
            },
        }.IngestAsync([HubbleCaptureTests.CaptureFolder]);

        var failure = await Assert.ThrowsAsync<FlowStoreException>(() => ingest);
        Assert.Equal("the first write failed", failure.Message);

        // The second write committed: its flows are stored, and heard of, or they would never be.
        var stored = await inner.CountAsync(FlowQuery.All);
        Assert.True(stored > 0);
        Assert.Equal(stored, heard.Count);
    }

    /// <summary>A store whose first write waits until a second has begun: a writer that waits for each write never gets past it.</summary>
    private sealed class OverlappingStore(IFlowStore inner) : IFlowStore
    {
        /// <summary>Whether the first write fails, once the second has begun (storing nothing).</summary>
        public bool FailFirst { get; init; }

        private readonly TaskCompletionSource _second = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _writes;

        public bool Overlapped { get; private set; }

        public string Description => inner.Description;

        public int SchemaVersion => inner.SchemaVersion;

        public async Task<FlowWriteResult> WriteAsync(IReadOnlyList<FlowRecord> flows, CancellationToken cancel = default)
        {
            await BeginAsync();
            return await inner.WriteAsync(flows, cancel);
        }

        public async Task<IReadOnlyList<FlowRecord>> WriteNewAsync(IReadOnlyList<FlowRecord> flows, CancellationToken cancel = default)
        {
            if (await BeginAsync() && FailFirst)
            {
                throw new FlowStoreException("the first write failed");
            }

            return await inner.WriteNewAsync(flows, cancel);
        }

        public IAsyncEnumerable<FlowRecord> QueryAsync(FlowQuery query, CancellationToken cancel = default) => inner.QueryAsync(query, cancel);

        public Task<long> CountAsync(FlowQuery query, CancellationToken cancel = default) => inner.CountAsync(query, cancel);

        public Task<IReadOnlyList<KeyValuePair<string?, long>>> CountByAsync(FlowQuery query, FlowCountField field, CancellationToken cancel = default) => inner.CountByAsync(query, field, cancel);

        public Task<IReadOnlyList<FlowAggregateRow>> AggregateAsync(FlowQuery query, FlowAggregate aggregate, int limit = 100, CancellationToken cancel = default) =>
            inner.AggregateAsync(query, aggregate, limit, cancel);

        public Task<IReadOnlyList<RetentionRule>> GetRetentionRulesAsync(CancellationToken cancel = default) => inner.GetRetentionRulesAsync(cancel);

        public Task SetRetentionRulesAsync(IReadOnlyList<RetentionRule> rules, CancellationToken cancel = default) => inner.SetRetentionRulesAsync(rules, cancel);

        public Task<RetentionResult> ApplyRetentionAsync(long nowNanos, bool dryRun = false, CancellationToken cancel = default) => inner.ApplyRetentionAsync(nowNanos, dryRun, cancel);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        /// <summary>Whether this is the first write.</summary>
        private async Task<bool> BeginAsync()
        {
            switch (Interlocked.Increment(ref _writes))
            {
                case 1:
                    // Long enough for any machine; a writer with one write in flight makes this time out.
                    var waited = await Task.WhenAny(_second.Task, Task.Delay(TimeSpan.FromSeconds(30)));
                    Overlapped = waited == _second.Task;
                    return true;
                case 2:
                    _second.TrySetResult();
                    return false;
                default:
                    return false;
            }
        }
    }
}
