using System.Data.Common;
using System.Globalization;

namespace Palisade.Flows.Storage;

/// <summary>The summaries stores compute over flows.</summary>
public enum FlowAggregate
{
    /// <summary>
    /// The service map: client workload to server workload (or outside name or address), by protocol and
    /// server port, with counts by verdict and first and last seen. Replies are left out, so each
    /// connection counts from the side that opened it.
    /// </summary>
    ServiceMap,

    /// <summary>Top talkers: source and destination ends with the most flows.</summary>
    TopTalkers,

    /// <summary>Dropped flows by the policy that decided them (as attributed) and Hubble's drop reason.</summary>
    DropsByPolicy,

    /// <summary>Dropped flows by Hubble's drop reason.</summary>
    DropsByReason,

    /// <summary>
    /// Each namespace's destinations outside the cluster, by DNS name (as Hubble learned it) and address,
    /// protocol and port, with counts by verdict: what an auditor asks first.
    /// </summary>
    OutsideDestinations,
}

/// <summary>One row of an aggregate: its keys (as the aggregate names them), counts and times.</summary>
public sealed record FlowAggregateRow(IReadOnlyList<string?> Keys, long Flows, long Forwarded, long Dropped, long FirstNanos, long LastNanos);

/// <summary>
/// The aggregates, the same for both stores: SQL groups flows by the numbers they store (ends, strings,
/// protocol, port), then the groups are named through the dictionary and merged where two numbers name
/// the same thing (two pods of one workload), sorted by flows and cut to the limit.
/// </summary>
public static partial class FlowAggregateSql
{
    /// <summary>The names of an aggregate's keys, for headers.</summary>
    public static IReadOnlyList<string> KeyNames(FlowAggregate aggregate) => aggregate switch
    {
        FlowAggregate.ServiceMap => ["SOURCE", "DESTINATION", "PROTOCOL", "PORT"],
        FlowAggregate.TopTalkers => ["SOURCE", "DESTINATION"],
        FlowAggregate.DropsByPolicy => ["POLICY", "REASON"],
        FlowAggregate.DropsByReason => ["REASON"],
        FlowAggregate.OutsideDestinations => ["NAMESPACE", "DNS NAME", "ADDRESS", "PROTOCOL", "PORT"],
        _ => throw new ArgumentOutOfRangeException(nameof(aggregate)),
    };

    private static string[] GroupColumns(FlowAggregate aggregate) => aggregate switch
    {
        FlowAggregate.ServiceMap or FlowAggregate.OutsideDestinations => ["src", "dst", "protocol", "dst_port"],
        FlowAggregate.TopTalkers => ["src", "dst"],
        FlowAggregate.DropsByPolicy => ["decided_policy", "drop_reason"],
        FlowAggregate.DropsByReason => ["drop_reason"],
        _ => throw new ArgumentOutOfRangeException(nameof(aggregate)),
    };

    /// <summary>
    /// The SELECT that groups the flows a filter selects by the numbers an aggregate needs, reading
    /// <paramref name="counting"/> (by default the flows themselves).
    /// </summary>
    public static string Select(FlowAggregate aggregate, FlowFilterSql filter, FlowDictionary dictionary, FlowCounting? counting = null)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(dictionary);
        var c = counting ?? FlowCounting.Flows(filter.Dialect);
        var extra = aggregate switch
        {
            FlowAggregate.ServiceMap => "(is_reply IS NULL OR NOT is_reply)",
            FlowAggregate.DropsByPolicy or FlowAggregate.DropsByReason => "verdict = 2",
            FlowAggregate.OutsideDestinations =>
                $"(is_reply IS NULL OR NOT is_reply) AND {FlowFilterSql.In("src", dictionary.EndsWhere(static e => e.Endpoint.PodName is not null))} " +
                $"AND {FlowFilterSql.In("dst", dictionary.EndsWhere(static e => Alerts.FlowAlertEvaluator.IsOutside(e.Endpoint)))}",
            _ => null,
        };
        var where = filter.Where;
        if (extra is not null)
        {
            where = where.Length == 0 ? " WHERE " + extra : where + " AND " + extra;
        }

        var groups = string.Join(", ", GroupColumns(aggregate));
        return $"SELECT {groups}, {c.Count} AS n, CAST(sum(CASE WHEN verdict IN (1, 5) THEN {c.Weight} ELSE 0 END) AS BIGINT) AS forwarded, " +
            $"CAST(sum(CASE WHEN verdict = 2 THEN {c.Weight} ELSE 0 END) AS BIGINT) AS dropped, min({c.First}) AS first_ns, max({c.Last}) AS last_ns " +
            $"FROM {c.Grouped}{where} GROUP BY {groups}";
    }

    /// <summary>Reads the groups of <see cref="Select"/>, names and merges them, and keeps the <paramref name="limit"/> with the most flows.</summary>
    public static async Task<IReadOnlyList<FlowAggregateRow>> ReadAsync(DbDataReader reader, FlowAggregate aggregate, FlowDictionary dictionary, int limit, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(dictionary);
        var width = GroupColumns(aggregate).Length;
        var merged = new Dictionary<GroupKey, (string?[] Keys, long Flows, long Forwarded, long Dropped, long First, long Last)>();
        // An end is named once, however many groups it is in (naming a pod strips its generated suffix).
        var ends = new Dictionary<int, string>();
        string EndName(int? id)
        {
            var number = id ?? 0;
            if (!ends.TryGetValue(number, out var name))
            {
                name = End(dictionary.EndOf(number));
                ends[number] = name;
            }

            return name;
        }

        while (await reader.ReadAsync(cancel).ConfigureAwait(false))
        {
            int? Number(int i) => reader.IsDBNull(i) ? null : Convert.ToInt32(reader.GetValue(i), CultureInfo.InvariantCulture);
            var keys = Name(aggregate, dictionary, EndName, Number(0), width > 1 ? Number(1) : null, width > 2 ? Number(2) : null, width > 3 ? Number(3) : null);
            var key = new GroupKey(keys[0], keys.Length > 1 ? keys[1] : null, keys.Length > 2 ? keys[2] : null, keys.Length > 3 ? keys[3] : null, keys.Length > 4 ? keys[4] : null);
            var flows = reader.GetInt64(width);
            var forwarded = reader.GetInt64(width + 1);
            var dropped = reader.GetInt64(width + 2);
            var first = reader.GetInt64(width + 3);
            var last = reader.GetInt64(width + 4);
            ref var total = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(merged, key, out var known);
            total = known
                ? (total.Keys, total.Flows + flows, total.Forwarded + forwarded, total.Dropped + dropped, Math.Min(total.First, first), Math.Max(total.Last, last))
                : (keys, flows, forwarded, dropped, first, last);
        }

        // Most flows first; equal counts by their keys (a missing key as empty), so the order never depends
        // on the store. The limit is kept in a heap whose top is the worst kept, so that most groups are
        // turned away by one comparison.
        static int Order((string?[] Keys, long Flows, long, long, long, long) x, (string?[] Keys, long Flows, long, long, long, long) y)
        {
            var order = y.Flows.CompareTo(x.Flows);
            for (var i = 0; order == 0 && i < x.Keys.Length; i++)
            {
                order = string.CompareOrdinal(x.Keys[i] ?? string.Empty, y.Keys[i] ?? string.Empty);
            }

            return order;
        }

        var kept = new PriorityQueue<(string?[] Keys, long Flows, long Forwarded, long Dropped, long First, long Last), (string?[] Keys, long Flows, long, long, long, long)>(
            Comparer<(string?[] Keys, long Flows, long, long, long, long)>.Create(static (x, y) => Order(y, x)));
        foreach (var group in merged.Values)
        {
            if (kept.Count < limit)
            {
                kept.Enqueue(group, group);
            }
            else if (limit > 0 && Order(group, kept.Peek()) < 0)
            {
                kept.EnqueueDequeue(group, group);
            }
        }

        var rows = new List<(string?[] Keys, long Flows, long Forwarded, long Dropped, long First, long Last)>(kept.Count);
        while (kept.TryDequeue(out var group, out _))
        {
            rows.Add(group);
        }

        rows.Reverse();
        return [.. rows.Take(limit).Select(static r => new FlowAggregateRow(r.Keys, r.Flows, r.Forwarded, r.Dropped, r.First, r.Last))];
    }

    private static string?[] Name(FlowAggregate aggregate, FlowDictionary dictionary, Func<int?, string> end, int? a, int? b, int? c, int? d)
    {
        static string Protocol(int? p) => Records.FlowNames.Name((Records.FlowProtocol)(p ?? 0));
        return aggregate switch
        {
            FlowAggregate.ServiceMap => [end(a), end(b), Protocol(c), d?.ToString(CultureInfo.InvariantCulture)],
            FlowAggregate.TopTalkers => [end(a), end(b)],
            FlowAggregate.DropsByPolicy => [dictionary.StringOf(a), dictionary.StringOf(b)],
            FlowAggregate.DropsByReason => [dictionary.StringOf(a)],
            FlowAggregate.OutsideDestinations => OutsideKeys(dictionary.EndOf(a ?? 0), dictionary.EndOf(b ?? 0), Protocol(c), d),
            _ => throw new ArgumentOutOfRangeException(nameof(aggregate)),
        };
    }

    /// <summary>A group's keys (up to five), compared as text; a missing key differs from an empty one.</summary>
    private readonly record struct GroupKey(string? A, string? B, string? C, string? D, string? E);

    private static string?[] OutsideKeys(FlowEnd source, FlowEnd destination, string protocol, int? port) =>
        [source.Endpoint.Namespace, destination.Names.Count > 0 ? destination.Names[0] : null, destination.IpText, protocol, port?.ToString(CultureInfo.InvariantCulture)];

    /// <summary>
    /// One end as a report names it: <c>namespace/name[Kind]</c> for a pod whose workload Hubble gives (as
    /// <c>palisade analyze</c> names workloads), <c>namespace/name</c> for other pods (the pod name without
    /// the suffix its controller generated), else the first DNS name, else the address.
    /// </summary>
    public static string End(FlowEnd end)
    {
        ArgumentNullException.ThrowIfNull(end);
        var e = end.Endpoint;
        if (e.PodName is not null)
        {
            var prefix = e.Namespace is null ? string.Empty : e.Namespace + "/";
            return e.Workloads.Count > 0 ? $"{prefix}{e.Workloads[0].Name}[{e.Workloads[0].Kind}]" : prefix + WithoutGeneratedSuffix(e.PodName);
        }

        return end.Names.Count > 0 ? end.Names[0] : end.IpText ?? e.Display ?? "?";
    }

    /// <summary>A Deployment's pod <c>NAME-HASH-XXXXX</c>, a DaemonSet's <c>NAME-XXXXX</c> and a StatefulSet's <c>NAME-N</c> are all <c>NAME</c>.</summary>
    private static string WithoutGeneratedSuffix(string pod) =>
        GeneratedSuffix().Replace(pod, string.Empty);

    [System.Text.RegularExpressions.GeneratedRegex("((-[a-z0-9]{6,10})?-[a-z0-9]{5}|-[0-9]+)$")]
    private static partial System.Text.RegularExpressions.Regex GeneratedSuffix();
}
