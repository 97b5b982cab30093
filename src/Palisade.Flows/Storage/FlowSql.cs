using System.Globalization;

namespace Palisade.Flows.Storage;

/// <summary>
/// What differs between the SQL of the flow stores: how a parameter is written, and where the columns
/// of the flow row (<see cref="FlowColumns.All"/>) live, since a store may keep some apart (the
/// embedded store keeps each flow's shape and detail in tables of their own).
/// </summary>
public abstract class FlowSqlDialect
{
    /// <summary>The placeholder of the parameter named <paramref name="name"/>.</summary>
    public abstract string Parameter(string name);

    /// <summary>
    /// <paramref name="condition"/>, a condition on <paramref name="column"/> (a column of
    /// <see cref="FlowColumns.All"/>, and any others the condition names kept beside it), as a condition
    /// on the <c>flows</c> table.
    /// </summary>
    public virtual string On(string column, string condition) => condition;

    /// <summary>What a query that groups or counts by any column of <see cref="FlowColumns.All"/> reads from.</summary>
    public virtual string Grouped => "flows";

    /// <summary>The columns a query for whole flows selects from <c>flows</c>.</summary>
    public virtual string Selected => FlowColumns.List;
}

/// <summary>
/// What counts and aggregates read: the flows themselves (a row a flow), or totals of many flows
/// (a row with how many flows it stands for, and the first and last time among them).
/// </summary>
/// <param name="Table">The table of the rows, for queries that read only its own columns.</param>
/// <param name="Grouped">What a query that groups or counts by any column reads from.</param>
/// <param name="Count">The number of flows of a group.</param>
/// <param name="Weight">The number of flows of one row, for conditional sums.</param>
/// <param name="First">The earliest time of one row.</param>
/// <param name="Last">The latest time of one row.</param>
public sealed record FlowCounting(string Table, string Grouped, string Count, string Weight, string First, string Last)
{
    /// <summary>The flows themselves, a row each.</summary>
    public static FlowCounting Flows(FlowSqlDialect dialect)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        return new("flows", dialect.Grouped, "count(*)", "1", "time_ns", "time_ns");
    }
}

/// <summary>A WHERE clause built from a <see cref="FlowQuery"/>, with its parameters, for either store.</summary>
public sealed class FlowFilterSql
{
    private readonly FlowSqlDialect _dialect;
    private readonly List<string> _conditions = [];
    private readonly List<KeyValuePair<string, object>> _parameters = [];
    private readonly string _prefix;

    // The conditions on either end: where each is in the list, and its conditions on each side.
    private readonly List<(int Index, string Source, string Destination)> _eitherEnd = [];

    // Whether every condition is on the time or the ends.
    private readonly bool _onTimeAndEnds;

    /// <summary>
    /// Builds the conditions of <paramref name="query"/>. Conditions on ends (namespaces, pods, labels,
    /// addresses) and on strings (nodes, HTTP methods, DNS names, policies, projects) are resolved in
    /// <paramref name="dictionary"/> to the numbers flows store; the dictionary must hold everything the
    /// store does.
    /// </summary>
    /// <param name="query">The filters.</param>
    /// <param name="dialect">The store's SQL.</param>
    /// <param name="dictionary">The store's ends and strings.</param>
    /// <param name="parameterPrefix">How the clause's parameter names begin: clauses joined in one statement need different ones.</param>
    public FlowFilterSql(FlowQuery query, FlowSqlDialect dialect, FlowDictionary dictionary, string parameterPrefix = "p")
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(dialect);
        ArgumentNullException.ThrowIfNull(dictionary);
        _dialect = dialect;
        _prefix = parameterPrefix;
        if (query.SinceNanos is { } since)
        {
            _conditions.Add($"time_ns >= {Add(since)}");
        }

        if (query.UntilNanos is { } until)
        {
            _conditions.Add($"time_ns < {Add(until)}");
        }

        Ends(query.Namespaces, query.FromNamespaces, query.ToNamespaces, dictionary, static (v, e) => e.Endpoint.Namespace == v);
        Ends(query.Pods, query.FromPods, query.ToPods, dictionary, static (v, e) => FlowMatching.PodMatches(v, e.Endpoint));
        EndsAll(query.Labels, query.FromLabels, query.ToLabels, dictionary);
        Ends(query.Ips, query.FromIps, query.ToIps, dictionary, static (v, e) => FlowMatching.IpMatches(v, e.Ip));
        var onTimeAndEnds = _conditions.Count;
        AnyOf(query.Verdicts, v => On("verdict", $"verdict = {(int)v}"));
        AnyOf(query.Protocols, v => On("protocol", $"protocol = {(int)v}"));
        Either(query.Ports, v => $"src_port = {v}", v => $"dst_port = {v}");
        AnyOf(query.FromPorts, v => $"src_port = {v}");
        AnyOf(query.ToPorts, v => $"dst_port = {v}");
        AnyOf(query.HttpStatus, v => On("http_code", v.From == v.To ? $"http_code = {v.From}" : $"(http_code >= {v.From} AND http_code <= {v.To})"));
        Strings("http_method", query.HttpMethods, dictionary, static (v, t) => string.Equals(t, v, StringComparison.OrdinalIgnoreCase));
        Strings("dns_query", query.DnsQueries, dictionary, static (v, t) => FlowMatching.DnsMatches(v, t));
        Strings("node", query.Nodes, dictionary, static (v, t) => t == v);
        Strings("decided_policy", query.Policies, dictionary, static (v, t) => FlowMatching.PolicyMatches(v, t));
        Strings("project", query.Projects, dictionary, static (v, t) => t == v);
        AnyOf(query.L7Protocols, v => v.ToUpperInvariant() switch
        {
            "HTTP" => On("http_method", "http_method IS NOT NULL OR http_code IS NOT NULL"),
            "DNS" => On("dns_query", "dns_query IS NOT NULL"),
            _ => "FALSE",
        });
        if (query.DisagreementOnly)
        {
            _conditions.Add(On("disagreement", "disagreement <> 0"));
        }

        // The time and the ends come first: any condition after them is on something else.
        _onTimeAndEnds = _conditions.Count == onTimeAndEnds;
    }

    /// <summary><c>column IN (1, 2, 3)</c>, or <c>FALSE</c> for no numbers.</summary>
    public static string In(string column, IReadOnlyCollection<int> ids) =>
        ids.Count == 0 ? "FALSE" : $"{column} IN ({string.Join(", ", ids.Select(static i => i.ToString(CultureInfo.InvariantCulture)))})";

    private void Ends(IReadOnlyList<string> either, IReadOnlyList<string> from, IReadOnlyList<string> to, FlowDictionary dictionary, Func<string, FlowEnd, bool> matches)
    {
        if (either.Count > 0)
        {
            EitherEnd(dictionary.EndsWhere(e => either.Any(v => matches(v, e))));
        }

        if (from.Count > 0)
        {
            _conditions.Add(In("src", dictionary.EndsWhere(e => from.Any(v => matches(v, e)))));
        }

        if (to.Count > 0)
        {
            _conditions.Add(In("dst", dictionary.EndsWhere(e => to.Any(v => matches(v, e)))));
        }
    }

    private void EndsAll(IReadOnlyList<string> either, IReadOnlyList<string> from, IReadOnlyList<string> to, FlowDictionary dictionary)
    {
        bool All(IReadOnlyList<string> labels, FlowEnd end) => labels.All(l => FlowMatching.HasLabel(end.Endpoint, l));
        if (either.Count > 0)
        {
            EitherEnd(dictionary.EndsWhere(e => All(either, e)));
        }

        if (from.Count > 0)
        {
            _conditions.Add(In("src", dictionary.EndsWhere(e => All(from, e))));
        }

        if (to.Count > 0)
        {
            _conditions.Add(In("dst", dictionary.EndsWhere(e => All(to, e))));
        }
    }

    private void EitherEnd(List<int> ids)
    {
        var (source, destination) = (In("src", ids), In("dst", ids));
        _eitherEnd.Add((_conditions.Count, source, destination));
        _conditions.Add($"({source} OR {destination})");
    }

    private FlowFilterSql(FlowFilterSql clause, List<string> conditions)
    {
        _dialect = clause._dialect;
        _prefix = clause._prefix;
        _parameters = clause._parameters;
        _conditions = conditions;
        _onTimeAndEnds = clause._onTimeAndEnds;
    }

    /// <summary>
    /// This clause as two disjoint clauses that together select the same rows, when its conditions are
    /// on the time and the ends only, and exactly one is on either end (a namespace, pod, label or
    /// address on either side): one where the source matches that, one where only the destination
    /// does. Otherwise, this clause alone. The clauses share this one's <see cref="Parameters"/>.
    /// </summary>
    public IReadOnlyList<FlowFilterSql> BySide()
    {
        if (_eitherEnd.Count != 1 || !_onTimeAndEnds)
        {
            return [this];
        }

        var (index, source, destination) = _eitherEnd[0];
        List<string> sourceSide = [.. _conditions], destinationSide = [.. _conditions];
        sourceSide[index] = source;
        destinationSide[index] = $"{destination} AND NOT {source}";
        return [new FlowFilterSql(this, sourceSide), new FlowFilterSql(this, destinationSide)];
    }

    private void Strings(string column, IReadOnlyList<string> values, FlowDictionary dictionary, Func<string, string, bool> matches)
    {
        if (values.Count > 0)
        {
            _conditions.Add(On(column, In(column, dictionary.StringsWhere(t => values.Any(v => matches(v, t))))));
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
        var sql = $"SELECT {filter._dialect.Selected} FROM flows{filter.Where} ORDER BY time_ns {(query.Newest ? "DESC" : "ASC")}, flow_id";
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

    /// <summary>The dialect the clause is written in.</summary>
    public FlowSqlDialect Dialect => _dialect;

    /// <summary>
    /// Whether a filter of <paramref name="query"/> reads a flow's ports or its L7 detail (DNS names):
    /// columns that totals of many flows do not keep, so only the flows themselves can answer.
    /// </summary>
    public static bool ReadsPortsOrDetail(FlowQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        return query.Ports.Count + query.FromPorts.Count + query.ToPorts.Count + query.DnsQueries.Count > 0
            || query.L7Protocols.Any(static p => p.Equals("DNS", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Adds a condition the query does not state (a store's own), in the clause's SQL.</summary>
    public void Require(string condition) => _conditions.Add(condition);

    private string On(string column, string condition) => _dialect.On(column, condition);

    private string Add(object value)
    {
        var name = _prefix + _parameters.Count.ToString(CultureInfo.InvariantCulture);
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
}
