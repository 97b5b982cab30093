using Palisade.Diagnostics;
using Palisade.Manifests.Yaml;
using Palisade.Model;
using Palisade.Sets;

namespace Palisade.Manifests;

/// <summary>
/// Reads <c>policy.networking.k8s.io/v1alpha1</c> AdminNetworkPolicy and BaselineAdminNetworkPolicy,
/// checking them as the API server's schema does: a priority from 0 to 1000, a subject with exactly one
/// form, rules with an action their tier allows and at least one peer, peers and ports with exactly
/// one field each.
/// </summary>
internal static class AdminPolicyDecoder
{
    private static readonly string[] PortForms = ["portNumber", "namedPort", "portRange"];

    public static void Decode(string kind, MappingNode map, FieldReader reader, ObjectCollection into)
    {
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
        reader.KnownFields(spec, "spec", baseline ? ["subject", "ingress", "egress"] : ["priority", "subject", "ingress", "egress"]);
        var priority = 0;
        if (!baseline)
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
        var ingress = Rules(spec, reader, Direction.Ingress, baseline);
        var egress = Rules(spec, reader, Direction.Egress, baseline);
        if (subject is null)
        {
            return;
        }

        into.AdminNetworkPolicies.Add(new AdminNetworkPolicySpec
        {
            Kind = kind,
            Name = name,
            Tier = baseline ? AdminTier.Baseline : AdminTier.Admin,
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

    private static List<AdminRuleSpec> Rules(MappingNode spec, FieldReader reader, Direction direction, bool baseline)
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

            reader.KnownFields(rule, path, "name", "action", peerKey, "ports");
            var action = Action(rule, reader, path, baseline);
            var peers = Peers(rule, reader, direction, $"{path}.{peerKey}", peerKey);
            var ports = reader.List(rule, "ports", $"{path}.ports") is { } portList ? Ports(portList, reader, $"{path}.ports") : null;
            if (action is null || peers is null)
            {
                continue;
            }

            rules.Add(new AdminRuleSpec { Name = (rule["name"] as ScalarNode)?.Value, Action = action.Value, Peers = peers, Ports = ports });
        }

        return rules;
    }

    private static AdminAction? Action(MappingNode rule, FieldReader reader, string path, bool baseline)
    {
        var text = reader.Text(rule, "action", $"{path}.action");
        switch (text)
        {
            case "Allow":
                return AdminAction.Allow;
            case "Deny":
                return AdminAction.Deny;
            case "Pass" when !baseline:
                return AdminAction.Pass;
            case null:
                reader.Error(DiagnosticCodes.InvalidAction, rule, $"{path}.action", baseline ? "'action' is required: Allow or Deny" : "'action' is required: Allow, Deny or Pass");
                return null;
            default:
                reader.Error(DiagnosticCodes.InvalidAction, rule["action"], $"{path}.action", baseline
                    ? $"'{text}' is not an action of a BaselineAdminNetworkPolicy; use Allow or Deny"
                    : $"'{text}' is not an action; use Allow, Deny or Pass");
                return null;
        }
    }

    private static List<AdminPeerSpec>? Peers(MappingNode rule, FieldReader reader, Direction direction, string path, string peerKey)
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

            string[] fields = direction == Direction.Ingress ? ["namespaces", "pods"] : ["namespaces", "pods", "networks", "nodes"];
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
