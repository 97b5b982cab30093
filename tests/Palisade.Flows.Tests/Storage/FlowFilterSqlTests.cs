using Palisade.Flows.Records;
using Palisade.Flows.Storage;

namespace Palisade.Flows.Tests.Storage;

/// <summary>How a filter on either end is answered one side at a time (PostgreSQL's counts from the totals' indexes).</summary>
public sealed class FlowFilterSqlTests
{
    private static readonly FlowDictionary Dictionary = Ends();

    [Fact]
    public void BySide_OneConditionOnEitherEnd_IsTwoDisjointClauses()
    {
        var sides = Filter(new FlowQuery { Namespaces = ["alpha"], SinceNanos = 5 }).BySide();

        Assert.Equal(
            [" WHERE time_ns >= @p0 AND src IN (1, 2)", " WHERE time_ns >= @p0 AND dst IN (1, 2) AND NOT src IN (1, 2)"],
            sides.Select(static s => s.Where));
        Assert.All(sides, static s => Assert.Equal(5L, Assert.Single(s.Parameters).Value));
    }

    [Theory]
    [InlineData("verdict")]
    [InlineData("two ends")]
    [InlineData("one side")]
    public void BySide_OtherConditions_IsTheClauseAlone(string other)
    {
        var query = other switch
        {
            "verdict" => new FlowQuery { Namespaces = ["alpha"], Verdicts = [FlowVerdict.Dropped] },
            "two ends" => new FlowQuery { Namespaces = ["alpha"], Pods = ["alpha/web-0"] },
            _ => new FlowQuery { FromNamespaces = ["alpha"] },
        };
        var filter = Filter(query);

        Assert.Same(filter, Assert.Single(filter.BySide()));
    }

    private static FlowFilterSql Filter(FlowQuery query) => new(query, new Dialect(), Dictionary);

    private static FlowDictionary Ends()
    {
        var dictionary = new FlowDictionary();
        foreach (var (id, space, pod) in new[] { (1, "alpha", "web-0"), (2, "alpha", "db-0"), (3, "beta", "web-0") })
        {
            dictionary.LoadEnd(id, id, new FlowEnd(new FlowEndpoint { Namespace = space, PodName = pod }, null, [], null));
        }

        return dictionary;
    }

    private sealed class Dialect : FlowSqlDialect
    {
        public override string Parameter(string name) => "@" + name;
    }
}
