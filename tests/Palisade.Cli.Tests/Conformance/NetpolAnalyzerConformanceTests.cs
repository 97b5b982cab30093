using System.Text.RegularExpressions;

namespace Palisade.Tests.Conformance;

/// <summary>
/// np-guard/netpol-analyzer's suite: every case folder through <c>palisade analyze</c>, compared by
/// meaning with the expected list; every bad input rejected with exit code 2 and a diagnostic.
/// </summary>
public sealed class NetpolAnalyzerConformanceTests
{
    private static string Suite => TestPaths.Conformance("netpol-analyzer");

    public static TheoryData<string> Cases() =>
        [.. Directory.GetDirectories(Path.Combine(Suite, "cases")).Select(static d => Path.GetFileName(d)!).Order(StringComparer.Ordinal)];

    public static TheoryData<string> BadCases() =>
        [.. Directory.GetDirectories(Path.Combine(Suite, "bad")).Select(static d => Path.GetFileName(d)!).Order(StringComparer.Ordinal)];

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void Analyze_Case_MatchesExpectedConnectivity(string name)
    {
        var reason = Exclusions.Reason($"netpol-analyzer/cases/{name}");
        Skip.If(reason is not null, reason);

        var result = CliRunner.Run("analyze", Path.Combine(Suite, "cases", name));
        Assert.True(result.ExitCode == 0, result.ToString());

        var expected = File.ReadAllText(Path.Combine(Suite, "expected", name + ".txt"));
        var differences = ConnectivityListComparer.Compare(expected, result.Output);
        Assert.True(differences.Count == 0, $"{differences.Count} differences:\n" + string.Join("\n", differences.Take(40)));
    }

    [SkippableTheory]
    [MemberData(nameof(BadCases))]
    public void Analyze_BadInput_IsRejectedWithDiagnostic(string name)
    {
        var reason = Exclusions.Reason($"netpol-analyzer/bad/{name}");
        Skip.If(reason is not null, reason);

        var folder = Path.Combine(Suite, "bad", name);
        var result = CliRunner.Run("analyze", folder);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal(string.Empty, result.Output);
        // The diagnostic names the file (and line) inside the case folder, and a stable code.
        Assert.Matches(@$"{Regex.Escape(folder)}[^:\n]*\.(yaml|yml|json):\d+:\d+: error PAL\d{{4}}: ", result.Error);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Comparer_DifferentCutsOfTheSameSpace_AreEqual()
    {
        const string expected = "0.0.0.0-255.255.255.255[External] => ns/a[Deployment] : TCP 80\n";
        const string actual = "0.0.0.0-9.255.255.255[External] => ns/a[Deployment] : TCP 80\n10.0.0.0-255.255.255.255 => ns/a[Deployment] : TCP 80\n";
        Assert.Empty(ConnectivityListComparer.Compare(expected, actual));
    }

    [Fact]
    public void Comparer_MissingConnection_IsReported()
    {
        const string expected = "ns/a[Deployment] => ns/b[Deployment] : TCP 80,UDP 53\n";
        const string actual = "ns/a[Deployment] => ns/b[Deployment] : TCP 80\n";
        var difference = Assert.Single(ConnectivityListComparer.Compare(expected, actual));
        Assert.Contains("expected TCP 80,UDP 53, got TCP 80", difference, StringComparison.Ordinal);
    }
}
