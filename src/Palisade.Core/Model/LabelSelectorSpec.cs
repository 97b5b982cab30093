using System.Text;

namespace Palisade.Model;

/// <summary>The operators of a label selector's <c>matchExpressions</c>.</summary>
public enum SelectorOperator
{
    /// <summary>The label is present and its value is one of the values.</summary>
    In,

    /// <summary>The label is absent, or its value is none of the values.</summary>
    NotIn,

    /// <summary>The label is present, whatever its value.</summary>
    Exists,

    /// <summary>The label is absent.</summary>
    DoesNotExist,
}

/// <summary>One entry of <c>matchExpressions</c>.</summary>
public sealed record LabelRequirement(string Key, SelectorOperator Operator, IReadOnlyList<string> Values)
{
    /// <summary>Whether <paramref name="labels"/> satisfy the requirement, with Kubernetes' meaning of each operator.</summary>
    public bool Matches(LabelSet labels)
    {
        var present = labels.TryGetValue(Key, out var value);
        return Operator switch
        {
            SelectorOperator.In => present && Contains(value),
            SelectorOperator.NotIn => !present || !Contains(value),
            SelectorOperator.Exists => present,
            SelectorOperator.DoesNotExist => !present,
            _ => false,
        };
    }

    private bool Contains(string value)
    {
        foreach (var candidate in Values)
        {
            if (string.Equals(candidate, value, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public bool Equals(LabelRequirement? other) =>
        other is not null && Key == other.Key && Operator == other.Operator && Values.SequenceEqual(other.Values);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Key);
        hash.Add(Operator);
        foreach (var value in Values)
        {
            hash.Add(value);
        }

        return hash.ToHashCode();
    }

    /// <summary>Kubernetes' selector syntax: <c>key in (a,b)</c>, <c>!key</c> and so on.</summary>
    public override string ToString() => Operator switch
    {
        SelectorOperator.In => $"{Key} in ({string.Join(",", Values)})",
        SelectorOperator.NotIn => $"{Key} notin ({string.Join(",", Values)})",
        SelectorOperator.Exists => Key,
        _ => "!" + Key,
    };
}

/// <summary>
/// A Kubernetes label selector: every <c>matchLabels</c> pair and every <c>matchExpressions</c>
/// requirement must hold. A selector with neither matches everything. Where a field may be absent
/// (a peer's <c>podSelector</c>), the model uses <c>null</c> for absent, which is different from empty.
/// </summary>
public sealed record LabelSelectorSpec
{
    /// <summary>The selector that matches everything (<c>{}</c>).</summary>
    public static readonly LabelSelectorSpec Everything = new();

    /// <summary><c>matchLabels</c>.</summary>
    public LabelSet MatchLabels { get; init; } = LabelSet.Empty;

    /// <summary><c>matchExpressions</c>.</summary>
    public IReadOnlyList<LabelRequirement> MatchExpressions { get; init; } = [];

    /// <summary>Whether the selector has no requirement, so it matches everything.</summary>
    public bool IsEverything => MatchLabels.Count == 0 && MatchExpressions.Count == 0;

    /// <summary>Whether <paramref name="labels"/> satisfy every requirement.</summary>
    public bool Matches(LabelSet labels)
    {
        foreach (var (key, value) in MatchLabels)
        {
            if (!labels.TryGetValue(key, out var actual) || !string.Equals(actual, value, StringComparison.Ordinal))
            {
                return false;
            }
        }

        foreach (var requirement in MatchExpressions)
        {
            if (!requirement.Matches(labels))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The label keys the selector looks at.</summary>
    public IEnumerable<string> Keys => MatchLabels.Keys.Concat(MatchExpressions.Select(static e => e.Key));

    /// <inheritdoc />
    public bool Equals(LabelSelectorSpec? other) =>
        other is not null && MatchLabels.Equals(other.MatchLabels) && MatchExpressions.SequenceEqual(other.MatchExpressions);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(MatchLabels);
        foreach (var requirement in MatchExpressions)
        {
            hash.Add(requirement);
        }

        return hash.ToHashCode();
    }

    /// <summary>Kubernetes' selector syntax (<c>app=web,tier in (a,b)</c>); <c>{}</c> for everything.</summary>
    public override string ToString()
    {
        if (IsEverything)
        {
            return "{}";
        }

        var text = new StringBuilder();
        foreach (var (key, value) in MatchLabels)
        {
            text.Append(text.Length > 0 ? "," : string.Empty).Append(key).Append('=').Append(value);
        }

        foreach (var requirement in MatchExpressions)
        {
            text.Append(text.Length > 0 ? "," : string.Empty).Append(requirement);
        }

        return text.ToString();
    }
}
