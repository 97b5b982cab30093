using Npgsql;
using Palisade.Flows.Storage;

namespace Palisade.Flows.Tests.Storage;

/// <summary>The store contract on a real PostgreSQL server, and what is PostgreSQL's own: partitions by day, the schema.</summary>
public sealed class PostgresFlowStoreTests(PostgresServer server) : FlowStoreContract, IClassFixture<PostgresServer>
{
    protected override async Task<IFlowStore> OpenEmptyAsync()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        return await PostgresFlowStore.OpenAsync(await server.CreateDatabaseAsync());
    }

    [SkippableFact]
    public async Task Write_FlowsOfSeveralDays_GoIntoOnePartitionADay()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        var connection = await server.CreateDatabaseAsync();
        await using var store = await PostgresFlowStore.OpenAsync(connection);
        var flows = Reading.HubbleCaptureTests.ReadAll().Flows;

        await store.WriteAsync(flows);

        var days = flows.Select(f => PostgresFlowStore.PartitionName(f.TimeUnixNanos - (f.TimeUnixNanos % PostgresFlowStore.PartitionNanos))).Distinct().Order().ToList();
        await using var sql = new NpgsqlConnection(connection);
        await sql.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'flows' ORDER BY 1", sql);
        var partitions = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                partitions.Add(reader.GetString(0));
            }
        }

        Assert.Equal(days, partitions);
        Assert.Contains("flows_20210616", partitions);
    }

    [SkippableFact]
    public async Task Open_TwoStoresAtOnce_MigrateOnce()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        var connection = await server.CreateDatabaseAsync();

        var stores = await Task.WhenAll(PostgresFlowStore.OpenAsync(connection), PostgresFlowStore.OpenAsync(connection));

        await using var sql = new NpgsqlConnection(connection);
        await sql.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM palisade_schema", sql);
        Assert.Equal((long)PostgresFlowStore.Migrations.Count, (long)(await command.ExecuteScalarAsync())!);
        foreach (var store in stores)
        {
            await store.DisposeAsync();
        }
    }

    [SkippableFact]
    public async Task Open_NoServerThere_SaysItCannotOpenTheStore()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);

        var failure = await Assert.ThrowsAsync<FlowStoreException>(() => PostgresFlowStore.OpenAsync("Host=127.0.0.1;Port=1;Username=x;Password=secret;Timeout=2"));

        Assert.Contains("cannot open the flow store postgres:", failure.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", failure.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task ApplyRetention_DefaultRule_DropsWholeExpiredDayPartitions()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        await using var store = await PostgresFlowStore.OpenAsync(await server.CreateDatabaseAsync());
        var captures = Reading.HubbleCaptureTests.ReadAll().Flows;
        await store.WriteAsync(captures);
        await store.SetRetentionRulesAsync([new RetentionRule("*", 30)]);

        var result = await store.ApplyRetentionAsync(1_795_910_400_000_000_000L);

        Assert.Equal(1481, result.Deleted);
        Assert.Contains("flows_20210616", result.DroppedPartitions);
        Assert.Equal(0, await store.CountAsync(FlowQuery.All));
        Assert.Equal(0, (await store.WriteAsync(captures.Take(5).ToList())).Duplicates);
    }
}
