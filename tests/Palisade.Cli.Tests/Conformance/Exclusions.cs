namespace Palisade.Tests.Conformance;

/// <summary>
/// The one list of conformance cases the tests do not hold Palisade to yet, each with the reason.
/// Paths are relative to the shared <c>conformance</c> folder; an entry ending in '/' covers a folder.
/// Nothing is here because Palisade disagrees with a case: these need the admin tiers and Cilium
/// dialects, which the engine does not read yet (issue 3).
/// </summary>
internal static class Exclusions
{
    private const string Tiers = "AdminNetworkPolicy and BaselineAdminNetworkPolicy are not read yet (issue 3)";
    private const string Cilium = "Cilium policies are not read yet (issue 3)";
    private const string ClusterNetworkPolicy = "AdminNetworkPolicy and ClusterNetworkPolicy are not read yet (issue 3)";

    private static readonly (string Prefix, string Reason)[] Entries =
    [
        ("netpol-analyzer/cases/anp_", Tiers),
        ("netpol-analyzer/cases/banp_", Tiers),
        ("netpol-analyzer/cases/example_pods_w_same_owner_and_labels_gap_anp_good", Tiers),
        ("netpol-analyzer/cases/example_pods_w_same_owner_and_labels_gap_banp_good", Tiers),
        ("netpol-analyzer/bad/anp_", Tiers),
        ("netpol-analyzer/bad/banp_", Tiers),
        ("random/tiers/", Tiers),
        ("cilium/", Cilium),
        ("network-policy-api/", ClusterNetworkPolicy),
    ];

    /// <summary>Why <paramref name="relativePath"/> is excluded, or null when it is not.</summary>
    public static string? Reason(string relativePath)
    {
        var path = relativePath.Replace('\\', '/');
        foreach (var (prefix, reason) in Entries)
        {
            if (path.StartsWith(prefix, StringComparison.Ordinal))
            {
                return reason;
            }
        }

        return null;
    }
}
