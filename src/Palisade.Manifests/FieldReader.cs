using Palisade.Diagnostics;
using Palisade.Manifests.Yaml;
using Palisade.Model;

namespace Palisade.Manifests;

/// <summary>
/// Reads typed fields out of one object's node tree, reporting every problem with the field's path
/// and position instead of stopping at the first. Methods return null when a field is absent or bad.
/// </summary>
internal sealed class FieldReader(DiagnosticBag diagnostics, string subject)
{
    public DiagnosticBag Diagnostics { get; } = diagnostics;

    /// <summary>The object being read, e.g. <c>NetworkPolicy default/web</c>.</summary>
    public string Subject { get; set; } = subject;

    public int ErrorCount { get; private set; }

    public void Error(string code, ManifestNode? node, string path, string message, SourceLocation? fallback = null)
    {
        ErrorCount++;
        Diagnostics.Error(code, node?.Location ?? fallback ?? SourceLocation.Unknown("?"), message, Subject, path);
    }

    public void Warning(string code, ManifestNode? node, string path, string message, SourceLocation? fallback = null) =>
        Diagnostics.Warning(code, node?.Location ?? fallback ?? SourceLocation.Unknown("?"), message, Subject, path);

    private static bool IsAbsent(ManifestNode? node) => node is null || node is ScalarNode { IsNull: true };

    public MappingNode? Map(MappingNode parent, string key, string path, bool required = false)
    {
        var node = parent[key];
        if (IsAbsent(node))
        {
            if (required)
            {
                Error(DiagnosticCodes.MissingField, parent, path, $"'{key}' is required", parent.Location);
            }

            return null;
        }

        if (node is MappingNode map)
        {
            return map;
        }

        Error(DiagnosticCodes.WrongType, node, path, $"expected a map, found {node!.Describe()}");
        return null;
    }

    public SequenceNode? List(MappingNode parent, string key, string path)
    {
        var node = parent[key];
        if (IsAbsent(node))
        {
            return null;
        }

        if (node is SequenceNode list)
        {
            return list;
        }

        Error(DiagnosticCodes.WrongType, node, path, $"expected a list, found {node!.Describe()}");
        return null;
    }

    public string? Text(MappingNode parent, string key, string path, bool required = false)
    {
        var node = parent[key];
        if (IsAbsent(node))
        {
            if (required)
            {
                Error(DiagnosticCodes.MissingField, parent, path, $"'{key}' is required", parent.Location);
            }

            return null;
        }

        return Text(node!, path);
    }

    public string? Text(ManifestNode node, string path)
    {
        if (node is ScalarNode scalar && !scalar.IsNull)
        {
            return scalar.Value;
        }

        Error(DiagnosticCodes.WrongType, node, path, $"expected text, found {node.Describe()}");
        return null;
    }

    public long? Integer(MappingNode parent, string key, string path)
    {
        var node = parent[key];
        if (IsAbsent(node))
        {
            return null;
        }

        if (node is ScalarNode scalar && scalar.TryGetInteger(out var value))
        {
            return value;
        }

        Error(DiagnosticCodes.WrongType, node, path, $"expected a whole number, found {node!.Describe()}");
        return null;
    }

    public bool? Boolean(MappingNode parent, string key, string path)
    {
        var node = parent[key];
        if (IsAbsent(node))
        {
            return null;
        }

        if (node is ScalarNode scalar && scalar.TryGetBoolean(out var value))
        {
            return value;
        }

        Error(DiagnosticCodes.WrongType, node, path, $"expected true or false, found {node!.Describe()}");
        return null;
    }

    /// <summary>The items of a list with their paths <c>path[i]</c>.</summary>
    public static IEnumerable<(ManifestNode Item, string Path, int Index)> Items(SequenceNode? list, string path)
    {
        if (list is null)
        {
            yield break;
        }

        for (var i = 0; i < list.Items.Count; i++)
        {
            yield return (list.Items[i], $"{path}[{i}]", i);
        }
    }

    /// <summary>An item that must be a map; reports it otherwise.</summary>
    public MappingNode? ItemMap(ManifestNode item, string path)
    {
        if (item is MappingNode map)
        {
            return map;
        }

        Error(DiagnosticCodes.WrongType, item, path, $"expected a map, found {item.Describe()}");
        return null;
    }

    /// <summary>Warns about keys the reader does not know, so typos do not pass silently.</summary>
    public void KnownFields(MappingNode map, string path, params string[] known)
    {
        foreach (var entry in map.Entries)
        {
            if (Array.IndexOf(known, entry.Key) < 0)
            {
                var at = path.Length == 0 ? entry.Key : $"{path}.{entry.Key}";
                Diagnostics.Warning(
                    DiagnosticCodes.UnknownField,
                    entry.KeyLocation,
                    $"unknown field '{entry.Key}' is ignored (expected one of: {string.Join(", ", known)})",
                    Subject,
                    at);
            }
        }
    }

    /// <summary>A map of labels; keys and values are checked against Kubernetes' rules.</summary>
    public LabelSet Labels(MappingNode parent, string key, string path, string code = DiagnosticCodes.InvalidName, Func<string, string>? ciliumKeys = null)
    {
        var map = Map(parent, key, path);
        if (map is null)
        {
            return LabelSet.Empty;
        }

        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var entry in map.Entries)
        {
            var entryPath = $"{path}.{entry.Key}";
            if (ciliumKeys is null && KubernetesNames.CheckLabelKey(entry.Key) is { } keyProblem)
            {
                Diagnostics.Error(code, entry.KeyLocation, keyProblem, Subject, entryPath);
                ErrorCount++;
                continue;
            }

            if (entry.Value is not ScalarNode scalar)
            {
                Error(DiagnosticCodes.WrongType, entry.Value, entryPath, $"a label value must be text, found {entry.Value.Describe()}");
                continue;
            }

            var value = scalar.IsNull ? string.Empty : scalar.Value;
            if (KubernetesNames.CheckLabelValue(value) is { } valueProblem)
            {
                Error(code, scalar, entryPath, valueProblem);
                continue;
            }

            pairs.Add(new KeyValuePair<string, string>(ciliumKeys is null ? entry.Key : ciliumKeys(entry.Key), value));
        }

        return LabelSet.From(pairs);
    }

    /// <summary>A label selector (<c>matchLabels</c>, <c>matchExpressions</c>); null when absent or invalid.</summary>
    public LabelSelectorSpec? Selector(MappingNode parent, string key, string path, Func<string, string>? ciliumKeys = null)
    {
        var map = Map(parent, key, path);
        return map is null ? null : SelectorOf(map, path, ciliumKeys);
    }

    /// <summary>
    /// A label selector from its map. <paramref name="ciliumKeys"/>, for Cilium's selectors, rewrites
    /// each key (source prefixes) instead of checking it against Kubernetes' rules.
    /// </summary>
    public LabelSelectorSpec? SelectorOf(MappingNode map, string path, Func<string, string>? ciliumKeys = null)
    {
        var errorsBefore = ErrorCount;
        KnownFields(map, path, "matchLabels", "matchExpressions");
        var matchLabels = Labels(map, "matchLabels", $"{path}.matchLabels", DiagnosticCodes.InvalidSelector, ciliumKeys);
        var expressions = new List<LabelRequirement>();
        foreach (var (item, itemPath, _) in Items(List(map, "matchExpressions", $"{path}.matchExpressions"), $"{path}.matchExpressions"))
        {
            if (ItemMap(item, itemPath) is not { } expression)
            {
                continue;
            }

            KnownFields(expression, itemPath, "key", "operator", "values");
            var label = Text(expression, "key", $"{itemPath}.key", required: true);
            var op = Text(expression, "operator", $"{itemPath}.operator", required: true);
            var values = new List<string>();
            foreach (var (valueNode, valuePath, _) in Items(List(expression, "values", $"{itemPath}.values"), $"{itemPath}.values"))
            {
                if (Text(valueNode, valuePath) is { } value)
                {
                    if (KubernetesNames.CheckLabelValue(value) is { } problem)
                    {
                        Error(DiagnosticCodes.InvalidSelector, valueNode, valuePath, problem);
                    }

                    values.Add(value);
                }
            }

            if (label is null || op is null)
            {
                continue;
            }

            if (ciliumKeys is not null)
            {
                label = ciliumKeys(label);
            }
            else if (KubernetesNames.CheckLabelKey(label) is { } keyProblem)
            {
                Error(DiagnosticCodes.InvalidSelector, expression["key"], $"{itemPath}.key", keyProblem);
            }

            SelectorOperator parsed;
            switch (op)
            {
                case "In":
                    parsed = SelectorOperator.In;
                    break;
                case "NotIn":
                    parsed = SelectorOperator.NotIn;
                    break;
                case "Exists":
                    parsed = SelectorOperator.Exists;
                    break;
                case "DoesNotExist":
                    parsed = SelectorOperator.DoesNotExist;
                    break;
                default:
                    Error(DiagnosticCodes.InvalidSelector, expression["operator"], $"{itemPath}.operator", $"'{op}' is not an operator; use In, NotIn, Exists or DoesNotExist");
                    continue;
            }

            if (parsed is SelectorOperator.In or SelectorOperator.NotIn && values.Count == 0)
            {
                Error(DiagnosticCodes.InvalidSelector, expression, $"{itemPath}.values", $"operator {op} needs at least one value");
            }
            else if (parsed is SelectorOperator.Exists or SelectorOperator.DoesNotExist && values.Count > 0)
            {
                Error(DiagnosticCodes.InvalidSelector, expression["values"], $"{itemPath}.values", $"operator {op} takes no values; remove 'values'");
            }

            expressions.Add(new LabelRequirement(label, parsed, values));
        }

        return ErrorCount > errorsBefore ? null : new LabelSelectorSpec { MatchLabels = matchLabels, MatchExpressions = expressions };
    }
}
