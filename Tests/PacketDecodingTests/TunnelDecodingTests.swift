import PacketCapture
import PacketDecoding
import TestSupport
import XCTest

/// GRE (with ERSPAN), VXLAN, Geneve, GRE-in-UDP, PPPoE and 802.11 data frames down to TCP, and
/// every way one of them is not decodable, counted by kind. Frames made with `PacketBuilder`:
/// tshark decodes the same bytes the same way (checked by writing them with `PcapWriter`).
final class TunnelDecodingTests: XCTestCase {
    static let payload = Array("GET /chat HTTP/1.1\r\nUpgrade: websocket\r\n\r\n".utf8)
    static let inner4 = PacketBuilder.tcp(src: "192.168.7.1:50000", dst: "192.168.7.2:80", seq: 11, ack: 22,
                                          flags: Flag.ack | Flag.psh, payload: payload)
    static let inner6 = PacketBuilder.tcp(src: "[fd00::1]:50000", dst: "[fd00::2]:80", seq: 11, ack: 22,
                                          flags: Flag.ack | Flag.psh, payload: payload)
    static let expected4 = Decoded.Segment(source: "192.168.7.1:50000", destination: "192.168.7.2:80",
                                           sequenceNumber: 11, acknowledgmentNumber: 22, flags: Flag.ack | Flag.psh,
                                           window: 65535, payload: payload, missingPayloadLength: 0)
    static var expected6: Decoded.Segment {
        var segment = expected4
        segment.source = "[fd00::1]:50000"
        segment.destination = "[fd00::2]:80"
        return segment
    }

    /// Ethernet around an outer IPv4 packet.
    private static func outer(_ ip: [UInt8]) -> [UInt8] { PacketBuilder.ethernet(ip) }
    private static func gre(_ payload: [UInt8], _ type: UInt16, key: UInt32? = nil, sequence: UInt32? = nil,
                            checksum: Bool = false, overIPv6: Bool = false) -> [UInt8] {
        outer(PacketBuilder.grePacket(src: overIPv6 ? "2001:db8::a" : "10.1.1.1", dst: overIPv6 ? "2001:db8::b" : "10.1.1.2",
                                      PacketBuilder.gre(payload, protocolType: type, checksum: checksum, key: key,
                                                        sequence: sequence)))
    }
    private static func udp(_ port: UInt16, _ payload: [UInt8]) -> [UInt8] {
        outer(PacketBuilder.udpPacket(src: "10.1.1.1", dst: "10.1.1.2", dstPort: port, payload))
    }

    struct Case {
        var name: String
        var linkType: LinkType = .ethernet
        var bytes: [UInt8]
        var expected: Decoded
    }

    static let decodable: [Case] = [
        Case(name: "GRE IPv4", bytes: gre(inner4, 0x0800), expected: .tcp(expected4)),
        Case(name: "GRE IPv6 with key, sequence, checksum", bytes: gre(inner6, 0x86dd, key: 7, sequence: 9, checksum: true),
             expected: .tcp(expected6)),
        Case(name: "GRE over IPv6", bytes: gre(inner4, 0x0800, overIPv6: true), expected: .tcp(expected4)),
        Case(name: "GRE transparent Ethernet bridging (gretap)", bytes: gre(PacketBuilder.ethernet(inner4), 0x6558, key: 1),
             expected: .tcp(expected4)),
        Case(name: "GRE Ethernet with a VLAN tag", bytes: gre(PacketBuilder.ethernet(inner6, vlanTags: [30]), 0x6558),
             expected: .tcp(expected6)),
        Case(name: "ERSPAN type I (no sequence number)", bytes: gre(PacketBuilder.ethernet(inner4), 0x88be),
             expected: .tcp(expected4)),
        Case(name: "ERSPAN type II", bytes: gre(PacketBuilder.erspanTypeII(PacketBuilder.ethernet(inner4)), 0x88be, sequence: 1),
             expected: .tcp(expected4)),
        Case(name: "ERSPAN type III", bytes: gre(PacketBuilder.erspanTypeIII(PacketBuilder.ethernet(inner6)), 0x22eb, sequence: 1),
             expected: .tcp(expected6)),
        Case(name: "ERSPAN type III with platform subheader",
             bytes: gre(PacketBuilder.erspanTypeIII(PacketBuilder.ethernet(inner4), platformSubheader: true), 0x22eb, sequence: 1),
             expected: .tcp(expected4)),
        Case(name: "VXLAN", bytes: udp(4789, PacketBuilder.vxlan(PacketBuilder.ethernet(inner4))), expected: .tcp(expected4)),
        Case(name: "VXLAN over IPv6 outer",
             bytes: outer(PacketBuilder.udpPacket(src: "2001:db8::a", dst: "2001:db8::b", dstPort: 4789,
                                                  PacketBuilder.vxlan(PacketBuilder.ethernet(inner6)))),
             expected: .tcp(expected6)),
        Case(name: "Geneve Ethernet", bytes: udp(6081, PacketBuilder.geneve(PacketBuilder.ethernet(inner4))),
             expected: .tcp(expected4)),
        Case(name: "Geneve with options", bytes: udp(6081, PacketBuilder.geneve(PacketBuilder.ethernet(inner6), optionWords: 5)),
             expected: .tcp(expected6)),
        Case(name: "Geneve IPv4 payload", bytes: udp(6081, PacketBuilder.geneve(inner4, protocolType: 0x0800)),
             expected: .tcp(expected4)),
        Case(name: "GRE in UDP (RFC 8086)", bytes: udp(4754, PacketBuilder.gre(inner4, protocolType: 0x0800)),
             expected: .tcp(expected4)),
        Case(name: "VXLAN inside GRE", bytes: gre(PacketBuilder.udpPacket(src: "10.2.2.1", dst: "10.2.2.2", dstPort: 4789,
                                                                           PacketBuilder.vxlan(PacketBuilder.ethernet(inner4))), 0x0800),
             expected: .tcp(expected4)),
        Case(name: "Aruba 802.11 in GRE", bytes: gre(PacketBuilder.ieee80211Data(inner4, qos: true), 0x8200),
             expected: .tcp(expected4)),
        Case(name: "AYIYA (SixXS)", bytes: udp(5072, [0x41, 0x52, 0x11, 41, 0x5f, 0, 0, 0]
                                                   + [UInt8](repeating: 0xab, count: 16 + 20) + inner6),
             expected: .tcp(expected6)),
        Case(name: "PPPoE session IPv4", bytes: PacketBuilder.ethernet(PacketBuilder.pppoeSession(inner4), etherType: 0x8864),
             expected: .tcp(expected4)),
        Case(name: "PPPoE session IPv6", bytes: PacketBuilder.ethernet(PacketBuilder.pppoeSession(inner6), etherType: 0x8864),
             expected: .tcp(expected6)),
        Case(name: "PPPoE with a compressed protocol field",
             bytes: PacketBuilder.ethernet(PacketBuilder.pppoeSession(inner4, compressedProtocol: true), etherType: 0x8864),
             expected: .tcp(expected4)),
        Case(name: "PPPoE inside a VLAN", bytes: PacketBuilder.ethernet(PacketBuilder.pppoeSession(inner4), vlanTags: [100],
                                                                        etherType: 0x8864),
             expected: .tcp(expected4)),
        Case(name: "802.11 data to DS", linkType: .ieee80211, bytes: PacketBuilder.ieee80211Data(inner4),
             expected: .tcp(expected4)),
        Case(name: "802.11 data from DS", linkType: .ieee80211, bytes: PacketBuilder.ieee80211Data(inner6, toDS: false, fromDS: true),
             expected: .tcp(expected6)),
        Case(name: "802.11 four addresses (WDS)", linkType: .ieee80211,
             bytes: PacketBuilder.ieee80211Data(inner4, toDS: true, fromDS: true), expected: .tcp(expected4)),
        Case(name: "802.11 QoS data", linkType: .ieee80211, bytes: PacketBuilder.ieee80211Data(inner4, qos: true),
             expected: .tcp(expected4)),
        Case(name: "802.11 QoS data with HT control, four addresses", linkType: .ieee80211,
             bytes: PacketBuilder.ieee80211Data(inner6, toDS: true, fromDS: true, qos: true, htc: true), expected: .tcp(expected6)),
        Case(name: "radiotap + 802.11", linkType: .ieee80211Radiotap,
             bytes: PacketBuilder.radiotap(PacketBuilder.ieee80211Data(inner4, qos: true)), expected: .tcp(expected4)),
        Case(name: "radiotap + 802.11 with FCS", linkType: .ieee80211Radiotap,
             bytes: PacketBuilder.radiotap(PacketBuilder.ieee80211Data(inner4) + [1, 2, 3, 4], flags: 0x10),
             expected: .tcp(expected4)),
    ]

    func testEncapsulationsDecodeToTheInnerSegment() {
        var decoder = PacketDecoder(verifiesChecksums: true)
        for testCase in Self.decodable {
            XCTAssertEqual(decoder.decode(testCase.linkType, testCase.bytes), testCase.expected, testCase.name)
            // The inner packet's checksums are verified through the tunnel.
            let status: ChecksumStatus? = testCase.bytes.withUnsafeBytes { bytes in
                guard case .tcp(let segment) = decoder.decode(linkType: testCase.linkType, bytes: bytes) else { return nil }
                return segment.checksum
            }
            XCTAssertEqual(status, .valid, testCase.name)
        }
        XCTAssertEqual(decoder.counters.tcpSegments, UInt64(2 * Self.decodable.count))
    }

    func testWhatIsNotDecodedIsCountedByKind() {
        let cases: [Case] = [
            Case(name: "GRE version 1 (PPTP)", bytes: Self.outer(PacketBuilder.grePacket(src: "10.1.1.1", dst: "10.1.1.2",
                 PacketBuilder.gre(Self.inner4, protocolType: 0x880b, key: 1, version: 1))), expected: .skipped(.unsupportedTunnel)),
            Case(name: "GRE with routing", bytes: Self.outer(PacketBuilder.grePacket(src: "10.1.1.1", dst: "10.1.1.2",
                 PacketBuilder.gre(Self.inner4, protocolType: 0x0800, routing: true))), expected: .skipped(.unsupportedTunnel)),
            Case(name: "GRE MPLS", bytes: Self.gre(Self.inner4, 0x8847), expected: .skipped(.unsupportedTunnel)),
            Case(name: "GRE vendor type", bytes: Self.gre(Self.inner4, 0x8210), expected: .skipped(.unsupportedTunnel)),
            Case(name: "AYIYA next header 17", bytes: Self.udp(5072, [0x41, 0x52, 0x11, 17, 0, 0, 0, 0]
                                                                      + [UInt8](repeating: 0, count: 36) + Self.inner4),
                 expected: .skipped(.unsupportedTunnel)),
            Case(name: "ERSPAN II with version 2", bytes: Self.gre(PacketBuilder.erspanTypeIII(PacketBuilder.ethernet(Self.inner4)), 0x88be,
                                                              sequence: 1), expected: .skipped(.unsupportedTunnel)),
            Case(name: "ERSPAN III frame type IP", bytes: Self.gre(PacketBuilder.erspanTypeIII(Self.inner4, frameType: 2), 0x22eb, sequence: 1),
                 expected: .skipped(.unsupportedTunnel)),
            Case(name: "VXLAN without the I flag", bytes: Self.udp(4789, PacketBuilder.vxlan(PacketBuilder.ethernet(Self.inner4), flags: 0)),
                 expected: .skipped(.unsupportedTunnel)),
            Case(name: "Geneve version 1", bytes: Self.udp(6081, PacketBuilder.geneve(PacketBuilder.ethernet(Self.inner4), version: 1)),
                 expected: .skipped(.unsupportedTunnel)),
            Case(name: "Geneve NSH payload", bytes: Self.udp(6081, PacketBuilder.geneve(Self.inner4, protocolType: 0x894f)),
                 expected: .skipped(.unsupportedTunnel)),
            Case(name: "VXLAN carrying ARP", bytes: Self.udp(4789, PacketBuilder.vxlan(PacketBuilder.ethernet(Self.inner4, etherType: 0x0806))),
                 expected: .skipped(.nonTCP)),
            Case(name: "PPPoE LCP", bytes: PacketBuilder.ethernet(PacketBuilder.pppoeSession([1, 1, 0, 4], pppProtocol: 0xc021),
                                                                  etherType: 0x8864), expected: .skipped(.nonTCP)),
            Case(name: "PPPoE discovery", bytes: PacketBuilder.ethernet([0x11, 0x09, 0, 0, 0, 0], etherType: 0x8863),
                 expected: .skipped(.nonTCP)),
            Case(name: "PPPoE length beyond the frame",
                 bytes: PacketBuilder.ethernet([0x11, 0, 0x12, 0x34, 0x10, 0x00, 0x00, 0x21] + Self.inner4, etherType: 0x8864),
                 expected: .skipped(.malformed)),
            Case(name: "802.11 protected", linkType: .ieee80211, bytes: PacketBuilder.ieee80211Data(Self.inner4, protected: true),
                 expected: .skipped(.encrypted80211)),
            Case(name: "radiotap + 802.11 protected QoS", linkType: .ieee80211Radiotap,
                 bytes: PacketBuilder.radiotap(PacketBuilder.ieee80211Data(Self.inner4, qos: true, protected: true)),
                 expected: .skipped(.encrypted80211)),
            Case(name: "802.11 MAC fragment", linkType: .ieee80211, bytes: PacketBuilder.ieee80211Data(Self.inner4, moreFragments: true),
                 expected: .skipped(.unsupported80211)),
            Case(name: "802.11 later MAC fragment", linkType: .ieee80211, bytes: PacketBuilder.ieee80211Data(Self.inner4, fragmentNumber: 1),
                 expected: .skipped(.unsupported80211)),
            Case(name: "802.11 A-MSDU", linkType: .ieee80211, bytes: PacketBuilder.ieee80211Data(Self.inner4, qos: true, amsdu: true),
                 expected: .skipped(.unsupported80211)),
            Case(name: "radiotap bad FCS", linkType: .ieee80211Radiotap,
                 bytes: PacketBuilder.radiotap(PacketBuilder.ieee80211Data(Self.inner4) + [1, 2, 3, 4], flags: 0x50),
                 expected: .skipped(.badFCS80211)),
            Case(name: "802.11 beacon", linkType: .ieee80211, bytes: [0x80, 0] + [UInt8](repeating: 0, count: 40),
                 expected: .skipped(.nonTCP)),
            Case(name: "802.11 null data", linkType: .ieee80211, bytes: [0x48, 0x01] + [UInt8](repeating: 0, count: 22),
                 expected: .skipped(.nonTCP)),
            Case(name: "802.11 EAPOL", linkType: .ieee80211, bytes: PacketBuilder.ieee80211Data([1, 3, 0, 0], etherType: 0x888e),
                 expected: .skipped(.nonTCP)),
            Case(name: "802.11 protocol version 1", linkType: .ieee80211, bytes: [0x09, 0x01] + [UInt8](repeating: 0, count: 40),
                 expected: .skipped(.malformed)),
            Case(name: "radiotap version 1", linkType: .ieee80211Radiotap,
                 bytes: [1] + PacketBuilder.radiotap(PacketBuilder.ieee80211Data(Self.inner4)).dropFirst(), expected: .skipped(.malformed)),
            Case(name: "802.11 cut in the header", linkType: .ieee80211,
                 bytes: Array(PacketBuilder.ieee80211Data(Self.inner4).prefix(20)), expected: .skipped(.malformed)),
            Case(name: "Geneve options beyond the packet", bytes: Self.udp(6081, Array(PacketBuilder.geneve([], optionWords: 8).prefix(12))),
                 expected: .skipped(.malformed)),
        ]
        var decoder = PacketDecoder()
        for testCase in cases {
            XCTAssertEqual(decoder.decode(testCase.linkType, testCase.bytes), testCase.expected, testCase.name)
        }
        XCTAssertEqual(decoder.counters.total, UInt64(cases.count))
        XCTAssertEqual(decoder.counters[.unsupportedTunnel], 10)
        XCTAssertEqual(decoder.counters[.encrypted80211], 2)
        XCTAssertEqual(decoder.counters[.unsupported80211], 3)
    }

    func testSnaplenCutInsideTunnels() {
        // Cut in the tunnel header: truncated; cut in the inner payload: a segment with missing bytes.
        let vxlan = Self.udp(4789, PacketBuilder.vxlan(PacketBuilder.ethernet(Self.inner4)))
        XCTAssertEqual(decodeOnce(.ethernet, Array(vxlan.prefix(14 + 20 + 8 + 4)), originalLength: vxlan.count),
                       .skipped(.truncated))
        let cut = decodeOnce(.ethernet, Array(vxlan.prefix(vxlan.count - 10)), originalLength: vxlan.count).segment
        XCTAssertEqual(cut?.missingPayloadLength, 10)
        // ERSPAN's T bit: the mirror cut the frame, so the inner packet is longer than its bytes.
        let mirrored = Array(PacketBuilder.ethernet(Self.inner4).dropLast(10))
        let erspan = Self.gre(PacketBuilder.erspanTypeII(mirrored, truncated: true), 0x88be, sequence: 1)
        let segment = decodeOnce(.ethernet, erspan).segment
        XCTAssertEqual(segment?.payload, Array(Self.payload.dropLast(10)))
        XCTAssertEqual(segment?.missingPayloadLength, 10)
    }

    func testNestingIsBounded() {
        var packet = Self.inner4
        // Each GRE-over-IPv4 level adds one IP header; IP nesting stops it first.
        for _ in 0..<PacketDecoder.maximumIPNesting {
            packet = PacketBuilder.grePacket(src: "10.1.1.1", dst: "10.1.1.2", PacketBuilder.gre(packet, protocolType: 0x0800))
        }
        XCTAssertEqual(decodeOnce(.raw, packet), .skipped(.encapsulationTooDeep))
        // Ethernet in GRE in IPv4, again and again: layers without IP headers count too.
        var frame = PacketBuilder.ethernet(Self.inner4)
        for _ in 0..<3 {
            frame = PacketBuilder.ethernet(PacketBuilder.grePacket(src: "10.1.1.1", dst: "10.1.1.2",
                                                                   PacketBuilder.gre(frame, protocolType: 0x6558)))
        }
        XCTAssertEqual(decodeOnce(.ethernet, frame).segment?.payload, Self.payload)
        frame = PacketBuilder.ethernet(PacketBuilder.grePacket(src: "10.1.1.1", dst: "10.1.1.2",
                                                               PacketBuilder.gre(frame, protocolType: 0x6558)))
        XCTAssertEqual(decodeOnce(.ethernet, frame), .skipped(.encapsulationTooDeep))
    }

    /// Every prefix and every single-byte corruption of every tunnel frame decodes without
    /// trapping, into exactly one bucket.
    func testMutatedTunnelFramesNeverCrash() {
        var decoder = PacketDecoder(verifiesChecksums: true)
        var count: UInt64 = 0
        for testCase in Self.decodable {
            for length in 0..<testCase.bytes.count {
                _ = decoder.decode(testCase.linkType, Array(testCase.bytes.prefix(length)), originalLength: testCase.bytes.count)
                count += 1
            }
            for index in 0..<min(testCase.bytes.count, 96) {
                var bytes = testCase.bytes
                bytes[index] ^= 0xff
                _ = decoder.decode(testCase.linkType, bytes)
                count += 1
            }
        }
        XCTAssertEqual(decoder.counters.total, count)
    }
}
