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
/// (DNS names) read the flows; the aggregates that group by port (the service map, outside
/// destinations) leave replies out, so they never meet a missing port.
/// </para>
/// <para>
/// The newest hour, still being written, is counted in memory; when flows of a later hour arrive, its
/// totals are appended, a row a key, in the transaction that stores those flows, and
/// <c>flow_hours_state</c> records which hours the table holds. Queries read the flows for the hour
/// still in memory. Flows that arrive late, for an hour already closed, add their totals in the
/// transaction that stores them, which also records the hour in <c>flow_hours_late</c>; such hours are
/// compacted to a row a key when the store closes (or, after a stop without closing, when it next
/// closes having written), and closing also closes the newest hour. The hour in memory is counted
/// from the flows before the first write after the store opens (so a store that stopped without
/// closing loses nothing), after a failed write and after retention deleted flows. Retention takes
/// expired flows out of the totals: rows whose flows all expired go, and hours partly expired are
/// summed again from the flows left.
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

    private readonly Dictionary<Key, Total> _batchClosed = [];
    private readonly SortedSet<long> _late = [];
    private Dictionary<Key, Total> _open = [];
    private long _newest = long.MinValue;
    private long _batchNewest = long.MinValue;
    private long _closing = long.MinValue;
    private bool _loaded;

    /// <summary>
    /// Hours before this one have their totals in <c>flow_hours</c>; the newest hour, still being
    /// written, is counted in memory until flows of a later hour arrive or the store closes.
    /// <see cref="long.MinValue"/> when no hour is.
    /// </summary>
    public long ClosedBefore { get; private set; } = long.MinValue;

    /// <summary>
    /// Whether the totals in memory are not to be trusted: not counted yet since the store opened, or
    /// counting flows that were never stored (a failed batch) or since deleted (retention). The next
    /// write counts them again with <see cref="LoadAsync"/>.
    /// </summary>
    public bool Stale { get; private set; }

    /// <summary>The hour of a time: floor division, also before 1970.</summary>
    public static long HourOf(long timeNanos) => timeNanos >= 0 ? timeNanos / HourNanos : ((timeNanos + 1) / HourNanos) - 1;

    /// <summary>
    /// The hour of <paramref name="column"/> in SQL, as <see cref="HourOf(long)"/> computes it;
    /// <paramref name="divide"/> is the SQL's integer division (DuckDB's <c>//</c>, PostgreSQL's <c>/</c> on bigints).
    /// </summary>
    public static string HourOf(string column, string divide = "//") =>
        $"(({column} - ((({column} % {HourNanos}) + {HourNanos}) % {HourNanos})) {divide} {HourNanos})";

    /// <summary>The totals of the flows <paramref name="where"/> selects (a condition on <c>f</c>, the flows), as rows of <c>flow_hours</c>.</summary>
    public static string Totals(string where) =>
        $"SELECT {HourOf("f.time_ns")} AS hour, f.src, f.dst, CASE WHEN s.is_reply THEN NULL ELSE f.dst_port END AS dst_port, f.shape, " +
        $"count(*) AS flows, min(f.time_ns) AS first_ns, max(f.time_ns) AS last_ns FROM flows f JOIN flow_shapes s ON s.id = f.shape " +
        $"WHERE {where} GROUP BY ALL";

    /// <summary>The flows of some hours, as a condition on <c>f</c> that the flows' zone maps on time can use.</summary>
    public static string InHours(IEnumerable<long> hours) =>
        "(" + string.Join(" OR ", hours.Select(static h => string.Create(CultureInfo.InvariantCulture, $"(f.time_ns >= {h * HourNanos} AND f.time_ns < {(h + 1) * HourNanos})"))) + ")";

    /// <summary>
    /// Learns, when the store opens, which hours the table holds. The open hours are counted from the
    /// flows only when something is first written (<see cref="Stale"/> until then), so a store opened
    /// only to be read neither counts nor writes them.
    /// </summary>
    public async Task OpenAsync(DuckDBConnection connection, CancellationToken cancel)
    {
        using var state = connection.CreateCommand();
        state.CommandText = "SELECT closed_before FROM flow_hours_state";
        ClosedBefore = await state.ExecuteScalarAsync(cancel).ConfigureAwait(false) is long closed ? closed : long.MinValue;
        Stale = true;

        // Hours that late flows gave more than one row a key, not merged yet (the store stopped without closing).
        using var late = connection.CreateCommand();
        late.CommandText = "SELECT hour FROM flow_hours_late";
        using var reader = await late.ExecuteReaderAsync(cancel).ConfigureAwait(false);
        while (await reader.ReadAsync(cancel).ConfigureAwait(false))
        {
            _late.Add(reader.GetInt64(0));
        }
    }

    /// <summary>
    /// Counts the flows of the open hours (those at or after <see cref="ClosedBefore"/>) again, into
    /// memory. The totals stay <see cref="Stale"/> until the count has been read to the end, so a
    /// failed or cancelled count is tried again by the next write.
    /// </summary>
    public async Task LoadAsync(DuckDBConnection connection, CancellationToken cancel)
    {
        Stale = true;
        var open = new Dictionary<Key, Total>();
        var newest = ClosedBefore == long.MinValue ? long.MinValue : ClosedBefore - 1;
        using (var command = connection.CreateCommand())
        {
            command.CommandText = Totals(ClosedBefore == long.MinValue ? "TRUE" : string.Create(CultureInfo.InvariantCulture, $"f.time_ns >= {ClosedBefore * HourNanos}"));
            using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
            while (await reader.ReadAsync(cancel).ConfigureAwait(false))
            {
                var key = new Key(reader.GetInt64(0), reader.GetInt32(1), reader.GetInt32(2), reader.IsDBNull(3) ? null : reader.GetInt32(3), reader.GetInt32(4));
                open[key] = new Total(reader.GetInt64(5), reader.GetInt64(6), reader.GetInt64(7));
                newest = Math.Max(newest, key.Hour);
            }
        }

        _open = open;
        _newest = newest;
        Stale = false;
        _loaded = true;
    }

    /// <summary>Marks the totals in memory as no longer to be trusted (flows of open hours were deleted): the next write counts them again.</summary>
    public void MarkStale() => Stale = true;

    /// <summary>Counts one flow of the batch being written.</summary>
    public void Add(long timeNanos, int source, int destination, int? port, int shape)
    {
        // Flows of open hours are counted straight into the totals in memory (one look-up a flow); a
        // failed batch makes them stale.
        var key = new Key(HourOf(timeNanos), source, destination, port, shape);
        var totals = key.Hour < ClosedBefore ? _batchClosed : _open;
        ref var total = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(totals, key, out var known);
        total = known ? total.With(timeNanos) : new Total(1, timeNanos, timeNanos);
        _batchNewest = Math.Max(_batchNewest, key.Hour);
    }

    /// <summary>
    /// Inside the transaction that stores the batch's flows: appends the totals of its flows in hours
    /// already closed, and closes every hour before the newest (their totals, in memory until now, are
    /// appended, a row a key).
    /// </summary>
    public void Append(DuckDBConnection connection) => Append(connection, Math.Max(_newest, _batchNewest));

    /// <summary>Appends the batch's late totals and those of the open hours before <paramref name="closeBefore"/>, and records them closed.</summary>
    private void Append(DuckDBConnection connection, long closeBefore)
    {
        _closing = Math.Max(ClosedBefore, closeBefore);
        var closing = new Dictionary<Key, Total>();
        if (_closing > ClosedBefore)
        {
            foreach (var (key, total) in _open)
            {
                if (key.Hour < _closing)
                {
                    closing[key] = total;
                }
            }
        }

        using (var appender = connection.CreateAppender("flow_hours"))
        {
            foreach (var rows in (IEnumerable<KeyValuePair<Key, Total>>[])[_batchClosed, closing])
            {
                foreach (var (key, total) in rows)
                {
                    appender.CreateRow().AppendValue(key.Hour).AppendValue(key.Source).AppendValue(key.Destination).AppendValue(key.Port).AppendValue(key.Shape)
                        .AppendValue(total.Flows).AppendValue(total.First).AppendValue(total.Last).EndRow();
                }
            }
        }

        if (_closing > ClosedBefore)
        {
            using var state = connection.CreateCommand();
            state.CommandText = string.Create(CultureInfo.InvariantCulture, $"UPDATE flow_hours_state SET closed_before = {_closing}");
            state.ExecuteNonQuery();
        }

        // The hours late flows added rows to are recorded with them, so that they are merged even if the store stops without closing.
        var late = _batchClosed.Keys.Select(static k => k.Hour).Where(h => !_late.Contains(h)).Distinct().ToList();
        if (late.Count > 0)
        {
            using var record = connection.CreateCommand();
            record.CommandText = "INSERT OR IGNORE INTO flow_hours_late VALUES " + string.Join(", ", late.Select(static h => "(" + h.ToString(CultureInfo.InvariantCulture) + ")"));
            record.ExecuteNonQuery();
        }
    }

    /// <summary>After the batch's transaction committed: the hours it closed leave the totals in memory.</summary>
    public void Committed()
    {
        if (_closing > ClosedBefore)
        {
            foreach (var key in _open.Keys.Where(k => k.Hour < _closing).ToList())
            {
                _open.Remove(key);
            }

            ClosedBefore = _closing;
        }

        foreach (var key in _batchClosed.Keys)
        {
            _late.Add(key.Hour);
        }

        _newest = Math.Max(_newest, _batchNewest);
        Clear();
    }

    /// <summary>Forgets the batch: its transaction failed, so the totals in memory are <see cref="Stale"/>.</summary>
    public void Discard()
    {
        Stale = true;
        Clear();
    }

    private void Clear()
    {
        _batchClosed.Clear();
        _batchNewest = long.MinValue;
        _closing = ClosedBefore;
    }

    /// <summary>
    /// When the store closes: appends the totals still in memory and closes every hour, so that the
    /// next open has nothing to count again (not for a store that only read). Returns the hours that
    /// late flows gave more than one row a key, to compact.
    /// </summary>
    public async Task<IReadOnlyList<long>> CloseAsync(DuckDBConnection connection)
    {
        // A store that wrote counts its open hours again if they went stale since; one that only read leaves them.
        if (_loaded && Stale)
        {
            await LoadAsync(connection, CancellationToken.None).ConfigureAwait(false);
        }

        if (_open.Count > 0 && !Stale)
        {
            using var transaction = connection.BeginTransaction();
            Append(connection, _newest + 1);
            transaction.Commit();
            Committed();
        }

        // Only a store that wrote merges them: one opened only to be read changes nothing.
        if (!_loaded)
        {
            return [];
        }

        var late = _late.ToList();
        _late.Clear();
        return late;
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
            $"DELETE FROM flow_hours_late WHERE hour IN ({list})",
        ];
    }

    /// <summary>
    /// How a query is answered: the whole hours of its time range from the totals, the rest from the
    /// flows. Each part is the query with a narrower time range and, for the part the totals answer,
    /// its hours (from, to; null for no bound). All of the query reads the flows when no whole hour
    /// lies in its range.
    /// </summary>
    public static IReadOnlyList<(FlowQuery Query, bool Totals, long? FromHour, long? ToHour)> Split(FlowQuery query, long closedBefore = long.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(query);
        var since = query.SinceNanos;
        var until = query.UntilNanos;

        // The first whole hour starts at or after since; the whole hours end at or before until, and
        // before the first hour whose totals are still in memory.
        long? from = since is { } s && s != long.MinValue ? HourOf(s - 1) + 1 : null;
        long? to = until is { } u ? HourOf(u) : null;
        if (closedBefore != long.MaxValue && (to is null || to > closedBefore))
        {
            to = closedBefore;
        }

        if (closedBefore == long.MinValue || (from is { } f && to is { } t && f >= t))
        {
            return [(query, false, null, null)];
        }

        var parts = new List<(FlowQuery, bool, long?, long?)> { (query with { SinceNanos = null, UntilNanos = null }, true, from, to) };
        if (since is { } start && from is { } first && start < first * HourNanos)
        {
            parts.Add((query with { UntilNanos = first * HourNanos }, false, null, null));
        }

        if (to is { } last && (until is null || last * HourNanos < until))
        {
            parts.Add((query with { SinceNanos = last * HourNanos }, false, null, null));
        }

        return parts;
    }

    /// <summary>
    /// The statement that answers a count or aggregate of <paramref name="query"/>, and the filters whose
    /// parameters it names: the parts <see cref="Split"/> gives, each selected by <paramref name="select"/>
    /// from the totals (<paramref name="totals"/>) or the flows and joined by UNION ALL, then wrapped by
    /// <paramref name="outer"/>. The flows alone answer when <paramref name="totals"/> is null, when the
    /// query filters on what the totals do not keep (ports, DNS names), or when no whole hour is in its range.
    /// With <paramref name="bySide"/>, the totals answer a condition on either end one side at a time
    /// (<see cref="FlowFilterSql.BySide"/>): for a store whose index on each end holds what the select
    /// reads, which can then read those indexes alone.
    /// </summary>
    public static (string Sql, IReadOnlyList<FlowFilterSql> Filters) Counted(
        FlowQuery query, long closedBefore, FlowCounting? totals, FlowSqlDialect dialect, FlowDictionary dictionary,
        Func<FlowFilterSql, FlowCounting, string> select, Func<string, string>? outer = null, bool bySide = false)
    {
        ArgumentNullException.ThrowIfNull(select);
        var filters = new List<FlowFilterSql>();
        var selects = new List<string>();
        var parts = Split(query, closedBefore);
        if (totals is null || FlowFilterSql.ReadsPortsOrDetail(query) || !parts.Any(static p => p.Totals))
        {
            var whole = new FlowFilterSql(query, dialect, dictionary);
            filters.Add(whole);
            selects.Add(select(whole, FlowCounting.Flows(dialect)));
        }
        else
        {
            foreach (var (part, fromTotals, from, to) in parts)
            {
                var filter = new FlowFilterSql(part, dialect, dictionary, $"p{filters.Count}_");
                if (fromTotals && from is { } f)
                {
                    filter.Require(string.Create(CultureInfo.InvariantCulture, $"hour >= {f}"));
                }

                if (fromTotals && to is { } t)
                {
                    filter.Require(string.Create(CultureInfo.InvariantCulture, $"hour < {t}"));
                }

                filters.Add(filter);
                foreach (var side in fromTotals && bySide ? filter.BySide() : [filter])
                {
                    selects.Add(select(side, fromTotals ? totals : FlowCounting.Flows(dialect)));
                }
            }
        }

        var union = string.Join(" UNION ALL ", selects);
        return (outer is null ? union : outer(union), filters);
    }

    private readonly record struct Key(long Hour, int Source, int Destination, int? Port, int Shape);

    private readonly record struct Total(long Flows, long First, long Last)
    {
        public Total With(long time) => new(Flows + 1, Math.Min(First, time), Math.Max(Last, time));
    }
}

/// <summary>A store that keeps hourly totals, whose counts and aggregates can be told to read the flows alone (to compare both ways in tests and benchmarks).</summary>
internal interface IHourlyTotals
{
    /// <summary>Whether counts and aggregates read the hourly totals where they can (true but in comparisons).</summary>
    bool ReadsHourlyTotals { get; set; }
}
