import Foundation
import PacketCapture
import PacketDecoding
import TestSupport
import XCTest

/// `PacketDecoder(verifiesChecksums: true)`: the IPv4 header and TCP checksum verdicts.
final class ChecksumVerificationTests: XCTestCase {
    let payload = Array("GET /chat HTTP/1.1\r\nUpgrade: websocket\r\n\r\n".utf8)

    private func status(_ linkType: LinkType, _ bytes: [UInt8], originalLength: Int? = nil,
                        verify: Bool = true) -> ChecksumStatus? {
        var decoder = PacketDecoder(verifiesChecksums: verify)
        return bytes.withUnsafeBytes { buffer in
            guard case .tcp(let segment) = decoder.decode(linkType: linkType, bytes: buffer,
                                                          originalLength: originalLength) else { return nil }
            return segment.checksum
        }
    }

    private func tcp4(_ payload: [UInt8]? = nil) -> [UInt8] {
        PacketBuilder.tcp(src: "10.0.0.1:40000", dst: "10.0.0.2:80", seq: 1, ack: 1, flags: Flag.ack,
                          payload: payload ?? self.payload)
    }

    private func tcp6(_ payload: [UInt8]? = nil) -> [UInt8] {
        PacketBuilder.tcp(src: "[2001:db8::1]:40000", dst: "[2001:db8::2]:80", seq: 1, ack: 1, flags: Flag.ack,
                          payload: payload ?? self.payload)
    }

    /// Sets the TCP checksum field (at `tcpOffset + 16`) to `value`.
    private func withTCPChecksum(_ packet: [UInt8], tcpOffset: Int, _ value: UInt16) -> [UInt8] {
        var packet = packet
        packet[tcpOffset + 16] = UInt8(value >> 8)
        packet[tcpOffset + 17] = UInt8(value & 0xff)
        return packet
    }

    /// What Linux leaves under CHECKSUM_PARTIAL: the folded pseudo-header sum, not complemented.
    private func pseudoHeaderFold(_ pseudo: [UInt8]) -> UInt16 { ~PacketBuilder.internetChecksum(pseudo) }

    func testNotVerifiedUnlessAsked() {
        XCTAssertEqual(status(.raw, tcp4(), verify: false), .notVerified)
        var bad = tcp4()
        bad[bad.count - 1] ^= 1
        XCTAssertEqual(status(.raw, bad, verify: false), .notVerified)
    }

    func testValidIPv4AndIPv6() {
        XCTAssertEqual(status(.raw, tcp4()), .valid)
        XCTAssertEqual(status(.raw, tcp6()), .valid)
        XCTAssertEqual(status(.ethernet, PacketBuilder.ethernet(tcp4(Array(payload.prefix(1))))), .valid,
                       "odd payload, Ethernet padding after the packet")
        XCTAssertEqual(status(.raw, tcp4([])), .valid)
        XCTAssertEqual(status(.raw, PacketBuilder.tcp(src: "[2001:db8::1]:1", dst: "[2001:db8::2]:2", payload: payload,
                                                      extensionHeaders: [.hopByHop(), .destinationOptions()])), .valid)
    }

    func testEveryFlippedBitIsBadTCP() {
        let good = tcp4()
        // Any single bit flipped in the TCP header or payload (but not in the checksum field
        // alone... which is also caught) breaks the sum.
        for index in 20..<good.count {
            for bit in [0, 3, 7] {
                var bad = good
                bad[index] ^= UInt8(1 << bit)
                XCTAssertEqual(status(.raw, bad), .badTCP, "byte \(index) bit \(bit)")
            }
        }
        var bad6 = tcp6()
        bad6[bad6.count - 2] ^= 0x40
        XCTAssertEqual(status(.raw, bad6), .badTCP)
        // A changed pseudo-header field (the destination address) also breaks the TCP sum;
        // fix the IPv4 header checksum so that only TCP is wrong.
        var moved = tcp4()
        moved[19] = 3
        moved[10] = 0; moved[11] = 0
        let sum = PacketBuilder.internetChecksum(Array(moved[0..<20]))
        moved[10] = UInt8(sum >> 8); moved[11] = UInt8(sum & 0xff)
        XCTAssertEqual(status(.raw, moved), .badTCP)
    }

    func testBadIPv4HeaderWinsOverTCP() {
        var bad = tcp4()
        bad[8] = 1   // TTL changed, header checksum not updated
        XCTAssertEqual(status(.raw, bad), .badIPv4Header)
        // The outer header of an IP-in-IP tunnel counts too.
        var tunnel = PacketBuilder.tunnel(tcp4(), outerSrc: "192.0.2.1", outerDst: "192.0.2.2")
        XCTAssertEqual(status(.raw, tunnel), .valid)
        tunnel[8] = 1
        XCTAssertEqual(status(.raw, tunnel), .badIPv4Header)
    }

    func testOffloadPartialPattern() {
        let v4 = PacketBuilder.ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 2], protocol: 6, payload: [])
        let segment = PacketBuilder.tcpSegment(srcPort: 40000, dstPort: 80, payload: payload)
        let pseudo4 = [10, 0, 0, 1, 10, 0, 0, 2, 0, 6] + PacketBuilder.bigEndian(UInt16(segment.count))
        let packet4 = PacketBuilder.ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 2], protocol: 6, payload: segment)
        XCTAssertEqual(status(.raw, withTCPChecksum(packet4, tcpOffset: 20, pseudoHeaderFold(pseudo4))), .offloadPartial)
        XCTAssertEqual(v4.count, 20)
        // The complement (a finished checksum of the pseudo-header alone) is just wrong.
        XCTAssertEqual(status(.raw, withTCPChecksum(packet4, tcpOffset: 20, ~pseudoHeaderFold(pseudo4))), .badTCP)

        let source6 = PacketBuilder.parseAddress("2001:db8::1"), destination6 = PacketBuilder.parseAddress("2001:db8::2")
        let pseudo6 = source6 + destination6 + PacketBuilder.bigEndian(UInt32(segment.count)) + [0, 0, 0, 6]
        let packet6 = PacketBuilder.ipv6(src: source6, dst: destination6, nextHeader: 6, payload: segment)
        XCTAssertEqual(status(.raw, withTCPChecksum(packet6, tcpOffset: 40, pseudoHeaderFold(pseudo6))), .offloadPartial)
    }

    func testSnaplenCutIsUnverifiable() {
        let packet = tcp4()
        XCTAssertEqual(status(.raw, Array(packet.prefix(50)), originalLength: packet.count), .unverifiable)
    }

    func testSegmentationOffloadLengthZero() {
        // IPv4 total length 0 (TSO in a capture on the sender): the partial sum over the frame's
        // length is recognised; anything else is unverifiable, never bad.
        let segment = PacketBuilder.tcpSegment(srcPort: 40000, dstPort: 80, payload: payload)
        let packet = PacketBuilder.ipv4(src: [10, 0, 0, 1], dst: [10, 0, 0, 2], protocol: 6, payload: segment,
                                        totalLengthOverride: 0)
        let pseudo = [10, 0, 0, 1, 10, 0, 0, 2, 0, 6] + PacketBuilder.bigEndian(UInt16(segment.count))
        XCTAssertEqual(status(.raw, withTCPChecksum(packet, tcpOffset: 20, pseudoHeaderFold(pseudo))), .offloadPartial)
        XCTAssertEqual(status(.raw, withTCPChecksum(packet, tcpOffset: 20, 0x1234)), .unverifiable)
    }

    func testRoutingHeaderWithSegmentsLeftIsUnverifiable() {
        let packet = PacketBuilder.tcp(src: "[2001:db8::1]:1", dst: "[2001:db8::2]:2", payload: payload,
                                       extensionHeaders: [.routing(segmentsLeft: 1)])
        XCTAssertEqual(status(.raw, packet), .unverifiable)
        let done = PacketBuilder.tcp(src: "[2001:db8::1]:1", dst: "[2001:db8::2]:2", payload: payload,
                                     extensionHeaders: [.routing(segmentsLeft: 0)])
        XCTAssertEqual(status(.raw, done), .valid)
    }

    /// The claim behind `.offloadPartial`, on the corpus: every TCP packet tcpdump recorded on
    /// Linux `lo` holds the folded pseudo-header sum. The exceptions are the packets the
    /// adversarial scenarios forge through a raw socket, whose checksums the forger computed
    /// (right, or spoiled on purpose in `tcp-bad-checksum-fake-response`), and the Geneve and
    /// gretap captures, whose inner segments Open vSwitch's userspace datapath checksummed in full
    /// (the kernel's VXLAN in `tunnel-vxlan-websocket` leaves the partial sum like `lo`).
    func testLoopbackCapturesShowTheOffloadPattern() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Captures")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".pcap") }
        XCTAssertGreaterThan(files.count, 30)
        var verdicts: [ChecksumStatus: Int] = [:]
        let forged: [String: (valid: Int, bad: Int)] = [
            "tcp-overlap-conflict.pcap": (1, 0), "tcp-rst-ignored.pcap": (2, 0), "tcp-rst-not-honoured.pcap": (1, 0),
            "tcp-fin-not-honoured.pcap": (1, 0), "tcp-low-ttl-data.pcap": (1, 0), "tcp-syn-data-not-acknowledged.pcap": (1, 0),
            "tcp-bad-checksum-fake-response.pcap": (0, 1),
            "tunnel-geneve-websocket.pcap": (14, 0), "tunnel-gretap-websocket.pcap": (14, 0),
        ]
        for file in files {
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            var decoder = PacketDecoder(verifiesChecksums: true)
            var valid = 0, bad = 0
            _ = MinimalPcapReader.forEachPacket(in: data) { linkType, bytes, originalLength in
                guard case .tcp(let segment) = decoder.decode(linkType: linkType, bytes: bytes,
                                                              originalLength: originalLength) else { return }
                verdicts[segment.checksum, default: 0] += 1
                if segment.checksum == .valid { valid += 1 }
                if segment.checksum == .badTCP { bad += 1 }
            }
            XCTAssertEqual(valid, forged[file]?.valid ?? 0, file)
            XCTAssertEqual(bad, forged[file]?.bad ?? 0, file)
        }
        XCTAssertEqual(Set(verdicts.keys), [.offloadPartial, .valid, .badTCP], "\(verdicts)")
    }
}
