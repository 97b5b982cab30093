namespace Palisade.Tests.Conformance;

/// <summary>
/// The one list of conformance cases the tests do not hold Palisade to yet, each with the reason.
/// Paths are relative to the shared <c>conformance</c> folder; an entry ending in '/' covers a folder.
/// The list is empty: Palisade passes every case of every suite. An entry would name a case Palisade
/// believes wrong, with the reason, and stay here until the case or Palisade changes.
/// </summary>
internal static class Exclusions
{
    private static readonly (string Prefix, string Reason)[] Entries = [];

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
