using System.Data.Common;
using System.Globalization;

namespace Palisade.Flows.Storage;

/// <summary>The summaries stores compute over flows.</summary>
public enum FlowAggregate
{
    /// <summary>
    /// The service map: client workload to server workload (or outside name or address), by protocol and
    /// server port, with counts by verdict and first and last seen. Replies are left out, so each
    /// connection counts from the side that opened it.
    /// </summary>
    ServiceMap,

    /// <summary>Top talkers: source and destination ends with the most flows.</summary>
    TopTalkers,

    /// <summary>Dropped flows by the policy that decided them (as attributed) and Hubble's drop reason.</summary>
    DropsByPolicy,

    /// <summary>Dropped flows by Hubble's drop reason.</summary>
    DropsByReason,

    /// <summary>
    /// Each namespace's destinations outside the cluster, by DNS name (as Hubble learned it) and address,
    /// protocol and port, with counts by verdict: what an auditor asks first.
    /// </summary>
    OutsideDestinations,
}

/// <summary>One row of an aggregate: its keys (as the aggregate names them), counts and times.</summary>
public sealed record FlowAggregateRow(IReadOnlyList<string?> Keys, long Flows, long Forwarded, long Dropped, long FirstNanos, long LastNanos);

/// <summary>The SQL of the aggregates, the same for both stores (both index lists from 1 and have <c>regexp_replace</c>).</summary>
public static class FlowAggregateSql
{
    /// <summary>The names of an aggregate's keys, for headers.</summary>
    public static IReadOnlyList<string> KeyNames(FlowAggregate aggregate) => aggregate switch
    {
        FlowAggregate.ServiceMap => ["SOURCE", "DESTINATION", "PROTOCOL", "PORT"],
        FlowAggregate.TopTalkers => ["SOURCE", "DESTINATION"],
        FlowAggregate.DropsByPolicy => ["POLICY", "REASON"],
        FlowAggregate.DropsByReason => ["REASON"],
        FlowAggregate.OutsideDestinations => ["NAMESPACE", "DNS NAME", "ADDRESS", "PROTOCOL", "PORT"],
        _ => throw new ArgumentOutOfRangeException(nameof(aggregate)),
    };

    /// <summary>
    /// One end as a report names it: <c>namespace/name[Kind]</c> for a pod whose workload Hubble gives (as
    /// <c>palisade analyze</c> names workloads), <c>namespace/name</c> for other pods (the pod name without
    /// the suffix its controller generated), else the first DNS name, else the address.
    /// </summary>
    private static string End(string end) =>
        $"CASE WHEN {end}_pod IS NOT NULL AND {end}_workloads[1] IS NOT NULL " +
        $"THEN coalesce({end}_namespace || '/', '') || split_part({end}_workloads[1], '/', 2) || '[' || split_part({end}_workloads[1], '/', 1) || ']' " +
        $"WHEN {end}_pod IS NOT NULL THEN coalesce({end}_namespace || '/', '') || " +
        $"regexp_replace(regexp_replace({end}_pod, '(-[a-z0-9]{{6,10}})?-[a-z0-9]{{5}}$', ''), '-[0-9]+$', '') " +
        $"ELSE coalesce({end}_names[1], {end}_ip, '?') END";

    private static string ProtocolName => "CASE protocol WHEN 6 THEN 'TCP' WHEN 17 THEN 'UDP' WHEN 132 THEN 'SCTP' WHEN 1 THEN 'ICMPv4' WHEN 58 THEN 'ICMPv6' ELSE 'none' END";

    /// <summary>The SELECT for an aggregate over the flows a filter selects, most flows first.</summary>
    public static string Select(FlowAggregate aggregate, FlowFilterSql filter, FlowSqlDialect dialect, int limit)
    {
        ArgumentNullException.ThrowIfNull(filter);
        ArgumentNullException.ThrowIfNull(dialect);
        var (keys, extra) = aggregate switch
        {
            FlowAggregate.ServiceMap => (new[] { End("src"), End("dst"), ProtocolName, "CAST(dst_port AS VARCHAR)" }, "(is_reply IS NULL OR NOT is_reply)"),
            FlowAggregate.TopTalkers => ([End("src"), End("dst")], null),
            FlowAggregate.DropsByPolicy => (["decided_policy", "drop_reason"], "verdict = 2"),
            FlowAggregate.DropsByReason => (["drop_reason"], "verdict = 2"),
            FlowAggregate.OutsideDestinations => (
                ["src_namespace", "dst_names[1]", "dst_ip", ProtocolName, "CAST(dst_port AS VARCHAR)"],
                $"src_pod IS NOT NULL AND dst_pod IS NULL AND (is_reply IS NULL OR NOT is_reply) AND {dialect.ListContains("dst_labels", "'reserved:world'")}"),
            _ => throw new ArgumentOutOfRangeException(nameof(aggregate)),
        };
        var where = filter.Where;
        if (extra is not null)
        {
            where = where.Length == 0 ? " WHERE " + extra : where + " AND " + extra;
        }

        var columns = string.Join(", ", keys.Select((k, i) => $"{k} AS k{i.ToString(CultureInfo.InvariantCulture)}"));
        var groups = string.Join(", ", keys.Select((_, i) => $"k{i.ToString(CultureInfo.InvariantCulture)}"));
        return $"SELECT {columns}, count(*) AS n, CAST(sum(CASE WHEN verdict IN (1, 5) THEN 1 ELSE 0 END) AS BIGINT) AS forwarded, " +
            $"CAST(sum(CASE WHEN verdict = 2 THEN 1 ELSE 0 END) AS BIGINT) AS dropped, min(time_ns) AS first_ns, max(time_ns) AS last_ns " +
            $"FROM flows{where} GROUP BY {groups} ORDER BY n DESC, {groups} LIMIT {limit.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>Reads the rows of <see cref="Select"/>.</summary>
    public static async Task<IReadOnlyList<FlowAggregateRow>> ReadAsync(DbDataReader reader, FlowAggregate aggregate, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var keyCount = KeyNames(aggregate).Count;
        var rows = new List<FlowAggregateRow>();
        while (await reader.ReadAsync(cancel).ConfigureAwait(false))
        {
            var keys = new string?[keyCount];
            for (var i = 0; i < keyCount; i++)
            {
                keys[i] = reader.IsDBNull(i) ? null : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture);
            }

            rows.Add(new FlowAggregateRow(
                keys,
                Convert.ToInt64(reader.GetValue(keyCount), CultureInfo.InvariantCulture),
                Convert.ToInt64(reader.GetValue(keyCount + 1), CultureInfo.InvariantCulture),
                Convert.ToInt64(reader.GetValue(keyCount + 2), CultureInfo.InvariantCulture),
                Convert.ToInt64(reader.GetValue(keyCount + 3), CultureInfo.InvariantCulture),
                Convert.ToInt64(reader.GetValue(keyCount + 4), CultureInfo.InvariantCulture)));
        }

        return rows;
    }
}
