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
