/// The two capture file formats `CaptureFileReader` understands, told apart by their first
/// four bytes (classic pcap: draft-ietf-opsawg-pcap §4; pcapng: draft-ietf-opsawg-pcapng §4.1).
public enum CaptureFormat: String, Sendable, CaseIterable {
    case pcap
    case pcapng

    /// The format whose magic number starts `leadingBytes`, or nil (also when fewer than four
    /// bytes are given). Both byte orders and both pcap timestamp resolutions are recognised.
    public static func detect<Bytes: Collection>(leadingBytes: Bytes) -> CaptureFormat?
    where Bytes.Element == UInt8 {
        var magic: UInt32 = 0
        var count = 0
        for byte in leadingBytes.prefix(4) {
            magic = magic << 8 | UInt32(byte)
            count += 1
        }
        guard count == 4 else { return nil }
        return detect(bigEndianMagic: magic)
    }

    /// `magic` is the first four bytes read as a big-endian number.
    static func detect(bigEndianMagic magic: UInt32) -> CaptureFormat? {
        switch magic {
        case PcapMagic.microseconds, PcapMagic.microsecondsSwapped,
             PcapMagic.nanoseconds, PcapMagic.nanosecondsSwapped:
            return .pcap
        case PcapNGBlockType.sectionHeader:
            return .pcapng
        default:
            return nil
        }
    }
}

/// Classic pcap magic numbers as the first four file bytes read big-endian.
enum PcapMagic {
    static let microseconds: UInt32 = 0xA1B2_C3D4
    static let microsecondsSwapped: UInt32 = 0xD4C3_B2A1
    static let nanoseconds: UInt32 = 0xA1B2_3C4D
    static let nanosecondsSwapped: UInt32 = 0x4D3C_B2A1
}

/// pcapng block type codes (draft-ietf-opsawg-pcapng §10.1).
enum PcapNGBlockType {
    /// A palindrome, so it reads the same before the byte order is known (§4.1).
    static let sectionHeader: UInt32 = 0x0A0D_0D0A
    static let interfaceDescription: UInt32 = 1
    static let obsoletePacket: UInt32 = 2
    static let simplePacket: UInt32 = 3
    static let enhancedPacket: UInt32 = 6
    /// Written in the file's byte order right after the SHB's type and length (§4.1).
    static let byteOrderMagic: UInt32 = 0x1A2B_3C4D
}
