using Sharpformer.Models;

namespace Sharpformer.Generation;

/// <summary>
/// Greedy search and sampling (HF greedy_search / sample): processors on the raw last-position logits, then argmax
/// or a draw; finished rows keep being fed the pad id until every row is finished.
/// </summary>
internal static class SamplingLoop
{
    public static GenerationResult Run(IGenerationSession session, DecodingPlan plan, Action<GeneratedToken>? onToken, CancellationToken cancellationToken)
    {
        int rows = session.BatchSize, vocab = session.VocabSize;
        var sequences = new SequenceBuffer(session.InitialSequences, rows, session.InitialLength, plan.MaxNewTokens);
        var logits = new float[rows * vocab]; // reused by every step
        var nextTokens = new int[rows];
        var finishReasons = new FinishReason?[rows];
        var generatedCounts = new int[rows];
        var scores = plan.Options.OutputScores ? new List<float[]>() : null;
        bool sampling = plan.Rng is not null;
        int running = rows;

        cancellationToken.ThrowIfCancellationRequested();
        session.Prefill(logits);
        while (true)
        {
            int generated = sequences.GeneratedLength;
            for (int row = 0; row < rows; row++)
            {
                bool finished = finishReasons[row] is not null;
                if (finished && scores is null)
                {
                    nextTokens[row] = plan.PadTokenId; // nobody reads this row's scores any more
                    continue;
                }
                var rowScores = logits.AsSpan(row * vocab, vocab);
                plan.Process(sequences.Row(row), generated, rowScores, warp: sampling);
                nextTokens[row] = finished ? plan.PadTokenId
                    : sampling ? Sampler.Sample(rowScores, plan.Rng!)
                    : Sampler.ArgMax(rowScores);
            }
            scores?.Add(logits.ToArray());
            sequences.Append(nextTokens);

            for (int row = 0; row < rows; row++)
            {
                if (finishReasons[row] is not null)
                {
                    continue;
                }
                generatedCounts[row]++;
                finishReasons[row] = plan.Check(sequences.Row(row), generated + 1);
                running -= finishReasons[row] is null ? 0 : 1;
                onToken?.Invoke(new GeneratedToken(nextTokens[row], generated, finishReasons[row], null));
            }
            if (running == 0)
            {
                break; // the max-new-tokens criterion guarantees this
            }
            cancellationToken.ThrowIfCancellationRequested();
            session.Step(nextTokens, logits);
        }

        var results = new GeneratedSequence[rows];
        for (int row = 0; row < rows; row++)
        {
            int[] generatedIds = sequences.Row(row).Slice(sequences.InitialLength, generatedCounts[row]).ToArray();
            results[row] = new GeneratedSequence(generatedIds, sequences.Row(row).ToArray(), finishReasons[row]!.Value, null, plan.TextOf(generatedIds));
        }
        return new GenerationResult(results, sequences.InitialLength, scores);
    }
}
