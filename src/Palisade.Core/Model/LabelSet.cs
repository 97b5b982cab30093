using System.Collections;

namespace Palisade.Model;

/// <summary>
/// An immutable set of Kubernetes labels, sorted by key (ordinal). Two label sets are equal when they
/// hold the same keys with the same values.
/// </summary>
public sealed class LabelSet : IReadOnlyDictionary<string, string>, IEquatable<LabelSet>
{
    private readonly KeyValuePair<string, string>[] _pairs;
    private readonly int _hash;

    /// <summary>No labels.</summary>
    public static readonly LabelSet Empty = new([]);

    private LabelSet(KeyValuePair<string, string>[] sortedPairs)
    {
        _pairs = sortedPairs;
        var hash = new HashCode();
        foreach (var pair in sortedPairs)
        {
            hash.Add(pair.Key, StringComparer.Ordinal);
            hash.Add(pair.Value, StringComparer.Ordinal);
        }

        _hash = hash.ToHashCode();
    }

    /// <summary>Builds a label set; a later duplicate key wins.</summary>
    public static LabelSet From(IEnumerable<KeyValuePair<string, string>> labels)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in labels)
        {
            map[key] = value;
        }

        return map.Count == 0 ? Empty : new LabelSet([.. map]);
    }

    /// <summary>Builds a label set from key/value tuples.</summary>
    public static LabelSet Of(params (string Key, string Value)[] labels) =>
        From(labels.Select(static l => new KeyValuePair<string, string>(l.Key, l.Value)));

    /// <summary>This set with <paramref name="key"/> set to <paramref name="value"/>, or removed when it is null.</summary>
    public LabelSet With(string key, string? value)
    {
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in _pairs)
        {
            map[pair.Key] = pair.Value;
        }

        if (value is null)
        {
            map.Remove(key);
        }
        else
        {
            map[key] = value;
        }

        return map.Count == 0 ? Empty : new LabelSet([.. map]);
    }

    /// <inheritdoc />
    public string this[string key] => TryGetValue(key, out var value) ? value : throw new KeyNotFoundException(key);

    /// <inheritdoc />
    public IEnumerable<string> Keys => _pairs.Select(static p => p.Key);

    /// <inheritdoc />
    public IEnumerable<string> Values => _pairs.Select(static p => p.Value);

    /// <inheritdoc />
    public int Count => _pairs.Length;

    /// <inheritdoc />
    public bool ContainsKey(string key) => IndexOf(key) >= 0;

    /// <inheritdoc />
    public bool TryGetValue(string key, out string value)
    {
        var index = IndexOf(key);
        if (index >= 0)
        {
            value = _pairs[index].Value;
            return true;
        }

        value = string.Empty;
        return false;
    }

    private int IndexOf(string key)
    {
        int lo = 0, hi = _pairs.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var order = string.CompareOrdinal(_pairs[mid].Key, key);
            if (order == 0)
            {
                return mid;
            }

            if (order < 0)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return -1;
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, string>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, string>>)_pairs).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public bool Equals(LabelSet? other) =>
        other is not null && _hash == other._hash && _pairs.Length == other._pairs.Length
        && _pairs.AsSpan().SequenceEqual(other._pairs, PairComparer.Instance);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as LabelSet);

    /// <inheritdoc />
    public override int GetHashCode() => _hash;

    /// <summary><c>key=value,key=value</c>.</summary>
    public override string ToString() => string.Join(",", _pairs.Select(static p => $"{p.Key}={p.Value}"));

    private sealed class PairComparer : IEqualityComparer<KeyValuePair<string, string>>
    {
        public static readonly PairComparer Instance = new();

        public bool Equals(KeyValuePair<string, string> x, KeyValuePair<string, string> y) =>
            string.Equals(x.Key, y.Key, StringComparison.Ordinal) && string.Equals(x.Value, y.Value, StringComparison.Ordinal);

        public int GetHashCode(KeyValuePair<string, string> obj) => HashCode.Combine(obj.Key, obj.Value);
    }
}
