using System.Text.Json;
using Sharpformer.IO;
using Sharpformer.Tensors;
using Sharpformer.Training;

namespace Sharpformer.Tests.Training;

/// <summary>
/// A real trainable model small enough to check by hand: logits[t] = dropout(W[x_t]) + b, causal-LM cross-entropy
/// with HF's shift, exact gradients. Dropout draws from <see cref="DropoutRng"/> so resume tests cover model noise.
/// </summary>
internal sealed class BigramModel : ITrainableModel
{
    private readonly float _dropout;

    public BigramModel(int vocabSize, ulong seed, float dropout = 0f)
    {
        VocabSize = vocabSize;
        _dropout = dropout;
        var weights = Tensor.Zeros(vocabSize, vocabSize);
        new Rng(seed).FillNormal(weights.Span, 0.1f);
        Parameters = [new Parameter("weight", weights, weightDecay: true), new Parameter("bias", Tensor.Zeros(vocabSize), weightDecay: false)];
        DropoutRng = new Rng(seed + 1);
    }

    public int VocabSize { get; }

    public string ModelType => "bigram";

    public IReadOnlyList<Parameter> Parameters { get; }

    public Rng? DropoutRng { get; }

    public int SaveCount { get; private set; }

    public LossResult ForwardBackward(TrainingBatch batch, float gradientScale = 1f) => Run(batch, gradientScale, train: true);

    public LossResult Evaluate(TrainingBatch batch) => Run(batch, 0f, train: false);

    private LossResult Run(TrainingBatch batch, float gradientScale, bool train)
    {
        int v = VocabSize;
        var weight = Parameters[0].Value.Span;
        var bias = Parameters[1].Value.Span;
        var positions = new List<(int Input, int Target, float Keep)>();
        for (int b = 0; b < batch.BatchSize; b++)
        {
            for (int t = 0; t + 1 < batch.Length; t++)
            {
                int target = batch.Labels[b * batch.Length + t + 1];
                if (target == TrainingBatch.IgnoreIndex)
                {
                    continue;
                }
                float keep = train && _dropout > 0 ? (DropoutRng!.NextFloat() < _dropout ? 0f : 1f / (1 - _dropout)) : 1f;
                positions.Add((batch.InputIds[b * batch.Length + t], target, keep));
            }
        }
        double total = 0;
        var logits = new double[v];
        foreach (var (input, target, keep) in positions)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < v; j++)
            {
                logits[j] = keep * weight[input * v + j] + bias[j];
                max = Math.Max(max, logits[j]);
            }
            double sum = 0;
            for (int j = 0; j < v; j++)
            {
                sum += Math.Exp(logits[j] - max);
            }
            total += max + Math.Log(sum) - logits[target];
            if (gradientScale != 0)
            {
                // d loss / d logit_j = (softmax_j − [j = target]) / count.
                for (int j = 0; j < v; j++)
                {
                    double gradient = (Math.Exp(logits[j] - max) / sum - (j == target ? 1 : 0)) / positions.Count * gradientScale;
                    Parameters[0].Gradient[input * v + j] += (float)(gradient * keep);
                    Parameters[1].Gradient[j] += (float)gradient;
                }
            }
        }
        return new LossResult(positions.Count == 0 ? double.NaN : total / positions.Count, positions.Count);
    }

    public void Save(string directory)
    {
        SaveCount++;
        SafetensorsWriter.WriteTextAtomically(Path.Combine(directory, "config.json"),
            JsonSerializer.Serialize(new Dictionary<string, object> { ["model_type"] = "bigram", ["vocab_size"] = VocabSize, ["dropout"] = _dropout }));
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"), Parameters.Select(p => new KeyValuePair<string, Tensor>(p.Name, p.Value)));
    }

    public static BigramModel Load(string directory)
    {
        var config = HfConfig.Load(Path.Combine(directory, "config.json"));
        var model = new BigramModel(config.GetInt("vocab_size"), seed: 0, (float)config.Root.GetProperty("dropout").GetDouble());
        using var file = SafetensorsFile.Open(Path.Combine(directory, "model.safetensors"));
        foreach (var parameter in model.Parameters)
        {
            file.ReadFloat32(parameter.Name, parameter.Value.Shape).Span.CopyTo(parameter.Value.Span);
        }
        return model;
    }
}

/// <summary>A causal-LM objective for trainer tests: rows as they are, and with some probability a label hidden (to use the rng).</summary>
internal sealed class TestCausalObjective(int separator, double hideProbability = 0) : ITrainingObjective
{
    public string Name => "clm";

    public int DocumentSeparator => separator;

    public int SegmentLength(int sequenceLength) => sequenceLength;

    public TrainingBatch CreateBatch(IReadOnlyList<ReadOnlyMemory<int>> segments, int sequenceLength, Rng rng)
    {
        int[] inputs = new int[segments.Count * sequenceLength];
        for (int b = 0; b < segments.Count; b++)
        {
            segments[b].Span.CopyTo(inputs.AsSpan(b * sequenceLength));
        }
        int[] labels = [.. inputs];
        for (int i = 0; i < labels.Length && hideProbability > 0; i++)
        {
            if (rng.NextDouble() < hideProbability)
            {
                labels[i] = TrainingBatch.IgnoreIndex;
            }
        }
        return new TrainingBatch(segments.Count, sequenceLength, inputs, labels);
    }
}
