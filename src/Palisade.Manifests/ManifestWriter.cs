using Palisade.Model;
using Palisade.Sets;
using YamlDotNet.Serialization;

namespace Palisade.Manifests;

/// <summary>
/// Writes a <see cref="ClusterSpec"/> as Kubernetes manifests that <see cref="ManifestLoader"/> reads
/// back to the same cluster: one multi-document YAML file per namespace, and <c>_cluster.yaml</c>
/// (no namespace can have that name) for the cluster-wide policies.
/// </summary>
public static class ManifestWriter
{
    private static readonly ISerializer Serializer = new SerializerBuilder()
        .WithQuotingNecessaryStrings()
        .DisableAliases()
        .Build();

    /// <summary>Writes one file per namespace (<c>NAMESPACE.yaml</c>) into <paramref name="folder"/>, creating it; returns the files.</summary>
    public static IReadOnlyList<string> WriteFolder(ClusterSpec cluster, string folder)
    {
        Directory.CreateDirectory(folder);
        var namespacedCilium = cluster.CiliumPolicies.Where(static p => !p.IsClusterwide).ToList();
        var names = cluster.Namespaces.Select(static n => n.Name)
            .Concat(cluster.Pods.Select(static p => p.Namespace))
            .Concat(cluster.NetworkPolicies.Select(static p => p.Namespace))
            .Concat(cluster.Workloads.Select(static w => w.Namespace))
            .Concat(namespacedCilium.Select(static p => p.Namespace))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var files = new List<string>();
        var podsByNamespace = cluster.Pods.ToLookup(static p => p.Namespace, StringComparer.Ordinal);
        var policiesByNamespace = cluster.NetworkPolicies.ToLookup(static p => p.Namespace, StringComparer.Ordinal);
        var workloadsByNamespace = cluster.Workloads.ToLookup(static w => w.Namespace, StringComparer.Ordinal);
        var ciliumByNamespace = namespacedCilium.ToLookup(static p => p.Namespace, StringComparer.Ordinal);
        var clusterWide = cluster.AdminNetworkPolicies.Select(AdminPolicy)
            .Concat(cluster.CiliumPolicies.Where(static p => p.IsClusterwide).Select(CiliumPolicy))
            .Concat(cluster.CidrGroups.Select(CidrGroup))
            .ToList();
        if (clusterWide.Count > 0)
        {
            var file = Path.Combine(folder, "_cluster.yaml");
            using var writer = new StreamWriter(file);
            for (var i = 0; i < clusterWide.Count; i++)
            {
                if (i > 0)
                {
                    writer.Write("---\n");
                }

                Serializer.Serialize(writer, clusterWide[i]);
            }

            files.Add(file);
        }

        foreach (var name in names)
        {
            var file = Path.Combine(folder, name + ".yaml");
            using var writer = new StreamWriter(file);
            var first = true;
            void Document(object document)
            {
                if (!first)
                {
                    writer.Write("---\n");
                }

                first = false;
                Serializer.Serialize(writer, document);
            }

            if (cluster.Namespaces.FirstOrDefault(n => n.Name == name) is { } ns)
            {
                Document(Namespace(ns));
            }

            foreach (var workload in workloadsByNamespace[name])
            {
                Document(Workload(workload));
            }

            foreach (var pod in podsByNamespace[name])
            {
                Document(Pod(pod));
            }

            foreach (var policy in policiesByNamespace[name])
            {
                Document(Policy(policy));
            }

            foreach (var policy in ciliumByNamespace[name])
            {
                Document(CiliumPolicy(policy));
            }

            files.Add(file);
        }

        return files;
    }

    private static Dictionary<string, object?> Map(params (string Key, object? Value)[] entries)
    {
        var map = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var (key, value) in entries)
        {
            if (value is not null)
            {
                map[key] = value;
            }
        }

        return map;
    }

    private static Dictionary<string, string>? Labels(LabelSet labels) =>
        labels.Count == 0 ? null : labels.ToDictionary(static l => l.Key, static l => l.Value, StringComparer.Ordinal);

    private static Dictionary<string, object?> CidrGroup(CiliumCidrGroupSpec group) => Map(
        ("apiVersion", "cilium.io/v2alpha1"),
        ("kind", "CiliumCIDRGroup"),
        ("metadata", Map(("name", group.Name), ("labels", Labels(group.Labels)))),
        ("spec", Map(("externalCIDRs", group.Cidrs.ToPrefixes().Select(static c => (object?)c.ToString()).ToList()))));

    private static Dictionary<string, object?> Namespace(NamespaceSpec ns) => Map(
        ("apiVersion", "v1"),
        ("kind", "Namespace"),
        ("metadata", Map(("name", ns.Name), ("labels", Labels(ns.Labels)))));

    private static List<object?> Containers(IReadOnlyList<ContainerPortSpec> ports) =>
    [
        Map(
            ("name", "main"),
            ("image", "registry.example/app:1"),
            ("ports", ports.Count == 0 ? null : ports.Select(static p => (object?)Map(("name", p.Name), ("containerPort", p.Port), ("protocol", p.Protocol.Name()))).ToList())),
    ];

    private static Dictionary<string, object?> Workload(WorkloadSpec workload)
    {
        var template = Map(
            ("metadata", Map(("labels", Labels(workload.PodLabels)))),
            ("spec", Map(("containers", Containers(workload.Ports)), ("hostNetwork", workload.HostNetwork ? true : null))));
        var spec = workload.Kind == "CronJob"
            ? Map(("schedule", "0 * * * *"), ("jobTemplate", Map(("spec", Map(("template", template))))))
            : Map(("selector", Map(("matchLabels", Labels(workload.PodLabels)))), ("template", template));
        var apiVersion = workload.Kind switch
        {
            "ReplicationController" => "v1",
            "Job" or "CronJob" => "batch/v1",
            _ => "apps/v1",
        };
        return Map(("apiVersion", apiVersion), ("kind", workload.Kind), ("metadata", Map(("name", workload.Name), ("namespace", workload.Namespace))), ("spec", spec));
    }

    private static Dictionary<string, object?> Pod(PodSpec pod)
    {
        var owned = pod.Workload.Kind != "Pod" || pod.Workload.Name != pod.Name;
        var metadata = Map(
            ("name", pod.Name),
            ("namespace", pod.Namespace),
            ("labels", Labels(pod.Labels)),
            ("ownerReferences", owned
                ? new List<object?> { Map(("apiVersion", "apps/v1"), ("kind", pod.Workload.Kind), ("name", pod.Workload.Name), ("controller", true)) }
                : null));
        var status = pod.Addresses.Count == 0 && pod.HostAddress is null
            ? null
            : Map(
                ("phase", "Running"),
                ("hostIP", pod.HostAddress is { } host ? IpNumbers.Format(host) : null),
                ("podIP", pod.Addresses.Count > 0 ? IpNumbers.Format(pod.Addresses[0]) : null),
                ("podIPs", pod.Addresses.Count > 0 ? pod.Addresses.Select(static a => (object?)Map(("ip", IpNumbers.Format(a)))).ToList() : null));
        return Map(
            ("apiVersion", "v1"),
            ("kind", "Pod"),
            ("metadata", metadata),
            ("spec", Map(("nodeName", pod.NodeName), ("hostNetwork", pod.HostNetwork ? true : null), ("containers", Containers(pod.Ports)))),
            ("status", status));
    }

    private static Dictionary<string, object?> Selector(LabelSelectorSpec selector) => Map(
        ("matchLabels", Labels(selector.MatchLabels)),
        ("matchExpressions", selector.MatchExpressions.Count == 0
            ? null
            : selector.MatchExpressions.Select(static e => (object?)Map(
                ("key", e.Key),
                ("operator", e.Operator.ToString()),
                ("values", e.Values.Count == 0 ? null : e.Values.ToList()))).ToList()));

    private static List<object?>? Rules(IReadOnlyList<NetworkPolicyRuleSpec> rules, string peerKey) => rules.Count == 0
        ? null
        : rules.Select(rule => (object?)Map(
            (peerKey, rule.Peers?.Select(static peer => (object?)Map(
                ("podSelector", peer.PodSelector is null ? null : Selector(peer.PodSelector)),
                ("namespaceSelector", peer.NamespaceSelector is null ? null : Selector(peer.NamespaceSelector)),
                ("ipBlock", peer.IpBlock is null ? null : Map(("cidr", peer.IpBlock.Cidr), ("except", peer.IpBlock.Except.Count == 0 ? null : peer.IpBlock.Except.ToList()))))).ToList()),
            ("ports", rule.Ports?.Select(static port => (object?)Map(
                ("protocol", port.Protocol.Name()),
                ("port", port.PortName ?? (object?)port.Port),
                ("endPort", port.EndPort))).ToList()))).ToList();

    private static Dictionary<string, object?> Policy(NetworkPolicySpec policy)
    {
        var types = new List<object?>();
        if (policy.AffectsIngress)
        {
            types.Add("Ingress");
        }

        if (policy.AffectsEgress)
        {
            types.Add("Egress");
        }

        return Map(
            ("apiVersion", "networking.k8s.io/v1"),
            ("kind", "NetworkPolicy"),
            ("metadata", Map(("name", policy.Name), ("namespace", policy.Namespace))),
            ("spec", Map(
                ("podSelector", Selector(policy.PodSelector)),
                ("policyTypes", types),
                ("ingress", Rules(policy.Ingress, "from")),
                ("egress", Rules(policy.Egress, "to")))));
    }

    private static Dictionary<string, object?> AdminPolicy(AdminNetworkPolicySpec policy)
    {
        var cnp = policy.Kind == "ClusterNetworkPolicy";
        var baseline = policy.Kind == "BaselineAdminNetworkPolicy";
        var subject = policy.Subject.Namespaces is { } namespaces
            ? Map(("namespaces", Selector(namespaces)))
            : Map(("pods", Map(
                ("namespaceSelector", Selector(policy.Subject.PodNamespaces ?? LabelSelectorSpec.Everything)),
                ("podSelector", Selector(policy.Subject.Pods ?? LabelSelectorSpec.Everything)))));
        List<object?>? Rules(IReadOnlyList<AdminRuleSpec> rules, string peerKey) => rules.Count == 0
            ? null
            : rules.Select(rule => (object?)Map(
                ("name", rule.Name),
                ("action", cnp && rule.Action == AdminAction.Allow ? "Accept" : rule.Action.ToString()),
                (peerKey, rule.Peers.Select(static peer => (object?)AdminPeer(peer)).ToList()),
                (cnp ? "protocols" : "ports", rule.Ports?.Select(port => (object?)(cnp ? ClusterPort(port) : AdminPort(port))).ToList()))).ToList();
        return Map(
            ("apiVersion", cnp ? "policy.networking.k8s.io/v1alpha2" : "policy.networking.k8s.io/v1alpha1"),
            ("kind", policy.Kind),
            ("metadata", Map(("name", policy.Name))),
            ("spec", Map(
                ("tier", cnp ? policy.Tier.ToString() : null),
                ("priority", baseline ? null : policy.Priority),
                ("subject", subject),
                ("ingress", Rules(policy.Ingress, "from")),
                ("egress", Rules(policy.Egress, "to")))));
    }

    private static Dictionary<string, object?> AdminPeer(AdminPeerSpec peer)
    {
        if (peer.Namespaces is { } namespaces)
        {
            return Map(("namespaces", Selector(namespaces)));
        }

        if (peer.Pods is not null || peer.PodNamespaces is not null)
        {
            return Map(("pods", Map(
                ("namespaceSelector", Selector(peer.PodNamespaces ?? LabelSelectorSpec.Everything)),
                ("podSelector", Selector(peer.Pods ?? LabelSelectorSpec.Everything)))));
        }

        if (peer.Nodes is { } nodes)
        {
            return Map(("nodes", Selector(nodes)));
        }

        if (peer.DomainNames is { } domains)
        {
            return Map(("domainNames", domains.Select(static d => (object?)d.Text).ToList()));
        }

        return Map(("networks", (peer.Networks ?? peer.NetworkAddresses?.ToPrefixes().Select(static p => p.ToString()).ToList() ?? []).Select(static n => (object?)n).ToList()));
    }

    private static Dictionary<string, object?> AdminPort(AdminPortSpec port) =>
        port.PortName is { } name ? Map(("namedPort", name))
        : port.EndPort is { } end ? Map(("portRange", Map(("protocol", port.Protocol.Name()), ("start", port.Port), ("end", end))))
        : Map(("portNumber", Map(("protocol", port.Protocol.Name()), ("port", port.Port))));

    private static Dictionary<string, object?> ClusterPort(AdminPortSpec port)
    {
        if (port.PortName is { } name)
        {
            return Map(("destinationNamedPort", name));
        }

        var destination = port.EndPort is { } end
            ? Map(("range", Map(("start", port.Port), ("end", end))))
            : Map(("number", port.Port));
        return Map((port.Protocol.Name().ToLowerInvariant(), Map(("destinationPort", destination))));
    }

    private static Dictionary<string, object?> CiliumPolicy(CiliumPolicySpec policy)
    {
        var blocks = policy.Blocks.Select(static b => (object?)CiliumBlock(b)).ToList();
        return Map(
            ("apiVersion", "cilium.io/v2"),
            ("kind", policy.Kind),
            ("metadata", Map(("name", policy.Name), ("namespace", policy.IsClusterwide ? null : policy.Namespace))),
            (blocks.Count == 1 ? "spec" : "specs", blocks.Count == 1 ? blocks[0] : blocks));
    }

    private static Dictionary<string, object?> CiliumBlock(CiliumRuleBlockSpec block)
    {
        List<object?>? Rules(IReadOnlyList<CiliumRuleSpec>? rules, bool ingress) =>
            rules?.Select(rule => (object?)CiliumRule(rule, ingress)).ToList();
        return Map(
            (block.NodeSelector is null ? "endpointSelector" : "nodeSelector", Selector(block.NodeSelector ?? block.EndpointSelector)),
            ("enableDefaultDeny", block.DefaultDenyIngress is null && block.DefaultDenyEgress is null
                ? null
                : Map(("ingress", block.DefaultDenyIngress), ("egress", block.DefaultDenyEgress))),
            ("ingress", Rules(block.Ingress, true)),
            ("ingressDeny", Rules(block.IngressDeny, true)),
            ("egress", Rules(block.Egress, false)),
            ("egressDeny", Rules(block.EgressDeny, false)));
    }

    private static Dictionary<string, object?> CiliumRule(CiliumRuleSpec rule, bool ingress)
    {
        var p = ingress ? "from" : "to";
        return Map(
            ($"{p}Endpoints", rule.Endpoints?.Select(static s => (object?)Selector(s)).ToList()),
            ($"{p}Nodes", rule.Nodes?.Select(static s => (object?)Selector(s)).ToList()),
            ($"{p}Entities", rule.Entities?.Select(static e => (object?)CiliumPolicyDecoder.Entities.First(pair => pair.Value == e).Key).ToList()),
            ($"{p}CIDRSet", rule.Cidrs is null && rule.CidrGroups is null
                ? null
                : (rule.Cidrs?.ToPrefixes().Select(static c => (object?)Map(("cidr", c.ToString()))) ?? [])
                    .Concat((rule.CidrGroups ?? []).Select(static g => (object?)Map(
                        g.Name is { } name ? ("cidrGroupRef", name) : ("cidrGroupSelector", Selector(g.Selector!)),
                        ("except", g.Except.IsEmpty ? null : g.Except.ToPrefixes().Select(static c => (object?)c.ToString()).ToList()))))
                    .ToList()),
            ("toFQDNs", rule.Fqdns?.Select(static f => (object?)DnsMatch(f)).ToList()),
            ("toServices", rule.Services?.Select(static s => (object?)Service(s)).ToList()),
            ("toPorts", rule.ToPorts?.Select(static entry => (object?)PortRule(entry)).ToList()),
            ("icmps", rule.Icmps is { } icmps
                ? new List<object?> { Map(("fields", icmps.SelectMany(static i => i.Protocols.Select(p => (object?)Map(("type", i.Port ?? 0), ("family", p == Protocol.IcmpV6 ? "IPv6" : "IPv4")))).ToList())) }
                : null));
    }

    private static Dictionary<string, object?> Service(CiliumServiceRef service) => service.Name is { } name
        ? Map(("k8sService", Map(("serviceName", name), ("namespace", service.Namespace))))
        : Map(("k8sServiceSelector", Map(("selector", Selector(service.Selector ?? LabelSelectorSpec.Everything)), ("namespace", service.Namespace))));

    private static Dictionary<string, object?> PortRule(CiliumPortRuleSpec entry)
    {
        var rules = entry.Http is null && entry.Dns is null
            ? null
            : Map(
                ("http", entry.Http?.Select(static h => (object?)HttpRule(h)).ToList()),
                ("dns", entry.Dns?.Select(static d => (object?)DnsMatch(d)).ToList()));
        return Map(("ports", entry.Ports.SelectMany(static port => CiliumPorts(port)).ToList()), ("rules", rules));
    }

    private static Dictionary<string, object?> HttpRule(HttpRuleSpec rule) => Map(
        ("method", rule.Method is null ? null : HttpRuleSpec.Source(rule.Method)),
        ("path", rule.Path is null ? null : HttpRuleSpec.Source(rule.Path)),
        ("host", rule.Host is null ? null : HttpRuleSpec.Source(rule.Host)),
        ("headerMatches", rule.Headers.Count == 0 ? null : rule.Headers.Select(static h => (object?)Map(("name", h.Name), ("value", h.Value))).ToList()));

    private static Dictionary<string, object?> DnsMatch(DnsPattern pattern) =>
        pattern.Style == DnsPatternStyle.Exact ? Map(("matchName", pattern.Text)) : Map(("matchPattern", pattern.Text));

    private static IEnumerable<object?> CiliumPorts(CiliumPortSpec port)
    {
        var all = port.Protocols.Count == 3;
        foreach (var protocol in all ? [Protocol.Tcp] : port.Protocols)
        {
            yield return Map(
                ("port", port.PortName ?? (port.Port ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture)),
                ("endPort", port.EndPort),
                ("protocol", all ? "ANY" : protocol.Name()));
        }
    }
}
