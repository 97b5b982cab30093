using Palisade.Compilation;
using Palisade.Diagnostics;
using Palisade.Manifests;
using Palisade.Model;

namespace Palisade.Tests;

public sealed class ManifestLoaderTests
{
    private static ManifestLoadResult LoadText(string yaml) => ManifestLoader.LoadText(yaml.ReplaceLineEndings("\n"), "test.yaml");

    [Theory]
    [InlineData("", true, false)]
    [InlineData("policyTypes: []", true, false)]
    [InlineData("policyTypes: [Egress]", false, true)]
    [InlineData("egress: [{}]", true, true)]
    [InlineData("egress: []", true, false)]
    [InlineData("policyTypes: [Ingress, Egress]", true, true)]
    public void Load_PolicyTypes_DefaultAsKubernetes(string spec, bool ingress, bool egress)
    {
        var result = LoadText($"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p}}\nspec:\n  podSelector: {{}}\n  {spec}\n");

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        var policy = Assert.Single(result.Cluster.NetworkPolicies);
        Assert.Equal("default", policy.Namespace);
        Assert.Equal(ingress, policy.AffectsIngress);
        Assert.Equal(egress, policy.AffectsEgress);
    }

    [Theory]
    [InlineData("from: [{ipBlock: {cidr: 10.0.0.0/33}}]", DiagnosticCodes.InvalidCidr, "spec.ingress[0].from[0].ipBlock.cidr", 8)]
    [InlineData("from: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]", DiagnosticCodes.InvalidExcept, "spec.ingress[0].from[0].ipBlock.except[0]", 8)]
    [InlineData("from: [{podSelector: {}, ipBlock: {cidr: 10.0.0.0/8}}]", DiagnosticCodes.InvalidPeer, "spec.ingress[0].from[0]", 8)]
    [InlineData("from: [{}]", DiagnosticCodes.EmptyPeer, "spec.ingress[0].from[0]", 8)]
    [InlineData("ports: [{port: 70000}]", DiagnosticCodes.InvalidPort, "spec.ingress[0].ports[0].port", 8)]
    [InlineData("ports: [{port: Bad_Name}]", DiagnosticCodes.InvalidPort, "spec.ingress[0].ports[0].port", 8)]
    [InlineData("ports: [{port: 90, endPort: 80}]", DiagnosticCodes.InvalidPortRange, "spec.ingress[0].ports[0].endPort", 8)]
    [InlineData("ports: [{port: http, endPort: 80}]", DiagnosticCodes.InvalidPortRange, "spec.ingress[0].ports[0].endPort", 8)]
    [InlineData("ports: [{endPort: 80}]", DiagnosticCodes.InvalidPortRange, "spec.ingress[0].ports[0].endPort", 8)]
    [InlineData("ports: [{protocol: ICMP}]", DiagnosticCodes.InvalidProtocol, "spec.ingress[0].ports[0].protocol", 8)]
    [InlineData("from: [{podSelector: {matchExpressions: [{key: app, operator: Foo}]}}]", DiagnosticCodes.InvalidSelector, "spec.ingress[0].from[0].podSelector.matchExpressions[0].operator", 8)]
    [InlineData("from: [{podSelector: {matchExpressions: [{key: app, operator: In}]}}]", DiagnosticCodes.InvalidSelector, "spec.ingress[0].from[0].podSelector.matchExpressions[0].values", 8)]
    [InlineData("from: [{podSelector: {matchLabels: {app: $web}}}]", DiagnosticCodes.InvalidSelector, "spec.ingress[0].from[0].podSelector.matchLabels.app", 8)]
    [InlineData("from: {podSelector: {}}", DiagnosticCodes.WrongType, "spec.ingress[0].from", 8)]
    public void Load_InvalidRule_ReportsCodePathAndLine(string rule, string code, string path, int line)
    {
        var result = LoadText($"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  ingress:\n  - {rule}\n");

        Assert.True(result.HasErrors);
        var error = Assert.Single(result.Diagnostics, static d => d.Severity == Severity.Error);
        Assert.Equal(code, error.Code);
        Assert.Equal(path, error.Path);
        Assert.Equal("NetworkPolicy shop/web", error.Subject);
        Assert.Equal(line, error.Location.Line);
        Assert.Empty(result.Cluster.NetworkPolicies);
    }

    [Fact]
    public void Load_SeveralProblems_ReportsEveryOne()
    {
        var result = LoadText("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: web}
            spec:
              ingress:
              - from: [{}]
                ports: [{port: 0}]
              egress:
              - to: [{ipBlock: {cidr: nonsense}}]
            """);

        Assert.Equal(
            [DiagnosticCodes.EmptyPeer, DiagnosticCodes.InvalidPort, DiagnosticCodes.InvalidCidr],
            result.Diagnostics.Where(static d => d.Severity == Severity.Error).Select(static d => d.Code));
    }

    [Fact]
    public void Load_TypedListItemsWithoutKind_InheritTheKind()
    {
        var result = LoadText("""
            {"kind": "PodList", "apiVersion": "v1", "items": [
              {"metadata": {"name": "a", "namespace": "x", "labels": {"app": "a"}}},
              {"metadata": {"name": "b", "namespace": "x"}}]}
            """);

        Assert.False(result.HasErrors);
        Assert.Equal(["a", "b"], result.Cluster.Pods.Select(static p => p.Name));
    }

    [Fact]
    public void Load_PlainListItemsWithoutKind_AreSkippedWithWarning()
    {
        var result = LoadText("{\"kind\": \"List\", \"apiVersion\": \"v1\", \"items\": [{\"metadata\": {\"name\": \"a\"}}]}");

        Assert.Empty(result.Cluster.Pods);
        Assert.Equal(DiagnosticCodes.NotAnObject, Assert.Single(result.Diagnostics).Code);
    }

    [Theory]
    [InlineData("[{kind: ReplicaSet, name: web-7d4b, controller: true}]", "ReplicaSet", "web-7d4b")]
    [InlineData("[{kind: ReplicaSet, name: web-7d4b}]", "Pod", "p")]
    [InlineData("[{name: owner, controller: true}]", "Pod", "owner")]
    [InlineData("[{kind: Node, name: node-1, controller: true}]", "Pod", "p")]
    public void Load_PodOwner_IsTheControllerReference(string owners, string kind, string name)
    {
        var result = LoadText($"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: x\n  ownerReferences: {owners}\n");

        var pod = Assert.Single(result.Cluster.Pods);
        Assert.Equal(new WorkloadRef(kind, "x", name), pod.Workload);
    }

    [Fact]
    public void Load_DuplicateObject_IsAnErrorNamingTheFirst()
    {
        var result = LoadText("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");

        var error = Assert.Single(result.Diagnostics);
        Assert.Equal(DiagnosticCodes.DuplicateObject, error.Code);
        Assert.Equal(5, error.Location.Line);
        Assert.Contains("test.yaml:1:1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_UnknownKind_IsSkippedWithWarning()
    {
        var result = LoadText("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n");

        Assert.False(result.HasErrors);
        var warning = Assert.Single(result.Diagnostics);
        Assert.Equal(DiagnosticCodes.IgnoredKind, warning.Code);
        Assert.Equal(Severity.Warning, warning.Severity);
    }

    [Fact]
    public void Load_NamedPortOnlyToIpBlocks_WarnsOrRejectsAsAsked()
    {
        using var files = new ManifestTestFiles();
        files.Write("np.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  egress:\n  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]\n    ports: [{port: https}]\n");

        var lenient = ManifestLoader.Load([files.Folder]);
        var strict = ManifestLoader.Load([files.Folder], new ManifestReadOptions { RejectNamedPortsOnIpBlocks = true });

        Assert.False(lenient.HasErrors);
        Assert.Equal(DiagnosticCodes.NamedPortWithIpBlock, Assert.Single(lenient.Diagnostics).Code);
        Assert.True(strict.HasErrors);
        Assert.Equal(8, Assert.Single(strict.Diagnostics).Location.Line);
    }

    [Fact]
    public void Load_Folder_ReadsRecursivelySkippingCaseFiles()
    {
        using var files = new ManifestTestFiles();
        files.Write("a/ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n");
        files.Write("b/c/pod.json", "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"p\", \"namespace\": \"a\"}}");
        files.Write("tests/x.case.yaml", "name: x\nexpect: []\n");
        files.Write("notes.txt", "not yaml");

        var result = ManifestLoader.Load([files.Folder]);

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        Assert.Empty(result.Diagnostics);
        Assert.Equal(2, result.Files.Count);
        Assert.Single(result.Cluster.Namespaces);
        Assert.Single(result.Cluster.Pods);
    }

    [Fact]
    public void Load_MissingPath_IsAnError()
    {
        var result = ManifestLoader.Load(["/nonexistent/palisade/input"]);

        Assert.True(result.HasErrors);
        Assert.Equal(DiagnosticCodes.UnreadableInput, Assert.Single(result.Diagnostics).Code);
    }

    [Fact]
    public void Load_ErrorDeepInLargeFile_KeepsItsLine()
    {
        using var files = new ManifestTestFiles();
        var documents = Enumerable.Range(0, 3000).Select(i => $"apiVersion: v1\nkind: Pod\nmetadata:\n  name: p{i}\n  namespace: a\n").ToList();
        documents[2500] = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\n  labels: {app: $x}\n";
        files.Write("big.yaml", string.Join("---\n", documents));

        var result = ManifestLoader.Load([files.Folder]);

        var error = Assert.Single(result.Diagnostics);
        Assert.Equal((2500 * 6) + 5, error.Location.Line);
        Assert.Equal(2999, result.Cluster.Pods.Count);
    }

    [Fact]
    public void Write_SynthesizedCluster_ReadsBackToTheSameConnectivity()
    {
        using var files = new ManifestTestFiles();
        var cluster = Synthesis.ClusterSynthesizer.Generate(new Synthesis.SynthesisOptions { Pods = 300, Policies = 80, Namespaces = 8, Seed = 3 });

        ManifestWriter.WriteFolder(cluster, files.Folder);
        var read = ManifestLoader.Load([files.Folder]);

        Assert.False(read.HasErrors, string.Join("\n", read.Diagnostics));
        var expected = Analysis.ConnectivityAnalyzer.Analyze(SnapshotCompiler.Compile(cluster)).Lines.Select(static l => l.ToString());
        var actual = Analysis.ConnectivityAnalyzer.Analyze(SnapshotCompiler.Compile(read.Cluster)).Lines.Select(static l => l.ToString());
        Assert.Equal(expected, actual);
        Assert.NotEmpty(actual);
    }

    [Fact]
    public void Write_MixedDialectCluster_ReadsBackToTheSameConnectivity()
    {
        using var files = new ManifestTestFiles();
        var cluster = Synthesis.ClusterSynthesizer.Generate(new Synthesis.SynthesisOptions { Pods = 400, Policies = 120, Namespaces = 10, Seed = 5, MixedDialects = true });

        ManifestWriter.WriteFolder(cluster, files.Folder);
        var read = ManifestLoader.Load([files.Folder]);

        Assert.False(read.HasErrors, string.Join("\n", read.Diagnostics));
        Assert.Empty(read.Diagnostics);
        Assert.Equal(cluster.AdminNetworkPolicies.Count, read.Cluster.AdminNetworkPolicies.Count);
        Assert.Equal(cluster.CiliumPolicies.Count, read.Cluster.CiliumPolicies.Count);
        var expected = Analysis.ConnectivityAnalyzer.Analyze(SnapshotCompiler.Compile(cluster)).Lines.Select(static l => l.ToString()).ToList();
        var actual = Analysis.ConnectivityAnalyzer.Analyze(SnapshotCompiler.Compile(read.Cluster)).Lines.Select(static l => l.ToString()).ToList();
        Assert.Equal(expected, actual);
        Assert.Contains(actual, static l => l.Contains("[DNS]", StringComparison.Ordinal));
        Assert.Contains(actual, static l => l.Contains("[L7: HTTP", StringComparison.Ordinal));
    }

    [Fact]
    public void Write_EveryCiliumAndAdminForm_ReadsBackToTheSameSpecs()
    {
        using var files = new ManifestTestFiles();
        var source = ManifestLoader.LoadText(File.ReadAllText(TestPaths.InRoot(Path.Combine("samples", "k8tre", "policies", "cilium.yaml"))) + "\n---\n"
            + File.ReadAllText(TestPaths.InRoot(Path.Combine("samples", "k8tre", "policies", "cluster-wide.yaml"))) + "\n---\n" + """
            apiVersion: cilium.io/v2alpha1
            kind: CiliumCIDRGroup
            metadata: {name: providers, labels: {approved: "true"}}
            spec: {externalCIDRs: [192.0.2.0/24]}
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: more-peers, namespace: project-alpha}
            spec:
              endpointSelector: {}
              egress:
              - toCIDRSet: [{cidrGroupRef: providers, except: [192.0.2.128/25]}, {cidrGroupSelector: {matchLabels: {approved: "true"}}}]
              - toNodes: [{matchLabels: {pool: workers}}]
                toPorts: [{ports: [{port: "10250", protocol: TCP}]}]
              - toServices: [{k8sService: {serviceName: registry-db, namespace: project-alpha}}]
              ingress:
              - fromEndpoints: [{}]
                icmps: [{fields: [{type: 8}, {type: 128, family: IPv6}]}]
            """, "policies.yaml");
        Assert.False(source.HasErrors, string.Join("\n", source.Diagnostics));

        ManifestWriter.WriteFolder(source.Cluster, files.Folder);
        var read = ManifestLoader.Load([files.Folder]);

        Assert.False(read.HasErrors, string.Join("\n", read.Diagnostics));
        Assert.Equal(Describe(source.Cluster), Describe(read.Cluster));
    }

    /// <summary>The policies' meaning as text (records with lists compare by reference, so compare what they print).</summary>
    private static string Describe(ClusterSpec cluster) => string.Join(
        "\n",
        cluster.AdminNetworkPolicies.OrderBy(static p => p.Name, StringComparer.Ordinal).Select(static p =>
            $"{p.Kind} {p.Name} {p.Tier} {p.Priority} {p.Subject.Namespaces} {p.Subject.Pods} "
            + string.Join(";", p.Ingress.Concat(p.Egress).Select(static r => $"{r.Name} {r.Action} {string.Join(",", r.Peers.Select(static x => $"{x.Namespaces}|{x.PodNamespaces}|{x.Pods}|{string.Join(" ", x.Networks ?? [])}|{string.Join(" ", x.DomainNames ?? [])}"))} {string.Join(",", r.Ports?.Select(static x => $"{x.Protocol}:{x.Port}-{x.EndPort}:{x.PortName}") ?? ["*"])}")))
        .Concat(cluster.CiliumPolicies.OrderBy(static p => p.Name, StringComparer.Ordinal).ThenBy(static p => p.Namespace, StringComparer.Ordinal).Select(static p =>
            $"{p.Kind} {p.Namespace}/{p.Name} " + string.Join(";", p.Blocks.Select(static b =>
                $"{b.EndpointSelector} {b.NodeSelector} {b.DefaultDenyIngress} {b.DefaultDenyEgress} "
                + string.Join("|", new[] { b.Ingress, b.Egress, b.IngressDeny, b.EgressDeny }.Select(static rules => rules is null ? "-" : string.Join(",", rules.Select(static r =>
                    $"{string.Join(" ", r.Endpoints ?? [])}/{string.Join(" ", r.Entities ?? [])}/{r.Cidrs}/{string.Join(" ", r.CidrGroups?.Select(static g => $"{g.Name}{g.Selector}-{g.Except}") ?? [])}/"
                    + $"{string.Join(" ", r.Nodes ?? [])}/{string.Join(" ", r.Services ?? [])}/{r.HasUnevaluatedPeers}/{string.Join(" ", r.Fqdns ?? [])}/{string.Join(" ", r.Icmps?.Select(static i => $"{i.Protocols[0]}:{i.Port}") ?? ["-"])}/"
                    + string.Join(" ", r.ToPorts?.Select(static t => $"{string.Join("+", t.Ports.Select(static x => $"{string.Join("", x.Protocols)}:{x.Port}-{x.EndPort}:{x.PortName}"))}"
                        + $"[{string.Join(" ", t.Http?.Select(static h => $"{h.Method}{h.Path}{h.Host}{string.Join("", h.Headers)}") ?? [])}][{string.Join(" ", t.Dns ?? [])}]") ?? []))))))))))
        + "\n" + string.Join("\n", cluster.CidrGroups.OrderBy(static g => g.Name, StringComparer.Ordinal).Select(static g => $"CiliumCIDRGroup {g.Name} {g.Labels} {g.Cidrs}"));
}
