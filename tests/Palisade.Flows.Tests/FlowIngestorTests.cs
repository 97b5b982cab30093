using Palisade.Flows.Storage;
using Palisade.Flows.Tests.Reading;

namespace Palisade.Flows.Tests;

/// <summary>The ingestor parses chunks on several threads: what it stores and reports must not depend on that.</summary>
public sealed class FlowIngestorTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("palisade-ingest-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Ingest_SmallChunksOnManyThreads_StoresEveryFlowOnceAndReportsProblemsInLineOrder()
    {
        var lines = File.ReadAllLines(Path.Combine(HubbleCaptureTests.CaptureFolder, "basic-sample-400-tcp-flows.json")).ToList();
        foreach (var at in new[] { 350, 200, 17 })
        {
            lines.Insert(at, "{\"flow\": oops}");
        }

        var file = Path.Combine(_folder, "flows.json");
        await File.WriteAllLinesAsync(file, lines);
        await using var store = await DuckDbFlowStore.OpenAsync(Path.Combine(_folder, "flows.duckdb"));

        var result = await new FlowIngestor(store) { BatchSize = 7, RetentionInterval = null }.IngestAsync([file, HubbleCaptureTests.CaptureFolder]);

        Assert.Equal(403 + 1518, result.Read.Lines);
        Assert.Equal(3, result.Read.Malformed);
        Assert.Equal([18L, 202L, 353L], result.Read.Problems.Select(p => p.Line));
        Assert.Equal(1481, result.Stored.Written);
        Assert.Equal(1481, await store.CountAsync(FlowQuery.All));
    }
}
