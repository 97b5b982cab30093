using System.Text.Json;

namespace Palisade.Tests;

/// <summary><c>palisade flows</c> as users meet it: a real DuckDB file, the real captures, exit codes and diagnostics.</summary>
public sealed class FlowsCommandTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("palisade-flows-cli-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string Store => "duckdb:" + Path.Combine(_folder, "flows.duckdb");

    private static string Captures => Path.Combine(TestPaths.Shared, "flows", "hubble");

    private string Write(string name, string text)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Ingest_CaptureFolderTwice_StoresEachFlowOnce()
    {
        var first = CliRunner.Run("flows", "ingest", Captures, "--store", Store);
        var second = CliRunner.Run("flows", "ingest", Captures, "--store", Store);

        Assert.Equal(0, first.ExitCode);
        Assert.Contains("read 1,518 lines from 9 sources: 1,518 flows, 0 other events, 0 malformed", first.Output, StringComparison.Ordinal);
        Assert.Contains("stored 1,481 new flows (37 already stored)", first.Output, StringComparison.Ordinal);
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("stored 0 new flows (1,518 already stored)", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Ingest_MalformedLines_StoresTheRestReportsEachAndExitsTwo()
    {
        var lines = File.ReadAllLines(Path.Combine(Captures, "basic-sample-10-flows.json")).ToList();
        lines.Insert(3, "{\"flow\": {\"time\": \"not a time\"}}");
        lines.Insert(7, "garbage");
        var file = Write("broken.json", string.Join('\n', lines) + "\n");

        var result = CliRunner.Run("flows", "ingest", file, "--store", Store);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"{file}:4:19: error PAL0100: \"not a time\" is not an RFC 3339 time", result.Error, StringComparison.Ordinal);
        Assert.Contains($"{file}:8:", result.Error, StringComparison.Ordinal);
        Assert.Contains("10 flows, 0 other events, 2 malformed", result.Output, StringComparison.Ordinal);
        Assert.Contains("stored 10 new flows", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--store", "sqlite:x", "names no flow store; expected duckdb:PATH or postgres:CONNECTION-STRING")]
    [InlineData("--store", "duckdb:", "'duckdb:' needs a file path")]
    public void Ingest_BadStore_ExitsTwoWithWhatWouldBeRight(string option, string value, string message)
    {
        var result = CliRunner.Run("flows", "ingest", Captures, option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error PAL0102", result.Error, StringComparison.Ordinal);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Ingest_MissingFile_ExitsTwo()
    {
        var result = CliRunner.Run("flows", "ingest", Path.Combine(_folder, "nope.json"), "--store", Store);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("error PAL0101: no such file or folder", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Observe_Filters_PrintOnlyMatchingFlowsAsJsonLines()
    {
        CliRunner.Run("flows", "ingest", Captures, "--store", Store);

        var result = CliRunner.Run("flows", "observe", "--store", Store, "--verdict", "DROPPED", "-o", "json");

        Assert.Equal(0, result.ExitCode);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        var objects = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(objects, o => Assert.Equal("DROPPED", o.GetProperty("verdict").GetString()));
        Assert.Equal("POLICY_DENIED", objects[1].GetProperty("drop_reason").GetString());
        Assert.Equal("default/xwing", objects[1].GetProperty("source").GetString());
    }

    [Fact]
    public void Observe_Jsonpb_IsReadBackAsTheSameFlows()
    {
        CliRunner.Run("flows", "ingest", Captures, "--store", Store);
        var exported = CliRunner.Run("flows", "observe", "--store", Store, "-o", "jsonpb");
        var file = Write("export.json", exported.Output);
        var other = "duckdb:" + Path.Combine(_folder, "other.duckdb");

        var again = CliRunner.Run("flows", "ingest", file, "--store", other);
        var reexported = CliRunner.Run("flows", "observe", "--store", other, "-o", "jsonpb");

        Assert.Equal(0, again.ExitCode);
        Assert.Contains("stored 1,481 new flows (0 already stored)", again.Output, StringComparison.Ordinal);
        Assert.Equal(exported.Output, reexported.Output);
    }

    [Fact]
    public void Observe_TableWithNamespaceAndLast_PrintsAHeaderAndTheNewestRows()
    {
        CliRunner.Run("flows", "ingest", Captures, "--store", Store);

        var result = CliRunner.Run("flows", "observe", "--store", Store, "--namespace", "jaeger", "--last", "3");

        Assert.Equal(0, result.ExitCode);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("TIMESTAMP", lines[0], StringComparison.Ordinal);
        Assert.All(lines.Skip(1), l => Assert.Contains("jaeger/", l, StringComparison.Ordinal));
    }

    [Fact]
    public void Observe_SinceADurationOnOldFlows_FindsNoneAndSaysSo()
    {
        CliRunner.Run("flows", "ingest", Captures, "--store", Store);

        var result = CliRunner.Run("flows", "observe", "--store", Store, "--since", "2h");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(string.Empty, result.Output);
        Assert.Contains("no flow in duckdb:", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--since", "yesterday", "neither an RFC 3339 time")]
    [InlineData("--verdict", "MAYBE", "expected FORWARDED, DROPPED")]
    [InlineData("--port", "70000", "a port from 0 to 65535")]
    [InlineData("--http-status", "9+", "a status code from 100 to 599")]
    [InlineData("--protocol", "QUIC", "TCP, UDP, SCTP, ICMPv4 or ICMPv6")]
    public void Observe_BadFilter_ExitsTwoWithWhatWouldBeRight(string option, string value, string message)
    {
        var result = CliRunner.Run("flows", "observe", "--store", Store, option, value);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
    }
}
