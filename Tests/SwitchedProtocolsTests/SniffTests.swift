import Findings
import Foundation
@testable import SwitchedProtocols
import XCTest

final class SniffTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func fixture(_ name: String) throws -> [UInt8] {
        let url = fixtures.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("fixture \(name) absent") }
        return [UInt8](try Data(contentsOf: url))
    }

    func assertSniff(_ client: [UInt8], _ server: [UInt8], _ observed: ObservedProtocol, _ confidence: SniffConfidence,
                     file: StaticString = #filePath, line: UInt = #line) {
        let result = ProtocolSniffer.sniff(client: client, server: server)
        XCTAssertEqual(result.observed, observed, result.reason, file: file, line: line)
        XCTAssertEqual(result.confidence, confidence, result.reason, file: file, line: line)
    }

    func testHTTP2() throws {
        assertSniff(clientStart, serverStart, .http2, .high)
        assertSniff(HTTP2.clientPreface, [], .http2, .high)
        assertSniff(Array(HTTP2.clientPreface.prefix(8)), [], .http2, .medium)
        assertSniff([], http2Frame(4, settingsPayload([(3, 100)])) + http2Frame(4, flags: 1), .http2, .medium)
        assertSniff([], http2Frame(1, flags: 4, stream: 1, [0x88]), .unknown, .low)
        assertSniff(try Self.fixture("HTTP2-keywords2-client.bin"), try Self.fixture("HTTP2-keywords2-server.bin"), .http2, .high)
        assertSniff(try Self.fixture("Sniff-switch-protocol-mismatch-client.bin"), [], .http2, .high)
    }

    func testTLS() throws {
        let client = try Self.fixture("Sniff-tls-client.bin"), server = try Self.fixture("Sniff-tls-server.bin")
        assertSniff(client, server, .tls, .high)
        assertSniff(client, [], .tls, .high)
        assertSniff([], server, .tls, .high)
        assertSniff([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28], [], .tls, .medium)     // an alert record
        assertSniff([0x80, 0x2E, 0x01, 0x03, 0x01], [], .tls, .medium)                 // SSL 2.0-compatible hello
        assertSniff([0x16, 0x03, 0x07, 0x00, 0x10, 0x01], [], .unknown, .low)          // version 3.7
        assertSniff([0x16, 0x03, 0x01, 0x00, 0x00, 0x01], [], .unknown, .low)          // empty record
    }

    func testSSH() {
        assertSniff(Array("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".utf8), Array("SSH-2.0-Go\r\n".utf8), .ssh, .high)
        assertSniff([], Array("SSH-1.99-Cisco-1.25\r\n".utf8), .ssh, .high)
        assertSniff(Array("SSH-3.0-x\r\n".utf8), [], .ssh, .medium)
    }

    func testDocker() throws {
        assertSniff(try Self.fixture("Docker-attach-multiplexed-client.bin"), try Self.fixture("Docker-attach-multiplexed-server.bin"),
                    .dockerMultiplexed, .high)
        assertSniff([], [1, 0, 0, 0, 0, 0, 0, 5] + Array("hello".utf8), .dockerMultiplexed, .medium)
        XCTAssertNotEqual(ProtocolSniffer.sniff(client: [], server: [2, 0, 0, 0, 0, 0, 0, 1, 0x41, 9, 0, 0, 0, 0, 0, 0, 1]).observed,
                          .dockerMultiplexed)   // bad second header
        // A raw (TTY) stream is not multiplexed.
        let raw = ProtocolSniffer.sniff(client: try Self.fixture("Docker-attach-tcp-client.bin"),
                                        server: try Self.fixture("Docker-attach-tcp-server.bin"))
        XCTAssertNotEqual(raw.observed, .dockerMultiplexed)
    }

    func testHTTP1() {
        assertSniff([], Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8), .http1, .high)
        assertSniff(Array("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n".utf8), [], .http1, .high)
        assertSniff(Array("POST /a-very-long-target-that-does-not-end-within-the-bytes".utf8), [], .http1, .medium)
        assertSniff(Array("FOO /x HTTP/1.0\r\n".utf8), [], .http1, .high)
        assertSniff(Array("hello docker\n".utf8), [], .unknown, .low)
    }

    func testWebSocketCraftedFrames() {
        let clientText: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]   // RFC 6455 §5.7
        let serverText: [UInt8] = [0x81, 0x05] + Array("Hello".utf8)
        assertSniff(clientText, serverText, .websocket, .high)
        assertSniff(clientText, [], .websocket, .medium)
        assertSniff(clientText + [0x88, 0x82, 1, 2, 3, 4, 5, 6], [], .websocket, .high)
        assertSniff([], serverText, .websocket, .low)
        assertSniff([], serverText + [0x89, 0x00], .websocket, .medium)
        // Masked from the server / unmasked from the client / reserved opcode / RSV2: not WebSocket-shaped.
        assertSniff([], [0x81, 0x85, 1, 2, 3, 4, 5], .unknown, .low)
        assertSniff([0x81, 0x05] + Array("Hello".utf8), [], .unknown, .low)
        assertSniff([0x83, 0x80, 1, 2, 3, 4], [], .unknown, .low)
        assertSniff([0xA1, 0x80, 1, 2, 3, 4], [], .unknown, .low)
        // A fragmented control frame.
        assertSniff([0x09, 0x80, 1, 2, 3, 4], [], .unknown, .low)
        // One side breaking RFC 6455 does not hide the other's valid frames.
        assertSniff(clientText, [0x81, 0x85, 1, 2, 3, 4, 5], .websocket, .low)
    }

    /// Every real WebSocket connection among the fixtures (post-101 bytes) sniffs as WebSocket.
    /// Two real clients send unmasked frames (monit's pong, wstunnel), which leaves only the
    /// server's side as evidence: low confidence.
    func testWebSocketRealCaptures() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path)
            .filter { $0.hasSuffix(".server.bin") }.map { String($0.dropLast(".server.bin".count)) }.sorted()
        guard !names.isEmpty else { throw XCTSkip("no WebSocket fixtures") }
        for name in names {
            let client = try Self.fixture(name + ".client.bin"), server = try Self.fixture(name + ".server.bin")
            let result = ProtocolSniffer.sniff(client: client, server: server)
            XCTAssertEqual(result.observed, .websocket, "\(name): \(result.reason)")
            let unmaskedClient = ["suricata-verify_websocket-ping_input", "zeek_wstunnel-http"].contains(name)
            if unmaskedClient {
                XCTAssertEqual(result.confidence, .low, name)
                XCTAssertFalse(ProtocolSniffer.isCompatible(.websocket, client: client, server: server), name)
            } else {
                if !client.isEmpty && !server.isEmpty { XCTAssertGreaterThanOrEqual(result.confidence, .medium, name) }
                XCTAssertTrue(ProtocolSniffer.isCompatible(.websocket, client: client, server: server), name)
            }
            XCTAssertNil(ProtocolSniffer.checkSwitch(agreedProtocol: "websocket", client: client, server: server,
                                                     frame: 1, timestamp: testTimestamp), name)
        }
    }

    func testUnknownAndEvidence() {
        let result = ProtocolSniffer.sniff(client: [0xDE, 0xAD, 0xBE, 0xEF], server: [])
        XCTAssertEqual(result.observed, .unknown)
        XCTAssertEqual(result.evidence["observed_protocol"], .text("unknown"))
        XCTAssertEqual(result.evidence["client_first_bytes"], .bytes([0xDE, 0xAD, 0xBE, 0xEF]))
        XCTAssertNil(result.evidence["server_first_bytes"])
        let long = ProtocolSniffer.sniff(client: [UInt8](repeating: 0x41, count: 500), server: [])
        XCTAssertEqual(long.evidence["client_first_bytes"], .bytes([UInt8](repeating: 0x41, count: 64)))
        assertSniff([], [], .unknown, .low)
    }

    func testSwitchMismatch() throws {
        let client = try Self.fixture("Sniff-switch-protocol-mismatch-client.bin")
        let violation = try XCTUnwrap(ProtocolSniffer.checkSwitch(agreedProtocol: "websocket", client: client, server: [],
                                                                  frame: 9, timestamp: testTimestamp))
        XCTAssertEqual(violation.rule.id, "switch_protocol_mismatch")
        XCTAssertEqual(violation.frame, 9)
        XCTAssertEqual(violation.evidence["agreed_protocol"], .text("websocket"))
        XCTAssertEqual(violation.evidence["observed_protocol"], .text("http2"))
        XCTAssertEqual(violation.message,
                       "The 101 agreed on websocket but the bytes after the switch are http2: the client sent the HTTP/2 connection preface.")

        let cases: [(agreed: String, client: [UInt8], server: [UInt8], mismatch: Bool)] = [
            ("h2c", clientStart, serverStart, false),
            ("h2c", [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58], [], true),
            ("h2c", Array("GET / HTTP/1.1\r\n\r\n".utf8), [], true),
            ("h2c", [0xDE, 0xAD], [], false),                                    // unknown bytes: not this rule
            ("websocket", [], Array("HTTP/1.1 200 OK\r\n\r\n".utf8), true),
            ("WebSocket", [], [0x81, 0x02, 0x68, 0x69], false),
            ("TLS/1.2", Array("this is not a TLS ClientHello\r\n".utf8), [], false),
            ("TLS/1.2", Array("GET / HTTP/1.1\r\n\r\n".utf8), [], true),
            ("tls/1.0", try Self.fixture("Sniff-tls-client.bin"), [], false),
            ("tcp", clientStart, [], false),                                     // Docker's token: anything goes
            ("foo", clientStart, [], false),
            ("websocket", Array(HTTP2.clientPreface.prefix(3)), [], false),      // too few bytes to tell
        ]
        for entry in cases {
            let violation = ProtocolSniffer.checkSwitch(agreedProtocol: entry.agreed, client: entry.client, server: entry.server,
                                                        frame: 1, timestamp: testTimestamp)
            XCTAssertEqual(violation != nil, entry.mismatch, "\(entry.agreed) \(violation?.message ?? "")")
        }
        XCTAssertEqual(ProtocolSniffer.expectedProtocol(forUpgradeToken: "TLS/1.3"), .tls)
        XCTAssertNil(ProtocolSniffer.expectedProtocol(forUpgradeToken: "tcp"))
    }
}
