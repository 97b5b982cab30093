using Palisade.Cli.Logging;
using System.CommandLine;
using Palisade.Sets;

namespace Palisade.Cli.Commands;

/// <summary><c>palisade eval</c>: the verdict for one connection, and why.</summary>
internal static class EvalCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var paths = CommonOptions.Paths("Manifest files or folders");
        var from = new Option<string>("--from")
        {
            Description = "Source: ns/name of a pod or workload, an IP address, fqdn:NAME:IP or node:NAME",
            Required = true,
        };
        var to = new Option<string>("--to") { Description = "Destination, in the same forms as --from", Required = true };
        var protocol = new Option<string>("--protocol")
        {
            Description = "TCP, UDP or SCTP",
            DefaultValueFactory = _ => "TCP",
        }.AcceptOnlyFromAmong("TCP", "UDP", "SCTP", "tcp", "udp", "sctp");
        var port = new Option<int>("--port") { Description = "Destination port, 1-65535", Required = true };
        var explain = new Option<bool>("--explain")
        {
            Description = "Also list the policies that select each end and the rules that match the peer but not the port",
        };
        var scope = CommonOptions.IpBlockScope();
        var verbose = CommonOptions.Verbose();

        var command = new Command(
            "eval",
            "Decide one connection: prints ALLOWED or DENIED with the policy and rule that decided each direction. Exit code 0 when allowed, 1 when denied, 2 on bad input.")
        {
            paths, from, to, protocol, port, explain, scope, verbose,
        };

        command.SetAction(parse =>
        {
            var portNumber = parse.GetValue(port);
            if (portNumber is < 1 or > 65535)
            {
                error.WriteLine($"palisade: --port {portNumber} is not between 1 and 65535");
                return ExitCodes.BadInput;
            }

            if (!Protocols.TryParse(parse.GetRequiredValue(protocol), out var proto))
            {
                error.WriteLine("palisade: --protocol must be TCP, UDP or SCTP");
                return ExitCodes.BadInput;
            }

            var log = CommonOptions.Logger(error, parse.GetValue(verbose));
            using var progress = new ProgressLine(error);
            var cluster = CommonOptions.Load(parse.GetRequiredValue(paths), error, log, progress);
            if (cluster is null)
            {
                return ExitCodes.BadInput;
            }

            var snapshot = CommonOptions.Compile(cluster, CommonOptions.Snapshot(parse.GetRequiredValue(scope)), log, progress);
            if (!snapshot.TryResolve(parse.GetRequiredValue(from), out var source, out var fromError))
            {
                error.WriteLine($"palisade: --from: {fromError}");
                return ExitCodes.BadInput;
            }

            if (!snapshot.TryResolve(parse.GetRequiredValue(to), out var destination, out var toError))
            {
                error.WriteLine($"palisade: --to: {toError}");
                return ExitCodes.BadInput;
            }

            progress.Dispose();
            var explanation = snapshot.Explain(source, destination, proto, portNumber);
            var text = explanation.Describe();
            if (!parse.GetValue(explain))
            {
                // Without --explain, near misses (indented twice) are left out.
                text = string.Join('\n', text.Split('\n').Where(static l => !l.StartsWith("    ", StringComparison.Ordinal)));
            }
            else
            {
                text += DescribeEnds(snapshot, source, destination);
            }

            output.Write(text);
            output.Flush();
            return explanation.Allowed ? ExitCodes.Success : ExitCodes.Findings;
        });
        return command;
    }

    private static string DescribeEnds(Compilation.PolicySnapshot snapshot, Verdicts.Endpoint source, Verdicts.Endpoint destination)
    {
        string Describe(Verdicts.Endpoint endpoint)
        {
            if (endpoint.Kind != Verdicts.EndpointKind.Pod)
            {
                return $"  {endpoint.Label}: outside address {IpNumbers.Format(endpoint.Address)}";
            }

            var pod = snapshot.Pods[endpoint.PodIndex];
            var identity = snapshot.Identities[pod.Identity];
            return $"  {endpoint.Label}: pod {pod.Spec} of {pod.Spec.Workload}, labels {{{pod.Spec.Labels}}}, identity {identity.Index} ({identity.Pods.Count} pod{(identity.Pods.Count == 1 ? string.Empty : "s")})";
        }

        return Describe(source) + "\n" + Describe(destination) + "\n";
    }
}
