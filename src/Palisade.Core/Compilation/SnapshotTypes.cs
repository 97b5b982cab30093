using Palisade.Model;

namespace Palisade.Compilation;

/// <summary>Whether CIDR peers can match the addresses of pods (see DESIGN.md and FORMAT.md, <c>ipBlockScope</c>).</summary>
public enum IpBlockScope
{
    /// <summary>CIDR peers match only addresses outside the cluster, as Cilium and netpol-analyzer behave. The default.</summary>
    External,

    /// <summary>CIDR peers match pods' own addresses too, as the upstream Kubernetes e2e suite expects of a CNI.</summary>
    All,
}

/// <summary>Options that change what a snapshot means.</summary>
public sealed record SnapshotOptions
{
    /// <summary>The defaults: <see cref="IpBlockScope.External"/>.</summary>
    public static readonly SnapshotOptions Default = new();

    /// <summary>Whether CIDR peers can match pods' addresses.</summary>
    public IpBlockScope IpBlockScope { get; init; } = IpBlockScope.External;
}

/// <summary>A pod as the snapshot holds it: its spec and the identity it belongs to.</summary>
public sealed record SnapshotPod(int Index, PodSpec Spec, int Identity, bool FromWorkload);

/// <summary>
/// A set of pods that every selector, named port and CIDR peer of the snapshot treats alike, so
/// every verdict is the same for each of them. <see cref="Pods"/> lists their indices.
/// </summary>
public sealed record SnapshotIdentity(int Index, string Namespace, LabelSet Labels, IReadOnlyList<int> Pods);

/// <summary>What one compile did and how long it took, for the host to log once.</summary>
public sealed record CompileStatistics
{
    /// <summary>The new snapshot's revision.</summary>
    public required long Revision { get; init; }

    /// <summary>Pods, including one made for each workload.</summary>
    public required int Pods { get; init; }

    /// <summary>Identities the pods were grouped into.</summary>
    public required int Identities { get; init; }

    /// <summary>Policies of every dialect.</summary>
    public required int Policies { get; init; }

    /// <summary>Distinct ingress decisions (identities sharing the policies that select them).</summary>
    public required int IngressClasses { get; init; }

    /// <summary>Distinct egress decisions.</summary>
    public required int EgressClasses { get; init; }

    /// <summary>Distinct connection sets in the matrix.</summary>
    public required int ConnectionSets { get; init; }

    /// <summary>Wall-clock milliseconds the compile took.</summary>
    public required double Milliseconds { get; init; }

    /// <summary>Milliseconds per phase (grouping pods, evaluating selectors, forming identities, rules, ingress and egress classes, the matrix).</summary>
    public IReadOnlyList<(string Phase, double Milliseconds)> Phases { get; init; } = [];
}
