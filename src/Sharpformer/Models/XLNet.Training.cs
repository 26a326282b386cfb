using Sharpformer.Autograd;
using Sharpformer.Layers;

namespace Sharpformer.Models;

public sealed partial class XLNetModel
{
    /// <summary>
    /// Training forward: the inference steps of <see cref="Forward(int[], int, int, float[], float[], int, int[], int[], bool)"/>
    /// on the tape, one batch row at a time (no dropout, no memory). Returns logits [batch·(targets or tokens), vocab]:
    /// the query stream's when a target mapping is given, else the content stream's.
    /// </summary>
    public Variable Forward(Tape tape, int[] inputIds, int batchSize, int tokenCount, float[]? permMask = null, float[]? targetMapping = null,
        int targetCount = 0, int[]? tokenTypeIds = null, int[]? attentionMask = null)
    {
        ArgumentNullException.ThrowIfNull(tape);
        CheckInputs(inputIds, batchSize, tokenCount, permMask, targetMapping, targetCount, tokenTypeIds, attentionMask);
        int outputRows = targetMapping is null ? tokenCount : targetCount;
        // The sinusoidal encodings are constants; the position projection still gets its weight gradient.
        var relative = new Variable(RelativePositionEncoding(tokenCount));
        var rows = new List<Variable>(batchSize);
        for (int b = 0; b < batchSize; b++)
        {
            var row = new Row(
                inputIds.AsMemory(b * tokenCount, tokenCount),
                permMask?.AsMemory(b * tokenCount * tokenCount, tokenCount * tokenCount),
                targetMapping?.AsMemory(b * targetCount * tokenCount, targetCount * tokenCount),
                targetCount,
                tokenTypeIds?.AsMemory(b * tokenCount, tokenCount),
                attentionMask?.AsMemory(b * tokenCount, tokenCount));
            rows.Add(RunRow(tape, row, relative));
        }
        // Head tied to the word embedding (its gradient adds to the embedding's), bias lm_loss.bias.
        return _head.Forward(tape, tape.Concat(rows), batchSize * outputRows);
    }

    private Variable RunRow(Tape tape, Row row, Variable relative)
    {
        int tokens = row.Length, hidden = Config.HiddenSize;
        var content = tape.Embedding(_wordEmbedding.Table, row.Ids.Span);
        // Query stream: mask_emb at every target (a zero activation plus the learned row).
        Variable? query = row.TargetMapping is null ? null : tape.AddRow(new Variable(new float[row.TargetCount * hidden]), _maskEmbedding);
        var contentVisible = Visibility(row, contentStream: true);
        var queryVisible = query is null ? null : Visibility(row, contentStream: false);
        int[]? segments = row.TokenTypes?.ToArray();
        foreach (var layer in _layers)
        {
            (content, query) = TwoStreamAttention(tape, layer, row, content, query, relative, contentVisible, queryVisible, segments);
            content = FeedForward(tape, layer, content, tokens);
            query = query is null ? null : FeedForward(tape, layer, query, row.TargetCount);
        }
        return query ?? content;
    }

    /// <summary>1 where query i sees key j: the content stream always sees itself (HF's non_tgt_mask); "uni" adds the causal rule.</summary>
    private byte[] Visibility(Row row, bool contentStream)
    {
        int tokens = row.Length;
        var visible = new byte[tokens * tokens];
        for (int i = 0; i < tokens; i++)
        {
            for (int j = 0; j < tokens; j++)
            {
                bool hidden = (!contentStream || i != j) && row.Hidden(i, j);
                visible[i * tokens + j] = hidden || (Config.Unidirectional && j > i) ? (byte)0 : (byte)1;
            }
        }
        return visible;
    }

    private (Variable Content, Variable? Query) TwoStreamAttention(Tape tape, Layer layer, Row row, Variable content, Variable? query,
        Variable relative, byte[] contentVisible, byte[]? queryVisible, int[]? segments)
    {
        int tokens = row.Length, inner = Config.InnerWidth;
        var keys = layer.Key.Forward(tape, content, tokens);
        var values = layer.Value.Forward(tape, content, tokens);
        var positions = layer.Position.Forward(tape, relative, 2 * tokens - 1);

        // Content stream: (q + r_w)·k in the kernel, (q + r_r)·R and (q + r_s)·seg as its score bias.
        var contentQueries = layer.Query.Forward(tape, content, tokens);
        var contentHeads = Attend(tape, layer, contentQueries, keys, values, positions, contentVisible, segments, tokens);
        var newContent = PostAttention(tape, layer, contentHeads, content, tokens);
        if (query is null)
        {
            return (newContent, null);
        }

        // Query stream: project g, scatter to positions (mappingᵀ), attend, gather back (mapping).
        int targets = row.TargetCount;
        var mapping = row.TargetMapping!.Value.ToArray();
        var targetQueries = layer.Query.Forward(tape, query, targets);
        var scattered = tape.MixRows(targetQueries, mapping, tokens, targets, inner, transpose: true);
        var positionHeads = Attend(tape, layer, scattered, keys, values, positions, queryVisible!, segments, tokens);
        var targetHeads = tape.MixRows(positionHeads, mapping, targets, tokens, inner, transpose: false);
        return (newContent, PostAttention(tape, layer, targetHeads, query, targets));
    }

    private Variable Attend(Tape tape, Layer layer, Variable queries, Variable keys, Variable values, Variable positions, byte[] visible,
        int[]? segments, int tokens)
    {
        int heads = Config.HeadCount, headDim = Config.HeadDim;
        float scale = 1f / MathF.Sqrt(headDim);
        var bias = tape.RelativeScoreBias(queries, positions, layer.PositionBias, layer.SegmentBias, layer.SegmentEmbedding, segments, tokens, heads, headDim, scale);
        var shifted = tape.AddRow(queries, layer.ContentBias);
        return tape.BiasedAttention(shifted, keys, values, bias, visible, tokens, heads, headDim, scale);
    }

    /// <summary>Output projection, residual, layer norm (post-norm).</summary>
    private static Variable PostAttention(Tape tape, Layer layer, Variable heads, Variable residual, int rows) =>
        layer.AttentionNorm.Forward(tape, tape.Add(layer.Output.Forward(tape, heads, rows), residual));

    /// <summary>layer_1 → activation → layer_2, residual, layer norm.</summary>
    private static Variable FeedForward(Tape tape, Layer layer, Variable input, int rows) =>
        layer.FeedForwardNorm.Forward(tape, tape.Add(layer.FeedForward.Forward(tape, input, rows), input));
}
