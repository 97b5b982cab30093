namespace Palisade.Tests;

/// <summary>Where the checkout and the shared conformance suites are, found from the test assembly.</summary>
internal static class TestPaths
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        var folder = new DirectoryInfo(AppContext.BaseDirectory);
        while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "Palisade.slnx")))
        {
            folder = folder.Parent;
        }

        return folder?.FullName ?? throw new InvalidOperationException("Palisade.slnx not found above " + AppContext.BaseDirectory);
    });

    /// <summary>The checkout's root (the folder of Palisade.slnx).</summary>
    public static string Root => RootPath.Value;

    /// <summary>
    /// The shared folder beside the checkout (<c>../shared</c>), which holds the conformance suites and
    /// flow captures. CI always has it; the message says what is missing when it is not there.
    /// </summary>
    public static string Shared
    {
        get
        {
            var shared = Path.GetFullPath(Path.Combine(Root, "..", "shared"));
            return Directory.Exists(Path.Combine(shared, "conformance"))
                ? shared
                : throw new InvalidOperationException($"The shared conformance suites are missing: expected {shared}/conformance beside the checkout.");
        }
    }

    /// <summary>A conformance suite folder, e.g. <c>k8s-e2e</c>.</summary>
    public static string Conformance(string suite) => Path.Combine(Shared, "conformance", suite);

    /// <summary>A path relative to the checkout's root.</summary>
    public static string InRoot(string relative) => Path.Combine(Root, relative);
}
