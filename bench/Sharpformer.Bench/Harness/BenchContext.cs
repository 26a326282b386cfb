using System.Runtime.Intrinsics;
using Sharpformer.Kernels;

namespace Sharpformer.Bench.Harness;

/// <summary>What the commands of one run share: the ceilings and the row filter.</summary>
public sealed class BenchContext
{
    private Ceilings? _ceilings;

    /// <summary>--filter: commands skip rows whose name does not contain it (case-insensitive).</summary>
    public string? Filter { get; set; }

    public bool Selects(string rowName) => Filter == null || rowName.Contains(Filter, StringComparison.OrdinalIgnoreCase);

    /// <summary>The ceilings, measured on first use (about three seconds), then the best seen so far.</summary>
    public Ceilings Ceilings => _ceilings ??= Ceilings.Measure();

    /// <summary>
    /// Measures the ceilings again and keeps the better of each, then returns them. Call it after timing your rows and
    /// divide by the result: the machine is shared, so a ceiling measured minutes before the rows can be off either way,
    /// and the best seen around the rows is the honest denominator.
    /// </summary>
    public Ceilings RefreshCeilings()
    {
        var now = Ceilings.Measure();
        var before = _ceilings ?? now;
        _ceilings = now with
        {
            ReadGBps = Math.Max(before.ReadGBps, now.ReadGBps),
            FmaGflops = Math.Max(before.FmaGflops, now.FmaGflops),
            OnePassGBps = Math.Max(before.OnePassGBps, now.OnePassGBps),
        };
        return _ceilings;
    }

    public void PrintMachine()
    {
        Console.WriteLine($"{Environment.ProcessorCount} cores, kernel threads {KernelThreads.Count}, SIMD path " +
            $"{SimdPaths.Default} (Vector512 accelerated: {Vector512.IsHardwareAccelerated}), .NET {Environment.Version}");
#if DEBUG
        Console.WriteLine("warning: Debug build; run with -c Release for meaningful figures");
#endif
    }
}
