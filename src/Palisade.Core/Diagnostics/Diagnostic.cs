using Palisade.Model;

namespace Palisade.Diagnostics;

/// <summary>How bad a diagnostic is.</summary>
public enum Severity
{
    /// <summary>The input cannot be used; the command stops with exit code 2.</summary>
    Error,

    /// <summary>The input is used, but something in it was ignored or is suspicious.</summary>
    Warning,
}

/// <summary>
/// A problem found in a user's input: a stable code (see <see cref="DiagnosticCodes"/>), where it is,
/// the path inside the object (<c>spec.ingress[0].from[1].ipBlock.cidr</c>), what is wrong and what
/// would be right.
/// </summary>
public sealed record Diagnostic(string Code, Severity Severity, SourceLocation Location, string Message)
{
    /// <summary>The object the problem is in, e.g. <c>NetworkPolicy default/web</c>; null for file-level problems.</summary>
    public string? Subject { get; init; }

    /// <summary>The path inside the object, e.g. <c>spec.ingress[0].ports[1].port</c>.</summary>
    public string? Path { get; init; }

    /// <summary><c>file:line:col: error PAL0011: NetworkPolicy default/web spec.ingress[0]...: message</c>.</summary>
    public override string ToString()
    {
        var where = (Subject, Path) switch
        {
            (null, null) => string.Empty,
            (not null, null) => $"{Subject}: ",
            (null, not null) => $"{Path}: ",
            _ => $"{Subject} {Path}: ",
        };
        var severity = Severity == Severity.Error ? "error" : "warning";
        return $"{Location}: {severity} {Code}: {where}{Message}";
    }
}

/// <summary>Collects diagnostics; validators add every problem they find before anyone reports.</summary>
public sealed class DiagnosticBag
{
    private readonly List<Diagnostic> _items = [];
    private readonly Lock _gate = new();

    /// <summary>Every diagnostic so far, in the order added.</summary>
    public IReadOnlyList<Diagnostic> Items
    {
        get
        {
            lock (_gate)
            {
                return [.. _items];
            }
        }
    }

    /// <summary>Whether any error was added.</summary>
    public bool HasErrors
    {
        get
        {
            lock (_gate)
            {
                return _items.Exists(static d => d.Severity == Severity.Error);
            }
        }
    }

    /// <summary>Adds one.</summary>
    public void Add(Diagnostic diagnostic)
    {
        lock (_gate)
        {
            _items.Add(diagnostic);
        }
    }

    /// <summary>Adds several.</summary>
    public void AddRange(IEnumerable<Diagnostic> diagnostics)
    {
        lock (_gate)
        {
            _items.AddRange(diagnostics);
        }
    }

    /// <summary>Adds an error.</summary>
    public void Error(string code, SourceLocation location, string message, string? subject = null, string? path = null) =>
        Add(new Diagnostic(code, Severity.Error, location, message) { Subject = subject, Path = path });

    /// <summary>Adds a warning.</summary>
    public void Warning(string code, SourceLocation location, string message, string? subject = null, string? path = null) =>
        Add(new Diagnostic(code, Severity.Warning, location, message) { Subject = subject, Path = path });
}
