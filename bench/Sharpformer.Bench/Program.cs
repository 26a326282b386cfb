using Sharpformer.Bench.Harness;

namespace Sharpformer.Bench;

/// <summary>
/// dotnet run -c Release --project bench/Sharpformer.Bench -- [command ...]   (no command: all)
/// Each command is one entry in <see cref="Commands"/>; see README.md for how to add one.
/// </summary>
public static class Program
{
    /// <summary>Name, one-line description, and the method that prints its table. "all" runs them in this order.</summary>
    private static readonly (string Name, string Description, Action<BenchContext> Run)[] Commands =
    [
        ("ceilings", "memory read bandwidth and fp32 FMA peak of this machine, now", CeilingsBench.Run),
        ("matmul", "MatMul.Forward at GPT-2 decode and prefill shapes, against the ceilings", MatMulBench.Run),
        ("gpt2", "GPT-2 124M-shaped model (random weights): decode and prefill tok/s, against the ceilings", ModelBench.Run),
        ("train", "GPT-2 124M-shaped training step (random weights), batch 4 × 64: forward + backward tok/s, against the FMA peak", TrainBench.Run),
        ("train-encoders", "BERT-base MLM and t5-small seq2seq training steps (random weights), batch 2 × 64 (→ 32): tok/s, against the FMA peak", EncoderTrainBench.Run),
        ("neo", "GPT-Neo-125M-shaped (random weights): decode tok/s at context 2048, local/global layers vs all dense", GptNeoBench.Run),
        ("t5", "t5-small-shaped encoder-decoder (random weights): decode tok/s, against the read bandwidth", EncoderDecoderBench.Run),
        ("bert", "BERT-base-shaped encoder (random weights), seq 128: sentences/s at batch 1 and 16, against the FMA peak", BertBench.Run),
        ("serve", "HTTP server on loopback: load (50 streaming clients × 20 completions, tiny-gpt2: req/s, TTFT, failures, RSS) and batching (8 clients, shared decode steps vs one at a time)", ServeLoadBench.Run),
    ];

    public static int Main(string[] args)
    {
        var context = new BenchContext();
        var rest = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--filter" && i + 1 < args.Length)
            {
                context.Filter = args[++i];
            }
            else
            {
                rest.Add(args[i]);
            }
        }
        string[] names = rest.Count == 0 ? ["all"] : [.. rest];
        if (names.Any(name => name is "-h" or "--help" or "help"))
        {
            PrintUsage();
            return 0;
        }
        var unknown = names.Where(name => name != "all" && Commands.All(command => command.Name != name)).ToArray();
        if (unknown.Length > 0)
        {
            Console.Error.WriteLine($"unknown benchmark '{string.Join("', '", unknown)}'");
            PrintUsage();
            return 2;
        }
        context.PrintMachine();
        foreach (var command in Commands)
        {
            if (names.Contains("all") || names.Contains(command.Name))
            {
                Console.WriteLine();
                Console.WriteLine($"== {command.Name}: {command.Description}");
                command.Run(context);
            }
        }
        return 0;
    }

    private static void PrintUsage()
    {
        Console.WriteLine("usage: dotnet run -c Release --project bench/Sharpformer.Bench -- [all | command ...] [--filter text]");
        Console.WriteLine("  --filter text  only the rows whose name contains text (commands that have rows)");
        foreach (var command in Commands)
        {
            Console.WriteLine($"  {command.Name,-10} {command.Description}");
        }
    }
}
