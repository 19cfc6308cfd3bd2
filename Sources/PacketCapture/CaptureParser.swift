/// The record parser behind `CaptureFileReader`: classic pcap (draft-ietf-opsawg-pcap) and
/// pcapng (draft-ietf-opsawg-pcapng), both byte orders, parsed in place in `CaptureInput`.
final class CaptureParser {
    /// Block bytes allowed beyond `maximumRecordLength` (headers, padding, options).
    static let maximumFraming = 64 << 10
    /// Interfaces per pcapng section; a table entry each, so bounded.
    static let maximumInterfaces = 1 << 16
    /// Distinct link types remembered for `CaptureFileReader.linkTypes`.
    static let maximumLinkTypesSeen = 64

    let input: CaptureInput
    let name: String
    let format: CaptureFormat
    let totalBytes: UInt64?
    let maximumRecordLength: Int
    private(set) var frameNumber: UInt64 = 0
    private(set) var linkTypesSeen: [LinkType] = []
    private var bigEndian = false
    private var finished = false

    // Classic pcap: one link type and timestamp resolution for the whole file (§4).
    private var pcapLinkType = LinkType.ethernet
    private var pcapNanosecond = false

    // pcapng: the current section's interfaces (an SHB starts a new table, §4.1) and the last
    // timestamp, given to Simple Packet Blocks, which carry none (§4.4). Read for every packet:
    // unchecked, because the run-time exclusivity check cost 2% of a pcapng run, and nothing
    // here accesses it reentrantly.
    @exclusivity(unchecked) private var interfaces: [PcapNGInterface] = []
    private var lastTimestamp = Timestamp.zero

    init(input: CaptureInput, name: String, totalBytes: UInt64?, maximumRecordLength: Int) throws(CaptureError) {
        self.input = input
        self.name = name
        self.totalBytes = totalBytes
        self.maximumRecordLength = maximumRecordLength
        guard try input.fill(4) else {
            let what = input.available == 0 ? "empty file" : "file too short"
            throw CaptureError(.notACapture, "\(name): \(what), not a pcap or pcapng file")
        }
        let magic = UInt32(bigEndian: input.current.loadUnaligned(as: UInt32.self))
        guard let format = CaptureFormat.detect(bigEndianMagic: magic) else {
            throw CaptureError(.notACapture, "\(name): not a pcap or pcapng file")
        }
        self.format = format
        switch format {
        case .pcap: try readPcapHeader(magic: magic)
        case .pcapng: try readSectionHeader(atStart: true)
        }
    }

    func nextPacket() throws(CaptureError) -> CapturedPacket? {
        if finished { return nil }
        do {
            let packet: CapturedPacket?
            switch format {
            case .pcap: packet = try nextPcapRecord()
            case .pcapng: packet = try nextPcapNGPacket()
            }
            if packet == nil { finished = true }
            return packet
        } catch {
            finished = true
            throw error
        }
    }

    // MARK: - Reading helpers

    @inline(__always)
    private func u16(_ base: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        let raw = base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
        return bigEndian ? UInt16(bigEndian: raw) : UInt16(littleEndian: raw)
    }

    @inline(__always)
    private func u32(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        let raw = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        return bigEndian ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)
    }

    @inline(__always)
    private func u64(_ base: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        let raw = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        return bigEndian ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw)
    }

    private func truncated(_ offset: UInt64, _ what: String) -> CaptureError {
        CaptureError(.truncated, offset: offset, "\(name): file ends inside \(what)")
    }

    private func malformed(_ offset: UInt64, _ what: String) -> CaptureError {
        CaptureError(.malformed, offset: offset, "\(name): \(what)")
    }

    private func noteLinkType(_ linkType: LinkType) {
        if linkTypesSeen.count < Self.maximumLinkTypesSeen && !linkTypesSeen.contains(linkType) {
            linkTypesSeen.append(linkType)
        }
    }

    // MARK: - Classic pcap

    /// The 24-byte file header (§4): magic, version 2.4, reserved, snaplen, link type + FCS bits.
    private func readPcapHeader(magic: UInt32) throws(CaptureError) {
        bigEndian = magic == PcapMagic.microseconds || magic == PcapMagic.nanoseconds
        pcapNanosecond = magic == PcapMagic.nanoseconds || magic == PcapMagic.nanosecondsSwapped
        guard try input.fill(24) else { throw truncated(0, "the pcap file header") }
        let header = input.current
        let major = u16(header, 4)
        let minor = u16(header, 6)
        guard major == 2 else {
            throw CaptureError(.unsupportedVersion, "\(name): unsupported pcap version \(major).\(minor)")
        }
        // The upper bits of the link type field carry the FCS length (§4, "LinkType and
        // additional information"); only the low 16 bits name the link type.
        pcapLinkType = LinkType.fromFileValue(u32(header, 20) & 0xFFFF)
        noteLinkType(pcapLinkType)
        input.consume(24)
    }

    /// One packet record (§5): 16-byte header, then `incl_len` bytes.
    private func nextPcapRecord() throws(CaptureError) -> CapturedPacket? {
        let recordOffset = input.offset
        let frame = frameNumber &+ 1
        guard try input.fill(16) else {
            if input.available == 0 { return nil }
            throw truncated(recordOffset, "the header of packet record \(frame)")
        }
        var record = input.current
        let seconds = u32(record, 0)
        let fraction = u32(record, 4)
        let capturedLength = u32(record, 8)
        let originalLength = u32(record, 12)
        guard UInt64(capturedLength) <= UInt64(maximumRecordLength) else {
            throw malformed(recordOffset, "packet record \(frame) claims \(capturedLength) captured bytes "
                                + "(limit \(maximumRecordLength))")
        }
        let recordLength = 16 + Int(capturedLength)
        guard try input.fill(recordLength) else {
            throw truncated(recordOffset, "packet record \(frame)")
        }
        record = input.current
        let perSecond: UInt32 = pcapNanosecond ? 1_000_000_000 : 1_000_000
        // A fraction of a whole second or more is carried into the seconds; the division is
        // done only then (it was a tenth of the record walk of a --jobs worker).
        let timestamp = fraction < perSecond
            ? Timestamp(seconds: Int64(seconds), nanoseconds: fraction &* (pcapNanosecond ? 1 : 1000))
            : Timestamp(seconds: Int64(seconds) + Int64(fraction / perSecond),
                        nanoseconds: (fraction % perSecond) &* (pcapNanosecond ? 1 : 1000))
        let bytes = UnsafeRawBufferPointer(start: record + 16, count: Int(capturedLength))
        input.consume(recordLength)
        frameNumber = frame
        return CapturedPacket(frameNumber: frame, timestamp: timestamp, linkType: pcapLinkType,
                              bytes: bytes, originalLength: Int(originalLength))
    }

    // MARK: - pcapng

    /// Next packet from an EPB, SPB or obsolete PB; SHBs and IDBs update the state and every
    /// other block is skipped by its length (§3.1: readers skip blocks they do not know).
    private func nextPcapNGPacket() throws(CaptureError) -> CapturedPacket? {
        while true {
            let blockOffset = input.offset
            guard try input.fill(8) else {
                if input.available == 0 { return nil }
                throw truncated(blockOffset, "a block header")
            }
            let rawType = input.current.loadUnaligned(as: UInt32.self)
            if rawType == PcapNGBlockType.sectionHeader {
                try readSectionHeader(atStart: false)
                continue
            }
            let type = bigEndian ? UInt32(bigEndian: rawType) : UInt32(littleEndian: rawType)
            let length = try validatedBlockLength(u32(input.current, 4), at: blockOffset, minimum: 12)
            switch type {
            case PcapNGBlockType.interfaceDescription:
                try readInterfaceDescription(length: length, at: blockOffset)
            case PcapNGBlockType.enhancedPacket, PcapNGBlockType.simplePacket, PcapNGBlockType.obsoletePacket:
                return try readPacketBlock(type: type, length: length, at: blockOffset)
            default:
                try skipBlock(length: length, at: blockOffset)
            }
        }
    }

    /// Checks a Block Total Length (§3.1): at least `minimum`, a multiple of 4, within limits.
    private func validatedBlockLength(_ length: UInt32, at offset: UInt64, minimum: Int) throws(CaptureError) -> Int {
        guard Int(length) >= minimum, length % 4 == 0 else {
            throw malformed(offset, "invalid pcapng block length \(length)")
        }
        guard Int(length) <= input.maximumCapacity else {
            throw malformed(offset, "pcapng block length \(length) exceeds the limit of \(input.maximumCapacity)")
        }
        return Int(length)
    }

    /// Brings a whole block into the buffer and checks its trailing length copy (§3.1).
    /// `what` names the block in an error only: an autoclosure, so that reading a packet block
    /// builds no string (that interpolation was 9% of a pcapng run).
    private func loadBlock(length: Int, at offset: UInt64, what: @autoclosure () -> String)
        throws(CaptureError) -> UnsafeRawPointer {
        guard try input.fill(length) else { throw truncated(offset, what()) }
        let block = input.current
        guard u32(block, length - 4) == UInt32(length) else {
            throw malformed(offset, "\(what()) has mismatched leading and trailing lengths")
        }
        return block
    }

    private func skipBlock(length: Int, at offset: UInt64) throws(CaptureError) {
        guard try input.skip(UInt64(length - 4)), try input.fill(4) else {
            throw truncated(offset, "a pcapng block")
        }
        guard u32(input.current, 0) == UInt32(length) else {
            throw malformed(offset, "pcapng block has mismatched leading and trailing lengths")
        }
        input.consume(4)
    }

    /// Section Header Block (§4.1): its byte-order magic sets the byte order of the section,
    /// and it starts a new interface table.
    private func readSectionHeader(atStart: Bool) throws(CaptureError) {
        let offset = input.offset
        guard try input.fill(12) else {
            throw truncated(offset, "a section header block")
        }
        let byteOrder = UInt32(littleEndian: input.current.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        switch byteOrder {
        case PcapNGBlockType.byteOrderMagic: bigEndian = false
        case PcapNGBlockType.byteOrderMagic.byteSwapped: bigEndian = true
        default:
            // At offset 0 the type could be the "\n\r\r\n" of a text file.
            if atStart { throw CaptureError(.notACapture, "\(name): not a pcap or pcapng file") }
            throw malformed(offset, "section header block with an invalid byte-order magic")
        }
        let length = try validatedBlockLength(u32(input.current, 4), at: offset, minimum: 28)
        let block = try loadBlock(length: length, at: offset, what: "a section header block")
        let major = u16(block, 12)
        let minor = u16(block, 14)
        guard major == 1 else {
            throw CaptureError(.unsupportedVersion, offset: offset,
                               "\(name): unsupported pcapng version \(major).\(minor)")
        }
        interfaces.removeAll(keepingCapacity: true)
        input.consume(length)
    }

    /// Interface Description Block (§4.2): link type, snaplen, and the if_tsresol (code 9)
    /// and if_tsoffset (code 14) options that define how its packets' timestamps are read.
    private func readInterfaceDescription(length: Int, at offset: UInt64) throws(CaptureError) {
        guard length >= 20 else { throw malformed(offset, "interface description block too short") }
        let block = try loadBlock(length: length, at: offset, what: "an interface description block")
        guard interfaces.count < Self.maximumInterfaces else {
            throw malformed(offset, "more than \(Self.maximumInterfaces) interfaces in one section")
        }
        var interface = PcapNGInterface(linkType: LinkType.fromFileValue(UInt32(u16(block, 8))),
                                        snapshotLength: u32(block, 12))
        var position = 16
        let optionsEnd = length - 4
        while position + 4 <= optionsEnd {
            let code = u16(block, position)
            let valueLength = Int(u16(block, position + 2))
            if code == 0 { break }   // opt_endofopt
            let value = position + 4
            guard value + valueLength <= optionsEnd else {
                throw malformed(offset, "interface description option \(code) overruns its block")
            }
            if code == 9 && valueLength >= 1 {
                let resolution = block.load(fromByteOffset: value, as: UInt8.self)
                guard interface.setResolution(resolution) else {
                    throw malformed(offset, "unsupported if_tsresol \(resolution)")
                }
            } else if code == 14 && valueLength >= 8 {
                interface.secondsOffset = Int64(bitPattern: u64(block, value))
            }
            position = value + ((valueLength + 3) & ~3)
        }
        interfaces.append(interface)
        noteLinkType(interface.linkType)
        input.consume(length)
    }

    /// Enhanced (§4.3), Simple (§4.4) and obsolete (Appendix A) Packet Blocks.
    private func readPacketBlock(type: UInt32, length: Int, at offset: UInt64) throws(CaptureError) -> CapturedPacket {
        let frame = frameNumber &+ 1
        let minimum = type == PcapNGBlockType.simplePacket ? 16 : 32
        guard length >= minimum else { throw malformed(offset, "packet block \(frame) too short") }
        let block = try loadBlock(length: length, at: offset, what: "packet block \(frame)")
        let interfaceID: Int
        let timestamp: Timestamp
        let capturedLength: Int
        let originalLength: Int
        let dataOffset: Int
        if type == PcapNGBlockType.simplePacket {
            interfaceID = 0
            originalLength = Int(u32(block, 8))
            dataOffset = 12
            var captured = min(originalLength, length - 16)
            if let first = interfaces.first, first.snapshotLength != 0 {
                captured = min(captured, Int(first.snapshotLength))
            }
            capturedLength = captured
            timestamp = lastTimestamp
        } else {
            interfaceID = type == PcapNGBlockType.enhancedPacket ? Int(u32(block, 8)) : Int(u16(block, 8))
            let units = UInt64(u32(block, 12)) << 32 | UInt64(u32(block, 16))
            capturedLength = Int(u32(block, 20))
            originalLength = Int(u32(block, 24))
            dataOffset = 28
            guard capturedLength <= length - 32 else {
                throw malformed(offset, "packet block \(frame) claims \(capturedLength) captured bytes "
                                    + "in a block of \(length)")
            }
            guard interfaceID < interfaces.count else {
                throw malformed(offset, "packet block \(frame) refers to undefined interface \(interfaceID)")
            }
            timestamp = interfaces[interfaceID].timestamp(units: units)
            lastTimestamp = timestamp
        }
        guard interfaceID < interfaces.count else {
            throw malformed(offset, "simple packet block \(frame) before any interface description")
        }
        guard capturedLength <= maximumRecordLength else {
            throw malformed(offset, "packet block \(frame) claims \(capturedLength) captured bytes "
                                + "(limit \(maximumRecordLength))")
        }
        let bytes = UnsafeRawBufferPointer(start: block + dataOffset, count: capturedLength)
        input.consume(length)
        frameNumber = frame
        return CapturedPacket(frameNumber: frame, timestamp: timestamp,
                              linkType: interfaces[interfaceID].linkType,
                              bytes: bytes, originalLength: originalLength)
    }
}
