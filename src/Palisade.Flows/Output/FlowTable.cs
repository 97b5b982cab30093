using System.Globalization;
using Palisade.Flows.Records;

namespace Palisade.Flows.Output;

/// <summary>
/// Flows as a table for people, with the columns of <c>hubble observe -o table</c> (time, source,
/// destination, type, verdict, summary) and, when flows were attributed, the deciding policy.
/// </summary>
public static class FlowTable
{
    /// <summary>The header row.</summary>
    public static string[] Header(bool attributed) =>
        attributed ? ["TIMESTAMP", "SOURCE", "DESTINATION", "TYPE", "VERDICT", "SUMMARY", "POLICY"] : ["TIMESTAMP", "SOURCE", "DESTINATION", "TYPE", "VERDICT", "SUMMARY"];

    /// <summary>The cells of one flow.</summary>
    public static string[] Row(FlowRecord flow, bool attributed)
    {
        ArgumentNullException.ThrowIfNull(flow);
        var time = flow.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
        var verdict = flow.Verdict.Name() + (flow.DropReason is null ? string.Empty : $" ({flow.DropReason})");
        var summary = flow.Summary ?? string.Empty;
        var row = new List<string> { time, End(flow, flow.Source, flow.SourceIpText, flow.SourcePort, names: []), End(flow, flow.Destination, flow.DestinationIpText, flow.DestinationPort, flow.DestinationNames), Type(flow), verdict, summary };
        if (attributed)
        {
            var a = flow.Attribution;
            var disagreement = a?.Disagreement switch
            {
                Disagreement.ForwardedButDenied => " [forwarded, but policies deny it]",
                Disagreement.DroppedButAllowed => " [dropped, but policies allow it]",
                _ => string.Empty,
            };
            row.Add((a?.Policy ?? (a is null ? string.Empty : "(no policy: " + a.Verdict.ToString().ToLowerInvariant() + ")")) + disagreement);
        }

        return [.. row];
    }

    /// <summary>Writes rows as columns aligned with spaces.</summary>
    public static void Write(TextWriter output, IReadOnlyList<string[]> rows)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0)
        {
            return;
        }

        var widths = new int[rows.Max(static r => r.Length)];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        foreach (var row in rows)
        {
            var line = string.Join("  ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i])));
            output.WriteLine(line.TrimEnd());
        }
    }

    private static string End(FlowRecord flow, FlowEndpoint endpoint, string? ip, int port, IReadOnlyList<string> names)
    {
        var where = endpoint.PodName is not null ? endpoint.Display! : names.Count > 0 ? names[0] : ip ?? "?";
        var withPort = flow.Protocol is FlowProtocol.Tcp or FlowProtocol.Udp or FlowProtocol.Sctp ? $"{where}:{port.ToString(CultureInfo.InvariantCulture)}" : where;
        if (endpoint.PodName is null)
        {
            foreach (var label in endpoint.Labels)
            {
                if (label.StartsWith("reserved:", StringComparison.Ordinal))
                {
                    return $"{withPort} ({label["reserved:".Length..]})";
                }
            }
        }

        return withPort;
    }

    private static string Type(FlowRecord flow)
    {
        return flow.EventType switch
        {
            1 => "drop",
            4 => flow.TraceObservationPoint is { } point ? point.ToLowerInvariant().Replace('_', '-') : "trace",
            5 => "policy-verdict" + (flow.Direction == FlowDirection.Unknown ? string.Empty : " " + flow.Direction.Name()),
            129 => flow.Http is not null ? "http-" + flow.L7Type.Name().ToLowerInvariant() : flow.Dns is not null ? "dns-" + flow.L7Type.Name().ToLowerInvariant() : "l7",
            null => flow.Verdict == FlowVerdict.Dropped ? "drop" : string.Empty,
            { } other => other.ToString(CultureInfo.InvariantCulture),
        };
    }
}
