using Sharpformer.Generation;
using Sharpformer.Models;
using Sharpformer.Pipelines;
using Sharpformer.Tokenizers;

namespace Sharpformer.Tests.Pipelines;

/// <summary>The text2text pipeline with a byte-level BPE tokenizer (the GPT-2 fixture vocabulary stands in for BART's).</summary>
public sealed class Text2TextGeneratorTests
{
    private static Tokenizer Bpe() => Tokenizer.FromFolder(Fixture.File("tokenizers", "gpt2"));

    [Fact]
    public void BartInputsAreWrappedInBosAndEosAndT5InputsAreNot()
    {
        var tokenizer = Bpe();
        int[] plain = [.. tokenizer.Encode("Hello world")];
        using (var bart = new Text2TextGenerator(ModelRegistry.Load(Fixture.File("bart")), tokenizer))
        {
            Assert.Equal([0, .. plain, 2], bart.EncodeInput("Hello world"));
        }
        using var t5 = new Text2TextGenerator(ModelRegistry.Load(Fixture.File("t5")), tokenizer);
        Assert.Equal(plain, t5.EncodeInput("Hello world"));
    }

    [Fact]
    public void TextIsTheGeneratedIdsWithoutSpecialTokens()
    {
        var tokenizer = Bpe();
        using var generator = new Text2TextGenerator(ModelRegistry.Load(Fixture.File("bart")), tokenizer);
        var result = generator.GenerateIds([0, 314, 232, 2], new GenerationOptions { MaxNewTokens = 10 });
        // BART forces BOS (0) first and EOS (2) last; the text leaves them out, as HF's pipeline does.
        Assert.Equal(0, result.GeneratedIds[0]);
        Assert.Equal(2, result.GeneratedIds[^1]);
        Assert.Equal(tokenizer.Decode(result.GeneratedIds.AsSpan(1, result.GeneratedIds.Length - 2)), result.Text);
    }

    [Fact]
    public void ADecoderOnlyModelIsRefused()
    {
        using var model = ModelRegistry.Load(Fixture.File("gpt2"));
        var exception = Assert.Throws<ArgumentException>(() => new Text2TextGenerator(model, Bpe()));
        Assert.Contains("use generate", exception.Message);
    }
}
