using System.Diagnostics;

namespace Sharpformer.Bench.Harness;

/// <summary>Seconds per call: the best sample (closest to what the machine can do) and the median (how noisy it was).</summary>
public readonly record struct Timing(double Best, double Median);

/// <summary>A plain Stopwatch harness: warm up until the JIT has tiered up, then take samples of many calls each.</summary>
public static class Measure
{
    /// <summary>
    /// Times <paramref name="body"/>: warm-up of at least <paramref name="warmupSeconds"/> and 50 calls (tiered JIT
    /// recompiles hot methods after 30 calls; one call when warmupSeconds is 0, for code already warm), then
    /// <paramref name="samples"/> samples of about <paramref name="sampleSeconds"/> each.
    /// </summary>
    public static Timing Time(Action body, int samples = 9, double sampleSeconds = 0.03, double warmupSeconds = 0.4)
    {
        ArgumentNullException.ThrowIfNull(body);
        long start = Stopwatch.GetTimestamp();
        int calls = 0;
        while (calls < (warmupSeconds > 0 ? 50 : 1) || Stopwatch.GetElapsedTime(start).TotalSeconds < warmupSeconds)
        {
            body();
            calls++;
        }
        double perCall = Stopwatch.GetElapsedTime(start).TotalSeconds / calls;
        int callsPerSample = Math.Max(1, (int)(sampleSeconds / perCall));
        var times = new double[samples];
        for (int sample = 0; sample < samples; sample++)
        {
            long sampleStart = Stopwatch.GetTimestamp();
            for (int call = 0; call < callsPerSample; call++)
            {
                body();
            }
            times[sample] = Stopwatch.GetElapsedTime(sampleStart).TotalSeconds / callsPerSample;
        }
        Array.Sort(times);
        return new Timing(times[0], times[samples / 2]);
    }
}
