using CsCheck;
using Palisade.Compilation;
using Palisade.Model;
using Palisade.Sets;
using Palisade.Verdicts;

namespace Palisade.Tests.Compilation;

public sealed class SnapshotCompilerTests
{
    [Theory]
    [InlineData(IpBlockScope.External)]
    [InlineData(IpBlockScope.All)]
    public void Evaluate_RandomClusters_AgreesWithReferenceEvaluator(IpBlockScope scope) =>
        Gen.Int[0, int.MaxValue].Sample(
            seed =>
            {
                var cluster = RandomClusters.Generate(seed);
                var snapshot = SnapshotCompiler.Compile(cluster, new SnapshotOptions { IpBlockScope = scope });
                var reference = new ReferenceEvaluator(cluster, scope);
                var outside = RandomClusters.OutsideAddresses.Select(a => IpNumbers.TryParse(a, out var n) ? n : throw new FormatException(a)).ToList();
                foreach (var protocol in Protocols.All)
                {
                    foreach (var port in RandomClusters.ProbesOf(protocol))
                    {
                        for (var s = 0; s < cluster.Pods.Count; s++)
                        {
                            var from = Endpoint.ForPod(s, cluster.Pods[s].ToString());
                            for (var d = 0; d < cluster.Pods.Count; d++)
                            {
                                if (s == d)
                                {
                                    continue;
                                }

                                var to = Endpoint.ForPod(d, cluster.Pods[d].ToString());
                                var expected = reference.Allowed(cluster.Pods[s], default, cluster.Pods[d], default, protocol, port);
                                Assert.True(expected == snapshot.Evaluate(from, to, protocol, port), $"seed {seed}: {from} => {to} {protocol} {port}: reference says {expected}");
                                Assert.Equal(expected, snapshot.Explain(from, to, protocol, port).Allowed);
                            }

                            foreach (var address in outside)
                            {
                                var target = Endpoint.ForAddress(address);
                                Assert.True(
                                    reference.Allowed(cluster.Pods[s], default, null, address, protocol, port) == snapshot.Evaluate(from, target, protocol, port),
                                    $"seed {seed}: {from} => {target} {protocol} {port}");
                                Assert.True(
                                    reference.Allowed(null, address, cluster.Pods[s], default, protocol, port) == snapshot.Evaluate(target, from, protocol, port),
                                    $"seed {seed}: {target} => {from} {protocol} {port}");
                                Assert.Equal(snapshot.Evaluate(target, from, protocol, port), snapshot.Explain(target, from, protocol, port).Allowed);
                            }
                        }
                    }
                }
            },
            iter: 300);

    [Fact]
    public void Evaluate_RandomClustersWithCilium_TablesAgreeWithRuleByRule() =>
        Gen.Int[0, int.MaxValue].Sample(
            seed =>
            {
                var cluster = RandomClusters.GenerateWithCilium(seed);
                var snapshot = SnapshotCompiler.Compile(cluster);
                var outside = RandomClusters.OutsideAddresses.Select(a => IpNumbers.TryParse(a, out var n) ? n : throw new FormatException(a)).ToList();
                foreach (var protocol in Protocols.All)
                {
                    foreach (var port in RandomClusters.ProbesOf(protocol))
                    {
                        for (var s = 0; s < cluster.Pods.Count; s++)
                        {
                            var from = Endpoint.ForPod(s, cluster.Pods[s].ToString());
                            for (var d = 0; d < cluster.Pods.Count; d++)
                            {
                                if (s != d)
                                {
                                    var to = Endpoint.ForPod(d, cluster.Pods[d].ToString());
                                    Assert.True(
                                        snapshot.Evaluate(from, to, protocol, port) == snapshot.Explain(from, to, protocol, port).Allowed,
                                        $"seed {seed}: {from} => {to} {protocol} {port}\n{snapshot.Explain(from, to, protocol, port).Describe()}");
                                }
                            }

                            foreach (var address in outside)
                            {
                                var target = Endpoint.ForAddress(address);
                                Assert.True(
                                    snapshot.Evaluate(from, target, protocol, port) == snapshot.Explain(from, target, protocol, port).Allowed,
                                    $"seed {seed}: {from} => {target} {protocol} {port}\n{snapshot.Explain(from, target, protocol, port).Describe()}");
                                Assert.True(
                                    snapshot.Evaluate(target, from, protocol, port) == snapshot.Explain(target, from, protocol, port).Allowed,
                                    $"seed {seed}: {target} => {from} {protocol} {port}\n{snapshot.Explain(target, from, protocol, port).Describe()}");
                            }
                        }
                    }
                }
            },
            iter: 300);

    [Fact]
    public void Evaluate_NodesNamesAndRequests_AgreesWithExplanation() =>
        Gen.Int[0, int.MaxValue].Sample(
            seed =>
            {
                var cluster = RandomClusters.GenerateWithCilium(seed);
                var snapshot = SnapshotCompiler.Compile(cluster);
                var others = new List<Endpoint>();
                foreach (var reference in new[] { "node:n1", "node:n2", "fqdn:www.example.org:203.0.113.9", "fqdn:example.org:8.8.8.8", "fqdn:a.b.example.org:198.51.100.1", "8.8.8.8", "203.0.113.9" })
                {
                    Assert.True(snapshot.TryResolve(reference, out var endpoint, out var error), error);
                    others.Add(endpoint);
                }

                L7Request?[] requests =
                [
                    null,
                    new L7Request { Method = "GET", Path = "/api/x" },
                    new L7Request { Method = "POST", Path = "/admin" },
                    new L7Request { DnsQuery = "www.example.org" },
                ];
                foreach (var request in requests)
                {
                    foreach (var port in RandomClusters.ProbePorts)
                    {
                        for (var s = 0; s < cluster.Pods.Count; s++)
                        {
                            var pod = Endpoint.ForPod(s, cluster.Pods[s].ToString());
                            var targets = others.Concat(Enumerable.Range(0, cluster.Pods.Count).Where(d => d != s).Select(d => Endpoint.ForPod(d, cluster.Pods[d].ToString())));
                            foreach (var other in targets)
                            {
                                foreach (var (from, to) in new[] { (pod, other), (other, pod) })
                                {
                                    var explained = snapshot.Explain(from, to, Protocol.Tcp, port, request);
                                    Assert.True(
                                        snapshot.Evaluate(from, to, Protocol.Tcp, port, request) == explained.Allowed,
                                        $"seed {seed}: {from} => {to} TCP {port} {request}\n{explained.Describe()}");
                                }
                            }
                        }
                    }
                }
            },
            iter: 200);

    [Fact]
    public void Compile_PodsAlikeToEverySelector_ShareOneIdentity()
    {
        var cluster = new ClusterSpec
        {
            Pods =
            [
                Pod("a", ("app", "web"), ("version", "1")),
                Pod("b", ("app", "web"), ("version", "2")),
                Pod("c", ("app", "db")),
            ],
            NetworkPolicies =
            [
                new NetworkPolicySpec { Namespace = "default", Name = "db", PodSelector = new LabelSelectorSpec { MatchLabels = LabelSet.Of(("app", "db")) } },
            ],
        };

        var snapshot = SnapshotCompiler.Compile(cluster);

        Assert.Equal(2, snapshot.Identities.Count);
        Assert.Equal(snapshot.Pods[0].Identity, snapshot.Pods[1].Identity);
        Assert.NotEqual(snapshot.Pods[0].Identity, snapshot.Pods[2].Identity);
    }

    [Fact]
    public void Explain_DeniedByIsolation_NamesIsolatingPolicyAndNearMiss()
    {
        var cluster = new ClusterSpec
        {
            Pods = [Pod("client", ("app", "client")), Pod("server", ("app", "server"))],
            NetworkPolicies =
            [
                new NetworkPolicySpec
                {
                    Namespace = "default",
                    Name = "server-ingress",
                    PodSelector = new LabelSelectorSpec { MatchLabels = LabelSet.Of(("app", "server")) },
                    Ingress =
                    [
                        new NetworkPolicyRuleSpec
                        {
                            Peers = [new NetworkPolicyPeerSpec { PodSelector = new LabelSelectorSpec { MatchLabels = LabelSet.Of(("app", "client")) } }],
                            Ports = [new NetworkPolicyPortSpec { Port = 8080 }],
                        },
                    ],
                },
            ],
        };
        var snapshot = SnapshotCompiler.Compile(cluster);
        Assert.True(snapshot.TryResolve("default/client", out var client, out _));
        Assert.True(snapshot.TryResolve("default/server", out var server, out _));

        var denied = snapshot.Explain(client, server, Protocol.Tcp, 80);
        var allowed = snapshot.Explain(client, server, Protocol.Tcp, 8080);

        Assert.False(denied.Allowed);
        Assert.Equal(Tier.None, denied.Egress.Tier);
        Assert.Equal("NetworkPolicy default/server-ingress", Assert.Single(denied.Ingress.SelectingPolicies).ToString());
        Assert.Equal("NetworkPolicy default/server-ingress spec.ingress[0].from[0]", Assert.Single(denied.Ingress.NearMisses).Rule.ToString());
        Assert.True(allowed.Allowed);
        Assert.Equal("NetworkPolicy default/server-ingress spec.ingress[0].from[0]", Assert.Single(allowed.Ingress.AllowingRules).ToString());
        Assert.Contains("ALLOWED: default/client => default/server : TCP 8080", allowed.Describe(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Evaluate_CiliumRuleWithOnlyIcmps_AdmitsItsTypesAndNoPort(bool withPeer)
    {
        var cluster = new ClusterSpec
        {
            Pods = [Pod("client", ("app", "client")), Pod("server", ("app", "server"))],
            CiliumPolicies =
            [
                new CiliumPolicySpec
                {
                    Kind = "CiliumNetworkPolicy",
                    Namespace = "default",
                    Name = "ping-only",
                    Blocks =
                    [
                        new CiliumRuleBlockSpec
                        {
                            Path = "spec",
                            EndpointSelector = new LabelSelectorSpec { MatchLabels = LabelSet.Of(("app", "server")) },
                            Ingress =
                            [
                                new CiliumRuleSpec
                                {
                                    Path = "spec.ingress[0]",
                                    Endpoints = withPeer ? [new LabelSelectorSpec { MatchLabels = LabelSet.Of(("app", "client")) }] : null,
                                    Icmps = [new CiliumPortSpec { Protocols = [Protocol.Icmp], Port = 8 }],
                                },
                            ],
                        },
                    ],
                },
            ],
        };
        var snapshot = SnapshotCompiler.Compile(cluster);
        Assert.True(snapshot.TryResolve("default/client", out var client, out _));
        Assert.True(snapshot.TryResolve("default/server", out var server, out _));

        foreach (var protocol in Protocols.Transport)
        {
            Assert.False(snapshot.Evaluate(client, server, protocol, 5432));
            Assert.False(snapshot.Explain(client, server, protocol, 5432).Allowed);
        }

        // The echo request it names passes; other types, and ICMPv6, do not.
        Assert.True(snapshot.Evaluate(client, server, Protocol.Icmp, 8));
        Assert.StartsWith("CiliumNetworkPolicy default/ping-only spec.ingress[0]", Assert.Single(snapshot.Explain(client, server, Protocol.Icmp, 8).Ingress.AllowingRules).ToString(), StringComparison.Ordinal);
        Assert.False(snapshot.Evaluate(client, server, Protocol.Icmp, 0));
        Assert.False(snapshot.Evaluate(client, server, Protocol.IcmpV6, 8));
        Assert.Equal("ICMP 8", snapshot.Allowed(snapshot.Pods.First(p => p.Spec.Name == "client").Identity, snapshot.Pods.First(p => p.Spec.Name == "server").Identity).ToString());

        // The client is selected by nothing: everything leaves it, ICMP included.
        Assert.True(snapshot.Evaluate(server, client, Protocol.Tcp, 5432));
        Assert.True(snapshot.Evaluate(server, client, Protocol.IcmpV6, 128));
    }

    [Fact]
    public void Evaluate_HostPolicy_GuardsTheNodesItSelects()
    {
        var cluster = new ClusterSpec
        {
            Pods = [Pod("client", ("app", "client")) with { NodeName = "worker" }],
            Nodes =
            [
                new NodeSpec { Name = "control-plane", Labels = LabelSet.Of(("role", "control-plane")), Addresses = [IpNumbers.V4Base + 0xC0A80A0Au] },
                new NodeSpec { Name = "worker", Addresses = [IpNumbers.V4Base + 0xC0A80A0Bu] },
            ],
            CiliumPolicies =
            [
                new CiliumPolicySpec
                {
                    Kind = "CiliumClusterwideNetworkPolicy",
                    Namespace = string.Empty,
                    Name = "control-plane",
                    Blocks =
                    [
                        new CiliumRuleBlockSpec
                        {
                            Path = "spec",
                            EndpointSelector = LabelSelectorSpec.Everything,
                            NodeSelector = new LabelSelectorSpec { MatchLabels = LabelSet.Of(("role", "control-plane")) },
                            Ingress =
                            [
                                new CiliumRuleSpec
                                {
                                    Path = "spec.ingress[0]",
                                    Entities = [CiliumEntity.Cluster],
                                    ToPorts = [new CiliumPortRuleSpec { Ports = [new CiliumPortSpec { Protocols = [Protocol.Tcp], Port = 6443 }] }],
                                },
                            ],
                        },
                    ],
                },
            ],
        };
        var snapshot = SnapshotCompiler.Compile(cluster);
        Assert.True(snapshot.TryResolve("default/client", out var client, out _));
        Assert.True(snapshot.TryResolve("node:control-plane", out var controlPlane, out _));
        Assert.True(snapshot.TryResolve("node:worker", out var worker, out _));
        Assert.True(snapshot.TryResolve("203.0.113.9", out var outside, out _));

        Assert.True(snapshot.Evaluate(client, controlPlane, Protocol.Tcp, 6443));
        Assert.False(snapshot.Evaluate(client, controlPlane, Protocol.Tcp, 22));
        Assert.False(snapshot.Evaluate(outside, controlPlane, Protocol.Tcp, 6443));
        Assert.True(snapshot.Evaluate(client, worker, Protocol.Tcp, 22));
        var explained = snapshot.Explain(client, controlPlane, Protocol.Tcp, 22);
        Assert.False(explained.Allowed);
        Assert.Equal("CiliumClusterwideNetworkPolicy control-plane", Assert.Single(explained.Ingress.SelectingPolicies).ToString());
        Assert.Contains("no host policy selects node worker", snapshot.Explain(client, worker, Protocol.Tcp, 22).Describe(), StringComparison.Ordinal);
    }

    [Fact]
    public void TryResolve_Forms_ResolveOrSayWhy()
    {
        var cluster = new ClusterSpec
        {
            Pods = [Pod("a", ("app", "a")) with { Addresses = [IpNumbers.V4Base + 0x0A000001u], NodeName = "n1", HostAddress = IpNumbers.V4Base + 0xC0A80001u }],
            Workloads = [new WorkloadSpec { Kind = "Deployment", Namespace = "default", Name = "web", PodLabels = LabelSet.Of(("app", "web")) }],
        };
        var snapshot = SnapshotCompiler.Compile(cluster);

        Assert.True(snapshot.TryResolve("default/a", out var pod, out _));
        Assert.Equal(EndpointKind.Pod, pod.Kind);
        Assert.True(snapshot.TryResolve("default/web", out var workload, out _));
        Assert.Equal(EndpointKind.Pod, workload.Kind);
        Assert.True(snapshot.TryResolve("10.0.0.1", out var byAddress, out _));
        Assert.Equal(pod.PodIndex, byAddress.PodIndex);
        Assert.True(snapshot.TryResolve("fqdn:PyPI.org.:151.101.0.223", out var fqdn, out _));
        Assert.Equal("pypi.org", fqdn.DnsName);
        Assert.True(snapshot.TryResolve("node:n1", out var node, out _));
        Assert.Equal("192.168.0.1", IpNumbers.Format(node.Address));
        Assert.False(snapshot.TryResolve("default/nope", out _, out var missing));
        Assert.Contains("no pod or workload", missing, StringComparison.Ordinal);
        Assert.False(snapshot.TryResolve("a/b/c", out _, out _));
        Assert.False(snapshot.TryResolve("node:n9", out _, out _));
    }

    private static PodSpec Pod(string name, params (string, string)[] labels) => new()
    {
        Namespace = "default",
        Name = name,
        Labels = LabelSet.Of(labels),
        Workload = new WorkloadRef("Pod", "default", name),
    };
}
