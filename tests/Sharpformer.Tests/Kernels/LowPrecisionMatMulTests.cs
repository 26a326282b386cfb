using Sharpformer.IO;
using Sharpformer.Kernels;
using Sharpformer.Kernels.Reference;
using Sharpformer.Layers;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Kernels;

public class LowPrecisionMatMulTests
{
    // Tails around the 16-wide vector and the four-rows-at-a-time loop; rows past 4 stream in chunks of four, past 16
    // the weight is widened for the f32 GEMM.
    private static readonly int[] Features = [1, 7, 16, 31, 33, 65, 257];
    private static readonly int[] RowCounts = [1, 2, 3, 4, 5, 9, 17, 40];

    [Fact]
    public void Bf16MatchesReferenceForEveryShape()
    {
        var rng = new Rng(11);
        foreach (int rows in RowCounts)
        {
            foreach (int inFeatures in Features)
            {
                foreach (int outFeatures in Features)
                {
                    var input = Random(rng, rows * inFeatures);
                    var packed = new ushort[inFeatures * outFeatures];
                    MatMulBf16.Pack(Random(rng, inFeatures * outFeatures), inFeatures, outFeatures, WeightLayout.OutputMajor, packed);
                    float[] bias = (rows + inFeatures) % 2 == 0 ? Random(rng, outFeatures) : [];
                    var expected = new float[rows * outFeatures];
                    var actual = new float[rows * outFeatures];
                    MatMulLowPrecisionReference.Bf16Forward(input, packed, bias, rows, inFeatures, outFeatures, expected);
                    MatMulBf16.Forward(input, packed, bias, rows, inFeatures, outFeatures, actual);
                    AssertClose(expected, actual, $"bf16 {rows}×{inFeatures}→{outFeatures}");
                }
            }
        }
    }

    [Fact]
    public void Int8MatchesReferenceForEveryShape()
    {
        var rng = new Rng(12);
        foreach (int rows in RowCounts)
        {
            foreach (int inFeatures in Features)
            {
                foreach (int outFeatures in Features)
                {
                    var input = Random(rng, rows * inFeatures);
                    var quantized = new sbyte[inFeatures * outFeatures];
                    var scales = new float[outFeatures];
                    MatMulInt8.Quantize(Random(rng, inFeatures * outFeatures), inFeatures, outFeatures, WeightLayout.InputMajor, quantized, scales);
                    float[] bias = (rows + outFeatures) % 2 == 0 ? Random(rng, outFeatures) : [];
                    var expected = new float[rows * outFeatures];
                    var actual = new float[rows * outFeatures];
                    MatMulLowPrecisionReference.Int8Forward(input, quantized, scales, bias, rows, inFeatures, outFeatures, expected);
                    MatMulInt8.Forward(input, quantized, scales, bias, rows, inFeatures, outFeatures, actual);
                    AssertClose(expected, actual, $"int8 {rows}×{inFeatures}→{outFeatures}");
                }
            }
        }
    }

    [Fact]
    public void F32PackedMatchesReferenceAndTheUnpackedMatMulForEveryShape()
    {
        var rng = new Rng(16);
        foreach (int rows in RowCounts)
        {
            foreach (int inFeatures in Features)
            {
                foreach (int outFeatures in Features)
                {
                    var input = Random(rng, rows * inFeatures);
                    var weight = Random(rng, inFeatures * outFeatures);
                    var packed = new float[weight.Length];
                    MatMulF32Packed.Pack(weight, inFeatures, outFeatures, WeightLayout.InputMajor, packed);
                    float[] bias = (rows + inFeatures) % 2 == 0 ? Random(rng, outFeatures) : [];
                    var expected = new float[rows * outFeatures];
                    var actual = new float[rows * outFeatures];
                    var unpacked = new float[rows * outFeatures];
                    MatMulLowPrecisionReference.Float32PackedForward(input, packed, bias, rows, inFeatures, outFeatures, expected);
                    MatMulF32Packed.Forward(input, packed, bias, rows, inFeatures, outFeatures, actual);
                    AssertClose(expected, actual, $"f32-packed {rows}×{inFeatures}→{outFeatures}");
                    // The same values as the weight as stored: the plain f32 matmul agrees.
                    MatMul.Forward(input, weight, bias, rows, inFeatures, outFeatures, WeightLayout.InputMajor, unpacked);
                    AssertClose(unpacked, actual, $"f32-packed vs f32 {rows}×{inFeatures}→{outFeatures}");
                }
            }
        }
    }

    [Fact]
    public void Gpt2SizedShapesRunOnEveryThreadAndMatchReference()
    {
        // Big enough for several tasks per thread (the lm_head rule) and a k tail (770 = 48 × 16 + 2); smaller weights
        // split into one big block per thread and small blocks after (1 × 200 → 403: small blocks of 32 columns, the
        // last holding a partial group of rows).
        var rng = new Rng(13);
        // 64 × 40000 rows: the widened path in several blocks (16 MiB of f32 each).
        foreach ((int rows, int inFeatures, int outFeatures) in new[] { (1, 768, 2304), (1, 200, 403), (3, 770, 5461), (6, 256, 1001), (20, 128, 40000) })
        {
            var input = Random(rng, rows * inFeatures);
            var weight = Random(rng, inFeatures * outFeatures);
            var bias = Random(rng, outFeatures);
            var packed = new ushort[weight.Length];
            var quantized = new sbyte[weight.Length];
            var scales = new float[outFeatures];
            MatMulBf16.Pack(weight, inFeatures, outFeatures, WeightLayout.InputMajor, packed);
            MatMulInt8.Quantize(weight, inFeatures, outFeatures, WeightLayout.InputMajor, quantized, scales);
            var expected = new float[rows * outFeatures];
            var actual = new float[rows * outFeatures];
            MatMulLowPrecisionReference.Bf16Forward(input, packed, bias, rows, inFeatures, outFeatures, expected);
            MatMulBf16.Forward(input, packed, bias, rows, inFeatures, outFeatures, actual);
            AssertClose(expected, actual, $"bf16 {rows}×{inFeatures}→{outFeatures}");
            MatMulLowPrecisionReference.Int8Forward(input, quantized, scales, bias, rows, inFeatures, outFeatures, expected);
            MatMulInt8.Forward(input, quantized, scales, bias, rows, inFeatures, outFeatures, actual);
            AssertClose(expected, actual, $"int8 {rows}×{inFeatures}→{outFeatures}");
        }
    }

    [Fact]
    public void PackingReadsBothLayoutsAsOutputRows()
    {
        var rng = new Rng(14);
        const int inFeatures = 5, outFeatures = 3;
        var outputMajor = Random(rng, inFeatures * outFeatures);
        var inputMajor = new float[outputMajor.Length];
        for (int n = 0; n < outFeatures; n++)
        {
            for (int k = 0; k < inFeatures; k++)
            {
                inputMajor[k * outFeatures + n] = outputMajor[n * inFeatures + k];
            }
        }
        var a = new ushort[outputMajor.Length];
        var b = new ushort[outputMajor.Length];
        MatMulBf16.Pack(outputMajor, inFeatures, outFeatures, WeightLayout.OutputMajor, a);
        MatMulBf16.Pack(inputMajor, inFeatures, outFeatures, WeightLayout.InputMajor, b);
        Assert.Equal(a, b);
        for (int i = 0; i < a.Length; i++)
        {
            // bf16 keeps 8 significant bits: rounding to nearest moves a value by at most 2^-8 of it.
            float decoded = BitConverter.Int32BitsToSingle(a[i] << 16);
            Assert.True(MathF.Abs(decoded - outputMajor[i]) <= MathF.Abs(outputMajor[i]) / 256f, $"{decoded} vs {outputMajor[i]}");
        }
        Assert.Equal(0x3F80, Float16.SingleToBFloat16(1f));
    }

    [Theory]
    [InlineData(768, 2304)]
    [InlineData(70, 9)]
    [InlineData(31, 7)]
    [InlineData(64, 3)]
    public void LayoutPutsEveryElementInItsOwnPlaceAndRowsRoundTrip(int inFeatures, int outFeatures)
    {
        var seen = new bool[inFeatures * outFeatures];
        var packed = new int[seen.Length];
        for (int n = 0; n < outFeatures; n++)
        {
            var row = Enumerable.Range(0, inFeatures).Select(k => n * inFeatures + k).ToArray();
            LowPrecisionLayout.ScatterRow<int>(row, packed, n, inFeatures, outFeatures);
            for (int k = 0; k < inFeatures; k++)
            {
                long index = LowPrecisionLayout.Index(n, k, inFeatures, outFeatures);
                Assert.False(seen[index], $"({n}, {k}) lands on {index} twice");
                seen[index] = true;
            }
        }
        Assert.All(seen, Assert.True);
        for (int n = 0; n < outFeatures; n++)
        {
            var back = new int[inFeatures];
            LowPrecisionLayout.GatherRow<int>(packed, back, n, inFeatures, outFeatures);
            Assert.Equal(Enumerable.Range(n * inFeatures, inFeatures), back);
            Assert.Equal(n * inFeatures + inFeatures / 2, packed[LowPrecisionLayout.Index(n, inFeatures / 2, inFeatures, outFeatures)]);
        }
        if (outFeatures >= LowPrecisionLayout.GroupRows && inFeatures >= LowPrecisionLayout.BlockK)
        {
            // Interleaved: row 1's first block follows row 0's, so four rows stream as one run.
            Assert.Equal(LowPrecisionLayout.BlockK, LowPrecisionLayout.Index(1, 0, inFeatures, outFeatures));
        }
    }

    [Fact]
    public void Int8UsesTheFullRangePerChannelWithinHalfAStep()
    {
        // Channel 0 spans ±2, channel 1 ±0.01, channel 2 is all zeros (scale 0, codes 0).
        float[] weight = [2f, -1f, 0.5f, 0.01f, -0.004f, 0.0025f, 0f, 0f, 0f];
        var quantized = new sbyte[9];
        var scales = new float[3];
        MatMulInt8.Quantize(weight, 3, 3, WeightLayout.OutputMajor, quantized, scales);
        Assert.Equal(2f / 127f, scales[0]);
        Assert.Equal(0.01f / 127f, scales[1]);
        Assert.Equal(0f, scales[2]);
        Assert.Equal(new sbyte[] { 127, -64, 32, 127, -51, 32, 0, 0, 0 }, quantized);
        for (int i = 0; i < 6; i++)
        {
            float step = scales[i / 3];
            Assert.True(MathF.Abs(quantized[i] * step - weight[i]) <= step / 2 * 1.0001f, $"weight {i}");
        }
    }

    [Fact]
    public void BadShapesAndWeightsGetClearErrors()
    {
        var quantized = new sbyte[6];
        Assert.Contains("scales", Assert.Throws<ArgumentException>(
            () => MatMulInt8.Forward(new float[2], quantized, new float[2], [], 1, 2, 3, new float[3])).Message);
        Assert.Contains("weight holds 5", Assert.Throws<ArgumentException>(
            () => MatMulBf16.Forward(new float[2], new ushort[5], [], 1, 2, 3, new float[3])).Message);
        Assert.Contains("finite", Assert.Throws<ArgumentException>(
            () => MatMulInt8.Quantize([1f, float.NaN], 2, 1, WeightLayout.OutputMajor, new sbyte[2], new float[1])).Message);
        Assert.Contains("unknown dtype 'fp8'", Assert.Throws<ArgumentException>(() => WeightTypes.Parse("fp8")).Message);
        Assert.Equal(WeightType.Int8, WeightTypes.Parse("INT8"));
    }

    [Fact]
    public void LinearForwardFollowsItsWeightTypeAndStaysNearF32()
    {
        var rng = new Rng(15);
        const int rows = 3, inFeatures = 64, outFeatures = 48;
        var weight = new Tensor(Random(rng, inFeatures * outFeatures), inFeatures, outFeatures);
        var bias = new Tensor(Random(rng, outFeatures), outFeatures);
        var linear = new Linear(weight, bias, WeightLayout.InputMajor);
        var input = Random(rng, rows * inFeatures);
        var f32 = new float[rows * outFeatures];
        linear.Forward(input, rows, f32);
        // Inputs and weights in [-1, 1): each product's error is at most the weight's rounding error.
        foreach ((var type, float bound) in new[] { (WeightType.BFloat16, inFeatures / 256f), (WeightType.Int8, inFeatures / 254f) })
        {
            linear.ConvertWeights(type);
            Assert.Equal(type, linear.WeightType);
            var low = new float[rows * outFeatures];
            linear.Forward(input, rows, low);
            float max = 0;
            for (int i = 0; i < low.Length; i++)
            {
                max = MathF.Max(max, MathF.Abs(low[i] - f32[i]));
            }
            Assert.True(max > 0 && max <= bound, $"{type}: max diff {max}, bound {bound}");
        }
        linear.ConvertWeights(WeightType.Float32);
        var again = new float[rows * outFeatures];
        linear.Forward(input, rows, again);
        Assert.Equal(f32, again);
    }

    private static float[] Random(Rng rng, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = rng.NextFloat() * 2 - 1;
        }
        return values;
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            float tolerance = 1e-4f * Math.Max(1f, MathF.Abs(expected[i]));
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= tolerance, $"{what} element {i}: {actual[i]} vs {expected[i]}");
        }
    }
}
