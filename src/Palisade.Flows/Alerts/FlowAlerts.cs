using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Serialization;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;
using Palisade.Model;
using Palisade.Sets;

namespace Palisade.Flows.Alerts;

/// <summary>An alert: a rule a flow matched, with what the flow was and how many repeats were folded into the previous alert of its kind.</summary>
public sealed record FlowAlert
{
    /// <summary>The rule's name.</summary>
    [JsonPropertyName("rule")]
    public required string Rule { get; init; }

    /// <summary><c>info</c>, <c>warning</c> or <c>critical</c>.</summary>
    [JsonPropertyName("severity")]
    public required string Severity { get; init; }

    /// <summary>The rule's description.</summary>
    [JsonPropertyName("description")]
    public string? Description { get; init; }

    /// <summary>The flow's time, RFC 3339.</summary>
    [JsonPropertyName("time")]
    public required string Time { get; init; }

    /// <summary>The client: <c>ns/name[Kind]</c>, <c>ns/pod</c> or an address.</summary>
    [JsonPropertyName("source")]
    public required string Source { get; init; }

    /// <summary>The server: as the source, or the DNS name of an outside host.</summary>
    [JsonPropertyName("destination")]
    public required string Destination { get; init; }

    /// <summary>The destination address.</summary>
    [JsonPropertyName("destination_ip")]
    public string? DestinationIp { get; init; }

    /// <summary>The connection, <c>TCP 443</c>.</summary>
    [JsonPropertyName("connection")]
    public required string Connection { get; init; }

    /// <summary>Hubble's verdict.</summary>
    [JsonPropertyName("verdict")]
    public required string Verdict { get; init; }

    /// <summary>Hubble's drop reason, for drops.</summary>
    [JsonPropertyName("drop_reason")]
    public string? DropReason { get; init; }

    /// <summary>The deciding policy, when the flow was attributed.</summary>
    [JsonPropertyName("policy")]
    public string? Policy { get; init; }

    /// <summary>How the observed and the engine's verdicts disagree, when they do.</summary>
    [JsonPropertyName("disagreement")]
    public string? Disagreement { get; init; }

    /// <summary>The research project.</summary>
    [JsonPropertyName("project")]
    public string? Project { get; init; }

    /// <summary>The flow's identity (uuid, or content hash).</summary>
    [JsonPropertyName("flow_id")]
    public required string FlowId { get; init; }

    /// <summary>Repeats of this alert folded in since the previous one was raised.</summary>
    [JsonPropertyName("suppressed_since_last")]
    public long Suppressed { get; init; }

    /// <summary>One line for a log.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"alert {Severity} {Rule}: {Source} => {Destination} : {Connection} {Verdict}{(DropReason is null ? string.Empty : $" ({DropReason})")} at {Time}") +
        (Policy is null ? string.Empty : $", decided by {Policy}") +
        (Disagreement is null ? string.Empty : $", {Disagreement}") +
        (Suppressed == 0 ? string.Empty : string.Create(CultureInfo.InvariantCulture, $", {Suppressed} repeats since the last alert"));
}

/// <summary>
/// Evaluates alert rules over flows in time order: a flow that matches a rule raises an alert, unless
/// an alert of the same rule, source, destination and port was raised less than the rule's window
/// before (by the flows' times), in which case it is counted into the next one. Not thread-safe.
/// </summary>
public sealed class FlowAlertEvaluator(FlowAlertRulesSpec rules)
{
    private readonly FlowAlertRulesSpec _rules = rules ?? throw new ArgumentNullException(nameof(rules));
    private readonly Dictionary<(string Rule, string Source, string Destination, string Connection), (long Since, long Suppressed)> _recent = [];

    /// <summary>The alerts a batch raises, in flow order.</summary>
    public IReadOnlyList<FlowAlert> Evaluate(IEnumerable<FlowRecord> flows)
    {
        ArgumentNullException.ThrowIfNull(flows);
        var alerts = new List<FlowAlert>();
        foreach (var flow in flows)
        {
            foreach (var rule in _rules.Rules)
            {
                if (!Matches(rule, flow))
                {
                    continue;
                }

                var source = Name(flow.Source, flow.SourceIp, flow.SourceNames);
                var destination = Name(flow.Destination, flow.DestinationIp, flow.DestinationNames);
                var connection = flow.Protocol is FlowProtocol.Tcp or FlowProtocol.Udp or FlowProtocol.Sctp
                    ? $"{flow.Protocol.Name()} {flow.DestinationPort.ToString(CultureInfo.InvariantCulture)}"
                    : flow.Protocol.Name();
                var key = (rule.Name, source, destination, connection);
                var window = rule.Window.Ticks * 100;
                if (_recent.TryGetValue(key, out var recent) && flow.TimeUnixNanos >= recent.Since && flow.TimeUnixNanos - recent.Since < window)
                {
                    _recent[key] = (recent.Since, recent.Suppressed + 1);
                    continue;
                }

                _recent[key] = (flow.TimeUnixNanos, 0);
                alerts.Add(new FlowAlert
                {
                    Rule = rule.Name,
                    Severity = rule.Severity,
                    Description = rule.Description,
                    Time = Rfc3339.Format(flow.TimeUnixNanos),
                    Source = source,
                    Destination = destination,
                    DestinationIp = flow.DestinationIpText,
                    Connection = connection,
                    Verdict = flow.Verdict.Name(),
                    DropReason = flow.DropReason,
                    Policy = flow.Attribution?.Policy,
                    Disagreement = flow.Attribution?.Disagreement switch
                    {
                        Records.Disagreement.ForwardedButDenied => "forwarded, but the policies deny it",
                        Records.Disagreement.DroppedButAllowed => "dropped, but the policies allow it",
                        _ => null,
                    },
                    Project = flow.Attribution?.Project,
                    FlowId = flow.IdText,
                    Suppressed = recent.Suppressed,
                });
            }
        }

        if (_recent.Count > 100_000)
        {
            _recent.Clear();
        }

        return alerts;
    }

    /// <summary>
    /// Evaluates flows in the order given (stored flows, oldest first), in batches, and delivers each
    /// batch's alerts to every sink; the number of alerts raised.
    /// </summary>
    public async Task<long> ReplayAsync(IAsyncEnumerable<FlowRecord> flows, IReadOnlyList<IAlertSink> sinks, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(flows);
        ArgumentNullException.ThrowIfNull(sinks);
        long raised = 0;
        var batch = new List<FlowRecord>(4096);
        await foreach (var flow in flows.WithCancellation(cancel).ConfigureAwait(false))
        {
            batch.Add(flow);
            if (batch.Count == batch.Capacity)
            {
                raised += await DeliverAsync(batch).ConfigureAwait(false);
            }
        }

        return raised + await DeliverAsync(batch).ConfigureAwait(false);

        async Task<long> DeliverAsync(List<FlowRecord> pending)
        {
            var found = await RaiseAsync(pending, sinks, cancel).ConfigureAwait(false);
            pending.Clear();
            return found;
        }
    }

    /// <summary>Evaluates flows and delivers their alerts to every sink; the number of alerts raised.</summary>
    public async Task<int> RaiseAsync(IEnumerable<FlowRecord> flows, IReadOnlyList<IAlertSink> sinks, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(sinks);
        var found = Evaluate(flows);
        foreach (var sink in sinks)
        {
            await sink.DeliverAsync(found, cancel).ConfigureAwait(false);
        }

        return found.Count;
    }

    /// <summary>Whether every condition of <paramref name="rule"/> holds for <paramref name="flow"/>.</summary>
    public static bool Matches(FlowAlertRuleSpec rule, FlowRecord flow)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(flow);
        if (rule.Verdicts.Count > 0 && !rule.Verdicts.Contains(flow.Verdict.Name()))
        {
            return false;
        }

        if (rule.DropReasons.Count > 0 && (flow.DropReason is null || !rule.DropReasons.Contains(flow.DropReason)))
        {
            return false;
        }

        if (rule.Ports.Count > 0 && !rule.Ports.Contains(flow.DestinationPort))
        {
            return false;
        }

        if (rule.Disagreement is { } disagreement && disagreement != (flow.Attribution?.Disagreement is not (null or Records.Disagreement.None)))
        {
            return false;
        }

        if (!AnyGlob(rule.FromNamespaces, flow.Source.Namespace) || !AnyGlob(rule.ToNamespaces, flow.Destination.Namespace))
        {
            return false;
        }

        if (!HasLabels(flow.Source, rule.FromLabels) || !HasLabels(flow.Destination, rule.ToLabels))
        {
            return false;
        }

        var outside = IsOutside(flow.Destination);
        if (rule.ToOutside is { } toOutside && toOutside != outside)
        {
            return false;
        }

        if (outside && (rule.ApprovedNames.Count > 0 || !rule.ApprovedAddresses.IsEmpty))
        {
            if (flow.DestinationIp is { } ip && rule.ApprovedAddresses.Contains(ip))
            {
                return false;
            }

            foreach (var name in flow.DestinationNames)
            {
                foreach (var pattern in rule.ApprovedNames)
                {
                    if (pattern.Matches(name))
                    {
                        return false;
                    }
                }
            }
        }

        return true;
    }

    /// <summary>
    /// An end outside the cluster: not a pod, and Cilium's <c>world</c> (identity 2, label
    /// <c>reserved:world</c>) or one of its CIDR or DNS identities (numbered from 2^24).
    /// </summary>
    public static bool IsOutside(FlowEndpoint end)
    {
        ArgumentNullException.ThrowIfNull(end);
        if (end.PodName is not null)
        {
            return false;
        }

        if (end.Identity == 2 || end.Identity >= 16_777_216)
        {
            return true;
        }

        foreach (var label in end.Labels)
        {
            if (label is "reserved:world" or "reserved:world-ipv4" or "reserved:world-ipv6" || label.StartsWith("cidr:", StringComparison.Ordinal) || label.StartsWith("fqdn:", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasLabels(FlowEndpoint end, LabelSet wanted)
    {
        foreach (var (key, value) in wanted)
        {
            var found = false;
            foreach (var label in end.Labels)
            {
                var colon = label.IndexOf(':', StringComparison.Ordinal);
                var bare = colon >= 0 ? label.AsSpan(colon + 1) : label.AsSpan();
                if (bare.Length == key.Length + 1 + value.Length && bare.StartsWith(key, StringComparison.Ordinal) && bare[key.Length] == '=' && bare[(key.Length + 1)..].SequenceEqual(value))
                {
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                return false;
            }
        }

        return true;
    }

    private static bool AnyGlob(IReadOnlyList<string> patterns, string? text)
    {
        if (patterns.Count == 0)
        {
            return true;
        }

        if (text is null)
        {
            return false;
        }

        foreach (var pattern in patterns)
        {
            if (Glob(pattern, text))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary><c>*</c> matches any run of characters; matched greedily from the left, one pass, no backtracking beyond the last star.</summary>
    internal static bool Glob(string pattern, string text)
    {
        int p = 0, t = 0, star = -1, mark = 0;
        while (t < text.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                mark = t;
            }
            else if (p < pattern.Length && pattern[p] == text[t])
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++mark;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    private static string Name(FlowEndpoint end, UInt128? ip, IReadOnlyList<string> names)
    {
        if (end.PodName is not null)
        {
            return end.Workloads.Count > 0 ? $"{end.Namespace}/{end.Workloads[0].Name}[{end.Workloads[0].Kind}]" : end.Display!;
        }

        return names.Count > 0 ? names[0].TrimEnd('.') : ip is { } address ? IpNumbers.Format(address) : end.Display ?? "?";
    }
}

/// <summary>Where alerts go.</summary>
public interface IAlertSink
{
    /// <summary>Delivers alerts; a failure to deliver is reported by the sink, never thrown.</summary>
    Task DeliverAsync(IReadOnlyList<FlowAlert> alerts, CancellationToken cancel = default);
}

/// <summary>Writes each alert as one line (to a log or the terminal).</summary>
public sealed class TextAlertSink(TextWriter writer) : IAlertSink
{
    /// <inheritdoc />
    public Task DeliverAsync(IReadOnlyList<FlowAlert> alerts, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        foreach (var alert in alerts)
        {
            writer.WriteLine("palisade: " + alert);
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// Posts each alert to a webhook as a JSON object, trying three times with a pause between; an alert
/// that cannot be delivered is reported to <paramref name="failures"/> and counted, and the rest go on.
/// </summary>
public sealed class WebhookAlertSink(HttpClient client, Uri url, TextWriter failures) : IAlertSink
{
    /// <summary>Alerts delivered.</summary>
    public long Delivered { get; private set; }

    /// <summary>Alerts that could not be delivered.</summary>
    public long Failed { get; private set; }

    /// <summary>The pause before the second try; doubled before the third.</summary>
    public TimeSpan RetryPause { get; init; } = TimeSpan.FromSeconds(1);

    /// <inheritdoc />
    public async Task DeliverAsync(IReadOnlyList<FlowAlert> alerts, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(alerts);
        foreach (var alert in alerts)
        {
            string? problem = null;
            for (var attempt = 0; attempt < 3; attempt++)
            {
                if (attempt > 0)
                {
                    await Task.Delay(RetryPause * attempt, cancel).ConfigureAwait(false);
                }

                try
                {
                    using var response = await client.PostAsJsonAsync(url, alert, cancel).ConfigureAwait(false);
                    if (response.IsSuccessStatusCode)
                    {
                        problem = null;
                        break;
                    }

                    problem = $"the webhook answered {(int)response.StatusCode} {response.ReasonPhrase}";
                }
                catch (HttpRequestException failure)
                {
                    problem = failure.Message;
                }
                catch (TaskCanceledException) when (!cancel.IsCancellationRequested)
                {
                    problem = "the webhook did not answer in time";
                }
            }

            if (problem is null)
            {
                Delivered++;
            }
            else
            {
                Failed++;
                await failures.WriteLineAsync($"palisade: warning: alert {alert.Rule} for flow {alert.FlowId} not delivered to {url}: {problem}").ConfigureAwait(false);
            }
        }
    }
}
