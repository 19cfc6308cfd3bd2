/// One packet as read from a capture, without copying its bytes.
///
/// `bytes` points into the reader's buffer and is valid only until the next call to
/// `PacketSource.nextPacket()`; copy what must outlive that.
public struct CapturedPacket {
    /// 1-based, counted over the whole capture file as Wireshark numbers frames.
    public var frameNumber: UInt64
    public var timestamp: Timestamp
    public var linkType: LinkType
    /// Bytes as captured (at most the snapshot length).
    public var bytes: UnsafeRawBufferPointer
    /// Length of the packet on the wire; larger than `bytes.count` when the snaplen cut it.
    public var originalLength: Int

    public init(frameNumber: UInt64, timestamp: Timestamp, linkType: LinkType,
                bytes: UnsafeRawBufferPointer, originalLength: Int) {
        self.frameNumber = frameNumber
        self.timestamp = timestamp
        self.linkType = linkType
        self.bytes = bytes
        self.originalLength = originalLength
    }
}

/// Anything that yields packets in capture order: a file, standard input, a live interface.
public protocol PacketSource {
    /// The next packet, or nil at the end of input. Throws `CaptureError` when the input
    /// cannot be read further (packets already returned stay valid findings).
    mutating func nextPacket() throws(CaptureError) -> CapturedPacket?
}

/// Why a capture could not be read (further). Carries the byte offset where reading stopped.
public struct CaptureError: Error, Equatable, CustomStringConvertible, Sendable {
    public enum Kind: Equatable, Sendable {
        case cannotOpen          // missing file, permission, a directory
        case notACapture         // no pcap or pcapng magic
        case truncated           // file ends inside a header or record
        case malformed           // impossible lengths, bad block structure
        case unsupportedVersion
        case io                  // read(2) failed
        case live                // libpcap reported an error on a live handle
    }
    public var kind: Kind
    public var offset: UInt64
    public var detail: String

    public init(_ kind: Kind, offset: UInt64 = 0, _ detail: String) {
        self.kind = kind
        self.offset = offset
        self.detail = detail
    }

    public var description: String {
        offset > 0 ? "\(detail) (at byte \(offset))" : detail
    }
}
