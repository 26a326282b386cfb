using Sharpformer.Layers;

namespace Sharpformer.Training;

/// <summary>
/// One batch for any objective, in Hugging Face's conventions so the same batch trains our model and theirs:
/// labels use -100 (<see cref="IgnoreIndex"/>) for positions without a target. Fields an objective does not use
/// stay null. Row-major: [batch, length] unless noted.
/// </summary>
public sealed record TrainingBatch(int BatchSize, int Length, int[] InputIds, int[] Labels)
{
    public const int IgnoreIndex = -100;

    /// <summary>[batch, length]: 1 = token, 0 = padding (null = no padding).</summary>
    public int[]? AttentionMask { get; init; }

    /// <summary>[batch, length] segment ids (BERT token_type_ids; UniLM source = 0, target = 1).</summary>
    public int[]? TokenTypeIds { get; init; }

    /// <summary>
    /// Causal LM only: true (HF's GPT-2 convention) when <see cref="Labels"/> equal the inputs and the model shifts
    /// inside (logits[:, :-1] predict labels[:, 1:]); false when labels are already aligned to the next token.
    /// </summary>
    public bool ShiftLabels { get; init; } = true;

    /// <summary>Encoder-decoder: labels are [batch, <see cref="TargetLength"/>]; 0 for decoder-only and encoder models.</summary>
    public int TargetLength { get; init; }

    /// <summary>Encoder-decoder: [batch, TargetLength] decoder inputs (null = derive them by shifting labels right, as HF).</summary>
    public int[]? DecoderInputIds { get; init; }

    /// <summary>
    /// [batch, length, length]: 1 = query i may attend to key j (UniLM's unified masks, a prefix-LM mask);
    /// null = the model's own mask kind. Combined with <see cref="AttentionMask"/>.
    /// </summary>
    public byte[]? Visibility { get; init; }

    /// <summary>BERT pretraining: [batch] next-sentence labels (0 = B follows A, 1 = random B; -100 = none); null = no NSP loss.</summary>
    public int[]? NextSentenceLabels { get; init; }

    /// <summary>XLNet: [batch, length, length] perm_mask, 1 = query i may NOT see token j (HF's convention).</summary>
    public float[]? PermutationMask { get; init; }

    /// <summary>XLNet: [batch, <see cref="PredictCount"/>, length] one-hot target_mapping; labels are then [batch, PredictCount].</summary>
    public float[]? TargetMapping { get; init; }

    public int PredictCount { get; init; }

    /// <summary>Positions whose label is not <see cref="IgnoreIndex"/> (after the causal shift when it applies).</summary>
    public int TargetCount
    {
        get
        {
            int count = 0;
            int width = TargetLength > 0 ? TargetLength : PredictCount > 0 ? PredictCount : Length;
            for (int b = 0; b < BatchSize; b++)
            {
                int start = TargetLength == 0 && PredictCount == 0 && ShiftLabels ? 1 : 0;
                for (int t = start; t < width; t++)
                {
                    count += Labels[b * width + t] != IgnoreIndex ? 1 : 0;
                }
            }
            return count;
        }
    }

    /// <summary>The padding mask and visibility matrix as the layers take them; null when the batch has neither.</summary>
    internal TrainingAttentionMask? LayerMasks() =>
        AttentionMask is null && Visibility is null ? null : new TrainingAttentionMask { KeyMask = AttentionMask, Visibility = Visibility };

    /// <summary>
    /// Refuses a batch that is not one sequence per row for a decoder-only or encoder model: ids and labels
    /// [batch, length], no decoder side, no XLNet permutation; <paramref name="model"/> opens the message ("BERT is an encoder").
    /// </summary>
    internal static void CheckTokenRows(TrainingBatch batch, string model)
    {
        ArgumentNullException.ThrowIfNull(batch);
        int count = batch.BatchSize * batch.Length;
        if (batch.TargetLength != 0 || batch.DecoderInputIds is not null || batch.PermutationMask is not null || batch.TargetMapping is not null)
        {
            throw new ArgumentException($"{model}: the batch must not carry decoder inputs, target lengths or XLNet permutations");
        }
        if (batch.InputIds.Length != count || batch.Labels.Length != count)
        {
            throw new ArgumentException($"a batch of {batch.BatchSize} × {batch.Length} needs that many input ids and labels (got {batch.InputIds.Length} ids, {batch.Labels.Length} labels)");
        }
        if (batch.AttentionMask is not null && batch.AttentionMask.Length != count)
        {
            throw new ArgumentException($"attention mask holds {batch.AttentionMask.Length} values; expected {count}");
        }
    }
}
