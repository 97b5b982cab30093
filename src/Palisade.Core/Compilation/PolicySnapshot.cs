using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics.CodeAnalysis;
using Palisade.Analysis;
using Palisade.Model;
using Palisade.Sets;
using Palisade.Verdicts;

namespace Palisade.Compilation;

/// <summary>Everything a compile produces; the snapshot's private state.</summary>
internal sealed record SnapshotData
{
    public required long Revision { get; init; }
    public required SnapshotOptions Options { get; init; }
    public required ClusterSpec Spec { get; init; }
    public required NamespaceSpec[] Namespaces { get; init; }
    public required SnapshotPod[] Pods { get; init; }
    public required SnapshotIdentity[] Identities { get; init; }
    public required CompiledPolicy[] Policies { get; init; }
    public required ConnectionSet[] Connections { get; init; }
    public required int[] IdentityPortMap { get; init; }
    public required PortMapTable PortMaps { get; init; }
    public required DirectionClasses Ingress { get; init; }
    public required DirectionClasses Egress { get; init; }
    public required CompileStatistics Statistics { get; init; }
    public required IReadOnlyDictionary<UInt128, string> NodesByAddress { get; init; }
    public required IpSet ApiServerAddresses { get; init; }

    /// <summary>The host policies (Cilium <c>nodeSelector</c> blocks) that select each node, by policy index in evaluation order.</summary>
    public required IReadOnlyDictionary<string, int[]> HostPolicies { get; init; }
}

/// <summary>
/// A compiled, immutable view of a cluster's policies that answers every connectivity question: the
/// connections allowed between any two identities or between an identity and an outside address, the
/// verdict for one connection, and its explanation. Safe to read from many threads at once; a new
/// snapshot replaces an old one by swapping a reference.
/// </summary>
public sealed class PolicySnapshot
{
    private readonly SnapshotData _data;
    private readonly ConnectionSet[] _connections;
    private readonly int[] _egressClassOf;
    private readonly ConnectionRow[] _egressRows;
    private readonly int[] _ingressClassOf;
    private readonly ConnectionRow[] _ingressRows;
    private readonly ConcurrentDictionary<long, ConnectionSet> _intersections = new();
    private readonly FrozenDictionary<string, int> _podsByName;
    private readonly FrozenDictionary<UInt128, int> _podsByAddress;
    private readonly FrozenDictionary<string, int[]> _podsByWorkload;
    private readonly IReadOnlyDictionary<UInt128, string> _nodesByAddress;

    internal PolicySnapshot(SnapshotData data)
    {
        _data = data;
        _connections = data.Connections;
        _egressClassOf = data.Egress.ClassOf;
        _egressRows = data.Egress.Rows;
        _ingressClassOf = data.Ingress.ClassOf;
        _ingressRows = data.Ingress.Rows;
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        var byAddress = new Dictionary<UInt128, int>();
        var byWorkload = new Dictionary<string, List<int>>(StringComparer.Ordinal);
        foreach (var pod in data.Pods)
        {
            if (!pod.FromWorkload)
            {
                byName.TryAdd($"{pod.Spec.Namespace}/{pod.Spec.Name}", pod.Index);
            }

            foreach (var address in pod.Spec.Addresses)
            {
                byAddress.TryAdd(address, pod.Index);
            }

            var workload = $"{pod.Spec.Workload.Namespace}/{pod.Spec.Workload.Name}";
            if (!byWorkload.TryGetValue(workload, out var list))
            {
                list = [];
                byWorkload.Add(workload, list);
            }

            list.Add(pod.Index);
        }

        UsesIPv6 = data.Pods.Any(static p => p.Spec.Addresses.Any(static a => !IpNumbers.IsV4(a)))
            || data.Policies.Any(static p => p.IngressRules.Concat(p.EgressRules).Any(static r => r.PeerAddresses.Intersect(IpSet.AllV6) is { IsEmpty: false } v6 && !v6.Equals(IpSet.AllV6)));
        HasNamePeers = data.Policies.Any(static p => p.IngressRules.Concat(p.EgressRules).Any(static r => r.Peers.Any(static c => c.Names.Length > 0)));
        HasL7Rules = data.Policies.Any(static p => p.IngressRules.Concat(p.EgressRules).Any(static r => r.HasL7));
        HasEntityPeers = data.Policies.Any(static p => p.IngressRules.Concat(p.EgressRules).Any(static r => r.Peers.Any(static c => c.Nodes != NodeEntities.None || c.RemoteNodeNames.Length > 0)));
        HasNodeNamePeers = data.Policies.Any(static p => p.IngressRules.Concat(p.EgressRules).Any(static r => r.Peers.Any(static c => c.RemoteNodeNames.Length > 0)));
        _nodesByAddress = data.NodesByAddress;
        _podsByName = byName.ToFrozenDictionary(StringComparer.Ordinal);
        _podsByAddress = byAddress.ToFrozenDictionary();
        _podsByWorkload = byWorkload.ToFrozenDictionary(static p => p.Key, static p => p.Value.ToArray(), StringComparer.Ordinal);
    }

    /// <summary>The revision, higher for newer snapshots.</summary>
    public long Revision => _data.Revision;

    /// <summary>The options it was compiled with.</summary>
    public SnapshotOptions Options => _data.Options;

    /// <summary>The cluster it was compiled from.</summary>
    public ClusterSpec Spec => _data.Spec;

    /// <summary>Every namespace, declared or implied.</summary>
    public IReadOnlyList<NamespaceSpec> Namespaces => _data.Namespaces;

    /// <summary>Every pod, including one per workload object that has no pods in the input.</summary>
    public IReadOnlyList<SnapshotPod> Pods => _data.Pods;

    /// <summary>The identities pods were grouped into.</summary>
    public IReadOnlyList<SnapshotIdentity> Identities => _data.Identities;

    /// <summary>What the compile did and how long it took.</summary>
    public CompileStatistics Statistics => _data.Statistics;

    /// <summary>Whether any pod or CIDR peer of the cluster is IPv6, so reports should list IPv6 ranges.</summary>
    public bool UsesIPv6 { get; }

    private bool[]? _egressClassL7;
    private bool[]? _ingressClassL7;

    /// <summary>Whether some rule of the identity's direction class carries HTTP or DNS rules.</summary>
    private bool ClassHasL7(Direction direction, int identity)
    {
        var classes = direction == Direction.Egress ? _data.Egress : _data.Ingress;
        ref var cache = ref direction == Direction.Egress ? ref _egressClassL7 : ref _ingressClassL7;
        cache ??= [.. classes.Policies.Select(policies => policies.Any(p => _data.Policies[p].Rules(direction).Any(static r => r.HasL7)))];
        return cache[classes.ClassOf[identity]];
    }

    /// <summary>The policies that select an identity in one direction, in evaluation order (its direction class's).</summary>
    private IEnumerable<CompiledPolicy> Selecting(Direction direction, int identity)
    {
        var classes = direction == Direction.Egress ? _data.Egress : _data.Ingress;
        foreach (var p in classes.Policies[classes.ClassOf[identity]])
        {
            yield return _data.Policies[p];
        }
    }

    /// <summary>The interned connections the source's egress allows to the destination (an empty row means not isolated).</summary>
    private int EgressId(int source, int destination) => _egressRows[_egressClassOf[source]][destination];

    /// <summary>The interned connections the destination's ingress allows from the source.</summary>
    private int IngressId(int source, int destination) => _ingressRows[_ingressClassOf[destination]][source];

    /// <summary>The connections allowed from identity <paramref name="source"/> to identity <paramref name="destination"/>.</summary>
    public ConnectionSet Allowed(int source, int destination)
    {
        var egress = EgressId(source, destination);
        var ingress = IngressId(source, destination);
        if (egress == ConnectionTable.NoneId || ingress == ConnectionTable.NoneId)
        {
            return ConnectionSet.None;
        }

        if (egress == ingress || ingress == ConnectionTable.AllId)
        {
            return _connections[egress];
        }

        if (egress == ConnectionTable.AllId)
        {
            return _connections[ingress];
        }

        var key = ((long)egress << 32) | (uint)ingress;
        return _intersections.GetOrAdd(key, static (k, sets) => sets[(int)(k >> 32)].Intersect(sets[(int)(k & 0xFFFFFFFF)]), _connections);
    }

    /// <summary>
    /// Every pair of identities with some connection between them, and the connections: what a
    /// whole-cluster report lists. Pairs are found from the sources' egress rows, so a source whose
    /// egress is isolated costs only the few destinations it may reach.
    /// </summary>
    public IEnumerable<(int Source, int Destination, ConnectionSet Connections)> ConnectedPairs()
    {
        var count = _data.Identities.Length;
        for (var source = 0; source < count; source++)
        {
            foreach (var (destination, egress) in _egressRows[_egressClassOf[source]].Entries(count))
            {
                if (IngressId(source, destination) != ConnectionTable.NoneId)
                {
                    var connections = Allowed(source, destination);
                    if (!connections.IsEmpty)
                    {
                        yield return (source, destination, connections);
                    }
                }
            }
        }
    }

    /// <summary>
    /// Whether identity <paramref name="source"/> may open <paramref name="protocol"/>/<paramref name="port"/>
    /// to identity <paramref name="destination"/>. The hot path: four array reads and two binary
    /// searches over a few intervals; nothing is allocated.
    /// </summary>
    public bool IsAllowed(int source, int destination, Protocol protocol, int port) =>
        _connections[EgressId(source, destination)].Contains(protocol, port)
        && _connections[IngressId(source, destination)].Contains(protocol, port);

    /// <summary>The connections identity <paramref name="source"/> may open to the outside address <paramref name="address"/>.</summary>
    public ConnectionSet AllowedToAddress(int source, UInt128 address) =>
        _data.Connections[_data.Egress.Outside[_data.Egress.ClassOf[source]].Lookup(address)];

    /// <summary>The connections the outside address <paramref name="address"/> may open to identity <paramref name="destination"/>.</summary>
    public ConnectionSet AllowedFromAddress(UInt128 address, int destination) =>
        _data.Connections[_data.Ingress.Outside[_data.Ingress.ClassOf[destination]].Lookup(address)];

    /// <summary>The outside address space cut into ranges, with what <paramref name="identity"/> may open to each.</summary>
    public IEnumerable<(UInt128 First, UInt128 Last, ConnectionSet Connections)> OutsideReach(int identity, Direction direction)
    {
        var classes = direction == Direction.Egress ? _data.Egress : _data.Ingress;
        foreach (var (first, last, connection) in classes.Outside[classes.ClassOf[identity]].Ranges())
        {
            yield return (first, last, _data.Connections[connection]);
        }
    }

    /// <summary>
    /// Resolves what a user typed: <c>ns/name</c> of a pod, or of a workload (its first pod); an
    /// address (the pod or node that has it, else an outside address); <c>fqdn:NAME:IP</c>, an outside
    /// address reached by resolving NAME; or <c>node:NAME</c>, the host network of a node.
    /// </summary>
    public bool TryResolve(string reference, out Endpoint endpoint, [NotNullWhen(false)] out string? error)
    {
        endpoint = default;
        error = null;
        if (reference.StartsWith("fqdn:", StringComparison.Ordinal))
        {
            var rest = reference["fqdn:".Length..];
            var colon = rest.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !IpNumbers.TryParse(rest[(colon + 1)..], out var resolved))
            {
                error = $"'{reference}' is not of the form fqdn:NAME:IP (for example fqdn:pypi.org:151.101.0.223)";
                return false;
            }

            // A name that resolves into the cluster reaches the pod or node there; DNS-name rules never select those.
            var name = DnsPattern.Normalize(rest[..colon]);
            endpoint = _podsByAddress.TryGetValue(resolved, out var pod)
                ? Endpoint.ForPod(pod, reference)
                : _nodesByAddress.TryGetValue(resolved, out var host)
                    ? Endpoint.ForNode(host, resolved, reference)
                    : Endpoint.ForAddress(resolved, reference) with { DnsName = name };
            return true;
        }

        if (reference.StartsWith("node:", StringComparison.Ordinal))
        {
            var name = reference["node:".Length..];
            var address = _nodesByAddress.FirstOrDefault(n => n.Value == name).Key;
            if (!_nodesByAddress.Any(n => n.Value == name))
            {
                error = $"no address is known for node '{name}': add a Node object with status.addresses, or pods on it with status.hostIP";
                return false;
            }

            endpoint = Endpoint.ForNode(name, address, reference);
            return true;
        }

        if (IpNumbers.TryParse(reference, out var literal))
        {
            endpoint = _podsByAddress.TryGetValue(literal, out var owner)
                ? Endpoint.ForPod(owner, reference)
                : _nodesByAddress.TryGetValue(literal, out var node)
                    ? Endpoint.ForNode(node, literal, reference)
                    : Endpoint.ForAddress(literal, reference);
            return true;
        }

        var slash = reference.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == reference.Length - 1 || reference.IndexOf('/', slash + 1) >= 0)
        {
            error = $"'{reference}' is not 'namespace/name' of a pod or workload, an IP address, fqdn:NAME:IP or node:NAME";
            return false;
        }

        if (_podsByName.TryGetValue(reference, out var named))
        {
            endpoint = Endpoint.ForPod(named, reference);
            return true;
        }

        if (_podsByWorkload.TryGetValue(reference, out var pods))
        {
            endpoint = Endpoint.ForPod(pods[0], reference);
            return true;
        }

        error = $"no pod or workload '{reference}' in the input";
        return false;
    }

    /// <summary>Whether some policy names outside peers by DNS name, so named endpoints need the rule-by-rule evaluation.</summary>
    public bool HasNamePeers { get; }

    /// <summary>Whether some rule carries HTTP or DNS rules, so layer-7 requests need the rule-by-rule evaluation.</summary>
    public bool HasL7Rules { get; }

    /// <summary>Whether some rule names nodes through Cilium's entities (host, remote-node, kube-apiserver) or by their labels.</summary>
    public bool HasEntityPeers { get; }

    /// <summary>Whether some rule names nodes by their labels (Cilium's fromNodes/toNodes), so that one remote node no longer stands for all.</summary>
    public bool HasNodeNamePeers { get; }

    /// <summary>Every DNS name or pattern that rules name outside peers by, once each.</summary>
    public IReadOnlyList<DnsPattern> DnsPatterns() =>
        [.. _data.Policies.SelectMany(static p => p.IngressRules.Concat(p.EgressRules)).SelectMany(static r => r.Peers).SelectMany(static c => c.Names)
            .DistinctBy(static n => n.Text).OrderBy(static n => n.Text, StringComparer.Ordinal)];

    /// <summary>The egress class of an identity: identities of one class are selected by the same policies on egress.</summary>
    internal int EgressClass(int identity) => _data.Egress.ClassOf[identity];

    /// <summary>
    /// The outside hosts an identity reaches by the DNS names rules use, where the name changes the
    /// answer (the same for every identity of its egress class).
    /// </summary>
    internal IEnumerable<(ReportPeer Peer, Direction Direction, ConnectionSet Connections, PeerProbe Probe)> DnsPeerReach(int identity, IReadOnlyList<DnsPattern> names)
    {
        // Only a name one of the identity's own egress patterns matches can change what it reaches.
        var ownPatterns = Selecting(Direction.Egress, identity).SelectMany(static p => p.EgressRules).SelectMany(static r => r.Peers).SelectMany(static c => c.Names)
            .DistinctBy(static n => n.Text).ToList();
        if (ownPatterns.Count == 0)
        {
            yield break;
        }

        var anyHost = SideConnections(Direction.Egress, identity, null, new PeerProbe(-1, default, null, false, null, null) { AddressUnknown = true });
        foreach (var name in names.Where(n => ownPatterns.Exists(p => p.Text == n.Text || p.Matches(n.Text))))
        {
            var probe = new PeerProbe(-1, default, null, false, name.Text, null) { AddressUnknown = true };
            var reach = SideConnections(Direction.Egress, identity, null, probe);
            if (!reach.IsEmpty && !reach.Equals(anyHost))
            {
                yield return (new ReportPeer { Named = $"{name.Text}[DNS]" }, Direction.Egress, reach, probe);
            }
        }
    }

    /// <summary>
    /// The node entities a pod may reach (its own node as <c>host</c>, another node as
    /// <c>remote-node</c>, the API server as <c>kube-apiserver</c>), egress to them and ingress from a
    /// remote node.
    /// </summary>
    internal IEnumerable<(ReportPeer Peer, Direction Direction, ConnectionSet Connections, PeerProbe Probe)> EntityPeerReach(int podIndex)
    {
        var pod = _data.Pods[podIndex];
        var identity = pod.Identity;
        var node = pod.Spec.NodeName;
        if (!HasEntityPeers)
        {
            yield break;
        }

        var podProbe = new PeerProbe(identity, default, null, false, null, null);
        var nodes = _nodesByAddress.GroupBy(static n => n.Value).Select(static g => (Name: g.Key, Address: g.First().Key)).OrderBy(static n => n.Name, StringComparer.Ordinal).ToList();
        var own = nodes.FirstOrDefault(n => n.Name == node);
        // A remote node stands for every other node: prefer one that does not serve the API, so
        // the kube-apiserver entity's rules do not show as the remote-node entity's.
        var remote = nodes.Where(n => n.Name != node).OrderBy(n => _data.ApiServerAddresses.Contains(n.Address)).FirstOrDefault();
        if (own.Name is not null)
        {
            var probe = new PeerProbe(-1, own.Address, own.Name, _data.ApiServerAddresses.Contains(own.Address), null, node);
            var reach = SideConnections(Direction.Egress, identity, node, probe).Intersect(HostSideConnections(Direction.Ingress, own.Name, podProbe));
            if (!reach.IsEmpty)
            {
                yield return (new ReportPeer { Named = "host[Entity]" }, Direction.Egress, reach, probe);
            }
        }

        // One remote node stands for all, unless rules that select nodes by their labels make the other
        // nodes (those not serving the API, which kube-apiserver lines cover) answer differently: then
        // each other node answers for itself (NAME[Node]).
        (string Name, UInt128 Address, PeerProbe Probe, ConnectionSet Out, ConnectionSet In) Reach((string Name, UInt128 Address) other)
        {
            var probe = new PeerProbe(-1, other.Address, other.Name, _data.ApiServerAddresses.Contains(other.Address), null, node);
            return (other.Name, other.Address, probe,
                SideConnections(Direction.Egress, identity, node, probe).Intersect(HostSideConnections(Direction.Ingress, other.Name, podProbe)),
                SideConnections(Direction.Ingress, identity, node, probe).Intersect(HostSideConnections(Direction.Egress, other.Name, podProbe)));
        }

        var reaches = HasNodeNamePeers ? nodes.Where(n => n.Name != node).Select(Reach).ToList() : remote.Name is null ? [] : [Reach(remote)];
        var plain = reaches.Where(r => !r.Probe.NodeServesApi).ToList() is { Count: > 0 } notApi ? notApi : reaches;
        var uniform = plain.Count > 0 && plain.All(r => r.Out.Equals(plain[0].Out) && r.In.Equals(plain[0].In));
        foreach (var other in uniform ? [plain[0]] : reaches)
        {
            var peer = new ReportPeer { Named = uniform ? "remote-node[Entity]" : $"{other.Name}[Node]" };
            if (!other.Out.IsEmpty)
            {
                yield return (peer, Direction.Egress, other.Out, other.Probe);
            }

            if (!other.In.IsEmpty)
            {
                yield return (peer, Direction.Ingress, other.In, other.Probe);
            }
        }

        foreach (var interval in _data.ApiServerAddresses.Numbers.Intervals)
        {
            var address = interval.Lo;
            var probe = _nodesByAddress.TryGetValue(address, out var apiNode)
                ? new PeerProbe(-1, address, apiNode, true, null, node)
                : new PeerProbe(-1, address, null, false, null, node);
            var reach = SideConnections(Direction.Egress, identity, node, probe);
            if (apiNode is not null)
            {
                reach = reach.Intersect(HostSideConnections(Direction.Ingress, apiNode, podProbe));
            }
            if (!reach.IsEmpty)
            {
                yield return (new ReportPeer { Named = "kube-apiserver[Entity]" }, Direction.Egress, reach, probe);
            }

            break;
        }
    }

    /// <summary>
    /// The layer-7 mark of a report line: which ports of it HTTP or DNS rules restrict, on either side.
    /// <paramref name="memo"/> keeps each side's restrictions per class and peer across the lines of one report.
    /// </summary>
    internal string? Layer7Label(ReportLine line, IReadOnlyDictionary<WorkloadRef, int> podOf, Layer7Memo memo)
    {
        if (line.Connections.IsEmpty || line.Source.Workload is null)
        {
            return null;
        }

        var source = _data.Pods[podOf[line.Source.Workload]];
        string? inMark = null;
        PeerProbe destinationProbe;
        if (line.Destination.Workload is { } destinationWorkload)
        {
            var destination = _data.Pods[podOf[destinationWorkload]];
            destinationProbe = new PeerProbe(destination.Identity, default, null, false, null, source.Spec.NodeName);
            if (ClassHasL7(Direction.Ingress, destination.Identity))
            {
                var sourceProbe = new PeerProbe(source.Identity, default, null, false, null, destination.Spec.NodeName);
                inMark = Layer7Mark(memo, Direction.Ingress, destination.Identity, sourceProbe, line.Connections);
            }
        }
        else if (line.Destination.Named is { } named && named.EndsWith("[DNS]", StringComparison.Ordinal))
        {
            destinationProbe = new PeerProbe(-1, default, null, false, named[..^5], source.Spec.NodeName) { AddressUnknown = true };
        }
        else if (line.Destination.Named is not null)
        {
            // Node entities: their rules are not marked (see docs/analyze.md).
            return null;
        }
        else
        {
            destinationProbe = new PeerProbe(-1, line.Destination.First, null, false, null, source.Spec.NodeName);
        }

        var outMark = ClassHasL7(Direction.Egress, source.Identity) ? Layer7Mark(memo, Direction.Egress, source.Identity, destinationProbe, line.Connections) : null;
        return outMark is null || inMark is null || outMark == inMark ? outMark ?? inMark : $"{outMark}; {inMark}";
    }

    private string? Layer7Mark(Layer7Memo memo, Direction direction, int identity, PeerProbe probe, ConnectionSet connections)
    {
        var portMap = direction == Direction.Ingress
            ? _data.IdentityPortMap[identity]
            : probe.IsPod ? _data.IdentityPortMap[probe.Identity] : PortMapTable.Outside;
        var classes = direction == Direction.Egress ? _data.Egress : _data.Ingress;
        var classKey = (direction, classes.ClassOf[identity], portMap);
        if (!memo.Possible.TryGetValue(classKey, out var possible))
        {
            // What layer-7 rules of the class could restrict toward any peer: most lines need no more than this.
            possible = ConnectionSet.None;
            var destinationPorts = _data.PortMaps.Get(portMap);
            foreach (var policy in Selecting(direction, identity))
            {
                if (policy.Tier == Tier.Namespace && policy.Affects(direction) && policy.Subjects[identity])
                {
                    foreach (var rule in policy.Rules(direction))
                    {
                        if (rule.HasL7 && rule.Action == AdminAction.Allow)
                        {
                            possible = possible.Union(rule.Admits(destinationPorts));
                        }
                    }
                }
            }

            memo.Possible.Add(classKey, possible);
        }

        if (!possible.Overlaps(connections))
        {
            return null;
        }

        var key = (direction, classes.ClassOf[identity], portMap, probe.Identity, probe.Address, probe.DnsName);
        if (!memo.Parts.TryGetValue(key, out var part))
        {
            part = Layer7Restricted(direction, identity, probe);
            memo.Parts.Add(key, part);
        }

        var ports = part.Ports.Intersect(connections);
        return ports.IsEmpty ? null : $"{part.Kind} on {ports}";
    }

    /// <summary>
    /// The verdict for one connection (and, when <paramref name="request"/> is given, for that HTTP
    /// request or DNS query on it), without the explanation. Pod-to-pod and pod-to-outside connections
    /// are table look-ups; nodes, DNS names and layer 7 are decided rule by rule.
    /// </summary>
    public bool Evaluate(Endpoint from, Endpoint to, Protocol protocol, int port, L7Request? request = null)
    {
        if ((HasNamePeers && (from.DnsName is not null || to.DnsName is not null))
            || from.Kind == EndpointKind.Node || to.Kind == EndpointKind.Node)
        {
            if (from.Kind == EndpointKind.Pod && to.Kind == EndpointKind.Pod && from.PodIndex == to.PodIndex)
            {
                return true;
            }

            return DecideSide(Direction.Egress, from, to, protocol, port, request) && DecideSide(Direction.Ingress, to, from, protocol, port, request);
        }

        if (request is not null && HasL7Rules)
        {
            // Layers 3-4 from the tables; then layer 7 only on a side whose class has layer-7 rules.
            if (!Evaluate(from, to, protocol, port))
            {
                return false;
            }

            return (from.Kind == EndpointKind.Pod && to.Kind == EndpointKind.Pod && from.PodIndex == to.PodIndex)
                || (RequestPasses(Direction.Egress, from, to, protocol, port, request) && RequestPasses(Direction.Ingress, to, from, protocol, port, request));
        }

        if (from.Kind == EndpointKind.Pod && to.Kind == EndpointKind.Pod)
        {
            return from.PodIndex == to.PodIndex
                || IsAllowed(_data.Pods[from.PodIndex].Identity, _data.Pods[to.PodIndex].Identity, protocol, port);
        }

        if (from.Kind == EndpointKind.Pod)
        {
            return AllowedToAddress(_data.Pods[from.PodIndex].Identity, to.Address).Contains(protocol, port);
        }

        if (to.Kind == EndpointKind.Pod)
        {
            return AllowedFromAddress(from.Address, _data.Pods[to.PodIndex].Identity).Contains(protocol, port);
        }

        // Between two outside addresses no policy of the cluster applies.
        return true;
    }

    /// <summary>
    /// Whether one side lets <paramref name="request"/> through on a connection the tables allow: it
    /// does unless the namespace tier admits the connection only through layer-7 rules and none of
    /// those matches the request (an admin-tier Allow decides before them). Agrees with <see cref="DecideSide"/>.
    /// </summary>
    private bool RequestPasses(Direction direction, Endpoint subject, Endpoint peer, Protocol protocol, int port, L7Request request)
    {
        if (subject.Kind != EndpointKind.Pod)
        {
            return true;
        }

        var identity = _data.Pods[subject.PodIndex].Identity;
        if (!ClassHasL7(direction, identity))
        {
            return true;
        }

        var peerIdentity = peer.Kind == EndpointKind.Pod ? _data.Pods[peer.PodIndex].Identity : -1;
        var portMap = direction == Direction.Ingress ? _data.IdentityPortMap[identity] : peerIdentity >= 0 ? _data.IdentityPortMap[peerIdentity] : PortMapTable.Outside;
        var classes = direction == Direction.Egress ? _data.Egress : _data.Ingress;
        var probe = new PeerProbe(peerIdentity, peer.Address, null, false, null, null);
        var facts = peerIdentity >= 0
            ? _layer7Facts.GetOrAdd(
                (direction, classes.ClassOf[identity], portMap, peerIdentity),
                static (_, state) => state.Snapshot.Layer7Facts(state.Direction, state.Identity, state.Probe, state.PortMap),
                (Snapshot: this, Direction: direction, Identity: identity, Probe: probe, PortMap: portMap))
            : Layer7Facts(direction, identity, probe, portMap);
        if (facts.AdminAllowed.Contains(protocol, port) || facts.Open.Contains(protocol, port))
        {
            return true;
        }

        var restricted = false;
        foreach (var (rule, admits) in facts.Layer7)
        {
            if (admits.Contains(protocol, port))
            {
                if (MatchesL7(rule, request))
                {
                    return true;
                }

                restricted = true;
            }
        }

        return !restricted;
    }

    private readonly ConcurrentDictionary<(Direction, int, int, int), Layer7SideFacts> _layer7Facts = new();

    /// <summary>What decides requests on one side toward one peer: the admin tier's allows, the namespace tier's rules without layer-7 rules, and those with them.</summary>
    private Layer7SideFacts Layer7Facts(Direction direction, int identity, PeerProbe probe, int portMap)
    {
        ConnectionSet adminAllowed = ConnectionSet.None, adminUndecided = ConnectionSet.All, open = ConnectionSet.None;
        var layer7 = new List<(CompiledRule, ConnectionSet)>();
        foreach (var policy in Selecting(direction, identity))
        {
            foreach (var rule in policy.Rules(direction))
            {
                if (!Array.Exists(rule.Peers, c => c.Matches(probe, null)))
                {
                    continue;
                }

                var admits = rule.AdmitsFor(portMap, _data.PortMaps, _data.Connections);
                if (policy.Tier == Tier.Admin)
                {
                    // The first admin rule that matches a connection decides it; a Pass hands it on.
                    var decided = admits.Intersect(adminUndecided);
                    if (rule.Action == AdminAction.Allow)
                    {
                        adminAllowed = adminAllowed.Union(decided);
                    }

                    adminUndecided = adminUndecided.Except(decided);
                }
                else if (policy.Tier == Tier.Namespace && rule.Action == AdminAction.Allow)
                {
                    if (rule.HasL7)
                    {
                        layer7.Add((rule, admits));
                    }
                    else
                    {
                        open = open.Union(admits);
                    }
                }
            }
        }

        return new Layer7SideFacts(adminAllowed, open, [.. layer7]);
    }

    /// <summary>The verdict for one connection (and request) with the policies and rules that decided each direction.</summary>
    public Explanation Explain(Endpoint from, Endpoint to, Protocol protocol, int port, L7Request? request = null)
    {
        if (from.Kind == EndpointKind.Pod && to.Kind == EndpointKind.Pod && from.PodIndex == to.PodIndex)
        {
            var self = new SideExplanation { Direction = Direction.Egress, Subject = from.Label, Allowed = true, Tier = Tier.None, Checked = false };
            return new Explanation
            {
                From = from.Label,
                To = to.Label,
                Protocol = protocol,
                Port = port,
                Request = request,
                Allowed = true,
                Note = "a pod's connections to itself are not subject to network policy",
                Egress = self,
                Ingress = self with { Direction = Direction.Ingress },
            };
        }

        var egress = ExplainSide(Direction.Egress, from, to, protocol, port, request);
        var ingress = ExplainSide(Direction.Ingress, to, from, protocol, port, request);
        return new Explanation
        {
            From = from.Label,
            To = to.Label,
            Protocol = protocol,
            Port = port,
            Request = request,
            Allowed = egress.Allowed && ingress.Allowed,
            Egress = egress,
            Ingress = ingress,
        };
    }

    /// <summary>
    /// The policies that select <paramref name="subject"/> in <paramref name="direction"/> and the rules
    /// that admit (or deny) some of <paramref name="connections"/> from or to the peer (an identity, or
    /// the outside address <paramref name="peerAddress"/> when <paramref name="peer"/> is negative).
    /// </summary>
    public SideReasons Reasons(Direction direction, int subject, int peer, UInt128 peerAddress, ConnectionSet connections) =>
        Reasons(direction, subject, new PeerProbe(peer, peerAddress, null, false, null, null), connections);

    /// <summary>The same, toward any peer: a pod, an address, a node or an outside host known by name.</summary>
    internal SideReasons Reasons(Direction direction, int subject, PeerProbe probe, ConnectionSet connections)
    {
        var destinationPorts = direction == Direction.Ingress
            ? _data.PortMaps.Get(_data.IdentityPortMap[subject])
            : probe.IsPod ? _data.PortMaps.Get(_data.IdentityPortMap[probe.Identity]) : null;
        Func<string, bool>? learned = probe.DnsName is null ? null : name => LearnedByDnsProxy(subject, name);
        var selecting = new List<PolicyReference>();
        var rules = new List<(RuleReference, ConnectionSet, AdminAction?)>();
        var isolated = Selecting(direction, subject).Any(p => p.Tier == Tier.Namespace && p.Isolates(direction));
        foreach (var policy in Selecting(direction, subject))
        {
            // The baseline speaks only where no namespace-tier policy isolates the endpoint.
            if (!policy.Affects(direction) || !policy.Subjects[subject] || (policy.Tier == Tier.Baseline && isolated))
            {
                continue;
            }

            if (policy.Tier == Tier.Namespace && policy.Isolates(direction))
            {
                selecting.Add(policy.Reference);
            }

            foreach (var rule in policy.Rules(direction))
            {
                var admitted = rule.Admits(destinationPorts);
                var relevant = connections.IsEmpty ? admitted : admitted.Intersect(connections);
                if (relevant.IsEmpty)
                {
                    continue;
                }

                foreach (var candidate in rule.Peers)
                {
                    if (candidate.Matches(probe, learned))
                    {
                        var action = policy.Tier == Tier.Namespace && rule.Action == AdminAction.Allow ? (AdminAction?)null : rule.Action;
                        rules.Add((new RuleReference(policy.Reference, candidate.Path) { RuleName = rule.Name }, relevant, action));
                    }
                }
            }
        }

        return new SideReasons(selecting.Count > 0 || rules.Count > 0, selecting, rules);
    }

    /// <summary>
    /// The same decision as <see cref="ExplainSide"/>, without building an explanation: rule by rule
    /// over only the policies of the subject's direction class, allocating nothing for rules whose ports
    /// do not depend on named ports. What answers HTTP-aware and DNS-aware verdicts.
    /// </summary>
    private bool DecideSide(Direction direction, Endpoint subject, Endpoint peer, Protocol protocol, int port, L7Request? request)
    {
        if (subject.Kind == EndpointKind.Node)
        {
            return DecideHostSide(direction, subject, peer, protocol, port, request);
        }

        if (subject.Kind != EndpointKind.Pod)
        {
            return true;
        }

        var subjectPod = _data.Pods[subject.PodIndex];
        var identity = subjectPod.Identity;
        var subjectNode = subjectPod.Spec.NodeName;
        if (direction == Direction.Ingress && peer.Kind == EndpointKind.Node && peer.NodeName is not null && peer.NodeName == subjectNode)
        {
            return true;
        }

        var probe = new PeerProbe(
            peer.Kind == EndpointKind.Pod ? _data.Pods[peer.PodIndex].Identity : -1,
            peer.Address,
            peer.NodeName,
            peer.Kind == EndpointKind.Node && _data.ApiServerAddresses.Contains(peer.Address),
            peer.DnsName,
            subjectNode);
        var portMap = direction == Direction.Ingress ? _data.IdentityPortMap[identity] : probe.IsPod ? _data.IdentityPortMap[probe.Identity] : PortMapTable.Outside;
        var classes = direction == Direction.Egress ? _data.Egress : _data.Ingress;
        var selecting = classes.Policies[classes.ClassOf[identity]];
        Func<string, bool>? learned = probe.DnsName is null ? null : name => LearnedByDnsProxy(identity, name);

        bool Holds(CompiledRule rule)
        {
            foreach (var candidate in rule.Peers)
            {
                if (candidate.Matches(probe, learned))
                {
                    return rule.AdmitsFor(portMap, _data.PortMaps, _data.Connections).Contains(protocol, port);
                }
            }

            return false;
        }

        var adminDone = false;
        var tally = default(NamespaceTally);
        foreach (var p in selecting)
        {
            var policy = _data.Policies[p];
            if (policy.Tier == Tier.Admin)
            {
                if (adminDone)
                {
                    continue;
                }

                foreach (var rule in policy.Rules(direction))
                {
                    if (!Holds(rule))
                    {
                        continue;
                    }

                    if (rule.Action == AdminAction.Pass)
                    {
                        adminDone = true;
                        break;
                    }

                    return rule.Action == AdminAction.Allow;
                }
            }
            else if (policy.Tier == Tier.Namespace)
            {
                tally.Isolated |= policy.Isolates(direction);
                foreach (var rule in policy.Rules(direction))
                {
                    if (Holds(rule))
                    {
                        tally.Add(rule, request);
                    }
                }
            }
        }

        if (tally.Verdict(request) is { } decided)
        {
            return decided;
        }

        foreach (var p in selecting)
        {
            var policy = _data.Policies[p];
            if (policy.Tier != Tier.Baseline)
            {
                continue;
            }

            foreach (var rule in policy.Rules(direction))
            {
                if (Holds(rule))
                {
                    return rule.Action != AdminAction.Deny;
                }
            }
        }

        return true;
    }

    /// <summary>Whether one of the rule's HTTP or DNS rules matches the request.</summary>
    /// <summary>The host policies that select a node, in evaluation order (none when the node is not protected).</summary>
    private List<CompiledPolicy> HostPoliciesOf(string? node) =>
        node is not null && _data.HostPolicies.TryGetValue(node, out var indexes) ? [.. indexes.Select(i => _data.Policies[i])] : [];

    /// <summary>The probe for a peer as seen from a subject on <paramref name="subjectNode"/>.</summary>
    private PeerProbe ProbeFor(Endpoint peer, string? subjectNode) => new(
        peer.Kind == EndpointKind.Pod ? _data.Pods[peer.PodIndex].Identity : -1,
        peer.Address,
        peer.NodeName,
        peer.Kind == EndpointKind.Node && _data.ApiServerAddresses.Contains(peer.Address),
        peer.DnsName,
        subjectNode);

    /// <summary>
    /// One side of a node's host network: decided by the host policies (clusterwide <c>nodeSelector</c>
    /// blocks) that select the node, as the namespace tier decides for a pod; open when none does.
    /// </summary>
    private bool DecideHostSide(Direction direction, Endpoint subject, Endpoint peer, Protocol protocol, int port, L7Request? request)
    {
        var policies = HostPoliciesOf(subject.NodeName);
        if (policies.Count == 0)
        {
            return true;
        }

        var probe = ProbeFor(peer, subject.NodeName);
        var portMap = direction == Direction.Egress && probe.IsPod ? _data.IdentityPortMap[probe.Identity] : PortMapTable.Outside;
        Func<string, bool>? learned = probe.DnsName is null ? null : name => LearnedIn(policies, static _ => true, name);
        var tally = default(NamespaceTally);
        foreach (var policy in policies)
        {
            if (!policy.Affects(direction))
            {
                continue;
            }

            tally.Isolated |= policy.Isolates(direction);
            foreach (var rule in policy.Rules(direction))
            {
                if (Array.Exists(rule.Peers, c => c.Matches(probe, learned)) && rule.AdmitsFor(portMap, _data.PortMaps, _data.Connections).Contains(protocol, port))
                {
                    tally.Add(rule, request);
                }
            }
        }

        return tally.Verdict(request) ?? true;
    }

    /// <summary>What the namespace-tier rules that hold for one connection say, gathered rule by rule.</summary>
    private struct NamespaceTally
    {
        public bool Isolated;
        private bool _denied;
        private bool _allowed;
        private bool _unrestricted;
        private bool _requestAllowed;

        /// <summary>Counts a rule whose peer and port hold the connection.</summary>
        public void Add(CompiledRule rule, L7Request? request)
        {
            if (rule.Action == AdminAction.Deny)
            {
                _denied = true;
                return;
            }

            _allowed = true;
            _unrestricted |= !rule.HasL7;
            _requestAllowed |= request is not null && rule.HasL7 && MatchesL7(rule, request);
        }

        /// <summary>
        /// Denied when a deny rule holds; allowed when an allow rule holds (and, for a request, one
        /// without layer-7 rules or whose layer-7 rules match it); denied when isolated; otherwise
        /// null: the tier says nothing.
        /// </summary>
        public readonly bool? Verdict(L7Request? request) =>
            _denied ? false : _allowed ? request is null || _unrestricted || _requestAllowed : Isolated ? false : null;
    }

    private static bool MatchesL7(CompiledRule rule, L7Request request)
    {
        if (request.IsDns)
        {
            if (rule.Dns is { } names)
            {
                foreach (var name in names)
                {
                    if (name.Matches(request.DnsQuery!))
                    {
                        return true;
                    }
                }
            }

            return false;
        }

        if (rule.Http is { } http)
        {
            foreach (var entry in http)
            {
                if (entry.Matches(request.Method, request.Path, request.Host, request.Headers))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// Decides one direction rule by rule, as the tiers do: admin rules in order, then the namespace
    /// tier (its denies first, then its allows, then default deny if a policy isolates the endpoint),
    /// then the baseline. Layer-7 requests are checked against the rules that admitted the connection.
    /// </summary>
    private SideExplanation ExplainSide(Direction direction, Endpoint subject, Endpoint peer, Protocol protocol, int port, L7Request? request)
    {
        IEnumerable<CompiledPolicy> policies;
        Func<CompiledPolicy, bool> selects;
        string? subjectNode;
        int subjectPortMap;
        if (subject.Kind == EndpointKind.Node)
        {
            var host = HostPoliciesOf(subject.NodeName);
            if (host.Count == 0 || !host.Exists(p => p.Affects(direction)))
            {
                return new SideExplanation { Direction = direction, Subject = subject.Label, Allowed = true, Tier = Tier.None, Note = $"no host policy selects node {subject.NodeName} for {direction.ToString().ToLowerInvariant()}, so its host network is open" };
            }

            (policies, selects, subjectNode, subjectPortMap) = (host, static _ => true, subject.NodeName, PortMapTable.Outside);
        }
        else if (subject.Kind != EndpointKind.Pod)
        {
            return new SideExplanation { Direction = direction, Subject = subject.Label, Checked = false, Allowed = true, Tier = Tier.None };
        }
        else
        {
            var subjectPod = _data.Pods[subject.PodIndex];
            var identity = subjectPod.Identity;
            (policies, selects, subjectNode, subjectPortMap) = (Selecting(direction, identity), p => p.Subjects[identity], subjectPod.Spec.NodeName, _data.IdentityPortMap[identity]);

            // A pod's own node always reaches it (Cilium's allow-localhost, and what kubelet probes need).
            if (direction == Direction.Ingress && peer.Kind == EndpointKind.Node && peer.NodeName is not null && peer.NodeName == subjectNode)
            {
                return new SideExplanation { Direction = direction, Subject = subject.Label, Allowed = true, Tier = Tier.None, Note = "its own node always reaches a pod (local host)" };
            }
        }

        var probe = ProbeFor(peer, subjectNode);

        // The destination's named ports decide what a named rule port means.
        var destinationPorts = _data.PortMaps.Get(direction == Direction.Ingress
            ? subjectPortMap
            : probe.IsPod ? _data.IdentityPortMap[probe.Identity] : PortMapTable.Outside);
        var nearMisses = new List<NearMiss>();
        RuleReference? passedBy = null;
        var egressPolicies = direction == Direction.Egress ? policies : subject.Kind == EndpointKind.Pod ? Selecting(Direction.Egress, _data.Pods[subject.PodIndex].Identity) : HostPoliciesOf(subjectNode);
        Func<string, bool> learned = name => LearnedIn(egressPolicies, selects, name);

        // The first peer of a rule that matches, when the rule's ports hold the connection; rules that
        // match the peer only are kept as near misses.
        RuleReference? Match(CompiledPolicy policy, CompiledRule rule)
        {
            foreach (var candidate in rule.Peers)
            {
                if (!candidate.Matches(probe, learned))
                {
                    continue;
                }

                var reference = new RuleReference(policy.Reference, candidate.Path) { RuleName = rule.Name };
                var admits = rule.Admits(destinationPorts);
                if (admits.Contains(protocol, port))
                {
                    return reference;
                }

                if (rule.Action == AdminAction.Allow)
                {
                    nearMisses.Add(new NearMiss(reference, admits));
                }

                return null;
            }

            return null;
        }

        SideExplanation Decided(Tier tier, bool allowed, RuleReference rule, AdminAction action) => new()
        {
            Direction = direction,
            Subject = subject.Label,
            Allowed = allowed,
            Tier = tier,
            DecidingRule = rule,
            DecidingAction = action,
            PassedBy = passedBy,
            NearMisses = nearMisses,
        };

        var isolating = new List<PolicyReference>();
        var allowing = new List<(RuleReference Reference, CompiledRule Rule)>();
        var baseline = new List<CompiledPolicy>();
        RuleReference? denying = null;
        var adminDone = false;
        var clusterWide = false;
        foreach (var policy in policies)
        {
            if (!policy.Affects(direction) || !selects(policy))
            {
                continue;
            }

            clusterWide |= policy.Tier != Tier.Namespace;
            switch (policy.Tier)
            {
                case Tier.Admin when !adminDone:
                    foreach (var rule in policy.Rules(direction))
                    {
                        if (Match(policy, rule) is not { } match)
                        {
                            continue;
                        }

                        if (rule.Action == AdminAction.Pass)
                        {
                            passedBy = match;
                            adminDone = true;
                            break;
                        }

                        return Decided(Tier.Admin, rule.Action == AdminAction.Allow, match, rule.Action);
                    }

                    break;
                case Tier.Namespace:
                    if (policy.Isolates(direction))
                    {
                        isolating.Add(policy.Reference);
                    }

                    foreach (var rule in policy.Rules(direction))
                    {
                        if (Match(policy, rule) is not { } match)
                        {
                            continue;
                        }

                        if (rule.Action == AdminAction.Deny)
                        {
                            denying ??= match;
                        }
                        else
                        {
                            allowing.Add((match, rule));
                        }
                    }

                    break;
                case Tier.Baseline:
                    baseline.Add(policy);
                    break;
            }
        }

        if (denying is not null)
        {
            return Decided(Tier.Namespace, false, denying, AdminAction.Deny) with { SelectingPolicies = isolating };
        }

        if (allowing.Count > 0 || isolating.Count > 0)
        {
            var allowed = allowing.Count > 0;
            var l7 = allowed && request is not null ? CheckL7(allowing, request) : null;
            if (allowed || isolating.Count > 0)
            {
                return new SideExplanation
                {
                    Direction = direction,
                    Subject = subject.Label,
                    Allowed = allowed && (l7?.Allowed ?? true),
                    Tier = Tier.Namespace,
                    SelectingPolicies = isolating,
                    AllowingRules = [.. allowing.Select(static a => a.Reference)],
                    PassedBy = passedBy,
                    NearMisses = nearMisses,
                    Layer7 = l7,
                };
            }
        }

        foreach (var policy in baseline)
        {
            foreach (var rule in policy.Rules(direction))
            {
                if (Match(policy, rule) is { } match)
                {
                    // Pass in the baseline hands the connection to the default, which allows it.
                    return Decided(Tier.Baseline, rule.Action != AdminAction.Deny, match, rule.Action);
                }
            }
        }

        return new SideExplanation
        {
            Direction = direction,
            Subject = subject.Label,
            Allowed = true,
            Tier = Tier.None,
            PassedBy = passedBy,
            NearMisses = nearMisses,
            ClusterWide = clusterWide,
        };
    }

    /// <summary>
    /// Layer 7 for a connection the namespace tier admits: when every admitting rule carries HTTP or
    /// DNS rules, the request must match one of them; a rule without any lets every request through.
    /// </summary>
    private static Layer7Check CheckL7(List<(RuleReference Reference, CompiledRule Rule)> allowing, L7Request request)
    {
        if (allowing.Exists(static a => !a.Rule.HasL7))
        {
            var open = allowing.First(static a => !a.Rule.HasL7).Reference;
            return new Layer7Check(true, $"{open} admits the connection without layer-7 rules, so every request passes");
        }

        foreach (var (reference, rule) in allowing)
        {
            if (request.IsDns && rule.Dns is { } names)
            {
                for (var i = 0; i < names.Count; i++)
                {
                    if (names[i].Matches(request.DnsQuery!))
                    {
                        return new Layer7Check(true, $"{reference.Policy} {rule.Path}.rules.dns[{i}] ({names[i]}) allows the query");
                    }
                }
            }
            else if (!request.IsDns && rule.Http is { } http)
            {
                for (var i = 0; i < http.Count; i++)
                {
                    if (http[i].Matches(request.Method, request.Path, request.Host, request.Headers))
                    {
                        return new Layer7Check(true, $"{reference.Policy} {rule.Path}.rules.http[{i}] allows the request");
                    }
                }
            }
        }

        var kinds = string.Join(", ", allowing.Select(static a => $"{a.Reference.Policy} {a.Rule.Path}").Distinct());
        return new Layer7Check(false, $"no {(request.IsDns ? "DNS" : "HTTP")} rule of {kinds} matches {request} ({(request.IsDns ? "the DNS proxy answers REFUSED" : "the proxy answers 403")})");
    }

    /// <summary>What the host policies of <paramref name="node"/> let through on one side of its host network toward a peer (everything when none selects it).</summary>
    private ConnectionSet HostSideConnections(Direction direction, string node, PeerProbe probe)
    {
        var policies = HostPoliciesOf(node).Where(p => p.Affects(direction)).ToList();
        if (policies.Count == 0)
        {
            return ConnectionSet.All;
        }

        var destinationPorts = _data.PortMaps.Get(direction == Direction.Egress && probe.IsPod ? _data.IdentityPortMap[probe.Identity] : PortMapTable.Outside);
        ConnectionSet admitted = ConnectionSet.None, refused = ConnectionSet.None;
        var isolated = false;
        foreach (var policy in policies)
        {
            isolated |= policy.Isolates(direction);
            foreach (var rule in policy.Rules(direction))
            {
                if (Array.Exists(rule.Peers, c => c.Matches(probe, null)))
                {
                    var ports = rule.Admits(destinationPorts);
                    (admitted, refused) = rule.Action == AdminAction.Deny ? (admitted, refused.Union(ports)) : (admitted.Union(ports), refused);
                }
            }
        }

        return (isolated ? admitted : ConnectionSet.All).Except(refused);
    }

    /// <summary>
    /// The connections one direction admits between a pod and a peer that is not a pod of the
    /// tables: a node, or an outside host reached by name. The tiers evaluated rule by rule over whole
    /// connection sets, as the compiler does per identity.
    /// </summary>
    internal ConnectionSet SideConnections(Direction direction, int identity, string? subjectNode, PeerProbe probe)
    {
        if (direction == Direction.Ingress && probe.IsNode && probe.NodeName == subjectNode)
        {
            return ConnectionSet.All;
        }

        var destinationPorts = _data.PortMaps.Get(direction == Direction.Ingress ? _data.IdentityPortMap[identity] : PortMapTable.Outside);
        Func<string, bool> learned = name => LearnedByDnsProxy(identity, name);
        ConnectionSet consumed = ConnectionSet.None, allowed = ConnectionSet.None, denied = ConnectionSet.None;
        ConnectionSet admitted = ConnectionSet.None, refused = ConnectionSet.None;
        var isolated = false;
        var adminPassed = ConnectionSet.None;
        var baseline = new List<CompiledRule>();
        foreach (var policy in Selecting(direction, identity))
        {
            if (!policy.Affects(direction) || !policy.Subjects[identity])
            {
                continue;
            }

            foreach (var rule in policy.Rules(direction))
            {
                if (!Array.Exists(rule.Peers, c => c.Matches(probe, learned)))
                {
                    continue;
                }

                var ports = rule.Admits(destinationPorts);
                switch (policy.Tier)
                {
                    case Tier.Admin:
                        var decided = ports.Except(consumed);
                        consumed = consumed.Union(decided);
                        if (rule.Action == AdminAction.Allow)
                        {
                            allowed = allowed.Union(decided);
                        }
                        else if (rule.Action == AdminAction.Deny)
                        {
                            denied = denied.Union(decided);
                        }
                        else
                        {
                            adminPassed = adminPassed.Union(decided);
                        }

                        break;
                    case Tier.Namespace when rule.Action == AdminAction.Deny:
                        refused = refused.Union(ports);
                        break;
                    case Tier.Namespace:
                        admitted = admitted.Union(ports);
                        break;
                    default:
                        baseline.Add(rule);
                        break;
                }
            }

            isolated |= policy.Tier == Tier.Namespace && policy.Isolates(direction);
        }

        if (isolated)
        {
            return allowed.Union(admitted.Except(refused).Except(denied));
        }

        var open = ConnectionSet.All.Except(allowed).Except(denied).Except(refused).Except(admitted);
        ConnectionSet baselineConsumed = ConnectionSet.None, baselineDenied = ConnectionSet.None;
        foreach (var rule in baseline)
        {
            var decided = rule.Admits(destinationPorts).Intersect(open).Except(baselineConsumed);
            baselineConsumed = baselineConsumed.Union(decided);
            if (rule.Action == AdminAction.Deny)
            {
                baselineDenied = baselineDenied.Union(decided);
            }
        }

        return ConnectionSet.All.Except(denied.Union(baselineDenied).Union(refused.Except(allowed)));
    }

    /// <summary>
    /// The ports that layer-7 rules restrict between a subject and a peer, and which kind (HTTP or DNS):
    /// those admitted only by rules that carry such rules. Empty when nothing is restricted.
    /// </summary>
    internal (string Kind, ConnectionSet Ports) Layer7Restricted(Direction direction, int identity, PeerProbe probe)
    {
        var destinationPorts = _data.PortMaps.Get(direction == Direction.Ingress
            ? _data.IdentityPortMap[identity]
            : probe.IsPod ? _data.IdentityPortMap[probe.Identity] : PortMapTable.Outside);
        ConnectionSet restricted = ConnectionSet.None, open = ConnectionSet.None;
        var kinds = new SortedSet<string>(StringComparer.Ordinal);
        Func<string, bool>? learned = probe.DnsName is null ? null : name => LearnedByDnsProxy(identity, name);
        foreach (var policy in Selecting(direction, identity))
        {
            if (policy.Tier != Tier.Namespace || !policy.Affects(direction) || !policy.Subjects[identity])
            {
                continue;
            }

            foreach (var rule in policy.Rules(direction))
            {
                if (rule.Action != AdminAction.Allow || !Array.Exists(rule.Peers, c => c.Matches(probe, learned)))
                {
                    continue;
                }

                var ports = rule.Admits(destinationPorts);
                if (rule.HasL7)
                {
                    restricted = restricted.Union(ports);
                    kinds.Add(rule.Http is not null ? "HTTP" : "DNS");
                }
                else
                {
                    open = open.Union(ports);
                }
            }
        }

        return (string.Join("+", kinds), restricted.Except(open));
    }

    /// <summary>Whether the subject's egress DNS rules let it look <paramref name="name"/> up through the DNS proxy, which is how Cilium learns the addresses toFQDNs rules match.</summary>
    private bool LearnedByDnsProxy(int identity, string name) =>
        LearnedIn(Selecting(Direction.Egress, identity), p => p.Subjects[identity], name);

    /// <summary>Whether the egress DNS rules of <paramref name="policies"/> (those that <paramref name="selects"/> keeps) let the subject look <paramref name="name"/> up.</summary>
    private static bool LearnedIn(IEnumerable<CompiledPolicy> policies, Func<CompiledPolicy, bool> selects, string name)
    {
        foreach (var policy in policies)
        {
            if (!policy.Affects(Direction.Egress) || !selects(policy))
            {
                continue;
            }

            foreach (var rule in policy.EgressRules)
            {
                if (rule.Action == AdminAction.Allow && rule.Dns is { } patterns)
                {
                    foreach (var pattern in patterns)
                    {
                        if (pattern.Matches(name))
                        {
                            return true;
                        }
                    }
                }
            }
        }

        return false;
    }
}

/// <summary>Layer-7 restrictions already worked out for one report, per side, subject class, port map and peer.</summary>
internal sealed class Layer7Memo
{
    /// <summary>The restrictions found, by key.</summary>
    public Dictionary<(Direction Direction, int Class, int PortMap, int PeerIdentity, UInt128 PeerAddress, string? PeerName), (string Kind, ConnectionSet Ports)> Parts { get; } = [];

    /// <summary>What the layer-7 rules of a class could restrict toward any peer, by side, class and port map.</summary>
    public Dictionary<(Direction Direction, int Class, int PortMap), ConnectionSet> Possible { get; } = [];
}

/// <summary>What decides requests on one side of a connection toward one peer (see <c>PolicySnapshot.RequestPasses</c>).</summary>
internal sealed record Layer7SideFacts(ConnectionSet AdminAllowed, ConnectionSet Open, (CompiledRule Rule, ConnectionSet Admits)[] Layer7);
