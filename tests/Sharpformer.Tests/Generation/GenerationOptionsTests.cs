using Sharpformer.Generation;
using Sharpformer.Models;

namespace Sharpformer.Tests.Generation;

public class GenerationOptionsTests
{
    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private static string Decode(IReadOnlyList<int> ids) => string.Concat(ids);

    public static TheoryData<string, GenerationOptions> InvalidOptions() => new()
    {
        { "MaxNewTokens", new GenerationOptions { MaxNewTokens = 0 } },
        { "MinNewTokens", new GenerationOptions { MinNewTokens = -1 } },
        { "Temperature", new GenerationOptions { Temperature = -0.5f } },
        { "Temperature", new GenerationOptions { Temperature = float.NaN } },
        { "Temperature", new GenerationOptions { DoSample = true, Temperature = 0f } },
        { "TopK", new GenerationOptions { TopK = -1 } },
        { "TopP", new GenerationOptions { TopP = 0f } },
        { "TopP", new GenerationOptions { TopP = 1.5f } },
        { "MinP", new GenerationOptions { MinP = 1f } },
        { "MinP", new GenerationOptions { MinP = -0.1f } },
        { "RepetitionPenalty", new GenerationOptions { RepetitionPenalty = 0f } },
        { "NoRepeatNgramSize", new GenerationOptions { NoRepeatNgramSize = -2 } },
        { "NumBeams", new GenerationOptions { NumBeams = 0 } },
        { "NumReturnSequences", new GenerationOptions { NumBeams = 2, NumReturnSequences = 3 } },
        { "NumReturnSequences", new GenerationOptions { NumReturnSequences = 2 } }, // greedy returns one row per prompt
        { "NumReturnSequences", new GenerationOptions { NumReturnSequences = 0 } },
        { "LengthPenalty", new GenerationOptions { NumBeams = 2, LengthPenalty = float.PositiveInfinity } },
        { "DoSample", new GenerationOptions { NumBeams = 2, DoSample = true } },
        { "EosTokenIds", new GenerationOptions { EosTokenIds = [-3] } },
        { "PadTokenId", new GenerationOptions { PadTokenId = -1 } },
        { "BadWordsIds", new GenerationOptions { BadWordsIds = [[]] } },
        { "StopStrings", new GenerationOptions { StopStrings = ["x"] } }, // no detokenizer
        { "StopStrings", new GenerationOptions { StopStrings = [""], Detokenizer = Decode } },
        { "StopStrings", new GenerationOptions { StopStrings = ["x"], Detokenizer = Decode, NumBeams = 2 } },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void InvalidOptionsThrowArgumentExceptionNamingTheOption(string option, GenerationOptions options)
    {
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Equal(option, error.ParamName);
        Assert.StartsWith(option, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultsAreGreedyLikeHfAndValid()
    {
        var options = new GenerationOptions();
        options.Validate();
        Assert.False(options.IsSampling);
        Assert.Equal(50, options.TopK);
        Assert.Equal(1, options.NumBeams);
    }

    [Fact]
    public void APositiveTemperatureTurnsSamplingOnUnlessDoSampleSaysOtherwise()
    {
        Assert.True(new GenerationOptions { Temperature = 0.7f }.IsSampling);
        Assert.False(new GenerationOptions { Temperature = 0f }.IsSampling);
        Assert.False(new GenerationOptions { Temperature = 0.7f, DoSample = false }.IsSampling);
        Assert.True(new GenerationOptions { DoSample = true }.IsSampling);
        Assert.Equal(1f, new GenerationOptions { DoSample = true }.EffectiveTemperature);
        new GenerationOptions { Temperature = 0.7f, NumReturnSequences = 3 }.Validate(); // sampling may return more rows than beams
    }

    [Fact]
    public void GenerateValidatesOptionsAndTokenIdsAgainstTheModel()
    {
        var model = new FakeLanguageModel(5, (_, logits) => FakeLanguageModel.Favour(logits, 1));
        var error = Assert.Throws<ArgumentException>(() => Generator.Generate(model, [1], new GenerationOptions { TopP = 2f }, Token));
        Assert.Equal("TopP", error.ParamName);
        error = Assert.Throws<ArgumentException>(() => Generator.Generate(model, [1], new GenerationOptions { EosTokenIds = [9] }, Token));
        Assert.Equal("EosTokenIds", error.ParamName);
        error = Assert.Throws<ArgumentException>(() => Generator.Generate(model, [1], new GenerationOptions { PadTokenId = 5 }, Token));
        Assert.Equal("PadTokenId", error.ParamName);
        Assert.Empty(model.Sessions); // nothing started
    }

    [Fact]
    public void StreamingRefusesBeamsBeforeEnumeration()
    {
        var model = new FakeLanguageModel(5, (_, logits) => FakeLanguageModel.Favour(logits, 1), new SpecialTokens(-1, [4], -1));
        Assert.Throws<ArgumentException>(() => Generator.GenerateStreamAsync(model, [1], new GenerationOptions { NumBeams = 2 }, Token));
        var error = Assert.Throws<ArgumentException>(() => Generator.GenerateStreamAsync(model, [1], new GenerationOptions { MaxNewTokens = -1 }, Token));
        Assert.Equal("MaxNewTokens", error.ParamName);
    }
}
