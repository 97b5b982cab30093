using System.Globalization;
using System.Text;

namespace Palisade.Sets;

/// <summary>
/// An immutable set of (protocol, port) pairs: what a rule admits or a connection carries. Ports run
/// from 1 to 65535 for each of TCP, UDP and SCTP; for ICMP and ICMPv6 the "port" is the message type,
/// 0 to 255, as Cilium treats it. Internally one <see cref="IntervalSet{T}"/> over the key
/// <c>protocol * 65536 + port</c>, so union, intersection and difference are single merges.
/// </summary>
public sealed class ConnectionSet : IEquatable<ConnectionSet>
{
    private const uint Stride = 65536;

    /// <summary>No connection at all.</summary>
    public static readonly ConnectionSet None = new(IntervalSet<uint>.Empty);

    /// <summary>Every port of every protocol, ICMP included: what a rule without ports admits ("All Connections").</summary>
    public static readonly ConnectionSet All = Every(Protocols.All);

    /// <summary>Every port of TCP, UDP and SCTP, and no ICMP: all that netpol-analyzer's model holds.</summary>
    public static readonly ConnectionSet Transport = Every(Protocols.Transport);

    /// <summary>Every ICMP and ICMPv6 message type.</summary>
    public static readonly ConnectionSet AllIcmp = Every([Protocol.Icmp, Protocol.IcmpV6]);

    private ConnectionSet(IntervalSet<uint> keys) => Keys = keys;

    /// <summary>The underlying key intervals (<c>protocol * 65536 + port</c>).</summary>
    internal IntervalSet<uint> Keys { get; }

    /// <summary>Whether the set holds no connection.</summary>
    public bool IsEmpty => Keys.IsEmpty;

    /// <summary>Whether the set holds every port of every protocol, ICMP included.</summary>
    public bool IsAll => Equals(All);

    private static uint Key(Protocol protocol, int port) => ((uint)protocol * Stride) + (uint)port;

    private static ConnectionSet Every(IEnumerable<Protocol> protocols) => new(IntervalSet<uint>.FromIntervals(
        protocols.Select(static p => new Interval<uint>(Key(p, p.MinPort()), Key(p, p.MaxPort())))));

    /// <summary>Every port of <paramref name="protocol"/>.</summary>
    public static ConnectionSet AllPorts(Protocol protocol) => Ports(protocol, protocol.MinPort(), protocol.MaxPort());

    /// <summary>Ports (or ICMP types) <paramref name="from"/> to <paramref name="to"/> (inclusive) of <paramref name="protocol"/>.</summary>
    public static ConnectionSet Ports(Protocol protocol, int from, int to)
    {
        if (from < protocol.MinPort() || to > protocol.MaxPort() || from > to)
        {
            throw new ArgumentOutOfRangeException(nameof(from), $"{protocol.Name()} range {from}-{to} is not within {protocol.MinPort()}-{protocol.MaxPort()}.");
        }

        return new ConnectionSet(IntervalSet<uint>.Range(Key(protocol, from), Key(protocol, to)));
    }

    /// <summary>One port of one protocol.</summary>
    public static ConnectionSet Port(Protocol protocol, int port) => Ports(protocol, port, port);

    /// <summary>Whether the set admits <paramref name="port"/> over <paramref name="protocol"/>.</summary>
    public bool Contains(Protocol protocol, int port) => Keys.Contains(Key(protocol, port));

    /// <summary>Connections in either set.</summary>
    public ConnectionSet Union(ConnectionSet other) => Wrap(Keys.Union(other.Keys), other);

    /// <summary>Connections in both sets.</summary>
    public ConnectionSet Intersect(ConnectionSet other) => Wrap(Keys.Intersect(other.Keys), other);

    /// <summary>Connections in this set and not in <paramref name="other"/>.</summary>
    public ConnectionSet Except(ConnectionSet other) => Wrap(Keys.Except(other.Keys), other);

    /// <summary>Whether every connection of this set is in <paramref name="other"/>.</summary>
    public bool IsSubsetOf(ConnectionSet other) => Keys.IsSubsetOf(other.Keys);

    /// <summary>Whether the sets share a connection.</summary>
    public bool Overlaps(ConnectionSet other) => Keys.Overlaps(other.Keys);

    private ConnectionSet Wrap(IntervalSet<uint> keys, ConnectionSet other)
    {
        if (ReferenceEquals(keys, Keys))
        {
            return this;
        }

        if (ReferenceEquals(keys, other.Keys))
        {
            return other;
        }

        return keys.IsEmpty ? None : new ConnectionSet(keys);
    }

    /// <summary>The port intervals of one protocol, ascending.</summary>
    public IReadOnlyList<(int From, int To)> PortsOf(Protocol protocol)
    {
        var list = new List<(int, int)>();
        var lo = Key(protocol, 0);
        var hi = Key(protocol, protocol.MaxPort());
        foreach (var interval in Keys.Intervals)
        {
            if (interval.Hi < lo || interval.Lo > hi)
            {
                continue;
            }

            list.Add(((int)(Math.Max(interval.Lo, lo) - lo), (int)(Math.Min(interval.Hi, hi) - lo)));
        }

        return list;
    }

    /// <summary>
    /// What netpol-analyzer's text describes of the set: TCP, UDP and SCTP, and ICMP only where it is
    /// neither wholly admitted nor wholly refused (only Cilium's <c>icmps</c> rules name ICMP types;
    /// every rule without ports admits all of it, and netpol-analyzer knows no ICMP).
    /// </summary>
    public ConnectionSet Reported => _reported ??= ReportedPart();

    // Kept once computed (sets are immutable and shared): reports ask for it line by line.
    private ConnectionSet? _reported;

    private ConnectionSet ReportedPart()
    {
        var icmp = Intersect(AllIcmp);
        return icmp.IsEmpty || icmp.Equals(AllIcmp) ? Intersect(Transport) : this;
    }

    /// <summary>
    /// netpol-analyzer's text of <see cref="Reported"/>: <c>All Connections</c> (every port of TCP, UDP
    /// and SCTP), <c>No Connections</c>, or protocols in alphabetical order with their ports, e.g.
    /// <c>SCTP 9003,TCP 80,8080-8090,UDP 53</c>, ICMP types as ports (<c>ICMP 8,TCP 5432</c>).
    /// <see cref="Describe"/> leaves nothing out.
    /// </summary>
    public override string ToString()
    {
        var reported = Reported;
        if (reported.Equals(Transport))
        {
            return "All Connections";
        }

        return reported.IsEmpty ? "No Connections" : reported.List();
    }

    /// <summary>
    /// The whole set, ICMP included: <c>All Connections</c> only when it is <see cref="All"/>, else
    /// every protocol with its ports (<c>SCTP 1-65535,TCP 1-65535,UDP 1-65535</c> for every port of
    /// those three and no ICMP). What explanations print, where leaving ICMP out would mislead.
    /// </summary>
    public string Describe() => IsAll ? "All Connections" : IsEmpty ? "No Connections" : List();

    private string List()
    {
        var text = new StringBuilder();
        foreach (var protocol in Protocols.PrintOrder)
        {
            var ports = PortsOf(protocol);
            if (ports.Count == 0)
            {
                continue;
            }

            if (text.Length > 0)
            {
                text.Append(',');
            }

            text.Append(protocol.Name()).Append(' ');
            for (var i = 0; i < ports.Count; i++)
            {
                if (i > 0)
                {
                    text.Append(',');
                }

                var (from, to) = ports[i];
                text.Append(from.ToString(CultureInfo.InvariantCulture));
                if (to != from)
                {
                    text.Append('-').Append(to.ToString(CultureInfo.InvariantCulture));
                }
            }
        }

        return text.ToString();
    }

    /// <summary>
    /// Reads the text <see cref="ToString"/> or <see cref="Describe"/> writes. An item without a
    /// protocol continues the one before it (<c>TCP 80,8080</c>). Returns false on anything else.
    /// <c>All Connections</c> reads as <see cref="All"/>, ICMP included; the text of a set whose ICMP
    /// <see cref="ToString"/> leaves out reads back without it.
    /// </summary>
    public static bool TryParse(string text, out ConnectionSet result)
    {
        result = None;
        text = text.Trim();
        if (text == "All Connections")
        {
            result = All;
            return true;
        }

        if (text is "No Connections" or "")
        {
            return true;
        }

        var intervals = new List<Interval<uint>>();
        Protocol? protocol = null;
        foreach (var rawItem in text.Split(','))
        {
            var item = rawItem.Trim();
            var space = item.IndexOf(' ', StringComparison.Ordinal);
            if (space > 0 && Protocols.TryParse(item[..space], out var named))
            {
                protocol = named;
                item = item[(space + 1)..].Trim();
            }

            if (protocol is null || item.Length == 0)
            {
                return false;
            }

            var dash = item.IndexOf('-', StringComparison.Ordinal);
            var fromText = dash < 0 ? item : item[..dash];
            var toText = dash < 0 ? item : item[(dash + 1)..];
            if (!int.TryParse(fromText, NumberStyles.None, CultureInfo.InvariantCulture, out var from)
                || !int.TryParse(toText, NumberStyles.None, CultureInfo.InvariantCulture, out var to)
                || from < protocol.Value.MinPort() || to > protocol.Value.MaxPort() || from > to)
            {
                return false;
            }

            intervals.Add(new Interval<uint>(Key(protocol.Value, from), Key(protocol.Value, to)));
        }

        var keys = IntervalSet<uint>.FromIntervals(intervals);
        result = keys.Equals(All.Keys) ? All : new ConnectionSet(keys);
        return true;
    }

    /// <inheritdoc />
    public bool Equals(ConnectionSet? other) => other is not null && Keys.Equals(other.Keys);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as ConnectionSet);

    /// <inheritdoc />
    public override int GetHashCode() => Keys.GetHashCode();
}
