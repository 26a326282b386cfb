using Sharpformer.Kernels;
using Sharpformer.Kernels.Reference;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Kernels;

public class MatMulTests
{
    // Every SIMD path this machine accelerates, scalar included; theories take the name so each shows in the report.
    public static TheoryData<string> Paths => new(SimdPaths.Available.Select(path => path.ToString()));

    // Feature counts with tails around every vector width (4, 8, 16 floats), the micro-tile (2 vectors wide) and the
    // four-at-a-time loops of the streaming kernels.
    private static readonly int[] Features = [1, 7, 31, 33, 64, 65, 127, 257];

    [Theory]
    [MemberData(nameof(Paths))]
    public void DecodeRowsMatchReferenceForEveryFeatureCount(string path)
    {
        // Rows 1..4 take the streaming kernels (one register-blocked copy per row count).
        var simd = Enum.Parse<SimdPath>(path);
        var rng = new Rng(1);
        foreach (int rows in new[] { 1, 2, 3, 4 })
        {
            foreach (int inFeatures in Features)
            {
                foreach (int outFeatures in Features)
                {
                    // Every shape in both layouts; bias on or off by turns, so both show up in each layout.
                    bool withBias = (inFeatures + outFeatures + rows) % 2 == 0;
                    Check(simd, rng, rows, inFeatures, outFeatures, WeightLayout.InputMajor, withBias);
                    Check(simd, rng, rows, inFeatures, outFeatures, WeightLayout.OutputMajor, !withBias);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void PrefillRowsMatchReference(string path)
    {
        // More rows take the packed kernel: edge tiles in rows (6 or 8 a tile) and columns (2 vectors).
        var simd = Enum.Parse<SimdPath>(path);
        var rng = new Rng(2);
        int[] rowCounts = [5, 7, 17, 64, 130];
        for (int i = 0; i < rowCounts.Length; i++)
        {
            foreach (int inFeatures in Features)
            {
                foreach (int outFeatures in Features)
                {
                    // A diagonal sample of the full grid keeps Debug test time low: each row count meets every
                    // feature count, in and out, and each (in, out) pair meets one row count.
                    int index = Array.IndexOf(Features, inFeatures) + Array.IndexOf(Features, outFeatures);
                    if (index % rowCounts.Length != i)
                    {
                        continue;
                    }
                    bool withBias = index % 2 == 0;
                    Check(simd, rng, rowCounts[i], inFeatures, outFeatures, WeightLayout.InputMajor, withBias);
                    Check(simd, rng, rowCounts[i], inFeatures, outFeatures, WeightLayout.OutputMajor, !withBias);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Gpt2SizedShapesMatchReference(string path)
    {
        // Big enough to run on every thread: k split across threads (decode, InputMajor), several column blocks and
        // row blocks (prefill: at most 768 rows a block), k-blocks (at most 768: 770 = 400 + 370, 1,700 = 576 + 576 + 548).
        var simd = Enum.Parse<SimdPath>(path);
        var rng = new Rng(3);
        Check(simd, rng, 1, 768, 2304, WeightLayout.InputMajor, withBias: true);
        Check(simd, rng, 3, 770, 300, WeightLayout.InputMajor, withBias: false);
        Check(simd, rng, 2, 768, 1001, WeightLayout.OutputMajor, withBias: false);
        Check(simd, rng, 4, 257, 1000, WeightLayout.OutputMajor, withBias: true);
        Check(simd, rng, 9, 770, 600, WeightLayout.InputMajor, withBias: true);
        Check(simd, rng, 9, 770, 600, WeightLayout.OutputMajor, withBias: false);
        Check(simd, rng, 300, 65, 33, WeightLayout.InputMajor, withBias: true);
        Check(simd, rng, 300, 65, 33, WeightLayout.OutputMajor, withBias: true);
        Check(simd, rng, 11, 1700, 70, WeightLayout.InputMajor, withBias: true);
        Check(simd, rng, 11, 1700, 70, WeightLayout.OutputMajor, withBias: false);
        Check(simd, rng, 1601, 40, 40, WeightLayout.InputMajor, withBias: false);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void DecodeRowsMatchReferenceAtEveryWeightAlignment(string path)
    {
        // A mapped checkpoint puts a weight at any offset; the streaming kernels read whole vectors from the boundary
        // before each row, masking the lanes outside it (or, when rows start at different offsets, take the floats
        // before a boundary one by one). Each float offset 0..16 within a cache line, for row lengths that are and are
        // not a multiple of it (so rows after the first start elsewhere), one to four input rows, on one thread and
        // split over several; the floats around the weight are NaN, so a lane read outside it would show.
        var simd = Enum.Parse<SimdPath>(path);
        var rng = new Rng(7);
        foreach (var (inFeatures, outFeatures) in new[] { (96, 40), (97, 35), (40, 96), (33, 64), (35, 256), (768, 192), (192, 768) })
        {
            var input = Random(rng, 4 * inFeatures);
            int length = inFeatures * outFeatures;
            var storage = new float[length + 32];
            foreach (var layout in new[] { WeightLayout.InputMajor, WeightLayout.OutputMajor })
            {
                foreach (int rows in new[] { 1, 2, 4 })
                {
                    var expected = new float[rows * outFeatures];
                    var actual = new float[rows * outFeatures];
                    for (int offset = 0; offset <= 16; offset++)
                    {
                        storage.AsSpan().Fill(float.NaN);
                        var weight = storage.AsSpan(offset, length);
                        Random(rng, length).CopyTo(weight);
                        var rowsInput = input.AsSpan(0, rows * inFeatures);
                        MatMulReference.Forward(rowsInput, weight, [], rows, inFeatures, outFeatures, layout, expected);
                        MatMul.Forward(rowsInput, weight, [], rows, inFeatures, outFeatures, layout, actual, simd);
                        for (int i = 0; i < expected.Length; i++)
                        {
                            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-4f,
                                $"{path} {layout} {rows}×[{inFeatures} → {outFeatures}] at offset {offset}: output {i} is {actual[i]}, reference {expected[i]}");
                        }
                    }
                }
            }
        }
    }

    [Fact]
    public void DefaultPathMatchesReference()
    {
        var rng = new Rng(5);
        var input = Random(rng, 9 * 100);
        var weight = Random(rng, 100 * 70);
        var expected = new float[9 * 70];
        var actual = new float[9 * 70];
        MatMulReference.Forward(input, weight, [], 9, 100, 70, WeightLayout.OutputMajor, expected);
        MatMul.Forward(input, weight, [], 9, 100, 70, WeightLayout.OutputMajor, actual);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f, $"element {i}: {actual[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void CallsAllocateNothingOnceWarm()
    {
        // Decode calls MatMul about 50 times a token: no garbage. Scratch is allocated once per thread.
        var rng = new Rng(6);
        var input = Random(rng, 20 * 768);
        var weight = Random(rng, 768 * 300);
        var bias = Random(rng, 300);
        var output = new float[20 * 300];
        foreach (int rows in new[] { 1, 4, 20 })
        {
            foreach (var layout in new[] { WeightLayout.InputMajor, WeightLayout.OutputMajor })
            {
                MatMul.Forward(input, weight, bias, rows, 768, 300, layout, output);
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 5; i++)
                {
                    MatMul.Forward(input, weight, bias, rows, 768, 300, layout, output);
                }
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }
    }

    [Fact]
    public void EmptyDimensionsWriteBiasOrNothing()
    {
        float[] bias = [1f, 2f, 3f];
        var output = new float[6];
        MatMul.Forward([], [], bias, 2, 0, 3, WeightLayout.InputMajor, output);
        Assert.Equal([1f, 2f, 3f, 1f, 2f, 3f], output);
        MatMul.Forward([], [], [], 2, 0, 3, WeightLayout.OutputMajor, output);
        Assert.All(output, value => Assert.Equal(0f, value));
        MatMul.Forward([], new float[12], [], 0, 4, 3, WeightLayout.OutputMajor, output);
    }

    [Fact]
    public void OutputBeyondTheResultIsLeftAlone()
    {
        var rng = new Rng(4);
        var input = Random(rng, 3 * 40);
        var weight = Random(rng, 40 * 50);
        var output = new float[3 * 50 + 5];
        Array.Fill(output, 42f);
        MatMul.Forward(input, weight, [], 3, 40, 50, WeightLayout.InputMajor, output);
        Assert.All(output[150..], value => Assert.Equal(42f, value));
    }

    [Theory]
    [InlineData(11, 40, 10, 30, "input holds 11 floats, [3, 4] needs 12")]
    [InlineData(12, 39, 10, 30, "weight holds 39 floats, [4, 10] needs 40")]
    [InlineData(12, 40, 9, 30, "bias holds 9 floats, expected 10")]
    [InlineData(12, 40, 10, 29, "output holds 29 floats, [3, 10] needs 30")]
    public void WrongSpanLengthsThrowWithTheSizes(int inputLength, int weightLength, int biasLength, int outputLength,
        string message)
    {
        // rows 3, inFeatures 4, outFeatures 10: input 12, weight 40, bias 10 (or none), output 30 floats.
        var exception = Assert.ThrowsAny<ArgumentException>(() => MatMul.Forward(new float[inputLength],
            new float[weightLength], new float[biasLength], 3, 4, 10, WeightLayout.InputMajor, new float[outputLength]));
        Assert.Contains(message, exception.Message);
    }

    [Fact]
    public void NegativeDimensionsAndUnknownLayoutThrow()
    {
        var buffer = new float[16];
        Assert.ThrowsAny<ArgumentException>(() => MatMul.Forward(buffer, buffer, [], -1, 4, 4, WeightLayout.InputMajor, buffer));
        Assert.ThrowsAny<ArgumentException>(() => MatMul.Forward(buffer, buffer, [], 1, -4, -4, WeightLayout.InputMajor, buffer));
        Assert.ThrowsAny<ArgumentException>(() => MatMul.Forward(buffer, buffer, [], 1, 4, 4, (WeightLayout)7, buffer));
    }

    [Fact]
    public void SimdPathNamesParse()
    {
        Assert.Equal(SimdPaths.Best, SimdPaths.Parse(null));
        Assert.Equal(SimdPath.Scalar, SimdPaths.Parse(" Scalar "));
        var exception = Assert.Throws<InvalidOperationException>(() => SimdPaths.Parse("1024"));
        Assert.Contains("scalar, 128, 256 or 512", exception.Message);
        foreach (var path in SimdPaths.Available.Where(path => path != SimdPath.Scalar))
        {
            Assert.Equal(path, SimdPaths.Parse(path.ToString()[6..]));
        }
    }

    private static void Check(SimdPath path, Rng rng, int rows, int inFeatures, int outFeatures, WeightLayout layout,
        bool withBias)
    {
        var input = Random(rng, rows * inFeatures);
        var weight = Random(rng, inFeatures * outFeatures);
        var bias = withBias ? Random(rng, outFeatures) : [];
        var expected = new float[rows * outFeatures];
        var actual = new float[rows * outFeatures];
        Array.Fill(actual, float.NaN); // the kernel must write every element, never read what was there
        MatMulReference.Forward(input, weight, bias, rows, inFeatures, outFeatures, layout, expected);
        MatMul.Forward(input, weight, bias, rows, inFeatures, outFeatures, layout, actual, path);

        // Tolerance scales with Σ|x·w| + |b| for each element: a matmul of absolute values computes exactly that (with no
        // cancellation, so the fast kernel computes it accurately enough, and much faster than the Debug reference).
        var magnitude = new float[rows * outFeatures];
        MatMul.Forward(Abs(input), Abs(weight), Abs(bias), rows, inFeatures, outFeatures, layout, magnitude, path);
        for (int i = 0; i < expected.Length; i++)
        {
            float tolerance = 1e-5f * magnitude[i] + 1e-6f;
            if (!(Math.Abs(actual[i] - expected[i]) <= tolerance))
            {
                Assert.Fail($"{path} {layout} bias={withBias} [{rows}, {inFeatures}] → {outFeatures}: element " +
                    $"[{i / outFeatures}, {i % outFeatures}] is {actual[i]}, reference {expected[i]} (tolerance {tolerance})");
            }
        }
    }

    private static float[] Random(Rng rng, int length)
    {
        var values = new float[length];
        rng.FillUniform(values, -1f, 1f);
        return values;
    }

    private static float[] Abs(float[] values) => values.Select(Math.Abs).ToArray();
}

public class KernelThreadsTests
{
    [Fact]
    public unsafe void RunsEveryTaskExactlyOnceAndPassesFailuresBack()
    {
        var counts = new int[1000];
        fixed (int* countsPointer = counts)
        {
            for (int repeat = 0; repeat < 50; repeat++)
            {
                KernelThreads.Run(&CountTask, countsPointer, counts.Length);
            }
            Assert.All(counts, count => Assert.Equal(50, count));
            var exception = Assert.Throws<InvalidOperationException>(() => KernelThreads.Run(&FailingTask, null, 8));
            Assert.Equal("task 5 failed", exception.Message);
            KernelThreads.Run(&CountTask, countsPointer, counts.Length);
            Assert.All(counts, count => Assert.Equal(51, count));
        }
    }

    private static unsafe void CountTask(void* context, int task) => Interlocked.Increment(ref ((int*)context)[task]);

    private static unsafe void FailingTask(void* context, int task)
    {
        if (task == 5)
        {
            throw new InvalidOperationException("task 5 failed");
        }
    }
}
