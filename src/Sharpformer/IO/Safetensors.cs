using System.Buffers;
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Sharpformer.Tensors;

namespace Sharpformer.IO;

/// <summary>Element types a safetensors file may hold.</summary>
public enum TensorDType
{
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

/// <summary>One entry of a safetensors header.</summary>
public sealed record TensorInfo(string Name, TensorDType DType, int[] Shape, long Begin, long End)
{
    public long ElementCount => Tensor.ElementCount(Shape);

    public static int ElementSize(TensorDType dtype) => dtype switch
    {
        TensorDType.F64 or TensorDType.I64 => 8,
        TensorDType.F32 or TensorDType.I32 => 4,
        TensorDType.F16 or TensorDType.BF16 or TensorDType.I16 => 2,
        _ => 1,
    };
}

/// <summary>
/// A memory-mapped safetensors file: 8-byte little-endian header length, a JSON header, then raw row-major data.
/// F32 tensors are viewed in place (no copy); F16/BF16 are converted to float32 once when read.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _data;
    private readonly long _dataLength;
    private readonly long _dataStart;  // file offset of the data section
    private readonly Dictionary<string, TensorInfo> _tensors = new(StringComparer.Ordinal);
    private readonly List<string> _order = new();

    private SafetensorsFile(string path)
    {
        Path = path;
        var fileInfo = new FileInfo(path);
        if (!fileInfo.Exists)
        {
            throw new CheckpointException($"{path}: file not found");
        }
        long fileLength = fileInfo.Length;
        if (fileLength < 8)
        {
            throw new CheckpointException($"{path}: truncated safetensors file ({fileLength} bytes, the 8-byte header length is missing)");
        }
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* basePointer = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref basePointer);
        basePointer += _view.PointerOffset;
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(basePointer, 8));
        if (headerLength > (ulong)(fileLength - 8) || headerLength > 100_000_000)
        {
            Dispose();
            throw new CheckpointException($"{path}: corrupt or truncated safetensors header (header length {headerLength}, file length {fileLength})");
        }
        var headerBytes = new ReadOnlySpan<byte>(basePointer + 8, (int)headerLength);
        _data = basePointer + 8 + (long)headerLength;
        _dataLength = fileLength - 8 - (long)headerLength;
        _dataStart = 8 + (long)headerLength;
        try
        {
            ParseHeader(headerBytes);
        }
        catch (Exception exception) when (exception is JsonException or InvalidOperationException or FormatException or KeyNotFoundException or OverflowException)
        {
            Dispose();
            throw new CheckpointException($"{path}: corrupt safetensors header: {exception.Message}", exception);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();

    /// <summary>Tensor names in file order.</summary>
    public IReadOnlyList<string> Names => _order;

    public IReadOnlyDictionary<string, TensorInfo> Tensors => _tensors;

    public static SafetensorsFile Open(string path) => new(path);

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public TensorInfo GetInfo(string name) =>
        _tensors.TryGetValue(name, out var info) ? info : throw new CheckpointException($"{Path}: tensor '{name}' is missing");

    private void ParseHeader(ReadOnlySpan<byte> headerBytes)
    {
        using var document = JsonDocument.Parse(headerBytes.ToArray());
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new FormatException("the header is not a JSON object");
        }
        foreach (var property in document.RootElement.EnumerateObject())
        {
            if (property.Name == "__metadata__")
            {
                var metadata = new Dictionary<string, string>();
                foreach (var item in property.Value.EnumerateObject())
                {
                    metadata[item.Name] = item.Value.ValueKind == JsonValueKind.String ? item.Value.GetString()! : item.Value.GetRawText();
                }
                Metadata = metadata;
                continue;
            }
            var element = property.Value;
            string dtypeText = element.GetProperty("dtype").GetString() ?? "";
            if (!TryParseDType(dtypeText, out var dtype))
            {
                throw new CheckpointException($"{Path}: tensor '{property.Name}' has unsupported dtype {dtypeText}");
            }
            int[] shape = element.GetProperty("shape").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            var offsets = element.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
            {
                throw new FormatException($"tensor '{property.Name}' has invalid data_offsets");
            }
            long expectedBytes = Tensor.ElementCount(shape) * TensorInfo.ElementSize(dtype);
            if (offsets[1] - offsets[0] != expectedBytes)
            {
                throw new FormatException($"tensor '{property.Name}' {dtypeText} {Tensor.FormatShape(shape)} needs {expectedBytes} bytes but its offsets span {offsets[1] - offsets[0]}");
            }
            if (offsets[1] > _dataLength)
            {
                throw new CheckpointException($"{Path}: truncated file: tensor '{property.Name}' ends at byte {offsets[1]} of the data section, which holds only {_dataLength} bytes");
            }
            var info = new TensorInfo(property.Name, dtype, shape, offsets[0], offsets[1]);
            _tensors.Add(property.Name, info);
            _order.Add(property.Name);
        }
    }

    private static bool TryParseDType(string text, out TensorDType dtype)
    {
        dtype = text switch
        {
            "F32" => TensorDType.F32,
            "F16" => TensorDType.F16,
            "BF16" => TensorDType.BF16,
            "F64" => TensorDType.F64,
            "I64" => TensorDType.I64,
            "I32" => TensorDType.I32,
            "I16" => TensorDType.I16,
            "I8" => TensorDType.I8,
            "U8" => TensorDType.U8,
            "BOOL" => TensorDType.Bool,
            _ => (TensorDType)(-1),
        };
        return (int)dtype >= 0;
    }

    private ReadOnlySpan<byte> Bytes(TensorInfo info) => new(_data + info.Begin, checked((int)(info.End - info.Begin)));

    /// <summary>
    /// The tensor as float32. F32 data is a view into the mapped file (no copy) when 4-byte aligned;
    /// F16 and BF16 are converted. Throws naming both shapes when <paramref name="expectedShape"/> differs.
    /// With <paramref name="mapped"/> false the bytes are read through the file handle into an owned array instead,
    /// so no page of the mapping becomes resident (for loads that convert the tensor and drop it).
    /// </summary>
    public Tensor ReadFloat32(string name, int[]? expectedShape = null, bool mapped = true)
    {
        var info = GetInfo(name);
        if (expectedShape is not null && !info.Shape.AsSpan().SequenceEqual(expectedShape))
        {
            throw new CheckpointException($"{Path}: tensor '{name}' has shape {Tensor.FormatShape(info.Shape)} but the model expects {Tensor.FormatShape(expectedShape)}");
        }
        int count = checked((int)info.ElementCount);
        if (!mapped)
        {
            return ReadFloat32Copy(info, count);
        }
        if (info.DType == TensorDType.F32)
        {
            if (((nint)(_data + info.Begin) & 3) == 0)
            {
                var manager = new MappedMemoryManager(this, (float*)(_data + info.Begin), count);
                return new Tensor(manager.Memory, info.Shape);
            }
            return new Tensor(MemoryMarshal.Cast<byte, float>(Bytes(info)).ToArray(), info.Shape);
        }
        return new Tensor(ConvertToSingle(info, Bytes(info), count), info.Shape);
    }

    private Tensor ReadFloat32Copy(TensorInfo info, int count)
    {
        if (info.DType == TensorDType.F32)
        {
            var floats = new float[count];
            ReadFromFile(info, MemoryMarshal.AsBytes(floats.AsSpan()));
            return new Tensor(floats, info.Shape);
        }
        int length = checked((int)(info.End - info.Begin));
        byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            ReadFromFile(info, buffer.AsSpan(0, length));
            return new Tensor(ConvertToSingle(info, buffer.AsSpan(0, length), count), info.Shape);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Reads a tensor's bytes with positional reads (pread): page cache, not this process's mapped pages.</summary>
    private void ReadFromFile(TensorInfo info, Span<byte> destination)
    {
        using var handle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long offset = _dataStart + info.Begin;
        int done = 0;
        while (done < destination.Length)
        {
            int read = RandomAccess.Read(handle, destination[done..], offset + done);
            if (read == 0)
            {
                throw new CheckpointException($"{Path}: truncated file: tensor '{info.Name}' ends past the end of the file (was it changed after opening?)");
            }
            done += read;
        }
    }

    /// <summary>F16, BF16 or F64 bytes as float32.</summary>
    private float[] ConvertToSingle(TensorInfo info, ReadOnlySpan<byte> bytes, int count)
    {
        var result = new float[count];
        switch (info.DType)
        {
            case TensorDType.F32:
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(result);
                break;
            case TensorDType.F16:
                System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(bytes), result);
                break;
            case TensorDType.BF16:
                Float16.BFloat16ToSingle(MemoryMarshal.Cast<byte, ushort>(bytes), result);
                break;
            case TensorDType.F64:
                var doubles = MemoryMarshal.Cast<byte, double>(bytes);
                for (int i = 0; i < count; i++)
                {
                    result[i] = (float)doubles[i];
                }
                break;
            default:
                throw new CheckpointException($"{Path}: tensor '{info.Name}' has dtype {info.DType}, which cannot be read as floating point (expected F32, F16, BF16 or F64)");
        }
        return result;
    }

    /// <summary>An integer tensor (I64, I32, I16, I8, U8, BOOL) as int32 values.</summary>
    public int[] ReadInt32(string name, out int[] shape)
    {
        var info = GetInfo(name);
        shape = info.Shape;
        var bytes = Bytes(info);
        int count = checked((int)info.ElementCount);
        var result = new int[count];
        switch (info.DType)
        {
            case TensorDType.I64:
                var longs = MemoryMarshal.Cast<byte, long>(bytes);
                for (int i = 0; i < count; i++)
                {
                    result[i] = checked((int)longs[i]);
                }
                break;
            case TensorDType.I32:
                MemoryMarshal.Cast<byte, int>(bytes).CopyTo(result);
                break;
            case TensorDType.I16:
                var shorts = MemoryMarshal.Cast<byte, short>(bytes);
                for (int i = 0; i < count; i++)
                {
                    result[i] = shorts[i];
                }
                break;
            case TensorDType.I8:
                for (int i = 0; i < count; i++)
                {
                    result[i] = (sbyte)bytes[i];
                }
                break;
            case TensorDType.U8:
            case TensorDType.Bool:
                for (int i = 0; i < count; i++)
                {
                    result[i] = bytes[i];
                }
                break;
            default:
                throw new CheckpointException($"{Path}: tensor '{name}' has dtype {info.DType}, expected an integer dtype");
        }
        return result;
    }

    public void Dispose()
    {
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }

    /// <summary>Exposes a region of the mapped file as Memory&lt;float&gt;; keeps the file alive while referenced.</summary>
    private sealed class MappedMemoryManager : MemoryManager<float>
    {
        private readonly SafetensorsFile _owner;
        private readonly float* _pointer;
        private readonly int _length;

        public MappedMemoryManager(SafetensorsFile owner, float* pointer, int length)
        {
            _owner = owner;
            _pointer = pointer;
            _length = length;
        }

        public override Span<float> GetSpan() => new(_pointer, _length);

        public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

        public override void Unpin() { }

        protected override void Dispose(bool disposing) => GC.KeepAlive(_owner);
    }
}

/// <summary>Writes safetensors files: to a temporary file first, then renamed, so a crash never leaves half a file.</summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = tensors.ToList();
        var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata)
                {
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, tensor) in entries)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int dimension in tensor.Shape)
                {
                    json.WriteNumberValue(dimension);
                }
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                offset += (long)tensor.Length * 4;
                json.WriteNumberValue(offset);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Pad the header with spaces so the data section starts 8-byte aligned, as HF does.
        while (header.Length % 8 != 0)
        {
            header.WriteByte((byte)' ');
        }

        string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        string temporary = System.IO.Path.Combine(directory, "." + System.IO.Path.GetFileName(path) + "." + Environment.ProcessId + ".tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> lengthBytes = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)header.Length);
                stream.Write(lengthBytes);
                header.Position = 0;
                header.CopyTo(stream);
                foreach (var (_, tensor) in entries)
                {
                    stream.Write(MemoryMarshal.AsBytes(tensor.Span));
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Writes UTF-8 text atomically (temporary file, then rename).</summary>
    public static void WriteTextAtomically(string path, string text)
    {
        string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        string temporary = System.IO.Path.Combine(directory, "." + System.IO.Path.GetFileName(path) + "." + Environment.ProcessId + ".tmp");
        File.WriteAllText(temporary, text, new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: true);
    }
}
