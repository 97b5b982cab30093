using System.Globalization;
using System.Runtime.CompilerServices;
using Npgsql;
using NpgsqlTypes;
using Palisade.Flows.Records;

namespace Palisade.Flows.Storage;

/// <summary>
/// The shared flow store: PostgreSQL, for a deployment where several Palisade replicas write and read
/// one history. <c>flows</c> is partitioned by time, one partition a day (<c>flows_YYYYMMDD</c>, made
/// when the first flow of the day arrives), so that retention drops whole partitions. A flow's
/// identity and time are its key; writes copy a batch into a staging table with binary COPY, then
/// insert it in one transaction, leaving out flows already stored. Migrations and partition creation
/// take an advisory lock, so replicas starting together do not race.
/// </summary>
public sealed class PostgresFlowStore : IFlowStore, IHourlyTotals
{
    /// <summary>The length of one partition: a day, in nanoseconds.</summary>
    public const long PartitionNanos = 86_400L * 1_000_000_000L;

    internal const long MigrationLock = 0x5041_4c49_5341_4445; // "PALISADE"

    /// <summary>The advisory lock a replica holds while it numbers ends and strings.</summary>
    internal const long DictionaryLock = MigrationLock + 1;

    /// <summary>
    /// The advisory lock a replica holds shared while it stores flows, and alone while it sweeps out
    /// ends no flow uses any more.
    /// </summary>
    internal const long SweepLock = MigrationLock + 2;

    private static readonly PostgresDialect Dialect = new();
    private readonly NpgsqlDataSource _source;
    // Replaced, under the gate, when a sweep deleted ends (and the generation moved on).
    private FlowDictionary _dictionary = new();
    private long _generation = -1;
    private long _unknownReadAt = long.MinValue / 2;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly HashSet<long> _partitions = [];
    private readonly Lock _partitionGate = new();
    private readonly SortedSet<long> _unmerged = [];
    private long _newestHour = long.MinValue;
    private int _disposed;

    private PostgresFlowStore(NpgsqlDataSource source, string description, int version)
    {
        _source = source;
        Description = description;
        SchemaVersion = version;
    }

    /// <inheritdoc />
    public string Description { get; }

    /// <inheritdoc />
    public int SchemaVersion { get; }

    private bool _readsHourlyTotals = true;

    /// <inheritdoc />
    bool IHourlyTotals.ReadsHourlyTotals { get => _readsHourlyTotals; set => _readsHourlyTotals = value; }

    /// <summary>The connection string without its password, for messages.</summary>
    public static string Redact(string connectionString)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            if (builder.Password is not null)
            {
                builder.Password = "***";
            }

            return builder.ConnectionString;
        }
        catch (ArgumentException)
        {
            return "(a connection string that cannot be read)";
        }
    }

    /// <summary>
    /// The settings of the store's sessions, unless the connection string gives <c>Options</c> of its
    /// own. Its queries take well under a second to a few seconds: compiling them (PostgreSQL's JIT)
    /// cost 120-160 ms of the 800 a service map of one hour took, and with the default 4 MB of
    /// memory a sort or hash, grouping that map's 175,000 rows of totals spilled to disk.
    /// </summary>
    internal const string SessionOptions = "-c jit=off -c work_mem=64MB";

    /// <summary>Connects, and migrates the schema to the newest version.</summary>
    public static async Task<PostgresFlowStore> OpenAsync(string connectionString, CancellationToken cancel = default)
    {
        NpgsqlDataSource source;
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(connectionString);
            if (string.IsNullOrEmpty(builder.Options))
            {
                builder.Options = SessionOptions;
            }

            source = NpgsqlDataSource.Create(builder.ConnectionString);
        }
        catch (ArgumentException failure)
        {
            throw new FlowStoreException($"'{Redact(connectionString)}' is not a PostgreSQL connection string ({failure.Message}); expected for example Host=db;Database=palisade;Username=palisade", failure);
        }

        var description = "postgres:" + Redact(connectionString);
        try
        {
            int version;
            await using (var connection = await source.OpenConnectionAsync(cancel).ConfigureAwait(false))
            {
                (version, _) = await FlowSchema.MigrateAsync(connection, Migrations, description, Dialect, $"SELECT pg_advisory_xact_lock({MigrationLock})", cancel).ConfigureAwait(false);
            }

            return new PostgresFlowStore(source, description, version);
        }
        catch (Exception failure) when (failure is NpgsqlException or TimeoutException)
        {
            await source.DisposeAsync().ConfigureAwait(false);
            throw new FlowStoreException($"cannot open the flow store {description}: {failure.Message}", failure);
        }
        catch
        {
            await source.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The schema migrations, in order; version N is the Nth. Never edit one that has shipped: add another.</summary>
    internal static readonly IReadOnlyList<(string Description, string[] Statements)> Migrations =
    [
        ("flows, partitioned by day, their ends and strings", [
            $"CREATE TABLE flows ({string.Join(", ", FlowColumns.All.Select(static c => $"{c.Name} {c.Postgres}"))}, PRIMARY KEY (time_ns, flow_id)) PARTITION BY RANGE (time_ns)",
            "CREATE INDEX flows_src ON flows (src, time_ns)",
            "CREATE INDEX flows_dst ON flows (dst, time_ns)",
            "CREATE TABLE flow_ends (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, hash bigint NOT NULL UNIQUE, endpoint_id integer NOT NULL, identity bigint NOT NULL, " +
                "cluster text, namespace text, pod text, labels text[], workloads text[], ip text, names text[], service text)",
            "CREATE TABLE flow_strings (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, hash bigint NOT NULL UNIQUE, text text NOT NULL)",
        ]),
        ("retention rules", ["CREATE TABLE retention_rules (target text PRIMARY KEY, days integer NOT NULL)"]),
        ("hourly totals", PostgresFlowHours.Create()),
        ("hourly totals counted from their indexes alone", PostgresFlowHours.CoveringIndexes()),
        ("the generation of the ends, moved on by each sweep", [
            "CREATE TABLE flow_dictionary_state (generation bigint NOT NULL)",
            "INSERT INTO flow_dictionary_state VALUES (0)",
        ]),
    ];

    /// <summary>The name of the partition that holds a day (<c>flows_20261128</c>).</summary>
    public static string PartitionName(long dayStartNanos) =>
        "flows_" + DateTime.UnixEpoch.AddTicks(dayStartNanos / 100).ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    private static long DayStart(long nanos) => Math.DivRem(nanos, PartitionNanos, out var rest) * PartitionNanos - (rest < 0 ? PartitionNanos : 0);

    private async Task EnsurePartitionsAsync(NpgsqlConnection connection, IReadOnlyList<FlowRecord> flows, CancellationToken cancel)
    {
        var days = new SortedSet<long>();
        lock (_partitionGate)
        {
            foreach (var flow in flows)
            {
                var day = DayStart(flow.TimeUnixNanos);
                if (!_partitions.Contains(day))
                {
                    days.Add(day);
                }
            }
        }

        if (days.Count == 0)
        {
            return;
        }

        await using (var transaction = await connection.BeginTransactionAsync(cancel).ConfigureAwait(false))
        {
            await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({MigrationLock})", cancel).ConfigureAwait(false);
            foreach (var day in days)
            {
                await ExecuteAsync(
                    connection,
                    $"CREATE TABLE IF NOT EXISTS {PartitionName(day)} PARTITION OF flows FOR VALUES FROM ({day.ToString(CultureInfo.InvariantCulture)}) TO ({(day + PartitionNanos).ToString(CultureInfo.InvariantCulture)})",
                    cancel).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancel).ConfigureAwait(false);
        }

        lock (_partitionGate)
        {
            _partitions.UnionWith(days);
        }
    }

    /// <inheritdoc />
    public async Task<FlowWriteResult> WriteAsync(IReadOnlyList<FlowRecord> flows, CancellationToken cancel = default) =>
        (await WriteAsync(flows, returnNew: false, cancel).ConfigureAwait(false)).Result;

    /// <inheritdoc />
    public async Task<IReadOnlyList<FlowRecord>> WriteNewAsync(IReadOnlyList<FlowRecord> flows, CancellationToken cancel = default) =>
        (await WriteAsync(flows, returnNew: true, cancel).ConfigureAwait(false)).New;

    private async Task<(FlowWriteResult Result, IReadOnlyList<FlowRecord> New)> WriteAsync(IReadOnlyList<FlowRecord> flows, bool returnNew, CancellationToken cancel)
    {
        try
        {
            return await WriteOnceAsync(flows, returnNew, cancel).ConfigureAwait(false);
        }
        catch (PostgresException failure) when (failure.SqlState == PostgresErrorCodes.CheckViolation)
        {
            // No day partition for some rows (flows has no other check): another replica's retention
            // dropped one this replica had made or seen. Made again, the batch is stored.
            lock (_partitionGate)
            {
                _partitions.Clear();
            }

            return await WriteOnceAsync(flows, returnNew, cancel).ConfigureAwait(false);
        }
    }

    private async Task<(FlowWriteResult Result, IReadOnlyList<FlowRecord> New)> WriteOnceAsync(IReadOnlyList<FlowRecord> flows, bool returnNew, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(flows);
        if (flows.Count == 0)
        {
            return (default, []);
        }

        await using var connection = await _source.OpenConnectionAsync(cancel).ConfigureAwait(false);
        await EnsurePartitionsAsync(connection, flows, cancel).ConfigureAwait(false);
        var (rows, begun) = await PrepareAsync(connection, flows, cancel).ConfigureAwait(false);
        await using var transaction = begun;
        await ExecuteAsync(connection, "CREATE TEMP TABLE IF NOT EXISTS flows_staging (LIKE flows) ON COMMIT DELETE ROWS", cancel).ConfigureAwait(false);
        await using (var copy = await connection.BeginBinaryImportAsync($"COPY flows_staging ({FlowColumns.List}) FROM STDIN (FORMAT BINARY)", cancel).ConfigureAwait(false))
        {
            foreach (var row in rows)
            {
                await WriteRowAsync(copy, row, cancel).ConfigureAwait(false);
            }

            await copy.CompleteAsync(cancel).ConfigureAwait(false);
        }

        // The flows the batch adds (not those already stored) and their hourly totals, in one statement.
        var inserted =
            $"WITH inserted AS (INSERT INTO flows ({FlowColumns.List}) SELECT DISTINCT ON (time_ns, flow_id) {FlowColumns.List} FROM flows_staging " +
            $"ON CONFLICT (time_ns, flow_id) DO NOTHING RETURNING {PostgresFlowHours.Returning}), " +
            $"totals AS (INSERT INTO flow_hours {PostgresFlowHours.Totals("inserted", "TRUE")}) ";
        await using var insert = new NpgsqlCommand(
            inserted + (returnNew ? "SELECT time_ns, flow_id FROM inserted" : $"SELECT {PostgresFlowHours.HourOf("time_ns")}, count(*) FROM inserted GROUP BY 1"),
            connection);
        IReadOnlyList<FlowRecord> fresh = [];
        var written = 0;
        var hours = new HashSet<long>();
        await using (var reader = await insert.ExecuteReaderAsync(cancel).ConfigureAwait(false))
        {
            var keys = new HashSet<(long, Guid)>();
            while (await reader.ReadAsync(cancel).ConfigureAwait(false))
            {
                if (returnNew)
                {
                    keys.Add((reader.GetInt64(0), reader.GetGuid(1)));
                    hours.Add(FlowHours.HourOf(reader.GetInt64(0)));
                    written++;
                }
                else
                {
                    hours.Add(reader.GetInt64(0));
                    written += (int)reader.GetInt64(1);
                }
            }

            if (returnNew)
            {
                fresh = DuckDbFlowStore.NewFlows(flows, keys);
            }
        }

        await transaction.CommitAsync(cancel).ConfigureAwait(false);
        long[] merge;
        lock (_unmerged)
        {
            _unmerged.UnionWith(hours);
            _newestHour = Math.Max(_newestHour, hours.Count > 0 ? hours.Max() : long.MinValue);
            merge = [.. _unmerged.Where(h => h < _newestHour)];
        }

        // The batch is stored: merging is tidying, which a cancellation does not interrupt and a failure does not undo.
        await MergeAsync(connection, merge, CancellationToken.None).ConfigureAwait(false);
        return (new FlowWriteResult(written, flows.Count - written), fresh);
    }

    /// <summary>
    /// Numbers the batch's ends and strings and makes its rows, then begins the transaction that stores
    /// them, holding <see cref="SweepLock"/> shared: once the numbers are known to be those of the
    /// current generation, no sweep can delete one before the flows that use them commit. When a sweep
    /// came between (the generation moved on), the rows are made again from ends and strings read anew.
    /// </summary>
    private async Task<(FlowRow[] Rows, NpgsqlTransaction Transaction)> PrepareAsync(NpgsqlConnection connection, IReadOnlyList<FlowRecord> flows, CancellationToken cancel)
    {
        var rows = new FlowRow[flows.Count];
        for (var attempt = 1; ; attempt++)
        {
            long generation;
            await _gate.WaitAsync(cancel).ConfigureAwait(false);
            try
            {
                // The first write reads the ends and strings (with their generation), unless a query did.
                if (attempt > 1 || _generation < 0)
                {
                    await RefreshDictionaryAsync(connection, cancel).ConfigureAwait(false);
                }

                await StoreDictionaryAsync(connection, flows, cancel).ConfigureAwait(false);
                var dictionary = _dictionary;
                for (var i = 0; i < rows.Length; i++)
                {
                    rows[i] = FlowColumns.Row(flows[i], dictionary);
                }

                generation = _generation;
            }
            finally
            {
                _gate.Release();
            }

            var transaction = await connection.BeginTransactionAsync(cancel).ConfigureAwait(false);
            try
            {
                // The lock first, then the generation, in a statement of its own: its snapshot is taken
                // after the lock is held, so it sees a sweep that committed while this waited.
                await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock_shared({SweepLock})", cancel).ConfigureAwait(false);
                await using var current = new NpgsqlCommand("SELECT generation FROM flow_dictionary_state", connection);
                if ((long)(await current.ExecuteScalarAsync(cancel).ConfigureAwait(false))! == generation)
                {
                    return (rows, transaction);
                }
            }
            catch
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            await transaction.DisposeAsync().ConfigureAwait(false);
            if (attempt == 3)
            {
                throw new FlowStoreException($"cannot store flows in {Description}: the ends and strings were swept three times while this batch was being prepared");
            }
        }
    }

    /// <summary>
    /// Compacts the hourly totals of <paramref name="hours"/> (hours this replica added rows to) to a row a
    /// key. A failure leaves them to be merged by a later write or the close: the totals stay right, only larger.
    /// </summary>
    private async Task MergeAsync(NpgsqlConnection connection, long[] hours, CancellationToken cancel)
    {
        if (hours.Length == 0)
        {
            return;
        }

        try
        {
            // Not while retention runs (it holds the lock alone): its recount of an hour, in a snapshot
            // taken before this merge commits, would keep the merged rows and add the hour again. Then
            // the hours wait for the next write.
            await using var transaction = await connection.BeginTransactionAsync(cancel).ConfigureAwait(false);
            await using (var lockCommand = new NpgsqlCommand($"SELECT pg_try_advisory_xact_lock_shared({MigrationLock})", connection))
            {
                if (await lockCommand.ExecuteScalarAsync(cancel).ConfigureAwait(false) is not true)
                {
                    return;
                }
            }

            await using (var compact = new NpgsqlCommand(PostgresFlowHours.Compact, connection) { CommandTimeout = 600 })
            {
                compact.Parameters.AddWithValue("hours", hours);
                await compact.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancel).ConfigureAwait(false);
        }
        catch (Exception failure) when ((failure is NpgsqlException or TimeoutException) && !cancel.IsCancellationRequested)
        {
            return;
        }

        lock (_unmerged)
        {
            _unmerged.ExceptWith(hours);
        }
    }

    /// <summary>Writes one row, column by column in <see cref="FlowColumns.All"/> order.</summary>
    private static async Task WriteRowAsync(NpgsqlBinaryImporter copy, FlowRow r, CancellationToken cancel)
    {
        await copy.StartRowAsync(cancel).ConfigureAwait(false);
        await copy.WriteAsync(r.TimeNanos, NpgsqlDbType.Bigint, cancel).ConfigureAwait(false);
        await copy.WriteAsync(r.Id, NpgsqlDbType.Uuid, cancel).ConfigureAwait(false);
        await copy.WriteAsync(r.IdFromUuid, NpgsqlDbType.Boolean, cancel).ConfigureAwait(false);
        await Small(r.Verdict).ConfigureAwait(false);
        await Int(r.DropReason).ConfigureAwait(false);
        await Int(r.Node).ConfigureAwait(false);
        await Small(r.IpVersion).ConfigureAwait(false);
        await Small(r.Protocol).ConfigureAwait(false);
        await Int(r.Source).ConfigureAwait(false);
        await Int(r.Destination).ConfigureAwait(false);
        await Int(r.SourcePort).ConfigureAwait(false);
        await Int(r.DestinationPort).ConfigureAwait(false);
        await Small((short)r.TcpFlags).ConfigureAwait(false);
        await Small(r.IcmpType).ConfigureAwait(false);
        await Small(r.IcmpCode).ConfigureAwait(false);
        await Small(r.Direction).ConfigureAwait(false);
        await (r.IsReply is { } reply ? copy.WriteAsync(reply, NpgsqlDbType.Boolean, cancel) : copy.WriteNullAsync(cancel)).ConfigureAwait(false);
        await Small(r.EventType).ConfigureAwait(false);
        await Small(r.EventSubType).ConfigureAwait(false);
        await Small(r.FlowType).ConfigureAwait(false);
        await Int(r.TracePoint).ConfigureAwait(false);
        await Small(r.PolicyMatchType).ConfigureAwait(false);
        await Small(r.L7Type).ConfigureAwait(false);
        await copy.WriteAsync(r.L7LatencyNanos, NpgsqlDbType.Bigint, cancel).ConfigureAwait(false);
        await Small(r.HttpCode).ConfigureAwait(false);
        await Int(r.HttpMethod).ConfigureAwait(false);
        await Int(r.HttpUrl).ConfigureAwait(false);
        await Int(r.HttpProtocol).ConfigureAwait(false);
        await Int(r.HttpHeaders).ConfigureAwait(false);
        await Int(r.DnsQuery).ConfigureAwait(false);
        await Small(r.DnsRcode).ConfigureAwait(false);
        await (r.DnsTtl is { } ttl ? copy.WriteAsync(ttl, NpgsqlDbType.Bigint, cancel) : copy.WriteNullAsync(cancel)).ConfigureAwait(false);
        await Int(r.DnsAnswer).ConfigureAwait(false);
        await Int(r.Policies).ConfigureAwait(false);
        await Int(r.Summary).ConfigureAwait(false);
        await Small(r.EngineVerdict).ConfigureAwait(false);
        await Int(r.Tier).ConfigureAwait(false);
        await Int(r.Policy).ConfigureAwait(false);
        await Int(r.Rule).ConfigureAwait(false);
        await Small(r.Disagreement).ConfigureAwait(false);
        await Int(r.Project).ConfigureAwait(false);

        Task Small(short? value) => value is { } v ? copy.WriteAsync(v, NpgsqlDbType.Smallint, cancel) : copy.WriteNullAsync(cancel);
        Task Int(int? value) => value is { } v ? copy.WriteAsync(v, NpgsqlDbType.Integer, cancel) : copy.WriteNullAsync(cancel);
    }

    /// <summary>
    /// Stores the ends and strings of a batch the store lacks (another replica may be storing the same:
    /// a digest already there is left as it is) and learns the numbers the store gave them.
    /// </summary>
    private async Task StoreDictionaryAsync(NpgsqlConnection connection, IReadOnlyList<FlowRecord> flows, CancellationToken cancel)
    {
        var (ends, strings) = _dictionary.Missing(flows);
        if (ends.Count == 0 && strings.Count == 0)
        {
            return;
        }

        await using (var transaction = await connection.BeginTransactionAsync(cancel).ConfigureAwait(false))
        {
            // Replicas number ends and strings one at a time, so numbers commit in the order they were
            // handed out: a replica that knows the highest has every lower one (see RefreshDictionaryAsync).
            // Those other replicas numbered since this one last looked are read first, under the lock (all
            // committed): the numbers this one is about to learn are higher, and a refresh reads only above
            // the highest known.
            await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({DictionaryLock})", cancel).ConfigureAwait(false);
            await LoadDictionaryAsync(connection, _dictionary, _dictionary.MaxEnd, _dictionary.MaxString, cancel).ConfigureAwait(false);
            // Each row's number comes back from its own statement, also for a row another replica stored
            // first (the no-op update locks it, so no sweep deletes it before this commits): read
            // afterwards, a row swept in between would be missing.
            var endIds = new List<(int Id, long Hash, FlowEnd End)>(ends.Count);
            foreach (var (hash, end) in ends)
            {
                await using var insert = new NpgsqlCommand(
                    $"INSERT INTO flow_ends (hash, {FlowColumns.EndList}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (hash) DO UPDATE SET hash = EXCLUDED.hash RETURNING id", connection);
                insert.Parameters.AddWithValue(hash);
                foreach (var value in FlowColumns.EndValues(end))
                {
                    insert.Parameters.Add(value is string[] list ? new NpgsqlParameter { Value = list, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text } : new NpgsqlParameter { Value = value ?? DBNull.Value, NpgsqlDbType = value switch { int => NpgsqlDbType.Integer, long => NpgsqlDbType.Bigint, _ => NpgsqlDbType.Text } });
                }

                endIds.Add(((int)(await insert.ExecuteScalarAsync(cancel).ConfigureAwait(false))!, hash, end));
            }

            var stringIds = new List<(int Id, string Text)>(strings.Count);
            foreach (var (hash, text) in strings)
            {
                await using var insert = new NpgsqlCommand("INSERT INTO flow_strings (hash, text) VALUES ($1, $2) ON CONFLICT (hash) DO UPDATE SET hash = EXCLUDED.hash RETURNING id", connection);
                insert.Parameters.AddWithValue(hash);
                insert.Parameters.AddWithValue(text);
                stringIds.Add(((int)(await insert.ExecuteScalarAsync(cancel).ConfigureAwait(false))!, text));
            }

            await transaction.CommitAsync(cancel).ConfigureAwait(false);

            // Learnt once committed: numbers of a transaction that failed would name nothing.
            foreach (var (id, hash, end) in endIds)
            {
                _dictionary.LoadEnd(id, hash, end);
            }

            foreach (var (id, text) in stringIds)
            {
                _dictionary.LoadString(id, text);
            }
        }
    }

    /// <summary>
    /// Learns the ends and strings other replicas stored since this one last looked: those numbered
    /// above the highest it knows, found by the highest number each table holds (an index's last
    /// entry, however large the tables grow). Replicas number under <see cref="DictionaryLock"/>, so
    /// numbers commit in order; the last <see cref="RereadNumbers"/> below the highest known are read
    /// again all the same, for a replica of a version before that lock. Everything is read again, into
    /// a dictionary of its own, when a sweep deleted ends since (the generation moved on) or a flow read
    /// back named an end or string this replica did not know.
    /// </summary>
    private async Task RefreshDictionaryAsync(NpgsqlConnection connection, CancellationToken cancel)
    {
        int ends, strings;
        long generation;
        await using (var highest = new NpgsqlCommand(
            "SELECT coalesce((SELECT max(id) FROM flow_ends), 0), coalesce((SELECT max(id) FROM flow_strings), 0), (SELECT generation FROM flow_dictionary_state)", connection))
        await using (var reader = await highest.ExecuteReaderAsync(cancel).ConfigureAwait(false))
        {
            await reader.ReadAsync(cancel).ConfigureAwait(false);
            (ends, strings, generation) = (reader.GetInt32(0), reader.GetInt32(1), reader.GetInt64(2));
        }

        // A flow naming an end that is truly missing (a row written by hand) would make every query read
        // everything again: once a minute at most.
        var unknown = _dictionary.MetUnknown && Environment.TickCount64 - _unknownReadAt > 60_000;
        if (unknown)
        {
            _unknownReadAt = Environment.TickCount64;
        }

        if (generation != _generation || unknown)
        {
            // The generation was read before the ends: a sweep after it moves it on again, and the next refresh reads them anew.
            var fresh = new FlowDictionary();
            await LoadDictionaryAsync(connection, fresh, int.MinValue, int.MinValue, cancel).ConfigureAwait(false);
            (_dictionary, _generation) = (fresh, generation);
        }
        else if (_dictionary.MaxEnd < ends || _dictionary.MaxString < strings)
        {
            await LoadDictionaryAsync(connection, _dictionary, Math.Max(0, _dictionary.MaxEnd - RereadNumbers), Math.Max(0, _dictionary.MaxString - RereadNumbers), cancel).ConfigureAwait(false);
        }
    }

    /// <summary>How many numbers below the highest known a refresh reads again.</summary>
    internal const int RereadNumbers = 1024;

    /// <summary>Loads the ends and strings numbered above <paramref name="endsAbove"/> and <paramref name="stringsAbove"/>.</summary>
    private static async Task LoadDictionaryAsync(NpgsqlConnection connection, FlowDictionary dictionary, int endsAbove, int stringsAbove, CancellationToken cancel)
    {
        await using (var command = new NpgsqlCommand($"SELECT id, hash, {FlowColumns.EndList} FROM flow_ends WHERE id > $1", connection))
        {
            command.Parameters.AddWithValue(endsAbove);
            await using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
            while (await reader.ReadAsync(cancel).ConfigureAwait(false))
            {
                dictionary.LoadEnd(reader.GetInt32(0), reader.GetInt64(1), FlowColumns.ReadEnd(reader));
            }
        }

        await using (var command = new NpgsqlCommand("SELECT id, text FROM flow_strings WHERE id > $1", connection))
        {
            command.Parameters.AddWithValue(stringsAbove);
            await using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
            while (await reader.ReadAsync(cancel).ConfigureAwait(false))
            {
                dictionary.LoadString(reader.GetInt32(0), reader.GetString(1));
            }
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<FlowRecord> QueryAsync(FlowQuery query, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await OpenAsync(cancel).ConfigureAwait(false);
        // One dictionary for the whole query: a sweep may replace the store's meanwhile.
        var dictionary = _dictionary;
        var filter = new FlowFilterSql(query, Dialect, dictionary);
        await using var command = Command(connection, FlowFilterSql.SelectFlows(query, filter), filter);
        await using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
        while (await reader.ReadAsync(cancel).ConfigureAwait(false))
        {
            yield return FlowColumns.Read(reader, dictionary);
        }
    }

    /// <inheritdoc />
    public async Task<long> CountAsync(FlowQuery query, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await OpenAsync(cancel).ConfigureAwait(false);
        await using var command = Counted(
            connection,
            _dictionary,
            query,
            static (filter, counting) => $"SELECT {counting.Count} AS n FROM {counting.Table}{filter.Where}",
            static union => $"SELECT coalesce(sum(n), 0)::bigint FROM ({union}) parts",
            // A count of a namespace's (or pod's, label's, address's) flows reads the totals' index on
            // each end alone, one side at a time; with both sides at once it would read every page that
            // holds one of their rows.
            bySide: true);
        return System.Convert.ToInt64(await command.ExecuteScalarAsync(cancel).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<KeyValuePair<string?, long>>> CountByAsync(FlowQuery query, FlowCountField field, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await OpenAsync(cancel).ConfigureAwait(false);
        var dictionary = _dictionary;
        await using var command = Counted(connection, dictionary, query, (filter, counting) => FlowCountColumns.Select(field, filter, counting));
        await using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
        return await FlowCountColumns.ReadAsync(reader, field, dictionary, cancel).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FlowAggregateRow>> AggregateAsync(FlowQuery query, FlowAggregate aggregate, int limit = 100, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        await using var connection = await OpenAsync(cancel).ConfigureAwait(false);
        var dictionary = _dictionary;
        await using var command = Counted(connection, dictionary, query, (filter, counting) => FlowAggregateSql.Select(aggregate, filter, dictionary, counting));
        await using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
        return await FlowAggregateSql.ReadAsync(reader, aggregate, dictionary, limit, cancel).ConfigureAwait(false);
    }

    /// <summary>
    /// Two: the server stores one batch while the client sends the next (and, on a server with more
    /// than one core, stores both at once); on one 2-core machine, the batch API stored 38,600 flows/s
    /// with two writes in flight against 23,100 with one. Writes of one replica are like writes of two.
    /// </summary>
    public int ConcurrentWrites => 2;

    /// <summary>The value of a setting in the store's sessions (<c>SHOW</c>).</summary>
    internal async Task<string> ShowAsync(string setting, CancellationToken cancel = default)
    {
        await using var connection = await _source.OpenConnectionAsync(cancel).ConfigureAwait(false);
        await using var show = new NpgsqlCommand("SELECT current_setting($1)", connection);
        show.Parameters.AddWithValue(setting);
        return (string)(await show.ExecuteScalarAsync(cancel).ConfigureAwait(false))!;
    }

    /// <summary>A connection, after learning the ends and strings other replicas stored.</summary>
    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancel)
    {
        var connection = await _source.OpenConnectionAsync(cancel).ConfigureAwait(false);
        await _gate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            await RefreshDictionaryAsync(connection, cancel).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }

        return connection;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<RetentionRule>> GetRetentionRulesAsync(CancellationToken cancel = default)
    {
        await using var connection = await _source.OpenConnectionAsync(cancel).ConfigureAwait(false);
        return await RulesAsync(connection, cancel).ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<RetentionRule>> RulesAsync(NpgsqlConnection connection, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand("SELECT target, days FROM retention_rules ORDER BY target COLLATE \"C\"", connection);
        await using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
        var rules = new List<RetentionRule>();
        while (await reader.ReadAsync(cancel).ConfigureAwait(false))
        {
            rules.Add(new RetentionRule(reader.GetString(0), reader.GetInt32(1)));
        }

        return rules;
    }

    /// <inheritdoc />
    public async Task SetRetentionRulesAsync(IReadOnlyList<RetentionRule> rules, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(rules);
        await using var connection = await _source.OpenConnectionAsync(cancel).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancel).ConfigureAwait(false);
        await ExecuteAsync(connection, "DELETE FROM retention_rules", cancel).ConfigureAwait(false);
        foreach (var rule in rules)
        {
            await using var insert = new NpgsqlCommand("INSERT INTO retention_rules VALUES ($1, $2)", connection);
            insert.Parameters.AddWithValue(rule.Target);
            insert.Parameters.AddWithValue(rule.Days);
            await insert.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancel).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<RetentionResult> ApplyRetentionAsync(long nowNanos, bool dryRun = false, CancellationToken cancel = default)
    {
        await using var connection = await OpenAsync(cancel).ConfigureAwait(false);
        var rules = await RulesAsync(connection, cancel).ConfigureAwait(false);
        // One dictionary for every condition: they must name the same ends.
        var dictionary = _dictionary;
        var expired = RetentionSql.Expired(rules, nowNanos, dictionary, Dialect, out var named);
        if (expired is null)
        {
            return new RetentionResult(0, [], dryRun);
        }

        await using var transaction = await connection.BeginTransactionAsync(cancel).ConfigureAwait(false);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({MigrationLock})", cancel).ConfigureAwait(false);
        long deleted = 0;
        long droppedBefore = long.MinValue;
        var dropped = new List<string>();
        if (RetentionSql.EverythingBefore(rules, nowNanos) is { } before)
        {
            // Partitions whose whole day is older than the longest retention go at once.
            foreach (var partition in await PartitionsAsync(connection, cancel).ConfigureAwait(false))
            {
                if (partition.Start + PartitionNanos > before)
                {
                    continue;
                }

                await using var count = new NpgsqlCommand($"SELECT count(*) FROM {partition.Name}", connection);
                deleted += (long)(await count.ExecuteScalarAsync(cancel).ConfigureAwait(false))!;
                if (!dryRun)
                {
                    await ExecuteAsync(connection, $"DROP TABLE {partition.Name}", cancel).ConfigureAwait(false);
                    lock (_partitionGate)
                    {
                        _partitions.Remove(partition.Start);
                    }
                }

                dropped.Add(partition.Name);
                droppedBefore = Math.Max(droppedBefore, partition.Start + PartitionNanos);
            }
        }

        NpgsqlCommand Expiring(string sql)
        {
            var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
            command.Parameters.AddRange(named.Select(static p => new NpgsqlParameter(p.Key, p.Value)).ToArray());
            return command;
        }

        // The hours with totals of flows some of which expire (but not all) are summed again from the
        // flows left; found before the flows go. The same rules at the same time name the same
        // parameters, with the same values, as expired's.
        var allExpired = RetentionSql.Expired(rules, nowNanos, dictionary, Dialect, out _, "last_ns");
        var someExpired = RetentionSql.Expired(rules, nowNanos, dictionary, Dialect, out _, "first_ns");
        var partly = new List<long>();
        if (!dryRun)
        {
            if (droppedBefore != long.MinValue)
            {
                // Partitions are whole days, so their hours are whole too.
                await ExecuteAsync(connection, $"DELETE FROM flow_hours WHERE hour < {FlowHours.HourOf(droppedBefore).ToString(CultureInfo.InvariantCulture)}", cancel).ConfigureAwait(false);
            }

            await using var hours = Expiring($"SELECT DISTINCT hour FROM flow_hours WHERE ({someExpired}) AND NOT ({allExpired})");
            await using var reader = await hours.ExecuteReaderAsync(cancel).ConfigureAwait(false);
            while (await reader.ReadAsync(cancel).ConfigureAwait(false))
            {
                partly.Add(reader.GetInt64(0));
            }
        }

        if (droppedBefore != long.MinValue)
        {
            // What the dropped partitions held is counted; a dry run must not count it twice.
            expired = $"time_ns >= {droppedBefore.ToString(CultureInfo.InvariantCulture)} AND {expired}";
        }

        // The totals go before the flows: a flow another replica stores in between, past its cutoff,
        // keeps its totals (counted until the next retention) instead of keeping flows without totals,
        // which would let the sweep take the ends they name.
        if (!dryRun)
        {
            await using var delete = Expiring($"DELETE FROM flow_hours WHERE {allExpired}");
            await delete.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
        }

        await using (var command = Expiring(dryRun ? $"SELECT count(*) FROM flows WHERE {expired}" : $"DELETE FROM flows WHERE {expired}"))
        {
            deleted += dryRun
                ? (long)(await command.ExecuteScalarAsync(cancel).ConfigureAwait(false))!
                : await command.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
        }

        if (!dryRun)
        {
            if (partly.Count > 0)
            {
                await using var recount = new NpgsqlCommand(PostgresFlowHours.Recount(partly), connection) { CommandTimeout = 0 };
                await recount.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancel).ConfigureAwait(false);
        if (!dryRun && deleted > 0)
        {
            try
            {
                await SweepAsync(connection, cancel).ConfigureAwait(false);
            }
            catch (Exception failure) when (failure is NpgsqlException or TimeoutException && !cancel.IsCancellationRequested)
            {
                // The flows are deleted, which is what retention is for; the ends wait for the next
                // retention that deletes flows.
            }
        }

        return new RetentionResult(deleted, dropped, dryRun);
    }

    /// <summary>
    /// After retention: deletes the ends no stored flow uses any more (pods come and go, and each
    /// replica keeps every end in memory), so that they do not pile up for the life of the store.
    /// Every stored flow is in the hourly totals (retention deletes totals before flows, so a flow
    /// stored meanwhile keeps its totals), so an end no row of totals names has no flow. Those are found
    /// first without a lock, then deleted while holding <see cref="SweepLock"/> alone if still unnamed,
    /// and the generation moves on: a replica storing flows holds the lock shared and
    /// makes its rows again when the generation moved on since it numbered them. Strings (names, paths,
    /// policies) are not swept: the flows' detail columns would have to be read in full.
    /// </summary>
    private async Task SweepAsync(NpgsqlConnection connection, CancellationToken cancel)
    {
        // Ends no row of totals names, from the totals' indexes on each end (3.1 s for a million unused
        // ends beside 100 million flows). Every stored flow is in the totals: asking the flows too, through
        // their indexes in every day partition, took 20 minutes for those ends.
        const string NoTotals = "NOT EXISTS (SELECT 1 FROM flow_hours h WHERE h.src = e.id) AND NOT EXISTS (SELECT 1 FROM flow_hours h WHERE h.dst = e.id)";
        var unnamed = new List<int>();
        await using (var find = new NpgsqlCommand($"SELECT e.id FROM flow_ends e WHERE {NoTotals}", connection) { CommandTimeout = 0 })
        await using (var reader = await find.ExecuteReaderAsync(cancel).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancel).ConfigureAwait(false))
            {
                unnamed.Add(reader.GetInt32(0));
            }
        }

        if (unnamed.Count == 0)
        {
            return;
        }

        await using (var transaction = await connection.BeginTransactionAsync(cancel).ConfigureAwait(false))
        {
            await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({SweepLock})", cancel).ConfigureAwait(false);
            await using var delete = new NpgsqlCommand($"DELETE FROM flow_ends e WHERE e.id = ANY(@unnamed) AND {NoTotals}", connection) { CommandTimeout = 0 };
            delete.Parameters.AddWithValue("unnamed", unnamed.ToArray());
            if (await delete.ExecuteNonQueryAsync(cancel).ConfigureAwait(false) > 0)
            {
                await ExecuteAsync(connection, "UPDATE flow_dictionary_state SET generation = generation + 1", cancel).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancel).ConfigureAwait(false);
        }

        await _gate.WaitAsync(cancel).ConfigureAwait(false);
        try
        {
            await RefreshDictionaryAsync(connection, cancel).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The day partitions of <c>flows</c>, by name and first nanosecond.</summary>
    private static async Task<List<(string Name, long Start)>> PartitionsAsync(NpgsqlConnection connection, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'flows'", connection);
        await using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
        var result = new List<(string, long)>();
        while (await reader.ReadAsync(cancel).ConfigureAwait(false))
        {
            var name = reader.GetString(0);
            if (DateTime.TryParseExact(name["flows_".Length..], "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var day))
            {
                result.Add((name, (day.Ticks - DateTime.UnixEpoch.Ticks) * 100));
            }
        }

        return result;
    }

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, params IEnumerable<FlowFilterSql> filters)
    {
        var command = new NpgsqlCommand(sql, connection);
        foreach (var filter in filters)
        {
            foreach (var (name, value) in filter.Parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }
        }

        return command;
    }

    /// <summary>A count or aggregate over the hourly totals for the whole hours of the query's range and the flows for the rest (<see cref="FlowHours.Counted"/>).</summary>
    private NpgsqlCommand Counted(
        NpgsqlConnection connection, FlowDictionary dictionary, FlowQuery query, Func<FlowFilterSql, FlowCounting, string> select, Func<string, string>? outer = null, bool bySide = false)
    {
        // Every hour is in the totals as soon as its flows are stored.
        var (sql, filters) = FlowHours.Counted(query, long.MaxValue, _readsHourlyTotals ? PostgresFlowHours.Counting : null, Dialect, dictionary, select, outer, bySide);
        return Command(connection, sql, filters);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Merge what this replica added to the totals of its newest hours; when the server is gone, they stay as they are.
        long[] merge;
        lock (_unmerged)
        {
            merge = [.. _unmerged];
        }

        if (merge.Length > 0)
        {
            try
            {
                await using var connection = await _source.OpenConnectionAsync().ConfigureAwait(false);
                await MergeAsync(connection, merge, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception failure) when (failure is NpgsqlException or TimeoutException)
            {
            }
        }

        await _source.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    private sealed class PostgresDialect : FlowSqlDialect
    {
        public override string Parameter(string name) => "@" + name;
    }
}
