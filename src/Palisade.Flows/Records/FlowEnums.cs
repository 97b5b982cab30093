namespace Palisade.Flows.Records;

/// <summary>What Cilium did with a flow; Hubble's <c>flow.Verdict</c>, with its numbers.</summary>
public enum FlowVerdict : byte
{
    /// <summary>Not given, or a value this version of Palisade does not know.</summary>
    Unknown = 0,

    /// <summary>Passed on to its destination.</summary>
    Forwarded = 1,

    /// <summary>Dropped; <see cref="FlowRecord.DropReason"/> says why.</summary>
    Dropped = 2,

    /// <summary>An error occurred while processing it.</summary>
    Error = 3,

    /// <summary>Would have been dropped, but the policy is in audit mode.</summary>
    Audit = 4,

    /// <summary>Redirected to a proxy (Cilium's layer-7 proxy or DNS proxy).</summary>
    Redirected = 5,

    /// <summary>Traced through the data path.</summary>
    Traced = 6,

    /// <summary>Translated (for example by service load balancing).</summary>
    Translated = 7,
}

/// <summary>Which way a flow crossed the endpoint that saw it; Hubble's <c>flow.TrafficDirection</c>.</summary>
public enum FlowDirection : byte
{
    /// <summary>Not given.</summary>
    Unknown = 0,

    /// <summary>Into the endpoint.</summary>
    Ingress = 1,

    /// <summary>Out of the endpoint.</summary>
    Egress = 2,
}

/// <summary>Hubble's <c>flow.FlowType</c>: a layer 3/4 event, a layer-7 proxy record, or a socket event.</summary>
public enum FlowType : byte
{
    /// <summary>Not given.</summary>
    Unknown = 0,

    /// <summary>A layer 3/4 event from the data path.</summary>
    L3L4 = 1,

    /// <summary>A layer-7 record from a proxy (HTTP, DNS, Kafka).</summary>
    L7 = 2,

    /// <summary>A socket-level event.</summary>
    Sock = 3,
}

/// <summary>Hubble's <c>flow.L7FlowType</c>.</summary>
public enum L7Type : byte
{
    /// <summary>Not given, or not a layer-7 flow.</summary>
    Unknown = 0,

    /// <summary>A request (HTTP request, DNS query).</summary>
    Request = 1,

    /// <summary>A response (HTTP response, DNS answer).</summary>
    Response = 2,

    /// <summary>A sampled record.</summary>
    Sample = 3,
}

/// <summary>The transport of a flow, by its IANA protocol number.</summary>
public enum FlowProtocol : byte
{
    /// <summary>No layer-4 header was given.</summary>
    None = 0,

    /// <summary>ICMP for IPv4.</summary>
    Icmpv4 = 1,

    /// <summary>TCP.</summary>
    Tcp = 6,

    /// <summary>UDP.</summary>
    Udp = 17,

    /// <summary>ICMP for IPv6.</summary>
    Icmpv6 = 58,

    /// <summary>SCTP.</summary>
    Sctp = 132,
}

/// <summary>TCP flags as Hubble reports them (<c>flow.TCPFlags</c>).</summary>
[Flags]
public enum TcpFlags : ushort
{
    /// <summary>No flag set, or none reported.</summary>
    None = 0,

    /// <summary>FIN.</summary>
    Fin = 1,

    /// <summary>SYN.</summary>
    Syn = 2,

    /// <summary>RST.</summary>
    Rst = 4,

    /// <summary>PSH.</summary>
    Psh = 8,

    /// <summary>ACK.</summary>
    Ack = 16,

    /// <summary>URG.</summary>
    Urg = 32,

    /// <summary>ECE.</summary>
    Ece = 64,

    /// <summary>CWR.</summary>
    Cwr = 128,

    /// <summary>NS.</summary>
    Ns = 256,
}

/// <summary>Names for the enums above, as Hubble's JSON spells them.</summary>
public static class FlowNames
{
    /// <summary>Hubble's name of a verdict (<c>FORWARDED</c>, <c>DROPPED</c>...).</summary>
    public static string Name(this FlowVerdict verdict) => verdict switch
    {
        FlowVerdict.Forwarded => "FORWARDED",
        FlowVerdict.Dropped => "DROPPED",
        FlowVerdict.Error => "ERROR",
        FlowVerdict.Audit => "AUDIT",
        FlowVerdict.Redirected => "REDIRECTED",
        FlowVerdict.Traced => "TRACED",
        FlowVerdict.Translated => "TRANSLATED",
        _ => "VERDICT_UNKNOWN",
    };

    /// <summary>Reads a verdict name, case-insensitively; false for a name Hubble does not use.</summary>
    public static bool TryParseVerdict(string text, out FlowVerdict verdict)
    {
        for (var v = FlowVerdict.Unknown; v <= FlowVerdict.Translated; v++)
        {
            if (string.Equals(v.Name(), text, StringComparison.OrdinalIgnoreCase))
            {
                verdict = v;
                return true;
            }
        }

        verdict = FlowVerdict.Unknown;
        return false;
    }

    /// <summary>Hubble's name of a traffic direction.</summary>
    public static string Name(this FlowDirection direction) => direction switch
    {
        FlowDirection.Ingress => "INGRESS",
        FlowDirection.Egress => "EGRESS",
        _ => "TRAFFIC_DIRECTION_UNKNOWN",
    };

    /// <summary>Hubble's name of a flow type.</summary>
    public static string Name(this FlowType type) => type switch
    {
        FlowType.L3L4 => "L3_L4",
        FlowType.L7 => "L7",
        FlowType.Sock => "SOCK",
        _ => "UNKNOWN_TYPE",
    };

    /// <summary>Hubble's name of a layer-7 record type.</summary>
    public static string Name(this L7Type type) => type switch
    {
        L7Type.Request => "REQUEST",
        L7Type.Response => "RESPONSE",
        L7Type.Sample => "SAMPLE",
        _ => "UNKNOWN_L7_TYPE",
    };

    /// <summary>The protocol as <c>hubble observe --protocol</c> names it (<c>tcp</c>, <c>icmpv4</c>...), upper case.</summary>
    public static string Name(this FlowProtocol protocol) => protocol switch
    {
        FlowProtocol.Tcp => "TCP",
        FlowProtocol.Udp => "UDP",
        FlowProtocol.Sctp => "SCTP",
        FlowProtocol.Icmpv4 => "ICMPv4",
        FlowProtocol.Icmpv6 => "ICMPv6",
        _ => "none",
    };

    /// <summary>Reads a protocol name, case-insensitively (<c>tcp</c>, <c>ICMPv4</c>, <c>icmp</c> for both ICMPs is not accepted).</summary>
    public static bool TryParseProtocol(string text, out FlowProtocol protocol)
    {
        foreach (var p in (ReadOnlySpan<FlowProtocol>)[FlowProtocol.Tcp, FlowProtocol.Udp, FlowProtocol.Sctp, FlowProtocol.Icmpv4, FlowProtocol.Icmpv6])
        {
            if (string.Equals(p.Name(), text, StringComparison.OrdinalIgnoreCase))
            {
                protocol = p;
                return true;
            }
        }

        protocol = FlowProtocol.None;
        return false;
    }
}
