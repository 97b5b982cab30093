using System.Buffers.Binary;

namespace Palisade.Flows.Records;

/// <summary>Flow identities: Hubble's uuid as a 128-bit number, and back.</summary>
public static class FlowIds
{
    /// <summary>Reads a uuid in its text form (<c>8-4-4-4-12</c> hex digits, any case) as a 128-bit number, most significant byte first.</summary>
    public static bool TryParseUuid(ReadOnlySpan<char> text, out UInt128 id)
    {
        if (!Guid.TryParseExact(text, "D", out var guid))
        {
            id = default;
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        guid.TryWriteBytes(bytes, bigEndian: true, out _);
        id = BinaryPrimitives.ReadUInt128BigEndian(bytes);
        return true;
    }

    /// <summary>The 16 bytes of an identity, most significant first (a uuid's byte order).</summary>
    public static byte[] ToGuidBytes(UInt128 id)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, id);
        return bytes;
    }

    /// <summary>The identity as a <see cref="Guid"/> with the uuid's byte order, as stores keep it.</summary>
    public static Guid ToGuid(UInt128 id) => new(ToGuidBytes(id), bigEndian: true);

    /// <summary>The identity a <see cref="Guid"/> read from a store stands for.</summary>
    public static UInt128 FromGuid(Guid guid)
    {
        Span<byte> bytes = stackalloc byte[16];
        guid.TryWriteBytes(bytes, bigEndian: true, out _);
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }
}
