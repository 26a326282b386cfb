using Sharpformer.Kernels;
using Sharpformer.Kernels.Reference;
using Sharpformer.Tensors;
using static Sharpformer.Tests.Autograd.BackwardKernelTests;
using static Sharpformer.Tests.Autograd.GradientCheck;

namespace Sharpformer.Tests.Autograd;

/// <summary>
/// The encoder families' backward ops: the float64 reference against finite differences of its forward
/// (loss = Σ y·r), then the float32 kernel against the reference.
/// </summary>
public class BackwardOpsTests
{
    [Fact]
    public void ProductAndTanhBackwardsMatchFiniteDifferencesAndReference()
    {
        var rng = new Rng(22);
        var a = Random(rng, 11);
        var b = Random(rng, 11);
        var r = Random(rng, 11);
        double Product() => Enumerable.Range(0, a.Length).Sum(i => a[i] * b[i] * r[i]);
        double[] da = new double[a.Length], db = new double[b.Length];
        BackwardOpsReference.MultiplyBackward(a, b, r, da, db);
        AssertGradient(Product, a, da, "da");
        AssertGradient(Product, b, db, "db");
        float[] fa = Filled(a.Length), fb = Filled(b.Length);
        BackwardOps.Multiply(ToFloat(a), ToFloat(b), ToFloat(r), fa, fb);
        AssertClose(da, Minus1(fa), 1e-5, "kernel da");
        AssertClose(db, Minus1(fb), 1e-5, "kernel db");

        double Tanh() => Enumerable.Range(0, a.Length).Sum(i => Math.Tanh(a[i]) * r[i]);
        var dx = new double[a.Length];
        BackwardOpsReference.TanhBackward(a, r, dx);
        AssertGradient(Tanh, a, dx, "tanh dx");
        var output = Array.ConvertAll(a, v => (float)Math.Tanh(v));
        var fx = Filled(a.Length);
        BackwardOps.Tanh(output, ToFloat(r), fx);
        AssertClose(dx, Minus1(fx), 1e-5, "kernel tanh dx");
    }

    [Fact]
    public void PositionBiasGatherScattersItsGradientIntoTheTable()
    {
        var rng = new Rng(23);
        int heads = 3, bucketCount = 5;
        int[] buckets = [0, 4, 4, 2, 1, 4, 0]; // repeated buckets must sum
        var table = Random(rng, bucketCount * heads);
        var r = Random(rng, heads * buckets.Length);
        var bias = new double[r.Length];
        double Loss()
        {
            BackwardOpsReference.GatherBias(table, heads, buckets, bias);
            return Dot(bias, r);
        }
        var dTable = new double[table.Length];
        BackwardOpsReference.GatherBiasBackward(r, heads, buckets, dTable);
        AssertGradient(Loss, table, dTable, "dTable");
        Assert.Equal(0, dTable[3 * heads]); // bucket 3 unused: exactly zero

        var forward = new float[r.Length];
        BackwardOps.GatherBias(ToFloat(table), heads, buckets, forward);
        Loss();
        AssertClose(bias, forward, 1e-6, "gather");
        var fTable = Filled(table.Length);
        BackwardOps.GatherBiasBackward(ToFloat(r), heads, buckets, fTable);
        AssertClose(dTable, Minus1(fTable), 1e-5, "kernel dTable");
        Assert.Throws<ArgumentOutOfRangeException>(() => BackwardOps.GatherBias(ToFloat(table), heads, [5], new float[heads]));
    }
}
