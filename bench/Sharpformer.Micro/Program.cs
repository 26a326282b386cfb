using BenchmarkDotNet.Running;

namespace Sharpformer.Micro;

/// <summary>
/// BenchmarkDotNet kernel micro-benchmarks (nanosecond-level, statistically checked), apart from the throughput
/// tables of Sharpformer.Bench: dotnet run -c Release --project bench/Sharpformer.Micro -- --filter '*'
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
