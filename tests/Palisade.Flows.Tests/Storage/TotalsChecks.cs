using Palisade.Flows.Records;
using Palisade.Flows.Storage;
using Palisade.Flows.Synthesis;

namespace Palisade.Flows.Tests.Storage;

/// <summary>What the tests of both stores' hourly totals share: flows over hours, and every count and aggregate asked both ways.</summary>
internal static class TotalsChecks
{
    private const long Hour = FlowHours.HourNanos;

    /// <summary>An hour's start, where the synthetic flows begin.</summary>
    public const long Start = 1_795_824_000_000_000_000L;

    /// <summary>Flows at two a second from an hour's start: about an hour and forty minutes for 12,000.</summary>
    public static List<FlowRecord> Synthesize(int count) =>
        [.. new FlowSynthesizer(new FlowSynthesisOptions { Namespaces = 4, WorkloadsPerNamespace = 3, FlowsPerSecond = 2, StartNanos = Start }).Next(count)];

    public static async Task AssertSameBothWaysAsync(IFlowStore store, List<FlowRecord> flows)
    {
        var space = flows[0].Source.Namespace!;
        var other = flows.First(f => f.Destination.Namespace is { } n && n != space).Destination.Namespace!;
        var pod = flows.First(f => f.Source.PodName is not null).Source;
        FlowQuery[] queries =
        [
            FlowQuery.All,
            new() { SinceNanos = Start + (Hour / 2), UntilNanos = Start + (Hour * 3 / 2) + 7 },
            new() { SinceNanos = Start, UntilNanos = Start + Hour },
            new() { SinceNanos = Start + Hour + 1 },
            new() { UntilNanos = Start + Hour + (Hour / 3), Namespaces = [space] },
            new() { Verdicts = [FlowVerdict.Dropped] },
            // A condition on either end, which PostgreSQL counts one side at a time; with another
            // such condition it counts both sides at once.
            new() { Namespaces = [space, other] },
            new() { Namespaces = [space], Verdicts = [FlowVerdict.Forwarded], SinceNanos = Start + Hour },
            new() { Pods = [$"{pod.Namespace}/{pod.PodName}"], UntilNanos = Start + (Hour * 2) },
            new() { Labels = [pod.Labels[0]] },
            new() { Namespaces = [space], Pods = [$"{pod.PodName![..2]}*"] },
            new() { Namespaces = ["no-such-namespace"] },
            new() { FromNamespaces = [space], SinceNanos = Start + 5 },
            new() { ToPorts = [53], SinceNanos = Start + 5 },
            // Totals keep no source port, no reply's port and no DNS name: these must read the flows.
            new() { ToPorts = [flows.First(f => f.IsReply == true).DestinationPort] },
            new() { FromPorts = [53] },
            new() { Ports = [8081] },
            new() { DnsQueries = [flows.First(f => f.Dns is not null).Dns!.Query!] },
            new() { L7Protocols = ["DNS"] },
        ];
        foreach (var query in queries)
        {
            var totals = await AnswersAsync(store, query, totals: true);
            var rows = await AnswersAsync(store, query, totals: false);

            Assert.Equal(rows, totals);
        }
    }

    private static async Task<List<string>> AnswersAsync(IFlowStore store, FlowQuery query, bool totals)
    {
        ReadTotals(store, totals);
        try
        {
            var answers = new List<string> { $"count {await store.CountAsync(query)}" };
            foreach (var field in Enum.GetValues<FlowCountField>())
            {
                answers.AddRange((await store.CountByAsync(query, field)).Select(c => $"{field} {c.Key} {c.Value}"));
            }

            foreach (var aggregate in Enum.GetValues<FlowAggregate>())
            {
                answers.AddRange((await store.AggregateAsync(query, aggregate, 1_000)).Select(r =>
                    $"{aggregate} {string.Join('|', r.Keys)} {r.Flows} {r.Forwarded} {r.Dropped} {r.FirstNanos} {r.LastNanos}"));
            }

            return answers;
        }
        finally
        {
            ReadTotals(store, true);
        }
    }

    private static void ReadTotals(IFlowStore store, bool totals) =>
        ((IHourlyTotals)store).ReadsHourlyTotals = totals;
}
