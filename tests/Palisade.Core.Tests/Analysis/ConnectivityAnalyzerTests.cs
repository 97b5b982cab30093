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
                    foreach (var (peer, direction, connections, _) in reach)
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

    [Fact]
    public void Analyze_HttpRulesOnDnsNamePeer_MarkTheNamedLine()
    {
        var kubeDns = new LabelSelectorSpec { MatchLabels = LabelSet.Of(("io.kubernetes.pod.namespace", "kube-system"), ("k8s-app", "kube-dns")) };
        var names = new[] { DnsPattern.Create("api.example.org", DnsPatternStyle.Exact) };
        var cluster = new ClusterSpec
        {
            Pods =
            [
                new PodSpec { Namespace = "app", Name = "client", Labels = LabelSet.Of(("app", "client")), Workload = new WorkloadRef("Pod", "app", "client") },
                new PodSpec { Namespace = "kube-system", Name = "coredns", Labels = LabelSet.Of(("k8s-app", "kube-dns")), Workload = new WorkloadRef("Pod", "kube-system", "coredns") },
            ],
            CiliumPolicies =
            [
                new CiliumPolicySpec
                {
                    Kind = "CiliumNetworkPolicy",
                    Namespace = "app",
                    Name = "client-egress",
                    Blocks =
                    [
                        new CiliumRuleBlockSpec
                        {
                            Path = "spec",
                            EndpointSelector = new LabelSelectorSpec { MatchLabels = LabelSet.Of(("app", "client")) },
                            Egress =
                            [
                                new CiliumRuleSpec
                                {
                                    Path = "spec.egress[0]",
                                    Endpoints = [kubeDns],
                                    ToPorts = [new CiliumPortRuleSpec { Ports = [new CiliumPortSpec { Protocols = [Palisade.Sets.Protocol.Udp], Port = 53 }], Dns = names }],
                                },
                                new CiliumRuleSpec
                                {
                                    Path = "spec.egress[1]",
                                    Fqdns = names,
                                    ToPorts = [new CiliumPortRuleSpec { Ports = [new CiliumPortSpec { Protocols = [Palisade.Sets.Protocol.Tcp], Port = 443 }], Http = [new HttpRuleSpec { Method = HttpRuleSpec.Compile("GET") }] }],
                                },
                            ],
                        },
                    ],
                },
            ],
        };

        var report = ConnectivityAnalyzer.Analyze(SnapshotCompiler.Compile(cluster));

        var named = Assert.Single(report.Lines, static l => l.Destination.Named is not null && l.Source.Workload?.Name == "client");
        Assert.Equal("app/client[Pod] => api.example.org[DNS] : TCP 443 [L7: HTTP on TCP 443]", named.ToString());
        var dns = Assert.Single(report.Lines, static l => l.Source.Workload?.Name == "client" && l.Destination.Workload?.Name == "coredns");
        Assert.Equal("DNS on UDP 53", dns.Layer7);
    }
}
