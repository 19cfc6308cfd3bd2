import PacketCapture

/// Decodes link → IP → TCP in place: the returned segment's payload points into the
/// packet's own bytes, and nothing is allocated per packet that is not a fragment.
///
/// Every packet lands in exactly one `counters` bucket (a TCP segment or one `SkipReason`),
/// so a run summary can account for all of them.
///
/// The decoder is stateful for IP fragments only: an endpoint reassembles them (RFC 791 §3.2,
/// RFC 8200 §4.5), so a 101 or a request sent in fragments must be read like any other.
/// Fragments are copied into `IPDefragmenter`; the packet that completes a datagram yields
/// its segment, whose payload then points into the defragmenter's buffer (valid until the
/// next `decode`). What the defragmenter finds (overlaps that carry different bytes, limits)
/// comes out as `DecodeNotice`s, drained with `takeNotices()` after each packet.
///
/// Checksums are verified only when asked (`verifiesChecksums`): capture hosts with checksum
/// offload record a partial sum there, so whether a bad checksum means a dropped packet is
/// the caller's policy; the decoder only says what the checksums are (`TCPSegment.checksum`).
public struct PacketDecoder {
    public internal(set) var counters = DecodeCounters()
    /// Whether the IPv4 header and TCP checksums of every TCP segment are computed
    /// (`TCPSegment.checksum`); otherwise every segment says `.notVerified`.
    public let verifiesChecksums: Bool
    private let defragmenter: IPDefragmenter
    private var notices = NoticeQueue()

    /// How many IP headers (the outer one included) one packet may stack through IP-in-IP,
    /// 6in4, 4in6 and the tunnels before it is reported as `encapsulationTooDeep` instead of
    /// being unwrapped further.
    public static let maximumIPNesting = 4
    /// How many layers (link, Ethernet, IP, tunnel headers) one packet may stack in all.
    public static let maximumEncapsulationDepth = 16
    /// How many VLAN tags (802.1Q, 802.1ad, legacy QinQ) one Ethernet frame may stack.
    public static let maximumVLANTags = 8
    /// How many IPv6 extension headers one packet may chain.
    public static let maximumIPv6ExtensionHeaders = 16
    /// How many NFLOG TLVs are examined looking for the payload.
    public static let maximumNFLOGAttributes = 64

    /// Bytes an Ethernet frame of minimum size can carry as padding after IPv4 and TCP
    /// headers of 20 bytes each (60 − 14 − 20 − 20).
    public static let maximumFramePadding = 6

    public init(verifiesChecksums: Bool = false, fragmentLimits: FragmentLimits = FragmentLimits()) {
        self.verifiesChecksums = verifiesChecksums
        defragmenter = IPDefragmenter(limits: fragmentLimits)
    }

    public mutating func decode(_ packet: CapturedPacket) -> DecodeOutcome {
        decode(linkType: packet.linkType, bytes: packet.bytes, originalLength: packet.originalLength,
               frame: packet.frameNumber, timestamp: packet.timestamp)
    }

    /// Decodes and counts one frame given without a `CapturedPacket` (tests, other sources).
    /// `originalLength` is the on-wire length; nil means the frame was captured whole. `frame`
    /// and `timestamp` place notices and time out fragments (capture time).
    public mutating func decode(linkType: LinkType, bytes: UnsafeRawBufferPointer, originalLength: Int? = nil,
                                frame: UInt64 = 0, timestamp: Timestamp = .zero) -> DecodeOutcome {
        var fragment: FragmentPiece?
        var outcome = Self.decodeFrame(linkType: linkType, bytes: bytes,
                                       originalLength: originalLength ?? bytes.count,
                                       verifiesChecksums: verifiesChecksums, fragment: &fragment)
        if let fragment {
            outcome = reassemble(fragment, frame: frame, timestamp: timestamp, depth: 1)
        }
        switch outcome {
        case .tcp(let segment):
            counters.tcpSegments &+= 1
            if segment.framePaddingRemoved { counters.ackPaddingIgnored &+= 1 }
        case .skipped(let reason):
            counters[reason] &+= 1
            if reason == .unsupportedLinkType {
                counters.unsupportedLinkTypes[linkType.rawValue, default: 0] &+= 1
            }
        }
        return outcome
    }

    /// Clears the counters (e.g. between capture files when the caller merges them itself).
    public mutating func resetCounters() {
        counters = DecodeCounters()
    }

    /// Whether notices wait to be taken.
    public var hasNotices: Bool { !notices.notices.isEmpty }

    /// Notices lost because more than `NoticeQueue.capacity` accumulated between two drains.
    public var droppedNotices: UInt64 { notices.dropped }

    /// The notices since the last call, oldest first (call after each packet; allocation only
    /// when there are some).
    public mutating func takeNotices() -> [DecodeNotice] {
        guard hasNotices else { return [] }
        defer { notices.notices.removeAll(keepingCapacity: true) }
        return notices.notices
    }

    /// The end of the input: datagrams still waiting for fragments are counted as
    /// `fragmentDatagramsIncomplete` and forgotten.
    public mutating func finish() {
        defragmenter.finish(counters: &counters)
    }

    /// Hands a fragment to the defragmenter; when it completes a datagram, decodes what the
    /// datagram carries. A fragment inside a reassembled datagram (a fragmented tunnel's
    /// inner packet) goes round again, at most `maximumIPNesting` times.
    private mutating func reassemble(_ piece: FragmentPiece, frame: UInt64, timestamp: Timestamp,
                                     depth: Int) -> DecodeOutcome {
        switch defragmenter.add(piece, frame: frame, timestamp: timestamp, notices: &notices, counters: &counters) {
        case .held:
            return .skipped(.fragmentHeld)
        case .dropped(let reason):
            return .skipped(reason)
        case .completed(let nextHeader, let badIPv4Header):
            let bytes = defragmenter.completedBytes
            var region = Region(start: 0, capturedEnd: bytes.count, wireLength: bytes.count, verify: verifiesChecksums)
            region.badIPv4Header = badIPv4Header
            var inner: FragmentPiece?
            let outcome = Self.decodeDatagram(bytes, nextHeader, piece.key, region, &inner)
            guard let inner else { return outcome }
            guard depth < Self.maximumIPNesting else { return .skipped(.encapsulationTooDeep) }
            return reassemble(inner, frame: frame, timestamp: timestamp, depth: depth + 1)
        }
    }

    /// Decodes a reassembled datagram's payload. Kept out of line so that the common path,
    /// where `decodeLayers` is inlined into `decodeFrame`, stays as it was.
    @inline(never)
    private static func decodeDatagram(_ bytes: UnsafeRawBufferPointer, _ nextHeader: UInt8, _ key: FragmentKey,
                                       _ region: Region, _ inner: inout FragmentPiece?) -> DecodeOutcome {
        let first = key.source.isIPv6 ? ipv6Chain(bytes, nextHeader, key.source, key.destination, region)
                                      : upperLayer(bytes, nextHeader, key.source, key.destination, region)
        return decodeLayers(bytes, first, &inner)
    }

    /// Decodes one frame without counting it; a fragment comes back in `fragment` (the
    /// outcome is then a placeholder).
    ///
    /// The common path (Ethernet → IPv4/IPv6 → TCP) is inlined into this one function: the
    /// per-layer calls each copied the segment-sized result enum on the way out.
    @inline(__always)
    static func decodeFrame(linkType: LinkType, bytes: UnsafeRawBufferPointer, originalLength: Int,
                            verifiesChecksums: Bool, fragment: inout FragmentPiece?) -> DecodeOutcome {
        // A record whose original length is below its captured length is bogus; trust the bytes.
        let frame = Region(start: 0, capturedEnd: bytes.count, wireLength: max(originalLength, bytes.count),
                           verify: verifiesChecksums)
        // One call of the inlined walk below, whatever the link type.
        let first: Next
        switch linkType {
        case .ethernet:
            first = .ethernet(frame)
        case .linuxSLL:
            // Linux cooked v1: 16-byte header, protocol (an ethertype) last.
            guard frame.captured >= 16 else { return .skipped(.truncated) }
            first = .etherType(bytes.u16(14), frame.dropping(16))
        case .linuxSLL2:
            // Linux cooked v2: 20-byte header, protocol first.
            guard frame.captured >= 20 else { return .skipped(.truncated) }
            first = .etherType(bytes.u16(0), frame.dropping(20))
        case .null:
            guard frame.captured >= 4 else { return .skipped(.truncated) }
            // The writer's host byte order: address families are small, so a value with
            // high bits set was written by the other endianness.
            var family = bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian
            if family & 0xffff_0000 != 0 { family = family.byteSwapped }
            first = addressFamily(family, frame.dropping(4))
        case .loop:
            guard frame.captured >= 4 else { return .skipped(.truncated) }
            first = addressFamily(bytes.u32(0), frame.dropping(4))
        case .raw:
            guard frame.captured >= 1 else { return .skipped(.truncated) }
            switch bytes[0] >> 4 {
            case 4: first = .ip(.ipv4, frame)
            case 6: first = .ip(.ipv6, frame)
            default: return .skipped(.malformed)
            }
        case .ipv4:
            first = .ip(.ipv4, frame)
        case .ipv6:
            first = .ip(.ipv6, frame)
        case .nflog:
            first = decodeNFLOG(bytes, frame)
        case .ieee80211:
            first = decode80211(bytes, frame)
        case .ieee80211Radiotap:
            first = decodeRadiotap(bytes, frame)
        default:
            return .skipped(.unsupportedLinkType)
        }
        return decodeLayers(bytes, first, &fragment)
    }

    // MARK: - Layers

    enum IPVersion { case ipv4, ipv6 }

    /// What a layer found under it: the outcome, or the next layer to decode.
    enum Next {
        case done(DecodeOutcome)
        case tcp(IPAddress, IPAddress, Region)
        case ip(IPVersion, Region)
        /// An Ethernet frame (the link layer, or one carried by GRE, VXLAN, Geneve, ERSPAN).
        case ethernet(Region)
        /// The bytes after an ethertype field.
        case etherType(UInt16, Region)
        /// An IP fragment, for the defragmenter.
        case fragment(FragmentPiece)
    }

    /// Decodes layer after layer down to TCP. Tunnels can nest, so the walk is bounded:
    /// `maximumEncapsulationDepth` layers in all and `maximumIPNesting` IP headers.
    @inline(__always)
    private static func decodeLayers(_ bytes: UnsafeRawBufferPointer, _ first: Next,
                                     _ fragment: inout FragmentPiece?) -> DecodeOutcome {
        var next = first
        var ipHeaders = 0
        for _ in 0..<maximumEncapsulationDepth {
            switch next {
            case .done(let outcome):
                return outcome
            case .tcp(let source, let destination, let payload):
                return decodeTCP(bytes, source, destination, payload)
            case .ip(let version, let region):
                ipHeaders += 1
                guard ipHeaders <= maximumIPNesting else { return .skipped(.encapsulationTooDeep) }
                switch version {
                case .ipv4: next = decodeIPv4(bytes, region)
                case .ipv6: next = decodeIPv6(bytes, region)
                }
            case .ethernet(let region):
                // Ethernet II: destination, source, then the ethertype.
                guard region.captured >= 14 else { return truncatedOrMalformed(region, 14) }
                next = etherType(bytes, bytes.u16(region.start + 12), region.dropping(14))
            case .etherType(let type, let region):
                next = etherType(bytes, type, region)
            case .fragment(let piece):
                fragment = piece
                return .skipped(.fragmentHeld)
            }
        }
        return .skipped(.encapsulationTooDeep)
    }

    /// Dispatches on an ethertype, unwrapping VLAN tags (IEEE 802.1Q §9.6: 4 bytes each, the TCI
    /// then the next ethertype).
    @inline(__always)
    static func etherType(_ bytes: UnsafeRawBufferPointer, _ etherType: UInt16, _ region: Region) -> Next {
        var type = etherType
        var region = region
        var tags = 0
        while type == 0x8100 || type == 0x88a8 || type == 0x9100 {
            tags += 1
            guard tags <= maximumVLANTags else { return .done(.skipped(.malformed)) }
            guard region.captured >= 4 else { return .done(.skipped(.truncated)) }
            type = bytes.u16(region.start + 2)
            region = region.dropping(4)
        }
        switch type {
        case 0x0800: return .ip(.ipv4, region)
        case 0x86dd: return .ip(.ipv6, region)
        case 0x8864: return decodePPPoESession(bytes, region)
        default: return .done(.skipped(.nonTCP))
        }
    }

    /// BSD loopback address families: AF_INET is 2 everywhere; AF_INET6 is 10 (Linux),
    /// 24 (OpenBSD, NetBSD), 28 (FreeBSD) or 30 (macOS).
    private static func addressFamily(_ family: UInt32, _ region: Region) -> Next {
        switch family {
        case 2: return .ip(.ipv4, region)
        case 10, 24, 28, 30: return .ip(.ipv6, region)
        default: return .done(.skipped(.nonTCP))
        }
    }

    /// Linux NFLOG (LINKTYPE_NFLOG): a 4-byte header (family, version, resource id) then
    /// netlink-style TLVs in the writer's byte order, each padded to 4 bytes;
    /// NFULA_PAYLOAD (9) holds the IP packet.
    private static func decodeNFLOG(_ bytes: UnsafeRawBufferPointer, _ frame: Region) -> Next {
        guard frame.captured >= 4 else { return .done(.skipped(.truncated)) }
        let family = bytes[0]
        guard bytes[1] == 0 else { return .done(.skipped(.malformed)) }   // only version 0 exists
        var offset = 4
        var attributes = 0
        while offset < frame.capturedEnd {
            attributes += 1
            guard attributes <= maximumNFLOGAttributes else { return .done(.skipped(.malformed)) }
            guard frame.capturedEnd - offset >= 4 else { return .done(.skipped(.truncated)) }
            // Types are small numbers: in little-endian order the first type byte carries
            // them, in big-endian order it holds at most the two flag bits.
            let littleEndian = bytes[offset + 2] & 0x3f != 0
            let rawLength = bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
            let rawType = bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self)
            let length = Int(littleEndian ? UInt16(littleEndian: rawLength) : UInt16(bigEndian: rawLength))
            let type = (littleEndian ? UInt16(littleEndian: rawType) : UInt16(bigEndian: rawType)) & 0x3fff
            guard length >= 4, offset + length <= frame.wireLength else { return .done(.skipped(.malformed)) }
            if type == 9 {
                let payload = frame.inner(start: offset + 4, capturedEnd: min(frame.capturedEnd, offset + length),
                                          wireLength: length - 4)
                switch family {
                case 2: return .ip(.ipv4, payload)
                case 10: return .ip(.ipv6, payload)
                default: return .done(.skipped(.nonTCP))
                }
            }
            offset += (length + 3) & ~3
        }
        // The snaplen may have cut the list before the payload attribute.
        return .done(offset < frame.wireLength ? .skipped(.truncated) : .skipped(.nonTCP))
    }

    // MARK: - IP

    @inline(__always)
    private static func upperLayer(_ bytes: UnsafeRawBufferPointer, _ protocolNumber: UInt8, _ source: IPAddress,
                                   _ destination: IPAddress, _ payload: Region) -> Next {
        switch protocolNumber {
        case 6: return .tcp(source, destination, payload)
        case 4: return .ip(.ipv4, payload)
        case 41: return .ip(.ipv6, payload)
        case 17: return decodeUDP(bytes, payload)
        case 47: return decodeGRE(bytes, payload)
        default: return .done(.skipped(.nonTCP))
        }
    }

    /// IPv4 (RFC 791 §3.1). The payload ends at the total length, which trims Ethernet padding;
    /// a total length beyond the captured bytes but within the wire length was cut by the snaplen.
    @inline(__always)
    private static func decodeIPv4(_ bytes: UnsafeRawBufferPointer, _ region: Region) -> Next {
        guard region.captured >= 20 else { return .done(.skipped(.truncated)) }
        let start = region.start
        let versionAndIHL = bytes[start]
        guard versionAndIHL >> 4 == 4 else { return .done(.skipped(.malformed)) }
        let headerLength = Int(versionAndIHL & 0x0f) * 4
        guard headerLength >= 20 else { return .done(.skipped(.malformed)) }
        var totalLength = Int(bytes.u16(start + 2))
        // A zero total length is what TCP segmentation offload leaves in captures taken on
        // the sending host; the frame's length is the only length there is.
        var lengthFromFrame = false
        if totalLength == 0 {
            totalLength = region.wireLength
            lengthFromFrame = true
        }
        guard totalLength >= headerLength, totalLength <= region.wireLength else {
            return .done(.skipped(.malformed))
        }
        guard region.captured >= headerLength else { return .done(.skipped(.truncated)) }
        let source = IPAddress(bytes: bytes, offset: start + 12, isIPv6: false)
        let destination = IPAddress(bytes: bytes, offset: start + 16, isIPv6: false)
        var payload = region.inner(start: start + headerLength,
                                   capturedEnd: min(region.capturedEnd, start + totalLength),
                                   wireLength: totalLength - headerLength)
        if region.verify {
            // RFC 791 §3.1: the header's 16-bit words, checksum field included, sum to 0xffff.
            var sum = InternetChecksum()
            sum.add(UnsafeRawBufferPointer(rebasing: bytes[start..<start + headerLength]))
            if sum.folded != 0xffff { payload.badIPv4Header = true }
        }
        payload.lengthFromFrame = lengthFromFrame
        payload.ttl = bytes[start + 8]
        // MF set or a non-zero offset: a fragment (RFC 791 §3.2), reassembled by the caller.
        let fragment = bytes.u16(start + 6)
        if fragment & 0x3fff != 0 { return ipv4Fragment(bytes, start, fragment, source, destination, payload) }
        return upperLayer(bytes, bytes[start + 9], source, destination, payload)
    }

    /// An IPv4 fragment for the defragmenter (out of line: the common path has none).
    @inline(never)
    private static func ipv4Fragment(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ fragment: UInt16,
                                     _ source: IPAddress, _ destination: IPAddress, _ payload: Region) -> Next {
        guard payload.captured == payload.wireLength else { return .done(.skipped(.truncated)) }
        let key = FragmentKey(source: source, destination: destination,
                              identification: UInt32(bytes.u16(start + 4)), protocolNumber: bytes[start + 9])
        return .fragment(FragmentPiece(
            key: key, offset: Int(fragment & 0x1fff) * 8, moreFragments: fragment & 0x2000 != 0,
            payload: UnsafeRawBufferPointer(rebasing: bytes[payload.start..<payload.capturedEnd]),
            nextHeader: bytes[start + 9], badIPv4Header: payload.badIPv4Header))
    }

    /// IPv6 (RFC 8200 §3); the extension headers follow in `ipv6Chain`.
    private static func decodeIPv6(_ bytes: UnsafeRawBufferPointer, _ region: Region) -> Next {
        guard region.captured >= 40 else { return .done(.skipped(.truncated)) }
        let start = region.start
        guard bytes[start] >> 4 == 6 else { return .done(.skipped(.malformed)) }
        var payloadLength = Int(bytes.u16(start + 4))
        let nextHeader = bytes[start + 6]
        // Zero with something to carry: a jumbogram (RFC 2675) or a segmentation-offload
        // capture; either way the frame's length is the only length there is.
        var lengthFromFrame = false
        if payloadLength == 0 && nextHeader != 59 {
            payloadLength = region.wireLength - 40
            lengthFromFrame = true
        }
        guard 40 + payloadLength <= region.wireLength else { return .done(.skipped(.malformed)) }
        let source = IPAddress(bytes: bytes, offset: start + 8, isIPv6: true)
        let destination = IPAddress(bytes: bytes, offset: start + 24, isIPv6: true)
        var payload = region.inner(start: start + 40, capturedEnd: min(region.capturedEnd, start + 40 + payloadLength),
                                   wireLength: payloadLength)
        payload.lengthFromFrame = lengthFromFrame
        payload.ttl = bytes[start + 7]
        return ipv6Chain(bytes, nextHeader, source, destination, payload)
    }

    /// The IPv6 extension header chain (RFC 8200 §4) from `nextHeader` at the start of `region`
    /// (an IPv6 packet's payload, or a reassembled datagram's fragmentable part).
    private static func ipv6Chain(_ bytes: UnsafeRawBufferPointer, _ nextHeader: UInt8, _ source: IPAddress,
                                  _ destination: IPAddress, _ region: Region) -> Next {
        var nextHeader = nextHeader
        let end = region.start + region.wireLength
        let capturedEnd = region.capturedEnd
        var offset = region.start
        var routed = false
        for _ in 0...maximumIPv6ExtensionHeaders {
            let headerLength: Int
            switch nextHeader {
            case 0, 43, 60:
                // Hop-by-hop, routing, destination options: length in 8-byte units, not counting the first 8.
                guard capturedEnd - offset >= 2 else { return .done(truncatedOrMalformed(offset + 2, end)) }
                headerLength = (Int(bytes[offset + 1]) + 1) * 8
                // A routing header with segments left: the TCP pseudo-header holds the final
                // destination (RFC 8200 §8.1), which depends on the routing type.
                if nextHeader == 43 && capturedEnd - offset >= 4 && bytes[offset + 3] != 0 { routed = true }
            case 44:
                // Fragment (§4.5). An atomic fragment (offset 0, M = 0) is processed as a whole
                // packet (RFC 6946 §4); anything else goes to the defragmenter.
                guard capturedEnd - offset >= 8 else { return .done(truncatedOrMalformed(offset + 8, end)) }
                let field = bytes.u16(offset + 2)
                if field & 0xfff9 != 0 {
                    guard capturedEnd == end else { return .done(.skipped(.truncated)) }
                    let key = FragmentKey(source: source, destination: destination,
                                          identification: bytes.u32(offset + 4), protocolNumber: 0)
                    return .fragment(FragmentPiece(
                        key: key, offset: Int(field & 0xfff8), moreFragments: field & 1 != 0,
                        payload: UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<end]),
                        nextHeader: bytes[offset], badIPv4Header: region.badIPv4Header))
                }
                headerLength = 8
            case 51:
                // Authentication header (RFC 4302 §2.2): length in 4-byte units, minus 2.
                guard capturedEnd - offset >= 2 else { return .done(truncatedOrMalformed(offset + 2, end)) }
                headerLength = (Int(bytes[offset + 1]) + 2) * 4
            default:
                var payload = region.inner(start: offset, capturedEnd: capturedEnd, wireLength: end - offset)
                payload.unknownPseudoDestination = routed
                return upperLayer(bytes, nextHeader, source, destination, payload)
            }
            guard offset + headerLength <= end else { return .done(.skipped(.malformed)) }
            nextHeader = bytes[offset]
            offset += headerLength
        }
        return .done(.skipped(.malformed))
    }

    /// A header needing bytes up to `needed` that the capture lacks: truncated if the packet
    /// (ending at `end`) was long enough on the wire, malformed if it never had them.
    static func truncatedOrMalformed(_ needed: Int, _ end: Int) -> DecodeOutcome {
        needed <= end ? .skipped(.truncated) : .skipped(.malformed)
    }

    /// A header of `length` bytes at the start of `region`, which the capture lacks.
    static func truncatedOrMalformed(_ region: Region, _ length: Int) -> DecodeOutcome {
        region.wireLength >= length ? .skipped(.truncated) : .skipped(.malformed)
    }

    // MARK: - TCP

    /// TCP (RFC 9293 §3.1). The segment length comes from IP; what the capture lacks of the
    /// payload is reported as `missingPayloadLength`.
    @inline(__always)
    private static func decodeTCP(_ bytes: UnsafeRawBufferPointer, _ sourceAddress: IPAddress,
                                  _ destinationAddress: IPAddress, _ region: Region) -> DecodeOutcome {
        guard region.wireLength >= 20 else { return .skipped(.malformed) }
        guard region.captured >= 20 else { return .skipped(.truncated) }
        let start = region.start
        let headerLength = Int(bytes[start + 12] >> 4) * 4
        guard headerLength >= 20, headerLength <= region.wireLength else { return .skipped(.malformed) }
        guard region.captured >= headerLength else { return .skipped(.truncated) }
        let payloadStart = start + headerLength
        var payload = UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<region.capturedEnd])
        var paddingRemoved = false
        if region.lengthFromFrame && payload.count > 0 && payload.count <= maximumFramePadding
            && bytes[start + 13] == TCPFlags.ack.rawValue && bytes.count <= 64
            && !payload.contains(where: { $0 != 0 }) {
            // A zero IP length (segmentation offload) made the frame's length the packet's, so
            // the zero bytes after a bare ACK in a minimum-size frame are Ethernet padding
            // (IEEE 802.3 §3.2.8: frames are padded to 64 bytes with FCS), not stream data: the
            // sender's next data starts where they do. Where IP gives a length, it is trusted.
            payload = UnsafeRawBufferPointer(rebasing: bytes[payloadStart..<payloadStart])
            paddingRemoved = true
        }
        var segment = TCPSegment(
            source: Endpoint(address: sourceAddress, port: bytes.u16(start)),
            destination: Endpoint(address: destinationAddress, port: bytes.u16(start + 2)),
            sequenceNumber: bytes.u32(start + 4),
            acknowledgmentNumber: bytes.u32(start + 8),
            flags: TCPFlags(rawValue: bytes[start + 13]),
            window: bytes.u16(start + 14),
            payload: payload,
            missingPayloadLength: paddingRemoved ? 0 : region.wireLength - headerLength - payload.count,
            urgentPointer: bytes.u16(start + 18),
            checksum: region.verify ? checksumStatus(bytes, sourceAddress, destinationAddress, region) : .notVerified)
        segment.framePaddingRemoved = paddingRemoved
        segment.ttl = region.ttl
        return .tcp(segment)
    }

    /// The checksum verdict of a TCP segment (RFC 9293 §3.1) whose IP layers were checked on
    /// the way (`region.badIPv4Header`).
    private static func checksumStatus(_ bytes: UnsafeRawBufferPointer, _ source: IPAddress,
                                       _ destination: IPAddress, _ region: Region) -> ChecksumStatus {
        if region.badIPv4Header { return .badIPv4Header }
        if region.captured < region.wireLength || region.unknownPseudoDestination { return .unverifiable }
        let pseudo = pseudoHeaderSum(source, destination, length: region.wireLength)
        var sum = pseudo
        sum.add(UnsafeRawBufferPointer(rebasing: bytes[region.start..<region.capturedEnd]))
        if sum.folded == 0xffff { return .valid }
        // Linux CHECKSUM_PARTIAL: the stack stores the folded pseudo-header sum, uncomplemented,
        // and the NIC completes it after the capture point (include/linux/skbuff.h).
        if bytes.u16(region.start + 16) == pseudo.folded { return .offloadPartial }
        // A segmentation-offload super-packet (IP length 0): the stack's partial sum was over
        // a length we cannot know, so a mismatch proves nothing.
        return region.lengthFromFrame ? .unverifiable : .badTCP
    }

    /// The TCP pseudo-header (RFC 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6): addresses,
    /// protocol 6 and the TCP length.
    @inline(__always)
    private static func pseudoHeaderSum(_ source: IPAddress, _ destination: IPAddress, length: Int) -> InternetChecksum {
        var sum = InternetChecksum()
        if source.isIPv6 {
            sum.add(bigEndian64: source.high)
            sum.add(bigEndian64: source.low)
            sum.add(bigEndian64: destination.high)
            sum.add(bigEndian64: destination.low)
            sum.add(word: UInt16(truncatingIfNeeded: length >> 16))
        } else {
            sum.add(bigEndian64: source.low << 32 | destination.low)
        }
        sum.add(word: UInt16(truncatingIfNeeded: length))
        sum.add(word: 6)
        return sum
    }
}

/// A layer's bytes: they begin at `start`, the capture kept them up to `capturedEnd`
/// (exclusive), and on the wire the layer was `wireLength` long (>= what was captured).
///
/// It also carries what the layers above learnt for the checksum verdict, so that the common
/// path passes one value down instead of several.
struct Region {
    var start: Int
    var capturedEnd: Int
    var wireLength: Int
    /// Checksums are to be verified.
    var verify = false
    /// An IPv4 header on the way here had a wrong checksum.
    var badIPv4Header = false
    /// The IP length field was zero (segmentation offload, jumbogram): the length came from the frame.
    var lengthFromFrame = false
    /// The IPv4 TTL or IPv6 hop limit of the innermost IP header so far.
    var ttl: UInt8 = 0
    /// An IPv6 routing header still had segments left, so the pseudo-header's destination is unknown.
    var unknownPseudoDestination = false

    init(start: Int, capturedEnd: Int, wireLength: Int, verify: Bool = false) {
        self.start = start
        self.capturedEnd = capturedEnd
        self.wireLength = wireLength
        self.verify = verify
    }

    /// Captured bytes available from `start`.
    var captured: Int { capturedEnd - start }

    /// The same region after a header of `count` bytes (the caller checked `captured >= count`).
    func dropping(_ count: Int) -> Region {
        inner(start: start + count, capturedEnd: capturedEnd, wireLength: max(wireLength - count, capturedEnd - start - count))
    }

    /// A region inside this one, keeping what was learnt on the way.
    func inner(start: Int, capturedEnd: Int, wireLength: Int) -> Region {
        var region = self
        region.start = start
        region.capturedEnd = capturedEnd
        region.wireLength = wireLength
        return region
    }
}

extension UnsafeRawBufferPointer {
    /// Big-endian 16-bit value at `offset` (the caller checks bounds).
    @inline(__always)
    func u16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    /// Big-endian 32-bit value at `offset` (the caller checks bounds).
    @inline(__always)
    func u32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
