namespace Palisade.Flows.Storage;

/// <summary>
/// What many flows share: everything of a <see cref="FlowRow"/> but its time, identity, ends, ports
/// and L7 detail (verdict, protocol, flags, node, event, HTTP method and code, the policies, the
/// engine's attribution, the project). The embedded store keeps each shape once, in
/// <c>flow_shapes</c>, and a flow refers to its shape by number: a row of nine columns instead of
/// forty-one, which is what lets DuckDB store flows several times faster.
/// </summary>
public readonly record struct FlowShape(
    bool IdFromUuid, byte Verdict, int? DropReason, int? Node, byte IpVersion, byte Protocol, ushort TcpFlags, short IcmpType, short IcmpCode,
    byte Direction, bool? IsReply, short? EventType, short? EventSubType, byte FlowType, int? TracePoint, byte PolicyMatchType, byte L7Type,
    short? HttpCode, int? HttpMethod, int? HttpProtocol, short? DnsRcode, int? Policies, byte EngineVerdict, int? Tier, int? Policy, int? Rule,
    byte Disagreement, int? Project)
{
    /// <summary>The <c>flow_shapes</c> columns after <c>id</c>, in field order; each is the <see cref="FlowColumns.All"/> column of that name.</summary>
    public static readonly IReadOnlyList<string> Columns =
    [
        "id_from_uuid", "verdict", "drop_reason", "node", "ip_version", "protocol", "tcp_flags", "icmp_type", "icmp_code",
        "direction", "is_reply", "event_type", "event_subtype", "flow_type", "trace_point", "policy_match_type", "l7_type",
        "http_code", "http_method", "http_protocol", "dns_rcode", "policies", "engine_verdict", "decided_tier", "decided_policy", "decided_rule",
        "disagreement", "project",
    ];

    /// <summary>The row of a flow of this shape with the rest of its values.</summary>
    public FlowRow Row(long timeNanos, Guid id, int source, int destination, int sourcePort, int destinationPort, long l7LatencyNanos, in FlowDetail d) => new(
        timeNanos, id, IdFromUuid, Verdict, DropReason, Node, IpVersion, Protocol, source, destination, sourcePort, destinationPort, TcpFlags, IcmpType, IcmpCode,
        Direction, IsReply, EventType, EventSubType, FlowType, TracePoint, PolicyMatchType, L7Type, l7LatencyNanos, HttpCode, HttpMethod, d.HttpUrl, HttpProtocol,
        d.HttpHeaders, d.DnsQuery, DnsRcode, d.DnsTtl, d.DnsAnswer, Policies, d.Summary, EngineVerdict, Tier, Policy, Rule, Disagreement, Project);
}

/// <summary>
/// A flow's L7 detail and summary, which vary more than its shape (URLs, DNS answers and their TTL):
/// kept once each in the embedded store's <c>flow_details</c>. A flow without L7 has a detail too (its
/// summary alone), so every flow has one.
/// </summary>
public readonly record struct FlowDetail(int? HttpUrl, int? HttpHeaders, int? DnsQuery, long? DnsTtl, int? DnsAnswer, int? Summary)
{
    /// <summary>The <c>flow_details</c> columns after <c>id</c>, in field order; each is the <see cref="FlowColumns.All"/> column of that name.</summary>
    public static readonly IReadOnlyList<string> Columns = ["http_url", "http_headers", "dns_query", "dns_ttl", "dns_answer", "summary"];
}

/// <summary>
/// Numbers for values many flows share (shapes, details): each value gets the next number the first
/// time it is seen, and the numbers handed out since the last <see cref="TakeAdded"/> are what the store
/// must save before the flows that use them. Used by one writer at a time (the store serialises
/// writers); look-ups by number may run beside it.
/// </summary>
public sealed class FlowNumbering<T>
    where T : struct, IEquatable<T>
{
    private readonly Dictionary<T, int> _ids = [];
    private readonly List<(int Id, T Value)> _added = [];
    private volatile T[] _values = new T[64];

    /// <summary>The highest number handed out or loaded.</summary>
    public int Max { get; private set; }

    /// <summary>The number of <paramref name="value"/>, handing out the next one when it is new.</summary>
    public int IdOf(in T value)
    {
        if (_ids.TryGetValue(value, out var id))
        {
            return id;
        }

        id = Max + 1;
        Load(id, value);
        _added.Add((id, value));
        return id;
    }

    /// <summary>Learns a value the store holds under a number.</summary>
    public void Load(int id, in T value)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(id);
        var values = _values;
        if (id >= values.Length)
        {
            Array.Resize(ref values, Math.Max(id + 1, values.Length * 2));
            _values = values;
        }

        values[id] = value;
        _ids[value] = id;
        Max = Math.Max(Max, id);
    }

    /// <summary>The value with a number; the default value for a number never handed out.</summary>
    public T this[int id]
    {
        get
        {
            var values = _values;
            return id > 0 && id < values.Length ? values[id] : default;
        }
    }

    /// <summary>The numbers handed out since the last call, which the store must now save; clears them.</summary>
    public List<(int Id, T Value)> TakeAdded()
    {
        var added = new List<(int, T)>(_added);
        _added.Clear();
        return added;
    }

    /// <summary>Forgets the numbers handed out since the last <see cref="TakeAdded"/>, or the ones given: they were never saved.</summary>
    public void Forget(IReadOnlyList<(int Id, T Value)>? added = null)
    {
        foreach (var (id, value) in added ?? _added)
        {
            _ids.Remove(value);
            _values[id] = default;
        }

        _added.Clear();
        Max = 0;
        foreach (var id in _ids.Values)
        {
            Max = Math.Max(Max, id);
        }
    }
}
