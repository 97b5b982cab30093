using Palisade.Model;

namespace Palisade.Tests.Model;

public sealed class LabelSelectorTests
{
    private static readonly LabelSet Web = LabelSet.Of(("app", "web"), ("tier", "front"));

    [Theory]
    [InlineData(SelectorOperator.In, new[] { "web", "api" }, true)]
    [InlineData(SelectorOperator.In, new[] { "api" }, false)]
    [InlineData(SelectorOperator.NotIn, new[] { "api" }, true)]
    [InlineData(SelectorOperator.NotIn, new[] { "web" }, false)]
    [InlineData(SelectorOperator.Exists, new string[0], true)]
    [InlineData(SelectorOperator.DoesNotExist, new string[0], false)]
    public void Matches_ExpressionOnPresentKey_FollowsOperator(SelectorOperator op, string[] values, bool expected) =>
        Assert.Equal(expected, new LabelSelectorSpec { MatchExpressions = [new LabelRequirement("app", op, values)] }.Matches(Web));

    [Theory]
    [InlineData(SelectorOperator.In, false)]
    [InlineData(SelectorOperator.NotIn, true)]
    [InlineData(SelectorOperator.Exists, false)]
    [InlineData(SelectorOperator.DoesNotExist, true)]
    public void Matches_ExpressionOnAbsentKey_FollowsKubernetes(SelectorOperator op, bool expected)
    {
        string[] values = op is SelectorOperator.In or SelectorOperator.NotIn ? ["x"] : [];
        Assert.Equal(expected, new LabelSelectorSpec { MatchExpressions = [new LabelRequirement("missing", op, values)] }.Matches(Web));
    }

    [Fact]
    public void Matches_EmptySelector_MatchesEverything()
    {
        Assert.True(LabelSelectorSpec.Everything.Matches(LabelSet.Empty));
        Assert.True(LabelSelectorSpec.Everything.Matches(Web));
    }

    [Fact]
    public void Matches_MatchLabelsAndExpressions_AllMustHold()
    {
        var selector = new LabelSelectorSpec
        {
            MatchLabels = LabelSet.Of(("app", "web")),
            MatchExpressions = [new LabelRequirement("tier", SelectorOperator.In, ["back"])],
        };
        Assert.False(selector.Matches(Web));
        Assert.True(selector.Matches(Web.With("tier", "back")));
    }

    [Fact]
    public void LabelSet_With_NullRemovesKey()
    {
        var changed = Web.With("tier", null);
        Assert.False(changed.ContainsKey("tier"));
        Assert.Equal(LabelSet.Of(("app", "web")), changed);
    }
}
