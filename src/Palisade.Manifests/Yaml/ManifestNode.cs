using System.Globalization;
using Palisade.Model;

namespace Palisade.Manifests.Yaml;

/// <summary>A node of a parsed YAML or JSON document, with the position it was written at.</summary>
public abstract class ManifestNode(SourceLocation location)
{
    /// <summary>Where the node starts.</summary>
    public SourceLocation Location { get; } = location;

    /// <summary>What the node is, for messages: <c>a map</c>, <c>a list</c>, <c>text</c>, <c>a number</c>...</summary>
    public abstract string Describe();
}

/// <summary>A mapping; keys keep their order and position.</summary>
public sealed class MappingNode(SourceLocation location, IReadOnlyList<MappingEntry> entries) : ManifestNode(location)
{
    /// <summary>The entries in document order.</summary>
    public IReadOnlyList<MappingEntry> Entries { get; } = entries;

    /// <summary>The value under <paramref name="key"/>, or null (a later duplicate key wins, as in Kubernetes).</summary>
    public ManifestNode? this[string key]
    {
        get
        {
            for (var i = Entries.Count - 1; i >= 0; i--)
            {
                if (string.Equals(Entries[i].Key, key, StringComparison.Ordinal))
                {
                    return Entries[i].Value;
                }
            }

            return null;
        }
    }

    /// <summary>Whether the key is present (even with a null value).</summary>
    public bool Has(string key) => Entries.Any(e => string.Equals(e.Key, key, StringComparison.Ordinal));

    /// <inheritdoc />
    public override string Describe() => "a map";
}

/// <summary>One key and value of a mapping.</summary>
public sealed record MappingEntry(string Key, SourceLocation KeyLocation, ManifestNode Value);

/// <summary>A sequence.</summary>
public sealed class SequenceNode(SourceLocation location, IReadOnlyList<ManifestNode> items) : ManifestNode(location)
{
    /// <summary>The items in order.</summary>
    public IReadOnlyList<ManifestNode> Items { get; } = items;

    /// <inheritdoc />
    public override string Describe() => "a list";
}

/// <summary>
/// A scalar. <see cref="Quoted"/> tells a quoted <c>"80"</c> (text) from a plain <c>80</c> (a number),
/// which Kubernetes' int-or-string fields (ports) distinguish.
/// </summary>
public sealed class ScalarNode(SourceLocation location, string value, bool quoted) : ManifestNode(location)
{
    /// <summary>The text as written (without quotes).</summary>
    public string Value { get; } = value;

    /// <summary>Whether it was quoted (single, double, literal or folded), making it text whatever it looks like.</summary>
    public bool Quoted { get; } = quoted;

    /// <summary>Whether it is YAML's null (<c>~</c>, <c>null</c>, or nothing), unquoted.</summary>
    public bool IsNull => !Quoted && Value is "" or "~" or "null" or "Null" or "NULL";

    /// <summary>Whether it is a plain integer.</summary>
    public bool TryGetInteger(out long value)
    {
        value = 0;
        return !Quoted && long.TryParse(Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>Whether it is a plain boolean (YAML 1.2 core schema: true/false in three spellings).</summary>
    public bool TryGetBoolean(out bool value)
    {
        value = false;
        if (Quoted)
        {
            return false;
        }

        switch (Value)
        {
            case "true" or "True" or "TRUE":
                value = true;
                return true;
            case "false" or "False" or "FALSE":
                return true;
            default:
                return false;
        }
    }

    /// <inheritdoc />
    public override string Describe()
    {
        if (IsNull)
        {
            return "null";
        }

        if (TryGetInteger(out _))
        {
            return $"the number {Value}";
        }

        return TryGetBoolean(out _) ? $"the boolean {Value}" : $"the text '{Value}'";
    }
}
