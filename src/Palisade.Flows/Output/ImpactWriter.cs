using System.Globalization;
using System.Text.Json;
using Palisade.Flows.Attribution;
using Palisade.Flows.Reading;
using Palisade.Flows.Records;

namespace Palisade.Flows.Output;

/// <summary>Prints an impact replay: a summary line, then each group with its counts, times, verdicts and examples.</summary>
public static class ImpactWriter
{
    /// <summary>Writes <paramref name="report"/> as <c>table</c> or <c>json</c> (one group per line).</summary>
    public static void Write(ImpactReport report, string form, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(output);
        if (form == "json")
        {
            foreach (var group in report.Groups)
            {
                output.WriteLine(JsonSerializer.Serialize(new
                {
                    change = group.Change == ImpactChange.NewlyDenied ? "newly-denied" : "newly-allowed",
                    source = group.Source,
                    destination = group.Destination,
                    connection = group.Connection,
                    flows = group.Count,
                    first = Rfc3339.Format(group.FirstNanos),
                    last = Rfc3339.Format(group.LastNanos),
                    now = group.Now,
                    proposed = group.Proposed,
                    examples = group.Examples.Select(static f => f.IdText).ToArray(),
                }));
            }

            return;
        }

        var denied = report.Groups.Where(static g => g.Change == ImpactChange.NewlyDenied).Sum(static g => g.Count);
        var allowed = report.Groups.Where(static g => g.Change == ImpactChange.NewlyAllowed).Sum(static g => g.Count);
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"replayed {report.Replayed:N0} flows, judged {report.Judged:N0}: {denied:N0} would be newly denied, {allowed:N0} newly allowed, in {report.Groups.Count:N0} groups"));
        foreach (var group in report.Groups)
        {
            output.WriteLine();
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"{(group.Change == ImpactChange.NewlyDenied ? "NEWLY DENIED" : "NEWLY ALLOWED")}  {group.Source} => {group.Destination} : {group.Connection}  ({group.Count:N0} flows, {Rfc3339.Format(group.FirstNanos)} .. {Rfc3339.Format(group.LastNanos)})"));
            output.WriteLine($"  now:      {group.Now}");
            output.WriteLine($"  proposed: {group.Proposed}");
            foreach (var example in group.Examples)
            {
                output.WriteLine($"  e.g. {Rfc3339.Format(example.TimeUnixNanos)} {example.Source.Display ?? example.SourceIpText} -> {example.Destination.Display ?? example.DestinationIpText} {example.Verdict.Name()} {example.IdText}");
            }
        }
    }
}
