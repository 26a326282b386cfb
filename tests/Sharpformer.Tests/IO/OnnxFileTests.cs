using System.Text;
using Sharpformer.IO;

namespace Sharpformer.Tests.IO;

/// <summary>The ONNX reader on ModelProtos written by hand with the protobuf wire format (field numbers from onnx.proto).</summary>
public class OnnxFileTests
{
    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            byte next = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? next : (byte)(next | 0x80));
        }
        while (value != 0);
        return [.. bytes];
    }

    private static byte[] Tag(int field, int wireType) => Varint((ulong)(field << 3 | wireType));

    private static byte[] Bytes(int field, byte[] payload) => [.. Tag(field, 2), .. Varint((ulong)payload.Length), .. payload];

    private static byte[] Text(int field, string text) => Bytes(field, Encoding.UTF8.GetBytes(text));

    private static byte[] Number(int field, ulong value) => [.. Tag(field, 0), .. Varint(value)];

    private static byte[] Model()
    {
        // TensorProto: dims 1 (packed), data_type 2, float_data 4 (packed), name 8, raw_data 9. NodeProto: input 1, output 2, op_type 4.
        byte[] raw = [.. Bytes(1, [.. Varint(2), .. Varint(3)]), .. Number(2, 1), .. Text(8, "encoder.weight"),
            .. Bytes(9, [.. new[] { 1f, 2f, 3f, 4f, 5f, 6f }.SelectMany(BitConverter.GetBytes)])];
        byte[] packed = [.. Number(1, 2), .. Number(2, 1), .. Text(8, "bias"), .. Bytes(4, [.. new[] { 0.5f, -1f }.SelectMany(BitConverter.GetBytes)])];
        byte[] int64 = [.. Number(1, 1), .. Number(2, 7), .. Text(8, "shape_constant"), .. Bytes(9, new byte[8])];
        byte[] node = [.. Text(1, "x"), .. Text(1, "encoder.weight"), .. Text(2, "y"), .. Text(4, "MatMul")];
        // GraphProto: node 1, initializer 5; ModelProto: ir_version 1, graph 7.
        byte[] graph = [.. Bytes(1, node), .. Bytes(5, raw), .. Bytes(5, packed), .. Bytes(5, int64)];
        return [.. Number(1, 7), .. Bytes(7, graph)];
    }

    [Fact]
    public void ReadsFloatInitializersAndNodesAndSkipsOtherTypes()
    {
        var file = OnnxFile.Parse(Model(), "hand.onnx");
        Assert.Equal(["bias", "encoder.weight"], file.Initializers.Keys.Order());
        Assert.Equal([2, 3], file.Initializers["encoder.weight"].Shape);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], file.Initializers["encoder.weight"].ToArray());
        Assert.Equal([0.5f, -1f], file.Initializers["bias"].ToArray());
        var node = Assert.Single(file.Nodes);
        Assert.Equal("MatMul", node.OpType);
        Assert.Equal(["x", "encoder.weight"], node.Inputs);
        Assert.Equal(["y"], node.Outputs);
    }

    [Fact]
    public void TruncatedOrForeignBytesNameTheSource()
    {
        byte[] model = Model();
        var truncated = Assert.Throws<CheckpointException>(() => OnnxFile.Parse(model.AsMemory(0, model.Length - 5), "cut.onnx"));
        Assert.StartsWith("cut.onnx: corrupt ONNX protobuf", truncated.Message);
        var noGraph = Assert.Throws<CheckpointException>(() => OnnxFile.Parse(Number(1, 7), "empty.onnx"));
        Assert.Contains("not an ONNX model", noGraph.Message);
    }
}
