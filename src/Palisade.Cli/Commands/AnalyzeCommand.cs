using System.CommandLine;
using Palisade.Analysis;
using Palisade.Cli.Logging;
using Palisade.Manifests;

namespace Palisade.Cli.Commands;

/// <summary><c>palisade analyze</c>: every allowed connection between workloads and outside address ranges.</summary>
internal static class AnalyzeCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var paths = CommonOptions.Paths("Manifest files or folders (YAML or JSON, read recursively)");
        var format = new Option<string>("--format", "-f")
        {
            Description = "Output form: txt (netpol-analyzer's 'SRC => DST : CONN' lines), json, csv, md or dot",
            DefaultValueFactory = _ => "txt",
        }.AcceptOnlyFromAmong("txt", "json", "csv", "md", "dot");
        var scope = CommonOptions.IpBlockScope();
        var explain = new Option<bool>("--explain")
        {
            Description = "Add to each connection the policy rules that admit it, per direction, and list workload pairs that nothing admits",
        };
        var outputFile = new Option<string?>("--output", "-o") { Description = "Write the report to FILE instead of stdout" };
        var verbose = CommonOptions.Verbose();

        var command = new Command(
            "analyze",
            "List the allowed connections between workloads, and between workloads and outside address ranges. " +
            "Workloads are written ns/name[Kind]; outside ranges first-last[External]; connections as 'All Connections' or e.g. 'TCP 80,8080-8090,UDP 53'. " +
            "IPv6 ranges are listed when the cluster uses IPv6. " +
            "Outside hosts that DNS-name rules (Cilium toFQDNs, ClusterNetworkPolicy domainNames) open are their own peers, e.g. 'pypi.org[DNS]'; " +
            "so are Cilium's node entities: host[Entity], remote-node[Entity], kube-apiserver[Entity], and, where rules select nodes by their labels, each other node, NAME[Node]. " +
            "Ports that HTTP or DNS rules restrict are marked, e.g. ' [L7: HTTP on TCP 8080]': only the requests those rules allow pass; ask about one with 'palisade eval --http-method ...'.")
        {
            paths, format, scope, explain, outputFile, verbose,
        };

        command.SetAction(parse =>
        {
            var log = CommonOptions.Logger(error, parse.GetValue(verbose));
            using var progress = new ProgressLine(error);
            var cluster = CommonOptions.Load(parse.GetRequiredValue(paths), error, log, progress, new ManifestReadOptions { RejectNamedPortsOnIpBlocks = true });
            if (cluster is null)
            {
                return ExitCodes.BadInput;
            }

            var snapshot = CommonOptions.Compile(cluster, CommonOptions.Snapshot(parse.GetRequiredValue(scope)), log, progress);
            CommonOptions.Phase(log, progress, "analysing connectivity");
            var report = ConnectivityAnalyzer.Analyze(snapshot, new AnalyzeOptions { Explain = parse.GetValue(explain) });
            progress.Dispose();
            if (report.Problems.Count > 0)
            {
                CommonOptions.Print(report.Problems, error);
                return ExitCodes.BadInput;
            }

            var form = Enum.Parse<ReportFormat>(parse.GetRequiredValue(format), ignoreCase: true);
            var file = parse.GetValue(outputFile);
            if (file is null)
            {
                ReportWriter.Write(report, form, output);
                output.Flush();
            }
            else
            {
                try
                {
                    using var writer = new StreamWriter(file);
                    ReportWriter.Write(report, form, writer);
                }
                catch (Exception failure) when (failure is IOException or UnauthorizedAccessException)
                {
                    error.WriteLine($"{file}: error PAL0001: cannot write the report: {failure.Message}");
                    return ExitCodes.BadInput;
                }
            }

            CliLog.ReportWritten(log, report.Lines.Count, report.Workloads);
            return ExitCodes.Success;
        });
        return command;
    }
}
