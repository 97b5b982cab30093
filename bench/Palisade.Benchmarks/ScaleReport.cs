using System.Diagnostics;
using System.Globalization;
using Palisade.Analysis;
using Palisade.Compilation;
using Palisade.Manifests;
using Palisade.Synthesis;

namespace Palisade.Benchmarks;

/// <summary>
/// Measures how compile and full-connectivity time, and memory, grow with the size of a synthetic
/// cluster, from 1,000 to 50,000 pods: the figures docs/performance.md records. Each size is run
/// several times and the best time is reported (the first run pays for JIT compilation).
/// </summary>
internal static class ScaleReport
{
    public static int Run(string[] args, TextWriter output)
    {
        int[] sizes = args.Length > 0 ? [.. args.Select(a => int.Parse(a, CultureInfo.InvariantCulture))] : [1_000, 5_000, 10_000, 20_000, 50_000];
        output.WriteLine($"# palisade scale report, {DateTime.UtcNow:yyyy-MM-dd}, {Environment.ProcessorCount} cores, .NET {Environment.Version}");
        output.WriteLine("pods | policies | namespaces | identities | compile ms | analysis ms | compile+analysis ms | connections | managed heap after MiB | peak working set MiB");
        foreach (var pods in sizes)
        {
            var policies = pods / 5;
            var namespaces = Math.Max(10, pods / 100);
            var cluster = ClusterSynthesizer.Generate(new SynthesisOptions { Pods = pods, Policies = policies, Namespaces = namespaces, Seed = 1 });
            double bestCompile = double.MaxValue, bestAnalysis = double.MaxValue, bestTotal = double.MaxValue;
            var identities = 0;
            var lines = 0;
            long heap = 0;
            for (var run = 0; run < 3; run++)
            {
                GC.Collect();
                var stopwatch = Stopwatch.StartNew();
                var snapshot = SnapshotCompiler.Compile(cluster);
                var compiled = stopwatch.Elapsed.TotalMilliseconds;
                var report = ConnectivityAnalyzer.Analyze(snapshot);
                var total = stopwatch.Elapsed.TotalMilliseconds;
                bestCompile = Math.Min(bestCompile, compiled);
                bestAnalysis = Math.Min(bestAnalysis, total - compiled);
                bestTotal = Math.Min(bestTotal, total);
                identities = snapshot.Identities.Count;
                lines = report.Lines.Count;
                heap = GC.GetTotalMemory(forceFullCollection: true);
                GC.KeepAlive(snapshot);
            }

            var peak = Process.GetCurrentProcess().PeakWorkingSet64;
            var phases = SnapshotCompiler.Compile(cluster).Statistics.Phases;
            Console.Error.WriteLine($"  {pods} pods, compile phases: {string.Join(", ", phases.Select(p => $"{p.Phase} {p.Milliseconds:F0} ms"))}");
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{pods} | {policies} | {namespaces} | {identities} | {bestCompile:F0} | {bestAnalysis:F0} | {bestTotal:F0} | {lines} | {heap / 1048576.0:F0} | {peak / 1048576.0:F0}"));
        }

        return 0;
    }

    /// <summary>Times reading a folder of manifests, for the end-to-end figure.</summary>
    public static double TimeLoad(string folder)
    {
        var stopwatch = Stopwatch.StartNew();
        var result = ManifestLoader.Load([folder]);
        return result.HasErrors ? -1 : stopwatch.Elapsed.TotalMilliseconds;
    }
}
