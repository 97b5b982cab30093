using System.CommandLine;
using Palisade.Diagnostics;
using Palisade.Manifests;
using Palisade.Testing;

namespace Palisade.Cli.Commands;

/// <summary><c>palisade test</c>: runs connectivity case files and reports every check that does not hold.</summary>
internal static class TestCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var paths = CommonOptions.Paths("Case files (*.case.yaml), or folders searched recursively for them");
        var junit = new Option<string?>("--junit") { Description = "Also write the results as JUnit XML to FILE" };
        var command = new Command(
            "test",
            "Run connectivity case files (policy as tests): each probe and matrix cell is a check. " +
            "Prints every failing check with expected and actual verdicts and the explanation, then 'N passed, N failed'. " +
            "Exit code 0 when all pass, 1 when any fails, 2 when a case file is invalid.")
        {
            paths, junit,
        };

        command.SetAction(parse =>
        {
            var discovery = new DiagnosticBag();
            var files = CaseFileReader.Discover(parse.GetRequiredValue(paths), discovery);
            CommonOptions.Print(discovery.Items, error);
            var badInput = discovery.HasErrors;
            var results = new List<CaseResult>();
            foreach (var file in files)
            {
                var loaded = CaseFileReader.Read(file);
                CommonOptions.Print(loaded.Diagnostics, error);
                if (loaded.HasErrors || loaded.Case is null)
                {
                    badInput = true;
                    continue;
                }

                var result = CaseRunner.Run(loaded.Case);
                results.Add(result);
                CommonOptions.Print(result.Errors, error);
                badInput |= result.Errors.Count > 0;
                foreach (var failure in result.Failures)
                {
                    output.Write(
                        $"FAIL {failure.Location} {result.Case.Name} [{failure.Step}]: {failure.Connection}: " +
                        $"expected {(failure.ExpectedAllowed ? "allow" : "deny")}, got {(failure.ExpectedAllowed ? "deny" : "allow")}\n");
                    foreach (var line in failure.Explanation.Describe().Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1))
                    {
                        output.Write($"    {line}\n");
                    }
                }
            }

            if (parse.GetValue(junit) is { } junitFile)
            {
                try
                {
                    using var writer = new StreamWriter(junitFile);
                    JUnitWriter.Write(results, writer);
                }
                catch (Exception failure) when (failure is IOException or UnauthorizedAccessException)
                {
                    error.WriteLine($"{junitFile}: error PAL0001: cannot write the JUnit report: {failure.Message}");
                    badInput = true;
                }
            }

            var passed = results.Sum(static r => r.Passed);
            var failed = results.Sum(static r => r.Failed);
            output.Write($"{results.Count} case files\n{passed} passed, {failed} failed\n");
            output.Flush();
            return badInput ? ExitCodes.BadInput : failed > 0 ? ExitCodes.Findings : ExitCodes.Success;
        });
        return command;
    }
}
