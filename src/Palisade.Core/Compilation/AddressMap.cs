using Palisade.Sets;

namespace Palisade.Compilation;

/// <summary>
/// A partition of the whole address line into ranges, each with an interned connection set: what
/// one direction class admits from or to every outside address. Adjacent ranges never share a set.
/// </summary>
internal sealed class AddressMap
{
    private readonly UInt128[] _starts;
    private readonly int[] _connections;

    public static readonly AddressMap AllowAll = new([UInt128.Zero], [ConnectionTable.AllId]);
    public static readonly AddressMap DenyAll = new([UInt128.Zero], [ConnectionTable.NoneId]);

    private AddressMap(UInt128[] starts, int[] connections)
    {
        _starts = starts;
        _connections = connections;
    }

    public int RangeCount => _starts.Length;

    /// <summary>The interned connection set for <paramref name="address"/>.</summary>
    public int Lookup(UInt128 address)
    {
        int lo = 0, hi = _starts.Length - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) >>> 1;
            if (_starts[mid] <= address)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return _connections[lo];
    }

    /// <summary>The ranges in order: first address, last address, connection id.</summary>
    public IEnumerable<(UInt128 First, UInt128 Last, int Connection)> Ranges()
    {
        for (var i = 0; i < _starts.Length; i++)
        {
            var last = i + 1 < _starts.Length ? _starts[i + 1] - UInt128.One : UInt128.MaxValue;
            yield return (_starts[i], last, _connections[i]);
        }
    }

    /// <summary>
    /// Builds the map in which each address gets the union of the connections of every entry whose
    /// set holds it (none where no entry does).
    /// </summary>
    public static AddressMap Build(ConnectionTable table, IReadOnlyList<(IpSet Addresses, int Connection)> entries)
    {
        if (entries.Count == 0)
        {
            return DenyAll;
        }

        var cuts = new List<UInt128> { UInt128.Zero };
        foreach (var (addresses, _) in entries)
        {
            foreach (var interval in addresses.Numbers.Intervals)
            {
                cuts.Add(interval.Lo);
                if (interval.Hi != UInt128.MaxValue)
                {
                    cuts.Add(interval.Hi + UInt128.One);
                }
            }
        }

        cuts.Sort();
        var starts = new List<UInt128>(cuts.Count);
        foreach (var cut in cuts)
        {
            if (starts.Count == 0 || starts[^1] != cut)
            {
                starts.Add(cut);
            }
        }

        var startArray = starts.ToArray();
        var connections = new int[startArray.Length];
        foreach (var (addresses, connection) in entries)
        {
            if (connection == ConnectionTable.NoneId)
            {
                continue;
            }

            foreach (var interval in addresses.Numbers.Intervals)
            {
                var from = Array.BinarySearch(startArray, interval.Lo);
                for (var i = from; i < startArray.Length && startArray[i] <= interval.Hi; i++)
                {
                    connections[i] = table.Union(connections[i], connection);
                }
            }
        }

        return Compact(startArray, connections);
    }

    /// <summary>
    /// Builds the map by cutting the address line wherever one of <paramref name="sets"/> starts or
    /// ends, and asking <paramref name="decide"/> for the connection of each piece (by its first address).
    /// </summary>
    public static AddressMap FromRanges(IEnumerable<IpSet> sets, Func<UInt128, int> decide)
    {
        var cuts = new SortedSet<UInt128> { UInt128.Zero };
        foreach (var set in sets)
        {
            foreach (var interval in set.Numbers.Intervals)
            {
                cuts.Add(interval.Lo);
                if (interval.Hi != UInt128.MaxValue)
                {
                    cuts.Add(interval.Hi + UInt128.One);
                }
            }
        }

        var starts = cuts.ToArray();
        var connections = new int[starts.Length];
        for (var i = 0; i < starts.Length; i++)
        {
            connections[i] = decide(starts[i]);
        }

        return Compact(starts, connections);
    }

    /// <summary>A map whose every range holds <c>f(connection)</c> of this map's range.</summary>
    public AddressMap Select(Func<int, int> change)
    {
        var connections = new int[_connections.Length];
        for (var i = 0; i < connections.Length; i++)
        {
            connections[i] = change(_connections[i]);
        }

        return Compact(_starts, connections);
    }

    private static AddressMap Compact(UInt128[] starts, int[] connections)
    {
        var keptStarts = new List<UInt128>(starts.Length);
        var keptConnections = new List<int>(starts.Length);
        for (var i = 0; i < starts.Length; i++)
        {
            if (keptConnections.Count > 0 && keptConnections[^1] == connections[i])
            {
                continue;
            }

            keptStarts.Add(starts[i]);
            keptConnections.Add(connections[i]);
        }

        if (keptConnections.Count == 1)
        {
            return keptConnections[0] switch
            {
                ConnectionTable.AllId => AllowAll,
                ConnectionTable.NoneId => DenyAll,
                _ => new AddressMap([.. keptStarts], [.. keptConnections]),
            };
        }

        return new AddressMap([.. keptStarts], [.. keptConnections]);
    }
}
