using System.Globalization;

namespace Palisade.Flows.Storage;

/// <summary>
/// The shared store's hourly totals, in <c>flow_hours</c>: for each hour, pair of ends, destination
/// port (none for a reply, as in the embedded store) and the columns a flow's shape holds, how many
/// flows there were and the first and last time among them.
/// </summary>
/// <remarks>
/// <para>
/// Several replicas write one PostgreSQL history, so nothing is counted in memory: the statement that
/// inserts a batch's flows also inserts the totals of the flows it really added (those not already
/// stored), in the same transaction. Every hour is therefore in the totals as soon as its flows are,
/// and counts and aggregates read the flows only for the edges of their time range.
/// </para>
/// <para>
/// Each batch adds rows of its own, so a replica compacts the hours it wrote to, a row a key, once it
/// writes a later hour and when it closes. Compaction is one statement (delete the hour's rows and
/// insert their sums), so rows that another replica adds meanwhile are neither lost nor counted twice.
/// A replica that stops without closing leaves its newest hours uncompacted: still right, only larger,
/// until a write to those hours compacts them again.
/// </para>
/// </remarks>
internal static class PostgresFlowHours
{
    /// <summary>The columns that make a row's key after its hour, in order.</summary>
    public static readonly IReadOnlyList<string> Keys = ["src", "dst", "dst_port", .. FlowShape.Columns];

    /// <summary>How counts and aggregates read the totals: every column they group by is in the table.</summary>
    public static readonly FlowCounting Counting = new("flow_hours", "flow_hours", "sum(flows)::bigint", "flows", "first_ns", "last_ns");

    private static readonly string KeyList = string.Join(", ", Keys);

    private static readonly string ShapeList = string.Join(", ", FlowShape.Columns.Select(static c => "f." + c));

    /// <summary><c>GROUP BY</c> the hour and every key column, by position.</summary>
    private static readonly string GroupByKey = "GROUP BY " + string.Join(", ", Enumerable.Range(1, Keys.Count + 1).Select(static i => i.ToString(CultureInfo.InvariantCulture)));

    /// <summary>What a flows insert returns so that its totals can be counted: the columns <see cref="Totals"/> reads.</summary>
    public static readonly string Returning = "time_ns, flow_id, src, dst, dst_port, " + string.Join(", ", FlowShape.Columns);

    /// <summary>The statements of the schema version that adds the totals, counting the flows already stored.</summary>
    public static string[] Create()
    {
        var types = FlowColumns.All.ToDictionary(static c => c.Name, static c => c.Postgres);
        var columns = string.Join(", ", Keys.Select(k => $"{k} {(k == "dst_port" ? "integer" : types[k])}"));
        return
        [
            $"CREATE TABLE flow_hours (hour bigint NOT NULL, {columns}, flows bigint NOT NULL, first_ns bigint NOT NULL, last_ns bigint NOT NULL)",
            "CREATE INDEX flow_hours_hour ON flow_hours (hour)",
            "CREATE INDEX flow_hours_src ON flow_hours (src, hour)",
            "CREATE INDEX flow_hours_dst ON flow_hours (dst, hour)",
            $"INSERT INTO flow_hours {Totals("flows", "TRUE")}",
        ];
    }

    /// <summary>
    /// The statements of the schema version that lets counts read the totals' indexes alone: the hour
    /// and each end's index also hold the flows (and the other end), so counting an hour, or a
    /// namespace's flows from one side, is an index-only scan instead of a visit to every page that
    /// holds one of its rows. Vacuum comes often, so that recent hours' pages are all-visible too
    /// (an index-only scan fetches the rows of pages that are not).
    /// </summary>
    public static string[] CoveringIndexes() =>
    [
        "DROP INDEX flow_hours_hour",
        "DROP INDEX flow_hours_src",
        "DROP INDEX flow_hours_dst",
        "CREATE INDEX flow_hours_hour ON flow_hours (hour) INCLUDE (flows)",
        "CREATE INDEX flow_hours_src ON flow_hours (src, hour) INCLUDE (dst, flows)",
        "CREATE INDEX flow_hours_dst ON flow_hours (dst, hour) INCLUDE (src, flows)",
        "ALTER TABLE flow_hours SET (autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_vacuum_scale_factor = 0.01)",
        // Without fresh statistics the planner read all the totals for one hour's service map.
        "ANALYZE flow_hours",
    ];

    /// <summary>The totals of the rows of <paramref name="source"/> (the flows, or what an insert returned) that <paramref name="where"/> selects, as rows of <c>flow_hours</c>.</summary>
    public static string Totals(string source, string where) =>
        $"SELECT {FlowHours.HourOf("f.time_ns", "/")}, f.src, f.dst, CASE WHEN f.is_reply THEN NULL ELSE f.dst_port END, {ShapeList}, " +
        $"count(*), min(f.time_ns), max(f.time_ns) FROM {source} f WHERE {where} {GroupByKey}";

    /// <summary>The hour of a flows column, in PostgreSQL.</summary>
    public static string HourOf(string column) => FlowHours.HourOf(column, "/");

    /// <summary>Merges the rows of the hours in the parameter <c>@hours</c> (an array) to one a key, in one statement.</summary>
    public static readonly string Compact =
        $"WITH gone AS (DELETE FROM flow_hours WHERE hour = ANY(@hours) RETURNING *) " +
        $"INSERT INTO flow_hours SELECT hour, {KeyList}, sum(flows), min(first_ns), max(last_ns) FROM gone {GroupByKey}";

    /// <summary>Replaces the rows of <paramref name="hours"/> by their totals summed again from the flows, in one statement (one snapshot).</summary>
    public static string Recount(IReadOnlyCollection<long> hours)
    {
        var list = string.Join(", ", hours.Select(static h => h.ToString(CultureInfo.InvariantCulture)));
        return $"WITH gone AS (DELETE FROM flow_hours WHERE hour IN ({list})) INSERT INTO flow_hours {Totals("flows", FlowHours.InHours(hours))}";
    }
}
