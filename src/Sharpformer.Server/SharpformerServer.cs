using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sharpformer.Server;

/// <summary>The OpenAI-compatible HTTP server: /health, /metrics, /v1/models, /v1/completions, /v1/chat/completions, /v1/embeddings.</summary>
public static class SharpformerServer
{
    /// <summary>
    /// Builds the app (not started): call Run, or StartAsync and read the bound address from Urls. A
    /// <paramref name="gate"/> given by the caller (tests) replaces the one built from the options' limits.
    /// </summary>
    public static WebApplication Build(ServedModels models, ServerOptions options, RequestGate? gate = null)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(options);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            if (IPAddress.TryParse(options.Host, out var address))
            {
                kestrel.Listen(address, options.Port);
            }
            else if (options.Host == "localhost")
            {
                kestrel.ListenLocalhost(options.Port);
            }
            else
            {
                kestrel.ListenAnyIP(options.Port);
            }
        });
        var app = builder.Build();
        gate ??= new RequestGate(options.MaxConcurrency, options.MaxQueue);
        var metrics = new ServerMetrics();
        // One scheduler for the app: every generation joins the same batch of decode steps.
        var scheduler = new GenerationScheduler(models.Generator, options.MaxBatchSize);
        app.Lifetime.ApplicationStopped.Register(scheduler.Dispose);
        var completions = new CompletionEndpoint(models, options, gate, metrics, scheduler);
        var chat = new ChatEndpoint(models, options, gate, metrics, scheduler);
        var embeddings = new EmbeddingEndpoint(models, options, gate);
        app.Use(async (context, next) =>
        {
            try
            {
                await GuardAsync(context, next, options).ConfigureAwait(false);
            }
            finally
            {
                metrics.CountRequest(context.Request.Path, context.Response.StatusCode);
            }
        });
        app.MapGet("/health", () => TypedResults.Json(new HealthResponse("ok", models.GeneratorName, models.EmbedderName), ServerJson.Default.HealthResponse));
        app.MapGet("/metrics", () => TypedResults.Text(metrics.Render(gate, scheduler.Batcher), "text/plain; version=0.0.4"));
        app.MapGet("/v1/models", () => TypedResults.Json(ListModels(models), ServerJson.Default.ModelList));
        // Typed as Func so minimal APIs write the returned IResult (a RequestDelegate would drop it).
        app.MapPost("/v1/completions", (Func<HttpContext, Task<IResult>>)completions.HandleAsync);
        app.MapPost("/v1/embeddings", (Func<HttpContext, Task<IResult>>)embeddings.HandleAsync);
        app.MapPost("/v1/chat/completions", (Func<HttpContext, Task<IResult>>)chat.HandleAsync);
        app.MapFallback((Func<HttpContext, Task<IResult>>)(context => throw new RequestException(404,
            $"no endpoint {context.Request.Method} {context.Request.Path}", null, "unknown_url")));
        return app;
    }

    private static ModelList ListModels(ServedModels models)
    {
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var entries = new List<ModelEntry> { new(models.GeneratorName, "model", created, "sharpformer") };
        if (models.EmbedderName is { } embedder)
        {
            entries.Add(new ModelEntry(embedder, "model", created, "sharpformer"));
        }
        return new ModelList("list", [.. entries]);
    }

    /// <summary>Checks the API key, then turns every failure into OpenAI's error JSON, so no request can take the server down.</summary>
    private static async Task GuardAsync(HttpContext context, RequestDelegate next, ServerOptions options)
    {
        try
        {
            if (options.ApiKey is { } key && context.Request.Path.StartsWithSegments("/v1") && !HasKey(context.Request, key))
            {
                throw new RequestException(401, "a valid API key is required: an Authorization: Bearer KEY header", null, "invalid_api_key");
            }
            await next(context).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left; its generation has stopped with it.
        }
        catch (Exception exception) when (!context.Response.HasStarted)
        {
            var (status, param, code) = exception switch
            {
                RequestException request => (request.Status, request.Param, request.Code),
                BadHttpRequestException { StatusCode: 413 } => (413, null, "request_too_large"),
                BadHttpRequestException bad => (bad.StatusCode, null, null),
                _ => (500, null, null),
            };
            string message = status == 500 ? "internal server error" : exception.Message;
            await WriteErrorAsync(context, status, message, param, code).ConfigureAwait(false);
        }
        catch (Exception)
        {
            context.Abort(); // mid-stream failure: the status is already sent, so cut the connection
        }
    }

    private static bool HasKey(HttpRequest request, string key)
    {
        string header = request.Headers.Authorization.ToString();
        const string Bearer = "Bearer ";
        if (!header.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        // Constant-time compare, so response timing does not reveal how much of a guess was right.
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[Bearer.Length..].Trim()), Encoding.UTF8.GetBytes(key));
    }

    private static Task WriteErrorAsync(HttpContext context, int status, string message, string? param, string? code)
    {
        context.Response.StatusCode = status;
        string type = status switch
        {
            401 => "authentication_error",
            429 => "rate_limit_error",
            >= 500 => "server_error",
            _ => "invalid_request_error",
        };
        return context.Response.WriteAsJsonAsync(new ErrorResponse(new ErrorDetail(message, type, param, code)), ServerJson.Default.ErrorResponse);
    }
}
