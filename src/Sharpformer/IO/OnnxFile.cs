using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Sharpformer.Tensors;

namespace Sharpformer.IO;

/// <summary>One ONNX graph node: its operator and the names of the values it reads and writes.</summary>
public sealed record OnnxNode(string OpType, string[] Inputs, string[] Outputs);

/// <summary>
/// The weights and graph wiring of an ONNX model, read with a minimal protobuf decoder (no ONNX dependency):
/// float32 initializers (raw_data or float_data) as tensors, and each node's op type, inputs and outputs.
/// Enough to import an exported checkpoint; it does not run the graph.
/// </summary>
public sealed class OnnxFile
{
    // Field numbers from onnx.proto3.
    private const int ModelGraph = 7;
    private const int GraphNode = 1, GraphInitializer = 5;
    private const int NodeInput = 1, NodeOutput = 2, NodeOpType = 4;
    private const int TensorDims = 1, TensorDataType = 2, TensorFloatData = 4, TensorName = 8, TensorRawData = 9, TensorDataLocation = 14;
    private const int OnnxFloat = 1;

    private OnnxFile(Dictionary<string, Tensor> initializers, List<OnnxNode> nodes)
    {
        Initializers = initializers;
        Nodes = nodes;
    }

    /// <summary>Float32 initializers by name, in the shape the file gives them.</summary>
    public IReadOnlyDictionary<string, Tensor> Initializers { get; }

    public IReadOnlyList<OnnxNode> Nodes { get; }

    public static OnnxFile Read(string path) => Parse(File.ReadAllBytes(path), path);

    public static OnnxFile Read(Stream stream, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return Parse(buffer.ToArray(), source);
    }

    /// <summary>Decodes a serialized ModelProto; every error names <paramref name="source"/>.</summary>
    public static OnnxFile Parse(ReadOnlyMemory<byte> model, string source)
    {
        var initializers = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var nodes = new List<OnnxNode>();
        try
        {
            bool sawGraph = false;
            var reader = new ProtobufReader(model.Span);
            while (reader.TryReadTag(out int field, out int wireType))
            {
                if (field == ModelGraph && wireType == 2)
                {
                    sawGraph = true;
                    ReadGraph(reader.ReadBytes(), source, initializers, nodes);
                }
                else
                {
                    reader.Skip(wireType);
                }
            }
            if (!sawGraph)
            {
                throw new CheckpointException($"{source}: not an ONNX model (no graph)");
            }
        }
        catch (InvalidDataException exception)
        {
            throw new CheckpointException($"{source}: corrupt ONNX protobuf: {exception.Message}", exception);
        }
        return new OnnxFile(initializers, nodes);
    }

    private static void ReadGraph(ReadOnlySpan<byte> graph, string source, Dictionary<string, Tensor> initializers, List<OnnxNode> nodes)
    {
        var reader = new ProtobufReader(graph);
        while (reader.TryReadTag(out int field, out int wireType))
        {
            if (field == GraphNode && wireType == 2)
            {
                nodes.Add(ReadNode(reader.ReadBytes()));
            }
            else if (field == GraphInitializer && wireType == 2)
            {
                if (ReadTensor(reader.ReadBytes(), source) is { } tensor)
                {
                    initializers[tensor.Name] = tensor.Value;
                }
            }
            else
            {
                reader.Skip(wireType);
            }
        }
    }

    private static OnnxNode ReadNode(ReadOnlySpan<byte> bytes)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        string opType = "";
        var reader = new ProtobufReader(bytes);
        while (reader.TryReadTag(out int field, out int wireType))
        {
            switch (field, wireType)
            {
                case (NodeInput, 2): inputs.Add(Encoding.UTF8.GetString(reader.ReadBytes())); break;
                case (NodeOutput, 2): outputs.Add(Encoding.UTF8.GetString(reader.ReadBytes())); break;
                case (NodeOpType, 2): opType = Encoding.UTF8.GetString(reader.ReadBytes()); break;
                default: reader.Skip(wireType); break;
            }
        }
        return new OnnxNode(opType, [.. inputs], [.. outputs]);
    }

    // Non-float tensors (int64 shape constants and the like) are skipped: a checkpoint's weights are float32.
    private static (string Name, Tensor Value)? ReadTensor(ReadOnlySpan<byte> bytes, string source)
    {
        var dims = new List<int>();
        int dataType = 0;
        string name = "";
        ReadOnlySpan<byte> raw = default;
        var floats = new List<float>();
        var reader = new ProtobufReader(bytes);
        while (reader.TryReadTag(out int field, out int wireType))
        {
            switch (field, wireType)
            {
                case (TensorDims, 2):
                    // Packed repeated int64.
                    for (var packed = new ProtobufReader(reader.ReadBytes()); !packed.AtEnd;)
                    {
                        dims.Add(checked((int)packed.ReadVarint()));
                    }
                    break;
                case (TensorDims, 0): dims.Add(checked((int)reader.ReadVarint())); break;
                case (TensorDataType, 0): dataType = (int)reader.ReadVarint(); break;
                case (TensorName, 2): name = Encoding.UTF8.GetString(reader.ReadBytes()); break;
                case (TensorRawData, 2): raw = reader.ReadBytes(); break;
                case (TensorFloatData, 2):
                    var packedFloats = reader.ReadBytes();
                    for (int offset = 0; offset + 4 <= packedFloats.Length; offset += 4)
                    {
                        floats.Add(BinaryPrimitives.ReadSingleLittleEndian(packedFloats[offset..]));
                    }
                    break;
                case (TensorFloatData, 5): floats.Add(reader.ReadFloat()); break;
                case (TensorDataLocation, 0):
                    if (reader.ReadVarint() == 1)
                    {
                        throw new CheckpointException($"{source}: initializer '{name}' keeps its data in an external file, which is not supported");
                    }
                    break;
                default: reader.Skip(wireType); break;
            }
        }
        if (dataType != OnnxFloat)
        {
            return null;
        }
        long count = Tensor.ElementCount(dims.ToArray());
        var data = new float[count];
        if (!raw.IsEmpty)
        {
            if (raw.Length != count * sizeof(float))
            {
                throw new CheckpointException($"{source}: initializer '{name}' {Tensor.FormatShape(dims.ToArray())} holds {raw.Length} bytes, not {count * sizeof(float)}");
            }
            MemoryMarshal.Cast<byte, float>(raw).CopyTo(data); // ONNX raw_data is little-endian, as this machine
        }
        else if (floats.Count == count)
        {
            floats.CopyTo(data);
        }
        else
        {
            throw new CheckpointException($"{source}: initializer '{name}' {Tensor.FormatShape(dims.ToArray())} holds {floats.Count} floats, not {count}");
        }
        return (name, new Tensor(data, [.. dims]));
    }
}
