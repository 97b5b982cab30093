using Palisade.Cli.Logging;
using System.CommandLine;
using Palisade.Sets;
using Palisade.Verdicts;

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
            Description = "TCP, UDP, SCTP, ICMP or ICMPv6",
            DefaultValueFactory = _ => "TCP",
        }.AcceptOnlyFromAmong("TCP", "UDP", "SCTP", "ICMP", "ICMPv4", "ICMPv6", "tcp", "udp", "sctp", "icmp", "icmpv4", "icmpv6");
        var port = new Option<int?>("--port") { Description = "Destination port, 1-65535 (TCP, UDP and SCTP)" };
        var icmpType = new Option<int?>("--icmp-type")
        {
            Description = "The ICMP message type, 0-255 (ICMP and ICMPv6; default the echo request: 8, or 128 for ICMPv6)",
        };
        var explain = new Option<bool>("--explain")
        {
            Description = "Also list the policies that select each end and the rules that match the peer but not the port",
        };
        var scope = CommonOptions.IpBlockScope();
        var verbose = CommonOptions.Verbose();
        var method = new Option<string?>("--http-method") { Description = "Ask about this HTTP request method at layer 7 (with --http-path, --http-host, --http-header)" };
        var path = new Option<string?>("--http-path") { Description = "The HTTP request path, with any query string" };
        var host = new Option<string?>("--http-host") { Description = "The HTTP Host header" };
        var headers = new Option<string[]>("--http-header")
        {
            Description = "An HTTP header as NAME=VALUE; repeat for more",
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => [],
        };
        var query = new Option<string?>("--dns-query") { Description = "Ask about a DNS query for this name (to a DNS server, usually UDP 53)" };

        var command = new Command(
            "eval",
            "Decide one connection, and optionally one HTTP request or DNS query on it: prints ALLOWED or DENIED with the tier, policy and rule that decided each direction. " +
            "Exit code 0 when allowed, 1 when denied, 2 on bad input.")
        {
            paths, from, to, protocol, port, icmpType, method, path, host, headers, query, explain, scope, verbose,
        };

        command.SetAction(parse =>
        {
            if (!Protocols.TryParse(parse.GetRequiredValue(protocol), out var proto))
            {
                error.WriteLine("palisade: --protocol must be TCP, UDP, SCTP, ICMP or ICMPv6");
                return ExitCodes.BadInput;
            }

            // ICMP takes its message type where the transport protocols take a port.
            var (given, other, flag) = proto.IsIcmp() ? (parse.GetValue(icmpType), parse.GetValue(port), "--icmp-type") : (parse.GetValue(port), parse.GetValue(icmpType), "--port");
            if (other is not null)
            {
                error.WriteLine(proto.IsIcmp()
                    ? $"palisade: {proto.Name()} has no ports; give --icmp-type instead (8 is an echo request, 128 for ICMPv6)"
                    : $"palisade: --icmp-type is for ICMP and ICMPv6; {proto.Name()} takes --port");
                return ExitCodes.BadInput;
            }

            if (given is null && !proto.IsIcmp())
            {
                error.WriteLine($"palisade: {proto.Name()} needs --port (1-65535)");
                return ExitCodes.BadInput;
            }

            var portNumber = given ?? (proto == Protocol.Icmp ? 8 : 128);
            if (portNumber < proto.MinPort() || portNumber > proto.MaxPort())
            {
                error.WriteLine($"palisade: {flag} {portNumber} is not between {proto.MinPort()} and {proto.MaxPort()}");
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
            var headerMap = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var header in parse.GetValue(headers) ?? [])
            {
                var equals = header.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    error.WriteLine($"palisade: --http-header '{header}' is not NAME=VALUE");
                    return ExitCodes.BadInput;
                }

                headerMap[header[..equals]] = header[(equals + 1)..];
            }

            var isHttp = parse.GetValue(method) is not null || parse.GetValue(path) is not null || parse.GetValue(host) is not null || headerMap.Count > 0;
            if (proto.IsIcmp() && (isHttp || parse.GetValue(query) is not null))
            {
                error.WriteLine($"palisade: {proto.Name()} carries no HTTP request or DNS query; ask about TCP or UDP for those");
                return ExitCodes.BadInput;
            }

            if (isHttp && parse.GetValue(query) is not null)
            {
                error.WriteLine("palisade: ask about an HTTP request or a DNS query, not both");
                return ExitCodes.BadInput;
            }

            var request = parse.GetValue(query) is { } name
                ? new L7Request { DnsQuery = name }
                : isHttp ? new L7Request { Method = parse.GetValue(method), Path = parse.GetValue(path), Host = parse.GetValue(host), Headers = headerMap } : null;
            var explanation = snapshot.Explain(source, destination, proto, portNumber, request);
            var detailed = parse.GetValue(explain);
            var text = explanation.Describe(nearMisses: detailed);
            if (detailed)
            {
                text += DescribeEnds(snapshot, source, destination);
            }

            output.Write(text);
            output.Flush();
            return explanation.Allowed ? ExitCodes.Success : ExitCodes.Findings;
        });
        return command;
    }

    private static string DescribeEnds(Compilation.PolicySnapshot snapshot, Endpoint source, Endpoint destination)
    {
        string Describe(Endpoint endpoint)
        {
            if (endpoint.Kind == EndpointKind.Node)
            {
                return $"  {endpoint.Label}: host network of node {endpoint.NodeName} ({IpNumbers.Format(endpoint.Address)})";
            }

            if (endpoint.Kind != EndpointKind.Pod)
            {
                return $"  {endpoint.Label}: outside address {IpNumbers.Format(endpoint.Address)}{(endpoint.DnsName is null ? string.Empty : $" reached as {endpoint.DnsName}")}";
            }

            var pod = snapshot.Pods[endpoint.PodIndex];
            var identity = snapshot.Identities[pod.Identity];
            return $"  {endpoint.Label}: pod {pod.Spec} of {pod.Spec.Workload}, labels {{{pod.Spec.Labels}}}, identity {identity.Index} ({identity.Pods.Count} pod{(identity.Pods.Count == 1 ? string.Empty : "s")})";
        }

        return Describe(source) + "\n" + Describe(destination) + "\n";
    }
}
