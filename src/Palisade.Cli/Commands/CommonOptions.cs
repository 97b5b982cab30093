using System.CommandLine;
using System.Diagnostics;
using Palisade.Compilation;
using Palisade.Diagnostics;
using Palisade.Manifests;
using Palisade.Model;

namespace Palisade.Cli.Commands;

/// <summary>Options and input handling that several commands share.</summary>
internal static class CommonOptions
{
    public static Argument<string[]> Paths(string description) => new("PATH")
    {
        Arity = ArgumentArity.OneOrMore,
        Description = description,
    };

    public static Option<string> IpBlockScope() => new Option<string>("--ipblock-scope")
    {
        Description = "Whether CIDR peers (ipBlock) can match pods' own addresses: 'external' (default; as Cilium and netpol-analyzer) or 'all' (as the upstream Kubernetes e2e suite expects)",
        DefaultValueFactory = _ => "external",
    }.AcceptOnlyFromAmong("external", "all");

    public static Option<bool> Verbose() => new("--verbose", "-v")
    {
        Description = "Print what was read and the snapshot's compile statistics to stderr",
    };

    public static SnapshotOptions Snapshot(string scope) =>
        new() { IpBlockScope = scope == "all" ? Compilation.IpBlockScope.All : Compilation.IpBlockScope.External };

    /// <summary>Prints diagnostics to stderr, errors and warnings alike, in order.</summary>
    public static void Print(IEnumerable<Diagnostic> diagnostics, TextWriter error)
    {
        foreach (var diagnostic in diagnostics)
        {
            error.WriteLine(diagnostic.ToString());
        }
    }

    /// <summary>
    /// Reads manifests and prints their diagnostics. Returns null when any is an error, after which the
    /// command exits with <see cref="ExitCodes.BadInput"/>.
    /// </summary>
    public static ClusterSpec? Load(IEnumerable<string> paths, TextWriter error, bool verbose, ManifestReadOptions? options = null)
    {
        var stopwatch = Stopwatch.StartNew();
        var result = ManifestLoader.Load(paths, options);
        Print(result.Diagnostics, error);
        if (result.HasErrors)
        {
            var count = result.Diagnostics.Count(static d => d.Severity == Severity.Error);
            error.WriteLine($"palisade: {count} error{(count == 1 ? string.Empty : "s")} in the input; nothing was analysed");
            return null;
        }

        if (verbose)
        {
            var cluster = result.Cluster;
            error.WriteLine(
                $"read {result.Files.Count} files in {stopwatch.ElapsedMilliseconds} ms: {cluster.Namespaces.Count} namespaces, {cluster.Pods.Count} pods, " +
                $"{cluster.Workloads.Count} workloads, {cluster.NetworkPolicies.Count} network policies");
        }

        return result.Cluster;
    }

    /// <summary>Compiles a snapshot, reporting its statistics when asked.</summary>
    public static PolicySnapshot Compile(ClusterSpec cluster, SnapshotOptions options, TextWriter error, bool verbose)
    {
        var snapshot = SnapshotCompiler.Compile(cluster, options);
        if (verbose)
        {
            var s = snapshot.Statistics;
            error.WriteLine(
                $"compiled snapshot revision {s.Revision} in {s.Milliseconds:F1} ms: {s.Pods} pods in {s.Identities} identities, {s.Policies} policies, " +
                $"{s.IngressClasses} ingress and {s.EgressClasses} egress classes, {s.ConnectionSets} distinct connection sets " +
                $"({string.Join(", ", s.Phases.Select(static p => $"{p.Phase} {p.Milliseconds:F0} ms"))})");
        }

        return snapshot;
    }
}
