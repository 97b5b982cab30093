using System.Globalization;
using DuckDB.NET.Data;

namespace Palisade.Flows.Storage;

/// <summary>
/// The embedded store's hourly totals, in <c>flow_hours</c>: for each hour, source and destination end,
/// destination port and shape, how many flows there were and the first and last time among them.
/// Counts, counts by a field and the aggregates read these for the whole hours of their time range and
/// the flows themselves only for the rest, so a namespace's totals over months read a few rows an hour
/// instead of every flow.
/// </summary>
/// <remarks>
/// <para>
/// A reply's destination port is the client's ephemeral port, which would give nearly every reply a
/// row of its own: a reply's totals have no port (null). Queries that filter on ports or on L7 detail
/// (DNS names) read the flows, and so do the aggregates that group by port, which leave replies out.
/// </para>
/// <para>
/// The store writes a batch's totals with its flows, in one transaction, so the two never disagree. A
/// batch adds a row a key, and an hour written by many batches has many rows a key until it is
/// compacted: once flows two hours newer arrive, and when the store closes. Retention takes expired
/// flows out of the totals: rows whose flows all expired go, and hours partly expired are summed again
/// from the flows left.
/// </para>
/// </remarks>
internal sealed class FlowHours
{
    /// <summary>Nanoseconds in an hour.</summary>
    public const long HourNanos = 3_600_000_000_000;

    /// <summary>The table, created by schema version 4.</summary>
    public const string CreateTable =
        "CREATE TABLE flow_hours (hour BIGINT NOT NULL, src INTEGER NOT NULL, dst INTEGER NOT NULL, dst_port INTEGER, " +
        "shape INTEGER NOT NULL, flows BIGINT NOT NULL, first_ns BIGINT NOT NULL, last_ns BIGINT NOT NULL)";

    /// <summary>How counts and aggregates read the totals.</summary>
    public static readonly FlowCounting Counting = new(
        "flow_hours", "flow_hours JOIN flow_shapes ON flow_shapes.id = flow_hours.shape", "CAST(sum(flows) AS BIGINT)", "flows", "first_ns", "last_ns");

    private readonly Dictionary<(long Hour, int Source, int Destination, int? Port, int Shape), (long Flows, long First, long Last)> _batch = [];
    private readonly SortedSet<long> _open = [];
    private long _newest = long.MinValue;

    /// <summary>The hour of a time: floor division, also before 1970.</summary>
    public static long HourOf(long timeNanos) => timeNanos >= 0 ? timeNanos / HourNanos : ((timeNanos + 1) / HourNanos) - 1;

    /// <summary>The hour of <paramref name="column"/> in SQL, as <see cref="HourOf(long)"/> computes it.</summary>
    public static string HourOf(string column) =>
        $"(({column} - ((({column} % {HourNanos}) + {HourNanos}) % {HourNanos})) // {HourNanos})";

    /// <summary>The totals of the flows <paramref name="where"/> selects (a condition on <c>f</c>, the flows), as rows of <c>flow_hours</c>.</summary>
    public static string Totals(string where) =>
        $"SELECT {HourOf("f.time_ns")} AS hour, f.src, f.dst, CASE WHEN s.is_reply THEN NULL ELSE f.dst_port END AS dst_port, f.shape, " +
        $"count(*) AS flows, min(f.time_ns) AS first_ns, max(f.time_ns) AS last_ns FROM flows f JOIN flow_shapes s ON s.id = f.shape " +
        $"WHERE {where} GROUP BY ALL";

    /// <summary>The flows of some hours, as a condition on <c>f</c> that the flows' zone maps on time can use.</summary>
    public static string InHours(IEnumerable<long> hours) =>
        "(" + string.Join(" OR ", hours.Select(static h => string.Create(CultureInfo.InvariantCulture, $"(f.time_ns >= {h * HourNanos} AND f.time_ns < {(h + 1) * HourNanos})"))) + ")";

    /// <summary>Learns, when the store opens, which hours may still have many rows a key: the newest ones.</summary>
    public void Open(long? newestHour)
    {
        _open.Clear();
        if (newestHour is { } newest)
        {
            _newest = newest;
            for (var h = newest - 2; h <= newest; h++)
            {
                _open.Add(h);
            }
        }
    }

    /// <summary>Counts one flow of the batch being written.</summary>
    public void Add(long timeNanos, int source, int destination, int? port, int shape)
    {
        var key = (HourOf(timeNanos), source, destination, port, shape);
        _batch[key] = _batch.TryGetValue(key, out var total)
            ? (total.Flows + 1, Math.Min(total.First, timeNanos), Math.Max(total.Last, timeNanos))
            : (1, timeNanos, timeNanos);
    }

    /// <summary>Appends the batch's totals, inside the transaction that stores its flows.</summary>
    public void Append(DuckDBConnection connection)
    {
        using (var appender = connection.CreateAppender("flow_hours"))
        {
            foreach (var ((hour, source, destination, port, shape), (flows, first, last)) in _batch)
            {
                appender.CreateRow().AppendValue(hour).AppendValue(source).AppendValue(destination).AppendValue(port).AppendValue(shape)
                    .AppendValue(flows).AppendValue(first).AppendValue(last).EndRow();
            }
        }
    }

    /// <summary>
    /// After the batch is stored: the hours it wrote are open (may have many rows a key), and the open
    /// hours two or more hours older than the newest are returned, to compact.
    /// </summary>
    public IReadOnlyList<long> Written()
    {
        foreach (var (hour, _, _, _, _) in _batch.Keys)
        {
            _open.Add(hour);
            _newest = Math.Max(_newest, hour);
        }

        _batch.Clear();
        return Closed(_newest - 1);
    }

    /// <summary>Marks hours open again: compacting them failed.</summary>
    public void Reopen(IEnumerable<long> hours) => _open.UnionWith(hours);

    /// <summary>Forgets the batch: its transaction failed.</summary>
    public void Discard() => _batch.Clear();

    /// <summary>The open hours before <paramref name="before"/> (all of them for null), no longer open.</summary>
    public IReadOnlyList<long> Closed(long? before)
    {
        var closed = before is { } b ? _open.Where(h => h < b).ToList() : [.. _open];
        foreach (var hour in closed)
        {
            _open.Remove(hour);
        }

        return closed;
    }

    /// <summary>The statements that replace the rows of <paramref name="hours"/> by their totals summed again from the flows.</summary>
    public static string[] Recount(IReadOnlyCollection<long> hours)
    {
        var list = string.Join(", ", hours.Select(static h => h.ToString(CultureInfo.InvariantCulture)));
        return [$"DELETE FROM flow_hours WHERE hour IN ({list})", $"INSERT INTO flow_hours {Totals(InHours(hours))}"];
    }

    /// <summary>
    /// The statements that merge the rows of <paramref name="hours"/> to one a key, from the totals alone
    /// (cheaper than <see cref="Recount"/>, which reads the flows).
    /// </summary>
    public static string[] Compact(IReadOnlyCollection<long> hours)
    {
        var list = string.Join(", ", hours.Select(static h => h.ToString(CultureInfo.InvariantCulture)));
        return
        [
            "CREATE TEMPORARY TABLE flow_hours_merged AS SELECT hour, src, dst, dst_port, shape, sum(flows)::BIGINT AS flows, min(first_ns) AS first_ns, " +
                $"max(last_ns) AS last_ns FROM flow_hours WHERE hour IN ({list}) GROUP BY ALL",
            $"DELETE FROM flow_hours WHERE hour IN ({list})",
            "INSERT INTO flow_hours SELECT * FROM flow_hours_merged",
            "DROP TABLE flow_hours_merged",
        ];
    }

    /// <summary>
    /// How a query is answered: the whole hours of its time range from the totals, the rest from the
    /// flows. Each part is the query with a narrower time range and, for the part the totals answer,
    /// its hours (from, to; null for no bound). All of the query reads the flows when no whole hour
    /// lies in its range.
    /// </summary>
    public static IReadOnlyList<(FlowQuery Query, bool Totals, long? FromHour, long? ToHour)> Split(FlowQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var since = query.SinceNanos;
        var until = query.UntilNanos;

        // The first whole hour starts at or after since; the whole hours end at or before until.
        long? from = since is { } s ? HourOf(s - 1) + 1 : null;
        long? to = until is { } u ? HourOf(u) : null;
        if (from is { } f && to is { } t && f >= t)
        {
            return [(query, false, null, null)];
        }

        var parts = new List<(FlowQuery, bool, long?, long?)> { (query with { SinceNanos = null, UntilNanos = null }, true, from, to) };
        if (since is { } start && from is { } first && start < first * HourNanos)
        {
            parts.Add((query with { UntilNanos = first * HourNanos }, false, null, null));
        }

        if (until is { } end && to is { } last && last * HourNanos < end)
        {
            parts.Add((query with { SinceNanos = last * HourNanos }, false, null, null));
        }

        return parts;
    }
}
