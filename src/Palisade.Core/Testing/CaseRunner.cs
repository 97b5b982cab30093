using Palisade.Compilation;
using Palisade.Diagnostics;
using Palisade.Model;
using Palisade.Sets;
using Palisade.Verdicts;

namespace Palisade.Testing;

/// <summary>One check that did not hold: what was expected, what the engine says, and why.</summary>
public sealed record CheckFailure
{
    /// <summary>Where the check (or matrix cell) is written.</summary>
    public required SourceLocation Location { get; init; }

    /// <summary>The step, by name or number.</summary>
    public required string Step { get; init; }

    /// <summary>The connection, e.g. <c>x/a => y/b TCP 80</c>.</summary>
    public required string Connection { get; init; }

    /// <summary>The expected verdict.</summary>
    public required bool ExpectedAllowed { get; init; }

    /// <summary>The engine's explanation of its verdict.</summary>
    public required Explanation Explanation { get; init; }
}

/// <summary>The result of running one case file.</summary>
public sealed record CaseResult
{
    /// <summary>The case.</summary>
    public required CaseSpec Case { get; init; }

    /// <summary>Checks that held.</summary>
    public required int Passed { get; init; }

    /// <summary>Checks that did not.</summary>
    public required IReadOnlyList<CheckFailure> Failures { get; init; }

    /// <summary>Problems that stopped the case (an unknown pod in a probe, a step that deletes nothing).</summary>
    public required IReadOnlyList<Diagnostic> Errors { get; init; }

    /// <summary>Checks that did not hold.</summary>
    public int Failed => Failures.Count;
}

/// <summary>Runs connectivity cases: applies each step's changes, compiles a snapshot, and evaluates every check.</summary>
public static class CaseRunner
{
    /// <summary>Runs <paramref name="spec"/>. Every check is evaluated even after failures.</summary>
    public static CaseResult Run(CaseSpec spec)
    {
        var errors = new List<Diagnostic>();
        var failures = new List<CheckFailure>();
        var passed = 0;
        var cluster = spec.Cluster;
        for (var index = 0; index < spec.Steps.Count; index++)
        {
            var step = spec.Steps[index];
            var stepName = step.Name ?? (spec.Steps.Count == 1 ? "expect" : $"step {index + 1}");
            foreach (var (key, location) in step.Delete)
            {
                cluster = cluster.Delete([key], out var missing);
                if (missing.Count > 0)
                {
                    errors.Add(new Diagnostic(DiagnosticCodes.UnknownReference, Severity.Error, location, $"{stepName}: delete {key}: no such object"));
                }
            }

            if (step.Apply is not null)
            {
                cluster = cluster.Apply(step.Apply);
            }

            foreach (var (key, labels, location) in step.SetLabels)
            {
                var changed = cluster.SetLabels(key, labels);
                if (changed is null)
                {
                    errors.Add(new Diagnostic(DiagnosticCodes.UnknownReference, Severity.Error, location, $"{stepName}: setLabels {key}: no such Pod, Namespace, Node or workload"));
                    continue;
                }

                cluster = changed;
            }

            if (step.Expect.Count == 0)
            {
                continue;
            }

            var snapshot = SnapshotCompiler.Compile(cluster, spec.Options);
            foreach (var check in step.Expect)
            {
                switch (check)
                {
                    case ProbeCheck probe:
                        var request = probe.DnsQuery is { } query
                            ? new L7Request { DnsQuery = query }
                            : probe.Http is { } http ? new L7Request { Method = http.Method, Path = http.Path, Host = http.Host, Headers = http.Headers } : null;
                        Evaluate(snapshot, stepName, probe.From, probe.To, probe.Protocol, probe.Port, probe.ExpectAllowed, probe.Location, failures, errors, ref passed, request);
                        break;
                    case MatrixCheck matrix:
                        foreach (var (from, to, allowed, location) in matrix.Cells)
                        {
                            Evaluate(snapshot, stepName, from, to, matrix.Protocol, matrix.Port, allowed, location, failures, errors, ref passed);
                        }

                        break;
                }
            }
        }

        return new CaseResult { Case = spec, Passed = passed, Failures = failures, Errors = errors };
    }

    private static void Evaluate(
        PolicySnapshot snapshot,
        string step,
        string from,
        string to,
        Protocol protocol,
        int port,
        bool expectAllowed,
        SourceLocation location,
        List<CheckFailure> failures,
        List<Diagnostic> errors,
        ref int passed,
        L7Request? request = null)
    {
        if (!snapshot.TryResolve(from, out var source, out var fromError))
        {
            errors.Add(new Diagnostic(DiagnosticCodes.UnknownReference, Severity.Error, location, $"{step}: from: {fromError}"));
            return;
        }

        if (!snapshot.TryResolve(to, out var destination, out var toError))
        {
            errors.Add(new Diagnostic(DiagnosticCodes.UnknownReference, Severity.Error, location, $"{step}: to: {toError}"));
            return;
        }

        if (snapshot.Evaluate(source, destination, protocol, port, request) == expectAllowed)
        {
            passed++;
            return;
        }

        failures.Add(new CheckFailure
        {
            Location = location,
            Step = step,
            Connection = $"{from} => {to} {protocol.Name()} {port}{(request is null ? string.Empty : $" {request}")}",
            ExpectedAllowed = expectAllowed,
            Explanation = snapshot.Explain(source, destination, protocol, port, request),
        });
    }
}
