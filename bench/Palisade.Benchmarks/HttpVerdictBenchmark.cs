using BenchmarkDotNet.Attributes;
using Palisade.Compilation;
using Palisade.Sets;
using Palisade.Synthesis;
using Palisade.Verdicts;

namespace Palisade.Benchmarks;

/// <summary>
/// Protects: an HTTP-aware verdict in at most 1 microsecond on one core, on the 10,000-pod cluster
/// with every dialect mixed in. Each operation asks about <see cref="Requests"/> HTTP requests between
/// the pods the synthetic HTTP rules govern (allowed and refused ones), so the time per verdict is the
/// reported mean divided by it.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 3, iterationCount: 10)]
public class HttpVerdictBenchmark
{
    public const int Requests = 10_000;

    private PolicySnapshot _snapshot = null!;
    private (Endpoint From, Endpoint To, L7Request Request)[] _cases = [];

    [GlobalSetup]
    public void Setup()
    {
        var cluster = ClusterSynthesizer.Generate(new SynthesisOptions { Pods = 10_000, Policies = 2_000, Namespaces = 100, Seed = 1, MixedDialects = true });
        _snapshot = SnapshotCompiler.Compile(cluster);
        var random = new Random(11);
        var byWorkload = _snapshot.Pods.GroupBy(p => (p.Spec.Namespace, Workload: p.Spec.Labels.TryGetValue("workload", out var name) ? name : string.Empty))
            .ToDictionary(static g => g.Key, static g => g.Select(static p => p.Index).ToArray());
        L7Request[] requests =
        [
            new() { Method = "GET", Path = "/api/v1/items" },
            new() { Method = "POST", Path = "/api/v1/jobs", Headers = new Dictionary<string, string> { ["X-Project"] = "project-0001" } },
            new() { Method = "DELETE", Path = "/api/v1/items/7" },
        ];
        var cases = new List<(Endpoint, Endpoint, L7Request)>();
        var http = cluster.CiliumPolicies.Where(static p => p.Name.StartsWith("http-", StringComparison.Ordinal)).ToList();
        while (cases.Count < Requests)
        {
            var policy = http[random.Next(http.Count)];
            var api = policy.Blocks[1];
            var target = api.EndpointSelector.MatchLabels["workload"];
            var source = api.Ingress![0].Endpoints![0].MatchLabels["workload"];
            if (byWorkload.TryGetValue((policy.Namespace, source), out var from) && byWorkload.TryGetValue((policy.Namespace, target), out var to))
            {
                var s = from[random.Next(from.Length)];
                var d = to[random.Next(to.Length)];
                if (s != d)
                {
                    cases.Add((Endpoint.ForPod(s, "s"), Endpoint.ForPod(d, "d"), requests[random.Next(requests.Length)]));
                }
            }
        }

        _cases = [.. cases];

        // The figure means something only if the requests reach layer 7: most connections must be
        // open at layers 3-4, and the HTTP rules must refuse some requests on them.
        var open = _cases.Count(c => _snapshot.Evaluate(c.From, c.To, Protocol.Tcp, 8080));
        var allowed = _cases.Count(c => _snapshot.Evaluate(c.From, c.To, Protocol.Tcp, 8080, c.Request));
        if (open < _cases.Length / 2 || allowed == 0 || allowed == open)
        {
            throw new InvalidOperationException($"the benchmark's requests do not exercise layer 7: {open} of {_cases.Length} connections open, {allowed} requests allowed");
        }

        Console.WriteLine($"// {_cases.Length} requests: {open} on open connections, {allowed} allowed by the HTTP rules");
    }

    [Benchmark(OperationsPerInvoke = Requests)]
    public int Evaluate()
    {
        var allowed = 0;
        foreach (var (from, to, request) in _cases)
        {
            if (_snapshot.Evaluate(from, to, Protocol.Tcp, 8080, request))
            {
                allowed++;
            }
        }

        return allowed;
    }
}
