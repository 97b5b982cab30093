namespace Palisade.Tests;

/// <summary>
/// Scenario folders under <c>Scenarios/</c>: each holds <c>command</c> (the arguments, with
/// <c>{shared}</c> for the shared folder; paths are relative to the checkout's root), and
/// <c>expected.out</c> and <c>expected.exit</c>, what the command must print on stdout and return.
/// Set <c>PALISADE_UPDATE_EXPECTED=1</c> to rewrite the expected files from what the command does now.
/// </summary>
public sealed class ScenarioTests
{
    private static string Folder => TestPaths.InRoot(Path.Combine("tests", "Palisade.Cli.Tests", "Scenarios"));

    public static TheoryData<string> Scenarios() =>
        [.. Directory.GetDirectories(Folder).Select(static d => Path.GetFileName(d)!).Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Command_Scenario_PrintsExpectedOutput(string name)
    {
        var folder = Path.Combine(Folder, name);
        var command = File.ReadAllText(Path.Combine(folder, "command")).Trim().Replace("{shared}", TestPaths.Shared, StringComparison.Ordinal);
        var args = command.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(static a => !a.StartsWith('-') && (File.Exists(TestPaths.InRoot(a)) || Directory.Exists(TestPaths.InRoot(a))) ? TestPaths.InRoot(a) : a)
            .ToArray();

        var result = CliRunner.Run(args);
        Assert.True(result.ExitCode != 3, $"internal error:\n{result}");
        var output = result.Output.Replace(TestPaths.Root, "{root}", StringComparison.Ordinal);

        var expectedOutput = Path.Combine(folder, "expected.out");
        var expectedExit = Path.Combine(folder, "expected.exit");
        if (Environment.GetEnvironmentVariable("PALISADE_UPDATE_EXPECTED") == "1")
        {
            File.WriteAllText(expectedOutput, output);
            File.WriteAllText(expectedExit, result.ExitCode + "\n");
        }

        Assert.True(File.Exists(expectedOutput), $"{expectedOutput} is missing; run with PALISADE_UPDATE_EXPECTED=1 to create it");
        var expected = File.ReadAllText(expectedOutput);
        var missing = expected.Split('\n').Except(output.Split('\n')).ToList();
        var extra = output.Split('\n').Except(expected.Split('\n')).ToList();
        Assert.True(
            expected == output,
            $"output differs from {expectedOutput}\nmissing lines:\n  {string.Join("\n  ", missing)}\nextra lines:\n  {string.Join("\n  ", extra)}\n{result}");
        Assert.Equal(int.Parse(File.ReadAllText(expectedExit).Trim(), System.Globalization.CultureInfo.InvariantCulture), result.ExitCode);
    }
}
