using Sharpformer.Pipelines;

namespace Sharpformer.Tests.Server;

public sealed class EmbeddingServerTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task EmbeddingsAreTheEmbeddersUnitVectorsInOrder()
    {
        string[] inputs = ["w528 w407 w953", "w10 w662"];
        var body = await fixture.Host.PostOkAsync("/v1/embeddings", ServerHost.Json(new { model = "tiny-bert", input = inputs }));
        Assert.Equal("list", body.GetProperty("object").GetString());
        Assert.Equal("tiny-bert", body.GetProperty("model").GetString());
        var expected = fixture.Host.Models.Embedder!.Embed(inputs, Pooling.Mean, normalize: true);
        var data = body.GetProperty("data").EnumerateArray().ToArray();
        Assert.Equal(2, data.Length);
        for (int i = 0; i < 2; i++)
        {
            Assert.Equal("embedding", data[i].GetProperty("object").GetString());
            Assert.Equal(i, data[i].GetProperty("index").GetInt32());
            float[] vector = [.. data[i].GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle())];
            Assert.Equal(expected[i].Vector, vector);
            Assert.Equal(1.0, Math.Sqrt(vector.Sum(v => (double)v * v)), 1e-4);
        }
        int tokens = expected.Sum(e => e.TokenCount);
        Assert.Equal(tokens, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(tokens, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task ASingleStringInputGivesOneVector()
    {
        var body = await fixture.Host.PostOkAsync("/v1/embeddings", """{"input":"w528 w407"}""");
        Assert.Equal(64, Assert.Single(body.GetProperty("data").EnumerateArray()).GetProperty("embedding").GetArrayLength());
    }

    [Fact]
    public async Task Base64EmbeddingsAreTheFloatBytes()
    {
        var floats = await fixture.Host.PostOkAsync("/v1/embeddings", """{"input":"w528 w407"}""");
        var encoded = await fixture.Host.PostOkAsync("/v1/embeddings", """{"input":"w528 w407","encoding_format":"base64"}""");
        byte[] bytes = Convert.FromBase64String(encoded.GetProperty("data")[0].GetProperty("embedding").GetString()!);
        float[] decoded = [.. Enumerable.Range(0, bytes.Length / 4).Select(i => BitConverter.ToSingle(bytes, i * 4))];
        Assert.Equal(floats.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(v => v.GetSingle()), decoded);
    }
}
