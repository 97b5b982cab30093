using System.Globalization;
using System.Text;

namespace Palisade.Flows.Storage;

/// <summary>What differs between the SQL of the flow stores: placeholders and list functions.</summary>
public abstract class FlowSqlDialect
{
    /// <summary>The placeholder of the parameter named <paramref name="name"/>.</summary>
    public abstract string Parameter(string name);

    /// <summary>A condition: the list column holds the value of the parameter.</summary>
    public abstract string ListContains(string column, string parameter);
}

/// <summary>A WHERE clause built from a <see cref="FlowQuery"/>, with its parameters, for either store.</summary>
public sealed class FlowFilterSql
{
    private readonly FlowSqlDialect _dialect;
    private readonly List<string> _conditions = [];
    private readonly List<KeyValuePair<string, object>> _parameters = [];

    /// <summary>Builds the conditions of <paramref name="query"/>.</summary>
    public FlowFilterSql(FlowQuery query, FlowSqlDialect dialect)
    {
        ArgumentNullException.ThrowIfNull(query);
        _dialect = dialect;
        if (query.SinceNanos is { } since)
        {
            _conditions.Add($"time_ns >= {Add(since)}");
        }

        if (query.UntilNanos is { } until)
        {
            _conditions.Add($"time_ns < {Add(until)}");
        }

        Either(query.Namespaces, v => $"src_namespace = {Add(v)}", v => $"dst_namespace = {Add(v)}");
        AnyOf(query.FromNamespaces, v => $"src_namespace = {Add(v)}");
        AnyOf(query.ToNamespaces, v => $"dst_namespace = {Add(v)}");
        Either(query.Pods, v => Pod("src", v), v => Pod("dst", v));
        AnyOf(query.FromPods, v => Pod("src", v));
        AnyOf(query.ToPods, v => Pod("dst", v));
        if (query.Labels.Count > 0)
        {
            _conditions.Add($"(({AllLabels("src_labels", query.Labels)}) OR ({AllLabels("dst_labels", query.Labels)}))");
        }

        if (query.FromLabels.Count > 0)
        {
            _conditions.Add(AllLabels("src_labels", query.FromLabels));
        }

        if (query.ToLabels.Count > 0)
        {
            _conditions.Add(AllLabels("dst_labels", query.ToLabels));
        }

        Either(query.Ips, v => $"src_ip = {Add(v)}", v => $"dst_ip = {Add(v)}");
        AnyOf(query.FromIps, v => $"src_ip = {Add(v)}");
        AnyOf(query.ToIps, v => $"dst_ip = {Add(v)}");
        AnyOf(query.Verdicts, v => $"verdict = {(int)v}");
        AnyOf(query.Protocols, v => $"protocol = {(int)v}");
        Either(query.Ports, v => $"src_port = {v}", v => $"dst_port = {v}");
        AnyOf(query.FromPorts, v => $"src_port = {v}");
        AnyOf(query.ToPorts, v => $"dst_port = {v}");
        AnyOf(query.HttpStatus, v => v.From == v.To ? $"http_code = {v.From}" : $"(http_code >= {v.From} AND http_code <= {v.To})");
        AnyOf(query.HttpMethods, v => $"http_method = {Add(v.ToUpperInvariant())}");
        AnyOf(query.DnsQueries, Dns);
        AnyOf(query.Nodes, v => $"node = {Add(v)}");
        AnyOf(query.Policies, v => v.Contains('/', StringComparison.Ordinal)
            ? $"decided_policy {LikeOp(Add("% " + Like(v)))}"
            : $"(decided_policy {LikeOp(Add("% " + Like(v)))} OR decided_policy {LikeOp(Add("%/" + Like(v)))})");
        AnyOf(query.Projects, v => $"project = {Add(v)}");
        AnyOf(query.L7Protocols, v => v.ToUpperInvariant() switch
        {
            "HTTP" => "http_method IS NOT NULL OR http_code IS NOT NULL",
            "DNS" => "dns_query IS NOT NULL",
            _ => "FALSE",
        });
        if (query.DisagreementOnly)
        {
            _conditions.Add("disagreement <> 0");
        }
    }

    /// <summary>
    /// The SELECT of the flows <paramref name="query"/> asks for, oldest first; with <see cref="FlowQuery.Newest"/>,
    /// the newest <see cref="FlowQuery.Limit"/> of them, still oldest first.
    /// </summary>
    public static string SelectFlows(FlowQuery query, FlowFilterSql filter)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(filter);
        var sql = $"SELECT {FlowColumns.List} FROM flows{filter.Where} ORDER BY time_ns {(query.Newest ? "DESC" : "ASC")}, flow_id";
        if (query.Limit is { } limit)
        {
            sql += " LIMIT " + limit.ToString(CultureInfo.InvariantCulture);
        }

        return query.Newest ? $"SELECT * FROM ({sql}) newest ORDER BY time_ns ASC, flow_id" : sql;
    }

    /// <summary><c>WHERE ...</c>, or nothing when the query has no filter.</summary>
    public string Where => _conditions.Count == 0 ? string.Empty : " WHERE " + string.Join(" AND ", _conditions);

    /// <summary>The parameters the clause names, by name.</summary>
    public IReadOnlyList<KeyValuePair<string, object>> Parameters => _parameters;

    private string Add(object value)
    {
        var name = "p" + _parameters.Count.ToString(CultureInfo.InvariantCulture);
        _parameters.Add(new(name, value));
        return _dialect.Parameter(name);
    }

    private void AnyOf<T>(IReadOnlyList<T> values, Func<T, string> condition)
    {
        if (values.Count > 0)
        {
            _conditions.Add("(" + string.Join(" OR ", values.Select(v => "(" + condition(v) + ")")) + ")");
        }
    }

    private void Either<T>(IReadOnlyList<T> values, Func<T, string> source, Func<T, string> destination)
    {
        if (values.Count > 0)
        {
            _conditions.Add("(" + string.Join(" OR ", values.Select(v => $"({source(v)}) OR ({destination(v)})")) + ")");
        }
    }

    private string Pod(string end, string value)
    {
        var slash = value.IndexOf('/', StringComparison.Ordinal);
        var pod = slash < 0 ? value : value[(slash + 1)..];
        var podCondition = pod.EndsWith('*') ? $"{end}_pod {LikeOp(Add(Like(pod[..^1]) + "%"))}" : $"{end}_pod = {Add(pod)}";
        return slash < 0 ? podCondition : $"{end}_namespace = {Add(value[..slash])} AND {podCondition}";
    }

    private string AllLabels(string column, IReadOnlyList<string> labels)
    {
        var parts = new StringBuilder();
        foreach (var label in labels)
        {
            if (parts.Length > 0)
            {
                parts.Append(" AND ");
            }

            // Cilium writes labels as SOURCE:key=value; a label given without a source is a Kubernetes label.
            var equals = label.IndexOf('=', StringComparison.Ordinal);
            var colon = label.IndexOf(':', StringComparison.Ordinal);
            var hasSource = colon >= 0 && (equals < 0 || colon < equals);
            parts.Append(hasSource
                ? _dialect.ListContains(column, Add(label))
                : $"({_dialect.ListContains(column, Add("k8s:" + label))} OR {_dialect.ListContains(column, Add(label))})");
        }

        return parts.ToString();
    }

    private string Dns(string name)
    {
        var bare = name.TrimEnd('.');
        if (bare.StartsWith("*.", StringComparison.Ordinal))
        {
            return $"dns_query {LikeOp(Add("%" + Like(bare[1..]) + "."))} OR dns_query {LikeOp(Add("%" + Like(bare[1..])))}";
        }

        return $"dns_query = {Add(bare + ".")} OR dns_query = {Add(bare)}";
    }

    private static string LikeOp(string parameter) => $"LIKE {parameter} ESCAPE '\\'";

    private static string Like(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
}
