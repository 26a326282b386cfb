using Sharpformer.Models;

namespace Sharpformer.Tests.Models;

/// <summary>
/// A finished session hands its KV cache and buffers to the next session of the same shape. Whatever the first
/// session left in them (a full cache, GPT-Neo's slid local windows), the next session's logits must equal those of a
/// model that never ran a session.
/// </summary>
public class SessionReuseTests
{
    [Theory]
    [InlineData("gpt2")]
    [InlineData("gpt_neo")]
    public void ASessionAfterAnotherEqualsOneOnAFreshModel(string fixture)
    {
        using var used = (Gpt2Model)ModelRegistry.Load(Fixture.File(fixture));
        using var fresh = (Gpt2Model)ModelRegistry.Load(Fixture.File(fixture));
        const int steps = 30; // beyond GPT-Neo's window of 8, so its local layers have slid
        // Same shape, different tokens: left over positions or values would change the second run.
        int[] first = [5, 9, 200, 31, 7, 7, 64, 1, 2, 3], second = [17, 400, 8, 8, 90, 12, 3, 77, 5, 41];
        Generate(used, first, steps);
        var reused = Generate(used, second, steps);
        var expected = Generate(fresh, second, steps);
        Assert.Equal(expected.Count, reused.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i], reused[i]);
        }
    }

    [Fact]
    public void ADisposedSessionRefusesToStep()
    {
        using var model = (Gpt2Model)ModelRegistry.Load(Fixture.File("gpt2"));
        var session = model.StartSession(PromptBatch.Single([1, 2, 3]), 4);
        var logits = new float[model.VocabSize];
        session.Prefill(logits);
        session.Dispose();
        Assert.Throws<ObjectDisposedException>(() => session.Step([4], logits));
    }

    // Greedy decoding; returns the logits of every step.
    private static List<float[]> Generate(Gpt2Model model, int[] prompt, int steps)
    {
        using var session = model.StartSession(PromptBatch.Single(prompt), steps);
        var logits = new float[model.VocabSize];
        session.Prefill(logits);
        var all = new List<float[]> { (float[])logits.Clone() };
        for (int step = 0; step < steps; step++)
        {
            int next = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(logits);
            session.Step([next], logits);
            all.Add((float[])logits.Clone());
        }
        return all;
    }
}
