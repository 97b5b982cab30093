namespace Palisade.Tests.Conformance;

/// <summary>
/// The one list of conformance cases the tests do not hold Palisade to yet, each with the reason.
/// Paths are relative to the shared <c>conformance</c> folder; an entry ending in '/' covers a folder.
/// Nothing is here because Palisade disagrees with a case: these need dialects the engine does not
/// read yet (ClusterNetworkPolicy and Cilium's policies, issue 3).
/// </summary>
internal static class Exclusions
{
    private static readonly (string Prefix, string Reason)[] Entries =
    [
        ("cilium/", "CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy are not read yet (issue 3)"),

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
