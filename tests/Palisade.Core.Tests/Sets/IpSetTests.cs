using CsCheck;
using Palisade.Sets;

namespace Palisade.Tests.Sets;

public sealed class IpSetTests
{
    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0-10.255.255.255")]
    [InlineData("10.1.2.3/24", "10.1.2.0-10.1.2.255")]
    [InlineData("192.168.1.1/32", "192.168.1.1")]
    [InlineData("0.0.0.0/0", "0.0.0.0-255.255.255.255")]
    [InlineData("fd00::/8", "fd00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]
    public void TryParse_ValidPrefix_CoversItsRange(string cidr, string expected)
    {
        Assert.True(IpPrefix.TryParse(cidr, out var prefix, out var error), error);
        Assert.Equal(expected, prefix.ToSet().ToString());
    }

    [Theory]
    [InlineData("A")]
    [InlineData("10.0.0.0")]
    [InlineData("10.0.0/8")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.0/-1")]
    [InlineData("::/129")]
    [InlineData("300.0.0.0/8")]
    public void TryParse_Invalid_SaysWhy(string cidr)
    {
        Assert.False(IpPrefix.TryParse(cidr, out _, out var error));
        Assert.Contains(cidr, error, StringComparison.Ordinal);
    }

    [Fact]
    public void ToSet_IPv6Everything_LeavesIPv4Out()
    {
        var v6 = IpPrefix.Parse("::/0").ToSet();
        Assert.False(v6.Contains(IpNumbers.V4Base + 0x0A000001u));
        Assert.True(v6.Contains(UInt128.One));
        Assert.Equal(IpSet.AllV6, v6);
    }

    [Fact]
    public void Except_HoleInBlock_SplitsIt()
    {
        var block = IpPrefix.Parse("10.0.0.0/8").ToSet().Except(IpPrefix.Parse("10.10.0.0/16").ToSet());
        Assert.Equal("10.0.0.0-10.9.255.255,10.11.0.0-10.255.255.255", block.ToString());
    }

    [Theory]
    [InlineData("1.2.3.4", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:1.2.3.4", true)]
    [InlineData("1.2.3", false)]
    [InlineData("1", false)]
    [InlineData("fe80::1%eth0", false)]
    [InlineData("1.2.3.4/32", false)]
    public void TryParse_AddressLiterals_AcceptsOnlyFullAddresses(string text, bool valid) =>
        Assert.Equal(valid, IpNumbers.TryParse(text, out _));

    [Fact]
    public void TryParse_MappedIPv6_IsTheIPv4Address()
    {
        Assert.True(IpNumbers.TryParse("::ffff:1.2.3.4", out var mapped));
        Assert.True(IpNumbers.TryParse("1.2.3.4", out var plain));
        Assert.Equal(plain, mapped);
        Assert.Equal("1.2.3.4", IpNumbers.Format(mapped));
    }

    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0/8")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0")]
    [InlineData("fd00::/8", "fd00::/8")]
    public void ToPrefixes_WholeBlocks_AreThemselves(string cidr, string expected) =>
        Assert.Equal(expected, string.Join(",", IpPrefix.Parse(cidr).ToSet().ToPrefixes()));

    [Fact]
    public void ToPrefixes_IPv6Everything_IsIPv6BlocksAroundTheMappedBlock()
    {
        var prefixes = IpSet.AllV6.ToPrefixes().ToList();

        Assert.All(prefixes, static p => Assert.False(p.IsV4));
        Assert.DoesNotContain(prefixes, static p => p.First <= IpNumbers.V4Base && p.Last >= IpNumbers.V4Base);
        Assert.Equal(IpSet.AllV6, prefixes.Select(static p => p.ToSet()).Aggregate(IpSet.Empty, static (a, b) => a.Union(b)));
    }

    [Fact]
    public void ToPrefixes_AnySet_CoversExactlyTheSet() =>
        Gen.Select(Gen.UInt, Gen.Byte[0, 32], Gen.UInt, Gen.Byte[0, 32], Gen.Bool).Sample((a, lengthA, b, lengthB, v6) =>
        {
            IpSet Block(uint address, byte length) => v6
                ? IpPrefix.Parse($"{IpNumbers.Format(new UInt128((ulong)address << 32 | 0x2001_0db8, 0))}/{length * 4}").ToSet()
                : IpPrefix.Parse($"{IpNumbers.Format(IpNumbers.V4Base + address)}/{length}").ToSet();
            var set = Block(a, lengthA).Except(Block(b, lengthB));
            var prefixes = set.ToPrefixes().ToList();
            Assert.Equal(set, prefixes.Select(static p => p.ToSet()).Aggregate(IpSet.Empty, static (x, y) => x.Union(y)));
            Assert.All(prefixes.Zip(prefixes.Skip(1)), static pair => Assert.True(pair.First.Last < pair.Second.First));
        });
}
