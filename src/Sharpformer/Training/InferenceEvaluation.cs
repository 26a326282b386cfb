using Sharpformer.Kernels;
using Sharpformer.Models;
using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>
/// Causal-LM loss scored through the inference forward, and optionally how far its logits are from a reference model's.
/// </summary>
public sealed record InferenceEvalResult(double Loss, int TargetCount)
{
    public double Perplexity => Math.Exp(Loss);

    /// <summary>The reference model's mean loss over the same targets (null: no reference given).</summary>
    public double? ReferenceLoss { get; init; }

    /// <summary>Max |logit − reference logit| over every scored position and vocabulary entry (null: no reference given).</summary>
    public float? MaxLogitDifference { get; init; }
}

/// <summary>
/// Scores causal-LM batches (<see cref="Objectives.CausalLmObjective"/>) through <see cref="Gpt2Model.Forward"/>, the code
/// generation runs, rather than the training tape: the only path that sees bf16 or int8 weights, so this is how their
/// cost in loss is measured. Fed <see cref="Trainer.EvaluationBatches"/>, it scores the targets Trainer.Evaluate scores.
/// </summary>
public static class InferenceEvaluation
{
    /// <summary>
    /// Mean cross-entropy of <paramref name="model"/> over every target of <paramref name="batches"/> (null when they
    /// hold none); with <paramref name="reference"/> (typically the same checkpoint in f32) also its loss and the largest
    /// logit difference between the two.
    /// </summary>
    public static InferenceEvalResult? Evaluate(ILanguageModel model, IEnumerable<TrainingBatch> batches, ILanguageModel? reference = null)
    {
        var decoder = CausalDecoder(model, nameof(model));
        var referenceDecoder = reference is null ? null : CausalDecoder(reference, nameof(reference));
        if (referenceDecoder is not null && referenceDecoder.VocabSize != decoder.VocabSize)
        {
            throw new ArgumentException($"the reference model's vocabulary ({referenceDecoder.VocabSize}) differs from the model's ({decoder.VocabSize})", nameof(reference));
        }
        ArgumentNullException.ThrowIfNull(batches);
        int vocabSize = decoder.VocabSize;
        double lossSum = 0;
        double referenceLossSum = 0;
        int targetCount = 0;
        float maxDifference = 0;
        foreach (var batch in batches)
        {
            Gpt2TrainableModel.Check(batch);
            if (batch.Visibility is not null)
            {
                throw new ArgumentException("inference evaluation runs the model's causal mask; this batch carries its own visibility mask (UniLM, prefix LM)", nameof(batches));
            }
            int[] targets = Gpt2TrainableModel.Targets(batch);
            var logits = Logits(decoder, batch);
            lossSum += Backward.CrossEntropy(logits.Span, targets, vocabSize, TrainingBatch.IgnoreIndex, 0, [], out int count);
            targetCount += count;
            if (referenceDecoder is not null)
            {
                var referenceLogits = Logits(referenceDecoder, batch);
                referenceLossSum += Backward.CrossEntropy(referenceLogits.Span, targets, vocabSize, TrainingBatch.IgnoreIndex, 0, [], out _);
                maxDifference = MathF.Max(maxDifference, MaxDifference(logits.Span, referenceLogits.Span, targets, vocabSize));
            }
        }
        if (targetCount == 0)
        {
            return null;
        }
        return new InferenceEvalResult(lossSum / targetCount, targetCount)
        {
            ReferenceLoss = referenceDecoder is null ? null : referenceLossSum / targetCount,
            MaxLogitDifference = referenceDecoder is null ? null : maxDifference,
        };
    }

    // Every position's logits [batch·length, vocab]: the batch's right padding is masked out as training masks it.
    private static Tensor Logits(Gpt2Model model, TrainingBatch batch) =>
        model.Forward(batch.InputIds, batch.BatchSize, batch.Length, batch.AttentionMask).Logits;

    // Only positions with a target count: padding and the last position of a row predict nothing that is scored.
    private static float MaxDifference(ReadOnlySpan<float> logits, ReadOnlySpan<float> reference, ReadOnlySpan<int> targets, int vocabSize)
    {
        float max = 0;
        for (int row = 0; row < targets.Length; row++)
        {
            if (targets[row] == TrainingBatch.IgnoreIndex)
            {
                continue;
            }
            var actual = logits.Slice(row * vocabSize, vocabSize);
            var expected = reference.Slice(row * vocabSize, vocabSize);
            for (int i = 0; i < vocabSize; i++)
            {
                max = MathF.Max(max, MathF.Abs(actual[i] - expected[i]));
            }
        }
        return max;
    }

    private static Gpt2Model CausalDecoder(ILanguageModel model, string name)
    {
        ArgumentNullException.ThrowIfNull(model, name);
        return model as Gpt2Model
            ?? throw new ArgumentException($"inference evaluation scores causal LMs (gpt2, gpt_neo); model_type '{model.ModelType}' is not one", name);
    }
}
