using System.Diagnostics;
using Palisade.Diagnostics;
using Palisade.Manifests;
using Palisade.Manifests.Yaml;

namespace Palisade.Benchmarks;

/// <summary>Times the phases of reading a folder of manifests: raw YAML parsing, and the whole load.</summary>
internal static class LoadProbe
{
    public static int Run(string folder, TextWriter output)
    {
        var files = Directory.GetFiles(folder, "*.yaml", SearchOption.AllDirectories);
        var texts = files.Select(File.ReadAllText).ToArray();
        for (var run = 0; run < 3; run++)
        {
            var stopwatch = Stopwatch.StartNew();
            var documents = 0;
            foreach (var (text, file) in texts.Zip(files))
            {
                documents += DocumentReader.Read(text, file, new DiagnosticBag()).Count;
            }

            var parse = stopwatch.Elapsed.TotalMilliseconds;
            var parsed = texts.Zip(files).Select(t => DocumentReader.Read(t.First, t.Second, new DiagnosticBag())).ToList();
            stopwatch.Restart();
            var bag = new DiagnosticBag();
            var objects = new ObjectCollection();
            foreach (var list in parsed)
            {
                foreach (var document in list)
                {
                    ObjectDecoder.Decode(document, bag, objects);
                }
            }

            output.WriteLine($"decode {stopwatch.Elapsed.TotalMilliseconds:F0} ms one thread");
            stopwatch.Restart();
            var result = ManifestLoader.Load([folder]);
            var load = stopwatch.Elapsed.TotalMilliseconds;
            output.WriteLine($"run {run}: parse {parse:F0} ms ({documents} documents, one thread), load {load:F0} ms (parallel), {result.Diagnostics.Count} diagnostics");
        }

        return 0;
    }
}
