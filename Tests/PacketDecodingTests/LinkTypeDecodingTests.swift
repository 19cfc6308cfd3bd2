import PacketCapture
import PacketDecoding
import TestSupport
import XCTest

/// Every supported link type and encapsulation decodes to the same TCP segment.
final class LinkTypeDecodingTests: XCTestCase {
    static let payload = Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)

    static let v4 = PacketBuilder.tcp(src: "10.0.0.1:1234", dst: "10.0.0.2:80", seq: 1000, ack: 2000,
                                      flags: Flag.psh | Flag.ack, payload: payload, window: 512)
    static let v6 = PacketBuilder.tcp(src: "[2001:db8::1]:40000", dst: "[2001:db8::2]:443", seq: 0xffff_fff0,
                                      ack: 7, flags: Flag.psh | Flag.ack, payload: payload, window: 1024)

    static let expectedV4 = Decoded.Segment(source: "10.0.0.1:1234", destination: "10.0.0.2:80",
                                            sequenceNumber: 1000, acknowledgmentNumber: 2000,
                                            flags: Flag.psh | Flag.ack, window: 512, payload: payload,
                                            missingPayloadLength: 0)
    static let expectedV6 = Decoded.Segment(source: "[2001:db8::1]:40000", destination: "[2001:db8::2]:443",
                                            sequenceNumber: 0xffff_fff0, acknowledgmentNumber: 7,
                                            flags: Flag.psh | Flag.ack, window: 1024, payload: payload,
                                            missingPayloadLength: 0)

    struct Case {
        var name: String
        var linkType: LinkType
        var bytes: [UInt8]
        var expected: Decoded.Segment
    }

    static let cases: [Case] = {
        let v4 = LinkTypeDecodingTests.v4, v6 = LinkTypeDecodingTests.v6
        let e4 = expectedV4, e6 = expectedV6
        var cases = [
            Case(name: "ethernet v4", linkType: .ethernet, bytes: PacketBuilder.ethernet(v4), expected: e4),
            Case(name: "ethernet v6", linkType: .ethernet, bytes: PacketBuilder.ethernet(v6), expected: e6),
            Case(name: "802.1Q", linkType: .ethernet, bytes: PacketBuilder.ethernet(v4, vlanTags: [100]), expected: e4),
            Case(name: "802.1ad QinQ", linkType: .ethernet,
                 bytes: PacketBuilder.ethernet(v6, vlanTags: [10, 20], qinq: true), expected: e6),
            Case(name: "legacy QinQ 0x9100", linkType: .ethernet,
                 bytes: PacketBuilder.ethernet(v4, vlanTags: [10, 20], tagTypes: [0x9100, 0x8100]), expected: e4),
            Case(name: "three stacked tags", linkType: .ethernet,
                 bytes: PacketBuilder.ethernet(v4, vlanTags: [1, 2, 3], tagTypes: [0x88a8, 0x9100, 0x8100]),
                 expected: e4),
            Case(name: "SLL v4", linkType: .linuxSLL, bytes: PacketBuilder.linuxSLL(v4), expected: e4),
            Case(name: "SLL v6", linkType: .linuxSLL, bytes: PacketBuilder.linuxSLL(v6, packetType: 4), expected: e6),
            Case(name: "SLL with VLAN protocol", linkType: .linuxSLL,
                 bytes: PacketBuilder.linuxSLL([0, 5, 0x08, 0x00] + v4, protocolType: 0x8100), expected: e4),
            Case(name: "SLL2 v4", linkType: .linuxSLL2, bytes: PacketBuilder.linuxSLL2(v4), expected: e4),
            Case(name: "SLL2 v6", linkType: .linuxSLL2, bytes: PacketBuilder.linuxSLL2(v6), expected: e6),
            Case(name: "NULL v4 little-endian", linkType: .null, bytes: PacketBuilder.null(v4), expected: e4),
            Case(name: "NULL v4 big-endian", linkType: .null,
                 bytes: PacketBuilder.null(v4, bigEndian: true), expected: e4),
            Case(name: "LOOP v4", linkType: .loop, bytes: PacketBuilder.loop(v4), expected: e4),
            Case(name: "LOOP v6", linkType: .loop, bytes: PacketBuilder.loop(v6), expected: e6),
            Case(name: "RAW v4", linkType: .raw, bytes: PacketBuilder.raw(v4), expected: e4),
            Case(name: "RAW v6", linkType: .raw, bytes: PacketBuilder.raw(v6), expected: e6),
            Case(name: "IPV4", linkType: .ipv4, bytes: v4, expected: e4),
            Case(name: "IPV6", linkType: .ipv6, bytes: v6, expected: e6),
            Case(name: "NFLOG v4 little-endian", linkType: .nflog, bytes: PacketBuilder.nflog(v4), expected: e4),
            Case(name: "NFLOG v6 big-endian", linkType: .nflog,
                 bytes: PacketBuilder.nflog(v6, bigEndian: true), expected: e6),
            Case(name: "IP-in-IP", linkType: .raw,
                 bytes: PacketBuilder.tunnel(v4, outerSrc: "192.0.2.1", outerDst: "192.0.2.2"), expected: e4),
            Case(name: "6in4 over Ethernet", linkType: .ethernet,
                 bytes: PacketBuilder.ethernet(PacketBuilder.tunnel(v6, outerSrc: "192.0.2.1", outerDst: "192.0.2.2")),
                 expected: e6),
            Case(name: "4in6", linkType: .raw,
                 bytes: PacketBuilder.tunnel(v4, outerSrc: "2001:db8::a", outerDst: "2001:db8::b"), expected: e4),
            Case(name: "6in6", linkType: .ipv6,
                 bytes: PacketBuilder.tunnel(v6, outerSrc: "2001:db8::a", outerDst: "2001:db8::b"), expected: e6),
            Case(name: "three levels of tunnel", linkType: .raw,
                 bytes: PacketBuilder.tunnel(PacketBuilder.tunnel(PacketBuilder.tunnel(
                     v6, outerSrc: "192.0.2.1", outerDst: "192.0.2.2"),
                     outerSrc: "2001:db8::a", outerDst: "2001:db8::b"),
                     outerSrc: "192.0.2.3", outerDst: "192.0.2.4"),
                 expected: e6),
        ]
        // Every BSD AF_INET6 value, in both byte orders.
        for family: UInt32 in [10, 24, 28, 30] {
            for bigEndian in [false, true] {
                cases.append(Case(name: "NULL v6 family \(family) bigEndian \(bigEndian)", linkType: .null,
                                  bytes: PacketBuilder.null(v6, family: family, bigEndian: bigEndian), expected: e6))
            }
        }
        return cases
    }()

    func testEveryLinkTypeAndEncapsulation() {
        var decoder = PacketDecoder()
        for testCase in Self.cases {
            XCTAssertEqual(decoder.decode(testCase.linkType, testCase.bytes), .tcp(testCase.expected), testCase.name)
        }
        XCTAssertEqual(decoder.counters.tcpSegments, UInt64(Self.cases.count))
        XCTAssertEqual(decoder.counters.total, UInt64(Self.cases.count))
    }

    func testDecodeCapturedPacketEntryPoint() {
        var decoder = PacketDecoder()
        let frame = PacketBuilder.ethernet(Self.v4)
        let outcome = frame.withUnsafeBytes { bytes in
            Decoded(decoder.decode(CapturedPacket(frameNumber: 1, timestamp: .zero, linkType: .ethernet,
                                                  bytes: bytes, originalLength: bytes.count)))
        }
        XCTAssertEqual(outcome, .tcp(Self.expectedV4))
        XCTAssertEqual(decoder.counters.tcpSegments, 1)
    }

    func testPayloadPointsIntoThePacketBytes() {
        let frame = PacketBuilder.ethernet(Self.v4)
        frame.withUnsafeBytes { bytes in
            var decoder = PacketDecoder()
            guard case .tcp(let segment) = decoder.decode(linkType: .ethernet, bytes: bytes) else {
                return XCTFail("not decoded")
            }
            XCTAssertEqual(segment.payload.baseAddress, bytes.baseAddress.map { $0 + 14 + 20 + 20 })
            XCTAssertEqual(segment.payload.count, Self.payload.count)
        }
    }

    func testUnknownEtherTypesAndAddressFamiliesAreNonTCP() {
        let arp = [UInt8](repeating: 0, count: 12) + [0x08, 0x06] + [UInt8](repeating: 0, count: 28)
        let cases: [(String, LinkType, [UInt8])] = [
            ("ARP", .ethernet, arp),
            ("802.3 length field", .ethernet, PacketBuilder.ethernet(Self.v4, etherType: 0x0040)),
            ("ARP inside VLAN", .ethernet, PacketBuilder.ethernet(Self.v4, vlanTags: [5], etherType: 0x0806)),
            ("SLL unknown protocol", .linuxSLL, PacketBuilder.linuxSLL(Self.v4, protocolType: 0x0004)),
            ("SLL2 unknown protocol", .linuxSLL2, PacketBuilder.linuxSLL2(Self.v4, protocolType: 0x0806)),
            ("NULL family 7", .null, PacketBuilder.null(Self.v4, family: 7)),
            ("LOOP family 7", .loop, PacketBuilder.loop(Self.v4, family: 7)),
            ("NFLOG bridge family", .nflog, PacketBuilder.nflog(Self.v4, family: 7)),
            ("NFLOG without payload", .nflog, [2, 0, 0, 0, 8, 0, 1, 0, 0x08, 0x00, 3, 0]),
            ("UDP", .raw, PacketBuilder.ipv4(src: "10.0.0.1", dst: "10.0.0.2", protocol: 17, payload: [0, 53, 0, 53, 0, 8, 0, 0])),
            ("ICMPv6", .raw, PacketBuilder.ipv6(src: "::1", dst: "::1", nextHeader: 58, payload: [128, 0, 0, 0, 0, 0, 0, 0])),
        ]
        for (name, linkType, bytes) in cases {
            XCTAssertEqual(decodeOnce(linkType, bytes), .skipped(.nonTCP), name)
        }
    }

    func testUnsupportedLinkTypeIsCountedByNumber() {
        var decoder = PacketDecoder()
        let frame = PacketBuilder.ethernet(Self.v4)
        XCTAssertEqual(decoder.decode(LinkType(rawValue: 147), frame), .skipped(.unsupportedLinkType))
        XCTAssertEqual(decoder.decode(LinkType(rawValue: 147), frame), .skipped(.unsupportedLinkType))
        XCTAssertEqual(decoder.decode(LinkType(rawValue: 9), frame), .skipped(.unsupportedLinkType))
        XCTAssertEqual(decoder.decode(.ethernet, frame), .tcp(Self.expectedV4))
        XCTAssertEqual(decoder.counters[.unsupportedLinkType], 3)
        XCTAssertEqual(decoder.counters.unsupportedLinkTypes, [147: 2, 9: 1])
        XCTAssertEqual(decoder.counters.total, 4)
    }
}
