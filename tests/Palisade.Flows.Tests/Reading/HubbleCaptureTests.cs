using System.IO.Compression;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;
using Palisade.Tests;

namespace Palisade.Flows.Tests.Reading;

/// <summary>Reads every real Hubble capture in ../shared/flows/hubble and checks what it holds.</summary>
public sealed class HubbleCaptureTests
{
    public static string CaptureFolder => Path.Combine(TestPaths.Shared, "flows", "hubble");

    public static (List<FlowRecord> Flows, FlowReadReport Report) ReadAll()
    {
        var report = new FlowReadReport();
        var flows = new List<FlowRecord>();
        foreach (var file in FlowFileReader.Expand(CaptureFolder))
        {
            using var stream = FlowFileReader.Open(file);
            foreach (var batch in FlowFileReader.ReadBatches(stream, Path.GetFileName(file), report, batchSize: 100))
            {
                flows.AddRange(batch);
            }
        }

        return (flows, report);
    }

    [Fact]
    public void Expand_CaptureFolder_ListsEveryCaptureAndNotTheReadme()
    {
        var files = FlowFileReader.Expand(CaptureFolder).Select(Path.GetFileName).ToList();

        Assert.Equal(9, files.Count);
        Assert.DoesNotContain("README.md", files);
        Assert.Contains("cilium-docs-export-dropped.jsonl", files);
    }

    [Fact]
    public void ReadBatches_EveryCapture_ReadsEveryLineAsAFlow()
    {
        var (flows, report) = ReadAll();

        Assert.Equal(1518, report.Lines);
        Assert.Equal(1518, report.Flows);
        Assert.Equal(0, report.Malformed);
        Assert.Equal(1518, flows.Count);
    }

    [Fact]
    public void ReadBatches_EveryCapture_CountsByVerdictEventAndLayer7AsTheFilesHold()
    {
        var (flows, _) = ReadAll();

        Assert.Equal(1089, flows.Count(f => f.Verdict == FlowVerdict.Forwarded));
        Assert.Equal(427, flows.Count(f => f.Verdict == FlowVerdict.Redirected));
        Assert.Equal(2, flows.Count(f => f.Verdict == FlowVerdict.Dropped));
        Assert.Equal(753, flows.Count(f => f.EventType == 129));
        Assert.Equal(427, flows.Count(f => f.EventType == 5));
        Assert.Equal(336, flows.Count(f => f.EventType == 4));
        Assert.Equal(2, flows.Count(f => f.EventType is null));
        Assert.Equal(379, flows.Count(f => f.L7Type == L7Type.Request));
        Assert.Equal(374, flows.Count(f => f.L7Type == L7Type.Response));
        Assert.Equal(418, flows.Count(f => f.Http is not null));
        Assert.Equal(335, flows.Count(f => f.Dns is not null));
        Assert.Equal(1321, flows.Count(f => f.Protocol == FlowProtocol.Tcp));
        Assert.Equal(178, flows.Count(f => f.Protocol == FlowProtocol.Udp));
        Assert.Equal(18, flows.Count(f => f.Protocol == FlowProtocol.Icmpv4));
        Assert.Equal(1, flows.Count(f => f.Protocol == FlowProtocol.Icmpv6));
    }

    [Fact]
    public void ReadBatches_EveryCapture_CountsByNamespaceDirectionAndReplyAsTheFilesHold()
    {
        var (flows, _) = ReadAll();

        Assert.Equal(774, flows.Count(f => f.Source.Namespace == "bookinfo"));
        Assert.Equal(412, flows.Count(f => f.Source.Namespace == "kube-system"));
        Assert.Equal(155, flows.Count(f => f.Source.Namespace == "istio-system"));
        Assert.Equal(172, flows.Count(f => f.Source.Namespace is null));
        Assert.Equal(651, flows.Count(f => f.Destination.Namespace == "bookinfo"));
        Assert.Equal(1365, flows.Count(f => f.Direction == FlowDirection.Egress));
        Assert.Equal(94, flows.Count(f => f.Direction == FlowDirection.Ingress));

        // is_reply where given (971 false, 478 true); the deprecated 'reply: true' where only it is.
        Assert.Equal(971, flows.Count(f => f.IsReply == false));
        Assert.True(flows.Count(f => f.IsReply == true) >= 478);
    }

    [Fact]
    public void ReadBatches_EveryCapture_KnowsTheOverlappingExportsAsOneFlowEach()
    {
        var (flows, _) = ReadAll();

        Assert.Equal(1481, flows.Select(f => (f.Id, f.TimeUnixNanos)).Distinct().Count());
        Assert.Equal(1481, flows.Distinct().Count());
    }

    [Fact]
    public void TryParse_EveryCaptureAndSyntheticFlows_ReadTheSameWhetherKnownEndpointsArePassedOverOrRead()
    {
        var lines = new List<byte[]>();
        foreach (var file in FlowFileReader.Expand(CaptureFolder))
        {
            using var stream = FlowFileReader.Open(file);
            using var text = new StreamReader(stream);
            while (text.ReadLine() is { } line)
            {
                lines.Add(System.Text.Encoding.UTF8.GetBytes(line));
            }
        }

        var synthesizer = new Palisade.Flows.Synthesis.FlowSynthesizer(new Palisade.Flows.Synthesis.FlowSynthesisOptions { Namespaces = 3, WorkloadsPerNamespace = 4 });
        lines.AddRange(synthesizer.Next(5_000).Select(f => System.Text.Encoding.UTF8.GetBytes(Palisade.Flows.Output.FlowJson.ToJsonpb(f))));
        var skipping = new HubbleFlowParser();
        var reading = new HubbleFlowParser { SkipsKnownEndpoints = false };

        var flows = 0;
        foreach (var line in lines)
        {
            var kind = skipping.TryParse(line, out var skipped, out var skippedError);
            var again = reading.TryParse(line, out var read, out var readError);

            Assert.Equal(again, kind);
            Assert.Equal(readError, skippedError);
            if (kind == FlowLineKind.Flow)
            {
                Assert.Equal(Palisade.Flows.Output.FlowJson.ToJsonpb(read!), Palisade.Flows.Output.FlowJson.ToJsonpb(skipped!));
                flows++;
            }
        }

        Assert.True(flows > 6_000);
        Assert.True(skipping.EndpointsPassedOver > flows, $"{skipping.EndpointsPassedOver} endpoints passed over in {flows} flows");
        Assert.Equal(0, reading.EndpointsPassedOver);
    }

    [Fact]
    public void ReadBatches_FirstTcpFlow_ReadsEveryField()
    {
        var report = new FlowReadReport();
        using var stream = FlowFileReader.Open(Path.Combine(CaptureFolder, "basic-sample-10-flows.json"));
        var first = FlowFileReader.ReadBatches(stream, "sample", report).First()[0];

        Assert.Equal("2021-06-16T16:52:13.136834446Z", Rfc3339.Format(first.TimeUnixNanos));
        Assert.Equal(FlowVerdict.Forwarded, first.Verdict);
        Assert.Equal("10.0.2.16", first.SourceIpText);
        Assert.Equal("10.0.2.1", first.DestinationIpText);
        Assert.Equal(4, first.IpVersion);
        Assert.Equal(FlowProtocol.Tcp, first.Protocol);
        Assert.Equal(15020, first.SourcePort);
        Assert.Equal(42044, first.DestinationPort);
        Assert.Equal(TcpFlags.Fin | TcpFlags.Ack, first.TcpFlags);
        Assert.Equal("bookinfo", first.Source.Namespace);
        Assert.Equal("reviews-v1-545db77b95-s6jb8", first.Source.PodName);
        Assert.Equal(1231, first.Source.EndpointId);
        Assert.Equal(25339, first.Source.Identity);
        Assert.Contains("k8s:app=reviews", first.Source.Labels);
        Assert.Equal(["reserved:host"], first.Destination.Labels);
        Assert.Equal(1, first.Destination.Identity);
        Assert.Equal(FlowType.L3L4, first.Type);
        Assert.Equal("gke-ilya-otel-demo-1-ilya-otel-demo-1-6114bb84-zr1l", first.NodeName);
        Assert.True(first.IsReply);
        Assert.Equal(4, first.EventType);
        Assert.Equal(3, first.EventSubType);
        Assert.Equal(FlowDirection.Ingress, first.Direction);
        Assert.Equal("TO_STACK", first.TraceObservationPoint);
        Assert.Equal("TCP Flags: ACK, FIN", first.Summary);
        Assert.False(first.IdFromUuid);
    }

    [Fact]
    public void ReadBatches_ExporterDrop_KeepsTheDropReasonAndLeavesMaskedFieldsUnknown()
    {
        var report = new FlowReadReport();
        using var stream = FlowFileReader.Open(Path.Combine(CaptureFolder, "cilium-docs-export-dropped.jsonl"));
        var flows = FlowFileReader.ReadBatches(stream, "export", report).SelectMany(b => b).ToList();

        Assert.Equal(["INVALID_SOURCE_IP", "POLICY_DENIED"], flows.Select(f => f.DropReason));
        var denied = flows[1];
        Assert.Equal("default", denied.Source.Namespace);
        Assert.Equal("xwing", denied.Source.PodName);
        Assert.Equal(0, denied.Source.Identity);
        Assert.Null(denied.IsReply);
        Assert.Null(denied.EventType);
        Assert.Equal(FlowDirection.Unknown, denied.Direction);
        Assert.Equal(TcpFlags.Syn, denied.TcpFlags);
        Assert.Equal(6, flows[0].IpVersion);
        Assert.Equal(FlowProtocol.Icmpv6, flows[0].Protocol);
        Assert.Equal(133, flows[0].IcmpType);
        Assert.True(flows[0].Source.IsUnknown);
    }

    [Fact]
    public void ReadBatches_HttpAndDnsRecords_ReadLayer7()
    {
        var report = new FlowReadReport();
        using var stream = FlowFileReader.Open(Path.Combine(CaptureFolder, "basic-sample-5-http-flows.json"));
        var http = FlowFileReader.ReadBatches(stream, "http", report).SelectMany(b => b).First(f => f.Http is not null);
        using var dnsStream = FlowFileReader.Open(Path.Combine(CaptureFolder, "basic-sample-5-dns-flows.json"));
        var dns = FlowFileReader.ReadBatches(dnsStream, "dns", report).SelectMany(b => b).First(f => f.Dns is not null);

        Assert.Equal("GET", http.Http!.Method);
        Assert.StartsWith("http://", http.Http.Url, StringComparison.Ordinal);
        Assert.Equal("HTTP/1.1", http.Http.Protocol);
        Assert.NotEmpty(http.Http.Headers);
        Assert.NotNull(dns.Dns!.Query);
        Assert.EndsWith(".", dns.Dns.Query, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadBatches_GzipOfACapture_ReadsTheSameFlows()
    {
        var path = Path.Combine(CaptureFolder, "basic-sample-400-tcp-flows.json");
        using var gz = new MemoryStream();
        using (var zip = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            zip.Write(File.ReadAllBytes(path));
        }

        gz.Position = 0;
        var report = new FlowReadReport();
        var zipped = FlowFileReader.ReadBatches(gz, "tcp.json.gz", report).SelectMany(b => b).ToList();
        using var plain = FlowFileReader.Open(path);
        var plainFlows = FlowFileReader.ReadBatches(plain, "tcp.json", new FlowReadReport()).SelectMany(b => b).ToList();

        Assert.Equal(400, zipped.Count);
        Assert.Equal(plainFlows.Select(f => f.Id), zipped.Select(f => f.Id));
    }

    [Fact]
    public void ReadBatches_TruncatedGzip_KeepsWhatCameBeforeAndReportsTheCutLine()
    {
        var bytes = File.ReadAllBytes(Path.Combine(CaptureFolder, "basic-sample-400-tcp-flows.json"));
        using var gz = new MemoryStream();
        using (var zip = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            zip.Write(bytes);
        }

        var cut = new MemoryStream(gz.ToArray()[..(int)(gz.Length / 2)]);
        var report = new FlowReadReport();
        var flows = FlowFileReader.ReadBatches(cut, "cut.json.gz", report).SelectMany(b => b).ToList();

        Assert.InRange(flows.Count, 1, 399);
        Assert.Equal(1, report.Malformed);
        var problem = Assert.Single(report.Problems);
        Assert.Equal(flows.Count + 1, problem.Line);
        Assert.Contains("the stream ends in the middle of this line", problem.Message, StringComparison.Ordinal);
    }
}
