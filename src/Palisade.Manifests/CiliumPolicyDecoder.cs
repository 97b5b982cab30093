using System.Globalization;
using System.Text.RegularExpressions;
using Palisade.Diagnostics;
using Palisade.Manifests.Yaml;
using Palisade.Model;
using Palisade.Sets;

namespace Palisade.Manifests;

/// <summary>
/// Reads <c>cilium.io/v2</c> CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy. What the API
/// server's schema refuses (wrong types, unknown entities, malformed CIDRs) is an error. What only the
/// Cilium agent refuses (layer-7 rules on non-TCP ports, layer-7 or DNS names in deny rules, mixed
/// peer kinds, invalid expressions) is a warning, and the whole policy is left out, as Cilium leaves it out.
/// </summary>
internal static partial class CiliumPolicyDecoder
{
    private static readonly string[] CidrSetKinds = ["cidr", "cidrGroupRef", "cidrGroupSelector"];

    private static readonly string[] BlockFields =
        ["endpointSelector", "nodeSelector", "ingress", "ingressDeny", "egress", "egressDeny", "enableDefaultDeny", "description", "labels", "log"];

    /// <summary>Cilium's entity names (the manifest writer writes the first name of each entity).</summary>
    internal static readonly Dictionary<string, CiliumEntity> Entities = new(StringComparer.Ordinal)
    {
        ["all"] = CiliumEntity.All,
        ["world"] = CiliumEntity.World,
        ["world-ipv4"] = CiliumEntity.World,
        ["world-ipv6"] = CiliumEntity.World,
        ["cluster"] = CiliumEntity.Cluster,
        ["host"] = CiliumEntity.Host,
        ["remote-node"] = CiliumEntity.RemoteNode,
        ["kube-apiserver"] = CiliumEntity.KubeApiServer,
        ["health"] = CiliumEntity.Health,
        ["init"] = CiliumEntity.Init,
        ["ingress"] = CiliumEntity.Ingress,
        ["unmanaged"] = CiliumEntity.Unmanaged,
        ["none"] = CiliumEntity.None,
    };

    /// <summary>A node selector's key without the <c>node:</c> or <c>any:</c> source Cilium may give it.</summary>
    private static string NormalizeNodeKey(string key) =>
        key.StartsWith("node:", StringComparison.Ordinal) ? key["node:".Length..] : key.StartsWith("any:", StringComparison.Ordinal) ? key["any:".Length..] : key;

    /// <summary>A CIDR-group selector's key without the <c>cidrgroup:</c> or <c>any:</c> source Cilium may give it.</summary>
    private static string NormalizeGroupKey(string key) =>
        key.StartsWith("cidrgroup:", StringComparison.Ordinal) ? key["cidrgroup:".Length..] : key.StartsWith("any:", StringComparison.Ordinal) ? key["any:".Length..] : key;

    /// <summary>Cilium label keys carry a source prefix (<c>k8s:</c>, <c>any:</c>); selectors compare without it.</summary>
    public static string NormalizeKey(string key)
    {
        foreach (var prefix in (string[])["k8s:", "any:", "k8s.", "container:"])
        {
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                return key[prefix.Length..];
            }
        }

        return key;
    }

    public static void Decode(string kind, MappingNode map, FieldReader reader, ObjectCollection into)
    {
        var clusterwide = kind == "CiliumClusterwideNetworkPolicy";
        var metadata = reader.Map(map, "metadata", "metadata", required: true);
        var name = metadata is null ? null : reader.Text(metadata, "name", "metadata.name", required: true);
        if (name is null)
        {
            return;
        }

        var ns = clusterwide ? string.Empty : reader.Text(metadata!, "namespace", "metadata.namespace") ?? "default";
        reader.Subject = clusterwide ? $"{kind} {name}" : $"{kind} {ns}/{name}";
        var context = new PolicyContext(reader) { Clusterwide = clusterwide };
        var blocks = new List<CiliumRuleBlockSpec>();
        if (map["spec"] is { } specNode && specNode is not ScalarNode { IsNull: true })
        {
            if (reader.ItemMap(specNode, "spec") is { } spec && Block(spec, "spec", context) is { } block)
            {
                blocks.Add(block);
            }
        }

        foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(map, "specs", "specs"), "specs"))
        {
            if (reader.ItemMap(item, itemPath) is { } spec && Block(spec, itemPath, context) is { } block)
            {
                blocks.Add(block);
            }
        }

        if (!map.Has("spec") && !map.Has("specs"))
        {
            reader.Error(DiagnosticCodes.MissingField, map, "spec", "'spec' or 'specs' is required", map.Location);
        }

        if (reader.ErrorCount > 0)
        {
            return;
        }

        if (context.Rejections.Count > 0)
        {
            foreach (var (node, path, message) in context.Rejections)
            {
                reader.Warning(DiagnosticCodes.CiliumRejected, node, path, message + "; the Cilium agent refuses the whole policy, so Palisade leaves it out too");
            }

            return;
        }

        into.CiliumPolicies.Add(new CiliumPolicySpec { Kind = kind, Namespace = ns, Name = name, Blocks = blocks, Location = map.Location });
        into.Locations.Add((new ObjectKey(kind, ns, name), map.Location));
    }

    private sealed class PolicyContext(FieldReader reader)
    {
        public FieldReader Reader { get; } = reader;

        public bool Clusterwide { get; init; }

        public List<(ManifestNode? Node, string Path, string Message)> Rejections { get; } = [];

        public void Reject(ManifestNode? node, string path, string message) => Rejections.Add((node, path, message));
    }

    private static CiliumRuleBlockSpec? Block(MappingNode spec, string path, PolicyContext context)
    {
        var reader = context.Reader;
        reader.KnownFields(spec, path, BlockFields);
        if (spec.Has("nodeSelector"))
        {
            if (!context.Clusterwide)
            {
                context.Reject(spec["nodeSelector"], $"{path}.nodeSelector", "a CiliumNetworkPolicy cannot have nodeSelector; host policies are CiliumClusterwideNetworkPolicies");
            }
            else if (spec.Has("endpointSelector"))
            {
                context.Reject(spec, path, "a rule cannot have both endpointSelector and nodeSelector");
            }
        }
        else if (!spec.Has("endpointSelector"))
        {
            reader.Error(DiagnosticCodes.MissingField, spec, $"{path}.endpointSelector", "'endpointSelector' is required ('{}' selects every endpoint; a clusterwide host policy uses nodeSelector instead)", spec.Location);
            return null;
        }

        var host = spec.Has("nodeSelector") && context.Clusterwide && !spec.Has("endpointSelector");
        var nodeSelector = host ? reader.Selector(spec, "nodeSelector", $"{path}.nodeSelector") ?? LabelSelectorSpec.Everything : null;
        var selector = host ? LabelSelectorSpec.Everything : reader.Selector(spec, "endpointSelector", $"{path}.endpointSelector", NormalizeKey) ?? LabelSelectorSpec.Everything;
        bool? defaultIngress = null, defaultEgress = null;
        if (reader.Map(spec, "enableDefaultDeny", $"{path}.enableDefaultDeny") is { } defaults)
        {
            reader.KnownFields(defaults, $"{path}.enableDefaultDeny", "ingress", "egress");
            defaultIngress = reader.Boolean(defaults, "ingress", $"{path}.enableDefaultDeny.ingress");
            defaultEgress = reader.Boolean(defaults, "egress", $"{path}.enableDefaultDeny.egress");
        }

        var block = new CiliumRuleBlockSpec
        {
            Path = path,
            EndpointSelector = selector,
            NodeSelector = nodeSelector,
            Ingress = Rules(spec, "ingress", path, Direction.Ingress, deny: false, context),
            Egress = Rules(spec, "egress", path, Direction.Egress, deny: false, context),
            IngressDeny = Rules(spec, "ingressDeny", path, Direction.Ingress, deny: true, context),
            EgressDeny = Rules(spec, "egressDeny", path, Direction.Egress, deny: true, context),
            DefaultDenyIngress = defaultIngress,
            DefaultDenyEgress = defaultEgress,
        };
        // The host firewall proxies no HTTP: host ingress takes no layer-7 rules, host egress only DNS rules.
        if (host)
        {
            foreach (var (rules, direction) in new[] { (block.Ingress, Direction.Ingress), (block.Egress, Direction.Egress) })
            {
                foreach (var rule in rules ?? [])
                {
                    foreach (var entry in rule.ToPorts ?? [])
                    {
                        if (entry.Http is not null || (direction == Direction.Ingress && entry.Dns is not null))
                        {
                            context.Reject(spec, rule.Path, direction == Direction.Ingress ? "a host policy takes no layer-7 rules on ingress" : "a host policy's egress takes only DNS rules at layer 7");
                        }
                    }
                }
            }
        }

        if (!block.HasRules(Direction.Ingress) && !block.HasRules(Direction.Egress))
        {
            context.Reject(spec, path, "the rule has none of ingress, ingressDeny, egress, egressDeny (an empty list counts as none)");
        }

        return block;
    }

    private static List<CiliumRuleSpec>? Rules(MappingNode spec, string key, string blockPath, Direction direction, bool deny, PolicyContext context)
    {
        var reader = context.Reader;
        var list = reader.List(spec, key, $"{blockPath}.{key}");
        if (list is null)
        {
            return spec.Has(key) ? [] : null;
        }

        var rules = new List<CiliumRuleSpec>();
        foreach (var (item, path, _) in FieldReader.Items(list, $"{blockPath}.{key}"))
        {
            if (reader.ItemMap(item, path) is { } rule && Rule(rule, path, direction, deny, context) is { } parsed)
            {
                rules.Add(parsed);
            }
        }

        return rules;
    }

    private static CiliumRuleSpec? Rule(MappingNode rule, string path, Direction direction, bool deny, PolicyContext context)
    {
        var reader = context.Reader;
        var from = direction == Direction.Ingress;
        var p = from ? "from" : "to";
        string[] known = from
            ? ["fromEndpoints", "fromEntities", "fromCIDR", "fromCIDRSet", "fromRequires", "fromNodes", "fromGroups", "toPorts", "icmps", "authentication"]
            : ["toEndpoints", "toEntities", "toCIDR", "toCIDRSet", "toFQDNs", "toServices", "toRequires", "toNodes", "toGroups", "toPorts", "icmps", "authentication"];
        reader.KnownFields(rule, path, known);

        // toGroups and requirements count when they hold entries; anything but a list is a type error.
        var groupEntries = reader.List(rule, $"{p}Groups", $"{path}.{p}Groups") is { Items.Count: > 0 };
        if (groupEntries)
        {
            reader.Warning(DiagnosticCodes.UnsupportedFeature, rule[$"{p}Groups"], $"{path}.{p}Groups", $"'{p}Groups' is not evaluated by Palisade (it cannot know a cloud provider's group addresses); the rule matches no peer");
        }

        List<LabelSelectorSpec>? endpoints = null;
        if (rule.Has($"{p}Endpoints"))
        {
            endpoints = [];
            foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(rule, $"{p}Endpoints", $"{path}.{p}Endpoints"), $"{path}.{p}Endpoints"))
            {
                if (reader.ItemMap(item, itemPath) is { } selectorMap && reader.SelectorOf(selectorMap, itemPath, NormalizeKey) is { } selector)
                {
                    endpoints.Add(selector);
                }
            }
        }

        // fromRequires/toRequires: requirements the peers of fromEndpoints/toEndpoints must also meet; they
        // admit nothing by themselves (a rule with some and no endpoints matches no peer). Cilium up to
        // 1.18 applies them to every rule that selects the endpoint, and 1.19 drops them; Palisade
        // applies them to the rule's own endpoints only, and says so.
        if (reader.List(rule, $"{p}Requires", $"{path}.{p}Requires") is { Items.Count: > 0 })
        {
            reader.Warning(DiagnosticCodes.UnsupportedFeature, rule[$"{p}Requires"], $"{path}.{p}Requires", $"'{p}Requires' is applied to this rule's {p}Endpoints only; Cilium up to 1.18 applies it to every rule that selects the endpoint, and Cilium 1.19 no longer supports it");
            var requirements = new List<LabelRequirement>();
            foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(rule, $"{p}Requires", $"{path}.{p}Requires"), $"{path}.{p}Requires"))
            {
                if (reader.ItemMap(item, itemPath) is { } selectorMap && reader.SelectorOf(selectorMap, itemPath, NormalizeKey) is { } required)
                {
                    requirements.AddRange(required.MatchLabels.Select(static l => new LabelRequirement(l.Key, SelectorOperator.In, [l.Value])));
                    requirements.AddRange(required.MatchExpressions);
                }
            }

            endpoints = [.. (endpoints ?? []).Select(e => e with { MatchExpressions = [.. e.MatchExpressions, .. requirements] })];
        }

        // fromNodes/toNodes (Cilium 1.16 and later, with node selector labels enabled): nodes by their labels.
        List<LabelSelectorSpec>? nodes = null;
        if (rule.Has($"{p}Nodes"))
        {
            nodes = [];
            foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(rule, $"{p}Nodes", $"{path}.{p}Nodes"), $"{path}.{p}Nodes"))
            {
                if (reader.ItemMap(item, itemPath) is { } selectorMap && reader.SelectorOf(selectorMap, itemPath, NormalizeNodeKey) is { } selector)
                {
                    nodes.Add(selector);
                }
            }
        }

        List<CiliumEntity>? entities = null;
        if (rule.Has($"{p}Entities"))
        {
            entities = [];
            foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(rule, $"{p}Entities", $"{path}.{p}Entities"), $"{path}.{p}Entities"))
            {
                if (reader.Text(item, itemPath) is not { } text)
                {
                    continue;
                }

                if (Entities.TryGetValue(text, out var entity))
                {
                    entities.Add(entity);
                }
                else
                {
                    reader.Error(DiagnosticCodes.InvalidEntity, item, itemPath, $"'{text}' is not an entity; use one of {string.Join(", ", Entities.Keys)}");
                }
            }
        }

        var (cidrs, cidrGroups) = Cidrs(rule, path, p, context);
        List<DnsPattern>? fqdns = null;
        if (!from && rule.Has("toFQDNs"))
        {
            fqdns = [];
            foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(rule, "toFQDNs", $"{path}.toFQDNs"), $"{path}.toFQDNs"))
            {
                if (reader.ItemMap(item, itemPath) is { } fqdn && NameMatch(fqdn, itemPath, context) is { } pattern)
                {
                    fqdns.Add(pattern);
                }
            }
        }

        List<CiliumServiceRef>? services = null;
        if (!from && rule.Has("toServices"))
        {
            services = [];
            foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(rule, "toServices", $"{path}.toServices"), $"{path}.toServices"))
            {
                if (reader.ItemMap(item, itemPath) is { } service && Service(service, itemPath, context) is { } selector)
                {
                    services.Add(selector);
                }
            }
        }

        var ports = Ports(rule, path, deny, direction, context);
        var icmps = Icmps(rule, path, context);
        if (rule["icmps"] is SequenceNode { Items.Count: > 0 } && ports is not null)
        {
            context.Reject(rule["icmps"], $"{path}.icmps", "the icmps block may only be present without toPorts; write a separate rule for the ports");
        }

        // The agent accepts one kind of peer per rule; an empty list does not count.
        string[] kindFields = [$"{p}Endpoints", $"{p}Entities", $"{p}CIDR", $"{p}CIDRSet", $"{p}Nodes", $"{p}Groups", "toFQDNs", "toServices"];
        var mixed = kindFields.Where(field => (field is not ("toFQDNs" or "toServices") || direction == Direction.Egress) && rule[field] is SequenceNode { Items.Count: > 0 }).ToList();
        if (mixed.Count > 1)
        {
            context.Reject(rule, path, $"one rule combines {string.Join(" and ", mixed)}; Cilium accepts one kind of peer per rule, so write one rule per kind");
        }

        if (deny && fqdns is not null)
        {
            context.Reject(rule["toFQDNs"], $"{path}.toFQDNs", "toFQDNs is not allowed in a deny rule");
        }

        return new CiliumRuleSpec
        {
            Endpoints = endpoints,
            Entities = entities,
            Cidrs = cidrs,
            CidrGroups = cidrGroups,
            Nodes = nodes,
            HasUnevaluatedPeers = groupEntries,
            Fqdns = fqdns,
            Services = services,
            ToPorts = ports,
            Icmps = icmps,
            Path = path,
        };
    }

    /// <summary>
    /// <c>icmps</c>: ICMP message types by family, each a number (0-255) or Cilium's name for it
    /// (<c>EchoRequest</c>); the family is <c>IPv4</c> unless it says <c>IPv6</c>. Null when absent or
    /// empty: Cilium treats <c>icmps: []</c> as no ICMP rule, so a rule with neither ports nor ICMP
    /// types stays a rule for everything.
    /// </summary>
    private static List<CiliumPortSpec>? Icmps(MappingNode rule, string path, PolicyContext context)
    {
        if (rule["icmps"] is not SequenceNode { Items.Count: > 0 })
        {
            if (rule.Has("icmps"))
            {
                context.Reader.List(rule, "icmps", $"{path}.icmps");
            }

            return null;
        }

        var reader = context.Reader;
        var result = new List<CiliumPortSpec>();
        foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(rule, "icmps", $"{path}.icmps"), $"{path}.icmps"))
        {
            if (reader.ItemMap(item, itemPath) is not { } icmp)
            {
                continue;
            }

            reader.KnownFields(icmp, itemPath, "fields");
            foreach (var (fieldNode, fieldPath, _) in FieldReader.Items(reader.List(icmp, "fields", $"{itemPath}.fields"), $"{itemPath}.fields"))
            {
                if (reader.ItemMap(fieldNode, fieldPath) is not { } field)
                {
                    continue;
                }

                reader.KnownFields(field, fieldPath, "family", "type");
                var protocol = Protocol.Icmp;
                switch (reader.Text(field, "family", $"{fieldPath}.family"))
                {
                    case null or "IPv4":
                        break;
                    case "IPv6":
                        protocol = Protocol.IcmpV6;
                        break;
                    case var other:
                        reader.Error(DiagnosticCodes.InvalidProtocol, field["family"], $"{fieldPath}.family", $"'{other}' is not an ICMP family; use IPv4 or IPv6");
                        continue;
                }

                if (field["type"] is not ScalarNode { IsNull: false, Value.Length: > 0 } typeNode)
                {
                    reader.Error(DiagnosticCodes.MissingField, field, $"{fieldPath}.type", "an ICMP field needs a type: a number from 0 to 255, or a name such as EchoRequest");
                    continue;
                }

                // The API server takes a number from 0 to 255 without leading zeros, or any name Cilium
                // knows; the agent refuses a name of the other family.
                var names = protocol == Protocol.Icmp ? IcmpV4Types : IcmpV6Types;
                var text = typeNode.Value;
                var numeric = text.All(char.IsAsciiDigit);
                if (numeric ? text.Length > 3 || (text.Length > 1 && text[0] == '0') || int.Parse(text, CultureInfo.InvariantCulture) > 255 : !IcmpV4Types.ContainsKey(text) && !IcmpV6Types.ContainsKey(text))
                {
                    var known = string.Join(", ", names.Keys.Take(6));
                    reader.Error(DiagnosticCodes.InvalidPort, typeNode, $"{fieldPath}.type", $"'{text}' is not an ICMP type; use a number from 0 to 255 or one of Cilium's names ({known}, ...)");
                    continue;
                }

                int type;
                if (numeric)
                {
                    type = int.Parse(text, CultureInfo.InvariantCulture);
                }
                else if (!names.TryGetValue(text, out type))
                {
                    context.Reject(typeNode, $"{fieldPath}.type", $"'{text}' is not an {protocol.Name()} type (Cilium knows it for the other family); give the number, or family {(protocol == Protocol.Icmp ? "IPv6" : "IPv4")}");
                    continue;
                }

                result.Add(new CiliumPortSpec { Protocols = [protocol], Port = type });
            }
        }

        return result;
    }

    /// <summary>Cilium's names of ICMP message types for IPv4 (its <c>icmpIpv4TypeNameToCode</c>).</summary>
    private static readonly Dictionary<string, int> IcmpV4Types = new(StringComparer.Ordinal)
    {
        ["EchoReply"] = 0, ["DestinationUnreachable"] = 3, ["Redirect"] = 5, ["Echo"] = 8, ["EchoRequest"] = 8,
        ["RouterAdvertisement"] = 9, ["RouterSelection"] = 10, ["TimeExceeded"] = 11, ["ParameterProblem"] = 12,
        ["Timestamp"] = 13, ["TimestampReply"] = 14, ["Photuris"] = 40, ["ExtendedEchoRequest"] = 42, ["ExtendedEchoReply"] = 43,
    };

    /// <summary>Cilium's names of ICMP message types for IPv6 (its <c>icmpIpv6TypeNameToCode</c>).</summary>
    private static readonly Dictionary<string, int> IcmpV6Types = new(StringComparer.Ordinal)
    {
        ["DestinationUnreachable"] = 1, ["PacketTooBig"] = 2, ["TimeExceeded"] = 3, ["ParameterProblem"] = 4,
        ["EchoRequest"] = 128, ["EchoReply"] = 129, ["MulticastListenerQuery"] = 130, ["MulticastListenerReport"] = 131,
        ["MulticastListenerDone"] = 132, ["RouterSolicitation"] = 133, ["RouterAdvertisement"] = 134, ["NeighborSolicitation"] = 135,
        ["NeighborAdvertisement"] = 136, ["RedirectMessage"] = 137, ["RouterRenumbering"] = 138, ["ICMPNodeInformationQuery"] = 139,
        ["ICMPNodeInformationResponse"] = 140, ["InverseNeighborDiscoverySolicitation"] = 141, ["InverseNeighborDiscoveryAdvertisement"] = 142,
        ["HomeAgentAddressDiscoveryRequest"] = 144, ["HomeAgentAddressDiscoveryReply"] = 145, ["MobilePrefixSolicitation"] = 146,
        ["MobilePrefixAdvertisement"] = 147, ["DuplicateAddressRequestCodeSuffix"] = 157, ["DuplicateAddressConfirmationCodeSuffix"] = 158,
        ["ExtendedEchoRequest"] = 160, ["ExtendedEchoReply"] = 161,
    };

    private static (IpSet? Cidrs, List<CiliumCidrGroupRef>? Groups) Cidrs(MappingNode rule, string path, string p, PolicyContext context)
    {
        var reader = context.Reader;
        IpSet? result = null;
        List<CiliumCidrGroupRef>? groups = null;
        foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(rule, $"{p}CIDR", $"{path}.{p}CIDR"), $"{path}.{p}CIDR"))
        {
            result ??= IpSet.Empty;
            if (reader.Text(item, itemPath) is { } text && Prefix(text, item, itemPath, reader) is { } prefix)
            {
                result = result.Union(prefix.ToSet());
            }
        }

        if (rule.Has($"{p}CIDR"))
        {
            result ??= IpSet.Empty;
        }

        if (rule.Has($"{p}CIDRSet"))
        {
            result ??= IpSet.Empty;
            foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(rule, $"{p}CIDRSet", $"{path}.{p}CIDRSet"), $"{path}.{p}CIDRSet"))
            {
                if (reader.ItemMap(item, itemPath) is not { } set)
                {
                    continue;
                }

                reader.KnownFields(set, itemPath, "cidr", "except", "cidrGroupRef", "cidrGroupSelector");
                var kinds = CidrSetKinds.Where(set.Has).ToList();
                if (kinds.Count > 1)
                {
                    reader.Error(DiagnosticCodes.InvalidPeer, set, itemPath, $"an entry has one of cidr, cidrGroupRef and cidrGroupSelector, not {string.Join(" and ", kinds)}; write one entry each");
                    continue;
                }

                // except, read once: taken out of the cidr (each must lie inside it) or of the groups'
                // addresses (unchecked, as Cilium takes it).
                var exceptions = new List<(IpPrefix Prefix, ManifestNode Node, string Path)>();
                foreach (var (exceptNode, exceptPath, _) in FieldReader.Items(reader.List(set, "except", $"{itemPath}.except"), $"{itemPath}.except"))
                {
                    if (reader.Text(exceptNode, exceptPath) is { } text && Prefix(text, exceptNode, exceptPath, reader) is { } exception)
                    {
                        exceptions.Add((exception, exceptNode, exceptPath));
                    }
                }

                var excepted = exceptions.Aggregate(IpSet.Empty, static (all, e) => all.Union(e.Prefix.ToSet()));
                if (set.Has("cidrGroupRef") || set.Has("cidrGroupSelector"))
                {
                    if (set.Has("cidrGroupRef"))
                    {
                        if (reader.Text(set, "cidrGroupRef", $"{itemPath}.cidrGroupRef") is { } groupName)
                        {
                            if (KubernetesNames.CheckObjectName(groupName) is { } problem)
                            {
                                reader.Error(DiagnosticCodes.InvalidName, set["cidrGroupRef"], $"{itemPath}.cidrGroupRef", problem);
                            }
                            else
                            {
                                (groups ??= []).Add(new CiliumCidrGroupRef(groupName, null) { Except = excepted, Path = itemPath });
                            }
                        }
                    }
                    else if (reader.Selector(set, "cidrGroupSelector", $"{itemPath}.cidrGroupSelector", NormalizeGroupKey) is { } groupSelector)
                    {
                        (groups ??= []).Add(new CiliumCidrGroupRef(null, groupSelector) { Except = excepted, Path = itemPath });
                    }

                    continue;
                }

                if (reader.Text(set, "cidr", $"{itemPath}.cidr", required: true) is not { } cidr || Prefix(cidr, set["cidr"], $"{itemPath}.cidr", reader) is not { } prefix)
                {
                    continue;
                }

                foreach (var (exception, exceptNode, exceptPath) in exceptions)
                {
                    if (exception.IsV4 != prefix.IsV4 || exception.First < prefix.First || exception.Last > prefix.Last)
                    {
                        context.Reject(exceptNode, exceptPath, $"except {exception} is not inside {prefix}");
                    }
                }

                result = result.Union(prefix.ToSet().Except(excepted));
            }
        }

        return (result, groups);
    }

    /// <summary>
    /// A CiliumCIDRGroup (<c>cilium.io/v2alpha1</c>, or <c>v2</c> in newer Cilium): cluster-scoped, its
    /// outside addresses in <c>spec.externalCIDRs</c>.
    /// </summary>
    public static void DecodeCidrGroup(MappingNode map, FieldReader reader, ObjectCollection into)
    {
        var (name, _, metadata) = ObjectDecoder.Metadata(map, reader, "CiliumCIDRGroup", namespaced: false);
        if (name is null || metadata is null)
        {
            return;
        }

        var cidrs = IpSet.Empty;
        if (reader.Map(map, "spec", "spec", required: true) is { } spec)
        {
            reader.KnownFields(spec, "spec", "externalCIDRs");
            if (!spec.Has("externalCIDRs"))
            {
                reader.Error(DiagnosticCodes.MissingField, spec, "spec.externalCIDRs", "'externalCIDRs' is required: the group's CIDRs, e.g. [\"192.0.2.0/24\"]", spec.Location);
            }

            foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(spec, "externalCIDRs", "spec.externalCIDRs"), "spec.externalCIDRs"))
            {
                // The CRD's items are CIDRs: a bare address is refused (policies' CIDR fields accept one).
                if (reader.Text(item, itemPath) is not { } text)
                {
                    continue;
                }

                if (!text.Contains('/', StringComparison.Ordinal))
                {
                    reader.Error(DiagnosticCodes.InvalidCidr, item, itemPath, $"'{text}' is not a CIDR; write it with its prefix length, e.g. {text}/{(text.Contains(':', StringComparison.Ordinal) ? 128 : 32)}");
                }
                else if (Prefix(text, item, itemPath, reader) is { } prefix)
                {
                    cidrs = cidrs.Union(prefix.ToSet());
                }
            }
        }

        if (reader.ErrorCount > 0)
        {
            return;
        }

        var group = new CiliumCidrGroupSpec
        {
            Name = name,
            Labels = reader.Labels(metadata, "labels", "metadata.labels"),
            Cidrs = cidrs,
            Location = map.Location,
        };
        into.CidrGroups.Add(group);
        into.Locations.Add((group.Key, map.Location));
    }

    private static IpPrefix? Prefix(string text, ManifestNode? node, string path, FieldReader reader)
    {
        // Cilium accepts a bare address as a host prefix.
        var candidate = text.Contains('/', StringComparison.Ordinal) ? text : IpNumbers.TryParse(text, out var address) ? $"{text}/{(IpNumbers.IsV4(address) ? 32 : 128)}" : text;
        if (IpPrefix.TryParse(candidate, out var prefix, out var error))
        {
            return prefix;
        }

        reader.Error(DiagnosticCodes.InvalidCidr, node, path, error);
        return null;
    }

    private static DnsPattern? NameMatch(MappingNode map, string path, PolicyContext context)
    {
        var reader = context.Reader;
        reader.KnownFields(map, path, "matchName", "matchPattern");
        if (map.Has("matchName") == map.Has("matchPattern"))
        {
            reader.Error(DiagnosticCodes.MissingField, map, path, "set exactly one of 'matchName' and 'matchPattern'");
            return null;
        }

        var isName = map.Has("matchName");
        var field = isName ? "matchName" : "matchPattern";
        if (reader.Text(map, field, $"{path}.{field}", required: true) is not { } text)
        {
            return null;
        }

        var allowed = isName ? NameCharacters() : PatternCharacters();
        if (!allowed.IsMatch(text))
        {
            context.Reject(map[field], $"{path}.{field}", $"'{text}' is not a valid {(isName ? "DNS name" : "DNS pattern")} (letters, digits, '-', '_', '.'{(isName ? string.Empty : " and '*'")})");
            return null;
        }

        return DnsPattern.Create(text, isName ? DnsPatternStyle.Exact : DnsPatternStyle.Glob);
    }

    private static CiliumServiceRef? Service(MappingNode service, string path, PolicyContext context)
    {
        var reader = context.Reader;
        reader.KnownFields(service, path, "k8sService", "k8sServiceSelector");
        if (reader.Map(service, "k8sServiceSelector", $"{path}.k8sServiceSelector") is { } bySelector)
        {
            reader.KnownFields(bySelector, $"{path}.k8sServiceSelector", "selector", "namespace");
            var selector = reader.Selector(bySelector, "selector", $"{path}.k8sServiceSelector.selector") ?? LabelSelectorSpec.Everything;
            return new CiliumServiceRef(null, reader.Text(bySelector, "namespace", $"{path}.k8sServiceSelector.namespace"), selector);
        }

        if (reader.Map(service, "k8sService", $"{path}.k8sService") is { } byName)
        {
            reader.KnownFields(byName, $"{path}.k8sService", "serviceName", "namespace");
            var name = reader.Text(byName, "serviceName", $"{path}.k8sService.serviceName", required: true);
            return name is null ? null : new CiliumServiceRef(name, reader.Text(byName, "namespace", $"{path}.k8sService.namespace"), null);
        }

        reader.Error(DiagnosticCodes.MissingField, service, path, "set 'k8sService' or 'k8sServiceSelector'");
        return null;
    }

    private static List<CiliumPortRuleSpec>? Ports(MappingNode rule, string path, bool deny, Direction direction, PolicyContext context)
    {
        var reader = context.Reader;
        if (rule["toPorts"] is not SequenceNode { Items.Count: > 0 } && rule["toPorts"] is not MappingNode)
        {
            // Absent or empty: every port.
            return null;
        }

        var result = new List<CiliumPortRuleSpec>();
        foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(rule, "toPorts", $"{path}.toPorts"), $"{path}.toPorts"))
        {
            if (reader.ItemMap(item, itemPath) is not { } portRule)
            {
                continue;
            }

            reader.KnownFields(portRule, itemPath, "ports", "rules", "serverNames", "listener", "terminatingTLS", "originatingTLS");
            var ports = new List<CiliumPortSpec>();
            foreach (var (portNode, portPath, _) in FieldReader.Items(reader.List(portRule, "ports", $"{itemPath}.ports"), $"{itemPath}.ports"))
            {
                if (reader.ItemMap(portNode, portPath) is { } port && Port(port, portPath, context) is { } parsed)
                {
                    ports.Add(parsed);
                }
            }

            List<HttpRuleSpec>? http = null;
            List<DnsPattern>? dns = null;
            if (reader.Map(portRule, "rules", $"{itemPath}.rules") is { } rules)
            {
                reader.KnownFields(rules, $"{itemPath}.rules", "http", "dns", "kafka", "l7proto", "l7");
                foreach (var other in new[] { "kafka", "l7proto", "l7" })
                {
                    if (rules.Has(other))
                    {
                        reader.Warning(DiagnosticCodes.UnsupportedFeature, rules[other], $"{itemPath}.rules.{other}", $"'{other}' rules are not evaluated by Palisade; connections they govern are judged at layers 3 and 4");
                    }
                }

                if (rules.Has("http"))
                {
                    http = [];
                    foreach (var (httpNode, httpPath, _) in FieldReader.Items(reader.List(rules, "http", $"{itemPath}.rules.http"), $"{itemPath}.rules.http"))
                    {
                        if (reader.ItemMap(httpNode, httpPath) is { } httpRule && Http(httpRule, httpPath, context) is { } parsed)
                        {
                            http.Add(parsed);
                        }
                    }
                }

                if (rules.Has("dns"))
                {
                    dns = [];
                    foreach (var (dnsNode, dnsPath, _) in FieldReader.Items(reader.List(rules, "dns", $"{itemPath}.rules.dns"), $"{itemPath}.rules.dns"))
                    {
                        if (reader.ItemMap(dnsNode, dnsPath) is { } dnsRule && NameMatch(dnsRule, dnsPath, context) is { } pattern)
                        {
                            dns.Add(pattern);
                        }
                    }
                }

                if (new[] { http is not null, dns is not null, rules.Has("kafka"), rules.Has("l7proto") }.Count(static kind => kind) > 1)
                {
                    context.Reject(rules, $"{itemPath}.rules", "one rules block mixes layer-7 protocols (http, dns, kafka, l7proto); write one toPorts entry per protocol");
                }

                if (dns is not null && direction == Direction.Ingress)
                {
                    context.Reject(rules["dns"], $"{itemPath}.rules.dns", "DNS rules apply only to egress");
                }

                if (deny && (http is not null || dns is not null))
                {
                    context.Reject(rules, $"{itemPath}.rules", "layer-7 rules are not allowed in a deny rule");
                }

                // HTTP rules need TCP: a port that also (or only) means UDP or SCTP makes Cilium refuse the policy.
                if (http is not null && ports.Any(static port => port.Protocols.Count != 1 || port.Protocols[0] != Protocol.Tcp))
                {
                    context.Reject(rules["http"], $"{itemPath}.rules.http", "HTTP rules apply only to TCP ports; give every port of this entry 'protocol: TCP'");
                }

                if ((http is not null || dns is not null) && (ports.Count == 0 || ports.Any(static port => port.PortName is null && port.Port is null)))
                {
                    context.Reject(rules, $"{itemPath}.rules", "layer-7 rules need a port (not 0): the proxy listens per port");
                }

                if (dns is not null && ports.Any(static port => port.EndPort is not null))
                {
                    context.Reject(rules["dns"], $"{itemPath}.rules.dns", "DNS rules do not support port ranges");
                }
            }

            result.Add(new CiliumPortRuleSpec { Ports = ports, Http = http, Dns = dns });
        }

        return result;
    }

    private static CiliumPortSpec? Port(MappingNode port, string path, PolicyContext context)
    {
        var reader = context.Reader;
        reader.KnownFields(port, path, "port", "endPort", "protocol");
        var protocols = Protocols.Transport;
        switch (reader.Text(port, "protocol", $"{path}.protocol"))
        {
            case null or "ANY":
                break;
            case "TCP":
                protocols = [Protocol.Tcp];
                break;
            case "UDP":
                protocols = [Protocol.Udp];
                break;
            case "SCTP":
                protocols = [Protocol.Sctp];
                break;
            case var other:
                reader.Error(DiagnosticCodes.InvalidProtocol, port["protocol"], $"{path}.protocol", $"'{other}' is not a protocol; use TCP, UDP, SCTP or ANY");
                return null;
        }

        int? number = null;
        string? name = null;
        if (port["port"] is not ScalarNode { IsNull: false, Value.Length: > 0 })
        {
            // "0" means every port; leaving the port out is refused by the agent.
            context.Reject(port, $"{path}.port", "port must be specified (\"0\" means every port)");
        }
        else if (port["port"] is ScalarNode portNode)
        {
            if (int.TryParse(portNode.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                if (value > 65535)
                {
                    reader.Error(DiagnosticCodes.InvalidPort, portNode, $"{path}.port", $"port {value} is not between 0 (every port) and 65535");
                    return null;
                }

                number = value == 0 ? null : value;
            }
            else if (KubernetesNames.CheckPortName(portNode.Value) is { } problem)
            {
                reader.Error(DiagnosticCodes.InvalidPort, portNode, $"{path}.port", problem);
                return null;
            }
            else
            {
                name = portNode.Value;
            }
        }

        var endPort = reader.Integer(port, "endPort", $"{path}.endPort");
        if (endPort is not null && (name is not null || number is null || endPort < number || endPort > 65535))
        {
            context.Reject(port["endPort"], $"{path}.endPort", $"endPort {endPort} needs a numeric port not above it, and at most 65535");
            return null;
        }

        return new CiliumPortSpec { Protocols = protocols, Port = number, EndPort = (int?)endPort, PortName = name };
    }

    private static HttpRuleSpec? Http(MappingNode rule, string path, PolicyContext context)
    {
        var reader = context.Reader;
        reader.KnownFields(rule, path, "method", "path", "host", "headers", "headerMatches");
        Regex? Expression(string key)
        {
            if (reader.Text(rule, key, $"{path}.{key}") is not { } text)
            {
                return null;
            }

            try
            {
                return HttpRuleSpec.Compile(text);
            }
            catch (ArgumentException error)
            {
                context.Reject(rule[key], $"{path}.{key}", $"'{text}' is not a valid regular expression: {error.Message}");
                return null;
            }
            catch (NotSupportedException error)
            {
                context.Reject(rule[key], $"{path}.{key}", $"'{text}' uses a construct that cannot be matched in linear time (backreferences or lookaround): {error.Message}");
                return null;
            }
        }

        var headers = new List<(string, string?)>();
        foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(rule, "headers", $"{path}.headers"), $"{path}.headers"))
        {
            if (reader.Text(item, itemPath) is { } header)
            {
                // "Name", "Name: value" or "Name value": split at the first space, a trailing ':' is not part of the name.
                var text = header.Trim();
                var space = text.IndexOf(' ', StringComparison.Ordinal);
                headers.Add(space < 0 ? (text.TrimEnd(':'), null) : (text[..space].TrimEnd(':'), text[(space + 1)..].Trim()));
            }
        }

        foreach (var (item, itemPath, _) in FieldReader.Items(reader.List(rule, "headerMatches", $"{path}.headerMatches"), $"{path}.headerMatches"))
        {
            if (reader.ItemMap(item, itemPath) is { } match && reader.Text(match, "name", $"{itemPath}.name", required: true) is { } headerName)
            {
                if (match.Has("secret") || match.Has("mismatch"))
                {
                    reader.Warning(DiagnosticCodes.UnsupportedFeature, match, itemPath, "header secrets and mismatch actions are not evaluated by Palisade; the header must be present with the given value");
                }

                headers.Add((headerName, (match["value"] as ScalarNode)?.Value));
            }
        }

        return new HttpRuleSpec { Method = Expression("method"), Path = Expression("path"), Host = Expression("host"), Headers = headers };
    }

    [GeneratedRegex("^[a-zA-Z0-9._-]+\\.?$", RegexOptions.CultureInvariant)]
    private static partial Regex NameCharacters();

    [GeneratedRegex("^[a-zA-Z0-9._*-]+\\.?$", RegexOptions.CultureInvariant)]
    private static partial Regex PatternCharacters();
}
