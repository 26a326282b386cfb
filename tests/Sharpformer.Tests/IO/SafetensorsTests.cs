using System.Buffers.Binary;
using System.Text;
using Sharpformer.IO;
using Sharpformer.Tensors;

namespace Sharpformer.Tests.IO;

public sealed class SafetensorsTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("sharpformer-io-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    /// <summary>Writes a safetensors file by hand, so the reader is tested against the format, not against our writer.</summary>
    private string WriteRaw(string name, string header, byte[] data)
    {
        var headerBytes = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + headerBytes.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)headerBytes.Length);
        headerBytes.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + headerBytes.Length);
        File.WriteAllBytes(PathOf(name), bytes);
        return PathOf(name);
    }

    [Fact]
    public void RoundTripKeepsNamesShapesValuesAndMetadata()
    {
        var rng = new Rng(3);
        var a = Tensor.Zeros(3, 5);
        rng.FillNormal(a.Span);
        var b = Tensor.Zeros(7);
        rng.FillNormal(b.Span);
        string path = PathOf("round.safetensors");
        SafetensorsWriter.Write(path, [new("layer.a", a), new("layer.b", b)], new Dictionary<string, string> { ["format"] = "pt" });

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["layer.a", "layer.b"], file.Names);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(a.ToArray(), file.ReadFloat32("layer.a", [3, 5]).ToArray());
        Assert.Equal(b.ToArray(), file.ReadFloat32("layer.b").ToArray());
        Assert.Empty(Directory.GetFiles(_directory, "*.tmp"));
    }

    [Fact]
    public void ReadsTheHfFixtureHeader()
    {
        using var file = SafetensorsFile.Open(Fixture.File("gpt2", "model.safetensors"));
        Assert.Equal(40, file.Names.Count);
        Assert.Equal([1000, 64], file.GetInfo("transformer.wte.weight").Shape);
        Assert.Equal("pt", file.Metadata["format"]);
    }

    [Fact]
    public void HalfAndBFloat16AreConvertedToFloat32()
    {
        float[] values = [1f, -2.5f, 0.15625f, 65504f];
        var half = values.SelectMany(v => BitConverter.GetBytes(BitConverter.HalfToUInt16Bits((Half)v))).ToArray();
        var bf16 = values.SelectMany(v => BitConverter.GetBytes(Float16.SingleToBFloat16(v))).ToArray();
        string path = WriteRaw("mixed.safetensors",
            """{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2,2],"data_offsets":[8,16]}}""",
            [.. half, .. bf16]);
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(values, file.ReadFloat32("h").ToArray());
        // bf16 keeps 8 bits of mantissa: 65504 rounds to 65536.
        Assert.Equal([1f, -2.5f, 0.15625f, 65536f], file.ReadFloat32("b").ToArray());
    }

    [Fact]
    public void MissingFileIsNamed()
    {
        var exception = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(PathOf("absent.safetensors")));
        Assert.Contains("absent.safetensors", exception.Message);
        Assert.Contains("not found", exception.Message);
    }

    [Fact]
    public void TruncatedFilesAreRefused()
    {
        File.WriteAllBytes(PathOf("tiny.safetensors"), [1, 2, 3]);
        Assert.Contains("truncated", Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(PathOf("tiny.safetensors"))).Message);

        // The header promises 16 bytes of data; only 8 are there.
        string path = WriteRaw("short.safetensors", """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}""", new byte[8]);
        var exception = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Contains("truncated", exception.Message);
        Assert.Contains("'w'", exception.Message);

        // The header length points past the end of the file.
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        File.WriteAllBytes(PathOf("header.safetensors"), bytes);
        Assert.Contains("header", Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(PathOf("header.safetensors"))).Message);
    }

    [Fact]
    public void CorruptHeaderAndBadOffsetsAreRefused()
    {
        string path = WriteRaw("corrupt.safetensors", "{not json", []);
        Assert.Contains("corrupt safetensors header", Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path)).Message);
        path = WriteRaw("offsets.safetensors", """{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}}""", new byte[16]);
        Assert.Contains("needs 16 bytes", Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path)).Message);
    }

    [Fact]
    public void UnsupportedDtypeIsNamed()
    {
        string path = WriteRaw("f8.safetensors", """{"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}}""", new byte[4]);
        var exception = Assert.Throws<CheckpointException>(() => SafetensorsFile.Open(path));
        Assert.Contains("unsupported dtype F8_E4M3", exception.Message);
        Assert.Contains("'w'", exception.Message);

        path = WriteRaw("ints.safetensors", """{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}""", new byte[8]);
        using var file = SafetensorsFile.Open(path);
        Assert.Contains("cannot be read as floating point", Assert.Throws<CheckpointException>(() => file.ReadFloat32("w")).Message);
    }

    [Fact]
    public void WrongShapeAndMissingTensorNameTheTensorAndBothShapes()
    {
        string path = PathOf("shape.safetensors");
        SafetensorsWriter.Write(path, [new("w", Tensor.Zeros(2, 3))]);
        using var file = SafetensorsFile.Open(path);
        var exception = Assert.Throws<CheckpointException>(() => file.ReadFloat32("w", [3, 2]));
        Assert.Contains("'w'", exception.Message);
        Assert.Contains("[2, 3]", exception.Message);
        Assert.Contains("[3, 2]", exception.Message);
        Assert.Contains("'missing.weight' is missing", Assert.Throws<CheckpointException>(() => file.ReadFloat32("missing.weight")).Message);
    }
}
