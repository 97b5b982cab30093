namespace Palisade.Sets;

/// <summary>The transport protocols that Kubernetes NetworkPolicy distinguishes.</summary>
public enum Protocol : byte
{
    /// <summary>TCP; the default where a policy names no protocol.</summary>
    Tcp = 0,

    /// <summary>UDP.</summary>
    Udp = 1,

    /// <summary>SCTP.</summary>
    Sctp = 2,
}

/// <summary>Parsing and printing of <see cref="Protocol"/> in the upper-case form manifests use.</summary>
public static class Protocols
{
    /// <summary>Every protocol, in the order connection sets print them (alphabetical: SCTP, TCP, UDP).</summary>
    public static readonly IReadOnlyList<Protocol> PrintOrder = [Protocol.Sctp, Protocol.Tcp, Protocol.Udp];

    /// <summary>Every protocol in enum order.</summary>
    public static readonly IReadOnlyList<Protocol> All = [Protocol.Tcp, Protocol.Udp, Protocol.Sctp];

    /// <summary>The manifest spelling: <c>TCP</c>, <c>UDP</c> or <c>SCTP</c>.</summary>
    public static string Name(this Protocol protocol) => protocol switch
    {
        Protocol.Tcp => "TCP",
        Protocol.Udp => "UDP",
        Protocol.Sctp => "SCTP",
        _ => throw new ArgumentOutOfRangeException(nameof(protocol)),
    };

    /// <summary>Reads <c>TCP</c>, <c>UDP</c> or <c>SCTP</c>; case-insensitive, as <c>palisade eval</c> accepts it.</summary>
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
            default:
                protocol = Protocol.Tcp;
                return false;
        }
    }
}
