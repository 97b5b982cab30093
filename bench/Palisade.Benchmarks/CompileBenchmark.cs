using BenchmarkDotNet.Attributes;
using Palisade.Analysis;
using Palisade.Compilation;
using Palisade.Model;
using Palisade.Synthesis;

namespace Palisade.Benchmarks;

/// <summary>
/// Protects: compiling the snapshot and computing the full connectivity of the 10,000-pod,
/// 2,000-policy synthetic cluster in at most 1 s on the project's 2-core machine (manifest parsing
/// excluded: the cluster is generated in memory); and, with every dialect mixed in (500 policies
/// with DNS-name rules, 500 with HTTP rules, admin and baseline tiers), within 1.5 times that.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 20)]
public class CompileBenchmark
{
    private ClusterSpec _cluster = ClusterSpec.Empty;

    [Params(1_000, 10_000)]
    public int Pods { get; set; }

    [Params(false, true)]
    public bool Mixed { get; set; }

    [GlobalSetup]
    public void Setup() =>
        _cluster = ClusterSynthesizer.Generate(new SynthesisOptions { Pods = Pods, Policies = Pods / 5, Namespaces = Math.Max(10, Pods / 100), Seed = 1, MixedDialects = Mixed });

    [Benchmark]
    public PolicySnapshot Compile() => SnapshotCompiler.Compile(_cluster);

    [Benchmark]
    public int CompileAndAnalyze() => ConnectivityAnalyzer.Analyze(SnapshotCompiler.Compile(_cluster)).Lines.Count;
}
