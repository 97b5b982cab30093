using Microsoft.Extensions.Logging;

namespace Palisade.Cli.Logging;

/// <summary>
/// The event ids of everything the command logs, in one place; they are never renumbered.
/// </summary>
internal static class LogEvents
{
    public const int ManifestsRead = 1;
    public const int SnapshotCompiled = 2;
    public const int ReportWritten = 3;
    public const int Phase = 4;
}

/// <summary>Source-generated log messages of the command.</summary>
internal static partial class CliLog
{
    [LoggerMessage(EventId = LogEvents.ManifestsRead, Level = LogLevel.Debug,
        Message = "read {Files} files in {Milliseconds} ms: {Namespaces} namespaces, {Pods} pods, {Workloads} workloads, {Policies} network policies")]
    public static partial void ManifestsRead(ILogger logger, int files, long milliseconds, int namespaces, int pods, int workloads, int policies);

    [LoggerMessage(EventId = LogEvents.SnapshotCompiled, Level = LogLevel.Debug,
        Message = "compiled snapshot revision {Revision} in {Milliseconds:F1} ms: {Pods} pods in {Identities} identities, {Policies} policies, {IngressClasses} ingress and {EgressClasses} egress classes, {ConnectionSets} distinct connection sets ({Phases})")]
    public static partial void SnapshotCompiled(ILogger logger, long revision, double milliseconds, int pods, int identities, int policies, int ingressClasses, int egressClasses, int connectionSets, string phases);

    [LoggerMessage(EventId = LogEvents.ReportWritten, Level = LogLevel.Debug, Message = "{Lines} connections among {Workloads} workloads")]
    public static partial void ReportWritten(ILogger logger, int lines, int workloads);

    [LoggerMessage(EventId = LogEvents.Phase, Level = LogLevel.Debug, Message = "{Phase}...")]
    public static partial void Phase(ILogger logger, string phase);
}

/// <summary>
/// A one-line status on a terminal for long work ("reading manifests..."), rewritten in place and
/// erased when done, so that it leaves nothing in the output. Silent when stderr is not a terminal.
/// </summary>
internal sealed class ProgressLine(TextWriter error) : IDisposable
{
    private readonly bool _shown = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
    private int _width;

    public void Show(string status)
    {
        if (!_shown)
        {
            return;
        }

        var text = $"palisade: {status}...";
        error.Write("\r" + text.PadRight(_width) + "\r");
        _width = text.Length;
    }

    public void Dispose()
    {
        if (_shown && _width > 0)
        {
            error.Write("\r" + new string(' ', _width) + "\r");
            _width = 0;
        }
    }
}

/// <summary>
/// Writes log lines to the command's stderr writer as <c>palisade: message</c>, so that logs and
/// diagnostics share one stream and tests see both.
/// </summary>
internal sealed class TextWriterLoggerProvider : ILoggerProvider
{
    private readonly TextWriter _writer;
    private readonly LogLevel _minimum;
    private readonly Lock _gate = new();

    public TextWriterLoggerProvider(TextWriter writer, LogLevel minimum)
    {
        _writer = writer;
        _minimum = minimum;
    }

    public ILogger CreateLogger(string categoryName) => new WriterLogger(this);

    public void Dispose()
    {
    }

    private sealed class WriterLogger(TextWriterLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= provider._minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var prefix = logLevel >= LogLevel.Warning ? $"palisade: {logLevel.ToString().ToLowerInvariant()}: " : "palisade: ";
            lock (provider._gate)
            {
                provider._writer.WriteLine(prefix + formatter(state, exception));
            }
        }
    }
}
