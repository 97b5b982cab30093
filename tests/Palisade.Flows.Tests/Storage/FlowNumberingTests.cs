using Palisade.Flows.Records;
using Palisade.Flows.Storage;

namespace Palisade.Flows.Tests.Storage;

/// <summary>How the embedded store numbers what flows share before it saves it: in order, once, and again after a failed save.</summary>
public sealed class FlowNumberingTests
{
    [Fact]
    public void IdOf_NewValues_NumbersThemInOrderAndOnce()
    {
        var numbering = new FlowNumbering<FlowDetail>();
        var a = new FlowDetail(1, null, null, null, null, 7);
        var b = new FlowDetail(2, null, 3, 60, null, 8);

        Assert.Equal(1, numbering.IdOf(a));
        Assert.Equal(2, numbering.IdOf(b));
        Assert.Equal(1, numbering.IdOf(a with { }));
        Assert.Equal(b, numbering[2]);
        Assert.Equal([(1, a), (2, b)], numbering.TakeAdded());
        Assert.Empty(numbering.TakeAdded());
    }

    [Fact]
    public void Forget_UnsavedValues_NumbersThemAgainAfterTheSavedOnes()
    {
        var numbering = new FlowNumbering<FlowDetail>();
        numbering.Load(5, new FlowDetail(null, null, null, null, null, 1));
        var unsaved = new FlowDetail(9, null, null, null, null, 2);
        Assert.Equal(6, numbering.IdOf(unsaved));

        numbering.Forget(numbering.TakeAdded());

        Assert.Equal(5, numbering.Max);
        Assert.Equal(default, numbering[6]);
        Assert.Equal(6, numbering.IdOf(unsaved));
    }

    [Fact]
    public void NumbersNew_UnknownEndsAndStrings_AreNumberedAndForgottenOnFailure()
    {
        var dictionary = new FlowDictionary { NumbersNew = true };
        var flow = new FlowRecord
        {
            TimeUnixNanos = 1,
            Id = new UInt128(1, 2),
            NodeName = "node-a",
            Summary = "TCP Flags: SYN",
            Source = new FlowEndpoint { Namespace = "project-alpha", PodName = "jupyter-0" },
            Destination = new FlowEndpoint { Namespace = "project-alpha", PodName = "postgres-0" },
        };

        var row = FlowColumns.Row(flow, dictionary);
        var (ends, strings) = dictionary.TakeAdded();

        Assert.Equal([1, 2], ends.Select(e => e.Id));
        Assert.Equal(["node-a", "TCP Flags: SYN"], strings.Select(s => s.Text));
        Assert.Equal("postgres-0", dictionary.EndOf(row.Destination).Endpoint.PodName);
        Assert.Equal("node-a", dictionary.StringOf(row.Node));

        dictionary.Forget(ends, strings);

        Assert.Equal(0, dictionary.MaxEnd);
        Assert.Null(dictionary.KnownString("node-a"));
        Assert.Equal(row, FlowColumns.Row(flow, dictionary));
    }

    [Fact]
    public void WithoutNumbersNew_AnUnknownEnd_IsAnError()
    {
        var dictionary = new FlowDictionary();
        var flow = new FlowRecord { TimeUnixNanos = 1, Id = new UInt128(1, 2), Source = new FlowEndpoint { PodName = "a" } };

        Assert.Throws<InvalidOperationException>(() => dictionary.EndId(flow, source: true));
    }
}
