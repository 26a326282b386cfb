using Sharpformer.IO;
using Sharpformer.Tensors;

namespace Sharpformer.Tests;

/// <summary>Reads a fixture's goldens.safetensors (HF outputs) and compares our tensors with them.</summary>
public sealed class Goldens : IDisposable
{
    private readonly SafetensorsFile _file;

    public Goldens(string fixture, string file = "goldens.safetensors") => _file = SafetensorsFile.Open(Fixture.File(fixture, file));

    public int[] Ints(string name) => _file.ReadInt32(name, out _);

    public int[] Ints(string name, out int[] shape) => _file.ReadInt32(name, out shape);

    public Tensor Floats(string name) => _file.ReadFloat32(name);

    public bool Has(string name) => _file.Contains(name);

    public void Dispose() => _file.Dispose();

    /// <summary>Max |actual - expected| over positions where <paramref name="include"/> is true (null = all); asserts ≤ tolerance.</summary>
    public static float AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tolerance, string what, Func<int, bool>? include = null)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: length {actual.Length} != expected {expected.Length}");
        float max = 0;
        int worst = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            if (include is not null && !include(i))
            {
                continue;
            }
            if (float.IsNegativeInfinity(expected[i]))
            {
                Assert.True(float.IsNegativeInfinity(actual[i]), $"{what}[{i}]: expected -inf, got {actual[i]}");
                continue;
            }
            float diff = MathF.Abs(expected[i] - actual[i]);
            if (!(diff <= max))
            {
                max = float.IsNaN(diff) ? float.PositiveInfinity : diff;
                worst = i;
            }
        }
        Assert.True(max <= tolerance, $"{what}: max abs diff {max} at index {worst} exceeds {tolerance}");
        return max;
    }
}
