using System.Diagnostics;
using System.Globalization;
using Palisade.Flows.Storage;
using Palisade.Flows.Synthesis;

namespace Palisade.Benchmarks;

/// <summary>
/// Query times on a large flow store, for docs/performance.md: one hour's flows, one namespace's flows,
/// one hour's service map, and one namespace's top talkers and drops over all hours, each asked 20
/// times (random hours and namespaces), with the median and the slowest (p99 of 20 is the slowest).
/// Usage: <c>flows-scale COUNT [STORE] [--queries-only] [--without-totals]</c>,
/// STORE being <c>duckdb:PATH</c> (default: a file in the temp folder, kept for the next run) or
/// <c>postgres:...</c>. A store that already holds COUNT flows is queried as it is; with
/// <c>--queries-only</c> it is not counted first. A query slower than the store's command timeout is
/// reported as such. <c>--without-totals</c> makes the store answer from the flows alone, not its
/// hourly totals, to show what they save.
/// </summary>
internal static class FlowScaleReport
{
    private const long Hour = 3_600_000_000_000L;

    public static async Task<int> Run(string[] args, TextWriter output)
    {
        var count = args.Length > 0 ? long.Parse(args[0], CultureInfo.InvariantCulture) : 10_000_000;
        var location = FlowStoreLocation.Parse(args.Length > 1 ? args[1] : $"duckdb:{Path.Combine(Path.GetTempPath(), $"palisade-scale-{count}.duckdb")}", out var error)
            ?? throw new ArgumentException(error);
        var options = new FlowSynthesisOptions { Namespaces = 50, WorkloadsPerNamespace = 8, FlowsPerSecond = 1_000 };
        output.WriteLine($"# palisade flow scale report, {DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores, .NET {Environment.Version}, {count:N0} flows, {location}");
        await using var store = await FlowStores.OpenAsync(location);
        if (args.Contains("--without-totals") && store is IHourlyTotals totals)
        {
            totals.ReadsHourlyTotals = false;
        }

        // --queries-only: the store already holds the flows (counting 100 million in PostgreSQL takes longer than its command timeout).
        var stored = args.Contains("--queries-only") ? count : await store.CountAsync(FlowQuery.All);
        if (stored < count)
        {
            var synthesizer = new FlowSynthesizer(options with { StartNanos = options.StartNanos + (stored * (1_000_000_000L / options.FlowsPerSecond)) });
            var stopwatch = Stopwatch.StartNew();
            for (var made = stored; made < count; made += 65_536)
            {
                await store.WriteAsync(synthesizer.Next((int)Math.Min(65_536, count - made)));
                if (made / 10_000_000 != (made + 65_536) / 10_000_000)
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  loaded {made + 65_536:N0} flows, {(made + 65_536 - stored) / stopwatch.Elapsed.TotalSeconds:N0} flows/s"));
                }
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loaded {count - stored:N0} flows in {stopwatch.Elapsed.TotalSeconds:F0} s, {(count - stored) / stopwatch.Elapsed.TotalSeconds:N0} flows/s"));
        }

        if (location.Kind == FlowStoreKind.DuckDb)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"file: {new FileInfo(location.Target).Length / (double)count:F1} bytes per stored flow"));
        }

        var hours = (int)(count / options.FlowsPerSecond / 3600);
        var random = new Random(7);
        await Measure("one hour's flows, first 1,000", async () => await Drain(store, AnHour() with { Limit = 1_000 }));
        await Measure("one hour's flows, counted", async () => await store.CountAsync(AnHour()));
        await Measure("one namespace's flows, first 1,000", async () => await Drain(store, new FlowQuery { Namespaces = [Namespace()], Limit = 1_000 }));
        await Measure("one namespace's flows in one hour, all", async () => await Drain(store, AnHour() with { Namespaces = [Namespace()] }));
        await Measure("one namespace's flows, counted", async () => await store.CountAsync(new FlowQuery { Namespaces = [Namespace()] }));
        await Measure("service map of one hour", async () => (await store.AggregateAsync(AnHour(), FlowAggregate.ServiceMap, 1_000)).Count);
        await Measure("one namespace's top talkers, all hours", async () => (await store.AggregateAsync(new FlowQuery { Namespaces = [Namespace()] }, FlowAggregate.TopTalkers, 20)).Count);
        await Measure("one namespace's drops by policy, all hours", async () => (await store.AggregateAsync(new FlowQuery { Namespaces = [Namespace()] }, FlowAggregate.DropsByPolicy, 20)).Count);
        return 0;

        FlowQuery AnHour()
        {
            var start = options.StartNanos + (random.Next(Math.Max(1, hours)) * Hour);
            return new FlowQuery { SinceNanos = start, UntilNanos = start + Hour };
        }

        string Namespace() => $"project-{random.Next(3, options.Namespaces):D3}";

        async Task Measure(string what, Func<Task<long>> query)
        {
            var times = new List<double>();
            long rows = 0;
            try
            {
                await query();
                for (var run = 0; run < 20; run++)
                {
                    var stopwatch = Stopwatch.StartNew();
                    rows += await query();
                    times.Add(stopwatch.Elapsed.TotalMilliseconds);
                }
            }
            catch (Exception failure) when (failure is TimeoutException || failure.InnerException is TimeoutException)
            {
                // A query slower than the store's command timeout (PostgreSQL's is 30 s) is reported as such, and the report goes on.
                output.WriteLine($"{what}: did not finish within the store's command timeout ({failure.GetBaseException().Message})");
                return;
            }

            times.Sort();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what}: median {times[10]:F0} ms, slowest of 20 {times[^1]:F0} ms ({rows / 20:N0} rows or flows each)"));
        }
    }

    private static async Task<long> Drain(IFlowStore store, FlowQuery query)
    {
        long rows = 0;
        await foreach (var _ in store.QueryAsync(query))
        {
            rows++;
        }

        return rows;
    }
}
