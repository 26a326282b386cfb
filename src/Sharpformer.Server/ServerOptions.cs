namespace Sharpformer.Server;

/// <summary>Where the server listens and the limits it enforces on each request.</summary>
public sealed record ServerOptions
{
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0 picks a free port (tests); read the bound address from the app's Urls after start.</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, /v1 endpoints need "Authorization: Bearer KEY".</summary>
    public string? ApiKey { get; init; }

    /// <summary>Bodies over this size get 413.</summary>
    public long MaxBodyBytes { get; init; } = 1 << 20;

    /// <summary>Most completions per prompt (n).</summary>
    public int MaxChoices { get; init; } = 8;

    /// <summary>Most prompts (or embedding inputs) in one request.</summary>
    public int MaxPrompts { get; init; } = 32;

    /// <summary>Requests generating at once (their sequences share decode steps); more wait in the queue.</summary>
    public int MaxConcurrency { get; init; } = 16;

    /// <summary>Most sequences (requests × n) that share one decode step; more wait to join (continuous batching).</summary>
    public int MaxBatchSize { get; init; } = 32;

    /// <summary>Requests allowed to wait for a slot; beyond that, 429.</summary>
    public int MaxQueue { get; init; } = 32;
}
