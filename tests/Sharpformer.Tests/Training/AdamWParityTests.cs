using Sharpformer.IO;
using Sharpformer.Models;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training;

/// <summary>Five AdamW steps on GPT-2 against torch 1.13 (HF's train goldens): losses, clip norms and final parameters.</summary>
public sealed class AdamWParityTests
{
    private static readonly string[] FinalNames = ["transformer.ln_f.weight", "transformer.h.0.ln_1.bias", "transformer.h.2.mlp.c_proj.bias"];

    [Theory]
    [InlineData("adamw", false)]
    [InlineData("adamw_clip", true)]
    public void FiveStepsMatchTorch(string entry, bool clip)
    {
        using var goldens = new Goldens("gpt2", "train_goldens.safetensors");
        // The goldens were made with every dropout at 0.
        using var checkpoint = Checkpoint.Open(Fixture.File("gpt2"));
        var model = new Gpt2TrainableModel(Gpt2Config.FromHf(checkpoint.Config), checkpoint.Read, Gpt2Dropout.None);
        var ids = goldens.Ints("batch.input_ids", out var shape);
        var batch = new TrainingBatch(shape[0], shape[1], ids, goldens.Ints("batch.labels")) { AttentionMask = goldens.Ints("batch.attention_mask") };
        // The goldens use one param group: every parameter decays, biases and norms included.
        var optimizer = new AdamW(model.Parameters, new AdamWOptions { LearningRate = 1e-3, WeightDecay = 0.01, DecayAllParameters = true });
        var losses = new List<float>();
        var norms = new List<float>();
        for (int step = 0; step < 5; step++)
        {
            foreach (var parameter in model.Parameters)
            {
                parameter.ZeroGradient();
            }
            losses.Add((float)model.ForwardBackward(batch).Loss);
            if (clip)
            {
                norms.Add((float)GradientClipping.ClipByTotalNorm(model.Parameters, 1.0));
            }
            optimizer.Step(1e-3);
        }
        Goldens.AssertClose(goldens.Floats($"{entry}.losses").Span, losses.ToArray(), 1e-4f, "losses");
        Assert.Equal(goldens.Floats($"{entry}.loss_after_last_step").Span[0], (float)model.Evaluate(batch).Loss, 1e-4f);
        if (clip)
        {
            var expected = goldens.Floats($"{entry}.grad_norms_before_clip").Span;
            for (int i = 0; i < 5; i++)
            {
                Assert.True(Math.Abs(norms[i] - expected[i]) <= 1e-4 * expected[i], $"norm {i}: {norms[i]} vs {expected[i]}");
            }
        }
        foreach (string name in FinalNames)
        {
            var parameter = model.Parameters.Single(p => p.Name == name);
            Goldens.AssertClose(goldens.Floats($"{entry}.final.{name}").Span, parameter.Value.Span, 1e-5f, name);
        }
    }
}
