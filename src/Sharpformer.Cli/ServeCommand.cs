using System.CommandLine;
using Microsoft.Extensions.Hosting;
using Sharpformer.IO;
using Sharpformer.Pipelines;
using Sharpformer.Server;
using Sharpformer.Tokenizers;

namespace Sharpformer.Cli;

/// <summary>`sharpformer serve`: the OpenAI-compatible HTTP server over one text model (and optionally a BERT embedder).</summary>
internal static class ServeCommand
{
    public static Command Create(TextWriter output)
    {
        var defaults = new ServerOptions();
        var model = CommandLine.ModelOption("text generation model folder or Hugging Face model id (default: the bundled model)");
        var embeddingModel = new Option<string?>("--embedding-model") { Description = "BERT model folder or cached id for /v1/embeddings" };
        var host = new Option<string>("--host") { Description = "address to listen on", DefaultValueFactory = _ => defaults.Host };
        var port = new Option<int>("--port") { Description = "port to listen on", DefaultValueFactory = _ => defaults.Port };
        var apiKey = new Option<string?>("--api-key") { Description = "require 'Authorization: Bearer KEY' on /v1 endpoints" };
        var maxConcurrency = new Option<int>("--max-concurrency") { Description = "requests generating at once (sharing decode steps)", DefaultValueFactory = _ => defaults.MaxConcurrency };
        var maxBatch = new Option<int>("--max-batch") { Description = "sequences sharing one decode step (continuous batching)", DefaultValueFactory = _ => defaults.MaxBatchSize };
        var maxQueue = new Option<int>("--max-queue") { Description = "requests waiting for a slot before 429", DefaultValueFactory = _ => defaults.MaxQueue };
        var dtype = CommandLine.DTypeOption();
        var command = new Command("serve", "Serve /v1/completions, /v1/chat/completions, /v1/embeddings, /v1/models, /health and /metrics over HTTP (OpenAI's API shapes)")
        {
            model, embeddingModel, host, port, apiKey, maxConcurrency, maxBatch, maxQueue, dtype,
        };
        command.SetAction(parse =>
        {
            string modelPath = parse.GetValue(model)!;
            using var generator = TextGenerator.Load(modelPath, CommandLine.ReadDType(parse, dtype));
            string? embeddingPath = parse.GetValue(embeddingModel);
            using var embedder = embeddingPath is null ? null : SentenceEmbedder.Load(embeddingPath);
            // tokenizer_config.json's chat_template, when the model has one, enables /v1/chat/completions.
            var chatTemplate = ChatTemplate.FromFolder(ModelLocator.Resolve(modelPath));
            var models = new ServedModels(generator, ServedModels.NameOf(modelPath), embedder, embeddingPath is null ? null : ServedModels.NameOf(embeddingPath), chatTemplate);
            var options = new ServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                ApiKey = parse.GetValue(apiKey),
                MaxConcurrency = parse.GetValue(maxConcurrency),
                MaxQueue = parse.GetValue(maxQueue),
                MaxBatchSize = parse.GetValue(maxBatch),
            };
            if (options.Port is < 0 or > 65535 || options.MaxConcurrency < 1 || options.MaxQueue < 0 || options.MaxBatchSize < 1)
            {
                throw new ArgumentException("--port must be 0-65535, --max-concurrency >= 1, --max-batch >= 1 and --max-queue >= 0");
            }
            using var app = SharpformerServer.Build(models, options);
            app.StartAsync().GetAwaiter().GetResult();
            output.WriteLine($"sharpformer serve: {models.GeneratorName} on {string.Join(" ", app.Urls)} (Ctrl+C to stop)");
            app.WaitForShutdownAsync().GetAwaiter().GetResult();
            return 0;
        });
        return command;
    }
}
