using Palisade.Model;
using Palisade.Sets;

namespace Palisade.Tests.Compilation;

/// <summary>
/// Small random clusters that reach the corners: every selector operator, empty versus absent peer
/// and port lists, named ports meaning different numbers on different pods, port ranges, SCTP,
/// ipBlocks with exceptions, policies of both directions.
/// </summary>
internal static class RandomClusters
{
    private static readonly string[] Values = ["a", "b", "c"];
    private static readonly string[] Keys = ["app", "tier", "team"];
    private static readonly string[] PortNames = ["http", "dns", "db"];

    public static readonly int[] ProbePorts = [53, 80, 81, 443, 5432, 8080];

    /// <summary>ICMP message types probed: echo reply and request for IPv4, echo request for IPv6.</summary>
    public static readonly int[] ProbeIcmpTypes = [0, 8, 128];

    /// <summary>The ports (or, for ICMP, message types) probed for <paramref name="protocol"/>.</summary>
    public static int[] ProbesOf(Protocol protocol) => protocol.IsIcmp() ? ProbeIcmpTypes : ProbePorts;

    public static readonly string[] OutsideAddresses = ["8.8.8.8", "10.0.0.9", "10.1.2.3", "192.168.1.20", "2001:db8::7"];

    /// <summary>A random cluster with Cilium policies besides the others.</summary>
    public static ClusterSpec GenerateWithCilium(int seed)
    {
        var cluster = Generate(seed);
        var random = new Random(seed ^ 0x5A5A5A);
        cluster = cluster with
        {
            Pods = [.. cluster.Pods.Select((p, i) => p with { NodeName = i % 2 == 0 ? "n1" : "n2" })],
            Nodes =
            [
                new NodeSpec { Name = "n1", Labels = LabelSet.Of(("role", "a")), Addresses = [IpNumbers.V4Base + 0xC0A80101u] },
                new NodeSpec { Name = "n2", Labels = LabelSet.Of(("role", "b")), Addresses = [IpNumbers.V4Base + 0xC0A80102u] },
            ],
            EndpointSlices = [new EndpointSliceSpec { Namespace = "default", Name = "kubernetes", ServiceName = "kubernetes", Addresses = [IpNumbers.V4Base + 0xC0A80101u] }],
        };
        var policies = new List<CiliumPolicySpec>();
        var count = random.Next(1, 5);
        for (var i = 0; i < count; i++)
        {
            var clusterwide = random.Next(3) == 0;
            var ns = $"ns{random.Next(Math.Max(1, cluster.Namespaces.Count))}";
            policies.Add(new CiliumPolicySpec
            {
                Kind = clusterwide ? "CiliumClusterwideNetworkPolicy" : "CiliumNetworkPolicy",
                Namespace = clusterwide ? string.Empty : ns,
                Name = $"cnp{i}",
                Blocks =
                [
                    new CiliumRuleBlockSpec
                    {
                        Path = "spec",
                        EndpointSelector = RandomSelector(random),
                        Ingress = random.Next(3) == 0 ? null : RandomCiliumRules(random, "spec.ingress", egress: false),
                        Egress = random.Next(3) == 0 ? null : RandomCiliumRules(random, "spec.egress", egress: true),
                        IngressDeny = random.Next(3) == 0 ? RandomCiliumRules(random, "spec.ingressDeny", egress: false) : null,
                        EgressDeny = random.Next(3) == 0 ? RandomCiliumRules(random, "spec.egressDeny", egress: true) : null,
                        DefaultDenyIngress = random.Next(4) == 0 ? false : null,
                        DefaultDenyEgress = random.Next(4) == 0 ? false : null,
                    },
                ],
            });
        }

        // Host policies protect nodes: no HTTP rules on them, and DNS rules only on egress.
        if (random.Next(2) == 0)
        {
            static List<CiliumRuleSpec>? HostRules(List<CiliumRuleSpec>? rules, bool egress) => rules?.Select(r => r with
            {
                ToPorts = r.ToPorts?.Select(t => t with { Http = null, Dns = egress ? t.Dns : null }).ToList(),
            }).ToList();

            policies.Add(new CiliumPolicySpec
            {
                Kind = "CiliumClusterwideNetworkPolicy",
                Namespace = string.Empty,
                Name = "host",
                Blocks =
                [
                    new CiliumRuleBlockSpec
                    {
                        Path = "spec",
                        EndpointSelector = LabelSelectorSpec.Everything,
                        NodeSelector = random.Next(3) == 0 ? LabelSelectorSpec.Everything : new LabelSelectorSpec { MatchLabels = LabelSet.Of(("role", random.Next(2) == 0 ? "a" : "b")) },
                        Ingress = random.Next(3) == 0 ? null : HostRules(RandomCiliumRules(random, "spec.ingress", egress: false), egress: false),
                        Egress = random.Next(3) == 0 ? null : HostRules(RandomCiliumRules(random, "spec.egress", egress: true), egress: true),
                        IngressDeny = random.Next(3) == 0 ? RandomCiliumRules(random, "spec.ingressDeny", egress: false) : null,
                    },
                ],
            });
        }

        return cluster with { CiliumPolicies = policies };
    }

    private static List<CiliumRuleSpec> RandomCiliumRules(Random random, string path, bool egress) =>
    [
        .. Enumerable.Range(0, random.Next(1, 3)).Select(i =>
        {
            var kind = random.Next(6);
            var deny = path.Contains("Deny", StringComparison.Ordinal);
            var l7 = !deny && random.Next(3) == 0;
            var tcpOnly = l7 || random.Next(2) == 0;
            var withPorts = kind == 3 || l7 || random.Next(2) == 0;
            return new CiliumRuleSpec
            {
                Path = $"{path}[{i}]",
                Endpoints = kind == 0 ? [RandomSelector(random)] : null,
                Entities = kind == 1 ? [(CiliumEntity)random.Next(6)] : null,
                Cidrs = kind == 2 ? IpPrefix.Parse(random.Next(2) == 0 ? "0.0.0.0/0" : "8.8.8.0/24").ToSet() : null,
                Fqdns = kind == 5 && egress && !deny ? [DnsPattern.Create(random.Next(2) == 0 ? "example.org" : "*.example.org", DnsPatternStyle.Glob)] : null,
                Icmps = !withPorts && random.Next(4) == 0 ? [new CiliumPortSpec { Protocols = [random.Next(2) == 0 ? Protocol.Icmp : Protocol.IcmpV6], Port = random.Next(2) == 0 ? 8 : 128 }] : null,
                ToPorts = withPorts
                    ?
                    [
                        new CiliumPortRuleSpec
                        {
                            Ports =
                            [
                                new CiliumPortSpec
                                {
                                    Protocols = tcpOnly ? [Protocol.Tcp] : [Protocol.Tcp, Protocol.Udp, Protocol.Sctp],
                                    Port = ProbePorts[random.Next(ProbePorts.Length)],
                                },
                            ],
                            Http = l7 && random.Next(2) == 0 ? [new HttpRuleSpec { Method = HttpRuleSpec.Compile("GET|HEAD"), Path = HttpRuleSpec.Compile("/api/.*") }] : null,
                            Dns = l7 && egress ? [DnsPattern.Create(random.Next(2) == 0 ? "*" : "www.example.org", DnsPatternStyle.Glob)] : null,
                        },
                    ]
                    : null,
            };
        }),
    ];

    public static ClusterSpec Generate(int seed)
    {
        var random = new Random(seed);
        var namespaces = new List<NamespaceSpec>();
        var pods = new List<PodSpec>();
        var nsCount = random.Next(1, 4);
        for (var n = 0; n < nsCount; n++)
        {
            namespaces.Add(NamespaceSpec.Create($"ns{n}", RandomLabels(random)));
        }

        var podCount = random.Next(2, 7);
        for (var p = 0; p < podCount; p++)
        {
            var ns = $"ns{random.Next(nsCount)}";
            var ports = new List<ContainerPortSpec>();
            foreach (var name in PortNames)
            {
                if (random.Next(2) == 0)
                {
                    var protocol = name == "dns" ? Protocol.Udp : Protocol.Tcp;
                    ports.Add(new ContainerPortSpec(name, ProbePorts[random.Next(ProbePorts.Length)], protocol));
                }
            }

            pods.Add(new PodSpec
            {
                Namespace = ns,
                Name = $"p{p}",
                Labels = RandomLabels(random),
                Ports = ports,
                Addresses = [IpNumbers.V4Base + (uint)(0x0A000000 + (p * 256) + 9)],
                Workload = new WorkloadRef("Pod", ns, $"p{p}"),
            });
        }

        var policies = new List<NetworkPolicySpec>();
        var policyCount = random.Next(0, 6);
        for (var i = 0; i < policyCount; i++)
        {
            var ingress = random.Next(3) != 0;
            var egress = !ingress || random.Next(2) == 0;
            policies.Add(new NetworkPolicySpec
            {
                Namespace = $"ns{random.Next(nsCount)}",
                Name = $"np{i}",
                PodSelector = RandomSelector(random),
                AffectsIngress = ingress,
                AffectsEgress = egress,
                Ingress = ingress ? RandomRules(random) : [],
                Egress = egress ? RandomRules(random) : [],
            });
        }

        var admins = new List<AdminNetworkPolicySpec>();
        var priorities = Enumerable.Range(0, 20).OrderBy(_ => random.Next()).ToList();
        var adminCount = random.Next(0, 4);
        for (var i = 0; i < adminCount; i++)
        {
            admins.Add(RandomAdmin(random, $"anp{i}", AdminTier.Admin, priorities[i]));
        }

        if (random.Next(2) == 0)
        {
            admins.Add(RandomAdmin(random, "default", AdminTier.Baseline, 0));
        }

        return new ClusterSpec { Namespaces = namespaces, Pods = pods, NetworkPolicies = policies, AdminNetworkPolicies = admins };
    }

    private static AdminNetworkPolicySpec RandomAdmin(Random random, string name, AdminTier tier, int priority)
    {
        List<AdminRuleSpec> Rules(bool egress) =>
        [
            .. Enumerable.Range(0, random.Next(0, 4)).Select(_ => new AdminRuleSpec
            {
                Name = $"r{random.Next(100)}",
                Action = tier == AdminTier.Baseline ? (AdminAction)random.Next(2) : (AdminAction)random.Next(3),
                Peers = [.. Enumerable.Range(0, random.Next(1, 3)).Select(_ => RandomAdminPeer(random, egress))],
                Ports = random.Next(4) switch
                {
                    0 => null,
                    1 => [],
                    _ => [.. Enumerable.Range(0, random.Next(1, 3)).Select(_ => RandomAdminPort(random))],
                },
            }),
        ];

        var byNamespace = random.Next(2) == 0;
        return new AdminNetworkPolicySpec
        {
            Kind = tier == AdminTier.Admin ? "AdminNetworkPolicy" : "BaselineAdminNetworkPolicy",
            Name = name,
            Tier = tier,
            Priority = priority,
            Subject = byNamespace
                ? new AdminSubjectSpec { Namespaces = RandomSelector(random) }
                : new AdminSubjectSpec { PodNamespaces = RandomSelector(random), Pods = RandomSelector(random) },
            Ingress = Rules(egress: false),
            Egress = Rules(egress: true),
        };
    }

    private static AdminPeerSpec RandomAdminPeer(Random random, bool egress)
    {
        switch (random.Next(egress ? 3 : 2))
        {
            case 0:
                return new AdminPeerSpec { Namespaces = RandomSelector(random) };
            case 1:
                return new AdminPeerSpec { PodNamespaces = RandomSelector(random), Pods = RandomSelector(random) };
            default:
                var cidr = random.Next(3) switch { 0 => "10.0.0.0/8", 1 => "0.0.0.0/0", _ => "2001:db8::/32" };
                return new AdminPeerSpec { Networks = [cidr], NetworkAddresses = IpPrefix.Parse(cidr).ToSet() };
        }
    }

    private static AdminPortSpec RandomAdminPort(Random random)
    {
        var protocol = (Protocol)random.Next(3);
        return random.Next(3) switch
        {
            0 => new AdminPortSpec { PortName = PortNames[random.Next(PortNames.Length)] },
            1 => new AdminPortSpec { Protocol = protocol, Port = 80, EndPort = 443 },
            _ => new AdminPortSpec { Protocol = protocol, Port = ProbePorts[random.Next(ProbePorts.Length)] },
        };
    }

    private static LabelSet RandomLabels(Random random)
    {
        var pairs = new List<(string, string)>();
        foreach (var key in Keys)
        {
            if (random.Next(3) != 0)
            {
                pairs.Add((key, Values[random.Next(Values.Length)]));
            }
        }

        return LabelSet.Of([.. pairs]);
    }

    private static LabelSelectorSpec RandomSelector(Random random)
    {
        if (random.Next(3) == 0)
        {
            return LabelSelectorSpec.Everything;
        }

        var labels = random.Next(2) == 0 ? LabelSet.Of((Keys[random.Next(Keys.Length)], Values[random.Next(Values.Length)])) : LabelSet.Empty;
        var expressions = new List<LabelRequirement>();
        if (random.Next(2) == 0)
        {
            var op = (SelectorOperator)random.Next(4);
            string[] values = op is SelectorOperator.In or SelectorOperator.NotIn
                ? [.. Values.Where(_ => random.Next(2) == 0).DefaultIfEmpty("a")]
                : [];
            expressions.Add(new LabelRequirement(Keys[random.Next(Keys.Length)], op, values));
        }

        return new LabelSelectorSpec { MatchLabels = labels, MatchExpressions = expressions };
    }

    private static List<NetworkPolicyRuleSpec> RandomRules(Random random)
    {
        var rules = new List<NetworkPolicyRuleSpec>();
        var count = random.Next(0, 3);
        for (var r = 0; r < count; r++)
        {
            List<NetworkPolicyPeerSpec>? peers = random.Next(4) switch
            {
                0 => null,
                1 => [],
                _ => [.. Enumerable.Range(0, random.Next(1, 3)).Select(_ => RandomPeer(random))],
            };
            List<NetworkPolicyPortSpec>? ports = random.Next(4) switch
            {
                0 => null,
                1 => [],
                _ => [.. Enumerable.Range(0, random.Next(1, 3)).Select(_ => RandomPort(random))],
            };
            rules.Add(new NetworkPolicyRuleSpec { Peers = peers, Ports = ports });
        }

        return rules;
    }

    private static NetworkPolicyPeerSpec RandomPeer(Random random)
    {
        switch (random.Next(4))
        {
            case 0:
                var cidr = random.Next(3) switch { 0 => "10.0.0.0/8", 1 => "0.0.0.0/0", _ => "2001:db8::/32" };
                var set = IpPrefix.Parse(cidr).ToSet();
                var except = new List<string>();
                if (cidr != "2001:db8::/32" && random.Next(2) == 0)
                {
                    except.Add("10.0.0.0/24");
                    set = set.Except(IpPrefix.Parse("10.0.0.0/24").ToSet());
                }

                return new NetworkPolicyPeerSpec { IpBlock = new IpBlockSpec { Cidr = cidr, Except = except, Addresses = set } };
            case 1:
                return new NetworkPolicyPeerSpec { PodSelector = RandomSelector(random) };
            case 2:
                return new NetworkPolicyPeerSpec { NamespaceSelector = RandomSelector(random) };
            default:
                return new NetworkPolicyPeerSpec { PodSelector = RandomSelector(random), NamespaceSelector = RandomSelector(random) };
        }
    }

    private static NetworkPolicyPortSpec RandomPort(Random random)
    {
        var protocol = (Protocol)random.Next(3);
        return random.Next(4) switch
        {
            0 => new NetworkPolicyPortSpec { Protocol = protocol },
            1 => new NetworkPolicyPortSpec { Protocol = protocol, PortName = PortNames[random.Next(PortNames.Length)] },
            2 => new NetworkPolicyPortSpec { Protocol = protocol, Port = 80, EndPort = 443 },
            _ => new NetworkPolicyPortSpec { Protocol = protocol, Port = ProbePorts[random.Next(ProbePorts.Length)] },
        };
    }
}
