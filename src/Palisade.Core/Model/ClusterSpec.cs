namespace Palisade.Model;

/// <summary>
/// Everything Palisade knows of a cluster as the user wrote it: namespaces, pods, workloads, nodes,
/// services and policies. Immutable; <see cref="Apply"/>, <see cref="Delete"/> and
/// <see cref="SetLabels"/> return changed copies (as the steps of a connectivity case do).
/// </summary>
public sealed record ClusterSpec
{
    /// <summary>A cluster with nothing in it.</summary>
    public static readonly ClusterSpec Empty = new();

    /// <summary>Namespaces as written (implied namespaces are added when the snapshot is compiled).</summary>
    public IReadOnlyList<NamespaceSpec> Namespaces { get; init; } = [];

    /// <summary>Pod objects.</summary>
    public IReadOnlyList<PodSpec> Pods { get; init; } = [];

    /// <summary>Workload objects, each of which stands for pods made from its template.</summary>
    public IReadOnlyList<WorkloadSpec> Workloads { get; init; } = [];

    /// <summary>Nodes.</summary>
    public IReadOnlyList<NodeSpec> Nodes { get; init; } = [];

    /// <summary>Services.</summary>
    public IReadOnlyList<ServiceSpec> Services { get; init; } = [];

    /// <summary>NetworkPolicies.</summary>
    public IReadOnlyList<NetworkPolicySpec> NetworkPolicies { get; init; } = [];

    /// <summary>AdminNetworkPolicies, BaselineAdminNetworkPolicies and ClusterNetworkPolicies.</summary>
    public IReadOnlyList<AdminNetworkPolicySpec> AdminNetworkPolicies { get; init; } = [];

    /// <summary>CiliumNetworkPolicies and CiliumClusterwideNetworkPolicies.</summary>
    public IReadOnlyList<CiliumPolicySpec> CiliumPolicies { get; init; } = [];

    /// <summary>EndpointSlices and Endpoints objects: the API server's (Cilium's <c>kube-apiserver</c> entity), and those of services without a selector.</summary>
    public IReadOnlyList<EndpointSliceSpec> EndpointSlices { get; init; } = [];

    /// <summary>CiliumCIDRGroups, which Cilium policies name in their CIDR sets.</summary>
    public IReadOnlyList<CiliumCidrGroupSpec> CidrGroups { get; init; } = [];

    /// <summary>The keys of every object, in the order above.</summary>
    public IEnumerable<ObjectKey> Keys =>
        Namespaces.Select(static n => new ObjectKey("Namespace", string.Empty, n.Name))
            .Concat(Pods.Select(static p => p.Key))
            .Concat(Workloads.Select(static w => w.Key))
            .Concat(Nodes.Select(static n => new ObjectKey("Node", string.Empty, n.Name)))
            .Concat(Services.Select(static s => new ObjectKey("Service", s.Namespace, s.Name)))
            .Concat(NetworkPolicies.Select(static p => p.Key))
            .Concat(AdminNetworkPolicies.Select(static p => p.Key))
            .Concat(CiliumPolicies.Select(static p => p.Key))
            .Concat(EndpointSlices.Select(static e => e.Key))
            .Concat(CidrGroups.Select(static g => g.Key));

    /// <summary>
    /// This cluster with the objects of <paramref name="other"/> added; an object with the same kind,
    /// namespace and name as one already here replaces it in place.
    /// </summary>
    public ClusterSpec Apply(ClusterSpec other) => new()
    {
        Namespaces = Merge(Namespaces, other.Namespaces, static n => n.Name),
        Pods = Merge(Pods, other.Pods, static p => p.Key.ToString()),
        Workloads = Merge(Workloads, other.Workloads, static w => w.Key.ToString()),
        Nodes = Merge(Nodes, other.Nodes, static n => n.Name),
        Services = Merge(Services, other.Services, static s => $"{s.Namespace}/{s.Name}"),
        NetworkPolicies = Merge(NetworkPolicies, other.NetworkPolicies, static p => p.Key.ToString()),
        AdminNetworkPolicies = Merge(AdminNetworkPolicies, other.AdminNetworkPolicies, static p => p.Key.ToString()),
        CiliumPolicies = Merge(CiliumPolicies, other.CiliumPolicies, static p => p.Key.ToString()),
        EndpointSlices = Merge(EndpointSlices, other.EndpointSlices, static e => e.Key.ToString()),
        CidrGroups = Merge(CidrGroups, other.CidrGroups, static g => g.Name),
    };

    /// <summary>This cluster without the objects whose keys are given; returns the keys that matched nothing.</summary>
    public ClusterSpec Delete(IEnumerable<ObjectKey> keys, out IReadOnlyList<ObjectKey> missing)
    {
        var wanted = new HashSet<ObjectKey>(keys);
        var found = new HashSet<ObjectKey>();
        bool Keep(ObjectKey key)
        {
            if (wanted.Contains(key))
            {
                found.Add(key);
                return false;
            }

            return true;
        }

        var result = new ClusterSpec
        {
            Namespaces = [.. Namespaces.Where(n => Keep(new ObjectKey("Namespace", string.Empty, n.Name)))],
            Pods = [.. Pods.Where(p => Keep(p.Key))],
            Workloads = [.. Workloads.Where(w => Keep(w.Key))],
            Nodes = [.. Nodes.Where(n => Keep(new ObjectKey("Node", string.Empty, n.Name)))],
            Services = [.. Services.Where(s => Keep(new ObjectKey("Service", s.Namespace, s.Name)))],
            NetworkPolicies = [.. NetworkPolicies.Where(p => Keep(p.Key))],
            AdminNetworkPolicies = [.. AdminNetworkPolicies.Where(p => Keep(p.Key))],
            CiliumPolicies = [.. CiliumPolicies.Where(p => Keep(p.Key))],
            EndpointSlices = [.. EndpointSlices.Where(e => Keep(e.Key))],
            CidrGroups = [.. CidrGroups.Where(g => Keep(g.Key))],
        };
        missing = [.. wanted.Where(k => !found.Contains(k))];
        return result;
    }

    /// <summary>
    /// This cluster with label changes on one object (a Pod, a workload's pod template, a Namespace or a
    /// Node); a null value removes the label. Returns null when no such object exists.
    /// </summary>
    public ClusterSpec? SetLabels(ObjectKey key, IReadOnlyDictionary<string, string?> changes)
    {
        LabelSet Change(LabelSet labels)
        {
            foreach (var (label, value) in changes)
            {
                labels = labels.With(label, value);
            }

            return labels;
        }

        switch (key.Kind)
        {
            case "Pod" when Pods.Any(p => p.Key == key):
                return this with { Pods = [.. Pods.Select(p => p.Key == key ? p with { Labels = Change(p.Labels) } : p)] };
            case "Namespace":
                var ns = Namespaces.FirstOrDefault(n => n.Name == key.Name);
                if (ns is null)
                {
                    return null;
                }

                var labels = Change(ns.Labels).With(NamespaceSpec.NameLabel, ns.Name);
                return this with { Namespaces = [.. Namespaces.Select(n => n.Name == key.Name ? n with { Labels = labels } : n)] };
            case "Node" when Nodes.Any(n => n.Name == key.Name):
                return this with { Nodes = [.. Nodes.Select(n => n.Name == key.Name ? n with { Labels = Change(n.Labels) } : n)] };
            default:
                if (Workloads.Any(w => w.Key == key))
                {
                    return this with { Workloads = [.. Workloads.Select(w => w.Key == key ? w with { PodLabels = Change(w.PodLabels) } : w)] };
                }

                return null;
        }
    }

    private static IReadOnlyList<T> Merge<T>(IReadOnlyList<T> existing, IReadOnlyList<T> added, Func<T, string> key)
    {
        if (added.Count == 0)
        {
            return existing;
        }

        var result = new List<T>(existing);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < result.Count; i++)
        {
            index[key(result[i])] = i;
        }

        foreach (var item in added)
        {
            var k = key(item);
            if (index.TryGetValue(k, out var at))
            {
                result[at] = item;
            }
            else
            {
                index[k] = result.Count;
                result.Add(item);
            }
        }

        return result;
    }
}
