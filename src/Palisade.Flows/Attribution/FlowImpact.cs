using System.Globalization;
using Palisade.Compilation;
using Palisade.Flows.Records;
using Palisade.Flows.Storage;

namespace Palisade.Flows.Attribution;

/// <summary>Which way a proposed policy set changes a flow's verdict.</summary>
public enum ImpactChange
{
    /// <summary>Allowed now (or forwarded), denied by the proposed policies: what the change would break.</summary>
    NewlyDenied,

    /// <summary>Denied now (or dropped by policy), allowed by the proposed policies: what the change would open.</summary>
    NewlyAllowed,
}

/// <summary>Flows of one workload pair and connection whose verdict a proposed policy set changes.</summary>
public sealed record ImpactGroup
{
    /// <summary>Which way the verdict changes.</summary>
    public required ImpactChange Change { get; init; }

    /// <summary>The client: <c>ns/name[Kind]</c>, an address, a DNS name or a node.</summary>
    public required string Source { get; init; }

    /// <summary>The server.</summary>
    public required string Destination { get; init; }

    /// <summary>The connection, <c>TCP 5432</c>.</summary>
    public required string Connection { get; init; }

    /// <summary>How many flows.</summary>
    public long Count { get; set; }

    /// <summary>The first flow's time, in nanoseconds since the epoch.</summary>
    public long FirstNanos { get; set; }

    /// <summary>The last flow's time.</summary>
    public long LastNanos { get; set; }

    /// <summary>What decides these flows now (policy, or the observed verdict when they were not attributed).</summary>
    public string? Now { get; init; }

    /// <summary>What would decide them under the proposed policies.</summary>
    public string? Proposed { get; init; }

    /// <summary>Up to three example flows.</summary>
    public List<FlowRecord> Examples { get; } = [];
}

/// <summary>What replaying stored flows against a proposed policy set found.</summary>
public sealed record ImpactReport(long Replayed, long Judged, long Changed, IReadOnlyList<ImpactGroup> Groups);

/// <summary>
/// Replays stored flows against a proposed policy set: each flow that starts or carries a connection
/// (not a reply, not a layer-7 response) is judged by the proposed snapshot and compared with its verdict
/// now: the current snapshot's when one is given, else the attribution stored with the flow, else what
/// Hubble observed (forwarded as allowed; dropped by policy as denied). Flows whose verdict changes are
/// grouped by workload pair and connection.
/// </summary>
public static class FlowImpact
{
    /// <summary>Replays the flows <paramref name="query"/> selects.</summary>
    public static async Task<ImpactReport> ReplayAsync(
        IFlowStore store, FlowQuery query, PolicySnapshot proposed, PolicySnapshot? current = null, AttributionOptions? options = null,
        IProgress<long>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(proposed);
        var next = new FlowAttributor(proposed, options);
        var now = current is null ? null : new FlowAttributor(current, options);
        var groups = new Dictionary<(ImpactChange, string, string, string), ImpactGroup>();
        long replayed = 0, judged = 0, changed = 0;
        await foreach (var flow in store.QueryAsync(query, cancel).ConfigureAwait(false))
        {
            replayed++;
            if (replayed % 100_000 == 0)
            {
                progress?.Report(replayed);
            }

            if (flow.IsReply == true || flow.L7Type == L7Type.Response)
            {
                continue;
            }

            var before = now is null ? flow.Attribution : now.Attribute(flow).Attribution;
            var wasAllowed = before is { Verdict: not EngineVerdict.Unknown } ? before.Verdict == EngineVerdict.Allowed : Observed(flow);
            if (wasAllowed is null)
            {
                continue;
            }

            var after = next.Attribute(flow).Attribution!;
            if (after.Verdict == EngineVerdict.Unknown)
            {
                continue;
            }

            judged++;
            var isAllowed = after.Verdict == EngineVerdict.Allowed;
            if (isAllowed == wasAllowed)
            {
                continue;
            }

            changed++;
            var change = isAllowed ? ImpactChange.NewlyAllowed : ImpactChange.NewlyDenied;
            var source = next.Describe(flow, source: true);
            var destination = next.Describe(flow, source: false);
            var connection = $"{flow.Protocol.Name()} {flow.DestinationPort.ToString(CultureInfo.InvariantCulture)}";
            if (!groups.TryGetValue((change, source, destination, connection), out var group))
            {
                group = new ImpactGroup
                {
                    Change = change,
                    Source = source,
                    Destination = destination,
                    Connection = connection,
                    FirstNanos = flow.TimeUnixNanos,
                    Now = Describe(before, flow),
                    Proposed = Describe(after, flow),
                };
                groups[(change, source, destination, connection)] = group;
            }

            group.Count++;
            group.FirstNanos = Math.Min(group.FirstNanos, flow.TimeUnixNanos);
            group.LastNanos = Math.Max(group.LastNanos, flow.TimeUnixNanos);
            if (group.Examples.Count < 3)
            {
                group.Examples.Add(flow);
            }
        }

        var ordered = groups.Values
            .OrderBy(static g => g.Change)
            .ThenByDescending(static g => g.Count)
            .ThenBy(static g => g.Source, StringComparer.Ordinal)
            .ThenBy(static g => g.Destination, StringComparer.Ordinal)
            .ThenBy(static g => g.Connection, StringComparer.Ordinal)
            .ToList();
        return new ImpactReport(replayed, judged, changed, ordered);
    }

    /// <summary>What Hubble's verdict says of the policies: forwarded is allowed, a policy drop denied, anything else unknown.</summary>
    private static bool? Observed(FlowRecord flow) => flow.Verdict switch
    {
        FlowVerdict.Forwarded or FlowVerdict.Redirected => true,
        FlowVerdict.Dropped when flow.DropReason is "POLICY_DENIED" or "POLICY_DENY" => false,
        _ => null,
    };

    private static string Describe(FlowAttribution? attribution, FlowRecord flow)
    {
        if (attribution is not { Verdict: not EngineVerdict.Unknown })
        {
            return $"{flow.Verdict.Name().ToLowerInvariant()} (observed)";
        }

        var verdict = attribution.Verdict == EngineVerdict.Allowed ? "allowed" : "denied";
        return attribution.Policy is null
            ? $"{verdict} (no policy selects it)"
            : $"{verdict} by {attribution.Policy}{(attribution.Rule is null ? " (isolated, no rule matches)" : " " + attribution.Rule)}";
    }
}
