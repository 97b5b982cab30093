using Palisade.Flows.Records;
using Palisade.Sets;

namespace Palisade.Flows.Synthesis;

/// <summary>What a synthetic flow stream looks like.</summary>
public sealed record FlowSynthesisOptions
{
    /// <summary>Namespaces (research projects and platform services).</summary>
    public int Namespaces { get; init; } = 50;

    /// <summary>Workloads per namespace.</summary>
    public int WorkloadsPerNamespace { get; init; } = 8;

    /// <summary>The first flow's time, in nanoseconds since the epoch.</summary>
    public long StartNanos { get; init; } = 1_795_824_000_000_000_000L; // 2026-11-28T00:00:00Z

    /// <summary>Flows per second of the stream's time: how densely flows fill time.</summary>
    public int FlowsPerSecond { get; init; } = 1_000;

    /// <summary>The random seed; the same options give the same flows.</summary>
    public int Seed { get; init; } = 1;
}

/// <summary>
/// Makes a realistic, deterministic stream of Hubble flows for benchmarks and scale tests: namespaces of
/// workloads with Cilium's labels, connections inside a namespace, to platform services and to outside
/// hosts by DNS name, with replies, DNS and HTTP records, policy drops and uuids as Cilium 1.19 writes them.
/// </summary>
public sealed class FlowSynthesizer
{
    private static readonly string[] PlatformNamespaces = ["kube-system", "package-mirror", "ingress-nginx"];
    private readonly FlowSynthesisOptions _options;
    private readonly Random _random;
    private readonly List<(FlowEndpoint Endpoint, UInt128 Ip, string Node)> _pods = [];
    private readonly FlowEndpoint _world = new() { Identity = 2, Labels = ["reserved:world"] };
    private readonly string[] _outsideNames = ["pypi.org", "cran.r-project.org", "github.com", "objects.githubusercontent.com", "conda.anaconda.org", "evil.example.com"];
    private long _time;

    /// <summary>Creates a synthesizer.</summary>
    public FlowSynthesizer(FlowSynthesisOptions? options = null)
    {
        _options = options ?? new FlowSynthesisOptions();
        _random = new Random(_options.Seed);
        _time = _options.StartNanos;
        string[] apps = ["jupyter", "rstudio", "postgres", "vscode", "desktop", "minio", "redis", "api", "worker", "scheduler"];
        var nextIp = 0;
        for (var n = 0; n < _options.Namespaces; n++)
        {
            var ns = n < 3 ? PlatformNamespaces[n] : $"project-{n:D3}";
            for (var w = 0; w < _options.WorkloadsPerNamespace; w++)
            {
                var app = apps[w % apps.Length] + (w >= apps.Length ? (w / apps.Length).ToString(System.Globalization.CultureInfo.InvariantCulture) : string.Empty);
                var stateful = app.StartsWith("postgres", StringComparison.Ordinal) || app.StartsWith("minio", StringComparison.Ordinal);
                var pod = stateful ? $"{app}-0" : $"{app}-{_random.Next(0x10000000, int.MaxValue):x8}-{Suffix()}";
                string[] labels =
                [
                    $"k8s:app={app}",
                    $"k8s:tre.k8tre.io/component={(w < 2 ? "workspace" : "service")}",
                    $"k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name={ns}",
                    "k8s:io.cilium.k8s.policy.cluster=tre",
                    $"k8s:io.cilium.k8s.policy.serviceaccount={app}",
                    $"k8s:io.kubernetes.pod.namespace={ns}",
                ];
                var endpoint = new FlowEndpoint
                {
                    EndpointId = 100 + _pods.Count,
                    Identity = 10_000 + _pods.Count,
                    Namespace = ns,
                    PodName = pod,
                    Labels = labels,
                    Workloads = [new FlowWorkload(stateful ? "StatefulSet" : "Deployment", app)],
                };
                nextIp++;
                _pods.Add((endpoint, IpNumbers.V4Base + (uint)((10u << 24) | (244u << 16) | (uint)nextIp), $"worker-{_pods.Count % 16}"));
            }
        }
    }

    private string Suffix()
    {
        Span<char> chars = stackalloc char[5];
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = alphabet[_random.Next(alphabet.Length)];
        }

        return new string(chars);
    }

    /// <summary>
    /// The cluster the flows run in, as Kubernetes manifests: its namespaces, a Deployment or
    /// StatefulSet per workload, and per namespace a default deny, traffic within the namespace, DNS to
    /// kube-system and the package mirror on 8081; so that attribution has real work to do.
    /// </summary>
    public string Manifests()
    {
        var text = new System.Text.StringBuilder();
        foreach (var group in _pods.GroupBy(static p => p.Endpoint.Namespace!))
        {
            text.Append("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ").Append(group.Key).Append("\n---\n");
            foreach (var (endpoint, _, _) in group)
            {
                var app = endpoint.Workloads[0].Name;
                text.Append("apiVersion: apps/v1\nkind: ").Append(endpoint.Workloads[0].Kind).Append("\nmetadata:\n  name: ").Append(app).Append("\n  namespace: ").Append(group.Key)
                    .Append("\nspec:\n  selector:\n    matchLabels: {app: ").Append(app).Append("}\n  template:\n    metadata:\n      labels: {app: ").Append(app)
                    .Append(", tre.k8tre.io/component: ").Append(endpoint.Labels[1]["k8s:tre.k8tre.io/component=".Length..])
                    .Append("}\n    spec:\n      containers:\n        - name: main\n          image: example/app:1\n---\n");
            }

            text.Append("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: ").Append(group.Key)
                .Append("}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n---\n");
            text.Append("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: same-namespace, namespace: ").Append(group.Key)
                .Append("}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n  ingress:\n    - from: [{podSelector: {}}]\n  egress:\n    - to: [{podSelector: {}}]\n")
                .Append("    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}}]\n      ports: [{port: 53, protocol: UDP}]\n")
                .Append("    - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: package-mirror}}}]\n      ports: [{port: 8081}]\n---\n");
        }

        return text.ToString();
    }

    /// <summary>The next <paramref name="count"/> flows, in time order.</summary>
    public FlowRecord[] Next(int count)
    {
        var flows = new FlowRecord[count];
        var step = 1_000_000_000L / _options.FlowsPerSecond;
        for (var i = 0; i < count; i++)
        {
            _time += step;
            flows[i] = One(_time);
        }

        return flows;
    }

    private FlowRecord One(long time)
    {
        var id = ((UInt128)(ulong)_random.NextInt64() << 64) | (ulong)_random.NextInt64();
        id = (id & ~((UInt128)0xF000 << 64)) | ((UInt128)0x4000 << 64);
        var sourceIndex = _random.Next(_pods.Count);
        var (source, sourceIp, node) = _pods[sourceIndex];
        var kind = _random.Next(100);
        FlowEndpoint destination;
        UInt128 destinationIp;
        string[] names = [];
        int port;
        var protocol = FlowProtocol.Tcp;
        HttpInfo? http = null;
        DnsInfo? dns = null;
        var l7 = L7Type.Unknown;
        if (kind < 10)
        {
            // DNS through cluster DNS.
            (destination, destinationIp, _) = _pods[0];
            port = 53;
            protocol = FlowProtocol.Udp;
            l7 = L7Type.Request;
            dns = new DnsInfo { Query = _outsideNames[_random.Next(_outsideNames.Length)] + ".", Qtypes = ["A"], ObservationSource = "proxy" };
        }
        else if (kind < 15)
        {
            (destination, destinationIp, _) = _pods[_options.WorkloadsPerNamespace + _random.Next(_options.WorkloadsPerNamespace)];
            port = 8081;
            l7 = L7Type.Request;
            http = new HttpInfo { Method = _random.Next(10) == 0 ? "PUT" : "GET", Url = "http://nexus.package-mirror:8081/repository/pypi/simple/numpy/", Protocol = "HTTP/1.1" };
        }
        else if (kind < 25)
        {
            destination = _world;
            var name = _random.Next(_outsideNames.Length);
            destinationIp = IpNumbers.V4Base + (uint)((151u << 24) | (101u << 16) | (uint)name);
            names = [_outsideNames[name]];
            port = 443;
        }
        else
        {
            // Mostly within the namespace.
            var ns = sourceIndex / _options.WorkloadsPerNamespace;
            var peer = _random.Next(10) < 8 ? (ns * _options.WorkloadsPerNamespace) + _random.Next(_options.WorkloadsPerNamespace) : _random.Next(_pods.Count);
            (destination, destinationIp, _) = _pods[peer];
            port = (int)(5432 + (peer % 4 * 1000));
        }

        var dropped = _random.Next(100) < 3;
        var reply = !dropped && l7 == L7Type.Unknown && _random.Next(3) == 0;
        var sourcePort = 32768 + _random.Next(28000);
        return new FlowRecord
        {
            TimeUnixNanos = time,
            Id = id,
            IdFromUuid = true,
            Verdict = dropped ? FlowVerdict.Dropped : l7 != L7Type.Unknown ? FlowVerdict.Forwarded : FlowVerdict.Forwarded,
            DropReason = dropped ? "POLICY_DENIED" : null,
            NodeName = node,
            IpVersion = 4,
            SourceIp = reply ? destinationIp : sourceIp,
            DestinationIp = reply ? sourceIp : destinationIp,
            Protocol = protocol,
            SourcePort = reply ? port : sourcePort,
            DestinationPort = reply ? sourcePort : port,
            TcpFlags = protocol == FlowProtocol.Tcp ? (reply ? TcpFlags.Syn | TcpFlags.Ack : TcpFlags.Syn) : TcpFlags.None,
            Source = reply ? destination : source,
            Destination = reply ? source : destination,
            DestinationNames = reply ? [] : names,
            SourceNames = reply ? names : [],
            Direction = FlowDirection.Egress,
            IsReply = reply,
            EventType = l7 != L7Type.Unknown ? 129 : dropped ? 1 : 4,
            EventSubType = dropped ? 133 : 0,
            Type = l7 != L7Type.Unknown ? FlowType.L7 : FlowType.L3L4,
            TraceObservationPoint = l7 == L7Type.Unknown && !dropped ? "TO_STACK" : null,
            L7Type = l7,
            Http = http,
            Dns = dns,
            Summary = http is not null ? $"HTTP/1.1 {http.Method} {http.Url}" : dns is not null ? $"DNS Query {dns.Query} A" : reply ? "TCP Flags: SYN, ACK" : "TCP Flags: SYN",
        };
    }
}
