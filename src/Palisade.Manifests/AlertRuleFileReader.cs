using System.Globalization;
using Palisade.Diagnostics;
using Palisade.Manifests.Yaml;
using Palisade.Model;
using Palisade.Sets;

namespace Palisade.Manifests;

/// <summary>What reading an alert rule file produced: the rules, or the diagnostics that say why there are none.</summary>
public sealed record AlertRulesLoadResult(FlowAlertRulesSpec? Rules, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>Whether any diagnostic is an error.</summary>
    public bool HasErrors => Rules is null || Diagnostics.Any(static d => d.Severity == Severity.Error);
}

/// <summary>
/// Reads a file of flow alert rules (<c>kind: FlowAlertRules</c>, see docs/flows.md), reporting every
/// problem with its line, column and path.
/// </summary>
public static class AlertRuleFileReader
{
    /// <summary>The apiVersion the file carries.</summary>
    public const string ApiVersion = "palisade.dev/v1alpha1";

    /// <summary>The kind the file carries.</summary>
    public const string Kind = "FlowAlertRules";

    private static readonly string[] Severities = ["info", "warning", "critical"];

    /// <summary>Reads the file at <paramref name="path"/>.</summary>
    public static AlertRulesLoadResult Read(string path)
    {
        var diagnostics = new DiagnosticBag();
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            diagnostics.Error(DiagnosticCodes.UnreadableInput, SourceLocation.Unknown(path), $"cannot read the file: {error.Message}");
            return new AlertRulesLoadResult(null, diagnostics.Items);
        }

        return ReadText(text, path, diagnostics);
    }

    /// <summary>Reads rules from text; <paramref name="source"/> names it in diagnostics.</summary>
    public static AlertRulesLoadResult ReadText(string text, string source, DiagnosticBag? diagnostics = null)
    {
        diagnostics ??= new DiagnosticBag();
        var documents = DocumentReader.Read(text, source, diagnostics);
        if (diagnostics.HasErrors)
        {
            return new AlertRulesLoadResult(null, diagnostics.Items);
        }

        if (documents.Count != 1 || documents[0] is not MappingNode root)
        {
            diagnostics.Error(DiagnosticCodes.InvalidAlertRule, new SourceLocation(source, 1, 1), $"an alert rule file holds one YAML document: a map with apiVersion {ApiVersion}, kind {Kind} and 'rules'");
            return new AlertRulesLoadResult(null, diagnostics.Items);
        }

        var fields = new FieldReader(diagnostics, Kind);
        Known(root, string.Empty, fields, "apiVersion", "kind", "webhook", "rules");
        if (fields.Text(root, "apiVersion", "apiVersion", required: true) is { } version && version != ApiVersion)
        {
            fields.Error(DiagnosticCodes.InvalidAlertRule, root["apiVersion"], "apiVersion", $"'{version}' is not {ApiVersion}");
        }

        if (fields.Text(root, "kind", "kind", required: true) is { } kind && kind != Kind)
        {
            fields.Error(DiagnosticCodes.InvalidAlertRule, root["kind"], "kind", $"'{kind}' is not {Kind}");
        }

        Uri? webhook = null;
        if (fields.Text(root, "webhook", "webhook") is { } url)
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out webhook) || webhook.Scheme is not ("http" or "https"))
            {
                fields.Error(DiagnosticCodes.InvalidAlertRule, root["webhook"], "webhook", $"'{url}' is not an http or https URL");
                webhook = null;
            }
        }

        var rules = new List<FlowAlertRuleSpec>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var list = fields.List(root, "rules", "rules");
        if (list is null || list.Items.Count == 0)
        {
            fields.Error(DiagnosticCodes.MissingField, root["rules"] ?? root, "rules", "'rules' must list at least one rule", root.Location);
        }

        foreach (var (item, path, _) in FieldReader.Items(list, "rules"))
        {
            if (fields.ItemMap(item, path) is { } map && ReadRule(map, path, fields) is { } rule)
            {
                if (!names.Add(rule.Name))
                {
                    fields.Error(DiagnosticCodes.InvalidAlertRule, map["name"], path + ".name", $"another rule is named '{rule.Name}'; names must be unique");
                }

                rules.Add(rule);
            }
        }

        return diagnostics.HasErrors
            ? new AlertRulesLoadResult(null, diagnostics.Items)
            : new AlertRulesLoadResult(new FlowAlertRulesSpec { Rules = rules, Webhook = webhook }, diagnostics.Items);
    }

    private static FlowAlertRuleSpec? ReadRule(MappingNode map, string path, FieldReader fields)
    {
        Known(map, path, fields, "name", "description", "severity", "window", "match");
        var name = fields.Text(map, "name", path + ".name", required: true);
        var severity = fields.Text(map, "severity", path + ".severity") ?? "warning";
        if (!Severities.Contains(severity))
        {
            fields.Error(DiagnosticCodes.InvalidAlertRule, map["severity"], path + ".severity", $"'{severity}' is not info, warning or critical");
        }

        var window = TimeSpan.FromMinutes(5);
        if (fields.Text(map, "window", path + ".window") is { } text && (!Durations.TryParse(text, out window) || window <= TimeSpan.Zero))
        {
            fields.Error(DiagnosticCodes.InvalidAlertRule, map["window"], path + ".window", $"'{text}' is not a duration; expected one such as 5m, 1h or 1d");
        }

        var match = fields.Map(map, "match", path + ".match", required: true);
        if (name is null || match is null)
        {
            return null;
        }

        var at = path + ".match";
        Known(match, at, fields, "fromNamespaces", "toNamespaces", "fromLabels", "toLabels", "toOutside", "approvedNames", "approvedCidrs", "approvedCidrGroups", "verdicts", "dropReasons", "ports", "disagreement");
        var approved = IpSet.Empty;
        foreach (var (cidr, node, cidrPath) in Strings(match, "approvedCidrs", at, fields))
        {
            if (IpPrefix.TryParse(cidr, out var prefix, out var problem))
            {
                approved = approved.Union(prefix.ToSet());
            }
            else
            {
                fields.Error(DiagnosticCodes.InvalidCidr, node, cidrPath, problem);
            }
        }

        var verdicts = new List<string>();
        foreach (var (verdict, node, verdictPath) in Strings(match, "verdicts", at, fields))
        {
            var upper = verdict.ToUpperInvariant();
            if (upper is not ("FORWARDED" or "DROPPED" or "ERROR" or "AUDIT" or "REDIRECTED" or "TRACED" or "TRANSLATED"))
            {
                fields.Error(DiagnosticCodes.InvalidAlertRule, node, verdictPath, $"'{verdict}' is not a Hubble verdict; expected FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED or TRANSLATED");
            }

            verdicts.Add(upper);
        }

        var ports = new List<int>();
        foreach (var (port, node, portPath) in Strings(match, "ports", at, fields))
        {
            if (int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is >= 1 and <= 65535)
            {
                ports.Add(number);
            }
            else
            {
                fields.Error(DiagnosticCodes.InvalidPort, node, portPath, $"'{port}' is not a port from 1 to 65535");
            }
        }

        return new FlowAlertRuleSpec
        {
            Name = name,
            Description = fields.Text(map, "description", path + ".description"),
            Severity = severity,
            Window = window,
            FromNamespaces = [.. Strings(match, "fromNamespaces", at, fields).Select(static s => s.Value)],
            ToNamespaces = [.. Strings(match, "toNamespaces", at, fields).Select(static s => s.Value)],
            FromLabels = fields.Labels(match, "fromLabels", at + ".fromLabels"),
            ToLabels = fields.Labels(match, "toLabels", at + ".toLabels"),
            ToOutside = fields.Boolean(match, "toOutside", at + ".toOutside"),
            ApprovedNames = [.. Strings(match, "approvedNames", at, fields).Select(static s => DnsPattern.Create(s.Value, DnsPatternStyle.LeadingLabels))],
            ApprovedAddresses = approved,
            ApprovedCidrGroups = [.. Strings(match, "approvedCidrGroups", at, fields).Select(static s => (s.Value, (SourceLocation?)s.Node.Location))],
            Verdicts = verdicts,
            DropReasons = [.. Strings(match, "dropReasons", at, fields).Select(static s => s.Value.ToUpperInvariant())],
            Ports = ports,
            Disagreement = fields.Boolean(match, "disagreement", at + ".disagreement"),
            Location = map.Location,
        };
    }

    /// <summary>
    /// Unknown keys are errors here, not the warnings manifests get: a misspelt condition would be left
    /// out and the rule would match more than its author meant.
    /// </summary>
    private static void Known(MappingNode map, string path, FieldReader fields, params string[] known)
    {
        foreach (var entry in map.Entries)
        {
            if (Array.IndexOf(known, entry.Key) < 0)
            {
                var at = path.Length == 0 ? entry.Key : $"{path}.{entry.Key}";
                fields.Error(DiagnosticCodes.InvalidAlertRule, null, at, $"unknown field '{entry.Key}'; expected one of: {string.Join(", ", known)}", entry.KeyLocation);
            }
        }
    }

    private static List<(string Value, ManifestNode Node, string Path)> Strings(MappingNode map, string key, string path, FieldReader fields)
    {
        var result = new List<(string, ManifestNode, string)>();
        foreach (var (item, itemPath, _) in FieldReader.Items(fields.List(map, key, $"{path}.{key}"), $"{path}.{key}"))
        {
            if (fields.Text(item, itemPath) is { } text)
            {
                result.Add((text, item, itemPath));
            }
        }

        return result;
    }
}
