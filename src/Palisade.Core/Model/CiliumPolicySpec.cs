using System.Text.RegularExpressions;
using Palisade.Sets;

namespace Palisade.Model;

/// <summary>Cilium's reserved entities, peers that are not pods.</summary>
public enum CiliumEntity
{
    /// <summary>Everything: pods, nodes, the API server and the outside.</summary>
    All,

    /// <summary>Addresses outside the cluster (not pods, nodes or the API server).</summary>
    World,

    /// <summary>Everything inside the cluster: pods, nodes, the API server.</summary>
    Cluster,

    /// <summary>The node the selected pod runs on.</summary>
    Host,

    /// <summary>Every other node.</summary>
    RemoteNode,

    /// <summary>The Kubernetes API server's addresses (the <c>default/kubernetes</c> EndpointSlice).</summary>
    KubeApiServer,

    /// <summary>Cilium's health endpoints; Palisade models none, so this matches nothing.</summary>
    Health,

    /// <summary>Endpoints whose identity is not yet known; matches nothing in Palisade.</summary>
    Init,

    /// <summary>Cilium's ingress (Envoy) endpoint; matches nothing in Palisade.</summary>
    Ingress,

    /// <summary>Pods Cilium does not manage; matches nothing in Palisade.</summary>
    Unmanaged,

    /// <summary>Nothing.</summary>
    None,
}

/// <summary>
/// A <c>cilium.io/v2</c> CiliumNetworkPolicy (namespaced) or CiliumClusterwideNetworkPolicy: one
/// block per entry of <c>specs</c> (or the one <c>spec</c>). Cilium policies sit in the namespace
/// tier beside NetworkPolicy: deny rules win over allow rules of every policy.
/// </summary>
public sealed record CiliumPolicySpec
{
    /// <summary><c>CiliumNetworkPolicy</c> or <c>CiliumClusterwideNetworkPolicy</c>.</summary>
    public required string Kind { get; init; }

    /// <summary>The namespace of a CiliumNetworkPolicy; empty for a clusterwide one.</summary>
    public required string Namespace { get; init; }

    /// <summary>The name.</summary>
    public required string Name { get; init; }

    /// <summary>The rule blocks, from <c>spec</c> and <c>specs</c>.</summary>
    public required IReadOnlyList<CiliumRuleBlockSpec> Blocks { get; init; }

    /// <summary>Where the object starts.</summary>
    public SourceLocation? Location { get; init; }

    /// <summary>Whether the policy is clusterwide.</summary>
    public bool IsClusterwide => Namespace.Length == 0;

    /// <summary>The object key.</summary>
    public ObjectKey Key => new(Kind, Namespace, Name);
}

/// <summary>One Cilium rule block: the endpoints it selects and its rules per direction.</summary>
public sealed record CiliumRuleBlockSpec
{
    /// <summary>The path of the block in its object: <c>spec</c> or <c>specs[i]</c>.</summary>
    public required string Path { get; init; }

    /// <summary>
    /// <c>endpointSelector</c> in Cilium's label space (pod labels plus <c>io.kubernetes.pod.namespace</c>,
    /// <c>io.cilium.k8s.namespace.labels.*</c> and <c>io.cilium.k8s.policy.serviceaccount</c>), source
    /// prefixes removed. In a CiliumNetworkPolicy the compiler confines it to the policy's namespace.
    /// </summary>
    public required LabelSelectorSpec EndpointSelector { get; init; }

    /// <summary>
    /// <c>nodeSelector</c> over Node labels, for a host policy of a CiliumClusterwideNetworkPolicy: the
    /// block then protects the selected nodes' host network, not pods (<see cref="EndpointSelector"/> is unused).
    /// </summary>
    public LabelSelectorSpec? NodeSelector { get; init; }

    /// <summary>Ingress allow rules; null when the section is absent.</summary>
    public IReadOnlyList<CiliumRuleSpec>? Ingress { get; init; }

    /// <summary>Egress allow rules; null when absent.</summary>
    public IReadOnlyList<CiliumRuleSpec>? Egress { get; init; }

    /// <summary>Ingress deny rules; null when absent.</summary>
    public IReadOnlyList<CiliumRuleSpec>? IngressDeny { get; init; }

    /// <summary>Egress deny rules; null when absent.</summary>
    public IReadOnlyList<CiliumRuleSpec>? EgressDeny { get; init; }

    /// <summary><c>enableDefaultDeny.ingress</c>; null when not set (then any ingress rule turns default deny on).</summary>
    public bool? DefaultDenyIngress { get; init; }

    /// <summary><c>enableDefaultDeny.egress</c>.</summary>
    public bool? DefaultDenyEgress { get; init; }

    /// <summary>The allow rules of one direction (never null).</summary>
    public IReadOnlyList<CiliumRuleSpec> Allow(Direction direction) => (direction == Direction.Ingress ? Ingress : Egress) ?? [];

    /// <summary>The deny rules of one direction (never null).</summary>
    public IReadOnlyList<CiliumRuleSpec> Deny(Direction direction) => (direction == Direction.Ingress ? IngressDeny : EgressDeny) ?? [];

    /// <summary>Whether the block has any rule, allow or deny, in <paramref name="direction"/> (an empty list is no rule).</summary>
    public bool HasRules(Direction direction) => Allow(direction).Count > 0 || Deny(direction).Count > 0;

    /// <summary>Whether the block puts the selected endpoints into default deny for <paramref name="direction"/>.</summary>
    public bool Isolates(Direction direction) =>
        HasRules(direction) && (direction == Direction.Ingress ? DefaultDenyIngress : DefaultDenyEgress) != false;
}

/// <summary>
/// One Cilium rule: peers (endpoints, entities, CIDRs, DNS names) and ports with optional layer-7
/// rules. With no peer field at all the rule matches every peer; a peer field that is present but
/// empty matches none.
/// </summary>
public sealed record CiliumRuleSpec
{
    /// <summary><c>fromEndpoints</c>/<c>toEndpoints</c>, in Cilium's label space; null when absent.</summary>
    public IReadOnlyList<LabelSelectorSpec>? Endpoints { get; init; }

    /// <summary><c>fromEntities</c>/<c>toEntities</c>; null when absent.</summary>
    public IReadOnlyList<CiliumEntity>? Entities { get; init; }

    /// <summary>
    /// The addresses of <c>fromCIDR</c>/<c>toCIDR</c>/<c>fromCIDRSet</c>/<c>toCIDRSet</c> (with
    /// exceptions); null when absent. CIDR groups the sets name are in <see cref="CidrGroups"/>.
    /// </summary>
    public IpSet? Cidrs { get; init; }

    /// <summary>
    /// Whether the rule names peers Palisade cannot evaluate (<c>toGroups</c>: addresses a cloud
    /// provider gives); the rule then matches no peer, rather than every peer as a rule without peers would.
    /// </summary>
    public bool HasUnevaluatedPeers { get; init; }

    /// <summary><c>fromNodes</c>/<c>toNodes</c>: nodes by their labels; null when absent.</summary>
    public IReadOnlyList<LabelSelectorSpec>? Nodes { get; init; }

    /// <summary>The CiliumCIDRGroups the CIDR sets name (<c>cidrGroupRef</c>, <c>cidrGroupSelector</c>); null when none.</summary>
    public IReadOnlyList<CiliumCidrGroupRef>? CidrGroups { get; init; }

    /// <summary><c>toFQDNs</c>; null when absent.</summary>
    public IReadOnlyList<DnsPattern>? Fqdns { get; init; }

    /// <summary><c>toServices</c>: the pods behind the services named; null when absent.</summary>
    public IReadOnlyList<CiliumServiceRef>? Services { get; init; }

    /// <summary><c>toPorts</c>; null when absent or empty (every port).</summary>
    public IReadOnlyList<CiliumPortRuleSpec>? ToPorts { get; init; }

    /// <summary>
    /// <c>icmps</c>: the ICMP message types the rule admits (ICMP or ICMPv6, the type as the port);
    /// null when absent. A rule with them admits no TCP, UDP or SCTP.
    /// </summary>
    public IReadOnlyList<CiliumPortSpec>? Icmps { get; init; }

    /// <summary>Whether <c>icmps</c> is set.</summary>
    public bool HasIcmps => Icmps is not null;

    /// <summary>The rule's path, e.g. <c>spec.ingress[0]</c>.</summary>
    public required string Path { get; init; }

    /// <summary>Whether no peer field is set.</summary>
    public bool NoPeerField => Endpoints is null && Entities is null && Cidrs is null && CidrGroups is null && Nodes is null && Fqdns is null && Services is null && !HasUnevaluatedPeers;

    /// <summary>
    /// Whether the rule matches every peer: no peer field, but ports (or ICMP types) to limit it. A
    /// rule with neither (<c>{}</c>) matches nothing, though it still puts its direction into default deny.
    /// </summary>
    public bool AnyPeer => NoPeerField && (ToPorts is { Count: > 0 } || HasIcmps);
}

/// <summary>One entry of <c>toPorts</c>: ports (an entry without ports matches nothing) and optional HTTP or DNS rules for them.</summary>
public sealed record CiliumPortRuleSpec
{
    /// <summary>The ports; an entry without any matches nothing.</summary>
    public IReadOnlyList<CiliumPortSpec> Ports { get; init; } = [];

    /// <summary><c>rules.http</c>: a request must match one of them; null when absent.</summary>
    public IReadOnlyList<HttpRuleSpec>? Http { get; init; }

    /// <summary><c>rules.dns</c>: a DNS query must match one of them; null when absent.</summary>
    public IReadOnlyList<DnsPattern>? Dns { get; init; }

    /// <summary>Whether the entry carries layer-7 rules.</summary>
    public bool HasL7 => Http is not null || Dns is not null;
}

/// <summary>A Cilium port: a number (0 or absent for every port), a range to <see cref="EndPort"/>, or a name; over one or more protocols.</summary>
public sealed record CiliumPortSpec : IPortMatcher
{
    /// <summary>The protocols: one, or TCP, UDP and SCTP for <c>ANY</c> (or when none is written).</summary>
    public required IReadOnlyList<Protocol> Protocols { get; init; }

    /// <summary>The port; null for every port.</summary>
    public int? Port { get; init; }

    /// <summary>The end of a range.</summary>
    public int? EndPort { get; init; }

    /// <inheritdoc />
    public string? PortName { get; init; }

    /// <inheritdoc />
    public ConnectionSet Resolve(IReadOnlyList<ContainerPortSpec>? destinationPorts)
    {
        var result = ConnectionSet.None;
        foreach (var protocol in Protocols)
        {
            if (PortName is not null)
            {
                foreach (var port in destinationPorts ?? [])
                {
                    if (port.Protocol == protocol && string.Equals(port.Name, PortName, StringComparison.Ordinal))
                    {
                        result = result.Union(ConnectionSet.Port(protocol, port.Port));
                    }
                }
            }
            else
            {
                result = result.Union(Port is null ? ConnectionSet.AllPorts(protocol) : ConnectionSet.Ports(protocol, Port.Value, EndPort ?? Port.Value));
            }
        }

        return result;
    }
}

/// <summary>
/// An HTTP rule: every field that is set must match the request. Method, path and host are regular
/// expressions that must match the whole value; headers must be present (with the value, when one is given).
/// Expressions are compiled non-backtracking, so no request can make matching slow.
/// </summary>
public sealed record HttpRuleSpec
{
    /// <summary>The method expression, e.g. <c>GET|HEAD</c>.</summary>
    public Regex? Method { get; init; }

    /// <summary>The path expression, e.g. <c>/api/.*</c>.</summary>
    public Regex? Path { get; init; }

    /// <summary>The host expression.</summary>
    public Regex? Host { get; init; }

    /// <summary>Required headers: a name, and the exact value when one is given.</summary>
    public IReadOnlyList<(string Name, string? Value)> Headers { get; init; } = [];

    /// <summary>Whether the request matches.</summary>
    public bool Matches(string? method, string? path, string? host, IReadOnlyDictionary<string, string> headers)
    {
        if (Method is not null && !Method.IsMatch(method ?? string.Empty))
        {
            return false;
        }

        if (Path is not null && !Path.IsMatch(path ?? string.Empty))
        {
            return false;
        }

        if (Host is not null && !Host.IsMatch(host ?? string.Empty))
        {
            return false;
        }

        foreach (var (name, value) in Headers)
        {
            var found = headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase));
            if (found.Key is null || (value is not null && !string.Equals(found.Value, value, StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Compiles an expression that must match a whole value, without backtracking: matching time is
    /// linear in the input whatever the pattern, so no match timeout is needed (and starting a timeout
    /// costs more than matching a request line).
    /// </summary>
    /// <remarks>
    /// Expressions are shared by pattern: policies repeat the same few (<c>GET|HEAD</c>, <c>/api/.*</c>),
    /// and one instance keeps its matching automaton warm for all of them.
    /// </remarks>
    public static Regex Compile(string pattern) =>
        Compiled.GetOrAdd(pattern, static text => new Regex($"{Anchor}{text}{AnchorEnd}", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, Regex.InfiniteMatchTimeout));

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Regex> Compiled = new(StringComparer.Ordinal);

    /// <summary>The expression as written, from one that <see cref="Compile"/> made.</summary>
    public static string Source(Regex compiled)
    {
        var text = compiled.ToString();
        return text.StartsWith(Anchor, StringComparison.Ordinal) && text.EndsWith(AnchorEnd, StringComparison.Ordinal)
            ? text[Anchor.Length..^AnchorEnd.Length]
            : text;
    }

    private const string Anchor = "^(?:";
    private const string AnchorEnd = ")$";
}

/// <summary>
/// A <c>toServices</c> entry: a service by name (<c>k8sService</c>) or by its labels
/// (<c>k8sServiceSelector</c>), in a namespace or (when empty) in any. It admits the pods the service
/// selects, or for a service without a selector the addresses of its EndpointSlices.
/// </summary>
public sealed record CiliumServiceRef(string? Name, string? Namespace, LabelSelectorSpec? Selector)
{
    /// <summary>Whether the reference names <paramref name="service"/>: by name (or selector) and namespace.</summary>
    public bool Names(ServiceSpec service)
    {
        ArgumentNullException.ThrowIfNull(service);
        return (Name is null || service.Name == Name)
            && (string.IsNullOrEmpty(Namespace) || service.Namespace == Namespace)
            && (Selector is null || Selector.Matches(service.Labels));
    }
}

/// <summary>A CIDR set entry's CiliumCIDRGroups: the one named <paramref name="Name"/>, or those whose labels <paramref name="Selector"/> matches.</summary>
public sealed record CiliumCidrGroupRef(string? Name, LabelSelectorSpec? Selector)
{
    /// <summary>The entry's <c>except</c>: addresses taken out of the groups' (Cilium applies it beside a group too).</summary>
    public IpSet Except { get; init; } = IpSet.Empty;

    /// <summary>The entry's path, e.g. <c>spec.egress[0].toCIDRSet[1]</c>, which explanations name.</summary>
    public string Path { get; init; } = string.Empty;

    /// <summary>Whether the entry names <paramref name="group"/>.</summary>
    public bool Matches(CiliumCidrGroupSpec group)
    {
        ArgumentNullException.ThrowIfNull(group);
        return Name is not null ? group.Name == Name : Selector is not null && Selector.Matches(group.Labels);
    }
}
