using System.Collections;
using System.Data.Common;
using System.Globalization;
using Palisade.Flows.Records;
using Palisade.Sets;

namespace Palisade.Flows.Storage;

/// <summary>One flow as a row of the <c>flows</c> table: numbers only, ends and strings by their dictionary numbers.</summary>
public readonly record struct FlowRow(
    long TimeNanos, Guid Id, bool IdFromUuid, byte Verdict, int? DropReason, int? Node, byte IpVersion, byte Protocol,
    int Source, int Destination, int SourcePort, int DestinationPort, ushort TcpFlags, short IcmpType, short IcmpCode,
    byte Direction, bool? IsReply, short? EventType, short? EventSubType, byte FlowType, int? TracePoint, byte PolicyMatchType,
    byte L7Type, long L7LatencyNanos, short? HttpCode, int? HttpMethod, int? HttpUrl, int? HttpProtocol, int? HttpHeaders,
    int? DnsQuery, short? DnsRcode, long? DnsTtl, int? DnsAnswer, int? Policies, int? Summary,
    byte EngineVerdict, int? Tier, int? Policy, int? Rule, byte Disagreement, int? Project);

/// <summary>
/// The stored form of flows, shared by both stores so that a flow reads back the same from either:
/// the <c>flows</c> table's columns (numbers, with ends and repeated strings as numbers into
/// <c>flow_ends</c> and <c>flow_strings</c>), the <c>flow_ends</c> columns, and the mapping both ways.
/// </summary>
public static class FlowColumns
{
    /// <summary>The <c>flows</c> columns: name, DuckDB type, PostgreSQL type, in <see cref="FlowRow"/> order.</summary>
    public static readonly IReadOnlyList<(string Name, string DuckDb, string Postgres)> All =
    [
        ("time_ns", "BIGINT NOT NULL", "bigint NOT NULL"),
        ("flow_id", "UUID NOT NULL", "uuid NOT NULL"),
        ("id_from_uuid", "BOOLEAN NOT NULL", "boolean NOT NULL"),
        ("verdict", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("drop_reason", "INTEGER", "integer"),
        ("node", "INTEGER", "integer"),
        ("ip_version", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("protocol", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("src", "INTEGER NOT NULL", "integer NOT NULL"),
        ("dst", "INTEGER NOT NULL", "integer NOT NULL"),
        ("src_port", "INTEGER NOT NULL", "integer NOT NULL"),
        ("dst_port", "INTEGER NOT NULL", "integer NOT NULL"),
        ("tcp_flags", "USMALLINT NOT NULL", "smallint NOT NULL"),
        ("icmp_type", "SMALLINT NOT NULL", "smallint NOT NULL"),
        ("icmp_code", "SMALLINT NOT NULL", "smallint NOT NULL"),
        ("direction", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("is_reply", "BOOLEAN", "boolean"),
        ("event_type", "SMALLINT", "smallint"),
        ("event_subtype", "SMALLINT", "smallint"),
        ("flow_type", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("trace_point", "INTEGER", "integer"),
        ("policy_match_type", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("l7_type", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("l7_latency_ns", "BIGINT NOT NULL", "bigint NOT NULL"),
        ("http_code", "SMALLINT", "smallint"),
        ("http_method", "INTEGER", "integer"),
        ("http_url", "INTEGER", "integer"),
        ("http_protocol", "INTEGER", "integer"),
        ("http_headers", "INTEGER", "integer"),
        ("dns_query", "INTEGER", "integer"),
        ("dns_rcode", "SMALLINT", "smallint"),
        ("dns_ttl", "BIGINT", "bigint"),
        ("dns_answer", "INTEGER", "integer"),
        ("policies", "INTEGER", "integer"),
        ("summary", "INTEGER", "integer"),
        ("engine_verdict", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("decided_tier", "INTEGER", "integer"),
        ("decided_policy", "INTEGER", "integer"),
        ("decided_rule", "INTEGER", "integer"),
        ("disagreement", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("project", "INTEGER", "integer"),
    ];

    /// <summary>The column names, comma-separated, in order: what <c>SELECT</c> and <c>INSERT</c> name.</summary>
    public static readonly string List = string.Join(", ", All.Select(static c => c.Name));

    /// <summary>The <c>flow_ends</c> columns after <c>id</c> and <c>hash</c>, in the order <see cref="EndValues"/> gives them.</summary>
    public const string EndList = "endpoint_id, identity, cluster, namespace, pod, labels, workloads, ip, names, service";

    private const char Field = '\u001f';
    private const char Item = '\u001e';

    /// <summary>The strings of a flow that the string dictionary holds.</summary>
    public static IEnumerable<string?> StringsOf(FlowRecord flow)
    {
        ArgumentNullException.ThrowIfNull(flow);
        yield return flow.DropReason;
        yield return flow.NodeName;
        yield return flow.TraceObservationPoint;
        yield return flow.Http?.Method;
        yield return flow.Http?.Url;
        yield return flow.Http?.Protocol;
        yield return Headers(flow.Http);
        yield return flow.Dns?.Query;
        yield return DnsAnswer(flow.Dns);
        yield return Policies(flow);
        yield return flow.Summary;
        yield return flow.Attribution?.Tier;
        yield return flow.Attribution?.Policy;
        yield return flow.Attribution?.Rule;
        yield return flow.Attribution?.Project;
    }

    /// <summary>The row of a flow whose ends and strings <paramref name="dictionary"/> holds.</summary>
    public static FlowRow Row(FlowRecord flow, FlowDictionary dictionary)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(dictionary);
        return Shape(flow, dictionary).Row(
            flow.TimeUnixNanos,
            FlowIds.ToGuid(flow.Id),
            dictionary.EndId(flow, source: true),
            dictionary.EndId(flow, source: false),
            flow.SourcePort,
            flow.DestinationPort,
            flow.L7LatencyNanos,
            Detail(flow, dictionary));
    }

    /// <summary>The shape of a flow (what many flows share), its strings by their <paramref name="dictionary"/> numbers.</summary>
    public static FlowShape Shape(FlowRecord flow, FlowDictionary dictionary)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(dictionary);
        var a = flow.Attribution;
        return new FlowShape(
            flow.IdFromUuid,
            (byte)flow.Verdict,
            dictionary.StringId(flow.DropReason),
            dictionary.StringId(flow.NodeName),
            flow.IpVersion,
            (byte)flow.Protocol,
            (ushort)flow.TcpFlags,
            (short)flow.IcmpType,
            (short)flow.IcmpCode,
            (byte)flow.Direction,
            flow.IsReply,
            (short?)flow.EventType,
            (short?)flow.EventSubType,
            (byte)flow.Type,
            dictionary.StringId(flow.TraceObservationPoint),
            (byte)flow.PolicyMatchType,
            (byte)flow.L7Type,
            (short?)flow.Http?.Code,
            dictionary.StringId(flow.Http?.Method),
            dictionary.StringId(flow.Http?.Protocol),
            (short?)flow.Dns?.Rcode,
            dictionary.StringId(Policies(flow)),
            (byte)(a?.Verdict ?? EngineVerdict.Unknown),
            dictionary.StringId(a?.Tier),
            dictionary.StringId(a?.Policy),
            dictionary.StringId(a?.Rule),
            (byte)(a?.Disagreement ?? Disagreement.None),
            dictionary.StringId(a?.Project));
    }

    /// <summary>The L7 detail and summary of a flow, its strings by their <paramref name="dictionary"/> numbers.</summary>
    public static FlowDetail Detail(FlowRecord flow, FlowDictionary dictionary)
    {
        ArgumentNullException.ThrowIfNull(flow);
        ArgumentNullException.ThrowIfNull(dictionary);
        return new FlowDetail(
            dictionary.StringId(flow.Http?.Url),
            dictionary.StringId(Headers(flow.Http)),
            dictionary.StringId(flow.Dns?.Query),
            flow.Dns?.Ttl,
            dictionary.StringId(DnsAnswer(flow.Dns)),
            dictionary.StringId(flow.Summary));
    }

    /// <summary>Reads the row the reader is on (selected with <see cref="List"/>) back into a flow.</summary>
    public static FlowRecord Read(DbDataReader row, FlowDictionary dictionary) => ToRecord(ReadRow(row), dictionary);

    /// <summary>Reads the row the reader is on, selected with <see cref="List"/>.</summary>
    public static FlowRow ReadRow(DbDataReader row)
    {
        ArgumentNullException.ThrowIfNull(row);
        int? Nullable(int i) => row.IsDBNull(i) ? null : Int(row, i);
        short? Short(int i) => row.IsDBNull(i) ? null : (short)Int(row, i);
        return new FlowRow(
            row.GetInt64(0), row.GetGuid(1), row.GetBoolean(2), (byte)Int(row, 3), Nullable(4), Nullable(5), (byte)Int(row, 6), (byte)Int(row, 7),
            Int(row, 8), Int(row, 9), Int(row, 10), Int(row, 11), (ushort)Int(row, 12), (short)Int(row, 13), (short)Int(row, 14),
            (byte)Int(row, 15), row.IsDBNull(16) ? null : row.GetBoolean(16), Short(17), Short(18), (byte)Int(row, 19), Nullable(20), (byte)Int(row, 21),
            (byte)Int(row, 22), row.GetInt64(23), Short(24), Nullable(25), Nullable(26), Nullable(27), Nullable(28),
            Nullable(29), Short(30), row.IsDBNull(31) ? null : row.GetInt64(31), Nullable(32), Nullable(33), Nullable(34),
            (byte)Int(row, 35), Nullable(36), Nullable(37), Nullable(38), (byte)Int(row, 39), Nullable(40));
    }

    /// <summary>The flow a row holds, its ends and strings named through <paramref name="dictionary"/>.</summary>
    public static FlowRecord ToRecord(in FlowRow r, FlowDictionary dictionary)
    {
        ArgumentNullException.ThrowIfNull(dictionary);
        string? Text(int? id) => dictionary.StringOf(id);
        var httpCode = r.HttpCode;
        var method = Text(r.HttpMethod);
        var url = Text(r.HttpUrl);
        var dnsQuery = Text(r.DnsQuery);
        var rcode = r.DnsRcode;
        var answer = Text(r.DnsAnswer);
        var policies = Text(r.Policies);
        var engine = (EngineVerdict)r.EngineVerdict;
        var tier = Text(r.Tier);
        var policy = Text(r.Policy);
        var rule = Text(r.Rule);
        var disagreement = (Disagreement)r.Disagreement;
        var project = Text(r.Project);
        var (egressAllowed, ingressAllowed, egressDenied, ingressDenied) = ParsePolicies(policies);
        var shared = new FlowRecord
        {
            // Time and identity are the flow's own, set with the ends below.
            TimeUnixNanos = 0,
            Id = 0,
            IdFromUuid = r.IdFromUuid,
            Verdict = (FlowVerdict)r.Verdict,
            DropReason = Text(r.DropReason),
            NodeName = Text(r.Node),
            IpVersion = r.IpVersion,
            Protocol = (FlowProtocol)r.Protocol,
            TcpFlags = (TcpFlags)r.TcpFlags,
            IcmpType = r.IcmpType,
            IcmpCode = r.IcmpCode,
            Direction = (FlowDirection)r.Direction,
            IsReply = r.IsReply,
            EventType = r.EventType,
            EventSubType = r.EventSubType,
            Type = (FlowType)r.FlowType,
            TraceObservationPoint = Text(r.TracePoint),
            PolicyMatchType = r.PolicyMatchType,
            L7Type = (L7Type)r.L7Type,
            Http = httpCode is not null || method is not null || url is not null
                ? new HttpInfo { Code = httpCode ?? 0, Method = method, Url = url, Protocol = Text(r.HttpProtocol), Headers = ParseHeaders(Text(r.HttpHeaders)) }
                : null,
            Dns = dnsQuery is not null || rcode is not null || answer is not null ? ParseDns(dnsQuery, rcode ?? 0, r.DnsTtl ?? 0, answer) : null,
            EgressAllowedBy = egressAllowed,
            IngressAllowedBy = ingressAllowed,
            EgressDeniedBy = egressDenied,
            IngressDeniedBy = ingressDenied,
            Summary = Text(r.Summary),
            Attribution = engine == EngineVerdict.Unknown && tier is null && policy is null && project is null && disagreement == Disagreement.None
                ? null
                : new FlowAttribution { Verdict = engine, Tier = tier, Policy = policy, Rule = rule, Disagreement = disagreement, Project = project },
        };
        return WithOwn(shared, r.TimeNanos, r.Id, dictionary.EndOf(r.Source), dictionary.EndOf(r.Destination), r.SourcePort, r.DestinationPort, r.L7LatencyNanos);
    }

    /// <summary>
    /// <paramref name="shared"/> (a flow read back from its shape and detail, which many flows share)
    /// with what is a flow's own: time, identity, ends, ports and L7 latency.
    /// </summary>
    public static FlowRecord WithOwn(FlowRecord shared, long timeNanos, Guid id, FlowEnd source, FlowEnd destination, int sourcePort, int destinationPort, long l7LatencyNanos)
    {
        ArgumentNullException.ThrowIfNull(shared);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        return shared with
        {
            TimeUnixNanos = timeNanos,
            Id = FlowIds.FromGuid(id),
            Source = source.Endpoint,
            SourceIp = source.Ip,
            SourceNames = source.Names,
            SourceService = source.Service,
            Destination = destination.Endpoint,
            DestinationIp = destination.Ip,
            DestinationNames = destination.Names,
            DestinationService = destination.Service,
            SourcePort = sourcePort,
            DestinationPort = destinationPort,
            L7LatencyNanos = l7LatencyNanos,
        };
    }

    /// <summary>The values of an end's <see cref="EndList"/> columns: numbers, text, and string arrays for the lists.</summary>
    public static object?[] EndValues(FlowEnd end)
    {
        ArgumentNullException.ThrowIfNull(end);
        var e = end.Endpoint;
        return
        [
            e.EndpointId,
            e.Identity,
            e.ClusterName,
            e.Namespace,
            e.PodName,
            e.Labels as string[] ?? [.. e.Labels],
            e.Workloads.Select(static w => $"{w.Kind}/{w.Name}").ToArray(),
            end.IpText,
            end.Names as string[] ?? [.. end.Names],
            end.Service is null ? null : $"{end.Service.Namespace}/{end.Service.Name}",
        ];
    }

    /// <summary>Reads an end from a row of <c>id, hash,</c> and <see cref="EndList"/>.</summary>
    public static FlowEnd ReadEnd(DbDataReader row)
    {
        ArgumentNullException.ThrowIfNull(row);
        string? Text(int i) => row.IsDBNull(i) ? null : row.GetString(i);
        var endpoint = new FlowEndpoint
        {
            EndpointId = Int(row, 2),
            Identity = row.GetInt64(3),
            ClusterName = Text(4),
            Namespace = Text(5),
            PodName = Text(6),
            Labels = Strings(row, 7),
            Workloads = Strings(row, 8).Select(static w =>
            {
                var slash = w.IndexOf('/', StringComparison.Ordinal);
                return slash < 0 ? new FlowWorkload(string.Empty, w) : new FlowWorkload(w[..slash], w[(slash + 1)..]);
            }).ToArray(),
        };
        var ip = Text(9) is { } text && IpNumbers.TryParse(text, out var address) ? address : (UInt128?)null;
        var service = Text(11) is { } s ? new FlowService(s.IndexOf('/', StringComparison.Ordinal) <= 0 ? null : s[..s.IndexOf('/', StringComparison.Ordinal)], s[(s.IndexOf('/', StringComparison.Ordinal) + 1)..]) : null;
        return new FlowEnd(endpoint.IsUnknown && endpoint.ClusterName is null && endpoint.Workloads.Count == 0 ? FlowEndpoint.Unknown : endpoint, ip, Strings(row, 10), service);
    }

    private static int Int(DbDataReader row, int i) => Convert.ToInt32(row.GetValue(i), CultureInfo.InvariantCulture);

    private static string[] Strings(DbDataReader row, int i)
    {
        if (row.IsDBNull(i))
        {
            return [];
        }

        return row.GetValue(i) switch
        {
            string[] array => array,
            IEnumerable items => items.Cast<object?>().Select(static o => o?.ToString() ?? string.Empty).ToArray(),
            _ => [],
        };
    }

    private static string? Headers(HttpInfo? http) =>
        http is null || http.Headers.Count == 0 ? null : string.Join('\n', http.Headers.Select(static h => $"{h.Key}: {h.Value}"));

    private static KeyValuePair<string, string>[] ParseHeaders(string? text) =>
        text is null ? [] : text.Split('\n').Select(static v =>
        {
            var colon = v.IndexOf(": ", StringComparison.Ordinal);
            return colon < 0 ? new KeyValuePair<string, string>(v, string.Empty) : new KeyValuePair<string, string>(v[..colon], v[(colon + 2)..]);
        }).ToArray();

    private static string? DnsAnswer(DnsInfo? dns) =>
        dns is null ? null : string.Join(Field, string.Join(Item, dns.Ips), string.Join(Item, dns.Cnames), string.Join(Item, dns.Qtypes), string.Join(Item, dns.Rrtypes), dns.ObservationSource ?? string.Empty);

    private static DnsInfo ParseDns(string? query, int rcode, long ttl, string? answer)
    {
        var fields = (answer ?? string.Empty).Split(Field);
        string[] Items(int i) => i < fields.Length && fields[i].Length > 0 ? fields[i].Split(Item) : [];
        return new DnsInfo
        {
            Query = query,
            Rcode = rcode,
            Ttl = ttl,
            Ips = Items(0),
            Cnames = Items(1),
            Qtypes = Items(2),
            Rrtypes = Items(3),
            ObservationSource = fields.Length > 4 && fields[4].Length > 0 ? fields[4] : null,
        };
    }

    /// <summary>The four policy lists as one string: lists split by a field mark, policies by an item mark, <c>kind|namespace|name</c> each.</summary>
    private static string? Policies(FlowRecord flow)
    {
        if (flow.EgressAllowedBy.Count + flow.IngressAllowedBy.Count + flow.EgressDeniedBy.Count + flow.IngressDeniedBy.Count == 0)
        {
            return null;
        }

        static string One(IReadOnlyList<FlowPolicyRef> policies) => string.Join(Item, policies.Select(static p => $"{p.Kind}|{p.Namespace}|{p.Name}"));
        return string.Join(Field, One(flow.EgressAllowedBy), One(flow.IngressAllowedBy), One(flow.EgressDeniedBy), One(flow.IngressDeniedBy));
    }

    private static (FlowPolicyRef[], FlowPolicyRef[], FlowPolicyRef[], FlowPolicyRef[]) ParsePolicies(string? text)
    {
        if (text is null)
        {
            return ([], [], [], []);
        }

        var lists = text.Split(Field);
        FlowPolicyRef[] One(int i) => i >= lists.Length || lists[i].Length == 0 ? [] : lists[i].Split(Item).Select(static v =>
        {
            var parts = v.Split('|');
            return parts.Length == 3
                ? new FlowPolicyRef(parts[0].Length == 0 ? null : parts[0], parts[1].Length == 0 ? null : parts[1], parts[2])
                : new FlowPolicyRef(null, null, v);
        }).ToArray();
        return (One(0), One(1), One(2), One(3));
    }
}
