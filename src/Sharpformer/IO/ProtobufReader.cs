using System.Buffers.Binary;

namespace Sharpformer.IO;

/// <summary>
/// The protobuf wire format, just enough for the model files we read (ONNX ModelProto, SentencePiece ModelProto):
/// varints, fixed32/64 and length-delimited fields. Errors are <see cref="InvalidDataException"/>s.
/// </summary>
internal ref struct ProtobufReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly bool AtEnd => _position >= _data.Length;

    public bool TryReadTag(out int field, out int wireType)
    {
        if (_position >= _data.Length)
        {
            (field, wireType) = (0, 0);
            return false;
        }
        ulong tag = ReadVarint();
        (field, wireType) = ((int)(tag >> 3), (int)(tag & 7));
        if (field == 0)
        {
            throw new InvalidDataException($"field number 0 at byte {_position}");
        }
        return true;
    }

    public ulong ReadVarint()
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_position >= _data.Length)
            {
                throw new InvalidDataException("the data ends inside a varint");
            }
            byte next = _data[_position++];
            value |= (ulong)(next & 0x7F) << shift;
            if (next < 0x80)
            {
                return value;
            }
        }
        throw new InvalidDataException($"a varint is longer than 10 bytes at byte {_position}");
    }

    public float ReadFloat() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

    public ReadOnlySpan<byte> ReadBytes()
    {
        ulong length = ReadVarint();
        if (length > (ulong)(_data.Length - _position))
        {
            throw new InvalidDataException($"a field of {length} bytes runs past the end at byte {_position}");
        }
        return Take((int)length);
    }

    public void Skip(int wireType)
    {
        switch (wireType)
        {
            case 0: ReadVarint(); break;
            case 1: Take(8); break;
            case 2: ReadBytes(); break;
            case 5: Take(4); break;
            default: throw new InvalidDataException($"unsupported wire type {wireType} at byte {_position}");
        }
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _position)
        {
            throw new InvalidDataException($"the data ends at byte {_data.Length}, inside a field");
        }
        var slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }
}
