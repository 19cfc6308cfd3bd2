#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Streaming reader for classic pcap and pcapng capture files, standard input, or bytes.
///
/// Pure Swift rather than libpcap's offline reader because libpcap refuses pcapng files whose
/// interfaces have different link types; here every packet carries its own interface's link
/// type. The input is read with large `read(2)` calls into a bounded buffer and packets are
/// returned as views into it (valid until the next `nextPacket()`), so memory does not grow
/// with the file and there is no per-packet allocation.
///
/// The header (pcap global header or first pcapng Section Header Block) is read by the
/// initializer, so "not a capture" is reported before any packet. A reader is a handle:
/// copies share one input position.
public struct CaptureFileReader: PacketSource {
    /// Default read buffer size.
    public static let defaultBufferSize = 1 << 20
    /// Captured lengths (and pcapng packet blocks) above this are malformed, not allocated.
    public static let defaultMaximumRecordLength = 256 << 20

    private let parser: CaptureParser

    /// Opens a capture file; `"-"` reads standard input (`tcpdump -w - | switchyard analyze -`).
    public init(path: String,
                bufferSize: Int = CaptureFileReader.defaultBufferSize,
                maximumRecordLength: Int = CaptureFileReader.defaultMaximumRecordLength) throws(CaptureError) {
        if path == "-" {
            try self.init(fileDescriptor: STDIN_FILENO, name: "standard input", closeWhenDone: false,
                          bufferSize: bufferSize, maximumRecordLength: maximumRecordLength)
            return
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CaptureError(.cannotOpen, "\(path): \(systemErrorMessage(errno))")
        }
        var status = stat()
        if fstat(descriptor, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR {
            _ = close(descriptor)
            throw CaptureError(.cannotOpen, "\(path): \(systemErrorMessage(EISDIR))")
        }
        try self.init(fileDescriptor: descriptor, name: path, closeWhenDone: true,
                      bufferSize: bufferSize, maximumRecordLength: maximumRecordLength)
    }

    /// Reads from an open descriptor (a file, pipe or socket). With `closeWhenDone` the
    /// descriptor is closed when the last copy of the reader goes away, also when this throws.
    public init(fileDescriptor: Int32, name: String, closeWhenDone: Bool = false,
                bufferSize: Int = CaptureFileReader.defaultBufferSize,
                maximumRecordLength: Int = CaptureFileReader.defaultMaximumRecordLength) throws(CaptureError) {
        let limits = Self.limits(bufferSize: bufferSize, maximumRecordLength: maximumRecordLength)
        var totalBytes: UInt64?
        var status = stat()
        if fstat(fileDescriptor, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG {
            // The part after the current position: a descriptor may already have been read from.
            let position = lseek(fileDescriptor, 0, SEEK_CUR)
            totalBytes = UInt64(max(0, Int64(status.st_size) - Int64(max(position, 0))))
        }
        let input = CaptureInput(fileDescriptor: fileDescriptor, closesDescriptor: closeWhenDone,
                                 bufferSize: limits.buffer, maximumCapacity: limits.capacity)
        parser = try CaptureParser(input: input, name: name, totalBytes: totalBytes,
                                   maximumRecordLength: limits.record)
    }

    /// Parses a mapped file in place (`CaptureFileMapping`): no read, no copy. Readers made from
    /// one mapping each keep their own position and share the pages.
    public init(mapping: CaptureFileMapping, name: String? = nil,
                maximumRecordLength: Int = CaptureFileReader.defaultMaximumRecordLength) throws(CaptureError) {
        let limits = Self.limits(bufferSize: 64, maximumRecordLength: maximumRecordLength)
        let input = CaptureInput(mapping: mapping, maximumCapacity: limits.capacity)
        parser = try CaptureParser(input: input, name: name ?? mapping.path, totalBytes: UInt64(mapping.count),
                                   maximumRecordLength: limits.record)
    }

    /// Reads a capture held in memory (tests, embedded samples) through the same buffering.
    public init(bytes: [UInt8], name: String = "memory",
                bufferSize: Int = CaptureFileReader.defaultBufferSize,
                maximumRecordLength: Int = CaptureFileReader.defaultMaximumRecordLength) throws(CaptureError) {
        let limits = Self.limits(bufferSize: bufferSize, maximumRecordLength: maximumRecordLength)
        let input = CaptureInput(bytes: bytes, bufferSize: limits.buffer, maximumCapacity: limits.capacity)
        parser = try CaptureParser(input: input, name: name, totalBytes: UInt64(bytes.count),
                                   maximumRecordLength: limits.record)
    }

    /// The next packet, or nil at the end. After a thrown error (e.g. `.truncated` for a file cut
    /// mid-record) the packets already returned stay valid and later calls return nil.
    public mutating func nextPacket() throws(CaptureError) -> CapturedPacket? {
        try parser.nextPacket()
    }

    /// Says that no more packets will be asked for: a reader of a shared mapping must, once its
    /// loop has ended, so that the other readers do not wait for it (CaptureFileMapping).
    public func finishReading() {
        parser.input.finishReading()
    }

    /// `"pcap"` or `"pcapng"`.
    public var formatName: String { parser.format.rawValue }
    public var format: CaptureFormat { parser.format }
    /// The path given, or "standard input", or the name passed to the other initializers.
    public var name: String { parser.name }
    /// Input bytes consumed so far (the offset of the next record), for progress reporting.
    public var bytesRead: UInt64 { parser.input.offset }
    /// Size of the input when known (regular files and in-memory bytes; nil for pipes).
    public var totalBytes: UInt64? { parser.totalBytes }
    /// Packet records returned so far (the last frame number).
    public var packetsRead: UInt64 { parser.frameNumber }
    /// Distinct link types seen so far, in order of first appearance: the pcap header's, or
    /// those of the pcapng interfaces described up to now.
    public var linkTypes: [LinkType] { parser.linkTypesSeen }

    /// True when the file at `path` starts like a pcap or pcapng file (for directory scans).
    /// Reads at most 12 bytes and never throws; for pcapng the byte-order magic must be valid
    /// too, since the block type alone is "\n\r\r\n", which text files can start with.
    public static func looksLikeCapture(path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { _ = close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return false }
        var head = [UInt8](repeating: 0, count: 12)
        var filled = 0
        while filled < head.count {
            let got = head.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return -1 }
                return read(descriptor, base + filled, buffer.count - filled)
            }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { break }
            filled += got
        }
        switch CaptureFormat.detect(leadingBytes: head.prefix(filled)) {
        case .pcap?:
            return true
        case .pcapng?:
            guard filled == 12 else { return false }
            let byteOrder = UInt32(head[8]) << 24 | UInt32(head[9]) << 16 | UInt32(head[10]) << 8 | UInt32(head[11])
            return byteOrder == PcapNGBlockType.byteOrderMagic
                || byteOrder == PcapNGBlockType.byteOrderMagic.byteSwapped
        case nil:
            return false
        }
    }

    private static func limits(bufferSize: Int, maximumRecordLength: Int)
        -> (buffer: Int, record: Int, capacity: Int) {
        // The buffer must hold at least any fixed header; the record limit leaves room for
        // the pcapng block framing around the packet data.
        let record = min(max(maximumRecordLength, 0), 1 << 30)
        let buffer = min(max(bufferSize, 64), 1 << 30)
        return (buffer, record, record + CaptureParser.maximumFraming)
    }
}
