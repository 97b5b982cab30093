using CsCheck;
using Palisade.Diagnostics;
using Palisade.Manifests.Yaml;

namespace Palisade.Tests;

public sealed class DocumentReaderTests
{
    [Fact]
    public void Read_MultiDocument_GivesPositionsOfEveryNode()
    {
        var bag = new DiagnosticBag();
        var documents = DocumentReader.Read("a: 1\n---\n\nkind: Pod\nmetadata:\n  name: web\n", "x.yaml", bag);

        Assert.Empty(bag.Items);
        Assert.Equal(2, documents.Count);
        var second = Assert.IsType<MappingNode>(documents[1]);
        var name = Assert.IsType<ScalarNode>(((MappingNode)second["metadata"]!)["name"]);
        Assert.Equal("web", name.Value);
        Assert.Equal(6, name.Location.Line);
        Assert.Equal(9, name.Location.Column);
    }

    [Fact]
    public void Read_MalformedYaml_ReportsLineAndColumn()
    {
        var bag = new DiagnosticBag();
        DocumentReader.Read("kind: Pod\nmetadata:\n  name: [web\n  other: 1\n", "bad.yaml", bag);

        var error = Assert.Single(bag.Items);
        Assert.Equal(DiagnosticCodes.MalformedYaml, error.Code);
        Assert.Equal("bad.yaml", error.Location.Source);
        Assert.True(error.Location.Line >= 3, error.ToString());
    }

    [Fact]
    public void Read_MalformedJson_NamesJson()
    {
        var bag = new DiagnosticBag();
        DocumentReader.Read("{\n  \"kind\": \"Pod\",\n  \"metadata\": {\"name\": \"web\"\n}\n", "bad.json", bag);

        var error = Assert.Single(bag.Items);
        Assert.Equal(DiagnosticCodes.MalformedJson, error.Code);
        Assert.StartsWith("malformed JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_QuotedNumber_IsText()
    {
        var documents = DocumentReader.Read("a: \"80\"\nb: 80\n", "x.yaml", new DiagnosticBag());
        var map = (MappingNode)documents[0];
        Assert.False(((ScalarNode)map["a"]!).TryGetInteger(out _));
        Assert.True(((ScalarNode)map["b"]!).TryGetInteger(out var b));
        Assert.Equal(80, b);
    }

    [Fact]
    public void Read_MergeKey_ExplicitKeysWin()
    {
        var documents = DocumentReader.Read("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n", "x.yaml", new DiagnosticBag());
        var use = (MappingNode)((MappingNode)documents[0])["use"]!;
        Assert.Equal("1", ((ScalarNode)use["x"]!).Value);
        Assert.Equal("3", ((ScalarNode)use["y"]!).Value);
    }

    [Fact]
    public void Split_AnyDocuments_ParsesToTheSameNodesAndLines() =>
        Gen.Select(Gen.Int[1, 40], Gen.Int[0, 3]).Sample((count, padding) =>
        {
            var text = string.Concat(Enumerable.Range(0, count).Select(i =>
                $"{(i > 0 ? "---\n" : string.Empty)}{new string('\n', padding)}kind: Pod\nmetadata:\n  name: p{i}\n  labels: {{a: \"---\"}}\n"));
            var whole = DocumentReader.Read(text, "x.yaml", new DiagnosticBag());
            var pieces = DocumentReader.Split(text, 50);
            var split = pieces.SelectMany(p => DocumentReader.Read(p.Text, "x.yaml", new DiagnosticBag(), p.LineOffset)).ToList();

            Assert.Equal(string.Concat(pieces.Select(p => p.Text)), text);
            Assert.Equal(whole.Count, split.Count);
            for (var i = 0; i < whole.Count; i++)
            {
                var a = (ScalarNode)((MappingNode)((MappingNode)whole[i])["metadata"]!)["name"]!;
                var b = (ScalarNode)((MappingNode)((MappingNode)split[i])["metadata"]!)["name"]!;
                Assert.Equal(a.Value, b.Value);
                Assert.Equal(a.Location, b.Location);
            }
        });
}
