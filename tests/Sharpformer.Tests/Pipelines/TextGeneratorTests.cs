using Sharpformer.Generation;
using Sharpformer.Pipelines;

namespace Sharpformer.Tests.Pipelines;

public sealed class TextGeneratorTests : IDisposable
{
    private readonly TextGenerator _generator = TextGenerator.Load(Path.Combine(AppContext.BaseDirectory, "models", "tiny-gpt2"));

    public void Dispose() => _generator.Dispose();

    [Fact]
    public void ABatchOfPromptsOfDifferentLengthsEqualsEachPromptAlone()
    {
        string[] prompts = ["Hello", "It was a bright cold day in April, and", "The"];
        var options = new GenerationOptions { MaxNewTokens = 12 };
        var batch = _generator.GenerateBatch(prompts, options);
        Assert.Equal(prompts.Length, batch.Count);
        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = _generator.Generate(prompts[i], options);
            Assert.Equal(alone.PromptIds, batch[i].PromptIds);
            Assert.Equal(alone.GeneratedIds, batch[i].GeneratedIds);
            Assert.Equal(alone.Text, batch[i].Text);
        }
    }

    [Fact]
    public void SamplingWithASeedRepeatsAndDifferentSeedsDiffer()
    {
        var options = new GenerationOptions { MaxNewTokens = 16, Temperature = 1.0f, TopK = 0, Seed = 7 };
        var first = _generator.Generate("Once", options);
        Assert.Equal(first.GeneratedIds, _generator.Generate("Once", options).GeneratedIds);
        Assert.NotEqual(first.GeneratedIds, _generator.Generate("Once", options with { Seed = 8 }).GeneratedIds);
    }

    [Fact]
    public void StopStringsCutTheTextAndEndTheRun()
    {
        var full = _generator.Generate("Hello", new GenerationOptions { MaxNewTokens = 20 });
        // Stop on a piece of the greedy continuation: the run must end there and drop it from the text.
        string stop = full.Text.Substring(full.Text.Length / 2, 2);
        int cut = full.Text.IndexOf(stop, StringComparison.Ordinal);
        var stopped = _generator.Generate("Hello", new GenerationOptions { MaxNewTokens = 20, StopStrings = [stop] });
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
        Assert.Equal(full.Text[..cut], stopped.Text);
        Assert.True(stopped.GeneratedIds.Length < full.GeneratedIds.Length);
    }

    [Fact]
    public void EmptyPromptStartsFromBosAndNullIsRefused()
    {
        Assert.Equal([999], _generator.EncodePrompt(""));
        Assert.Throws<ArgumentNullException>(() => _generator.Generate(null!));
    }
}
