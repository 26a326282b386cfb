using System.Buffers.Binary;
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
            ReadOnlyMemory<byte>? graph = null;
            foreach (var field in Fields(model))
            {
                if (field.Number == ModelGraph)
                {
                    graph = field.Bytes;
                }
            }
            if (graph is null)
            {
                throw new CheckpointException($"{source}: not an ONNX model (no graph)");
            }
            foreach (var field in Fields(graph.Value))
            {
                if (field.Number == GraphNode)
                {
                    nodes.Add(ReadNode(field.Bytes));
                }
                else if (field.Number == GraphInitializer && ReadTensor(field.Bytes, source) is { } tensor)
                {
                    initializers[tensor.Name] = tensor.Value;
                }
            }
        }
        catch (FormatException exception)
        {
            throw new CheckpointException($"{source}: corrupt ONNX protobuf: {exception.Message}", exception);
        }
        return new OnnxFile(initializers, nodes);
    }

    private static OnnxNode ReadNode(ReadOnlyMemory<byte> bytes)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        string opType = "";
        foreach (var field in Fields(bytes))
        {
            switch (field.Number)
            {
                case NodeInput: inputs.Add(field.Text); break;
                case NodeOutput: outputs.Add(field.Text); break;
                case NodeOpType: opType = field.Text; break;
            }
        }
        return new OnnxNode(opType, [.. inputs], [.. outputs]);
    }

    // Non-float tensors (int64 shape constants and the like) are skipped: a checkpoint's weights are float32.
    private static (string Name, Tensor Value)? ReadTensor(ReadOnlyMemory<byte> bytes, string source)
    {
        var dims = new List<int>();
        int dataType = 0;
        string name = "";
        ReadOnlyMemory<byte> raw = default;
        var floats = new List<float>();
        foreach (var field in Fields(bytes))
        {
            switch (field.Number)
            {
                case TensorDims when field.WireType == 2:
                    // Packed repeated int64.
                    for (int offset = 0; offset < field.Bytes.Length;)
                    {
                        dims.Add(checked((int)ReadVarint(field.Bytes.Span, ref offset)));
                    }
                    break;
                case TensorDims: dims.Add(checked((int)field.Varint)); break;
                case TensorDataType: dataType = (int)field.Varint; break;
                case TensorName: name = field.Text; break;
                case TensorRawData: raw = field.Bytes; break;
                case TensorFloatData when field.WireType == 2:
                    for (int offset = 0; offset + 4 <= field.Bytes.Length; offset += 4)
                    {
                        floats.Add(BinaryPrimitives.ReadSingleLittleEndian(field.Bytes.Span[offset..]));
                    }
                    break;
                case TensorDataLocation when field.Varint == 1:
                    throw new CheckpointException($"{source}: initializer '{name}' keeps its data in an external file, which is not supported");
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
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Span[(i * 4)..]);
            }
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

    private readonly record struct Field(int Number, int WireType, ulong Varint, ReadOnlyMemory<byte> Bytes)
    {
        public string Text => Encoding.UTF8.GetString(Bytes.Span);
    }

    /// <summary>The fields of one protobuf message, in order; groups (wire types 3, 4) are not used by ONNX.</summary>
    private static IEnumerable<Field> Fields(ReadOnlyMemory<byte> message)
    {
        int offset = 0;
        while (offset < message.Length)
        {
            ulong key = ReadVarint(message.Span, ref offset);
            int number = (int)(key >> 3), wireType = (int)(key & 7);
            switch (wireType)
            {
                case 0:
                    yield return new Field(number, 0, ReadVarint(message.Span, ref offset), default);
                    break;
                case 1:
                    offset += 8;
                    break;
                case 2:
                    ulong length = ReadVarint(message.Span, ref offset);
                    if (length > (ulong)(message.Length - offset))
                    {
                        throw new FormatException($"field {number} claims {length} bytes, {message.Length - offset} remain");
                    }
                    yield return new Field(number, 2, 0, message.Slice(offset, (int)length));
                    offset += (int)length;
                    break;
                case 5:
                    offset += 4;
                    break;
                default:
                    throw new FormatException($"unsupported wire type {wireType} at byte {offset}");
            }
            if (offset > message.Length)
            {
                throw new FormatException("a field runs past the end of its message");
            }
        }
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> bytes, ref int offset)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (offset >= bytes.Length)
            {
                throw new FormatException("a varint runs past the end of its message");
            }
            byte b = bytes[offset++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
        throw new FormatException("a varint is longer than 10 bytes");
    }
}
