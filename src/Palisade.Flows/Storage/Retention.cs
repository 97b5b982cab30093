using System.Globalization;
using System.Text;

namespace Palisade.Flows.Storage;

/// <summary>
/// How long flows are kept: for a namespace (a flow is in it when either end is), for a research
/// project (as attribution named it), or <c>*</c> for every flow no other rule matches. A flow that
/// matches several rules is kept as long as the longest of them says (a rule may be shorter than
/// <c>*</c>, to drop a noisy namespace early); with no <c>*</c> rule, flows no rule matches are kept for good.
/// </summary>
public sealed record RetentionRule(string Target, int Days)
{
    /// <summary>The target of the rule for every flow no other rule matches.</summary>
    public const string Everything = "*";

    /// <summary>The prefix of a project target.</summary>
    public const string ProjectPrefix = "project:";

    /// <summary>Reads <c>NAMESPACE=DURATION</c>, <c>project:NAME=DURATION</c> or <c>*=DURATION</c>; the duration in days (<c>400d</c>) or weeks (<c>8w</c>).</summary>
    public static RetentionRule? Parse(string text, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        error = null;
        var equals = text.LastIndexOf('=');
        if (equals <= 0)
        {
            error = $"'{text}' is not TARGET=DURATION; expected for example project-alpha=400d, project:alpha=400d or *=30d";
            return null;
        }

        var target = text[..equals].Trim();
        var duration = text[(equals + 1)..].Trim();
        var days = duration.EndsWith('d') ? 1 : duration.EndsWith('w') ? 7 : 0;
        if (days == 0 || !int.TryParse(duration.AsSpan(0, duration.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1 || count > 36_500)
        {
            error = $"'{duration}' is not a retention period; expected whole days or weeks such as 400d or 8w";
            return null;
        }

        if (target.StartsWith(ProjectPrefix, StringComparison.Ordinal) ? target.Length == ProjectPrefix.Length : target.Length == 0)
        {
            error = $"'{text}' names no namespace or project";
            return null;
        }

        return new RetentionRule(target, count * days);
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Target}={Days}d");

    /// <summary>
    /// The rules after removing <paramref name="unset"/> targets and setting <paramref name="set"/> rules
    /// (a rule for a target replaces the one there); null, with the reason, when a target to remove has no rule.
    /// </summary>
    public static IReadOnlyList<RetentionRule>? Change(IReadOnlyList<RetentionRule> rules, IEnumerable<RetentionRule> set, IEnumerable<string> unset, out string? error)
    {
        ArgumentNullException.ThrowIfNull(rules);
        var byTarget = rules.ToDictionary(static r => r.Target, StringComparer.Ordinal);
        foreach (var target in unset)
        {
            if (!byTarget.Remove(target))
            {
                error = $"there is no rule for '{target}'";
                return null;
            }
        }

        foreach (var rule in set)
        {
            byTarget[rule.Target] = rule;
        }

        error = null;
        return InOrder(byTarget.Values);
    }

    /// <summary>Rules as people read them: by target, with <c>*</c> last.</summary>
    public static IReadOnlyList<RetentionRule> InOrder(IEnumerable<RetentionRule> rules) =>
        [.. rules.OrderBy(static r => r.Target == Everything).ThenBy(static r => r.Target, StringComparer.Ordinal)];

    /// <summary>What the rule covers, for people: <c>namespace project-alpha</c>, <c>project alpha</c>, <c>every other flow</c>.</summary>
    public string Describe() =>
        Target == Everything ? "every other flow" : Target.StartsWith(ProjectPrefix, StringComparison.Ordinal) ? $"project {Target[ProjectPrefix.Length..]}" : $"namespace {Target}";
}

/// <summary>What applying retention did (or, in a dry run, would do).</summary>
public sealed record RetentionResult(long Deleted, IReadOnlyList<string> DroppedPartitions, bool DryRun);

/// <summary>The SQL that applies retention rules, shared by the stores.</summary>
public static class RetentionSql
{
    private const long NanosPerDay = 86_400L * 1_000_000_000L;

    /// <summary>
    /// A condition that holds for flows older than their retention at <paramref name="nowNanos"/>: the
    /// rules are tried longest first, so a flow gets the longest retention of the rules that match it.
    /// Null when no flow can be old enough (no rules). <paramref name="time"/> names the time compared
    /// (for rows that stand for many flows, their first or last time).
    /// </summary>
    public static string? Expired(
        IReadOnlyList<RetentionRule> rules, long nowNanos, FlowDictionary dictionary, FlowSqlDialect dialect, out IReadOnlyList<KeyValuePair<string, object>> parameters, string time = "time_ns")
    {
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(dictionary);
        ArgumentNullException.ThrowIfNull(dialect);
        var named = new List<KeyValuePair<string, object>>();
        parameters = named;
        string Parameter(object value)
        {
            var name = "r" + named.Count.ToString(CultureInfo.InvariantCulture);
            named.Add(new(name, value));
            return dialect.Parameter(name);
        }

        if (rules.Count == 0)
        {
            return null;
        }

        var cases = new StringBuilder("CASE");
        var whens = 0;
        string? otherwise = null;
        foreach (var rule in rules.OrderByDescending(static r => r.Days))
        {
            var cutoff = Parameter(nowNanos - (rule.Days * NanosPerDay));
            if (rule.Target == RetentionRule.Everything)
            {
                otherwise = cutoff;
                continue;
            }

            string condition;
            if (rule.Target.StartsWith(RetentionRule.ProjectPrefix, StringComparison.Ordinal))
            {
                condition = dictionary.KnownString(rule.Target[RetentionRule.ProjectPrefix.Length..]) is { } project ? dialect.On("project", $"project = {project.ToString(CultureInfo.InvariantCulture)}") : "FALSE";
            }
            else
            {
                var ends = dictionary.EndsWhere(e => e.Endpoint.Namespace == rule.Target);
                condition = $"({FlowFilterSql.In("src", ends)} OR {FlowFilterSql.In("dst", ends)})";
            }

            cases.Append(CultureInfo.InvariantCulture, $" WHEN {condition} THEN {cutoff}");
            whens++;
        }

        if (whens == 0)
        {
            return $"{time} < {otherwise}";
        }

        if (otherwise is not null)
        {
            cases.Append(CultureInfo.InvariantCulture, $" ELSE {otherwise}");
        }

        cases.Append(" END");
        return $"{time} < {cases}";
    }

    /// <summary>A time before which every flow has expired: the longest rule's cutoff, when a <c>*</c> rule makes every flow expire; else null.</summary>
    public static long? EverythingBefore(IReadOnlyList<RetentionRule> rules, long nowNanos)
    {
        ArgumentNullException.ThrowIfNull(rules);
        return rules.Any(static r => r.Target == RetentionRule.Everything) ? nowNanos - (rules.Max(static r => r.Days) * NanosPerDay) : null;
    }
}
