using Palisade.Diagnostics;
using Palisade.Manifests.Yaml;
using Palisade.Model;

namespace Palisade.Manifests;

/// <summary>What reading some manifests produced: the cluster, and every problem found on the way.</summary>
public sealed record ManifestLoadResult
{
    /// <summary>The cluster the manifests describe (empty of the objects that had errors).</summary>
    public required ClusterSpec Cluster { get; init; }

    /// <summary>Errors and warnings, in file order.</summary>
    public required IReadOnlyList<Diagnostic> Diagnostics { get; init; }

    /// <summary>The files read.</summary>
    public required IReadOnlyList<string> Files { get; init; }

    /// <summary>Whether any diagnostic is an error; the cluster must then not be used.</summary>
    public bool HasErrors => Diagnostics.Any(static d => d.Severity == Severity.Error);
}

/// <summary>How strictly manifests are read.</summary>
public sealed record ManifestReadOptions
{
    /// <summary>The defaults: what the Kubernetes API server accepts is accepted.</summary>
    public static readonly ManifestReadOptions Default = new();

    /// <summary>
    /// Reject an egress rule whose peers include ipBlocks and whose ports include names
    /// (<see cref="DiagnosticCodes.NamedPortWithIpBlock"/>), as netpol-analyzer does. The API server
    /// accepts such rules, but the names can never match an outside address, so a report of the whole
    /// cluster's connectivity would silently show nothing allowed where the author meant something.
    /// </summary>
    public bool RejectNamedPortsOnIpBlocks { get; init; }
}

/// <summary>
/// Reads Kubernetes manifests from files and folders: YAML (multi-document) and JSON, <c>List</c>
/// and <c>*List</c> kinds, folders recursively (files ending in <c>.yaml</c>, <c>.yml</c> or
/// <c>.json</c>, in ordinal order of their paths; connectivity case files, <c>*.case.yaml</c>, are
/// left out so that tests can live beside the manifests they test). Files are parsed in parallel;
/// objects keep file order.
/// </summary>
public static class ManifestLoader
{
    private static readonly string[] Extensions = [".yaml", ".yml", ".json"];

    /// <summary>About how many characters of YAML one parallel piece holds.</summary>
    private const int PieceSize = 64 * 1024;

    /// <summary>Reads every manifest under <paramref name="paths"/> (files or folders).</summary>
    public static ManifestLoadResult Load(IEnumerable<string> paths, ManifestReadOptions? options = null)
    {
        options ??= ManifestReadOptions.Default;
        var diagnostics = new DiagnosticBag();
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (File.Exists(path))
            {
                files.Add(path);
            }
            else if (Directory.Exists(path))
            {
                var found = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                    .Where(static f => Extensions.Any(e => f.EndsWith(e, StringComparison.OrdinalIgnoreCase)))
                    .Where(static f => !f.EndsWith(CaseFileReader.Suffix, StringComparison.OrdinalIgnoreCase))
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (found.Count == 0)
                {
                    diagnostics.Warning(DiagnosticCodes.UnreadableInput, SourceLocation.Unknown(path), "folder holds no .yaml, .yml or .json files");
                }

                files.AddRange(found);
            }
            else
            {
                diagnostics.Error(DiagnosticCodes.UnreadableInput, SourceLocation.Unknown(path), "no such file or folder");
            }
        }

        // Read every file, then parse and decode pieces of whole documents in parallel, so that one
        // large file does not leave the other cores idle. Objects keep file and document order.
        var texts = new string?[files.Count];
        var readProblems = new Diagnostic?[files.Count];
        Parallel.For(0, files.Count, i =>
        {
            try
            {
                texts[i] = File.ReadAllText(files[i]);
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                readProblems[i] = new Diagnostic(DiagnosticCodes.UnreadableInput, Severity.Error, SourceLocation.Unknown(files[i]), $"cannot read the file: {error.Message}");
            }
        });

        var pieces = new List<(int File, string Text, int LineOffset)>();
        for (var i = 0; i < files.Count; i++)
        {
            if (texts[i] is { } text)
            {
                var isJson = files[i].EndsWith(".json", StringComparison.OrdinalIgnoreCase);
                foreach (var (piece, offset) in isJson ? [(text, 0)] : DocumentReader.Split(text, PieceSize))
                {
                    pieces.Add((i, piece, offset));
                }
            }
        }

        var results = new (ObjectCollection Objects, DiagnosticBag Diagnostics)[pieces.Count];
        Parallel.For(0, pieces.Count, p =>
        {
            var (file, text, offset) = pieces[p];
            var pieceDiagnostics = new DiagnosticBag();
            var objects = new ObjectCollection();
            ReadText(text, files[file], pieceDiagnostics, objects, offset);
            results[p] = (objects, pieceDiagnostics);
        });

        var all = new ObjectCollection();
        var nextPiece = 0;
        for (var i = 0; i < files.Count; i++)
        {
            if (readProblems[i] is { } problem)
            {
                diagnostics.Add(problem);
            }

            while (nextPiece < pieces.Count && pieces[nextPiece].File == i)
            {
                all.AddRange(results[nextPiece].Objects);
                diagnostics.AddRange(results[nextPiece].Diagnostics.Items);
                nextPiece++;
            }
        }

        CheckDuplicates(all, diagnostics);
        var items = diagnostics.Items;
        if (options.RejectNamedPortsOnIpBlocks)
        {
            items = [.. items.Select(static d => d.Code == DiagnosticCodes.NamedPortWithIpBlock && d.Severity == Severity.Warning
                ? d with { Severity = Severity.Error, Message = d.Message + "; a report of all connections cannot show what the author meant, so give the port number" }
                : d)];
        }

        return new ManifestLoadResult { Cluster = all.ToCluster(), Diagnostics = items, Files = files };
    }

    /// <summary>Reads manifests from text, e.g. a case file's inline <c>manifests</c>, naming <paramref name="source"/> in diagnostics.</summary>
    public static ManifestLoadResult LoadText(string text, string source, int firstLine = 1, int columnOffset = 0)
    {
        var diagnostics = new DiagnosticBag();
        var objects = new ObjectCollection();
        ReadText(text, source, diagnostics, objects);
        CheckDuplicates(objects, diagnostics);
        var shifted = firstLine == 1 && columnOffset == 0
            ? diagnostics.Items
            : [.. diagnostics.Items.Select(d => d.Location.Line > 0
                ? d with { Location = d.Location with { Line = d.Location.Line + firstLine - 1, Column = d.Location.Column + columnOffset } }
                : d)];
        return new ManifestLoadResult { Cluster = objects.ToCluster(), Diagnostics = shifted, Files = [source] };
    }

    internal static void ReadText(string text, string source, DiagnosticBag diagnostics, ObjectCollection into, int lineOffset = 0)
    {
        foreach (var document in DocumentReader.Read(text, source, diagnostics, lineOffset))
        {
            ObjectDecoder.Decode(document, diagnostics, into);
        }
    }

    private static void CheckDuplicates(ObjectCollection objects, DiagnosticBag diagnostics)
    {
        var seen = new Dictionary<ObjectKey, SourceLocation>();
        foreach (var (key, location) in objects.Locations)
        {
            if (seen.TryGetValue(key, out var first))
            {
                diagnostics.Error(
                    DiagnosticCodes.DuplicateObject,
                    location,
                    $"{key.Kind} {(key.Namespace.Length == 0 ? key.Name : $"{key.Namespace}/{key.Name}")} is defined twice; the first is at {first}. Names must be unique per kind and namespace");
            }
            else
            {
                seen.Add(key, location);
            }
        }

        // Two cluster-wide policies of one tier with one priority have no defined order between them.
        var ordered = objects.AdminNetworkPolicies.Where(static p => p.Kind != "BaselineAdminNetworkPolicy");
        foreach (var group in ordered.GroupBy(static p => (p.Tier, p.Priority)).Where(static g => g.Count() > 1))
        {
            var first = group.First();
            foreach (var other in group.Skip(1))
            {
                diagnostics.Error(
                    DiagnosticCodes.SamePriority,
                    other.Location ?? SourceLocation.Unknown("input"),
                    $"{first.Kind} {first.Name} and {other.Kind} {other.Name} both have priority {group.Key.Priority} in the {group.Key.Tier.ToString().ToLowerInvariant()} tier, so which decides first is undefined; give each its own priority",
                    $"{other.Kind} {other.Name}",
                    "spec.priority");
            }
        }
    }
}
