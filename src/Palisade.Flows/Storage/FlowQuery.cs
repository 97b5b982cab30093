using Palisade.Flows.Records;

namespace Palisade.Flows.Storage;

/// <summary>
/// Which stored flows a query asks for, with the filters <c>hubble observe</c> has and Palisade's own.
/// Filters of one kind are alternatives (any of the namespaces); filters of different kinds must all
/// hold. An empty list means no filter of that kind. "Either end" filters match the source or the
/// destination; <c>From</c>/<c>To</c> filters match one end.
/// </summary>
public sealed record FlowQuery
{
    /// <summary>Every stored flow.</summary>
    public static readonly FlowQuery All = new();

    /// <summary>Flows at or after this time, in nanoseconds since the epoch.</summary>
    public long? SinceNanos { get; init; }

    /// <summary>Flows before this time, in nanoseconds since the epoch.</summary>
    public long? UntilNanos { get; init; }

    /// <summary>Flows with either end in one of these namespaces.</summary>
    public IReadOnlyList<string> Namespaces { get; init; } = [];

    /// <summary>Flows whose source is in one of these namespaces.</summary>
    public IReadOnlyList<string> FromNamespaces { get; init; } = [];

    /// <summary>Flows whose destination is in one of these namespaces.</summary>
    public IReadOnlyList<string> ToNamespaces { get; init; } = [];

    /// <summary>Flows with either end one of these pods: <c>namespace/pod</c>, or a pod name in any namespace; a trailing <c>*</c> matches a prefix (<c>project-alpha/jupyter-*</c>).</summary>
    public IReadOnlyList<string> Pods { get; init; } = [];

    /// <summary>Flows whose source is one of these pods.</summary>
    public IReadOnlyList<string> FromPods { get; init; } = [];

    /// <summary>Flows whose destination is one of these pods.</summary>
    public IReadOnlyList<string> ToPods { get; init; } = [];

    /// <summary>Flows with either end carrying this label (<c>app=web</c>, or Cilium's <c>k8s:app=web</c>); all of them must be carried.</summary>
    public IReadOnlyList<string> Labels { get; init; } = [];

    /// <summary>Flows whose source carries all these labels.</summary>
    public IReadOnlyList<string> FromLabels { get; init; } = [];

    /// <summary>Flows whose destination carries all these labels.</summary>
    public IReadOnlyList<string> ToLabels { get; init; } = [];

    /// <summary>Flows with either address one of these.</summary>
    public IReadOnlyList<string> Ips { get; init; } = [];

    /// <summary>Flows from one of these addresses.</summary>
    public IReadOnlyList<string> FromIps { get; init; } = [];

    /// <summary>Flows to one of these addresses.</summary>
    public IReadOnlyList<string> ToIps { get; init; } = [];

    /// <summary>Flows with one of these verdicts.</summary>
    public IReadOnlyList<FlowVerdict> Verdicts { get; init; } = [];

    /// <summary>Flows of one of these protocols.</summary>
    public IReadOnlyList<FlowProtocol> Protocols { get; init; } = [];

    /// <summary>Flows with either port one of these.</summary>
    public IReadOnlyList<int> Ports { get; init; } = [];

    /// <summary>Flows from one of these ports.</summary>
    public IReadOnlyList<int> FromPorts { get; init; } = [];

    /// <summary>Flows to one of these ports.</summary>
    public IReadOnlyList<int> ToPorts { get; init; } = [];

    /// <summary>HTTP records with one of these status codes; <c>5+</c> or <c>4+</c> style ranges are given as (from, to) pairs.</summary>
    public IReadOnlyList<(int From, int To)> HttpStatus { get; init; } = [];

    /// <summary>HTTP records with one of these methods (case-insensitive).</summary>
    public IReadOnlyList<string> HttpMethods { get; init; } = [];

    /// <summary>DNS records whose query is one of these names (a trailing dot is optional; <c>*.</c> prefix matches subdomains).</summary>
    public IReadOnlyList<string> DnsQueries { get; init; } = [];

    /// <summary>Flows seen by one of these nodes.</summary>
    public IReadOnlyList<string> Nodes { get; init; } = [];

    /// <summary>Flows whose deciding policy, as attribution named it, is one of these (<c>namespace/name</c>, or a name).</summary>
    public IReadOnlyList<string> Policies { get; init; } = [];

    /// <summary>Flows of one of these research projects.</summary>
    public IReadOnlyList<string> Projects { get; init; } = [];

    /// <summary>Only flows whose observed and attributed verdicts disagree.</summary>
    public bool DisagreementOnly { get; init; }

    /// <summary>Flows of these layer-7 record types only (HTTP, DNS): <c>http</c> or <c>dns</c>.</summary>
    public IReadOnlyList<string> L7Protocols { get; init; } = [];

    /// <summary>At most this many flows; null for all.</summary>
    public int? Limit { get; init; }

    /// <summary>When true (the default of <c>hubble observe --last</c>), the newest <see cref="Limit"/> flows, still printed oldest first.</summary>
    public bool Newest { get; init; }
}
