using Microsoft.AspNetCore.Http;
using Sharpformer.Pipelines;

namespace Sharpformer.Server;

/// <summary>POST /v1/embeddings: mean-pooled, unit-length sentence vectors (as OpenAI's and sentence-transformers' are).</summary>
internal sealed class EmbeddingEndpoint(ServedModels models, ServerOptions options, RequestGate gate)
{
    public async Task<IResult> HandleAsync(HttpContext context)
    {
        var aborted = context.RequestAborted;
        var embedder = models.Embedder ?? throw new RequestException(404, "no embedding model is served (start with --embedding-model)", "model", "model_not_found");
        string? model;
        string[] inputs;
        string format;
        using (var document = await JsonFields.ReadObjectAsync(context.Request, aborted).ConfigureAwait(false))
        {
            model = JsonFields.String(document.RootElement, "model");
            inputs = JsonFields.Strings(document.RootElement, "input") ?? throw RequestException.Invalid("input", "input is required");
            format = JsonFields.String(document.RootElement, "encoding_format") ?? "float";
            if (format is not "float" and not "base64")
            {
                throw RequestException.Invalid("encoding_format", "encoding_format must be float or base64");
            }
        }
        if (model is not null && model != models.EmbedderName)
        {
            throw RequestException.Invalid("model", $"the model {model} is not served here (try {models.EmbedderName})", "model_not_found");
        }
        if (inputs.Length == 0 || inputs.Length > options.MaxPrompts)
        {
            throw RequestException.Invalid("input", $"input must hold 1 to {options.MaxPrompts} texts (got {inputs.Length})");
        }
        if (inputs.Any(string.IsNullOrEmpty))
        {
            throw RequestException.Invalid("input", "input texts must not be empty");
        }
        using var lease = await gate.EnterAsync(aborted).ConfigureAwait(false);
        if (lease is null)
        {
            context.Response.Headers.RetryAfter = "1";
            throw new RequestException(429, "the server is busy: too many requests are queued", null, "rate_limit_exceeded");
        }
        // The encoder runs on a pool thread; the embedder is not documented as thread-safe, so calls take turns.
        IReadOnlyList<SentenceEmbedding> embeddings;
        lock (embedder)
        {
            embeddings = embedder.Embed(inputs, Pooling.Mean, normalize: true);
        }
        int tokens = embeddings.Sum(embedding => embedding.TokenCount);
        var usage = new EmbeddingUsage(tokens, tokens);
        if (format == "base64")
        {
            var encoded = embeddings.Select((embedding, index) => new Base64EmbeddingItem("embedding", index, ToBase64(embedding.Vector))).ToArray();
            return TypedResults.Json(new Base64EmbeddingResponse("list", encoded, models.EmbedderName!, usage), ServerJson.Default.Base64EmbeddingResponse);
        }
        var data = embeddings.Select((embedding, index) => new EmbeddingItem("embedding", index, embedding.Vector)).ToArray();
        return TypedResults.Json(new EmbeddingResponse("list", data, models.EmbedderName!, usage), ServerJson.Default.EmbeddingResponse);
    }

    private static string ToBase64(float[] vector)
    {
        var bytes = new byte[vector.Length * sizeof(float)];
        for (int i = 0; i < vector.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), vector[i]);
        }
        return Convert.ToBase64String(bytes);
    }
}
