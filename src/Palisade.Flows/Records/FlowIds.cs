using System.Buffers.Binary;

namespace Palisade.Flows.Records;

/// <summary>Flow identities: a 128-bit number as the uuid stores keep, and back.</summary>
public static class FlowIds
{
    /// <summary>The identity as a <see cref="Guid"/> with the uuid's byte order, as stores keep it.</summary>
    public static Guid ToGuid(UInt128 id)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, id);
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>The identity a <see cref="Guid"/> read from a store stands for.</summary>
    public static UInt128 FromGuid(Guid guid)
    {
        Span<byte> bytes = stackalloc byte[16];
        guid.TryWriteBytes(bytes, bigEndian: true, out _);
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }
}
