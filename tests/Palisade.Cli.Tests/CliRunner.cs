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
    public static CliResult Run(params string[] args) => RunAt(null, args);

    /// <summary>Runs the command with the clock stopped at <paramref name="now"/> (null: the real clock).</summary>
    public static CliResult RunAt(DateTimeOffset? now, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = PalisadeApp.Run(args, output, error, now is null ? null : new FixedClock(now.Value));
        return new CliResult(exit, output.ToString(), error.ToString());
    }

    /// <summary>A clock that always says the same time, so that durations such as --since 2h give the same answer every day.</summary>
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
