using System.Text;
using System.Text.Json;
using Palisade.Flows.Alerts;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;
using Palisade.Manifests;
using Palisade.Model;
using Palisade.Tests;

namespace Palisade.Flows.Tests.Alerts;

/// <summary>Alert rules from YAML, evaluated on flows, folded within their window, delivered to a real webhook.</summary>
public sealed class FlowAlertTests
{
    private static FlowRecord Flow(string time, string fromNs, string? toNs, int port, string verdict = "FORWARDED", string? names = null, string toIp = "151.101.0.223", string? fromLabel = null)
    {
        var to = toNs is null ? "{\"identity\":2,\"labels\":[\"reserved:world\"]}" : $"{{\"namespace\":\"{toNs}\",\"pod_name\":\"db-0\"}}";
        var labels = fromLabel is null ? string.Empty : $",\"labels\":[\"k8s:{fromLabel}\"]";
        var line = $"{{\"flow\":{{\"time\":\"{time}\",\"verdict\":\"{verdict}\",\"IP\":{{\"source\":\"10.0.0.9\",\"destination\":\"{toIp}\"}},\"l4\":{{\"TCP\":{{\"source_port\":40000,\"destination_port\":{port}}}}}," +
            $"\"source\":{{\"namespace\":\"{fromNs}\",\"pod_name\":\"ws-1\"{labels}}},\"destination\":{to}{(names is null ? string.Empty : $",\"destination_names\":[\"{names}\"]")}}}}}";
        Assert.Equal(FlowLineKind.Flow, new HubbleFlowParser().TryParse(Encoding.UTF8.GetBytes(line), out var flow, out var error));
        Assert.Equal(default, error);
        return flow!;
    }

    private static FlowAlertRulesSpec Rules(string yaml)
    {
        var loaded = AlertRuleFileReader.ReadText(yaml, "rules.yaml");
        Assert.False(loaded.HasErrors, string.Join('\n', loaded.Diagnostics));
        return loaded.Rules!;
    }

    private const string Egress = """
        apiVersion: palisade.dev/v1alpha1
        kind: FlowAlertRules
        rules:
          - name: egress
            severity: critical
            window: 10m
            match:
              fromNamespaces: [project-*]
              toOutside: true
              approvedNames: ["*.r-project.org", pypi.org]
              approvedCidrs: [203.0.113.0/24]
        """;

    [Fact]
    public void Evaluate_ProjectEgress_AlertsOnUnapprovedOutsideDestinationsOnly()
    {
        var evaluator = new FlowAlertEvaluator(Rules(Egress));

        var alerts = evaluator.Evaluate([
            Flow("2026-11-28T10:00:00Z", "project-alpha", null, 443, names: "evil.example.com"),
            Flow("2026-11-28T10:00:01Z", "project-alpha", null, 443, names: "cloud.r-project.org"),
            Flow("2026-11-28T10:00:02Z", "project-alpha", null, 443, names: "pypi.org"),
            Flow("2026-11-28T10:00:03Z", "project-alpha", null, 443, toIp: "203.0.113.7"),
            Flow("2026-11-28T10:00:04Z", "platform", null, 443, names: "evil.example.com"),
            Flow("2026-11-28T10:00:05Z", "project-beta", "project-beta", 5432),
        ]);

        var alert = Assert.Single(alerts);
        Assert.Equal("egress", alert.Rule);
        Assert.Equal("critical", alert.Severity);
        Assert.Equal("evil.example.com", alert.Destination);
        Assert.Equal("project-alpha/ws-1", alert.Source);
        Assert.Equal("TCP 443", alert.Connection);
    }

    [Fact]
    public void Evaluate_RepeatsWithinTheWindow_AreFoldedIntoTheNextAlert()
    {
        var evaluator = new FlowAlertEvaluator(Rules(Egress));

        var first = evaluator.Evaluate([
            Flow("2026-11-28T10:00:00Z", "project-alpha", null, 443, names: "evil.example.com"),
            Flow("2026-11-28T10:03:00Z", "project-alpha", null, 443, names: "evil.example.com"),
            Flow("2026-11-28T10:09:59Z", "project-alpha", null, 443, names: "evil.example.com"),
            Flow("2026-11-28T10:05:00Z", "project-alpha", null, 8443, names: "evil.example.com"),
        ]);
        var later = evaluator.Evaluate([Flow("2026-11-28T10:10:00Z", "project-alpha", null, 443, names: "evil.example.com")]);

        Assert.Equal(["TCP 443", "TCP 8443"], first.Select(a => a.Connection));
        var again = Assert.Single(later);
        Assert.Equal(2, again.Suppressed);
    }

    [Fact]
    public void Evaluate_LabelsVerdictsAndDisagreement_MustAllHold()
    {
        var rules = Rules("""
            apiVersion: palisade.dev/v1alpha1
            kind: FlowAlertRules
            rules:
              - name: workspace-drop
                match:
                  fromLabels: {tre.k8tre.io/component: workspace}
                  verdicts: [dropped]
              - name: gap
                match:
                  disagreement: true
            """);
        var evaluator = new FlowAlertEvaluator(rules);
        var dropped = Flow("2026-11-28T10:00:00Z", "project-alpha", "project-beta", 5432, verdict: "DROPPED", fromLabel: "tre.k8tre.io/component=workspace");
        var otherDrop = Flow("2026-11-28T10:00:01Z", "project-alpha", "project-beta", 5433, verdict: "DROPPED", fromLabel: "app=db");
        var gap = Flow("2026-11-28T10:00:02Z", "project-beta", "project-alpha", 5432) with { Attribution = new FlowAttribution { Verdict = EngineVerdict.Denied, Disagreement = Disagreement.ForwardedButDenied } };

        var alerts = evaluator.Evaluate([dropped, otherDrop, gap]);

        Assert.Equal(["workspace-drop", "gap"], alerts.Select(a => a.Rule));
        Assert.Equal("forwarded, but the policies deny it", alerts[1].Disagreement);
    }

    [Theory]
    [InlineData("project-*", "project-alpha", true)]
    [InlineData("project-*", "projects", false)]
    [InlineData("*-prod", "svc-prod", true)]
    [InlineData("a*b*c", "axxbyyc", true)]
    [InlineData("a*b*c", "axxbyy", false)]
    [InlineData("exact", "exact", true)]
    public void Glob_Patterns_MatchAsWritten(string pattern, string text, bool expected)
    {
        Assert.Equal(expected, FlowAlertEvaluator.Glob(pattern, text));
    }

    [Theory]
    [InlineData("apiVersion: palisade.dev/v1alpha1\nkind: FlowAlertRules\nrules:\n  - name: a\n    match: {verdicts: [MAYBE]}\n", "rules.yaml:5:", "is not a Hubble verdict")]
    [InlineData("apiVersion: palisade.dev/v1alpha1\nkind: FlowAlertRules\nrules:\n  - name: a\n    match: {}\n  - name: a\n    match: {}\n", "rules.yaml:6:", "another rule is named 'a'")]
    [InlineData("apiVersion: palisade.dev/v1alpha1\nkind: FlowAlertRules\nrules:\n  - name: a\n    window: soon\n    match: {}\n", "rules.yaml:5:", "is not a duration")]
    [InlineData("apiVersion: palisade.dev/v1alpha1\nkind: FlowAlertRules\nrules:\n  - name: a\n    match: {approvedCidrs: [10.0.0.0/33]}\n", "rules.yaml:5:", "PAL0011")]
    [InlineData("apiVersion: palisade.dev/v1alpha1\nkind: FlowAlertRules\nrules:\n  - name: a\n    match: {toOutsid: true}\n", "rules.yaml:5:", "toOutsid")]
    [InlineData("apiVersion: palisade.dev/v1alpha1\nkind: Alerts\nrules: []\n", "rules.yaml:2:", "is not FlowAlertRules")]
    [InlineData("apiVersion: palisade.dev/v1alpha1\nkind: FlowAlertRules\nwebhook: ftp://x\nrules:\n  - name: a\n    match: {}\n", "rules.yaml:3:", "not an http or https URL")]
    public void ReadText_BadRules_SaysWhereAndWhatWouldBeRight(string yaml, string where, string message)
    {
        var loaded = AlertRuleFileReader.ReadText(yaml, "rules.yaml");

        Assert.True(loaded.HasErrors);
        Assert.Contains(loaded.Diagnostics, d => d.ToString().StartsWith(where, StringComparison.Ordinal) && d.ToString().Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Webhook_RealEndpoint_GetsEachAlertAsJson()
    {
        using var receiver = new WebhookReceiver();
        using var http = new HttpClient();
        var log = new StringWriter();
        var sink = new WebhookAlertSink(http, receiver.Url, log);
        var alerts = new FlowAlertEvaluator(Rules(Egress)).Evaluate([
            Flow("2026-11-28T10:00:00Z", "project-alpha", null, 443, names: "evil.example.com"),
            Flow("2026-11-28T10:00:00Z", "project-beta", null, 22, names: "ssh.example.com"),
        ]);

        await sink.DeliverAsync(alerts);

        Assert.Equal(2, sink.Delivered);
        Assert.Equal(string.Empty, log.ToString());
        var bodies = receiver.Bodies.Select(b => JsonDocument.Parse(b).RootElement).ToList();
        Assert.Equal(["evil.example.com", "ssh.example.com"], bodies.Select(b => b.GetProperty("destination").GetString()));
        Assert.All(bodies, b => Assert.Equal("egress", b.GetProperty("rule").GetString()));
    }

    [Fact]
    public async Task Webhook_EndpointFailing_RetriesThenReportsAndGoesOn()
    {
        using var receiver = new WebhookReceiver(status: 503);
        using var http = new HttpClient();
        var log = new StringWriter();
        var sink = new WebhookAlertSink(http, receiver.Url, log) { RetryPause = TimeSpan.FromMilliseconds(10) };
        var alerts = new FlowAlertEvaluator(Rules(Egress)).Evaluate([Flow("2026-11-28T10:00:00Z", "project-alpha", null, 443, names: "evil.example.com")]);

        await sink.DeliverAsync(alerts);

        Assert.Equal(1, sink.Failed);
        Assert.Equal(3, receiver.Requests);
        Assert.Contains("not delivered", log.ToString(), StringComparison.Ordinal);
        Assert.Contains("503", log.ToString(), StringComparison.Ordinal);
    }
}
