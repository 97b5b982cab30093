using Palisade.Diagnostics;
using Palisade.Manifests;
using Palisade.Model;
using Palisade.Sets;

namespace Palisade.Tests;

public sealed class CiliumPolicyDecoderTests
{
    private static ManifestLoadResult LoadText(string yaml) => ManifestLoader.LoadText(yaml.ReplaceLineEndings("\n"), "cilium.yaml");

    private const string Valid = """
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: workspace, namespace: project-alpha}
        spec:
          endpointSelector: {matchLabels: {app: jupyter}}
          enableDefaultDeny: {egress: true}
          egress:
          - toEndpoints:
            - matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}
            toPorts:
            - ports: [{port: "53", protocol: UDP}]
              rules:
                dns: [{matchPattern: "*.pypi.org"}, {matchName: pypi.org}]
          - toFQDNs: [{matchName: pypi.org}, {matchPattern: "*.pypi.org"}]
            toPorts:
            - ports: [{port: "443", protocol: TCP}]
          - toEntities: [kube-apiserver]
          - toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.96.0.0/12]}]
            toPorts:
            - ports: [{port: "8000", endPort: 8100, protocol: ANY}]
          - toEndpoints: [{matchLabels: {app: nexus, io.kubernetes.pod.namespace: package-mirror}}]
            toPorts:
            - ports: [{port: "8081", protocol: TCP}]
              rules:
                http:
                - {method: "GET|HEAD", path: "/repository/.*", host: "nexus(\\.package-mirror)?", headers: ["X-Project: alpha"]}
                - method: POST
                  path: /api/v1/jobs
                  headerMatches: [{name: X-Project, value: alpha}]
          egressDeny:
          - toCIDR: [169.254.169.254/32]
          ingress:
          - fromEntities: [remote-node]
          - fromEndpoints: [{}]
            icmps: [{fields: [{type: 8, family: IPv4}]}]
        """;

    [Fact]
    public void Load_ValidPolicy_ReadsEveryField()
    {
        var result = LoadText(Valid);

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        Assert.DoesNotContain(result.Diagnostics, static d => d.Code == DiagnosticCodes.CiliumRejected);
        var policy = Assert.Single(result.Cluster.CiliumPolicies);
        Assert.Equal("project-alpha", policy.Namespace);
        var block = Assert.Single(policy.Blocks);
        Assert.True(block.DefaultDenyEgress);
        Assert.Null(block.DefaultDenyIngress);
        var egress = block.Egress!;
        Assert.Equal(5, egress.Count);
        Assert.Equal(["*.pypi.org", "pypi.org"], egress[0].ToPorts![0].Dns!.Select(static d => d.Text));
        Assert.Equal(["pypi.org", "*.pypi.org"], egress[1].Fqdns!.Select(static d => d.Text));
        Assert.Equal([CiliumEntity.KubeApiServer], egress[2].Entities!);
        Assert.True(egress[3].Cidrs!.Contains(IpNumbers.V4Base + 0x0A000001u));
        Assert.False(egress[3].Cidrs!.Contains(IpNumbers.V4Base + 0x0A600001u));
        var range = egress[3].ToPorts![0].Ports[0];
        Assert.Equal((8000, 8100), (range.Port, range.EndPort));
        Assert.Equal([Protocol.Tcp, Protocol.Udp, Protocol.Sctp], range.Protocols);
        var http = egress[4].ToPorts![0].Http!;
        Assert.Equal(2, http.Count);
        Assert.Matches(http[0].Method!, "HEAD");
        Assert.DoesNotMatch(http[0].Method!, "GETX");
        Assert.Matches(http[0].Host!, "nexus.package-mirror");
        Assert.Equal([("X-Project", (string?)"alpha")], http[0].Headers);
        Assert.Equal([("X-Project", (string?)"alpha")], http[1].Headers);
        Assert.Single(block.EgressDeny!);
        Assert.Equal([CiliumEntity.RemoteNode], block.Ingress![0].Entities!);
        Assert.Equal([(Protocol.Icmp, (int?)8)], block.Ingress[1].Icmps!.Select(static i => (i.Protocols.Single(), i.Port)));
    }

    /// <summary>Policies the Cilium agent refuses: Palisade warns (the API server stores them) and leaves the policy out, as the agent does.</summary>
    [Theory]
    [InlineData("  - toEntities: [kube-apiserver]", "  - {toEntities: [kube-apiserver], toCIDR: [10.0.0.0/8]}", "spec.egress[2]", "combines toEntities and toCIDR")]
    [InlineData("  - toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.96.0.0/12]}]", "  - toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.96.0.0/12]}]\n    toCIDR: [192.168.0.0/16]", "spec.egress[3]", "combines toCIDR and toCIDRSet")]
    [InlineData("except: [10.96.0.0/12]", "except: [192.168.0.0/16]", "spec.egress[3].toCIDRSet[0].except[0]", "is not inside 10.0.0.0/8")]
    [InlineData("- ports: [{port: \"443\", protocol: TCP}]", "- ports: [{protocol: TCP}]", "spec.egress[1].toPorts[0].ports[0].port", "port must be specified")]
    [InlineData("        http:\n", "        dns: [{matchName: nexus.example}]\n        http:\n", "spec.egress[4].toPorts[0].rules", "mixes layer-7 protocols")]
    [InlineData("spec:\n  endpointSelector: {matchLabels: {app: jupyter}}", "spec:\n  nodeSelector: {}", "spec.nodeSelector", "cannot have nodeSelector")]
    [InlineData("    - ports: [{port: \"8081\", protocol: TCP}]", "    - ports: [{port: \"8081\", protocol: UDP}]", "spec.egress[4].toPorts[0].rules.http", "only to TCP ports")]
    [InlineData("  - toCIDR: [169.254.169.254/32]", "  - {toFQDNs: [{matchName: metadata.google.internal}]}", "spec.egressDeny[0].toFQDNs", "not allowed in a deny rule")]
    [InlineData("  - toCIDR: [169.254.169.254/32]", "  - {toEndpoints: [{}], toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{}]}}]}", "spec.egressDeny[0].toPorts[0].rules", "not allowed in a deny rule")]
    [InlineData("{matchPattern: \"*.pypi.org\"}]\n    toPorts", "{matchPattern: \"*.py$pi.org\"}]\n    toPorts", "spec.egress[1].toFQDNs[1].matchPattern", "not a valid DNS pattern")]
    [InlineData("path: \"/repository/.*\"", "path: \"/(a)\\\\1\"", "spec.egress[4].toPorts[0].rules.http[0].path", "linear time")]
    [InlineData("path: \"/repository/.*\"", "path: \"/repository/(\"", "spec.egress[4].toPorts[0].rules.http[0].path", "not a valid regular expression")]
    [InlineData("port: \"8000\", endPort: 8100", "port: \"8100\", endPort: 8000", "spec.egress[3].toPorts[0].ports[0].endPort", "endPort 8000")]
    [InlineData("  - fromEndpoints: [{}]\n    icmps:", "  - fromEndpoints: [{}]\n    toPorts: [{ports: [{port: \"80\"}]}]\n    icmps:", "spec.ingress[1].icmps", "without toPorts")]
    [InlineData("{type: 8, family: IPv4}", "{type: PacketTooBig, family: IPv4}", "spec.ingress[1].icmps[0].fields[0].type", "not an ICMP type (Cilium knows it for the other family)")]
    public void Load_PolicyTheAgentRefuses_WarnsAndLeavesItOut(string from, string to, string path, string message)
    {
        var yaml = Valid.Replace(from, to, StringComparison.Ordinal);
        Assert.NotEqual(Valid, yaml);

        var result = LoadText(yaml);

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        var warning = Assert.Single(result.Diagnostics, static d => d.Code == DiagnosticCodes.CiliumRejected);
        Assert.Equal(Severity.Warning, warning.Severity);
        Assert.Equal(path, warning.Path);
        Assert.Contains(message, warning.Message, StringComparison.Ordinal);
        Assert.Equal("CiliumNetworkPolicy project-alpha/workspace", warning.Subject);
        Assert.True(warning.Location.Line > 0 && warning.Location.Column > 0);
        Assert.Empty(result.Cluster.CiliumPolicies);
    }

    [Theory]
    [InlineData("{type: 8, family: IPv4}", "ICMP 8")]
    [InlineData("{type: EchoRequest}, {type: EchoRequest, family: IPv6}", "ICMP 8,ICMPv6 128")]
    [InlineData("{type: 0}, {type: PacketTooBig, family: IPv6}, {type: 255}", "ICMP 0,255,ICMPv6 2")]
    public void Load_IcmpFields_AdmitTheirTypesByFamily(string fields, string admitted)
    {
        var result = LoadText(Valid.Replace("{type: 8, family: IPv4}", fields, StringComparison.Ordinal));

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        var rule = Assert.Single(Assert.Single(result.Cluster.CiliumPolicies).Blocks).Ingress![1];
        Assert.Equal(admitted, rule.Icmps!.Aggregate(ConnectionSet.None, static (set, port) => set.Union(port.Resolve(null))).ToString());
    }

    [Fact]
    public void Load_EmptyToGroups_IsNoPeerField()
    {
        // Without entries there is nothing Palisade fails to evaluate: the rule is a rule for every peer on its ports.
        var result = LoadText(Valid.Replace("  - toEntities: [kube-apiserver]", "  - {toGroups: [], toPorts: [{ports: [{port: \"6443\", protocol: TCP}]}]}", StringComparison.Ordinal));

        Assert.DoesNotContain(result.Diagnostics, static d => d.Code == DiagnosticCodes.UnsupportedFeature);
        var rule = Assert.Single(Assert.Single(result.Cluster.CiliumPolicies).Blocks).Egress![2];
        Assert.False(rule.HasUnevaluatedPeers);
        Assert.True(rule.AnyPeer);
    }

    [Fact]
    public void Load_EmptyIcmps_IsNoIcmpRule()
    {
        // Cilium reads icmps: [] as no ICMP rule: the rule has neither ports nor types, so it admits everything from its peers.
        var result = LoadText(Valid.Replace("icmps: [{fields: [{type: 8, family: IPv4}]}]", "icmps: []", StringComparison.Ordinal));

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        var rule = Assert.Single(Assert.Single(result.Cluster.CiliumPolicies).Blocks).Ingress![1];
        Assert.Null(rule.Icmps);
        Assert.Null(rule.ToPorts);
    }

    [Fact]
    public void Load_EmptyPeerListBesideAnotherKind_IsAccepted()
    {
        var result = LoadText(Valid.Replace("  - toEntities: [kube-apiserver]", "  - {toEntities: [kube-apiserver], toEndpoints: []}", StringComparison.Ordinal));

        Assert.DoesNotContain(result.Diagnostics, static d => d.Code == DiagnosticCodes.CiliumRejected);
        Assert.Single(result.Cluster.CiliumPolicies);
    }

    /// <summary>Objects the API server refuses (the CRD's schema): errors, exit code 2 in every command.</summary>
    [Theory]
    [InlineData("toEntities: [kube-apiserver]", "toEntities: [kube-api-server]", DiagnosticCodes.InvalidEntity, "spec.egress[2].toEntities[0]")]
    [InlineData("protocol: ANY", "protocol: ICMP", DiagnosticCodes.InvalidProtocol, "spec.egress[3].toPorts[0].ports[0].protocol")]
    [InlineData("cidr: 10.0.0.0/8", "cidr: 10.0.0/8", DiagnosticCodes.InvalidCidr, "spec.egress[3].toCIDRSet[0].cidr")]
    [InlineData("port: \"443\"", "port: \"70000\"", DiagnosticCodes.InvalidPort, "spec.egress[1].toPorts[0].ports[0].port")]
    [InlineData("  endpointSelector: {matchLabels: {app: jupyter}}\n", "", DiagnosticCodes.MissingField, "spec.endpointSelector")]
    [InlineData("{type: 8, family: IPv4}", "{type: 8, family: IPv5}", DiagnosticCodes.InvalidProtocol, "spec.ingress[1].icmps[0].fields[0].family")]
    [InlineData("{type: 8, family: IPv4}", "{type: 256}", DiagnosticCodes.InvalidPort, "spec.ingress[1].icmps[0].fields[0].type")]
    [InlineData("{type: 8, family: IPv4}", "{type: PacketTooBeeg}", DiagnosticCodes.InvalidPort, "spec.ingress[1].icmps[0].fields[0].type")]
    [InlineData("{type: 8, family: IPv4}", "{type: \"08\"}", DiagnosticCodes.InvalidPort, "spec.ingress[1].icmps[0].fields[0].type")]
    [InlineData("{type: 8, family: IPv4}", "{family: IPv4}", DiagnosticCodes.MissingField, "spec.ingress[1].icmps[0].fields[0].type")]
    [InlineData("  - toEntities: [kube-apiserver]", "  - {toEntities: [kube-apiserver], toRequires: {matchLabels: {env: prod}}}", DiagnosticCodes.WrongType, "spec.egress[2].toRequires")]
    public void Load_PolicyTheApiServerRefuses_IsAnError(string from, string to, string code, string path)
    {
        var yaml = Valid.Replace(from, to, StringComparison.Ordinal);
        Assert.NotEqual(Valid, yaml);

        var result = LoadText(yaml);

        Assert.True(result.HasErrors);
        var error = Assert.Single(result.Diagnostics, static d => d.Severity == Severity.Error);
        Assert.Equal(code, error.Code);
        Assert.Equal(path, error.Path);
        Assert.Empty(result.Cluster.CiliumPolicies);
    }

    [Fact]
    public void Load_SourcePrefixedLabelKeys_AreReadInCiliumsLabelSpace()
    {
        var result = LoadText(Valid);

        // 'k8s:io.kubernetes.pod.namespace' and 'io.kubernetes.pod.namespace' are one key; the policy's
        // own namespace is added where a selector names none when the snapshot is compiled.
        var block = Assert.Single(Assert.Single(result.Cluster.CiliumPolicies).Blocks);
        var dns = Assert.Single(block.Egress![0].Endpoints!);
        Assert.True(dns.Matches(LabelSet.Of(("io.kubernetes.pod.namespace", "kube-system"), ("k8s-app", "kube-dns"))));
        Assert.False(dns.Matches(LabelSet.Of(("io.kubernetes.pod.namespace", "project-alpha"), ("k8s-app", "kube-dns"))));
    }

    [Fact]
    public void Load_ClusterwidePolicyWithSpecsAndNodeSelector_ReadsPodAndHostBlocks()
    {
        var result = LoadText("""
            apiVersion: cilium.io/v2
            kind: CiliumClusterwideNetworkPolicy
            metadata: {name: tre-baseline}
            specs:
            - endpointSelector: {}
              egressDeny:
              - toEntities: [world]
                toPorts: [{ports: [{port: "22", protocol: TCP}]}]
            - nodeSelector: {matchLabels: {node-role.kubernetes.io/control-plane: ""}}
              ingress:
              - fromEntities: [cluster]
                toPorts: [{ports: [{port: "6443", protocol: TCP}]}]
            """);

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        Assert.Empty(result.Diagnostics);
        var policy = Assert.Single(result.Cluster.CiliumPolicies);
        Assert.Equal(string.Empty, policy.Namespace);
        Assert.Equal(2, policy.Blocks.Count);
        Assert.Null(policy.Blocks[0].NodeSelector);
        Assert.Equal([CiliumEntity.World], Assert.Single(policy.Blocks[0].EgressDeny!).Entities!);
        Assert.True(policy.Blocks[1].NodeSelector!.Matches(LabelSet.Of(("node-role.kubernetes.io/control-plane", ""))));
    }

    [Theory]
    [InlineData("ingress:\n  - fromEntities: [cluster]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{method: GET}]}}]", "no layer-7 rules on ingress")]
    [InlineData("egress:\n  - toEntities: [world]\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{method: GET}]}}]", "only DNS rules")]
    public void Load_HostPolicyWithHttpRules_IsRefusedByTheAgent(string section, string message)
    {
        var result = LoadText($$"""
            apiVersion: cilium.io/v2
            kind: CiliumClusterwideNetworkPolicy
            metadata: {name: host}
            spec:
              nodeSelector: {}
              {{section.Replace("\n", "\n  ", StringComparison.Ordinal)}}
            """);

        var warning = Assert.Single(result.Diagnostics);
        Assert.Equal(DiagnosticCodes.CiliumRejected, warning.Code);
        Assert.Contains(message, warning.Message, StringComparison.Ordinal);
        Assert.Empty(result.Cluster.CiliumPolicies);
    }

    private const string ApprovedDestinations = """
        apiVersion: cilium.io/v2alpha1
        kind: CiliumCIDRGroup
        metadata: {name: approved-data-providers, labels: {tre.k8tre.io/approved: "true"}}
        spec:
          externalCIDRs: ["192.0.2.0/24", "198.51.100.7/32", "2001:db8::/64"]
        ---
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: egress-to-providers, namespace: project-alpha}
        spec:
          endpointSelector: {}
          egress:
          - toCIDRSet:
            - cidrGroupRef: approved-data-providers
            - cidrGroupSelector: {matchLabels: {"cidrgroup:tre.k8tre.io/approved": "true"}}
            - cidr: 203.0.113.0/24
        """;

    [Fact]
    public void Load_CidrGroupAndReferences_ReadsBoth()
    {
        var result = LoadText(ApprovedDestinations);

        Assert.False(result.HasErrors, string.Join("\n", result.Diagnostics));
        Assert.Empty(result.Diagnostics);
        var group = Assert.Single(result.Cluster.CidrGroups);
        Assert.Equal("approved-data-providers", group.Name);
        Assert.Equal("192.0.2.0/24,198.51.100.7/32,2001:db8::/64", string.Join(",", group.Cidrs.ToPrefixes()));
        var rule = Assert.Single(Assert.Single(Assert.Single(result.Cluster.CiliumPolicies).Blocks).Egress!);
        Assert.Equal("203.0.113.0/24", string.Join(",", rule.Cidrs!.ToPrefixes()));
        Assert.Equal(2, rule.CidrGroups!.Count);
        Assert.All(rule.CidrGroups, r => Assert.True(r.Matches(group)));
        Assert.False(rule.CidrGroups[1].Matches(group with { Labels = LabelSet.Empty }));
    }

    [Theory]
    [InlineData("  externalCIDRs: [\"192.0.2.0/24\", \"198.51.100.7/32\", \"2001:db8::/64\"]", "  externalCIDRs: [\"192.0.2.0/33\"]", DiagnosticCodes.InvalidCidr, "spec.externalCIDRs[0]")]
    [InlineData("  externalCIDRs: [\"192.0.2.0/24\", \"198.51.100.7/32\", \"2001:db8::/64\"]", "  externalCIDRs: [\"198.51.100.7\"]", DiagnosticCodes.InvalidCidr, "spec.externalCIDRs[0]")]
    [InlineData("  externalCIDRs: [\"192.0.2.0/24\", \"198.51.100.7/32\", \"2001:db8::/64\"]", "  cidrs: []", DiagnosticCodes.MissingField, "spec.externalCIDRs")]
    [InlineData("    - cidrGroupRef: approved-data-providers", "    - cidrGroupRef: \"\"", DiagnosticCodes.InvalidName, "spec.egress[0].toCIDRSet[0].cidrGroupRef")]
    [InlineData("    - cidrGroupRef: approved-data-providers", "    - {cidrGroupRef: approved-data-providers, cidr: 10.0.0.0/8}", DiagnosticCodes.InvalidPeer, "spec.egress[0].toCIDRSet[0]")]
    public void Load_BadCidrGroupOrReference_IsAnError(string from, string to, string code, string path)
    {
        var yaml = ApprovedDestinations.Replace(from, to, StringComparison.Ordinal);
        Assert.NotEqual(ApprovedDestinations, yaml);

        var result = LoadText(yaml);

        Assert.True(result.HasErrors);
        var error = Assert.Single(result.Diagnostics, static d => d.Severity == Severity.Error);
        Assert.Equal(code, error.Code);
        Assert.Equal(path, error.Path);
        Assert.True(error.Location.Line > 0 && error.Location.Column > 0);
    }

    [Fact]
    public void Load_ExceptBesideACidrGroup_IsKeptWithTheReference()
    {
        // Cilium takes except out of a group's addresses as out of a cidr's.
        var result = LoadText(ApprovedDestinations.Replace("    - cidrGroupRef: approved-data-providers", "    - {cidrGroupRef: approved-data-providers, except: [192.0.2.0/28]}", StringComparison.Ordinal));

        Assert.Empty(result.Diagnostics);
        var rule = Assert.Single(Assert.Single(Assert.Single(result.Cluster.CiliumPolicies).Blocks).Egress!);
        Assert.Equal("192.0.2.0/28", string.Join(",", rule.CidrGroups![0].Except.ToPrefixes()));
        Assert.True(rule.CidrGroups[1].Except.IsEmpty);
    }
}
