namespace Palisade.Sets;

/// <summary>
/// The protocols a connection may carry: the transport protocols Kubernetes NetworkPolicy names, and
/// ICMP for IPv4 and IPv6, which only Cilium's <c>icmps</c> rules name (by message type, which takes
/// the place of a port) and which every rule without ports admits.
/// </summary>
public enum Protocol : byte
{
    /// <summary>TCP; the default where a policy names no protocol.</summary>
    Tcp = 0,

    /// <summary>UDP.</summary>
    Udp = 1,

    /// <summary>SCTP.</summary>
    Sctp = 2,

    /// <summary>ICMP for IPv4; its "ports" are message types (8 is an echo request).</summary>
    Icmp = 3,

    /// <summary>ICMP for IPv6; its "ports" are message types (128 is an echo request).</summary>
    IcmpV6 = 4,
}

/// <summary>Parsing and printing of <see cref="Protocol"/> in the upper-case form manifests use.</summary>
public static class Protocols
{
    /// <summary>Every protocol, in the order connection sets print them (alphabetical, as netpol-analyzer's: ICMP, ICMPv6, SCTP, TCP, UDP).</summary>
    public static readonly IReadOnlyList<Protocol> PrintOrder = [Protocol.Icmp, Protocol.IcmpV6, Protocol.Sctp, Protocol.Tcp, Protocol.Udp];

    /// <summary>Every protocol in enum order.</summary>
    public static readonly IReadOnlyList<Protocol> All = [Protocol.Tcp, Protocol.Udp, Protocol.Sctp, Protocol.Icmp, Protocol.IcmpV6];

    /// <summary>The transport protocols, which have ports: TCP, UDP and SCTP.</summary>
    public static readonly IReadOnlyList<Protocol> Transport = [Protocol.Tcp, Protocol.Udp, Protocol.Sctp];

    /// <summary>Whether <paramref name="protocol"/> is ICMP (for either IP version), whose "ports" are message types.</summary>
    public static bool IsIcmp(this Protocol protocol) => protocol is Protocol.Icmp or Protocol.IcmpV6;

    /// <summary>The lowest port (or ICMP type) of <paramref name="protocol"/>: 1, or 0 for ICMP.</summary>
    public static int MinPort(this Protocol protocol) => protocol.IsIcmp() ? 0 : 1;

    /// <summary>The highest port (or ICMP type) of <paramref name="protocol"/>: 65535, or 255 for ICMP.</summary>
    public static int MaxPort(this Protocol protocol) => protocol.IsIcmp() ? 255 : 65535;

    /// <summary>The manifest spelling: <c>TCP</c>, <c>UDP</c>, <c>SCTP</c>, <c>ICMP</c> or <c>ICMPv6</c>.</summary>
    public static string Name(this Protocol protocol) => protocol switch
    {
        Protocol.Tcp => "TCP",
        Protocol.Udp => "UDP",
        Protocol.Sctp => "SCTP",
        Protocol.Icmp => "ICMP",
        Protocol.IcmpV6 => "ICMPv6",
        _ => throw new ArgumentOutOfRangeException(nameof(protocol)),
    };

    /// <summary>
    /// Reads <c>TCP</c>, <c>UDP</c>, <c>SCTP</c>, <c>ICMP</c> (also <c>ICMPv4</c>) or <c>ICMPv6</c>;
    /// case-insensitive, as <c>palisade eval</c> accepts it. Manifest readers accept only the
    /// transport protocols where Kubernetes does.
    /// </summary>
    public static bool TryParse(string? text, out Protocol protocol)
    {
        switch (text?.ToUpperInvariant())
        {
            case "TCP":
                protocol = Protocol.Tcp;
                return true;
            case "UDP":
                protocol = Protocol.Udp;
                return true;
            case "SCTP":
                protocol = Protocol.Sctp;
                return true;
            case "ICMP" or "ICMPV4":
                protocol = Protocol.Icmp;
                return true;
            case "ICMPV6":
                protocol = Protocol.IcmpV6;
                return true;
            default:
                protocol = Protocol.Tcp;
                return false;
        }
    }
}
