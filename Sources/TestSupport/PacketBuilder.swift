/// Builds packet bytes for tests: IPv4/IPv6 + TCP packets, IP options, IPv6 extension
/// headers, fragments, tunnels, and the link-layer wrappers the decoder supports.
///
/// Addresses are written as text: `"10.0.0.1:1234"`, `"[2001:db8::1]:80"`, or bare
/// addresses where no port is involved. A malformed literal is a bug in the test and stops it.
/// Checksums (IPv4 header, TCP) are filled in correctly so tools like tshark accept the output.
public enum PacketBuilder {
    /// TCP flag bits (RFC 9293 §3.1) as the decoder's `TCPFlags` raw values; TestSupport
    /// cannot import PacketDecoding, so tests pass `flags: UInt8`.
    public enum TCPFlagBits {
        public static let fin: UInt8 = 0x01
        public static let syn: UInt8 = 0x02
        public static let rst: UInt8 = 0x04
        public static let psh: UInt8 = 0x08
        public static let ack: UInt8 = 0x10
        public static let urg: UInt8 = 0x20
        public static let ece: UInt8 = 0x40
        public static let cwr: UInt8 = 0x80
    }

    /// IP protocol / IPv6 next-header numbers used by the builders.
    public enum IPProtocol {
        public static let hopByHop: UInt8 = 0
        public static let ipv4: UInt8 = 4
        public static let tcp: UInt8 = 6
        public static let udp: UInt8 = 17
        public static let ipv6: UInt8 = 41
        public static let routing: UInt8 = 43
        public static let fragment: UInt8 = 44
        public static let authentication: UInt8 = 51
        public static let noNextHeader: UInt8 = 59
        public static let destinationOptions: UInt8 = 60
    }

    /// One IPv6 extension header (RFC 8200 §4); the builder chains the next-header fields.
    public enum IPv6ExtensionHeader {
        /// Hop-by-hop options padded with PadN to `length` bytes (a multiple of 8, at least 8).
        case hopByHop(length: Int = 8)
        /// Destination options padded with PadN to `length` bytes (a multiple of 8, at least 8).
        case destinationOptions(length: Int = 8)
        /// Routing header (type 0 layout) with `segmentsLeft` and room for `addresses` addresses.
        case routing(segmentsLeft: UInt8 = 0, addresses: Int = 1)
        /// Fragment header; offset in 8-byte units.
        case fragment(offset: UInt16 = 0, moreFragments: Bool = false, identification: UInt32 = 1)
        /// Authentication header with `icvLength` bytes of integrity check value (a multiple of 4).
        case authentication(icvLength: Int = 12)

        var protocolNumber: UInt8 {
            switch self {
            case .hopByHop: return IPProtocol.hopByHop
            case .destinationOptions: return IPProtocol.destinationOptions
            case .routing: return IPProtocol.routing
            case .fragment: return IPProtocol.fragment
            case .authentication: return IPProtocol.authentication
            }
        }

        func bytes(nextHeader: UInt8) -> [UInt8] {
            switch self {
            case .hopByHop(let length), .destinationOptions(let length):
                precondition(length >= 8 && length % 8 == 0, "options header length must be a multiple of 8")
                // PadN option covering the rest of the header (RFC 8200 §4.2).
                return [nextHeader, UInt8(length / 8 - 1), 1, UInt8(length - 4)]
                    + [UInt8](repeating: 0, count: length - 4)
            case .routing(let segmentsLeft, let addresses):
                return [nextHeader, UInt8(2 * addresses), 0, segmentsLeft, 0, 0, 0, 0]
                    + [UInt8](repeating: 0, count: 16 * addresses)
            case .fragment(let offset, let moreFragments, let identification):
                let field = offset << 3 | (moreFragments ? 1 : 0)
                return [nextHeader, 0] + bigEndian(field) + bigEndian(identification)
            case .authentication(let icvLength):
                precondition(icvLength % 4 == 0, "AH ICV length must be a multiple of 4")
                let total = 12 + icvLength
                return [nextHeader, UInt8(total / 4 - 2), 0, 0] + bigEndian(UInt32(0x100)) + bigEndian(UInt32(1))
                    + [UInt8](repeating: 0xab, count: icvLength)
            }
        }
    }

    // MARK: - TCP packets

    /// An IP + TCP packet: IPv4, or IPv6 when the addresses are IPv6 (`"[::1]:80"`).
    public static func tcp(src: String, dst: String, seq: UInt32 = 0, ack: UInt32 = 0,
                           flags: UInt8 = TCPFlagBits.ack, payload: [UInt8] = [], window: UInt16 = 65535,
                           tcpOptions: [UInt8] = [], ipOptions: [UInt8] = [],
                           extensionHeaders: [IPv6ExtensionHeader] = [], ttl: UInt8 = 64) -> [UInt8] {
        let source = parseEndpoint(src), destination = parseEndpoint(dst)
        precondition(source.address.count == destination.address.count, "mixed IPv4/IPv6 endpoints")
        let segment = tcpSegment(srcPort: source.port, dstPort: destination.port, seq: seq, ack: ack,
                                 flags: flags, window: window, options: tcpOptions, payload: payload,
                                 pseudoSource: source.address, pseudoDestination: destination.address)
        if source.address.count == 4 {
            return ipv4(src: source.address, dst: destination.address, protocol: IPProtocol.tcp,
                        payload: segment, options: ipOptions, ttl: ttl)
        }
        return ipv6(src: source.address, dst: destination.address, nextHeader: IPProtocol.tcp,
                     payload: segment, extensionHeaders: extensionHeaders, hopLimit: ttl)
    }

    /// A TCP header (plus options padded to 4 bytes) followed by `payload`. With pseudo-header
    /// addresses the checksum is computed (RFC 9293 §3.1), otherwise left zero.
    public static func tcpSegment(srcPort: UInt16, dstPort: UInt16, seq: UInt32 = 0, ack: UInt32 = 0,
                                  flags: UInt8 = TCPFlagBits.ack, window: UInt16 = 65535,
                                  options: [UInt8] = [], payload: [UInt8] = [],
                                  dataOffsetOverride: UInt8? = nil,
                                  pseudoSource: [UInt8]? = nil, pseudoDestination: [UInt8]? = nil) -> [UInt8] {
        var paddedOptions = options
        while paddedOptions.count % 4 != 0 { paddedOptions.append(0) }   // EOL padding
        let dataOffset = dataOffsetOverride ?? UInt8((20 + paddedOptions.count) / 4)
        var header = bigEndian(srcPort) + bigEndian(dstPort) + bigEndian(seq) + bigEndian(ack)
        header += [dataOffset << 4, flags] + bigEndian(window) + [0, 0, 0, 0]
        var segment = header + paddedOptions + payload
        if let source = pseudoSource, let destination = pseudoDestination {
            var pseudo = source + destination
            if source.count == 4 {
                pseudo += [0, IPProtocol.tcp] + bigEndian(UInt16(truncatingIfNeeded: segment.count))
            } else {
                pseudo += bigEndian(UInt32(truncatingIfNeeded: segment.count)) + [0, 0, 0, IPProtocol.tcp]
            }
            let sum = internetChecksum(pseudo + segment)
            segment[16] = UInt8(sum >> 8)
            segment[17] = UInt8(sum & 0xff)
        }
        return segment
    }

    // MARK: - IP

    /// An IPv4 header (RFC 791 §3.1) with `options` (padded to 4 bytes) before `payload`.
    /// Overrides let tests write impossible headers.
    public static func ipv4(src: [UInt8], dst: [UInt8], protocol protocolNumber: UInt8, payload: [UInt8],
                            options: [UInt8] = [], identification: UInt16 = 0x1234, dontFragment: Bool = true,
                            moreFragments: Bool = false, fragmentOffset: UInt16 = 0, ttl: UInt8 = 64,
                            totalLengthOverride: UInt16? = nil, ihlOverride: UInt8? = nil,
                            versionOverride: UInt8? = nil) -> [UInt8] {
        precondition(src.count == 4 && dst.count == 4, "IPv4 addresses are 4 bytes")
        var paddedOptions = options
        while paddedOptions.count % 4 != 0 { paddedOptions.append(0) }   // End of Option List
        let headerLength = 20 + paddedOptions.count
        let ihl = ihlOverride ?? UInt8(headerLength / 4)
        let totalLength = totalLengthOverride ?? UInt16(truncatingIfNeeded: headerLength + payload.count)
        let fragmentField = (dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | (fragmentOffset & 0x1fff)
        var header: [UInt8] = [(versionOverride ?? 4) << 4 | (ihl & 0x0f), 0]
        header += bigEndian(totalLength) + bigEndian(identification) + bigEndian(fragmentField)
        header += [ttl, protocolNumber, 0, 0] + src + dst + paddedOptions
        let sum = internetChecksum(header)
        header[10] = UInt8(sum >> 8)
        header[11] = UInt8(sum & 0xff)
        return header + payload
    }

    public static func ipv4(src: String, dst: String, protocol protocolNumber: UInt8, payload: [UInt8],
                            options: [UInt8] = [], moreFragments: Bool = false, fragmentOffset: UInt16 = 0) -> [UInt8] {
        ipv4(src: parseAddress(src), dst: parseAddress(dst), protocol: protocolNumber, payload: payload,
             options: options, dontFragment: !moreFragments && fragmentOffset == 0,
             moreFragments: moreFragments, fragmentOffset: fragmentOffset)
    }

    /// An IPv6 header (RFC 8200 §3), then `extensionHeaders` in order, then `payload`
    /// whose protocol is `nextHeader`.
    public static func ipv6(src: [UInt8], dst: [UInt8], nextHeader: UInt8, payload: [UInt8],
                            extensionHeaders: [IPv6ExtensionHeader] = [], hopLimit: UInt8 = 64,
                            payloadLengthOverride: UInt16? = nil) -> [UInt8] {
        precondition(src.count == 16 && dst.count == 16, "IPv6 addresses are 16 bytes")
        var chain = [UInt8]()
        for (index, header) in extensionHeaders.enumerated() {
            let next = index + 1 < extensionHeaders.count ? extensionHeaders[index + 1].protocolNumber : nextHeader
            chain += header.bytes(nextHeader: next)
        }
        let first = extensionHeaders.first?.protocolNumber ?? nextHeader
        let payloadLength = payloadLengthOverride ?? UInt16(truncatingIfNeeded: chain.count + payload.count)
        var header: [UInt8] = [0x60, 0, 0, 0]
        header += bigEndian(payloadLength) + [first, hopLimit] + src + dst
        return header + chain + payload
    }

    public static func ipv6(src: String, dst: String, nextHeader: UInt8, payload: [UInt8],
                            extensionHeaders: [IPv6ExtensionHeader] = []) -> [UInt8] {
        ipv6(src: parseAddress(src), dst: parseAddress(dst), nextHeader: nextHeader, payload: payload,
             extensionHeaders: extensionHeaders)
    }

    /// Wraps an IP packet in another IP header: IPv4 outer when the outer addresses are IPv4,
    /// IPv6 otherwise; protocol 4 (IP-in-IP, RFC 2003) or 41 (6in4, RFC 4213) after the inner version.
    public static func tunnel(_ inner: [UInt8], outerSrc: String, outerDst: String) -> [UInt8] {
        let protocolNumber = inner.first.map { $0 >> 4 == 6 } == true ? IPProtocol.ipv6 : IPProtocol.ipv4
        let source = parseAddress(outerSrc), destination = parseAddress(outerDst)
        if source.count == 4 {
            return ipv4(src: source, dst: destination, protocol: protocolNumber, payload: inner)
        }
        return ipv6(src: source, dst: destination, nextHeader: protocolNumber, payload: inner)
    }

    // MARK: - Link layers

    /// Ethernet II (no FCS) around an IP packet, with 802.1Q tags outermost first. `qinq`
    /// makes the outer tag 802.1ad (0x88a8); `tagTypes` sets each tag's TPID explicitly.
    /// Frames shorter than 60 bytes are zero-padded as on the wire unless `pad` is false.
    public static func ethernet(_ ip: [UInt8], vlanTags: [UInt16] = [], qinq: Bool = false,
                                tagTypes: [UInt16]? = nil, etherType: UInt16? = nil, pad: Bool = true) -> [UInt8] {
        var frame: [UInt8] = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]   // dst, src MAC
        for (index, tag) in vlanTags.enumerated() {
            let tpid = tagTypes.map { $0[index] } ?? (qinq && index == 0 && vlanTags.count > 1 ? 0x88a8 : 0x8100)
            frame += bigEndian(tpid) + bigEndian(tag & 0x0fff)
        }
        frame += bigEndian(etherType ?? etherTypeFor(ip)) + ip
        if pad && frame.count < 60 { frame += [UInt8](repeating: 0, count: 60 - frame.count) }
        return frame
    }

    /// Linux cooked capture v1 (LINKTYPE_LINUX_SLL): 16-byte header, protocol last.
    public static func linuxSLL(_ ip: [UInt8], packetType: UInt16 = 0, protocolType: UInt16? = nil) -> [UInt8] {
        bigEndian(packetType) + bigEndian(UInt16(1)) + bigEndian(UInt16(6))
            + [0x02, 0, 0, 0, 0, 0x01, 0, 0] + bigEndian(protocolType ?? etherTypeFor(ip)) + ip
    }

    /// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2): 20-byte header, protocol first.
    public static func linuxSLL2(_ ip: [UInt8], interfaceIndex: UInt32 = 2, protocolType: UInt16? = nil) -> [UInt8] {
        bigEndian(protocolType ?? etherTypeFor(ip)) + [0, 0] + bigEndian(interfaceIndex)
            + bigEndian(UInt16(1)) + [0, 6] + [0x02, 0, 0, 0, 0, 0x01, 0, 0] + ip
    }

    /// BSD loopback (LINKTYPE_NULL): address family in the writer's byte order. The default
    /// family is 2 for IPv4 and 30 (macOS AF_INET6) for IPv6.
    public static func null(_ ip: [UInt8], family: UInt32? = nil, bigEndian useBigEndian: Bool = false) -> [UInt8] {
        let value = family ?? defaultFamily(ip)
        return (useBigEndian ? bigEndian(value) : littleEndian(value)) + ip
    }

    /// OpenBSD loopback (LINKTYPE_LOOP): address family in network byte order; default 2 or 24.
    public static func loop(_ ip: [UInt8], family: UInt32? = nil) -> [UInt8] {
        bigEndian(family ?? (isIPv6(ip) ? 24 : 2)) + ip
    }

    /// Raw IP (LINKTYPE_RAW, IPV4, IPV6): the packet itself.
    public static func raw(_ ip: [UInt8]) -> [UInt8] { ip }

    /// Linux NFLOG (LINKTYPE_NFLOG): header, an NFULA_PACKET_HDR TLV, a prefix TLV, then
    /// NFULA_PAYLOAD (9) holding the packet; TLVs in the writer's byte order, padded to 4.
    public static func nflog(_ ip: [UInt8], family: UInt8? = nil, bigEndian useBigEndian: Bool = false) -> [UInt8] {
        func tlv(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
            let length = UInt16(truncatingIfNeeded: 4 + value.count)
            var bytes = useBigEndian ? bigEndian(length) + bigEndian(type) : littleEndian(length) + littleEndian(type)
            bytes += value
            while bytes.count % 4 != 0 { bytes.append(0) }
            return bytes
        }
        var frame: [UInt8] = [family ?? (isIPv6(ip) ? 10 : 2), 0, 0, 0]
        frame += tlv(1, bigEndian(etherTypeFor(ip)) + [3, 0])   // NFULA_PACKET_HDR: hw_protocol, hook
        frame += tlv(10, Array("test\0".utf8))                 // NFULA_PREFIX
        frame += tlv(9, ip)                                     // NFULA_PAYLOAD
        return frame
    }

    // MARK: - Fragments

    /// One IPv4 fragment (RFC 791 §3.2) of `packet`'s payload: bytes `range` of what follows
    /// the header, with the offset and More Fragments set; `replacing` overwrites its bytes.
    public static func ipv4Fragment(of packet: [UInt8], _ range: Range<Int>, more: Bool? = nil,
                                    replacing: [UInt8]? = nil, identification: UInt16? = nil) -> [UInt8] {
        let ihl = Int(packet[0] & 0x0f) * 4
        let data = Array(packet[ihl...])
        precondition(range.lowerBound % 8 == 0, "fragment offsets are multiples of 8")
        var header = Array(packet[..<ihl])
        let chunk = replacing ?? Array(data[range])
        let moreFragments = more ?? (range.upperBound < data.count)
        header.replaceSubrange(2..<4, with: bigEndian(UInt16(ihl + chunk.count)))
        if let identification { header.replaceSubrange(4..<6, with: bigEndian(identification)) }
        header.replaceSubrange(6..<8, with: bigEndian(UInt16((moreFragments ? 0x2000 : 0) | range.lowerBound / 8)))
        header[10] = 0
        header[11] = 0
        let sum = internetChecksum(header)
        header[10] = UInt8(sum >> 8)
        header[11] = UInt8(sum & 0xff)
        return header + chunk
    }

    /// `packet` (IPv4) cut into fragments of `size` bytes of payload (a multiple of 8).
    public static func ipv4Fragments(of packet: [UInt8], size: Int) -> [[UInt8]] {
        let payload = packet.count - Int(packet[0] & 0x0f) * 4
        return stride(from: 0, to: payload, by: size).map { ipv4Fragment(of: packet, $0..<min($0 + size, payload)) }
    }

    /// One IPv6 fragment (RFC 8200 §4.5) of an IPv6 packet without extension headers: bytes
    /// `range` of its payload after a fragment header naming the original next header.
    public static func ipv6Fragment(of packet: [UInt8], _ range: Range<Int>, identification: UInt32 = 7,
                                    more: Bool? = nil, replacing: [UInt8]? = nil) -> [UInt8] {
        precondition(range.lowerBound % 8 == 0, "fragment offsets are multiples of 8")
        let data = Array(packet[40...])
        let chunk = replacing ?? Array(data[range])
        let fragment = IPv6ExtensionHeader.fragment(offset: UInt16(range.lowerBound / 8),
                                                    moreFragments: more ?? (range.upperBound < data.count),
                                                    identification: identification)
        return ipv6(src: Array(packet[8..<24]), dst: Array(packet[24..<40]), nextHeader: packet[6], payload: chunk,
                    extensionHeaders: [fragment])
    }

    // MARK: - Tunnels

    /// A UDP header (RFC 768, checksum 0 as tunnels usually send it) before `payload`.
    public static func udp(srcPort: UInt16, dstPort: UInt16, _ payload: [UInt8]) -> [UInt8] {
        bigEndian(srcPort) + bigEndian(dstPort) + bigEndian(UInt16(truncatingIfNeeded: 8 + payload.count)) + [0, 0] + payload
    }

    /// An outer IPv4 or IPv6 packet (by the address text) carrying UDP to `dstPort`.
    public static func udpPacket(src: String, dst: String, srcPort: UInt16 = 49152, dstPort: UInt16,
                                 _ payload: [UInt8]) -> [UInt8] {
        let datagram = udp(srcPort: srcPort, dstPort: dstPort, payload)
        let source = parseAddress(src), destination = parseAddress(dst)
        if source.count == 4 {
            return ipv4(src: source, dst: destination, protocol: IPProtocol.udp, payload: datagram)
        }
        return ipv6(src: source, dst: destination, nextHeader: IPProtocol.udp, payload: datagram)
    }

    /// A VXLAN header (RFC 7348 §5) with the I flag and `vni`, before an Ethernet frame.
    public static func vxlan(_ frame: [UInt8], vni: UInt32 = 42, flags: UInt8 = 0x08) -> [UInt8] {
        [flags, 0, 0, 0] + Array(bigEndian(vni << 8)) + frame
    }

    /// A Geneve header (RFC 8926 §3.4) with `optionWords` 4-byte words of options.
    public static func geneve(_ inner: [UInt8], protocolType: UInt16 = 0x6558, vni: UInt32 = 42,
                              optionWords: Int = 0, version: UInt8 = 0) -> [UInt8] {
        var header: [UInt8] = [version << 6 | UInt8(optionWords & 0x3f), 0] + bigEndian(protocolType) + bigEndian(vni << 8)
        for word in 0..<optionWords {
            // One option class/type/length per first word, then data words: content is opaque here.
            header += word == 0 ? [0x01, 0x02, 0x80, UInt8(optionWords - 1)] : [0xde, 0xad, 0xbe, 0xef]
        }
        return header + inner
    }

    /// A GRE header (RFC 2784, RFC 2890) with the optional checksum, key and sequence number.
    public static func gre(_ payload: [UInt8], protocolType: UInt16, checksum: Bool = false, key: UInt32? = nil,
                           sequence: UInt32? = nil, version: UInt16 = 0, routing: Bool = false) -> [UInt8] {
        var flags: UInt16 = version & 7
        if checksum { flags |= 0x8000 }
        if routing { flags |= 0x4000 }
        if key != nil { flags |= 0x2000 }
        if sequence != nil { flags |= 0x1000 }
        var header = bigEndian(flags) + bigEndian(protocolType)
        if checksum || routing { header += [0, 0, 0, 0] }
        if let key { header += bigEndian(key) }
        if let sequence { header += bigEndian(sequence) }
        if checksum {
            let sum = internetChecksum(header + payload)
            header[4] = UInt8(sum >> 8)
            header[5] = UInt8(sum & 0xff)
        }
        return header + payload
    }

    /// An outer IP packet (by the address text) carrying GRE (protocol 47).
    public static func grePacket(src: String, dst: String, _ gre: [UInt8]) -> [UInt8] {
        let source = parseAddress(src), destination = parseAddress(dst)
        if source.count == 4 { return ipv4(src: source, dst: destination, protocol: 47, payload: gre) }
        return ipv6(src: source, dst: destination, nextHeader: 47, payload: gre)
    }

    /// An ERSPAN type II header (version 1; draft-foschiano-erspan §4.1) before a mirrored frame;
    /// send it in GRE 0x88be with a sequence number.
    public static func erspanTypeII(_ frame: [UInt8], session: UInt16 = 100, truncated: Bool = false) -> [UInt8] {
        [0x10, 0x00] + bigEndian((truncated ? 0x0400 : 0) | (session & 0x03ff)) + [0, 0, 0, 7] + frame
    }

    /// An ERSPAN type III header (version 2; §4.2), with the 8-byte platform subheader when
    /// `platformSubheader`; send it in GRE 0x22eb.
    public static func erspanTypeIII(_ frame: [UInt8], session: UInt16 = 100, frameType: UInt16 = 0,
                                     platformSubheader: Bool = false) -> [UInt8] {
        var header: [UInt8] = [0x20, 0x00] + bigEndian(session & 0x03ff) + bigEndian(UInt32(0x1234_5678)) + [0, 0]
        header += bigEndian(frameType << 10 | (platformSubheader ? 1 : 0))
        if platformSubheader { header += [UInt8](repeating: 0x11, count: 8) }
        return header + frame
    }

    /// A PPPoE session header (RFC 2516 §4) and PPP protocol field before `payload`; put it
    /// in Ethernet with `etherType: 0x8864`. The default PPP protocol follows the IP version.
    public static func pppoeSession(_ payload: [UInt8], session: UInt16 = 0x1234, pppProtocol: UInt16? = nil,
                                    compressedProtocol: Bool = false) -> [UInt8] {
        let protocolNumber = pppProtocol ?? (isIPv6(payload) ? 0x0057 : 0x0021)
        let field = compressedProtocol ? [UInt8(protocolNumber & 0xff)] : bigEndian(protocolNumber)
        return [0x11, 0x00] + bigEndian(session) + bigEndian(UInt16(field.count + payload.count)) + field + payload
    }

    /// An IEEE 802.11 data frame (802.11-2020 §9.3.2.1) carrying `ip` after LLC/SNAP (RFC 1042).
    /// `toDS` and `fromDS` choose 3 or 4 addresses; `qos` adds QoS control (and HT control with `htc`).
    public static func ieee80211Data(_ ip: [UInt8], toDS: Bool = true, fromDS: Bool = false, qos: Bool = false,
                                     htc: Bool = false, protected: Bool = false, moreFragments: Bool = false,
                                     fragmentNumber: UInt8 = 0, amsdu: Bool = false,
                                     etherType: UInt16? = nil) -> [UInt8] {
        let subtype: UInt8 = qos ? 8 : 0
        var flags: UInt8 = (toDS ? 0x01 : 0) | (fromDS ? 0x02 : 0)
        if moreFragments { flags |= 0x04 }
        if protected { flags |= 0x40 }
        if htc { flags |= 0x80 }
        var frame: [UInt8] = [subtype << 4 | 2 << 2, flags, 0x2c, 0x00]   // frame control, duration
        for station in 1...3 { frame += [0x02, 0, 0, 0, 0, UInt8(station)] }
        frame += littleEndian(UInt16(0x0120) | UInt16(fragmentNumber & 0x0f))   // sequence control
        if toDS && fromDS { frame += [0x02, 0, 0, 0, 0, 4] }
        if qos { frame += [amsdu ? 0x80 : 0x00, 0x00] }
        if qos && htc { frame += [0, 0, 0, 0] }
        if protected { return frame + [0x01, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00] + ip }   // CCMP header, ciphertext
        return frame + [0xaa, 0xaa, 0x03, 0, 0, 0] + bigEndian(etherType ?? etherTypeFor(ip)) + ip
    }

    /// A radiotap header (radiotap.org) before an 802.11 frame: TSFT and Flags fields present,
    /// `flags` as the Flags field (0x10 FCS at end, 0x40 bad FCS).
    public static func radiotap(_ frame: [UInt8], flags: UInt8 = 0) -> [UInt8] {
        // Header 8 bytes, TSFT at 8 (8-aligned), Flags at 16, one pad byte: length 18.
        let present: UInt32 = 0x0000_0003
        return [0, 0] + littleEndian(UInt16(18)) + littleEndian(present)
            + littleEndian(UInt64(1_700_000_000_000_000)) + [flags, 0] + frame
    }

    // MARK: - Address text

    /// Parses `"a.b.c.d:port"` or `"[v6]:port"`.
    public static func parseEndpoint(_ text: String) -> (address: [UInt8], port: UInt16) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let address = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()) else {
                preconditionFailure("bad endpoint \(text)")
            }
            return (parseAddress(address), port)
        }
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            preconditionFailure("bad endpoint \(text)")
        }
        return (parseAddress(String(text[..<colon])), port)
    }

    /// Parses a dotted-quad IPv4 address (4 bytes) or an IPv6 address with optional `::` (16 bytes).
    public static func parseAddress(_ text: String) -> [UInt8] {
        if !text.contains(":") {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
            guard parts.count == 4, parts.allSatisfy({ $0 != nil }) else { preconditionFailure("bad IPv4 \(text)") }
            return parts.map { $0 ?? 0 }
        }
        func groups(_ part: Substring) -> [UInt16] {
            guard !part.isEmpty else { return [] }
            return part.split(separator: ":", omittingEmptySubsequences: false).map {
                guard let group = UInt16($0, radix: 16), $0.count <= 4 else { preconditionFailure("bad IPv6 \(text)") }
                return group
            }
        }
        var words: [UInt16]
        let characters = Array(text)
        if let index = characters.indices.dropLast().first(where: { characters[$0] == ":" && characters[$0 + 1] == ":" }) {
            let head = groups(Substring(String(characters[..<index])))
            let tail = groups(Substring(String(characters[(index + 2)...])))
            guard head.count + tail.count <= 7 else { preconditionFailure("bad IPv6 \(text)") }
            words = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            words = groups(text[...])
        }
        guard words.count == 8 else { preconditionFailure("bad IPv6 \(text)") }
        return words.flatMap { bigEndian($0) }
    }

    // MARK: - Helpers

    /// The RFC 1071 one's-complement checksum.
    public static func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    public static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    public static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    private static func isIPv6(_ ip: [UInt8]) -> Bool { (ip.first ?? 0) >> 4 == 6 }

    private static func etherTypeFor(_ ip: [UInt8]) -> UInt16 { isIPv6(ip) ? 0x86dd : 0x0800 }

    private static func defaultFamily(_ ip: [UInt8]) -> UInt32 { isIPv6(ip) ? 30 : 2 }
}
