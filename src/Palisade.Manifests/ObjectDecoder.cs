using Palisade.Diagnostics;
using Palisade.Manifests.Yaml;
using Palisade.Model;
using Palisade.Sets;

namespace Palisade.Manifests;

/// <summary>The objects read from some documents, in the order read, before they form a cluster.</summary>
internal sealed class ObjectCollection
{
    public List<NamespaceSpec> Namespaces { get; } = [];

    public List<PodSpec> Pods { get; } = [];

    public List<WorkloadSpec> Workloads { get; } = [];

    public List<NodeSpec> Nodes { get; } = [];

    public List<ServiceSpec> Services { get; } = [];

    public List<NetworkPolicySpec> NetworkPolicies { get; } = [];

    public List<AdminNetworkPolicySpec> AdminNetworkPolicies { get; } = [];

    public List<CiliumPolicySpec> CiliumPolicies { get; } = [];

    public List<EndpointSliceSpec> EndpointSlices { get; } = [];

    public List<CiliumCidrGroupSpec> CidrGroups { get; } = [];

    /// <summary>Where every object starts, by key, for duplicate checks.</summary>
    public List<(ObjectKey Key, SourceLocation Location)> Locations { get; } = [];

    /// <summary>How many objects of each kind there are now, to undo additions with <see cref="Rollback"/>.</summary>
    public (int, int, int, int, int, int, int, int, int, int, int) Mark() =>
        (Namespaces.Count, Pods.Count, Workloads.Count, Nodes.Count, Services.Count, NetworkPolicies.Count, Locations.Count, AdminNetworkPolicies.Count, CiliumPolicies.Count, EndpointSlices.Count, CidrGroups.Count);

    /// <summary>Removes what was added since <paramref name="mark"/>.</summary>
    public void Rollback((int, int, int, int, int, int, int, int, int, int, int) mark)
    {
        static void Trim<T>(List<T> list, int count) => list.RemoveRange(count, list.Count - count);
        Trim(Namespaces, mark.Item1);
        Trim(Pods, mark.Item2);
        Trim(Workloads, mark.Item3);
        Trim(Nodes, mark.Item4);
        Trim(Services, mark.Item5);
        Trim(NetworkPolicies, mark.Item6);
        Trim(Locations, mark.Item7);
        Trim(AdminNetworkPolicies, mark.Item8);
        Trim(CiliumPolicies, mark.Item9);
        Trim(EndpointSlices, mark.Item10);
        Trim(CidrGroups, mark.Item11);
    }

    public void AddRange(ObjectCollection other)
    {
        Namespaces.AddRange(other.Namespaces);
        Pods.AddRange(other.Pods);
        Workloads.AddRange(other.Workloads);
        Nodes.AddRange(other.Nodes);
        Services.AddRange(other.Services);
        NetworkPolicies.AddRange(other.NetworkPolicies);
        AdminNetworkPolicies.AddRange(other.AdminNetworkPolicies);
        CiliumPolicies.AddRange(other.CiliumPolicies);
        EndpointSlices.AddRange(other.EndpointSlices);
        CidrGroups.AddRange(other.CidrGroups);
        Locations.AddRange(other.Locations);
    }

    public ClusterSpec ToCluster() => new()
    {
        Namespaces = [.. Namespaces],
        Pods = [.. Pods],
        Workloads = [.. Workloads],
        Nodes = [.. Nodes],
        Services = [.. Services],
        NetworkPolicies = [.. NetworkPolicies],
        AdminNetworkPolicies = [.. AdminNetworkPolicies],
        CiliumPolicies = [.. CiliumPolicies],
        EndpointSlices = [.. EndpointSlices],
        CidrGroups = [.. CidrGroups],
    };
}

/// <summary>
/// Turns one Kubernetes object's node tree into the model, checking it as the API server would and
/// reporting every problem through <see cref="DiagnosticBag"/>.
/// </summary>
internal static class ObjectDecoder
{
    /// <summary>Kinds whose objects are lists of other objects.</summary>
    private static bool IsListKind(string kind) => kind == "List" || (kind.EndsWith("List", StringComparison.Ordinal) && kind.Length > 4);

    /// <summary>Decodes a document (an object or a list of objects) into <paramref name="into"/>.</summary>
    public static void Decode(ManifestNode document, DiagnosticBag diagnostics, ObjectCollection into, string? inheritedKind = null, ManifestNode? inheritedApiVersion = null)
    {
        if (document is not MappingNode map)
        {
            diagnostics.Warning(DiagnosticCodes.NotAnObject, document.Location, $"document is {document.Describe()}, not a Kubernetes object; skipped");
            return;
        }

        var kindNode = map["kind"] as ScalarNode;
        var kind = kindNode?.Value;
        if (string.IsNullOrEmpty(kind) && map["apiVersion"] is null && inheritedKind is not null)
        {
            // Items of a typed list (PodList, NamespaceList...) may leave out their kind, as the API server writes them.
            kind = inheritedKind;
            map = new MappingNode(map.Location, [.. map.Entries, new MappingEntry("kind", map.Location, new ScalarNode(map.Location, kind, true)), new MappingEntry("apiVersion", map.Location, inheritedApiVersion ?? new ScalarNode(map.Location, "v1", true))]);
        }

        if (string.IsNullOrEmpty(kind) || map["apiVersion"] is not ScalarNode { IsNull: false })
        {
            diagnostics.Warning(DiagnosticCodes.NotAnObject, map.Location, "document has no 'kind' and 'apiVersion', so it is not a Kubernetes object; skipped");
            return;
        }

        if (IsListKind(kind))
        {
            if (map["items"] is SequenceNode items)
            {
                var itemKind = kind == "List" ? null : kind[..^"List".Length];
                foreach (var item in items.Items)
                {
                    Decode(item, diagnostics, into, itemKind, map["apiVersion"]);
                }
            }
            else if (map["items"] is { } other && other is not ScalarNode { IsNull: true })
            {
                diagnostics.Error(DiagnosticCodes.WrongType, other.Location, $"'items' of a {kind} must be a list, found {other.Describe()}", kind, "items");
            }

            return;
        }

        var reader = new FieldReader(diagnostics, kind);
        var mark = into.Mark();
        switch (kind)
        {
            case "Namespace":
                DecodeNamespace(map, reader, into);
                break;
            case "Pod":
                DecodePod(map, reader, into);
                break;
            case "Node":
                DecodeNode(map, reader, into);
                break;
            case "Service":
                DecodeService(map, reader, into);
                break;
            case "NetworkPolicy":
                DecodeNetworkPolicy(map, reader, into);
                break;
            case "AdminNetworkPolicy" or "BaselineAdminNetworkPolicy" or "ClusterNetworkPolicy":
                AdminPolicyDecoder.Decode(kind, map, reader, into);
                break;
            case "CiliumNetworkPolicy" or "CiliumClusterwideNetworkPolicy":
                CiliumPolicyDecoder.Decode(kind, map, reader, into);
                break;
            case "EndpointSlice":
                DecodeEndpointSlice(map, reader, into);
                break;
            case "Endpoints":
                DecodeEndpoints(map, reader, into);
                break;
            case "CiliumCIDRGroup":
                CiliumPolicyDecoder.DecodeCidrGroup(map, reader, into);
                break;
            default:
                if (WorkloadSpec.Kinds.Contains(kind))
                {
                    DecodeWorkload(kind, map, reader, into);
                }
                else
                {
                    var metadata = map["metadata"] as MappingNode;
                    var name = (metadata?["name"] as ScalarNode)?.Value;
                    diagnostics.Warning(
                        DiagnosticCodes.IgnoredKind,
                        map.Location,
                        $"kind {kind} is not used in the analysis; skipped",
                        name is null ? kind : $"{kind} {name}");
                }

                break;
        }

        // An object with an error is left out entirely, so nothing half-read is ever analysed.
        if (reader.ErrorCount > 0)
        {
            into.Rollback(mark);
        }
    }

    /// <summary>Reads <c>metadata</c>: name (required), namespace (default <c>default</c> when namespaced), labels.</summary>
    internal static (string? Name, string Namespace, MappingNode? Metadata) Metadata(MappingNode map, FieldReader reader, string kind, bool namespaced)
    {
        var metadata = reader.Map(map, "metadata", "metadata", required: true);
        if (metadata is null)
        {
            return (null, "default", null);
        }

        var name = reader.Text(metadata, "name", "metadata.name", required: true);
        var ns = namespaced ? reader.Text(metadata, "namespace", "metadata.namespace") ?? "default" : string.Empty;
        if (namespaced && ns.Length == 0)
        {
            ns = "default";
        }

        reader.Subject = namespaced ? $"{kind} {ns}/{name}" : $"{kind} {name}";
        if (name is not null)
        {
            var problem = kind == "Namespace" ? KubernetesNames.CheckNamespaceName(name) : KubernetesNames.CheckObjectName(name);
            if (problem is not null)
            {
                reader.Warning(DiagnosticCodes.InvalidName, metadata["name"], "metadata.name", problem + "; the API server would refuse it");
            }
        }

        if (namespaced && KubernetesNames.CheckNamespaceName(ns) is { } nsProblem)
        {
            reader.Warning(DiagnosticCodes.InvalidName, metadata["namespace"], "metadata.namespace", nsProblem + "; the API server would refuse it");
        }

        return (name, ns, metadata);
    }

    private static void DecodeNamespace(MappingNode map, FieldReader reader, ObjectCollection into)
    {
        var (name, _, metadata) = Metadata(map, reader, "Namespace", namespaced: false);
        if (name is null || metadata is null)
        {
            return;
        }

        var labels = reader.Labels(metadata, "labels", "metadata.labels");
        into.Namespaces.Add(NamespaceSpec.Create(name, labels, declared: true, map.Location));
        into.Locations.Add((new ObjectKey("Namespace", string.Empty, name), map.Location));
    }

    private static List<ContainerPortSpec> ContainerPorts(MappingNode? podSpec, FieldReader reader, string path)
    {
        var ports = new List<ContainerPortSpec>();
        if (podSpec is null)
        {
            return ports;
        }

        foreach (var (containerNode, containerPath, _) in FieldReader.Items(reader.List(podSpec, "containers", $"{path}.containers"), $"{path}.containers"))
        {
            if (reader.ItemMap(containerNode, containerPath) is not { } container)
            {
                continue;
            }

            foreach (var (portNode, portPath, _) in FieldReader.Items(reader.List(container, "ports", $"{containerPath}.ports"), $"{containerPath}.ports"))
            {
                if (reader.ItemMap(portNode, portPath) is not { } port)
                {
                    continue;
                }

                var number = reader.Integer(port, "containerPort", $"{portPath}.containerPort");
                if (number is null)
                {
                    if (!port.Has("containerPort"))
                    {
                        reader.Warning(DiagnosticCodes.MissingField, port, $"{portPath}.containerPort", "'containerPort' is missing, so the port is ignored (field names are case-sensitive)");
                    }

                    continue;
                }

                if (number is < 1 or > 65535)
                {
                    reader.Error(DiagnosticCodes.InvalidPort, port["containerPort"], $"{portPath}.containerPort", $"container port {number} is not between 1 and 65535");
                    continue;
                }

                var protocol = ProtocolOf(port, reader, portPath);
                var name = reader.Text(port, "name", $"{portPath}.name");
                if (name is not null && KubernetesNames.CheckPortName(name) is { } problem)
                {
                    reader.Error(DiagnosticCodes.InvalidPort, port["name"], $"{portPath}.name", problem);
                    name = null;
                }

                ports.Add(new ContainerPortSpec(name, (int)number.Value, protocol ?? Protocol.Tcp));
            }
        }

        return ports;
    }

    private static Protocol? ProtocolOf(MappingNode map, FieldReader reader, string path)
    {
        var text = reader.Text(map, "protocol", $"{path}.protocol");
        if (text is null)
        {
            return null;
        }

        if (text is "TCP" or "UDP" or "SCTP" && Protocols.TryParse(text, out var protocol))
        {
            return protocol;
        }

        reader.Error(DiagnosticCodes.InvalidProtocol, map["protocol"], $"{path}.protocol", $"'{text}' is not a protocol; use TCP, UDP or SCTP");
        return null;
    }

    private static UInt128? Address(ManifestNode? node, FieldReader reader, string path)
    {
        if (node is not ScalarNode { IsNull: false } scalar || scalar.Value.Length == 0)
        {
            return null;
        }

        if (IpNumbers.TryParse(scalar.Value, out var address))
        {
            return address;
        }

        reader.Error(DiagnosticCodes.InvalidCidr, node, path, $"'{scalar.Value}' is not an IPv4 or IPv6 address");
        return null;
    }

    private static void DecodePod(MappingNode map, FieldReader reader, ObjectCollection into)
    {
        var (name, ns, metadata) = Metadata(map, reader, "Pod", namespaced: true);
        if (name is null || metadata is null)
        {
            return;
        }

        var labels = reader.Labels(metadata, "labels", "metadata.labels");
        var spec = reader.Map(map, "spec", "spec");
        var status = reader.Map(map, "status", "status");
        var addresses = new List<UInt128>();
        if (status is not null)
        {
            foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(status, "podIPs", "status.podIPs"), "status.podIPs"))
            {
                if (reader.ItemMap(item, itemPath) is { } entry && Address(entry["ip"], reader, $"{itemPath}.ip") is { } address && !addresses.Contains(address))
                {
                    addresses.Add(address);
                }
            }

            if (Address(status["podIP"], reader, "status.podIP") is { } single && !addresses.Contains(single))
            {
                addresses.Insert(0, single);
            }
        }

        var workload = new WorkloadRef("Pod", ns, name);
        var owners = reader.List(metadata, "ownerReferences", "metadata.ownerReferences");
        if (owners is { Items.Count: > 0 })
        {
            // The owner is the reference marked controller: true (as controllers set it); other
            // references, and a Node owning a static pod, leave the pod standing for itself.
            foreach (var (item, itemPath, _) in FieldReader.Items(owners, "metadata.ownerReferences"))
            {
                if (reader.ItemMap(item, itemPath) is not { } owner
                    || owner["controller"] is not ScalarNode controller || !controller.TryGetBoolean(out var isController) || !isController)
                {
                    continue;
                }

                var ownerKind = (owner["kind"] as ScalarNode)?.Value;
                if (ownerKind != "Node" && reader.Text(owner, "name", $"{itemPath}.name") is { } ownerName)
                {
                    workload = new WorkloadRef(string.IsNullOrEmpty(ownerKind) ? "Pod" : ownerKind, ns, ownerName);
                }

                break;
            }
        }

        into.Pods.Add(new PodSpec
        {
            Namespace = ns,
            Name = name,
            Labels = labels,
            Ports = ContainerPorts(spec, reader, "spec"),
            Addresses = addresses,
            NodeName = spec is null ? null : reader.Text(spec, "nodeName", "spec.nodeName"),
            HostNetwork = spec is not null && (reader.Boolean(spec, "hostNetwork", "spec.hostNetwork") ?? false),
            HostAddress = status is null ? null : Address(status["hostIP"], reader, "status.hostIP"),
            ServiceAccount = (spec is null ? null : reader.Text(spec, "serviceAccountName", "spec.serviceAccountName")) ?? "default",
            Workload = workload,
            Location = map.Location,
        });
        into.Locations.Add((new ObjectKey("Pod", ns, name), map.Location));
    }

    private static void DecodeWorkload(string kind, MappingNode map, FieldReader reader, ObjectCollection into)
    {
        var (name, ns, _) = Metadata(map, reader, kind, namespaced: true);
        if (name is null)
        {
            return;
        }

        var spec = reader.Map(map, "spec", "spec");
        var templatePath = "spec.template";
        if (kind == "CronJob" && spec is not null)
        {
            spec = reader.Map(spec, "jobTemplate", "spec.jobTemplate") is { } jobTemplate ? reader.Map(jobTemplate, "spec", "spec.jobTemplate.spec") : null;
            templatePath = "spec.jobTemplate.spec.template";
        }

        var template = spec is null ? null : reader.Map(spec, "template", templatePath);
        var templateMetadata = template is null ? null : reader.Map(template, "metadata", $"{templatePath}.metadata");
        var templateSpec = template is null ? null : reader.Map(template, "spec", $"{templatePath}.spec");
        var labels = templateMetadata is null ? LabelSet.Empty : reader.Labels(templateMetadata, "labels", $"{templatePath}.metadata.labels");
        into.Workloads.Add(new WorkloadSpec
        {
            Kind = kind,
            Namespace = ns,
            Name = name,
            PodLabels = labels,
            Ports = ContainerPorts(templateSpec, reader, $"{templatePath}.spec"),
            HostNetwork = templateSpec is not null && (reader.Boolean(templateSpec, "hostNetwork", $"{templatePath}.spec.hostNetwork") ?? false),
            ServiceAccount = (templateSpec is null ? null : reader.Text(templateSpec, "serviceAccountName", $"{templatePath}.spec.serviceAccountName")) ?? "default",
            Location = map.Location,
        });
        into.Locations.Add((new ObjectKey(kind, ns, name), map.Location));
    }

    private static void DecodeNode(MappingNode map, FieldReader reader, ObjectCollection into)
    {
        var (name, _, metadata) = Metadata(map, reader, "Node", namespaced: false);
        if (name is null || metadata is null)
        {
            return;
        }

        var addresses = new List<UInt128>();
        if (reader.Map(map, "status", "status") is { } status)
        {
            foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(status, "addresses", "status.addresses"), "status.addresses"))
            {
                if (reader.ItemMap(item, itemPath) is { } entry
                    && (entry["type"] as ScalarNode)?.Value is "InternalIP" or "ExternalIP"
                    && Address(entry["address"], reader, $"{itemPath}.address") is { } address)
                {
                    addresses.Add(address);
                }
            }
        }

        into.Nodes.Add(new NodeSpec
        {
            Name = name,
            Labels = reader.Labels(metadata, "labels", "metadata.labels"),
            Addresses = addresses,
            Location = map.Location,
        });
        into.Locations.Add((new ObjectKey("Node", string.Empty, name), map.Location));
    }

    private static void DecodeEndpointSlice(MappingNode map, FieldReader reader, ObjectCollection into)
    {
        var (name, ns, metadata) = Metadata(map, reader, "EndpointSlice", namespaced: true);
        if (name is null || metadata is null)
        {
            return;
        }

        var labels = reader.Labels(metadata, "labels", "metadata.labels");
        var addresses = new List<UInt128>();
        var names = reader.Text(map, "addressType", "addressType") == "FQDN";
        if (names)
        {
            // Names, not addresses: nothing a policy can match by address (Cilium ignores such slices too).
            // The slice is kept, empty, so that a case step can still delete it.
            reader.Warning(DiagnosticCodes.UnsupportedFeature, map["addressType"], "addressType", "an EndpointSlice of names (FQDN) gives no addresses; it admits nothing");
        }

        foreach (var (item, itemPath, _) in FieldReader.Items(names ? null : reader.List(map, "endpoints", "endpoints"), "endpoints"))
        {
            if (reader.ItemMap(item, itemPath) is not { } endpoint)
            {
                continue;
            }

            // An endpoint that is neither ready nor still serving (terminating) receives no traffic; Cilium
            // leaves it out of a service's backends.
            if (reader.Map(endpoint, "conditions", $"{itemPath}.conditions") is { } conditions
                && reader.Boolean(conditions, "ready", $"{itemPath}.conditions.ready") == false
                && reader.Boolean(conditions, "serving", $"{itemPath}.conditions.serving") != true)
            {
                continue;
            }

            foreach (var (addressNode, addressPath, _) in FieldReader.Items(reader.List(endpoint, "addresses", $"{itemPath}.addresses"), $"{itemPath}.addresses"))
            {
                if (Address(addressNode, reader, addressPath) is { } address)
                {
                    addresses.Add(address);
                }
            }
        }

        into.EndpointSlices.Add(new EndpointSliceSpec
        {
            Namespace = ns,
            Name = name,
            ServiceName = labels.TryGetValue("kubernetes.io/service-name", out var service) ? service : null,
            Addresses = addresses,
            Location = map.Location,
        });
        into.Locations.Add((new ObjectKey("EndpointSlice", ns, name), map.Location));
    }

    /// <summary>
    /// A v1 Endpoints object, the usual way to give a Service without a selector its addresses: read as
    /// the EndpointSlice the API server's mirroring controller makes of it (<c>subsets[].addresses[].ip</c>;
    /// <c>notReadyAddresses</c> receive no traffic).
    /// </summary>
    private static void DecodeEndpoints(MappingNode map, FieldReader reader, ObjectCollection into)
    {
        var (name, ns, metadata) = Metadata(map, reader, "Endpoints", namespaced: true);
        if (name is null || metadata is null)
        {
            return;
        }

        // Kubernetes does not mirror these into EndpointSlices, so Cilium never sees their addresses; the
        // object is kept, empty, so that a case step can still delete it.
        var mirrored = !(reader.Labels(metadata, "labels", "metadata.labels").TryGetValue("endpointslice.kubernetes.io/skip-mirror", out var skip) && skip == "true");
        var addresses = new List<UInt128>();
        foreach (var (item, itemPath, _) in FieldReader.Items(mirrored ? reader.List(map, "subsets", "subsets") : null, "subsets"))
        {
            if (reader.ItemMap(item, itemPath) is not { } subset)
            {
                continue;
            }

            foreach (var (addressItem, addressPath, _) in FieldReader.Items(reader.List(subset, "addresses", $"{itemPath}.addresses"), $"{itemPath}.addresses"))
            {
                if (reader.ItemMap(addressItem, addressPath) is { } address && Address(address["ip"], reader, $"{addressPath}.ip") is { } ip)
                {
                    addresses.Add(ip);
                }
            }
        }

        into.EndpointSlices.Add(new EndpointSliceSpec
        {
            Kind = "Endpoints",
            Namespace = ns,
            Name = name,
            ServiceName = name,
            Addresses = addresses,
            Location = map.Location,
        });
        into.Locations.Add((new ObjectKey("Endpoints", ns, name), map.Location));
    }

    private static void DecodeService(MappingNode map, FieldReader reader, ObjectCollection into)
    {
        var (name, ns, metadata) = Metadata(map, reader, "Service", namespaced: true);
        if (name is null || metadata is null)
        {
            return;
        }

        var spec = reader.Map(map, "spec", "spec");
        // The API server keeps an empty selector as none: such a service gets its endpoints by hand.
        var selector = spec is not null && spec.Has("selector") ? reader.Labels(spec, "selector", "spec.selector") : null;
        if (selector is { Count: 0 })
        {
            selector = null;
        }

        var labels = reader.Labels(metadata, "labels", "metadata.labels");
        into.Services.Add(new ServiceSpec { Namespace = ns, Name = name, Selector = selector, Labels = labels, Location = map.Location });
        into.Locations.Add((new ObjectKey("Service", ns, name), map.Location));
    }

    private static void DecodeNetworkPolicy(MappingNode map, FieldReader reader, ObjectCollection into)
    {
        var (name, ns, _) = Metadata(map, reader, "NetworkPolicy", namespaced: true);
        if (name is null)
        {
            return;
        }

        var spec = reader.Map(map, "spec", "spec") ?? new MappingNode(map.Location, []);
        reader.KnownFields(spec, "spec", "podSelector", "policyTypes", "ingress", "egress");
        var podSelector = reader.Selector(spec, "podSelector", "spec.podSelector") ?? LabelSelectorSpec.Everything;
        var ingress = Rules(spec, reader, Direction.Ingress);
        var egress = Rules(spec, reader, Direction.Egress);

        bool affectsIngress, affectsEgress;
        var types = reader.List(spec, "policyTypes", "spec.policyTypes");
        if (types is null || types.Items.Count == 0)
        {
            affectsIngress = true;
            affectsEgress = egress.Count > 0;
        }
        else
        {
            affectsIngress = affectsEgress = false;
            foreach (var (item, itemPath, _) in FieldReader.Items(types, "spec.policyTypes"))
            {
                switch (reader.Text(item, itemPath))
                {
                    case "Ingress" when !affectsIngress:
                        affectsIngress = true;
                        break;
                    case "Egress" when !affectsEgress:
                        affectsEgress = true;
                        break;
                    case { } other:
                        reader.Error(DiagnosticCodes.InvalidPolicyType, item, itemPath, other is "Ingress" or "Egress"
                            ? $"'{other}' is listed twice"
                            : $"'{other}' is not a policy type; use Ingress or Egress");
                        break;
                }
            }
        }

        into.NetworkPolicies.Add(new NetworkPolicySpec
        {
            Namespace = ns,
            Name = name,
            PodSelector = podSelector,
            AffectsIngress = affectsIngress,
            AffectsEgress = affectsEgress,
            Ingress = ingress,
            Egress = egress,
            Location = map.Location,
        });
        into.Locations.Add((new ObjectKey("NetworkPolicy", ns, name), map.Location));
    }

    private static List<NetworkPolicyRuleSpec> Rules(MappingNode spec, FieldReader reader, Direction direction)
    {
        var key = direction == Direction.Ingress ? "ingress" : "egress";
        var peerKey = direction == Direction.Ingress ? "from" : "to";
        var rules = new List<NetworkPolicyRuleSpec>();
        foreach (var (item, path, _) in FieldReader.Items(reader.List(spec, key, $"spec.{key}"), $"spec.{key}"))
        {
            if (reader.ItemMap(item, path) is not { } rule)
            {
                continue;
            }

            reader.KnownFields(rule, path, peerKey, "ports");
            var peers = reader.List(rule, peerKey, $"{path}.{peerKey}") is { } peerList
                ? Peers(peerList, reader, $"{path}.{peerKey}")
                : null;
            var ports = reader.List(rule, "ports", $"{path}.ports") is { } portList
                ? Ports(portList, reader, $"{path}.ports")
                : null;

            if (direction == Direction.Egress && peers is { Count: > 0 } && ports is not null && peers.Any(static peer => peer.IpBlock is not null))
            {
                // A named port resolves on the destination pod; an outside address has none, so for the
                // rule's ipBlock peers the name matches nothing.
                var onlyBlocks = peers.All(static peer => peer.IpBlock is not null);
                for (var p = 0; p < ports.Count; p++)
                {
                    if (ports[p].PortName is { } portName)
                    {
                        reader.Warning(
                            DiagnosticCodes.NamedPortWithIpBlock,
                            PortNode(rule, p),
                            $"{path}.ports[{p}].port",
                            onlyBlocks
                                ? $"named port '{portName}' with only ipBlock peers matches nothing: an outside address has no container ports to give the name a number"
                                : $"named port '{portName}' applies to the rule's pod peers only, not to its ipBlock peers (outside addresses have no named ports)");
                    }
                }
            }

            rules.Add(new NetworkPolicyRuleSpec { Peers = peers, Ports = ports });
        }

        return rules;

        static ManifestNode? PortNode(MappingNode rule, int index) =>
            rule["ports"] is SequenceNode list && index < list.Items.Count && list.Items[index] is MappingNode port ? port["port"] : null;
    }

    private static List<NetworkPolicyPeerSpec> Peers(SequenceNode list, FieldReader reader, string path)
    {
        var peers = new List<NetworkPolicyPeerSpec>();
        foreach (var (item, itemPath, _) in FieldReader.Items(list, path))
        {
            if (reader.ItemMap(item, itemPath) is not { } peer)
            {
                continue;
            }

            reader.KnownFields(peer, itemPath, "podSelector", "namespaceSelector", "ipBlock");
            var hasPod = peer.Has("podSelector");
            var hasNamespace = peer.Has("namespaceSelector");
            var hasBlock = peer.Has("ipBlock");
            if (!hasPod && !hasNamespace && !hasBlock)
            {
                reader.Error(DiagnosticCodes.EmptyPeer, peer, itemPath, "a peer must have podSelector, namespaceSelector or ipBlock; to match every peer, leave out the whole peer list");
                continue;
            }

            if (hasBlock && (hasPod || hasNamespace))
            {
                reader.Error(DiagnosticCodes.InvalidPeer, peer, itemPath, "a peer with ipBlock may not also have podSelector or namespaceSelector; write them as separate peers");
                continue;
            }

            if (hasBlock)
            {
                if (IpBlock(peer, reader, $"{itemPath}.ipBlock") is { } block)
                {
                    peers.Add(new NetworkPolicyPeerSpec { IpBlock = block });
                }

                continue;
            }

            peers.Add(new NetworkPolicyPeerSpec
            {
                PodSelector = hasPod ? reader.Selector(peer, "podSelector", $"{itemPath}.podSelector") ?? LabelSelectorSpec.Everything : null,
                NamespaceSelector = hasNamespace ? reader.Selector(peer, "namespaceSelector", $"{itemPath}.namespaceSelector") ?? LabelSelectorSpec.Everything : null,
            });
        }

        return peers;
    }

    private static IpBlockSpec? IpBlock(MappingNode peer, FieldReader reader, string path)
    {
        var block = reader.Map(peer, "ipBlock", path, required: true);
        if (block is null)
        {
            return null;
        }

        reader.KnownFields(block, path, "cidr", "except");
        var cidr = reader.Text(block, "cidr", $"{path}.cidr", required: true);
        if (cidr is null)
        {
            return null;
        }

        if (!IpPrefix.TryParse(cidr, out var prefix, out var error))
        {
            reader.Error(DiagnosticCodes.InvalidCidr, block["cidr"], $"{path}.cidr", error);
            return null;
        }

        var addresses = prefix.ToSet();
        var exceptions = new List<string>();
        var valid = true;
        foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(block, "except", $"{path}.except"), $"{path}.except"))
        {
            if (reader.Text(item, itemPath) is not { } text)
            {
                valid = false;
                continue;
            }

            if (!IpPrefix.TryParse(text, out var exception, out var exceptError))
            {
                reader.Error(DiagnosticCodes.InvalidCidr, item, itemPath, exceptError);
                valid = false;
                continue;
            }

            if (exception.IsV4 != prefix.IsV4 || exception.First < prefix.First || exception.Last > prefix.Last || exception.Length <= prefix.Length)
            {
                reader.Error(DiagnosticCodes.InvalidExcept, item, itemPath, $"except '{text}' must be a strict subset of cidr '{cidr}'");
                valid = false;
                continue;
            }

            exceptions.Add(text);
            addresses = addresses.Except(exception.ToSet());
        }

        return valid ? new IpBlockSpec { Cidr = cidr, Except = exceptions, Addresses = addresses } : null;
    }

    private static List<NetworkPolicyPortSpec> Ports(SequenceNode list, FieldReader reader, string path)
    {
        var ports = new List<NetworkPolicyPortSpec>();
        foreach (var (item, itemPath, _) in FieldReader.Items(list, path))
        {
            if (reader.ItemMap(item, itemPath) is not { } port)
            {
                continue;
            }

            reader.KnownFields(port, itemPath, "protocol", "port", "endPort");
            var protocol = ProtocolOf(port, reader, itemPath) ?? Protocol.Tcp;
            var errors = reader.ErrorCount;
            int? number = null;
            string? name = null;
            var portNode = port["port"];
            if (portNode is ScalarNode { IsNull: false } scalar)
            {
                if (scalar.TryGetInteger(out var value))
                {
                    if (value is < 1 or > 65535)
                    {
                        reader.Error(DiagnosticCodes.InvalidPort, scalar, $"{itemPath}.port", $"port {value} is not between 1 and 65535");
                    }
                    else
                    {
                        number = (int)value;
                    }
                }
                else if (KubernetesNames.CheckPortName(scalar.Value) is { } problem)
                {
                    reader.Error(DiagnosticCodes.InvalidPort, scalar, $"{itemPath}.port", problem);
                }
                else
                {
                    name = scalar.Value;
                }
            }
            else if (portNode is not null && portNode is not ScalarNode { IsNull: true })
            {
                reader.Error(DiagnosticCodes.WrongType, portNode, $"{itemPath}.port", $"expected a port number or name, found {portNode.Describe()}");
            }

            var endPort = reader.Integer(port, "endPort", $"{itemPath}.endPort");
            if (endPort is not null)
            {
                var endNode = port["endPort"];
                if (name is not null)
                {
                    reader.Error(DiagnosticCodes.InvalidPortRange, endNode, $"{itemPath}.endPort", $"endPort cannot be used with the named port '{name}'; give the range's first port as a number");
                }
                else if (number is null && reader.ErrorCount == errors)
                {
                    reader.Error(DiagnosticCodes.InvalidPortRange, endNode, $"{itemPath}.endPort", "endPort needs 'port' as the first port of the range");
                }
                else if (number is not null && (endPort < number || endPort > 65535))
                {
                    reader.Error(DiagnosticCodes.InvalidPortRange, endNode, $"{itemPath}.endPort", $"endPort {endPort} must be at least port {number} and at most 65535");
                }
            }

            if (reader.ErrorCount > errors)
            {
                continue;
            }

            ports.Add(new NetworkPolicyPortSpec { Protocol = protocol, Port = number, PortName = name, EndPort = (int?)endPort });
        }

        return ports;
    }
}
