import PacketCapture

/// Builds a pcapng file in memory (draft-ietf-opsawg-pcapng) for tests: several sections,
/// interfaces with different link types and timestamp resolutions, and every packet block kind.
///
///     var writer = PcapNGWriter()
///     let eth = writer.addInterface(linkType: .ethernet)
///     let raw = writer.addInterface(linkType: .raw, timestampResolution: 9)
///     writer.append(packet: frame, interface: eth, timestamp: ts)
public struct PcapNGWriter {
    /// The file so far. Tests may cut or corrupt it.
    public var bytes: [UInt8] = []
    /// Byte order of the current section.
    public private(set) var bigEndian: Bool
    /// Packet blocks (EPB, SPB, PB) written over all sections.
    public private(set) var packetCount = 0

    private struct Interface {
        var resolution: UInt8?
        var secondsOffset: Int64
    }
    private var interfaces: [Interface] = []

    /// Starts the file with a Section Header Block.
    public init(bigEndian: Bool = false) {
        self.bigEndian = bigEndian
        startSection(bigEndian: bigEndian)
    }

    /// Appends a Section Header Block (§4.1): a new section, possibly in the other byte order,
    /// whose interface numbering starts again at 0.
    public mutating func startSection(bigEndian: Bool? = nil, versionMajor: UInt16 = 1) {
        self.bigEndian = bigEndian ?? self.bigEndian
        interfaces.removeAll()
        let out = CaptureFileBytes(bigEndian: self.bigEndian)
        var body: [UInt8] = []
        out.append(UInt32(0x1A2B_3C4D), to: &body)
        out.append(versionMajor, to: &body)
        out.append(UInt16(0), to: &body)
        out.append(UInt64.max, to: &body)   // section length unknown (-1)
        appendOption(code: 4, value: Array("switchyard tests".utf8), to: &body)   // shb_userappl
        appendOption(code: 0, value: [], to: &body)
        appendBlock(type: 0x0A0D_0D0A, body: body)
    }

    /// Appends an Interface Description Block (§4.2) and returns its interface ID.
    /// - Parameters:
    ///   - timestampResolution: the raw if_tsresol byte (n → 10^-n s; 0x80|n → 2^-n s), or nil
    ///     to omit the option (microseconds).
    ///   - secondsOffset: if_tsoffset, or nil to omit it.
    ///   - name: if_name, written first so readers must skip it to find the others.
    @discardableResult
    public mutating func addInterface(linkType: LinkType, snaplen: UInt32 = 65535,
                                      timestampResolution: UInt8? = nil, secondsOffset: Int64? = nil,
                                      name: String? = nil) -> UInt32 {
        let out = CaptureFileBytes(bigEndian: bigEndian)
        var body: [UInt8] = []
        out.append(UInt16(truncatingIfNeeded: linkType.rawValue), to: &body)
        out.append(UInt16(0), to: &body)
        out.append(snaplen, to: &body)
        var hasOptions = false
        if let name {
            appendOption(code: 2, value: Array(name.utf8), to: &body)
            hasOptions = true
        }
        if let timestampResolution {
            appendOption(code: 9, value: [timestampResolution], to: &body)
            hasOptions = true
        }
        if let secondsOffset {
            var value: [UInt8] = []
            out.append(UInt64(bitPattern: secondsOffset), to: &value)
            appendOption(code: 14, value: value, to: &body)
            hasOptions = true
        }
        if hasOptions { appendOption(code: 0, value: [], to: &body) }
        appendBlock(type: 1, body: body)
        interfaces.append(Interface(resolution: timestampResolution, secondsOffset: secondsOffset ?? 0))
        return UInt32(interfaces.count - 1)
    }

    /// Appends an Enhanced Packet Block (§4.3). The timestamp is converted to the interface's
    /// resolution (truncating) after subtracting its if_tsoffset. `comment` adds an opt_comment.
    public mutating func append(packet: [UInt8], interface: UInt32, timestamp: Timestamp,
                                originalLength: Int? = nil, comment: String? = nil) {
        let out = CaptureFileBytes(bigEndian: bigEndian)
        let units = timestampUnits(timestamp, interface: interface)
        var body: [UInt8] = []
        out.append(interface, to: &body)
        out.append(UInt32(truncatingIfNeeded: units >> 32), to: &body)
        out.append(UInt32(truncatingIfNeeded: units), to: &body)
        out.append(UInt32(packet.count), to: &body)
        out.append(UInt32(originalLength ?? packet.count), to: &body)
        body.append(contentsOf: packet)
        pad(&body)
        if let comment {
            appendOption(code: 1, value: Array(comment.utf8), to: &body)
            appendOption(code: 0, value: [], to: &body)
        }
        appendBlock(type: 6, body: body)
        packetCount += 1
    }

    /// Appends a Simple Packet Block (§4.4): interface 0, no timestamp, captured length implied.
    public mutating func appendSimplePacket(_ packet: [UInt8], originalLength: Int? = nil) {
        let out = CaptureFileBytes(bigEndian: bigEndian)
        var body: [UInt8] = []
        out.append(UInt32(originalLength ?? packet.count), to: &body)
        body.append(contentsOf: packet)
        pad(&body)
        appendBlock(type: 3, body: body)
        packetCount += 1
    }

    /// Appends an obsolete Packet Block (type 2, pcapng draft Appendix A).
    public mutating func appendObsoletePacket(_ packet: [UInt8], interface: UInt16, timestamp: Timestamp,
                                              originalLength: Int? = nil) {
        let out = CaptureFileBytes(bigEndian: bigEndian)
        let units = timestampUnits(timestamp, interface: UInt32(interface))
        var body: [UInt8] = []
        out.append(interface, to: &body)
        out.append(UInt16(0), to: &body)   // drops count
        out.append(UInt32(truncatingIfNeeded: units >> 32), to: &body)
        out.append(UInt32(truncatingIfNeeded: units), to: &body)
        out.append(UInt32(packet.count), to: &body)
        out.append(UInt32(originalLength ?? packet.count), to: &body)
        body.append(contentsOf: packet)
        pad(&body)
        appendBlock(type: 2, body: body)
        packetCount += 1
    }

    /// Appends any block: type, total length, `body` (padded to 4), total length again.
    /// Use for blocks readers must skip (NRB 4, ISB 5, custom 0x40000BAD, unknown types).
    public mutating func appendBlock(type: UInt32, body: [UInt8]) {
        let out = CaptureFileBytes(bigEndian: bigEndian)
        var padded = body
        pad(&padded)
        let length = UInt32(12 + padded.count)
        out.append(type, to: &bytes)
        out.append(length, to: &bytes)
        bytes.append(contentsOf: padded)
        out.append(length, to: &bytes)
    }

    public func write(to path: String) throws {
        try bytes.writeCaptureFile(to: path)
    }

    /// `timestamp` minus the interface's offset, in its units (10^-6 s when unknown).
    private func timestampUnits(_ timestamp: Timestamp, interface: UInt32) -> UInt64 {
        let known = Int(interface) < interfaces.count ? interfaces[Int(interface)] : nil
        let resolution = known?.resolution ?? 6
        let seconds = UInt64(bitPattern: timestamp.seconds &- (known?.secondsOffset ?? 0))
        let nanoseconds = UInt64(timestamp.nanoseconds)
        let exponent = Int(resolution & 0x7F)
        if resolution & 0x80 != 0 {
            let perSecond: UInt64 = 1 << UInt64(exponent)
            let product = nanoseconds.multipliedFullWidth(by: perSecond)
            return seconds &* perSecond &+ UInt64(1_000_000_000).dividingFullWidth(product).quotient
        }
        var perSecond: UInt64 = 1
        for _ in 0..<exponent { perSecond &*= 10 }
        let fraction = exponent >= 9
            ? nanoseconds &* (perSecond / 1_000_000_000)
            : nanoseconds / (1_000_000_000 / perSecond)
        return seconds &* perSecond &+ fraction
    }

    private func appendOption(code: UInt16, value: [UInt8], to body: inout [UInt8]) {
        let out = CaptureFileBytes(bigEndian: bigEndian)
        out.append(code, to: &body)
        out.append(UInt16(value.count), to: &body)
        body.append(contentsOf: value)
        pad(&body)
    }

    private func pad(_ body: inout [UInt8]) {
        while body.count % 4 != 0 { body.append(0) }
    }
}
