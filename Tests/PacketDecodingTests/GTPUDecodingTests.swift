import XCTest
import PacketCapture
import TestSupport
@testable import PacketDecoding

/// GTP-U tunnels (3GPP TS 29.281): the inner IP packet is decoded like any other.
final class GTPUDecodingTests: XCTestCase {
    private func udp(srcPort: UInt16, dstPort: UInt16, _ payload: [UInt8]) -> [UInt8] {
        PacketBuilder.bigEndian(srcPort) + PacketBuilder.bigEndian(dstPort)
            + PacketBuilder.bigEndian(UInt16(8 + payload.count)) + [0, 0] + payload
    }

    private func gtp(_ inner: [UInt8], extensionHeader: Bool = false, messageType: UInt8 = 0xFF) -> [UInt8] {
        var header: [UInt8] = [extensionHeader ? 0x34 : 0x30, messageType]
        let extra: [UInt8] = extensionHeader ? [0, 0, 0, 0x85, 1, 0x10, 0x09, 0x00] : []
        header += PacketBuilder.bigEndian(UInt16(extra.count + inner.count)) + [0, 0, 0, 1] + extra
        return header + inner
    }

    /// The payload is copied out (`Decoded`): a segment's payload points into the frame's
    /// bytes, which are gone once `withUnsafeBytes` returns.
    private func decode(_ frame: [UInt8]) -> Decoded {
        decodeOnce(.ethernet, frame)
    }

    func testInnerTCPInsideGTPUIsDecoded() {
        let inner = PacketBuilder.tcp(src: "10.140.206.74:34536", dst: "18.135.206.102:80", seq: 7,
                                      flags: 0x18, payload: Array("GET / HTTP/1.1\r\n\r\n".utf8))
        for withExtension in [false, true] {
            let outer = PacketBuilder.ipv4(src: "10.134.25.5", dst: "10.132.15.176", protocol: 17,
                                           payload: udp(srcPort: 2152, dstPort: 2152, gtp(inner, extensionHeader: withExtension)))
            guard case .tcp(let segment) = decode(PacketBuilder.ethernet(outer)) else {
                return XCTFail("GTP-U not unwrapped (extension header: \(withExtension))")
            }
            XCTAssertEqual(segment.source, "10.140.206.74:34536")
            XCTAssertEqual(segment.destination, "18.135.206.102:80")
            XCTAssertEqual(segment.payload, Array("GET / HTTP/1.1\r\n\r\n".utf8))
        }
    }

    func testOtherUDPAndOtherGTPMessagesAreNonTCP() {
        let inner = PacketBuilder.tcp(src: "10.0.0.1:1", dst: "10.0.0.2:80", payload: [1])
        let plainUDP = PacketBuilder.ipv4(src: "10.0.0.1", dst: "10.0.0.2", protocol: 17,
                                          payload: udp(srcPort: 53, dstPort: 53, gtp(inner)))
        let echoRequest = PacketBuilder.ipv4(src: "10.0.0.1", dst: "10.0.0.2", protocol: 17,
                                             payload: udp(srcPort: 2152, dstPort: 2152, gtp(inner, messageType: 1)))
        for frame in [plainUDP, echoRequest] {
            guard case .skipped(.nonTCP) = decode(PacketBuilder.ethernet(frame)) else { return XCTFail("expected nonTCP") }
        }
    }
}
