using System.Numerics.Tensors;
using Sharpformer.Models;

namespace Sharpformer.Generation;

/// <summary>
/// HF beam_search + BeamSearchScorer (transformers 4.36). The session holds prompts repeated NumBeams times
/// (rows b·beams … b·beams+beams-1 belong to prompt b). Each step: log_softmax, processors, + running beam score,
/// top (1 + #eos, at least 2)·beams over beams·vocab, EOS candidates become hypotheses, the rest the next beams.
/// </summary>
internal static class BeamSearch
{
    public static GenerationResult Run(IGenerationSession session, DecodingPlan plan, CancellationToken cancellationToken)
    {
        var options = plan.Options;
        int beams = options.NumBeams, rows = session.BatchSize, prompts = rows / beams, vocab = session.VocabSize;
        var sequences = new SequenceBuffer(session.InitialSequences, rows, session.InitialLength, plan.MaxNewTokens);
        var logits = new float[rows * vocab];
        var beamScores = new float[rows];
        var nextScores = new float[rows];
        var nextTokens = new int[rows];
        var sources = new int[rows];
        var hypotheses = new BeamHypotheses[prompts];
        var done = new bool[prompts];
        var top = new TopCandidates(Math.Max(2, 1 + plan.EosTokenIds.Length) * beams);
        for (int row = 0; row < rows; row++)
        {
            beamScores[row] = row % beams == 0 ? 0f : -1e9f; // only the first copy of each prompt starts alive
        }
        for (int prompt = 0; prompt < prompts; prompt++)
        {
            hypotheses[prompt] = new BeamHypotheses(beams, options.LengthPenalty, options.EarlyStopping);
        }

        cancellationToken.ThrowIfCancellationRequested();
        session.Prefill(logits);
        while (true)
        {
            int generated = sequences.GeneratedLength;
            for (int row = 0; row < rows; row++)
            {
                var rowScores = logits.AsSpan(row * vocab, vocab);
                Sampler.LogSoftmax(rowScores);
                plan.Process(sequences.Row(row), generated, rowScores, warp: false);
                TensorPrimitives.Add(rowScores, beamScores[row], rowScores);
            }
            for (int prompt = 0; prompt < prompts; prompt++)
            {
                if (done[prompt])
                {
                    // HF pads finished prompts: their rows run on with pad tokens and are never read again.
                    for (int beam = 0; beam < beams; beam++)
                    {
                        int row = prompt * beams + beam;
                        (nextScores[row], nextTokens[row], sources[row]) = (0f, plan.PadTokenId, row);
                    }
                    continue;
                }
                top.SelectFrom(logits.AsSpan(prompt * beams * vocab, beams * vocab));
                ChooseNextBeams(prompt, beams, vocab, top, sequences, plan.EosTokenIds, hypotheses[prompt], nextScores, nextTokens, sources);
                done[prompt] = hypotheses[prompt].IsDone(top.Score(0), generated + 1);
            }
            sequences.ReorderAndAppend(sources, nextTokens);
            (beamScores, nextScores) = (nextScores, beamScores);
            if (sequences.GeneratedLength >= plan.MaxNewTokens || done.All(finished => finished))
            {
                break;
            }
            cancellationToken.ThrowIfCancellationRequested();
            session.Reorder(sources);
            session.Step(nextTokens, logits);
        }

        // Beams still running at the end are finished as they are (HF finalize).
        for (int prompt = 0; prompt < prompts; prompt++)
        {
            for (int beam = 0; beam < beams && !done[prompt]; beam++)
            {
                int row = prompt * beams + beam;
                hypotheses[prompt].Add(sequences.Row(row).ToArray(), beamScores[row], sequences.GeneratedLength, null);
            }
        }
        return Collect(hypotheses, plan, sequences.InitialLength);
    }

    /// <summary>HF BeamSearchScorer.process for one prompt: walk the candidates best first until the beams are refilled.</summary>
    private static void ChooseNextBeams(int prompt, int beams, int vocab, TopCandidates top, SequenceBuffer sequences, int[] eosTokenIds,
        BeamHypotheses hypotheses, float[] nextScores, int[] nextTokens, int[] sources)
    {
        int filled = 0;
        for (int rank = 0; rank < top.Count && filled < beams; rank++)
        {
            int source = prompt * beams + top.Index(rank) / vocab;
            int token = top.Index(rank) % vocab;
            if (eosTokenIds.AsSpan().Contains(token))
            {
                if (rank < beams) // an EOS outside the top `beams` candidates is ignored
                {
                    hypotheses.Add(sequences.Row(source).ToArray(), top.Score(rank), sequences.GeneratedLength + 1, token);
                }
                continue;
            }
            int row = prompt * beams + filled++;
            (nextScores[row], nextTokens[row], sources[row]) = (top.Score(rank), token, source);
        }
    }

    /// <summary>
    /// HF finalize: per prompt, the NumReturnSequences best hypotheses (stable sort, ties: the later one first), each
    /// followed by its EOS when it had one and right-padded to min(longest + 1, max length).
    /// </summary>
    private static GenerationResult Collect(BeamHypotheses[] hypotheses, DecodingPlan plan, int initialLength)
    {
        int keep = plan.Options.NumReturnSequences;
        var best = hypotheses.SelectMany(perPrompt =>
        {
            var ascending = perPrompt.Beams.OrderBy(hypothesis => hypothesis.Score).ToArray();
            return Enumerable.Range(1, keep).Select(rank => ascending[^rank]);
        }).ToArray();
        int width = Math.Min(best.Max(hypothesis => hypothesis.Sequence.Length) + 1, initialLength + plan.MaxNewTokens);
        var results = new GeneratedSequence[best.Length];
        for (int i = 0; i < best.Length; i++)
        {
            var hypothesis = best[i];
            int[] generatedIds = [.. hypothesis.Sequence.AsSpan(initialLength), .. hypothesis.EosTokenId is { } eos ? [eos] : Array.Empty<int>()];
            var sequence = new int[width];
            sequence.AsSpan().Fill(plan.PadTokenId);
            hypothesis.Sequence.CopyTo(sequence, 0);
            generatedIds.AsSpan(hypothesis.Sequence.Length - initialLength).CopyTo(sequence.AsSpan(hypothesis.Sequence.Length));
            results[i] = new GeneratedSequence(generatedIds, sequence, hypothesis.EosTokenId is null ? FinishReason.Length : FinishReason.Eos,
                (float)hypothesis.Score, plan.TextOf(generatedIds));
        }
        return new GenerationResult(results, initialLength, null);
    }
}
