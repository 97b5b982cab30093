using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Palisade.Sets;

/// <summary>
/// Addresses as 128-bit numbers: IPv6 addresses as themselves, IPv4 addresses in the IPv4-mapped
/// block <c>::ffff:0:0/96</c>. One number line holds both families, so one <see cref="IpSet"/> can
/// hold both. An IPv6 prefix never covers the mapped block (<c>::/0</c> is every IPv6 address, not
/// every IPv4 address), as in Kubernetes and Cilium, where the families never mix.
/// </summary>
public static class IpNumbers
{
    /// <summary>The number of <c>0.0.0.0</c>.</summary>
    public static readonly UInt128 V4Base = new(0, 0xFFFF_0000_0000UL);

    /// <summary>The number of <c>255.255.255.255</c>.</summary>
    public static readonly UInt128 V4Last = new(0, 0xFFFF_FFFF_FFFFUL);

    /// <summary>Whether a number stands for an IPv4 address.</summary>
    public static bool IsV4(UInt128 value) => value >= V4Base && value <= V4Last;

    /// <summary>The number of an address.</summary>
    public static UInt128 From(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(bytes, out _);
            return V4Base + BinaryPrimitives.ReadUInt32BigEndian(bytes);
        }

        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    /// <summary>The address of a number.</summary>
    public static IPAddress ToAddress(UInt128 value)
    {
        if (IsV4(value))
        {
            var v4 = (uint)(value - V4Base);
            Span<byte> four = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(four, v4);
            return new IPAddress(four);
        }

        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    /// <summary>Reads an address literal (IPv4 dotted quad or IPv6); no prefix, no port, no zone.</summary>
    public static bool TryParse(string text, out UInt128 value)
    {
        value = default;
        if (string.IsNullOrEmpty(text) || text.Contains('%', StringComparison.Ordinal) || text.Contains('/', StringComparison.Ordinal))
        {
            return false;
        }

        if (!IPAddress.TryParse(text, out var address))
        {
            return false;
        }

        // IPAddress.TryParse accepts "1" or "1.2" as IPv4 shorthands; addresses in manifests are always full.
        if (address.AddressFamily == AddressFamily.InterNetwork && text.Count(static c => c == '.') != 3)
        {
            return false;
        }

        value = From(address);
        return true;
    }

    /// <summary>The text of an address number.</summary>
    public static string Format(UInt128 value) => ToAddress(value).ToString();
}

/// <summary>An address prefix (CIDR block) such as <c>10.0.0.0/8</c> or <c>fd00::/8</c>.</summary>
public readonly record struct IpPrefix(UInt128 First, UInt128 Last, int Length, bool IsV4)
{
    /// <summary>
    /// Reads <c>address/length</c>. Host bits below the prefix are allowed and ignored, as the
    /// Kubernetes API server allows them. <paramref name="error"/> says what is wrong otherwise.
    /// </summary>
    public static bool TryParse(string text, out IpPrefix prefix, [NotNullWhen(false)] out string? error)
    {
        prefix = default;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            error = $"'{text}' is not a CIDR block: it has no prefix length (write e.g. 10.0.0.0/24)";
            return false;
        }

        var addressText = text[..slash];
        var lengthText = text[(slash + 1)..];
        if (!IpNumbers.TryParse(addressText, out var address))
        {
            error = $"'{text}' is not a CIDR block: '{addressText}' is not an IPv4 or IPv6 address";
            return false;
        }

        var isV4 = IpNumbers.IsV4(address) && !addressText.Contains(':', StringComparison.Ordinal);
        var bits = isV4 ? 32 : 128;
        if (!int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out var length) || length > bits)
        {
            error = $"'{text}' is not a CIDR block: the prefix length must be a number from 0 to {bits}";
            return false;
        }

        UInt128 first, last;
        if (isV4)
        {
            var v4 = (uint)(address - IpNumbers.V4Base);
            var mask = length == 0 ? 0u : uint.MaxValue << (32 - length);
            first = IpNumbers.V4Base + (v4 & mask);
            last = IpNumbers.V4Base + (v4 | ~mask);
        }
        else
        {
            var mask = length == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - length);
            first = address & mask;
            last = address | ~mask;
        }

        prefix = new IpPrefix(first, last, length, isV4);
        error = null;
        return true;
    }

    /// <summary>Reads a prefix or throws <see cref="FormatException"/>; for literals in code and tests.</summary>
    public static IpPrefix Parse(string text) =>
        TryParse(text, out var prefix, out var error) ? prefix : throw new FormatException(error);

    /// <summary>The addresses of the prefix. An IPv6 prefix leaves out the IPv4-mapped block.</summary>
    public IpSet ToSet()
    {
        var set = IpSet.Range(First, Last);
        return IsV4 ? set : set.Except(IpSet.AllV4);
    }

    /// <inheritdoc />
    public override string ToString() => $"{IpNumbers.Format(First)}/{Length.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>
/// An immutable set of IPv4 and IPv6 addresses (see <see cref="IpNumbers"/> for how they share one
/// number line): what a CIDR peer with exceptions matches, or the outside addresses a workload may reach.
/// </summary>
public sealed class IpSet : IEquatable<IpSet>
{
    private IpSet(IntervalSet<UInt128> numbers) => Numbers = numbers;

    /// <summary>No address.</summary>
    public static readonly IpSet Empty = new(IntervalSet<UInt128>.Empty);

    /// <summary>Every IPv4 and IPv6 address.</summary>
    public static readonly IpSet All = new(IntervalSet<UInt128>.Universe);

    /// <summary>Every IPv4 address.</summary>
    public static readonly IpSet AllV4 = new(IntervalSet<UInt128>.Range(IpNumbers.V4Base, IpNumbers.V4Last));

    /// <summary>Every IPv6 address.</summary>
    public static readonly IpSet AllV6 = All.Except(AllV4);

    /// <summary>The address intervals, ascending.</summary>
    public IntervalSet<UInt128> Numbers { get; }

    /// <summary>Whether the set holds no address.</summary>
    public bool IsEmpty => Numbers.IsEmpty;

    /// <summary>Addresses from <paramref name="first"/> to <paramref name="last"/>, both included.</summary>
    public static IpSet Range(UInt128 first, UInt128 last) => new(IntervalSet<UInt128>.Range(first, last));

    /// <summary>One address.</summary>
    public static IpSet Single(UInt128 address) => Range(address, address);

    /// <summary>Builds a set from address intervals in any order.</summary>
    public static IpSet FromIntervals(IEnumerable<Interval<UInt128>> intervals) => new(IntervalSet<UInt128>.FromIntervals(intervals));

    /// <summary>Whether <paramref name="address"/> is a member.</summary>
    public bool Contains(UInt128 address) => Numbers.Contains(address);

    /// <summary>Addresses in either set.</summary>
    public IpSet Union(IpSet other) => Wrap(Numbers.Union(other.Numbers));

    /// <summary>Addresses in both sets.</summary>
    public IpSet Intersect(IpSet other) => Wrap(Numbers.Intersect(other.Numbers));

    /// <summary>Addresses in this set and not in <paramref name="other"/>.</summary>
    public IpSet Except(IpSet other) => Wrap(Numbers.Except(other.Numbers));

    private IpSet Wrap(IntervalSet<UInt128> numbers) => ReferenceEquals(numbers, Numbers) ? this : numbers.IsEmpty ? Empty : new IpSet(numbers);

    /// <summary>
    /// The fewest CIDR blocks that together hold exactly this set: IPv4 blocks for IPv4 addresses,
    /// IPv6 blocks (never over the IPv4-mapped block) for the rest, in address order.
    /// </summary>
    public IEnumerable<IpPrefix> ToPrefixes()
    {
        foreach (var interval in Numbers.Intervals.ToArray())
        {
            if (interval.Lo < IpNumbers.V4Base)
            {
                foreach (var block in Blocks(interval.Lo, UInt128.Min(interval.Hi, IpNumbers.V4Base - 1), UInt128.Zero, 128, false))
                {
                    yield return block;
                }
            }

            if (interval.Hi >= IpNumbers.V4Base && interval.Lo <= IpNumbers.V4Last)
            {
                foreach (var block in Blocks(UInt128.Max(interval.Lo, IpNumbers.V4Base), UInt128.Min(interval.Hi, IpNumbers.V4Last), IpNumbers.V4Base, 32, true))
                {
                    yield return block;
                }
            }

            if (interval.Hi > IpNumbers.V4Last)
            {
                foreach (var block in Blocks(UInt128.Max(interval.Lo, IpNumbers.V4Last + 1), interval.Hi, UInt128.Zero, 128, false))
                {
                    yield return block;
                }
            }
        }
    }

    /// <summary>Cuts <c>[lo, hi]</c> into aligned blocks, the largest first, in a space of <paramref name="bits"/> bits starting at <paramref name="origin"/>.</summary>
    private static IEnumerable<IpPrefix> Blocks(UInt128 lo, UInt128 hi, UInt128 origin, int bits, bool isV4)
    {
        var offset = lo - origin;
        var end = hi - origin;
        while (true)
        {
            var size = offset == UInt128.Zero ? bits : Math.Min(bits, (int)UInt128.TrailingZeroCount(offset));
            UInt128 Mask(int k) => k >= 128 ? UInt128.MaxValue : (UInt128.One << k) - 1;
            while ((offset | Mask(size)) > end)
            {
                size--;
            }

            var last = offset | Mask(size);
            yield return new IpPrefix(origin + offset, origin + last, bits - size, isV4);
            if (last == end)
            {
                yield break;
            }

            offset = last + 1;
        }
    }

    /// <summary>Writes a range as <c>first-last</c> (or one address when they are equal).</summary>
    public static string FormatRange(UInt128 first, UInt128 last) =>
        first == last ? IpNumbers.Format(first) : $"{IpNumbers.Format(first)}-{IpNumbers.Format(last)}";

    /// <inheritdoc />
    public bool Equals(IpSet? other) => other is not null && Numbers.Equals(other.Numbers);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as IpSet);

    /// <inheritdoc />
    public override int GetHashCode() => Numbers.GetHashCode();

    /// <inheritdoc />
    public override string ToString() =>
        IsEmpty ? "{}" : string.Join(",", Numbers.Intervals.ToArray().Select(static i => FormatRange(i.Lo, i.Hi)));
}
