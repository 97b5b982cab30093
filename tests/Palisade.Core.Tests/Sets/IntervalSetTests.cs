using CsCheck;
using Palisade.Sets;

namespace Palisade.Tests.Sets;

public sealed class IntervalSetTests
{
    // Sets over bytes, so that a HashSet of every member is a cheap model to check against.
    private static readonly Gen<IntervalSet<byte>> SetGen =
        Gen.Select(Gen.Byte, Gen.Byte).Array[0, 6].Select(pairs => IntervalSet<byte>.FromIntervals(
            pairs.Select(p => new Interval<byte>(Math.Min(p.Item1, p.Item2), Math.Max(p.Item1, p.Item2)))));

    private static HashSet<int> Members(IntervalSet<byte> set) => [.. Enumerable.Range(0, 256).Where(i => set.Contains((byte)i))];

    private static void AssertNormalized(IntervalSet<byte> set)
    {
        var intervals = set.Intervals.ToArray();
        for (var i = 0; i < intervals.Length; i++)
        {
            Assert.True(intervals[i].Lo <= intervals[i].Hi);
            if (i > 0)
            {
                // Neither overlapping nor touching: a gap of at least one value.
                Assert.True(intervals[i].Lo > intervals[i - 1].Hi + 1);
            }
        }
    }

    [Fact]
    public void Union_AnySets_HasMembersOfEither() =>
        Gen.Select(SetGen, SetGen).Sample((a, b) =>
        {
            var union = a.Union(b);
            AssertNormalized(union);
            Assert.Equal(Members(a).Union(Members(b)).Order(), Members(union).Order());
        });

    [Fact]
    public void Intersect_AnySets_HasMembersOfBoth() =>
        Gen.Select(SetGen, SetGen).Sample((a, b) =>
        {
            var both = a.Intersect(b);
            AssertNormalized(both);
            Assert.Equal(Members(a).Intersect(Members(b)).Order(), Members(both).Order());
        });

    [Fact]
    public void Overlaps_AnySets_WhenTheyShareAMember() =>
        Gen.Select(SetGen, SetGen).Sample((a, b) =>
            Assert.Equal(Members(a).Overlaps(Members(b)), a.Overlaps(b)));

    [Fact]
    public void Except_AnySets_RemovesMembersOfOther() =>
        Gen.Select(SetGen, SetGen).Sample((a, b) =>
        {
            var rest = a.Except(b);
            AssertNormalized(rest);
            Assert.Equal(Members(a).Except(Members(b)).Order(), Members(rest).Order());
        });

    [Fact]
    public void Complement_AnySet_IsEverythingElse() =>
        SetGen.Sample(a =>
        {
            var complement = a.Complement();
            AssertNormalized(complement);
            Assert.Equal(Enumerable.Range(0, 256).Except(Members(a)).Order(), Members(complement).Order());
            Assert.Equal(a, complement.Complement());
        });

    [Fact]
    public void Equals_SameMembersBuiltDifferently_AreEqual() =>
        SetGen.Sample(a =>
        {
            var rebuilt = IntervalSet<byte>.FromIntervals(Members(a).Select(m => new Interval<byte>((byte)m, (byte)m)));
            Assert.Equal(a, rebuilt);
            Assert.Equal(a.GetHashCode(), rebuilt.GetHashCode());
        });

    [Fact]
    public void FromIntervals_TouchingIntervals_MergeIntoOne()
    {
        var set = IntervalSet<byte>.FromIntervals([new Interval<byte>(10, 20), new Interval<byte>(21, 30), new Interval<byte>(250, 255)]);
        Assert.Equal("10-30,250-255", set.ToString());
    }

    [Fact]
    public void Range_UpperBelowLower_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => IntervalSet<byte>.Range(5, 4));
}
