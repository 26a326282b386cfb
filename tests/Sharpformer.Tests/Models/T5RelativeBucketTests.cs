using Sharpformer.Models;

namespace Sharpformer.Tests.Models;

/// <summary>T5's bucketed relative positions: against HF's own output and against a plain double-precision reference.</summary>
public sealed class T5RelativeBucketTests
{
    [Fact]
    public void BucketsMatchHfOverMinus300To300()
    {
        using var goldens = new Goldens("t5");
        int[] relative = goldens.Ints("relative_position_buckets.relative_position");
        int[] bidirectional = goldens.Ints("relative_position_buckets.bidirectional");
        int[] causal = goldens.Ints("relative_position_buckets.unidirectional");
        Assert.Equal(601, relative.Length);
        for (int i = 0; i < relative.Length; i++)
        {
            Assert.Equal(bidirectional[i], T5Model.RelativePositionBucket(relative[i], bidirectional: true, 32, 128));
            Assert.Equal(causal[i], T5Model.RelativePositionBucket(relative[i], bidirectional: false, 32, 128));
        }
    }

    /// <summary>The paper's rule written out directly: exact buckets below half the range, log-spaced above, clamped.</summary>
    private static int Reference(int query, int key, bool bidirectional, int buckets, int maxDistance)
    {
        int offset = 0;
        int distance;
        if (bidirectional)
        {
            buckets /= 2;
            offset = key > query ? buckets : 0;
            distance = Math.Abs(key - query);
        }
        else
        {
            distance = key < query ? query - key : 0; // future keys all share bucket 0
        }
        int exact = buckets / 2;
        if (distance < exact)
        {
            return offset + distance;
        }
        double logSpaced = exact + Math.Log((double)distance / exact) / Math.Log((double)maxDistance / exact) * (buckets - exact);
        return offset + (int)Math.Min(Math.Floor(logSpaced), buckets - 1);
    }

    [Theory]
    [InlineData(32, 128)]
    [InlineData(64, 256)]
    [InlineData(16, 64)]
    public void BucketsMatchTheScalarReferenceOverManyQueryKeyPairs(int buckets, int maxDistance)
    {
        int compared = 0;
        for (int query = 0; query < 700; query += 7)
        {
            for (int key = 0; key < 700; key++)
            {
                foreach (bool bidirectional in (bool[])[true, false])
                {
                    int expected = Reference(query, key, bidirectional, buckets, maxDistance);
                    int actual = T5Model.RelativePositionBucket(key - query, bidirectional, buckets, maxDistance);
                    Assert.True(expected == actual, $"query {query}, key {key}, bidirectional {bidirectional}: {actual} vs reference {expected}");
                    Assert.InRange(actual, 0, buckets - 1);
                    compared++;
                }
            }
        }
        Assert.Equal(100 * 700 * 2, compared);
    }
}
