using BenchmarkDotNet.Running;
using Palisade.Benchmarks;

// "scale" prints the scale figures of docs/performance.md; anything else goes to BenchmarkDotNet
// (for example: --filter '*VerdictLookup*').
if (args.Length > 1 && args[0] == "load")
{
    return LoadProbe.Run(args[1], Console.Out);
}

if (args.Length > 0 && args[0] == "flows-scale")
{
    return await FlowScaleReport.Run(args[1..], Console.Out);
}

if (args.Length > 0 && args[0] == "flows")
{
    return await FlowReport.Run(args[1..], Console.Out);
}

if (args.Length > 0 && args[0] == "scale")
{
    return ScaleReport.Run(args[1..], Console.Out);
}

BenchmarkSwitcher.FromAssembly(typeof(ScaleReport).Assembly).Run(args);
return 0;
