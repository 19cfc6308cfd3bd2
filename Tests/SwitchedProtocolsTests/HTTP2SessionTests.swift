import Findings
@testable import SwitchedProtocols
import XCTest

final class HTTP2SessionTests: XCTestCase {
    func session(afterUpgrade: Bool = true, client: [UInt8], server: [UInt8],
                 options: HTTP2Session.Options = .init()) -> (HTTP2Session, [Violation]) {
        let session = HTTP2Session(afterUpgrade: afterUpgrade, options: options)
        session.clientData(client, frame: 10, timestamp: testTimestamp)
        session.serverData(server, frame: 11, timestamp: testTimestamp)
        session.finish()
        return (session, session.takeViolations())
    }

    func testCleanExchangeHasNoViolations() {
        let request = [0x82, 0x86, 0x84] + hpackLiteral(":authority", "example.com", huffman: true)
            + hpackLiteral("te", " Trailers ")
        let response = [0x88] + hpackLiteral("content-type", "text/plain", huffman: true)
        let (session, violations) = session(
            client: clientStart + http2Frame(1, flags: 0x05, stream: 3, request),
            server: serverStart + http2Frame(4, flags: 0x01) + http2Frame(1, flags: 0x04, stream: 3, response)
                + http2Frame(0, flags: 0x01, stream: 3, Array("hi".utf8)))
        XCTAssertEqual(violations, [])
        XCTAssertEqual(session.totalFrames, 6)
        XCTAssertEqual(session.clientHeaderBlocks, 1)
        XCTAssertEqual(session.serverHeaderBlocks, 1)
        XCTAssertNil(session.clientHPACKStopReason)
        let summary = session.summary
        XCTAssertEqual(summary["mode"], .text("h2c_upgrade"))
        XCTAssertEqual(summary["client_preface"], .text("seen"))
        XCTAssertEqual(summary["client_frames"], .integer(2))
        XCTAssertEqual(summary["server_frame_types"], .texts(["DATA=1", "HEADERS=1", "SETTINGS=2"]))
        XCTAssertEqual(summary["client_streams_opened"], .integer(1))
        XCTAssertEqual(summary["total_frames"], .integer(6))
        XCTAssertNil(summary["client_stopped"])
    }

    func testStatus101InsideHTTP2() throws {
        let response = hpackLiteral(":status", "101") + hpackLiteral("upgrade", "websocket")
            + hpackLiteral("connection", "upgrade")
        let (_, violations) = session(client: clientStart,
                                      server: serverStart + http2Frame(1, flags: 0x04, stream: 1, response))
        XCTAssertEqual(violations.map(\.rule.id), ["http2_status_101", "http2_connection_specific_header"])
        let status = try XCTUnwrap(violations.first)
        XCTAssertEqual(status.direction, "server_to_client")
        XCTAssertEqual(status.frame, 11)
        XCTAssertEqual(status.evidence["stream_id"], .integer(1))
        XCTAssertEqual(status.evidence["status_field"], .text("101"))
        XCTAssertEqual(violations[1].evidence["fields"], .texts(["upgrade: websocket", "connection: upgrade"]))
        XCTAssertEqual(violations[1].message,
                       "HTTP/2 HEADERS on stream 1 carry connection-specific fields (upgrade: websocket; connection: upgrade).")
    }

    /// Also when the 101 comes Huffman-coded and via the dynamic table in a later block.
    func testStatus101FromDynamicTable() {
        let name = Huffman.encode(Array(":status".utf8)), value = Huffman.encode(Array("101".utf8))
        let first = [0x40, 0x80 | UInt8(name.count)] + name + [0x80 | UInt8(value.count)] + value
        let (_, violations) = session(client: clientStart, server: serverStart
            + http2Frame(1, flags: 0x04, stream: 1, first) + http2Frame(1, flags: 0x04, stream: 3, [0xBE]))
        XCTAssertEqual(violations.map(\.rule.id), ["http2_status_101", "http2_status_101"])
        XCTAssertEqual(violations.map { $0.evidence["stream_id"] }, [.integer(1), .integer(3)])
    }

    func testStatus101OnlyCountsFromTheServer() {
        let (_, violations) = session(client: clientStart + http2Frame(1, flags: 0x05, stream: 1, hpackLiteral(":status", "101")),
                                      server: serverStart)
        XCTAssertEqual(violations, [])
    }

    func testConnectionSpecificFieldsTable() {
        let cases: [(name: String, value: String, flagged: Bool)] = [
            ("connection", "close", true), ("upgrade", "h2c", true), ("keep-alive", "timeout=5", true),
            ("transfer-encoding", "chunked", true), ("proxy-connection", "keep-alive", true),
            ("te", "trailers", false), ("te", "gzip", true), ("te", "trailers, deflate", true),
            ("Connection", "close", true), ("x-connection", "close", false), ("upgrade-insecure-requests", "1", false),
        ]
        for entry in cases {
            let block = [0x82, 0x86, 0x84] + hpackLiteral(entry.name, entry.value)
            let (_, violations) = session(client: clientStart + http2Frame(1, flags: 0x05, stream: 1, block), server: serverStart)
            XCTAssertEqual(violations.map(\.rule.id), entry.flagged ? ["http2_connection_specific_header"] : [],
                           "\(entry.name): \(entry.value)")
            if entry.flagged { XCTAssertEqual(violations.first?.direction, "client_to_server") }
        }
    }

    func testConnectionSpecificFieldInPushPromise() {
        let promise = [0, 0, 0, 2, 0x82, 0x87] + hpackLiteral("connection", "keep-alive")
        let (_, violations) = session(client: clientStart, server: serverStart + http2Frame(5, flags: 0x04, stream: 1, promise))
        XCTAssertEqual(violations.map(\.rule.id), ["http2_connection_specific_header"])
        XCTAssertEqual(violations.first?.evidence["frame_type"], .text("PUSH_PROMISE"))
    }

    func testMissingClientPreface() throws {
        let (session, violations) = session(client: Array("GET / HTTP/1.1\r\n\r\n".utf8), server: serverStart)
        XCTAssertEqual(violations.map(\.rule.id), ["h2c_missing_client_preface"])
        let violation = try XCTUnwrap(violations.first)
        XCTAssertEqual(violation.evidence["first_bytes"], .bytes(Array("GET / HTTP/1.1\r\n\r\n".utf8)))
        XCTAssertEqual(session.summary["client_preface"], .text("missing"))

        // The preface without the SETTINGS frame that must follow it.
        let (_, noSettings) = self.session(client: HTTP2.clientPreface + http2Frame(8, [0, 0, 1, 0]), server: serverStart)
        XCTAssertEqual(noSettings.map(\.rule.id), ["h2c_missing_client_preface"])
        XCTAssertEqual(noSettings.first?.evidence["frame_type"], .text("WINDOW_UPDATE"))

        // A preface cut short by the end of the capture is not a violation.
        let (short, none) = self.session(client: Array(HTTP2.clientPreface.prefix(12)), server: serverStart)
        XCTAssertEqual(none, [])
        XCTAssertEqual(short.summary["client_preface"], .text("incomplete"))
    }

    func testServerFirstFrameNotSettings() throws {
        let (_, violations) = session(client: clientStart, server: http2Frame(1, flags: 0x04, stream: 1, [0x88]) + serverStart)
        XCTAssertEqual(violations.map(\.rule.id), ["h2c_server_first_frame_not_settings"])
        XCTAssertEqual(violations.first?.evidence["frame_type"], .text("HEADERS"))

        let (session, http1) = session(client: clientStart, server: Array("HTTP/1.1 200 OK\r\n\r\n".utf8))
        XCTAssertEqual(http1.map(\.rule.id), ["h2c_server_first_frame_not_settings"])
        XCTAssertEqual(session.summary["server_stopped"],
                       .text("first frame is not HTTP/2 framing (type 0x50, length 4740180)"))
    }

    func testViolationsAreBoundedPerRule() {
        var options = HTTP2Session.Options()
        options.maxViolationsPerRule = 3
        var server = serverStart
        for stream in stride(from: UInt32(1), through: 19, by: 2) {
            server += http2Frame(1, flags: 0x04, stream: stream, hpackLiteral(":status", "101"))
        }
        let (session, violations) = session(client: clientStart, server: server, options: options)
        XCTAssertEqual(violations.count, 3)
        XCTAssertEqual(session.suppressedViolations, 7)
        XCTAssertEqual(session.summary["violations_suppressed"], .integer(7))
    }

    func testHPACKErrorStopsThatDirectionOnly() {
        let (session, _) = session(client: clientStart + http2Frame(1, flags: 0x05, stream: 1, [0xFF, 0x7F]),
                                   server: serverStart + http2Frame(1, flags: 0x04, stream: 1, [0x88]))
        XCTAssertEqual(session.clientHPACKStopReason, "HPACK stopped: index 254 out of range at offset 0 (stream 1)")
        XCTAssertNil(session.serverHPACKStopReason)
        XCTAssertEqual(session.serverHeaderBlocks, 1)
        XCTAssertEqual(session.summary["client_hpack_stopped"],
                       .text("HPACK stopped: index 254 out of range at offset 0 (stream 1)"))
    }

    /// The server's SETTINGS_HEADER_TABLE_SIZE lets the client's encoder grow its table.
    func testAdvertisedTableSizeAllowsLargerUpdates() {
        let update8192: [UInt8] = [0x3F, 0xE1, 0x3F]   // 31 + 97 + 63*128 = 8192
        let allowed = HTTP2Session(afterUpgrade: true)
        allowed.serverData(http2Frame(4, settingsPayload([(1, 8192)])), frame: 1, timestamp: testTimestamp)
        allowed.clientData(clientStart + http2Frame(1, flags: 0x05, stream: 1, update8192 + [0x82]), frame: 2,
                           timestamp: testTimestamp)
        XCTAssertNil(allowed.clientHPACKStopReason)
        XCTAssertEqual(allowed.clientHeaderBlocks, 1)
        let (refused, _) = session(client: clientStart + http2Frame(1, flags: 0x05, stream: 1, update8192 + [0x82]),
                                   server: serverStart)
        XCTAssertEqual(refused.clientHPACKStopReason,
                       "HPACK stopped: dynamic table size update to 8192 above the allowed 4096 at offset 0 (stream 1)")
        // After an h2c upgrade, the client's HTTP2-Settings govern the server's encoder.
        let upgraded = HTTP2Session(afterUpgrade: true, upgradeSettings: [HTTP2Setting(id: 1, value: 8192)])
        upgraded.serverData(http2Frame(4) + http2Frame(1, flags: 0x04, stream: 1, update8192 + [0x88]), frame: 1,
                            timestamp: testTimestamp)
        XCTAssertNil(upgraded.serverHPACKStopReason)
        XCTAssertEqual(upgraded.summary["upgrade_settings"], .texts(["HEADER_TABLE_SIZE=8192"]))
    }

    func testPriorKnowledgeAndExtendedConnect() {
        let connect = [0x02, 0x07] + Array("CONNECT".utf8) + hpackLiteral(":protocol", "websocket") + [0x87, 0x84]
        // The server's SETTINGS_ENABLE_CONNECT_PROTOCOL comes first (RFC 8441 §3).
        let session = HTTP2Session(afterUpgrade: false)
        session.serverData(http2Frame(4, settingsPayload([(8, 1)])), frame: 1, timestamp: testTimestamp)
        session.clientData(clientStart + http2Frame(1, flags: 0x04, stream: 1, connect), frame: 2, timestamp: testTimestamp)
        session.finish()
        XCTAssertEqual(session.takeViolations(), [])
        XCTAssertEqual(session.summary["mode"], .text("prior_knowledge"))
        XCTAssertNil(session.summary["upgrade_stream_id"])
        XCTAssertEqual(session.summary["extended_connect_protocols"], .texts(["websocket"]))
        XCTAssertEqual(session.summary["server_settings"], .texts(["ENABLE_CONNECT_PROTOCOL=1"]))
    }

    func testGapIsReportedInTheSummary() {
        let session = HTTP2Session(afterUpgrade: true)
        session.clientData(clientStart, frame: 1, timestamp: testTimestamp)
        session.clientGap(length: 100, frame: 2, timestamp: testTimestamp)
        session.clientData(http2Frame(8, [0, 0, 1, 0]), frame: 3, timestamp: testTimestamp)
        session.finish()
        let summary = session.summary
        XCTAssertEqual(summary["client_stopped"], .text("decoding stopped after a gap at offset 33"))
        XCTAssertEqual(summary["client_frames"], .integer(1))
    }

    func testGoAwayInSummary() {
        let (session, _) = session(client: clientStart + http2Frame(7, [0, 0, 0, 5, 0, 0, 0, 0]), server: serverStart)
        XCTAssertEqual(session.summary["client_goaway"], .text("NO_ERROR last_stream_id=5"))
    }
}
