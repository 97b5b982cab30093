using System.Globalization;
using Palisade.Sets;

namespace Palisade.Flows.Records;

/// <summary>
/// One flow event as Hubble reports it (<c>flow.Flow</c> in Cilium's <c>flow.proto</c>), with the fields
/// Palisade keeps. A field Hubble did not give is null (or empty, for lists): unknown, not false or zero.
/// </summary>
/// <remarks>
/// Two records are equal when they are the same flow: the same <see cref="Id"/> at the same
/// <see cref="TimeUnixNanos"/>. That is the identity the stores deduplicate by; the other fields of two
/// records of one flow describe one event and are not compared.
/// </remarks>
public sealed record FlowRecord
{
    /// <summary>When the event happened, in nanoseconds since 1970-01-01 UTC.</summary>
    public required long TimeUnixNanos { get; init; }

    /// <summary>
    /// The flow's identity: Hubble's <c>uuid</c> when it gave one (<see cref="IdFromUuid"/>), otherwise a
    /// 128-bit hash of the flow's content, so that a flow read twice, from one file or two exports that
    /// overlap, is known as one.
    /// </summary>
    public required UInt128 Id { get; init; }

    /// <summary>True when <see cref="Id"/> is Hubble's uuid rather than a content hash.</summary>
    public bool IdFromUuid { get; init; }

    /// <summary>What Cilium did with the flow.</summary>
    public FlowVerdict Verdict { get; init; }

    /// <summary>Why a flow was dropped, as Hubble names it (<c>POLICY_DENIED</c>, <c>INVALID_SOURCE_IP</c>...); null when not given.</summary>
    public string? DropReason { get; init; }

    /// <summary>The node whose agent saw the flow (for a cluster mesh, <c>cluster/node</c>).</summary>
    public string? NodeName { get; init; }

    /// <summary>The IP version: 4, 6, or 0 when no IP header was given.</summary>
    public byte IpVersion { get; init; }

    /// <summary>The source address on Palisade's 128-bit line (IPv4 as IPv4-mapped IPv6); null when not given.</summary>
    public UInt128? SourceIp { get; init; }

    /// <summary>The destination address; null when not given.</summary>
    public UInt128? DestinationIp { get; init; }

    /// <summary>The layer-4 protocol; <see cref="FlowProtocol.None"/> when no layer-4 header was given.</summary>
    public FlowProtocol Protocol { get; init; }

    /// <summary>The source port for TCP, UDP and SCTP; 0 otherwise.</summary>
    public int SourcePort { get; init; }

    /// <summary>The destination port for TCP, UDP and SCTP; 0 otherwise.</summary>
    public int DestinationPort { get; init; }

    /// <summary>The TCP flags of the packet, for TCP.</summary>
    public TcpFlags TcpFlags { get; init; }

    /// <summary>The ICMP type, for ICMPv4 and ICMPv6.</summary>
    public int IcmpType { get; init; }

    /// <summary>The ICMP code, for ICMPv4 and ICMPv6.</summary>
    public int IcmpCode { get; init; }

    /// <summary>The source endpoint as Cilium knew it; <see cref="FlowEndpoint.Unknown"/> when not given.</summary>
    public FlowEndpoint Source { get; init; } = FlowEndpoint.Unknown;

    /// <summary>The destination endpoint; <see cref="FlowEndpoint.Unknown"/> when not given.</summary>
    public FlowEndpoint Destination { get; init; } = FlowEndpoint.Unknown;

    /// <summary>The DNS names the source's address was resolved from by the pods that saw it (<c>source_names</c>).</summary>
    public IReadOnlyList<string> SourceNames { get; init; } = [];

    /// <summary>The DNS names the destination address was resolved from (<c>destination_names</c>): how an outside address gets its name.</summary>
    public IReadOnlyList<string> DestinationNames { get; init; } = [];

    /// <summary>The Kubernetes service the source belongs to, when Cilium knew it.</summary>
    public FlowService? SourceService { get; init; }

    /// <summary>The Kubernetes service the destination was reached through, when Cilium knew it.</summary>
    public FlowService? DestinationService { get; init; }

    /// <summary>Which way the flow crossed the endpoint that saw it.</summary>
    public FlowDirection Direction { get; init; }

    /// <summary>True for a reply of an established connection; null when Hubble could not tell.</summary>
    public bool? IsReply { get; init; }

    /// <summary>Cilium's monitor event type (1 drop, 4 trace, 5 policy verdict, 129 layer-7 record...); null when not given.</summary>
    public int? EventType { get; init; }

    /// <summary>The event's sub-type (for a trace event, where it was observed; numbered as Cilium's monitor numbers it).</summary>
    public int? EventSubType { get; init; }

    /// <summary>Layer 3/4, layer 7 or socket.</summary>
    public FlowType Type { get; init; }

    /// <summary>For trace events, where in the data path the flow was seen (<c>TO_ENDPOINT</c>, <c>TO_STACK</c>...).</summary>
    public string? TraceObservationPoint { get; init; }

    /// <summary>For policy-verdict events, which kind of rule matched (Cilium's <c>policy_match_type</c>: 1 L3-L4, 2 L3, 3 L4, 4 all...); 0 when not given.</summary>
    public int PolicyMatchType { get; init; }

    /// <summary>For layer-7 records, request or response.</summary>
    public L7Type L7Type { get; init; }

    /// <summary>For a layer-7 response, how long the request took, in nanoseconds; 0 when not given.</summary>
    public long L7LatencyNanos { get; init; }

    /// <summary>The HTTP request or response, for HTTP layer-7 records.</summary>
    public HttpInfo? Http { get; init; }

    /// <summary>The DNS query or answer, for DNS layer-7 records.</summary>
    public DnsInfo? Dns { get; init; }

    /// <summary>The policies that allowed the flow on egress (newer Cilium versions give these).</summary>
    public IReadOnlyList<FlowPolicyRef> EgressAllowedBy { get; init; } = [];

    /// <summary>The policies that allowed the flow on ingress.</summary>
    public IReadOnlyList<FlowPolicyRef> IngressAllowedBy { get; init; } = [];

    /// <summary>The policies that denied the flow on egress.</summary>
    public IReadOnlyList<FlowPolicyRef> EgressDeniedBy { get; init; } = [];

    /// <summary>The policies that denied the flow on ingress.</summary>
    public IReadOnlyList<FlowPolicyRef> IngressDeniedBy { get; init; } = [];

    /// <summary>Hubble's one-line summary (<c>TCP Flags: SYN</c>, <c>HTTP/1.1 GET http://...</c>).</summary>
    public string? Summary { get; init; }

    /// <summary>What Palisade's policy engine says of the flow; null until the flow is attributed.</summary>
    public FlowAttribution? Attribution { get; init; }

    /// <summary>The time as a UTC date and time (to the tick: 100 ns).</summary>
    public DateTimeOffset Time => DateTimeOffset.UnixEpoch.AddTicks(TimeUnixNanos / 100);

    /// <inheritdoc />
    public bool Equals(FlowRecord? other) => other is not null && other.Id == Id && other.TimeUnixNanos == TimeUnixNanos;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Id, TimeUnixNanos);

    /// <summary>The flow's identity as text: the uuid, or <c>h:</c> and the content hash in hex.</summary>
    public string IdText => IdFromUuid ? FlowIds.ToGuid(Id).ToString() : "h:" + Id.ToString("x32", CultureInfo.InvariantCulture);

    /// <summary>The source address as text, or null.</summary>
    public string? SourceIpText => SourceIp is { } ip ? IpNumbers.Format(ip) : null;

    /// <summary>The destination address as text, or null.</summary>
    public string? DestinationIpText => DestinationIp is { } ip ? IpNumbers.Format(ip) : null;
}

/// <summary>
/// One end of a flow as Cilium knew it (<c>flow.Endpoint</c>). A pod has a namespace and pod name; an
/// address outside the cluster has only a reserved identity and label (<c>reserved:world</c>).
/// </summary>
public sealed record FlowEndpoint
{
    /// <summary>An endpoint about which Hubble said nothing.</summary>
    public static readonly FlowEndpoint Unknown = new();

    /// <summary>Cilium's endpoint id on its node; 0 when not given (remote or outside endpoints).</summary>
    public int EndpointId { get; init; }

    /// <summary>Cilium's security identity (1 host, 2 world, 6 remote-node...; 256 and up for pods); 0 when not given.</summary>
    public long Identity { get; init; }

    /// <summary>The cluster of a cluster mesh, when given.</summary>
    public string? ClusterName { get; init; }

    /// <summary>The pod's namespace.</summary>
    public string? Namespace { get; init; }

    /// <summary>The pod's name.</summary>
    public string? PodName { get; init; }

    /// <summary>Cilium's labels, <c>source:key=value</c> (<c>k8s:app=web</c>, <c>reserved:world</c>), in Hubble's order.</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];

    /// <summary>The workloads that own the pod (a Deployment, a StatefulSet...), when given.</summary>
    public IReadOnlyList<FlowWorkload> Workloads { get; init; } = [];

    /// <summary>True when nothing is known of the endpoint.</summary>
    public bool IsUnknown => EndpointId == 0 && Identity == 0 && Namespace is null && PodName is null && Labels.Count == 0;

    /// <summary><c>namespace/pod</c> for a pod; the first reserved label for others (<c>reserved:world</c>); otherwise null.</summary>
    public string? Display
    {
        get
        {
            if (PodName is not null)
            {
                return Namespace is null ? PodName : $"{Namespace}/{PodName}";
            }

            foreach (var label in Labels)
            {
                if (label.StartsWith("reserved:", StringComparison.Ordinal))
                {
                    return label;
                }
            }

            return Namespace;
        }
    }

    /// <summary>The workload, <c>Kind/name</c>, when Hubble gave one.</summary>
    public string? WorkloadText => Workloads.Count == 0 ? null : $"{Workloads[0].Kind}/{Workloads[0].Name}";

    /// <inheritdoc />
    public bool Equals(FlowEndpoint? other) =>
        other is not null && other.EndpointId == EndpointId && other.Identity == Identity && other.ClusterName == ClusterName &&
        other.Namespace == Namespace && other.PodName == PodName && Labels.SequenceEqual(other.Labels) && Workloads.SequenceEqual(other.Workloads);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(EndpointId, Identity, Namespace, PodName, Labels.Count, Labels.Count > 0 ? Labels[0] : null);
}

/// <summary>A workload that owns a pod (<c>flow.Workload</c>).</summary>
public sealed record FlowWorkload(string Kind, string Name);

/// <summary>A Kubernetes service (<c>flow.Service</c>).</summary>
public sealed record FlowService(string? Namespace, string Name);

/// <summary>A policy Cilium names as having allowed or denied a flow (<c>flow.Policy</c>).</summary>
public sealed record FlowPolicyRef(string? Kind, string? Namespace, string Name)
{
    /// <inheritdoc />
    public override string ToString() => $"{Kind ?? "Policy"} {(Namespace is null ? string.Empty : Namespace + "/")}{Name}";
}

/// <summary>An HTTP request or response seen by Cilium's proxy (<c>flow.HTTP</c>).</summary>
public sealed record HttpInfo
{
    /// <summary>The response status code; 0 for a request.</summary>
    public int Code { get; init; }

    /// <summary>The request method.</summary>
    public string? Method { get; init; }

    /// <summary>The full request URL.</summary>
    public string? Url { get; init; }

    /// <summary>The protocol, for example <c>HTTP/1.1</c>.</summary>
    public string? Protocol { get; init; }

    /// <summary>The headers Hubble reported, in its order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <inheritdoc />
    public bool Equals(HttpInfo? other) =>
        other is not null && other.Code == Code && other.Method == Method && other.Url == Url && other.Protocol == Protocol && Headers.SequenceEqual(other.Headers);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Code, Method, Url, Protocol, Headers.Count);
}

/// <summary>A DNS query or answer seen by Cilium's DNS proxy (<c>flow.DNS</c>).</summary>
public sealed record DnsInfo
{
    /// <summary>The name asked for, as in the query (usually with a trailing dot).</summary>
    public string? Query { get; init; }

    /// <summary>The addresses in the answer.</summary>
    public IReadOnlyList<string> Ips { get; init; } = [];

    /// <summary>The answer's TTL in seconds.</summary>
    public long Ttl { get; init; }

    /// <summary>The CNAMEs in the answer.</summary>
    public IReadOnlyList<string> Cnames { get; init; } = [];

    /// <summary>The response code (0 NOERROR, 3 NXDOMAIN...); 0 for a query.</summary>
    public int Rcode { get; init; }

    /// <summary>The query types (<c>A</c>, <c>AAAA</c>).</summary>
    public IReadOnlyList<string> Qtypes { get; init; } = [];

    /// <summary>The resource-record types of the answer.</summary>
    public IReadOnlyList<string> Rrtypes { get; init; } = [];

    /// <summary>What observed the DNS traffic (<c>proxy</c>).</summary>
    public string? ObservationSource { get; init; }

    /// <inheritdoc />
    public bool Equals(DnsInfo? other) =>
        other is not null && other.Query == Query && other.Ttl == Ttl && other.Rcode == Rcode && other.ObservationSource == ObservationSource &&
        Ips.SequenceEqual(other.Ips) && Cnames.SequenceEqual(other.Cnames) && Qtypes.SequenceEqual(other.Qtypes) && Rrtypes.SequenceEqual(other.Rrtypes);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Query, Rcode, Ips.Count);
}
