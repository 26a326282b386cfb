using Sharpformer.Autograd;
using Sharpformer.IO;
using Sharpformer.Kernels;
using Sharpformer.Layers;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.Models;

/// <summary>
/// bf16/int8 loads drop the f32 weights: logits identical to a conversion that keeps f32, tied embeddings read the
/// head's copy, and whatever needs f32 (Weight, training, re-conversion) fails saying why.
/// </summary>
public sealed class LowPrecisionReleaseTests
{
    public static TheoryData<string, string> GenerativeFamilies()
    {
        var data = new TheoryData<string, string>();
        foreach (string family in new[] { "gpt2", "gpt_neo", "bart", "t5", "t5_v1_1" })
        {
            data.Add(family, "bf16");
            data.Add(family, "int8");
        }
        return data;
    }

    /// <summary>The conversion as it was before releasing: every Linear keeps its f32 weight beside the copy.</summary>
    private static ILanguageModel LoadKeepingFloat32(string folder, WeightType type, out IReadOnlyList<Linear> linears)
    {
        var checkpoint = Checkpoint.Open(folder);
        var model = Linear.CollectCreated(() => ModelRegistry.Load(checkpoint), out linears);
        foreach (var linear in linears)
        {
            linear.ConvertWeights(type);
        }
        return model;
    }

    private static ILanguageModel LoadReleased(string folder, WeightType type, out IReadOnlyList<Linear> linears) =>
        Linear.CollectCreated(() => ModelRegistry.Load(folder, type), out linears);

    /// <summary>Prefill logits and one cached step's logits for a 1-row prompt.</summary>
    private static float[] PrefillAndStep(ILanguageModel model)
    {
        int[] ids = [5, 17, 300, 42, 999, 8];
        using var session = model.StartSession(new PromptBatch(ids, [1, 1, 1, 1, 1, 1], 1, ids.Length), maxNewTokens: 4);
        var logits = new float[2 * model.VocabSize];
        session.Prefill(logits.AsSpan(0, model.VocabSize));
        session.Step([123], logits.AsSpan(model.VocabSize));
        return logits;
    }

    [Theory]
    [MemberData(nameof(GenerativeFamilies))]
    public void ReleasedLoadGivesTheLogitsOfAConversionThatKeepsFloat32(string family, string dtype)
    {
        var type = WeightTypes.Parse(dtype);
        using var kept = LoadKeepingFloat32(Fixture.File(family), type, out var keptLinears);
        using var released = LoadReleased(Fixture.File(family), type, out var releasedLinears);
        Assert.Equal(keptLinears.Count, releasedLinears.Count);
        Assert.All(keptLinears, linear => Assert.True(linear.HasFloat32Weight));
        Assert.All(releasedLinears, linear =>
        {
            Assert.Equal(type, linear.WeightType);
            Assert.False(linear.HasFloat32Weight);
        });

        float[] expected = PrefillAndStep(kept);
        float[] actual = PrefillAndStep(released);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void ReleasedBertGivesTheLogitsOfAConversionThatKeepsFloat32()
    {
        int[] ids = [2, 15, 99, 3, 700, 4];
        foreach (var type in new[] { WeightType.BFloat16, WeightType.Int8 })
        {
            using var kept = (BertForMaskedLM)LoadKeepingFloat32(Fixture.File("bert"), type, out _);
            using var released = (BertForMaskedLM)LoadReleased(Fixture.File("bert"), type, out var linears);
            Assert.All(linears, linear => Assert.False(linear.HasFloat32Weight));
            Assert.Equal(kept.Forward(ids, 1, ids.Length).Logits.ToArray(), released.Forward(ids, 1, ids.Length).Logits.ToArray());
            // The decoder is tied to the word embeddings, whose f32 table went with it.
            var error = Assert.Throws<InvalidOperationException>(() => released.Encoder.WordEmbedding);
            Assert.Contains("f32", error.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("int8")]
    public void ReleasedXLNetGivesTheLogitsOfAConversionThatKeepsFloat32(string dtype)
    {
        // XLNet's head is always tied to the word embedding; it has no cached generation, so compare plain forwards.
        var type = WeightTypes.Parse(dtype);
        int[] ids = [5, 17, 300, 42, 999, 8];
        using var kept = (XLNetModel)LoadKeepingFloat32(Fixture.File("xlnet"), type, out _);
        using var released = (XLNetModel)LoadReleased(Fixture.File("xlnet"), type, out var linears);
        Assert.All(linears, linear => Assert.False(linear.HasFloat32Weight));
        Assert.Equal(kept.Forward(ids, 1, ids.Length).Logits.ToArray(), released.Forward(ids, 1, ids.Length).Logits.ToArray());
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("int8")]
    public void WeightAccessAndReconversionAfterReleaseThrowNamingWhy(string dtype)
    {
        var type = WeightTypes.Parse(dtype);
        using var model = LoadReleased(Fixture.File("gpt2"), type, out var linears);
        var linear = linears[0];
        var error = Assert.Throws<InvalidOperationException>(() => linear.Weight);
        Assert.Contains($"converted to {dtype}", error.Message, StringComparison.Ordinal);
        Assert.Contains("load the model in f32", error.Message, StringComparison.Ordinal);
        Assert.Contains($"[{linear.InFeatures} → {linear.OutFeatures}]", error.Message, StringComparison.Ordinal);
        var other = type == WeightType.Int8 ? WeightType.BFloat16 : WeightType.Int8;
        Assert.Throws<InvalidOperationException>(() => linear.ConvertWeights(other));
        Assert.Throws<InvalidOperationException>(() => linear.ConvertWeights(WeightType.Float32));
        // Converting to the type it already holds changes nothing.
        linear.ConvertWeights(type);
        Assert.Equal(type, linear.WeightType);
    }

    [Fact]
    public void ReleasingTheWeightForwardRunsOnIsRefused()
    {
        var linear = new Linear(Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2), null, WeightLayout.OutputMajor);
        Assert.Throws<ArgumentException>(() => linear.ConvertWeights(WeightType.Float32, keepFloat32: false));
        Assert.True(linear.HasFloat32Weight);
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("int8")]
    public void TrainingALowPrecisionLoadFailsWithAClearMessage(string dtype)
    {
        using var model = (Gpt2Model)ModelRegistry.Load(Fixture.File("gpt2"), WeightTypes.Parse(dtype));
        var tape = new Tape(new Dictionary<Tensor, float[]>());
        int[] ids = [5, 17, 300, 42];
        var error = Assert.Throws<InvalidOperationException>(() => model.Forward(tape, ids, 1, ids.Length, null, Gpt2Dropout.None));
        Assert.Contains("to train", error.Message, StringComparison.Ordinal);
        Assert.Contains(dtype, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ALinearReleasedDuringABuildRefusesTheTrainingForward()
    {
        var linear = ModelRegistry.Build(() => new Linear(Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3), null, WeightLayout.OutputMajor), WeightType.Int8);
        var tape = new Tape(new Dictionary<Tensor, float[]>());
        var error = Assert.Throws<InvalidOperationException>(() => linear.Forward(tape, new Variable(new float[3]), 1));
        Assert.Contains("int8", error.Message, StringComparison.Ordinal);
        // Inference still runs on the int8 copy: [1, 2, 3]·[1, 0, 0]ᵀ and [4, 5, 6]·[1, 0, 0]ᵀ within a quantization step.
        var output = new float[2];
        linear.Forward([1f, 0f, 0f], 1, output);
        Assert.Equal(1f, output[0], 3f / 127);
        Assert.Equal(4f, output[1], 6f / 127);
    }

    /// <summary>
    /// The low-precision model's embedding output (hidden state 0 = wte[id] + wpe[pos]) differs from f32's by the
    /// rounding of the wte row it read: bf16 ≤ half an ulp of bf16 (2^-8 relative), int8 ≤ half a step (scale / 2).
    /// </summary>
    [Theory]
    [InlineData("bf16")]
    [InlineData("int8")]
    public void Gpt2EmbeddingReadsTheTiedHeadsConvertedRows(string dtype)
    {
        var type = WeightTypes.Parse(dtype);
        int[] ids = [5, 17, 300, 42, 999];
        using var f32 = (Gpt2Model)ModelRegistry.Load(Fixture.File("gpt2"));
        using var low = (Gpt2Model)ModelRegistry.Load(Fixture.File("gpt2"), type);
        var expected = f32.Forward(ids, 1, ids.Length, outputHiddenStates: true).HiddenStates![0].Span;
        var actual = low.Forward(ids, 1, ids.Length, outputHiddenStates: true).HiddenStates![0].Span;
        using var checkpoint = Checkpoint.Open(Fixture.File("gpt2"));
        var wte = checkpoint.Read("transformer.wte.weight");
        int hidden = f32.Config.HiddenSize;
        float maxDifference = 0;
        for (int t = 0; t < ids.Length; t++)
        {
            var row = wte.Span.Slice(ids[t] * hidden, hidden);
            float rowMax = System.Numerics.Tensors.TensorPrimitives.MaxMagnitude(row);
            for (int k = 0; k < hidden; k++)
            {
                int i = t * hidden + k;
                float roundingBound = type == WeightType.BFloat16 ? MathF.Abs(row[k]) / 256 : MathF.Abs(rowMax) / 127 / 2;
                // 1e-6 relative: the f32 sum with the position row rounds once more.
                float bound = roundingBound * 1.0001f + 1e-6f * (MathF.Abs(expected[i]) + 1e-3f);
                float difference = MathF.Abs(expected[i] - actual[i]);
                Assert.True(difference <= bound, $"{dtype} token {t} dim {k}: |f32 - low| = {difference} > {bound}");
                maxDifference = MathF.Max(maxDifference, difference);
            }
        }
        // Zero would mean the embedding still read an f32 table.
        Assert.True(maxDifference > 0, $"{dtype}: the embedding equals f32's exactly");
    }

    /// <summary>
    /// LookupRows reads exactly what Forward multiplies by: row n, column k equals Forward(one-hot k)[n]. 37 inputs (one
    /// 32-wide block and a tail) and 7 outputs (a group of four interleaved rows and three plain ones) cover the layout.
    /// </summary>
    [Theory]
    [InlineData("bf16")]
    [InlineData("int8")]
    public void LookupRowsReadsTheWeightsForwardMultipliesBy(string dtype)
    {
        const int inFeatures = 37, outFeatures = 7;
        var weight = Tensor.Zeros(outFeatures, inFeatures);
        new Rng(3).FillNormal(weight.Span, 0.5f);
        var linear = new Linear(weight, null, WeightLayout.OutputMajor);
        linear.ConvertWeights(WeightTypes.Parse(dtype), keepFloat32: false);
        int[] ids = [6, 0, 3, 4, 6];
        var rows = new float[ids.Length * inFeatures];
        linear.LookupRows(ids, rows);
        var oneHot = new float[inFeatures];
        var column = new float[outFeatures];
        for (int k = 0; k < inFeatures; k++)
        {
            Array.Clear(oneHot);
            oneHot[k] = 1f;
            linear.Forward(oneHot, 1, column);
            for (int i = 0; i < ids.Length; i++)
            {
                Assert.Equal(column[ids[i]], rows[i * inFeatures + k]);
            }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => linear.LookupRows([outFeatures], new float[inFeatures]));
    }

    [Fact]
    public void UnmappedReadsGiveTheMappedValues()
    {
        using var file = SafetensorsFile.Open(Fixture.File("gpt2", "model.safetensors"));
        Assert.NotEmpty(file.Names);
        foreach (string name in file.Names)
        {
            Assert.Equal(file.ReadFloat32(name).ToArray(), file.ReadFloat32(name, mapped: false).ToArray());
        }
        using var goldens = SafetensorsFile.Open(Fixture.File("gpt2", "goldens.safetensors"));
        foreach (string name in goldens.Names.Where(name => goldens.GetInfo(name).DType is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16))
        {
            Assert.Equal(goldens.ReadFloat32(name).ToArray(), goldens.ReadFloat32(name, mapped: false).ToArray());
        }
    }
}
