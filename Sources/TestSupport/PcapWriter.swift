import PacketCapture

/// Builds a classic pcap file in memory (draft-ietf-opsawg-pcap §4–5) for tests.
///
///     var writer = PcapWriter(linkType: .ethernet, nanosecond: true)
///     writer.append(packet: frame, timestamp: Timestamp(seconds: 1, nanoseconds: 5))
///     try writer.write(to: path)
public struct PcapWriter {
    /// The file so far: header plus records. Tests may cut or corrupt it.
    public var bytes: [UInt8] = []
    public let nanosecond: Bool
    public let bigEndian: Bool
    public private(set) var packetCount = 0

    /// - Parameters:
    ///   - linkTypeFlags: ORed into the header's link type field (e.g. FCS length bits 0x1000_0000...).
    ///   - linkTypeValue: the raw link type number to store, when it must differ from `linkType`
    ///     (DLT_ values like 12 or 14 for raw IP).
    public init(linkType: LinkType = .ethernet, nanosecond: Bool = false, bigEndian: Bool = false,
                snaplen: UInt32 = 65535, versionMajor: UInt16 = 2, versionMinor: UInt16 = 4,
                linkTypeFlags: UInt32 = 0, linkTypeValue: UInt32? = nil) {
        self.nanosecond = nanosecond
        self.bigEndian = bigEndian
        let out = CaptureFileBytes(bigEndian: bigEndian)
        out.append(UInt32(nanosecond ? 0xA1B2_3C4D : 0xA1B2_C3D4), to: &bytes)
        out.append(versionMajor, to: &bytes)
        out.append(versionMinor, to: &bytes)
        out.append(UInt32(0), to: &bytes)   // reserved (was thiszone)
        out.append(UInt32(0), to: &bytes)   // reserved (was sigfigs)
        out.append(snaplen, to: &bytes)
        out.append((linkTypeValue ?? linkType.rawValue) | linkTypeFlags, to: &bytes)
    }

    /// Appends one record. `packet` is what was captured; `originalLength` (default: its count)
    /// is the length on the wire. The timestamp is truncated to microseconds unless `nanosecond`.
    public mutating func append(packet: [UInt8], timestamp: Timestamp, originalLength: Int? = nil) {
        appendRecord(seconds: UInt32(truncatingIfNeeded: timestamp.seconds),
                     fraction: nanosecond ? timestamp.nanoseconds : timestamp.nanoseconds / 1000,
                     capturedLength: UInt32(packet.count),
                     originalLength: UInt32(originalLength ?? packet.count), data: packet)
    }

    /// Appends a record with every header field given, for malformed-input tests
    /// (`capturedLength` need not match `data.count`).
    public mutating func appendRecord(seconds: UInt32, fraction: UInt32, capturedLength: UInt32,
                                      originalLength: UInt32, data: [UInt8]) {
        let out = CaptureFileBytes(bigEndian: bigEndian)
        out.append(seconds, to: &bytes)
        out.append(fraction, to: &bytes)
        out.append(capturedLength, to: &bytes)
        out.append(originalLength, to: &bytes)
        bytes.append(contentsOf: data)
        packetCount += 1
    }

    public func write(to path: String) throws {
        try bytes.writeCaptureFile(to: path)
    }
}
