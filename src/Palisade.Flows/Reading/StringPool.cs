using System.IO.Hashing;
using System.Text;
using System.Text.Json;

namespace Palisade.Flows.Reading;

/// <summary>
/// Hands out one string instance per distinct value, read straight from UTF-8, so that the names a
/// flow stream repeats on every line (namespaces, pods, labels, nodes) are allocated once. When it
/// holds <see cref="Limit"/> values it starts afresh, so a stream of ever-new values cannot grow it
/// without bound. Not thread-safe: one per reader.
/// </summary>
internal sealed class StringPool
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    // The same values by their UTF-8 bytes, found by a 64-bit hash and then compared byte for byte:
    // most values arrive as UTF-8 and need no conversion to be found.
    private readonly Dictionary<ulong, (byte[] Utf8, string Value)> _byBytes = [];

    public StringPool(int limit = 65_536)
    {
        Limit = limit;
        _lookup = _values.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>How many values the pool holds before it starts afresh.</summary>
    public int Limit { get; }

    /// <summary>The string of the reader's current string token.</summary>
    public string Get(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped || reader.HasValueSequence)
        {
            var text = reader.GetString()!;
            return Get(text.AsSpan());
        }

        return Get(reader.ValueSpan);
    }

    /// <summary>The string of <paramref name="utf8"/>.</summary>
    public string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > 256)
        {
            return Encoding.UTF8.GetString(utf8);
        }

        var hash = XxHash3.HashToUInt64(utf8);
        if (_byBytes.TryGetValue(hash, out var known) && utf8.SequenceEqual(known.Utf8))
        {
            return known.Value;
        }

        if (_byBytes.Count >= Limit)
        {
            _byBytes.Clear();
        }

        Span<char> chars = stackalloc char[256];
        var count = Encoding.UTF8.GetChars(utf8, chars);
        var value = Get(chars[..count]);
        _byBytes[hash] = (utf8.ToArray(), value);
        return value;
    }

    private string Get(ReadOnlySpan<char> chars)
    {
        if (_lookup.TryGetValue(chars, out var known))
        {
            return known;
        }

        if (_values.Count >= Limit)
        {
            _values.Clear();
        }

        var value = chars.ToString();
        _values[value] = value;
        return value;
    }
}
