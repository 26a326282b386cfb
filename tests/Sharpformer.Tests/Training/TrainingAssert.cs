using Sharpformer.Tensors;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training;

/// <summary>Checks every trainable family shares: PyTorch gradient goldens, whole-model finite differences, save → check; and random batch ids.</summary>
public static class TrainingAssert
{
    /// <summary>
    /// Each parameter's gradient against <paramref name="prefix"/> + its name in the goldens: |a - b| ≤ 1e-4·max(1, largest |b|)
    /// (absolute for small tensors, relative to the tensor's scale for large ones).
    /// </summary>
    public static void GradientsMatch(Goldens goldens, IEnumerable<Parameter> parameters, string prefix = "grad.")
    {
        int compared = 0;
        foreach (var parameter in parameters)
        {
            var expected = goldens.Floats(prefix + parameter.Name).Span;
            float largest = 0;
            foreach (float value in expected)
            {
                largest = MathF.Max(largest, MathF.Abs(value));
            }
            Goldens.AssertClose(expected, parameter.Gradient, 1e-4f * MathF.Max(1f, largest), prefix + parameter.Name);
            compared++;
        }
        Assert.True(compared > 0, "no gradients compared");
    }

    /// <summary>
    /// Central differences of the float32 loss (step <paramref name="step"/>) against the analytic gradient at three entries of every
    /// parameter tensor (the largest gradient and two random ones), within <paramref name="absoluteTolerance"/> +
    /// <paramref name="relativeTolerance"/>·|analytic|; every tensor must get a gradient unless <paramref name="needsGradient"/> spares it.
    /// </summary>
    public static void GradientsMatchFiniteDifferences(ITrainableModel model, TrainingBatch batch, ulong seed, float step = 1e-2f,
        double absoluteTolerance = 2e-3, double relativeTolerance = 3e-2, Func<Parameter, bool>? needsGradient = null)
    {
        foreach (var parameter in model.Parameters)
        {
            parameter.ZeroGradient();
        }
        model.ForwardBackward(batch);
        var rng = new Rng(seed);
        int checkedCount = 0;
        foreach (var parameter in model.Parameters)
        {
            var values = parameter.Value.Span;
            int largest = 0;
            for (int i = 1; i < values.Length; i++)
            {
                largest = MathF.Abs(parameter.Gradient[i]) > MathF.Abs(parameter.Gradient[largest]) ? i : largest;
            }
            if (needsGradient?.Invoke(parameter) != false)
            {
                Assert.True(parameter.Gradient[largest] != 0f, $"{parameter.Name} got no gradient");
            }
            foreach (int index in new[] { largest, rng.NextInt(values.Length), rng.NextInt(values.Length) })
            {
                float saved = values[index];
                values[index] = saved + step;
                double plus = model.Evaluate(batch).Loss;
                values[index] = saved - step;
                double minus = model.Evaluate(batch).Loss;
                values[index] = saved;
                double numeric = (plus - minus) / (2 * step);
                double analytic = parameter.Gradient[index];
                Assert.True(Math.Abs(numeric - analytic) <= absoluteTolerance + relativeTolerance * Math.Abs(analytic),
                    $"{parameter.Name}[{index}]: analytic {analytic} vs finite difference {numeric}");
                checkedCount++;
            }
        }
        Assert.Equal(3 * model.Parameters.Count, checkedCount);
    }

    /// <summary><paramref name="count"/> ids drawn uniformly from a vocabulary of <paramref name="vocab"/>.</summary>
    public static int[] RandomIds(Rng rng, int count, int vocab)
    {
        var ids = new int[count];
        for (int i = 0; i < ids.Length; i++)
        {
            ids[i] = rng.NextInt(vocab);
        }
        return ids;
    }

    /// <summary>Saves <paramref name="model"/> to a fresh temporary folder, runs <paramref name="check"/> on it, and deletes it.</summary>
    public static void WithSaved(ITrainableModel model, Action<string> check)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"sharpformer-{model.ModelType}-save-" + Guid.NewGuid().ToString("N"));
        try
        {
            model.Save(directory);
            Assert.Empty(Directory.GetFiles(directory, "*.tmp"));
            check(directory);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
