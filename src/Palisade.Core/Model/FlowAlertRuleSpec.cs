using Palisade.Diagnostics;
using Palisade.Sets;

namespace Palisade.Model;

/// <summary>
/// An alert rule as the user wrote it: which flows raise it, how bad it is, and how long repeats of one
/// alert are folded into it. Every condition given must hold; a list condition holds when any of its
/// entries does. Namespace patterns take <c>*</c> as a wildcard (<c>project-*</c>).
/// </summary>
public sealed record FlowAlertRuleSpec
{
    /// <summary>The rule's name, unique in its file; alerts carry it.</summary>
    public required string Name { get; init; }

    /// <summary>What the rule is for, for the people who get the alert.</summary>
    public string? Description { get; init; }

    /// <summary><c>info</c>, <c>warning</c> or <c>critical</c>.</summary>
    public string Severity { get; init; } = "warning";

    /// <summary>Source namespace patterns.</summary>
    public IReadOnlyList<string> FromNamespaces { get; init; } = [];

    /// <summary>Destination namespace patterns.</summary>
    public IReadOnlyList<string> ToNamespaces { get; init; } = [];

    /// <summary>Labels the source must carry (<c>key=value</c>), all of them.</summary>
    public LabelSet FromLabels { get; init; } = LabelSet.Empty;

    /// <summary>Labels the destination must carry, all of them.</summary>
    public LabelSet ToLabels { get; init; } = LabelSet.Empty;

    /// <summary>When true, only flows to an address outside the cluster; when false, only flows inside it.</summary>
    public bool? ToOutside { get; init; }

    /// <summary>Outside destinations that are approved, by DNS name (<c>pypi.org</c>, <c>*.r-project.org</c>): flows to them do not raise the alert.</summary>
    public IReadOnlyList<DnsPattern> ApprovedNames { get; init; } = [];

    /// <summary>Outside destinations that are approved, by address.</summary>
    public IpSet ApprovedAddresses { get; init; } = IpSet.Empty;

    /// <summary>
    /// CiliumCIDRGroups whose addresses are approved too, by name, with where each is named: the list a
    /// TRE keeps its approved destinations in for its policies, kept in one place for its alerts as well.
    /// </summary>
    public IReadOnlyList<(string Name, SourceLocation? Location)> ApprovedCidrGroups { get; init; } = [];

    /// <summary>Hubble verdicts (<c>FORWARDED</c>, <c>DROPPED</c>...).</summary>
    public IReadOnlyList<string> Verdicts { get; init; } = [];

    /// <summary>Hubble drop reasons (<c>POLICY_DENIED</c>...).</summary>
    public IReadOnlyList<string> DropReasons { get; init; } = [];

    /// <summary>Destination ports.</summary>
    public IReadOnlyList<int> Ports { get; init; } = [];

    /// <summary>When true, only flows whose observed verdict and the engine's disagree.</summary>
    public bool? Disagreement { get; init; }

    /// <summary>Repeats of one alert (same rule, source workload, destination and port) within this time are folded into it.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Where the rule was written.</summary>
    public SourceLocation? Location { get; init; }
}

/// <summary>A file of alert rules, and where alerts are delivered.</summary>
public sealed record FlowAlertRulesSpec
{
    /// <summary>The rules, in file order.</summary>
    public IReadOnlyList<FlowAlertRuleSpec> Rules { get; init; } = [];

    /// <summary>Whether some rule approves the addresses of CiliumCIDRGroups, which <see cref="WithCidrGroups"/> resolves.</summary>
    public bool NamesCidrGroups => Rules.Any(static r => r.ApprovedCidrGroups.Count > 0);

    /// <summary>
    /// The rules with the addresses of the CiliumCIDRGroups they name added to their approved addresses,
    /// from <paramref name="groups"/>; <paramref name="missing"/> gets an error for each name no group has, where it was named.
    /// </summary>
    public FlowAlertRulesSpec WithCidrGroups(IReadOnlyList<CiliumCidrGroupSpec> groups, out IReadOnlyList<Diagnostic> missing)
    {
        ArgumentNullException.ThrowIfNull(groups);
        var unknown = new List<Diagnostic>();
        var rules = new List<FlowAlertRuleSpec>(Rules.Count);
        foreach (var rule in Rules)
        {
            var approved = rule.ApprovedAddresses;
            foreach (var (name, location) in rule.ApprovedCidrGroups)
            {
                if (groups.FirstOrDefault(g => g.Name == name) is { } group)
                {
                    approved = approved.Union(group.Cidrs);
                }
                else
                {
                    unknown.Add(new Diagnostic(DiagnosticCodes.InvalidAlertRule, Severity.Error, location ?? rule.Location ?? SourceLocation.Unknown("alert rules"), $"approvedCidrGroups names '{name}', which no CiliumCIDRGroup in --policies defines")
                    {
                        Subject = $"rule {rule.Name}",
                        Path = "match.approvedCidrGroups",
                    });
                }
            }

            rules.Add(rule with { ApprovedAddresses = approved });
        }

        missing = unknown;
        return this with { Rules = rules };
    }

    /// <summary>A URL alerts are posted to as JSON, or null for the log only.</summary>
    public Uri? Webhook { get; init; }
}
