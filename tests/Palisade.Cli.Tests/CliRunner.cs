using Palisade.Cli;

namespace Palisade.Tests;

/// <summary>What one run of the palisade command printed and returned.</summary>
internal sealed record CliResult(int ExitCode, string Output, string Error)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";
}

/// <summary>Runs the palisade command in-process, exactly as the executable does.</summary>
internal static class CliRunner
{
    public static CliResult Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = PalisadeApp.Run(args, output, error);
        return new CliResult(exit, output.ToString(), error.ToString());
    }
}
