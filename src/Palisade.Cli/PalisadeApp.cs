using System.CommandLine;
using Palisade.Cli.Commands;

namespace Palisade.Cli;

/// <summary>The exit codes every command keeps (DESIGN.md, "What the CLI promises").</summary>
public static class ExitCodes
{
    /// <summary>Success: the question was answered and the answer is good (allowed, all checks passed).</summary>
    public const int Success = 0;

    /// <summary>Findings: a connection is denied, or a check failed.</summary>
    public const int Findings = 1;

    /// <summary>Bad input or usage: diagnostics on stderr say what and where.</summary>
    public const int BadInput = 2;

    /// <summary>An internal error: a bug in Palisade.</summary>
    public const int InternalError = 3;
}

/// <summary>
/// The <c>palisade</c> command: parses the command line, runs one command, and maps failures to exit
/// codes. Writers are passed in so that tests run it in-process exactly as users do.
/// </summary>
public static class PalisadeApp
{
    /// <summary>
    /// Runs the command line <paramref name="args"/>, writing results to <paramref name="output"/> and
    /// diagnostics to <paramref name="error"/>; <paramref name="cancel"/> stops a command that runs until
    /// interrupted (<c>flows observe --follow</c>) as Ctrl+C does.
    /// </summary>
    public static int Run(string[] args, TextWriter output, TextWriter error, TimeProvider? clock = null, CancellationToken cancel = default)
    {
        var root = new RootCommand("Palisade: network policy analysis, verdicts with explanations, connectivity tests and flow history for Kubernetes trusted research environments.")
        {
            AnalyzeCommand.Create(output, error),
            EvalCommand.Create(output, error),
            TestCommand.Create(output, error),
            SynthCommand.Create(output, error),
            FlowsCommand.Create(output, error, clock ?? TimeProvider.System),
        };

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var problem in parse.Errors)
            {
                error.WriteLine($"palisade: {problem.Message}");
            }

            error.WriteLine("Run 'palisade --help' (or 'palisade COMMAND --help') for usage.");
            return ExitCodes.BadInput;
        }

        try
        {
            var configuration = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false };
            return cancel.CanBeCanceled ? parse.InvokeAsync(configuration, cancel).GetAwaiter().GetResult() : parse.Invoke(configuration);
        }
        catch (Exception failure) when (failure is not OutOfMemoryException)
        {
            error.WriteLine($"palisade: internal error: {failure.GetType().Name}: {failure.Message}");
            if (Environment.GetEnvironmentVariable("PALISADE_DEBUG") is "1" or "true")
            {
                error.WriteLine(failure.ToString());
            }
            else
            {
                error.WriteLine("This is a bug in Palisade. Set PALISADE_DEBUG=1 to see where it happened, and please report it.");
            }

            return ExitCodes.InternalError;
        }
    }
}
