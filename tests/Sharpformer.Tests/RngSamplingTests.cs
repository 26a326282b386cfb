using Sharpformer.Tensors;

namespace Sharpformer.Tests;

/// <summary>Rng helpers the objectives use: Poisson draws, shuffles, permutations.</summary>
public sealed class RngSamplingTests
{
    [Fact]
    public void PoissonSamplerHasMeanAndVarianceLambda()
    {
        var rng = new Rng(1);
        double sum = 0, sumOfSquares = 0, zeros = 0;
        const int Count = 100_000;
        for (int i = 0; i < Count; i++)
        {
            int draw = rng.NextPoisson(3.0);
            sum += draw;
            sumOfSquares += draw * draw;
            zeros += draw == 0 ? 1 : 0;
        }
        double mean = sum / Count;
        Assert.InRange(mean, 3 * 0.99, 3 * 1.01);
        Assert.InRange(sumOfSquares / Count - mean * mean, 3 * 0.95, 3 * 1.05);
        Assert.InRange(zeros / Count, Math.Exp(-3) - 0.005, Math.Exp(-3) + 0.005);
    }

    [Fact]
    public void ShufflePutsEveryItemEverywhereEquallyOften()
    {
        var rng = new Rng(2);
        int[,] counts = new int[4, 4];
        const int Trials = 20_000;
        for (int trial = 0; trial < Trials; trial++)
        {
            int[] order = rng.Permutation(4);
            if (trial < 100)
            {
                Assert.Equal([0, 1, 2, 3], order.Order());
            }
            for (int position = 0; position < 4; position++)
            {
                counts[order[position], position]++;
            }
        }
        foreach (int count in counts)
        {
            Assert.InRange(count / (double)Trials, 0.235, 0.265);
        }
    }

    [Fact]
    public void SameSeedSameStreamAndBadLambdaRefused()
    {
        Assert.Equal(new Rng(9).Permutation(10), new Rng(9).Permutation(10));
        Assert.NotEqual(new Rng(9).Permutation(10), new Rng(10).Permutation(10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rng(1).NextPoisson(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Rng(1).NextPoisson(double.NaN));
    }
}
