using Palisade.Model;
using Palisade.Sets;

namespace Palisade.Synthesis;

/// <summary>What <see cref="ClusterSynthesizer"/> makes.</summary>
public sealed record SynthesisOptions
{
    /// <summary>Namespaces, besides <c>kube-system</c>.</summary>
    public int Namespaces { get; init; } = 20;

    /// <summary>Pods in all.</summary>
    public int Pods { get; init; } = 1000;

    /// <summary>NetworkPolicies in all.</summary>
    public int Policies { get; init; } = 200;

    /// <summary>The random seed; the same options give the same cluster.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>
    /// Whether the policies mix every dialect: besides NetworkPolicies, AdminNetworkPolicies that isolate
    /// projects, a BaselineAdminNetworkPolicy and baseline ClusterNetworkPolicies, and Cilium policies
    /// with DNS-name egress (a quarter of the policies) and HTTP rules (another quarter).
    /// </summary>
    public bool MixedDialects { get; init; }
}

/// <summary>
/// Makes synthetic but realistic clusters for benchmarks and scale tests: research-project and
/// platform namespaces of skewed sizes, workloads with a few to many replicas and named ports,
/// per-namespace default deny, DNS egress, app-to-app allows inside and across namespaces (with
/// matchExpressions and namespace selectors), and egress to outside CIDR blocks with exceptions.
/// </summary>
public static class ClusterSynthesizer
{
    private static readonly string[] Apps =
        ["web", "api", "worker", "db", "cache", "jupyter", "rstudio", "minio", "queue", "auth", "search", "report", "etl", "scheduler", "mirror", "metrics"];

    private static readonly string[] Teams = ["genomics", "imaging", "epidemiology", "clinical", "platform", "data-eng", "ml", "finance"];

    private static readonly (string Name, int Port, Protocol Protocol)[] PortCatalog =
    [
        ("http", 8080, Protocol.Tcp), ("https", 8443, Protocol.Tcp), ("metrics", 9090, Protocol.Tcp), ("grpc", 50051, Protocol.Tcp),
        ("postgres", 5432, Protocol.Tcp), ("redis", 6379, Protocol.Tcp), ("dns", 53, Protocol.Udp), ("syslog", 514, Protocol.Udp),
        ("sctp-feed", 9000, Protocol.Sctp),
    ];

    /// <summary>Makes a cluster; deterministic for given options.</summary>
    public static ClusterSpec Generate(SynthesisOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Namespaces, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Pods);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Policies);
        var random = new Random(options.Seed);
        var namespaces = new List<NamespaceSpec>();
        var pods = new List<PodSpec>();
        var policies = new List<NetworkPolicySpec>();

        namespaces.Add(NamespaceSpec.Create("kube-system"));
        pods.Add(new PodSpec
        {
            Namespace = "kube-system",
            Name = "coredns-5d78c9869d-abcde",
            Labels = LabelSet.Of(("k8s-app", "kube-dns")),
            Ports = [new ContainerPortSpec("dns", 53, Protocol.Udp), new ContainerPortSpec("dns-tcp", 53, Protocol.Tcp)],
            Addresses = [IpNumbers.V4Base + 0x0A00_0002u],
            Workload = new WorkloadRef("ReplicaSet", "kube-system", "coredns-5d78c9869d"),
        });

        // Namespace sizes follow a Zipf-like skew: a few large projects, many small ones.
        var weights = Enumerable.Range(1, options.Namespaces).Select(static i => 1.0 / Math.Pow(i, 0.9)).ToArray();
        var total = weights.Sum();
        var nsNames = new string[options.Namespaces];
        var nsApps = new List<string>[options.Namespaces];
        var nsTeams = new string[options.Namespaces];
        for (var n = 0; n < options.Namespaces; n++)
        {
            var research = n % 5 != 4;
            nsNames[n] = research ? $"project-{n:D4}" : $"platform-{n:D4}";
            nsTeams[n] = Teams[Skewed(random, Teams.Length)];
            nsApps[n] = [];
            var env = (n % 3) switch { 0 => "prod", 1 => "dev", _ => "staging" };
            namespaces.Add(NamespaceSpec.Create(nsNames[n], LabelSet.Of(
                ("team", nsTeams[n]),
                ("env", env),
                ("tre.k8tre.io/kind", research ? "project" : "platform"))));
        }

        var address = 0x0A01_0000u;
        var podBudget = options.Pods;
        for (var n = 0; n < options.Namespaces && podBudget > 0; n++)
        {
            var share = n == options.Namespaces - 1 ? podBudget : Math.Min(podBudget, Math.Max(1, (int)Math.Round(options.Pods * weights[n] / total)));
            var workloadIndex = 0;
            while (share > 0)
            {
                var app = Apps[Skewed(random, Apps.Length)];
                var name = $"{app}-{workloadIndex++}";
                var replicas = Math.Min(share, 1 + Skewed(random, 12));
                var ports = new List<ContainerPortSpec>();
                var portCount = 1 + random.Next(3);
                for (var p = 0; p < portCount; p++)
                {
                    var (portName, number, protocol) = PortCatalog[Skewed(random, PortCatalog.Length)];
                    if (!ports.Any(existing => existing.Name == portName))
                    {
                        ports.Add(new ContainerPortSpec(portName, number, protocol));
                    }
                }

                var hash = $"{random.Next(0x100000, 0xFFFFFF):x6}";
                var labels = LabelSet.Of(
                    ("app", app),
                    ("workload", name),
                    ("tier", app is "db" or "cache" or "minio" ? "data" : app is "web" or "jupyter" or "rstudio" ? "frontend" : "backend"),
                    ("version", random.Next(4) == 0 ? "v2" : "v1"),
                    ("pod-template-hash", hash));
                for (var r = 0; r < replicas; r++)
                {
                    pods.Add(new PodSpec
                    {
                        Namespace = nsNames[n],
                        Name = $"{name}-{hash}-{r:x5}",
                        Labels = labels,
                        Ports = ports,
                        Addresses = [IpNumbers.V4Base + address++],
                        NodeName = $"node-{random.Next(16)}",
                        Workload = new WorkloadRef("ReplicaSet", nsNames[n], $"{name}-{hash}"),
                    });
                }

                nsApps[n].Add(app);
                share -= replicas;
                podBudget -= replicas;
            }
        }

        var budget = options.Policies;
        var admins = new List<AdminNetworkPolicySpec>();
        var cilium = new List<CiliumPolicySpec>();
        if (options.MixedDialects)
        {
            var fqdnCount = options.Policies / 4;
            var httpCount = options.Policies / 4;
            var adminCount = Math.Min(options.Namespaces, Math.Max(1, options.Policies / 50));
            budget -= fqdnCount + httpCount + adminCount + 2;
            AddMixedDialects(random, nsNames, nsApps, fqdnCount, httpCount, adminCount, admins, cilium);
        }

        for (var n = 0; n < options.Namespaces && budget > 0; n++, budget--)
        {
            policies.Add(new NetworkPolicySpec
            {
                Namespace = nsNames[n],
                Name = "default-deny",
                AffectsIngress = true,
                AffectsEgress = true,
            });
        }

        for (var n = 0; n < options.Namespaces && budget > 0; n++, budget--)
        {
            policies.Add(new NetworkPolicySpec
            {
                Namespace = nsNames[n],
                Name = "allow-dns",
                AffectsIngress = false,
                AffectsEgress = true,
                Egress =
                [
                    new NetworkPolicyRuleSpec
                    {
                        Peers =
                        [
                            new NetworkPolicyPeerSpec
                            {
                                NamespaceSelector = Selector(("kubernetes.io/metadata.name", "kube-system")),
                                PodSelector = Selector(("k8s-app", "kube-dns")),
                            },
                        ],
                        Ports = [new NetworkPolicyPortSpec { Protocol = Protocol.Udp, Port = 53 }, new NetworkPolicyPortSpec { Protocol = Protocol.Tcp, Port = 53 }],
                    },
                ],
            });
        }

        for (var i = 0; budget > 0; i++, budget--)
        {
            var n = Skewed(random, options.Namespaces);
            var apps = nsApps[n].Count > 0 ? nsApps[n] : ["web"];
            var target = apps[random.Next(apps.Count)];
            var source = apps[random.Next(apps.Count)];
            var kind = random.Next(10);
            var port = PortCatalog[Skewed(random, PortCatalog.Length)];
            NetworkPolicyPortSpec PortSpec() => random.Next(3) == 0
                ? new NetworkPolicyPortSpec { Protocol = port.Protocol, PortName = port.Name }
                : random.Next(6) == 0
                    ? new NetworkPolicyPortSpec { Protocol = port.Protocol, Port = port.Port, EndPort = port.Port + random.Next(1, 100) }
                    : new NetworkPolicyPortSpec { Protocol = port.Protocol, Port = port.Port };

            NetworkPolicySpec policy;
            if (kind < 5)
            {
                // App-to-app in one namespace.
                policy = Ingress(nsNames[n], $"allow-{source}-to-{target}-{i}", Selector(("app", target)), new NetworkPolicyPeerSpec { PodSelector = Selector(("app", source)) }, PortSpec());
            }
            else if (kind < 7)
            {
                // From another team's namespaces, by namespace label and pod expression.
                var team = Teams[Skewed(random, Teams.Length)];
                policy = Ingress(nsNames[n], $"allow-team-{team}-{i}", Selector(("app", target)), new NetworkPolicyPeerSpec
                {
                    NamespaceSelector = Selector(("team", team)),
                    PodSelector = new LabelSelectorSpec
                    {
                        MatchExpressions = [new LabelRequirement("tier", SelectorOperator.In, ["frontend", "backend"]), new LabelRequirement("version", SelectorOperator.NotIn, ["v0"])],
                    },
                }, PortSpec());
            }
            else if (kind < 8)
            {
                // Platform monitoring from every platform namespace.
                policy = Ingress(nsNames[n], $"allow-monitoring-{i}", LabelSelectorSpec.Everything, new NetworkPolicyPeerSpec
                {
                    NamespaceSelector = new LabelSelectorSpec { MatchExpressions = [new LabelRequirement("tre.k8tre.io/kind", SelectorOperator.In, ["platform"])] },
                    PodSelector = Selector(("app", "metrics")),
                }, new NetworkPolicyPortSpec { Port = 9090 });
            }
            else
            {
                // Egress to outside mirrors, everything but the cluster's own range.
                var octet = random.Next(1, 223);
                var cidr = random.Next(2) == 0 ? "0.0.0.0/0" : $"{octet}.{random.Next(256)}.0.0/16";
                var block = IpPrefix.Parse(cidr).ToSet();
                var except = new List<string>();
                if (cidr == "0.0.0.0/0")
                {
                    except.Add("10.0.0.0/8");
                    block = block.Except(IpPrefix.Parse("10.0.0.0/8").ToSet());
                }

                policy = new NetworkPolicySpec
                {
                    Namespace = nsNames[n],
                    Name = $"allow-egress-{target}-{i}",
                    PodSelector = Selector(("app", target)),
                    AffectsIngress = false,
                    AffectsEgress = true,
                    Egress =
                    [
                        new NetworkPolicyRuleSpec
                        {
                            Peers = [new NetworkPolicyPeerSpec { IpBlock = new IpBlockSpec { Cidr = cidr, Except = except, Addresses = block } }],
                            Ports = [new NetworkPolicyPortSpec { Port = 443 }],
                        },
                    ],
                };
            }

            policies.Add(policy);
        }

        return new ClusterSpec { Namespaces = namespaces, Pods = pods, NetworkPolicies = policies, AdminNetworkPolicies = admins, CiliumPolicies = cilium };
    }

    private static readonly string[] Mirrors = ["pypi.org", "files.pythonhosted.org", "cloud.r-project.org", "conda.anaconda.org", "repo.maven.apache.org", "registry.npmjs.org", "github.com", "proxy.golang.org"];

    private static void AddMixedDialects(
        Random random,
        string[] nsNames,
        List<string>[] nsApps,
        int fqdnCount,
        int httpCount,
        int adminCount,
        List<AdminNetworkPolicySpec> admins,
        List<CiliumPolicySpec> cilium)
    {
        LabelSelectorSpec Namespace(string name) => new() { MatchLabels = LabelSet.Of((NamespaceSpec.NameLabel, name)) };

        // Admin tier: each project is closed to other projects; DNS always works.
        for (var i = 0; i < adminCount; i++)
        {
            admins.Add(new AdminNetworkPolicySpec
            {
                Kind = "AdminNetworkPolicy",
                Name = $"isolate-{nsNames[i]}",
                Tier = AdminTier.Admin,
                Priority = 10 + i,
                Subject = new AdminSubjectSpec { Namespaces = Namespace(nsNames[i]) },
                Ingress =
                [
                    new AdminRuleSpec
                    {
                        Name = "deny-other-projects",
                        Action = AdminAction.Deny,
                        Peers = [new AdminPeerSpec { Namespaces = new LabelSelectorSpec { MatchExpressions = [new LabelRequirement("tre.k8tre.io/kind", SelectorOperator.In, ["project"]), new LabelRequirement(NamespaceSpec.NameLabel, SelectorOperator.NotIn, [nsNames[i]])] } }],
                    },
                ],
            });
        }

        admins.Add(new AdminNetworkPolicySpec
        {
            Kind = "BaselineAdminNetworkPolicy",
            Name = "default",
            Tier = AdminTier.Baseline,
            Subject = new AdminSubjectSpec { Namespaces = LabelSelectorSpec.Everything },
            Egress = [new AdminRuleSpec { Name = "deny-outside", Action = AdminAction.Deny, Peers = [new AdminPeerSpec { Networks = ["0.0.0.0/0"], NetworkAddresses = IpSet.AllV4 }] }],
        });
        admins.Add(new AdminNetworkPolicySpec
        {
            Kind = "ClusterNetworkPolicy",
            Name = "baseline-monitoring",
            Tier = AdminTier.Baseline,
            Priority = 5,
            Subject = new AdminSubjectSpec { Namespaces = LabelSelectorSpec.Everything },
            Ingress = [new AdminRuleSpec { Name = "allow-metrics", Action = AdminAction.Allow, Peers = [new AdminPeerSpec { PodNamespaces = LabelSelectorSpec.Everything, Pods = new LabelSelectorSpec { MatchLabels = LabelSet.Of(("app", "metrics")) } }], Ports = [new AdminPortSpec { Port = 9090 }] }],
        });

        var kubeDns = new LabelSelectorSpec { MatchLabels = LabelSet.Of(("io.kubernetes.pod.namespace", "kube-system"), ("k8s-app", "kube-dns")) };
        for (var i = 0; i < fqdnCount; i++)
        {
            var n = Skewed(random, nsNames.Length);
            var app = nsApps[n].Count > 0 ? nsApps[n][random.Next(nsApps[n].Count)] : "web";
            var names = Mirrors.Where(_ => random.Next(3) == 0).DefaultIfEmpty(Mirrors[random.Next(Mirrors.Length)]).Select(static m => DnsPattern.Create(m, DnsPatternStyle.Exact)).ToList();
            cilium.Add(new CiliumPolicySpec
            {
                Kind = "CiliumNetworkPolicy",
                Namespace = nsNames[n],
                Name = $"fqdn-{app}-{i}",
                Blocks =
                [
                    new CiliumRuleBlockSpec
                    {
                        Path = "spec",
                        EndpointSelector = new LabelSelectorSpec { MatchLabels = LabelSet.Of(("app", app)) },
                        Egress =
                        [
                            new CiliumRuleSpec
                            {
                                Path = "spec.egress[0]",
                                Endpoints = [kubeDns],
                                ToPorts = [new CiliumPortRuleSpec { Ports = [new CiliumPortSpec { Protocols = [Protocol.Udp], Port = 53 }], Dns = names }],
                            },
                            new CiliumRuleSpec
                            {
                                Path = "spec.egress[1]",
                                Fqdns = names,
                                ToPorts = [new CiliumPortRuleSpec { Ports = [new CiliumPortSpec { Protocols = [Protocol.Tcp], Port = 443 }] }],
                            },
                        ],
                    },
                ],
            });
        }

        for (var i = 0; i < httpCount; i++)
        {
            var n = Skewed(random, nsNames.Length);
            // One client workload calls one API workload (workload k of a namespace is named "{app}-{k}").
            var target = nsApps[n].Count > 0 ? random.Next(nsApps[n].Count) : -1;
            var source = nsApps[n].Count > 0 ? random.Next(nsApps[n].Count) : -1;
            string Workload(int k) => k < 0 ? "none" : $"{nsApps[n][k]}-{k}";
            cilium.Add(new CiliumPolicySpec
            {
                Kind = "CiliumNetworkPolicy",
                Namespace = nsNames[n],
                Name = $"http-{Workload(source)}-to-{Workload(target)}-{i}",
                Blocks =
                [
                    // The clients may call the API (their namespace's default deny isolates their egress)...
                    new CiliumRuleBlockSpec
                    {
                        Path = "specs[0]",
                        EndpointSelector = new LabelSelectorSpec { MatchLabels = LabelSet.Of(("workload", Workload(source))) },
                        Egress =
                        [
                            new CiliumRuleSpec
                            {
                                Path = "specs[0].egress[0]",
                                Endpoints = [new LabelSelectorSpec { MatchLabels = LabelSet.Of(("workload", Workload(target))) }],
                                ToPorts = [new CiliumPortRuleSpec { Ports = [new CiliumPortSpec { Protocols = [Protocol.Tcp], Port = 8080 }] }],
                            },
                        ],
                    },

                    // ...and the API admits only the requests its HTTP rules allow.
                    new CiliumRuleBlockSpec
                    {
                        Path = "specs[1]",
                        EndpointSelector = new LabelSelectorSpec { MatchLabels = LabelSet.Of(("workload", Workload(target))) },
                        Ingress =
                        [
                            new CiliumRuleSpec
                            {
                                Path = "specs[1].ingress[0]",
                                Endpoints = [new LabelSelectorSpec { MatchLabels = LabelSet.Of(("workload", Workload(source))) }],
                                ToPorts =
                                [
                                    new CiliumPortRuleSpec
                                    {
                                        Ports = [new CiliumPortSpec { Protocols = [Protocol.Tcp], Port = 8080 }],
                                        Http =
                                        [
                                            new HttpRuleSpec { Method = HttpRuleSpec.Compile("GET|HEAD"), Path = HttpRuleSpec.Compile($"/api/v{1 + random.Next(3)}/.*") },
                                            new HttpRuleSpec { Method = HttpRuleSpec.Compile("POST"), Path = HttpRuleSpec.Compile("/api/v1/jobs"), Headers = [("X-Project", nsNames[n])] },
                                        ],
                                    },
                                ],
                            },
                        ],
                    },
                ],
            });
        }
    }

    private static NetworkPolicySpec Ingress(string ns, string name, LabelSelectorSpec subjects, NetworkPolicyPeerSpec peer, NetworkPolicyPortSpec port) => new()
    {
        Namespace = ns,
        Name = name,
        PodSelector = subjects,
        AffectsIngress = true,
        AffectsEgress = false,
        Ingress = [new NetworkPolicyRuleSpec { Peers = [peer], Ports = [port] }],
    };

    private static LabelSelectorSpec Selector(params (string Key, string Value)[] labels) => new() { MatchLabels = LabelSet.Of(labels) };

    /// <summary>An index below <paramref name="count"/>, low indices far likelier (a Zipf-like skew).</summary>
    private static int Skewed(Random random, int count)
    {
        var u = random.NextDouble();
        return Math.Min(count - 1, (int)(count * u * u * u));
    }
}
