using System.Text;
using System.Text.Json;
using Palisade.Model;

namespace Palisade.Analysis;

/// <summary>The output forms of <c>palisade analyze</c>.</summary>
public enum ReportFormat
{
    /// <summary>netpol-analyzer's text: one <c>SRC => DST : CONN</c> line per connection.</summary>
    Txt,

    /// <summary>A JSON array of <c>{"src", "dst", "conn"}</c> objects.</summary>
    Json,

    /// <summary>CSV with the header <c>src,dst,conn</c>.</summary>
    Csv,

    /// <summary>A Markdown table.</summary>
    Md,

    /// <summary>A Graphviz digraph, one cluster per namespace.</summary>
    Dot,
}

/// <summary>Writes a <see cref="ConnectivityReport"/> in each <see cref="ReportFormat"/>; every form holds the same lines.</summary>
public static class ReportWriter
{
    /// <summary>Writes <paramref name="report"/> to <paramref name="output"/>.</summary>
    public static void Write(ConnectivityReport report, ReportFormat format, TextWriter output)
    {
        switch (format)
        {
            case ReportFormat.Txt:
                WriteText(report, output);
                break;
            case ReportFormat.Json:
                WriteJson(report, output);
                break;
            case ReportFormat.Csv:
                WriteCsv(report, output);
                break;
            case ReportFormat.Md:
                WriteMarkdown(report, output);
                break;
            case ReportFormat.Dot:
                WriteDot(report, output);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(format));
        }
    }

    private static void WriteText(ConnectivityReport report, TextWriter output)
    {
        foreach (var line in report.Lines)
        {
            output.Write(line.ToString());
            output.Write('\n');
            if (line.Egress is not null)
            {
                output.Write("    " + line.Egress.Describe(Direction.Egress) + "\n");
            }

            if (line.Ingress is not null)
            {
                output.Write("    " + line.Ingress.Describe(Direction.Ingress) + "\n");
            }
        }
    }

    private static void WriteJson(ConnectivityReport report, TextWriter output)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartArray();
            foreach (var line in report.Lines)
            {
                json.WriteStartObject();
                json.WriteString("src", line.Source.ToString());
                json.WriteString("dst", line.Destination.ToString());
                json.WriteString("conn", line.Connections.ToString());
                if (line.Layer7 is not null)
                {
                    json.WriteString("l7", line.Layer7);
                }
                if (line.Egress is not null)
                {
                    json.WriteString("egress", line.Egress.Describe(Direction.Egress));
                }

                if (line.Ingress is not null)
                {
                    json.WriteString("ingress", line.Ingress.Describe(Direction.Ingress));
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        output.Write(Encoding.UTF8.GetString(buffer.ToArray()));
        output.Write('\n');
    }

    private static string Csv(string field) =>
        field.Contains(',', StringComparison.Ordinal) || field.Contains('"', StringComparison.Ordinal)
            ? "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""
            : field;

    private static void WriteCsv(ConnectivityReport report, TextWriter output)
    {
        var explain = report.Lines.Any(static l => l.Egress is not null || l.Ingress is not null);
        output.Write(explain ? "src,dst,conn,egress,ingress\n" : "src,dst,conn\n");
        foreach (var line in report.Lines)
        {
            output.Write($"{Csv(line.Source.ToString())},{Csv(line.Destination.ToString())},{Csv(line.Layer7 is null ? line.Connections.ToString() : $"{line.Connections} [L7: {line.Layer7}]")}");
            if (explain)
            {
                output.Write($",{Csv(line.Egress?.Describe(Direction.Egress) ?? string.Empty)},{Csv(line.Ingress?.Describe(Direction.Ingress) ?? string.Empty)}");
            }

            output.Write('\n');
        }
    }

    private static string Md(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);

    private static void WriteMarkdown(ConnectivityReport report, TextWriter output)
    {
        var explain = report.Lines.Any(static l => l.Egress is not null || l.Ingress is not null);
        output.Write(explain ? "| src | dst | conn | egress | ingress |\n|-----|-----|------|--------|---------|\n" : "| src | dst | conn |\n|-----|-----|------|\n");
        foreach (var line in report.Lines)
        {
            output.Write($"| {Md(line.Source.ToString())} | {Md(line.Destination.ToString())} | {Md(line.Layer7 is null ? line.Connections.ToString() : $"{line.Connections} [L7: {line.Layer7}]")} |");
            if (explain)
            {
                output.Write($" {Md(line.Egress?.Describe(Direction.Egress) ?? string.Empty)} | {Md(line.Ingress?.Describe(Direction.Ingress) ?? string.Empty)} |");
            }

            output.Write('\n');
        }
    }

    private static string Quote(string text) => "\"" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static void WriteDot(ConnectivityReport report, TextWriter output)
    {
        output.Write("digraph {\n");
        var peers = report.Lines.SelectMany(static l => new[] { l.Source, l.Destination }).Distinct().ToList();
        foreach (var group in peers.Where(static p => p.Workload is not null).GroupBy(static p => p.Workload!.Namespace).OrderBy(static g => g.Key, StringComparer.Ordinal))
        {
            output.Write($"\tsubgraph {Quote("cluster_" + group.Key)} {{\n");
            output.Write($"\t\tlabel={Quote(group.Key)}\n");
            foreach (var peer in group.OrderBy(static p => p.ToString(), StringComparer.Ordinal))
            {
                output.Write($"\t\t{Quote(peer.ToString())} [label={Quote($"{peer.Workload!.Name}[{peer.Workload.Kind}]")} color=\"blue\" fontcolor=\"blue\"]\n");
            }

            output.Write("\t}\n");
        }

        foreach (var peer in peers.Where(static p => p.Workload is null).OrderBy(static p => p.ToString(), StringComparer.Ordinal))
        {
            output.Write($"\t{Quote(peer.ToString())} [label={Quote(peer.ToString())} color=\"red2\" fontcolor=\"red2\"]\n");
        }

        foreach (var line in report.Lines)
        {
            var color = line.Connections.IsEmpty ? "red" : "gold2";
            var label = line.Layer7 is null ? line.Connections.ToString() : $"{line.Connections} [L7: {line.Layer7}]";
            output.Write($"\t{Quote(line.Source.ToString())} -> {Quote(line.Destination.ToString())} [label={Quote(label)} color={Quote(color)} fontcolor=\"darkgreen\"]\n");
        }

        output.Write("}\n");
    }
}
