using Palisade.Flows.Storage;

namespace Palisade.Flows.Tests.Storage;

/// <summary>The store contract on a real DuckDB file, and what is DuckDB's own: the file, its lock, its schema.</summary>
public sealed class DuckDbFlowStoreTests : FlowStoreContract, IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("palisade-duckdb-").FullName;

    protected override async Task<IFlowStore> OpenEmptyAsync() =>
        await DuckDbFlowStore.OpenAsync(Path.Combine(_folder, $"flows-{Guid.NewGuid():N}.duckdb"));

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Write_RunsDuckDbOnOneThread_AndQueriesOnItsDefault()
    {
        await using var store = await DuckDbFlowStore.OpenAsync(Path.Combine(_folder, "threads.duckdb"));
        var queryThreads = await store.ThreadsAsync();

        await store.WriteAsync(Reading.HubbleCaptureTests.ReadAll().Flows.Take(50).ToList());
        var writing = await store.ThreadsAsync();
        await store.CountAsync(FlowQuery.All);

        Assert.Equal(1, writing);
        Assert.Equal(queryThreads, await store.ThreadsAsync());
    }

    [Fact]
    public async Task Open_Twice_KeepsTheFlowsAndTheSchema()
    {
        var path = Path.Combine(_folder, "kept.duckdb");
        await using (var store = await DuckDbFlowStore.OpenAsync(path))
        {
            await store.WriteAsync(Reading.HubbleCaptureTests.ReadAll().Flows.Take(50).ToList());
        }

        await using var again = await DuckDbFlowStore.OpenAsync(path);

        Assert.Equal(DuckDbFlowStore.Migrations.Count, again.SchemaVersion);
        Assert.True(await again.CountAsync(FlowQuery.All) > 0);
    }

    [Fact]
    public async Task Open_StoreOfSchemaVersion2_MigratesItAndReadsBackEveryFlow()
    {
        // A store as Palisade wrote it before flows were split into shapes and details: forty-one columns a flow.
        var path = Path.Combine(_folder, "version2.duckdb");
        var flows = Reading.HubbleCaptureTests.ReadAll().Flows.Distinct().ToList();
        using (var connection = new DuckDB.NET.Data.DuckDBConnection($"DataSource={path}"))
        {
            connection.Open();
            await FlowSchema.MigrateAsync(connection, DuckDbFlowStore.Migrations.Take(2).ToList(), "duckdb:" + path, new DollarDialect(), null, default);
            var dictionary = new FlowDictionary();
            var (ends, strings) = dictionary.Missing(flows);
            using (var appender = connection.CreateAppender("flow_ends"))
            {
                var id = 0;
                foreach (var (hash, end) in ends)
                {
                    var v = FlowColumns.EndValues(end);
                    appender.CreateRow().AppendValue(++id).AppendValue(hash).AppendValue((int)v[0]!).AppendValue((long)v[1]!).AppendValue((string?)v[2])
                        .AppendValue((string?)v[3]).AppendValue((string?)v[4]).AppendValue((string[])v[5]!).AppendValue((string[])v[6]!).AppendValue((string?)v[7])
                        .AppendValue((string[])v[8]!).AppendValue((string?)v[9]).EndRow();
                    dictionary.LoadEnd(id, hash, end);
                }
            }

            using (var appender = connection.CreateAppender("flow_strings"))
            {
                var id = 0;
                foreach (var (hash, text) in strings)
                {
                    appender.CreateRow().AppendValue(++id).AppendValue(hash).AppendValue(text).EndRow();
                    dictionary.LoadString(id, text);
                }
            }

            using var insert = connection.CreateCommand();
            insert.CommandText = $"INSERT INTO flows VALUES ({string.Join(", ", Enumerable.Range(1, FlowColumns.All.Count).Select(i => "$" + i))})";
            var fields = typeof(FlowRow).GetProperties();
            Assert.Equal(FlowColumns.All.Count, fields.Length);
            foreach (var flow in flows)
            {
                var row = FlowColumns.Row(flow, dictionary);
                insert.Parameters.Clear();
                foreach (var field in fields)
                {
                    insert.Parameters.Add(new DuckDB.NET.Data.DuckDBParameter(field.GetValue(row) ?? DBNull.Value));
                }

                insert.ExecuteNonQuery();
            }
        }

        await using var store = await DuckDbFlowStore.OpenAsync(path);
        var stored = new List<Records.FlowRecord>();
        await foreach (var flow in store.QueryAsync(FlowQuery.All))
        {
            stored.Add(flow);
        }

        Assert.Equal(DuckDbFlowStore.Migrations.Count, store.SchemaVersion);
        Assert.Equal(flows.Count, stored.Count);
        var byKey = flows.ToDictionary(f => (f.Id, f.TimeUnixNanos));
        foreach (var flow in stored)
        {
            var original = byKey[(flow.Id, flow.TimeUnixNanos)];
            Assert.Equal(FlowStoreContract.Describe(original), FlowStoreContract.Describe(flow));
        }

        // The migrated store takes new flows beside the old, numbering shapes after the migrated ones.
        var again = await store.WriteAsync(flows);
        Assert.Equal(0, again.Written);
        Assert.Equal(flows.Count, await store.CountAsync(FlowQuery.All));
        Assert.Equal(flows.Count(f => f.Verdict == Records.FlowVerdict.Dropped), await store.CountAsync(new FlowQuery { Verdicts = [Records.FlowVerdict.Dropped] }));
    }

    [Fact]
    public async Task ApplyRetention_SweepsOutTheUrlsAndEndsOnlyExpiredFlowsUsed_AndKeepsWorking()
    {
        var path = Path.Combine(_folder, "swept.duckdb");
        var flows = Reading.HubbleCaptureTests.ReadAll().Flows.Distinct().OrderBy(f => f.TimeUnixNanos).ToList();
        var middle = flows[flows.Count / 2].TimeUnixNanos;
        // Every old flow gets a URL of its own, as requests with query strings do.
        var old = flows.Where(f => f.TimeUnixNanos < middle).Select((f, i) => f with
        {
            Http = new Records.HttpInfo { Code = 200, Method = "GET", Url = $"http://api.example/search?q={i}" },
        }).ToList();
        var kept = flows.Where(f => f.TimeUnixNanos >= middle).ToList();
        long Rows(DuckDB.NET.Data.DuckDBConnection c, string table)
        {
            using var command = c.CreateCommand();
            command.CommandText = $"SELECT count(*) FROM {table}";
            return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        }

        await using (var store = await DuckDbFlowStore.OpenAsync(path))
        {
            await store.WriteAsync([.. old, .. kept]);
            await store.SetRetentionRulesAsync([new RetentionRule("*", 1)]);
            var now = middle + (86_400L * 1_000_000_000L);

            var result = await store.ApplyRetentionAsync(now);

            Assert.Equal(old.Count, result.Deleted);
            var read = new List<Records.FlowRecord>();
            await foreach (var flow in store.QueryAsync(FlowQuery.All))
            {
                read.Add(flow);
            }

            Assert.Equal(kept.Select(FlowStoreContract.Describe).Order(), read.Select(FlowStoreContract.Describe).Order());
            var again = await store.WriteAsync(old.Take(5).ToList());
            Assert.Equal(5, again.Written);
            Assert.Equal(5, await store.CountAsync(new FlowQuery { HttpMethods = ["GET"], UntilNanos = middle }));
        }

        using var connection = new DuckDB.NET.Data.DuckDBConnection($"DataSource={path}");
        connection.Open();
        using var urls = connection.CreateCommand();
        urls.CommandText = "SELECT count(*) FROM flow_strings WHERE text LIKE 'http://api.example/search?q=%'";
        Assert.Equal(5L, Convert.ToInt64(urls.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(Rows(connection, "flow_details") < old.Count);
    }

    private sealed class DollarDialect : FlowSqlDialect
    {
        public override string Parameter(string name) => "$" + name;
    }

    [Fact]
    public async Task Open_SchemaNewerThanPalisade_RefusesWithTheVersions()
    {
        var path = Path.Combine(_folder, "newer.duckdb");
        await using (var store = await DuckDbFlowStore.OpenAsync(path))
        {
        }

        using (var connection = new DuckDB.NET.Data.DuckDBConnection($"DataSource={path}"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "INSERT INTO palisade_schema VALUES (999, now(), 'from the future')";
            command.ExecuteNonQuery();
        }

        var failure = await Assert.ThrowsAsync<FlowStoreException>(() => DuckDbFlowStore.OpenAsync(path));
        Assert.Contains("schema version 999", failure.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_NotADatabase_SaysItCannotOpenTheStore()
    {
        var path = Path.Combine(_folder, "text.duckdb");
        await File.WriteAllTextAsync(path, "this is not a database");

        var failure = await Assert.ThrowsAsync<FlowStoreException>(() => DuckDbFlowStore.OpenAsync(path));
        Assert.Contains("cannot open the flow store duckdb:", failure.Message, StringComparison.Ordinal);
    }
}
