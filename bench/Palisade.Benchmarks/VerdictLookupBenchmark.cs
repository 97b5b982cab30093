using BenchmarkDotNet.Attributes;
using Palisade.Compilation;
using Palisade.Sets;
using Palisade.Synthesis;

namespace Palisade.Benchmarks;

/// <summary>
/// Protects: at least 20 million verdict look-ups per second on one core on a compiled snapshot of
/// the 10,000-pod, 2,000-policy synthetic cluster. One operation is <see cref="Lookups"/> look-ups of
/// random identity pairs, protocols and ports, so the time per look-up is the reported mean divided by it.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class VerdictLookupBenchmark
{
    public const int Lookups = 1_000_000;

    private PolicySnapshot _snapshot = null!;
    private int[] _sources = [];
    private int[] _destinations = [];
    private Protocol[] _protocols = [];
    private int[] _ports = [];

    [GlobalSetup]
    public void Setup()
    {
        var cluster = ClusterSynthesizer.Generate(new SynthesisOptions { Pods = 10_000, Policies = 2_000, Namespaces = 100, Seed = 1 });
        _snapshot = SnapshotCompiler.Compile(cluster);
        var random = new Random(7);
        var identities = _snapshot.Identities.Count;
        int[] ports = [53, 80, 443, 5432, 8080, 8443, 9090, 50051];
        _sources = [.. Enumerable.Range(0, Lookups).Select(_ => random.Next(identities))];
        _destinations = [.. Enumerable.Range(0, Lookups).Select(_ => random.Next(identities))];
        _protocols = [.. Enumerable.Range(0, Lookups).Select(_ => (Protocol)random.Next(3))];
        _ports = [.. Enumerable.Range(0, Lookups).Select(_ => ports[random.Next(ports.Length)])];
    }

    [Benchmark(OperationsPerInvoke = Lookups)]
    public int IsAllowed()
    {
        var allowed = 0;
        var snapshot = _snapshot;
        for (var i = 0; i < _sources.Length; i++)
        {
            if (snapshot.IsAllowed(_sources[i], _destinations[i], _protocols[i], _ports[i]))
            {
                allowed++;
            }
        }

        return allowed;
    }
}
