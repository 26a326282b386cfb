using Sharpformer.Kernels;
using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>AdamW hyper-parameters; the defaults are torch's (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01).</summary>
public sealed record AdamWOptions
{
    public double LearningRate { get; init; } = 1e-3;

    public double Beta1 { get; init; } = 0.9;

    public double Beta2 { get; init; } = 0.999;

    public double Epsilon { get; init; } = 1e-8;

    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Decay every parameter (torch's single param group, as the HF goldens do), not only those marked <see cref="Parameter.WeightDecay"/>.</summary>
    public bool DecayAllParameters { get; init; }

    public void Validate()
    {
        Check(LearningRate >= 0 && double.IsFinite(LearningRate), nameof(LearningRate), LearningRate, "must be finite and non-negative");
        Check(Beta1 is >= 0 and < 1, nameof(Beta1), Beta1, "must be in [0, 1)");
        Check(Beta2 is >= 0 and < 1, nameof(Beta2), Beta2, "must be in [0, 1)");
        Check(Epsilon > 0, nameof(Epsilon), Epsilon, "must be positive");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), nameof(WeightDecay), WeightDecay, "must be finite and non-negative");
    }

    private static void Check(bool condition, string name, double value, string rule)
    {
        if (!condition)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} {rule} (got {value})");
        }
    }
}

/// <summary>
/// torch.optim.AdamW (1.13, single-tensor path) over a model's parameters: decoupled weight decay, bias-corrected
/// moments. The moments are float32 like torch's; <see cref="StepCount"/> is torch's state["step"].
/// </summary>
public sealed class AdamW
{
    private readonly IReadOnlyList<Parameter> _parameters;
    private readonly float[][] _firstMoments;
    private readonly float[][] _secondMoments;

    public AdamW(IReadOnlyList<Parameter> parameters, AdamWOptions options)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _parameters = parameters;
        Options = options;
        _firstMoments = [.. parameters.Select(parameter => new float[parameter.Value.Length])];
        _secondMoments = [.. parameters.Select(parameter => new float[parameter.Value.Length])];
    }

    public AdamWOptions Options { get; }

    /// <summary>Updates taken so far.</summary>
    public int StepCount { get; private set; }

    /// <summary>Applies one update with each parameter's current gradient at <paramref name="learningRate"/> (the schedule's value).</summary>
    public void Step(double learningRate)
    {
        StepCount++;
        for (int index = 0; index < _parameters.Count; index++)
        {
            var parameter = _parameters[index];
            double decay = Options.DecayAllParameters || parameter.WeightDecay ? Options.WeightDecay : 0;
            var step = AdamWStep.Create(learningRate, Options.Beta1, Options.Beta2, Options.Epsilon, decay, StepCount);
            AdamWKernel.Update(parameter.Gradient, step, _firstMoments[index], _secondMoments[index], parameter.Value.Span);
        }
    }

    /// <summary>The moments as tensors named "exp_avg.{parameter}" and "exp_avg_sq.{parameter}" (torch's state names).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> ExportMoments()
    {
        for (int index = 0; index < _parameters.Count; index++)
        {
            var shape = _parameters[index].Value.Shape;
            yield return new(FirstMomentName(_parameters[index].Name), new Tensor(_firstMoments[index], shape));
            yield return new(SecondMomentName(_parameters[index].Name), new Tensor(_secondMoments[index], shape));
        }
    }

    /// <summary>Restores the step count and moments; <paramref name="read"/> returns a named tensor or throws naming it.</summary>
    public void Restore(int stepCount, Func<string, int[], Tensor> read)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        ArgumentNullException.ThrowIfNull(read);
        for (int index = 0; index < _parameters.Count; index++)
        {
            var parameter = _parameters[index];
            read(FirstMomentName(parameter.Name), parameter.Value.Shape).Span.CopyTo(_firstMoments[index]);
            read(SecondMomentName(parameter.Name), parameter.Value.Shape).Span.CopyTo(_secondMoments[index]);
        }
        StepCount = stepCount;
    }

    private static string FirstMomentName(string parameter) => "exp_avg." + parameter;

    private static string SecondMomentName(string parameter) => "exp_avg_sq." + parameter;
}
