using Palisade.Sets;

namespace Palisade.Model;

/// <summary>Which way a connection crosses a policy: into the selected pods, or out of them.</summary>
public enum Direction
{
    /// <summary>Into the selected endpoint.</summary>
    Ingress,

    /// <summary>Out of the selected endpoint.</summary>
    Egress,
}

/// <summary>
/// A <c>networking.k8s.io/v1</c> NetworkPolicy as written, after defaulting: <c>policyTypes</c> is
/// resolved into <see cref="AffectsIngress"/> and <see cref="AffectsEgress"/>.
/// </summary>
public sealed record NetworkPolicySpec
{
    /// <summary>The namespace whose pods the policy selects.</summary>
    public required string Namespace { get; init; }

    /// <summary>The name.</summary>
    public required string Name { get; init; }

    /// <summary><c>spec.podSelector</c>; empty selects every pod of the namespace.</summary>
    public LabelSelectorSpec PodSelector { get; init; } = LabelSelectorSpec.Everything;

    /// <summary>Whether the policy isolates its pods for ingress (<c>policyTypes</c> has Ingress, or is absent).</summary>
    public bool AffectsIngress { get; init; } = true;

    /// <summary>Whether the policy isolates its pods for egress (<c>policyTypes</c> has Egress, or is absent and egress rules exist).</summary>
    public bool AffectsEgress { get; init; }

    /// <summary><c>spec.ingress</c>: each rule admits what its peers and ports match.</summary>
    public IReadOnlyList<NetworkPolicyRuleSpec> Ingress { get; init; } = [];

    /// <summary><c>spec.egress</c>.</summary>
    public IReadOnlyList<NetworkPolicyRuleSpec> Egress { get; init; } = [];

    /// <summary>Where the object starts.</summary>
    public SourceLocation? Location { get; init; }

    /// <summary>The object key.</summary>
    public ObjectKey Key => new("NetworkPolicy", Namespace, Name);

    /// <summary>The rules of one direction.</summary>
    public IReadOnlyList<NetworkPolicyRuleSpec> Rules(Direction direction) => direction == Direction.Ingress ? Ingress : Egress;

    /// <summary>Whether the policy isolates its pods in <paramref name="direction"/>.</summary>
    public bool Affects(Direction direction) => direction == Direction.Ingress ? AffectsIngress : AffectsEgress;
}

/// <summary>
/// One ingress or egress rule. <see cref="Peers"/> null or empty means every peer (pods and outside
/// addresses alike); <see cref="Ports"/> null or empty means every port and protocol.
/// </summary>
public sealed record NetworkPolicyRuleSpec
{
    /// <summary><c>from</c> (ingress) or <c>to</c> (egress).</summary>
    public IReadOnlyList<NetworkPolicyPeerSpec>? Peers { get; init; }

    /// <summary><c>ports</c>.</summary>
    public IReadOnlyList<NetworkPolicyPortSpec>? Ports { get; init; }

    /// <summary>Whether the rule matches every peer.</summary>
    public bool AllPeers => Peers is null || Peers.Count == 0;

    /// <summary>Whether the rule matches every port.</summary>
    public bool AllPorts => Ports is null || Ports.Count == 0;
}

/// <summary>
/// One peer of a rule: pods by <see cref="PodSelector"/> and/or <see cref="NamespaceSelector"/>, or
/// addresses by <see cref="IpBlock"/>. A pod selector alone selects in the policy's own namespace.
/// </summary>
public sealed record NetworkPolicyPeerSpec
{
    /// <summary><c>podSelector</c>; null when absent.</summary>
    public LabelSelectorSpec? PodSelector { get; init; }

    /// <summary><c>namespaceSelector</c>; null when absent.</summary>
    public LabelSelectorSpec? NamespaceSelector { get; init; }

    /// <summary><c>ipBlock</c>; null when absent.</summary>
    public IpBlockSpec? IpBlock { get; init; }
}

/// <summary><c>ipBlock</c>: a CIDR block minus its exceptions.</summary>
public sealed record IpBlockSpec
{
    /// <summary>The CIDR as written.</summary>
    public required string Cidr { get; init; }

    /// <summary>The exceptions as written.</summary>
    public IReadOnlyList<string> Except { get; init; } = [];

    /// <summary>The addresses the block matches: the CIDR minus every exception.</summary>
    public required IpSet Addresses { get; init; }
}

/// <summary>
/// A port entry of any dialect: a number, a range, or a name that resolves on the destination pod's
/// container ports.
/// </summary>
public interface IPortMatcher
{
    /// <summary>The port name, when the entry names a port.</summary>
    string? PortName { get; }

    /// <summary>
    /// The connections the entry admits to a destination whose container ports are
    /// <paramref name="destinationPorts"/> (null for an outside address, where a name resolves to nothing).
    /// </summary>
    ConnectionSet Resolve(IReadOnlyList<ContainerPortSpec>? destinationPorts);
}

/// <summary>
/// One entry of a rule's <c>ports</c>: a protocol (TCP when absent) and a port by number, a range
/// (<see cref="Port"/> to <see cref="EndPort"/>), a name resolved on the destination pod, or none
/// (every port of the protocol).
/// </summary>
public sealed record NetworkPolicyPortSpec : IPortMatcher
{
    /// <summary>The protocol.</summary>
    public Protocol Protocol { get; init; } = Protocol.Tcp;

    /// <summary>The port number, when the port is given by number.</summary>
    public int? Port { get; init; }

    /// <summary>The port name, when the port is given by name.</summary>
    public string? PortName { get; init; }

    /// <summary>The last port of a range that starts at <see cref="Port"/>.</summary>
    public int? EndPort { get; init; }

    /// <inheritdoc />
    public ConnectionSet Resolve(IReadOnlyList<ContainerPortSpec>? destinationPorts)
    {
        if (PortName is not null)
        {
            if (destinationPorts is null)
            {
                return ConnectionSet.None;
            }

            foreach (var port in destinationPorts)
            {
                if (port.Protocol == Protocol && string.Equals(port.Name, PortName, StringComparison.Ordinal))
                {
                    return ConnectionSet.Port(Protocol, port.Port);
                }
            }

            return ConnectionSet.None;
        }

        if (Port is null)
        {
            return ConnectionSet.AllPorts(Protocol);
        }

        return ConnectionSet.Ports(Protocol, Port.Value, EndPort ?? Port.Value);
    }
}
