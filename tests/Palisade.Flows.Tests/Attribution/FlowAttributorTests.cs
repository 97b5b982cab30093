using System.Text;
using Palisade.Compilation;
using Palisade.Flows.Attribution;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;
using Palisade.Manifests;
using Palisade.Tests;

namespace Palisade.Flows.Tests.Attribution;

/// <summary>Flows of the sample TRE attributed to its policies, with the disagreements a TRE must see.</summary>
public sealed class FlowAttributorTests
{
    private static readonly Lazy<PolicySnapshot> Sample = new(() =>
    {
        var loaded = ManifestLoader.Load([TestPaths.InRoot(Path.Combine("samples", "k8tre"))]);
        Assert.False(loaded.HasErrors);
        return SnapshotCompiler.Compile(loaded.Cluster);
    });

    private static FlowRecord Flow(string verdict, string direction, (string Ns, string Pod, string[] Labels) from, (string Ns, string Pod, string[] Labels) to, int sport, int dport, string extra = "", string? drop = null, bool reply = false)
    {
        static string End((string Ns, string Pod, string[] Labels) e) =>
            e.Ns.Length == 0
                ? $$"""{"identity":2,"labels":["reserved:world"]}"""
                : $$"""{"namespace":"{{e.Ns}}","pod_name":"{{e.Pod}}","labels":[{{string.Join(',', e.Labels.Select(l => $"\"{l}\""))}}]}""";
        var dropField = drop is null ? string.Empty : ",\"drop_reason_desc\":\"" + drop + "\"";
        var line = "{\"flow\":{\"time\":\"2026-11-28T10:00:00Z\",\"verdict\":\"" + verdict + "\",\"IP\":{\"source\":\"10.1.0." + (sport % 200) +
            "\",\"destination\":\"151.101.0.223\",\"ipVersion\":\"IPv4\"},\"l4\":{\"TCP\":{\"source_port\":" + sport + ",\"destination_port\":" + dport +
            "}},\"source\":" + End(from) + ",\"destination\":" + End(to) + ",\"traffic_direction\":\"" + direction + "\",\"is_reply\":" + (reply ? "true" : "false") +
            dropField + extra + "},\"node_name\":\"worker-1\"}";
        Assert.Equal(FlowLineKind.Flow, new HubbleFlowParser().TryParse(Encoding.UTF8.GetBytes(line), out var flow, out var error));
        Assert.Equal(default, error);
        return flow!;
    }

    private static readonly (string, string, string[]) Jupyter = ("project-alpha", "jupyter-7d9f8c6b5-xk2lp", ["k8s:app=jupyter", "k8s:tre.k8tre.io/component=workspace", "k8s:io.kubernetes.pod.namespace=project-alpha", "k8s:io.cilium.k8s.policy.serviceaccount=default"]);
    private static readonly (string, string, string[]) AlphaDb = ("project-alpha", "postgres-0", ["k8s:app=postgres", "k8s:tre.k8tre.io/component=database"]);
    private static readonly (string, string, string[]) BetaDb = ("project-beta", "postgres-0", []);
    private static readonly (string, string, string[]) Nexus = ("package-mirror", "nexus-5c4d8-abcde", []);
    private static readonly (string, string, string[]) World = ("", "", []);

    private static FlowAttribution Attribute(FlowRecord flow) => new FlowAttributor(Sample.Value).Attribute(flow).Attribution!;

    [Fact]
    public void Attribute_AllowedEgress_NamesTheNamespaceTierRuleAndTheProject()
    {
        var a = Attribute(Flow("FORWARDED", "EGRESS", Jupyter, AlphaDb, 40000, 5432));

        Assert.Equal(EngineVerdict.Allowed, a.Verdict);
        Assert.Equal("namespace", a.Tier);
        Assert.Equal("NetworkPolicy project-alpha/workspace-egress", a.Policy);
        Assert.Equal("spec.egress[0].to[0]", a.Rule);
        Assert.Equal(Disagreement.None, a.Disagreement);
        Assert.Equal("alpha", a.Project);
    }

    [Fact]
    public void Attribute_DropAtIngressOfAnotherProject_NamesTheAdminDenyAndAgrees()
    {
        var a = Attribute(Flow("DROPPED", "INGRESS", Jupyter, BetaDb, 40000, 5432, drop: "POLICY_DENIED"));

        Assert.Equal(EngineVerdict.Denied, a.Verdict);
        Assert.Equal("admin", a.Tier);
        Assert.Equal("AdminNetworkPolicy tre-isolate-project-beta", a.Policy);
        Assert.Equal(Disagreement.None, a.Disagreement);
    }

    [Fact]
    public void Attribute_ForwardedAtIngressThoughPoliciesDeny_IsAnEnforcementGap()
    {
        var a = Attribute(Flow("FORWARDED", "INGRESS", Jupyter, BetaDb, 40000, 5432));

        Assert.Equal(Disagreement.ForwardedButDenied, a.Disagreement);
    }

    [Fact]
    public void Attribute_PolicyDropOfAnAllowedConnection_IsStaleEnforcement()
    {
        var a = Attribute(Flow("DROPPED", "EGRESS", Jupyter, AlphaDb, 40000, 5432, drop: "POLICY_DENIED"));

        Assert.Equal(EngineVerdict.Allowed, a.Verdict);
        Assert.Equal(Disagreement.DroppedButAllowed, a.Disagreement);
    }

    [Fact]
    public void Attribute_DropForAnotherReason_IsNoDisagreement()
    {
        var a = Attribute(Flow("DROPPED", "EGRESS", Jupyter, AlphaDb, 40000, 5432, drop: "CT_MAP_INSERTION_FAILED"));

        Assert.Equal(Disagreement.None, a.Disagreement);
    }

    [Fact]
    public void Attribute_ForwardedOutOfTheSourceThoughTheDestinationDenies_IsNoDisagreement()
    {
        // Cluster DNS is not isolated for egress; the alpha database's ingress refuses it.
        var coredns = ("kube-system", "coredns-5d78c9869d-abcde", Array.Empty<string>());

        var a = Attribute(Flow("FORWARDED", "EGRESS", coredns, AlphaDb, 40000, 5432));

        Assert.Equal(EngineVerdict.Allowed, a.Verdict);
        Assert.Null(a.Policy);
        Assert.Equal(Disagreement.None, a.Disagreement);
    }

    [Fact]
    public void Attribute_Reply_IsJudgedAsTheConnectionItAnswers()
    {
        var a = Attribute(Flow("FORWARDED", "INGRESS", AlphaDb, Jupyter, 5432, 40000, reply: true));

        Assert.Equal(EngineVerdict.Allowed, a.Verdict);
        Assert.Equal("NetworkPolicy project-alpha/workspace-egress", a.Policy);
        Assert.Equal(Disagreement.None, a.Disagreement);
    }

    [Fact]
    public void Attribute_WorkspaceToPypiByName_IsDeniedAndForwardingItIsAGap()
    {
        var a = Attribute(Flow("FORWARDED", "EGRESS", Jupyter, World, 40000, 443, extra: ",\"destination_names\":[\"pypi.org\"]"));

        Assert.Equal(EngineVerdict.Denied, a.Verdict);
        Assert.Equal(Disagreement.ForwardedButDenied, a.Disagreement);
    }

    [Fact]
    public void Attribute_MirrorToPypiByName_IsAllowedByTheDnsNameRule()
    {
        var a = Attribute(Flow("FORWARDED", "EGRESS", Nexus, World, 40000, 443, extra: ",\"destination_names\":[\"pypi.org\"]"));

        Assert.Equal(EngineVerdict.Allowed, a.Verdict);
        Assert.Equal("CiliumNetworkPolicy package-mirror/mirror-upstreams", a.Policy);
        Assert.Equal("spec.egress[1].toFQDNs", a.Rule);
    }

    [Fact]
    public void Attribute_HttpPutToTheReadOnlyMirror_IsDeniedAtLayer7()
    {
        var put = ",\"Type\":\"L7\",\"l7\":{\"type\":\"REQUEST\",\"http\":{\"method\":\"PUT\",\"url\":\"http://nexus.package-mirror:8081/repository/pypi/numpy.tar.gz\"}}";
        var get = put.Replace("PUT", "GET", StringComparison.Ordinal).Replace("numpy.tar.gz", "simple/numpy/", StringComparison.Ordinal);

        var denied = Attribute(Flow("DROPPED", "EGRESS", Jupyter, Nexus, 40000, 8081, extra: put));
        var allowed = Attribute(Flow("FORWARDED", "EGRESS", Jupyter, Nexus, 40000, 8081, extra: get));

        Assert.Equal(EngineVerdict.Denied, denied.Verdict);
        Assert.Equal(EngineVerdict.Allowed, allowed.Verdict);
        Assert.Equal("CiliumNetworkPolicy project-alpha/workspace-mirror-read-only", allowed.Policy);
    }

    private const string HeaderRuleCluster = """
        apiVersion: v1
        kind: Namespace
        metadata: {name: project-alpha}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: jupyter, namespace: project-alpha}
        spec:
          selector: {matchLabels: {app: jupyter}}
          template:
            metadata: {labels: {app: jupyter}}
            spec: {containers: [{name: c, image: i}]}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: api, namespace: project-alpha}
        spec:
          selector: {matchLabels: {app: api}}
          template:
            metadata: {labels: {app: api}}
            spec: {containers: [{name: c, image: i, ports: [{containerPort: 8080}]}]}
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: api-needs-a-token, namespace: project-alpha}
        spec:
          endpointSelector: {matchLabels: {app: api}}
          ingress:
          - fromEndpoints: [{matchLabels: {app: jupyter}}]
            toPorts:
            - ports: [{port: "8080", protocol: TCP}]
              rules:
                http: [{method: GET, path: "/data", host: "api(:8080)?", headers: ["X-Token: secret"]}]
        """;

    [Fact]
    public void Attribute_SamePathWithAndWithoutTheHeaderOrHostARuleNeeds_GetTheirOwnVerdicts()
    {
        var loaded = ManifestLoader.LoadText(HeaderRuleCluster.ReplaceLineEndings("\n"), "cluster.yaml");
        Assert.False(loaded.HasErrors);
        var attributor = new FlowAttributor(SnapshotCompiler.Compile(loaded.Cluster));
        var client = ("project-alpha", "jupyter-7d9f8c6b5-xk2lp", new[] { "k8s:app=jupyter" });
        var server = ("project-alpha", "api-5c4d8f7b6-abcde", new[] { "k8s:app=api" });
        static string Http(string host, string headers) =>
            ",\"Type\":\"L7\",\"l7\":{\"type\":\"REQUEST\",\"http\":{\"method\":\"GET\",\"url\":\"http://" + host + ":8080/data\"" + headers + "}}";
        var token = ",\"headers\":[{\"key\":\"X-Token\",\"value\":\"secret\"}]";

        // One batch, so that the second and third flows would find the first one's verdict in the cache.
        var flows = attributor.Attribute([
            Flow("FORWARDED", "INGRESS", client, server, 40000, 8080, extra: Http("api", token)),
            Flow("DROPPED", "INGRESS", client, server, 40001, 8080, extra: Http("api", string.Empty)),
            Flow("DROPPED", "INGRESS", client, server, 40002, 8080, extra: Http("other", token)),
        ]);

        Assert.Equal([EngineVerdict.Allowed, EngineVerdict.Denied, EngineVerdict.Denied], flows.Select(f => f.Attribution!.Verdict));
        Assert.All(flows, f => Assert.Equal(Disagreement.None, f.Attribution!.Disagreement));
    }

    /// <summary>A project whose database answers ping from its workspace (a Cilium icmps rule) and takes TCP 5432 (a NetworkPolicy with ports).</summary>
    private static readonly Lazy<PolicySnapshot> Pings = new(() =>
    {
        var loaded = ManifestLoader.LoadText("""
            apiVersion: v1
            kind: Pod
            metadata: {name: jupyter-0, namespace: project-alpha, labels: {app: jupyter}}
            status: {podIP: 10.1.0.10}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: postgres-0, namespace: project-alpha, labels: {app: postgres}}
            status: {podIP: 10.1.0.20}
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: postgres-ingress, namespace: project-alpha}
            spec:
              podSelector: {matchLabels: {app: postgres}}
              ingress:
              - from: [{podSelector: {matchLabels: {app: jupyter}}}]
                ports: [{port: 5432, protocol: TCP}]
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: postgres-ping, namespace: project-alpha}
            spec:
              endpointSelector: {matchLabels: {app: postgres}}
              ingress:
              - fromEndpoints: [{matchLabels: {app: jupyter}}]
                icmps: [{fields: [{type: EchoRequest}]}]
            """, "pings.yaml");
        Assert.False(loaded.HasErrors, string.Join("\n", loaded.Diagnostics));
        return SnapshotCompiler.Compile(loaded.Cluster);
    });

    private static FlowRecord Icmp(string verdict, bool fromJupyter, string icmp, bool? reply, string family = "ICMPv4", string direction = "INGRESS")
    {
        var (from, to) = fromJupyter ? (("jupyter-0", "jupyter", "10.1.0.10"), ("postgres-0", "postgres", "10.1.0.20")) : (("postgres-0", "postgres", "10.1.0.20"), ("jupyter-0", "jupyter", "10.1.0.10"));
        var line = "{\"flow\":{\"time\":\"2026-11-28T10:00:00Z\",\"verdict\":\"" + verdict + "\",\"IP\":{\"source\":\"" + from.Item3 + "\",\"destination\":\"" + to.Item3 +
            "\",\"ipVersion\":\"IPv4\"},\"l4\":{\"" + family + "\":" + icmp + "},\"source\":{\"namespace\":\"project-alpha\",\"pod_name\":\"" + from.Item1 + "\",\"labels\":[\"k8s:app=" + from.Item2 +
            "\"]},\"destination\":{\"namespace\":\"project-alpha\",\"pod_name\":\"" + to.Item1 + "\",\"labels\":[\"k8s:app=" + to.Item2 + "\"]},\"traffic_direction\":\"" + direction + "\"" +
            (reply is { } r ? ",\"is_reply\":" + (r ? "true" : "false") : string.Empty) + (verdict == "DROPPED" ? ",\"drop_reason_desc\":\"POLICY_DENIED\"" : string.Empty) + "},\"node_name\":\"worker-1\"}";
        Assert.Equal(FlowLineKind.Flow, new HubbleFlowParser().TryParse(Encoding.UTF8.GetBytes(line), out var flow, out var error));
        Assert.Equal(default, error);
        return flow!;
    }

    [Fact]
    public void Attribute_PingTheIcmpsRuleAllows_IsAllowedByIt()
    {
        var a = new FlowAttributor(Pings.Value).Attribute(Icmp("FORWARDED", fromJupyter: true, "{\"type\":8}", reply: false)).Attribution!;

        Assert.Equal(EngineVerdict.Allowed, a.Verdict);
        Assert.Equal("CiliumNetworkPolicy project-alpha/postgres-ping", a.Policy);
        Assert.Equal(Disagreement.None, a.Disagreement);
    }

    [Fact]
    public void Attribute_EchoReply_IsJudgedAsTheRequestItAnswers()
    {
        // Hubble leaves out type 0 (the echo reply): "ICMPv4":{}. Leaving the database, the reply is
        // judged at the database's ingress, where the ping came in.
        var a = new FlowAttributor(Pings.Value).Attribute(Icmp("FORWARDED", fromJupyter: false, "{}", reply: true, direction: "EGRESS")).Attribution!;

        Assert.Equal(EngineVerdict.Allowed, a.Verdict);
        Assert.Equal("CiliumNetworkPolicy project-alpha/postgres-ping", a.Policy);
    }

    [Theory]
    [InlineData("{\"type\":13}", "ICMPv4")]
    [InlineData("{\"type\":128}", "ICMPv6")]
    public void Attribute_IcmpTheRulesDoNotName_IsDeniedAndForwardingItIsAGap(string icmp, string family)
    {
        // The NetworkPolicy names ports, so it admits no ICMP; the icmps rule admits IPv4 echo requests only.
        var a = new FlowAttributor(Pings.Value).Attribute(Icmp("FORWARDED", fromJupyter: true, icmp, reply: false, family)).Attribution!;

        Assert.Equal(EngineVerdict.Denied, a.Verdict);
        Assert.Equal(Disagreement.ForwardedButDenied, a.Disagreement);
    }

    [Fact]
    public void Attribute_PingTheOtherWay_IsAllowedWhereNoPolicyIsolates()
    {
        // Nothing selects the workspace for ingress: the database may ping it.
        var a = new FlowAttributor(Pings.Value).Attribute(Icmp("DROPPED", fromJupyter: false, "{\"type\":8}", reply: false)).Attribution!;

        Assert.Equal(EngineVerdict.Allowed, a.Verdict);
        Assert.Equal(Disagreement.DroppedButAllowed, a.Disagreement);
    }

    [Fact]
    public void Attribute_EchoReplyWithoutIsReply_IsStillJudgedAsTheRequest()
    {
        // Hubble leaves is_reply unset at some observation points; the echo reply's type says what it is.
        var a = new FlowAttributor(Pings.Value).Attribute(Icmp("FORWARDED", fromJupyter: false, "{}", reply: null, direction: "EGRESS")).Attribution!;

        Assert.Equal(EngineVerdict.Allowed, a.Verdict);
        Assert.Equal("CiliumNetworkPolicy project-alpha/postgres-ping", a.Policy);
    }

    [Theory]
    [InlineData("{\"type\":3,\"code\":3}", "ICMPv4")]
    [InlineData("{\"type\":11}", "ICMPv4")]
    [InlineData("{\"type\":2}", "ICMPv6")]
    [InlineData("{\"type\":135}", "ICMPv6")]
    public void Attribute_IcmpCiliumPassesWhateverThePolicies_IsNotJudged(string icmp, string family)
    {
        // An error about another connection (passed as related to it) and IPv6 neighbour discovery:
        // forwarding them is no enforcement gap.
        var a = new FlowAttributor(Pings.Value).Attribute(Icmp("FORWARDED", fromJupyter: true, icmp, reply: false, family)).Attribution!;

        Assert.Equal(EngineVerdict.Unknown, a.Verdict);
        Assert.Equal(Disagreement.None, a.Disagreement);
    }

    [Fact]
    public void Attribute_PodsUnknownToTheSnapshot_GetNoVerdict()
    {
        var stranger = ("elsewhere", "thing-1", Array.Empty<string>());

        var a = Attribute(Flow("FORWARDED", "EGRESS", stranger, stranger, 1, 2) with { SourceIp = null, DestinationIp = null });

        Assert.Equal(EngineVerdict.Unknown, a.Verdict);
        Assert.Null(a.Policy);
    }

    [Fact]
    public void Attribute_RealCaptures_NeverThrowAndJudgeOnlyResolvableFlows()
    {
        var attributor = new FlowAttributor(Sample.Value);
        var flows = Reading.HubbleCaptureTests.ReadAll().Flows.ToArray();

        var attributed = attributor.Attribute(flows);

        Assert.Equal(flows.Length, attributed.Length);
        Assert.All(attributed, f => Assert.NotNull(f.Attribution));
    }

    [Fact]
    public void Attribute_ManyThreadsAtOnce_GiveWhatOneThreadGives()
    {
        var flows = Reading.HubbleCaptureTests.ReadAll().Flows.ToArray();
        var alone = new FlowAttributor(Sample.Value).Attribute(flows);
        var shared = new FlowAttributor(Sample.Value);
        var together = new FlowRecord[flows.Length][];

        Parallel.For(0, 8, i => together[i] = shared.Attribute(flows));

        foreach (var run in together.Take(8))
        {
            Assert.Equal(alone.Select(f => f.Attribution), run.Select(f => f.Attribution));
        }
    }
}
