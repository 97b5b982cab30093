using Palisade.Sets;

namespace Palisade.Model;

/// <summary>What a cluster-wide rule does with the connections it matches.</summary>
public enum AdminAction
{
    /// <summary>Allowed, and lower tiers are skipped (<c>Allow</c>, or <c>Accept</c> in ClusterNetworkPolicy).</summary>
    Allow,

    /// <summary>Denied.</summary>
    Deny,

    /// <summary>Not decided by the admin tier: the namespace tier (or else the baseline) decides.</summary>
    Pass,
}

/// <summary>The two cluster-wide tiers around the namespace tier.</summary>
public enum AdminTier
{
    /// <summary>Evaluated before NetworkPolicy: AdminNetworkPolicy, ClusterNetworkPolicy <c>tier: Admin</c>.</summary>
    Admin,

    /// <summary>Evaluated when no NetworkPolicy selects the pod: BaselineAdminNetworkPolicy, ClusterNetworkPolicy <c>tier: Baseline</c>.</summary>
    Baseline,
}

/// <summary>
/// A cluster-wide policy of the <c>policy.networking.k8s.io</c> API: an AdminNetworkPolicy or a
/// BaselineAdminNetworkPolicy (<c>v1alpha1</c>), or a ClusterNetworkPolicy (<c>v1alpha2</c>) of either
/// tier. Rules are evaluated in order within a policy, and the policies of a tier by ascending
/// priority; the first rule that matches a connection decides it.
/// </summary>
public sealed record AdminNetworkPolicySpec
{
    /// <summary><c>AdminNetworkPolicy</c>, <c>BaselineAdminNetworkPolicy</c> or <c>ClusterNetworkPolicy</c>.</summary>
    public required string Kind { get; init; }

    /// <summary>The name (a baseline policy is always <c>default</c>).</summary>
    public required string Name { get; init; }

    /// <summary>The tier.</summary>
    public required AdminTier Tier { get; init; }

    /// <summary>0-1000, lower first within the tier; 0 for a BaselineAdminNetworkPolicy.</summary>
    public int Priority { get; init; }

    /// <summary>The pods the policy applies to.</summary>
    public required AdminSubjectSpec Subject { get; init; }

    /// <summary>Ingress rules, in order.</summary>
    public IReadOnlyList<AdminRuleSpec> Ingress { get; init; } = [];

    /// <summary>Egress rules, in order.</summary>
    public IReadOnlyList<AdminRuleSpec> Egress { get; init; } = [];

    /// <summary>Where the object starts.</summary>
    public SourceLocation? Location { get; init; }

    /// <summary>The object key (cluster-scoped).</summary>
    public ObjectKey Key => new(Kind, string.Empty, Name);

    /// <summary>The rules of one direction.</summary>
    public IReadOnlyList<AdminRuleSpec> Rules(Direction direction) => direction == Direction.Ingress ? Ingress : Egress;
}

/// <summary>
/// Pods chosen by namespace (<see cref="Namespaces"/>) or by namespace and pod
/// (<see cref="PodNamespaces"/> and <see cref="Pods"/>); exactly one form is set.
/// </summary>
public sealed record AdminSubjectSpec
{
    /// <summary><c>namespaces</c>: every pod of the matching namespaces.</summary>
    public LabelSelectorSpec? Namespaces { get; init; }

    /// <summary><c>pods.namespaceSelector</c>.</summary>
    public LabelSelectorSpec? PodNamespaces { get; init; }

    /// <summary><c>pods.podSelector</c>.</summary>
    public LabelSelectorSpec? Pods { get; init; }
}

/// <summary>One ingress or egress rule of a cluster-wide policy.</summary>
public sealed record AdminRuleSpec
{
    /// <summary>The rule's name.</summary>
    public string? Name { get; init; }

    /// <summary>What it does.</summary>
    public required AdminAction Action { get; init; }

    /// <summary><c>from</c> or <c>to</c>: at least one peer.</summary>
    public required IReadOnlyList<AdminPeerSpec> Peers { get; init; }

    /// <summary><c>ports</c>: null matches every port; an empty list matches none.</summary>
    public IReadOnlyList<AdminPortSpec>? Ports { get; init; }
}

/// <summary>A peer of a cluster-wide rule: exactly one of its forms is set.</summary>
public sealed record AdminPeerSpec
{
    /// <summary><c>namespaces</c>: every pod of the matching namespaces.</summary>
    public LabelSelectorSpec? Namespaces { get; init; }

    /// <summary><c>pods.namespaceSelector</c>.</summary>
    public LabelSelectorSpec? PodNamespaces { get; init; }

    /// <summary><c>pods.podSelector</c>.</summary>
    public LabelSelectorSpec? Pods { get; init; }

    /// <summary><c>networks</c> (egress only): CIDR blocks, as written.</summary>
    public IReadOnlyList<string>? Networks { get; init; }

    /// <summary>The addresses of <see cref="Networks"/>.</summary>
    public IpSet? NetworkAddresses { get; init; }

    /// <summary><c>nodes</c> (egress only): the host networks of the matching nodes.</summary>
    public LabelSelectorSpec? Nodes { get; init; }

    /// <summary><c>domainNames</c> (ClusterNetworkPolicy egress, Accept rules only): outside hosts by the name the client resolved.</summary>
    public IReadOnlyList<DnsPattern>? DomainNames { get; init; }
}

/// <summary>A port of a cluster-wide rule: a number, a range, or a name resolved on the destination pod.</summary>
public sealed record AdminPortSpec : IPortMatcher
{
    /// <summary>The protocol of <see cref="Port"/> or of the range (TCP when absent).</summary>
    public Protocol Protocol { get; init; } = Protocol.Tcp;

    /// <summary><c>portNumber.port</c>, or the start of <c>portRange</c>.</summary>
    public int? Port { get; init; }

    /// <summary>The end of <c>portRange</c>.</summary>
    public int? EndPort { get; init; }

    /// <summary><c>namedPort</c>: the protocol comes from the matching container port.</summary>
    public string? PortName { get; init; }

    /// <inheritdoc />
    public ConnectionSet Resolve(IReadOnlyList<ContainerPortSpec>? destinationPorts)
    {
        if (PortName is null)
        {
            return Port is null ? ConnectionSet.None : ConnectionSet.Ports(Protocol, Port.Value, EndPort ?? Port.Value);
        }

        var result = ConnectionSet.None;
        foreach (var port in destinationPorts ?? [])
        {
            if (string.Equals(port.Name, PortName, StringComparison.Ordinal))
            {
                result = result.Union(ConnectionSet.Port(port.Protocol, port.Port));
            }
        }

        return result;
    }
}
