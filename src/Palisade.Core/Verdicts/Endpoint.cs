using Palisade.Sets;

namespace Palisade.Verdicts;

/// <summary>What an endpoint of a connection is.</summary>
public enum EndpointKind
{
    /// <summary>A pod of the snapshot.</summary>
    Pod,

    /// <summary>An address that belongs to no pod or node: outside the cluster.</summary>
    Address,

    /// <summary>The host network of a node (its address, and <see cref="Endpoint.NodeName"/>).</summary>
    Node,
}

/// <summary>
/// One end of a connection as a snapshot resolves it: a pod (by its index in
/// <see cref="Compilation.PolicySnapshot.Pods"/>) or an address. <see cref="Label"/> is how the user named it.
/// </summary>
public readonly record struct Endpoint(EndpointKind Kind, int PodIndex, UInt128 Address, string Label)
{
    /// <summary>
    /// For an outside address reached by name (<c>fqdn:NAME:IP</c>), the name the client resolved;
    /// DNS-name rules match it, CIDR rules match <see cref="Address"/>.
    /// </summary>
    public string? DnsName { get; init; }

    /// <summary>For a node endpoint, the node's name.</summary>
    public string? NodeName { get; init; }

    /// <summary>A node endpoint.</summary>
    public static Endpoint ForNode(string node, UInt128 address, string? label = null) =>
        new(EndpointKind.Node, -1, address, label ?? $"node:{node}") { NodeName = node };

    /// <summary>A pod endpoint.</summary>
    public static Endpoint ForPod(int podIndex, string label) => new(EndpointKind.Pod, podIndex, default, label);

    /// <summary>An outside address endpoint.</summary>
    public static Endpoint ForAddress(UInt128 address, string? label = null) =>
        new(EndpointKind.Address, -1, address, label ?? IpNumbers.Format(address));

    /// <inheritdoc />
    public override string ToString() => Label;
}
