using Palisade.Diagnostics;
using Palisade.Model;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Palisade.Manifests.Yaml;

/// <summary>
/// Reads the documents of a YAML or JSON text into <see cref="ManifestNode"/> trees with positions.
/// JSON is read by the same parser (JSON is YAML's flow style); only the messages name the format.
/// </summary>
public static class DocumentReader
{
    /// <summary>
    /// Splits a YAML text into pieces of whole documents, each at least about <paramref name="size"/>
    /// characters, cut only before a line that starts a document (<c>---</c> at the start of a line,
    /// which YAML never allows inside a document). A text with directives (<c>%YAML</c>) is not cut.
    /// Each piece comes with the number of lines before it, for positions.
    /// </summary>
    public static IReadOnlyList<(string Text, int LineOffset)> Split(string text, int size)
    {
        if (text.Length <= size || text.StartsWith('%') || text.Contains("\n%", StringComparison.Ordinal))
        {
            return [(text, 0)];
        }

        var pieces = new List<(string, int)>();
        int start = 0, startLine = 0, line = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\n')
            {
                continue;
            }

            line++;
            var next = i + 1;
            if (next - start >= size && next + 3 <= text.Length && string.CompareOrdinal(text, next, "---", 0, 3) == 0
                && (next + 3 == text.Length || text[next + 3] is '\n' or '\r' or ' ' or '\t'))
            {
                pieces.Add((text[start..next], startLine));
                start = next;
                startLine = line;
            }
        }

        pieces.Add((text[start..], startLine));
        return pieces;
    }

    /// <summary>
    /// Every document of <paramref name="text"/>, in order. On a syntax error, the documents before it
    /// are returned and the error is added to <paramref name="diagnostics"/> with its line and column.
    /// Empty documents are left out.
    /// </summary>
    public static IReadOnlyList<ManifestNode> Read(string text, string source, DiagnosticBag diagnostics, int lineOffset = 0)
    {
        var documents = new List<ManifestNode>();
        var isJson = source.EndsWith(".json", StringComparison.OrdinalIgnoreCase);
        var state = new ReadState(source, lineOffset);
        try
        {
            var parser = new Parser(new StringReader(text));
            parser.Consume<StreamStart>();
            while (parser.TryConsume<DocumentStart>(out _))
            {
                state.Anchors.Clear();
                var root = ReadNode(parser, state);
                parser.Consume<DocumentEnd>();
                if (root is ScalarNode { IsNull: true })
                {
                    continue;
                }

                documents.Add(root);
            }
        }
        catch (Exception failure) when (failure is not YamlException and not OutOfMemoryException)
        {
            // YamlDotNet throws more than YamlException on some malformed input; bad input must
            // still end in a diagnostic, at the last position the parser reached.
            var location = new SourceLocation(source, (int)state.Last.Line + lineOffset, (int)state.Last.Column);
            diagnostics.Error(
                isJson ? DiagnosticCodes.MalformedJson : DiagnosticCodes.MalformedYaml,
                location,
                $"malformed {(isJson ? "JSON" : "YAML")}: the parser stopped near here ({failure.Message.TrimEnd('.')})");
        }
        catch (YamlException error)
        {
            var location = new SourceLocation(source, (int)error.Start.Line + lineOffset, (int)error.Start.Column);
            var message = Clean(error);
            diagnostics.Error(
                isJson ? DiagnosticCodes.MalformedJson : DiagnosticCodes.MalformedYaml,
                location,
                isJson ? $"malformed JSON: {message}" : $"malformed YAML: {message}");
        }

        return documents;
    }

    private static string Clean(YamlException error)
    {
        // YamlDotNet repeats the position in its message: "(Line: 3, Col: 5, Idx: 20) - (...): text".
        var message = error.InnerException?.Message ?? error.Message;
        var marker = message.LastIndexOf("): ", StringComparison.Ordinal);
        message = marker >= 0 ? message[(marker + 3)..] : message;
        return message.TrimEnd('.');
    }

    private sealed class ReadState(string source, int lineOffset)
    {
        public string Source { get; } = source;

        public int LineOffset { get; } = lineOffset;

        public Dictionary<string, ManifestNode> Anchors { get; } = new(StringComparer.Ordinal);

        /// <summary>Where the last event started, for errors that come without a position.</summary>
        public Mark Last { get; set; } = Mark.Empty;
    }

    private static ManifestNode ReadNode(IParser parser, ReadState state)
    {
        var current = parser.Current ?? throw new YamlException("unexpected end of the document");
        state.Last = current.Start;
        var source = state.Source;
        var anchors = state.Anchors;
        var location = new SourceLocation(source, (int)current.Start.Line + state.LineOffset, (int)current.Start.Column);
        switch (current)
        {
            case Scalar scalar:
                parser.MoveNext();
                var node = new ScalarNode(location, scalar.Value, scalar.Style is not ScalarStyle.Plain and not ScalarStyle.Any);
                Remember(scalar.Anchor, node, anchors);
                return node;
            case AnchorAlias alias:
                parser.MoveNext();
                if (!anchors.TryGetValue(alias.Value.Value, out var target))
                {
                    throw new YamlException(current.Start, current.End, $"alias *{alias.Value.Value} names no anchor");
                }

                return target;
            case SequenceStart sequenceStart:
            {
                parser.MoveNext();
                var items = new List<ManifestNode>();
                while (!parser.TryConsume<SequenceEnd>(out _))
                {
                    items.Add(ReadNode(parser, state));
                }

                var sequence = new SequenceNode(location, items);
                Remember(sequenceStart.Anchor, sequence, anchors);
                return sequence;
            }

            case MappingStart mappingStart:
            {
                parser.MoveNext();
                var entries = new List<MappingEntry>();
                while (!parser.TryConsume<MappingEnd>(out _))
                {
                    var keyNode = ReadNode(parser, state);
                    var value = ReadNode(parser, state);
                    if (keyNode is ScalarNode { Value: "<<", Quoted: false } && value is MappingNode merged)
                    {
                        // YAML merge key: the merged map's entries come first, so explicit keys win.
                        entries.InsertRange(0, merged.Entries);
                        continue;
                    }

                    var key = keyNode is ScalarNode scalarKey ? scalarKey.Value : keyNode.Describe();
                    entries.Add(new MappingEntry(key, keyNode.Location, value));
                }

                var mapping = new MappingNode(location, entries);
                Remember(mappingStart.Anchor, mapping, anchors);
                return mapping;
            }

            default:
                throw new YamlException(current.Start, current.End, $"unexpected {current.GetType().Name}");
        }
    }

    private static void Remember(AnchorName anchor, ManifestNode node, Dictionary<string, ManifestNode> anchors)
    {
        if (!anchor.IsEmpty)
        {
            anchors[anchor.Value] = node;
        }
    }
}
