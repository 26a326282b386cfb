using System.ClientModel;
using OpenAI;

namespace Sharpformer.Tests.Server;

/// <summary>
/// The official OpenAI .NET client (NuGet OpenAI) as a real client. Its 2.x releases have no legacy completions
/// client, so it covers /v1/models and /v1/embeddings (which it requests base64-encoded) here, and chat in ChatServerTests.
/// </summary>
public sealed class OpenAiClientTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private OpenAIClient Client() =>
        new(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(fixture.Host.Client.BaseAddress!, "/v1") });

    [Fact]
    public async Task TheOfficialClientListsModelsAndEmbeds()
    {
        var models = (await Client().GetOpenAIModelClient().GetModelsAsync()).Value;
        Assert.Equal(["tiny-gpt2", "tiny-bert"], models.Select(model => model.Id));
        var embedding = (await Client().GetEmbeddingClient("tiny-bert").GenerateEmbeddingAsync("w528 w407")).Value;
        var expected = fixture.Host.Models.Embedder!.Embed(["w528 w407"], Sharpformer.Pipelines.Pooling.Mean, normalize: true)[0].Vector;
        Assert.Equal(expected, embedding.ToFloats().ToArray());
    }
}
