using System.Numerics;

namespace Palisade.Sets;

/// <summary>A closed interval <c>[Lo, Hi]</c> of an integer space; <c>Lo &lt;= Hi</c> always holds.</summary>
public readonly record struct Interval<T>(T Lo, T Hi)
    where T : IBinaryInteger<T>
{
    /// <summary>Whether <paramref name="value"/> lies in the interval.</summary>
    public bool Contains(T value) => value >= Lo && value <= Hi;
}

/// <summary>
/// An immutable set of integers stored as sorted, disjoint, non-adjacent closed intervals. It is the
/// one piece of set algebra behind address sets (<see cref="IpSet"/>) and connection sets
/// (<see cref="ConnectionSet"/>). Two sets with the same members have the same intervals, so equality
/// and hashing compare intervals.
/// </summary>
public sealed class IntervalSet<T> : IEquatable<IntervalSet<T>>
    where T : IBinaryInteger<T>, IMinMaxValue<T>
{
    private readonly Interval<T>[] _intervals;
    private readonly int _hash;

    /// <summary>The set with no members.</summary>
    public static readonly IntervalSet<T> Empty = new([]);

    /// <summary>The set of every value of <typeparamref name="T"/>.</summary>
    public static readonly IntervalSet<T> Universe = new([new Interval<T>(T.MinValue, T.MaxValue)]);

    private IntervalSet(Interval<T>[] normalized)
    {
        _intervals = normalized;
        var hash = new HashCode();
        foreach (var interval in normalized)
        {
            hash.Add(interval.Lo);
            hash.Add(interval.Hi);
        }

        _hash = hash.ToHashCode();
    }

    /// <summary>The intervals in ascending order; they neither overlap nor touch.</summary>
    public ReadOnlySpan<Interval<T>> Intervals => _intervals;

    /// <summary>Number of intervals (not of members).</summary>
    public int Count => _intervals.Length;

    /// <summary>Whether the set has no members.</summary>
    public bool IsEmpty => _intervals.Length == 0;

    /// <summary>Whether the set holds every value of the space.</summary>
    public bool IsUniverse => _intervals.Length == 1 && _intervals[0].Lo == T.MinValue && _intervals[0].Hi == T.MaxValue;

    /// <summary>The set of values from <paramref name="lo"/> to <paramref name="hi"/>, both included.</summary>
    public static IntervalSet<T> Range(T lo, T hi)
    {
        if (lo > hi)
        {
            throw new ArgumentOutOfRangeException(nameof(hi), "An interval's upper end must not be below its lower end.");
        }

        return new IntervalSet<T>([new Interval<T>(lo, hi)]);
    }

    /// <summary>The set of one value.</summary>
    public static IntervalSet<T> Single(T value) => Range(value, value);

    /// <summary>Builds a set from intervals in any order, overlapping or not.</summary>
    public static IntervalSet<T> FromIntervals(IEnumerable<Interval<T>> intervals)
    {
        var list = new List<Interval<T>>(intervals);
        foreach (var interval in list)
        {
            if (interval.Lo > interval.Hi)
            {
                throw new ArgumentException("An interval's upper end must not be below its lower end.", nameof(intervals));
            }
        }

        list.Sort(static (a, b) => a.Lo.CompareTo(b.Lo));
        return new IntervalSet<T>(Normalize(list));
    }

    private static Interval<T>[] Normalize(List<Interval<T>> sorted)
    {
        if (sorted.Count == 0)
        {
            return [];
        }

        var result = new List<Interval<T>>(sorted.Count);
        var current = sorted[0];
        for (var i = 1; i < sorted.Count; i++)
        {
            var next = sorted[i];
            if (current.Hi == T.MaxValue || next.Lo <= current.Hi + T.One)
            {
                if (next.Hi > current.Hi)
                {
                    current = current with { Hi = next.Hi };
                }
            }
            else
            {
                result.Add(current);
                current = next;
            }
        }

        result.Add(current);
        return [.. result];
    }

    /// <summary>Whether <paramref name="value"/> is a member; a binary search over the intervals.</summary>
    public bool Contains(T value)
    {
        var intervals = _intervals;
        int lo = 0, hi = intervals.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            ref readonly var interval = ref intervals[mid];
            if (value < interval.Lo)
            {
                hi = mid - 1;
            }
            else if (value > interval.Hi)
            {
                lo = mid + 1;
            }
            else
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Members of either set.</summary>
    public IntervalSet<T> Union(IntervalSet<T> other)
    {
        if (other.IsEmpty || ReferenceEquals(this, other))
        {
            return this;
        }

        if (IsEmpty)
        {
            return other;
        }

        var merged = new List<Interval<T>>(_intervals.Length + other._intervals.Length);
        int i = 0, j = 0;
        while (i < _intervals.Length || j < other._intervals.Length)
        {
            if (j >= other._intervals.Length || (i < _intervals.Length && _intervals[i].Lo <= other._intervals[j].Lo))
            {
                merged.Add(_intervals[i++]);
            }
            else
            {
                merged.Add(other._intervals[j++]);
            }
        }

        return new IntervalSet<T>(Normalize(merged));
    }

    /// <summary>Members of both sets.</summary>
    public IntervalSet<T> Intersect(IntervalSet<T> other)
    {
        if (IsEmpty || other.IsUniverse || ReferenceEquals(this, other))
        {
            return this;
        }

        if (other.IsEmpty || IsUniverse)
        {
            return other;
        }

        var result = new List<Interval<T>>();
        int i = 0, j = 0;
        while (i < _intervals.Length && j < other._intervals.Length)
        {
            var a = _intervals[i];
            var b = other._intervals[j];
            var lo = T.Max(a.Lo, b.Lo);
            var hi = T.Min(a.Hi, b.Hi);
            if (lo <= hi)
            {
                result.Add(new Interval<T>(lo, hi));
            }

            if (a.Hi < b.Hi)
            {
                i++;
            }
            else
            {
                j++;
            }
        }

        return new IntervalSet<T>([.. result]);
    }

    /// <summary>Members of this set that are not in <paramref name="other"/>.</summary>
    public IntervalSet<T> Except(IntervalSet<T> other)
    {
        if (IsEmpty || other.IsEmpty)
        {
            return this;
        }

        return Intersect(other.Complement());
    }

    /// <summary>Every value of the space that is not a member.</summary>
    public IntervalSet<T> Complement()
    {
        if (IsEmpty)
        {
            return Universe;
        }

        var result = new List<Interval<T>>(_intervals.Length + 1);
        var next = T.MinValue;
        var reachedEnd = false;
        foreach (var interval in _intervals)
        {
            if (interval.Lo > next)
            {
                result.Add(new Interval<T>(next, interval.Lo - T.One));
            }

            if (interval.Hi == T.MaxValue)
            {
                reachedEnd = true;
                break;
            }

            next = interval.Hi + T.One;
        }

        if (!reachedEnd)
        {
            result.Add(new Interval<T>(next, T.MaxValue));
        }

        return new IntervalSet<T>([.. result]);
    }

    /// <summary>Whether every member of this set is a member of <paramref name="other"/>.</summary>
    public bool IsSubsetOf(IntervalSet<T> other) => Except(other).IsEmpty;

    /// <summary>Whether the sets share a member (a merge walk; nothing is allocated).</summary>
    public bool Overlaps(IntervalSet<T> other)
    {
        int i = 0, j = 0;
        while (i < _intervals.Length && j < other._intervals.Length)
        {
            var a = _intervals[i];
            var b = other._intervals[j];
            if (T.Max(a.Lo, b.Lo) <= T.Min(a.Hi, b.Hi))
            {
                return true;
            }

            if (a.Hi < b.Hi)
            {
                i++;
            }
            else
            {
                j++;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public bool Equals(IntervalSet<T>? other)
    {
        if (ReferenceEquals(this, other))
        {
            return true;
        }

        return other is not null && _hash == other._hash && _intervals.AsSpan().SequenceEqual(other._intervals);
    }

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as IntervalSet<T>);

    /// <inheritdoc />
    public override int GetHashCode() => _hash;

    /// <inheritdoc />
    public override string ToString() => IsEmpty ? "{}" : string.Join(",", _intervals.Select(static i => i.Lo == i.Hi ? $"{i.Lo}" : $"{i.Lo}-{i.Hi}"));
}
