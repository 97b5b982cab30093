using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using DuckDB.NET.Data;
using Palisade.Flows.Records;

namespace Palisade.Flows.Storage;

/// <summary>A store that cannot be opened or used: a bad location, a file another process holds, a schema newer than this Palisade.</summary>
public sealed class FlowStoreException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FlowStoreException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public FlowStoreException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public FlowStoreException()
    {
    }

    /// <summary>True when the store is a file another process has open (DuckDB allows one at a time).</summary>
    public bool HeldByAnotherProcess { get; init; }
}

/// <summary>
/// The embedded flow store: one DuckDB file (Palisade's default, under the data folder). One process
/// opens a file at a time (DuckDB locks it); within the process, calls are serialised on one
/// connection. A flow is stored as nine numbers: time, identity, ends, ports, L7 latency, and the
/// numbers of its shape and detail, which <c>flow_shapes</c> and <c>flow_details</c> keep once each
/// (DuckDB's cost of storing a row grows with its columns). A write looks up the keys already stored
/// in the batch's time range, saves the shapes and details not seen before, then appends the rest
/// straight into <c>flows</c> with DuckDB's appender, whose flush stores them as one transaction.
/// </summary>
public sealed class DuckDbFlowStore : IFlowStore, IHourlyTotals
{
    private static readonly DuckDbDialect Dialect = new();
    private readonly DuckDBConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _disposed;
    // Replaced when retention sweeps out what no stored flow uses any more.
    private FlowDictionary _dictionary = new() { NumbersNew = true };
    private FlowNumbering<FlowShape> _shapes = new();
    private FlowNumbering<FlowDetail> _details = new();
    private readonly HashSet<(long, Guid)> _batchKeys = [];
    private readonly List<NarrowRow> _batchRows = [];
    private readonly FlowHours _hours = new();
    private readonly Dictionary<(int Shape, int Detail), FlowRecord> _shared = [];

    private bool _readsHourlyTotals = true;

    // DuckDB's threads: one for a batch of flows, whose small look-ups and appends lose more to handing
    // work between threads than they gain (5-10% of ingest's CPU); its default (one a core) for
    // queries and for bulk work (retention, compacting the hourly totals).
    private int _queryThreads;
    private int _threadsNow;

    /// <inheritdoc />
    bool IHourlyTotals.ReadsHourlyTotals { get => _readsHourlyTotals; set => _readsHourlyTotals = value; }

    private DuckDbFlowStore(DuckDBConnection connection, string description, int version)
    {
        _connection = connection;
        Description = description;
        SchemaVersion = version;
    }

    /// <inheritdoc />
    public string Description { get; }

    /// <summary>The file the store is in, or <c>:memory:</c>.</summary>
    public string Location => Description["duckdb:".Length..];

    /// <inheritdoc />
    public int SchemaVersion { get; }

    /// <summary>
    /// Opens (creating when missing) the store in <paramref name="path"/>, or in memory for
    /// <c>:memory:</c>, and migrates its schema to the newest version.
    /// </summary>
    public static async Task<DuckDbFlowStore> OpenAsync(string path, CancellationToken cancel = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var memory = path == ":memory:";
        if (!memory)
        {
            var folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder is not null)
            {
                Directory.CreateDirectory(folder);
            }
        }

        var connection = new DuckDBConnection(memory ? "DataSource=:memory:" : $"DataSource={path}");
        try
        {
            await connection.OpenAsync(cancel).ConfigureAwait(false);
        }
        catch (Exception failure) when (failure is DuckDBException or IOException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            var locked = failure.Message.Contains("lock", StringComparison.OrdinalIgnoreCase);
            var held = locked ? " (another Palisade process has it open; stop it, or use that process)" : string.Empty;
            throw new FlowStoreException($"cannot open the flow store duckdb:{path}{held}: {FirstLine(failure.Message)}", failure) { HeldByAnotherProcess = locked };
        }

        try
        {
            var (version, before) = await FlowSchema.MigrateAsync(connection, Migrations, "duckdb:" + path, Dialect, lockStatement: null, cancel).ConfigureAwait(false);
            if (!memory && before is > 0 and < 3)
            {
                // Version 3 rewrote the flows of an existing file: write the result out now, so that the
                // file does not keep the old and new copies until some later checkpoint. (Not on every
                // open: after a checkpoint of a fresh file, the flows appended took half again as much space.)
                await ExecuteAsync(connection, "CHECKPOINT", cancel).ConfigureAwait(false);
            }

            var store = new DuckDbFlowStore(connection, "duckdb:" + path, version);
            await store.LoadDictionaryAsync(cancel).ConfigureAwait(false);
            store._queryThreads = store._threadsNow = await store.ThreadsAsync().ConfigureAwait(false);

            await store._hours.OpenAsync(connection, cancel).ConfigureAwait(false);

            return store;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The schema migrations, in order; version N is the Nth. Never edit one that has shipped: add another.</summary>
    internal static readonly IReadOnlyList<(string Description, string[] Statements)> Migrations =
    [
        ("flows, their ends and strings", [
            $"CREATE TABLE flows ({string.Join(", ", FlowColumns.All.Select(static c => $"{c.Name} {c.DuckDb}"))})",
            "CREATE TABLE flow_ends (id INTEGER PRIMARY KEY, hash BIGINT NOT NULL UNIQUE, endpoint_id INTEGER NOT NULL, identity BIGINT NOT NULL, cluster VARCHAR, " +
                "namespace VARCHAR, pod VARCHAR, labels VARCHAR[], workloads VARCHAR[], ip VARCHAR, names VARCHAR[], service VARCHAR)",
            "CREATE TABLE flow_strings (id INTEGER PRIMARY KEY, hash BIGINT NOT NULL UNIQUE, text VARCHAR NOT NULL)",
        ]),
        ("retention rules", ["CREATE TABLE retention_rules (target VARCHAR PRIMARY KEY, days INTEGER NOT NULL)"]),
        ("flows as nine columns: shapes and details kept once", NarrowFlows()),
        ("hourly totals", [
            FlowHours.CreateTable,
            $"INSERT INTO flow_hours {FlowHours.Totals("TRUE")}",
            "CREATE TABLE flow_hours_state AS SELECT max(hour) + 1 AS closed_before FROM flow_hours",
        ]),
        ("hours with late totals to merge", ["CREATE TABLE flow_hours_late (hour BIGINT PRIMARY KEY)"]),
    ];

    /// <summary>The columns of <c>flows</c> from schema version 3 on, in the order the appender writes them.</summary>
    internal const string NarrowColumns = "time_ns, flow_id, src, dst, src_port, dst_port, l7_latency_ns, shape, detail";

    /// <summary>
    /// Schema version 3: each distinct shape and detail of the flows stored so far gets a number in
    /// <c>flow_shapes</c> and <c>flow_details</c>, and <c>flows</c> is rewritten to refer to them.
    /// </summary>
    private static string[] NarrowFlows()
    {
        static string Typed(IReadOnlyList<string> names) => string.Join(", ", names.Select(static n => $"{n} {FlowColumns.All.First(c => c.Name == n).DuckDb}"));
        static string Same(IReadOnlyList<string> names, string table) => string.Join(" AND ", names.Select(n => $"f.{n} IS NOT DISTINCT FROM {table}.{n}"));
        var shapes = string.Join(", ", FlowShape.Columns);
        var details = string.Join(", ", FlowDetail.Columns);
        return
        [
            $"CREATE TABLE flow_shapes (id INTEGER PRIMARY KEY, {Typed(FlowShape.Columns)})",
            $"INSERT INTO flow_shapes SELECT CAST(row_number() OVER () AS INTEGER), * FROM (SELECT DISTINCT {shapes} FROM flows)",
            $"CREATE TABLE flow_details (id INTEGER PRIMARY KEY, {Typed(FlowDetail.Columns)})",
            $"INSERT INTO flow_details SELECT CAST(row_number() OVER () AS INTEGER), * FROM (SELECT DISTINCT {details} FROM flows)",
            "CREATE TABLE flows_narrow (time_ns BIGINT NOT NULL, flow_id UUID NOT NULL, src INTEGER NOT NULL, dst INTEGER NOT NULL, " +
                "src_port INTEGER NOT NULL, dst_port INTEGER NOT NULL, l7_latency_ns BIGINT NOT NULL, shape INTEGER NOT NULL, detail INTEGER NOT NULL)",
            $"INSERT INTO flows_narrow SELECT f.time_ns, f.flow_id, f.src, f.dst, f.src_port, f.dst_port, f.l7_latency_ns, s.id, d.id FROM flows f " +
                $"JOIN flow_shapes s ON {Same(FlowShape.Columns, "s")} JOIN flow_details d ON {Same(FlowDetail.Columns, "d")} ORDER BY f.time_ns",
            "DROP TABLE flows",
            "ALTER TABLE flows_narrow RENAME TO flows",
        ];
    }

    /// <inheritdoc />
    public async Task<FlowWriteResult> WriteAsync(IReadOnlyList<FlowRecord> flows, CancellationToken cancel = default) =>
        (await WriteAsync(flows, returnNew: false, cancel).ConfigureAwait(false)).Result;

    /// <inheritdoc />
    public async Task<IReadOnlyList<FlowRecord>> WriteNewAsync(IReadOnlyList<FlowRecord> flows, CancellationToken cancel = default) =>
        (await WriteAsync(flows, returnNew: true, cancel).ConfigureAwait(false)).New;

    private async Task<(FlowWriteResult Result, IReadOnlyList<FlowRecord> New)> WriteAsync(IReadOnlyList<FlowRecord> flows, bool returnNew, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(flows);
        if (flows.Count == 0)
        {
            return (default, []);
        }

        await _gate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            await UseThreadsAsync(writing: true, cancel).ConfigureAwait(false);
            long min = long.MaxValue, max = long.MinValue;
            foreach (var flow in flows)
            {
                min = Math.Min(min, flow.TimeUnixNanos);
                max = Math.Max(max, flow.TimeUnixNanos);
            }

            // The keys already stored in the batch's time range (none, when flows arrive in time order),
            // found through the table's zone maps on time; this process is the file's only writer.
            // Kept between batches (writers take turns under the gate): a batch allocates nothing large,
            // which would otherwise make the collector walk the whole heap once every few batches.
            var stored = _batchKeys;
            stored.Clear();
            using (var existing = _connection.CreateCommand())
            {
                existing.CommandText = "SELECT time_ns, flow_id FROM flows WHERE time_ns BETWEEN $min AND $max";
                existing.Parameters.Add(new DuckDBParameter("min", min));
                existing.Parameters.Add(new DuckDBParameter("max", max));
                using var reader = await existing.ExecuteReaderAsync(cancel).ConfigureAwait(false);
                while (await reader.ReadAsync(cancel).ConfigureAwait(false))
                {
                    stored.Add((reader.GetInt64(0), reader.GetGuid(1)));
                }
            }

            // Rows first, numbering the ends, strings, shapes and details not seen before; those are saved
            // before the flows that use them, so a crash in between leaves numbers no flow uses, never the reverse.
            var fresh = returnNew ? new List<FlowRecord>(flows.Count) : null;
            var rows = _batchRows;
            rows.Clear();
            foreach (var flow in flows)
            {
                var id = FlowIds.ToGuid(flow.Id);
                if (stored.Add((flow.TimeUnixNanos, id)))
                {
                    rows.Add(new NarrowRow(
                        flow.TimeUnixNanos, id, _dictionary.EndId(flow, source: true), _dictionary.EndId(flow, source: false), flow.SourcePort, flow.DestinationPort,
                        flow.L7LatencyNanos, _shapes.IdOf(FlowColumns.Shape(flow, _dictionary)), _details.IdOf(FlowColumns.Detail(flow, _dictionary)), flow.IsReply == true));
                    fresh?.Add(flow);
                }
            }

            StoreNumbered(cancel);

            if (_hours.Stale)
            {
                await _hours.LoadAsync(_connection, cancel).ConfigureAwait(false);
            }

            // The flows and their hourly totals, appended in one transaction.
            try
            {
                using var transaction = _connection.BeginTransaction();
                using (var appender = _connection.CreateAppender("flows"))
                {
                    foreach (var r in rows)
                    {
                        appender.CreateRow().AppendValue(r.TimeNanos).AppendValue(r.Id).AppendValue(r.Source).AppendValue(r.Destination).AppendValue(r.SourcePort)
                            .AppendValue(r.DestinationPort).AppendValue(r.L7LatencyNanos).AppendValue(r.Shape).AppendValue(r.Detail).EndRow();
                        _hours.Add(r.TimeNanos, r.Source, r.Destination, r.Reply ? null : r.DestinationPort, r.Shape);
                    }
                }

                _hours.Append(_connection);
                transaction.Commit();
                _hours.Committed();
            }
            catch
            {
                _hours.Discard();
                throw;
            }

            var result = (new FlowWriteResult(rows.Count, flows.Count - rows.Count), (IReadOnlyList<FlowRecord>?)fresh ?? []);
            if (rows.Capacity > 1 << 20)
            {
                // One unusually large batch should not hold its memory for the life of the store.
                rows.Clear();
                rows.TrimExcess();
                stored.Clear();
                stored.TrimExcess();
            }

            return result;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The flows whose keys were inserted, in their order, each once.</summary>
    internal static List<FlowRecord> NewFlows(IReadOnlyList<FlowRecord> flows, HashSet<(long, Guid)> inserted)
    {
        var fresh = new List<FlowRecord>(inserted.Count);
        foreach (var flow in flows)
        {
            if (inserted.Remove((flow.TimeUnixNanos, FlowIds.ToGuid(flow.Id))))
            {
                fresh.Add(flow);
            }
        }

        return fresh;
    }

    /// <summary>
    /// Saves the ends, strings, shapes and details numbered since the last call, in one transaction;
    /// forgets them when that fails, so that they are numbered again.
    /// </summary>
    private void StoreNumbered(CancellationToken cancel)
    {
        var (ends, strings) = _dictionary.TakeAdded();
        var shapes = _shapes.TakeAdded();
        var details = _details.TakeAdded();
        if (ends.Count == 0 && strings.Count == 0 && shapes.Count == 0 && details.Count == 0)
        {
            return;
        }

        try
        {
            using var transaction = _connection.BeginTransaction();
            using (var appender = _connection.CreateAppender("flow_ends"))
            {
                foreach (var (id, hash, end) in ends)
                {
                    var v = FlowColumns.EndValues(end);
                    appender.CreateRow().AppendValue(id).AppendValue(hash).AppendValue((int)v[0]!).AppendValue((long)v[1]!).AppendValue((string?)v[2])
                        .AppendValue((string?)v[3]).AppendValue((string?)v[4]).AppendValue((string[])v[5]!).AppendValue((string[])v[6]!).AppendValue((string?)v[7])
                        .AppendValue((string[])v[8]!).AppendValue((string?)v[9]).EndRow();
                }
            }

            using (var appender = _connection.CreateAppender("flow_strings"))
            {
                foreach (var (id, hash, text) in strings)
                {
                    appender.CreateRow().AppendValue(id).AppendValue(hash).AppendValue(text).EndRow();
                }
            }

            using (var appender = _connection.CreateAppender("flow_shapes"))
            {
                foreach (var (id, v) in shapes)
                {
                    appender.CreateRow().AppendValue(id).AppendValue(v.IdFromUuid).AppendValue(v.Verdict).AppendValue(v.DropReason).AppendValue(v.Node)
                        .AppendValue(v.IpVersion).AppendValue(v.Protocol).AppendValue(v.TcpFlags).AppendValue(v.IcmpType).AppendValue(v.IcmpCode)
                        .AppendValue(v.Direction).AppendValue(v.IsReply).AppendValue(v.EventType).AppendValue(v.EventSubType).AppendValue(v.FlowType)
                        .AppendValue(v.TracePoint).AppendValue(v.PolicyMatchType).AppendValue(v.L7Type).AppendValue(v.HttpCode).AppendValue(v.HttpMethod)
                        .AppendValue(v.HttpProtocol).AppendValue(v.DnsRcode).AppendValue(v.Policies).AppendValue(v.EngineVerdict).AppendValue(v.Tier)
                        .AppendValue(v.Policy).AppendValue(v.Rule).AppendValue(v.Disagreement).AppendValue(v.Project).EndRow();
                }
            }

            using (var appender = _connection.CreateAppender("flow_details"))
            {
                foreach (var (id, v) in details)
                {
                    appender.CreateRow().AppendValue(id).AppendValue(v.HttpUrl).AppendValue(v.HttpHeaders).AppendValue(v.DnsQuery).AppendValue(v.DnsTtl)
                        .AppendValue(v.DnsAnswer).AppendValue(v.Summary).EndRow();
                }
            }

            cancel.ThrowIfCancellationRequested();
            transaction.Commit();
        }
        catch
        {
            _dictionary.Forget(ends, strings);
            _shapes.Forget(shapes);
            _details.Forget(details);
            _shared.Clear();
            throw;
        }
    }

    private async Task LoadDictionaryAsync(CancellationToken cancel)
    {
        using (var command = _connection.CreateCommand())
        {
            command.CommandText = $"SELECT id, hash, {FlowColumns.EndList} FROM flow_ends";
            using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
            while (await reader.ReadAsync(cancel).ConfigureAwait(false))
            {
                _dictionary.LoadEnd(reader.GetInt32(0), reader.GetInt64(1), FlowColumns.ReadEnd(reader));
            }
        }

        using (var command = _connection.CreateCommand())
        {
            command.CommandText = $"SELECT id, {string.Join(", ", FlowShape.Columns)} FROM flow_shapes";
            using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
            while (await reader.ReadAsync(cancel).ConfigureAwait(false))
            {
                _shapes.Load(reader.GetInt32(0), ReadShape(reader));
            }
        }

        using (var command = _connection.CreateCommand())
        {
            command.CommandText = $"SELECT id, {string.Join(", ", FlowDetail.Columns)} FROM flow_details";
            using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
            while (await reader.ReadAsync(cancel).ConfigureAwait(false))
            {
                int? Number(int i) => reader.IsDBNull(i) ? null : reader.GetInt32(i);
                _details.Load(reader.GetInt32(0), new FlowDetail(Number(1), Number(2), Number(3), reader.IsDBNull(4) ? null : reader.GetInt64(4), Number(5), Number(6)));
            }
        }

        using (var command = _connection.CreateCommand())
        {
            command.CommandText = "SELECT id, text FROM flow_strings";
            using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
            while (await reader.ReadAsync(cancel).ConfigureAwait(false))
            {
                _dictionary.LoadString(reader.GetInt32(0), reader.GetString(1));
            }
        }
    }


    /// <summary>Reads a shape from a row of <c>id</c> and <see cref="FlowShape.Columns"/>.</summary>
    private static FlowShape ReadShape(DbDataReader r)
    {
        int Int(int i) => Convert.ToInt32(r.GetValue(i), CultureInfo.InvariantCulture);
        int? Number(int i) => r.IsDBNull(i) ? null : Int(i);
        short? Short(int i) => r.IsDBNull(i) ? null : (short)Int(i);
        return new FlowShape(
            r.GetBoolean(1), (byte)Int(2), Number(3), Number(4), (byte)Int(5), (byte)Int(6), (ushort)Int(7), (short)Int(8), (short)Int(9),
            (byte)Int(10), r.IsDBNull(11) ? null : r.GetBoolean(11), Short(12), Short(13), (byte)Int(14), Number(15), (byte)Int(16), (byte)Int(17),
            Short(18), Number(19), Number(20), Short(21), Number(22), (byte)Int(23), Number(24), Number(25), Number(26), (byte)Int(27), Number(28));
    }

    /// <summary>
    /// The flow a row of <see cref="NarrowColumns"/> holds: what its shape and detail give is read back
    /// once per shape and detail and shared by the flows that have them (records are immutable); the
    /// rest is the flow's own.
    /// </summary>
    private FlowRecord ReadFlow(DbDataReader r)
    {
        var shapeId = r.GetInt32(7);
        var detailId = r.GetInt32(8);
        // By number, and forgotten whenever numbers may name other shapes or strings (a failed write, a sweep).
        if (!_shared.TryGetValue((shapeId, detailId), out var shared))
        {
            if (_shared.Count >= 100_000)
            {
                _shared.Clear();
            }

            shared = FlowColumns.ToRecord(_shapes[shapeId].Row(0, Guid.Empty, 0, 0, 0, 0, 0, _details[detailId]), _dictionary);
            _shared[(shapeId, detailId)] = shared;
        }

        return FlowColumns.WithOwn(
            shared, r.GetInt64(0), r.GetGuid(1), _dictionary.EndOf(r.GetInt32(2)), _dictionary.EndOf(r.GetInt32(3)), r.GetInt32(4), r.GetInt32(5), r.GetInt64(6));
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<FlowRecord> QueryAsync(FlowQuery query, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(query);

        // Filters are resolved under the gate, so that they never name numbers a failing write withdraws.
        await _gate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            await UseThreadsAsync(writing: false, cancel).ConfigureAwait(false);
            var filter = new FlowFilterSql(query, Dialect, _dictionary);
            using var command = Command(FlowFilterSql.SelectFlows(query, filter), filter);
            using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
            while (await reader.ReadAsync(cancel).ConfigureAwait(false))
            {
                yield return ReadFlow(reader);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<long> CountAsync(FlowQuery query, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await _gate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            await UseThreadsAsync(writing: false, cancel).ConfigureAwait(false);
            using var command = Counted(
                query,
                static (filter, counting) => $"SELECT {counting.Count} AS n FROM {counting.Table}{filter.Where}",
                static union => $"SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM ({union}) parts");
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancel).ConfigureAwait(false), CultureInfo.InvariantCulture);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<KeyValuePair<string?, long>>> CountByAsync(FlowQuery query, FlowCountField field, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await _gate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            await UseThreadsAsync(writing: false, cancel).ConfigureAwait(false);
            using var command = Counted(query, (filter, counting) => FlowCountColumns.Select(field, filter, counting));
            using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
            return await FlowCountColumns.ReadAsync(reader, field, _dictionary, cancel).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FlowAggregateRow>> AggregateAsync(FlowQuery query, FlowAggregate aggregate, int limit = 100, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await _gate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            await UseThreadsAsync(writing: false, cancel).ConfigureAwait(false);
            using var command = Counted(query, (filter, counting) => FlowAggregateSql.Select(aggregate, filter, _dictionary, counting));
            using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
            return await FlowAggregateSql.ReadAsync(reader, aggregate, _dictionary, limit, cancel).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RetentionRule>> GetRetentionRulesAsync(CancellationToken cancel = default)
    {
        await _gate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            using var command = _connection.CreateCommand();
            command.CommandText = "SELECT target, days FROM retention_rules ORDER BY target";
            using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
            var rules = new List<RetentionRule>();
            while (await reader.ReadAsync(cancel).ConfigureAwait(false))
            {
                rules.Add(new RetentionRule(reader.GetString(0), reader.GetInt32(1)));
            }

            return rules;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task SetRetentionRulesAsync(IReadOnlyList<RetentionRule> rules, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(rules);
        await _gate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            using var transaction = _connection.BeginTransaction();
            await ExecuteAsync(_connection, "DELETE FROM retention_rules", cancel).ConfigureAwait(false);
            foreach (var rule in rules)
            {
                using var insert = _connection.CreateCommand();
                insert.CommandText = "INSERT INTO retention_rules VALUES ($target, $days)";
                insert.Parameters.Add(new DuckDBParameter("target", rule.Target));
                insert.Parameters.Add(new DuckDBParameter("days", rule.Days));
                await insert.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
            }

            transaction.Commit();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<RetentionResult> ApplyRetentionAsync(long nowNanos, bool dryRun = false, CancellationToken cancel = default)
    {
        var rules = await GetRetentionRulesAsync(cancel).ConfigureAwait(false);
        await _gate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            await UseThreadsAsync(writing: false, cancel).ConfigureAwait(false);
            var expired = RetentionSql.Expired(rules, nowNanos, _dictionary, Dialect, out var parameters);
            if (expired is null)
            {
                return new RetentionResult(0, [], dryRun);
            }

            DuckDBCommand Expiring(string sql)
            {
                var command = _connection.CreateCommand();
                command.CommandText = sql;
                command.Parameters.AddRange(parameters.Select(static p => new DuckDBParameter(p.Key, p.Value)));
                return command;
            }

            if (dryRun)
            {
                using var count = Expiring($"SELECT count(*) FROM flows WHERE {expired}");
                return new RetentionResult(Convert.ToInt64(await count.ExecuteScalarAsync(cancel).ConfigureAwait(false), CultureInfo.InvariantCulture), [], dryRun);
            }

            // The flows and their hourly totals together: totals whose flows all expired go, and the hours
            // with totals of flows some of which expired are summed again from the flows left.
            long deleted;
            using (var transaction = _connection.BeginTransaction())
            {
                // The same rules at the same time name the same parameters, with the same values, as expired's.
                var allExpired = RetentionSql.Expired(rules, nowNanos, _dictionary, Dialect, out _, "last_ns");
                var someExpired = RetentionSql.Expired(rules, nowNanos, _dictionary, Dialect, out _, "first_ns");
                var partly = new List<long>();
                using (var hours = Expiring($"SELECT DISTINCT hour FROM flow_hours WHERE ({someExpired}) AND NOT ({allExpired})"))
                using (var reader = await hours.ExecuteReaderAsync(cancel).ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancel).ConfigureAwait(false))
                    {
                        partly.Add(reader.GetInt64(0));
                    }
                }

                using (var delete = Expiring($"DELETE FROM flows WHERE {expired}"))
                {
                    deleted = await delete.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
                }

                using (var delete = Expiring($"DELETE FROM flow_hours WHERE {allExpired}"))
                {
                    await delete.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
                }

                if (partly.Count > 0)
                {
                    foreach (var statement in FlowHours.Recount(partly))
                    {
                        await ExecuteAsync(_connection, statement, cancel).ConfigureAwait(false);
                    }
                }

                // Flows of the hour counted in memory may have gone too: the next write counts it again.
                if (deleted > 0)
                {
                    _hours.MarkStale();
                }

                transaction.Commit();
            }

            if (deleted > 0)
            {
                await SweepAsync(cancel).ConfigureAwait(false);

                // Give the space of deleted rows back to the file.
                await ExecuteAsync(_connection, "CHECKPOINT", cancel).ConfigureAwait(false);
            }

            return new RetentionResult(deleted, [], dryRun);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// After retention: deletes the ends, strings, shapes and details no stored flow uses any more (so
    /// that the URLs and names of expired flows go with them, and memory stays bounded by what is
    /// kept), and reads the rest back in. Numbers are never reused while a flow uses them.
    /// </summary>
    private async Task SweepAsync(CancellationToken cancel)
    {
        static string Used(string table, IEnumerable<string> columns) =>
            string.Join(" UNION ", columns.Select(c => $"SELECT {c} FROM {table} WHERE {c} IS NOT NULL"));
        string[] shapeStrings = ["drop_reason", "node", "trace_point", "http_method", "http_protocol", "policies", "decided_tier", "decided_policy", "decided_rule", "project"];
        string[] detailStrings = ["http_url", "http_headers", "dns_query", "dns_answer", "summary"];
        using (var transaction = _connection.BeginTransaction())
        {
            await ExecuteAsync(_connection, "DELETE FROM flow_shapes WHERE id NOT IN (SELECT DISTINCT shape FROM flows)", cancel).ConfigureAwait(false);
            await ExecuteAsync(_connection, "DELETE FROM flow_details WHERE id NOT IN (SELECT DISTINCT detail FROM flows)", cancel).ConfigureAwait(false);
            await ExecuteAsync(_connection, "DELETE FROM flow_ends WHERE id NOT IN (SELECT src FROM flows UNION SELECT dst FROM flows)", cancel).ConfigureAwait(false);
            await ExecuteAsync(_connection, $"DELETE FROM flow_strings WHERE id NOT IN ({Used("flow_shapes", shapeStrings)} UNION {Used("flow_details", detailStrings)})", cancel).ConfigureAwait(false);
            transaction.Commit();
        }

        _dictionary = new FlowDictionary { NumbersNew = true };
        _shapes = new FlowNumbering<FlowShape>();
        _details = new FlowNumbering<FlowDetail>();
        _shared.Clear();
        await LoadDictionaryAsync(cancel).ConfigureAwait(false);
    }

    private DuckDBCommand Command(string sql, params IEnumerable<FlowFilterSql> filters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var filter in filters)
        {
            foreach (var (name, value) in filter.Parameters)
            {
                command.Parameters.Add(new DuckDBParameter(name, value));
            }
        }

        return command;
    }

    /// <summary>Merges the rows of <paramref name="hours"/> to one a key, in one transaction (when the store closes).</summary>
    private async Task CompactAsync(IReadOnlyList<long> hours)
    {
        await UseThreadsAsync(writing: false, default).ConfigureAwait(false);
        if (hours.Count == 0)
        {
            return;
        }

        using var transaction = _connection.BeginTransaction();
        foreach (var statement in FlowHours.Compact(hours))
        {
            await ExecuteAsync(_connection, statement, CancellationToken.None).ConfigureAwait(false);
        }

        transaction.Commit();
    }

    /// <summary>
    /// A statement over the parts of <paramref name="query"/> (<see cref="FlowHours.Split"/>): each part
    /// selected by <paramref name="select"/> from the hourly totals or the flows, joined by UNION ALL.
    /// </summary>
    private DuckDBCommand Counted(FlowQuery query, Func<FlowFilterSql, FlowCounting, string> select, Func<string, string>? outer = null)
    {
        var (sql, filters) = FlowHours.Counted(query, _hours.ClosedBefore, _readsHourlyTotals ? FlowHours.Counting : null, Dialect, _dictionary, select, outer);
        return Command(sql, filters);
    }

    /// <summary>DuckDB's <c>threads</c> setting now (for tests).</summary>
    internal async Task<int> ThreadsAsync()
    {
        using var command = _connection.CreateCommand();
        command.CommandText = "SELECT current_setting('threads')";
        return Convert.ToInt32(await command.ExecuteScalarAsync().ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    /// <summary>Runs DuckDB on one thread for a batch of flows, on its default for anything else; changes the setting only when the kind of work changes.</summary>
    private async Task UseThreadsAsync(bool writing, CancellationToken cancel)
    {
        var wanted = writing ? 1 : _queryThreads;
        if (_threadsNow != wanted)
        {
            await ExecuteAsync(_connection, $"SET threads = {wanted.ToString(CultureInfo.InvariantCulture)}", cancel).ConfigureAwait(false);
            _threadsNow = wanted;
        }
    }

    private static async Task ExecuteAsync(DuckDBConnection connection, string sql, CancellationToken cancel)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
    }

    private static string FirstLine(string message)
    {
        var end = message.IndexOf('\n', StringComparison.Ordinal);
        return end < 0 ? message : message[..end];
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        // A second dispose (an `await using` after an explicit close) does nothing.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Close every hour, so that the next open has nothing to count again, and leave no hour with
        // more than one row a key; after any write still under way (a query left unfinished holds the
        // gate: then this is skipped). When it fails or is skipped, the next write counts the open
        // hours from the flows, and extra rows stay (still right, only larger).
        if (await _gate.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false))
        {
            try
            {
                await CompactAsync(await _hours.CloseAsync(_connection).ConfigureAwait(false)).ConfigureAwait(false);
            }
            catch (DuckDBException)
            {
            }
            finally
            {
                _gate.Release();
            }
        }

        await _connection.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    /// <summary>A row of the narrow <c>flows</c> table, in column order, and whether the flow is a reply (its hourly totals have no port).</summary>
    private readonly record struct NarrowRow(
        long TimeNanos, Guid Id, int Source, int Destination, int SourcePort, int DestinationPort, long L7LatencyNanos, int Shape, int Detail, bool Reply);

    /// <summary>DuckDB's SQL over flows whose shapes and details are kept apart.</summary>

    private sealed class DuckDbDialect : FlowSqlDialect
    {
        private static readonly HashSet<string> ShapeColumns = [.. FlowShape.Columns];
        private static readonly HashSet<string> DetailColumns = [.. FlowDetail.Columns];

        public override string Parameter(string name) => "$" + name;

        public override string On(string column, string condition) =>
            ShapeColumns.Contains(column) ? $"shape IN (SELECT id FROM flow_shapes WHERE {condition})"
            : DetailColumns.Contains(column) ? $"detail IN (SELECT id FROM flow_details WHERE {condition})"
            : condition;

        public override string Grouped => "flows JOIN flow_shapes ON flow_shapes.id = flows.shape";

        public override string Selected => NarrowColumns;
    }
}

/// <summary>Counts by one field, the same for both stores: SQL counts by the stored number, the dictionary names it.</summary>
internal static class FlowCountColumns
{
    public static string Select(FlowCountField field, FlowFilterSql filter, FlowCounting? counting = null)
    {
        ArgumentNullException.ThrowIfNull(filter);
        var c = counting ?? FlowCounting.Flows(filter.Dialect);
        var column = field switch
        {
            FlowCountField.Verdict => "verdict",
            FlowCountField.SourceNamespace => "src",
            FlowCountField.DestinationNamespace => "dst",
            FlowCountField.EventType => "event_type",
            FlowCountField.L7Type => "l7_type",
            FlowCountField.Protocol => "protocol",
            FlowCountField.Node => "node",
            FlowCountField.DropReason => "drop_reason",
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };
        var from = column is "src" or "dst" ? c.Table : c.Grouped;
        return $"SELECT {column} AS k, {c.Count} AS n FROM {from}{filter.Where} GROUP BY k";
    }

    public static async Task<IReadOnlyList<KeyValuePair<string?, long>>> ReadAsync(DbDataReader reader, FlowCountField field, FlowDictionary dictionary, CancellationToken cancel)
    {
        var counts = new Dictionary<string, (string? Key, long Count)>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancel).ConfigureAwait(false))
        {
            int? raw = reader.IsDBNull(0) ? null : Convert.ToInt32(reader.GetValue(0), CultureInfo.InvariantCulture);
            var key = Label(field, raw, dictionary);
            var n = Convert.ToInt64(reader.GetValue(1), CultureInfo.InvariantCulture);
            var slot = key ?? "\u0000";
            counts[slot] = counts.TryGetValue(slot, out var known) ? (key, known.Count + n) : (key, n);
        }

        return [.. counts.Values.OrderByDescending(static c => c.Count).ThenBy(static c => c.Key, StringComparer.Ordinal).Select(static c => new KeyValuePair<string?, long>(c.Key, c.Count))];
    }

    private static string? Label(FlowCountField field, int? value, FlowDictionary dictionary) => value is not { } number ? null : field switch
    {
        FlowCountField.Verdict => ((FlowVerdict)number).Name(),
        FlowCountField.L7Type => ((L7Type)number).Name(),
        FlowCountField.Protocol => ((FlowProtocol)number).Name(),
        FlowCountField.SourceNamespace or FlowCountField.DestinationNamespace => dictionary.EndOf(number).Endpoint.Namespace,
        FlowCountField.Node or FlowCountField.DropReason => dictionary.StringOf(number),
        _ => number.ToString(CultureInfo.InvariantCulture),
    };
}
