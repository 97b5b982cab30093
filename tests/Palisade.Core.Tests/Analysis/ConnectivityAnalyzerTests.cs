using CsCheck;
using Palisade.Analysis;
using Palisade.Compilation;
using Palisade.Model;
using Palisade.Tests.Compilation;

namespace Palisade.Tests.Analysis;

public class ConnectivityAnalyzerTests
{
    /// <summary>
    /// The report works named peers out once per egress class and layer-7 marks once per class and
    /// peer; on random clusters with Cilium policies both must match working each pod and line out alone.
    /// </summary>
    [Fact]
    public void Analyze_RandomClustersWithCilium_SharedWorkMatchesPerPodWork() =>
        Gen.Int[0, int.MaxValue].Sample(
            seed =>
            {
                var cluster = RandomClusters.GenerateWithCilium(seed);
                var snapshot = SnapshotCompiler.Compile(cluster);
                var report = ConnectivityAnalyzer.Analyze(snapshot);
                Assert.Empty(report.Problems);

                var names = snapshot.DnsPatterns();
                var expectedNamed = new List<string>();
                foreach (var pod in snapshot.Pods)
                {
                    var self = new ReportPeer { Workload = pod.Spec.Workload };
                    var reach = snapshot.DnsPeerReach(pod.Identity, names).Concat(snapshot.HasEntityPeers ? snapshot.EntityPeerReach(pod.Index) : []);
                    foreach (var (peer, direction, connections) in reach)
                    {
                        var line = direction == Direction.Egress ? new ReportLine(self, peer, connections) : new ReportLine(peer, self, connections);
                        expectedNamed.Add($"{line.Source} => {line.Destination} : {line.Connections}");
                    }
                }

                var actualNamed = report.Lines.Where(static l => l.Source.Named is not null || l.Destination.Named is not null)
                    .Select(static l => $"{l.Source} => {l.Destination} : {l.Connections}");
                Assert.Equal(expectedNamed.Order(StringComparer.Ordinal), actualNamed.Order(StringComparer.Ordinal));

                var podOf = snapshot.Pods.ToDictionary(static p => p.Spec.Workload, static p => p.Index);
                foreach (var line in report.Lines)
                {
                    Assert.True(
                        snapshot.Layer7Label(line, podOf, new Layer7Memo()) == line.Layer7,
                        $"seed {seed}: {line.Source} => {line.Destination} : {line.Connections} marked '{line.Layer7}'");
                }
            },
            iter: 200);
}
