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
}
