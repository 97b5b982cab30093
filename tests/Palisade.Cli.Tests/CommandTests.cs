using System.Xml.Linq;

namespace Palisade.Tests;

/// <summary>Exit codes, diagnostics and files of the commands, as users and scripts meet them.</summary>
public sealed class CommandTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "palisade-cli-" + Guid.NewGuid().ToString("N"));

    public CommandTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static string Sample => TestPaths.InRoot(Path.Combine("samples", "k8tre"));

    /// <summary>Runs <c>palisade test</c> on <paramref name="file"/> and checks that all <paramref name="passed"/> checks pass.</summary>
    private static CliResult RunPassingCases(string file, int passed)
    {
        var result = CliRunner.Run("test", file);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.EndsWith($"{passed} passed, 0 failed\n", result.Output, StringComparison.Ordinal);
        return result;
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, text.ReplaceLineEndings("\n"));
        return path;
    }

    [Theory]
    [InlineData("analyze")]
    [InlineData("analyze", "--format", "xml", "x")]
    [InlineData("eval", "x", "--from", "a/b")]
    [InlineData("no-such-command")]
    [InlineData("synth")]
    public void Run_BadUsage_ExitsTwoWithMessage(params string[] args)
    {
        var result = CliRunner.Run(args);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("palisade --help", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_ListsEveryCommand()
    {
        var result = CliRunner.Run("--help");

        Assert.Equal(0, result.ExitCode);
        foreach (var command in new[] { "analyze", "eval", "test", "synth", "flows" })
        {
            Assert.Contains(command, result.Output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("project-alpha/nope", "no pod or workload 'project-alpha/nope'")]
    [InlineData("a/b/c", "is not 'namespace/name'")]
    [InlineData("node:missing", "no address is known for node 'missing'")]
    public void Eval_UnknownReference_ExitsTwo(string reference, string message)
    {
        var result = CliRunner.Run("eval", Sample, "--from", reference, "--to", "project-alpha/jupyter", "--port", "80");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Output);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65536")]
    public void Eval_PortOutOfRange_ExitsTwo(string port) =>
        Assert.Equal(2, CliRunner.Run("eval", Sample, "--from", "project-alpha/jupyter", "--to", "project-alpha/postgres", "--port", port).ExitCode);

    [Fact]
    public void Eval_PingToTheProjectDatabase_DeniedByItsPortRule()
    {
        // The database's NetworkPolicy names ports, so it admits no ICMP.
        var result = CliRunner.Run("eval", Sample, "--from", "project-alpha/jupyter", "--to", "project-alpha/postgres", "--protocol", "ICMP");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("DENIED: project-alpha/jupyter", result.Output, StringComparison.Ordinal);
        Assert.Contains(" : ICMP 8", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--protocol", "ICMP", "--port", "8", "has no ports")]
    [InlineData("--protocol", "ICMPv6", "--icmp-type", "256", "not between 0 and 255")]
    [InlineData("--protocol", "TCP", "--icmp-type", "8", "takes --port")]
    [InlineData("--protocol", "UDP", "--dns-query", "pypi.org", "needs --port")]
    [InlineData("--protocol", "ICMP", "--dns-query", "pypi.org", "carries no HTTP request or DNS query")]
    public void Eval_PortOrTypeThatDoesNotFitTheProtocol_ExitsTwo(string option1, string value1, string option2, string value2, string message)
    {
        var result = CliRunner.Run("eval", Sample, "--from", "project-alpha/jupyter", "--to", "project-alpha/postgres", option1, value1, option2, value2);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "/repository/pypi/simple/numpy/", 0, "CiliumNetworkPolicy project-alpha/workspace-mirror-read-only spec.egress[0].toPorts[0].rules.http[0] allows the request")]
    [InlineData("HEAD", "/repository/cran/src/contrib/PACKAGES", 0, "rules.http[0] allows the request")]
    [InlineData("POST", "/repository/pypi/upload", 1, "no HTTP rule of CiliumNetworkPolicy project-alpha/workspace-mirror-read-only spec.egress[0].toPorts[0] matches HTTP POST /repository/pypi/upload (the proxy answers 403)")]
    [InlineData("GET", "/service/rest/v1/security/users", 1, "no HTTP rule of")]
    public void Eval_HttpRequestToMirror_DecidedByTheHttpRules(string method, string path, int exitCode, string reason)
    {
        var result = CliRunner.Run("eval", Sample, "--from", "project-alpha/jupyter", "--to", "package-mirror/nexus", "--port", "8081", "--http-method", method, "--http-path", path, "--http-header", "User-Agent=pip/24");

        Assert.True(result.ExitCode == exitCode, result.ToString());
        Assert.Contains(reason, result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fqdn:pypi.org:151.101.0.223", 0)]
    [InlineData("fqdn:evil.example:203.0.113.9", 1)]
    public void Eval_MirrorToOutsideHostByName_DecidedByToFqdns(string destination, int exitCode)
    {
        var result = CliRunner.Run("eval", Sample, "--from", "package-mirror/nexus", "--to", destination, "--port", "443");

        Assert.True(result.ExitCode == exitCode, result.ToString());
        if (exitCode == 0)
        {
            Assert.Contains("CiliumNetworkPolicy package-mirror/mirror-upstreams spec.egress[1].toFQDNs", result.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Eval_SshOutOfAProject_DeniedByTheClusterwideDenyRule()
    {
        var result = CliRunner.Run("eval", Sample, "--from", "project-alpha/jupyter", "--to", "203.0.113.9", "--port", "22");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("denied by the namespace tier: CiliumClusterwideNetworkPolicy tre-no-ssh-from-projects spec.egressDeny[0] (deny rules win over every allow)", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--http-header", "User-Agent")]
    [InlineData("--http-header", "=x")]
    public void Eval_MalformedHeader_ExitsTwo(string option, string value)
    {
        var result = CliRunner.Run("eval", Sample, "--from", "project-alpha/jupyter", "--to", "package-mirror/nexus", "--port", "8081", option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("is not NAME=VALUE", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_HttpAndDnsTogether_ExitsTwo()
    {
        var result = CliRunner.Run("eval", Sample, "--from", "project-alpha/jupyter", "--to", "package-mirror/nexus", "--port", "8081", "--http-method", "GET", "--dns-query", "pypi.org");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("not both", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_OutsideAddressToGateway_IsAllowedWithoutCheckingTheOutsideEnd()
    {
        var result = CliRunner.Run("eval", Sample, "--from", "198.51.100.7", "--to", "ingress-nginx/ingress-nginx-controller", "--port", "443");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("egress from 198.51.100.7: not checked (outside the cluster)", result.Output, StringComparison.Ordinal);
        Assert.Contains("NetworkPolicy ingress-nginx/gateway spec.ingress[0].from[0]", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Analyze_BadManifest_ExitsTwoWithFileLineAndColumn()
    {
        var file = Write("bad.yaml", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/40}}]\n");

        var result = CliRunner.Run("analyze", file);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{file}:6:29: error PAL0011: NetworkPolicy default/p spec.ingress[0].from[0].ipBlock.cidr:", result.Error, StringComparison.Ordinal);
        Assert.Contains("1 error in the input", result.Error, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Output);
    }

    [Fact]
    public void Analyze_OutputFile_HoldsTheReport()
    {
        var target = Path.Combine(_folder, "report.json");

        var result = CliRunner.Run("analyze", Sample, "--format", "json", "-o", target);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(string.Empty, result.Output);
        var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(target));
        Assert.Contains(report.RootElement.EnumerateArray(), e =>
            e.GetProperty("src").GetString() == "project-alpha/jupyter[Deployment]" && e.GetProperty("conn").GetString() == "TCP 5432");
    }

    [Fact]
    public void Analyze_WorkloadWithPodsThatPoliciesTellApart_ExitsTwo()
    {
        var file = Write("gap.yaml", """
            apiVersion: v1
            kind: Pod
            metadata:
              name: web-1
              labels: {app: web, canary: "true"}
              ownerReferences: [{kind: ReplicaSet, name: web-5f8, controller: true}]
            ---
            apiVersion: v1
            kind: Pod
            metadata:
              name: web-2
              labels: {app: web}
              ownerReferences: [{kind: ReplicaSet, name: web-5f8, controller: true}]
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: canary}
            spec:
              podSelector: {matchLabels: {canary: "true"}}
            """);

        var result = CliRunner.Run("analyze", file);
        var pods = CliRunner.Run("eval", file, "--from", "default/web-2", "--to", "default/web-1", "--port", "80");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error PAL0030: default/web-5f8[ReplicaSet]: pods of workload default/web-5f8[ReplicaSet] (web-1, web-2) differ in label 'canary'", result.Error, StringComparison.Ordinal);
        Assert.Equal(1, pods.ExitCode);
    }

    [Fact]
    public void Test_FailingCheck_PrintsExpectedActualAndExplanation()
    {
        var file = Write("expectations.case.yaml", $$"""
            name: wrong-expectations
            resources: [{{Sample}}]
            expect:
              - probe: {from: project-alpha/jupyter, to: project-beta/postgres, protocol: TCP, port: 5432, verdict: allow}
              - probe: {from: project-alpha/jupyter, to: project-alpha/postgres, protocol: TCP, port: 5432, verdict: allow}
            """);
        var junit = Path.Combine(_folder, "junit.xml");

        var result = CliRunner.Run("test", file, "--junit", junit);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"FAIL {file}:4:12 wrong-expectations [expect]: project-alpha/jupyter => project-beta/postgres TCP 5432: expected allow, got deny", result.Output, StringComparison.Ordinal);
        Assert.Contains("denied by the admin tier: AdminNetworkPolicy tre-isolate-project-beta (priority 11)", result.Output, StringComparison.Ordinal);
        Assert.EndsWith("1 passed, 1 failed\n", result.Output, StringComparison.Ordinal);
        var suites = XDocument.Load(junit).Root!;
        Assert.Equal("1", suites.Attribute("failures")!.Value);
        Assert.Single(suites.Descendants("failure"));
    }

    [Fact]
    public void Test_InvalidCaseFile_ExitsTwoWithPosition()
    {
        var file = Write("broken.case.yaml", """
            name: broken
            manifests: |
              apiVersion: v1
              kind: Pod
              metadata: {name: a, labels: {app: "bad value"}}
            expect:
              - probe: {from: default/a, to: default/a, protocol: TCP, port: 80, verdict: maybe}
              - probe: {from: default/a, to: default/a, protocol: ICMP, port: 300, verdict: deny}
              - matrix:
                  protocol: TCP
                  port: 80
                  grid: |
                    from\to  default/a
                    default/a  -  .
            """);

        var result = CliRunner.Run("test", file);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{file}:5:", result.Error, StringComparison.Ordinal);
        Assert.Contains("error PAL0009", result.Error, StringComparison.Ordinal);
        Assert.Contains($"{file}:7:", result.Error, StringComparison.Ordinal);
        Assert.Contains("'maybe' is not a verdict", result.Error, StringComparison.Ordinal);
        Assert.Contains($"{file}:8:", result.Error, StringComparison.Ordinal);
        Assert.Contains("ICMP type 300 is not between 0 and 255", result.Error, StringComparison.Ordinal);
        Assert.Contains($"{file}:14:", result.Error, StringComparison.Ordinal);
        Assert.Contains("row 'default/a' has 2 cells but the header names 1 destinations", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Test_StepsThatChangeTheCluster_AreAppliedInOrder()
    {
        var file = Write("steps.case.yaml", """
            name: steps
            manifests: |
              apiVersion: v1
              kind: Pod
              metadata: {name: client, labels: {app: client}}
              ---
              apiVersion: v1
              kind: Pod
              metadata: {name: server, labels: {app: server}}
              ---
              apiVersion: networking.k8s.io/v1
              kind: NetworkPolicy
              metadata: {name: server}
              spec:
                podSelector: {matchLabels: {app: server}}
                ingress: [{from: [{podSelector: {matchLabels: {role: trusted}}}]}]
            steps:
              - name: isolated
                expect: [{probe: {from: default/client, to: default/server, protocol: TCP, port: 80, verdict: deny}}]
              - name: trusted
                setLabels: {Pod/default/client: {role: trusted}}
                expect: [{probe: {from: default/client, to: default/server, protocol: TCP, port: 80, verdict: allow}}]
              - name: deleted
                setLabels: {Pod/default/client: {role: null}}
                delete: [NetworkPolicy/default/server]
                expect: [{probe: {from: default/client, to: default/server, protocol: TCP, port: 80, verdict: allow}}]
              - name: replaced
                apply: |
                  apiVersion: networking.k8s.io/v1
                  kind: NetworkPolicy
                  metadata: {name: server}
                  spec:
                    podSelector: {}
                expect: [{probe: {from: default/client, to: default/server, protocol: TCP, port: 80, verdict: deny}}]
            """);

        RunPassingCases(file, 4);
    }

    [Fact]
    public void Test_CidrGroupsTheWorkspaceMayReach_FollowTheGroupsAsTheyChange()
    {
        var file = Write("approved.case.yaml", """
            name: approved-destinations
            manifests: |
              apiVersion: v1
              kind: Pod
              metadata: {name: jupyter, namespace: project-alpha, labels: {app: jupyter}}
              ---
              apiVersion: cilium.io/v2alpha1
              kind: CiliumCIDRGroup
              metadata: {name: census-office}
              spec: {externalCIDRs: [192.0.2.0/24]}
              ---
              apiVersion: cilium.io/v2
              kind: CiliumNetworkPolicy
              metadata: {name: approved-egress, namespace: project-alpha}
              spec:
                endpointSelector: {}
                egress:
                - toCIDRSet: [{cidrGroupRef: census-office, except: [192.0.2.128/25]}, {cidrGroupSelector: {matchLabels: {tre.k8tre.io/approved: "true"}}}]
                  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
            steps:
              - name: by name
                expect:
                  - probe: {from: project-alpha/jupyter, to: 192.0.2.10, protocol: TCP, port: 443, verdict: allow}
                  - probe: {from: project-alpha/jupyter, to: 192.0.2.200, protocol: TCP, port: 443, verdict: deny}
                  - probe: {from: project-alpha/jupyter, to: 198.51.100.9, protocol: TCP, port: 443, verdict: deny}
              - name: by label
                apply: |
                  apiVersion: cilium.io/v2
                  kind: CiliumCIDRGroup
                  metadata: {name: genomics-archive, labels: {tre.k8tre.io/approved: "true"}}
                  spec: {externalCIDRs: [198.51.100.0/24]}
                expect:
                  - probe: {from: project-alpha/jupyter, to: 198.51.100.9, protocol: TCP, port: 443, verdict: allow}
              - name: withdrawn
                delete: [CiliumCIDRGroup/census-office]
                expect:
                  - probe: {from: project-alpha/jupyter, to: 192.0.2.10, protocol: TCP, port: 443, verdict: deny}
                  - probe: {from: project-alpha/jupyter, to: 198.51.100.9, protocol: TCP, port: 443, verdict: allow}
            """);

        RunPassingCases(file, 6);
    }

    [Fact]
    public void Eval_ToACidrGroupsAddress_NamesTheGroupThatAllowsIt()
    {
        var file = Write("approved.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: jupyter, namespace: project-alpha}
            ---
            apiVersion: cilium.io/v2alpha1
            kind: CiliumCIDRGroup
            metadata: {name: census-office}
            spec: {externalCIDRs: [192.0.2.0/24]}
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: approved-egress, namespace: project-alpha}
            spec:
              endpointSelector: {}
              egress:
              - toCIDRSet: [{cidr: 203.0.113.0/24}, {cidrGroupRef: census-office}, {cidrGroupRef: withdrawn}]
            """);

        var allowed = CliRunner.Run("eval", file, "--from", "project-alpha/jupyter", "--to", "192.0.2.10", "--port", "443");
        var own = CliRunner.Run("eval", file, "--from", "project-alpha/jupyter", "--to", "203.0.113.5", "--port", "443", "--explain");

        Assert.Equal(0, allowed.ExitCode);
        Assert.Contains("CiliumNetworkPolicy project-alpha/approved-egress spec.egress[0].toCIDRSet[1] (CiliumCIDRGroup census-office)", allowed.Output, StringComparison.Ordinal);
        Assert.Equal(0, own.ExitCode);
        Assert.Contains("spec.egress[0].toCIDR", own.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Test_ToServicesNamingAServiceWithoutSelector_AdmitsItsEndpointAddresses()
    {
        var file = Write("external-db.case.yaml", """
            name: external-database
            manifests: |
              apiVersion: v1
              kind: Pod
              metadata: {name: jupyter, namespace: project-alpha, labels: {app: jupyter}}
              ---
              apiVersion: v1
              kind: Service
              metadata: {name: registry-db, namespace: project-alpha}
              spec: {ports: [{port: 5432}]}
              ---
              apiVersion: discovery.k8s.io/v1
              kind: EndpointSlice
              metadata: {name: registry-db-1, namespace: project-alpha, labels: {kubernetes.io/service-name: registry-db}}
              addressType: IPv4
              endpoints: [{addresses: [10.20.0.5]}, {addresses: [10.20.0.6], conditions: {ready: false}}, {addresses: [10.20.0.7], conditions: {ready: false, serving: true}}]
              ports: [{port: 5432}]
              ---
              apiVersion: discovery.k8s.io/v1
              kind: EndpointSlice
              metadata: {name: registry-db-names, namespace: project-alpha, labels: {kubernetes.io/service-name: registry-db}}
              addressType: FQDN
              endpoints: [{addresses: [db.example.org]}]
              ---
              apiVersion: v1
              kind: Service
              metadata: {name: archive, namespace: project-alpha}
              spec: {selector: {}, ports: [{port: 443}]}
              ---
              apiVersion: v1
              kind: Endpoints
              metadata: {name: archive, namespace: project-alpha}
              subsets: [{addresses: [{ip: 10.30.0.7}], notReadyAddresses: [{ip: 10.30.0.8}], ports: [{port: 443}]}]
              ---
              apiVersion: cilium.io/v2
              kind: CiliumNetworkPolicy
              metadata: {name: registry-db, namespace: project-alpha}
              spec:
                endpointSelector: {matchLabels: {app: jupyter}}
                egress:
                - toServices: [{k8sService: {serviceName: registry-db, namespace: project-alpha}}]
                  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
                - toServices: [{k8sService: {serviceName: archive, namespace: project-alpha}}]
                  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
            expect:
              - probe: {from: project-alpha/jupyter, to: 10.20.0.5, protocol: TCP, port: 5432, verdict: allow}
              - probe: {from: project-alpha/jupyter, to: 10.20.0.6, protocol: TCP, port: 5432, verdict: deny}
              - probe: {from: project-alpha/jupyter, to: 10.20.0.7, protocol: TCP, port: 5432, verdict: allow}
              - probe: {from: project-alpha/jupyter, to: 10.20.0.5, protocol: TCP, port: 22, verdict: deny}
              - probe: {from: project-alpha/jupyter, to: 10.30.0.7, protocol: TCP, port: 443, verdict: allow}
              - probe: {from: project-alpha/jupyter, to: 10.30.0.8, protocol: TCP, port: 443, verdict: deny}
            """);

        var result = RunPassingCases(file, 6);
        Assert.Contains("an EndpointSlice of names (FQDN) gives no addresses", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Analyze_AdminDenyOfEveryPort_ListsNoIcmpLine()
    {
        // What is left of the pair is ICMP, wholly: netpol-analyzer, which knows no ICMP, lists no line.
        var file = Write("deny-ports.yaml", """
            apiVersion: v1
            kind: Pod
            metadata: {name: client, namespace: default, labels: {app: client}}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: server, namespace: default, labels: {app: server}}
            ---
            apiVersion: policy.networking.k8s.io/v1alpha1
            kind: AdminNetworkPolicy
            metadata: {name: no-ports-to-server}
            spec:
              priority: 10
              subject: {pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: client}}}}
              egress:
              - name: every-port
                action: Deny
                to: [{pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: server}}}}]
                ports:
                - portRange: {protocol: TCP, start: 1, end: 65535}
                - portRange: {protocol: UDP, start: 1, end: 65535}
                - portRange: {protocol: SCTP, start: 1, end: 65535}
            """);

        var result = CliRunner.Run("analyze", file);
        var ping = CliRunner.Run("eval", file, "--from", "default/client", "--to", "default/server", "--protocol", "ICMP");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.DoesNotContain("default/client[Pod] => default/server[Pod]", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("ICMP", result.Output, StringComparison.Ordinal);
        Assert.Contains("default/server[Pod] => default/client[Pod] : All Connections", result.Output, StringComparison.Ordinal);
        Assert.Equal(0, ping.ExitCode);
    }

    [Fact]
    public void Test_IcmpProbeWithDnsQuery_ExitsTwo()
    {
        var file = Write("icmp-dns.case.yaml", """
            name: icmp-dns
            manifests: |
              apiVersion: v1
              kind: Pod
              metadata: {name: a}
            expect:
              - probe: {from: default/a, to: 192.0.2.1, protocol: ICMP, port: 8, dns: {query: pypi.org}, verdict: deny}
            """);

        var result = CliRunner.Run("test", file);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{file}:7:", result.Error, StringComparison.Ordinal);
        Assert.Contains("ICMP carries no HTTP request or DNS query", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Test_NodesByTheirLabels_AreCiliumPeers()
    {
        var file = Write("nodes.case.yaml", """
            name: nodes-by-labels
            manifests: |
              apiVersion: v1
              kind: Node
              metadata: {name: cp-1, labels: {node-role.kubernetes.io/control-plane: ""}}
              status: {addresses: [{type: InternalIP, address: 192.168.10.10}]}
              ---
              apiVersion: v1
              kind: Node
              metadata: {name: worker-1, labels: {pool: workers}}
              status: {addresses: [{type: InternalIP, address: 192.168.10.11}]}
              ---
              apiVersion: v1
              kind: Node
              metadata: {name: worker-2, labels: {pool: workers}}
              status: {addresses: [{type: InternalIP, address: 192.168.10.12}]}
              ---
              apiVersion: v1
              kind: Pod
              metadata: {name: gitops, namespace: argocd, labels: {app: gitops}}
              spec: {nodeName: worker-1}
              ---
              apiVersion: cilium.io/v2
              kind: CiliumNetworkPolicy
              metadata: {name: gitops, namespace: argocd}
              spec:
                endpointSelector: {}
                egress:
                - toNodes: [{matchLabels: {node-role.kubernetes.io/control-plane: ""}}]
                  toPorts: [{ports: [{port: "6443", protocol: TCP}]}]
                - toNodes: [{matchLabels: {"any:pool": workers}}]
                  toPorts: [{ports: [{port: "10250", protocol: TCP}]}]
                ingress:
                - fromNodes: [{matchExpressions: [{key: node-role.kubernetes.io/control-plane, operator: Exists}]}]
            expect:
              - probe: {from: argocd/gitops, to: "node:cp-1", protocol: TCP, port: 6443, verdict: allow}
              - probe: {from: argocd/gitops, to: "node:cp-1", protocol: TCP, port: 22, verdict: deny}
              - probe: {from: argocd/gitops, to: "node:worker-1", protocol: TCP, port: 6443, verdict: deny}
              - probe: {from: "node:cp-1", to: argocd/gitops, protocol: TCP, port: 8080, verdict: allow}
              - probe: {from: "node:worker-2", to: argocd/gitops, protocol: TCP, port: 8080, verdict: deny}
              # The selected nodes are remote nodes: never the pod's own (Cilium's host entity).
              - probe: {from: argocd/gitops, to: "node:worker-2", protocol: TCP, port: 10250, verdict: allow}
              - probe: {from: argocd/gitops, to: "node:worker-1", protocol: TCP, port: 10250, verdict: deny}
            """);

        RunPassingCases(file, 7);
    }

    [Fact]
    public void Analyze_NodesByTheirLabels_ListsEachOtherNode()
    {
        // With nodes selected by labels, remote-node[Entity] cannot stand for them all where the nodes
        // answer differently: each other node has its own lines, and node addresses are no outside range.
        var file = Write("node-peers.yaml", """
            apiVersion: v1
            kind: Node
            metadata: {name: cp-1, labels: {node-role.kubernetes.io/control-plane: ""}}
            status: {addresses: [{type: InternalIP, address: 192.168.10.10}]}
            ---
            apiVersion: v1
            kind: Node
            metadata: {name: worker-1}
            status: {addresses: [{type: InternalIP, address: 192.168.10.11}]}
            ---
            apiVersion: v1
            kind: Node
            metadata: {name: worker-2}
            status: {addresses: [{type: InternalIP, address: 192.168.10.12}]}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: gitops, namespace: argocd}
            spec: {nodeName: worker-1}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: web, namespace: shop}
            spec: {nodeName: worker-1}
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: gitops, namespace: argocd}
            spec:
              endpointSelector: {}
              egress:
              - toNodes: [{matchLabels: {node-role.kubernetes.io/control-plane: ""}}]
                toPorts: [{ports: [{port: "6443", protocol: TCP}]}]
            """);

        var result = CliRunner.Run("analyze", file);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("argocd/gitops[Pod] => cp-1[Node] : TCP 6443", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("=> worker-2[Node]", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("argocd/gitops[Pod] => remote-node[Entity]", result.Output, StringComparison.Ordinal);

        // A workload every other node reaches alike still has one remote-node line.
        Assert.Contains("shop/web[Pod] => remote-node[Entity] : All Connections", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("shop/web[Pod] => cp-1[Node]", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("192.168.10.", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Test_RequirementsNarrowTheRulesEndpoints_AndAdmitNothingAlone()
    {
        var file = Write("requires.case.yaml", """
            name: requires
            manifests: |
              apiVersion: v1
              kind: Pod
              metadata: {name: app, namespace: shop, labels: {app: web}}
              ---
              apiVersion: v1
              kind: Pod
              metadata: {name: db-prod, namespace: shop, labels: {app: db, env: prod}}
              ---
              apiVersion: v1
              kind: Pod
              metadata: {name: db-dev, namespace: shop, labels: {app: db, env: dev}}
              ---
              apiVersion: cilium.io/v2
              kind: CiliumNetworkPolicy
              metadata: {name: web, namespace: shop}
              spec:
                endpointSelector: {matchLabels: {app: web}}
                egress:
                - toEndpoints: [{matchLabels: {app: db}}]
                  toRequires: [{matchLabels: {env: prod}}]
                  toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
                - toRequires: [{matchLabels: {env: prod}}]
                  toPorts: [{ports: [{port: "6379", protocol: TCP}]}]
                - toRequires: []
                  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
            expect:
              - probe: {from: shop/app, to: shop/db-prod, protocol: TCP, port: 5432, verdict: allow}
              - probe: {from: shop/app, to: shop/db-dev, protocol: TCP, port: 5432, verdict: deny}
              - probe: {from: shop/app, to: shop/db-prod, protocol: TCP, port: 6379, verdict: deny}
              - probe: {from: shop/app, to: 8.8.8.8, protocol: TCP, port: 6379, verdict: deny}
              # An empty list is no requirement: the rule has ports and no peer field, so it is for every peer.
              - probe: {from: shop/app, to: 8.8.8.8, protocol: TCP, port: 8080, verdict: allow}
            """);

        var result = RunPassingCases(file, 5);
        Assert.Contains("Cilium up to 1.18 applies it to every rule that selects the endpoint", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Test_ToGroupsWithPorts_MatchesNoPeerRatherThanEvery()
    {
        // Palisade cannot know a cloud provider's group addresses: the rule is warned about and admits
        // nothing, where dropping the field would have left a rule for every peer on port 443.
        var file = Write("groups.case.yaml", """
            name: groups
            manifests: |
              apiVersion: v1
              kind: Pod
              metadata: {name: jupyter, namespace: project-alpha}
              ---
              apiVersion: cilium.io/v2
              kind: CiliumNetworkPolicy
              metadata: {name: cloud, namespace: project-alpha}
              spec:
                endpointSelector: {}
                egress:
                - toGroups: [{aws: {securityGroupsIds: [sg-0123]}}]
                  toPorts: [{ports: [{port: "443", protocol: TCP}]}]
            expect:
              - probe: {from: project-alpha/jupyter, to: 8.8.8.8, protocol: TCP, port: 443, verdict: deny}
            """);

        var result = RunPassingCases(file, 1);

        Assert.Contains("warning PAL0062", result.Error, StringComparison.Ordinal);
        Assert.Contains("toGroups", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Synth_WritesAClusterThatAnalyzes()
    {
        var target = Path.Combine(_folder, "synth");

        var written = CliRunner.Run("synth", "--namespaces", "5", "--pods", "120", "--policies", "30", "--seed", "4", "-o", target);
        var analyzed = CliRunner.Run("analyze", target);
        var again = CliRunner.Run("synth", "--namespaces", "5", "--pods", "120", "--policies", "30", "--seed", "4", "-o", target + "-again");

        Assert.Equal(0, written.ExitCode);
        Assert.Contains("121 pods, 30 network policies", written.Output, StringComparison.Ordinal);
        Assert.True(analyzed.ExitCode == 0, analyzed.ToString());
        Assert.NotEqual(string.Empty, analyzed.Output);
        foreach (var file in Directory.GetFiles(target))
        {
            Assert.Equal(File.ReadAllText(file), File.ReadAllText(Path.Combine(target + "-again", Path.GetFileName(file))));
        }
    }

    [Fact]
    public void Synth_MixedDialects_WritesEveryDialectAndAnalyzesWithNamesAndLayer7()
    {
        var target = Path.Combine(_folder, "synth-mixed");

        var written = CliRunner.Run("synth", "--namespaces", "10", "--pods", "400", "--policies", "120", "--seed", "5", "--mixed-dialects", "-o", target);
        var analyzed = CliRunner.Run("analyze", target);

        Assert.Equal(0, written.ExitCode);
        Assert.Contains("4 cluster-wide policies, 60 Cilium policies", written.Output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(target, "_cluster.yaml")));
        Assert.True(analyzed.ExitCode == 0, analyzed.ToString());
        Assert.Contains("[DNS] : TCP 443", analyzed.Output, StringComparison.Ordinal);
        Assert.Contains("[L7: HTTP on TCP 8080]", analyzed.Output, StringComparison.Ordinal);
    }
}
