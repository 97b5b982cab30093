using System.Data.Common;
using System.Globalization;

namespace Palisade.Flows.Storage;

/// <summary>
/// Brings a store's schema up to date, the same way for both stores: the versions applied are recorded
/// in <c>palisade_schema</c>; the migrations not yet applied run in one transaction; a schema newer
/// than this Palisade knows is refused rather than changed.
/// </summary>
public static class FlowSchema
{
    /// <summary>
    /// Applies the migrations <paramref name="connection"/> lacks and returns the version it is at, and
    /// the version it was at before (the same when nothing was applied).
    /// <paramref name="lockStatement"/>, when given, runs first in the transaction (PostgreSQL's advisory
    /// lock, so that replicas starting together migrate once).
    /// </summary>
    public static async Task<(int Version, int Before)> MigrateAsync(
        DbConnection connection, IReadOnlyList<(string Description, string[] Statements)> migrations, string store, FlowSqlDialect dialect,
        string? lockStatement, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(migrations);
        ArgumentNullException.ThrowIfNull(dialect);
        await using var transaction = await connection.BeginTransactionAsync(cancel).ConfigureAwait(false);
        if (lockStatement is not null)
        {
            await ExecuteAsync(connection, lockStatement, cancel).ConfigureAwait(false);
        }

        await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS palisade_schema (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL, description VARCHAR NOT NULL)", cancel).ConfigureAwait(false);
        await using var read = connection.CreateCommand();
        read.CommandText = "SELECT coalesce(max(version), 0) FROM palisade_schema";
        var current = Convert.ToInt32(await read.ExecuteScalarAsync(cancel).ConfigureAwait(false), CultureInfo.InvariantCulture);
        if (current > migrations.Count)
        {
            throw new FlowStoreException($"the flow store {store} has schema version {current}, newer than this Palisade knows ({migrations.Count}); use a newer Palisade");
        }

        for (var version = current + 1; version <= migrations.Count; version++)
        {
            var (description, statements) = migrations[version - 1];
            foreach (var statement in statements)
            {
                await ExecuteAsync(connection, statement, cancel).ConfigureAwait(false);
            }

            await using var record = connection.CreateCommand();
            record.CommandText = $"INSERT INTO palisade_schema VALUES ({dialect.Parameter("version")}, now(), {dialect.Parameter("description")})";
            record.Parameters.Add(Parameter(record, "version", version));
            record.Parameters.Add(Parameter(record, "description", description));
            await record.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancel).ConfigureAwait(false);
        return (migrations.Count, current);
    }

    private static DbParameter Parameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        return parameter;
    }

    private static async Task ExecuteAsync(DbConnection connection, string sql, CancellationToken cancel)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        // A migration may sum every stored flow (the hourly totals): it takes as long as it takes.
        command.CommandTimeout = 0;
        await command.ExecuteNonQueryAsync(cancel).ConfigureAwait(false);
    }
}
