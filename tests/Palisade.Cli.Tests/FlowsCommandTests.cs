using System.Text.Json;

namespace Palisade.Tests;

/// <summary><c>palisade flows</c> as users meet it: a real DuckDB file, the real captures, exit codes and diagnostics.</summary>
public sealed class FlowsCommandTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("palisade-flows-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Store => "duckdb:" + Path.Combine(_folder, "flows.duckdb");

    private static string Captures => Path.Combine(TestPaths.Shared, "flows", "hubble");

    private string Write(string name, string text)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Ingest_CaptureFolderTwice_StoresEachFlowOnce()
    {
        var first = CliRunner.Run("flows", "ingest", Captures, "--store", Store);
        var second = CliRunner.Run("flows", "ingest", Captures, "--store", Store);

        Assert.Equal(0, first.ExitCode);
        Assert.Contains("read 1,518 lines from 9 sources: 1,518 flows, 0 other events, 0 malformed", first.Output, StringComparison.Ordinal);
        Assert.Contains("stored 1,481 new flows (37 already stored)", first.Output, StringComparison.Ordinal);
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("stored 0 new flows (1,518 already stored)", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Ingest_MalformedLines_StoresTheRestReportsEachAndExitsTwo()
    {
        var lines = File.ReadAllLines(Path.Combine(Captures, "basic-sample-10-flows.json")).ToList();
        lines.Insert(3, "{\"flow\": {\"time\": \"not a time\"}}");
        lines.Insert(7, "garbage");
        var file = Write("broken.json", string.Join('\n', lines) + "\n");

        var result = CliRunner.Run("flows", "ingest", file, "--store", Store);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{file}:4:19: error PAL0100: \"not a time\" is not an RFC 3339 time", result.Error, StringComparison.Ordinal);
        Assert.Contains($"{file}:8:", result.Error, StringComparison.Ordinal);
        Assert.Contains("10 flows, 0 other events, 2 malformed", result.Output, StringComparison.Ordinal);
        Assert.Contains("stored 10 new flows", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--store", "sqlite:x", "names no flow store; expected duckdb:PATH or postgres:CONNECTION-STRING")]
    [InlineData("--store", "duckdb:", "'duckdb:' needs a file path")]
    public void Ingest_BadStore_ExitsTwoWithWhatWouldBeRight(string option, string value, string message)
    {
        var result = CliRunner.Run("flows", "ingest", Captures, option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error PAL0102", result.Error, StringComparison.Ordinal);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Ingest_MissingFile_ExitsTwo()
    {
        var result = CliRunner.Run("flows", "ingest", Path.Combine(_folder, "nope.json"), "--store", Store);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error PAL0101: no such file or folder", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Observe_Filters_PrintOnlyMatchingFlowsAsJsonLines()
    {
        CliRunner.Run("flows", "ingest", Captures, "--store", Store);

        var result = CliRunner.Run("flows", "observe", "--store", Store, "--verdict", "DROPPED", "-o", "json");

        Assert.Equal(0, result.ExitCode);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        var objects = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(objects, o => Assert.Equal("DROPPED", o.GetProperty("verdict").GetString()));
        Assert.Equal("POLICY_DENIED", objects[1].GetProperty("drop_reason").GetString());
        Assert.Equal("default/xwing", objects[1].GetProperty("source").GetString());
    }

    [Fact]
    public void Observe_Jsonpb_IsReadBackAsTheSameFlows()
    {
        CliRunner.Run("flows", "ingest", Captures, "--store", Store);
        var exported = CliRunner.Run("flows", "observe", "--store", Store, "-o", "jsonpb");
        var file = Write("export.json", exported.Output);
        var other = "duckdb:" + Path.Combine(_folder, "other.duckdb");

        var again = CliRunner.Run("flows", "ingest", file, "--store", other);
        var reexported = CliRunner.Run("flows", "observe", "--store", other, "-o", "jsonpb");

        Assert.Equal(0, again.ExitCode);
        Assert.Contains("stored 1,481 new flows (0 already stored)", again.Output, StringComparison.Ordinal);
        Assert.Equal(exported.Output, reexported.Output);
    }

    [Fact]
    public void Observe_TableWithNamespaceAndLast_PrintsAHeaderAndTheNewestRows()
    {
        CliRunner.Run("flows", "ingest", Captures, "--store", Store);

        var result = CliRunner.Run("flows", "observe", "--store", Store, "--namespace", "jaeger", "--last", "3");

        Assert.Equal(0, result.ExitCode);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("TIMESTAMP", lines[0], StringComparison.Ordinal);
        Assert.All(lines.Skip(1), l => Assert.Contains("jaeger/", l, StringComparison.Ordinal));
    }

    [Fact]
    public void Observe_SinceADurationOnOldFlows_FindsNoneAndSaysSo()
    {
        CliRunner.Run("flows", "ingest", Captures, "--store", Store);

        var result = CliRunner.Run("flows", "observe", "--store", Store, "--since", "2h");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(string.Empty, result.Output);
        Assert.Contains("no flow in duckdb:", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--since", "yesterday", "neither an RFC 3339 time")]
    [InlineData("--verdict", "MAYBE", "expected FORWARDED, DROPPED")]
    [InlineData("--port", "70000", "a port from 0 to 65535")]
    [InlineData("--http-status", "9+", "a status code from 100 to 599")]
    [InlineData("--protocol", "QUIC", "TCP, UDP, SCTP, ICMPv4 or ICMPv6")]
    public void Observe_BadFilter_ExitsTwoWithWhatWouldBeRight(string option, string value, string message)
    {
        var result = CliRunner.Run("flows", "observe", "--store", Store, option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
    }

    private static string SampleFlows => TestPaths.InRoot(Path.Combine("samples", "flows", "k8tre-week.json"));

    private static string SamplePolicies => TestPaths.InRoot(Path.Combine("samples", "k8tre"));

    /// <summary>The sample TRE with project alpha's workspace egress moved off the database port.</summary>
    private string ProposedPolicies()
    {
        var folder = Path.Combine(_folder, "proposed");
        foreach (var file in Directory.EnumerateFiles(SamplePolicies, "*.yaml", SearchOption.AllDirectories))
        {
            var target = Path.Combine(folder, Path.GetRelativePath(SamplePolicies, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        var projects = Path.Combine(folder, "policies", "projects.yaml");
        var text = File.ReadAllText(projects);
        var at = text.IndexOf("{port: 5432}", text.IndexOf("name: workspace-egress, namespace: project-alpha", StringComparison.Ordinal), StringComparison.Ordinal);
        File.WriteAllText(projects, string.Concat(text.AsSpan(0, at), "{port: 5433}", text.AsSpan(at + "{port: 5432}".Length)));
        return folder;
    }

    [Fact]
    public void Ingest_WithPolicies_AttributesAndObserveFindsTheEnforcementGap()
    {
        var ingest = CliRunner.Run("flows", "ingest", SampleFlows, "--store", Store, "--policies", SamplePolicies);
        var gaps = CliRunner.Run("flows", "observe", "--store", Store, "--disagreement", "-o", "json");
        var byPolicy = CliRunner.Run("flows", "observe", "--store", Store, "--policy", "project-alpha/workspace-egress", "-o", "json");
        var beta = CliRunner.Run("flows", "observe", "--store", Store, "--project", "beta", "-o", "json");

        Assert.Equal(0, ingest.ExitCode);
        Assert.Contains("attributed every flow to the policies", ingest.Output, StringComparison.Ordinal);
        var lines = gaps.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(3, lines.Count);
        Assert.All(lines, l =>
        {
            Assert.Equal("forwarded-but-denied", l.GetProperty("disagreement").GetString());
            Assert.Equal("AdminNetworkPolicy tre-isolate-project-alpha", l.GetProperty("policy").GetString());
            Assert.Equal("project-beta/rstudio-6b7c9d8f4-q8w2e", l.GetProperty("source").GetString());
        });
        Assert.NotEmpty(byPolicy.Output);
        Assert.All(byPolicy.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Contains("\"policy\":\"NetworkPolicy project-alpha/workspace-egress\"", l, StringComparison.Ordinal));
        Assert.All(beta.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Contains("\"project\":\"beta\"", l, StringComparison.Ordinal));
    }

    [Fact]
    public void Impact_ProposedPoliciesThatCloseTheDatabasePort_ReportsTheWorkspaceFlowsNewlyDenied()
    {
        CliRunner.Run("flows", "ingest", SampleFlows, "--store", Store, "--policies", SamplePolicies);
        var proposed = ProposedPolicies();

        var result = CliRunner.Run("flows", "impact", "--store", Store, "--policies", proposed, "--since", "2026-11-01T00:00:00Z");
        var unchanged = CliRunner.Run("flows", "impact", "--store", Store, "--policies", SamplePolicies, "--since", "2026-11-01T00:00:00Z");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("NEWLY DENIED  project-alpha/jupyter[Deployment] => project-alpha/postgres[StatefulSet] : TCP 5432", result.Output, StringComparison.Ordinal);
        Assert.Contains("now:      allowed by NetworkPolicy project-alpha/workspace-egress spec.egress[0].to[0]", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("NEWLY ALLOWED", result.Output, StringComparison.Ordinal);
        Assert.Equal(0, unchanged.ExitCode);
        Assert.Contains("0 would be newly denied, 0 newly allowed", unchanged.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Impact_WithoutStoredAttribution_ComparesWithWhatHubbleObserved()
    {
        CliRunner.Run("flows", "ingest", SampleFlows, "--store", Store);

        var result = CliRunner.Run("flows", "impact", "--store", Store, "--policies", SamplePolicies, "--since", "2026-11-01T00:00:00Z", "-o", "json");

        // The policies in force deny the three flows that were forwarded: replaying them says so.
        Assert.Equal(1, result.ExitCode);
        var group = JsonDocument.Parse(Assert.Single(result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))).RootElement;
        Assert.Equal("newly-denied", group.GetProperty("change").GetString());
        Assert.Equal("project-beta/rstudio[Deployment]", group.GetProperty("source").GetString());
        Assert.Equal(3, group.GetProperty("flows").GetInt32());
        Assert.Equal("forwarded (observed)", group.GetProperty("now").GetString());
    }

    [Fact]
    public void Impact_BadPolicies_ExitsTwoWithTheirDiagnostics()
    {
        var bad = Write("bad.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: a}\nspec:\n  podSelector: 7\n");

        var result = CliRunner.Run("flows", "impact", "--store", Store, "--policies", bad);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("bad.yaml:5:", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Map_SampleWeek_ListsEachWorkloadPairWithCountsAndTheGap()
    {
        CliRunner.Run("flows", "ingest", SampleFlows, "--store", Store);

        var result = CliRunner.Run("flows", "map", "--store", Store, "--to-namespace", "project-alpha", "-o", "json");

        Assert.Equal(0, result.ExitCode);
        var rows = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var gap = Assert.Single(rows, r => r.GetProperty("source").GetString() == "project-beta/rstudio[Deployment]");
        Assert.Equal("project-alpha/postgres[StatefulSet]", gap.GetProperty("destination").GetString());
        Assert.Equal("5432", gap.GetProperty("port").GetString());
        Assert.Equal(3, gap.GetProperty("flows").GetInt32());
        Assert.All(rows, r => Assert.StartsWith("project-alpha/", r.GetProperty("destination").GetString(), StringComparison.Ordinal));
    }

    [Fact]
    public void Top_Outside_ShowsEachNamespacesOutsideDestinationsAsATable()
    {
        CliRunner.Run("flows", "ingest", SampleFlows, "--store", Store);

        var result = CliRunner.Run("flows", "top", "--store", Store, "--by", "outside");

        Assert.Equal(0, result.ExitCode);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("NAMESPACE       DNS NAME  ADDRESS", lines[0], StringComparison.Ordinal);
        Assert.Equal(3, lines.Length);
        Assert.Contains(lines, l => l.StartsWith("project-alpha   pypi.org  151.101.0.223  TCP       443", StringComparison.Ordinal));
    }

    private static readonly DateTimeOffset SampleNow = new(2026, 11, 29, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Retention_SetAndApply_KeepsTheProjectLongerThanTheRest()
    {
        CliRunner.Run("flows", "ingest", SampleFlows, "--store", Store);

        var set = CliRunner.RunAt(SampleNow, "flows", "retention", "--store", Store, "--set", "project-alpha=6d", "--set", "*=3d");
        var dry = CliRunner.RunAt(SampleNow, "flows", "retention", "--store", Store, "--apply", "--dry-run");
        var applied = CliRunner.RunAt(SampleNow, "flows", "retention", "--store", Store, "--apply");
        var mirror = CliRunner.RunAt(SampleNow, "flows", "observe", "--store", Store, "--from-namespace", "package-mirror", "--to-ip", "151.101.0.223", "-o", "json");
        var mirrorOld = CliRunner.RunAt(SampleNow, "flows", "observe", "--store", Store, "--from-namespace", "package-mirror", "--to-ip", "151.101.0.223", "--until", "3d", "-o", "json");
        var alpha = CliRunner.RunAt(SampleNow, "flows", "observe", "--store", Store, "--from-namespace", "project-alpha", "--until", "3d", "-o", "json");

        Assert.Equal(0, set.ExitCode);
        Assert.Contains("namespace project-alpha: 6 days", set.Output, StringComparison.Ordinal);
        Assert.Contains("every other flow: 3 days", set.Output, StringComparison.Ordinal);
        var wouldDelete = dry.Output.Split('\n').Single(l => l.StartsWith("would delete", StringComparison.Ordinal));
        Assert.Contains(wouldDelete.Replace("would delete", "deleted", StringComparison.Ordinal), applied.Output, StringComparison.Ordinal);
        // The mirror's own flows to PyPI touch no project-alpha end: only the last three days are left.
        Assert.NotEqual(string.Empty, mirror.Output.Trim());
        Assert.Equal(string.Empty, mirrorOld.Output.Trim());
        Assert.NotEqual(string.Empty, alpha.Output.Trim());
    }

    [Fact]
    public void Retention_Unset_RemovesTheRuleAndUnknownTargetsAreRefused()
    {
        CliRunner.Run("flows", "retention", "--store", Store, "--set", "*=30d");

        var removed = CliRunner.Run("flows", "retention", "--store", Store, "--unset", "*");
        var unknown = CliRunner.Run("flows", "retention", "--store", Store, "--unset", "nope");
        var bad = CliRunner.Run("flows", "retention", "--store", Store, "--set", "x=3m");

        Assert.Contains("flows are kept for good", removed.Output, StringComparison.Ordinal);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains("there is no rule for 'nope'", unknown.Error, StringComparison.Ordinal);
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("expected whole days or weeks", bad.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Observe_FollowEmbeddedStore_PrintsTheStoredFlowsThenWhatAnIngestStores()
    {
        Assert.Equal(0, CliRunner.Run("flows", "ingest", Captures, "--store", Store).ExitCode);
        var stored = CliRunner.Run("flows", "observe", "--store", Store, "--namespace", "jaeger", "-o", "json");
        Assert.Equal(0, stored.ExitCode);

        // An ingest that runs until its input ends, as 'hubble observe --follow | palisade flows ingest -' does: a named pipe.
        var pipe = Path.Combine(_folder, "hubble.pipe");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", pipe))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        using var stop = new CancellationTokenSource();
        var follow = CliRunner.Start(stop.Token, "flows", "observe", "--follow", "--store", Store, "--namespace", "jaeger", "--namespace", "project-alpha", "-o", "json");
        await Eventually.Until(() => follow.Error().Contains("waiting for an ingest", StringComparison.Ordinal), "the follower to wait for an ingest");
        Assert.Equal(stored.Output, follow.Output());

        var ingest = CliRunner.Start(CancellationToken.None, "flows", "ingest", pipe, "--store", Store, "--policies", SamplePolicies);
        await Eventually.Until(() => follow.Error().Contains("following the ingest", StringComparison.Ordinal), "the follower to connect");
        await File.WriteAllLinesAsync(pipe, File.ReadAllLines(SampleFlows));
        Assert.Equal(0, await ingest.Exit);
        Assert.Contains("stored 2,785 new flows", ingest.Output(), StringComparison.Ordinal);

        // What the follower printed after the stored flows: the new flows of project-alpha, attributed, as the store now has them.
        var alpha = CliRunner.Run("flows", "observe", "--store", Store, "--namespace", "project-alpha", "-o", "json");
        var expected = alpha.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(expected.Length > 100);
        await Eventually.Until(() => follow.Output().Length >= stored.Output.Length + alpha.Output.Length, "the follower to print the new flows");
        await Eventually.Until(() => follow.Error().Contains("the feed ended", StringComparison.Ordinal), "the follower to see the ingest end");
        await stop.CancelAsync();
        Assert.Equal(0, await follow.Exit);
        var printed = follow.Output()[stored.Output.Length..].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(expected.Order(StringComparer.Ordinal), printed.Order(StringComparer.Ordinal));
        Assert.All(printed, line => Assert.Contains("\"engine_verdict\"", line, StringComparison.Ordinal));
    }

    private static string SampleAlerts => TestPaths.InRoot(Path.Combine("samples", "alerts", "k8tre-alerts.yaml"));

    [Fact]
    public void Ingest_WithAlerts_PostsEachAlertOnceAndNoneWhenTheSameFlowsComeAgain()
    {
        using var receiver = new WebhookReceiver();

        var first = CliRunner.Run("flows", "ingest", SampleFlows, "--store", Store, "--policies", SamplePolicies, "--alerts", SampleAlerts, "--webhook", receiver.Url.ToString());
        var again = CliRunner.Run("flows", "ingest", SampleFlows, "--store", Store, "--policies", SamplePolicies, "--alerts", SampleAlerts, "--webhook", receiver.Url.ToString());
        var replay = CliRunner.Run("flows", "alerts", "--store", Store, "--rules", SampleAlerts, "-o", "json");

        Assert.Equal(0, first.ExitCode);
        var raised = first.Output.Split('\n').Single(l => l.StartsWith("raised", StringComparison.Ordinal));
        var count = int.Parse(raised.Split(' ')[1], System.Globalization.NumberStyles.AllowThousands, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(count > 0);
        Assert.Equal(count, receiver.Bodies.Count);
        var gaps = receiver.Bodies.Select(b => JsonDocument.Parse(b).RootElement).Where(b => b.GetProperty("rule").GetString() == "enforcement-gap").ToList();
        Assert.Equal(3, gaps.Count);
        Assert.Contains("raised 0 alerts on the new flows", again.Output, StringComparison.Ordinal);
        Assert.Equal(count, receiver.Bodies.Count);
        Assert.Equal(1, replay.ExitCode);
        Assert.Equal(count, replay.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Alerts_ApprovedCidrGroups_TakeTheGroupsAddressesFromThePolicies()
    {
        // The TRE keeps its approved destinations in a CiliumCIDRGroup; its alerts use the same list.
        var rules = Write("approved.yaml", """
            apiVersion: palisade.dev/v1alpha1
            kind: FlowAlertRules
            rules:
              - name: project-egress-unapproved
                match:
                  fromNamespaces: [project-*]
                  toOutside: true
                  approvedCidrGroups: [package-cdn]
            """);
        var group = Write("package-cdn.yaml", """
            apiVersion: cilium.io/v2alpha1
            kind: CiliumCIDRGroup
            metadata: {name: package-cdn}
            spec: {externalCIDRs: [151.101.0.0/16]}
            """);
        var otherGroup = Write("other-cdn.yaml", """
            apiVersion: cilium.io/v2alpha1
            kind: CiliumCIDRGroup
            metadata: {name: package-cdn}
            spec: {externalCIDRs: [192.0.2.0/24]}
            """);
        Assert.Equal(0, CliRunner.Run("flows", "ingest", SampleFlows, "--store", Store, "--policies", SamplePolicies).ExitCode);

        var approved = CliRunner.Run("flows", "alerts", "--store", Store, "--rules", rules, "--policies", group);
        var elsewhere = CliRunner.Run("flows", "alerts", "--store", Store, "--rules", rules, "--policies", otherGroup);
        var withoutPolicies = CliRunner.Run("flows", "alerts", "--store", Store, "--rules", rules);
        var unknown = CliRunner.Run("flows", "alerts", "--store", Store, "--rules", rules, "--policies", SamplePolicies);

        Assert.True(approved.ExitCode == 0, approved.ToString());
        Assert.Contains("palisade: 0 alerts from 1 rules", approved.Error, StringComparison.Ordinal);
        Assert.Equal(1, elsewhere.ExitCode);
        Assert.Contains("pypi.org", elsewhere.Output, StringComparison.Ordinal);
        Assert.Equal(2, withoutPolicies.ExitCode);
        Assert.Contains("give --policies with the manifests that define them", withoutPolicies.Error, StringComparison.Ordinal);
        Assert.Equal(2, unknown.ExitCode);
        Assert.Contains($"{rules}:8:", unknown.Error, StringComparison.Ordinal);
        Assert.Contains("approvedCidrGroups names 'package-cdn', which no CiliumCIDRGroup in --policies defines", unknown.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Alerts_BadRuleFile_ExitsTwoWithItsDiagnostics()
    {
        var rules = Write("rules.yaml", "apiVersion: palisade.dev/v1alpha1\nkind: FlowAlertRules\nrules:\n  - name: a\n    match: {verdict: [DROPPED]}\n");

        var result = CliRunner.Run("flows", "alerts", "--store", Store, "--rules", rules);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("rules.yaml:5:", result.Error, StringComparison.Ordinal);
        Assert.Contains("error PAL0103", result.Error, StringComparison.Ordinal);
        Assert.Contains("unknown field 'verdict'", result.Error, StringComparison.Ordinal);
    }
}
