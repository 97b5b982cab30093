using Npgsql;
using Palisade.Flows.Records;
using Palisade.Flows.Storage;
using Palisade.Flows.Synthesis;

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
        var connection = await server.CreateDatabaseAsync();
        await using var store = await PostgresFlowStore.OpenAsync(connection);
        var captures = Reading.HubbleCaptureTests.ReadAll().Flows;
        await store.WriteAsync(captures);
        await store.SetRetentionRulesAsync([new RetentionRule("*", 30)]);

        var result = await store.ApplyRetentionAsync(1_795_910_400_000_000_000L);

        Assert.Equal(1481, result.Deleted);
        Assert.Contains("flows_20210616", result.DroppedPartitions);
        Assert.Equal(0, await store.CountAsync(FlowQuery.All));
        Assert.Equal("0", Assert.Single(await RowsAsync(connection, "SELECT count(*) FROM flow_hours")));
        Assert.Equal(0, (await store.WriteAsync(captures.Take(5).ToList())).Duplicates);
    }

    [SkippableFact]
    public async Task Totals_TwoReplicasManyBatchesAndALateOne_AnswerAsTheFlows()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        var connection = await server.CreateDatabaseAsync();
        var flows = TotalsChecks.Synthesize(12_000);
        var batches = flows.Chunk(700).ToList();
        // The first batch arrives last, after its hour has been merged; the replicas also write some of each other's flows.
        batches.Add(batches[0]);
        batches.RemoveAt(0);
        await using (var first = await PostgresFlowStore.OpenAsync(connection))
        await using (var second = await PostgresFlowStore.OpenAsync(connection))
        {
            await Task.WhenAll(
                Task.Run(async () =>
                {
                    foreach (var batch in batches.Where((_, i) => i % 2 == 0 || i % 5 == 0))
                    {
                        await first.WriteAsync(batch);
                    }
                }),
                Task.Run(async () =>
                {
                    foreach (var batch in batches.Where((_, i) => i % 2 == 1 || i % 7 == 0))
                    {
                        await second.WriteAsync(batch);
                    }
                }));

            Assert.Equal(flows.Count, await first.CountAsync(FlowQuery.All));
            await TotalsChecks.AssertSameBothWaysAsync(first, flows);
        }

        await AssertTotalsAreTheFlowsSummedAsync(connection, merged: true);
    }

    [SkippableFact]
    public async Task ApplyRetention_CutoffsInsideHours_TakeTheExpiredFlowsOutOfTheTotals()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        var connection = await server.CreateDatabaseAsync();
        var flows = TotalsChecks.Synthesize(12_000);
        var kept = flows[0].Source.Namespace!;
        await using (var store = await PostgresFlowStore.OpenAsync(connection))
        {
            foreach (var batch in flows.Chunk(2_000))
            {
                await store.WriteAsync(batch);
            }

            await store.SetRetentionRulesAsync([new RetentionRule(kept, 2), new RetentionRule("*", 1)]);
            // What is older than an hour and a half after the start expires, inside the second hour, but the kept namespace's flows do not.
            var now = TotalsChecks.Start + PostgresFlowStore.PartitionNanos + (FlowHours.HourNanos * 3 / 2);

            var result = await store.ApplyRetentionAsync(now);

            Assert.True(result.Deleted > 0);
            Assert.True(result.Deleted < flows.Count);
            await TotalsChecks.AssertSameBothWaysAsync(store, flows);
            Assert.Equal(flows.Count - result.Deleted, await store.CountAsync(FlowQuery.All));
            await AssertTotalsAreTheFlowsSummedAsync(connection, merged: false);
        }
    }

    [SkippableFact]
    public async Task Open_StoreWithoutTotals_SumsItsFlowsOnce()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        var connection = await server.CreateDatabaseAsync();
        var flows = TotalsChecks.Synthesize(5_000);
        await using (var store = await PostgresFlowStore.OpenAsync(connection))
        {
            await store.WriteAsync(flows);
        }

        // The store as the schema version before the totals left it.
        await RowsAsync(connection, "DROP TABLE flow_hours");
        await RowsAsync(connection, "DROP TABLE flow_dictionary_state");
        await RowsAsync(connection, "DELETE FROM palisade_schema WHERE version >= 3");

        await using (var store = await PostgresFlowStore.OpenAsync(connection))
        {
            Assert.Equal(PostgresFlowStore.Migrations.Count, store.SchemaVersion);
            await TotalsChecks.AssertSameBothWaysAsync(store, flows);
        }

        await AssertTotalsAreTheFlowsSummedAsync(connection, merged: true);

        // Each index of the totals holds what counts by hour and by end read (schema version 4).
        var indexes = await RowsAsync(connection, "SELECT indexdef FROM pg_indexes WHERE tablename = 'flow_hours' ORDER BY indexname");
        Assert.Equal(
            ["(dst, hour) INCLUDE (src, flows)", "(hour) INCLUDE (flows)", "(src, hour) INCLUDE (dst, flows)"],
            indexes.Select(static i => i[(i.IndexOf('(', StringComparison.Ordinal))..]));
    }

    [SkippableFact]
    public async Task Totals_WhileRetentionHoldsTheLock_AreMergedLater()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        var connection = await server.CreateDatabaseAsync();
        var flows = TotalsChecks.Synthesize(12_000);
        await using (var store = await PostgresFlowStore.OpenAsync(connection))
        {
            // The day's partition is made first: making one waits for retention too.
            await store.WriteAsync(flows[..1_000]);

            // Another replica's retention, which merges must not run beside.
            await using var retention = new NpgsqlConnection(connection);
            await retention.OpenAsync();
            await using (var transaction = await retention.BeginTransactionAsync())
            {
                await using var hold = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({PostgresFlowStore.MigrationLock})", retention, transaction);
                await hold.ExecuteNonQueryAsync();
                foreach (var batch in flows[1_000..].Chunk(1_000))
                {
                    await store.WriteAsync(batch);
                }

                // The first hour, which a write of the second would have merged.
                var first = FlowHours.HourOf(TotalsChecks.Start);
                var rows = (await RowsAsync(connection, $"SELECT hour FROM flow_hours WHERE hour = {first}")).Count;
                var keys = (await RowsAsync(connection, PostgresFlowHours.Totals("flows", FlowHours.InHours([first])))).Count;
                Assert.True(rows > keys, $"{rows} rows for {keys} keys: merged while retention held the lock");
                await transaction.CommitAsync();
            }

            await TotalsChecks.AssertSameBothWaysAsync(store, flows);
        }

        await AssertTotalsAreTheFlowsSummedAsync(connection, merged: true);
    }

    [SkippableFact]
    public async Task Query_EndsOtherReplicasStored_AreLearntAlsoWhenCommittedOutOfNumberOrder()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        var connection = await server.CreateDatabaseAsync();
        await using var store = await PostgresFlowStore.OpenAsync(connection);
        await store.WriteAsync(Reading.HubbleCaptureTests.ReadAll().Flows);
        // Another replica's ends, more than a refresh reads again below the highest number it knows.
        await RowsAsync(connection, $"INSERT INTO flow_ends (hash, endpoint_id, identity, namespace) SELECT 1000000000 + g, 0, 0, 'filler' FROM generate_series(1, {PostgresFlowStore.RereadNumbers + 100}) g");
        Assert.Equal(0, await store.CountAsync(new FlowQuery { Namespaces = ["filler"] }));

        // An end whose number was handed out long before its row committed, and a flow from it.
        await RowsAsync(connection, "INSERT INTO flow_ends (id, hash, endpoint_id, identity, namespace, pod) VALUES (0, 42, 0, 0, 'late', 'late-0')");
        await RowsAsync(
            connection,
            "INSERT INTO flows (time_ns, flow_id, id_from_uuid, verdict, ip_version, protocol, src, dst, src_port, dst_port, tcp_flags, icmp_type, icmp_code, direction, " +
            "flow_type, policy_match_type, l7_type, l7_latency_ns, engine_verdict, disagreement) " +
            "SELECT time_ns, gen_random_uuid(), false, 1, 4, 6, 0, dst, 40000, 443, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0 FROM flows LIMIT 1");

        // Replicas of this version number one at a time, so this takes a writer from before that: the
        // highest number is unchanged, and the end is learnt once a flow read back names it.
        await foreach (var _ in store.QueryAsync(FlowQuery.All))
        {
        }

        var flows = new List<FlowRecord>();
        await foreach (var flow in store.QueryAsync(new FlowQuery { Namespaces = ["late"] }))
        {
            flows.Add(flow);
        }

        Assert.Equal("late-0", Assert.Single(flows).Source.PodName);
    }

    [SkippableFact]
    public async Task Open_Sessions_HaveTheStoresSettingsUnlessTheConnectionStringGivesOptions()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        var connection = await server.CreateDatabaseAsync();
        await using (var store = await PostgresFlowStore.OpenAsync(connection))
        {
            Assert.Equal("off", await store.ShowAsync("jit"));
            Assert.Equal("64MB", await store.ShowAsync("work_mem"));
        }

        await using (var store = await PostgresFlowStore.OpenAsync(connection + ";Options=-c work_mem=8MB"))
        {
            Assert.Equal("8MB", await store.ShowAsync("work_mem"));
        }
    }

    [SkippableFact]
    public async Task ApplyRetention_EndsNoFlowUsesAnyMore_AreSwept()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        var connection = await server.CreateDatabaseAsync();
        var captures = Reading.HubbleCaptureTests.ReadAll().Flows;
        var recent = TotalsChecks.Synthesize(2_000);
        await using var store = await PostgresFlowStore.OpenAsync(connection);
        await store.WriteAsync(captures);
        await store.WriteAsync(recent);
        var before = (await RowsAsync(connection, "SELECT id FROM flow_ends")).Count;
        await store.SetRetentionRulesAsync([new RetentionRule(RetentionRule.Everything, 30)]);

        // Thirty days after the synthetic flows, so the captures of 2021 expire and they stay.
        var result = await store.ApplyRetentionAsync(TotalsChecks.Start + (30L * 86_400 * 1_000_000_000) - 1);

        Assert.Equal(captures.DistinctBy(static f => (f.TimeUnixNanos, f.Id)).Count(), result.Deleted);
        var used = await RowsAsync(connection, "SELECT src FROM flows UNION SELECT dst FROM flows");
        var kept = await RowsAsync(connection, "SELECT id FROM flow_ends");
        Assert.True(kept.Count < before, $"{kept.Count} of {before} ends kept");
        Assert.Equal(used.Order(StringComparer.Ordinal), kept.Order(StringComparer.Ordinal));
        Assert.Equal(["1"], await RowsAsync(connection, "SELECT generation FROM flow_dictionary_state"));
        await TotalsChecks.AssertSameBothWaysAsync(store, recent);
    }

    [SkippableFact]
    public async Task Write_AfterAnotherReplicaSweptTheEndsItKnows_StoresThemAgain()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        var connection = await server.CreateDatabaseAsync();
        var captures = Reading.HubbleCaptureTests.ReadAll().Flows;
        await using var writer = await PostgresFlowStore.OpenAsync(connection);
        await writer.WriteAsync(captures);

        // Another replica's retention deletes every flow, and so every end this replica knows.
        await using (var other = await PostgresFlowStore.OpenAsync(connection))
        {
            await other.SetRetentionRulesAsync([new RetentionRule(RetentionRule.Everything, 30)]);
            Assert.True((await other.ApplyRetentionAsync(TotalsChecks.Start)).Deleted > 0);
        }

        Assert.Empty(await RowsAsync(connection, "SELECT id FROM flow_ends"));

        // Stored again, the flows name ends that exist, as a replica that knew none of them reads them.
        var written = await writer.WriteAsync(captures);
        await using var reader = await PostgresFlowStore.OpenAsync(connection);
        Assert.Equal(written.Written, await reader.CountAsync(FlowQuery.All));
        Assert.Empty(await RowsAsync(connection, "SELECT f.src FROM flows f WHERE NOT EXISTS (SELECT 1 FROM flow_ends e WHERE e.id = f.src) OR NOT EXISTS (SELECT 1 FROM flow_ends e WHERE e.id = f.dst)"));
        var namespaces = await reader.CountByAsync(FlowQuery.All, FlowCountField.SourceNamespace);
        Assert.Equal(
            captures.DistinctBy(static f => (f.TimeUnixNanos, f.Id)).GroupBy(static f => f.Source.Namespace).Select(static g => $"{g.Key} {g.Count()}").Order(StringComparer.Ordinal),
            namespaces.Select(static c => $"{c.Key} {c.Value}").Order(StringComparer.Ordinal));
    }

    [SkippableFact]
    public async Task Query_EndsAnotherReplicaNumberedBeforeThisOneNumberedItsOwn_AreLearnt()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        var connection = await server.CreateDatabaseAsync();
        var captures = Reading.HubbleCaptureTests.ReadAll().Flows;
        var space = captures[0].Source.Namespace!;
        await using var first = await PostgresFlowStore.OpenAsync(connection);
        await using var second = await PostgresFlowStore.OpenAsync(connection);
        await first.WriteAsync(TotalsChecks.Synthesize(100));

        // The second replica numbers the captures' ends; then the first numbers ends of its own, higher.
        await second.WriteAsync(captures);
        var highest = await RowsAsync(connection, "SELECT max(id) FROM flow_ends");
        await first.WriteAsync(new FlowSynthesizer(new FlowSynthesisOptions { Namespaces = 7, WorkloadsPerNamespace = 3, FlowsPerSecond = 2, StartNanos = TotalsChecks.Start }).Next(3_000));
        Assert.NotEqual(highest, await RowsAsync(connection, "SELECT max(id) FROM flow_ends"));

        var query = new FlowQuery { Namespaces = [space] };
        Assert.True(await second.CountAsync(query) > 0);
        Assert.Equal(await second.CountAsync(query), await first.CountAsync(query));
    }

    [SkippableFact]
    public async Task Write_NewEnds_WaitsWhileAnotherReplicaNumbers()
    {
        Skip.If(server.AdminConnectionString is null, server.Unavailable);
        var connection = await server.CreateDatabaseAsync();
        var flows = Reading.HubbleCaptureTests.ReadAll().Flows;
        await using var store = await PostgresFlowStore.OpenAsync(connection);

        // Another replica numbering ends: a write with ends the store lacks waits for it to commit.
        await using var other = new NpgsqlConnection(connection);
        await other.OpenAsync();
        Task<FlowWriteResult> write;
        await using (var transaction = await other.BeginTransactionAsync())
        {
            await using var hold = new NpgsqlCommand($"SELECT pg_advisory_xact_lock({PostgresFlowStore.DictionaryLock})", other, transaction);
            await hold.ExecuteNonQueryAsync();
            write = store.WriteAsync(flows);
            var waited = await Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(2)));
            Assert.NotSame(write, waited);
            Assert.Empty(await RowsAsync(connection, "SELECT id FROM flow_ends"));
            await transaction.CommitAsync();
        }

        var written = await write;
        Assert.True(written.Written > 0);
        Assert.Equal(written.Written, await store.CountAsync(FlowQuery.All));
    }

    /// <summary>The totals, summed a key, are exactly the flows summed again; once merged, with one row a key.</summary>
    private static async Task AssertTotalsAreTheFlowsSummedAsync(string connection, bool merged)
    {
        var keys = string.Join(", ", PostgresFlowHours.Keys);
        var groups = string.Join(", ", Enumerable.Range(1, PostgresFlowHours.Keys.Count + 1));
        var totals = await RowsAsync(connection, $"SELECT hour, {keys}, sum(flows)::bigint, min(first_ns), max(last_ns) FROM flow_hours GROUP BY {groups}");
        var recounted = await RowsAsync(connection, PostgresFlowHours.Totals("flows", "TRUE"));

        Assert.NotEmpty(recounted);
        Assert.Equal(recounted.Order(StringComparer.Ordinal), totals.Order(StringComparer.Ordinal));
        if (merged)
        {
            Assert.Equal(totals.Count, (await RowsAsync(connection, "SELECT hour FROM flow_hours")).Count);
        }
    }

    /// <summary>Each row of <paramref name="sql"/>, its values joined by spaces (NULL as empty).</summary>
    private static async Task<List<string>> RowsAsync(string connection, string sql)
    {
        await using var source = NpgsqlDataSource.Create(connection);
        await using var command = source.CreateCommand(sql);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            var values = new object[reader.FieldCount];
            reader.GetValues(values);
            rows.Add(string.Join(' ', values.Select(static v => Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture))));
        }

        return rows;
    }
}
