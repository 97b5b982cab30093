using Palisade.Diagnostics;
using Palisade.Manifests.Yaml;
using Palisade.Model;
using Palisade.Sets;

namespace Palisade.Manifests;

/// <summary>
/// Reads the cluster-wide policies of <c>policy.networking.k8s.io</c>: AdminNetworkPolicy and
/// BaselineAdminNetworkPolicy (<c>v1alpha1</c>) and ClusterNetworkPolicy (<c>v1alpha2</c>), checking
/// them as the API server's schema does: a priority from 0 to 1000, a subject with exactly one form,
/// rules with an action their tier allows and at least one peer, peers and ports with exactly one
/// field each, domain names only on Accept rules, no named ports towards networks, nodes or names.
/// </summary>
internal static partial class AdminPolicyDecoder
{
    private static readonly string[] PortForms = ["portNumber", "namedPort", "portRange"];
    private static readonly string[] ProtocolForms = ["tcp", "udp", "sctp", "destinationNamedPort"];

    [System.Text.RegularExpressions.GeneratedRegex(@"^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.)+[a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?\.?$", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex DomainName();

    public static void Decode(string kind, MappingNode map, FieldReader reader, ObjectCollection into)
    {
        var cnp = kind == "ClusterNetworkPolicy";
        var baseline = kind == "BaselineAdminNetworkPolicy";
        var metadata = reader.Map(map, "metadata", "metadata", required: true);
        var name = metadata is null ? null : reader.Text(metadata, "name", "metadata.name", required: true);
        if (name is null)
        {
            return;
        }

        reader.Subject = $"{kind} {name}";
        if (baseline && name != "default")
        {
            reader.Error(DiagnosticCodes.BaselineName, metadata!["name"], "metadata.name", $"a BaselineAdminNetworkPolicy must be named 'default', not '{name}': there is one per cluster");
        }

        var spec = reader.Map(map, "spec", "spec", required: true) ?? new MappingNode(map.Location, []);
        reader.KnownFields(spec, "spec", cnp ? ["tier", "priority", "subject", "ingress", "egress"] : baseline ? ["subject", "ingress", "egress"] : ["priority", "subject", "ingress", "egress"]);
        var tier = baseline ? AdminTier.Baseline : AdminTier.Admin;
        if (cnp)
        {
            switch (reader.Text(spec, "tier", "spec.tier", required: true))
            {
                case "Admin":
                    break;
                case "Baseline":
                    tier = AdminTier.Baseline;
                    baseline = true;
                    break;
                case { } other:
                    reader.Error(DiagnosticCodes.InvalidAction, spec["tier"], "spec.tier", $"'{other}' is not a tier; use Admin or Baseline");
                    break;
            }
        }

        var priority = 0;
        if (!baseline || cnp)
        {
            var value = reader.Integer(spec, "priority", "spec.priority");
            if (value is null && !spec.Has("priority"))
            {
                reader.Error(DiagnosticCodes.MissingField, spec, "spec.priority", "'priority' is required (0-1000, lower is evaluated first)", spec.Location);
            }
            else if (value is < 0 or > 1000)
            {
                reader.Error(DiagnosticCodes.InvalidPriority, spec["priority"], "spec.priority", $"priority {value} is not between 0 and 1000");
            }
            else if (value is not null)
            {
                priority = (int)value.Value;
            }
        }

        var subject = Subject(spec, reader);
        var ingress = Rules(spec, reader, Direction.Ingress, baseline, cnp);
        var egress = Rules(spec, reader, Direction.Egress, baseline, cnp);
        if (subject is null)
        {
            return;
        }

        into.AdminNetworkPolicies.Add(new AdminNetworkPolicySpec
        {
            Kind = kind,
            Name = name,
            Tier = tier,
            Priority = priority,
            Subject = subject,
            Ingress = ingress,
            Egress = egress,
            Location = map.Location,
        });
        into.Locations.Add((new ObjectKey(kind, string.Empty, name), map.Location));
    }

    private static AdminSubjectSpec? Subject(MappingNode spec, FieldReader reader)
    {
        var subject = reader.Map(spec, "subject", "spec.subject");
        if (subject is null)
        {
            reader.Error(DiagnosticCodes.InvalidSubject, spec, "spec.subject", "'subject' is required: set 'namespaces' or 'pods'", spec.Location);
            return null;
        }

        reader.KnownFields(subject, "spec.subject", "namespaces", "pods");
        var (namespaces, podNamespaces, pods, count) = NamespacesOrPods(subject, reader, "spec.subject");
        if (count != 1)
        {
            reader.Error(DiagnosticCodes.InvalidSubject, subject, "spec.subject", count == 0
                ? "the subject is empty: set exactly one of 'namespaces' or 'pods' ('namespaces: {}' selects every pod)"
                : "the subject sets both 'namespaces' and 'pods': set exactly one");
            return null;
        }

        return new AdminSubjectSpec { Namespaces = namespaces, PodNamespaces = podNamespaces, Pods = pods };
    }

    /// <summary>Reads the <c>namespaces</c> and <c>pods</c> forms; returns how many of them are present.</summary>
    private static (LabelSelectorSpec? Namespaces, LabelSelectorSpec? PodNamespaces, LabelSelectorSpec? Pods, int Count) NamespacesOrPods(MappingNode map, FieldReader reader, string path)
    {
        var count = 0;
        LabelSelectorSpec? namespaces = null, podNamespaces = null, pods = null;
        if (map.Has("namespaces"))
        {
            count++;
            namespaces = reader.Selector(map, "namespaces", $"{path}.namespaces") ?? LabelSelectorSpec.Everything;
        }

        if (map.Has("pods"))
        {
            count++;
            if (reader.Map(map, "pods", $"{path}.pods") is { } podsMap)
            {
                // An absent selector selects every pod or namespace, as an empty one does (netpol-analyzer's suite relies on it).
                reader.KnownFields(podsMap, $"{path}.pods", "namespaceSelector", "podSelector");
                podNamespaces = reader.Selector(podsMap, "namespaceSelector", $"{path}.pods.namespaceSelector") ?? LabelSelectorSpec.Everything;
                pods = reader.Selector(podsMap, "podSelector", $"{path}.pods.podSelector") ?? LabelSelectorSpec.Everything;
            }
        }

        return (namespaces, podNamespaces, pods, count);
    }

    private static List<AdminRuleSpec> Rules(MappingNode spec, FieldReader reader, Direction direction, bool baseline, bool cnp)
    {
        var key = direction == Direction.Ingress ? "ingress" : "egress";
        var peerKey = direction == Direction.Ingress ? "from" : "to";
        var rules = new List<AdminRuleSpec>();
        foreach (var (item, path, _) in FieldReader.Items(reader.List(spec, key, $"spec.{key}"), $"spec.{key}"))
        {
            if (reader.ItemMap(item, path) is not { } rule)
            {
                continue;
            }

            reader.KnownFields(rule, path, "name", "action", peerKey, cnp ? "protocols" : "ports");
            var action = Action(rule, reader, path, baseline, cnp);
            var peers = Peers(rule, reader, direction, $"{path}.{peerKey}", peerKey, cnp);
            var ports = cnp
                ? reader.List(rule, "protocols", $"{path}.protocols") is { } protocolList ? ProtocolEntries(protocolList, reader, $"{path}.protocols") : null
                : reader.List(rule, "ports", $"{path}.ports") is { } portList ? Ports(portList, reader, $"{path}.ports") : null;
            if (action is null || peers is null)
            {
                continue;
            }

            if (peers.Any(static p => p.DomainNames is not null) && action != AdminAction.Allow)
            {
                reader.Error(DiagnosticCodes.InvalidAdminPeer, rule["action"], $"{path}.action", "domainNames peers are allowed only in Accept rules; deny by networks, or deny everything else at a lower precedence");
                continue;
            }

            // The v1alpha2 schema forbids this; in v1alpha1 such a port simply matches nothing there.
            if (cnp && ports is not null && ports.Any(static p => p.PortName is not null)
                && peers.Any(static p => p.NetworkAddresses is not null || p.Nodes is not null || p.DomainNames is not null))
            {
                reader.Error(DiagnosticCodes.InvalidAdminPort, rule, $"{path}.{(cnp ? "protocols" : "ports")}", "a named port cannot be used with networks, nodes or domainNames peers: they have no container ports to give the name a number");
                continue;
            }

            rules.Add(new AdminRuleSpec { Name = (rule["name"] as ScalarNode)?.Value, Action = action.Value, Peers = peers, Ports = ports });
        }

        return rules;
    }

    private static AdminAction? Action(MappingNode rule, FieldReader reader, string path, bool baseline, bool cnp)
    {
        var text = reader.Text(rule, "action", $"{path}.action");
        switch (text)
        {
            case "Allow" when !cnp:
            case "Accept" when cnp:
                return AdminAction.Allow;
            case "Pass" when cnp:
                return AdminAction.Pass;
            case "Deny":
                return AdminAction.Deny;
            case "Pass" when !baseline:
                return AdminAction.Pass;
            case null:
                reader.Error(DiagnosticCodes.InvalidAction, rule, $"{path}.action", cnp ? "'action' is required: Accept, Deny or Pass" : baseline ? "'action' is required: Allow or Deny" : "'action' is required: Allow, Deny or Pass");
                return null;
            default:
                reader.Error(DiagnosticCodes.InvalidAction, rule["action"], $"{path}.action", cnp
                    ? $"'{text}' is not an action of a ClusterNetworkPolicy; use Accept, Deny or Pass"
                    : baseline
                        ? $"'{text}' is not an action of a BaselineAdminNetworkPolicy; use Allow or Deny"
                        : $"'{text}' is not an action; use Allow, Deny or Pass");
                return null;
        }
    }

    private static List<AdminPeerSpec>? Peers(MappingNode rule, FieldReader reader, Direction direction, string path, string peerKey, bool cnp)
    {
        var list = reader.List(rule, peerKey, path);
        if (list is null || list.Items.Count == 0)
        {
            reader.Error(DiagnosticCodes.InvalidAdminPeer, rule[peerKey] ?? rule, path, $"'{peerKey}' must list at least one peer");
            return null;
        }

        var peers = new List<AdminPeerSpec>();
        var valid = true;
        foreach (var (item, itemPath, _) in FieldReader.Items(list, path))
        {
            if (reader.ItemMap(item, itemPath) is not { } peer)
            {
                valid = false;
                continue;
            }

            string[] fields = direction == Direction.Ingress ? ["namespaces", "pods"] : cnp ? ["namespaces", "pods", "networks", "nodes", "domainNames"] : ["namespaces", "pods", "networks", "nodes"];
            reader.KnownFields(peer, itemPath, fields);
            var present = fields.Count(peer.Has);
            if (present != 1)
            {
                reader.Error(DiagnosticCodes.InvalidAdminPeer, peer, itemPath, present == 0
                    ? $"a peer must set exactly one of {string.Join(", ", fields)}; this one sets none"
                    : $"a peer must set exactly one of {string.Join(", ", fields)}; write several peers instead");
                valid = false;
                continue;
            }

            if (peer.Has("networks"))
            {
                var networks = new List<string>();
                var addresses = IpSet.Empty;
                foreach (var (cidrNode, cidrPath, _) in FieldReader.Items(reader.List(peer, "networks", $"{itemPath}.networks"), $"{itemPath}.networks"))
                {
                    if (reader.Text(cidrNode, cidrPath) is not { } cidr)
                    {
                        valid = false;
                    }
                    else if (!IpPrefix.TryParse(cidr, out var prefix, out var error))
                    {
                        reader.Error(DiagnosticCodes.InvalidCidr, cidrNode, cidrPath, error);
                        valid = false;
                    }
                    else
                    {
                        networks.Add(cidr);
                        addresses = addresses.Union(prefix.ToSet());
                    }
                }

                if (networks.Count == 0 && valid)
                {
                    reader.Error(DiagnosticCodes.InvalidAdminPeer, peer, $"{itemPath}.networks", "'networks' must list at least one CIDR block");
                    valid = false;
                }

                peers.Add(new AdminPeerSpec { Networks = networks, NetworkAddresses = addresses });
            }
            else if (peer.Has("domainNames"))
            {
                var names = new List<DnsPattern>();
                foreach (var (nameNode, namePath, _) in FieldReader.Items(reader.List(peer, "domainNames", $"{itemPath}.domainNames"), $"{itemPath}.domainNames"))
                {
                    if (reader.Text(nameNode, namePath) is not { } name)
                    {
                        valid = false;
                    }
                    else if (!DomainName().IsMatch(name))
                    {
                        reader.Error(DiagnosticCodes.InvalidAdminPeer, nameNode, namePath, $"'{name}' is not a domain name: write labels separated by dots, optionally starting with '*.' (e.g. *.pypi.org)");
                        valid = false;
                    }
                    else
                    {
                        names.Add(DnsPattern.Create(name, DnsPatternStyle.LeadingLabels));
                    }
                }

                if (names.Count == 0 && valid)
                {
                    reader.Error(DiagnosticCodes.InvalidAdminPeer, peer, $"{itemPath}.domainNames", "'domainNames' must list at least one name");
                    valid = false;
                }

                peers.Add(new AdminPeerSpec { DomainNames = names });
            }
            else if (peer.Has("nodes"))
            {
                peers.Add(new AdminPeerSpec { Nodes = reader.Selector(peer, "nodes", $"{itemPath}.nodes") ?? LabelSelectorSpec.Everything });
            }
            else
            {
                var (namespaces, podNamespaces, pods, _) = NamespacesOrPods(peer, reader, itemPath);
                peers.Add(new AdminPeerSpec { Namespaces = namespaces, PodNamespaces = podNamespaces, Pods = pods });
            }
        }

        return valid ? peers : null;
    }

    /// <summary>ClusterNetworkPolicy <c>protocols</c>: <c>tcp</c>, <c>udp</c> or <c>sctp</c> with a destination port or range, or <c>destinationNamedPort</c>.</summary>
    private static List<AdminPortSpec> ProtocolEntries(SequenceNode list, FieldReader reader, string path)
    {
        var ports = new List<AdminPortSpec>();
        if (list.Items.Count == 0)
        {
            reader.Error(DiagnosticCodes.InvalidAdminPort, list, path, "'protocols' must list at least one entry; leave it out to match every port");
        }

        foreach (var (item, itemPath, _) in FieldReader.Items(list, path))
        {
            if (reader.ItemMap(item, itemPath) is not { } entry)
            {
                continue;
            }

            reader.KnownFields(entry, itemPath, ProtocolForms);
            var present = ProtocolForms.Count(entry.Has);
            if (present != 1)
            {
                reader.Error(DiagnosticCodes.InvalidAdminPort, entry, itemPath, "an entry must set exactly one of tcp, udp, sctp, destinationNamedPort");
                continue;
            }

            if (entry.Has("destinationNamedPort"))
            {
                var name = reader.Text(entry, "destinationNamedPort", $"{itemPath}.destinationNamedPort", required: true);
                if (name is not null && KubernetesNames.CheckPortName(name) is { } problem)
                {
                    reader.Error(DiagnosticCodes.InvalidPort, entry["destinationNamedPort"], $"{itemPath}.destinationNamedPort", problem);
                }
                else if (name is not null)
                {
                    ports.Add(new AdminPortSpec { PortName = name });
                }

                continue;
            }

            var key = entry.Has("tcp") ? "tcp" : entry.Has("udp") ? "udp" : "sctp";
            var protocol = key == "tcp" ? Protocol.Tcp : key == "udp" ? Protocol.Udp : Protocol.Sctp;
            var fieldPath = $"{itemPath}.{key}.destinationPort";
            if (reader.Map(entry, key, $"{itemPath}.{key}", required: true) is not { } body
                || reader.Map(body, "destinationPort", fieldPath, required: true) is not { } port)
            {
                continue;
            }

            reader.KnownFields(port, fieldPath, "number", "range");
            if (port.Has("number") == port.Has("range"))
            {
                reader.Error(DiagnosticCodes.InvalidAdminPort, port, fieldPath, "set exactly one of 'number' and 'range'");
                continue;
            }

            if (port.Has("number"))
            {
                var number = reader.Integer(port, "number", $"{fieldPath}.number");
                if (number is < 1 or > 65535)
                {
                    reader.Error(DiagnosticCodes.InvalidPort, port["number"], $"{fieldPath}.number", $"port {number} is not between 1 and 65535");
                }
                else if (number is not null)
                {
                    ports.Add(new AdminPortSpec { Protocol = protocol, Port = (int)number.Value });
                }

                continue;
            }

            if (reader.Map(port, "range", $"{fieldPath}.range", required: true) is not { } range)
            {
                continue;
            }

            var start = reader.Integer(range, "start", $"{fieldPath}.range.start");
            var end = reader.Integer(range, "end", $"{fieldPath}.range.end");
            if (start is null || end is null || start < 1 || end > 65535 || start >= end)
            {
                reader.Error(DiagnosticCodes.InvalidPortRange, range, $"{fieldPath}.range", $"range {start}-{end} is invalid: start and end must be between 1 and 65535, start below end");
                continue;
            }

            ports.Add(new AdminPortSpec { Protocol = protocol, Port = (int)start.Value, EndPort = (int)end.Value });
        }

        return ports;
    }

    private static List<AdminPortSpec> Ports(SequenceNode list, FieldReader reader, string path)
    {
        var ports = new List<AdminPortSpec>();
        foreach (var (item, itemPath, _) in FieldReader.Items(list, path))
        {
            if (reader.ItemMap(item, itemPath) is not { } port)
            {
                continue;
            }

            reader.KnownFields(port, itemPath, "portNumber", "namedPort", "portRange");
            var present = PortForms.Count(port.Has);
            if (present != 1)
            {
                reader.Error(DiagnosticCodes.InvalidAdminPort, port, itemPath, present == 0
                    ? "a port must set exactly one of portNumber, namedPort, portRange; this one sets none"
                    : "a port must set exactly one of portNumber, namedPort, portRange; write several ports instead");
                continue;
            }

            if (port.Has("namedPort"))
            {
                var name = reader.Text(port, "namedPort", $"{itemPath}.namedPort", required: true);
                if (name is not null && KubernetesNames.CheckPortName(name) is { } problem)
                {
                    reader.Error(DiagnosticCodes.InvalidPort, port["namedPort"], $"{itemPath}.namedPort", problem);
                }
                else if (name is not null)
                {
                    ports.Add(new AdminPortSpec { PortName = name });
                }

                continue;
            }

            var isRange = port.Has("portRange");
            var fieldPath = $"{itemPath}.{(isRange ? "portRange" : "portNumber")}";
            if (reader.Map(port, isRange ? "portRange" : "portNumber", fieldPath, required: true) is not { } body)
            {
                continue;
            }

            reader.KnownFields(body, fieldPath, isRange ? ["protocol", "start", "end"] : ["protocol", "port"]);
            var protocol = Protocol.Tcp;
            if (reader.Text(body, "protocol", $"{fieldPath}.protocol") is { } protocolText && !(protocolText is "TCP" or "UDP" or "SCTP" && Protocols.TryParse(protocolText, out protocol)))
            {
                reader.Error(DiagnosticCodes.InvalidProtocol, body["protocol"], $"{fieldPath}.protocol", $"'{protocolText}' is not a protocol; use TCP, UDP or SCTP");
                continue;
            }

            var start = reader.Integer(body, isRange ? "start" : "port", $"{fieldPath}.{(isRange ? "start" : "port")}");
            var end = isRange ? reader.Integer(body, "end", $"{fieldPath}.end") : start;
            if (start is null || end is null)
            {
                reader.Error(DiagnosticCodes.MissingField, body, fieldPath, isRange ? "'start' and 'end' are required" : "'port' is required");
                continue;
            }

            if (start is < 1 or > 65535 || end is < 1 or > 65535 || end < start)
            {
                reader.Error(isRange ? DiagnosticCodes.InvalidPortRange : DiagnosticCodes.InvalidPort, body, fieldPath, isRange
                    ? $"port range {start}-{end} is invalid: both ends must be between 1 and 65535 and end not below start"
                    : $"port {start} is not between 1 and 65535");
                continue;
            }

            ports.Add(new AdminPortSpec { Protocol = protocol, Port = (int)start.Value, EndPort = (int)end.Value });
        }

        return ports;
    }
}
