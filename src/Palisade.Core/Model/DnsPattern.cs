namespace Palisade.Model;

/// <summary>
/// A DNS name or pattern that policies use as a peer: ClusterNetworkPolicy <c>domainNames</c>, and
/// Cilium <c>toFQDNs</c> (<c>matchName</c>, <c>matchPattern</c>) and DNS rules. Names compare
/// case-insensitively and without a trailing dot. Matching walks labels; it never backtracks, so no
/// pattern can make it slow.
/// </summary>
public sealed class DnsPattern : IEquatable<DnsPattern>
{
    private readonly string[] _labels;

    private DnsPattern(string text, string[] labels, DnsPatternStyle style)
    {
        Text = text;
        _labels = labels;
        Style = style;
    }

    /// <summary>The pattern as written (lower-cased, without a trailing dot).</summary>
    public string Text { get; }

    /// <summary>How wildcards are read.</summary>
    public DnsPatternStyle Style { get; }

    /// <summary>Whether the pattern is a plain name, with no wildcard.</summary>
    public bool IsExact => !Text.Contains('*', StringComparison.Ordinal);

    /// <summary>
    /// A name or pattern. <see cref="DnsPatternStyle.Exact"/>: only that name.
    /// <see cref="DnsPatternStyle.LeadingLabels"/> (ClusterNetworkPolicy): <c>*.</c> as the first label
    /// matches one or more whole labels. <see cref="DnsPatternStyle.Glob"/> (Cilium <c>matchPattern</c>):
    /// <c>*</c> alone matches every name; elsewhere <c>*</c> matches any characters within one label,
    /// and a leading <c>**.</c> matches one or more labels.
    /// </summary>
    public static DnsPattern Create(string text, DnsPatternStyle style)
    {
        var normalized = Normalize(text);
        return new DnsPattern(normalized, normalized.Split('.'), style);
    }

    /// <summary>A name as matching compares it: lower case, no trailing dot.</summary>
    public static string Normalize(string name) => name.Trim().TrimEnd('.').ToLowerInvariant();

    /// <summary>Whether <paramref name="name"/> is matched.</summary>
    public bool Matches(string name)
    {
        var target = Normalize(name);
        if (Style == DnsPatternStyle.Exact || IsExact)
        {
            return string.Equals(Text, target, StringComparison.Ordinal);
        }

        if (Style == DnsPatternStyle.Glob && Text == "*")
        {
            return target.Length > 0;
        }

        var labels = target.Split('.');
        if (_labels[0] is "*" or "**" && (Style == DnsPatternStyle.LeadingLabels || _labels[0] == "**"))
        {
            // One or more whole labels, then the rest label by label.
            var rest = _labels.Length - 1;
            if (labels.Length < rest + 1)
            {
                return false;
            }

            return LabelsMatch(_labels.AsSpan(1), labels.AsSpan(labels.Length - rest));
        }

        return labels.Length == _labels.Length && LabelsMatch(_labels, labels);
    }

    private bool LabelsMatch(ReadOnlySpan<string> pattern, ReadOnlySpan<string> labels)
    {
        for (var i = 0; i < pattern.Length; i++)
        {
            if (!LabelMatches(pattern[i], labels[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>One label against a pattern label, where (in glob style) <c>*</c> matches any run of characters.</summary>
    private bool LabelMatches(string pattern, string label)
    {
        if (Style != DnsPatternStyle.Glob || !pattern.Contains('*', StringComparison.Ordinal))
        {
            return string.Equals(pattern, label, StringComparison.Ordinal);
        }

        // Greedy glob match with one remembered star: linear in the label, no backtracking blow-up.
        int p = 0, l = 0, star = -1, mark = 0;
        while (l < label.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = l;
            }
            else if (p < pattern.Length && pattern[p] == label[l])
            {
                p++;
                l++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                l = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <inheritdoc />
    public bool Equals(DnsPattern? other) => other is not null && Style == other.Style && Text == other.Text;

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as DnsPattern);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Text, Style);

    /// <inheritdoc />
    public override string ToString() => Text;
}

/// <summary>How a <see cref="DnsPattern"/> reads wildcards.</summary>
public enum DnsPatternStyle
{
    /// <summary>A plain name (Cilium <c>matchName</c>).</summary>
    Exact,

    /// <summary><c>*.</c> as a first label matches one or more labels (ClusterNetworkPolicy <c>domainNames</c>).</summary>
    LeadingLabels,

    /// <summary>Cilium <c>matchPattern</c>: <c>*</c> within a label, or alone for every name.</summary>
    Glob,
}
