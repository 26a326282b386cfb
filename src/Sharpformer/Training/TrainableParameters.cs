using System.Text;
using System.Text.Json;
using Sharpformer.IO;
using Sharpformer.Tensors;

namespace Sharpformer.Training;

/// <summary>
/// The bookkeeping every trainable model shares: writable copies of checkpoint tensors as <see cref="Parameter"/>s,
/// the tensor → gradient map a <see cref="Autograd.Tape"/> reads (by reference, so a tied tensor sums its uses),
/// checkpoint order, and the atomic config.json + model.safetensors writer.
/// </summary>
public sealed class TrainableParameters
{
    private readonly List<Parameter> _parameters = [];
    private readonly Dictionary<Tensor, float[]> _gradients = new(ReferenceEqualityComparer.Instance);

    public IReadOnlyList<Parameter> Parameters => _parameters;

    public IReadOnlyDictionary<Tensor, float[]> Gradients => _gradients;

    /// <summary>
    /// Wraps a weight source so each tensor it returns is copied (checkpoints may be read-only memory maps) and
    /// registered; <paramref name="frozen"/> names buffers that get no gradient and are still saved (BART's final_logits_bias).
    /// Matrices and embeddings decay, vectors do not, nor the matrices <paramref name="spareFromDecay"/> names.
    /// </summary>
    public Func<string, int[], Tensor> Copying(
        Func<string, int[], Tensor> weights, Func<string, bool>? frozen = null, Func<string, bool>? spareFromDecay = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        return (name, shape) =>
        {
            var copy = new Tensor(weights(name, shape).ToArray(), shape);
            if (frozen?.Invoke(name) == true)
            {
                Buffers.Add(KeyValuePair.Create(name, copy));
                return copy;
            }
            var parameter = new Parameter(name, copy, weightDecay: shape.Length > 1 && spareFromDecay?.Invoke(name) != true);
            _parameters.Add(parameter);
            _gradients.Add(copy, parameter.Gradient);
            return copy;
        };
    }

    /// <summary>Lets <paramref name="view"/> (a reshaped view of a parameter's memory) add into that parameter's gradient.</summary>
    public void ShareGradient(Tensor view, Tensor parameter)
    {
        ArgumentNullException.ThrowIfNull(view);
        ArgumentNullException.ThrowIfNull(parameter);
        _gradients.Add(view, _gradients[parameter]);
    }

    /// <summary>Tensors saved with the parameters but never trained.</summary>
    public List<KeyValuePair<string, Tensor>> Buffers { get; } = [];

    /// <summary>Puts the parameters in checkpoint order (<paramref name="names"/>, HF's), so saved files list them as HF does.</summary>
    public void SortBy(IEnumerable<string> names)
    {
        var order = names.Select((name, index) => (name, index)).ToDictionary(t => t.name, t => t.index);
        _parameters.Sort((a, b) => order.GetValueOrDefault(a.Name, int.MaxValue).CompareTo(order.GetValueOrDefault(b.Name, int.MaxValue)));
    }

    /// <summary>Writes config.json and model.safetensors (parameters, then buffers; HF names), each via a temporary file and a rename.</summary>
    public void Save(string directory, string configJson)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory.CreateDirectory(directory);
        SafetensorsWriter.Write(Path.Combine(directory, "model.safetensors"),
            _parameters.Select(p => KeyValuePair.Create(p.Name, p.Value)).Concat(Buffers), new Dictionary<string, string> { ["format"] = "pt" });
        SafetensorsWriter.WriteTextAtomically(Path.Combine(directory, "config.json"), configJson);
    }

    /// <summary>
    /// Writes model.safetensors and a config.json that starts with model_type and architectures, goes on with
    /// <paramref name="writeConfig"/>'s fields, and ends with torch_dtype float32 (HF's order).
    /// </summary>
    public void Save(string directory, string modelType, string architecture, Action<Utf8JsonWriter> writeConfig)
    {
        ArgumentNullException.ThrowIfNull(writeConfig);
        Save(directory, JsonObject(json =>
        {
            json.WriteString("model_type", modelType);
            json.WriteStartArray("architectures");
            json.WriteStringValue(architecture);
            json.WriteEndArray();
            writeConfig(json);
            json.WriteString("torch_dtype", "float32");
        }));
    }

    /// <summary>Opens a checkpoint folder, refuses one whose model_type is not <paramref name="modelType"/>, and builds from it.</summary>
    internal static T Load<T>(string folder, string modelType, Func<Checkpoint, T> create)
    {
        using var checkpoint = Checkpoint.Open(folder);
        if (checkpoint.Config.ModelType != modelType)
        {
            throw new CheckpointException($"{checkpoint.Directory}: model_type is '{checkpoint.Config.ModelType}', not {modelType}");
        }
        return create(checkpoint);
    }

    /// <summary>An indented JSON object written by <paramref name="write"/> (config.json), with a final newline.</summary>
    public static string JsonObject(Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            write(json);
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }

    /// <summary>HF's name of an activation (config "hidden_act", "activation_function").</summary>
    public static string ActivationName(Layers.Activation activation) => activation switch
    {
        Layers.Activation.GeluTanh => "gelu_new",
        Layers.Activation.Gelu => "gelu",
        _ => "relu",
    };
}
