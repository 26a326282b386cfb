using Sharpformer.Tensors;
using Sharpformer.Tokenizers;
using Sharpformer.Training;
using Sharpformer.Training.Objectives;
using static Sharpformer.Tests.Training.Objectives.ObjectiveData;

namespace Sharpformer.Tests.Training.Objectives;

/// <summary>Objectives over the Austen sample with the real T5 vocabulary (spiece.model) and BERT's (vocab.txt).</summary>
public sealed class RealVocabularyObjectiveTests
{
    [Fact]
    public void T5SentinelsDescendFromTheLastIdAndSpanCorruptionRoundTripsText()
    {
        var t5 = UnigramTokenizer.FromFolder(Fixture.File("tokenizers", "t5"));
        int[] sentinels = [.. Enumerable.Range(0, 100).Select(i => t5.TokenToId($"<extra_id_{i}>")!.Value)];
        Assert.Equal(SpanCorruptionObjective.DescendingSentinels(t5.VocabSize - 1), sentinels);

        int eos = t5.EndOfSequenceId!.Value;
        int pad = t5.TokenToId("<pad>")!.Value;
        var objective = new SpanCorruptionObjective(eos, pad, t5.VocabSize, sentinels);
        int[] stream = [.. t5.Encode(AustenText[..4000])];
        var segments = Cut(stream, objective.SegmentLength(64));
        TrainingBatch batch = objective.CreateBatch(segments, 64, new Rng(1));
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] input = Row(batch.InputIds, b, 64);
            // Both end with the </s> the objective appends; a document's own </s> may sit inside.
            int[] labels = [.. Row(batch.Labels, b, batch.TargetLength).TakeWhile(id => id != TrainingBatch.IgnoreIndex).SkipLast(1)];
            // Fill each sentinel of the input with its span from the labels: the segment's text comes back.
            var rebuilt = new List<int>();
            foreach (int id in input[..Array.LastIndexOf(input, eos)])
            {
                int index = Array.IndexOf(sentinels, id);
                rebuilt.AddRange(index < 0 ? [id] : labels.SkipWhile(label => label != id).Skip(1).TakeWhile(label => !sentinels.Contains(label)));
            }
            Assert.Equal(t5.Decode(segments[b].ToArray()), t5.Decode(rebuilt.ToArray()));
        }
        Assert.Contains("<extra_id_0>", t5.Decode(Row(batch.InputIds, 0, 64)), StringComparison.Ordinal);
    }

    [Fact]
    public void BertMaskedLmOnTextDecodesBackWithLabels()
    {
        var bert = Bert.Value;
        var objective = new MaskedLmObjective(bert.ClsTokenId, bert.SepTokenId, bert.MaskTokenId, bert.PadTokenId, bert.VocabSize, specialIds: [bert.UnknownTokenId]);
        int[] stream = [.. bert.Encode(AustenText[..3000])];
        var segments = Cut(stream, objective.SegmentLength(32));
        TrainingBatch batch = objective.CreateBatch(segments, 32, new Rng(2));
        for (int b = 0; b < batch.BatchSize; b++)
        {
            int[] input = Row(batch.InputIds, b, 32);
            int[] labels = Row(batch.Labels, b, 32);
            int[] rebuilt = [.. input.Select((id, t) => labels[t] != TrainingBatch.IgnoreIndex ? labels[t] : id)];
            Assert.Equal(bert.Decode(segments[b].ToArray()), bert.Decode(rebuilt, skipSpecialTokens: true));
        }
        Assert.Contains("[MASK]", bert.Decode(batch.InputIds), StringComparison.Ordinal);
    }
}
