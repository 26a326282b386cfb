using Sharpformer.Generation;
using Sharpformer.Kernels;
using Sharpformer.Models;

namespace Sharpformer.Tests.Models;

/// <summary>Models loaded with bf16 or int8 weights: logits near f32's, cache == recompute, greedy generation runs.</summary>
public sealed class LowPrecisionModelTests : IDisposable
{
    private readonly Goldens _goldens = new("gpt2");

    public void Dispose() => _goldens.Dispose();

    // Max |logit - f32 logit| on the fixture's batch, bounded at about 3× what was measured (bf16 0.055, int8 0.174, the
    // tied embedding read from the head's copy too; with |logits| up to 8.8): loose enough for other CPUs' summation
    // order, tight enough to catch a wrong scale or a transposed weight (either moves logits by their own size).
    public static TheoryData<string, float> Bounds() => new() { { "bf16", 0.15f }, { "int8", 0.5f } };

    [Theory]
    [MemberData(nameof(Bounds))]
    public void Gpt2LogitsStayWithinAMeasuredBoundOfF32(string dtype, float bound)
    {
        int[] ids = _goldens.Ints("forward_batch.input_ids", out var shape);
        int[] mask = _goldens.Ints("forward_batch.attention_mask");
        int[] positions = _goldens.Ints("forward_batch.position_ids");
        using var f32 = (Gpt2Model)ModelRegistry.Load(Fixture.File("gpt2"));
        using var low = (Gpt2Model)ModelRegistry.Load(Fixture.File("gpt2"), WeightTypes.Parse(dtype));
        var expected = f32.Forward(ids, shape[0], shape[1], mask, positions).Logits.Span;
        var actual = low.Forward(ids, shape[0], shape[1], mask, positions).Logits.Span;
        float max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (mask[i / 1000] != 0)
            {
                max = MathF.Max(max, MathF.Abs(expected[i] - actual[i]));
            }
        }
        float range = 0;
        foreach (float value in expected)
        {
            range = MathF.Max(range, MathF.Abs(value));
        }
        TestContext.Current.TestOutputHelper?.WriteLine($"{dtype}: max logit diff {max}, max |logit| {range}");
        // Zero would mean the low-precision weights were never used.
        Assert.True(max > 0 && max <= bound, $"{dtype}: max logit diff {max}, bound {bound}");
    }

    [Fact]
    public void F32PackedIsTheF32ModelInAnotherOrder()
    {
        // The same float32 weights, summed in another order: logits agree to float rounding and the HF golden's ids.
        int[] ids = _goldens.Ints("forward_batch.input_ids", out var shape);
        int[] mask = _goldens.Ints("forward_batch.attention_mask");
        int[] positions = _goldens.Ints("forward_batch.position_ids");
        using var packed = (Gpt2Model)ModelRegistry.Load(Fixture.File("gpt2"), WeightType.Float32Packed);
        var actual = packed.Forward(ids, shape[0], shape[1], mask, positions).Logits.Span;
        var golden = _goldens.Floats("forward_batch.logits").Span;
        for (int i = 0; i < golden.Length; i++)
        {
            if (mask[i / 1000] != 0)
            {
                Assert.True(MathF.Abs(golden[i] - actual[i]) <= 1e-4f, $"logit {i}: {actual[i]} vs HF {golden[i]}");
            }
        }
        Assert.Equal("f32-packed", WeightType.Float32Packed.Name());
        Assert.Equal(WeightType.Float32Packed, WeightTypes.Parse("f32-packed"));
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("int8")]
    [InlineData("f32-packed")]
    public void CachedDecodeMatchesRecomputeAndGreedyGenerationRuns(string dtype)
    {
        using var model = (Gpt2Model)ModelRegistry.Load(Fixture.File("gpt2"), WeightTypes.Parse(dtype));
        int[] ids = [5, 17, 300, 42, 999, 8, 64];
        var whole = model.Forward(ids, 1, ids.Length).Logits.Span;
        var cache = model.CreateCache(1, ids.Length);
        model.Forward(ids[..6], 1, 6, cache: cache);
        var step = model.Forward(ids[6..], 1, 1, cache: cache).Logits.Span;
        Goldens.AssertClose(whole.Slice(6 * 1000, 1000), step, 1e-4f, $"{dtype} cached step");

        // Greedy's first token is the argmax of the recomputed last position.
        var options = new GenerationOptions { MaxNewTokens = 8 };
        var result = Generator.Generate(model, new PromptBatch(ids, [1, 1, 1, 1, 1, 1, 1], 1, ids.Length), options, TestContext.Current.CancellationToken);
        int[] sequence = result.Sequences[0].Sequence;
        Assert.InRange(sequence.Length, ids.Length + 1, ids.Length + 8);
        var last = whole.Slice(6 * 1000, 1000);
        Assert.Equal(last.IndexOf(System.Numerics.Tensors.TensorPrimitives.Max(last)), sequence[ids.Length]);
    }
}
