using System.Net;
using System.Text.RegularExpressions;
using Palisade.Sets;

namespace Palisade.Tests.Conformance;

/// <summary>
/// Compares two connectivity lists in netpol-analyzer's text form by meaning, as the suite's
/// <c>compare.py</c> does: the same workload pairs with the same connections, and for every workload
/// and direction the same connections to every outside IPv4 address, however either side cuts the
/// address space into ranges. Lines with an <c>{ingress-controller}</c> peer are ignored. IPv6 ranges
/// are left out: netpol-analyzer's lists describe IPv4 only, while Palisade lists IPv6 ranges when
/// the cluster uses IPv6.
/// </summary>
internal static partial class ConnectivityListComparer
{
    [GeneratedRegex(@"^(\d+\.\d+\.\d+\.\d+)(?:-(\d+\.\d+\.\d+\.\d+))?(?:\[External\])?$")]
    private static partial Regex RangePattern();

    private sealed record Parsed(Dictionary<(string, string), ConnectionSet> Pairs, Dictionary<(string, string), List<(uint Lo, uint Hi, ConnectionSet Conn)>> External);

    /// <summary>The differences, one line each; empty when the lists mean the same.</summary>
    public static IReadOnlyList<string> Compare(string expected, string actual)
    {
        var e = Parse(expected, "expected");
        var a = Parse(actual, "actual");
        var differences = new List<string>();
        foreach (var key in e.Pairs.Keys.Union(a.Pairs.Keys).Order())
        {
            var want = e.Pairs.GetValueOrDefault(key, ConnectionSet.None);
            var got = a.Pairs.GetValueOrDefault(key, ConnectionSet.None);
            if (!want.Equals(got))
            {
                differences.Add($"{key.Item1} => {key.Item2}: expected {want}, got {got}");
            }
        }

        foreach (var key in e.External.Keys.Union(a.External.Keys).Order())
        {
            var want = e.External.GetValueOrDefault(key, []);
            var got = a.External.GetValueOrDefault(key, []);
            var cuts = want.Concat(got).SelectMany(static r => new[] { (ulong)r.Lo, (ulong)r.Hi + 1 }).Append(0UL).Distinct().Order().ToList();
            for (var i = 0; i < cuts.Count && cuts[i] <= uint.MaxValue; i++)
            {
                var address = (uint)cuts[i];
                var wantHere = At(want, address);
                var gotHere = At(got, address);
                if (!wantHere.Equals(gotHere))
                {
                    var last = i + 1 < cuts.Count ? Math.Min(cuts[i + 1] - 1, uint.MaxValue) : uint.MaxValue;
                    var range = $"{new IPAddress(BitConverter.GetBytes(address).Reverse().ToArray())}-{new IPAddress(BitConverter.GetBytes((uint)last).Reverse().ToArray())}";
                    var side = key.Item2 == "from" ? $"{range} => {key.Item1}" : $"{key.Item1} => {range}";
                    differences.Add($"{side}: expected {wantHere}, got {gotHere}");
                }
            }
        }

        return differences;
    }

    private static ConnectionSet At(List<(uint Lo, uint Hi, ConnectionSet Conn)> ranges, uint address)
    {
        var result = ConnectionSet.None;
        foreach (var (lo, hi, conn) in ranges)
        {
            if (lo <= address && address <= hi)
            {
                result = result.Union(conn);
            }
        }

        return result;
    }

    private static Parsed Parse(string text, string side)
    {
        var pairs = new Dictionary<(string, string), ConnectionSet>();
        var external = new Dictionary<(string, string), List<(uint, uint, ConnectionSet)>>();
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            var line = raw.Trim();
            if (line.Length == 0 || !line.Contains("=>", StringComparison.Ordinal) || line.Contains("{ingress-controller}", StringComparison.Ordinal))
            {
                continue;
            }

            var colon = line.IndexOf(" : ", StringComparison.Ordinal);
            var arrow = line.IndexOf("=>", StringComparison.Ordinal);
            if (colon < 0 || arrow > colon)
            {
                throw new FormatException($"{side} line {number}: not 'SRC => DST : CONN': {line}");
            }

            // A layer-7 mark ("[L7: HTTP on TCP 8080]") says more than netpol-analyzer's lists; it does not change the connections.
            var mark = line.IndexOf(" [L7: ", StringComparison.Ordinal);
            if (mark > colon)
            {
                line = line[..mark];
            }

            var source = line[..arrow].Trim();
            var destination = line[(arrow + 2)..colon].Trim();
            if (!ConnectionSet.TryParse(line[(colon + 3)..], out var connections))
            {
                throw new FormatException($"{side} line {number}: bad connections: {line}");
            }

            if (IsIPv6(source) || IsIPv6(destination))
            {
                continue;
            }

            var s = Range(source);
            var d = Range(destination);
            if (s is null && d is null)
            {
                var key = (source, destination);
                pairs[key] = pairs.GetValueOrDefault(key, ConnectionSet.None).Union(connections);
            }
            else if (s is { } from && d is null)
            {
                Add(external, (destination, "from"), (from.Lo, from.Hi, connections));
            }
            else if (s is null && d is { } to)
            {
                Add(external, (source, "to"), (to.Lo, to.Hi, connections));
            }
            else
            {
                throw new FormatException($"{side} line {number}: neither side is a workload: {line}");
            }
        }

        return new Parsed(pairs, external);
    }

    private static void Add(Dictionary<(string, string), List<(uint, uint, ConnectionSet)>> map, (string, string) key, (uint, uint, ConnectionSet) value)
    {
        if (!map.TryGetValue(key, out var list))
        {
            list = [];
            map.Add(key, list);
        }

        list.Add(value);
    }

    private static bool IsIPv6(string peer) => peer.EndsWith("[External]", StringComparison.Ordinal) && peer.Contains(':', StringComparison.Ordinal);

    private static (uint Lo, uint Hi)? Range(string peer)
    {
        var match = RangePattern().Match(peer);
        if (!match.Success)
        {
            return null;
        }

        static uint Number(string text) => BitConverter.ToUInt32(IPAddress.Parse(text).GetAddressBytes().Reverse().ToArray());
        var lo = Number(match.Groups[1].Value);
        var hi = match.Groups[2].Success ? Number(match.Groups[2].Value) : lo;
        return (lo, hi);
    }
}
