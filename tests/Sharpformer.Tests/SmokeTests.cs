using Sharpformer.Tensors;

namespace Sharpformer.Tests;

public class RngTests
{
    [Fact]
    public void SameSeedGivesSameStreamAndDifferentSeedsDiffer()
    {
        var a = new Rng(42);
        var b = new Rng(42);
        var c = new Rng(43);
        var first = Enumerable.Range(0, 16).Select(_ => a.NextUInt32()).ToArray();
        Assert.Equal(first, Enumerable.Range(0, 16).Select(_ => b.NextUInt32()).ToArray());
        Assert.NotEqual(first, Enumerable.Range(0, 16).Select(_ => c.NextUInt32()).ToArray());
    }

    [Fact]
    public void UniformFloatsStayInRangeWithMeanNearHalf()
    {
        var rng = new Rng(7);
        double sum = 0;
        for (int i = 0; i < 100_000; i++)
        {
            float x = rng.NextFloat();
            Assert.InRange(x, 0f, 0.99999994f);
            sum += x;
        }
        Assert.InRange(sum / 100_000, 0.49, 0.51);
    }
}
