using Palisade.Sets;

namespace Palisade.Compilation;

/// <summary>
/// Interns connection sets so that a compiled snapshot stores an <see cref="int"/> per pair, and
/// memoizes union and intersection by id. Id 0 is <see cref="ConnectionSet.None"/>, id 1 is
/// <see cref="ConnectionSet.All"/>.
/// </summary>
internal sealed class ConnectionTable
{
    public const int NoneId = 0;
    public const int AllId = 1;

    private readonly List<ConnectionSet> _sets = [ConnectionSet.None, ConnectionSet.All];
    private readonly Dictionary<ConnectionSet, int> _ids = new() { [ConnectionSet.None] = NoneId, [ConnectionSet.All] = AllId };
    private readonly Dictionary<long, int> _unions = [];
    private readonly Dictionary<long, int> _intersections = [];
    private readonly Dictionary<long, int> _differences = [];

    public int Count => _sets.Count;

    public ConnectionSet this[int id] => _sets[id];

    public int Intern(ConnectionSet set)
    {
        if (!_ids.TryGetValue(set, out var id))
        {
            id = _sets.Count;
            _sets.Add(set);
            _ids.Add(set, id);
        }

        return id;
    }

    public int Union(int a, int b)
    {
        if (a == b || b == NoneId || a == AllId)
        {
            return a;
        }

        if (a == NoneId || b == AllId)
        {
            return b;
        }

        var key = a < b ? ((long)a << 32) | (uint)b : ((long)b << 32) | (uint)a;
        if (!_unions.TryGetValue(key, out var id))
        {
            id = Intern(_sets[a].Union(_sets[b]));
            _unions.Add(key, id);
        }

        return id;
    }

    public int Intersect(int a, int b)
    {
        if (a == b || b == AllId || a == NoneId)
        {
            return a;
        }

        if (a == AllId || b == NoneId)
        {
            return b;
        }

        var key = a < b ? ((long)a << 32) | (uint)b : ((long)b << 32) | (uint)a;
        if (!_intersections.TryGetValue(key, out var id))
        {
            id = Intern(_sets[a].Intersect(_sets[b]));
            _intersections.Add(key, id);
        }

        return id;
    }

    public int Except(int a, int b)
    {
        if (a == NoneId || b == NoneId)
        {
            return a;
        }

        if (a == b || b == AllId)
        {
            return NoneId;
        }

        var key = ((long)a << 32) | (uint)b;
        if (!_differences.TryGetValue(key, out var id))
        {
            id = Intern(_sets[a].Except(_sets[b]));
            _differences.Add(key, id);
        }

        return id;
    }

    /// <summary>The interned sets, indexed by id, for the compiled snapshot to keep.</summary>
    public ConnectionSet[] ToArray() => [.. _sets];
}
