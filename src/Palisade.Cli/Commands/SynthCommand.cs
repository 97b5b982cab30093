using System.CommandLine;
using System.Diagnostics;
using Palisade.Manifests;
using Palisade.Synthesis;

namespace Palisade.Cli.Commands;

/// <summary><c>palisade synth</c>: writes a synthetic cluster for benchmarks and scale tests.</summary>
internal static class SynthCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var namespaces = new Option<int>("--namespaces") { Description = "Namespaces (besides kube-system)", DefaultValueFactory = _ => 20 };
        var pods = new Option<int>("--pods") { Description = "Pods in all", DefaultValueFactory = _ => 1000 };
        var policies = new Option<int>("--policies") { Description = "NetworkPolicies in all", DefaultValueFactory = _ => 200 };
        var seed = new Option<int>("--seed") { Description = "Random seed; the same options write the same cluster", DefaultValueFactory = _ => 1 };
        var mixed = new Option<bool>("--mixed-dialects")
        {
            Description = "Spend part of the policy budget on the other dialects: a quarter on Cilium policies with DNS-name egress, a quarter on Cilium HTTP rules, " +
                "and AdminNetworkPolicies, a BaselineAdminNetworkPolicy and a baseline ClusterNetworkPolicy (written to _cluster.yaml)",
        };
        var folder = new Option<string>("--output", "-o") { Description = "Folder to write (one YAML file per namespace)", Required = true };
        var command = new Command(
            "synth",
            "Write a synthetic but realistic cluster: skewed namespace sizes and labels, workloads with named ports, per-namespace default deny, " +
            "DNS egress, app-to-app and cross-namespace allows, and egress to outside CIDR blocks.")
        {
            namespaces, pods, policies, seed, mixed, folder,
        };

        command.SetAction(parse =>
        {
            var options = new SynthesisOptions
            {
                Namespaces = parse.GetValue(namespaces),
                Pods = parse.GetValue(pods),
                Policies = parse.GetValue(policies),
                Seed = parse.GetValue(seed),
                MixedDialects = parse.GetValue(mixed),
            };
            if (options.Namespaces < 1 || options.Pods < 0 || options.Policies < 0)
            {
                error.WriteLine("palisade: --namespaces must be at least 1, and --pods and --policies not negative");
                return ExitCodes.BadInput;
            }

            var stopwatch = Stopwatch.StartNew();
            var cluster = ClusterSynthesizer.Generate(options);
            var target = parse.GetRequiredValue(folder);
            IReadOnlyList<string> files;
            try
            {
                files = ManifestWriter.WriteFolder(cluster, target);
            }
            catch (Exception failure) when (failure is IOException or UnauthorizedAccessException)
            {
                error.WriteLine($"{target}: error PAL0001: cannot write: {failure.Message}");
                return ExitCodes.BadInput;
            }

            output.Write(
                $"wrote {files.Count} files to {target} in {stopwatch.ElapsedMilliseconds} ms: {cluster.Namespaces.Count} namespaces, " +
                $"{cluster.Pods.Count} pods, {cluster.NetworkPolicies.Count} network policies" +
                (options.MixedDialects ? $", {cluster.AdminNetworkPolicies.Count} cluster-wide policies, {cluster.CiliumPolicies.Count} Cilium policies\n" : "\n"));
            return ExitCodes.Success;
        });
        return command;
    }
}
