using System.CommandLine;
using System.Globalization;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;
using Palisade.Flows.Storage;

namespace Palisade.Cli.Commands;

/// <summary>The flow filters of <c>palisade flows</c> commands, named as <c>hubble observe</c> names them, and Palisade's own.</summary>
internal sealed class FlowFilterOptions(string? defaultSince = null)
{
    private readonly Option<string?> _since = new("--since")
    {
        Description = "Flows at or after this time: RFC 3339 (2026-11-28T10:00:00Z) or a duration before now (2h, 7d, 1h30m)",
        DefaultValueFactory = _ => defaultSince,
    };

    private readonly Option<string?> _until = new("--until") { Description = "Flows before this time, in the same forms as --since" };

    private readonly Option<string[]> _namespace = Many("--namespace", "Flows with either end in this namespace");
    private readonly Option<string[]> _fromNamespace = Many("--from-namespace", "Flows from this namespace");
    private readonly Option<string[]> _toNamespace = Many("--to-namespace", "Flows to this namespace");
    private readonly Option<string[]> _pod = Many("--pod", "Flows with either end this pod: [NAMESPACE/]POD, a trailing * matches a prefix");
    private readonly Option<string[]> _fromPod = Many("--from-pod", "Flows from this pod");
    private readonly Option<string[]> _toPod = Many("--to-pod", "Flows to this pod");
    private readonly Option<string[]> _label = Many("--label", "Flows with either end carrying this label (app=web, or Cilium's form k8s:app=web, reserved:world)");
    private readonly Option<string[]> _fromLabel = Many("--from-label", "Flows from an endpoint carrying this label");
    private readonly Option<string[]> _toLabel = Many("--to-label", "Flows to an endpoint carrying this label");
    private readonly Option<string[]> _ip = Many("--ip", "Flows with either address this one");
    private readonly Option<string[]> _fromIp = Many("--from-ip", "Flows from this address");
    private readonly Option<string[]> _toIp = Many("--to-ip", "Flows to this address");
    private readonly Option<string[]> _verdict = Many("--verdict", "FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED or TRANSLATED");
    private readonly Option<string[]> _protocol = Many("--protocol", "TCP, UDP, SCTP, ICMPv4 or ICMPv6");
    private readonly Option<string[]> _port = Many("--port", "Flows with either port this one");
    private readonly Option<string[]> _fromPort = Many("--from-port", "Flows from this port");
    private readonly Option<string[]> _toPort = Many("--to-port", "Flows to this port");
    private readonly Option<string[]> _httpStatus = Many("--http-status", "HTTP responses with this status: 404, or 5+ for every 5xx");
    private readonly Option<string[]> _httpMethod = Many("--http-method", "HTTP requests with this method");
    private readonly Option<string[]> _dnsQuery = Many("--dns-query", "DNS records for this name (*.example.com for its subdomains)");
    private readonly Option<string[]> _node = Many("--node-name", "Flows seen by this node");
    private readonly Option<string[]> _type = Many("--type", "Layer-7 records only: http or dns");
    private readonly Option<string[]> _policy = Many("--policy", "Flows the engine attributed to this policy: [NAMESPACE/]NAME");
    private readonly Option<string[]> _project = Many("--project", "Flows of this research project");
    private readonly Option<bool> _disagreement = new("--disagreement") { Description = "Only flows whose observed verdict and the engine's disagree (forwarded though policies deny it, dropped though they allow it)" };

    public void AddTo(Command command)
    {
        foreach (var option in (Option[])[_since, _until, _namespace, _fromNamespace, _toNamespace, _pod, _fromPod, _toPod, _label, _fromLabel, _toLabel, _ip, _fromIp, _toIp,
                     _verdict, _protocol, _port, _fromPort, _toPort, _httpStatus, _httpMethod, _dnsQuery, _node, _type, _policy, _project, _disagreement])
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The query the options give, times judged at <paramref name="now"/>; null (with the problem printed) when one is malformed.</summary>
    public FlowQuery? Query(ParseResult parse, TextWriter error, DateTimeOffset now)
    {
        var ok = Time(parse.GetValue(_since), "--since", now, error, out var since);
        ok &= Time(parse.GetValue(_until), "--until", now, error, out var until);
        var verdicts = new List<FlowVerdict>();
        foreach (var text in parse.GetValue(_verdict) ?? [])
        {
            if (FlowNames.TryParseVerdict(text, out var verdict) && verdict != FlowVerdict.Unknown)
            {
                verdicts.Add(verdict);
            }
            else
            {
                ok = Bad(error, "--verdict", text, "FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED or TRANSLATED");
            }
        }

        var protocols = new List<FlowProtocol>();
        foreach (var text in parse.GetValue(_protocol) ?? [])
        {
            if (FlowNames.TryParseProtocol(text, out var protocol))
            {
                protocols.Add(protocol);
            }
            else
            {
                ok = Bad(error, "--protocol", text, "TCP, UDP, SCTP, ICMPv4 or ICMPv6");
            }
        }

        var statuses = new List<(int, int)>();
        foreach (var text in parse.GetValue(_httpStatus) ?? [])
        {
            if (text.Length == 2 && text[1] == '+' && text[0] is >= '1' and <= '5')
            {
                var hundred = (text[0] - '0') * 100;
                statuses.Add((hundred, hundred + 99));
            }
            else if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code is >= 100 and <= 599)
            {
                statuses.Add((code, code));
            }
            else
            {
                ok = Bad(error, "--http-status", text, "a status code from 100 to 599, or 2+, 4+, 5+ for a class");
            }
        }

        foreach (var text in parse.GetValue(_type) ?? [])
        {
            if (!text.Equals("http", StringComparison.OrdinalIgnoreCase) && !text.Equals("dns", StringComparison.OrdinalIgnoreCase))
            {
                ok = Bad(error, "--type", text, "http or dns");
            }
        }

        var ports = Ports(parse, _port, error, ref ok);
        var fromPorts = Ports(parse, _fromPort, error, ref ok);
        var toPorts = Ports(parse, _toPort, error, ref ok);
        if (!ok)
        {
            return null;
        }

        return new FlowQuery
        {
            SinceNanos = since,
            UntilNanos = until,
            Namespaces = parse.GetValue(_namespace) ?? [],
            FromNamespaces = parse.GetValue(_fromNamespace) ?? [],
            ToNamespaces = parse.GetValue(_toNamespace) ?? [],
            Pods = parse.GetValue(_pod) ?? [],
            FromPods = parse.GetValue(_fromPod) ?? [],
            ToPods = parse.GetValue(_toPod) ?? [],
            Labels = parse.GetValue(_label) ?? [],
            FromLabels = parse.GetValue(_fromLabel) ?? [],
            ToLabels = parse.GetValue(_toLabel) ?? [],
            Ips = parse.GetValue(_ip) ?? [],
            FromIps = parse.GetValue(_fromIp) ?? [],
            ToIps = parse.GetValue(_toIp) ?? [],
            Verdicts = verdicts,
            Protocols = protocols,
            Ports = ports,
            FromPorts = fromPorts,
            ToPorts = toPorts,
            HttpStatus = statuses,
            HttpMethods = parse.GetValue(_httpMethod) ?? [],
            DnsQueries = parse.GetValue(_dnsQuery) ?? [],
            Nodes = parse.GetValue(_node) ?? [],
            L7Protocols = parse.GetValue(_type) ?? [],
            Policies = parse.GetValue(_policy) ?? [],
            Projects = parse.GetValue(_project) ?? [],
            DisagreementOnly = parse.GetValue(_disagreement),
        };
    }

    private static bool Time(string? text, string option, DateTimeOffset now, TextWriter error, out long? nanos)
    {
        nanos = null;
        if (text is null)
        {
            return true;
        }

        if (FlowTimes.TryParse(text, now, out var value))
        {
            nanos = value;
            return true;
        }

        error.WriteLine($"palisade: {option} '{text}' is neither an RFC 3339 time (2026-11-28T10:00:00Z) nor a duration (2h, 7d, 1h30m)");
        return false;
    }

    private static List<int> Ports(ParseResult parse, Option<string[]> option, TextWriter error, ref bool ok)
    {
        var ports = new List<int>();
        foreach (var text in parse.GetValue(option) ?? [])
        {
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535)
            {
                ports.Add(port);
            }
            else
            {
                ok = Bad(error, option.Name, text, "a port from 0 to 65535");
            }
        }

        return ports;
    }

    private static bool Bad(TextWriter error, string option, string value, string expected)
    {
        error.WriteLine($"palisade: {option} '{value}' is not valid; expected {expected}");
        return false;
    }

    private static Option<string[]> Many(string name, string description) => new(name)
    {
        Description = description + " (repeatable)",
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.ZeroOrMore,
    };
}
