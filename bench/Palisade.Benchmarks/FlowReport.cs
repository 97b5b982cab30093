using System.Diagnostics;
using System.Globalization;
using Palisade.Compilation;
using Palisade.Flows;
using Palisade.Flows.Attribution;
using Palisade.Flows.Output;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;
using Palisade.Flows.Storage;
using Palisade.Flows.Synthesis;
using Palisade.Manifests;

namespace Palisade.Benchmarks;

/// <summary>
/// The flow pipeline's figures for docs/performance.md: parse, parse + attribute + store from jsonpb
/// text, store through the batch API, and bytes per stored flow, for DuckDB and (when
/// PALISADE_BENCH_POSTGRES names a database) PostgreSQL. Usage: <c>flows [COUNT]</c>.
/// </summary>
internal static class FlowReport
{
    public static async Task<int> Run(string[] args, TextWriter output)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2_000_000;
        var folder = Directory.CreateTempSubdirectory("palisade-flow-bench-").FullName;
        try
        {
            output.WriteLine($"# palisade flow report, {DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores, .NET {Environment.Version}, {count:N0} synthetic flows");
            var synthesizer = new FlowSynthesizer(new FlowSynthesisOptions { Namespaces = 50, WorkloadsPerNamespace = 8, FlowsPerSecond = 10_000 });
            var loaded = ManifestLoader.LoadText(synthesizer.Manifests(), "synthetic.yaml");
            var snapshot = SnapshotCompiler.Compile(loaded.Cluster);
            var records = new List<FlowRecord>(count);
            for (var made = 0; made < count; made += 100_000)
            {
                records.AddRange(synthesizer.Next(Math.Min(100_000, count - made)));
            }

            var file = Path.Combine(folder, "flows.json");
            await using (var writer = new StreamWriter(file))
            {
                foreach (var flow in records)
                {
                    await writer.WriteLineAsync(FlowJson.ToJsonpb(flow));
                }
            }

            var bytes = new FileInfo(file).Length;
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"jsonpb input: {bytes / (double)count:F0} bytes per line, {bytes / 1048576.0:F0} MiB"));

            // Parse only, best of three.
            var best = double.MaxValue;
            for (var run = 0; run < 3; run++)
            {
                var stopwatch = Stopwatch.StartNew();
                long parsed = 0;
                await using var stream = FlowFileReader.Open(file);
                foreach (var batch in FlowFileReader.ReadBatches(stream, file, new FlowReadReport()))
                {
                    parsed += batch.Length;
                }

                best = Math.Min(best, stopwatch.Elapsed.TotalSeconds);
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"parse jsonpb: {count / best:N0} flows/s"));

            // Attribute only, best of three.
            best = double.MaxValue;
            var array = records.ToArray();
            for (var run = 0; run < 3; run++)
            {
                var attributor = new FlowAttributor(snapshot);
                var stopwatch = Stopwatch.StartNew();
                for (var i = 0; i < array.Length; i += 8192)
                {
                    attributor.Attribute(array.AsSpan(i, Math.Min(8192, array.Length - i)).ToArray());
                }

                best = Math.Min(best, stopwatch.Elapsed.TotalSeconds);
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"attribute: {count / best:N0} flows/s"));

            // The ingest pipeline on every core, taken apart: what each stage adds, in wall time and in
            // CPU time a flow (all threads), with a store that keeps nothing.
            foreach (var (stage, attribute) in new[] { ("read + parse", false), ("read + parse + attribute", true) })
            {
                var discard = new DiscardingFlowStore();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var ingestor = new FlowIngestor(discard) { Enrich = attribute ? new FlowAttributor(snapshot).Attribute : null, RetentionInterval = null };
                var result = await ingestor.IngestAsync([file]);
                var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ingest pipeline, {stage}, nothing stored: {count / result.Elapsed.TotalSeconds:N0} flows/s, {used.TotalMilliseconds * 1000 / count:F2} µs of CPU a flow"));
            }

            var postgres = Environment.GetEnvironmentVariable("PALISADE_BENCH_POSTGRES");
            var stores = new List<(string Name, Func<Task<IFlowStore>> Open)>
            {
                ("duckdb", async () => await DuckDbFlowStore.OpenAsync(Path.Combine(folder, $"{Guid.NewGuid():N}.duckdb"))),
            };
            if (!string.IsNullOrEmpty(postgres))
            {
                stores.Add(("postgres", async () => await PostgresFlowStore.OpenAsync(postgres)));
            }

            foreach (var (name, open) in stores)
            {
                if (name == "postgres")
                {
                    // The database may hold these flows from an earlier run, which ingest would find stored: start clean.
                    await TruncateAsync(postgres!);
                }

                await using (var store = await open())
                {
                    var ingestor = new FlowIngestor(store) { Enrich = new FlowAttributor(snapshot).Attribute, RetentionInterval = null };
                    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    var result = await ingestor.IngestAsync([file]);
                    var used = Process.GetCurrentProcess().TotalProcessorTime - cpu;
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: parse + attribute + store from jsonpb: {count / result.Elapsed.TotalSeconds:N0} flows/s ({result.Stored.Written:N0} stored), {used.TotalMilliseconds * 1000 / count:F2} µs of CPU a flow in this process"));
                }

                await using (var store = await open())
                {
                    var stopwatch = Stopwatch.StartNew();
                    if (name == "postgres")
                    {
                        // The ingest above stored every flow: start clean.
                        await TruncateAsync(postgres!);
                        stopwatch.Restart();
                    }

                    // As many writes in flight as the store takes at once (PostgreSQL two, DuckDB one).
                    var writing = new Queue<Task<FlowWriteResult>>();
                    for (var i = 0; i < array.Length; i += 65_536)
                    {
                        writing.Enqueue(store.WriteAsync(array.AsSpan(i, Math.Min(65_536, array.Length - i)).ToArray()));
                        if (writing.Count >= store.ConcurrentWrites)
                        {
                            await writing.Dequeue();
                        }
                    }

                    await Task.WhenAll(writing);

                    var seconds = stopwatch.Elapsed.TotalSeconds;
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: store through the batch API: {count / seconds:N0} flows/s ({store.ConcurrentWrites} in flight)"));
                    if (store is DuckDbFlowStore duck)
                    {
                        var path = duck.Description["duckdb:".Length..];
                        await store.DisposeAsync();
                        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {new FileInfo(path).Length / (double)count:F1} bytes per stored flow (file size after checkpoint / flows)"));
                    }
                }
            }

            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task TruncateAsync(string connectionString)
    {
        await using var clear = Npgsql.NpgsqlDataSource.Create(connectionString);
        await using var command = clear.CreateCommand("TRUNCATE flows, flow_hours");
        await command.ExecuteNonQueryAsync();
    }
}

/// <summary>A store that keeps nothing: what the ingest pipeline costs before storing.</summary>
internal sealed class DiscardingFlowStore : IFlowStore
{
    public string Description => "nothing";

    public int SchemaVersion => 0;

    public Task<FlowWriteResult> WriteAsync(IReadOnlyList<FlowRecord> flows, CancellationToken cancel = default) => Task.FromResult(new FlowWriteResult(flows.Count, 0));

    public Task<IReadOnlyList<FlowRecord>> WriteNewAsync(IReadOnlyList<FlowRecord> flows, CancellationToken cancel = default) => Task.FromResult(flows);

    public IAsyncEnumerable<FlowRecord> QueryAsync(FlowQuery query, CancellationToken cancel = default) => throw new NotSupportedException();

    public Task<long> CountAsync(FlowQuery query, CancellationToken cancel = default) => throw new NotSupportedException();

    public Task<IReadOnlyList<KeyValuePair<string?, long>>> CountByAsync(FlowQuery query, FlowCountField field, CancellationToken cancel = default) => throw new NotSupportedException();

    public Task<IReadOnlyList<FlowAggregateRow>> AggregateAsync(FlowQuery query, FlowAggregate aggregate, int limit = 100, CancellationToken cancel = default) => throw new NotSupportedException();

    public Task<IReadOnlyList<RetentionRule>> GetRetentionRulesAsync(CancellationToken cancel = default) => throw new NotSupportedException();

    public Task SetRetentionRulesAsync(IReadOnlyList<RetentionRule> rules, CancellationToken cancel = default) => throw new NotSupportedException();

    public Task<RetentionResult> ApplyRetentionAsync(long nowNanos, bool dryRun = false, CancellationToken cancel = default) => throw new NotSupportedException();

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
