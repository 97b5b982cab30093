using System.Collections;
using System.Data.Common;
using System.Globalization;
using Palisade.Flows.Records;
using Palisade.Sets;

namespace Palisade.Flows.Storage;

/// <summary>
/// The columns of the stored <c>flows</c> table, in order, with their types in each store, and the
/// mapping of a row back to a <see cref="FlowRecord"/>. Both stores share it, so that a flow reads
/// back the same from either.
/// </summary>
public static class FlowColumns
{
    /// <summary>Name, DuckDB type, PostgreSQL type.</summary>
    public static readonly IReadOnlyList<(string Name, string DuckDb, string Postgres)> All =
    [
        ("time_ns", "BIGINT NOT NULL", "bigint NOT NULL"),
        ("flow_id", "UUID NOT NULL", "uuid NOT NULL"),
        ("id_from_uuid", "BOOLEAN NOT NULL", "boolean NOT NULL"),
        ("verdict", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("drop_reason", "VARCHAR", "text"),
        ("node", "VARCHAR", "text"),
        ("ip_version", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("src_ip", "VARCHAR", "text"),
        ("dst_ip", "VARCHAR", "text"),
        ("protocol", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("src_port", "INTEGER NOT NULL", "integer NOT NULL"),
        ("dst_port", "INTEGER NOT NULL", "integer NOT NULL"),
        ("tcp_flags", "USMALLINT NOT NULL", "smallint NOT NULL"),
        ("icmp_type", "SMALLINT NOT NULL", "smallint NOT NULL"),
        ("icmp_code", "SMALLINT NOT NULL", "smallint NOT NULL"),
        ("src_endpoint_id", "INTEGER NOT NULL", "integer NOT NULL"),
        ("src_identity", "BIGINT NOT NULL", "bigint NOT NULL"),
        ("src_cluster", "VARCHAR", "text"),
        ("src_namespace", "VARCHAR", "text"),
        ("src_pod", "VARCHAR", "text"),
        ("src_labels", "VARCHAR[]", "text[]"),
        ("src_workloads", "VARCHAR[]", "text[]"),
        ("dst_endpoint_id", "INTEGER NOT NULL", "integer NOT NULL"),
        ("dst_identity", "BIGINT NOT NULL", "bigint NOT NULL"),
        ("dst_cluster", "VARCHAR", "text"),
        ("dst_namespace", "VARCHAR", "text"),
        ("dst_pod", "VARCHAR", "text"),
        ("dst_labels", "VARCHAR[]", "text[]"),
        ("dst_workloads", "VARCHAR[]", "text[]"),
        ("src_names", "VARCHAR[]", "text[]"),
        ("dst_names", "VARCHAR[]", "text[]"),
        ("src_service", "VARCHAR", "text"),
        ("dst_service", "VARCHAR", "text"),
        ("direction", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("is_reply", "BOOLEAN", "boolean"),
        ("event_type", "SMALLINT", "smallint"),
        ("event_subtype", "SMALLINT", "smallint"),
        ("flow_type", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("trace_point", "VARCHAR", "text"),
        ("policy_match_type", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("l7_type", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("l7_latency_ns", "BIGINT NOT NULL", "bigint NOT NULL"),
        ("http_code", "SMALLINT", "smallint"),
        ("http_method", "VARCHAR", "text"),
        ("http_url", "VARCHAR", "text"),
        ("http_protocol", "VARCHAR", "text"),
        ("http_headers", "VARCHAR[]", "text[]"),
        ("dns_query", "VARCHAR", "text"),
        ("dns_rcode", "SMALLINT", "smallint"),
        ("dns_ttl", "BIGINT", "bigint"),
        ("dns_ips", "VARCHAR[]", "text[]"),
        ("dns_cnames", "VARCHAR[]", "text[]"),
        ("dns_qtypes", "VARCHAR[]", "text[]"),
        ("dns_rrtypes", "VARCHAR[]", "text[]"),
        ("dns_source", "VARCHAR", "text"),
        ("egress_allowed_by", "VARCHAR[]", "text[]"),
        ("ingress_allowed_by", "VARCHAR[]", "text[]"),
        ("egress_denied_by", "VARCHAR[]", "text[]"),
        ("ingress_denied_by", "VARCHAR[]", "text[]"),
        ("summary", "VARCHAR", "text"),
        ("engine_verdict", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("decided_tier", "VARCHAR", "text"),
        ("decided_policy", "VARCHAR", "text"),
        ("decided_rule", "VARCHAR", "text"),
        ("disagreement", "UTINYINT NOT NULL", "smallint NOT NULL"),
        ("project", "VARCHAR", "text"),
    ];

    /// <summary>The column names, comma-separated, in order: what <c>SELECT</c> and <c>INSERT</c> name.</summary>
    public static readonly string List = string.Join(", ", All.Select(static c => c.Name));

    /// <summary>The values of one flow's columns, in order, as plain .NET values (null for SQL NULL; lists as string arrays).</summary>
    public static object?[] Values(FlowRecord flow)
    {
        ArgumentNullException.ThrowIfNull(flow);
        var a = flow.Attribution;
        return
        [
            flow.TimeUnixNanos,
            FlowIds.ToGuid(flow.Id),
            flow.IdFromUuid,
            (byte)flow.Verdict,
            flow.DropReason,
            flow.NodeName,
            flow.IpVersion,
            flow.SourceIpText,
            flow.DestinationIpText,
            (byte)flow.Protocol,
            flow.SourcePort,
            flow.DestinationPort,
            (ushort)flow.TcpFlags,
            (short)flow.IcmpType,
            (short)flow.IcmpCode,
            flow.Source.EndpointId,
            flow.Source.Identity,
            flow.Source.ClusterName,
            flow.Source.Namespace,
            flow.Source.PodName,
            ToArray(flow.Source.Labels),
            Workloads(flow.Source.Workloads),
            flow.Destination.EndpointId,
            flow.Destination.Identity,
            flow.Destination.ClusterName,
            flow.Destination.Namespace,
            flow.Destination.PodName,
            ToArray(flow.Destination.Labels),
            Workloads(flow.Destination.Workloads),
            ToArray(flow.SourceNames),
            ToArray(flow.DestinationNames),
            Service(flow.SourceService),
            Service(flow.DestinationService),
            (byte)flow.Direction,
            flow.IsReply,
            (short?)flow.EventType,
            (short?)flow.EventSubType,
            (byte)flow.Type,
            flow.TraceObservationPoint,
            (byte)flow.PolicyMatchType,
            (byte)flow.L7Type,
            flow.L7LatencyNanos,
            (short?)flow.Http?.Code,
            flow.Http?.Method,
            flow.Http?.Url,
            flow.Http?.Protocol,
            flow.Http is null ? null : flow.Http.Headers.Select(static h => $"{h.Key}: {h.Value}").ToArray(),
            flow.Dns?.Query,
            (short?)flow.Dns?.Rcode,
            flow.Dns?.Ttl,
            flow.Dns is null ? null : ToArray(flow.Dns.Ips),
            flow.Dns is null ? null : ToArray(flow.Dns.Cnames),
            flow.Dns is null ? null : ToArray(flow.Dns.Qtypes),
            flow.Dns is null ? null : ToArray(flow.Dns.Rrtypes),
            flow.Dns?.ObservationSource,
            Policies(flow.EgressAllowedBy),
            Policies(flow.IngressAllowedBy),
            Policies(flow.EgressDeniedBy),
            Policies(flow.IngressDeniedBy),
            flow.Summary,
            (byte)(a?.Verdict ?? EngineVerdict.Unknown),
            a?.Tier,
            a?.Policy,
            a?.Rule,
            (byte)(a?.Disagreement ?? Disagreement.None),
            a?.Project,
        ];
    }

    /// <summary>Reads the row the reader is on (selected with <see cref="List"/>) back into a flow.</summary>
    public static FlowRecord Read(DbDataReader row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var i = 0;
        var time = row.GetInt64(i++);
        var id = FlowIds.FromGuid(row.GetGuid(i++));
        var fromUuid = row.GetBoolean(i++);
        var verdict = (FlowVerdict)Int(row, i++);
        var dropReason = Text(row, i++);
        var node = Text(row, i++);
        var ipVersion = (byte)Int(row, i++);
        var srcIp = Address(Text(row, i++));
        var dstIp = Address(Text(row, i++));
        var protocol = (FlowProtocol)Int(row, i++);
        var srcPort = Int(row, i++);
        var dstPort = Int(row, i++);
        var flags = (TcpFlags)Int(row, i++);
        var icmpType = Int(row, i++);
        var icmpCode = Int(row, i++);
        var source = Endpoint(row, ref i);
        var destination = Endpoint(row, ref i);
        var srcNames = Strings(row, i++);
        var dstNames = Strings(row, i++);
        var srcService = ParseService(Text(row, i++));
        var dstService = ParseService(Text(row, i++));
        var direction = (FlowDirection)Int(row, i++);
        bool? isReply = row.IsDBNull(i) ? null : row.GetBoolean(i);
        i++;
        int? eventType = row.IsDBNull(i) ? null : Int(row, i);
        i++;
        int? eventSubType = row.IsDBNull(i) ? null : Int(row, i);
        i++;
        var type = (FlowType)Int(row, i++);
        var tracePoint = Text(row, i++);
        var matchType = Int(row, i++);
        var l7Type = (L7Type)Int(row, i++);
        var latency = row.GetInt64(i++);
        int? httpCode = row.IsDBNull(i) ? null : Int(row, i);
        i++;
        var method = Text(row, i++);
        var url = Text(row, i++);
        var httpProtocol = Text(row, i++);
        var headers = row.IsDBNull(i) ? null : Strings(row, i);
        i++;
        var dnsQuery = Text(row, i++);
        int? rcode = row.IsDBNull(i) ? null : Int(row, i);
        i++;
        long? ttl = row.IsDBNull(i) ? null : row.GetInt64(i);
        i++;
        var dnsIps = Strings(row, i++);
        var cnames = Strings(row, i++);
        var qtypes = Strings(row, i++);
        var rrtypes = Strings(row, i++);
        var dnsSource = Text(row, i++);
        var egressAllowed = ParsePolicies(Strings(row, i++));
        var ingressAllowed = ParsePolicies(Strings(row, i++));
        var egressDenied = ParsePolicies(Strings(row, i++));
        var ingressDenied = ParsePolicies(Strings(row, i++));
        var summary = Text(row, i++);
        var engine = (EngineVerdict)Int(row, i++);
        var tier = Text(row, i++);
        var policy = Text(row, i++);
        var rule = Text(row, i++);
        var disagreement = (Disagreement)Int(row, i++);
        var project = Text(row, i++);

        var isHttp = httpCode is not null || method is not null || url is not null;
        var isDns = dnsQuery is not null || rcode is not null;
        return new FlowRecord
        {
            TimeUnixNanos = time,
            Id = id,
            IdFromUuid = fromUuid,
            Verdict = verdict,
            DropReason = dropReason,
            NodeName = node,
            IpVersion = ipVersion,
            SourceIp = srcIp,
            DestinationIp = dstIp,
            Protocol = protocol,
            SourcePort = srcPort,
            DestinationPort = dstPort,
            TcpFlags = flags,
            IcmpType = icmpType,
            IcmpCode = icmpCode,
            Source = source,
            Destination = destination,
            SourceNames = srcNames,
            DestinationNames = dstNames,
            SourceService = srcService,
            DestinationService = dstService,
            Direction = direction,
            IsReply = isReply,
            EventType = eventType,
            EventSubType = eventSubType,
            Type = type,
            TraceObservationPoint = tracePoint,
            PolicyMatchType = matchType,
            L7Type = l7Type,
            L7LatencyNanos = latency,
            Http = isHttp ? new HttpInfo { Code = httpCode ?? 0, Method = method, Url = url, Protocol = httpProtocol, Headers = ParseHeaders(headers ?? []) } : null,
            Dns = isDns ? new DnsInfo { Query = dnsQuery, Rcode = rcode ?? 0, Ttl = ttl ?? 0, Ips = dnsIps, Cnames = cnames, Qtypes = qtypes, Rrtypes = rrtypes, ObservationSource = dnsSource } : null,
            EgressAllowedBy = egressAllowed,
            IngressAllowedBy = ingressAllowed,
            EgressDeniedBy = egressDenied,
            IngressDeniedBy = ingressDenied,
            Summary = summary,
            Attribution = engine == EngineVerdict.Unknown && tier is null && policy is null && project is null && disagreement == Disagreement.None
                ? null
                : new FlowAttribution { Verdict = engine, Tier = tier, Policy = policy, Rule = rule, Disagreement = disagreement, Project = project },
        };
    }

    private static FlowEndpoint Endpoint(DbDataReader row, ref int i)
    {
        var endpoint = new FlowEndpoint
        {
            EndpointId = Int(row, i),
            Identity = row.GetInt64(i + 1),
            ClusterName = Text(row, i + 2),
            Namespace = Text(row, i + 3),
            PodName = Text(row, i + 4),
            Labels = Strings(row, i + 5),
            Workloads = Strings(row, i + 6).Select(ParseWorkload).ToArray(),
        };
        i += 7;
        return endpoint.IsUnknown && endpoint.ClusterName is null && endpoint.Workloads.Count == 0 ? FlowEndpoint.Unknown : endpoint;
    }

    private static int Int(DbDataReader row, int i) => Convert.ToInt32(row.GetValue(i), CultureInfo.InvariantCulture);

    private static string? Text(DbDataReader row, int i) => row.IsDBNull(i) ? null : row.GetString(i);

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

    private static UInt128? Address(string? text) => text is not null && IpNumbers.TryParse(text, out var value) ? value : null;

    private static string[] ToArray(IReadOnlyList<string> values) => values as string[] ?? [.. values];

    private static string[] Workloads(IReadOnlyList<FlowWorkload> workloads) =>
        workloads.Count == 0 ? [] : workloads.Select(static w => $"{w.Kind}/{w.Name}").ToArray();

    private static FlowWorkload ParseWorkload(string text)
    {
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? new FlowWorkload(string.Empty, text) : new FlowWorkload(text[..slash], text[(slash + 1)..]);
    }

    private static string? Service(FlowService? service) => service is null ? null : $"{service.Namespace}/{service.Name}";

    private static FlowService? ParseService(string? text)
    {
        if (text is null)
        {
            return null;
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        return new FlowService(slash <= 0 ? null : text[..slash], text[(slash + 1)..]);
    }

    /// <summary>A policy reference as <c>kind|namespace|name</c>: none of the three can hold a <c>|</c>.</summary>
    private static string[] Policies(IReadOnlyList<FlowPolicyRef> policies) =>
        policies.Count == 0 ? [] : policies.Select(static p => $"{p.Kind}|{p.Namespace}|{p.Name}").ToArray();

    private static FlowPolicyRef[] ParsePolicies(string[] values) =>
        values.Length == 0 ? [] : values.Select(static v =>
        {
            var parts = v.Split('|');
            return parts.Length == 3
                ? new FlowPolicyRef(parts[0].Length == 0 ? null : parts[0], parts[1].Length == 0 ? null : parts[1], parts[2])
                : new FlowPolicyRef(null, null, v);
        }).ToArray();

    private static KeyValuePair<string, string>[] ParseHeaders(string[] values) =>
        values.Select(static v =>
        {
            var colon = v.IndexOf(": ", StringComparison.Ordinal);
            return colon < 0 ? new KeyValuePair<string, string>(v, string.Empty) : new KeyValuePair<string, string>(v[..colon], v[(colon + 2)..]);
        }).ToArray();
}
