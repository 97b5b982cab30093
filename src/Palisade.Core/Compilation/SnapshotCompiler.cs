using System.Collections.Frozen;
using System.Diagnostics;
using Palisade.Model;
using Palisade.Sets;
using Palisade.Verdicts;

namespace Palisade.Compilation;

/// <summary>
/// Compiles a <see cref="ClusterSpec"/> into a <see cref="PolicySnapshot"/>: pods grouped into
/// identities, every policy resolved to identity sets, and the connections each direction allows
/// computed once per class of alike identities, so that a verdict is two table look-ups.
/// </summary>
/// <remarks>
/// The work, in order: pods are grouped by namespace, labels, the named ports some policy refers to,
/// and (with <see cref="IpBlockScope.All"/>) the CIDR peers their addresses fall in. Every selector is
/// evaluated once over those groups through an inverted label index. Groups that every policy subject
/// and peer treats alike are merged into identities. Identities selected by the same policies share a
/// direction class, whose row of connections to every peer identity (and map of outside addresses) is
/// computed once. A pair's connections are the intersection of the source's egress row and the
/// destination's ingress row, so memory grows with classes times identities, not identities squared.
/// </remarks>
public static class SnapshotCompiler
{
    private static long s_revision;

    /// <summary>Compiles <paramref name="spec"/>. The snapshot gets the next process-wide revision unless one is given.</summary>
    public static PolicySnapshot Compile(ClusterSpec spec, SnapshotOptions? options = null, long? revision = null)
    {
        var stopwatch = Stopwatch.StartNew();
        var builder = new Builder(spec, options ?? SnapshotOptions.Default, revision ?? Interlocked.Increment(ref s_revision));
        return builder.Build(stopwatch);
    }

    private sealed class Builder(ClusterSpec spec, SnapshotOptions options, long revision)
    {
        private readonly ConnectionTable _connections = new();
        private readonly PortMapTable _portMaps = new();
        private readonly List<NamespaceSpec> _namespaces = [];
        private readonly Dictionary<string, int> _namespaceIndex = new(StringComparer.Ordinal);
        private readonly List<(PodSpec Spec, bool FromWorkload)> _pods = [];

        // Pod groups: pods alike in namespace, labels, referenced named ports and CIDR peers.
        private readonly List<int> _groupNamespace = [];
        private readonly List<LabelSet> _groupLabels = [];
        private readonly List<int> _groupPortMap = [];
        private readonly List<int[]> _groupAddressBlocks = [];
        private readonly List<string> _groupServiceAccount = [];

        // Nodes' addresses (Cilium's CIDR and world peers never match them) and the API server's.
        private IpSet _nodeAddresses = IpSet.Empty;

        // Every node by name with its labels (none for a node known only from its pods' host addresses).
        private (string Key, LabelSet Labels)[]? _nodeLabels;
        private IpSet _apiServerAddresses = IpSet.Empty;
        private int[] _podGroup = [];

        private readonly List<(string Phase, double Milliseconds)> _phases = [];
        private double _lastMark;

        private void Mark(Stopwatch stopwatch, string phase)
        {
            var now = stopwatch.Elapsed.TotalMilliseconds;
            _phases.Add((phase, now - _lastMark));
            _lastMark = now;
        }

        public PolicySnapshot Build(Stopwatch stopwatch)
        {
            ResolveNamespaces();
            ResolvePods();
            foreach (var address in spec.Nodes.SelectMany(static n => n.Addresses).Concat(_pods.Select(static p => p.Spec.HostAddress).OfType<UInt128>()))
            {
                _nodeAddresses = _nodeAddresses.Union(IpSet.Single(address));
            }

            foreach (var address in spec.EndpointSlices.Where(static e => e.IsApiServer).SelectMany(static e => e.Addresses))
            {
                _apiServerAddresses = _apiServerAddresses.Union(IpSet.Single(address));
            }

            var referencedNames = ReferencedPortNames();
            var blocks = options.IpBlockScope == IpBlockScope.All ? DistinctIpBlocks() : [];
            GroupPods(referencedNames, blocks);
            Mark(stopwatch, "group");

            var groupCount = _groupLabels.Count;
            var podIndex = new SelectorIndex(_groupLabels);
            var namespaceIndex = new SelectorIndex([.. _namespaces.Select(static n => n.Labels)]);
            var groupsOfNamespace = new Bitset[_namespaces.Count];
            for (var n = 0; n < groupsOfNamespace.Length; n++)
            {
                groupsOfNamespace[n] = new Bitset(groupCount);
            }

            for (var g = 0; g < groupCount; g++)
            {
                groupsOfNamespace[_groupNamespace[g]].Set(g);
            }

            var blockGroups = new Bitset[blocks.Count];
            for (var b = 0; b < blocks.Count; b++)
            {
                blockGroups[b] = new Bitset(groupCount);
            }

            for (var g = 0; g < groupCount; g++)
            {
                foreach (var b in _groupAddressBlocks[g])
                {
                    blockGroups[b].Set(g);
                }
            }

            var ciliumIndex = spec.CiliumPolicies.Count > 0 ? new SelectorIndex([.. Enumerable.Range(0, groupCount).Select(CiliumLabels)]) : null;
            var context = new GroupContext(groupCount, podIndex, namespaceIndex, groupsOfNamespace, _namespaceIndex, blocks, blockGroups) { CiliumSelector = ciliumIndex };
            // Policies in evaluation order: admin by priority, then the namespace tier, then the baseline.
            var drafts = spec.AdminNetworkPolicies.Where(static p => p.Tier == AdminTier.Admin)
                .OrderBy(static p => p.Priority).ThenBy(static p => p.Name, StringComparer.Ordinal)
                .Select(p => DraftAdminPolicy(p, context))
                .Concat(spec.NetworkPolicies.Select(p => DraftPolicy(p, context)))
                .Concat(spec.CiliumPolicies.SelectMany(p => p.Blocks.Select(b => DraftCiliumBlock(p, b, context))))
                .Concat(spec.AdminNetworkPolicies.Where(static p => p.Tier == AdminTier.Baseline)
                    .OrderBy(static p => p.Priority).ThenBy(static p => p.Name, StringComparer.Ordinal)
                    .Select(p => DraftAdminPolicy(p, context)))
                .ToList();
            Mark(stopwatch, "select");

            // Merge groups that every subject and peer treats alike into identities.
            var (groupIdentity, identityCount) = Refine(groupCount, drafts);
            var identityPortMap = new int[identityCount];
            var identityNamespace = new int[identityCount];
            var identityLabels = new LabelSet[identityCount];
            for (var g = 0; g < groupCount; g++)
            {
                var identity = groupIdentity[g];
                identityPortMap[identity] = _groupPortMap[g];
                identityNamespace[identity] = _groupNamespace[g];
                identityLabels[identity] ??= _groupLabels[g];
            }

            Mark(stopwatch, "refine");
            var policies = new CompiledPolicy[drafts.Count];
            for (var p = 0; p < drafts.Count; p++)
            {
                policies[p] = drafts[p].Compile(p, groupIdentity, identityCount, _connections, IpSet.AllV4.Except(_nodeAddresses));
            }

            Mark(stopwatch, "rules");
            var ingress = BuildClasses(Direction.Ingress, policies, identityCount, identityPortMap);
            Mark(stopwatch, "ingress");
            var egress = BuildClasses(Direction.Egress, policies, identityCount, identityPortMap);
            Mark(stopwatch, "egress");

            var pods = new SnapshotPod[_pods.Count];
            var identityPods = new List<int>[identityCount];
            for (var i = 0; i < identityCount; i++)
            {
                identityPods[i] = [];
            }

            for (var i = 0; i < _pods.Count; i++)
            {
                var identity = groupIdentity[_podGroup[i]];
                pods[i] = new SnapshotPod(i, _pods[i].Spec, identity, _pods[i].FromWorkload);
                identityPods[identity].Add(i);
            }

            var identities = new SnapshotIdentity[identityCount];
            for (var i = 0; i < identityCount; i++)
            {
                identities[i] = new SnapshotIdentity(i, _namespaces[identityNamespace[i]].Name, identityLabels[i] ?? LabelSet.Empty, identityPods[i]);
            }

            var statistics = new CompileStatistics
            {
                Revision = revision,
                Pods = pods.Length,
                Identities = identityCount,
                Policies = policies.Length,
                IngressClasses = ingress.Rows.Length,
                EgressClasses = egress.Rows.Length,
                ConnectionSets = _connections.Count,
                Milliseconds = stopwatch.Elapsed.TotalMilliseconds,
                Phases = _phases,
            };

            return new PolicySnapshot(new SnapshotData
            {
                Revision = revision,
                Options = options,
                Spec = spec,
                Namespaces = [.. _namespaces],
                Pods = pods,
                Identities = identities,
                Policies = policies,
                Connections = _connections.ToArray(),
                IdentityPortMap = identityPortMap,
                PortMaps = _portMaps,
                Ingress = ingress,
                Egress = egress,
                Statistics = statistics,
                NodesByAddress = NodesByAddress(),
                ApiServerAddresses = _apiServerAddresses,
                HostPolicies = drafts.SelectMany(static (d, p) => (d.HostNodes ?? []).Select(node => (Node: node, Policy: p)))
                    .GroupBy(static h => h.Node, StringComparer.Ordinal)
                    .ToFrozenDictionary(static g => g.Key, static g => g.Select(static h => h.Policy).ToArray(), StringComparer.Ordinal),
            });
        }

        /// <summary>Every node address and its node: Node objects' addresses, then pods' host addresses on named nodes.</summary>
        private Dictionary<UInt128, string> NodesByAddress()
        {
            var nodes = new Dictionary<UInt128, string>();
            foreach (var node in spec.Nodes)
            {
                foreach (var address in node.Addresses)
                {
                    nodes.TryAdd(address, node.Name);
                }
            }

            foreach (var (pod, _) in _pods)
            {
                if (pod.HostAddress is { } host && pod.NodeName is { } name)
                {
                    nodes.TryAdd(host, name);
                }
            }

            return nodes;
        }

        private int NamespaceOf(string name)
        {
            if (!_namespaceIndex.TryGetValue(name, out var index))
            {
                index = _namespaces.Count;
                _namespaces.Add(NamespaceSpec.Create(name, declared: false));
                _namespaceIndex.Add(name, index);
            }

            return index;
        }

        private void ResolveNamespaces()
        {
            foreach (var ns in spec.Namespaces)
            {
                if (_namespaceIndex.TryGetValue(ns.Name, out var existing))
                {
                    _namespaces[existing] = ns;
                    continue;
                }

                _namespaceIndex.Add(ns.Name, _namespaces.Count);
                _namespaces.Add(ns with { Labels = ns.Labels.With(NamespaceSpec.NameLabel, ns.Name) });
            }

            foreach (var pod in spec.Pods)
            {
                NamespaceOf(pod.Namespace);
            }

            foreach (var workload in spec.Workloads)
            {
                NamespaceOf(workload.Namespace);
            }

            foreach (var policy in spec.NetworkPolicies)
            {
                NamespaceOf(policy.Namespace);
            }
        }

        private void ResolvePods()
        {
            foreach (var pod in spec.Pods)
            {
                _pods.Add((pod, false));
            }

            // A workload object stands for pods made from its template, unless the input already holds
            // pods that name it as their owner.
            var owned = new HashSet<WorkloadRef>(spec.Pods.Select(static p => p.Workload));
            foreach (var workload in spec.Workloads)
            {
                if (owned.Contains(workload.Ref))
                {
                    continue;
                }

                _pods.Add((new PodSpec
                {
                    Namespace = workload.Namespace,
                    Name = workload.Name,
                    Labels = workload.PodLabels,
                    Ports = workload.Ports,
                    HostNetwork = workload.HostNetwork,
                    Workload = workload.Ref,
                    Location = workload.Location,
                }, true));
            }
        }

        private HashSet<string> ReferencedPortNames()
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            var ports = spec.NetworkPolicies.SelectMany(static p => p.Ingress.Concat(p.Egress)).SelectMany(static r => (IEnumerable<IPortMatcher>?)r.Ports ?? [])
                .Concat(spec.CiliumPolicies.SelectMany(static p => p.Blocks).SelectMany(static b => b.Allow(Direction.Ingress).Concat(b.Deny(Direction.Ingress)))
                    .SelectMany(static r => r.ToPorts ?? []).SelectMany(static t => t.Ports))
                .Concat(spec.AdminNetworkPolicies.SelectMany(static p => p.Ingress.Concat(p.Egress)).SelectMany(static r => (IEnumerable<IPortMatcher>?)r.Ports ?? []));
            foreach (var port in ports)
            {
                if (port.PortName is not null)
                {
                    names.Add(port.PortName);
                }
            }

            return names;
        }

        /// <summary>The addresses of the nodes a <c>nodes</c> peer selects (Node objects' addresses).</summary>
        private IpSet NodeAddresses(LabelSelectorSpec selector)
        {
            var addresses = IpSet.Empty;
            foreach (var node in spec.Nodes)
            {
                if (selector.Matches(node.Labels))
                {
                    foreach (var address in node.Addresses)
                    {
                        addresses = addresses.Union(IpSet.Single(address));
                    }
                }
            }

            return addresses;
        }

        /// <summary>The outside addresses a cluster-wide peer matches: its networks, or its nodes' addresses.</summary>
        private IpSet PeerAddresses(AdminPeerSpec peer) =>
            peer.NetworkAddresses ?? (peer.Nodes is { } nodes ? NodeAddresses(nodes) : IpSet.Empty);

        /// <summary>
        /// The peers a Cilium rule's CIDR fields make, with the path explanations name them by: its own
        /// CIDRs, and each CIDR-set entry that names CiliumCIDRGroups, with the groups it found (a group
        /// that does not exist names nothing, as in Cilium until it is created), less the entry's except.
        /// Node addresses are left out: Cilium's CIDR peers never match nodes.
        /// </summary>
        private IEnumerable<(IpSet Addresses, string Path)> CiliumCidrPeers(CiliumRuleSpec rule, string field)
        {
            if (rule.Cidrs is { } own && (rule.CidrGroups is null || !own.IsEmpty))
            {
                yield return (own.Except(_nodeAddresses), $"{rule.Path}.{field}CIDR");
            }

            foreach (var reference in rule.CidrGroups ?? [])
            {
                var addresses = IpSet.Empty;
                var names = new List<string>();
                foreach (var group in spec.CidrGroups)
                {
                    if (reference.Matches(group))
                    {
                        addresses = addresses.Union(group.Cidrs);
                        names.Add(group.Name);
                    }
                }

                var found = names.Count == 0 ? "no CiliumCIDRGroup" : $"CiliumCIDRGroup {string.Join(", ", names)}";
                yield return (addresses.Except(reference.Except).Except(_nodeAddresses), $"{reference.Path} ({found})");
            }
        }

        private List<IpSet> DistinctIpBlocks()
        {
            var seen = new HashSet<IpSet>();
            var list = new List<IpSet>();
            var sets = spec.NetworkPolicies.SelectMany(static p => p.Ingress.Concat(p.Egress)).SelectMany(static r => r.Peers ?? [])
                .Where(static peer => peer.IpBlock is not null).Select(static peer => peer.IpBlock!.Addresses)
                .Concat(spec.AdminNetworkPolicies.SelectMany(static p => p.Ingress.Concat(p.Egress)).SelectMany(static r => r.Peers)
                    .Where(static peer => peer.NetworkAddresses is not null || peer.Nodes is not null).Select(PeerAddresses))
                .Concat(spec.CiliumPolicies.SelectMany(static p => p.Blocks)
                    .SelectMany(static b => b.Allow(Direction.Ingress).Concat(b.Allow(Direction.Egress)).Concat(b.Deny(Direction.Ingress)).Concat(b.Deny(Direction.Egress)))
                    .SelectMany(r => CiliumCidrPeers(r, string.Empty)).Select(static c => c.Addresses));
            foreach (var set in sets)
            {
                if (!set.IsEmpty && seen.Add(set))
                {
                    list.Add(set);
                }
            }

            return list;
        }

        private void GroupPods(HashSet<string> referencedNames, List<IpSet> blocks)
        {
            var groups = new Dictionary<GroupKey, int>();
            _podGroup = new int[_pods.Count];
            for (var i = 0; i < _pods.Count; i++)
            {
                var pod = _pods[i].Spec;
                var ns = _namespaceIndex[pod.Namespace];
                var portMap = referencedNames.Count == 0 ? 0 : _portMaps.Intern(pod.Ports, referencedNames);
                int[] inBlocks = [];
                if (blocks.Count > 0 && pod.Addresses.Count > 0)
                {
                    var hits = new List<int>();
                    for (var b = 0; b < blocks.Count; b++)
                    {
                        foreach (var address in pod.Addresses)
                        {
                            if (blocks[b].Contains(address))
                            {
                                hits.Add(b);
                                break;
                            }
                        }
                    }

                    inBlocks = [.. hits];
                }

                var key = new GroupKey(ns, pod.Labels, portMap, string.Join(",", inBlocks), pod.ServiceAccount);
                if (!groups.TryGetValue(key, out var group))
                {
                    group = _groupLabels.Count;
                    groups.Add(key, group);
                    _groupNamespace.Add(ns);
                    _groupLabels.Add(pod.Labels);
                    _groupServiceAccount.Add(pod.ServiceAccount);
                    _groupPortMap.Add(portMap);
                    _groupAddressBlocks.Add(inBlocks);
                }

                _podGroup[i] = group;
            }

            if (referencedNames.Count == 0)
            {
                _portMaps.Intern([], referencedNames);
            }
        }

        private static PolicyDraft DraftPolicy(NetworkPolicySpec policy, GroupContext context)
        {
            var ns = context.NamespaceIndex[policy.Namespace];
            var subjects = context.PodSelector.Evaluate(policy.PodSelector).Clone();
            subjects.And(context.GroupsOfNamespace[ns]);
            var reference = new PolicyReference("NetworkPolicy", policy.Namespace, policy.Name, policy.Location);
            return new PolicyDraft(
                reference,
                Tier.Namespace,
                subjects,
                policy.AffectsIngress,
                policy.AffectsEgress,
                [.. policy.Ingress.Select((rule, i) => DraftRule(policy, ns, Direction.Ingress, rule, $"spec.ingress[{i}]", context))],
                [.. policy.Egress.Select((rule, i) => DraftRule(policy, ns, Direction.Egress, rule, $"spec.egress[{i}]", context))]);
        }

        private static RuleDraft DraftRule(NetworkPolicySpec policy, int ns, Direction direction, NetworkPolicyRuleSpec rule, string path, GroupContext context)
        {
            if (rule.AllPeers)
            {
                return new RuleDraft(direction, path, [new PeerDraft(Bitset.Full(context.GroupCount), IpSet.All, path)], rule.Ports, true, AdminAction.Allow, null);
            }

            var field = direction == Direction.Ingress ? "from" : "to";
            var peers = new PeerDraft[rule.Peers!.Count];
            for (var i = 0; i < peers.Length; i++)
            {
                var peer = rule.Peers[i];
                var peerPath = $"{path}.{field}[{i}]";
                if (peer.IpBlock is { } block)
                {
                    var addresses = block.Addresses;
                    var groups = new Bitset(context.GroupCount);
                    var blockIndex = context.Blocks.IndexOf(addresses);
                    if (blockIndex >= 0)
                    {
                        groups.Or(context.BlockGroups[blockIndex]);
                    }

                    peers[i] = new PeerDraft(groups, addresses, peerPath);
                    continue;
                }

                Bitset members;
                if (peer.NamespaceSelector is { } namespaceSelector)
                {
                    members = new Bitset(context.GroupCount);
                    foreach (var n in context.NamespaceSelector.Evaluate(namespaceSelector).Members())
                    {
                        members.Or(context.GroupsOfNamespace[n]);
                    }
                }
                else
                {
                    members = context.GroupsOfNamespace[ns].Clone();
                }

                if (peer.PodSelector is { } podSelector)
                {
                    members.And(context.PodSelector.Evaluate(podSelector));
                }

                peers[i] = new PeerDraft(members, IpSet.Empty, peerPath);
            }

            return new RuleDraft(direction, path, peers, rule.Ports, true, AdminAction.Allow, null);
        }

        private PolicyDraft DraftAdminPolicy(AdminNetworkPolicySpec policy, GroupContext context)
        {
            var subjects = Pods(policy.Subject.Namespaces, policy.Subject.PodNamespaces, policy.Subject.Pods, context);
            var reference = new PolicyReference(policy.Kind, string.Empty, policy.Name, policy.Location)
            {
                Priority = policy.Tier == AdminTier.Admin ? policy.Priority : null,
            };
            return new PolicyDraft(
                reference,
                policy.Tier == AdminTier.Admin ? Tier.Admin : Tier.Baseline,
                subjects,
                policy.Ingress.Count > 0,
                policy.Egress.Count > 0,
                [.. policy.Ingress.Select((rule, i) => DraftAdminRule(Direction.Ingress, rule, $"spec.ingress[{i}]", context))],
                [.. policy.Egress.Select((rule, i) => DraftAdminRule(Direction.Egress, rule, $"spec.egress[{i}]", context))]);
        }

        private RuleDraft DraftAdminRule(Direction direction, AdminRuleSpec rule, string path, GroupContext context)
        {
            var field = direction == Direction.Ingress ? "from" : "to";
            var peers = new PeerDraft[rule.Peers.Count];
            for (var i = 0; i < peers.Length; i++)
            {
                var peer = rule.Peers[i];
                var peerPath = $"{path}.{field}[{i}]";
                if (peer.DomainNames is { } names)
                {
                    peers[i] = new PeerDraft(new Bitset(context.GroupCount), IpSet.Empty, peerPath) { Names = [.. names] };
                }
                else if (peer.NetworkAddresses is not null || peer.Nodes is not null)
                {
                    var addresses = PeerAddresses(peer);
                    var groups = new Bitset(context.GroupCount);
                    var blockIndex = context.Blocks.IndexOf(addresses);
                    if (blockIndex >= 0)
                    {
                        groups.Or(context.BlockGroups[blockIndex]);
                    }

                    peers[i] = new PeerDraft(groups, addresses, peerPath);
                }
                else
                {
                    peers[i] = new PeerDraft(Pods(peer.Namespaces, peer.PodNamespaces, peer.Pods, context), IpSet.Empty, peerPath);
                }
            }

            return new RuleDraft(direction, path, peers, rule.Ports, false, rule.Action, rule.Name);
        }

        private const string CiliumNamespaceKey = "io.kubernetes.pod.namespace";
        private const string CiliumNamespaceLabelPrefix = "io.cilium.k8s.namespace.labels.";

        /// <summary>
        /// A group's labels as Cilium's identities carry them: the pod's labels, less those Cilium
        /// filters out, plus its namespace, the namespace's labels, its service account and cluster.
        /// </summary>
        private LabelSet CiliumLabels(int group)
        {
            var pairs = new List<KeyValuePair<string, string>>();
            foreach (var label in _groupLabels[group])
            {
                if (!IsFilteredByCilium(label.Key))
                {
                    pairs.Add(label);
                }
            }

            var ns = _namespaces[_groupNamespace[group]];
            pairs.Add(new(CiliumNamespaceKey, ns.Name));
            foreach (var (key, value) in ns.Labels)
            {
                pairs.Add(new(CiliumNamespaceLabelPrefix + key, value));
            }

            pairs.Add(new("io.cilium.k8s.policy.serviceaccount", _groupServiceAccount[group]));
            pairs.Add(new("io.cilium.k8s.policy.cluster", "default"));
            return LabelSet.From(pairs);
        }

        /// <summary>Pod labels Cilium leaves out of identities (its default label filter), so selectors on them match nothing.</summary>
        private static bool IsFilteredByCilium(string key) =>
            key is "pod-template-hash" or "controller-revision-hash" or "controller-uid" or "pod-template-generation" or "etcd_node"
                or "statefulset.kubernetes.io/pod-name" or "apps.kubernetes.io/pod-index"
            || key.StartsWith("batch.kubernetes.io/", StringComparison.Ordinal)
            || key.StartsWith("kubernetes.io", StringComparison.Ordinal)
            || key.StartsWith("k8s.io", StringComparison.Ordinal)
            || key.StartsWith("topology.kubernetes.io", StringComparison.Ordinal)
            || key.Contains("beta.kubernetes.io", StringComparison.Ordinal)
            || key.StartsWith("io.kubernetes", StringComparison.Ordinal)
            || key.StartsWith("annotation.", StringComparison.Ordinal);

        private Dictionary<(string, Protocol), int?>? _egressPortNames;

        /// <summary>
        /// Cilium resolves a named port of an egress rule across all pods of the cluster: a name that
        /// means one number everywhere becomes that number; a name with two meanings matches nothing.
        /// </summary>
        private int? EgressPortNumber(string name, Protocol protocol)
        {
            if (_egressPortNames is null)
            {
                _egressPortNames = [];
                foreach (var port in _pods.SelectMany(static p => p.Spec.Ports))
                {
                    if (port.Name is null)
                    {
                        continue;
                    }

                    var key = (port.Name, port.Protocol);
                    _egressPortNames[key] = _egressPortNames.TryGetValue(key, out var existing) && existing != port.Port ? null : port.Port;
                }
            }

            return _egressPortNames.GetValueOrDefault((name, protocol));
        }

        private PolicyDraft DraftCiliumBlock(CiliumPolicySpec policy, CiliumRuleBlockSpec block, GroupContext context)
        {
            var selector = block.EndpointSelector;
            if (!policy.IsClusterwide)
            {
                // A CiliumNetworkPolicy selects in its own namespace, whatever namespace its selector names.
                selector = selector with
                {
                    MatchLabels = selector.MatchLabels.With(CiliumNamespaceKey, null).With(CiliumNamespaceKey, policy.Namespace),
                };
            }

            // A host policy selects nodes, not pods: its subjects stay empty and its nodes are kept aside.
            var subjects = block.NodeSelector is null ? context.CiliumSelector!.Evaluate(selector).Clone() : new Bitset(context.GroupCount);
            var hostNodes = block.NodeSelector is { } nodeSelector ? spec.Nodes.Where(n => nodeSelector.Matches(n.Labels)).Select(static n => n.Name).ToArray() : null;
            var reference = new PolicyReference(policy.Kind, policy.Namespace, policy.Name, policy.Location);
            var prefix = block.Path == "spec" ? string.Empty : block.Path + ".";
            List<RuleDraft> Drafts(Direction direction)
            {
                var drafts = new List<RuleDraft>();
                foreach (var rule in block.Allow(direction))
                {
                    drafts.AddRange(CiliumRule(policy, rule, direction, AdminAction.Allow, context));
                }

                foreach (var rule in block.Deny(direction))
                {
                    drafts.AddRange(CiliumRule(policy, rule, direction, AdminAction.Deny, context));
                }

                return drafts;
            }

            return new PolicyDraft(reference, Tier.Namespace, subjects, block.HasRules(Direction.Ingress), block.HasRules(Direction.Egress), [.. Drafts(Direction.Ingress)], [.. Drafts(Direction.Egress)])
            {
                IsolatesIngress = block.Isolates(Direction.Ingress),
                IsolatesEgress = block.Isolates(Direction.Egress),
                HostNodes = hostNodes,
            };
        }

        private IEnumerable<RuleDraft> CiliumRule(CiliumPolicySpec policy, CiliumRuleSpec rule, Direction direction, AdminAction action, GroupContext context)
        {
            var peers = CiliumPeers(policy, rule, direction, context);
            if (rule.ToPorts is null)
            {
                // Without toPorts a rule covers every port and ICMP, unless it names ICMP types: then it
                // covers only those, and no TCP, UDP or SCTP connection.
                yield return rule.Icmps is { } icmps
                    ? new RuleDraft(direction, $"{rule.Path}.icmps", peers, icmps, false, action, null)
                    : new RuleDraft(direction, rule.Path, peers, null, true, action, null);
                yield break;
            }

            for (var i = 0; i < rule.ToPorts.Count; i++)
            {
                var entry = rule.ToPorts[i];
                var ports = new List<IPortMatcher>();
                foreach (var port in entry.Ports)
                {
                    if (port.PortName is null || direction == Direction.Ingress)
                    {
                        ports.Add(port);
                        continue;
                    }

                    foreach (var protocol in port.Protocols)
                    {
                        if (EgressPortNumber(port.PortName, protocol) is { } number)
                        {
                            ports.Add(new CiliumPortSpec { Protocols = [protocol], Port = number });
                        }
                    }
                }

                // An entry without ports matches nothing; one whose names resolve to nothing likewise.
                yield return new RuleDraft(direction, $"{rule.Path}.toPorts[{i}]", peers, ports, false, action, null)
                {
                    Http = entry.Http,
                    Dns = entry.Dns,
                };
            }
        }

        private PeerDraft[] CiliumPeers(CiliumPolicySpec policy, CiliumRuleSpec rule, Direction direction, GroupContext context)
        {
            var field = direction == Direction.Ingress ? "from" : "to";
            var world = IpSet.All.Except(_nodeAddresses);
            var outsideApi = _apiServerAddresses.Except(_nodeAddresses);
            const NodeEntities allNodes = NodeEntities.Host | NodeEntities.RemoteNode | NodeEntities.KubeApiServer;
            if (rule.AnyPeer)
            {
                return [new PeerDraft(Bitset.Full(context.GroupCount), world, rule.Path) { Nodes = allNodes }];
            }

            var peers = new List<PeerDraft>();
            for (var i = 0; i < (rule.Endpoints?.Count ?? 0); i++)
            {
                var selector = rule.Endpoints![i];
                var mentionsNamespace = selector.Keys.Any(static k => k == CiliumNamespaceKey || k.StartsWith(CiliumNamespaceLabelPrefix, StringComparison.Ordinal));
                if (!mentionsNamespace)
                {
                    // A CiliumNetworkPolicy's peers are in its namespace; a clusterwide policy's are any pod.
                    selector = policy.IsClusterwide
                        ? selector with { MatchExpressions = [.. selector.MatchExpressions, new LabelRequirement(CiliumNamespaceKey, SelectorOperator.Exists, [])] }
                        : selector with { MatchLabels = selector.MatchLabels.With(CiliumNamespaceKey, policy.Namespace) };
                }

                peers.Add(new PeerDraft(context.CiliumSelector!.Evaluate(selector).Clone(), IpSet.Empty, $"{rule.Path}.{field}Endpoints[{i}]"));
            }

            if (rule.Entities is { } entities)
            {
                var groups = new Bitset(context.GroupCount);
                var addresses = IpSet.Empty;
                var nodes = NodeEntities.None;
                foreach (var entity in entities)
                {
                    switch (entity)
                    {
                        case CiliumEntity.All:
                            groups.SetAll();
                            addresses = addresses.Union(world);
                            nodes |= allNodes;
                            break;
                        case CiliumEntity.World:
                            addresses = addresses.Union(world);
                            break;
                        case CiliumEntity.Cluster:
                            groups.SetAll();
                            addresses = addresses.Union(outsideApi);
                            nodes |= allNodes;
                            break;
                        case CiliumEntity.Host:
                            nodes |= NodeEntities.Host;
                            break;
                        case CiliumEntity.RemoteNode:
                            nodes |= NodeEntities.RemoteNode;
                            break;
                        case CiliumEntity.KubeApiServer:
                            addresses = addresses.Union(outsideApi);
                            nodes |= NodeEntities.KubeApiServer;
                            break;
                    }
                }

                peers.Add(new PeerDraft(groups, addresses, $"{rule.Path}.{field}Entities") { Nodes = nodes });
            }

            foreach (var (addresses, cidrPath) in CiliumCidrPeers(rule, field))
            {
                // With ipBlockScope all, CIDR peers match the pods inside them.
                var groups = new Bitset(context.GroupCount);
                var blockIndex = context.Blocks.IndexOf(addresses);
                if (blockIndex >= 0)
                {
                    groups.Or(context.BlockGroups[blockIndex]);
                }

                peers.Add(new PeerDraft(groups, addresses, cidrPath));
            }

            if (rule.Nodes is { } nodeSelectors)
            {
                // Cilium gives the selected nodes identities of remote nodes: the subject's own node (the
                // host entity) never matches. Nodes known only from pods' host addresses have no labels.
                _nodeLabels ??= spec.Nodes.Select(static n => (Key: n.Name, n.Labels))
                    .Concat(NodesByAddress().Values.Select(static name => (Key: name, Labels: LabelSet.Empty)))
                    .DistinctBy(static n => n.Key, StringComparer.Ordinal).OrderBy(static n => n.Key, StringComparer.Ordinal).ToArray();
                var selected = _nodeLabels.Where(n => nodeSelectors.Any(s => s.Matches(n.Labels))).Select(static n => n.Key).ToArray();
                peers.Add(new PeerDraft(new Bitset(context.GroupCount), IpSet.Empty, $"{rule.Path}.{field}Nodes") { RemoteNodeNames = selected });
            }

            if (rule.Fqdns is { } names)
            {
                peers.Add(new PeerDraft(new Bitset(context.GroupCount), IpSet.Empty, $"{rule.Path}.toFQDNs") { Names = [.. names], NamesNeedDnsProxy = true });
            }

            if (rule.Services is { } services)
            {
                var groups = new Bitset(context.GroupCount);
                var addresses = IpSet.Empty;
                foreach (var service in services)
                {
                    groups.Or(ServicePods(service, context));
                    addresses = addresses.Union(ServiceEndpointAddresses(service));
                }

                peers.Add(new PeerDraft(groups, addresses.Except(_nodeAddresses), $"{rule.Path}.toServices"));
            }

            return peers.Count > 0 ? [.. peers] : [new PeerDraft(new Bitset(context.GroupCount), IpSet.Empty, rule.Path)];
        }

        /// <summary>
        /// The addresses behind the services without a selector that a <c>toServices</c> entry names:
        /// their EndpointSlices' addresses, which Cilium admits as it admits CIDRs (usually a database or
        /// an API outside the cluster, given a name inside it).
        /// </summary>
        private IpSet ServiceEndpointAddresses(CiliumServiceRef reference)
        {
            var result = IpSet.Empty;
            foreach (var service in spec.Services)
            {
                if (service.Selector is not null || !reference.Names(service))
                {
                    continue;
                }

                foreach (var slice in spec.EndpointSlices)
                {
                    if (slice.Namespace == service.Namespace && slice.ServiceName == service.Name)
                    {
                        foreach (var address in slice.Addresses)
                        {
                            result = result.Union(IpSet.Single(address));
                        }
                    }
                }
            }

            return result;
        }

        /// <summary>The pods behind the services a <c>toServices</c> entry names: each service's selector in its namespace.</summary>
        private Bitset ServicePods(CiliumServiceRef reference, GroupContext context)
        {
            var groups = new Bitset(context.GroupCount);
            foreach (var service in spec.Services)
            {
                if (!reference.Names(service) || service.Selector is null || !context.NamespaceIndex.TryGetValue(service.Namespace, out var ns))
                {
                    continue;
                }

                var pods = context.PodSelector.Evaluate(new LabelSelectorSpec { MatchLabels = service.Selector }).Clone();
                pods.And(context.GroupsOfNamespace[ns]);
                groups.Or(pods);
            }

            return groups;
        }

        /// <summary>The groups a <c>namespaces</c> selector, or a <c>pods</c> pair of selectors, chooses.</summary>
        private static Bitset Pods(LabelSelectorSpec? namespaces, LabelSelectorSpec? podNamespaces, LabelSelectorSpec? pods, GroupContext context)
        {
            var members = new Bitset(context.GroupCount);
            foreach (var n in context.NamespaceSelector.Evaluate(namespaces ?? podNamespaces ?? LabelSelectorSpec.Everything).Members())
            {
                members.Or(context.GroupsOfNamespace[n]);
            }

            if (namespaces is null && pods is not null)
            {
                members.And(context.PodSelector.Evaluate(pods));
            }

            return members;
        }

        private (int[] GroupIdentity, int Count) Refine(int groupCount, List<PolicyDraft> drafts)
        {
            // Each group's signature: its namespace and port map, then the ordinal of every subject or
            // peer set it belongs to. Groups with equal signatures are indistinguishable to every policy.
            var signatures = new List<int>[groupCount];
            for (var g = 0; g < groupCount; g++)
            {
                signatures[g] = [_groupNamespace[g], _groupPortMap[g]];
            }

            var ordinal = 0;
            foreach (var set in drafts.SelectMany(static d => d.Sets()))
            {
                var current = ordinal++;
                foreach (var g in set.Members())
                {
                    signatures[g].Add(current);
                }
            }

            var identities = new Dictionary<int[], int>(SequenceComparer.Instance);
            var groupIdentity = new int[groupCount];
            for (var g = 0; g < groupCount; g++)
            {
                var signature = signatures[g].ToArray();
                if (!identities.TryGetValue(signature, out var identity))
                {
                    identity = identities.Count;
                    identities.Add(signature, identity);
                }

                groupIdentity[g] = identity;
            }

            return (groupIdentity, identities.Count);
        }

        private DirectionClasses BuildClasses(Direction direction, CompiledPolicy[] policies, int identityCount, int[] identityPortMap)
        {
            // The policies that select each identity in this direction, in policy order.
            var selecting = new List<int>[identityCount];
            var named = new bool[identityCount];
            for (var p = 0; p < policies.Length; p++)
            {
                var policy = policies[p];
                if (!policy.Affects(direction))
                {
                    continue;
                }

                var hasNamed = direction == Direction.Ingress && policy.IngressRules.Any(static r => r.HasNamedPorts);
                foreach (var identity in policy.Subjects.Members())
                {
                    (selecting[identity] ??= []).Add(p);
                    named[identity] |= hasNamed;
                }
            }

            // Identities selected by the same policies (and, where ingress rules name ports, with the
            // same named ports) share a class. The key is the policy list with the port map last.
            var classOf = new int[identityCount];
            var keys = new Dictionary<int[], int>(SequenceComparer.Instance);
            var classPolicies = new List<int[]>();
            var classPortMap = new List<int>();
            for (var identity = 0; identity < identityCount; identity++)
            {
                var list = selecting[identity];
                var portMap = named[identity] ? identityPortMap[identity] : PortMapTable.Outside;
                var key = new int[(list?.Count ?? 0) + 1];
                list?.CopyTo(key);
                key[^1] = portMap;
                if (!keys.TryGetValue(key, out var cls))
                {
                    cls = classPolicies.Count;
                    keys.Add(key, cls);
                    classPolicies.Add(list is null ? [] : [.. list]);
                    classPortMap.Add(portMap);
                }

                classOf[identity] = cls;
            }

            var rows = new ConnectionRow[classPolicies.Count];
            var outside = new AddressMap[classPolicies.Count];
            var scratch = new RowScratch(identityCount);
            for (var c = 0; c < rows.Length; c++)
            {
                if (classPolicies[c].Length == 0)
                {
                    rows[c] = ConnectionRow.AllowAll;
                    outside[c] = AddressMap.AllowAll;
                    continue;
                }

                var tiers = new ClassRules(direction, policies, classPolicies[c]);
                var context = new RuleContext(direction, classPortMap[c], identityPortMap, _portMaps, _connections);
                // An isolated class never reaches the baseline, so without admin rules and deny rules
                // its row is the namespace tier's union.
                if (tiers.Admin.Count == 0 && tiers.NamespaceDeny.Count == 0 && tiers.Isolated)
                {
                    rows[c] = UnionRow(tiers.Namespace, context, scratch);
                    outside[c] = AddressMap.Build(_connections, [.. tiers.Namespace.Where(static r => !r.PeerAddresses.IsEmpty).Select(r => (r.PeerAddresses, context.OutsideConnection(r)))]);
                }
                else
                {
                    rows[c] = TieredRow(tiers, context, scratch);
                    outside[c] = TieredOutside(tiers, context);
                }
            }

            return new DirectionClasses(classOf, [.. classPolicies], rows, outside);
        }

        /// <summary>The namespace tier alone: a peer gets the union of what every matching rule admits.</summary>
        private ConnectionRow UnionRow(List<CompiledRule> rules, RuleContext context, RowScratch scratch)
        {
            var result = scratch.Result;
            foreach (var rule in rules)
            {
                var fixedConnection = context.FixedConnection(rule);
                if (fixedConnection == ConnectionTable.NoneId)
                {
                    continue;
                }

                foreach (var peer in rule.PeerIdentities.Members())
                {
                    scratch.Touch(peer);
                    result[peer] = _connections.Union(result[peer], fixedConnection >= 0 ? fixedConnection : context.PeerConnection(rule, peer));
                }
            }

            return scratch.Build(ConnectionTable.NoneId);
        }

        /// <summary>
        /// Admin rules first, in order, each deciding for what earlier rules left (Allow, Deny, or Pass
        /// to the next tier); then, for what is left, the namespace tier if it isolates the class, or else
        /// the baseline rules in order, where anything unmatched is allowed.
        /// </summary>
        private ConnectionRow TieredRow(ClassRules tiers, RuleContext context, RowScratch scratch)
        {
            var table = _connections;
            var (consumed, allowed, denied) = (scratch.A, scratch.B, scratch.C);

            // In an isolated class a peer that neither an admin Allow nor a namespace rule matches gets
            // nothing whatever the admin Deny and Pass rules say, so those rules need visit only the
            // peers that can get something (broad admin denies would otherwise touch every identity).
            Bitset? relevant = null;
            if (tiers.Isolated)
            {
                relevant = new Bitset(scratch.Result.Length);
                foreach (var rule in tiers.Namespace.Concat(tiers.Admin.Where(static r => r.Action == AdminAction.Allow)))
                {
                    relevant.Or(rule.PeerIdentities);
                }
            }

            foreach (var rule in tiers.Admin)
            {
                var fixedConnection = context.FixedConnection(rule);
                foreach (var peer in relevant is null ? rule.PeerIdentities.Members() : rule.PeerIdentities.MembersWithin(relevant))
                {
                    var decided = table.Except(fixedConnection >= 0 ? fixedConnection : context.PeerConnection(rule, peer), consumed[peer]);
                    if (decided == ConnectionTable.NoneId)
                    {
                        continue;
                    }

                    scratch.Touch(peer);
                    consumed[peer] = table.Union(consumed[peer], decided);
                    if (rule.Action == AdminAction.Allow)
                    {
                        allowed[peer] = table.Union(allowed[peer], decided);
                    }
                    else if (rule.Action == AdminAction.Deny)
                    {
                        denied[peer] = table.Union(denied[peer], decided);
                    }
                }
            }

            var result = scratch.Result;
            var (admitted, refused) = (scratch.D, scratch.E);
            foreach (var rule in tiers.NamespaceDeny)
            {
                var fixedConnection = context.FixedConnection(rule);
                foreach (var peer in rule.PeerIdentities.Members())
                {
                    scratch.Touch(peer);
                    refused[peer] = table.Union(refused[peer], fixedConnection >= 0 ? fixedConnection : context.PeerConnection(rule, peer));
                }
            }

            foreach (var rule in tiers.Namespace)
            {
                var fixedConnection = context.FixedConnection(rule);
                foreach (var peer in rule.PeerIdentities.Members())
                {
                    scratch.Touch(peer);
                    admitted[peer] = table.Union(admitted[peer], fixedConnection >= 0 ? fixedConnection : context.PeerConnection(rule, peer));
                }
            }

            if (tiers.Isolated)
            {
                foreach (var peer in scratch.Touched)
                {
                    result[peer] = table.Union(allowed[peer], table.Except(table.Except(admitted[peer], refused[peer]), denied[peer]));
                }

                return scratch.Build(ConnectionTable.NoneId);
            }

            // Not isolated: the namespace tier still denies and allows what its rules match; what it
            // leaves goes to the baseline.
            var baselineConsumed = scratch.F;
            var baselineDenied = consumed;
            foreach (var peer in scratch.Touched)
            {
                baselineDenied[peer] = ConnectionTable.NoneId;
            }

            foreach (var rule in tiers.Baseline)
            {
                var fixedConnection = context.FixedConnection(rule);
                foreach (var peer in rule.PeerIdentities.Members())
                {
                    var open = table.Except(table.Except(table.Except(table.Except(ConnectionTable.AllId, allowed[peer]), denied[peer]), refused[peer]), admitted[peer]);
                    var decided = table.Except(table.Intersect(fixedConnection >= 0 ? fixedConnection : context.PeerConnection(rule, peer), open), baselineConsumed[peer]);
                    if (decided == ConnectionTable.NoneId)
                    {
                        continue;
                    }

                    scratch.Touch(peer);
                    baselineConsumed[peer] = table.Union(baselineConsumed[peer], decided);
                    if (rule.Action == AdminAction.Deny)
                    {
                        baselineDenied[peer] = table.Union(baselineDenied[peer], decided);
                    }
                }
            }

            foreach (var peer in scratch.Touched)
            {
                var blocked = table.Union(table.Union(denied[peer], baselineDenied[peer]), table.Except(refused[peer], allowed[peer]));
                result[peer] = table.Except(ConnectionTable.AllId, blocked);
            }

            return scratch.Build(ConnectionTable.AllId);
        }

        /// <summary>The same tiers for outside addresses, evaluated once per range between the rules' CIDR boundaries.</summary>
        private AddressMap TieredOutside(ClassRules tiers, RuleContext context)
        {
            var table = _connections;
            var withAddresses = tiers.Admin.Concat(tiers.Namespace).Concat(tiers.NamespaceDeny).Concat(tiers.Baseline).Where(static r => !r.PeerAddresses.IsEmpty).ToList();
            return AddressMap.FromRanges(withAddresses.Select(static r => r.PeerAddresses), address =>
            {
                int consumed = ConnectionTable.NoneId, allowed = ConnectionTable.NoneId, denied = ConnectionTable.NoneId;
                foreach (var rule in tiers.Admin)
                {
                    if (!rule.PeerAddresses.Contains(address))
                    {
                        continue;
                    }

                    var decided = table.Except(context.OutsideConnection(rule), consumed);
                    consumed = table.Union(consumed, decided);
                    if (rule.Action == AdminAction.Allow)
                    {
                        allowed = table.Union(allowed, decided);
                    }
                    else if (rule.Action == AdminAction.Deny)
                    {
                        denied = table.Union(denied, decided);
                    }
                }

                var refused = ConnectionTable.NoneId;
                foreach (var rule in tiers.NamespaceDeny)
                {
                    if (rule.PeerAddresses.Contains(address))
                    {
                        refused = table.Union(refused, context.OutsideConnection(rule));
                    }
                }

                if (tiers.Isolated)
                {
                    var admitted = ConnectionTable.NoneId;
                    foreach (var rule in tiers.Namespace)
                    {
                        if (rule.PeerAddresses.Contains(address))
                        {
                            admitted = table.Union(admitted, context.OutsideConnection(rule));
                        }
                    }

                    return table.Union(allowed, table.Except(table.Except(admitted, refused), denied));
                }

                var admittedHere = ConnectionTable.NoneId;
                foreach (var rule in tiers.Namespace)
                {
                    if (rule.PeerAddresses.Contains(address))
                    {
                        admittedHere = table.Union(admittedHere, context.OutsideConnection(rule));
                    }
                }

                int baselineConsumed = ConnectionTable.NoneId, baselineDenied = ConnectionTable.NoneId;
                var open = table.Except(table.Except(table.Except(table.Except(ConnectionTable.AllId, allowed), denied), refused), admittedHere);
                foreach (var rule in tiers.Baseline)
                {
                    if (!rule.PeerAddresses.Contains(address))
                    {
                        continue;
                    }

                    var decided = table.Except(table.Intersect(context.OutsideConnection(rule), open), baselineConsumed);
                    baselineConsumed = table.Union(baselineConsumed, decided);
                    if (rule.Action == AdminAction.Deny)
                    {
                        baselineDenied = table.Union(baselineDenied, decided);
                    }
                }

                var blocked = table.Union(table.Union(denied, baselineDenied), table.Except(refused, allowed));
                return table.Except(ConnectionTable.AllId, blocked);
            });
        }

        private readonly record struct GroupKey(int Namespace, LabelSet Labels, int PortMap, string Blocks, string ServiceAccount);
    }

    private sealed record GroupContext(
        int GroupCount,
        SelectorIndex PodSelector,
        SelectorIndex NamespaceSelector,
        Bitset[] GroupsOfNamespace,
        Dictionary<string, int> NamespaceIndex,
        List<IpSet> Blocks,
        Bitset[] BlockGroups)
    {
        /// <summary>Selectors over Cilium's label space of each group; null when the cluster has no Cilium policy.</summary>
        public SelectorIndex? CiliumSelector { get; init; }
    }

    private sealed record PeerDraft(Bitset Groups, IpSet Addresses, string Path)
    {
        /// <summary>DNS names or patterns the peer matches outside endpoints by.</summary>
        public DnsPattern[] Names { get; init; } = [];

        /// <summary>Whether the names must have been looked up through the DNS proxy (Cilium's toFQDNs).</summary>
        public bool NamesNeedDnsProxy { get; init; }

        /// <summary>Node endpoints matched through entities.</summary>
        public NodeEntities Nodes { get; init; }

        /// <summary>Nodes matched by name, except the subject's own (Cilium's fromNodes/toNodes).</summary>
        public string[] RemoteNodeNames { get; init; } = [];
    }

    private sealed record RuleDraft(Direction Direction, string Path, PeerDraft[] Peers, IReadOnlyList<IPortMatcher>? Ports, bool EmptyPortsMeanAll, AdminAction Action, string? Name)
    {
        public IReadOnlyList<HttpRuleSpec>? Http { get; init; }

        public IReadOnlyList<DnsPattern>? Dns { get; init; }
    }

    private sealed record PolicyDraft(PolicyReference Reference, Tier Tier, Bitset Subjects, bool Ingress, bool Egress, RuleDraft[] IngressRules, RuleDraft[] EgressRules)
    {
        public bool IsolatesIngress { get; init; } = Ingress;

        public bool IsolatesEgress { get; init; } = Egress;

        /// <summary>For a host policy, the nodes it selects.</summary>
        public string[]? HostNodes { get; init; }

        public IEnumerable<Bitset> Sets()
        {
            yield return Subjects;
            foreach (var rule in IngressRules.Concat(EgressRules))
            {
                foreach (var peer in rule.Peers)
                {
                    yield return peer.Groups;
                }
            }
        }

        public CompiledPolicy Compile(int index, int[] groupIdentity, int identityCount, ConnectionTable table, IpSet outsideV4)
        {
            CompiledRule CompileRule(RuleDraft rule) => new(
                index,
                rule.Direction,
                rule.Path,
                [.. rule.Peers.Select(peer => new CompiledPeer(ToIdentities(peer.Groups, groupIdentity, identityCount), peer.Addresses, peer.Path)
                {
                    Names = peer.Names,
                    NamesNeedDnsProxy = peer.NamesNeedDnsProxy,
                    Nodes = peer.Nodes,
                    RemoteNodeNames = peer.RemoteNodeNames,
                    CoversOutside = !peer.Addresses.IsEmpty && outsideV4.Except(peer.Addresses).IsEmpty,
                })],
                rule.Ports,
                rule.EmptyPortsMeanAll,
                rule.Action,
                rule.Name,
                table)
            {
                Http = rule.Http,
                Dns = rule.Dns,
            };

            return new CompiledPolicy(
                Reference,
                Tier,
                ToIdentities(Subjects, groupIdentity, identityCount),
                Ingress,
                Egress,
                [.. IngressRules.Select(CompileRule)],
                [.. EgressRules.Select(CompileRule)])
            {
                IsolatesIngress = IsolatesIngress,
                IsolatesEgress = IsolatesEgress,
            };
        }

        private static Bitset ToIdentities(Bitset groups, int[] groupIdentity, int identityCount)
        {
            var identities = new Bitset(identityCount);
            foreach (var g in groups.Members())
            {
                identities.Set(groupIdentity[g]);
            }

            return identities;
        }
    }
}

/// <summary>The rules of one direction class, by tier, in evaluation order.</summary>
internal sealed class ClassRules
{
    public ClassRules(Direction direction, CompiledPolicy[] policies, int[] selecting)
    {
        foreach (var p in selecting)
        {
            var policy = policies[p];
            switch (policy.Tier)
            {
                case Tier.Admin:
                    Admin.AddRange(policy.Rules(direction));
                    break;
                case Tier.Baseline:
                    Baseline.AddRange(policy.Rules(direction));
                    break;
                default:
                    foreach (var rule in policy.Rules(direction))
                    {
                        (rule.Action == AdminAction.Deny ? NamespaceDeny : Namespace).Add(rule);
                    }

                    Isolated |= policy.Isolates(direction);
                    break;
            }
        }
    }

    public List<CompiledRule> Admin { get; } = [];

    /// <summary>Allow rules of the namespace tier (NetworkPolicy, Cilium).</summary>
    public List<CompiledRule> Namespace { get; } = [];

    /// <summary>Deny rules of the namespace tier (Cilium's ingressDeny, egressDeny); they win over its allows.</summary>
    public List<CompiledRule> NamespaceDeny { get; } = [];

    public List<CompiledRule> Baseline { get; } = [];

    /// <summary>
    /// Whether a namespace-tier policy puts the class into default deny, so that tier decides what the
    /// admin tier leaves (even with no rules); otherwise the baseline does, after the tier's denies.
    /// </summary>
    public bool Isolated { get; }
}

/// <summary>Resolves what a rule admits in one direction class: named ports on the class's pods (ingress) or on each peer (egress).</summary>
internal readonly record struct RuleContext(Direction Direction, int ClassPortMap, int[] IdentityPortMap, PortMapTable PortMaps, ConnectionTable Connections)
{
    /// <summary>What the rule admits whatever the peer, or -1 when it depends on the peer's named ports.</summary>
    public int FixedConnection(CompiledRule rule) =>
        Direction == Direction.Ingress ? rule.ConnectionFor(ClassPortMap, PortMaps, Connections) : rule.HasNamedPorts ? -1 : rule.ConnectionFor(PortMapTable.Outside, PortMaps, Connections);

    /// <summary>What the rule admits to or from peer identity <paramref name="peer"/>.</summary>
    public int PeerConnection(CompiledRule rule, int peer) =>
        rule.ConnectionFor(Direction == Direction.Ingress ? ClassPortMap : IdentityPortMap[peer], PortMaps, Connections);

    /// <summary>What the rule admits to or from an outside address.</summary>
    public int OutsideConnection(CompiledRule rule) =>
        rule.ConnectionFor(Direction == Direction.Ingress ? ClassPortMap : PortMapTable.Outside, PortMaps, Connections);
}

/// <summary>
/// Per-identity working arrays for building one row, reused across classes: entries are written only
/// for identities marked touched, and cleared when the row is built.
/// </summary>
internal sealed class RowScratch(int size)
{
    private readonly bool[] _marked = new bool[size];
    private readonly List<int> _touched = [];

    public int[] Result { get; } = new int[size];

    public int[] A { get; } = new int[size];

    public int[] B { get; } = new int[size];

    public int[] C { get; } = new int[size];

    public int[] D { get; } = new int[size];

    public int[] E { get; } = new int[size];

    public int[] F { get; } = new int[size];

    public List<int> Touched => _touched;

    public void Touch(int identity)
    {
        if (!_marked[identity])
        {
            _marked[identity] = true;
            _touched.Add(identity);
        }
    }

    /// <summary>Makes the row from <see cref="Result"/> (identities not touched get <paramref name="fill"/>) and clears everything.</summary>
    public ConnectionRow Build(int fill)
    {
        var row = ConnectionRow.Build(Result, _touched, fill);
        foreach (var identity in _touched)
        {
            _marked[identity] = false;
            Result[identity] = A[identity] = B[identity] = C[identity] = D[identity] = E[identity] = F[identity] = ConnectionTable.NoneId;
        }

        _touched.Clear();
        return row;
    }
}

/// <summary>Compares integer arrays by content.</summary>
internal sealed class SequenceComparer : IEqualityComparer<int[]>
{
    public static readonly SequenceComparer Instance = new();

    public bool Equals(int[]? x, int[]? y) => x.AsSpan().SequenceEqual(y);

    public int GetHashCode(int[] obj)
    {
        var hash = new HashCode();
        foreach (var value in obj)
        {
            hash.Add(value);
        }

        return hash.ToHashCode();
    }
}

/// <summary>The direction classes of one direction: which class each identity is in, and each class's rows.</summary>
internal sealed record DirectionClasses(int[] ClassOf, int[][] Policies, ConnectionRow[] Rows, AddressMap[] Outside);
