using System.Collections.Concurrent;
using Palisade.Compilation;
using Palisade.Flows.Records;
using Palisade.Model;
using Palisade.Sets;
using Palisade.Verdicts;

namespace Palisade.Flows.Attribution;

/// <summary>How flows are attributed.</summary>
public sealed record AttributionOptions
{
    /// <summary>The namespace label whose value names a namespace's research project (K8TRE's <c>tre.k8tre.io/project-name</c>).</summary>
    public string ProjectLabel { get; init; } = "tre.k8tre.io/project-name";
}

/// <summary>
/// Gives each flow the policy engine's verdict and the tier, policy and rule that decided it, and
/// marks the flows where what Hubble observed and what the policies say disagree.
/// </summary>
/// <remarks>
/// <para>
/// Each end is resolved in the snapshot by namespace and pod name, else by address (a pod's or node's),
/// else it is an address outside the cluster, known by the first DNS name Hubble gives for it. A reply
/// (<c>is_reply</c>) is judged as the connection it answers: the other way round, to the port it came
/// from. ICMP is judged by its message type (an echo reply as the echo request it answers), except
/// what Cilium passes whatever the policies say: ICMP errors about a connection (destination
/// unreachable, time exceeded, parameter problem, source quench, packet too big) and IPv6 neighbour
/// discovery. Flows of other protocols are not judged.
/// </para>
/// <para>
/// A flow Hubble observed on one side (<c>traffic_direction</c> EGRESS at the source, INGRESS at the
/// destination) is compared with that side's verdict: a flow forwarded out of its source is no
/// disagreement when the destination's ingress policy denies it. A drop disagrees only when Hubble says
/// policy dropped it (<c>POLICY_DENIED</c>, <c>POLICY_DENY</c>).
/// </para>
/// <para>Thread-safe: several threads may attribute at once, each with its own cache of verdicts by connection.</para>
/// </remarks>
public sealed class FlowAttributor
{
    private const int CacheLimit = 200_000;
    private readonly PolicySnapshot _snapshot;
    private readonly AttributionOptions _options;
    private readonly Dictionary<string, string?> _projects = new(StringComparer.Ordinal);
    // Plain maps lent to one caller at a time: a concurrent map costs three times as much per look-up here.
    private readonly ConcurrentBag<Caches> _caches = [];
    private readonly Dictionary<string, int> _podsByLabels = new(StringComparer.Ordinal);

    /// <summary>Creates an attributor for one snapshot.</summary>
    public FlowAttributor(PolicySnapshot snapshot, AttributionOptions? options = null)
    {
        _snapshot = snapshot ?? throw new ArgumentNullException(nameof(snapshot));
        _options = options ?? new AttributionOptions();
        foreach (var ns in snapshot.Namespaces)
        {
            _projects[ns.Name] = ns.Labels.TryGetValue(_options.ProjectLabel, out var project) ? project : null;
        }

        foreach (var identity in snapshot.Identities)
        {
            if (identity.Pods.Count > 0)
            {
                _podsByLabels.TryAdd(LabelKey(identity.Namespace, identity.Labels.Select(static l => $"{l.Key}={l.Value}")), identity.Pods[0]);
            }
        }
    }

    /// <summary>The snapshot's revision, which attributed flows were judged by.</summary>
    public long Revision => _snapshot.Revision;

    /// <summary>Attributes a batch in place of the originals.</summary>
    public FlowRecord[] Attribute(FlowRecord[] flows)
    {
        ArgumentNullException.ThrowIfNull(flows);
        var result = new FlowRecord[flows.Length];
        var cache = Borrow();
        try
        {
            for (var i = 0; i < flows.Length; i++)
            {
                result[i] = Attribute(flows[i], cache);
            }
        }
        finally
        {
            _caches.Add(cache);
        }

        return result;
    }

    /// <summary>The flow with <see cref="FlowRecord.Attribution"/> set.</summary>
    public FlowRecord Attribute(FlowRecord flow)
    {
        var cache = Borrow();
        try
        {
            return Attribute(flow, cache);
        }
        finally
        {
            _caches.Add(cache);
        }
    }

    private Caches Borrow() => _caches.TryTake(out var cache) ? cache : new Caches();

    private FlowRecord Attribute(FlowRecord flow, Caches cache)
    {
        ArgumentNullException.ThrowIfNull(flow);
        var project = Project(flow.Source.Namespace, cache) ?? Project(flow.Destination.Namespace, cache);
        if (!TryProtocol(flow.Protocol, out var protocol))
        {
            return flow with { Attribution = cache.Attribution(new FlowAttribution { Project = project }) };
        }

        if (protocol.IsIcmp() && !IcmpJudged(protocol, flow.IcmpType))
        {
            return flow with { Attribution = cache.Attribution(new FlowAttribution { Project = project }) };
        }

        // Hubble leaves is_reply unset at some observation points; an ICMP reply type says it then.
        var reply = flow.IsReply == true || (flow.IsReply is null && protocol.IsIcmp() && IcmpRequestOf(protocol, flow.IcmpType) is not null);
        var (fromFlow, toFlow) = reply ? (flow.Destination, flow.Source) : (flow.Source, flow.Destination);
        var (fromIp, toIp) = reply ? (flow.DestinationIp, flow.SourceIp) : (flow.SourceIp, flow.DestinationIp);
        var port = PortOf(flow, protocol, reply);
        var names = reply ? flow.SourceNames : flow.DestinationNames;
        if (!TryResolve(fromFlow, fromIp, [], cache, out var from) || !TryResolve(toFlow, toIp, names, cache, out var to))
        {
            return flow with { Attribution = cache.Attribution(new FlowAttribution { Project = project }) };
        }

        // The verdict depends on everything layer-7 rules may match (method, path, host, headers, DNS
        // name); the request itself is built only when the verdict is not known yet.
        var l7 = RequestKey(flow, reply, cache);
        var key = new Key(from.Kind, from.PodIndex, from.Address, from.DnsName, to.Kind, to.PodIndex, to.Address, to.DnsName, protocol, port, l7.Method, l7.Path, l7.Host, l7.Headers, l7.Dns);
        var decisions = cache.Decisions;
        if (!decisions.TryGetValue(key, out var decision))
        {
            decision = Decide(from, to, protocol, port, Request(flow, reply));
            if (decisions.Count >= CacheLimit)
            {
                decisions.Clear();
            }

            decisions[key] = decision;
        }

        // The side Hubble observed: for a reply, the observing side's role in the original connection flips.
        var observedSide = flow.Direction switch
        {
            FlowDirection.Egress => reply ? Direction.Ingress : Direction.Egress,
            FlowDirection.Ingress => reply ? Direction.Egress : Direction.Ingress,
            _ => (Direction?)null,
        };
        var engineAllows = observedSide switch
        {
            Direction.Egress => decision.EgressAllowed,
            Direction.Ingress => decision.IngressAllowed,
            _ => decision.EgressAllowed && decision.IngressAllowed,
        };
        var side = observedSide switch
        {
            Direction.Egress => decision.Egress,
            Direction.Ingress => decision.Ingress,
            _ => decision.Deciding,
        };

        // The attribution of a connection's decision, for the side observed and the disagreement, is
        // kept with the decision: most flows find it there without hashing its names.
        var disagreement = Compare(flow, engineAllows);
        var slot = ((observedSide is { } observed ? (int)observed + 1 : 0) * 3) + (int)disagreement;
        if (decision.Attributions[slot] is not { } attribution || !string.Equals(attribution.Project, project, StringComparison.Ordinal))
        {
            attribution = cache.Attribution(new FlowAttribution
            {
                Verdict = engineAllows ? EngineVerdict.Allowed : EngineVerdict.Denied,
                Tier = side.Tier,
                Policy = side.Policy,
                Rule = side.Rule,
                Disagreement = disagreement,
                Project = project,
            });
            decision.Attributions[slot] = attribution;
        }

        return flow with { Attribution = attribution };
    }

    private static Disagreement Compare(FlowRecord flow, bool engineAllows)
    {
        switch (flow.Verdict)
        {
            case FlowVerdict.Forwarded or FlowVerdict.Redirected when !engineAllows:
                return Disagreement.ForwardedButDenied;
            case FlowVerdict.Dropped when engineAllows && flow.DropReason is "POLICY_DENIED" or "POLICY_DENY":
                return Disagreement.DroppedButAllowed;
            default:
                return Disagreement.None;
        }
    }

    /// <summary>The project of a namespace, remembered by the name's instance (parsers hand out one for each name they read).</summary>
    private string? Project(string? ns, Caches cache)
    {
        if (ns is null)
        {
            return null;
        }

        if (!cache.Projects.TryGetValue(ns, out var project))
        {
            project = _projects.TryGetValue(ns, out var known) ? known : null;
            if (cache.Projects.Count >= CacheLimit)
            {
                cache.Projects.Clear();
            }

            cache.Projects[ns] = project;
        }

        return project;
    }

    private static bool TryProtocol(FlowProtocol flow, out Protocol protocol)
    {
        switch (flow)
        {
            case FlowProtocol.Tcp:
                protocol = Protocol.Tcp;
                return true;
            case FlowProtocol.Udp:
                protocol = Protocol.Udp;
                return true;
            case FlowProtocol.Sctp:
                protocol = Protocol.Sctp;
                return true;
            case FlowProtocol.Icmpv4:
                protocol = Protocol.Icmp;
                return true;
            case FlowProtocol.Icmpv6:
                protocol = Protocol.IcmpV6;
                return true;
            default:
                protocol = default;
                return false;
        }
    }

    /// <summary>
    /// What policies judge a flow by: its destination port, or for ICMP its message type (Cilium's
    /// rules name types as ports). A reply is judged as the connection it answers: by the server's
    /// port, and for ICMP by the request's type (an echo reply as the echo request it answers).
    /// </summary>
    private static int PortOf(FlowRecord flow, Protocol protocol, bool reply)
    {
        if (!protocol.IsIcmp())
        {
            return reply ? flow.SourcePort : flow.DestinationPort;
        }

        var type = flow.IcmpType;
        return reply && IcmpRequestOf(protocol, type) is { } request ? request : type;
    }

    /// <summary>The request type an ICMP reply type answers (echo, timestamp, extended echo); null for any other type.</summary>
    private static int? IcmpRequestOf(Protocol protocol, int type) => (protocol, type) switch
    {
        (Protocol.Icmp, 0) => 8,
        (Protocol.Icmp, 14) => 13,
        (Protocol.Icmp, 43) => 42,
        (Protocol.IcmpV6, 129) => 128,
        (Protocol.IcmpV6, 161) => 160,
        _ => null,
    };

    /// <summary>
    /// Whether policies decide an ICMP message of <paramref name="type"/>: not an error about another
    /// connection, which Cilium passes as related to it when that connection is allowed (IPv4 3, 4, 11,
    /// 12; IPv6 1 to 4), not IPv6 neighbour discovery (133 to 137), which Cilium always passes, and not
    /// a type outside 0 to 255.
    /// </summary>
    private static bool IcmpJudged(Protocol protocol, int type) => type is >= 0 and <= 255 && (protocol, type) switch
    {
        (Protocol.Icmp, 3 or 4 or 11 or 12) => false,
        (Protocol.IcmpV6, >= 1 and <= 4) => false,
        (Protocol.IcmpV6, >= 133 and <= 137) => false,
        _ => true,
    };

    /// <summary>
    /// <see cref="TryResolve(FlowEndpoint, UInt128?, IReadOnlyList{string}, out Endpoint)"/>, remembered by
    /// the end's endpoint instance, address and first DNS name: parsers hand out one instance for each
    /// distinct endpoint they read, so most flows resolve without building a name.
    /// </summary>
    private bool TryResolve(FlowEndpoint end, UInt128? ip, IReadOnlyList<string> names, Caches cache, out Endpoint endpoint)
    {
        var key = new EndKey(end, ip, names.Count > 0 ? names[0] : null);
        if (cache.Ends.TryGetValue(key, out var known))
        {
            endpoint = known.Endpoint;
            return known.Found;
        }

        var found = TryResolve(end, ip, names, out endpoint);
        if (cache.Ends.Count >= CacheLimit)
        {
            cache.Ends.Clear();
        }

        cache.Ends[key] = (found, endpoint);
        return found;
    }

    /// <summary>
    /// The snapshot's endpoint for one end of a flow: by pod name; by the workload Hubble names; by the
    /// pod's labels (Cilium's identity is its namespace and labels, so a pod of the same workload under
    /// another name is found); by the pod name without its generated suffix; by address.
    /// </summary>
    private bool TryResolve(FlowEndpoint end, UInt128? ip, IReadOnlyList<string> names, out Endpoint endpoint)
    {
        if (end.Namespace is { } ns && end.PodName is { } pod)
        {
            if (_snapshot.TryResolve($"{ns}/{pod}", out endpoint, out _))
            {
                return true;
            }

            foreach (var workload in end.Workloads)
            {
                if (_snapshot.TryResolve($"{ns}/{workload.Name}", out endpoint, out _))
                {
                    return true;
                }
            }

            if (end.Labels.Count > 0 && _podsByLabels.TryGetValue(LabelKey(ns, PodLabels(end.Labels)), out var index))
            {
                endpoint = Endpoint.ForPod(index, $"{ns}/{pod}");
                return true;
            }

            // Deployment pods are NAME-HASH-XXXXX, StatefulSet and DaemonSet pods NAME-N and NAME-XXXXX.
            var name = pod;
            for (var cut = 0; cut < 2; cut++)
            {
                var dash = name.LastIndexOf('-');
                if (dash <= 0)
                {
                    break;
                }

                name = name[..dash];
                if (_snapshot.TryResolve($"{ns}/{name}", out endpoint, out _))
                {
                    endpoint = endpoint with { Label = $"{ns}/{pod}" };
                    return true;
                }
            }
        }

        if (ip is { } address && _snapshot.TryResolve(IpNumbers.Format(address), out endpoint, out _))
        {
            if (endpoint.Kind == EndpointKind.Address && names.Count > 0)
            {
                endpoint = endpoint with { DnsName = names[0].TrimEnd('.'), Label = $"fqdn:{names[0].TrimEnd('.')}:{IpNumbers.Format(address)}" };
            }

            return true;
        }

        endpoint = default;
        return false;
    }

    /// <summary>The pod's own labels among Cilium's: <c>k8s:</c> labels, less those Cilium adds (namespace labels, service account, cluster).</summary>
    private static IEnumerable<string> PodLabels(IReadOnlyList<string> labels)
    {
        foreach (var label in labels)
        {
            if (label.StartsWith("k8s:", StringComparison.Ordinal) && !label.StartsWith("k8s:io.cilium.", StringComparison.Ordinal) &&
                !label.StartsWith("k8s:io.kubernetes.pod.namespace=", StringComparison.Ordinal))
            {
                yield return label["k8s:".Length..];
            }
        }
    }

    private static string LabelKey(string ns, IEnumerable<string> labels) => ns + "\n" + string.Join("\n", labels.Order(StringComparer.Ordinal));

    /// <summary>
    /// How a report names one end of a flow: the workload of a pod the snapshot knows
    /// (<c>ns/name[Kind]</c>), <c>node:NAME</c>, a DNS name (<c>pypi.org[DNS]</c>), an address, or
    /// what Hubble said of it.
    /// </summary>
    public string Describe(FlowRecord flow, bool source)
    {
        ArgumentNullException.ThrowIfNull(flow);
        var end = source ? flow.Source : flow.Destination;
        var ip = source ? flow.SourceIp : flow.DestinationIp;
        var names = source ? flow.SourceNames : flow.DestinationNames;
        if (TryResolve(end, ip, names, out var endpoint))
        {
            return endpoint.Kind switch
            {
                EndpointKind.Pod => _snapshot.Pods[endpoint.PodIndex].Spec.Workload.ToString(),
                EndpointKind.Node => "node:" + endpoint.NodeName,
                _ => endpoint.DnsName is { } name ? $"{name}[DNS]" : IpNumbers.Format(endpoint.Address),
            };
        }

        return end.Display ?? (ip is { } address ? IpNumbers.Format(address) : "?");
    }

    /// <summary>What of a flow's layer-7 record a verdict depends on, from strings the caches keep, without building the request.</summary>
    private static RequestParts RequestKey(FlowRecord flow, bool reply, Caches cache)
    {
        if (reply || flow.L7Type == L7Type.Response)
        {
            return default;
        }

        if (flow.Http is { Method: not null } http)
        {
            string? path = http.Url, host = null;
            if (http.Url is not null)
            {
                if (!cache.Urls.TryGetValue(http.Url, out var parts))
                {
                    parts = Uri.TryCreate(http.Url, UriKind.Absolute, out var url) ? (url.PathAndQuery, url.IsDefaultPort ? url.Host : $"{url.Host}:{url.Port}") : (http.Url, null);
                    if (cache.Urls.Count >= CacheLimit)
                    {
                        cache.Urls.Clear();
                    }

                    cache.Urls[http.Url] = parts;
                }

                (path, host) = parts;
            }

            var headers = http.Headers.Count == 0 ? null : string.Join('\n', http.Headers.Select(static h => h.Key.ToUpperInvariant() + ":" + h.Value));
            return new RequestParts(http.Method, path, host, headers, null);
        }

        return flow.Dns is { Query: { } query } ? new RequestParts(null, null, null, null, query) : default;
    }

    private static L7Request? Request(FlowRecord flow, bool reply)
    {
        if (reply || flow.L7Type == L7Type.Response)
        {
            return null;
        }

        if (flow.Http is { Method: not null } http)
        {
            string? path = null, host = null;
            if (http.Url is not null && Uri.TryCreate(http.Url, UriKind.Absolute, out var url))
            {
                path = url.PathAndQuery;
                host = url.IsDefaultPort ? url.Host : $"{url.Host}:{url.Port}";
            }

            return new L7Request
            {
                Method = http.Method,
                Path = path ?? http.Url,
                Host = host,
                Headers = http.Headers.GroupBy(static h => h.Key, StringComparer.OrdinalIgnoreCase).ToDictionary(static g => g.Key, static g => g.First().Value, StringComparer.OrdinalIgnoreCase),
            };
        }

        if (flow.Dns is { Query: { } query })
        {
            return new L7Request { DnsQuery = query.TrimEnd('.') };
        }

        return null;
    }

    private Decision Decide(Endpoint from, Endpoint to, Protocol protocol, int port, L7Request? request)
    {
        var explanation = _snapshot.Explain(from, to, protocol, port, request);
        var egress = Summarise(explanation.Egress);
        var ingress = Summarise(explanation.Ingress);
        var deciding = !explanation.Egress.Allowed ? egress : !explanation.Ingress.Allowed ? ingress : explanation.Ingress.Checked && ingress.Policy is not null ? ingress : egress;
        return new Decision(explanation.Egress.Allowed, explanation.Ingress.Allowed, egress, ingress, deciding);
    }

    private static Side Summarise(SideExplanation side)
    {
        if (!side.Checked || side.Note is not null)
        {
            return new Side(null, null, null);
        }

        var rule = side.DecidingRule ?? (side.AllowingRules.Count > 0 ? side.AllowingRules[0] : null);
        var tier = side.Tier switch
        {
            Tier.Admin => "admin",
            Tier.Baseline => "baseline",
            Tier.Namespace => "namespace",
            _ => null,
        };
        if (rule is not null)
        {
            return new Side(tier, Name(rule.Policy), rule.Path);
        }

        // Denied by isolation: no rule decided, the policies that isolate the pod did.
        return side.SelectingPolicies.Count > 0 ? new Side(tier, Name(side.SelectingPolicies[0]), null) : new Side(tier, null, null);
    }

    /// <summary><c>Kind namespace/name</c>, or <c>Kind name</c> for a cluster-scoped policy: what <c>--policy</c> filters match.</summary>
    private static string Name(PolicyReference policy) => policy.Namespace.Length == 0 ? $"{policy.Kind} {policy.Name}" : $"{policy.Kind} {policy.Namespace}/{policy.Name}";

    private readonly record struct Key(
        EndpointKind FromKind, int FromPod, UInt128 FromAddress, string? FromName,
        EndpointKind ToKind, int ToPod, UInt128 ToAddress, string? ToName,
        Protocol Protocol, int Port, string? Method, string? Path, string? Host, string? Headers, string? Dns);

    /// <summary>
    /// Equality of <see cref="Key"/> by value, with the strings hashed by XxHash3 over their characters
    /// rather than by the randomized default, which costs several times as much for a path or a name.
    /// </summary>
    private sealed class KeyComparer : IEqualityComparer<Key>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals(Key x, Key y) => x == y;

        public int GetHashCode(Key key)
        {
            var hash = HashCode.Combine(key.FromKind, key.FromPod, key.FromAddress, key.ToKind, key.ToPod, key.ToAddress, key.Protocol, key.Port);
            return HashCode.Combine(hash, Hash(key.FromName), Hash(key.ToName), Hash(key.Method), Hash(key.Path), Hash(key.Host), Hash(key.Headers), Hash(key.Dns));
        }

        private static int Hash(string? text) =>
            text is null ? -1 : (int)System.IO.Hashing.XxHash3.HashToUInt64(System.Runtime.InteropServices.MemoryMarshal.AsBytes(text.AsSpan()));
    }

    /// <summary>The parts of a layer-7 record verdicts depend on; headers as one string, names upper-cased (they match case-insensitively).</summary>
    private readonly record struct RequestParts(string? Method, string? Path, string? Host, string? Headers, string? Dns);

    private sealed record Side(string? Tier, string? Policy, string? Rule);

    /// <summary>An end of a flow by the identity of its endpoint instance, its address and first DNS name.</summary>
    private readonly record struct EndKey(FlowEndpoint End, UInt128? Ip, string? Name)
    {
        public bool Equals(EndKey other) => ReferenceEquals(End, other.End) && Ip == other.Ip && Name == other.Name;

        public override int GetHashCode() => HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(End), Ip);
    }

    /// <summary>What one caller at a time remembers: verdicts by connection, resolved ends, and attributions (shared: they are immutable and few).</summary>
    private sealed class Caches
    {
        public Dictionary<Key, Decision> Decisions { get; } = new(KeyComparer.Instance);

        public Dictionary<EndKey, (bool Found, Endpoint Endpoint)> Ends { get; } = [];

        /// <summary>URLs split into the path and host HTTP rules match.</summary>
        public Dictionary<string, (string? Path, string? Host)> Urls { get; } = new(StringComparer.Ordinal);

        /// <summary>Projects by the instance of a namespace's name.</summary>
        public Dictionary<string, string?> Projects { get; } = new(ReferenceEqualityComparer.Instance);

        private readonly Dictionary<FlowAttribution, FlowAttribution> _attributions = [];

        /// <summary>The one instance equal to <paramref name="attribution"/>.</summary>
        public FlowAttribution Attribution(FlowAttribution attribution)
        {
            if (_attributions.TryGetValue(attribution, out var known))
            {
                return known;
            }

            if (_attributions.Count >= CacheLimit)
            {
                _attributions.Clear();
            }

            _attributions[attribution] = attribution;
            return attribution;
        }
    }

    private sealed record Decision(bool EgressAllowed, bool IngressAllowed, Side Egress, Side Ingress, Side Deciding)
    {
        /// <summary>The attributions made of this decision, by side observed (none, ingress, egress) and disagreement.</summary>
        public FlowAttribution?[] Attributions { get; } = new FlowAttribution?[9];
    }
}
