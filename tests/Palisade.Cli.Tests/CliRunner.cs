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

    /// <summary>
    /// Runs a command that runs until interrupted, on its own thread, until <paramref name="cancel"/> is
    /// cancelled; its output is readable while it runs.
    /// </summary>
    public static (Task<int> Exit, Func<string> Output, Func<string> Error) Start(CancellationToken cancel, params string[] args)
    {
        var output = new SharedWriter();
        var error = new SharedWriter();
        var exit = Task.Factory.StartNew(() => PalisadeApp.Run(args, output, error, null, cancel), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return (exit, output.Text, error.Text);
    }

    /// <summary>A writer that may be read while another thread writes.</summary>
    private sealed class SharedWriter : TextWriter
    {
        private readonly System.Text.StringBuilder _text = new();

        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value)
        {
            lock (_text)
            {
                _text.Append(value);
            }
        }

        public override void Write(string? value)
        {
            lock (_text)
            {
                _text.Append(value);
            }
        }

        public string Text()
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    /// <summary>A clock that always says the same time, so that durations such as --since 2h give the same answer every day.</summary>
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
