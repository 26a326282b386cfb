namespace Sharpformer.Generation;

/// <summary>A finished beam: its ids without the EOS (as HF keeps them), the EOS that ended it (null: cut at max length), its score.</summary>
internal sealed record Hypothesis(double Score, int[] Sequence, int? EosTokenId);

/// <summary>HF BeamHypotheses (transformers 4.36): the best <c>numBeams</c> finished hypotheses of one prompt.</summary>
internal sealed class BeamHypotheses(int numBeams, double lengthPenalty, bool earlyStopping)
{
    private readonly List<Hypothesis> _beams = [];
    private double _worstScore = 1e9;

    public IReadOnlyList<Hypothesis> Beams => _beams;

    /// <summary>Score = sum of log-probs / generatedLength^lengthPenalty; generatedLength counts the EOS too (4.36).</summary>
    public void Add(int[] sequence, float sumLogProbs, int generatedLength, int? eosTokenId)
    {
        double score = sumLogProbs / Math.Pow(generatedLength, lengthPenalty);
        if (_beams.Count < numBeams || score > _worstScore)
        {
            _beams.Add(new Hypothesis(score, sequence, eosTokenId));
            if (_beams.Count > numBeams)
            {
                _beams.RemoveAt(IndexOfWorst()); // HF sorts (score, index): the first of the lowest goes
                _worstScore = _beams[IndexOfWorst()].Score;
            }
            else
            {
                _worstScore = Math.Min(score, _worstScore);
            }
        }
    }

    /// <summary>
    /// HF is_done. EarlyStopping: done once full. Otherwise done when full and the best running beam, whose sum is
    /// <paramref name="bestSumLogProbs"/>, cannot beat the worst finished one at the current length.
    /// </summary>
    public bool IsDone(float bestSumLogProbs, int generatedLength)
    {
        if (_beams.Count < numBeams)
        {
            return false;
        }
        return earlyStopping || _worstScore >= bestSumLogProbs / Math.Pow(generatedLength, lengthPenalty);
    }

    private int IndexOfWorst()
    {
        int worst = 0;
        for (int i = 1; i < _beams.Count; i++)
        {
            if (_beams[i].Score < _beams[worst].Score)
            {
                worst = i;
            }
        }
        return worst;
    }
}
