using Palisade.Diagnostics;
using Palisade.Manifests;
using Palisade.Model;

namespace Palisade.Tests;

public sealed class AdminPolicyDecoderTests
{
    private static ManifestLoadResult LoadText(string yaml) => ManifestLoader.LoadText(yaml.ReplaceLineEndings("\n"), "admin.yaml");

    private const string Valid = """
        apiVersion: policy.networking.k8s.io/v1alpha1
        kind: AdminNetworkPolicy
        metadata: {name: guardrails}
        spec:
          priority: 10
          subject:
            namespaces: {matchLabels: {tre.k8tre.io/project: "true"}}
          egress:
          - name: deny-other-projects
            action: Deny
            to:
            - namespaces: {matchLabels: {tre.k8tre.io/project: "true"}}
            - networks: [10.0.0.0/8]
            ports:
            - portNumber: {protocol: UDP, port: 53}
            - portRange: {start: 8000, end: 8100}
            - namedPort: http
          ingress:
          - action: Pass
            from:
            - pods: {namespaceSelector: {}, podSelector: {matchLabels: {app: x}}}
        """;

    [Fact]
    public void Load_ValidAdminPolicy_ReadsEveryField()
    {
        var result = LoadText(Valid);

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        var policy = Assert.Single(result.Cluster.AdminNetworkPolicies);
        Assert.Equal(AdminTier.Admin, policy.Tier);
        Assert.Equal(10, policy.Priority);
        var rule = Assert.Single(policy.Egress);
        Assert.Equal("deny-other-projects", rule.Name);
        Assert.Equal(AdminAction.Deny, rule.Action);
        Assert.Equal(2, rule.Peers.Count);
        Assert.Equal(["10.0.0.0/8"], rule.Peers[1].Networks!);
        Assert.Equal(3, rule.Ports!.Count);
        Assert.Equal(8100, rule.Ports[1].EndPort);
        Assert.Equal("http", rule.Ports[2].PortName);
        Assert.Equal(AdminAction.Pass, Assert.Single(policy.Ingress).Action);
    }

    [Theory]
    [InlineData("priority: 10", "priority: 1001", DiagnosticCodes.InvalidPriority, "spec.priority")]
    [InlineData("action: Deny", "action: Drop", DiagnosticCodes.InvalidAction, "spec.egress[0].action")]
    [InlineData("    - networks: [10.0.0.0/8]", "    - networks: [10.0.0/8]", DiagnosticCodes.InvalidCidr, "spec.egress[0].to[1].networks[0]")]
    [InlineData("    - networks: [10.0.0.0/8]", "    - {networks: [10.0.0.0/8], namespaces: {}}", DiagnosticCodes.InvalidAdminPeer, "spec.egress[0].to[1]")]
    [InlineData("    - namedPort: http", "    - {namedPort: http, portNumber: {port: 80}}", DiagnosticCodes.InvalidAdminPort, "spec.egress[0].ports[2]")]
    [InlineData("    - portRange: {start: 8000, end: 8100}", "    - portRange: {start: 8100, end: 8000}", DiagnosticCodes.InvalidPortRange, "spec.egress[0].ports[1].portRange")]
    [InlineData("    namespaces: {matchLabels: {tre.k8tre.io/project: \"true\"}}", "    {}", DiagnosticCodes.InvalidSubject, "spec.subject")]
    public void Load_InvalidAdminPolicy_ReportsCodeAndPath(string from, string to, string code, string path)
    {
        var result = LoadText(Valid.Replace(from, to, StringComparison.Ordinal));

        Assert.True(result.HasErrors);
        var error = Assert.Single(result.Diagnostics, static d => d.Severity == Severity.Error);
        Assert.Equal(code, error.Code);
        Assert.Equal(path, error.Path);
        Assert.Equal("AdminNetworkPolicy guardrails", error.Subject);
        Assert.Empty(result.Cluster.AdminNetworkPolicies);
    }

    [Fact]
    public void Load_PassInBaseline_IsRefused()
    {
        var result = LoadText("""
            apiVersion: policy.networking.k8s.io/v1alpha1
            kind: BaselineAdminNetworkPolicy
            metadata: {name: default}
            spec:
              subject: {namespaces: {}}
              ingress:
              - {action: Pass, from: [{namespaces: {}}]}
            """);

        Assert.Equal(DiagnosticCodes.InvalidAction, Assert.Single(result.Diagnostics).Code);
    }

    [Fact]
    public void Load_TwoAdminPoliciesWithOnePriority_IsAnError()
    {
        var second = Valid.Replace("name: guardrails", "name: other", StringComparison.Ordinal);
        var result = LoadText(Valid + "\n---\n" + second);

        var error = Assert.Single(result.Diagnostics);
        Assert.Equal(DiagnosticCodes.SamePriority, error.Code);
        Assert.Contains("AdminNetworkPolicy guardrails and AdminNetworkPolicy other both have priority 10 in the admin tier", error.Message, StringComparison.Ordinal);
    }

    private const string ValidClusterPolicy = """
        apiVersion: policy.networking.k8s.io/v1alpha2
        kind: ClusterNetworkPolicy
        metadata: {name: package-mirrors}
        spec:
          tier: Admin
          priority: 20
          subject:
            pods:
              namespaceSelector: {matchLabels: {tre.k8tre.io/kind: project}}
              podSelector: {matchLabels: {app: jupyter}}
          egress:
          - name: mirrors
            action: Accept
            to:
            - domainNames: [pypi.org, "*.pythonhosted.org"]
            protocols:
            - tcp: {destinationPort: {number: 443}}
          - name: high-ports
            action: Deny
            to:
            - networks: [0.0.0.0/0]
            protocols:
            - udp: {destinationPort: {range: {start: 1024, end: 65535}}}
            - sctp: {destinationPort: {number: 9}}
          ingress:
          - action: Pass
            from:
            - namespaces: {}
            protocols:
            - destinationNamedPort: http
        """;

    [Fact]
    public void Load_ValidClusterNetworkPolicy_ReadsEveryField()
    {
        var result = LoadText(ValidClusterPolicy);

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        var policy = Assert.Single(result.Cluster.AdminNetworkPolicies);
        Assert.Equal(AdminTier.Admin, policy.Tier);
        Assert.Equal(20, policy.Priority);
        Assert.NotNull(policy.Subject.Pods);
        Assert.Equal(AdminAction.Allow, policy.Egress[0].Action);
        Assert.Equal(["pypi.org", "*.pythonhosted.org"], policy.Egress[0].Peers[0].DomainNames!.Select(static d => d.Text));
        Assert.Equal((Sets.Protocol.Tcp, 443), (policy.Egress[0].Ports![0].Protocol, policy.Egress[0].Ports![0].Port!.Value));
        var udp = policy.Egress[1].Ports![0];
        Assert.Equal((Sets.Protocol.Udp, 1024, 65535), (udp.Protocol, udp.Port!.Value, udp.EndPort!.Value));
        Assert.Equal(Sets.Protocol.Sctp, policy.Egress[1].Ports![1].Protocol);
        Assert.Equal("http", Assert.Single(policy.Ingress).Ports![0].PortName);
    }

    [Theory]
    [InlineData("tier: Admin", "tier: Platform", DiagnosticCodes.InvalidAction, "spec.tier")]
    [InlineData("priority: 20", "priority: -1", DiagnosticCodes.InvalidPriority, "spec.priority")]
    [InlineData("action: Accept", "action: Allow", DiagnosticCodes.InvalidAction, "spec.egress[0].action")]
    [InlineData("action: Accept", "action: Deny", DiagnosticCodes.InvalidAdminPeer, "spec.egress[0].action")]
    [InlineData("- tcp: {destinationPort: {number: 443}}", "- {tcp: {destinationPort: {number: 443}}, udp: {destinationPort: {number: 53}}}", DiagnosticCodes.InvalidAdminPort, "spec.egress[0].protocols[0]")]
    [InlineData("range: {start: 1024, end: 65535}", "range: {start: 1024, end: 1024}", DiagnosticCodes.InvalidPortRange, "spec.egress[1].protocols[0].udp.destinationPort.range")]
    [InlineData("- destinationNamedPort: http", "- destinationNamedPort: Not_A_Port", DiagnosticCodes.InvalidPort, "spec.ingress[0].protocols[0].destinationNamedPort")]
    public void Load_InvalidClusterNetworkPolicy_ReportsCodeAndPath(string from, string to, string code, string path)
    {
        var yaml = ValidClusterPolicy.Replace(from, to, StringComparison.Ordinal);
        Assert.NotEqual(ValidClusterPolicy, yaml);

        var result = LoadText(yaml);

        var error = Assert.Single(result.Diagnostics, static d => d.Severity == Severity.Error);
        Assert.Equal(code, error.Code);
        Assert.Equal(path, error.Path);
        Assert.Equal("ClusterNetworkPolicy package-mirrors", error.Subject);
        Assert.Empty(result.Cluster.AdminNetworkPolicies);
    }

    [Fact]
    public void Load_BaselineNotNamedDefault_IsAnError()
    {
        var result = LoadText("""
            apiVersion: policy.networking.k8s.io/v1alpha1
            kind: BaselineAdminNetworkPolicy
            metadata: {name: baseline}
            spec:
              subject: {namespaces: {}}
              egress:
              - {action: Deny, to: [{networks: [0.0.0.0/0]}]}
            """);

        var error = Assert.Single(result.Diagnostics);
        Assert.Equal(DiagnosticCodes.BaselineName, error.Code);
        Assert.Empty(result.Cluster.AdminNetworkPolicies);
    }
}
