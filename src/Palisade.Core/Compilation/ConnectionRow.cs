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

    private ConnectionRow(int[]? dense, int[] keys, int[] values, int fill)
    {
        _dense = dense;
        _keys = keys;
        _values = values;
        _fill = fill;
    }

    /// <summary>Whether every entry is <see cref="ConnectionTable.AllId"/> (the row of a class nothing isolates).</summary>
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
        else if (_fill == ConnectionTable.NoneId)
        {
            for (var i = 0; i < _keys.Length; i++)
            {
                yield return (_keys[i], _values[i]);
            }
        }
        else
        {
            for (var i = 0; i < size; i++)
            {
                var connection = this[i];
                if (connection != ConnectionTable.NoneId)
                {
                    yield return (i, connection);
                }
            }
        }
    }

    /// <summary>
    /// Makes a row whose entries at <paramref name="touched"/> (each listed once) are taken from
    /// <paramref name="values"/> and whose other entries are <paramref name="fill"/>.
    /// </summary>
    public static ConnectionRow Build(int[] values, List<int> touched, int fill)
    {
        if (fill == ConnectionTable.AllId && touched.TrueForAll(i => values[i] == ConnectionTable.AllId))
        {
            return AllowAll;
        }

        touched.Sort();
        var count = 0;
        foreach (var index in touched)
        {
            if (values[index] != fill)
            {
                count++;
            }
        }

        if (count * 4 > values.Length)
        {
            var dense = new int[values.Length];
            if (fill != ConnectionTable.NoneId)
            {
                Array.Fill(dense, fill);
            }

            foreach (var index in touched)
            {
                dense[index] = values[index];
            }

            return new ConnectionRow(dense, [], [], fill);
        }

        var keys = new int[count];
        var entries = new int[count];
        var at = 0;
        foreach (var index in touched)
        {
            if (values[index] != fill)
            {
                keys[at] = index;
                entries[at++] = values[index];
            }
        }

        return new ConnectionRow(null, keys, entries, fill);
    }
}
