namespace Sharpformer.Training;

/// <summary>
/// HF's get_cosine_schedule_with_warmup (num_cycles 0.5): linear warmup from 0 over <see cref="WarmupSteps"/>, then a
/// half cosine from the peak to 0 at <see cref="TotalSteps"/>. <see cref="At"/>(k) is the rate of update k + 1, as HF's
/// scheduler is stepped after each optimizer step (so with warmup the first update has rate 0).
/// </summary>
public sealed record WarmupCosineSchedule(double PeakLearningRate, int WarmupSteps, int TotalSteps)
{
    public double At(int completedSteps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(completedSteps);
        if (completedSteps < WarmupSteps)
        {
            return PeakLearningRate * completedSteps / Math.Max(1, WarmupSteps);
        }
        double progress = (double)(completedSteps - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return PeakLearningRate * Math.Max(0, 0.5 * (1 + Math.Cos(Math.PI * progress)));
    }
}
