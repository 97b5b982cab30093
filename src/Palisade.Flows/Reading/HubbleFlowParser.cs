using System.Buffers.Binary;
using System.Buffers.Text;
using System.IO.Hashing;
using System.Net;
using System.Text;
using System.Text.Json;
using Palisade.Flows.Records;
using Palisade.Sets;

namespace Palisade.Flows.Reading;

/// <summary>What one line of a Hubble JSON stream held.</summary>
public enum FlowLineKind
{
    /// <summary>A flow.</summary>
    Flow,

    /// <summary>Another kind of Hubble response (node status, lost events): not a flow, and not an error.</summary>
    NotAFlow,

    /// <summary>An empty line.</summary>
    Blank,

    /// <summary>Not a Hubble flow in JSON; see the error.</summary>
    Malformed,
}

/// <summary>Why a line is malformed: the 1-based column (in bytes) and what is wrong and what would be right.</summary>
public readonly record struct FlowLineError(int Column, string Message);

/// <summary>
/// Reads one line of <c>hubble observe -o jsonpb</c>, <c>hubble observe -o json</c> or a Hubble exporter
/// file into a <see cref="FlowRecord"/>. A line is a <c>GetFlowsResponse</c> (<c>{"flow": {...},
/// "node_name": ..., "time": ...}</c>) or a bare flow object. Keys are accepted both as protobuf field
/// names (<c>source_port</c>, <c>IP</c>, <c>Summary</c>) and as protojson's lowerCamelCase names
/// (<c>sourcePort</c>); unknown keys are skipped; a missing field stays unknown; 64-bit integers may be
/// strings; enums may be names or numbers.
/// </summary>
/// <remarks>
/// Not thread-safe: it keeps a pool of the strings and endpoints it has seen, so that a stream's
/// repeated names and endpoints are allocated once. Use one parser per reading thread.
/// </remarks>
public sealed class HubbleFlowParser
{
    private readonly StringPool _strings = new();
    private readonly Dictionary<FlowEndpoint, FlowEndpoint> _endpoints = [];
    private readonly Dictionary<ulong, (byte[] Text, FlowEndpoint Endpoint)> _endpointsByText = [];
    private readonly Dictionary<ulong, List<(byte[] Text, FlowEndpoint Endpoint)>> _endpointsByPrefix = [];
    private readonly JsonReaderState?[] _afterEndpoint = new JsonReaderState?[4];
    private int _base;
    private bool _skipped;
    private bool _skipKnown;
    private readonly Builder _flow = new();
    private readonly List<string> _labels = [];
    private readonly byte[] _hashBuffer = new byte[4096];

    /// <summary>
    /// Whether an endpoint whose text is one already read is passed over without being read again (on
    /// by default; off only to compare both ways in tests).
    /// </summary>
    internal bool SkipsKnownEndpoints { get; set; } = true;

    /// <summary>How many endpoints were passed over as known, not read again (for tests).</summary>
    internal long EndpointsPassedOver { get; private set; }

    /// <summary>Reads one line (without its line break). On <see cref="FlowLineKind.Flow"/>, <paramref name="flow"/> holds it.</summary>
    public FlowLineKind TryParse(ReadOnlySpan<byte> line, out FlowRecord? flow, out FlowLineError error)
    {
        var kind = TryParse(line, out flow, out error, SkipsKnownEndpoints);

        // A line that passed over a known endpoint and is then malformed is read again in full: its
        // reader after the jump counts columns from the endpoint read before, not from this line.
        return kind == FlowLineKind.Malformed && _skipped ? TryParse(line, out flow, out error, skipKnown: false) : kind;
    }

    private FlowLineKind TryParse(ReadOnlySpan<byte> line, out FlowRecord? flow, out FlowLineError error, bool skipKnown)
    {
        flow = null;
        error = default;
        _base = 0;
        _skipped = false;
        _skipKnown = skipKnown;
        var trimmed = line.Trim(" \t\r"u8);
        if (trimmed.IsEmpty)
        {
            return FlowLineKind.Blank;
        }

        var offset = line.Length - line.TrimStart(" \t\r"u8).Length;
        _flow.Reset();
        var reader = new Utf8JsonReader(trimmed, new JsonReaderOptions { AllowTrailingCommas = false, MaxDepth = 64 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new FlowFormatException(reader.TokenStartIndex, "expected a JSON object (one Hubble flow per line, as 'hubble observe -o jsonpb' prints them)");
            }

            ReadFlowObject(ref reader, trimmed, topLevel: true);

            // More after the object is an error the JSON reader raises itself.
            reader.Read();
        }
        catch (JsonException failure)
        {
            error = new FlowLineError(offset + (int)(failure.BytePositionInLine ?? 0) + 1, Describe(failure));
            return FlowLineKind.Malformed;
        }
        catch (FlowFormatException failure)
        {
            error = new FlowLineError(offset + (int)failure.Position + 1, failure.Message);
            return FlowLineKind.Malformed;
        }

        if (!_flow.HasFlow)
        {
            if (_flow.IsOtherResponse)
            {
                return FlowLineKind.NotAFlow;
            }

            error = new FlowLineError(offset + 1, "the object holds no flow; expected {\"flow\": {...}} as 'hubble observe -o jsonpb' prints it, or a bare flow object");
            return FlowLineKind.Malformed;
        }

        if (_flow.TimeNanos is null)
        {
            error = new FlowLineError(offset + 1, "the flow has no 'time'; expected an RFC 3339 time such as \"2026-11-28T10:00:00.123456789Z\"");
            return FlowLineKind.Malformed;
        }

        flow = Build();
        return FlowLineKind.Flow;
    }

    private static string Describe(JsonException failure)
    {
        var message = failure.Message;
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        return "not valid JSON: " + (cut > 0 ? message[..cut] : message).TrimEnd('.');
    }

    private void ReadFlowObject(ref Utf8JsonReader reader, ReadOnlySpan<byte> line, bool topLevel)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (topLevel && reader.ValueTextEquals("flow"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null)
                {
                    continue;
                }

                Expect(ref reader, JsonTokenType.StartObject, "'flow' must be an object");
                _flow.HasFlow = true;
                ReadFlowObject(ref reader, line, topLevel: false);
                continue;
            }

            if (topLevel && (Is(ref reader, "node_status"u8, "nodeStatus"u8) || Is(ref reader, "lost_events"u8, "lostEvents"u8) || Is(ref reader, "debug_event"u8, "debugEvent"u8) || Is(ref reader, "agent_event"u8, "agentEvent"u8)))
            {
                _flow.IsOtherResponse = true;
                reader.Read();
                reader.Skip();
                continue;
            }

            if (!topLevel)
            {
                ReadFlowField(ref reader, line, nested: true);
                continue;
            }

            // A response's own 'time' and 'node_name' stand in for the flow's when it lacks them (a
            // field mask may leave them out); any other key makes the line a bare flow (legacy JSON).
            var responseField = reader.ValueTextEquals("time"u8) || Is(ref reader, "node_name"u8, "nodeName"u8);
            _flow.HasFlow |= IsFlowKey(ref reader);
            ReadFlowField(ref reader, line, nested: !responseField);
        }
    }

    /// <summary>Keys that make a top-level object a bare flow rather than a response wrapper.</summary>
    private static bool IsFlowKey(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("verdict"u8) || reader.ValueTextEquals("IP"u8) || reader.ValueTextEquals("ip"u8) || reader.ValueTextEquals("l7"u8) || reader.ValueTextEquals("l4"u8) || reader.ValueTextEquals("source"u8) ||
        reader.ValueTextEquals("destination"u8) || reader.ValueTextEquals("Type"u8) || reader.ValueTextEquals("uuid"u8);

    private void ReadFlowField(ref Utf8JsonReader reader, ReadOnlySpan<byte> line, bool nested)
    {
        var b = _flow;
        var key = Classify(ref reader);
        if (key == FlowKey.Time)
        {
            reader.Read();
            var time = ReadTime(ref reader);
            if (nested || b.TimeNanos is null)
            {
                b.TimeNanos = time;
            }
        }
        else if (key == FlowKey.NodeName)
        {
            reader.Read();
            var node = ReadPooled(ref reader);
            if (nested || b.NodeName is null)
            {
                b.NodeName = node;
            }
        }
        else if (key == FlowKey.Uuid)
        {
            reader.Read();
            if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped && Utf8Parser.TryParse(reader.ValueSpan, out Guid guid, out var used, 'D') && used == reader.ValueSpan.Length)
            {
                b.Uuid = FlowIds.FromGuid(guid);
            }
            else if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.Null))
            {
                throw new FlowFormatException(reader.TokenStartIndex, "'uuid' must be a string such as \"2e0e6c83-7a8b-4bd0-9d1a-0d6f1f5c9a01\"");
            }
        }
        else if (key == FlowKey.Verdict)
        {
            reader.Read();
            b.Verdict = (FlowVerdict)ReadEnum(ref reader, VerdictNames);
        }
        else if (key == FlowKey.DropReasonDesc)
        {
            reader.Read();
            b.DropReason = reader.TokenType == JsonTokenType.Number ? DropReasons.Name(ReadInt(ref reader)) : ReadPooledOrNull(ref reader, pool: true);
        }
        else if (key == FlowKey.DropReason)
        {
            reader.Read();
            var code = ReadInt(ref reader);
            b.DropReasonCode = code == 0 ? null : (int)code;
        }
        else if (key == FlowKey.IP)
        {
            reader.Read();
            ReadIp(ref reader);
        }
        else if (key == FlowKey.L4)
        {
            reader.Read();
            ReadL4(ref reader);
        }
        else if (key == FlowKey.Source)
        {
            reader.Read();
            b.Source = ReadEndpointCached(ref reader, line);
        }
        else if (key == FlowKey.Destination)
        {
            reader.Read();
            b.Destination = ReadEndpointCached(ref reader, line);
        }
        else if (key == FlowKey.Type)
        {
            reader.Read();
            b.Type = (FlowType)ReadEnum(ref reader, FlowTypeNames);
        }
        else if (key == FlowKey.SourceNames)
        {
            reader.Read();
            b.SourceNames = ReadStrings(ref reader);
        }
        else if (key == FlowKey.DestinationNames)
        {
            reader.Read();
            b.DestinationNames = ReadStrings(ref reader);
        }
        else if (key == FlowKey.L7)
        {
            reader.Read();
            ReadL7(ref reader);
        }
        else if (key == FlowKey.Reply)
        {
            reader.Read();
            b.Reply = ReadBool(ref reader);
        }
        else if (key == FlowKey.IsReply)
        {
            reader.Read();
            b.IsReply = ReadBool(ref reader);
        }
        else if (key == FlowKey.EventType)
        {
            reader.Read();
            ReadEventType(ref reader);
        }
        else if (key == FlowKey.SourceService)
        {
            reader.Read();
            b.SourceService = ReadService(ref reader);
        }
        else if (key == FlowKey.DestinationService)
        {
            reader.Read();
            b.DestinationService = ReadService(ref reader);
        }
        else if (key == FlowKey.TrafficDirection)
        {
            reader.Read();
            b.Direction = (FlowDirection)ReadEnum(ref reader, DirectionNames);
        }
        else if (key == FlowKey.PolicyMatchType)
        {
            reader.Read();
            b.PolicyMatchType = (int)ReadInt(ref reader);
        }
        else if (key == FlowKey.TraceObservationPoint)
        {
            reader.Read();
            b.TracePoint = reader.TokenType == JsonTokenType.Number ? TracePoints.Name(ReadInt(ref reader)) : ReadPooledOrNull(ref reader, pool: true);
        }
        else if (key == FlowKey.Summary)
        {
            reader.Read();
            b.Summary = ReadPooledOrNull(ref reader, pool: true);
        }
        else if (key == FlowKey.EgressAllowedBy)
        {
            reader.Read();
            b.EgressAllowedBy = ReadPolicies(ref reader);
        }
        else if (key == FlowKey.IngressAllowedBy)
        {
            reader.Read();
            b.IngressAllowedBy = ReadPolicies(ref reader);
        }
        else if (key == FlowKey.EgressDeniedBy)
        {
            reader.Read();
            b.EgressDeniedBy = ReadPolicies(ref reader);
        }
        else if (key == FlowKey.IngressDeniedBy)
        {
            reader.Read();
            b.IngressDeniedBy = ReadPolicies(ref reader);
        }
        else
        {
            reader.Read();
            reader.Skip();
        }
    }

    /// <summary>The flow fields the parser reads, by name.</summary>
    private enum FlowKey
    {
        Other,
        Time,
        Uuid,
        Verdict,
        L4,
        Source,
        Destination,
        L7,
        Reply,
        NodeName,
        DropReasonDesc,
        DropReason,
        IP,
        Type,
        SourceNames,
        DestinationNames,
        IsReply,
        EventType,
        SourceService,
        DestinationService,
        TrafficDirection,
        PolicyMatchType,
        TraceObservationPoint,
        Summary,
        EgressAllowedBy,
        IngressAllowedBy,
        EgressDeniedBy,
        IngressDeniedBy,
    }

    private static readonly (byte[] Name, FlowKey Key)[] FlowKeyNames =
    [
        ("time"u8.ToArray(), FlowKey.Time),
        ("uuid"u8.ToArray(), FlowKey.Uuid),
        ("verdict"u8.ToArray(), FlowKey.Verdict),
        ("l4"u8.ToArray(), FlowKey.L4),
        ("source"u8.ToArray(), FlowKey.Source),
        ("destination"u8.ToArray(), FlowKey.Destination),
        ("l7"u8.ToArray(), FlowKey.L7),
        ("reply"u8.ToArray(), FlowKey.Reply),
        ("node_name"u8.ToArray(), FlowKey.NodeName),
        ("nodeName"u8.ToArray(), FlowKey.NodeName),
        ("drop_reason_desc"u8.ToArray(), FlowKey.DropReasonDesc),
        ("dropReasonDesc"u8.ToArray(), FlowKey.DropReasonDesc),
        ("drop_reason"u8.ToArray(), FlowKey.DropReason),
        ("dropReason"u8.ToArray(), FlowKey.DropReason),
        ("IP"u8.ToArray(), FlowKey.IP),
        ("ip"u8.ToArray(), FlowKey.IP),
        ("Type"u8.ToArray(), FlowKey.Type),
        ("type"u8.ToArray(), FlowKey.Type),
        ("source_names"u8.ToArray(), FlowKey.SourceNames),
        ("sourceNames"u8.ToArray(), FlowKey.SourceNames),
        ("destination_names"u8.ToArray(), FlowKey.DestinationNames),
        ("destinationNames"u8.ToArray(), FlowKey.DestinationNames),
        ("is_reply"u8.ToArray(), FlowKey.IsReply),
        ("isReply"u8.ToArray(), FlowKey.IsReply),
        ("event_type"u8.ToArray(), FlowKey.EventType),
        ("eventType"u8.ToArray(), FlowKey.EventType),
        ("source_service"u8.ToArray(), FlowKey.SourceService),
        ("sourceService"u8.ToArray(), FlowKey.SourceService),
        ("destination_service"u8.ToArray(), FlowKey.DestinationService),
        ("destinationService"u8.ToArray(), FlowKey.DestinationService),
        ("traffic_direction"u8.ToArray(), FlowKey.TrafficDirection),
        ("trafficDirection"u8.ToArray(), FlowKey.TrafficDirection),
        ("policy_match_type"u8.ToArray(), FlowKey.PolicyMatchType),
        ("policyMatchType"u8.ToArray(), FlowKey.PolicyMatchType),
        ("trace_observation_point"u8.ToArray(), FlowKey.TraceObservationPoint),
        ("traceObservationPoint"u8.ToArray(), FlowKey.TraceObservationPoint),
        ("Summary"u8.ToArray(), FlowKey.Summary),
        ("summary"u8.ToArray(), FlowKey.Summary),
        ("egress_allowed_by"u8.ToArray(), FlowKey.EgressAllowedBy),
        ("egressAllowedBy"u8.ToArray(), FlowKey.EgressAllowedBy),
        ("ingress_allowed_by"u8.ToArray(), FlowKey.IngressAllowedBy),
        ("ingressAllowedBy"u8.ToArray(), FlowKey.IngressAllowedBy),
        ("egress_denied_by"u8.ToArray(), FlowKey.EgressDeniedBy),
        ("egressDeniedBy"u8.ToArray(), FlowKey.EgressDeniedBy),
        ("ingress_denied_by"u8.ToArray(), FlowKey.IngressDeniedBy),
        ("ingressDeniedBy"u8.ToArray(), FlowKey.IngressDeniedBy),
    ];

    /// <summary>The names by their length: a name is compared only with the few of its length.</summary>
    private static readonly (byte[] Name, FlowKey Key)[][] FlowKeysByLength = [.. Enumerable.Range(0, FlowKeyNames.Max(static k => k.Name.Length) + 1)
        .Select(static length => FlowKeyNames.Where(k => k.Name.Length == length).ToArray())];

    /// <summary>Which field a property name is: compared with the few names of its length, not with every field's.</summary>
    private static FlowKey Classify(ref Utf8JsonReader reader)
    {
        if (reader.ValueIsEscaped || reader.HasValueSequence)
        {
            foreach (var (name, key) in FlowKeyNames)
            {
                if (reader.ValueTextEquals(name))
                {
                    return key;
                }
            }

            return FlowKey.Other;
        }

        var span = reader.ValueSpan;
        if (span.Length < FlowKeysByLength.Length)
        {
            foreach (var (name, key) in FlowKeysByLength[span.Length])
            {
                if (name[0] == span[0] && span.SequenceEqual(name))
                {
                    return key;
                }
            }
        }

        return FlowKey.Other;
    }

    private void ReadIp(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        Expect(ref reader, JsonTokenType.StartObject, "'IP' must be an object with 'source', 'destination' and 'ipVersion'");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("source"u8))
            {
                reader.Read();
                _flow.SourceIp = ReadAddress(ref reader);
            }
            else if (reader.ValueTextEquals("destination"u8))
            {
                reader.Read();
                _flow.DestinationIp = ReadAddress(ref reader);
            }
            else if (Is(ref reader, "ipVersion"u8, "ip_version"u8))
            {
                reader.Read();
                _flow.IpVersion = ReadEnum(ref reader, IpVersionNames) switch
                {
                    1 => 4,
                    2 => 6,
                    _ => 0,
                };
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static UInt128? ReadAddress(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref reader, JsonTokenType.String, "an address must be a string such as \"10.0.1.4\" or \"fd00::1\"");
        var span = reader.ValueSpan;
        if (span.IsEmpty)
        {
            return null;
        }

        if (TryParseIpv4(span, out var v4))
        {
            return v4;
        }

        Span<char> chars = stackalloc char[64];
        if (span.Length <= chars.Length)
        {
            var count = Encoding.ASCII.GetChars(span, chars);
            if (IPAddress.TryParse(chars[..count], out var address))
            {
                return IpNumbers.From(address);
            }
        }

        throw new FlowFormatException(reader.TokenStartIndex, $"\"{Encoding.UTF8.GetString(span)}\" is not an IP address; expected one such as \"10.0.1.4\" or \"fd00::1\"");
    }

    private static bool TryParseIpv4(ReadOnlySpan<byte> text, out UInt128 value)
    {
        value = default;
        uint address = 0;
        var octets = 0;
        var i = 0;
        while (octets < 4)
        {
            var start = i;
            uint octet = 0;
            while (i < text.Length && (uint)(text[i] - '0') <= 9)
            {
                octet = (octet * 10) + (uint)(text[i] - '0');
                i++;
            }

            if (i == start || i - start > 3 || octet > 255)
            {
                return false;
            }

            address = (address << 8) | octet;
            octets++;
            if (octets < 4)
            {
                if (i >= text.Length || text[i] != '.')
                {
                    return false;
                }

                i++;
            }
        }

        if (i != text.Length)
        {
            return false;
        }

        value = IpNumbers.V4Base + address;
        return true;
    }

    private void ReadL4(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        Expect(ref reader, JsonTokenType.StartObject, "'l4' must be an object such as {\"TCP\": {...}}");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            FlowProtocol protocol;
            if (Is(ref reader, "TCP"u8, "tcp"u8))
            {
                protocol = FlowProtocol.Tcp;
            }
            else if (Is(ref reader, "UDP"u8, "udp"u8))
            {
                protocol = FlowProtocol.Udp;
            }
            else if (Is(ref reader, "SCTP"u8, "sctp"u8))
            {
                protocol = FlowProtocol.Sctp;
            }
            else if (Is(ref reader, "ICMPv4"u8, "iCMPv4"u8))
            {
                protocol = FlowProtocol.Icmpv4;
            }
            else if (Is(ref reader, "ICMPv6"u8, "iCMPv6"u8))
            {
                protocol = FlowProtocol.Icmpv6;
            }
            else
            {
                reader.Read();
                reader.Skip();
                continue;
            }

            reader.Read();
            if (reader.TokenType == JsonTokenType.Null)
            {
                continue;
            }

            Expect(ref reader, JsonTokenType.StartObject, "a layer-4 header must be an object");
            _flow.Protocol = protocol;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (Is(ref reader, "source_port"u8, "sourcePort"u8))
                {
                    reader.Read();
                    _flow.SourcePort = ReadPort(ref reader);
                }
                else if (Is(ref reader, "destination_port"u8, "destinationPort"u8))
                {
                    reader.Read();
                    _flow.DestinationPort = ReadPort(ref reader);
                }
                else if (reader.ValueTextEquals("flags"u8))
                {
                    reader.Read();
                    _flow.TcpFlags = ReadTcpFlags(ref reader);
                }
                else if (reader.ValueTextEquals("type"u8))
                {
                    reader.Read();
                    _flow.IcmpType = (int)ReadInt(ref reader);
                }
                else if (reader.ValueTextEquals("code"u8))
                {
                    reader.Read();
                    _flow.IcmpCode = (int)ReadInt(ref reader);
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
    }

    private static int ReadPort(ref Utf8JsonReader reader)
    {
        var start = reader.TokenStartIndex;
        var port = ReadInt(ref reader);
        return port is >= 0 and <= 65535 ? (int)port : throw new FlowFormatException(start, $"port {port} is out of range; expected 0 to 65535");
    }

    private static TcpFlags ReadTcpFlags(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return TcpFlags.None;
        }

        Expect(ref reader, JsonTokenType.StartObject, "'flags' must be an object such as {\"SYN\": true}");
        var flags = TcpFlags.None;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var flag = TcpFlags.None;
            var text = reader.ValueIsEscaped || reader.HasValueSequence ? Encoding.UTF8.GetBytes(reader.GetString()!) : reader.ValueSpan;
            foreach (var (name, value) in FlagNames)
            {
                // Bytes against bytes, either case: no string made for a flag name.
                if (Ascii.EqualsIgnoreCase(text, name))
                {
                    flag = value;
                    break;
                }
            }

            reader.Read();
            if (ReadBool(ref reader) == true)
            {
                flags |= flag;
            }
        }

        return flags;
    }

    private static readonly (byte[] Name, TcpFlags Flag)[] FlagNames =
    [
        ("FIN"u8.ToArray(), TcpFlags.Fin), ("SYN"u8.ToArray(), TcpFlags.Syn), ("RST"u8.ToArray(), TcpFlags.Rst), ("PSH"u8.ToArray(), TcpFlags.Psh),
        ("ACK"u8.ToArray(), TcpFlags.Ack), ("URG"u8.ToArray(), TcpFlags.Urg), ("ECE"u8.ToArray(), TcpFlags.Ece), ("CWR"u8.ToArray(), TcpFlags.Cwr),
        ("NS"u8.ToArray(), TcpFlags.Ns),
    ];

    /// <summary>
    /// An endpoint, from a cache of endpoints by their exact JSON text: a stream repeats the same few
    /// endpoints (with their labels) on most lines, and reading them once is most of the parser's saving.
    /// </summary>
    private FlowEndpoint ReadEndpointCached(ref Utf8JsonReader reader, ReadOnlySpan<byte> line)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            return ReadEndpoint(ref reader);
        }

        // Where the endpoint starts in the line: the reader may have started after an endpoint it passed over.
        var start = _base + (int)reader.TokenStartIndex;
        var rest = line[start..];
        var depth = reader.CurrentDepth;
        // Endpoints shorter than the prefix are few and cheap to read: they are not grouped.
        ulong? prefix = rest.Length >= PrefixBytes ? XxHash3.HashToUInt64(rest[..PrefixBytes]) : null;
        if (_skipKnown && prefix is { } group && depth < _afterEndpoint.Length && _afterEndpoint[depth] is { } after && _endpointsByPrefix.TryGetValue(group, out var candidates))
        {
            // The line goes on with the exact text of an endpoint read before, which was one whole JSON
            // object: so is this, and it ends where that text does. A new reader takes up after it, in
            // the state a reader is in after an endpoint at this depth (inside the flow's object, inside
            // the response's).
            foreach (var (text, endpoint) in candidates)
            {
                if (rest.StartsWith(text))
                {
                    _base = start + text.Length;
                    _skipped = true;
                    EndpointsPassedOver++;
                    reader = new Utf8JsonReader(line[_base..], isFinalBlock: true, after);
                    return endpoint;
                }
            }
        }

        var probe = reader;
        probe.Skip();
        var whole = rest[..(int)(probe.BytesConsumed - reader.TokenStartIndex)];
        if (depth < _afterEndpoint.Length)
        {
            _afterEndpoint[depth] ??= probe.CurrentState;
        }

        var hash = XxHash3.HashToUInt64(whole);
        FlowEndpoint found;
        if (_endpointsByText.TryGetValue(hash, out var known) && whole.SequenceEqual(known.Text))
        {
            reader = probe;
            found = known.Endpoint;
        }
        else
        {
            found = ReadEndpoint(ref reader);
            if (_endpointsByText.Count >= 65_536)
            {
                _endpointsByText.Clear();
                _endpointsByPrefix.Clear();
            }

            known = (whole.ToArray(), found);
            _endpointsByText[hash] = known;
        }

        // Endpoints that begin alike (the pods of one workload, on another node, differ only by name,
        // late in the text) are compared one by one: a few at most, the rest are read as above.
        if (prefix is { } key && whole.Length >= PrefixBytes)
        {
            if (!_endpointsByPrefix.TryGetValue(key, out var alike))
            {
                _endpointsByPrefix[key] = alike = [];
            }

            if (alike.Count < MaxAlike && !alike.Exists(a => ReferenceEquals(a.Text, known.Text)))
            {
                alike.Add(known);
            }
        }

        return found;
    }

    /// <summary>The bytes that name a group of endpoints that begin alike.</summary>
    private const int PrefixBytes = 32;

    /// <summary>How many endpoints that begin alike are compared before one is read.</summary>
    private const int MaxAlike = 8;

    private FlowEndpoint ReadEndpoint(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return FlowEndpoint.Unknown;
        }

        Expect(ref reader, JsonTokenType.StartObject, "an endpoint must be an object");
        int id = 0;
        long identity = 0;
        string? cluster = null, ns = null, pod = null;
        IReadOnlyList<FlowWorkload> workloads = [];
        _labels.Clear();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("ID"u8) || reader.ValueTextEquals("id"u8))
            {
                reader.Read();
                id = (int)ReadInt(ref reader);
            }
            else if (reader.ValueTextEquals("identity"u8))
            {
                reader.Read();
                identity = ReadInt(ref reader);
            }
            else if (Is(ref reader, "cluster_name"u8, "clusterName"u8))
            {
                reader.Read();
                cluster = ReadPooledOrNull(ref reader, pool: true);
            }
            else if (reader.ValueTextEquals("namespace"u8))
            {
                reader.Read();
                ns = ReadPooledOrNull(ref reader, pool: true);
            }
            else if (Is(ref reader, "pod_name"u8, "podName"u8))
            {
                reader.Read();
                pod = ReadPooledOrNull(ref reader, pool: true);
            }
            else if (reader.ValueTextEquals("labels"u8))
            {
                reader.Read();
                if (reader.TokenType != JsonTokenType.Null)
                {
                    Expect(ref reader, JsonTokenType.StartArray, "'labels' must be a list of strings");
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                    {
                        Expect(ref reader, JsonTokenType.String, "a label must be a string such as \"k8s:app=web\"");
                        _labels.Add(_strings.Get(ref reader));
                    }
                }
            }
            else if (reader.ValueTextEquals("workloads"u8))
            {
                reader.Read();
                workloads = ReadWorkloads(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        var endpoint = new FlowEndpoint
        {
            EndpointId = id,
            Identity = identity,
            ClusterName = cluster,
            Namespace = ns,
            PodName = pod,
            Labels = _labels.Count == 0 ? [] : _labels.ToArray(),
            Workloads = workloads,
        };
        if (endpoint.IsUnknown && endpoint.ClusterName is null && endpoint.Workloads.Count == 0)
        {
            return FlowEndpoint.Unknown;
        }

        if (_endpoints.TryGetValue(endpoint, out var known))
        {
            return known;
        }

        if (_endpoints.Count >= 65_536)
        {
            _endpoints.Clear();
        }

        _endpoints[endpoint] = endpoint;
        return endpoint;
    }

    private FlowWorkload[] ReadWorkloads(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return [];
        }

        Expect(ref reader, JsonTokenType.StartArray, "'workloads' must be a list of {\"name\", \"kind\"} objects");
        List<FlowWorkload>? result = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var (name, kind, _) = ReadStringFields(ref reader, "a workload must be an object with 'name' and 'kind'", "name"u8, "kind"u8, default);

            if (name is not null)
            {
                (result ??= []).Add(new FlowWorkload(kind ?? string.Empty, name));
            }
        }

        return result is null ? [] : result.ToArray();
    }

    /// <summary>Reads an object of up to three string fields by name, skipping any other; a missing field is null.</summary>
    private (string? First, string? Second, string? Third) ReadStringFields(ref Utf8JsonReader reader, string message, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, ReadOnlySpan<byte> third)
    {
        Expect(ref reader, JsonTokenType.StartObject, message);
        string? a = null, b = null, c = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var which = reader.ValueTextEquals(first) ? 1 : reader.ValueTextEquals(second) ? 2 : !third.IsEmpty && reader.ValueTextEquals(third) ? 3 : 0;
            reader.Read();
            switch (which)
            {
                case 1:
                    a = ReadPooledOrNull(ref reader, pool: true);
                    break;
                case 2:
                    b = ReadPooledOrNull(ref reader, pool: true);
                    break;
                case 3:
                    c = ReadPooledOrNull(ref reader, pool: true);
                    break;
                default:
                    reader.Skip();
                    break;
            }
        }

        return (a, b, c);
    }

    private FlowService? ReadService(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        var (name, ns, _) = ReadStringFields(ref reader, "a service must be an object with 'name' and 'namespace'", "name"u8, "namespace"u8, default);
        return name is null ? null : new FlowService(ns, name);
    }

    private FlowPolicyRef[] ReadPolicies(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return [];
        }

        Expect(ref reader, JsonTokenType.StartArray, "a policy list must be a list of {\"name\", \"namespace\", \"kind\"} objects");
        List<FlowPolicyRef>? result = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            var (name, ns, kind) = ReadStringFields(ref reader, "a policy must be an object with 'name', 'namespace' and 'kind'", "name"u8, "namespace"u8, "kind"u8);
            (result ??= []).Add(new FlowPolicyRef(kind, string.IsNullOrEmpty(ns) ? null : ns, name ?? string.Empty));
        }

        return result is null ? [] : result.ToArray();
    }

    private void ReadL7(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        Expect(ref reader, JsonTokenType.StartObject, "'l7' must be an object");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                _flow.L7Type = (L7Type)ReadEnum(ref reader, L7TypeNames);
            }
            else if (Is(ref reader, "latency_ns"u8, "latencyNs"u8))
            {
                reader.Read();
                _flow.L7Latency = ReadInt(ref reader);
            }
            else if (reader.ValueTextEquals("http"u8))
            {
                reader.Read();
                _flow.Http = ReadHttp(ref reader);
            }
            else if (reader.ValueTextEquals("dns"u8))
            {
                reader.Read();
                _flow.Dns = ReadDns(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private HttpInfo? ReadHttp(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref reader, JsonTokenType.StartObject, "'http' must be an object");
        int code = 0;
        string? method = null, url = null, protocol = null;
        List<KeyValuePair<string, string>>? headers = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("code"u8))
            {
                reader.Read();
                code = (int)ReadInt(ref reader);
            }
            else if (reader.ValueTextEquals("method"u8))
            {
                reader.Read();
                method = ReadPooledOrNull(ref reader, pool: true);
            }
            else if (reader.ValueTextEquals("url"u8))
            {
                reader.Read();
                url = ReadPooledOrNull(ref reader, pool: true);
            }
            else if (reader.ValueTextEquals("protocol"u8))
            {
                reader.Read();
                protocol = ReadPooledOrNull(ref reader, pool: true);
            }
            else if (reader.ValueTextEquals("headers"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.Null)
                {
                    continue;
                }

                Expect(ref reader, JsonTokenType.StartArray, "'headers' must be a list of {\"key\", \"value\"} objects");
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    var (key, value, _) = ReadStringFields(ref reader, "a header must be an object with 'key' and 'value'", "key"u8, "value"u8, default);

                    if (key is not null)
                    {
                        (headers ??= []).Add(new(key, value ?? string.Empty));
                    }
                }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return new HttpInfo { Code = code, Method = method, Url = url, Protocol = protocol, Headers = headers is null ? [] : headers.ToArray() };
    }

    private DnsInfo? ReadDns(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref reader, JsonTokenType.StartObject, "'dns' must be an object");
        string? query = null, source = null;
        long ttl = 0;
        int rcode = 0;
        IReadOnlyList<string> ips = [], cnames = [], qtypes = [], rrtypes = [];
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("query"u8))
            {
                reader.Read();
                query = ReadPooledOrNull(ref reader, pool: true);
            }
            else if (reader.ValueTextEquals("ips"u8))
            {
                reader.Read();
                ips = ReadStrings(ref reader);
            }
            else if (reader.ValueTextEquals("ttl"u8))
            {
                reader.Read();
                ttl = ReadInt(ref reader);
            }
            else if (reader.ValueTextEquals("cnames"u8))
            {
                reader.Read();
                cnames = ReadStrings(ref reader);
            }
            else if (Is(ref reader, "observation_source"u8, "observationSource"u8))
            {
                reader.Read();
                source = ReadPooledOrNull(ref reader, pool: true);
            }
            else if (reader.ValueTextEquals("rcode"u8))
            {
                reader.Read();
                rcode = (int)ReadInt(ref reader);
            }
            else if (reader.ValueTextEquals("qtypes"u8))
            {
                reader.Read();
                qtypes = ReadStrings(ref reader);
            }
            else if (reader.ValueTextEquals("rrtypes"u8))
            {
                reader.Read();
                rrtypes = ReadStrings(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        return new DnsInfo { Query = query, Ips = ips, Ttl = ttl, Cnames = cnames, Rcode = rcode, Qtypes = qtypes, Rrtypes = rrtypes, ObservationSource = source };
    }

    private void ReadEventType(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return;
        }

        Expect(ref reader, JsonTokenType.StartObject, "'event_type' must be an object with 'type' and 'sub_type'");
        // protojson leaves zero values out: {"type": 4} is a trace event with sub-type 0.
        _flow.EventType = 0;
        _flow.EventSubType = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("type"u8))
            {
                reader.Read();
                _flow.EventType = (int)ReadInt(ref reader);
            }
            else if (Is(ref reader, "sub_type"u8, "subType"u8))
            {
                reader.Read();
                _flow.EventSubType = (int)ReadInt(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private string[] ReadStrings(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return [];
        }

        Expect(ref reader, JsonTokenType.StartArray, "expected a list of strings");
        List<string>? result = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            Expect(ref reader, JsonTokenType.String, "expected a list of strings");
            (result ??= []).Add(_strings.Get(ref reader));
        }

        return result is null ? [] : result.ToArray();
    }

    private string ReadPooled(ref Utf8JsonReader reader) =>
        ReadPooledOrNull(ref reader, pool: true) ?? throw new FlowFormatException(reader.TokenStartIndex, "expected a string");

    private string? ReadPooledOrNull(ref Utf8JsonReader reader, bool pool)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        Expect(ref reader, JsonTokenType.String, "expected a string");
        return pool ? _strings.Get(ref reader) : reader.GetString();
    }

    private static bool? ReadBool(ref Utf8JsonReader reader) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        JsonTokenType.Null => null,
        _ => throw new FlowFormatException(reader.TokenStartIndex, "expected true or false"),
    };

    /// <summary>A whole number, given as a JSON number or (as protojson writes 64-bit integers) a string of digits.</summary>
    private static long ReadInt(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var number))
        {
            return number;
        }

        if (reader.TokenType == JsonTokenType.String && !reader.ValueIsEscaped && Utf8Parser.TryParse(reader.ValueSpan, out long parsed, out var consumed) && consumed == reader.ValueSpan.Length)
        {
            return parsed;
        }

        if (reader.TokenType == JsonTokenType.Null)
        {
            return 0;
        }

        throw new FlowFormatException(reader.TokenStartIndex, "expected a whole number (a JSON number, or a string of digits for 64-bit values)");
    }

    /// <summary>An enum given by name (as protojson writes it) or by number.</summary>
    private static int ReadEnum(ref Utf8JsonReader reader, byte[][] names)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            return (int)ReadInt(ref reader);
        }

        if (reader.TokenType == JsonTokenType.Null)
        {
            return 0;
        }

        Expect(ref reader, JsonTokenType.String, "expected an enum name or number");
        // Names as UTF-8, compared with the token's bytes: comparing with strings would transcode each one.
        for (var i = 0; i < names.Length; i++)
        {
            if (names[i].Length > 0 && reader.ValueTextEquals(names[i]))
            {
                return i;
            }
        }

        // A name this version does not know (a newer Cilium's): unknown, not an error.
        return 0;
    }

    private static byte[][] Utf8(params string[] names) => [.. names.Select(Encoding.UTF8.GetBytes)];

    private static readonly byte[][] VerdictNames = Utf8("VERDICT_UNKNOWN", "FORWARDED", "DROPPED", "ERROR", "AUDIT", "REDIRECTED", "TRACED", "TRANSLATED");
    private static readonly byte[][] DirectionNames = Utf8("TRAFFIC_DIRECTION_UNKNOWN", "INGRESS", "EGRESS");
    private static readonly byte[][] FlowTypeNames = Utf8("UNKNOWN_TYPE", "L3_L4", "L7", "SOCK");
    private static readonly byte[][] L7TypeNames = Utf8("UNKNOWN_L7_TYPE", "REQUEST", "RESPONSE", "SAMPLE");
    private static readonly byte[][] IpVersionNames = Utf8("IP_NOT_USED", "IPv4", "IPv6");

    /// <summary>An RFC 3339 time with up to nine fractional digits, as protojson writes a Timestamp, in nanoseconds since the epoch.</summary>
    private static long ReadTime(ref Utf8JsonReader reader)
    {
        Expect(ref reader, JsonTokenType.String, "'time' must be an RFC 3339 time such as \"2026-11-28T10:00:00.123456789Z\"");
        if (reader.ValueIsEscaped || !Rfc3339.TryParseNanos(reader.ValueSpan, out var nanos))
        {
            throw new FlowFormatException(reader.TokenStartIndex, $"\"{reader.GetString()}\" is not an RFC 3339 time; expected one such as \"2026-11-28T10:00:00.123456789Z\"");
        }

        return nanos;
    }

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string message)
    {
        if (reader.TokenType != type)
        {
            throw new FlowFormatException(reader.TokenStartIndex, message);
        }
    }

    private static bool Is(ref Utf8JsonReader reader, ReadOnlySpan<byte> protoName, ReadOnlySpan<byte> jsonName) =>
        reader.ValueTextEquals(protoName) || reader.ValueTextEquals(jsonName);

    private FlowRecord Build()
    {
        var b = _flow;
        var isReply = b.IsReply ?? (b.Reply == true ? true : null);
        var record = new FlowRecord
        {
            TimeUnixNanos = b.TimeNanos!.Value,
            Id = b.Uuid ?? default,
            IdFromUuid = b.Uuid is not null,
            Verdict = b.Verdict,
            DropReason = b.DropReason ?? (b.DropReasonCode is { } code ? DropReasons.Name(code) : null),
            NodeName = b.NodeName,
            IpVersion = b.IpVersion != 0 ? b.IpVersion : b.SourceIp is { } ip ? (byte)(IpNumbers.IsV4(ip) ? 4 : 6) : (byte)0,
            SourceIp = b.SourceIp,
            DestinationIp = b.DestinationIp,
            Protocol = b.Protocol,
            SourcePort = b.SourcePort,
            DestinationPort = b.DestinationPort,
            TcpFlags = b.TcpFlags,
            IcmpType = b.IcmpType,
            IcmpCode = b.IcmpCode,
            Source = b.Source,
            Destination = b.Destination,
            SourceNames = b.SourceNames,
            DestinationNames = b.DestinationNames,
            SourceService = b.SourceService,
            DestinationService = b.DestinationService,
            Direction = b.Direction,
            IsReply = isReply,
            EventType = b.EventType,
            EventSubType = b.EventSubType,
            Type = b.Type,
            TraceObservationPoint = b.TracePoint,
            PolicyMatchType = b.PolicyMatchType,
            L7Type = b.L7Type,
            L7LatencyNanos = b.L7Latency,
            Http = b.Http,
            Dns = b.Dns,
            EgressAllowedBy = b.EgressAllowedBy,
            IngressAllowedBy = b.IngressAllowedBy,
            EgressDeniedBy = b.EgressDeniedBy,
            IngressDeniedBy = b.IngressDeniedBy,
            Summary = b.Summary,
        };

        // A uuid that is not one (an older or foreign writer) leaves the flow to be known by its content.
        return b.Uuid is not null ? record : record with { Id = ContentHash(record) };
    }

    /// <summary>
    /// The identity of a flow without a uuid: a 128-bit hash of what it says (time, node, verdict,
    /// addresses, ports, endpoints, event, layer 7, summary). The same event printed by two tools, or
    /// with its keys in another order or case, hashes the same.
    /// </summary>
    internal UInt128 ContentHash(FlowRecord flow)
    {
        var writer = new HashWriter(_hashBuffer);
        writer.Long(flow.TimeUnixNanos);
        writer.Text(flow.NodeName);
        writer.Long((long)flow.Verdict);
        writer.Text(flow.DropReason);
        writer.Long(flow.IpVersion);
        writer.Address(flow.SourceIp);
        writer.Address(flow.DestinationIp);
        writer.Long((long)flow.Protocol);
        writer.Long(flow.SourcePort);
        writer.Long(flow.DestinationPort);
        writer.Long((long)flow.TcpFlags);
        writer.Long(flow.IcmpType);
        writer.Long(flow.IcmpCode);
        writer.Endpoint(flow.Source);
        writer.Endpoint(flow.Destination);
        writer.Long((long)flow.Direction);
        writer.Long(flow.IsReply switch { null => 2, true => 1, false => 0 });
        writer.Long(flow.EventType ?? -1);
        writer.Long(flow.EventSubType ?? -1);
        writer.Long((long)flow.Type);
        writer.Text(flow.TraceObservationPoint);
        writer.Long(flow.PolicyMatchType);
        writer.Long((long)flow.L7Type);
        writer.Long(flow.L7LatencyNanos);
        writer.Long(flow.Http?.Code ?? -1);
        writer.Text(flow.Http?.Method);
        writer.Text(flow.Http?.Url);
        writer.Text(flow.Dns?.Query);
        writer.Long(flow.Dns?.Rcode ?? -1);
        writer.Long(flow.Dns?.Ips.Count ?? -1);
        writer.Text(flow.Summary);
        return writer.Hash();
    }

    /// <summary>Writes a flow's fields into a buffer to hash; a buffer that fills up is hashed and carried on.</summary>
    private ref struct HashWriter(byte[] buffer)
    {
        private readonly byte[] _buffer = buffer;
        private readonly XxHash128 _hash = new();
        private int _used;

        public void Long(long value)
        {
            Room(8);
            BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_used), value);
            _used += 8;
        }

        public void Address(UInt128? value)
        {
            Room(17);
            _buffer[_used++] = value is null ? (byte)0 : (byte)1;
            BinaryPrimitives.WriteUInt128LittleEndian(_buffer.AsSpan(_used), value ?? default);
            _used += 16;
        }

        public void Text(string? value)
        {
            if (value is null)
            {
                Long(-1);
                return;
            }

            var bytes = Encoding.UTF8.GetMaxByteCount(value.Length);
            if (bytes + 8 > _buffer.Length)
            {
                Flush();
                var large = Encoding.UTF8.GetBytes(value);
                Long(large.Length);
                Flush();
                _hash.Append(large);
                return;
            }

            Room(bytes + 8);
            var written = Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_used + 8));
            BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_used), written);
            _used += 8 + written;
        }

        public void Endpoint(FlowEndpoint endpoint)
        {
            Long(endpoint.EndpointId);
            Long(endpoint.Identity);
            Text(endpoint.ClusterName);
            Text(endpoint.Namespace);
            Text(endpoint.PodName);
            Long(endpoint.Labels.Count);
            foreach (var label in endpoint.Labels)
            {
                Text(label);
            }
        }

        public UInt128 Hash()
        {
            Flush();
            return _hash.GetCurrentHashAsUInt128();
        }

        private void Room(int bytes)
        {
            if (_used + bytes > _buffer.Length)
            {
                Flush();
            }
        }

        private void Flush()
        {
            _hash.Append(_buffer.AsSpan(0, _used));
            _used = 0;
        }
    }

    /// <summary>The fields of the flow being read; reused from line to line.</summary>
    private sealed class Builder
    {
        public bool HasFlow;
        public bool IsOtherResponse;
        public long? TimeNanos;
        public UInt128? Uuid;
        public FlowVerdict Verdict;
        public string? DropReason;
        public int? DropReasonCode;
        public string? NodeName;
        public byte IpVersion;
        public UInt128? SourceIp;
        public UInt128? DestinationIp;
        public FlowProtocol Protocol;
        public int SourcePort;
        public int DestinationPort;
        public TcpFlags TcpFlags;
        public int IcmpType;
        public int IcmpCode;
        public FlowEndpoint Source = FlowEndpoint.Unknown;
        public FlowEndpoint Destination = FlowEndpoint.Unknown;
        public IReadOnlyList<string> SourceNames = [];
        public IReadOnlyList<string> DestinationNames = [];
        public FlowService? SourceService;
        public FlowService? DestinationService;
        public FlowDirection Direction;
        public bool? IsReply;
        public bool? Reply;
        public int? EventType;
        public int? EventSubType;
        public FlowType Type;
        public string? TracePoint;
        public int PolicyMatchType;
        public L7Type L7Type;
        public long L7Latency;
        public HttpInfo? Http;
        public DnsInfo? Dns;
        public IReadOnlyList<FlowPolicyRef> EgressAllowedBy = [];
        public IReadOnlyList<FlowPolicyRef> IngressAllowedBy = [];
        public IReadOnlyList<FlowPolicyRef> EgressDeniedBy = [];
        public IReadOnlyList<FlowPolicyRef> IngressDeniedBy = [];
        public string? Summary;

        public void Reset()
        {
            HasFlow = false;
            IsOtherResponse = false;
            TimeNanos = null;
            Uuid = null;
            Verdict = FlowVerdict.Unknown;
            DropReason = null;
            DropReasonCode = null;
            NodeName = null;
            IpVersion = 0;
            SourceIp = null;
            DestinationIp = null;
            Protocol = FlowProtocol.None;
            SourcePort = 0;
            DestinationPort = 0;
            TcpFlags = TcpFlags.None;
            IcmpType = 0;
            IcmpCode = 0;
            Source = FlowEndpoint.Unknown;
            Destination = FlowEndpoint.Unknown;
            SourceNames = [];
            DestinationNames = [];
            SourceService = null;
            DestinationService = null;
            Direction = FlowDirection.Unknown;
            IsReply = null;
            Reply = null;
            EventType = null;
            EventSubType = null;
            Type = FlowType.Unknown;
            TracePoint = null;
            PolicyMatchType = 0;
            L7Type = L7Type.Unknown;
            L7Latency = 0;
            Http = null;
            Dns = null;
            EgressAllowedBy = [];
            IngressAllowedBy = [];
            EgressDeniedBy = [];
            IngressDeniedBy = [];
            Summary = null;
        }
    }

    /// <summary>A line that is JSON but not a flow: where (byte offset in the line) and why.</summary>
    private sealed class FlowFormatException(long position, string message) : Exception(message)
    {
        public long Position { get; } = position;
    }
}
