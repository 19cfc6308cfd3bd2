import Findings
import PacketCapture
import SwitchedProtocols
import XCTest

/// permessage-deflate (RFC 7692) in the WebSocket session: messages with RSV1 inflated, their
/// text validated and their first bytes sniffed after inflation. Compressed payloads were made
/// with Python's zlib (raw deflate, Z_SYNC_FLUSH, 00 00 ff ff removed).
final class WebSocketInflationTests: XCTestCase {
    let time = Timestamp(seconds: 1_700_000_000, nanoseconds: 0)

    /// RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello", then "Hello" again with context takeover.
    static let hello = hexBytes("f248cdc9c90700")
    static let helloAgain = hexBytes("f200110000")
    /// "caf\xc3(": an invalid UTF-8 sequence once inflated.
    static let badUTF8 = hexBytes("4a4e4c3bac0100")
    /// "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".
    static let sshBanner = hexBytes("0a0ef6d035d233d0f52f48cd0b0ef688b7d4332a305470494dca4cccd335e2e50200")
    /// 100,000 zeros (level 9).
    static let zeros = hexBytes("ecc13101000000c2a0f54f6d0d0fa0" + String(repeating: "00", count: 96) + "805703")

    func negotiation(_ parameters: String = "permessage-deflate") -> WebSocketNegotiation {
        let element = WebSocketExtension.parse([parameters]).extensions[0]
        return WebSocketNegotiation(extensions: [element], permessageDeflate: PerMessageDeflateParameters(element))
    }

    func compressed(_ opcode: UInt8, _ payload: [UInt8], mask: UInt32? = nil, fin: Bool = true) -> [UInt8] {
        frame(opcode, payload, fin: fin, rsv: 0b100, mask: mask)
    }

    func testContextTakeoverAcrossMessages() {
        let session = WebSocketSession(negotiation: negotiation())
        session.serverData(compressed(1, Self.hello) + compressed(1, Self.helloAgain), frame: 1, timestamp: time)
        XCTAssertEqual(session.takeViolations(), [])
        let summary = session.summary
        XCTAssertEqual(summary["server_inflated_messages"], .integer(2))
        XCTAssertEqual(summary["server_inflated_bytes"], .integer(10))
        XCTAssertEqual(session.firstMessageBytes.server, Array("Hello".utf8))
    }

    func testNoContextTakeoverCannotReadAMessageBuiltOnTheLastOne() {
        let session = WebSocketSession(negotiation: negotiation("permessage-deflate; server_no_context_takeover"))
        session.serverData(compressed(1, Self.hello) + compressed(1, Self.helloAgain) + compressed(1, Self.hello),
                           frame: 1, timestamp: time)
        let violations = session.takeViolations()
        XCTAssertEqual(violations.map(\.rule.id), ["websocket_inflate_failed"])
        XCTAssertEqual(violations.first?.evidence["inflate_error"], .text("distance_too_far_back"))
        // Each message starts afresh: the third inflates again.
        XCTAssertEqual(session.summary["server_inflated_messages"], .integer(2))
        XCTAssertNil(session.summary["server_inflation_stopped"])
    }

    func testAFailureWithContextTakeoverStopsTheDirection() {
        let session = WebSocketSession(negotiation: negotiation())
        session.clientData(compressed(1, [0xFF, 0xFF], mask: 0x1234_5678) + compressed(1, Self.hello, mask: 0x0BAD_F00D),
                           frame: 3, timestamp: time)
        let violations = session.takeViolations()
        XCTAssertEqual(violations.map(\.rule.id), ["websocket_inflate_failed"])
        XCTAssertEqual(violations.first?.evidence["inflate_error"], .text("invalid_block_type"))
        XCTAssertEqual(violations.first?.evidence["compressed_offset"], .integer(0))
        XCTAssertEqual(session.summary["client_compressed_messages"], .integer(2))
        XCTAssertEqual(session.summary["client_inflated_messages"], .integer(0))
        XCTAssertEqual(session.summary["client_inflation_stopped"], .text("inflation failed at offset 0"))
    }

    func testInvalidUTF8AfterInflation() {
        let session = WebSocketSession(negotiation: negotiation())
        session.serverData(compressed(1, Self.badUTF8), frame: 1, timestamp: time)
        let violations = session.takeViolations()
        XCTAssertEqual(violations.map(\.rule.id), ["websocket_invalid_utf8"])
        XCTAssertEqual(violations.first?.evidence["utf8_error_offset"], .integer(4))
        // Binary messages are not text: no check.
        let binary = WebSocketSession(negotiation: negotiation())
        binary.serverData(compressed(2, Self.badUTF8), frame: 1, timestamp: time)
        XCTAssertEqual(binary.takeViolations(), [])
    }

    func testInnerProtocolIsSniffedOnTheInflatedPayload() {
        let session = WebSocketSession(negotiation: negotiation())
        session.clientData(compressed(2, Self.sshBanner, mask: 0x1122_3344), frame: 3, timestamp: time)
        XCTAssertEqual(session.firstMessageBytes.client, Array("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".utf8))
        XCTAssertEqual(session.observedInner?.observed, .ssh)
        // Without the extension the same bytes are an RSV violation and are not inflated.
        let plain = WebSocketSession()
        plain.clientData(compressed(2, Self.sshBanner, mask: 0x1122_3344), frame: 3, timestamp: time)
        XCTAssertEqual(plain.takeViolations().map(\.rule.id), ["websocket_rsv_without_extension"])
        XCTAssertNil(plain.observedInner)
    }

    func testBudgetStopsADecompressionBomb() {
        let limits = WebSocketSession.Limits(maxInflatedMessageBytes: 65536)
        let session = WebSocketSession(negotiation: negotiation(), limits: limits)
        session.serverData(compressed(1, Self.zeros) + compressed(1, Self.hello), frame: 1, timestamp: time)
        let violations = session.takeViolations()
        XCTAssertEqual(violations.map(\.rule.id), ["websocket_decompression_bomb"])
        XCTAssertEqual(violations.first?.evidence["limit"], .text("max_inflated_message_bytes"))
        XCTAssertEqual(violations.first?.evidence["max"], .integer(65536))
        XCTAssertEqual(session.summary["server_inflated_bytes"], .integer(65536))
        XCTAssertNotNil(session.summary["server_inflation_stopped"])
        // With the default budget the 100,000 zeros are fine.
        let roomy = WebSocketSession(negotiation: negotiation())
        roomy.serverData(compressed(1, Self.zeros), frame: 1, timestamp: time)
        XCTAssertEqual(roomy.takeViolations(), [])
        XCTAssertEqual(roomy.summary["server_inflated_bytes"], .integer(100_000))
    }

    func testInflaterMemoryBudgetIsSharedAndReleased() {
        let budget = InflaterMemoryBudget(limit: 100_000)  // room for one inflater (about 72 KiB)
        var first: WebSocketSession? = WebSocketSession(negotiation: negotiation(),
                                                        limits: .init(inflaterMemory: budget))
        first?.serverData(compressed(1, Self.hello), frame: 1, timestamp: time)
        XCTAssertEqual(first?.takeViolations(), [])
        let second = WebSocketSession(negotiation: negotiation(), limits: .init(inflaterMemory: budget))
        second.serverData(compressed(1, Self.hello), frame: 2, timestamp: time)
        let violations = second.takeViolations()
        XCTAssertEqual(violations.map(\.rule.id), ["analyzer_limit_reached"])
        XCTAssertEqual(violations.first?.evidence["limit"], .text("inflater_memory"))
        first = nil
        XCTAssertEqual(budget.used, 0)
        XCTAssertGreaterThan(budget.peak, 70_000)
    }

    /// A fragmented compressed message (RSV1 on the first frame only), fed in every split.
    func testFragmentedMessageFedSplitAtEveryPoint() {
        let fragments = compressed(1, Array(Self.sshBanner[..<10]), mask: 0x0102_0304, fin: false)
            + frame(0, Array(Self.sshBanner[10...]), mask: 0x0506_0708)
            + compressed(1, Self.hello, mask: 0x0A0B_0C0D)
        var outcomes: Set<String> = []
        for cut in 0...fragments.count {
            let session = WebSocketSession(negotiation: negotiation())
            session.clientData(Array(fragments[..<cut]), frame: 1, timestamp: time)
            session.clientData(Array(fragments[cut...]), frame: 2, timestamp: time)
            XCTAssertEqual(session.takeViolations(), [], "cut at \(cut)")
            outcomes.insert("\(session.summary["client_inflated_bytes"]!) \(session.firstMessageBytes.client)")
        }
        XCTAssertEqual(outcomes.count, 1)
        XCTAssertEqual(outcomes.first, "\(EvidenceValue.integer(37)) \(Array("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".utf8))")
    }

    func testParametersChooseWindowAndTakeover() {
        let client = WebSocketInflation(fromClient: true, negotiation: negotiation(
            "permessage-deflate; client_max_window_bits=10; client_no_context_takeover"))
        XCTAssertEqual(client, WebSocketInflation(windowBits: 10, contextTakeover: false))
        let server = WebSocketInflation(fromClient: false, negotiation: negotiation(
            "permessage-deflate; client_max_window_bits=10; client_no_context_takeover"))
        XCTAssertEqual(server, WebSocketInflation(windowBits: 15, contextTakeover: true))
        var both = negotiation()
        both.extensions.append(WebSocketExtension(name: "x-other"))
        XCTAssertNil(WebSocketInflation(fromClient: true, negotiation: both))
    }
}
