using System.Globalization;
using System.Text;
using System.Text.Json;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;

namespace Palisade.Flows.Output;

/// <summary>
/// Writes flows as JSON lines: Hubble's jsonpb form (a <c>GetFlowsResponse</c> per line, proto field
/// names, zero values left out), which Hubble's tools and Palisade's reader read back; or Palisade's own
/// flat form, with the attribution.
/// </summary>
public static class FlowJson
{
    private static readonly JsonWriterOptions Options = new() { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>One line of <c>hubble observe -o jsonpb</c> for the flow (no line break).</summary>
    public static string ToJsonpb(FlowRecord flow)
    {
        ArgumentNullException.ThrowIfNull(flow);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Options))
        {
            var time = Rfc3339.Format(flow.TimeUnixNanos);
            json.WriteStartObject();
            json.WritePropertyName("flow"u8);
            json.WriteStartObject();
            json.WriteString("time"u8, time);
            if (flow.IdFromUuid)
            {
                json.WriteString("uuid"u8, flow.IdText);
            }

            if (flow.Verdict != FlowVerdict.Unknown)
            {
                json.WriteString("verdict"u8, flow.Verdict.Name());
            }

            if (flow.IpVersion != 0 || flow.SourceIp is not null || flow.DestinationIp is not null)
            {
                json.WritePropertyName("IP"u8);
                json.WriteStartObject();
                WriteIfSet(json, "source"u8, flow.SourceIpText);
                WriteIfSet(json, "destination"u8, flow.DestinationIpText);
                if (flow.IpVersion != 0)
                {
                    json.WriteString("ipVersion"u8, flow.IpVersion == 4 ? "IPv4" : "IPv6");
                }

                json.WriteEndObject();
            }

            WriteL4(json, flow);
            WriteEndpoint(json, "source"u8, flow.Source);
            WriteEndpoint(json, "destination"u8, flow.Destination);
            if (flow.Type != FlowType.Unknown)
            {
                json.WriteString("Type"u8, flow.Type.Name());
            }

            WriteIfSet(json, "node_name"u8, flow.NodeName);
            WriteStrings(json, "source_names"u8, flow.SourceNames);
            WriteStrings(json, "destination_names"u8, flow.DestinationNames);
            WriteL7(json, flow);
            if (flow.IsReply == true)
            {
                json.WriteBoolean("reply"u8, true);
            }

            if (flow.EventType is { } eventType)
            {
                json.WritePropertyName("event_type"u8);
                json.WriteStartObject();
                WriteIfNonZero(json, "type"u8, eventType);
                WriteIfNonZero(json, "sub_type"u8, flow.EventSubType ?? 0);
                json.WriteEndObject();
            }

            WriteService(json, "source_service"u8, flow.SourceService);
            WriteService(json, "destination_service"u8, flow.DestinationService);
            if (flow.Direction != FlowDirection.Unknown)
            {
                json.WriteString("traffic_direction"u8, flow.Direction.Name());
            }

            WriteIfNonZero(json, "policy_match_type"u8, flow.PolicyMatchType);
            WriteIfSet(json, "trace_observation_point"u8, flow.TraceObservationPoint);
            WriteIfSet(json, "drop_reason_desc"u8, flow.DropReason);
            if (flow.IsReply is { } isReply)
            {
                json.WriteBoolean("is_reply"u8, isReply);
            }

            WriteIfSet(json, "Summary"u8, flow.Summary);
            WritePolicies(json, "egress_allowed_by"u8, flow.EgressAllowedBy);
            WritePolicies(json, "ingress_allowed_by"u8, flow.IngressAllowedBy);
            WritePolicies(json, "egress_denied_by"u8, flow.EgressDeniedBy);
            WritePolicies(json, "ingress_denied_by"u8, flow.IngressDeniedBy);
            json.WriteEndObject();
            WriteIfSet(json, "node_name"u8, flow.NodeName);
            json.WriteString("time"u8, time);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>Palisade's flat JSON for a flow, one object (no line break), with what the engine said of it.</summary>
    public static string ToFlatJson(FlowRecord flow)
    {
        ArgumentNullException.ThrowIfNull(flow);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Options))
        {
            json.WriteStartObject();
            json.WriteString("time"u8, Rfc3339.Format(flow.TimeUnixNanos));
            json.WriteString("id"u8, flow.IdText);
            json.WriteString("verdict"u8, flow.Verdict.Name());
            WriteIfSet(json, "drop_reason"u8, flow.DropReason);
            WriteIfSet(json, "node"u8, flow.NodeName);
            WriteIfSet(json, "source"u8, flow.Source.Display);
            WriteIfSet(json, "source_ip"u8, flow.SourceIpText);
            WriteIfSet(json, "source_workload"u8, flow.Source.WorkloadText);
            WriteIfSet(json, "destination"u8, flow.Destination.Display);
            WriteIfSet(json, "destination_ip"u8, flow.DestinationIpText);
            WriteIfSet(json, "destination_workload"u8, flow.Destination.WorkloadText);
            WriteStrings(json, "destination_names"u8, flow.DestinationNames);
            json.WriteString("protocol"u8, flow.Protocol.Name());
            if (flow.Protocol is FlowProtocol.Tcp or FlowProtocol.Udp or FlowProtocol.Sctp)
            {
                json.WriteNumber("source_port"u8, flow.SourcePort);
                json.WriteNumber("destination_port"u8, flow.DestinationPort);
            }

            if (flow.Direction != FlowDirection.Unknown)
            {
                json.WriteString("direction"u8, flow.Direction.Name());
            }

            if (flow.IsReply is { } reply)
            {
                json.WriteBoolean("is_reply"u8, reply);
            }

            if (flow.EventType is { } eventType)
            {
                json.WriteNumber("event_type"u8, eventType);
            }

            if (flow.Http is { } http)
            {
                WriteIfSet(json, "http_method"u8, http.Method);
                WriteIfSet(json, "http_url"u8, http.Url);
                WriteIfNonZero(json, "http_status"u8, http.Code);
            }

            if (flow.Dns is { } dns)
            {
                WriteIfSet(json, "dns_query"u8, dns.Query);
                WriteStrings(json, "dns_ips"u8, dns.Ips);
            }

            WriteIfSet(json, "summary"u8, flow.Summary);
            if (flow.Attribution is { } a)
            {
                json.WriteString("engine_verdict"u8, a.Verdict.ToString().ToUpperInvariant());
                WriteIfSet(json, "tier"u8, a.Tier);
                WriteIfSet(json, "policy"u8, a.Policy);
                WriteIfSet(json, "rule"u8, a.Rule);
                WriteIfSet(json, "project"u8, a.Project);
                if (a.Disagreement != Disagreement.None)
                {
                    json.WriteString("disagreement"u8, a.Disagreement == Disagreement.ForwardedButDenied ? "forwarded-but-denied" : "dropped-but-allowed");
                }
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static void WriteL4(Utf8JsonWriter json, FlowRecord flow)
    {
        if (flow.Protocol == FlowProtocol.None)
        {
            return;
        }

        json.WritePropertyName("l4"u8);
        json.WriteStartObject();
        json.WritePropertyName(flow.Protocol switch
        {
            FlowProtocol.Tcp => "TCP",
            FlowProtocol.Udp => "UDP",
            FlowProtocol.Sctp => "SCTP",
            FlowProtocol.Icmpv4 => "ICMPv4",
            _ => "ICMPv6",
        });
        json.WriteStartObject();
        if (flow.Protocol is FlowProtocol.Icmpv4 or FlowProtocol.Icmpv6)
        {
            WriteIfNonZero(json, "type"u8, flow.IcmpType);
            WriteIfNonZero(json, "code"u8, flow.IcmpCode);
        }
        else
        {
            WriteIfNonZero(json, "source_port"u8, flow.SourcePort);
            WriteIfNonZero(json, "destination_port"u8, flow.DestinationPort);
            if (flow.TcpFlags != TcpFlags.None)
            {
                json.WritePropertyName("flags"u8);
                json.WriteStartObject();
                foreach (var (name, flag) in (ReadOnlySpan<(string, TcpFlags)>)[("FIN", TcpFlags.Fin), ("SYN", TcpFlags.Syn), ("RST", TcpFlags.Rst), ("PSH", TcpFlags.Psh), ("ACK", TcpFlags.Ack), ("URG", TcpFlags.Urg), ("ECE", TcpFlags.Ece), ("CWR", TcpFlags.Cwr), ("NS", TcpFlags.Ns)])
                {
                    if (flow.TcpFlags.HasFlag(flag))
                    {
                        json.WriteBoolean(name, true);
                    }
                }

                json.WriteEndObject();
            }
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void WriteEndpoint(Utf8JsonWriter json, ReadOnlySpan<byte> name, FlowEndpoint endpoint)
    {
        json.WritePropertyName(name);
        json.WriteStartObject();
        WriteIfNonZero(json, "ID"u8, endpoint.EndpointId);
        if (endpoint.Identity != 0)
        {
            json.WriteNumber("identity"u8, endpoint.Identity);
        }

        WriteIfSet(json, "cluster_name"u8, endpoint.ClusterName);
        WriteIfSet(json, "namespace"u8, endpoint.Namespace);
        WriteStrings(json, "labels"u8, endpoint.Labels);
        WriteIfSet(json, "pod_name"u8, endpoint.PodName);
        if (endpoint.Workloads.Count > 0)
        {
            json.WritePropertyName("workloads"u8);
            json.WriteStartArray();
            foreach (var workload in endpoint.Workloads)
            {
                json.WriteStartObject();
                json.WriteString("name"u8, workload.Name);
                json.WriteString("kind"u8, workload.Kind);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        json.WriteEndObject();
    }

    private static void WriteL7(Utf8JsonWriter json, FlowRecord flow)
    {
        if (flow.L7Type == L7Type.Unknown && flow.Http is null && flow.Dns is null)
        {
            return;
        }

        json.WritePropertyName("l7"u8);
        json.WriteStartObject();
        if (flow.L7Type != L7Type.Unknown)
        {
            json.WriteString("type"u8, flow.L7Type.Name());
        }

        if (flow.L7LatencyNanos != 0)
        {
            json.WriteString("latency_ns"u8, flow.L7LatencyNanos.ToString(CultureInfo.InvariantCulture));
        }

        if (flow.Dns is { } dns)
        {
            json.WritePropertyName("dns"u8);
            json.WriteStartObject();
            WriteIfSet(json, "query"u8, dns.Query);
            WriteStrings(json, "ips"u8, dns.Ips);
            if (dns.Ttl != 0)
            {
                json.WriteNumber("ttl"u8, dns.Ttl);
            }

            WriteStrings(json, "cnames"u8, dns.Cnames);
            WriteIfSet(json, "observation_source"u8, dns.ObservationSource);
            WriteIfNonZero(json, "rcode"u8, dns.Rcode);
            WriteStrings(json, "qtypes"u8, dns.Qtypes);
            WriteStrings(json, "rrtypes"u8, dns.Rrtypes);
            json.WriteEndObject();
        }

        if (flow.Http is { } http)
        {
            json.WritePropertyName("http"u8);
            json.WriteStartObject();
            WriteIfNonZero(json, "code"u8, http.Code);
            WriteIfSet(json, "method"u8, http.Method);
            WriteIfSet(json, "url"u8, http.Url);
            WriteIfSet(json, "protocol"u8, http.Protocol);
            if (http.Headers.Count > 0)
            {
                json.WritePropertyName("headers"u8);
                json.WriteStartArray();
                foreach (var (key, value) in http.Headers)
                {
                    json.WriteStartObject();
                    json.WriteString("key"u8, key);
                    json.WriteString("value"u8, value);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
            }

            json.WriteEndObject();
        }

        json.WriteEndObject();
    }

    private static void WriteService(Utf8JsonWriter json, ReadOnlySpan<byte> name, FlowService? service)
    {
        if (service is null)
        {
            return;
        }

        json.WritePropertyName(name);
        json.WriteStartObject();
        json.WriteString("name"u8, service.Name);
        WriteIfSet(json, "namespace"u8, service.Namespace);
        json.WriteEndObject();
    }

    private static void WritePolicies(Utf8JsonWriter json, ReadOnlySpan<byte> name, IReadOnlyList<FlowPolicyRef> policies)
    {
        if (policies.Count == 0)
        {
            return;
        }

        json.WritePropertyName(name);
        json.WriteStartArray();
        foreach (var policy in policies)
        {
            json.WriteStartObject();
            json.WriteString("name"u8, policy.Name);
            WriteIfSet(json, "namespace"u8, policy.Namespace);
            WriteIfSet(json, "kind"u8, policy.Kind);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void WriteStrings(Utf8JsonWriter json, ReadOnlySpan<byte> name, IReadOnlyList<string> values)
    {
        if (values.Count == 0)
        {
            return;
        }

        json.WritePropertyName(name);
        json.WriteStartArray();
        foreach (var value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }

    private static void WriteIfSet(Utf8JsonWriter json, ReadOnlySpan<byte> name, string? value)
    {
        if (value is not null)
        {
            json.WriteString(name, value);
        }
    }

    private static void WriteIfNonZero(Utf8JsonWriter json, ReadOnlySpan<byte> name, long value)
    {
        if (value != 0)
        {
            json.WriteNumber(name, value);
        }
    }
}
