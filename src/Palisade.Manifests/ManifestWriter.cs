using Palisade.Model;
using Palisade.Sets;
using YamlDotNet.Serialization;

namespace Palisade.Manifests;

/// <summary>
/// Writes a <see cref="ClusterSpec"/> as Kubernetes manifests that <see cref="ManifestLoader"/> reads
/// back to the same cluster: one multi-document YAML file per namespace.
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
        var names = cluster.Namespaces.Select(static n => n.Name)
            .Concat(cluster.Pods.Select(static p => p.Namespace))
            .Concat(cluster.NetworkPolicies.Select(static p => p.Namespace))
            .Concat(cluster.Workloads.Select(static w => w.Namespace))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        var files = new List<string>();
        var podsByNamespace = cluster.Pods.ToLookup(static p => p.Namespace, StringComparer.Ordinal);
        var policiesByNamespace = cluster.NetworkPolicies.ToLookup(static p => p.Namespace, StringComparer.Ordinal);
        var workloadsByNamespace = cluster.Workloads.ToLookup(static w => w.Namespace, StringComparer.Ordinal);
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
}
