using System.Globalization;
using System.Text.Json;
using Palisade.Flows.Reading;
using Palisade.Flows.Storage;

namespace Palisade.Flows.Output;

/// <summary>Prints aggregate rows as a table or as JSON lines.</summary>
public static class AggregateWriter
{
    /// <summary>Writes <paramref name="rows"/> of <paramref name="aggregate"/> in <paramref name="form"/> (<c>table</c> or <c>json</c>).</summary>
    public static void Write(FlowAggregate aggregate, IReadOnlyList<FlowAggregateRow> rows, string form, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(output);
        var keys = FlowAggregateSql.KeyNames(aggregate);
        if (form == "json")
        {
            foreach (var row in rows)
            {
                var fields = new Dictionary<string, object?>();
                for (var i = 0; i < keys.Count; i++)
                {
                    fields[keys[i].ToLowerInvariant().Replace(' ', '_')] = row.Keys[i];
                }

                fields["flows"] = row.Flows;
                fields["forwarded"] = row.Forwarded;
                fields["dropped"] = row.Dropped;
                fields["first"] = Rfc3339.Format(row.FirstNanos);
                fields["last"] = Rfc3339.Format(row.LastNanos);
                output.WriteLine(JsonSerializer.Serialize(fields));
            }

            return;
        }

        if (rows.Count == 0)
        {
            return;
        }

        string[] header = [.. keys, "FLOWS", "FORWARDED", "DROPPED", "FIRST SEEN", "LAST SEEN"];
        var table = new List<string[]> { header };
        foreach (var row in rows)
        {
            table.Add([
                .. row.Keys.Select(static k => k ?? "-"),
                row.Flows.ToString("N0", CultureInfo.InvariantCulture),
                row.Forwarded.ToString("N0", CultureInfo.InvariantCulture),
                row.Dropped.ToString("N0", CultureInfo.InvariantCulture),
                Short(row.FirstNanos),
                Short(row.LastNanos),
            ]);
        }

        FlowTable.Write(output, table);
    }

    private static string Short(long nanos) => DateTime.UnixEpoch.AddTicks(nanos / 100).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
