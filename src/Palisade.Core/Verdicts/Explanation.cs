using System.Globalization;
using System.Text;
using Palisade.Model;
using Palisade.Sets;

namespace Palisade.Verdicts;

/// <summary>The policy tier that decided one direction of a connection (see DESIGN.md, "One engine, many dialects").</summary>
public enum Tier
{
    /// <summary>No policy selects the endpoint in this direction, so it is not isolated and the connection is allowed.</summary>
    None,

    /// <summary>AdminNetworkPolicy and ClusterNetworkPolicy <c>tier: Admin</c>.</summary>
    Admin,

    /// <summary>NetworkPolicy and Cilium's policies.</summary>
    Namespace,

    /// <summary>BaselineAdminNetworkPolicy and ClusterNetworkPolicy <c>tier: Baseline</c>.</summary>
    Baseline,
}

/// <summary>A policy, named as a user would look it up: kind, namespace and name, and its priority where it has one.</summary>
public sealed record PolicyReference(string Kind, string Namespace, string Name, SourceLocation? Location)
{
    /// <summary>The priority of an AdminNetworkPolicy (lower is evaluated first).</summary>
    public int? Priority { get; init; }

    /// <summary><c>NetworkPolicy ns/name</c>, or <c>Kind name (priority N)</c> for a cluster-scoped policy.</summary>
    public override string ToString() =>
        Namespace.Length == 0
            ? Priority is { } priority ? $"{Kind} {Name} (priority {priority})" : $"{Kind} {Name}"
            : $"{Kind} {Namespace}/{Name}";
}

/// <summary>A rule (or a peer or port inside it) of a policy, by its path in the object: <c>spec.ingress[1].from[0]</c>.</summary>
public sealed record RuleReference(PolicyReference Policy, string Path)
{
    /// <summary>The rule's name, for cluster-wide rules that have one.</summary>
    public string? RuleName { get; init; }

    /// <summary><c>NetworkPolicy ns/name spec.ingress[1].from[0]</c>, with the rule's name in quotes when it has one.</summary>
    public override string ToString() => RuleName is null ? $"{Policy} {Path}" : $"{Policy} {Path} \"{RuleName}\"";
}

/// <summary>A rule whose peer matched but whose ports did not: the usual reason a connection someone expected is dropped.</summary>
public sealed record NearMiss(RuleReference Rule, ConnectionSet Admits);

/// <summary>How one direction (the source's egress or the destination's ingress) decided a connection.</summary>
public sealed record SideExplanation
{
    /// <summary>Egress of the source, or ingress of the destination.</summary>
    public required Direction Direction { get; init; }

    /// <summary>The endpoint whose policies were consulted.</summary>
    public required string Subject { get; init; }

    /// <summary>False when the endpoint is outside the cluster, where no policy of the cluster applies.</summary>
    public bool Checked { get; init; } = true;

    /// <summary>Whether this direction lets the connection through.</summary>
    public required bool Allowed { get; init; }

    /// <summary>The tier that decided; <see cref="Tier.None"/> when nothing selects the endpoint.</summary>
    public required Tier Tier { get; init; }

    /// <summary>The policies that select the endpoint in this direction (and so isolate it).</summary>
    public IReadOnlyList<PolicyReference> SelectingPolicies { get; init; } = [];

    /// <summary>The rules (down to the peer) that admit the connection.</summary>
    public IReadOnlyList<RuleReference> AllowingRules { get; init; } = [];

    /// <summary>Rules that admit the peer but on other ports.</summary>
    public IReadOnlyList<NearMiss> NearMisses { get; init; } = [];

    /// <summary>The admin or baseline rule that decided, when one did.</summary>
    public RuleReference? DecidingRule { get; init; }

    /// <summary>What <see cref="DecidingRule"/> does.</summary>
    public AdminAction? DecidingAction { get; init; }

    /// <summary>The admin rule that passed the connection on to the lower tiers, if one did.</summary>
    public RuleReference? PassedBy { get; init; }

    /// <summary>Whether an admin or baseline policy selects the endpoint in this direction.</summary>
    public bool ClusterWide { get; init; }

    /// <summary>What layer 7 decided, when a request was asked about.</summary>
    public Layer7Check? Layer7 { get; init; }

    /// <summary>A reason that needs no rule, e.g. a pod's own node reaching it.</summary>
    public string? Note { get; init; }

    /// <summary>A line or a few that say what decided, for people; near misses only when asked.</summary>
    public string Describe(bool nearMisses = true)
    {
        var what = Direction == Direction.Egress ? "egress from" : "ingress to";
        if (!Checked)
        {
            return $"{what} {Subject}: not checked (outside the cluster)";
        }

        if (Note is not null)
        {
            return $"{what} {Subject}: allowed, {Note}";
        }

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{what} {Subject}: ");
        if (PassedBy is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $"passed on by {PassedBy} (Pass); ");
        }

        switch (Tier)
        {
            case Tier.None when ClusterWide:
                text.Append("allowed, no admin or baseline rule matches and no NetworkPolicy isolates it");
                break;
            case Tier.None:
                text.Append(CultureInfo.InvariantCulture, $"allowed, no policy selects it for {Direction.ToString().ToLowerInvariant()} (not isolated)");
                break;
            case Tier.Namespace when DecidingAction == AdminAction.Deny:
                text.Append(CultureInfo.InvariantCulture, $"denied by the namespace tier: {DecidingRule} (deny rules win over every allow)");
                break;
            case Tier.Namespace when Layer7 is { Allowed: false }:
                text.Append("the namespace tier allows the connection by ").AppendJoin("; ", AllowingRules).Append(", but layer 7 refuses the request");
                break;
            case Tier.Admin or Tier.Baseline:
                text.Append(CultureInfo.InvariantCulture, $"{(Allowed ? "allowed" : "denied")} by the {(Tier == Tier.Admin ? "admin" : "baseline")} tier: {DecidingRule} ({DecidingAction})");
                break;
            case Tier.Namespace when Allowed:
                text.Append("allowed by the namespace tier: ").AppendJoin("; ", AllowingRules);
                break;
            default:
                text.Append("denied by the namespace tier: isolated by ").AppendJoin(", ", SelectingPolicies).Append(" and no rule matches");
                break;
        }

        if (Layer7 is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $"\n    layer 7: {Layer7.Reason}");
        }

        if (!Allowed && nearMisses)
        {
            foreach (var miss in NearMisses)
            {
                text.Append(CultureInfo.InvariantCulture, $"\n    {miss.Rule} matches the peer but admits only {miss.Admits.Describe()}");
            }
        }

        return text.ToString();
    }
}

/// <summary>What layer 7 decided about a request on a connection layers 3 and 4 allow.</summary>
public sealed record Layer7Check(bool Allowed, string Reason);

/// <summary>A verdict with the reasons for it: what each direction decided, and by which policy and rule.</summary>
public sealed record Explanation
{
    /// <summary>The source endpoint, as the user named it.</summary>
    public required string From { get; init; }

    /// <summary>The destination endpoint.</summary>
    public required string To { get; init; }

    /// <summary>The protocol asked about.</summary>
    public required Protocol Protocol { get; init; }

    /// <summary>The destination port asked about.</summary>
    public required int Port { get; init; }

    /// <summary>The HTTP request or DNS query asked about, if any.</summary>
    public L7Request? Request { get; init; }

    /// <summary>The verdict: both directions allow it.</summary>
    public required bool Allowed { get; init; }

    /// <summary>Set when the connection is decided without policies (a pod to itself).</summary>
    public string? Note { get; init; }

    /// <summary>The source's egress side.</summary>
    public required SideExplanation Egress { get; init; }

    /// <summary>The destination's ingress side.</summary>
    public required SideExplanation Ingress { get; init; }

    /// <summary>The verdict line and one block per direction; near misses (rules that match the peer but not the port) only when asked.</summary>
    public string Describe(bool nearMisses = true)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{(Allowed ? "ALLOWED" : "DENIED")}: {From} => {To} : {Protocol.Name()} {Port}{(Request is null ? string.Empty : $" {Request}")}\n");
        if (Note is not null)
        {
            text.Append("  ").Append(Note).Append('\n');
            return text.ToString();
        }

        text.Append("  ").Append(Egress.Describe(nearMisses)).Append('\n');
        text.Append("  ").Append(Ingress.Describe(nearMisses)).Append('\n');
        return text.ToString();
    }
}
