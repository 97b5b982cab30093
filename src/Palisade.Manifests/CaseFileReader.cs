using Palisade.Compilation;
using Palisade.Diagnostics;
using Palisade.Manifests.Yaml;
using Palisade.Model;
using Palisade.Sets;
using Palisade.Testing;

namespace Palisade.Manifests;

/// <summary>What reading a case file produced: the case, or the diagnostics that say why there is none.</summary>
public sealed record CaseLoadResult(CaseSpec? Case, IReadOnlyList<Diagnostic> Diagnostics)
{
    /// <summary>Whether any diagnostic is an error.</summary>
    public bool HasErrors => Case is null || Diagnostics.Any(static d => d.Severity == Severity.Error);
}

/// <summary>Reads connectivity case files (<c>*.case.yaml</c>, FORMAT.md of the conformance suites).</summary>
public static class CaseFileReader
{
    /// <summary>The file name ending that marks a case file.</summary>
    public const string Suffix = ".case.yaml";

    /// <summary>The case files under <paramref name="paths"/>: files as given, folders searched recursively for <c>*.case.yaml</c>.</summary>
    public static IReadOnlyList<string> Discover(IEnumerable<string> paths, DiagnosticBag diagnostics)
    {
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (File.Exists(path))
            {
                files.Add(path);
            }
            else if (Directory.Exists(path))
            {
                var found = Directory.EnumerateFiles(path, "*" + Suffix, SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
                if (found.Count == 0)
                {
                    diagnostics.Warning(DiagnosticCodes.UnreadableInput, SourceLocation.Unknown(path), $"folder holds no {Suffix} files");
                }

                files.AddRange(found);
            }
            else
            {
                diagnostics.Error(DiagnosticCodes.UnreadableInput, SourceLocation.Unknown(path), "no such file or folder");
            }
        }

        return files;
    }

    /// <summary>Reads one case file, with the manifests it names.</summary>
    public static CaseLoadResult Read(string path)
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
            return new CaseLoadResult(null, diagnostics.Items);
        }

        var documents = DocumentReader.Read(text, path, diagnostics);
        if (diagnostics.HasErrors)
        {
            return new CaseLoadResult(null, diagnostics.Items);
        }

        if (documents.Count != 1 || documents[0] is not MappingNode root)
        {
            diagnostics.Error(DiagnosticCodes.InvalidCase, new SourceLocation(path, 1, 1), "a case file holds exactly one YAML document, a map with 'name' and 'expect' or 'steps'");
            return new CaseLoadResult(null, diagnostics.Items);
        }

        var context = new CaseContext(path, text.Split('\n'), diagnostics);
        var spec = context.ReadCase(root);
        return new CaseLoadResult(diagnostics.HasErrors ? null : spec, diagnostics.Items);
    }

    private sealed class CaseContext(string path, string[] lines, DiagnosticBag diagnostics)
    {
        private readonly FieldReader _reader = new(diagnostics, Path.GetFileName(path));

        public CaseSpec? ReadCase(MappingNode root)
        {
            _reader.KnownFields(root, string.Empty, "name", "description", "origin", "options", "resources", "manifests", "steps", "expect");
            var name = _reader.Text(root, "name", "name", required: true);
            var options = SnapshotOptions.Default;
            if (_reader.Map(root, "options", "options") is { } optionMap)
            {
                _reader.KnownFields(optionMap, "options", "ipBlockScope");
                switch (_reader.Text(optionMap, "ipBlockScope", "options.ipBlockScope"))
                {
                    case null or "external":
                        break;
                    case "all":
                        options = options with { IpBlockScope = IpBlockScope.All };
                        break;
                    case var other:
                        _reader.Error(DiagnosticCodes.InvalidCase, optionMap["ipBlockScope"], "options.ipBlockScope", $"'{other}' is not a scope; use external or all");
                        break;
                }
            }

            var cluster = ClusterSpec.Empty;
            var folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
            foreach (var (item, itemPath, _) in FieldReader.Items(_reader.List(root, "resources", "resources"), "resources"))
            {
                if (_reader.Text(item, itemPath) is not { } resource)
                {
                    continue;
                }

                var full = Path.GetFullPath(Path.Combine(folder, resource));
                if (!File.Exists(full) && !Directory.Exists(full))
                {
                    _reader.Error(DiagnosticCodes.UnreadableInput, item, itemPath, $"resource '{resource}' does not exist (paths are relative to the case file)");
                    continue;
                }

                var loaded = ManifestLoader.Load([full]);
                diagnostics.AddRange(loaded.Diagnostics);
                cluster = cluster.Apply(loaded.Cluster);
            }

            if (root["manifests"] is { } manifestsNode && Inline(manifestsNode, "manifests") is { } inline)
            {
                cluster = cluster.Apply(inline);
            }

            var steps = new List<CaseStep>();
            if (root.Has("expect"))
            {
                if (root.Has("steps"))
                {
                    _reader.Error(DiagnosticCodes.InvalidCase, root["steps"], "steps", "a case has either 'expect' or 'steps', not both");
                }

                steps.Add(new CaseStep { Expect = Checks(root, "expect"), Location = root["expect"]!.Location });
            }
            else
            {
                var stepList = _reader.List(root, "steps", "steps");
                if (stepList is null)
                {
                    _reader.Error(DiagnosticCodes.InvalidCase, root, "expect", "a case needs 'expect' or 'steps'", root.Location);
                }

                foreach (var (item, itemPath, _) in FieldReader.Items(stepList, "steps"))
                {
                    if (_reader.ItemMap(item, itemPath) is { } step)
                    {
                        steps.Add(Step(step, itemPath));
                    }
                }
            }

            return name is null ? null : new CaseSpec
            {
                Name = name,
                Source = path,
                Description = (root["description"] as ScalarNode)?.Value,
                Origin = (root["origin"] as ScalarNode)?.Value,
                Options = options,
                Cluster = cluster,
                Steps = steps,
            };
        }

        private ClusterSpec? Inline(ManifestNode node, string fieldPath)
        {
            if (node is not ScalarNode scalar || scalar.IsNull)
            {
                _reader.Error(DiagnosticCodes.WrongType, node, fieldPath, $"expected multi-document YAML text (use '|'), found {node.Describe()}");
                return null;
            }

            var (firstLine, offset) = BlockPosition(scalar);
            var loaded = ManifestLoader.LoadText(scalar.Value, path, firstLine, offset);
            diagnostics.AddRange(loaded.Diagnostics);
            return loaded.Cluster;
        }

        /// <summary>Where the text of a block scalar starts in the file, so that inner diagnostics point at the right line and column.</summary>
        private (int FirstLine, int ColumnOffset) BlockPosition(ScalarNode scalar)
        {
            var line = scalar.Location.Line;
            if (line <= 0 || line > lines.Length)
            {
                return (1, 0);
            }

            var header = lines[line - 1].TrimEnd('\r');
            var isBlock = header.AsSpan(Math.Max(0, scalar.Location.Column - 1)).TrimStart().StartsWith("|") || header.AsSpan(Math.Max(0, scalar.Location.Column - 1)).TrimStart().StartsWith(">");
            if (!isBlock)
            {
                return (line, 0);
            }

            var valueLines = scalar.Value.Split('\n');
            for (var i = 0; i < valueLines.Length && line + i < lines.Length; i++)
            {
                if (valueLines[i].Trim().Length == 0)
                {
                    continue;
                }

                var raw = lines[line + i].TrimEnd('\r');
                var rawIndent = raw.Length - raw.TrimStart(' ').Length;
                var valueIndent = valueLines[i].Length - valueLines[i].TrimStart(' ').Length;
                return (line + 1, Math.Max(0, rawIndent - valueIndent));
            }

            return (line + 1, 0);
        }

        private CaseStep Step(MappingNode step, string stepPath)
        {
            _reader.KnownFields(step, stepPath, "name", "apply", "delete", "setLabels", "expect");
            var deletes = new List<(ObjectKey, SourceLocation)>();
            foreach (var (item, itemPath, _) in FieldReader.Items(_reader.List(step, "delete", $"{stepPath}.delete"), $"{stepPath}.delete"))
            {
                if (_reader.Text(item, itemPath) is { } reference && Key(reference, item, itemPath) is { } key)
                {
                    deletes.Add((key, item.Location));
                }
            }

            var labelChanges = new List<(ObjectKey, IReadOnlyDictionary<string, string?>, SourceLocation)>();
            if (_reader.Map(step, "setLabels", $"{stepPath}.setLabels") is { } setLabels)
            {
                foreach (var entry in setLabels.Entries)
                {
                    var entryPath = $"{stepPath}.setLabels.{entry.Key}";
                    if (Key(entry.Key, entry.Value, entryPath) is not { } key)
                    {
                        continue;
                    }

                    if (entry.Value is not MappingNode changes)
                    {
                        _reader.Error(DiagnosticCodes.WrongType, entry.Value, entryPath, $"expected a map of label changes, found {entry.Value.Describe()}");
                        continue;
                    }

                    var map = new Dictionary<string, string?>(StringComparer.Ordinal);
                    foreach (var change in changes.Entries)
                    {
                        map[change.Key] = change.Value is ScalarNode { IsNull: false } value ? value.Value : null;
                    }

                    labelChanges.Add((key, map, entry.KeyLocation));
                }
            }

            return new CaseStep
            {
                Name = (step["name"] as ScalarNode)?.Value,
                Delete = deletes,
                Apply = step["apply"] is { } apply ? Inline(apply, $"{stepPath}.apply") : null,
                SetLabels = labelChanges,
                Expect = Checks(step, $"{stepPath}.expect"),
                Location = step.Location,
            };
        }

        private ObjectKey? Key(string reference, ManifestNode node, string fieldPath)
        {
            var parts = reference.Split('/');
            switch (parts.Length)
            {
                case 3 when parts.All(static p => p.Length > 0):
                    return new ObjectKey(parts[0], parts[1], parts[2]);
                case 2 when parts.All(static p => p.Length > 0):
                    return new ObjectKey(parts[0], string.Empty, parts[1]);
                default:
                    _reader.Error(DiagnosticCodes.InvalidCase, node, fieldPath, $"'{reference}' is not a reference; write Kind/namespace/name, or Kind/name for cluster-scoped kinds");
                    return null;
            }
        }

        private List<CaseCheck> Checks(MappingNode parent, string fieldPath)
        {
            var checks = new List<CaseCheck>();
            var key = fieldPath.EndsWith("expect", StringComparison.Ordinal) ? "expect" : fieldPath;
            foreach (var (item, itemPath, _) in FieldReader.Items(_reader.List(parent, key, fieldPath), fieldPath))
            {
                if (_reader.ItemMap(item, itemPath) is not { } check)
                {
                    continue;
                }

                if (_reader.Map(check, "probe", $"{itemPath}.probe") is { } probe)
                {
                    if (Probe(probe, $"{itemPath}.probe") is { } parsed)
                    {
                        checks.Add(parsed);
                    }
                }
                else if (_reader.Map(check, "matrix", $"{itemPath}.matrix") is { } matrix)
                {
                    if (Matrix(matrix, $"{itemPath}.matrix") is { } parsed)
                    {
                        checks.Add(parsed);
                    }
                }
                else if (!check.Has("probe") && !check.Has("matrix"))
                {
                    _reader.Error(DiagnosticCodes.InvalidCase, check, itemPath, "a check is either 'probe' or 'matrix'");
                }
            }

            return checks;
        }

        private (Protocol Protocol, int Port)? ProtocolAndPort(MappingNode map, string fieldPath)
        {
            var protocolText = _reader.Text(map, "protocol", $"{fieldPath}.protocol", required: true);
            var port = _reader.Integer(map, "port", $"{fieldPath}.port");
            if (port is null && !map.Has("port"))
            {
                _reader.Error(DiagnosticCodes.MissingField, map, $"{fieldPath}.port", "'port' is required", map.Location);
            }

            if (protocolText is null || port is null)
            {
                return null;
            }

            // Palisade's own cases may also probe ICMP, the message type as the port (as Cilium's rules name it).
            if (protocolText is not ("TCP" or "UDP" or "SCTP" or "ICMP" or "ICMPv6") || !Protocols.TryParse(protocolText, out var protocol))
            {
                _reader.Error(DiagnosticCodes.InvalidProtocol, map["protocol"], $"{fieldPath}.protocol", $"'{protocolText}' is not a protocol; use TCP, UDP, SCTP, ICMP or ICMPv6");
                return null;
            }

            if (port < protocol.MinPort() || port > protocol.MaxPort())
            {
                var what = protocol.IsIcmp() ? $"{protocol.Name()} type" : "port";
                _reader.Error(DiagnosticCodes.InvalidPort, map["port"], $"{fieldPath}.port", $"{what} {port} is not between {protocol.MinPort()} and {protocol.MaxPort()}");
                return null;
            }

            return (protocol, (int)port.Value);
        }

        private ProbeCheck? Probe(MappingNode probe, string fieldPath)
        {
            _reader.KnownFields(probe, fieldPath, "from", "to", "protocol", "port", "http", "dns", "verdict");
            var from = _reader.Text(probe, "from", $"{fieldPath}.from", required: true);
            var to = _reader.Text(probe, "to", $"{fieldPath}.to", required: true);
            var target = ProtocolAndPort(probe, fieldPath);
            var verdict = _reader.Text(probe, "verdict", $"{fieldPath}.verdict", required: true);
            if (verdict is not null and not ("allow" or "deny"))
            {
                _reader.Error(DiagnosticCodes.InvalidCase, probe["verdict"], $"{fieldPath}.verdict", $"'{verdict}' is not a verdict; use allow or deny");
                verdict = null;
            }

            HttpRequestSpec? http = null;
            if (_reader.Map(probe, "http", $"{fieldPath}.http") is { } httpMap)
            {
                _reader.KnownFields(httpMap, $"{fieldPath}.http", "method", "path", "host", "headers");
                var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                if (_reader.Map(httpMap, "headers", $"{fieldPath}.http.headers") is { } headerMap)
                {
                    foreach (var entry in headerMap.Entries)
                    {
                        headers[entry.Key] = (entry.Value as ScalarNode)?.Value ?? string.Empty;
                    }
                }

                http = new HttpRequestSpec
                {
                    Method = _reader.Text(httpMap, "method", $"{fieldPath}.http.method"),
                    Path = _reader.Text(httpMap, "path", $"{fieldPath}.http.path"),
                    Host = _reader.Text(httpMap, "host", $"{fieldPath}.http.host"),
                    Headers = headers,
                };
            }

            string? query = null;
            if (_reader.Map(probe, "dns", $"{fieldPath}.dns") is { } dnsMap)
            {
                query = _reader.Text(dnsMap, "query", $"{fieldPath}.dns.query", required: true);
            }

            if (target is { Protocol: var icmp } && icmp.IsIcmp() && (http is not null || query is not null))
            {
                var field = http is not null ? "http" : "dns";
                _reader.Error(DiagnosticCodes.InvalidCase, probe[field], $"{fieldPath}.{field}", $"{icmp.Name()} carries no HTTP request or DNS query; probe TCP or UDP for those");
                return null;
            }

            if (from is null || to is null || target is null || verdict is null)
            {
                return null;
            }

            return new ProbeCheck
            {
                From = from,
                To = to,
                Protocol = target.Value.Protocol,
                Port = target.Value.Port,
                Http = http,
                DnsQuery = query,
                ExpectAllowed = verdict == "allow",
                Location = probe.Location,
            };
        }

        private MatrixCheck? Matrix(MappingNode matrix, string fieldPath)
        {
            _reader.KnownFields(matrix, fieldPath, "protocol", "port", "grid");
            var target = ProtocolAndPort(matrix, fieldPath);
            var gridNode = matrix["grid"];
            if (gridNode is not ScalarNode { IsNull: false } grid)
            {
                _reader.Error(DiagnosticCodes.InvalidGrid, gridNode ?? matrix, $"{fieldPath}.grid", "'grid' is required: a header line of destinations, then one line per source", matrix.Location);
                return null;
            }

            var (firstLine, offset) = BlockPosition(grid);
            var rows = grid.Value.Split('\n').Select(static l => l.TrimEnd('\r')).ToList();
            var cells = new List<(string, string, bool, SourceLocation)>();
            string[]? columns = null;
            for (var i = 0; i < rows.Count; i++)
            {
                var words = rows[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (words.Length == 0)
                {
                    continue;
                }

                var rowLocation = new SourceLocation(path, firstLine + i, offset + rows[i].Length - rows[i].TrimStart().Length + 1);
                if (columns is null)
                {
                    columns = words[0] == "from\\to" ? words[1..] : words;
                    continue;
                }

                if (words.Length != columns.Length + 1)
                {
                    diagnostics.Error(DiagnosticCodes.InvalidGrid, rowLocation, $"row '{words[0]}' has {words.Length - 1} cells but the header names {columns.Length} destinations", path, $"{fieldPath}.grid");
                    continue;
                }

                for (var c = 0; c < columns.Length; c++)
                {
                    switch (words[c + 1])
                    {
                        case ".":
                            cells.Add((words[0], columns[c], true, rowLocation));
                            break;
                        case "X":
                            cells.Add((words[0], columns[c], false, rowLocation));
                            break;
                        case "-":
                            break;
                        default:
                            diagnostics.Error(DiagnosticCodes.InvalidGrid, rowLocation, $"cell '{words[c + 1]}' of row '{words[0]}' is not '.' (allowed), 'X' (denied) or '-' (not checked)", path, $"{fieldPath}.grid");
                            break;
                    }
                }
            }

            if (columns is null)
            {
                _reader.Error(DiagnosticCodes.InvalidGrid, grid, $"{fieldPath}.grid", "the grid is empty");
                return null;
            }

            return target is null ? null : new MatrixCheck { Protocol = target.Value.Protocol, Port = target.Value.Port, Cells = cells, Location = matrix.Location };
        }
    }
}
