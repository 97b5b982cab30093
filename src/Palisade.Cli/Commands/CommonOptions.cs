using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Palisade.Cli.Logging;
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
        Description = "Print what was read, the snapshot's compile statistics and each phase to stderr",
    };

    /// <summary>The logger of one command run: everything with --verbose, otherwise warnings only.</summary>
    public static ILogger Logger(TextWriter error, bool verbose) =>
        new TextWriterLoggerProvider(error, verbose ? LogLevel.Debug : LogLevel.Warning).CreateLogger("palisade");

    public static SnapshotOptions Snapshot(string scope) =>
        new() { IpBlockScope = scope == "all" ? Compilation.IpBlockScope.All : Compilation.IpBlockScope.External };

    /// <summary>Starts a phase: a status line on a terminal, a log line with --verbose.</summary>
    public static void Phase(ILogger log, ProgressLine progress, string phase)
    {
        progress.Show(phase);
        CliLog.Phase(log, phase);
    }

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
    public static ClusterSpec? Load(IEnumerable<string> paths, TextWriter error, ILogger log, ProgressLine progress, ManifestReadOptions? options = null)
    {
        Phase(log, progress, "reading manifests");
        var stopwatch = Stopwatch.StartNew();
        var result = ManifestLoader.Load(paths, options);
        progress.Dispose();
        Print(result.Diagnostics, error);
        if (result.HasErrors)
        {
            var count = result.Diagnostics.Count(static d => d.Severity == Severity.Error);
            error.WriteLine($"palisade: {count} error{(count == 1 ? string.Empty : "s")} in the input; nothing was analysed");
            return null;
        }

        var cluster = result.Cluster;
        CliLog.ManifestsRead(log, result.Files.Count, stopwatch.ElapsedMilliseconds, cluster.Namespaces.Count, cluster.Pods.Count, cluster.Workloads.Count, cluster.NetworkPolicies.Count);
        return cluster;
    }

    /// <summary>Compiles a snapshot, reporting its statistics when asked.</summary>
    public static PolicySnapshot Compile(ClusterSpec cluster, SnapshotOptions options, ILogger log, ProgressLine progress)
    {
        Phase(log, progress, "compiling the policy snapshot");
        var snapshot = SnapshotCompiler.Compile(cluster, options);
        var s = snapshot.Statistics;
        if (!log.IsEnabled(LogLevel.Debug))
        {
            return snapshot;
        }

        var phases = string.Join(", ", s.Phases.Select(static p => string.Create(CultureInfo.InvariantCulture, $"{p.Phase} {p.Milliseconds:F0} ms")));
        CliLog.SnapshotCompiled(log, s.Revision, s.Milliseconds, s.Pods, s.Identities, s.Policies, s.IngressClasses, s.EgressClasses, s.ConnectionSets, phases);
        return snapshot;
    }
}
