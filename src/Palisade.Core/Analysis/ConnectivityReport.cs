using Palisade.Compilation;
using Palisade.Diagnostics;
using Palisade.Model;
using Palisade.Sets;
using Palisade.Verdicts;

namespace Palisade.Analysis;

/// <summary>One end of a report line: a workload, a range of outside addresses, an outside host by DNS name, or a Cilium entity.</summary>
public sealed record ReportPeer
{
    /// <summary>The workload, for a workload peer.</summary>
    public WorkloadRef? Workload { get; init; }

    /// <summary>A DNS name or pattern (written <c>name[DNS]</c>), or an entity (<c>host[Entity]</c>).</summary>
    public string? Named { get; init; }

    /// <summary>The first address of an outside range.</summary>
    public UInt128 First { get; init; }

    /// <summary>The last address of an outside range.</summary>
    public UInt128 Last { get; init; }

    /// <summary>Whether this peer is an outside range.</summary>
    public bool IsOutside => Workload is null && Named is null;

    /// <summary><c>ns/name[Kind]</c>, <c>first-last[External]</c>, <c>name[DNS]</c> or <c>entity[Entity]</c>.</summary>
    public override string ToString() => Workload?.ToString() ?? Named ?? $"{IpSet.FormatRange(First, Last)}[External]";
}

/// <summary>One allowed connection of a report: <c>SRC => DST : CONN</c>, with the rules behind it when explained.</summary>
public sealed record ReportLine(ReportPeer Source, ReportPeer Destination, ConnectionSet Connections)
{
    /// <summary>The rules of the source's egress that admit it, when the report was asked to explain.</summary>
    public SideReasons? Egress { get; init; }

    /// <summary>The rules of the destination's ingress that admit it.</summary>
    public SideReasons? Ingress { get; init; }

    /// <summary>The ports that layer-7 rules restrict, and their kind: <c>HTTP on TCP 8080</c>; null when none.</summary>
    public string? Layer7 { get; init; }

    /// <summary>netpol-analyzer's line: <c>SRC => DST : CONN</c>, then <c>[L7: HTTP on TCP 8080]</c> when layer-7 rules restrict some of it.</summary>
    public override string ToString() => Layer7 is null ? $"{Source} => {Destination} : {Connections}" : $"{Source} => {Destination} : {Connections} [L7: {Layer7}]";
}

/// <summary>Why one direction admits (or refuses) what a report line says.</summary>
public sealed record SideReasons(bool Isolated, IReadOnlyList<PolicyReference> SelectingPolicies, IReadOnlyList<(RuleReference Rule, ConnectionSet Admits, AdminAction? Action)> Rules)
{
    /// <summary>One line for people.</summary>
    public string Describe(Direction direction)
    {
        var name = direction == Direction.Egress ? "egress" : "ingress";
        if (!Isolated)
        {
            return $"{name}: not isolated (no policy selects it)";
        }

        if (Rules.Count == 0)
        {
            return $"{name}: isolated by {string.Join(", ", SelectingPolicies)}; no rule matches";
        }

        return $"{name}: " + string.Join("; ", Rules.Select(static r => r.Action is { } action ? $"{r.Rule} ({action}: {r.Admits})" : $"{r.Rule} ({r.Admits})"));
    }
}

/// <summary>Options for <see cref="ConnectivityAnalyzer"/>.</summary>
public sealed record AnalyzeOptions
{
    /// <summary>Attach to each line the rules that admit it, and list workload pairs that nothing admits.</summary>
    public bool Explain { get; init; }
}

/// <summary>The allowed connections between workloads and outside address ranges, as netpol-analyzer lists them.</summary>
public sealed record ConnectivityReport
{
    /// <summary>The lines, sorted as netpol-analyzer sorts them (ordinal order of the text).</summary>
    public required IReadOnlyList<ReportLine> Lines { get; init; }

    /// <summary>Problems that make a workload-level answer impossible (<see cref="DiagnosticCodes.WorkloadLabelGap"/>).</summary>
    public required IReadOnlyList<Diagnostic> Problems { get; init; }

    /// <summary>The number of workloads analysed.</summary>
    public required int Workloads { get; init; }
}

/// <summary>Computes a <see cref="ConnectivityReport"/> from a compiled snapshot.</summary>
public static class ConnectivityAnalyzer
{
    /// <summary>
    /// Lists every allowed connection between two distinct workloads and between a workload and the
    /// outside. A workload's pods must share one identity; where they do not (pods of one owner differ
    /// in a label some policy selects on), the report carries a problem and no lines.
    /// </summary>
    public static ConnectivityReport Analyze(PolicySnapshot snapshot, AnalyzeOptions? options = null)
    {
        options ??= new AnalyzeOptions();
        var workloads = new Dictionary<WorkloadRef, List<SnapshotPod>>();
        foreach (var pod in snapshot.Pods)
        {
            if (!workloads.TryGetValue(pod.Spec.Workload, out var list))
            {
                list = [];
                workloads.Add(pod.Spec.Workload, list);
            }

            list.Add(pod);
        }

        var problems = new List<Diagnostic>();
        var entries = new List<(WorkloadRef Workload, int Identity)>(workloads.Count);
        foreach (var (workload, pods) in workloads)
        {
            var identities = pods.Select(static p => p.Identity).Distinct().ToList();
            if (identities.Count > 1)
            {
                problems.Add(LabelGap(snapshot, workload, pods));
                continue;
            }

            entries.Add((workload, identities[0]));
        }

        if (problems.Count > 0)
        {
            return new ConnectivityReport { Lines = [], Problems = problems, Workloads = workloads.Count };
        }

        // Workloads by identity: a pair of identities with no connection rules out every pair of their
        // workloads at once, so the inner loop runs only over pairs that have something to list.
        var peers = entries.Select(static e => new ReportPeer { Workload = e.Workload }).ToArray();
        var byIdentity = entries.Select(static (e, i) => (e.Identity, Index: i)).GroupBy(static e => e.Identity)
            .ToDictionary(static g => g.Key, static g => g.Select(static e => e.Index).ToArray());
        var lines = new List<ReportLine>();
        if (options.Explain)
        {
            // Explaining lists pairs that nothing admits too, so every pair of identities is visited.
            foreach (var (sourceIdentity, sources) in byIdentity)
            {
                foreach (var (destinationIdentity, destinations) in byIdentity)
                {
                    AddPairs(lines, snapshot, peers, sources, destinations, sourceIdentity, destinationIdentity, snapshot.Allowed(sourceIdentity, destinationIdentity).Reported, explain: true);
                }
            }
        }
        else
        {
            // Lines list what netpol-analyzer's text describes: ICMP alone, wholly admitted, makes no line.
            foreach (var (sourceIdentity, destinationIdentity, connections) in snapshot.ConnectedPairs())
            {
                if (!connections.Reported.IsEmpty && byIdentity.TryGetValue(sourceIdentity, out var sources) && byIdentity.TryGetValue(destinationIdentity, out var destinations))
                {
                    AddPairs(lines, snapshot, peers, sources, destinations, sourceIdentity, destinationIdentity, connections.Reported, explain: false);
                }
            }
        }

        for (var i = 0; i < entries.Count; i++)
        {
            var identity = entries[i].Identity;
            foreach (var (first, last, connections) in OutsideRanges(snapshot, identity, Direction.Egress))
            {
                var line = new ReportLine(peers[i], new ReportPeer { First = first, Last = last }, connections);
                lines.Add(options.Explain ? Explain(snapshot, line, identity, -1) : line);
            }

            foreach (var (first, last, connections) in OutsideRanges(snapshot, identity, Direction.Ingress))
            {
                var line = new ReportLine(new ReportPeer { First = first, Last = last }, peers[i], connections);
                lines.Add(options.Explain ? Explain(snapshot, line, -1, identity) : line);
            }
        }

        if (snapshot.HasNamePeers || snapshot.HasEntityPeers)
        {
            // Names are computed once per egress class (identities selected alike on egress reach the
            // same names) and entities once per identity and node.
            var names = snapshot.HasNamePeers ? snapshot.DnsPatterns() : [];
            var byName = new Dictionary<int, List<(ReportPeer, Direction, ConnectionSet, PeerProbe)>>();
            var byEntity = new Dictionary<(int, string?), List<(ReportPeer, Direction, ConnectionSet, PeerProbe)>>();
            for (var i = 0; i < entries.Count; i++)
            {
                var pod = workloads[entries[i].Workload][0];
                var egressClass = snapshot.EgressClass(pod.Identity);
                if (!byName.TryGetValue(egressClass, out var found))
                {
                    found = names.Count > 0 ? [.. snapshot.DnsPeerReach(pod.Identity, names)] : [];
                    byName.Add(egressClass, found);
                }

                var entityKey = (pod.Identity, pod.Spec.NodeName);
                if (!byEntity.TryGetValue(entityKey, out var entities))
                {
                    entities = snapshot.HasEntityPeers ? [.. snapshot.EntityPeerReach(pod.Index)] : [];
                    byEntity.Add(entityKey, entities);
                }

                foreach (var (peer, direction, reach, probe) in found.Concat(entities))
                {
                    var connections = reach.Reported;
                    if (connections.IsEmpty)
                    {
                        continue;
                    }

                    var line = direction == Direction.Egress ? new ReportLine(peers[i], peer, connections) : new ReportLine(peer, peers[i], connections);
                    if (options.Explain)
                    {
                        var reasons = snapshot.Reasons(direction, pod.Identity, probe, connections);
                        line = direction == Direction.Egress ? line with { Egress = reasons } : line with { Ingress = reasons };
                    }

                    lines.Add(line);
                }
            }
        }

        if (snapshot.HasL7Rules)
        {
            // Every line's workloads are the entries' own objects, so they are found by reference (no hashing of names).
            var byPeer = entries.ToDictionary<(WorkloadRef Workload, int Identity), WorkloadRef, int>(static e => e.Workload, e => workloads[e.Workload][0].Index, ReferenceEqualityComparer.Instance);
            var memo = new Layer7Memo();
            lines = [.. lines.Select(line => line with { Layer7 = snapshot.Layer7Label(line, byPeer, memo) })];
        }

        // netpol-analyzer's order: by source text, then destination text, byte-wise.
        var texts = new Dictionary<ReportPeer, string>(ReferenceEqualityComparer.Instance);
        string Text(ReportPeer peer)
        {
            if (!texts.TryGetValue(peer, out var text))
            {
                text = peer.ToString();
                texts.Add(peer, text);
            }

            return text;
        }

        var keys = lines.Select(l => (Source: Text(l.Source), Destination: Text(l.Destination))).ToArray();
        var order = Enumerable.Range(0, lines.Count).ToArray();
        Array.Sort(order, (a, b) =>
        {
            var bySource = string.CompareOrdinal(keys[a].Source, keys[b].Source);
            return bySource != 0 ? bySource : string.CompareOrdinal(keys[a].Destination, keys[b].Destination);
        });
        lines = [.. order.Select(i => lines[i])];
        return new ConnectivityReport { Lines = lines, Problems = [], Workloads = workloads.Count };
    }

    private static void AddPairs(List<ReportLine> lines, PolicySnapshot snapshot, ReportPeer[] peers, int[] sources, int[] destinations, int sourceIdentity, int destinationIdentity, ConnectionSet connections, bool explain)
    {
        foreach (var source in sources)
        {
            foreach (var destination in destinations)
            {
                if (source == destination)
                {
                    continue;
                }

                var line = new ReportLine(peers[source], peers[destination], connections);
                lines.Add(explain ? Explain(snapshot, line, sourceIdentity, destinationIdentity) : line);
            }
        }
    }

    /// <summary>
    /// The outside ranges with a non-empty connection set for one identity and direction: IPv4 always,
    /// IPv6 only when the cluster uses IPv6, so that IPv4 clusters read as netpol-analyzer writes them.
    /// </summary>
    private static IEnumerable<(UInt128 First, UInt128 Last, ConnectionSet Connections)> OutsideRanges(PolicySnapshot snapshot, int identity, Direction direction)
    {
        // What the text describes of each range (ICMP wholly admitted is left out), with neighbouring
        // ranges that read the same written as one; IPv6 ranges on both sides of the IPv4 block too.
        var includeV6 = snapshot.UsesIPv6;
        var v4 = new RangeRun(adjacentOnly: true);
        var v6 = new RangeRun(adjacentOnly: false);
        foreach (var (first, last, reach) in snapshot.OutsideReach(identity, direction))
        {
            var connections = reach.Reported;
            var v4First = UInt128.Max(first, IpNumbers.V4Base);
            var v4Last = UInt128.Min(last, IpNumbers.V4Last);
            if (v4First <= v4Last && v4.Add(v4First, v4Last, connections) is { } doneV4)
            {
                yield return doneV4;
            }

            if (!includeV6)
            {
                continue;
            }

            foreach (var (v6First, v6Last) in V6Parts(first, last))
            {
                if (v6.Add(v6First, v6Last, connections) is { } doneV6)
                {
                    yield return doneV6;
                }
            }
        }

        if (v4.Finish() is { } lastV4)
        {
            yield return lastV4;
        }

        if (v6.Finish() is { } lastV6)
        {
            yield return lastV6;
        }
    }

    /// <summary>Ranges in address order, those with the same connections that follow each other joined; empty ones dropped.</summary>
    private sealed class RangeRun(bool adjacentOnly)
    {
        private (UInt128 First, UInt128 Last, ConnectionSet Connections)? _pending;

        /// <summary>Adds a range; returns the range it ends, when it cannot join it.</summary>
        public (UInt128 First, UInt128 Last, ConnectionSet Connections)? Add(UInt128 first, UInt128 last, ConnectionSet connections)
        {
            if (_pending is { } pending && pending.Connections.Equals(connections) && (!adjacentOnly || pending.Last + 1 == first))
            {
                _pending = (pending.First, last, connections);
                return null;
            }

            var done = Finish();
            _pending = (first, last, connections);
            return done;
        }

        /// <summary>The range being built, unless it admits nothing.</summary>
        public (UInt128 First, UInt128 Last, ConnectionSet Connections)? Finish() => _pending is { Connections.IsEmpty: false } pending ? pending : null;
    }

    private static IEnumerable<(UInt128 First, UInt128 Last)> V6Parts(UInt128 first, UInt128 last)
    {
        if (first < IpNumbers.V4Base)
        {
            yield return (first, UInt128.Min(last, IpNumbers.V4Base - UInt128.One));
        }

        if (last > IpNumbers.V4Last)
        {
            yield return (UInt128.Max(first, IpNumbers.V4Last + UInt128.One), last);
        }
    }

    private static ReportLine Explain(PolicySnapshot snapshot, ReportLine line, int sourceIdentity, int destinationIdentity)
    {
        var egress = sourceIdentity >= 0
            ? snapshot.Reasons(Direction.Egress, sourceIdentity, destinationIdentity, line.Destination.First, line.Connections)
            : null;
        var ingress = destinationIdentity >= 0
            ? snapshot.Reasons(Direction.Ingress, destinationIdentity, sourceIdentity, line.Source.First, line.Connections)
            : null;
        return line with { Egress = egress, Ingress = ingress };
    }

    private static Diagnostic LabelGap(PolicySnapshot snapshot, WorkloadRef workload, List<SnapshotPod> pods)
    {
        var selectorKeys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var policy in snapshot.Spec.NetworkPolicies)
        {
            selectorKeys.UnionWith(policy.PodSelector.Keys);
            foreach (var rule in policy.Ingress.Concat(policy.Egress))
            {
                foreach (var peer in rule.Peers ?? [])
                {
                    selectorKeys.UnionWith(peer.PodSelector?.Keys ?? []);
                }
            }
        }

        var differing = pods.SelectMany(static p => p.Spec.Labels.Keys).Distinct(StringComparer.Ordinal)
            .Where(key => pods.Select(p => p.Spec.Labels.TryGetValue(key, out var v) ? v : null).Distinct().Count() > 1)
            .Where(selectorKeys.Contains)
            .Order(StringComparer.Ordinal)
            .ToList();
        var names = string.Join(", ", pods.Select(static p => p.Spec.Name));
        var what = differing.Count > 0
            ? $"differ in label{(differing.Count > 1 ? "s" : string.Empty)} {string.Join(", ", differing.Select(static k => $"'{k}'"))}, which policies select on"
            : "differ in named ports or addresses that policies tell apart";
        var location = pods[0].Spec.Location ?? SourceLocation.Unknown("input");
        return new Diagnostic(
            DiagnosticCodes.WorkloadLabelGap,
            Severity.Error,
            location,
            $"pods of workload {workload} ({names}) {what}, so the workload has no single connectivity; give its pods the same labels, or ask about pods with 'palisade eval'")
        { Subject = workload.ToString() };
    }
}
