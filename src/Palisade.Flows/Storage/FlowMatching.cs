using Palisade.Flows.Records;
using Palisade.Sets;

namespace Palisade.Flows.Storage;

/// <summary>
/// A <see cref="FlowQuery"/>'s filters applied to one flow in memory, with the same meaning the stores'
/// SQL gives them (the contract tests hold the two to each other): how a follower of a live ingest
/// picks the flows it prints.
/// </summary>
public static class FlowMatching
{
    /// <summary>Whether <paramref name="flow"/> passes every filter of <paramref name="query"/> (its limit aside).</summary>
    public static bool Matches(this FlowQuery query, FlowRecord flow)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(flow);
        if ((query.SinceNanos is { } since && flow.TimeUnixNanos < since) || (query.UntilNanos is { } until && flow.TimeUnixNanos >= until))
        {
            return false;
        }

        return Ends(query.Namespaces, query.FromNamespaces, query.ToNamespaces, flow, static (v, e, _) => e.Namespace == v)
            && Ends(query.Pods, query.FromPods, query.ToPods, flow, static (v, e, _) => PodMatches(v, e))
            && AllLabels(query.Labels, query.FromLabels, query.ToLabels, flow)
            && Ends(query.Ips, query.FromIps, query.ToIps, flow, static (v, _, ip) => IpMatches(v, ip))
            && AnyOf(query.Verdicts, v => flow.Verdict == v)
            && AnyOf(query.Protocols, v => flow.Protocol == v)
            && AnyOf(query.Ports, v => flow.SourcePort == v || flow.DestinationPort == v)
            && AnyOf(query.FromPorts, v => flow.SourcePort == v)
            && AnyOf(query.ToPorts, v => flow.DestinationPort == v)
            && AnyOf(query.HttpStatus, v => flow.Http is { } http && http.Code >= v.From && http.Code <= v.To)
            && AnyOf(query.HttpMethods, v => string.Equals(flow.Http?.Method, v, StringComparison.OrdinalIgnoreCase))
            && AnyOf(query.DnsQueries, v => flow.Dns?.Query is { } name && DnsMatches(v, name))
            && AnyOf(query.Nodes, v => flow.NodeName == v)
            && AnyOf(query.Policies, v => flow.Attribution?.Policy is { } policy && PolicyMatches(v, policy))
            && AnyOf(query.Projects, v => flow.Attribution?.Project == v)
            && AnyOf(query.L7Protocols, v => v.ToUpperInvariant() switch
            {
                "HTTP" => flow.Http is not null,
                "DNS" => flow.Dns?.Query is not null,
                _ => false,
            })
            && (!query.DisagreementOnly || flow.Attribution is { Disagreement: not Disagreement.None });
    }

    private static bool AnyOf<T>(IReadOnlyList<T> values, Func<T, bool> holds)
    {
        if (values.Count == 0)
        {
            return true;
        }

        foreach (var value in values)
        {
            if (holds(value))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Ends(IReadOnlyList<string> either, IReadOnlyList<string> from, IReadOnlyList<string> to, FlowRecord flow, Func<string, FlowEndpoint, UInt128?, bool> matches) =>
        AnyOf(either, v => matches(v, flow.Source, flow.SourceIp) || matches(v, flow.Destination, flow.DestinationIp))
        && AnyOf(from, v => matches(v, flow.Source, flow.SourceIp))
        && AnyOf(to, v => matches(v, flow.Destination, flow.DestinationIp));

    private static bool AllLabels(IReadOnlyList<string> either, IReadOnlyList<string> from, IReadOnlyList<string> to, FlowRecord flow)
    {
        static bool All(IReadOnlyList<string> labels, FlowEndpoint end) => labels.All(l => HasLabel(end, l));
        return (either.Count == 0 || All(either, flow.Source) || All(either, flow.Destination))
            && (from.Count == 0 || All(from, flow.Source))
            && (to.Count == 0 || All(to, flow.Destination));
    }

    /// <summary>An address filter: the address as written, or any spelling of the same address.</summary>
    internal static bool IpMatches(string wanted, UInt128? ip) =>
        ip is { } address && (IpNumbers.Format(address) == wanted || (IpNumbers.TryParse(wanted, out var parsed) && parsed == address));

    /// <summary>A policy filter: <c>namespace/name</c> or a bare name, against <c>Kind namespace/name</c> as attribution names policies.</summary>
    internal static bool PolicyMatches(string wanted, string policy) =>
        policy.EndsWith(" " + wanted, StringComparison.Ordinal) || (!wanted.Contains('/', StringComparison.Ordinal) && policy.EndsWith("/" + wanted, StringComparison.Ordinal));

    /// <summary>
    /// Cilium writes labels as <c>SOURCE:key=value</c>; a label given with a source must be carried as
    /// given, one given without one (<c>app=web</c>) with any source.
    /// </summary>
    internal static bool HasLabel(FlowEndpoint endpoint, string label)
    {
        var equals = label.IndexOf('=', StringComparison.Ordinal);
        var colon = label.IndexOf(':', StringComparison.Ordinal);
        var hasSource = colon >= 0 && (equals < 0 || colon < equals);
        foreach (var carried in endpoint.Labels)
        {
            if (hasSource ? carried == label : carried == label || (carried.EndsWith(label, StringComparison.Ordinal) && carried.Length > label.Length && carried[carried.Length - label.Length - 1] == ':'))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary><c>[namespace/]pod</c>, with a trailing <c>*</c> for a prefix of the pod name.</summary>
    internal static bool PodMatches(string value, FlowEndpoint endpoint)
    {
        if (endpoint.PodName is null)
        {
            return false;
        }

        var slash = value.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0 && endpoint.Namespace != value[..slash])
        {
            return false;
        }

        var pod = slash < 0 ? value : value[(slash + 1)..];
        return pod.EndsWith('*') ? endpoint.PodName.StartsWith(pod[..^1], StringComparison.Ordinal) : endpoint.PodName == pod;
    }

    /// <summary>A DNS name, with or without its trailing dot; <c>*.example.com</c> matches the names under it.</summary>
    internal static bool DnsMatches(string wanted, string query)
    {
        var bare = wanted.TrimEnd('.');
        var name = query.TrimEnd('.');
        return bare.StartsWith("*.", StringComparison.Ordinal)
            ? name.EndsWith(bare[1..], StringComparison.OrdinalIgnoreCase)
            : string.Equals(name, bare, StringComparison.OrdinalIgnoreCase);
    }
}
