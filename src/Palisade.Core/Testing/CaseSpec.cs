using Palisade.Compilation;
using Palisade.Model;
using Palisade.Sets;

namespace Palisade.Testing;

/// <summary>
/// A connectivity case (<c>*.case.yaml</c>, see FORMAT.md of the conformance suites): a cluster,
/// steps that change it, and the connections that must be allowed or denied after each step.
/// Users keep such files beside their policies as tests.
/// </summary>
public sealed record CaseSpec
{
    /// <summary>The case's name, unique within its folder.</summary>
    public required string Name { get; init; }

    /// <summary>The file it was read from.</summary>
    public required string Source { get; init; }

    /// <summary>What the case shows.</summary>
    public string? Description { get; init; }

    /// <summary>Where its facts come from.</summary>
    public string? Origin { get; init; }

    /// <summary>Analysis options (<c>ipBlockScope</c>).</summary>
    public SnapshotOptions Options { get; init; } = SnapshotOptions.Default;

    /// <summary>The cluster from <c>resources</c> and <c>manifests</c>.</summary>
    public required ClusterSpec Cluster { get; init; }

    /// <summary>The steps in order; a case with a top-level <c>expect</c> has one step without changes.</summary>
    public required IReadOnlyList<CaseStep> Steps { get; init; }
}

/// <summary>One step: changes (delete, then apply, then setLabels), then checks.</summary>
public sealed record CaseStep
{
    /// <summary>The step's name, if it has one.</summary>
    public string? Name { get; init; }

    /// <summary>Objects to delete, by key.</summary>
    public IReadOnlyList<(ObjectKey Key, SourceLocation Location)> Delete { get; init; } = [];

    /// <summary>Objects to add or replace.</summary>
    public ClusterSpec? Apply { get; init; }

    /// <summary>Label changes per object; a null value removes the label.</summary>
    public IReadOnlyList<(ObjectKey Key, IReadOnlyDictionary<string, string?> Labels, SourceLocation Location)> SetLabels { get; init; } = [];

    /// <summary>The checks to run after the changes.</summary>
    public IReadOnlyList<CaseCheck> Expect { get; init; } = [];

    /// <summary>Where the step starts.</summary>
    public required SourceLocation Location { get; init; }
}

/// <summary>A check of a step: a <see cref="ProbeCheck"/> or a <see cref="MatrixCheck"/>.</summary>
public abstract record CaseCheck
{
    /// <summary>Where the check is written.</summary>
    public required SourceLocation Location { get; init; }
}

/// <summary>An HTTP request a probe asks about at layer 7.</summary>
public sealed record HttpRequestSpec
{
    /// <summary>The method, e.g. GET.</summary>
    public string? Method { get; init; }

    /// <summary>The path, e.g. <c>/api/v1/items</c>.</summary>
    public string? Path { get; init; }

    /// <summary>The Host header.</summary>
    public string? Host { get; init; }

    /// <summary>Other headers.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();
}

/// <summary>One connection and the verdict it must get.</summary>
public sealed record ProbeCheck : CaseCheck
{
    /// <summary>The source endpoint as written (<c>ns/name</c>, an address, <c>fqdn:NAME:IP</c>, <c>node:NAME</c>).</summary>
    public required string From { get; init; }

    /// <summary>The destination endpoint as written.</summary>
    public required string To { get; init; }

    /// <summary>The protocol.</summary>
    public required Protocol Protocol { get; init; }

    /// <summary>The destination port.</summary>
    public required int Port { get; init; }

    /// <summary>The HTTP request, for a layer-7 probe.</summary>
    public HttpRequestSpec? Http { get; init; }

    /// <summary>The DNS name queried, for a DNS probe.</summary>
    public string? DnsQuery { get; init; }

    /// <summary>Whether the connection must be allowed.</summary>
    public required bool ExpectAllowed { get; init; }
}

/// <summary>Every ordered pair of some pods on one port, with the verdict each must get.</summary>
public sealed record MatrixCheck : CaseCheck
{
    /// <summary>The protocol.</summary>
    public required Protocol Protocol { get; init; }

    /// <summary>The destination port.</summary>
    public required int Port { get; init; }

    /// <summary>The cells to check: source, destination, expected verdict, where the cell is written.</summary>
    public required IReadOnlyList<(string From, string To, bool ExpectAllowed, SourceLocation Location)> Cells { get; init; }
}
