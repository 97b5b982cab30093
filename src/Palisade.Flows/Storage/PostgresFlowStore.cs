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
public sealed class PostgresFlowStore : IFlowStore
{
    /// <summary>The length of one partition: a day, in nanoseconds.</summary>
    public const long PartitionNanos = 86_400L * 1_000_000_000L;

    private const long MigrationLock = 0x5041_4c49_5341_4445; // "PALISADE"
    private static readonly PostgresDialect Dialect = new();
    private static readonly NpgsqlDbType[] ColumnTypes = [.. FlowColumns.All.Select(static c => TypeOf(c.Postgres))];
    private readonly NpgsqlDataSource _source;
    private readonly HashSet<long> _partitions = [];
    private readonly Lock _partitionGate = new();

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

    /// <summary>Connects, and migrates the schema to the newest version.</summary>
    public static async Task<PostgresFlowStore> OpenAsync(string connectionString, CancellationToken cancel = default)
    {
        NpgsqlDataSource source;
        try
        {
            source = NpgsqlDataSource.Create(connectionString);
        }
        catch (ArgumentException failure)
        {
            throw new FlowStoreException($"'{Redact(connectionString)}' is not a PostgreSQL connection string ({failure.Message}); expected for example Host=db;Database=palisade;Username=palisade", failure);
        }

        var description = "postgres:" + Redact(connectionString);
        try
        {
            var version = await MigrateAsync(source, description, cancel).ConfigureAwait(false);
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
        ("flows table, partitioned by day", [
            $"CREATE TABLE flows ({string.Join(", ", FlowColumns.All.Select(static c => $"{c.Name} {c.Postgres}"))}, PRIMARY KEY (time_ns, flow_id)) PARTITION BY RANGE (time_ns)",
            "CREATE INDEX flows_src_namespace ON flows (src_namespace, time_ns)",
            "CREATE INDEX flows_dst_namespace ON flows (dst_namespace, time_ns)",
        ]),
        ("retention rules", ["CREATE TABLE retention_rules (target text PRIMARY KEY, days integer NOT NULL)"]),
    ];

    private static async Task<int> MigrateAsync(NpgsqlDataSource source, string description, CancellationToken cancel)
    {
        await using var connection = await source.OpenConnectionAsync(cancel).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancel).ConfigureAwait(false);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({MigrationLock})", cancel).ConfigureAwait(false);
        await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS palisade_schema (version integer NOT NULL, applied_at timestamptz NOT NULL, description text NOT NULL)", cancel).ConfigureAwait(false);
        await using var read = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM palisade_schema", connection);
        var current = System.Convert.ToInt32(await read.ExecuteScalarAsync(cancel).ConfigureAwait(false), CultureInfo.InvariantCulture);
        if (current > Migrations.Count)
        {
            throw new FlowStoreException($"the flow store {description} has schema version {current}, newer than this Palisade knows ({Migrations.Count}); use a newer Palisade");
        }

        for (var version = current + 1; version <= Migrations.Count; version++)
        {
            var (what, statements) = Migrations[version - 1];
            foreach (var statement in statements)
            {
                await ExecuteAsync(connection, statement, cancel).ConfigureAwait(false);
            }

            await using var record = new NpgsqlCommand("INSERT INTO palisade_schema VALUES ($1, now(), $2)", connection);
            record.Parameters.AddWithValue(version);
            record.Parameters.AddWithValue(what);
            await record.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancel).ConfigureAwait(false);
        return Migrations.Count;
    }

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
        ArgumentNullException.ThrowIfNull(flows);
        if (flows.Count == 0)
        {
            return (default, []);
        }

        await using var connection = await _source.OpenConnectionAsync(cancel).ConfigureAwait(false);
        await EnsurePartitionsAsync(connection, flows, cancel).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancel).ConfigureAwait(false);
        await ExecuteAsync(connection, "CREATE TEMP TABLE IF NOT EXISTS flows_staging (LIKE flows) ON COMMIT DELETE ROWS", cancel).ConfigureAwait(false);
        await using (var copy = await connection.BeginBinaryImportAsync($"COPY flows_staging ({FlowColumns.List}) FROM STDIN (FORMAT BINARY)", cancel).ConfigureAwait(false))
        {
            foreach (var flow in flows)
            {
                await copy.StartRowAsync(cancel).ConfigureAwait(false);
                var values = FlowColumns.Values(flow);
                for (var i = 0; i < values.Length; i++)
                {
                    var value = values[i];
                    if (value is null)
                    {
                        await copy.WriteNullAsync(cancel).ConfigureAwait(false);
                    }
                    else
                    {
                        await copy.WriteAsync(ToColumnType(value, ColumnTypes[i]), ColumnTypes[i], cancel).ConfigureAwait(false);
                    }
                }
            }

            await copy.CompleteAsync(cancel).ConfigureAwait(false);
        }

        await using var insert = new NpgsqlCommand(
            $"INSERT INTO flows ({FlowColumns.List}) SELECT DISTINCT ON (time_ns, flow_id) {FlowColumns.List} FROM flows_staging ON CONFLICT (time_ns, flow_id) DO NOTHING",
            connection);
        IReadOnlyList<FlowRecord> fresh = [];
        int written;
        if (returnNew)
        {
            insert.CommandText += " RETURNING time_ns, flow_id";
            var keys = new HashSet<(long, Guid)>();
            await using (var reader = await insert.ExecuteReaderAsync(cancel).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancel).ConfigureAwait(false))
                {
                    keys.Add((reader.GetInt64(0), reader.GetGuid(1)));
                }
            }

            written = keys.Count;
            fresh = DuckDbFlowStore.NewFlows(flows, keys);
        }
        else
        {
            written = await insert.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancel).ConfigureAwait(false);
        return (new FlowWriteResult(written, flows.Count - written), fresh);
    }

    private static object ToColumnType(object value, NpgsqlDbType type) => type switch
    {
        NpgsqlDbType.Smallint => System.Convert.ToInt16(value, CultureInfo.InvariantCulture),
        NpgsqlDbType.Integer => System.Convert.ToInt32(value, CultureInfo.InvariantCulture),
        NpgsqlDbType.Bigint => System.Convert.ToInt64(value, CultureInfo.InvariantCulture),
        _ => value,
    };

    private static NpgsqlDbType TypeOf(string sqlType) => sqlType.Split(' ')[0] switch
    {
        "bigint" => NpgsqlDbType.Bigint,
        "integer" => NpgsqlDbType.Integer,
        "smallint" => NpgsqlDbType.Smallint,
        "boolean" => NpgsqlDbType.Boolean,
        "uuid" => NpgsqlDbType.Uuid,
        "text" => NpgsqlDbType.Text,
        "text[]" => NpgsqlDbType.Array | NpgsqlDbType.Text,
        _ => throw new InvalidOperationException($"no Npgsql type for {sqlType}"),
    };

    /// <inheritdoc />
    public async IAsyncEnumerable<FlowRecord> QueryAsync(FlowQuery query, [EnumeratorCancellation] CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var filter = new FlowFilterSql(query, Dialect);
        var sql = FlowFilterSql.SelectFlows(query, filter);

        await using var connection = await _source.OpenConnectionAsync(cancel).ConfigureAwait(false);
        await using var command = Command(connection, sql, filter);
        await using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
        while (await reader.ReadAsync(cancel).ConfigureAwait(false))
        {
            yield return FlowColumns.Read(reader);
        }
    }

    /// <inheritdoc />
    public async Task<long> CountAsync(FlowQuery query, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var filter = new FlowFilterSql(query, Dialect);
        await using var connection = await _source.OpenConnectionAsync(cancel).ConfigureAwait(false);
        await using var command = Command(connection, $"SELECT count(*) FROM flows{filter.Where}", filter);
        return System.Convert.ToInt64(await command.ExecuteScalarAsync(cancel).ConfigureAwait(false), CultureInfo.InvariantCulture);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<KeyValuePair<string?, long>>> CountByAsync(FlowQuery query, FlowCountField field, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var filter = new FlowFilterSql(query, Dialect);
        var column = FlowCountColumns.Column(field);
        await using var connection = await _source.OpenConnectionAsync(cancel).ConfigureAwait(false);
        await using var command = Command(connection, $"SELECT {column}::text AS k, count(*) AS n FROM flows{filter.Where} GROUP BY {column} ORDER BY n DESC, k NULLS LAST", filter);
        await using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
        var result = new List<KeyValuePair<string?, long>>();
        while (await reader.ReadAsync(cancel).ConfigureAwait(false))
        {
            result.Add(new(FlowCountColumns.Label(field, reader.IsDBNull(0) ? null : reader.GetString(0)), reader.GetInt64(1)));
        }

        return result;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<FlowAggregateRow>> AggregateAsync(FlowQuery query, FlowAggregate aggregate, int limit = 100, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        var filter = new FlowFilterSql(query, Dialect);
        await using var connection = await _source.OpenConnectionAsync(cancel).ConfigureAwait(false);
        await using var command = Command(connection, FlowAggregateSql.Select(aggregate, filter, Dialect, limit), filter);
        await using var reader = await command.ExecuteReaderAsync(cancel).ConfigureAwait(false);
        return await FlowAggregateSql.ReadAsync(reader, aggregate, cancel).ConfigureAwait(false);
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
        await using var connection = await _source.OpenConnectionAsync(cancel).ConfigureAwait(false);
        var rules = await RulesAsync(connection, cancel).ConfigureAwait(false);
        var parameters = new List<NpgsqlParameter>();
        var expired = RetentionSql.Expired(rules, nowNanos, Dialect, value =>
        {
            var name = "r" + parameters.Count.ToString(CultureInfo.InvariantCulture);
            parameters.Add(new NpgsqlParameter(name, value));
            return "@" + name;
        });
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

        if (droppedBefore != long.MinValue)
        {
            // What the dropped partitions held is counted; a dry run must not count it twice.
            parameters.Add(new NpgsqlParameter("dropped_before", droppedBefore));
            expired = $"time_ns >= @dropped_before AND {expired}";
        }

        await using (var command = new NpgsqlCommand(dryRun ? $"SELECT count(*) FROM flows WHERE {expired}" : $"DELETE FROM flows WHERE {expired}", connection))
        {
            command.Parameters.AddRange(parameters.ToArray());
            deleted += dryRun
                ? (long)(await command.ExecuteScalarAsync(cancel).ConfigureAwait(false))!
                : await command.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancel).ConfigureAwait(false);
        return new RetentionResult(deleted, dropped, dryRun);
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

    private static NpgsqlCommand Command(NpgsqlConnection connection, string sql, FlowFilterSql filter)
    {
        var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in filter.Parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _source.DisposeAsync();

    private sealed class PostgresDialect : FlowSqlDialect
    {
        public override string Parameter(string name) => "@" + name;

        public override string ListContains(string column, string parameter) => $"{parameter} = ANY({column})";
    }
}
