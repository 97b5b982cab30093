using System.Globalization;

namespace Palisade.Model;

/// <summary>
/// Where something was written: a file (or another source such as <c>cluster</c>), a 1-based line
/// and a 1-based column. Line 0 means the position is not known.
/// </summary>
public sealed record SourceLocation(string Source, int Line, int Column)
{
    /// <summary>A location with no position, for objects built in code.</summary>
    public static SourceLocation Unknown(string source) => new(source, 0, 0);

    /// <summary><c>file:line:col</c>, or just the source when the position is unknown.</summary>
    public override string ToString() =>
        Line > 0 ? string.Create(CultureInfo.InvariantCulture, $"{Source}:{Line}:{Column}") : Source;
}
