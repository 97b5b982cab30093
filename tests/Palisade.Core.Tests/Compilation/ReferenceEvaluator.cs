using Palisade.Compilation;
using Palisade.Model;
using Palisade.Sets;

namespace Palisade.Tests.Compilation;

/// <summary>
/// NetworkPolicy semantics written the slow, obvious way: every question walks every policy and
/// evaluates every selector against the pods themselves. The compiled snapshot must agree with it.
/// </summary>
internal sealed class ReferenceEvaluator(ClusterSpec cluster, IpBlockScope scope)
{
    private LabelSet NamespaceLabels(string name) =>
        cluster.Namespaces.FirstOrDefault(n => n.Name == name)?.Labels.With(NamespaceSpec.NameLabel, name)
        ?? LabelSet.Of((NamespaceSpec.NameLabel, name));

    /// <summary>Whether <paramref name="from"/> may reach <paramref name="to"/>; a null pod means the outside address.</summary>
    public bool Allowed(PodSpec? from, UInt128 fromAddress, PodSpec? to, UInt128 toAddress, Protocol protocol, int port)
    {
        if (from is not null && !SideAllows(Direction.Egress, from, to, toAddress, to, protocol, port))
        {
            return false;
        }

        return to is null || SideAllows(Direction.Ingress, to, from, fromAddress, to, protocol, port);
    }

    private bool SideAllows(Direction direction, PodSpec subject, PodSpec? peer, UInt128 peerAddress, PodSpec? destination, Protocol protocol, int port)
    {
        // Admin tier: by priority, the first matching rule decides; Pass leaves it to the lower tiers.
        foreach (var admin in cluster.AdminNetworkPolicies.Where(p => p.Tier == AdminTier.Admin).OrderBy(p => p.Priority))
        {
            if (!SubjectSelects(admin.Subject, subject))
            {
                continue;
            }

            var decision = FirstAdminMatch(admin.Rules(direction), peer, peerAddress, destination, protocol, port);
            if (decision == AdminAction.Allow)
            {
                return true;
            }

            if (decision == AdminAction.Deny)
            {
                return false;
            }

            if (decision == AdminAction.Pass)
            {
                break;
            }
        }

        var namespaceTier = NamespaceTier(direction, subject, peer, peerAddress, destination, protocol, port);
        if (namespaceTier is { } verdict)
        {
            return verdict;
        }

        foreach (var baseline in cluster.AdminNetworkPolicies.Where(p => p.Tier == AdminTier.Baseline))
        {
            if (SubjectSelects(baseline.Subject, subject) && FirstAdminMatch(baseline.Rules(direction), peer, peerAddress, destination, protocol, port) is { } action)
            {
                return action == AdminAction.Allow;
            }
        }

        return true;
    }

    private bool SubjectSelects(AdminSubjectSpec subject, PodSpec pod) =>
        subject.Namespaces is { } namespaces
            ? namespaces.Matches(NamespaceLabels(pod.Namespace))
            : subject.PodNamespaces!.Matches(NamespaceLabels(pod.Namespace)) && subject.Pods!.Matches(pod.Labels);

    private AdminAction? FirstAdminMatch(IReadOnlyList<AdminRuleSpec> rules, PodSpec? peer, UInt128 peerAddress, PodSpec? destination, Protocol protocol, int port)
    {
        foreach (var rule in rules)
        {
            var peerMatches = rule.Peers.Any(candidate => candidate.NetworkAddresses is { } networks
                ? (peer is null ? networks.Contains(peerAddress) : scope == IpBlockScope.All && peer.Addresses.Any(networks.Contains))
                : peer is not null && (candidate.Namespaces is { } namespaces
                    ? namespaces.Matches(NamespaceLabels(peer.Namespace))
                    : candidate.PodNamespaces is not null && candidate.PodNamespaces.Matches(NamespaceLabels(peer.Namespace)) && candidate.Pods!.Matches(peer.Labels)));
            var portMatches = rule.Ports is null || rule.Ports.Any(entry => entry.PortName is { } name
                ? destination is not null && destination.Ports.Any(p => p.Name == name && p.Protocol == protocol && p.Port == port)
                : entry.Protocol == protocol && port >= entry.Port && port <= (entry.EndPort ?? entry.Port));
            if (peerMatches && portMatches)
            {
                return rule.Action;
            }
        }

        return null;
    }

    /// <summary>The namespace tier's verdict, or null when no NetworkPolicy selects the pod in this direction.</summary>
    private bool? NamespaceTier(Direction direction, PodSpec subject, PodSpec? peer, UInt128 peerAddress, PodSpec? destination, Protocol protocol, int port)
    {
        var selecting = cluster.NetworkPolicies
            .Where(p => p.Namespace == subject.Namespace && p.Affects(direction) && p.PodSelector.Matches(subject.Labels))
            .ToList();
        if (selecting.Count == 0)
        {
            return null;
        }

        foreach (var policy in selecting)
        {
            foreach (var rule in policy.Rules(direction))
            {
                if (PeerMatches(policy, rule, peer, peerAddress) && PortMatches(rule, destination, protocol, port))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private bool PeerMatches(NetworkPolicySpec policy, NetworkPolicyRuleSpec rule, PodSpec? peer, UInt128 peerAddress)
    {
        if (rule.AllPeers)
        {
            return true;
        }

        foreach (var candidate in rule.Peers!)
        {
            if (candidate.IpBlock is { } block)
            {
                if (peer is null && block.Addresses.Contains(peerAddress))
                {
                    return true;
                }

                if (peer is not null && scope == IpBlockScope.All && peer.Addresses.Any(block.Addresses.Contains))
                {
                    return true;
                }

                continue;
            }

            if (peer is null)
            {
                continue;
            }

            var namespaceOk = candidate.NamespaceSelector is { } nsSelector
                ? nsSelector.Matches(NamespaceLabels(peer.Namespace))
                : peer.Namespace == policy.Namespace;
            var podOk = candidate.PodSelector is null || candidate.PodSelector.Matches(peer.Labels);
            if (namespaceOk && podOk)
            {
                return true;
            }
        }

        return false;
    }

    private static bool PortMatches(NetworkPolicyRuleSpec rule, PodSpec? destination, Protocol protocol, int port)
    {
        if (rule.AllPorts)
        {
            return true;
        }

        foreach (var entry in rule.Ports!)
        {
            if (entry.Protocol != protocol)
            {
                continue;
            }

            if (entry.PortName is { } name)
            {
                if (destination is not null && destination.Ports.Any(p => p.Name == name && p.Protocol == protocol && p.Port == port))
                {
                    return true;
                }

                continue;
            }

            if (entry.Port is null || (port >= entry.Port && port <= (entry.EndPort ?? entry.Port)))
            {
                return true;
            }
        }

        return false;
    }
}
