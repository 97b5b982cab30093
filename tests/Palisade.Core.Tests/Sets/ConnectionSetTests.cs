using CsCheck;
using Palisade.Sets;

namespace Palisade.Tests.Sets;

public sealed class ConnectionSetTests
{
    private static readonly Gen<ConnectionSet> SetGen =
        Gen.Select(Gen.Int[0, 2], Gen.Int[1, 65535], Gen.Int[0, 300]).Array[0, 5].Select(items => items.Aggregate(
            ConnectionSet.None,
            (set, item) => set.Union(ConnectionSet.Ports((Protocol)item.Item1, item.Item2, Math.Min(65535, item.Item2 + item.Item3)))));

    [Fact]
    public void TryParse_FormattedSet_GivesSameSet() =>
        SetGen.Sample(set =>
        {
            Assert.True(ConnectionSet.TryParse(set.ToString(), out var parsed), set.ToString());
            Assert.Equal(set, parsed);
        });

    [Theory]
    [InlineData("All Connections")]
    [InlineData("No Connections")]
    [InlineData("TCP 80")]
    [InlineData("SCTP 9003,TCP 8080,UDP 5353")]
    [InlineData("SCTP 1-9002,9004-65535,TCP 1-79,81-65535,UDP 1-52,54-65535")]
    public void ToString_NetpolAnalyzerForms_RoundTrip(string text)
    {
        Assert.True(ConnectionSet.TryParse(text, out var set));
        Assert.Equal(text, set.ToString());
    }

    [Fact]
    public void ToString_EveryPortOfEveryTransportProtocol_IsAllConnections()
    {
        // netpol-analyzer's model has no ICMP: every port of TCP, UDP and SCTP is all it knows.
        var transport = ConnectionSet.AllPorts(Protocol.Tcp).Union(ConnectionSet.AllPorts(Protocol.Udp)).Union(ConnectionSet.AllPorts(Protocol.Sctp));
        Assert.Equal("All Connections", transport.ToString());
        Assert.False(transport.IsAll);
        Assert.True(transport.Union(ConnectionSet.AllIcmp).IsAll);
        Assert.Equal("All Connections", ConnectionSet.All.ToString());
    }

    [Theory]
    [InlineData("ICMP 8", "ICMP 8")]
    [InlineData("ICMP 0,8,ICMPv6 128-129", "ICMP 0,8,ICMPv6 128-129")]
    [InlineData("ICMP 8,TCP 80", "ICMP 8,TCP 80")]
    [InlineData("ICMP 0-255,ICMPv6 0-255", "No Connections")]
    [InlineData("ICMP 0-255,ICMPv6 0-255,TCP 80", "TCP 80")]
    [InlineData("ICMP 0-7,9-255,ICMPv6 0-255,SCTP 1-65535,TCP 1-65535,UDP 1-65535", "ICMP 0-7,9-255,ICMPv6 0-255,SCTP 1-65535,TCP 1-65535,UDP 1-65535")]
    public void ToString_Icmp_ShownWhereRulesNamedTypes(string text, string printed)
    {
        // Wholly admitted (what a rule without ports admits, and an admin deny of some ports leaves of
        // it), ICMP is left out, so that Kubernetes policies read as netpol-analyzer writes them.
        Assert.True(ConnectionSet.TryParse(text, out var set), text);
        Assert.Equal(printed, set.ToString());
        Assert.Equal(printed == "No Connections", set.Reported.IsEmpty);
        Assert.Equal(text, set.Describe());
    }

    [Fact]
    public void Describe_LeavesNothingOut()
    {
        Assert.Equal("All Connections", ConnectionSet.All.Describe());
        Assert.Equal("SCTP 1-65535,TCP 1-65535,UDP 1-65535", ConnectionSet.Transport.Describe());
        Assert.Equal("All Connections", ConnectionSet.Transport.ToString());
        Assert.Equal("No Connections", ConnectionSet.None.Describe());
    }

    [Fact]
    public void Ports_IcmpTypeBeyond255_Throws() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => ConnectionSet.Port(Protocol.Icmp, 256));

    [Fact]
    public void ToString_OneProtocolFull_ListsTheRange() =>
        Assert.Equal("TCP 1-65535", ConnectionSet.AllPorts(Protocol.Tcp).ToString());

    [Fact]
    public void Contains_PortAtRangeEnds_IsMember()
    {
        var set = ConnectionSet.Ports(Protocol.Udp, 1000, 2000);
        Assert.True(set.Contains(Protocol.Udp, 1000));
        Assert.True(set.Contains(Protocol.Udp, 2000));
        Assert.False(set.Contains(Protocol.Udp, 2001));
        Assert.False(set.Contains(Protocol.Tcp, 1500));
    }

    [Theory]
    [InlineData("TCP")]
    [InlineData("ICMP 256")]
    [InlineData("80")]
    [InlineData("TCP 0")]
    [InlineData("TCP 70000")]
    [InlineData("TCP 90-80")]
    [InlineData("ICMP")]
    public void TryParse_Malformed_Fails(string text) => Assert.False(ConnectionSet.TryParse(text, out _));

    [Fact]
    public void Except_AllMinusOnePort_LeavesTheRest()
    {
        var rest = ConnectionSet.All.Except(ConnectionSet.Port(Protocol.Tcp, 80));
        Assert.Equal("SCTP 1-65535,TCP 1-79,81-65535,UDP 1-65535", rest.ToString());
    }
}
