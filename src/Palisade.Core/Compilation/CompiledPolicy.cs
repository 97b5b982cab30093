using Palisade.Model;
using Palisade.Sets;
using Palisade.Verdicts;

namespace Palisade.Compilation;

/// <summary>Which node endpoints a peer matches through Cilium's entities, relative to the enforcing pod's node.</summary>
[Flags]
internal enum NodeEntities
{
    None = 0,

    /// <summary>The node the subject pod runs on (<c>host</c>).</summary>
    Host = 1,

    /// <summary>Every other node (<c>remote-node</c>).</summary>
    RemoteNode = 2,

    /// <summary>Nodes that serve the Kubernetes API (<c>kube-apiserver</c>).</summary>
    KubeApiServer = 4,
}

/// <summary>What a peer is matched against: a pod's identity, a node, or an outside address with the name it was reached by.</summary>
internal readonly record struct PeerProbe(int Identity, UInt128 Address, string? NodeName, bool NodeServesApi, string? DnsName, string? SubjectNode)
{
    /// <summary>
    /// For an outside host known only by name (a DNS peer in a report): its address is unknown, so
    /// only address peers that cover every outside IPv4 address match it.
    /// </summary>
    public bool AddressUnknown { get; init; }

    public bool IsPod => Identity >= 0;

    public bool IsNode => NodeName is not null;
}

/// <summary>One peer of a compiled rule: the identities, outside addresses, node entities and DNS names it matches.</summary>
internal sealed class CompiledPeer(Bitset identities, IpSet addresses, string path)
{
    public Bitset Identities { get; } = identities;

    /// <summary>Addresses matched as such (for nodes too, unless the dialect keeps CIDRs off nodes).</summary>
    public IpSet Addresses { get; } = addresses;

    /// <summary>The path of the peer in its policy, e.g. <c>spec.ingress[0].from[1]</c>.</summary>
    public string Path { get; } = path;

    /// <summary>DNS names or patterns: the peer matches an outside endpoint reached by a matching name.</summary>
    public DnsPattern[] Names { get; init; } = [];

    /// <summary>Whether <see cref="Names"/> match only names the subject's DNS rules let it look up (Cilium's toFQDNs).</summary>
    public bool NamesNeedDnsProxy { get; init; }

    /// <summary>Node endpoints matched through entities.</summary>
    public NodeEntities Nodes { get; init; }

    /// <summary>Nodes matched by name, never the subject's own (Cilium's fromNodes/toNodes give remote nodes' identities).</summary>
    public string[] RemoteNodeNames { get; init; } = [];

    /// <summary>Whether <see cref="Addresses"/> holds every outside IPv4 address, so it matches any host whatever its address.</summary>
    public bool CoversOutside { get; init; }

    /// <summary>Whether the peer matches <paramref name="probe"/>; <paramref name="learned"/> says whether a DNS name was looked up through the proxy.</summary>
    public bool Matches(in PeerProbe probe, Func<string, bool>? learned)
    {
        if (probe.IsPod)
        {
            return Identities[probe.Identity];
        }

        if (probe.AddressUnknown ? CoversOutside : Addresses.Contains(probe.Address))
        {
            return true;
        }

        if (probe.IsNode)
        {
            if (((Nodes & NodeEntities.Host) != 0 && probe.NodeName == probe.SubjectNode)
                || ((Nodes & NodeEntities.RemoteNode) != 0 && probe.NodeName != probe.SubjectNode)
                || ((Nodes & NodeEntities.KubeApiServer) != 0 && probe.NodeServesApi)
                || (probe.NodeName != probe.SubjectNode && Array.IndexOf(RemoteNodeNames, probe.NodeName) >= 0))
            {
                return true;
            }

            return false;
        }

        if (probe.DnsName is { } name)
        {
            foreach (var pattern in Names)
            {
                if (pattern.Matches(name) && (!NamesNeedDnsProxy || (learned?.Invoke(name) ?? false)))
                {
                    return true;
                }
            }
        }

        return false;
    }
}

/// <summary>
/// A rule with its peers resolved to identities and addresses, and its ports ready to resolve on a
/// destination's port map. Port names are resolved once per port map and cached.
/// </summary>
internal sealed class CompiledRule
{
    private readonly IReadOnlyList<IPortMatcher>? _allPorts;
    private readonly bool _emptyMeansAll;
    private readonly IPortMatcher[]? _ports;
    private readonly int _fixedConnection;
    private readonly Dictionary<int, int>? _byPortMap;

    /// <param name="policy">The policy's index in the snapshot.</param>
    /// <param name="direction">Ingress or egress.</param>
    /// <param name="path">The rule's path, e.g. <c>spec.egress[2]</c>.</param>
    /// <param name="peers">The rule's peers; at least one.</param>
    /// <param name="ports">The rule's ports; null means every port.</param>
    /// <param name="emptyMeansAll">Whether an empty port list means every port (NetworkPolicy) or none (AdminNetworkPolicy).</param>
    /// <param name="action">What a match does.</param>
    /// <param name="name">The rule's name, if it has one.</param>
    /// <param name="table">The compile's connection table.</param>
    public CompiledRule(int policy, Direction direction, string path, CompiledPeer[] peers, IReadOnlyList<IPortMatcher>? ports, bool emptyMeansAll, AdminAction action, string? name, ConnectionTable table)
    {
        Policy = policy;
        Direction = direction;
        Path = path;
        Action = action;
        Name = name;
        _emptyMeansAll = emptyMeansAll;
        Peers = peers;
        PeerIdentities = peers[0].Identities.Clone();
        var addresses = peers[0].Addresses;
        for (var i = 1; i < peers.Length; i++)
        {
            PeerIdentities.Or(peers[i].Identities);
            addresses = addresses.Union(peers[i].Addresses);
        }

        PeerAddresses = addresses;
        _allPorts = ports;
        if (ports is null || (ports.Count == 0 && emptyMeansAll))
        {
            _fixedConnection = ConnectionTable.AllId;
        }
        else if (ports.Any(static p => p.PortName is not null))
        {
            _ports = [.. ports];
            _byPortMap = [];
        }
        else
        {
            var connection = ConnectionTable.NoneId;
            foreach (var port in ports)
            {
                connection = table.Union(connection, table.Intern(port.Resolve(null)));
            }

            _fixedConnection = connection;
        }

        if (_ports is null)
        {
            FixedSet = table[_fixedConnection];
        }
    }

    /// <summary>What the rule admits, when that does not depend on the destination's named ports.</summary>
    public ConnectionSet? FixedSet { get; }

    public int Policy { get; }

    public Direction Direction { get; }

    /// <summary>Allow for NetworkPolicy rules; the written action for cluster-wide rules.</summary>
    public AdminAction Action { get; }

    /// <summary>The rule's name, for cluster-wide rules.</summary>
    public string? Name { get; }

    /// <summary>The rule's path, e.g. <c>spec.egress[2]</c>.</summary>
    public string Path { get; }

    public CompiledPeer[] Peers { get; }

    public Bitset PeerIdentities { get; }

    public IpSet PeerAddresses { get; }

    public bool HasNamedPorts => _ports is not null;

    /// <summary>HTTP rules a request must match (one of them) when this rule is what admits the connection.</summary>
    public IReadOnlyList<HttpRuleSpec>? Http { get; init; }

    /// <summary>DNS rules a query must match (one of them) when this rule is what admits the connection.</summary>
    public IReadOnlyList<DnsPattern>? Dns { get; init; }

    /// <summary>Whether the rule restricts what it admits at layer 7.</summary>
    public bool HasL7 => Http is not null || Dns is not null;

    /// <summary>
    /// The connections the rule admits to a destination with the given container ports (null for an
    /// outside address). Not interned: for explanations, which must not touch the compile's tables.
    /// </summary>
    public ConnectionSet Admits(IReadOnlyList<ContainerPortSpec>? destination)
    {
        if (_allPorts is null || (_allPorts.Count == 0 && _emptyMeansAll))
        {
            return ConnectionSet.All;
        }

        var result = ConnectionSet.None;
        foreach (var port in _allPorts)
        {
            result = result.Union(port.Resolve(destination));
        }

        return result;
    }

    /// <summary>
    /// The connections the rule admits to a destination with port map <paramref name="portMap"/>, for
    /// verdicts after the compile: from the compile's cache where it resolved that port map (only read,
    /// so concurrent verdicts are safe), otherwise resolved here.
    /// </summary>
    public ConnectionSet AdmitsFor(int portMap, PortMapTable portMaps, ConnectionSet[] connections)
    {
        if (FixedSet is { } fixedSet)
        {
            return fixedSet;
        }

        return _byPortMap!.TryGetValue(portMap, out var id) ? connections[id] : Admits(portMaps.Get(portMap));
    }

    /// <summary>
    /// The interned connections the rule admits to a destination with port map <paramref name="portMap"/>
    /// (<see cref="PortMapTable.Outside"/> for an outside address).
    /// </summary>
    public int ConnectionFor(int portMap, PortMapTable portMaps, ConnectionTable table)
    {
        if (_ports is null)
        {
            return _fixedConnection;
        }

        if (_byPortMap!.TryGetValue(portMap, out var cached))
        {
            return cached;
        }

        var destination = portMaps.Get(portMap);
        var connection = ConnectionTable.NoneId;
        foreach (var port in _ports)
        {
            connection = table.Union(connection, table.Intern(port.Resolve(destination)));
        }

        _byPortMap.Add(portMap, connection);
        return connection;
    }
}

/// <summary>A policy of any tier with its subjects resolved to identities.</summary>
internal sealed class CompiledPolicy(PolicyReference reference, Tier tier, Bitset subjects, bool ingress, bool egress, CompiledRule[] ingressRules, CompiledRule[] egressRules)
{
    /// <summary>Whether the policy puts its subjects into default deny for ingress (false for Cilium's <c>enableDefaultDeny: false</c>).</summary>
    public bool IsolatesIngress { get; init; } = ingress;

    /// <summary>Whether the policy puts its subjects into default deny for egress.</summary>
    public bool IsolatesEgress { get; init; } = egress;

    /// <summary>Whether the policy isolates its subjects in <paramref name="direction"/>.</summary>
    public bool Isolates(Direction direction) => direction == Direction.Ingress ? IsolatesIngress : IsolatesEgress;

    public PolicyReference Reference { get; } = reference;

    /// <summary>Admin, Namespace or Baseline.</summary>
    public Tier Tier { get; } = tier;

    public Bitset Subjects { get; } = subjects;

    public bool Ingress { get; } = ingress;

    public bool Egress { get; } = egress;

    public CompiledRule[] IngressRules { get; } = ingressRules;

    public CompiledRule[] EgressRules { get; } = egressRules;

    public bool Affects(Direction direction) => direction == Direction.Ingress ? Ingress : Egress;

    public CompiledRule[] Rules(Direction direction) => direction == Direction.Ingress ? IngressRules : EgressRules;
}

/// <summary>
/// Interns the named container ports of identities, restricted to the names some policy refers to,
/// so that rules resolve names once per distinct map.
/// </summary>
internal sealed class PortMapTable
{
    /// <summary>The id of an outside address, which has no named ports.</summary>
    public const int Outside = -1;

    private readonly List<IReadOnlyList<ContainerPortSpec>> _maps = [];
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);

    public int Intern(IReadOnlyList<ContainerPortSpec> ports, IReadOnlySet<string> referencedNames)
    {
        var kept = ports.Where(p => p.Name is not null && referencedNames.Contains(p.Name))
            .OrderBy(static p => p.Name, StringComparer.Ordinal).ThenBy(static p => p.Protocol).ThenBy(static p => p.Port)
            .ToList();
        var key = string.Join(";", kept.Select(static p => $"{p.Name}/{(int)p.Protocol}/{p.Port}"));
        if (!_ids.TryGetValue(key, out var id))
        {
            id = _maps.Count;
            _maps.Add(kept);
            _ids.Add(key, id);
        }

        return id;
    }

    public IReadOnlyList<ContainerPortSpec>? Get(int id) => id == Outside ? null : _maps[id];
}
