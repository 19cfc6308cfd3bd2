import Findings
import PacketCapture
import SwitchedProtocols
import XCTest

final class WebSocketSessionTests: XCTestCase {
    let time = Timestamp(seconds: 1_700_000_000, nanoseconds: 5)

    func testViolationFields() {
        let session = WebSocketSession()
        session.clientData(text("hi"), frame: 12, timestamp: time)
        let violations = session.takeViolations()
        XCTAssertEqual(violations.count, 1)
        let violation = violations[0]
        XCTAssertEqual(violation.rule, .websocketUnmaskedClientFrame)
        XCTAssertEqual(violation.frame, 12)
        XCTAssertEqual(violation.timestamp, time)
        XCTAssertEqual(violation.direction, "client_to_server")
        XCTAssertEqual(violation.evidence["opcode"], .text("text"))
        XCTAssertEqual(violation.evidence["header_bytes"], .bytes([0x81, 0x02]))
        XCTAssertEqual(violation.evidence["stream_offset"], .integer(0))
        XCTAssertTrue(session.takeViolations().isEmpty, "taken once")
    }

    /// The frame reported is the capture frame in which the issue became visible.
    func testFrameOfASplitIssue() {
        let session = WebSocketSession()
        let bytes = frame(1, [0x61, 0xE2], fin: false) + frame(0, [0x82, 0x41])
        session.serverData(Array(bytes[..<5]), frame: 1, timestamp: time)
        session.serverData(Array(bytes[5...]), frame: 2, timestamp: time)
        let violations = session.takeViolations()
        XCTAssertEqual(violations.map(\.rule.id), ["websocket_invalid_utf8"])
        XCTAssertEqual(violations.first?.frame, 2)
        XCTAssertEqual(violations.first?.evidence["utf8_error_offset"], .integer(3))
    }

    func testFindingsPerRuleAreBounded() {
        let session = WebSocketSession(limits: .init(maxFindingsPerRule: 100))
        var bytes: [UInt8] = []
        for _ in 0..<150 { bytes += text("x") }
        bytes += frame(3)  // another rule still reported after the first one's limit
        session.clientData(bytes, frame: 1, timestamp: time)
        let violations = session.takeViolations()
        XCTAssertEqual(violations.filter { $0.rule == .websocketUnmaskedClientFrame }.count, 100)
        XCTAssertEqual(violations.filter { $0.rule == .analyzerLimitReached }.count, 1)
        XCTAssertEqual(violations.filter { $0.rule == .websocketReservedOpcode }.count, 1)
        XCTAssertEqual(violations[100].rule, .analyzerLimitReached)
        XCTAssertEqual(violations[100].evidence["rule"], .text("websocket_unmasked_client_frame"))
        XCTAssertEqual(session.suppressedPerRule["websocket_unmasked_client_frame"], 51)  // 150 text + 1 reserved frame
        XCTAssertEqual(session.summary["findings_suppressed"], .integer(51))
        XCTAssertEqual(session.clientStatistics.frames, 151)
    }

    func testCloseSummary() {
        let session = WebSocketSession()
        session.clientData(text("hello", mask: 0x0102_0304), frame: 1, timestamp: time)
        session.serverData(text("hello back"), frame: 2, timestamp: time)
        session.clientData(frame(8, closePayload(1001, Array("going away".utf8)), mask: 0x0506_0708), frame: 3, timestamp: time)
        session.serverData(frame(8, closePayload(1000)), frame: 4, timestamp: time)
        session.finish()
        XCTAssertEqual(session.takeViolations().map(\.rule.id), [])
        let summary = session.summary
        XCTAssertEqual(summary["client_close_code"], .integer(1001))
        XCTAssertEqual(summary["client_close_reason"], .text("going away"))
        XCTAssertEqual(summary["server_close_code"], .integer(1000))
        XCTAssertNil(summary["server_close_reason"])
        XCTAssertEqual(summary["closed_first"], .text("client"))
        XCTAssertEqual(summary["client_frames"], .integer(2))
        XCTAssertEqual(summary["client_frames_text"], .integer(1))
        XCTAssertEqual(summary["client_frames_close"], .integer(1))
        XCTAssertEqual(summary["server_messages_text"], .integer(1))
        XCTAssertEqual(summary["client_bytes"], .integer(11 + 18))
        XCTAssertEqual(summary["client_payload_bytes"], .integer(5 + 12))
        XCTAssertEqual(session.totalFrames, 4)
    }

    func testCloseCodeTable() {
        let table: [(UInt16, Bool)] = [(1000, true), (1001, true), (1003, true), (1004, false), (1005, false), (1006, false),
                                       (1007, true), (1011, true), (1014, true), (1015, false), (1016, false), (2999, false),
                                       (999, false), (0, false), (3000, true), (4000, true), (4999, true), (5000, false),
                                       (65535, false)]
        for (code, valid) in table {
            let session = WebSocketSession()
            session.serverData(frame(8, closePayload(code)), frame: 1, timestamp: time)
            XCTAssertEqual(session.takeViolations().map(\.rule.id), valid ? [] : ["websocket_bad_close"], "\(code)")
            XCTAssertEqual(session.summary["server_close_code"], .integer(Int64(code)))
        }
    }

    func testNegotiatedDeflateMakesRSV1LegalAndSkipsUTF8() {
        let deflate = WebSocketNegotiation(extensions: [WebSocketExtension(name: "permessage-deflate")],
                                           permessageDeflate: PerMessageDeflateParameters())
        let compressedText = frame(1, [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], rsv: 0b100, mask: 0x0A0B_0C0D)
        let session = WebSocketSession(negotiation: deflate)
        session.clientData(compressedText, frame: 1, timestamp: time)
        XCTAssertEqual(session.takeViolations().map(\.rule.id), [])
        XCTAssertEqual(session.summary["client_compressed_messages"], .integer(1))
        XCTAssertEqual(session.summary["extensions"], .texts(["permessage-deflate"]))

        let plain = WebSocketSession()
        plain.clientData(compressedText, frame: 1, timestamp: time)
        XCTAssertEqual(plain.takeViolations().map(\.rule.id), ["websocket_rsv_without_extension", "websocket_invalid_utf8"])
        XCTAssertNil(plain.summary["client_compressed_messages"])
    }

    func testUnknownExtensionAllowsEveryRSVBit() {
        let negotiation = WebSocketNegotiation(extensions: [WebSocketExtension(name: "x-custom")])
        XCTAssertEqual(negotiation.allowedRSVBits, 0b111)
        let session = WebSocketSession(negotiation: negotiation)
        session.serverData(frame(2, [1], rsv: 0b011) + frame(1, [0xFF], rsv: 0b001), frame: 1, timestamp: time)
        XCTAssertEqual(session.takeViolations().map(\.rule.id), [])
        XCTAssertEqual(session.serverStatistics.compressedMessages, 2)
    }

    func testGapStopsDecodingAndSaysWhere() {
        let session = WebSocketSession()
        session.serverData(text("one") + text("two"), frame: 1, timestamp: time)
        session.gap(fromClient: false, length: 100, frame: 2, timestamp: time)
        session.serverData(text("three"), frame: 3, timestamp: time)
        session.finish()
        XCTAssertEqual(session.summary["server_decoding_stopped"], .text("decoding stopped after a gap at offset 10"))
        XCTAssertEqual(session.summary["server_frames"], .integer(2))
        XCTAssertEqual(session.summary["server_gap_bytes"], .integer(100))
        XCTAssertEqual(session.summary["server_bytes"], .integer(17))
        XCTAssertNil(session.summary["server_ended_inside_frame"], "a stopped direction has no frame in progress")
        XCTAssertEqual(session.takeViolations(), [])
    }

    func testGapInsidePayloadKeepsDecoding() {
        let session = WebSocketSession()
        let big = frame(2, Array(repeating: 0x42, count: 1000))
        session.serverData(Array(big[..<100]), frame: 1, timestamp: time)
        session.gap(fromClient: false, length: 500, frame: 2, timestamp: time)
        session.serverData(Array(big[600...]) + text("after"), frame: 3, timestamp: time)
        XCTAssertEqual(session.serverStatistics.frames, 2)
        XCTAssertNil(session.serverStatistics.decodingStoppedAt)
    }

    func testEndInsideFrameAndMessage() {
        let session = WebSocketSession()
        session.serverData(frame(1, Array("abc".utf8), fin: false) + Array(frame(0, Array("defgh".utf8)).prefix(4)),
                           frame: 1, timestamp: time)
        session.clientData([0x81], frame: 2, timestamp: time)
        session.finish()
        XCTAssertEqual(session.summary["server_ended_inside_frame"], .flag(true))
        XCTAssertEqual(session.summary["server_ended_inside_message"], .flag(true))
        XCTAssertEqual(session.summary["client_ended_inside_frame"], .flag(true))
        XCTAssertEqual(session.serverStatistics.frames, 1, "an incomplete frame is not counted (as tshark)")
    }

    func testDataAfterCloseOncePerDirection() {
        let session = WebSocketSession()
        session.serverData(frame(8, closePayload(1000)) + text("a") + text("b") + frame(9), frame: 1, timestamp: time)
        XCTAssertEqual(session.takeViolations().map(\.rule.id), ["websocket_bad_close"])
    }

    func testHandshakeFeedsTheSession() {
        let request = HandshakeMessage(method: "GET", version: "HTTP/1.1", headers: [
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ])
        let response = HandshakeMessage(version: "HTTP/1.1", status: 101, headers: [
            ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ])
        let check = WebSocketHandshakeCheck.check(request: request, response: response)
        XCTAssertEqual(check.findings, [])
        let session = WebSocketSession(negotiation: check.negotiation)
        // 0xFF is not DEFLATE (block type 3): now that compressed messages are inflated, it is a finding.
        session.serverData(frame(1, [0xFF], rsv: 0b100) + frame(9, [], rsv: 0b100), frame: 1, timestamp: time)
        XCTAssertEqual(session.takeViolations().map(\.message),
                       ["A compressed message does not inflate (invalid_block_type at byte 0 of the message: a block of the reserved type 3); a receiver must fail the connection.",
                        "A ping frame sets RSV1, which permessage-deflate allows only on the first frame of a data message."])
    }
}
