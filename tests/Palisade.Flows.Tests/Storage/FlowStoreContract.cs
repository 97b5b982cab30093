using Palisade.Flows.Records;
using Palisade.Flows.Storage;
using Palisade.Flows.Tests.Reading;

namespace Palisade.Flows.Tests.Storage;

/// <summary>
/// What every flow store must do, run against each real store: a subclass opens a fresh, empty store.
/// </summary>
public abstract class FlowStoreContract
{
    /// <summary>Opens an empty store that the test owns.</summary>
    protected abstract Task<IFlowStore> OpenEmptyAsync();

    private static List<FlowRecord>? _captures;

    private static List<FlowRecord> Captures => _captures ??= HubbleCaptureTests.ReadAll().Flows;

    private static async Task<FlowWriteResult> WriteAllAsync(IFlowStore store, IEnumerable<FlowRecord> flows, int batch = 250)
    {
        var total = default(FlowWriteResult);
        foreach (var chunk in flows.Chunk(batch))
        {
            total += await store.WriteAsync(chunk);
        }

        return total;
    }

    [SkippableFact]
    public async Task Write_EveryCapture_StoresEachDistinctFlowOnce()
    {
        await using var store = await OpenEmptyAsync();

        var result = await WriteAllAsync(store, Captures);

        Assert.Equal(1481, result.Written);
        Assert.Equal(37, result.Duplicates);
        Assert.Equal(1481, await store.CountAsync(FlowQuery.All));
    }

    [SkippableFact]
    public async Task Write_EveryCaptureTwice_StoresNothingTheSecondTime()
    {
        await using var store = await OpenEmptyAsync();
        await WriteAllAsync(store, Captures);

        var again = await WriteAllAsync(store, Captures, batch: 1000);

        Assert.Equal(0, again.Written);
        Assert.Equal(1518, again.Duplicates);
        Assert.Equal(1481, await store.CountAsync(FlowQuery.All));
    }

    [SkippableFact]
    public async Task Dispose_Twice_IsHarmless()
    {
        var store = await OpenEmptyAsync();
        await store.WriteAsync(Captures.Take(10).ToArray());

        await store.DisposeAsync();
        var again = await Record.ExceptionAsync(async () => await store.DisposeAsync());

        Assert.Null(again);
    }

    [SkippableFact]
    public async Task CountBy_EveryCapture_MatchesWhatTheFilesHold()
    {
        await using var store = await OpenEmptyAsync();
        await WriteAllAsync(store, Captures);

        var verdicts = await store.CountByAsync(FlowQuery.All, FlowCountField.Verdict);
        var events = await store.CountByAsync(FlowQuery.All, FlowCountField.EventType);
        var l7 = await store.CountByAsync(FlowQuery.All, FlowCountField.L7Type);
        var namespaces = await store.CountByAsync(FlowQuery.All, FlowCountField.SourceNamespace);

        Assert.Equal([new("FORWARDED", 1079), new("REDIRECTED", 400), new("DROPPED", 2)], verdicts);
        Assert.Equal([new("129", 743), new("5", 400), new("4", 336), new(null, 2)], events);
        Assert.Equal([new("UNKNOWN_L7_TYPE", 738), new("REQUEST", 373), new("RESPONSE", 370)], l7);
        Assert.Equal([new("bookinfo", 747), new("kube-system", 405), new(null, 172), new("istio-system", 152), new("jaeger", 4), new("default", 1)], namespaces);
        Assert.Equal(413, await store.CountAsync(new FlowQuery { L7Protocols = ["http"] }));
        Assert.Equal(330, await store.CountAsync(new FlowQuery { L7Protocols = ["dns"] }));
    }

    [SkippableFact]
    public async Task Query_StoredFlows_ReadBackAsTheyWereRead()
    {
        await using var store = await OpenEmptyAsync();
        var distinct = Captures.Distinct().ToList();
        await WriteAllAsync(store, distinct);

        var stored = new List<FlowRecord>();
        await foreach (var flow in store.QueryAsync(FlowQuery.All))
        {
            stored.Add(flow);
        }

        Assert.Equal(distinct.Count, stored.Count);
        var byId = distinct.ToDictionary(f => (f.Id, f.TimeUnixNanos));
        foreach (var flow in stored)
        {
            var original = byId[(flow.Id, flow.TimeUnixNanos)];
            Assert.Equal(original with { }, flow);
            Assert.Equal(Describe(original), Describe(flow));
        }

        Assert.True(stored.Zip(stored.Skip(1)).All(p => p.First.TimeUnixNanos <= p.Second.TimeUnixNanos));
    }

    internal static string Describe(FlowRecord f) =>
        string.Join('|', f.Verdict, f.DropReason, f.NodeName, f.IpVersion, f.SourceIpText, f.DestinationIpText, f.Protocol, f.SourcePort, f.DestinationPort, f.TcpFlags,
            f.IcmpType, f.IcmpCode, f.Source.Display, f.Source.Identity, f.Source.EndpointId, string.Join(',', f.Source.Labels), f.Destination.Display,
            string.Join(',', f.Destination.Labels), f.Direction, f.IsReply, f.EventType, f.EventSubType, f.Type, f.TraceObservationPoint, f.PolicyMatchType,
            f.L7Type, f.L7LatencyNanos, f.Http?.Method, f.Http?.Url, f.Http?.Code, f.Http?.Headers.Count, f.Dns?.Query, f.Dns?.Rcode, string.Join(',', f.Dns?.Ips ?? []),
            f.Summary, string.Join(',', f.DestinationNames), f.IdFromUuid);

    [SkippableFact]
    public async Task Query_Filters_SelectWhatTheySay()
    {
        await using var store = await OpenEmptyAsync();
        await WriteAllAsync(store, Captures);
        var distinct = Captures.Distinct().ToList();

        async Task Check(FlowQuery query, Func<FlowRecord, bool> expected)
        {
            var want = distinct.Count(expected);
            Assert.True(want > 0, "a filter test must select something");
            Assert.Equal(want, await store.CountAsync(query));
            // Followers of a live ingest filter in memory: the same filter must pick the same flows.
            Assert.Equal(want, distinct.Count(query.Matches));
        }

        await Check(new FlowQuery { Namespaces = ["jaeger"] }, f => f.Source.Namespace == "jaeger" || f.Destination.Namespace == "jaeger");
        await Check(new FlowQuery { FromNamespaces = ["istio-system"], ToNamespaces = ["bookinfo"] }, f => f.Source.Namespace == "istio-system" && f.Destination.Namespace == "bookinfo");
        await Check(new FlowQuery { Verdicts = [FlowVerdict.Dropped] }, f => f.Verdict == FlowVerdict.Dropped);
        await Check(new FlowQuery { Protocols = [FlowProtocol.Udp], ToPorts = [53] }, f => f.Protocol == FlowProtocol.Udp && f.DestinationPort == 53);
        await Check(new FlowQuery { Ports = [9080] }, f => f.SourcePort == 9080 || f.DestinationPort == 9080);
        await Check(new FlowQuery { HttpMethods = ["get"] }, f => f.Http?.Method == "GET");
        await Check(new FlowQuery { HttpStatus = [(200, 299)] }, f => f.Http is { Code: >= 200 and <= 299 });
        await Check(new FlowQuery { Labels = ["app=reviews"] }, f => f.Source.Labels.Contains("k8s:app=reviews") || f.Destination.Labels.Contains("k8s:app=reviews"));
        await Check(new FlowQuery { ToLabels = ["reserved:world"] }, f => f.Destination.Labels.Contains("reserved:world"));
        await Check(new FlowQuery { FromPods = ["bookinfo/reviews-*"] }, f => f.Source.Namespace == "bookinfo" && f.Source.PodName?.StartsWith("reviews-", StringComparison.Ordinal) == true);
        await Check(new FlowQuery { Nodes = ["kind-kind/kind-worker"] }, f => f.NodeName == "kind-kind/kind-worker");
        var someQuery = distinct.First(f => f.Dns?.Query is not null).Dns!.Query!;
        await Check(new FlowQuery { DnsQueries = [someQuery.TrimEnd('.')] }, f => f.Dns?.Query == someQuery);
        var middle = distinct.OrderBy(f => f.TimeUnixNanos).ElementAt(700).TimeUnixNanos;
        await Check(new FlowQuery { SinceNanos = middle }, f => f.TimeUnixNanos >= middle);
        await Check(new FlowQuery { UntilNanos = middle, Verdicts = [FlowVerdict.Forwarded] }, f => f.TimeUnixNanos < middle && f.Verdict == FlowVerdict.Forwarded);
    }

    [SkippableFact]
    public async Task Query_NewestWithLimit_GivesTheLastFlowsOldestFirst()
    {
        await using var store = await OpenEmptyAsync();
        await WriteAllAsync(store, Captures);
        var expected = Captures.Distinct().Select(f => f.TimeUnixNanos).Order().TakeLast(5).ToList();

        var last = new List<long>();
        await foreach (var flow in store.QueryAsync(new FlowQuery { Limit = 5, Newest = true }))
        {
            last.Add(flow.TimeUnixNanos);
        }

        Assert.Equal(expected, last);
    }

    [SkippableFact]
    public async Task Write_BatchWithRepeats_StoresEachOnce()
    {
        await using var store = await OpenEmptyAsync();
        var some = Captures.Take(10).ToList();

        var result = await store.WriteAsync([.. some, .. some]);

        Assert.Equal(some.Distinct().Count(), result.Written);
        Assert.Equal(20 - result.Written, result.Duplicates);
    }

    private static List<FlowRecord>? _week;

    /// <summary>The sample TRE's week of flows (samples/flows/k8tre-week.json).</summary>
    private static List<FlowRecord> Week => _week ??= ReadFile(Palisade.Tests.TestPaths.InRoot(Path.Combine("samples", "flows", "k8tre-week.json")));

    private static List<FlowRecord> ReadFile(string path)
    {
        using var stream = Palisade.Flows.Reading.FlowFileReader.Open(path);
        return Palisade.Flows.Reading.FlowFileReader.ReadBatches(stream, path, new Palisade.Flows.Reading.FlowReadReport()).SelectMany(b => b).ToList();
    }

    private static string End(FlowEndpoint end, UInt128? ip, IReadOnlyList<string> names) =>
        end.PodName is not null ? $"{end.Namespace}/{end.Workloads[0].Name}[{end.Workloads[0].Kind}]" : names.Count > 0 ? names[0] : Palisade.Sets.IpNumbers.Format(ip!.Value);

    private static List<FlowRecord>? _attributedWeek;

    /// <summary>The week attributed to the sample TRE's policies, as <c>ingest --policies samples/k8tre</c> stores it.</summary>
    private static List<FlowRecord> AttributedWeek => _attributedWeek ??= AttributeWeek();

    private static List<FlowRecord> AttributeWeek()
    {
        var loaded = Palisade.Manifests.ManifestLoader.Load([Palisade.Tests.TestPaths.InRoot(Path.Combine("samples", "k8tre"))]);
        Assert.False(loaded.HasErrors);
        var attributor = new Palisade.Flows.Attribution.FlowAttributor(Palisade.Compilation.SnapshotCompiler.Compile(loaded.Cluster));
        return [.. attributor.Attribute([.. Week])];
    }

    [SkippableFact]
    public async Task Query_PalisadesOwnFilters_SelectWhatTheySay_InTheStoreAndInMemory()
    {
        await using var store = await OpenEmptyAsync();
        var flows = AttributedWeek;
        await store.WriteAsync(flows);

        async Task Check(FlowQuery query, Func<FlowRecord, bool> expected)
        {
            var want = flows.Count(expected);
            Assert.True(want > 0, "a filter test must select something");
            Assert.Equal(want, await store.CountAsync(query));
            Assert.Equal(want, flows.Count(query.Matches));
        }

        var policy = flows.First(f => f.Attribution?.Policy is not null).Attribution!.Policy!;
        var name = policy[(policy.LastIndexOf('/') + 1)..];
        await Check(new FlowQuery { Policies = [name] }, f => f.Attribution?.Policy == policy || f.Attribution?.Policy?.EndsWith("/" + name, StringComparison.Ordinal) == true);
        await Check(new FlowQuery { Projects = ["alpha"] }, f => f.Attribution?.Project == "alpha");
        await Check(new FlowQuery { DisagreementOnly = true }, f => f.Attribution?.Disagreement is not null and not Disagreement.None);
        await Check(new FlowQuery { Ips = ["151.101.0.223"] }, f => f.SourceIpText == "151.101.0.223" || f.DestinationIpText == "151.101.0.223");
        await Check(new FlowQuery { L7Protocols = ["dns"], FromNamespaces = ["project-alpha"] }, f => f.Dns?.Query is not null && f.Source.Namespace == "project-alpha");
        await Check(new FlowQuery { Projects = ["alpha"], Verdicts = [FlowVerdict.Dropped], ToPorts = [443] }, f => f.Attribution?.Project == "alpha" && f.Verdict == FlowVerdict.Dropped && f.DestinationPort == 443);
    }

    [SkippableFact]
    public async Task Aggregate_ServiceMap_CountsEachConnectionFromTheSideThatOpenedIt()
    {
        await using var store = await OpenEmptyAsync();
        await store.WriteAsync(Week);
        var expected = Week.Where(f => f.IsReply != true)
            .GroupBy(f => (End(f.Source, f.SourceIp, f.SourceNames), End(f.Destination, f.DestinationIp, f.DestinationNames), f.Protocol.Name(), f.DestinationPort.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .ToDictionary(g => g.Key, g => (g.LongCount(), g.LongCount(f => f.Verdict == FlowVerdict.Dropped), g.Min(f => f.TimeUnixNanos), g.Max(f => f.TimeUnixNanos)));

        var rows = await store.AggregateAsync(FlowQuery.All, FlowAggregate.ServiceMap);

        Assert.Equal(expected.Count, rows.Count);
        foreach (var row in rows)
        {
            var (flows, dropped, first, last) = expected[(row.Keys[0]!, row.Keys[1]!, row.Keys[2]!, row.Keys[3]!)];
            Assert.Equal(flows, row.Flows);
            Assert.Equal(dropped, row.Dropped);
            Assert.Equal(flows - dropped, row.Forwarded);
            Assert.Equal(first, row.FirstNanos);
            Assert.Equal(last, row.LastNanos);
        }

        Assert.True(rows.Zip(rows.Skip(1)).All(p => p.First.Flows >= p.Second.Flows));
    }

    [SkippableFact]
    public async Task Aggregate_OutsideDestinations_NamesEachNamespacesOutsideHostsByDnsNameAndAddress()
    {
        await using var store = await OpenEmptyAsync();
        await store.WriteAsync(Week);

        var rows = await store.AggregateAsync(FlowQuery.All, FlowAggregate.OutsideDestinations);

        Assert.Equal(2, rows.Count);
        var mirror = Assert.Single(rows, r => r.Keys[0] == "package-mirror");
        Assert.Equal(["package-mirror", "pypi.org", "151.101.0.223", "TCP", "443"], mirror.Keys);
        Assert.Equal(0, mirror.Dropped);
        var alpha = Assert.Single(rows, r => r.Keys[0] == "project-alpha");
        Assert.Equal(alpha.Flows, alpha.Dropped);
        Assert.Equal(Week.Count(f => f.Source.Namespace == "project-alpha" && f.DestinationNames.Contains("pypi.org")), alpha.Flows);
    }

    [SkippableFact]
    public async Task Aggregate_DropsByReason_OnTheCaptures()
    {
        await using var store = await OpenEmptyAsync();
        await WriteAllAsync(store, Captures);

        var reasons = await store.AggregateAsync(FlowQuery.All, FlowAggregate.DropsByReason);

        Assert.Equal(["INVALID_SOURCE_IP", "POLICY_DENIED"], reasons.Select(r => r.Keys[0]).Order());
        Assert.All(reasons, r => Assert.Equal((1L, 1L), (r.Flows, r.Dropped)));
    }

    [SkippableFact]
    public async Task Aggregate_TopTalkers_AreThePairsWithTheMostFlows()
    {
        await using var store = await OpenEmptyAsync();
        await store.WriteAsync(Week);
        var expected = Week.GroupBy(f => (End(f.Source, f.SourceIp, f.SourceNames), End(f.Destination, f.DestinationIp, f.DestinationNames)))
            .ToDictionary(g => g.Key, g => g.LongCount());

        var top = await store.AggregateAsync(FlowQuery.All, FlowAggregate.TopTalkers, limit: 3);

        Assert.Equal(3, top.Count);
        Assert.Equal(expected.Values.OrderDescending().Take(3), top.Select(r => r.Flows));
        Assert.All(top, r => Assert.Equal(expected[(r.Keys[0]!, r.Keys[1]!)], r.Flows));
    }

    [SkippableFact]
    public async Task Aggregate_LimitBelowTheGroups_KeepsTheMostFlowsThenTheKeysInOrder()
    {
        await using var store = await OpenEmptyAsync();
        await store.WriteAsync(Captures);
        var all = await store.AggregateAsync(FlowQuery.All, FlowAggregate.TopTalkers, limit: 100_000);
        // Equal counts are common (many pairs are seen once or twice), so the order of ties matters.
        var expected = all.OrderByDescending(r => r.Flows).ThenBy(r => string.Join('\u0001', r.Keys), StringComparer.Ordinal)
            .Select(r => $"{r.Flows} {string.Join('|', r.Keys)}").ToList();
        Assert.True(all.Count > 20, $"{all.Count} groups");
        Assert.Contains(all.GroupBy(r => r.Flows), g => g.Count() > 1);

        var top = await store.AggregateAsync(FlowQuery.All, FlowAggregate.TopTalkers, limit: 7);

        Assert.Equal(expected, all.Select(r => $"{r.Flows} {string.Join('|', r.Keys)}"));
        Assert.Equal(expected.Take(7), top.Select(r => $"{r.Flows} {string.Join('|', r.Keys)}"));
    }

    private static readonly long Now = 1_795_910_400_000_000_000L; // 2026-11-29T00:00:00Z

    private static bool Kept(FlowRecord f, IReadOnlyList<RetentionRule> rules)
    {
        var matching = rules.Where(r => r.Target != RetentionRule.Everything && (r.Target.StartsWith("project:", StringComparison.Ordinal)
            ? f.Attribution?.Project == r.Target["project:".Length..]
            : f.Source.Namespace == r.Target || f.Destination.Namespace == r.Target)).Select(r => r.Days).ToList();
        int? days = matching.Count > 0 ? matching.Max() : rules.FirstOrDefault(r => r.Target == RetentionRule.Everything)?.Days;
        return days is null || f.TimeUnixNanos >= Now - (days.Value * 86_400L * 1_000_000_000L);
    }

    [SkippableFact]
    public async Task ApplyRetention_PerNamespaceAndDefault_KeepsEachFlowForItsLongestRule()
    {
        await using var store = await OpenEmptyAsync();
        await store.WriteAsync(Week);
        RetentionRule[] rules = [new("*", 3), new("project-alpha", 6), new("kube-system", 1)];
        await store.SetRetentionRulesAsync(rules);

        var dry = await store.ApplyRetentionAsync(Now, dryRun: true);
        var countAfterDry = await store.CountAsync(FlowQuery.All);
        var applied = await store.ApplyRetentionAsync(Now);
        var again = await store.ApplyRetentionAsync(Now);

        var expectedKept = Week.Count(f => Kept(f, rules));
        Assert.True(expectedKept > 0 && expectedKept < Week.Count, "the rules must keep some flows and drop others");
        Assert.Equal(Week.Count, countAfterDry);
        Assert.Equal(Week.Count - expectedKept, dry.Deleted);
        Assert.Equal(dry.Deleted, applied.Deleted);
        Assert.Equal(expectedKept, await store.CountAsync(FlowQuery.All));
        Assert.Equal(0, again.Deleted);
        Assert.Equal(rules.OrderBy(r => r.Target, StringComparer.Ordinal), await store.GetRetentionRulesAsync());
    }

    [SkippableFact]
    public async Task ApplyRetention_ProjectRuleWithoutDefault_DeletesOnlyThatProjectsOldFlows()
    {
        await using var store = await OpenEmptyAsync();
        var attributed = Week.Select(f => f with { Attribution = new FlowAttribution { Project = f.Source.Namespace == "project-beta" ? "beta" : null } }).ToList();
        await store.WriteAsync(attributed);
        RetentionRule[] rules = [new("project:beta", 2)];
        await store.SetRetentionRulesAsync(rules);

        var applied = await store.ApplyRetentionAsync(Now);

        Assert.True(applied.Deleted > 0);
        Assert.Equal(attributed.Count(f => Kept(f, rules)), await store.CountAsync(FlowQuery.All));
        Assert.Equal(0, await store.CountAsync(new FlowQuery { FromNamespaces = ["project-beta"], UntilNanos = Now - (2 * 86_400L * 1_000_000_000L) }));
    }

    [SkippableFact]
    public async Task ApplyRetention_NoRules_KeepsEverything()
    {
        await using var store = await OpenEmptyAsync();
        await store.WriteAsync(Week);

        var applied = await store.ApplyRetentionAsync(Now);

        Assert.Equal(0, applied.Deleted);
        Assert.Equal(Week.Count, await store.CountAsync(FlowQuery.All));
    }

    [SkippableFact]
    public async Task WriteNew_OverlappingBatches_ReturnsOnlyTheFlowsNotStoredBefore()
    {
        await using var store = await OpenEmptyAsync();
        var first = Captures.Take(300).ToList();
        var second = Captures.Skip(200).Take(300).ToList();

        var a = await store.WriteNewAsync(first);
        var b = await store.WriteNewAsync(second);

        Assert.Equal(first.Distinct().Count(), a.Count);
        Assert.Equal(second.Distinct().Except(first).Count(), b.Count);
        Assert.Empty(b.Intersect(a));
        Assert.Equal(a.Count + b.Count, await store.CountAsync(FlowQuery.All));
    }
}
