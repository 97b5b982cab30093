using Palisade.Model;

namespace Palisade.Compilation;

/// <summary>
/// An inverted index from labels to the members (pod groups or namespaces) that carry them, so that a
/// selector is evaluated with a few bitset operations instead of a label lookup per member.
/// Results are memoized per selector.
/// </summary>
internal sealed class SelectorIndex
{
    private readonly int _size;
    private readonly Dictionary<string, Dictionary<string, Bitset>> _byKeyValue = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Bitset> _byKey = new(StringComparer.Ordinal);
    private readonly Dictionary<LabelSelectorSpec, Bitset> _memo = [];
    private readonly Bitset _empty;
    private readonly Bitset _full;

    public SelectorIndex(IReadOnlyList<LabelSet> members)
    {
        _size = members.Count;
        _empty = new Bitset(_size);
        _full = Bitset.Full(_size);
        for (var i = 0; i < members.Count; i++)
        {
            foreach (var (key, value) in members[i])
            {
                if (!_byKey.TryGetValue(key, out var keySet))
                {
                    keySet = new Bitset(_size);
                    _byKey.Add(key, keySet);
                    _byKeyValue.Add(key, new Dictionary<string, Bitset>(StringComparer.Ordinal));
                }

                keySet.Set(i);
                var values = _byKeyValue[key];
                if (!values.TryGetValue(value, out var valueSet))
                {
                    valueSet = new Bitset(_size);
                    values.Add(value, valueSet);
                }

                valueSet.Set(i);
            }
        }
    }

    /// <summary>The members the selector matches. The result is shared: do not change it.</summary>
    public Bitset Evaluate(LabelSelectorSpec selector)
    {
        if (selector.IsEverything)
        {
            return _full;
        }

        if (_memo.TryGetValue(selector, out var cached))
        {
            return cached;
        }

        var result = _full.Clone();
        foreach (var (key, value) in selector.MatchLabels)
        {
            result.And(Lookup(key, value));
        }

        foreach (var requirement in selector.MatchExpressions)
        {
            switch (requirement.Operator)
            {
                case SelectorOperator.In:
                    result.And(AnyOf(requirement));
                    break;
                case SelectorOperator.NotIn:
                    result.AndNot(AnyOf(requirement));
                    break;
                case SelectorOperator.Exists:
                    result.And(_byKey.GetValueOrDefault(requirement.Key, _empty));
                    break;
                case SelectorOperator.DoesNotExist:
                    result.AndNot(_byKey.GetValueOrDefault(requirement.Key, _empty));
                    break;
            }
        }

        _memo.Add(selector, result);
        return result;
    }

    private Bitset Lookup(string key, string value) =>
        _byKeyValue.TryGetValue(key, out var values) && values.TryGetValue(value, out var set) ? set : _empty;

    private Bitset AnyOf(LabelRequirement requirement)
    {
        var union = new Bitset(_size);
        foreach (var value in requirement.Values)
        {
            union.Or(Lookup(requirement.Key, value));
        }

        return union;
    }
}
