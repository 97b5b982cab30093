using System.Globalization;
using DuckDB.NET.Data;
using Palisade.Flows.Storage;
using Palisade.Flows.Synthesis;

namespace Palisade.Flows.Tests.Storage;

/// <summary>
/// The embedded store's hourly totals: a query's whole hours read them and the rest reads the flows,
/// and whatever the store has been through (batches, late flows, closing, retention), the totals say
/// what the flows say.
/// </summary>
public sealed class FlowHoursTests : IDisposable
{
    private const long Hour = FlowHours.HourNanos;
    private const long Start = TotalsChecks.Start;
    private readonly string _folder = Directory.CreateTempSubdirectory("palisade-hours-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Split_NoTimeRange_ReadsTheTotalsAlone()
    {
        var parts = FlowHours.Split(FlowQuery.All);

        var part = Assert.Single(parts);
        Assert.True(part.Totals);
        Assert.Null(part.FromHour);
        Assert.Null(part.ToHour);
    }

    [Fact]
    public void Split_WholeHours_ReadsTheTotalsAlone()
    {
        var parts = FlowHours.Split(new FlowQuery { SinceNanos = Start + (2 * Hour), UntilNanos = Start + (5 * Hour) });

        var part = Assert.Single(parts);
        Assert.True(part.Totals);
        Assert.Equal(FlowHours.HourOf(Start) + 2, part.FromHour);
        Assert.Equal(FlowHours.HourOf(Start) + 5, part.ToHour);
    }

    [Fact]
    public void Split_RangeEndingInsideHours_ReadsTheEdgesFromTheFlows()
    {
        var since = Start + (2 * Hour) + 10;
        var until = Start + (5 * Hour) + 10;

        var parts = FlowHours.Split(new FlowQuery { SinceNanos = since, UntilNanos = until, Namespaces = ["a"] });

        Assert.Equal(3, parts.Count);
        Assert.Equal((true, FlowHours.HourOf(Start) + 3, FlowHours.HourOf(Start) + 5), (parts[0].Totals, parts[0].FromHour, parts[0].ToHour));
        Assert.Equal((false, since, Start + (3 * Hour)), (parts[1].Totals, parts[1].Query.SinceNanos, parts[1].Query.UntilNanos));
        Assert.Equal((false, Start + (5 * Hour), until), (parts[2].Totals, parts[2].Query.SinceNanos, parts[2].Query.UntilNanos));
        Assert.All(parts, p => Assert.Equal(["a"], p.Query.Namespaces));
    }

    [Fact]
    public void Split_HoursStillCountedInMemory_ReadFromTheFlows()
    {
        var open = FlowHours.HourOf(Start) + 3;

        var parts = FlowHours.Split(new FlowQuery { SinceNanos = Start }, closedBefore: open);

        Assert.Equal(2, parts.Count);
        Assert.Equal((true, FlowHours.HourOf(Start), open), (parts[0].Totals, parts[0].FromHour, parts[0].ToHour));
        Assert.Equal((false, Start + (3 * Hour), (long?)null), (parts[1].Totals, parts[1].Query.SinceNanos, parts[1].Query.UntilNanos));
        Assert.False(Assert.Single(FlowHours.Split(FlowQuery.All, closedBefore: long.MinValue)).Totals);
    }

    [Fact]
    public void Split_RangeInsideOneHour_ReadsTheFlowsAlone()
    {
        var query = new FlowQuery { SinceNanos = Start + 10, UntilNanos = Start + Hour - 10 };

        var part = Assert.Single(FlowHours.Split(query));

        Assert.False(part.Totals);
        Assert.Equal(query, part.Query);
    }

    [Fact]
    public void HourOf_SqlAndDotNet_AgreeAcrossZeroAndHourEdges()
    {
        long[] times = [0, 1, Hour - 1, Hour, Hour + 1, -1, -Hour, -Hour - 1, Start, Start - 1, Start + Hour - 1];
        using var connection = new DuckDBConnection("DataSource=:memory:");
        connection.Open();
        foreach (var time in times)
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT {FlowHours.HourOf("t")} FROM (SELECT CAST({time.ToString(CultureInfo.InvariantCulture)} AS BIGINT) AS t)";

            var sql = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);

            Assert.Equal((long)Math.Floor((decimal)time / Hour), FlowHours.HourOf(time));
            Assert.Equal(FlowHours.HourOf(time), sql);
        }
    }

    [Fact]
    public async Task Counts_ManyBatchesAndLateFlows_AnswerFromTheTotalsAsFromTheFlows()
    {
        var path = Path.Combine(_folder, "batches.duckdb");
        var flows = TotalsChecks.Synthesize(12_000);
        var batches = flows.Chunk(700).ToList();
        // The first batch arrives last, after its hour has been compacted.
        batches.Add(batches[0]);
        batches.RemoveAt(0);

        await using (var store = await DuckDbFlowStore.OpenAsync(path))
        {
            foreach (var batch in batches)
            {
                await store.WriteAsync(batch);
            }

            await TotalsChecks.AssertSameBothWaysAsync(store, flows);
        }

        AssertTotalsAreTheFlowsSummed(path);
        await using (var again = await DuckDbFlowStore.OpenAsync(path))
        {
            await again.WriteAsync(flows.Take(300).ToList());
            await TotalsChecks.AssertSameBothWaysAsync(again, flows);
        }

        AssertTotalsAreTheFlowsSummed(path);
    }

    [Fact]
    public async Task Open_StoreThatStoppedWithoutClosing_CountsItsOpenHourFromTheFlows()
    {
        var path = Path.Combine(_folder, "running.duckdb");
        var copy = Path.Combine(_folder, "stopped.duckdb");
        var flows = TotalsChecks.Synthesize(12_000);
        await using (var store = await DuckDbFlowStore.OpenAsync(path))
        {
            // The first batch arrives last, late for its hour, which gets rows of its own.
            foreach (var batch in flows.Chunk(1_000).Skip(1).Append(flows[..1_000].ToArray()))
            {
                await store.WriteAsync(batch);
            }

            // The file and its log as a process that stopped now would leave them: the newest hour's
            // totals were only in memory, and the late rows not merged.
            File.Copy(path, copy);
            if (File.Exists(path + ".wal"))
            {
                File.Copy(path + ".wal", copy + ".wal");
            }
        }

        await using (var stopped = await DuckDbFlowStore.OpenAsync(copy))
        {
            Assert.Equal(flows.Count, await stopped.CountAsync(FlowQuery.All));
            await stopped.WriteAsync(TotalsChecks.Synthesize(13_000)[12_000..]);
            await TotalsChecks.AssertSameBothWaysAsync(stopped, flows);
        }

        AssertTotalsAreTheFlowsSummed(copy);
    }

    [Fact]
    public async Task Write_LateFlowsBefore1970_AreCountedAndMergedLikeAnyOthers()
    {
        var path = Path.Combine(_folder, "before1970.duckdb");
        var flows = new FlowSynthesizer(new FlowSynthesisOptions { Namespaces = 2, WorkloadsPerNamespace = 2, FlowsPerSecond = 2, StartNanos = -3 * Hour }).Next(12_000).ToList();
        await using (var store = await DuckDbFlowStore.OpenAsync(path))
        {
            // The earliest flows come last, for hours already closed, whose numbers are below zero.
            foreach (var batch in flows.Chunk(3_000).Reverse())
            {
                Assert.Equal(batch.Length, (await store.WriteAsync(batch)).Written);
            }

            Assert.Equal(flows.Count, await store.CountAsync(FlowQuery.All));
        }

        AssertTotalsAreTheFlowsSummed(path);
    }

    [Fact]
    public async Task Load_Cancelled_LeavesTheTotalsInMemoryStaleForTheNextWrite()
    {
        var path = Path.Combine(_folder, "cancelled.duckdb");
        await using (var store = await DuckDbFlowStore.OpenAsync(path))
        {
            await store.WriteAsync(TotalsChecks.Synthesize(2_000));
        }

        using var connection = new DuckDBConnection($"DataSource={path}");
        connection.Open();
        var hours = new FlowHours();
        await hours.OpenAsync(connection, default);
        Assert.True(hours.Stale);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hours.LoadAsync(connection, new CancellationToken(canceled: true)));

        Assert.True(hours.Stale);
        await hours.LoadAsync(connection, default);
        Assert.False(hours.Stale);
    }

    [Fact]
    public async Task ApplyRetention_CutoffsInsideHours_TakeTheExpiredFlowsOutOfTheTotals()
    {
        var path = Path.Combine(_folder, "retention.duckdb");
        var flows = TotalsChecks.Synthesize(12_000);
        var kept = flows[0].Source.Namespace!;
        await using (var store = await DuckDbFlowStore.OpenAsync(path))
        {
            await store.WriteAsync(flows);
            await store.SetRetentionRulesAsync([new RetentionRule(kept, 2), new RetentionRule("*", 1)]);
            var day = 86_400L * 1_000_000_000L;
            // What is older than an hour and a half after the start expires, inside the second hour, but the kept namespace's flows do not.
            var now = Start + day + (Hour * 3 / 2);

            var result = await store.ApplyRetentionAsync(now);

            Assert.True(result.Deleted > 0);
            Assert.True(result.Deleted < flows.Count);
            await TotalsChecks.AssertSameBothWaysAsync(store, flows);
            Assert.Equal(flows.Count - result.Deleted, await store.CountAsync(FlowQuery.All));
        }

        AssertTotalsAreTheFlowsSummed(path);
    }

    /// <summary>The totals, merged a key, are exactly the flows summed again.</summary>
    private static void AssertTotalsAreTheFlowsSummed(string path)
    {
        using var connection = new DuckDBConnection($"DataSource={path}");
        connection.Open();
        List<string> Rows(string sql)
        {
            using var command = connection.CreateCommand();
            command.CommandText = sql;
            using var reader = command.ExecuteReader();
            var rows = new List<string>();
            while (reader.Read())
            {
                var values = new object[reader.FieldCount];
                reader.GetValues(values);
                rows.Add(string.Join(' ', values.Select(static v => Convert.ToString(v, CultureInfo.InvariantCulture))));
            }

            return [.. rows.Order(StringComparer.Ordinal)];
        }

        var totals = Rows("SELECT hour, src, dst, dst_port, shape, sum(flows)::BIGINT, min(first_ns), max(last_ns) FROM flow_hours GROUP BY ALL");
        var recounted = Rows(FlowHours.Totals("TRUE"));

        Assert.NotEmpty(recounted);
        Assert.Equal(recounted, totals);
        // Closing compacted every hour: one row a key.
        Assert.Equal(totals.Count, Rows("SELECT * FROM flow_hours").Count);
    }
}
