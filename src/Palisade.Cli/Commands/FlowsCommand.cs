using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using Palisade.Cli.Logging;
using Palisade.Compilation;
using Palisade.Flows;
using Palisade.Flows.Alerts;
using Palisade.Flows.Attribution;
using Palisade.Flows.Feed;
using Palisade.Flows.Output;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;
using Palisade.Flows.Storage;
using Palisade.Model;

namespace Palisade.Cli.Commands;

/// <summary><c>palisade flows</c>: Hubble flows into a durable store, and questions about them.</summary>
internal static class FlowsCommand
{
    public static Command Create(TextWriter output, TextWriter error, TimeProvider clock)
    {
        var command = new Command(
            "flows",
            "Keep Hubble flows in a durable store and ask about them: ingest files or streams, observe with filters. " +
            "The store is an embedded DuckDB file under the data folder unless --store names another.")
        {
            Ingest(output, error, clock),
            Observe(output, error, clock),
            Map(output, error, clock),
            Top(output, error, clock),
            Impact(output, error, clock),
            Retention(output, error, clock),
            Alerts(output, error, clock),
        };
        return command;
    }

    private static Option<string?> StoreOption() => new("--store")
    {
        Description = $"Where flows are kept: duckdb:PATH or postgres:CONNECTION-STRING (default: duckdb:{FlowStoreLocation.Default.Target}; the data folder is ${FlowStoreLocation.DataFolderVariable}, else $XDG_DATA_HOME/palisade, else ~/.local/share/palisade)",
    };

    /// <summary>Opens the store an option names; null (with a diagnostic printed) when it cannot.</summary>
    private static async Task<IFlowStore?> OpenStore(string? value, TextWriter error, CancellationToken cancel)
    {
        var location = FlowStoreLocation.Parse(value, out var problem);
        if (location is null)
        {
            error.WriteLine($"--store: error PAL0102: {problem}");
            return null;
        }

        try
        {
            return await FlowStores.OpenAsync(location, cancel).ConfigureAwait(false);
        }
        catch (FlowStoreException failure)
        {
            error.WriteLine($"{location}: error PAL0102: {failure.Message}");
            return null;
        }
    }

    /// <summary>The feed of an ingest into a DuckDB file, or null (another store, or a feed that cannot be served: warned).</summary>
    private static FlowFeedServer? StartFeed(IFlowStore store, TextWriter error)
    {
        if (store is not DuckDbFlowStore { Location: not ":memory:" } duck || OperatingSystem.IsWindows())
        {
            return null;
        }

        try
        {
            return FlowFeedServer.Start(FlowFeed.PathFor(duck.Location));
        }
        catch (FlowFeedException failure)
        {
            error.WriteLine($"palisade: warning: 'flows observe --follow' cannot follow this ingest: {failure.Message}");
            return null;
        }
    }

    private static Command Ingest(TextWriter output, TextWriter error, TimeProvider clock)
    {
        var files = new Argument<string[]>("FILE")
        {
            Arity = ArgumentArity.OneOrMore,
            Description = "Hubble flow files ('hubble observe -o jsonpb' or '-o json' output, Hubble exporter files; plain or gzip), folders of rotated exporter files, or - for standard input",
        };
        var store = StoreOption();
        var batch = new Option<int>("--batch-size") { Description = "Lines read into each batch; up to four parsed batches are stored in one transaction, and a crash loses at most the batches in flight: as many as there are cores, plus five (plus four more for PostgreSQL, which stores two writes at once)", DefaultValueFactory = _ => 8192 };
        var policies = PoliciesOption("Attribute each flow to these policies (manifest files or folders): the engine's verdict, the deciding tier, policy and rule, and whether they disagree with what Hubble observed");
        var projectLabel = ProjectLabelOption();
        var alerts = AlertsOption();
        var webhook = WebhookOption();
        var command = new Command(
            "ingest",
            "Read Hubble flows and store them. A flow read twice (the same file again, or exports that overlap) is stored once. " +
            "Malformed lines are reported with their line and column and left out; the rest is stored, and the exit code is then 2.")
        {
            files, store, batch, policies, projectLabel, alerts, webhook,
        };

        command.SetAction(async (parse, cancel) =>
        {
            var size = parse.GetValue(batch);
            if (size < 1)
            {
                error.WriteLine("palisade: --batch-size must be at least 1");
                return ExitCodes.BadInput;
            }

            var sources = parse.GetRequiredValue(files);
            foreach (var source in sources)
            {
                if (source != "-" && !File.Exists(source) && !Directory.Exists(source))
                {
                    error.WriteLine($"{source}: error PAL0101: no such file or folder");
                    return ExitCodes.BadInput;
                }
            }

            await using var flows = await OpenStore(parse.GetValue(store), error, cancel).ConfigureAwait(false);
            if (flows is null)
            {
                return ExitCodes.BadInput;
            }

            using var progress = new ProgressLine(error);
            FlowAttributor? attributor = null;
            PolicySnapshot? snapshot = null;
            if (parse.GetValue(policies) is { Length: > 0 } policyPaths)
            {
                snapshot = LoadSnapshot(policyPaths, error, progress);
                if (snapshot is null)
                {
                    return ExitCodes.BadInput;
                }

                attributor = new FlowAttributor(snapshot, new AttributionOptions { ProjectLabel = parse.GetRequiredValue(projectLabel) });
            }

            var alerting = LoadAlerts(parse.GetValue(alerts), parse.GetValue(webhook), error, snapshot?.Spec.CidrGroups);
            if (alerting is { Failed: true })
            {
                return ExitCodes.BadInput;
            }

            // An embedded store is one process's: others follow this ingest through its feed.
            await using var feed = StartFeed(flows, error);
            long raised = 0;
            Func<IReadOnlyList<FlowRecord>, CancellationToken, Task>? onNew = null;
            if (alerting is { Evaluator: { } evaluator } || feed is not null)
            {
                var feedFailed = false;
                onNew = async (fresh, token) =>
                {
                    if (feed is not null && !feedFailed)
                    {
                        try
                        {
                            feed.Publish(fresh);
                        }
                        catch (Exception failure) when (failure is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
                        {
                            // Storing matters more than following: say so once, and go on storing.
                            feedFailed = true;
                            error.WriteLine($"palisade: warning: the feed for 'flows observe --follow' stopped: {failure.Message}");
                        }
                    }

                    if (alerting is { Evaluator: { } rules })
                    {
                        raised += await rules.RaiseAsync(fresh, alerting.Sinks, token).ConfigureAwait(false);
                    }
                };
            }

            var ingestor = new FlowIngestor(flows) { BatchSize = size, Enrich = attributor is null ? null : attributor.Attribute, Clock = clock, OnNew = onNew };
            var result = await ingestor.IngestAsync(
                sources,
                new Progress<IngestProgress>(p => progress.Show(string.Create(CultureInfo.InvariantCulture, $"ingesting {p.Source}: {p.Lines:N0} lines, {p.Written:N0} flows stored, {p.Duplicates:N0} already stored"))),
                cancel).ConfigureAwait(false);
            progress.Dispose();

            var read = result.Read;
            foreach (var problem in read.Problems)
            {
                error.WriteLine(problem.ToString());
            }

            if (read.Malformed > read.Problems.Count)
            {
                error.WriteLine($"palisade: ... and {read.Malformed - read.Problems.Count} more malformed lines");
            }

            var seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-6);
            if (attributor is not null)
            {
                output.WriteLine($"attributed every flow to the policies (snapshot revision {attributor.Revision})");
            }

            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"read {read.Lines:N0} lines from {result.Sources.Count} source{(result.Sources.Count == 1 ? string.Empty : "s")}: {read.Flows:N0} flows, {read.NotFlows:N0} other events, {read.Malformed:N0} malformed"));
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"stored {result.Stored.Written:N0} new flows ({result.Stored.Duplicates:N0} already stored) in {result.Elapsed.TotalSeconds:F2} s, {read.Flows / seconds:N0} flows/s, into {flows.Description}"));
            if (alerting is not null)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"raised {raised:N0} alerts on the new flows"));
            }

            if (result.Expired > 0)
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"retention deleted {result.Expired:N0} expired flows"));
            }

            return read.Malformed > 0 ? ExitCodes.BadInput : ExitCodes.Success;
        });
        return command;
    }

    private static Command Observe(TextWriter output, TextWriter error, TimeProvider clock)
    {
        var store = StoreOption();
        var last = new Option<int?>("--last") { Description = "Only the newest N flows (printed oldest first)" };
        var format = new Option<string>("--output", "-o")
        {
            Description = "table (for people), json (Palisade's flat form, one object per line) or jsonpb (Hubble's form, one GetFlowsResponse per line, as 'hubble observe -o jsonpb' prints)",
            DefaultValueFactory = _ => "table",
        }.AcceptOnlyFromAmong("table", "json", "jsonpb");
        var follow = new Option<bool>("--follow", "-f") { Description = "After the stored flows, print new ones as they are stored, until interrupted" };
        var filters = new FlowFilterOptions();
        var command = new Command(
            "observe",
            "Print stored flows, oldest first, filtered as 'hubble observe' filters them. Filters of one kind are alternatives; filters of different kinds must all hold.")
        {
            store, last, format, follow,
        };
        filters.AddTo(command);

        command.SetAction(async (parse, cancel) =>
        {
            var query = filters.Query(parse, error, clock.GetUtcNow());
            if (query is null)
            {
                return ExitCodes.BadInput;
            }

            if (parse.GetValue(last) is < 1)
            {
                error.WriteLine("palisade: --last must be at least 1");
                return ExitCodes.BadInput;
            }

            query = query with { Limit = parse.GetValue(last), Newest = parse.GetValue(last) is not null };
            var form = parse.GetRequiredValue(format);
            if (parse.GetValue(follow) && !OperatingSystem.IsWindows() &&
                FlowStoreLocation.Parse(parse.GetValue(store), out _) is { Kind: FlowStoreKind.DuckDb, Target: not ":memory:" } embedded)
            {
                return await FollowEmbedded(embedded, query, new FlowPrinter(output, form), error, cancel).ConfigureAwait(false);
            }

            await using var flows = await OpenStore(parse.GetValue(store), error, cancel).ConfigureAwait(false);
            if (flows is null)
            {
                return ExitCodes.BadInput;
            }

            var printer = new FlowPrinter(output, form);
            long lastTime = long.MinValue;
            var lastIds = new HashSet<UInt128>();
            await foreach (var flow in flows.QueryAsync(query, cancel).ConfigureAwait(false))
            {
                printer.Add(flow);
                Remember(flow, ref lastTime, lastIds);
            }

            printer.Flush();
            if (!parse.GetValue(follow))
            {
                if (printer.Printed == 0)
                {
                    error.WriteLine($"palisade: no flow in {flows.Description} matches");
                }

                return ExitCodes.Success;
            }

            // Follow: ask again for flows at or after the newest one seen, leaving out those already printed.
            var next = query with { Limit = null, Newest = false };
            while (!cancel.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), clock, cancel).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                var fresh = next with { SinceNanos = lastTime == long.MinValue ? next.SinceNanos : Math.Max(lastTime, next.SinceNanos ?? long.MinValue) };
                await foreach (var flow in flows.QueryAsync(fresh, cancel).ConfigureAwait(false))
                {
                    if (flow.TimeUnixNanos == lastTime && lastIds.Contains(flow.Id))
                    {
                        continue;
                    }

                    printer.Add(flow);
                    Remember(flow, ref lastTime, lastIds);
                }

                printer.Flush();
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// <c>observe --follow</c> on a DuckDB file: the stored flows when the file is free (it is closed again
    /// at once, so that an ingest can open it), then the flows an ingest stores, from its feed, waiting
    /// for one when none runs. Stored flows cannot be read while an ingest holds the file; that is said.
    /// </summary>
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static async Task<int> FollowEmbedded(FlowStoreLocation location, FlowQuery query, FlowPrinter printer, TextWriter error, CancellationToken cancel)
    {
        try
        {
            await using var flows = await FlowStores.OpenAsync(location, cancel).ConfigureAwait(false);
            await foreach (var flow in flows.QueryAsync(query, cancel).ConfigureAwait(false))
            {
                printer.Add(flow);
            }

            printer.Flush();
        }
        catch (FlowStoreException failure) when (failure.HeldByAnotherProcess)
        {
            error.WriteLine($"palisade: {location} is open in another process (an ingest): following its feed; the stored flows can be read when it stops");
        }
        catch (FlowStoreException failure)
        {
            error.WriteLine($"{location}: error PAL0102: {failure.Message}");
            return ExitCodes.BadInput;
        }

        var feed = FlowFeed.PathFor(location.Target);
        var next = query with { Limit = null, Newest = false };
        void Status(FlowFeedClient.State state) => error.WriteLine(state switch
        {
            FlowFeedClient.State.Waiting => $"palisade: waiting for an ingest into {location} (none is running)",
            FlowFeedClient.State.Following => $"palisade: following the ingest into {location}",
            _ => "palisade: the feed ended (the ingest stopped, or this follower fell too far behind); waiting for an ingest (flows stored meanwhile are in the store, not printed here)",
        });

        // The feed carries only flows stored while this follower is connected: none was printed above.
        try
        {
            await foreach (var flow in FlowFeedClient.FollowAsync(feed, Status, cancel).ConfigureAwait(false))
            {
                if (next.Matches(flow))
                {
                    printer.Add(flow);
                    printer.Flush();
                }
            }
        }
        catch (FlowFeedException failure)
        {
            error.WriteLine($"{location}: error PAL0102: cannot follow: {failure.Message}");
            return ExitCodes.BadInput;
        }

        return ExitCodes.Success;
    }

    private static Option<string?> AlertsOption() => new("--alerts")
    {
        Description = "Alert rules (a FlowAlertRules YAML file) to evaluate: alerts go to stderr, and to the webhook the file or --webhook names",
    };

    private static Option<string?> WebhookOption() => new("--webhook")
    {
        Description = "Post each alert as JSON to this URL (overrides the rule file's 'webhook')",
    };

    /// <summary>Alert rules and where their alerts go; Failed when the rules or URL are bad (diagnostics printed).</summary>
    private sealed record Alerting(FlowAlertEvaluator? Evaluator, IReadOnlyList<IAlertSink> Sinks, bool Failed)
    {
        public int RuleCount { get; init; }
    }

    private static Alerting? LoadAlerts(string? rulesPath, string? webhook, TextWriter error, IReadOnlyList<CiliumCidrGroupSpec>? cidrGroups)
    {
        if (rulesPath is null)
        {
            if (webhook is not null)
            {
                error.WriteLine("palisade: --webhook goes with --alerts (the rules that raise the alerts)");
                return new Alerting(null, [], Failed: true);
            }

            return null;
        }

        var loaded = Palisade.Manifests.AlertRuleFileReader.Read(rulesPath);
        CommonOptions.Print(loaded.Diagnostics, error);
        if (loaded.HasErrors)
        {
            return new Alerting(null, [], Failed: true);
        }

        var rules = loaded.Rules!;
        if (rules.NamesCidrGroups)
        {
            // Approved destinations kept in CiliumCIDRGroups come from the manifests that define them.
            if (cidrGroups is null)
            {
                error.WriteLine($"palisade: {rulesPath}: approvedCidrGroups names CiliumCIDRGroups; give --policies with the manifests that define them");
                return new Alerting(null, [], Failed: true);
            }

            rules = rules.WithCidrGroups(cidrGroups, out var missing);
            CommonOptions.Print(missing, error);
            if (missing.Count > 0)
            {
                return new Alerting(null, [], Failed: true);
            }
        }

        var url = rules.Webhook;
        if (webhook is not null && (!Uri.TryCreate(webhook, UriKind.Absolute, out url) || url.Scheme is not ("http" or "https")))
        {
            error.WriteLine($"palisade: --webhook '{webhook}' is not an http or https URL");
            return new Alerting(null, [], Failed: true);
        }

        var sinks = new List<IAlertSink> { new TextAlertSink(error) };
        if (url is not null)
        {
            sinks.Add(new WebhookAlertSink(SharedHttp.Value, url, error));
        }

        return new Alerting(new FlowAlertEvaluator(rules), sinks, Failed: false) { RuleCount = rules.Rules.Count };
    }

    private static readonly Lazy<HttpClient> SharedHttp = new(() => new HttpClient { Timeout = TimeSpan.FromSeconds(10) });

    private static Option<string[]> PoliciesOption(string description) => new("--policies")
    {
        Description = description,
        Arity = ArgumentArity.ZeroOrMore,
    };

    private static Option<string> ProjectLabelOption() => new("--project-label")
    {
        Description = "The namespace label that names a namespace's research project",
        DefaultValueFactory = _ => new AttributionOptions().ProjectLabel,
    };

    /// <summary>Reads and compiles policies; null (with diagnostics printed) when they have errors.</summary>
    private static PolicySnapshot? LoadSnapshot(string[] paths, TextWriter error, ProgressLine progress)
    {
        var log = CommonOptions.Logger(error, verbose: false);
        var cluster = CommonOptions.Load(paths, error, log, progress);
        return cluster is null ? null : CommonOptions.Compile(cluster, new SnapshotOptions(), log, progress);
    }

    private static Command Impact(TextWriter output, TextWriter error, TimeProvider clock)
    {
        var store = StoreOption();
        var policies = PoliciesOption("The proposed policy set: manifest files or folders (with the cluster's namespaces and workloads)");
        policies.Required = true;
        var current = PoliciesOption("The policies in force now, to compare with; without it, each flow's stored attribution, or else what Hubble observed");
        current.Aliases.Add("--current");
        var format = new Option<string>("--output", "-o") { Description = "table or json (one group per line)", DefaultValueFactory = _ => "table" }.AcceptOnlyFromAmong("table", "json");
        var projectLabel = ProjectLabelOption();
        var filters = new FlowFilterOptions(defaultSince: "7d");
        var command = new Command(
            "impact",
            "Replay stored flows against a proposed policy set and report the flows whose verdict would change, newly denied (what the change would break) " +
            "and newly allowed (what it would open), grouped by workload pair and connection with counts, times and examples. Exit code 1 when any would change.")
        {
            store, policies, format, projectLabel,
        };
        command.Options.Add(current);
        filters.AddTo(command);

        command.SetAction(async (parse, cancel) =>
        {
            var query = filters.Query(parse, error, clock.GetUtcNow());
            if (query is null)
            {
                return ExitCodes.BadInput;
            }

            using var progress = new ProgressLine(error);
            var proposed = LoadSnapshot(parse.GetRequiredValue(policies), error, progress);
            if (proposed is null)
            {
                return ExitCodes.BadInput;
            }

            PolicySnapshot? inForce = null;
            if (parse.GetValue(current) is { Length: > 0 } currentPaths)
            {
                inForce = LoadSnapshot(currentPaths, error, progress);
                if (inForce is null)
                {
                    return ExitCodes.BadInput;
                }
            }

            await using var flows = await OpenStore(parse.GetValue(store), error, cancel).ConfigureAwait(false);
            if (flows is null)
            {
                return ExitCodes.BadInput;
            }

            progress.Show("replaying stored flows");
            var report = await FlowImpact.ReplayAsync(
                flows,
                query,
                proposed,
                inForce,
                new AttributionOptions { ProjectLabel = parse.GetRequiredValue(projectLabel) },
                new Progress<long>(n => progress.Show(string.Create(CultureInfo.InvariantCulture, $"replaying stored flows: {n:N0}"))),
                cancel).ConfigureAwait(false);
            progress.Dispose();
            ImpactWriter.Write(report, parse.GetRequiredValue(format), output);
            return report.Changed > 0 ? ExitCodes.Findings : ExitCodes.Success;
        });
        return command;
    }

    private static Command Map(TextWriter output, TextWriter error, TimeProvider clock) =>
        AggregateCommand(
            "map",
            "The service map: which workload talked to which (or to which outside name or address), on which protocol and port, how often, " +
            "how many flows were forwarded and dropped, and when first and last. Replies are left out, so each connection counts from the side that opened it.",
            _ => FlowAggregate.ServiceMap,
            null,
            output,
            error,
            clock);

    private static Command Top(TextWriter output, TextWriter error, TimeProvider clock)
    {
        var by = new Option<string>("--by")
        {
            Description = "talkers (source and destination with the most flows), drops-by-policy, drops-by-reason, or outside (each namespace's destinations outside the cluster by DNS name and address)",
            DefaultValueFactory = _ => "talkers",
        }.AcceptOnlyFromAmong("talkers", "drops-by-policy", "drops-by-reason", "outside");
        return AggregateCommand(
            "top",
            "The most frequent: talkers, dropped flows by deciding policy or by drop reason, or each namespace's outside destinations.",
            parse => parse.GetRequiredValue(by) switch
            {
                "drops-by-policy" => FlowAggregate.DropsByPolicy,
                "drops-by-reason" => FlowAggregate.DropsByReason,
                "outside" => FlowAggregate.OutsideDestinations,
                _ => FlowAggregate.TopTalkers,
            },
            by,
            output,
            error,
            clock);
    }

    private static Command AggregateCommand(string name, string description, Func<ParseResult, FlowAggregate> which, Option? extra, TextWriter output, TextWriter error, TimeProvider clock)
    {
        var store = StoreOption();
        var limit = new Option<int>("--limit") { Description = "At most this many rows", DefaultValueFactory = _ => 50 };
        var format = new Option<string>("--output", "-o") { Description = "table or json (one row per line)", DefaultValueFactory = _ => "table" }.AcceptOnlyFromAmong("table", "json");
        var filters = new FlowFilterOptions();
        var command = new Command(name, description) { store, limit, format };
        if (extra is not null)
        {
            command.Options.Add(extra);
        }

        filters.AddTo(command);
        command.SetAction(async (parse, cancel) =>
        {
            var query = filters.Query(parse, error, clock.GetUtcNow());
            if (query is null)
            {
                return ExitCodes.BadInput;
            }

            if (parse.GetValue(limit) < 1)
            {
                error.WriteLine("palisade: --limit must be at least 1");
                return ExitCodes.BadInput;
            }

            await using var flows = await OpenStore(parse.GetValue(store), error, cancel).ConfigureAwait(false);
            if (flows is null)
            {
                return ExitCodes.BadInput;
            }

            var aggregate = which(parse);
            using var progress = new ProgressLine(error);
            progress.Show("summarising stored flows");
            var rows = await flows.AggregateAsync(query, aggregate, parse.GetValue(limit), cancel).ConfigureAwait(false);
            progress.Dispose();
            AggregateWriter.Write(aggregate, rows, parse.GetRequiredValue(format), output);
            if (rows.Count == 0)
            {
                error.WriteLine($"palisade: no flow in {flows.Description} matches");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Retention(TextWriter output, TextWriter error, TimeProvider clock)
    {
        var store = StoreOption();
        var set = new Option<string[]>("--set")
        {
            Description = "Keep a namespace's flows (either end), a project's (project:NAME) or every other flow's (*) this long: NAMESPACE=400d, project:alpha=400d, *=30d (repeatable)",
            Arity = ArgumentArity.ZeroOrMore,
        };
        var unset = new Option<string[]>("--unset") { Description = "Remove the rule for this target (repeatable)", Arity = ArgumentArity.ZeroOrMore };
        var apply = new Option<bool>("--apply") { Description = "Delete expired flows now (ingest also does, at its start, every hour and at its end)" };
        var dryRun = new Option<bool>("--dry-run") { Description = "With --apply: count what would be deleted, delete nothing" };
        var command = new Command(
            "retention",
            "Show or change how long flows are kept, per namespace or project, and apply it. A flow is kept as long as the longest rule that matches it; " +
            "'*' covers flows no other rule matches; without a '*' rule those are kept for good. The rules live in the store, so every Palisade that uses it applies them.")
        {
            store, set, unset, apply, dryRun,
        };

        command.SetAction(async (parse, cancel) =>
        {
            var changes = new List<RetentionRule>();
            foreach (var text in parse.GetValue(set) ?? [])
            {
                var rule = RetentionRule.Parse(text, out var problem);
                if (rule is null)
                {
                    error.WriteLine($"palisade: --set: {problem}");
                    return ExitCodes.BadInput;
                }

                changes.Add(rule);
            }

            if (parse.GetValue(dryRun) && !parse.GetValue(apply))
            {
                error.WriteLine("palisade: --dry-run goes with --apply");
                return ExitCodes.BadInput;
            }

            await using var flows = await OpenStore(parse.GetValue(store), error, cancel).ConfigureAwait(false);
            if (flows is null)
            {
                return ExitCodes.BadInput;
            }

            IReadOnlyList<RetentionRule> rules = await flows.GetRetentionRulesAsync(cancel).ConfigureAwait(false);
            var removed = parse.GetValue(unset) ?? [];
            if (changes.Count > 0 || removed.Length > 0)
            {
                var changed = RetentionRule.Change(rules, changes, removed, out var problem);
                if (changed is null)
                {
                    error.WriteLine($"palisade: --unset: {problem}");
                    return ExitCodes.BadInput;
                }

                await flows.SetRetentionRulesAsync(changed, cancel).ConfigureAwait(false);
                rules = changed;
            }

            if (rules.Count == 0)
            {
                output.WriteLine($"no retention rules in {flows.Description}: flows are kept for good");
            }
            else
            {
                output.WriteLine($"retention rules in {flows.Description}:");
                foreach (var rule in RetentionRule.InOrder(rules))
                {
                    output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {rule.Describe()}: {rule.Days} days"));
                }
            }

            if (parse.GetValue(apply))
            {
                var now = clock.GetUtcNow();
                var result = await flows.ApplyRetentionAsync(FlowTimes.ToNanos(now), parse.GetValue(dryRun), cancel).ConfigureAwait(false);
                var partitions = result.DroppedPartitions.Count == 0 ? string.Empty : $" ({result.DroppedPartitions.Count} whole day partitions)";
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{(result.DryRun ? "would delete" : "deleted")} {result.Deleted:N0} expired flows{partitions}"));
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Alerts(TextWriter output, TextWriter error, TimeProvider clock)
    {
        var store = StoreOption();
        var rules = new Option<string>("--rules") { Description = "The alert rules (a FlowAlertRules YAML file)", Required = true };
        var filters = new FlowFilterOptions();
        var deliver = new Option<bool>("--deliver") { Description = "Also deliver the alerts to the rule file's webhook (or --webhook); without it they are only printed" };
        var webhook = WebhookOption();
        var format = new Option<string>("--output", "-o") { Description = "table or json (one alert per line, as the webhook gets it)", DefaultValueFactory = _ => "table" }.AcceptOnlyFromAmong("table", "json");
        var policies = PoliciesOption("Manifests that define the CiliumCIDRGroups the rules' approvedCidrGroups name");
        var command = new Command(
            "alerts",
            "Replay stored flows through alert rules and print the alerts they raise, folded within each rule's window as on ingest: to try rules before " +
            "'palisade flows ingest --alerts' raises them on new flows. Exit code 1 when any alert is raised.")
        {
            store, rules, deliver, webhook, format, policies,
        };
        filters.AddTo(command);

        command.SetAction(async (parse, cancel) =>
        {
            var query = filters.Query(parse, error, clock.GetUtcNow());
            if (query is null)
            {
                return ExitCodes.BadInput;
            }

            IReadOnlyList<CiliumCidrGroupSpec>? cidrGroups = null;
            if (parse.GetValue(policies) is { Length: > 0 } policyPaths)
            {
                using var progress = new ProgressLine(error);
                if (CommonOptions.Load(policyPaths, error, CommonOptions.Logger(error, verbose: false), progress) is not { } cluster)
                {
                    return ExitCodes.BadInput;
                }

                cidrGroups = cluster.CidrGroups;
            }

            var alerting = LoadAlerts(parse.GetRequiredValue(rules), parse.GetValue(webhook), error, cidrGroups);
            if (alerting is null || alerting.Failed)
            {
                return ExitCodes.BadInput;
            }

            await using var flows = await OpenStore(parse.GetValue(store), error, cancel).ConfigureAwait(false);
            if (flows is null)
            {
                return ExitCodes.BadInput;
            }

            var evaluator = alerting.Evaluator!;
            var webhookSink = parse.GetValue(deliver) ? alerting.Sinks.OfType<WebhookAlertSink>().FirstOrDefault() : null;
            if (parse.GetValue(deliver) && webhookSink is null)
            {
                error.WriteLine("palisade: --deliver needs a webhook: in the rule file, or --webhook");
                return ExitCodes.BadInput;
            }

            var sinks = new List<IAlertSink> { new AlertLineSink(output, parse.GetRequiredValue(format) == "json") };
            if (webhookSink is not null)
            {
                sinks.Add(webhookSink);
            }

            var raised = await evaluator.ReplayAsync(flows.QueryAsync(query, cancel), sinks, cancel).ConfigureAwait(false);
            error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"palisade: {raised:N0} alerts from {alerting.RuleCount} rules"));
            return raised > 0 ? ExitCodes.Findings : ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Prints alerts to the command's output: one line each, or one JSON object each, as the webhook gets them.</summary>
    private sealed class AlertLineSink(TextWriter output, bool json) : IAlertSink
    {
        public Task DeliverAsync(IReadOnlyList<FlowAlert> alerts, CancellationToken cancel = default)
        {
            foreach (var alert in alerts)
            {
                output.WriteLine(json ? System.Text.Json.JsonSerializer.Serialize(alert) : alert.ToString());
            }

            return Task.CompletedTask;
        }
    }

    private static void Remember(FlowRecord flow, ref long lastTime, HashSet<UInt128> lastIds)
    {
        if (flow.TimeUnixNanos > lastTime)
        {
            lastTime = flow.TimeUnixNanos;
            lastIds.Clear();
        }

        lastIds.Add(flow.Id);
    }

    /// <summary>Prints flows in one of the output forms; a table is aligned per batch, with a policy column once flows are attributed.</summary>
    private sealed class FlowPrinter(TextWriter output, string form)
    {
        private readonly List<FlowRecord> _table = [];
        private bool _header;

        public long Printed { get; private set; }

        public void Add(FlowRecord flow)
        {
            Printed++;
            switch (form)
            {
                case "json":
                    output.WriteLine(FlowJson.ToFlatJson(flow));
                    break;
                case "jsonpb":
                    output.WriteLine(FlowJson.ToJsonpb(flow));
                    break;
                default:
                    _table.Add(flow);
                    break;
            }
        }

        public void Flush()
        {
            if (_table.Count > 0)
            {
                var attributed = _table.Exists(static f => f.Attribution is not null);
                var rows = new List<string[]>(_table.Count + 1);
                if (!_header)
                {
                    rows.Add(FlowTable.Header(attributed));
                    _header = true;
                }

                rows.AddRange(_table.Select(f => FlowTable.Row(f, attributed)));
                FlowTable.Write(output, rows);
                _table.Clear();
            }

            output.Flush();
        }
    }
}
