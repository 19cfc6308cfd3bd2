import Foundation
import PacketCapture
import PacketDecoding
import XCTest

/// Decodes real captures from other projects' test suites (in `../shared/captures-real`
/// next to the repository; skipped when absent).
///
/// The expected numbers come from tshark 4.x:
/// `tshark -r FILE -o ip.defragment:FALSE -o ipv6.defragment:FALSE -Y 'tcp && !icmp && !icmpv6' | wc -l`
/// for the TCP packet count, the same with `-T fields -e tcp.len` summed for the payload bytes, and
/// `-T fields -e ip.src -e ipv6.src -e tcp.srcport …` for the first segment. (Plain `-Y tcp` also
/// counts TCP headers quoted inside ICMP errors: 77 instead of 75 in 6in4tunnel.pcap.)
final class RealCaptureDecodingTests: XCTestCase {
    struct Expectation {
        var path: String
        var packets: Int
        var tcpSegments: UInt64
        var nonTCP: UInt64 = 0
        var payloadBytes: Int
        var firstFrame: Int
        var first: String
    }

    static let expectations: [Expectation] = [
        Expectation(path: "arkime/twovlan.pcap", packets: 6, tcpSegments: 6, payloadBytes: 4457, firstFrame: 1,
                    first: "10.0.0.1:54422 > 10.0.0.2:80 seq 3240623591 ack 0 flags 2 win 29200"),
        Expectation(path: "suricata-verify/decode-sll2-01/input.pcap", packets: 5, tcpSegments: 5, payloadBytes: 82,
                    firstFrame: 1,
                    first: "192.168.1.253:56478 > 192.168.1.21:80 seq 2332771219 ack 0 flags 2 win 64240"),
        Expectation(path: "suricata-verify/websocket-ping/input.pcap", packets: 19, tcpSegments: 19, payloadBytes: 381,
                    firstFrame: 1, first: "127.0.0.1:55371 > 127.0.0.1:10301 seq 1326362267 ack 0 flags 2 win 32792"),
        // 46 ICMPv6 + 2 ICMPv6 errors quoting TCP + 4 DNS over the tunnel.
        Expectation(path: "nDPI/6in4tunnel.pcap", packets: 127, tcpSegments: 75, nonTCP: 52, payloadBytes: 23597,
                    firstFrame: 22,
                    first: "[2001:470:1f17:13f:3e97:eff:fe73:4dec]:53234 > [2a03:2880:1010:6f03:face:b00c:0:2]:443"
                        + " seq 662001836 ack 0 flags 2 win 28800"),
        Expectation(path: "zeek/nflog-http.pcap", packets: 13, tcpSegments: 13, payloadBytes: 1682, firstFrame: 1,
                    first: "10.0.2.15:49762 > 93.184.216.34:80 seq 1060289233 ack 0 flags 2 win 29200"),
        // 5 of the TCP packets carry an atomic fragment header (RFC 6946); 2 are ICMPv6.
        Expectation(path: "zeek/ipv6-http-atomic-frag.pcap", packets: 38, tcpSegments: 36, nonTCP: 2, payloadBytes: 412,
                    firstFrame: 3,
                    first: "[2001:db8:1::1]:80 > [2001:db8:1::2]:36951 seq 3185309716 ack 3810442575 flags 18 win 5760"),
        // Tunnels: the inner TCP packets, as tshark decodes them.
        Expectation(path: "zeek/tunnels/vxlan-encapsulated-http.pcap", packets: 12, tcpSegments: 12, payloadBytes: 9299,
                    firstFrame: 1, first: "172.16.11.201:40354 > 54.86.237.188:80 seq 1521476008 ack 0 flags 2 win 64240"),
        Expectation(path: "zeek/tunnels/geneve-many-options.pcap", packets: 10, tcpSegments: 10, payloadBytes: 658,
                    firstFrame: 1, first: "10.0.0.226:39088 > 95.217.228.176:80 seq 2448085449 ack 0 flags 2 win 64860"),
        // Aruba access point to controller: 802.11 QoS data frames in GRE type 0x8200.
        Expectation(path: "zeek/tunnels/gre-aruba.pcap", packets: 2407, tcpSegments: 2407, payloadBytes: 22049,
                    firstFrame: 1, first: "10.37.36.92:58973 > 205.185.216.10:80 seq 99019035 ack 3561511680 flags 17 win 16534"),
        // GRE in UDP port 4754 (RFC 8086); 4 packets are DNS inside the tunnel.
        Expectation(path: "zeek/tunnels/gre-over-udp-4754.pcap", packets: 14, tcpSegments: 10, nonTCP: 4, payloadBytes: 451,
                    firstFrame: 5, first: "172.17.0.2:36518 > 192.0.78.150:80 seq 292259930 ack 0 flags 2 win 64240"),
        // AYIYA (UDP 5072) carrying IPv6; 11 ICMPv6 and 3 heartbeats without a packet.
        Expectation(path: "zeek/tunnels/ayiya3.pcap", packets: 35, tcpSegments: 21, nonTCP: 14, payloadBytes: 7646,
                    firstFrame: 12,
                    first: "[2001:4978:f:4c::2]:53382 > [2001:4860:b002::68]:80 seq 1529527881 ack 0 flags 2 win 65535"),
        Expectation(path: "suricata-verify/bug-4810/pppoe-session-http.pcap", packets: 30, tcpSegments: 30, payloadBytes: 15508,
                    firstFrame: 1, first: "10.100.0.0:57013 > 142.250.179.131:80 seq 3569186388 ack 0 flags 2 win 65228"),
    ]

    static let capturesDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/captures-real")

    func testRealCapturesDecode() throws {
        guard FileManager.default.fileExists(atPath: Self.capturesDirectory.path) else {
            throw XCTSkip("no real captures at \(Self.capturesDirectory.path)")
        }
        for expectation in Self.expectations {
            let url = Self.capturesDirectory.appendingPathComponent(expectation.path)
            guard let data = try? Data(contentsOf: url) else {
                XCTFail("cannot read \(expectation.path)")
                continue
            }
            var decoder = PacketDecoder()
            var packets = 0, payloadBytes = 0
            var first: String?
            var firstFrame = 0
            let complete = MinimalPcapReader.forEachPacket(in: data) { linkType, bytes, originalLength in
                packets += 1
                guard case .tcp(let segment) = decoder.decode(linkType: linkType, bytes: bytes,
                                                              originalLength: originalLength) else { return }
                XCTAssertEqual(segment.missingPayloadLength, 0, expectation.path)
                payloadBytes += segment.payload.count
                if first == nil {
                    firstFrame = packets
                    first = "\(segment.source) > \(segment.destination) seq \(segment.sequenceNumber) "
                        + "ack \(segment.acknowledgmentNumber) flags \(segment.flags.rawValue) win \(segment.window)"
                }
            }
            XCTAssertTrue(complete, "\(expectation.path) is not a readable classic pcap")
            XCTAssertEqual(packets, expectation.packets, expectation.path)
            XCTAssertEqual(decoder.counters.tcpSegments, expectation.tcpSegments, expectation.path)
            XCTAssertEqual(decoder.counters[.nonTCP], expectation.nonTCP, expectation.path)
            XCTAssertEqual(decoder.counters.total, UInt64(expectation.packets), expectation.path)
            XCTAssertEqual(payloadBytes, expectation.payloadBytes, expectation.path)
            XCTAssertEqual(firstFrame, expectation.firstFrame, expectation.path)
            XCTAssertEqual(first, expectation.first, expectation.path)
        }
    }
}

/// Just enough of classic pcap (24-byte file header, 16-byte record headers, either byte order)
/// to feed real files to the decoder without the capture reader.
enum MinimalPcapReader {
    /// Calls `body` for each record; returns false if the file is not pcap or ends mid-record.
    static func forEachPacket(in data: Data,
                              _ body: (LinkType, UnsafeRawBufferPointer, Int) -> Void) -> Bool {
        data.withUnsafeBytes { file in
            guard file.count >= 24 else { return false }
            let magic = file.loadUnaligned(fromByteOffset: 0, as: UInt32.self)
            let swapped: Bool
            switch magic {
            case 0xa1b2_c3d4, 0xa1b2_3c4d: swapped = false
            case 0xd4c3_b2a1, 0x4d3c_b2a1: swapped = true
            default: return false
            }
            func u32(_ offset: Int) -> Int {
                let value = file.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
                return Int(swapped ? value.byteSwapped : value)
            }
            let linkType = LinkType.fromFileValue(UInt32(u32(20) & 0x0fff_ffff))
            var offset = 24
            while offset < file.count {
                guard file.count - offset >= 16 else { return false }
                let capturedLength = u32(offset + 8), originalLength = u32(offset + 12)
                guard file.count - offset - 16 >= capturedLength else { return false }
                body(linkType, UnsafeRawBufferPointer(rebasing: file[(offset + 16)..<(offset + 16 + capturedLength)]),
                     originalLength)
                offset += 16 + capturedLength
            }
            return true
        }
    }
}
