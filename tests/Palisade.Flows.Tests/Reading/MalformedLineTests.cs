using System.Text;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;

namespace Palisade.Flows.Tests.Reading;

/// <summary>Lines that are not flows are counted and reported with their place; the rest is kept.</summary>
public sealed class MalformedLineTests
{
    private const string Good = """{"flow":{"time":"2026-11-28T10:00:00.5Z","verdict":"DROPPED","IP":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":"IPv4"},"l4":{"TCP":{"source_port":40000,"destination_port":5432,"flags":{"SYN":true}}},"source":{"namespace":"project-alpha","pod_name":"jupyter-0"},"destination":{"namespace":"project-beta","pod_name":"postgres-0"},"drop_reason_desc":"POLICY_DENIED","event_type":{"type":1,"sub_type":133}},"node_name":"worker-1","time":"2026-11-28T10:00:00.5Z"}""";

    private static (List<FlowRecord> Flows, FlowReadReport Report) Read(string text)
    {
        var report = new FlowReadReport();
        var flows = FlowFileReader.ReadBatches(new MemoryStream(Encoding.UTF8.GetBytes(text)), "flows.json", report).SelectMany(b => b).ToList();
        return (flows, report);
    }

    [Fact]
    public void ReadBatches_BrokenLinesAmongGoodOnes_KeepsTheGoodAndReportsEachBrokenOne()
    {
        var text = string.Join('\n', Good, "{\"flow\": {\"time\": ", Good.Replace("10:00:00.5Z", "10:00:01Z", StringComparison.Ordinal), "not json at all", "", Good.Replace("40000", "\"many\"", StringComparison.Ordinal));

        var (flows, report) = Read(text);

        Assert.Equal(2, flows.Count);
        Assert.Equal(3, report.Malformed);
        Assert.Equal([2L, 4L, 6L], report.Problems.Select(p => p.Line));
        Assert.All(report.Problems, p => Assert.Equal("PAL0100", p.Code));
        Assert.StartsWith("flows.json:4:2: error PAL0100: not valid JSON", report.Problems[1].ToString(), StringComparison.Ordinal);
        var port = report.Problems[2];
        Assert.Equal(Good.IndexOf("40000", StringComparison.Ordinal) + 1, port.Column);
        Assert.Contains("whole number", port.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"flow":{"verdict":"FORWARDED"}}""", "no 'time'")]
    [InlineData("""{"flow":{"time":"yesterday"}}""", "not an RFC 3339 time")]
    [InlineData("""{"flow":{"time":"2026-02-30T10:00:00Z"}}""", "not an RFC 3339 time")]
    [InlineData("""{"flow":{"time":"2026-11-28T10:00:00Z","IP":{"source":"10.0.0.300"}}}""", "not an IP address")]
    [InlineData("""{"flow":{"time":"2026-11-28T10:00:00Z","l4":{"UDP":{"destination_port":70000}}}}""", "out of range")]
    [InlineData("""[1,2,3]""", "expected a JSON object")]
    [InlineData("""{"flow":{"time":"2026-11-28T10:00:00Z"}} {}""", "invalid after a single JSON value")]
    public void TryParse_BadLine_SaysWhatIsWrongAndWhatWouldBeRight(string line, string expected)
    {
        var kind = new HubbleFlowParser().TryParse(Encoding.UTF8.GetBytes(line), out var flow, out var error);

        Assert.Equal(FlowLineKind.Malformed, kind);
        Assert.Null(flow);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.InRange(error.Column, 1, line.Length);
    }

    [Fact]
    public void TryParse_ErrorAfterEndpointsReadBefore_SaysItsColumnInThisLine()
    {
        var parser = new HubbleFlowParser();
        Assert.Equal(FlowLineKind.Flow, parser.TryParse(Encoding.UTF8.GetBytes(Good), out _, out _));
        // The same endpoints, passed over this time, and a broken event type after them, later in the line than before.
        var bad = Good.Replace("10:00:00.5Z", "10:00:00.123456789Z", StringComparison.Ordinal).Replace("\"type\":1", "\"type\":\"many\"", StringComparison.Ordinal);

        var kind = parser.TryParse(Encoding.UTF8.GetBytes(bad), out var flow, out var error);

        Assert.Equal(FlowLineKind.Malformed, kind);
        Assert.Null(flow);
        Assert.Equal(bad.IndexOf("\"many\"", StringComparison.Ordinal) + 1, error.Column);
        Assert.Contains("whole number", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_EndpointsReadBeforeThenBrokenJson_IsMalformedNotAFlow()
    {
        var parser = new HubbleFlowParser();
        Assert.Equal(FlowLineKind.Flow, parser.TryParse(Encoding.UTF8.GetBytes(Good), out _, out _));
        var cut = Good[..(Good.IndexOf("\"drop_reason_desc\"", StringComparison.Ordinal) - 1)] + "}}}";

        var kind = parser.TryParse(Encoding.UTF8.GetBytes(cut), out _, out var error);

        Assert.Equal(FlowLineKind.Malformed, kind);
        Assert.StartsWith("not valid JSON", error.Message, StringComparison.Ordinal);
        Assert.Equal(cut.Length, error.Column);
    }

    [Fact]
    public void TryParse_OtherResponses_AreNotFlowsAndNotErrors()
    {
        var parser = new HubbleFlowParser();

        Assert.Equal(FlowLineKind.NotAFlow, parser.TryParse("""{"lost_events":{"source":"HUBBLE_RING_BUFFER","num_events_lost":"12"},"node_name":"worker-1","time":"2026-11-28T10:00:00Z"}"""u8, out _, out _));
        Assert.Equal(FlowLineKind.NotAFlow, parser.TryParse("""{"node_status":{"state_change":"NODE_CONNECTED","node_names":["worker-1"]}}"""u8, out _, out _));
        Assert.Equal(FlowLineKind.NotAFlow, parser.TryParse("""{"agent_event":{"type":"AGENT_STARTED"},"time":"2026-11-28T10:00:00Z"}"""u8, out _, out _));
        Assert.Equal(FlowLineKind.Blank, parser.TryParse("  \r"u8, out _, out _));
    }

    [Fact]
    public void TryParse_CamelCaseBareFlowWithStringIntegersAndNumericEnums_ReadsTheSameFlow()
    {
        var parser = new HubbleFlowParser();
        var camel = """{"time":"2026-11-28T11:00:00.500+01:00","verdict":2,"ip":{"source":"10.0.0.1","destination":"10.0.0.2","ipVersion":1},"l4":{"TCP":{"sourcePort":"40000","destinationPort":5432,"flags":{"SYN":true}}},"source":{"namespace":"project-alpha","podName":"jupyter-0"},"destination":{"namespace":"project-beta","podName":"postgres-0"},"dropReasonDesc":133,"eventType":{"type":1,"subType":133},"nodeName":"worker-1"}""";

        Assert.Equal(FlowLineKind.Flow, parser.TryParse(Encoding.UTF8.GetBytes(Good), out var proto, out _));
        Assert.Equal(FlowLineKind.Flow, parser.TryParse(Encoding.UTF8.GetBytes(camel), out var json, out var error));

        Assert.Equal(default, error);
        Assert.Equal(proto!.TimeUnixNanos, json!.TimeUnixNanos);
        Assert.Equal(proto.Id, json.Id);
        Assert.Equal("POLICY_DENIED", json.DropReason);
        Assert.Equal(40000, json.SourcePort);
        Assert.Equal("jupyter-0", json.Source.PodName);
    }

    [Fact]
    public void TryParse_Uuid_IsTheIdentity()
    {
        var parser = new HubbleFlowParser();
        var line = Good.Replace("{\"flow\":{", "{\"flow\":{\"uuid\":\"2e0e6c83-7a8b-4bd0-9d1a-0d6f1f5c9a01\",", StringComparison.Ordinal);

        Assert.Equal(FlowLineKind.Flow, parser.TryParse(Encoding.UTF8.GetBytes(line), out var flow, out _));

        Assert.True(flow!.IdFromUuid);
        Assert.Equal("2e0e6c83-7a8b-4bd0-9d1a-0d6f1f5c9a01", flow.IdText);
    }

    [Fact]
    public void TryParse_SameEventWithOtherTimes_AreDifferentFlows()
    {
        var parser = new HubbleFlowParser();
        parser.TryParse(Encoding.UTF8.GetBytes(Good), out var a, out _);
        parser.TryParse(Encoding.UTF8.GetBytes(Good.Replace("10:00:00.5Z\",\"verdict", "10:00:00.500000001Z\",\"verdict", StringComparison.Ordinal)), out var b, out _);

        Assert.NotEqual(a!.Id, b!.Id);
        Assert.Equal(1, b.TimeUnixNanos - a.TimeUnixNanos);
    }

    [Theory]
    [InlineData("2026-11-28T10:00:00Z", 1_795_860_000_000_000_000L)]
    [InlineData("2026-11-28T10:00:00.123456789Z", 1_795_860_000_123_456_789L)]
    [InlineData("2026-11-28T10:00:00.1Z", 1_795_860_000_100_000_000L)]
    [InlineData("2026-11-28T11:30:00+01:30", 1_795_860_000_000_000_000L)]
    [InlineData("1969-12-31T23:59:59.5Z", -500_000_000L)]
    public void Rfc3339_TryParseNanos_ReadsExactNanoseconds(string text, long expected)
    {
        Assert.True(Rfc3339.TryParseNanos(text, out var nanos));
        Assert.Equal(expected, nanos);
    }

    [Theory]
    [InlineData(1_795_860_000_000_000_000L, "2026-11-28T10:00:00Z")]
    [InlineData(1_795_860_000_123_000_000L, "2026-11-28T10:00:00.123Z")]
    [InlineData(1_795_860_000_123_456_000L, "2026-11-28T10:00:00.123456Z")]
    [InlineData(1_795_860_000_123_456_789L, "2026-11-28T10:00:00.123456789Z")]
    [InlineData(-500_000_000L, "1969-12-31T23:59:59.500Z")]
    public void Rfc3339_Format_WritesAsProtojsonDoes(long nanos, string expected)
    {
        Assert.Equal(expected, Rfc3339.Format(nanos));
        Assert.True(Rfc3339.TryParseNanos(expected, out var back));
        Assert.Equal(nanos, back);
    }
}
