namespace Palisade.Compilation;

/// <summary>
/// What one direction class admits from or to every identity: an interned connection id per
/// identity. Rows of isolated classes are mostly empty, so a row with few entries is stored sparse
/// (sorted identities and their ids, absent meaning none) and a fuller one dense.
/// </summary>
internal sealed class ConnectionRow
{
    /// <summary>The row of a class no policy isolates: every identity, every connection.</summary>
    public static readonly ConnectionRow AllowAll = new(ConnectionTable.AllId);

    private readonly int[]? _dense;
    private readonly int[] _keys;
    private readonly int[] _values;
    private readonly int _fill;

    private ConnectionRow(int fill)
    {
        _fill = fill;
        _keys = [];
        _values = [];
    }

    private ConnectionRow(int[]? dense, int[] keys, int[] values)
    {
        _dense = dense;
        _keys = keys;
        _values = values;
        _fill = ConnectionTable.NoneId;
    }

    /// <summary>Whether every entry is <see cref="ConnectionTable.AllId"/>.</summary>
    public bool IsAllowAll => ReferenceEquals(this, AllowAll);

    /// <summary>The interned connection id for <paramref name="identity"/>.</summary>
    public int this[int identity]
    {
        get
        {
            if (_dense is not null)
            {
                return _dense[identity];
            }

            var keys = _keys;
            int lo = 0, hi = keys.Length - 1;
            while (lo <= hi)
            {
                var mid = (lo + hi) >>> 1;
                var key = keys[mid];
                if (key == identity)
                {
                    return _values[mid];
                }

                if (key < identity)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid - 1;
                }
            }

            return _fill;
        }
    }

    /// <summary>The entries that admit something, in identity order (every identity for <see cref="AllowAll"/>).</summary>
    public IEnumerable<(int Identity, int Connection)> Entries(int size)
    {
        if (IsAllowAll)
        {
            for (var i = 0; i < size; i++)
            {
                yield return (i, ConnectionTable.AllId);
            }
        }
        else if (_dense is not null)
        {
            for (var i = 0; i < _dense.Length; i++)
            {
                if (_dense[i] != ConnectionTable.NoneId)
                {
                    yield return (i, _dense[i]);
                }
            }
        }
        else
        {
            for (var i = 0; i < _keys.Length; i++)
            {
                yield return (_keys[i], _values[i]);
            }
        }
    }

    /// <summary>
    /// Makes a row from <paramref name="scratch"/>, whose entries at <paramref name="touched"/> may be
    /// set, and clears those entries so the scratch can be reused.
    /// </summary>
    public static ConnectionRow Build(int[] scratch, List<int> touched)
    {
        touched.Sort();
        var count = 0;
        foreach (var index in touched)
        {
            if (scratch[index] != ConnectionTable.NoneId)
            {
                count++;
            }
        }

        ConnectionRow row;
        if (count * 4 > scratch.Length)
        {
            var dense = new int[scratch.Length];
            foreach (var index in touched)
            {
                dense[index] = scratch[index];
            }

            row = new ConnectionRow(dense, [], []);
        }
        else
        {
            var keys = new int[count];
            var values = new int[count];
            var at = 0;
            foreach (var index in touched)
            {
                if (scratch[index] != ConnectionTable.NoneId)
                {
                    keys[at] = index;
                    values[at++] = scratch[index];
                }
            }

            row = new ConnectionRow(null, keys, values);
        }

        foreach (var index in touched)
        {
            scratch[index] = ConnectionTable.NoneId;
        }

        touched.Clear();
        return row;
    }
}
