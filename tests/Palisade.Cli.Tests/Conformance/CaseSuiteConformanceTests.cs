namespace Palisade.Tests.Conformance;

/// <summary>
/// Every connectivity case file of every suite in the shared conformance folder (../shared/conformance beside the checkout), run through
/// <c>palisade test</c>; each must pass every check.
/// </summary>
public sealed class CaseSuiteConformanceTests
{
    private static string Root => Path.Combine(TestPaths.Shared, "conformance");

    public static TheoryData<string> CaseFiles() =>
        [.. Directory.EnumerateFiles(Root, "*.case.yaml", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(Root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)];

    [SkippableTheory]
    [MemberData(nameof(CaseFiles))]
    public void Test_CaseFile_PassesEveryCheck(string relativePath)
    {
        var reason = Exclusions.Reason(relativePath);
        Skip.If(reason is not null, reason);

        var result = CliRunner.Run("test", Path.Combine(Root, relativePath));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(@"\n[1-9]\d* passed, 0 failed\n$", "\n" + result.Output);
    }

    [Fact]
    public void CaseFiles_EverySuiteFolder_HasCases()
    {
        var suites = Directory.GetDirectories(Root).Select(Path.GetFileName).ToList();
        foreach (var suite in new[] { "k8s-e2e", "cilium", "network-policy-api", "random" })
        {
            Assert.Contains(suite, suites);
            Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(Root, suite), "*.case.yaml", SearchOption.AllDirectories));
        }
    }
}
