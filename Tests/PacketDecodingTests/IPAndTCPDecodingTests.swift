import PacketCapture
import PacketDecoding
import TestSupport
import XCTest

/// IP options, IPv6 extension headers, fragments, tunnels, lengths and malformed headers.
final class IPAndTCPDecodingTests: XCTestCase {
    let payload = Array("HTTP/1.1 101 Switching Protocols\r\n\r\n".utf8)

    func tcp4(payload: [UInt8]? = nil, tcpOptions: [UInt8] = [], ipOptions: [UInt8] = []) -> [UInt8] {
        PacketBuilder.tcp(src: "192.168.1.10:50000", dst: "192.168.1.20:8080", seq: 5, ack: 6,
                          flags: Flag.ack, payload: payload ?? self.payload, tcpOptions: tcpOptions,
                          ipOptions: ipOptions)
    }

    func segment(_ linkType: LinkType, _ bytes: [UInt8], originalLength: Int? = nil,
                 file: StaticString = #filePath, line: UInt = #line) -> Decoded.Segment? {
        let decoded = decodeOnce(linkType, bytes, originalLength: originalLength)
        guard let segment = decoded.segment else {
            XCTFail("expected a TCP segment, got \(decoded)", file: file, line: line)
            return nil
        }
        return segment
    }

    // MARK: - Options and extension headers

    func testIPv4OptionsAreSkipped() {
        // NOP, NOP, Record Route with one slot (7 bytes): padded to 12, IHL 8.
        let options: [UInt8] = [1, 1, 7, 7, 4, 0, 0, 0, 0]
        let packet = tcp4(ipOptions: options)
        XCTAssertEqual(packet[0] & 0x0f, 8)
        let decoded = segment(.raw, packet)
        XCTAssertEqual(decoded?.payload, payload)
        XCTAssertEqual(decoded?.source, "192.168.1.10:50000")
        XCTAssertEqual(decoded?.destination, "192.168.1.20:8080")
    }

    func testTCPOptionsAreSkipped() {
        // MSS, SACK permitted, window scale, timestamps: 20 bytes of options.
        let options: [UInt8] = [2, 4, 5, 0xb4, 4, 2, 3, 3, 7, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1]
        let decoded = segment(.ethernet, PacketBuilder.ethernet(tcp4(tcpOptions: options)))
        XCTAssertEqual(decoded?.payload, payload)
        XCTAssertEqual(decoded?.missingPayloadLength, 0)
    }

    func testIPv6ExtensionHeadersAreWalked() {
        let chains: [[PacketBuilder.IPv6ExtensionHeader]] = [
            [.hopByHop()],
            [.hopByHop(length: 16), .destinationOptions()],
            [.hopByHop(), .routing(addresses: 2), .destinationOptions(length: 24)],
            [.authentication()],
            [.destinationOptions(), .authentication(icvLength: 16), .fragment()],
        ]
        for chain in chains {
            let packet = PacketBuilder.tcp(src: "[fe80::1]:1", dst: "[fe80::2]:2", seq: 9, flags: Flag.syn,
                                           payload: payload, extensionHeaders: chain)
            let decoded = segment(.ipv6, packet)
            XCTAssertEqual(decoded?.payload, payload, "\(chain)")
            XCTAssertEqual(decoded?.sequenceNumber, 9, "\(chain)")
            XCTAssertEqual(decoded?.source, "[fe80::1]:1", "\(chain)")
        }
    }

    func testIPv6NoNextHeaderAndUnknownProtocolAreNonTCP() {
        let none = PacketBuilder.ipv6(src: "::1", dst: "::2", nextHeader: 59, payload: [],
                                      extensionHeaders: [.hopByHop()])
        XCTAssertEqual(decodeOnce(.ipv6, none), .skipped(.nonTCP))
        let bare = PacketBuilder.ipv6(src: "::1", dst: "::2", nextHeader: 59, payload: [])
        XCTAssertEqual(decodeOnce(.ipv6, bare), .skipped(.nonTCP))
        let esp = PacketBuilder.ipv6(src: "::1", dst: "::2", nextHeader: 50, payload: [UInt8](repeating: 1, count: 40))
        XCTAssertEqual(decodeOnce(.ipv6, esp), .skipped(.nonTCP))
    }

    // MARK: - Fragments

    func testIPv4Fragments() {
        let segmentBytes = PacketBuilder.tcpSegment(srcPort: 1, dstPort: 2, payload: payload)
        let first = PacketBuilder.ipv4(src: "10.0.0.1", dst: "10.0.0.2", protocol: 6, payload: segmentBytes,
                                       moreFragments: true)
        let later = PacketBuilder.ipv4(src: "10.0.0.1", dst: "10.0.0.2", protocol: 6, payload: segmentBytes,
                                       fragmentOffset: 185)
        let lastWithoutDF = PacketBuilder.ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 2], protocol: 6,
                                               payload: segmentBytes, dontFragment: false, fragmentOffset: 1)
        let whole = PacketBuilder.ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 2], protocol: 6,
                                       payload: segmentBytes, dontFragment: false)
        XCTAssertEqual(decodeOnce(.raw, first), .skipped(.fragmentHeld))
        XCTAssertEqual(decodeOnce(.raw, later), .skipped(.fragmentHeld))
        XCTAssertEqual(decodeOnce(.raw, lastWithoutDF), .skipped(.fragmentHeld))
        XCTAssertEqual(decodeOnce(.raw, whole).segment?.payload, payload)
        // A fragment of a UDP datagram is held like any other.
        let udpFragment = PacketBuilder.ipv4(src: "10.0.0.1", dst: "10.0.0.2", protocol: 17, payload: [UInt8](repeating: 3, count: 16),
                                             moreFragments: true)
        XCTAssertEqual(decodeOnce(.raw, udpFragment), .skipped(.fragmentHeld))
    }

    func testIPv6FragmentsAndAtomicFragment() {
        func packet(_ fragment: PacketBuilder.IPv6ExtensionHeader, _ more: [PacketBuilder.IPv6ExtensionHeader] = []) -> [UInt8] {
            PacketBuilder.tcp(src: "[2001:db8::1]:1000", dst: "[2001:db8::2]:80", seq: 1, flags: Flag.ack,
                              payload: payload, extensionHeaders: more + [fragment])
        }
        XCTAssertEqual(decodeOnce(.ipv6, packet(.fragment(offset: 0, moreFragments: true))), .skipped(.fragmentHeld))
        XCTAssertEqual(decodeOnce(.ipv6, packet(.fragment(offset: 100, moreFragments: false))), .skipped(.fragmentHeld))
        XCTAssertEqual(decodeOnce(.ipv6, packet(.fragment(offset: 100, moreFragments: true), [.hopByHop()])),
                       .skipped(.fragmentHeld))
        // RFC 6946: offset 0 and M = 0 is an atomic fragment, processed as a whole packet.
        XCTAssertEqual(decodeOnce(.ipv6, packet(.fragment())).segment?.payload, payload)
        XCTAssertEqual(decodeOnce(.ipv6, packet(.fragment(), [.hopByHop()])).segment?.payload, payload)
    }

    // MARK: - Lengths

    func testEthernetPaddingIsTrimmed() {
        let tiny = tcp4(payload: [0x41, 0x42])
        let frame = PacketBuilder.ethernet(tiny)
        XCTAssertEqual(frame.count, 60, "padded to the Ethernet minimum")
        let decoded = segment(.ethernet, frame)
        XCTAssertEqual(decoded?.payload, [0x41, 0x42])
        XCTAssertEqual(decoded?.missingPayloadLength, 0)
        // A frame check sequence (or other trailer) after the IP packet is not payload either.
        let withTrailer = PacketBuilder.ethernet(tcp4(), pad: false) + [0xde, 0xad, 0xbe, 0xef]
        XCTAssertEqual(segment(.ethernet, withTrailer)?.payload, payload)
        // IPv6 too: the payload length bounds the packet.
        let v6 = PacketBuilder.tcp(src: "[::1]:1", dst: "[::1]:2", payload: [7])
        XCTAssertEqual(segment(.ethernet, PacketBuilder.ethernet(v6) + [1, 2, 3])?.payload, [7])
    }

    func testSnaplenCutPayloadIsReportedAsMissing() {
        let body = [UInt8](repeating: 0x61, count: 100)
        let cases: [(String, LinkType, [UInt8], Int)] = [
            ("ethernet v4", .ethernet, PacketBuilder.ethernet(tcp4(payload: body)), 14 + 40),
            ("SLL v6", .linuxSLL,
             PacketBuilder.linuxSLL(PacketBuilder.tcp(src: "[::1]:1", dst: "[::2]:2", payload: body,
                                                      extensionHeaders: [.hopByHop()])), 16 + 48 + 20),
            ("6in4", .raw, PacketBuilder.tunnel(PacketBuilder.tcp(src: "[::1]:1", dst: "[::2]:2", payload: body),
                                                outerSrc: "1.1.1.1", outerDst: "2.2.2.2"), 20 + 40 + 20),
            ("NFLOG", .nflog, PacketBuilder.nflog(tcp4(payload: body)), PacketBuilder.nflog(tcp4(payload: [])).count),
        ]
        for (name, linkType, frame, headers) in cases {
            for kept in [0, 1, 30, 99] {
                let captured = Array(frame[..<(headers + kept)])
                let decoded = decodeOnce(linkType, captured, originalLength: frame.count)
                XCTAssertEqual(decoded.segment?.payload, Array(body[..<kept]), "\(name) keeping \(kept)")
                XCTAssertEqual(decoded.segment?.missingPayloadLength, 100 - kept, "\(name) keeping \(kept)")
            }
        }
    }

    func testEveryCutInsideTheHeadersIsTruncated() {
        let frames: [(String, LinkType, [UInt8], Int)] = [
            ("ethernet VLAN v4 with options", .ethernet,
             PacketBuilder.ethernet(tcp4(tcpOptions: [2, 4, 5, 0xb4], ipOptions: [1, 1, 1, 1]), vlanTags: [3]),
             18 + 24 + 24),
            ("SLL2 v6 with extension headers", .linuxSLL2,
             PacketBuilder.linuxSLL2(PacketBuilder.tcp(src: "[::1]:1", dst: "[::2]:2", payload: payload,
                                                       extensionHeaders: [.hopByHop(), .fragment()])),
             20 + 40 + 16 + 20),
            ("NULL 4in4", .null, PacketBuilder.null(PacketBuilder.tunnel(tcp4(), outerSrc: "1.1.1.1", outerDst: "2.2.2.2")),
             4 + 20 + 20 + 20),
            ("NFLOG", .nflog, PacketBuilder.nflog(tcp4()), PacketBuilder.nflog(tcp4(payload: [])).count),
        ]
        for (name, linkType, frame, headerLength) in frames {
            for cut in 0..<headerLength {
                let decoded = decodeOnce(linkType, Array(frame[..<cut]), originalLength: frame.count)
                XCTAssertEqual(decoded, .skipped(.truncated), "\(name) cut at \(cut)")
            }
            let whole = decodeOnce(linkType, Array(frame[..<headerLength]), originalLength: frame.count)
            XCTAssertEqual(whole.segment?.payload, [], "\(name) headers only")
            XCTAssertEqual(whole.segment?.missingPayloadLength, payload.count, "\(name) headers only")
        }
    }

    func testZeroTotalLengthFromSegmentationOffloadUsesTheFrameLength() {
        let segmentBytes = PacketBuilder.tcpSegment(srcPort: 1, dstPort: 2, payload: payload)
        let tso = PacketBuilder.ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 2], protocol: 6, payload: segmentBytes,
                                     totalLengthOverride: 0)
        XCTAssertEqual(segment(.raw, tso)?.payload, payload)
        let jumbo = PacketBuilder.ipv6(src: PacketBuilder.parseAddress("::1"), dst: PacketBuilder.parseAddress("::2"),
                                       nextHeader: 6, payload: segmentBytes, payloadLengthOverride: 0)
        XCTAssertEqual(segment(.raw, jumbo)?.payload, payload)
    }

    // MARK: - Malformed

    func testMalformedHeaders() {
        let segmentBytes = PacketBuilder.tcpSegment(srcPort: 1, dstPort: 2, payload: payload)
        let a: [UInt8] = [10, 0, 0, 1], b: [UInt8] = [10, 0, 0, 2]
        func ipv4(ihl: UInt8? = nil, total: UInt16? = nil, version: UInt8? = nil, _ tcp: [UInt8]? = nil) -> [UInt8] {
            PacketBuilder.ipv4(src: a, dst: b, protocol: 6, payload: tcp ?? segmentBytes, totalLengthOverride: total,
                               ihlOverride: ihl, versionOverride: version)
        }
        var tooDeep = tcp4()
        for _ in 0..<PacketDecoder.maximumIPNesting {
            tooDeep = PacketBuilder.tunnel(tooDeep, outerSrc: "1.1.1.1", outerDst: "2.2.2.2")
        }
        let cases: [(String, LinkType, [UInt8])] = [
            ("IHL 4", .ethernet, PacketBuilder.ethernet(ipv4(ihl: 4))),
            ("IHL 0", .ipv4, ipv4(ihl: 0)),
            ("total length below IHL", .ethernet, PacketBuilder.ethernet(ipv4(total: 16))),
            ("total length beyond the frame", .raw, ipv4(total: 200)),
            ("version 5 under ethertype IPv4", .ethernet, PacketBuilder.ethernet(ipv4(version: 5))),
            ("version 6 under link type IPV4", .ipv4, ipv4(version: 6)),
            ("raw version nibble 7", .raw, ipv4(version: 7)),
            ("data offset 4", .raw, ipv4(PacketBuilder.tcpSegment(srcPort: 1, dstPort: 2, payload: payload,
                                                                  dataOffsetOverride: 4))),
            ("data offset 0", .raw, ipv4(PacketBuilder.tcpSegment(srcPort: 1, dstPort: 2, dataOffsetOverride: 0))),
            ("data offset beyond the segment", .raw,
             ipv4(PacketBuilder.tcpSegment(srcPort: 1, dstPort: 2, dataOffsetOverride: 15))),
            ("TCP shorter than its header", .raw, ipv4(Array(segmentBytes[..<12]))),
            ("IPv6 payload length beyond the frame", .raw,
             PacketBuilder.ipv6(src: [UInt8](repeating: 0, count: 16), dst: [UInt8](repeating: 0, count: 16),
                                nextHeader: 6, payload: segmentBytes, payloadLengthOverride: 1000)),
            ("IPv6 extension header beyond the payload", .raw,
             PacketBuilder.ipv6(src: [UInt8](repeating: 0, count: 16), dst: [UInt8](repeating: 0, count: 16),
                                nextHeader: 6, payload: [], extensionHeaders: [.hopByHop(length: 16)],
                                payloadLengthOverride: 8)),
            ("IPv6 under version 4 nibble", .ipv6, tcp4()),
            ("too many VLAN tags", .ethernet,
             PacketBuilder.ethernet(tcp4(), vlanTags: [UInt16](repeating: 1, count: PacketDecoder.maximumVLANTags + 1))),
            ("NFLOG version 1", .nflog, [2, 1, 0, 0] + Array(PacketBuilder.nflog(tcp4()).dropFirst(4))),
            ("NFLOG attribute length 2", .nflog, [2, 0, 0, 0, 2, 0, 9, 0]),
            ("NFLOG attribute beyond the frame", .nflog, [2, 0, 0, 0, 200, 0, 9, 0] + tcp4()),
        ]
        for (name, linkType, bytes) in cases {
            XCTAssertEqual(decodeOnce(linkType, bytes), .skipped(.malformed), name)
        }
        XCTAssertEqual(decodeOnce(.raw, tooDeep), .skipped(.encapsulationTooDeep))
        // The deepest nesting still allowed decodes.
        var deepest = tcp4()
        for _ in 1..<PacketDecoder.maximumIPNesting {
            deepest = PacketBuilder.tunnel(deepest, outerSrc: "1.1.1.1", outerDst: "2.2.2.2")
        }
        XCTAssertEqual(segment(.raw, deepest)?.payload, payload)
    }

    /// Truncating and corrupting valid frames never traps, and every frame is counted once.
    func testMutatedFramesNeverCrashAndAreAllCounted() {
        var frames: [(LinkType, [UInt8])] = LinkTypeDecodingTests.cases.map { ($0.linkType, $0.bytes) }
        frames.append((.ethernet, PacketBuilder.ethernet(PacketBuilder.tcp(
            src: "[::1]:1", dst: "[::2]:2", payload: payload, extensionHeaders: [.hopByHop(), .routing(), .fragment(),
                                                                               .authentication(), .destinationOptions()]))))
        var decoder = PacketDecoder()
        var random = SplitMix64(seed: 0x5eed)
        var count: UInt64 = 0
        for (linkType, frame) in frames {
            for cut in 0...frame.count {
                _ = decoder.decode(linkType, Array(frame[..<cut]), originalLength: frame.count)
                count += 1
            }
            for _ in 0..<300 {
                var mutated = frame
                for _ in 0..<(1 + Int(random.next() % 4)) {
                    let index = Int(random.next() % UInt64(mutated.count))
                    mutated[index] = UInt8(truncatingIfNeeded: random.next())
                }
                let length = Int(random.next() % UInt64(mutated.count + 1))
                _ = decoder.decode(linkType, Array(mutated[..<length]), originalLength: Int(random.next() % 3000))
                count += 1
            }
        }
        XCTAssertEqual(decoder.counters.total, count)
        XCTAssertGreaterThan(decoder.counters.tcpSegments, 0)
        XCTAssertGreaterThan(decoder.counters[.truncated], 0)
        XCTAssertGreaterThan(decoder.counters[.malformed], 0)
    }

    func testCountersPutEachPacketInExactlyOneBucket() {
        var decoder = PacketDecoder()
        let frames: [(LinkType, [UInt8], Decoded)] = [
            (.ethernet, PacketBuilder.ethernet(tcp4()), decodeOnce(.ethernet, PacketBuilder.ethernet(tcp4()))),
            (.raw, tcp4(), decodeOnce(.raw, tcp4())),
            (.ethernet, PacketBuilder.ethernet(tcp4(), etherType: 0x0806), .skipped(.nonTCP)),
            (.raw, PacketBuilder.ipv4(src: "1.1.1.1", dst: "2.2.2.2", protocol: 6, payload: [UInt8](repeating: 1, count: 8),
                                      moreFragments: true),
             .skipped(.fragmentHeld)),
            (.raw, PacketBuilder.ipv4(src: "1.1.1.1", dst: "2.2.2.2", protocol: 6, payload: [1], fragmentOffset: 8),
             .skipped(.fragmentHeld)),
            (.raw, [0x45, 0], .skipped(.truncated)),
            (.raw, [0x75, 0], .skipped(.malformed)),
            (LinkType(rawValue: 12345), tcp4(), .skipped(.unsupportedLinkType)),
        ]
        for (linkType, bytes, expected) in frames {
            XCTAssertEqual(decoder.decode(linkType, bytes), expected)
        }
        let counters = decoder.counters
        XCTAssertEqual(counters.tcpSegments, 2)
        XCTAssertEqual(counters[.nonTCP], 1)
        XCTAssertEqual(counters[.fragmentHeld], 2)
        XCTAssertEqual(counters[.truncated], 1)
        XCTAssertEqual(counters[.malformed], 1)
        XCTAssertEqual(counters[.unsupportedLinkType], 1)
        XCTAssertEqual(counters.unsupportedLinkTypes, [12345: 1])
        XCTAssertEqual(counters.total, UInt64(frames.count))
        decoder.resetCounters()
        XCTAssertEqual(decoder.counters, DecodeCounters())
    }
}

/// A small seeded generator so the mutation test is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d1_049b_133c_e111
        return z ^ (z >> 31)
    }
}

/// Ethernet padding that a zero IP length (segmentation offload) lets into a bare ACK is not
/// stream data (issue #12: false overlap conflicts in nDPI's heuristic_tcp_ack_payload.pcap);
/// where IP gives a length, the bytes it claims are data (Suricata-verify's
/// protocol-change-failed-event ends with a one-byte 0x00 segment its receiver takes).
final class ACKPaddingTests: XCTestCase {
    /// A bare TCP segment in an Ethernet frame padded to 60 bytes, its IP total length zeroed
    /// (as TSO leaves it) or, with `payload`, a segment whose IP length claims the bytes.
    private func frame(flags: UInt8, payload: [UInt8] = [], zeroIPLength: Bool) -> [UInt8] {
        var bytes = PacketBuilder.ethernet(PacketBuilder.tcp(src: "10.0.0.1:40000", dst: "10.0.0.2:80", seq: 7, ack: 9,
                                                             flags: flags, payload: payload))
        if zeroIPLength {
            bytes[16] = 0
            bytes[17] = 0
        }
        while bytes.count < 60 { bytes.append(0) }
        return bytes
    }

    func testPaddingAfterABareACKWithAZeroIPLengthIsNotData() {
        var decoder = PacketDecoder()
        let decoded = decoder.decode(.ethernet, frame(flags: Flag.ack, zeroIPLength: true))
        XCTAssertEqual(decoded.segment?.payload, [])
        XCTAssertEqual(decoded.segment?.missingPayloadLength, 0)
        XCTAssertEqual(decoder.counters.ackPaddingIgnored, 1)
    }

    func testBytesAnIPLengthClaimsAreData() {
        for (flags, payload, zero) in [(Flag.ack, [UInt8]([0]), false),                   // IP says 1 byte
                                       (Flag.ack | Flag.psh, [UInt8](), true),             // not a bare ACK
                                       (Flag.ack, [UInt8](repeating: 0x41, count: 6), false)] {
            var decoder = PacketDecoder()
            let decoded = decoder.decode(.ethernet, frame(flags: flags, payload: payload, zeroIPLength: zero))
            XCTAssertEqual(decoded.segment?.payload.count, zero ? 6 : payload.count)
            XCTAssertEqual(decoder.counters.ackPaddingIgnored, 0)
        }
    }
}
