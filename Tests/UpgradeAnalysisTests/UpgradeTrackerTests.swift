import XCTest
import Findings
import HTTP1
import PacketCapture
import PacketDecoding
import StreamReassembly
@testable import UpgradeAnalysis

/// One step of a scripted connection: bytes in one direction, in the given frame.
private enum Step {
    case client(String)
    case server(String)
    case clientBytes([UInt8])
    case serverBytes([UInt8])
    case clientGap(UInt64)
    case clientEnd
    case serverEnd
}

private struct Outcome {
    var rules: [String]
    var switches: [SwitchRecord]
    var declined: [UpgradeDeclinedRecord]
    var violations: [Violation]
    var statistics: HTTPStatistics
}

private let client = Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: 40000)
private let server = Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: 8080)

/// Runs the steps; each step is its own frame (1, 2, 3…). With `chunk`, every step's bytes
/// are delivered in pieces of that size (same frame), to check segmentation independence.
private func runScript(_ steps: [Step], partial: Bool = false, chunk: Int? = nil) -> Outcome {
    let tracker = UpgradeTracker(connection: ConnectionRef(client: client, server: server, partial: partial))
    var findings: [Finding] = []
    for (index, step) in steps.enumerated() {
        let frame = UInt64(index + 1)
        let time = Timestamp(seconds: 1_700_000_000 + Int64(index), nanoseconds: 0)
        func feed(_ direction: Direction, _ bytes: [UInt8]) {
            let size = chunk ?? max(bytes.count, 1)
            var start = 0
            while start < bytes.count {
                let piece = Array(bytes[start..<min(bytes.count, start + size)])
                piece.withUnsafeBytes { tracker.data(direction, $0, frame: frame, timestamp: time) }
                start += size
            }
        }
        switch step {
        case .client(let text): feed(.clientToServer, Array(text.utf8))
        case .server(let text): feed(.serverToClient, Array(text.utf8))
        case .clientBytes(let bytes): feed(.clientToServer, bytes)
        case .serverBytes(let bytes): feed(.serverToClient, bytes)
        case .clientGap(let length): tracker.gap(.clientToServer, length: length, frame: frame, timestamp: time)
        case .clientEnd: tracker.end(.clientToServer, frame: frame, timestamp: time)
        case .serverEnd: tracker.end(.serverToClient, frame: frame, timestamp: time)
        }
        findings += tracker.takeFindings()
    }
    tracker.close(lastTimestamp: Timestamp(seconds: 1_800_000_000, nanoseconds: 0))
    findings += tracker.takeFindings()
    var outcome = Outcome(rules: [], switches: [], declined: [], violations: [], statistics: tracker.statistics)
    for finding in findings {
        switch finding {
        case .violation(let v): outcome.rules.append(v.rule.id); outcome.violations.append(v)
        case .switched(let s): outcome.switches.append(s)
        case .upgradeDeclined(let d): outcome.declined.append(d)
        case .flow, .priorKnowledge, .switchEnd, .proxiedUpgrade: break
        }
    }
    return outcome
}

private let wsRequest = "GET /chat HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
private let ws101 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
/// A masked client text frame "Hi" and an unmasked server text frame "Hi".
private let clientFrame: [UInt8] = [0x81, 0x82, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x93]
private let serverFrame: [UInt8] = [0x81, 0x02, 0x48, 0x69]

final class UpgradeTrackerTests: XCTestCase {
    /// Every scenario: its steps and the rules it must produce (in order), checked whole and
    /// delivered one byte at a time.
    private let table: [(name: String, steps: [Step], partial: Bool, rules: [String], switches: [String])] = [
        ("clean websocket", [.client(wsRequest), .server(ws101), .clientBytes(clientFrame), .serverBytes(serverFrame)],
         false, [], ["websocket"]),
        ("101 missing upgrade",
         [.client(wsRequest), .server("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n")],
         false, ["http_101_missing_upgrade"], ["unknown"]),
        ("101 unsolicited",
         [.client("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), .server(ws101)],
         false, ["http_101_unsolicited"], ["websocket"]),
        ("101 without request", [.server(ws101)], false, ["http_101_without_request"], ["websocket"]),
        ("101 without request, partial connection", [.server(ws101)], true, [], ["websocket"]),
        ("101 protocol not offered",
         [.client(wsRequest), .server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")],
         false, ["http_101_protocol_not_offered"], ["h2c"]),
        ("protocol versions compared",
         [.client("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: TLS/1.2\r\nConnection: Upgrade\r\n\r\n"),
          .server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.0\r\nConnection: Upgrade\r\n\r\n")],
         false, ["http_101_protocol_not_offered"], ["tls"]),
        ("layered TLS then HTTP/1.1 (RFC 2817 §3.3)",
         [.client("OPTIONS * HTTP/1.1\r\nHost: x\r\nUpgrade: TLS/1.2\r\nConnection: Upgrade\r\n\r\n"),
          .server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: TLS/1.2, HTTP/1.1\r\nConnection: Upgrade\r\n\r\n")],
         false, [], ["tls"]),
        ("request upgrade without connection token",
         [.client("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n\r\n"), .server(ws101)],
         false, ["http_upgrade_missing_connection_token"], ["websocket"]),
        ("101 upgrade without connection token",
         [.client(wsRequest), .server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")],
         false, ["http_upgrade_missing_connection_token"], ["websocket"]),
        ("connection upgrade without upgrade",
         [.client("GET / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n"),
          .server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")],
         false, ["http_connection_upgrade_without_upgrade"], []),
        ("101 to HTTP/1.0 request",
         [.client("GET /chat HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"), .server(ws101)],
         false, ["http_101_to_http10_request"], ["websocket"]),
        ("101 with HTTP/1.0 status line",
         [.client(wsRequest), .server("HTTP/1.0 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")],
         false, ["http_101_http10_response"], ["websocket"]),
        ("101 before 100-continue, body after the switch",
         [.client("POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  + "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nContent-Length: 4\r\n\r\n"),
          .server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"),
          .client("body"), .clientBytes(Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8))],
         false, ["http_101_before_100_continue", "http_switch_before_request_complete"], ["h2c"]),
        ("100 then 101 is fine",
         [.client("POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  + "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\nContent-Length: 4\r\n\r\n"),
          .server("HTTP/1.1 100 Continue\r\n\r\n"), .client("body"),
          .server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")],
         false, [], ["h2c"]),
        ("1xx with content",
         [.client(wsRequest), .server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                      + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nContent-Length: 5\r\n\r\n")],
         false, ["http_1xx_with_content"], ["websocket"]),
        ("client data before 101",
         [.client(wsRequest), .clientBytes(clientFrame), .server(ws101)],
         false, ["http_client_data_before_101"], ["websocket"]),
        ("request pipelined after upgrade, switched",
         [.client(wsRequest + "GET /other HTTP/1.1\r\nHost: x\r\n\r\n"), .server(ws101)],
         false, ["http_request_pipelined_after_upgrade"], ["websocket"]),
        ("request pipelined after upgrade, declined: parsed as HTTP",
         [.client(wsRequest + "GET /other HTTP/1.1\r\nHost: x\r\n\r\n"),
          .server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")],
         false, ["http_request_pipelined_after_upgrade"], []),
        ("101 then HTTP response",
         [.client(wsRequest), .server(ws101 + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
         false, ["http_101_then_http_response"], ["websocket"]),
        ("upgrade declined, then tunnel",
         [.client(wsRequest), .server("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
          .clientBytes(clientFrame), .serverBytes(serverFrame)],
         false, ["http_upgrade_declined_then_tunnel"], []),
        ("upgrade declined, stays HTTP",
         [.client(wsRequest), .server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
          .client("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), .server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")],
         false, [], []),
        ("426 without upgrade",
         [.client("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), .server("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n")],
         false, ["http_426_missing_upgrade"], []),
        ("426 with upgrade",
         [.client("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
          .server("HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n")],
         false, [], []),
        ("keep-alive then upgrade on the second request",
         [.client("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), .server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
          .client(wsRequest), .server(ws101), .clientBytes(clientFrame)],
         false, [], ["websocket"]),
        ("CONNECT tunnel is not a switch",
         [.client("CONNECT example:443 HTTP/1.1\r\nHost: example:443\r\n\r\n"),
          .server("HTTP/1.1 200 Connection Established\r\n\r\n"), .clientBytes([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])],
         false, [], []),
        ("101 without request after a client gap is not reported",
         [.clientGap(100), .server(ws101)], false, [], ["websocket"]),
    ]

    func testScenarioTable() {
        for scenario in table {
            // This table is about the HTTP/1.1 rules; what follows the switch is checked below.
            let whole = runScript(scenario.steps, partial: scenario.partial)
            XCTAssertEqual(whole.rules.filter { $0.hasPrefix("http_") }, scenario.rules, scenario.name)
            XCTAssertEqual(whole.switches.map(\.protocolName), scenario.switches, scenario.name)
            let bytewise = runScript(scenario.steps, partial: scenario.partial, chunk: 1)
            XCTAssertEqual(bytewise.rules.filter { $0.hasPrefix("http_") }, scenario.rules, "\(scenario.name), fed byte by byte")
            XCTAssertEqual(bytewise.rules, whole.rules, "\(scenario.name): all rules, whole vs byte by byte")
            XCTAssertEqual(bytewise.switches.map(\.protocolName), scenario.switches, "\(scenario.name), byte by byte")
        }
    }

    func testPostSwitchBytesAreCheckedAgainstTheAgreedProtocol() {
        // HTTP/2 preface after a WebSocket switch: a mismatch, and no WebSocket frame noise.
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]
        for chunk in [nil, 1] as [Int?] {
            let mismatch = runScript([.client(wsRequest), .server(ws101), .clientBytes(preface)], chunk: chunk)
            XCTAssertEqual(mismatch.rules, ["switch_protocol_mismatch"], "chunk \(String(describing: chunk))")
            XCTAssertEqual(mismatch.switches.first?.observed["protocol"], .text("http2"))
        }
        // Clean WebSocket frames: labelled websocket, with the frame summary.
        let clean = runScript([.client(wsRequest), .server(ws101), .clientBytes(clientFrame), .serverBytes(serverFrame)])
        XCTAssertEqual(clean.rules, [])
        XCTAssertEqual(clean.switches.first?.observed["protocol"], .text("websocket"))
        guard case .object(let summary)? = clean.switches.first?.observed["websocket"] else {
            return XCTFail("no websocket summary")
        }
        XCTAssertEqual(summary["client_frames"], .integer(1))
        XCTAssertEqual(summary["server_frames"], .integer(1))
        // An unmasked client frame is still decoded (and reported), not taken for another protocol.
        let unmasked = runScript([.client(wsRequest), .server(ws101), .clientBytes([0x81, 0x02, 0x48, 0x69])])
        XCTAssertEqual(unmasked.rules, ["websocket_unmasked_client_frame"])
    }

    /// Live capture: the switch record leaves at the 101, the byte counts follow at the end.
    func testSwitchRecordAtTheResponseThenSwitchEnd() {
        var options = UpgradeAnalysisOptions()
        options.emitSwitchAtResponse = true
        let tracker = UpgradeTracker(connection: ConnectionRef(client: client, server: server, partial: false),
                                     options: options)
        Array(wsRequest.utf8).withUnsafeBytes { tracker.data(.clientToServer, $0, frame: 1, timestamp: .zero) }
        Array(ws101.utf8).withUnsafeBytes { tracker.data(.serverToClient, $0, frame: 2, timestamp: .zero) }
        let atResponse = tracker.takeFindings()
        guard atResponse.count == 1, case .switched(let record) = atResponse[0] else {
            return XCTFail("expected the switch record at the 101, got \(atResponse)")
        }
        XCTAssertEqual(record.response.frame, 2)
        XCTAssertEqual(record.clientHandoffOffset, UInt64(wsRequest.utf8.count))
        clientFrame.withUnsafeBytes { tracker.data(.clientToServer, $0, frame: 3, timestamp: .zero) }
        tracker.close(lastTimestamp: Timestamp(seconds: 9, nanoseconds: 0))
        let atEnd = tracker.takeFindings()
        guard atEnd.count == 1, case .switchEnd(let end) = atEnd[0] else { return XCTFail("expected switch_end, got \(atEnd)") }
        XCTAssertEqual(end.responseFrame, 2)
        XCTAssertEqual(end.bytesAfterSwitchClient, UInt64(clientFrame.count))
        XCTAssertEqual(end.observed["protocol"], .text("websocket"))
    }

    /// Found by fuzzing: the gate decided on `PRI ` alone when the bytes came in pieces, but sent
    /// the same (corrupted) preface to the WebSocket decoder when it came whole.
    func testTheGateDecidesTheSameHoweverTheBytesAreCut() {
        let corrupted = Array("PRI * HTTP/2%0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]
        let whole = runScript([.client(wsRequest), .server(ws101), .clientBytes(corrupted)])
        for chunk in [1, 4, 7] {
            let cut = runScript([.client(wsRequest), .server(ws101), .clientBytes(corrupted)], chunk: chunk)
            XCTAssertEqual(cut.rules, whole.rules, "cut into \(chunk)-byte pieces")
            XCTAssertEqual(cut.switches.first?.observed["protocol"], whole.switches.first?.observed["protocol"])
        }
        let intact = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        for chunk in [1, 4, nil] as [Int?] {
            XCTAssertEqual(runScript([.client(wsRequest), .server(ws101), .clientBytes(intact)], chunk: chunk).rules,
                           ["switch_protocol_mismatch"])
        }
    }

    func testPriorKnowledgeHTTP2IsAnalysedAsHTTP2() {
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]
        let tracker = UpgradeTracker(connection: ConnectionRef(client: client, server: server, partial: false))
        preface.withUnsafeBytes { tracker.data(.clientToServer, $0, frame: 4, timestamp: .zero) }
        [UInt8]([0, 0, 0, 4, 0, 0, 0, 0, 0]).withUnsafeBytes { tracker.data(.serverToClient, $0, frame: 5, timestamp: .zero) }
        tracker.close(lastTimestamp: .zero)
        let findings = tracker.takeFindings()
        guard findings.count == 1, case .priorKnowledge(let record) = findings[0] else {
            return XCTFail("expected one prior_knowledge record, got \(findings)")
        }
        XCTAssertEqual(record.firstFrame, 4)
        XCTAssertEqual(record.bytesClient, UInt64(preface.count))
        XCTAssertEqual(record.observed["protocol"], .text("http2"))
        XCTAssertEqual(tracker.statistics.nonHTTPDirections, 0)
    }

    func testSwitchRecordCarriesFramesOffsetsAndPostSwitchBytes() {
        let outcome = runScript([.client(wsRequest), .serverBytes(Array(ws101.utf8) + serverFrame), .clientBytes(clientFrame)])
        XCTAssertEqual(outcome.switches.count, 1)
        let record = outcome.switches[0]
        XCTAssertEqual(record.request?.frame, 1)
        XCTAssertEqual(record.response.frame, 2)
        XCTAssertEqual(record.request?.method, "GET")
        XCTAssertEqual(record.request?.upgrade, ["websocket"])
        XCTAssertEqual(record.response.status, 101)
        XCTAssertEqual(record.clientHandoffOffset, UInt64(wsRequest.utf8.count))
        XCTAssertEqual(record.serverHandoffOffset, UInt64(ws101.utf8.count))
        // The server frame came in the same segment as the 101: it belongs to the new protocol.
        XCTAssertEqual(record.bytesAfterSwitchServer, 4)
        XCTAssertEqual(record.bytesAfterSwitchClient, UInt64(clientFrame.count))
        XCTAssertEqual(record.observed["server_first_bytes"], .bytes([0x81, 0x02, 0x48, 0x69]))
        XCTAssertEqual(record.observed["protocol"], .text("websocket"))
    }

    func testDeclinedRecordAndViolationEvidence() {
        let outcome = runScript([.client(wsRequest), .server("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
                           .clientBytes(clientFrame)])
        XCTAssertEqual(outcome.declined.count, 1)
        XCTAssertEqual(outcome.declined[0].response.status, 403)
        XCTAssertEqual(outcome.declined[0].request.frame, 1)
        let violation = outcome.violations.first { $0.rule == .httpUpgradeDeclinedThenTunnel }
        XCTAssertEqual(violation?.frame, 3)
        XCTAssertEqual(violation?.direction, "client_to_server")
        XCTAssertEqual(violation?.evidence["response_status"], .integer(403))
    }

    func testHTTPStatisticsCountMessages() {
        let outcome = runScript([.client("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n"),
                           .server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")])
        XCTAssertEqual(outcome.statistics.requests, 2)
        XCTAssertEqual(outcome.statistics.responses, 2)
        XCTAssertEqual(outcome.rules, [])
    }

    func testProtocolTokenMatching() {
        let offers = ["websocket", "TLS/1.2", "h2c"].map(ProtocolToken.init)
        XCTAssertTrue(ProtocolToken("WebSocket").isOffered(in: offers))
        XCTAssertTrue(ProtocolToken("tls/1.2").isOffered(in: offers))
        XCTAssertTrue(ProtocolToken("TLS").isOffered(in: offers))
        XCTAssertFalse(ProtocolToken("TLS/1.3").isOffered(in: offers))
        XCTAssertFalse(ProtocolToken("h2").isOffered(in: offers))
    }
}

/// Issue #13: never blind at the HTTP layer.
final class NeverBlindTests: XCTestCase {
    private func h2Frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8] = []) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags,
                UInt8(stream >> 24), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
    }

    /// Everything a prior-knowledge connection yields, the client's bytes cut by `cut`.
    private func priorKnowledgeRun(_ cut: (Int) -> [Int]) -> [String] {
        let clientBytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + h2Frame(4, 0, 0) + h2Frame(1, 0x05, 1, [0x82, 0x86, 0x84])
        // A HEADERS with `:status 101` (RFC 9113 §8.6 forbids it), then the final 200.
        let serverBytes = h2Frame(4, 0, 0) + h2Frame(1, 0x04, 1, [0x08, 0x03, 0x31, 0x30, 0x31]) + h2Frame(1, 0x05, 1, [0x88])
        let tracker = UpgradeTracker(connection: ConnectionRef(client: client, server: server, partial: false))
        var start = 0
        for (index, size) in cut(clientBytes.count).enumerated() where size > 0 {
            Array(clientBytes[start..<start + size]).withUnsafeBytes {
                tracker.data(.clientToServer, $0, frame: UInt64(index + 1), timestamp: .zero)
            }
            start += size
        }
        serverBytes.withUnsafeBytes { tracker.data(.serverToClient, $0, frame: 100, timestamp: .zero) }
        tracker.close(lastTimestamp: .zero)
        return tracker.takeFindings().map { finding in
            switch finding {
            case .violation(let violation): return violation.rule.id
            case .priorKnowledge(let record): return "prior_knowledge bytes \(record.bytesClient)/\(record.bytesServer)"
            default: return "other"
            }
        }
    }

    func testPriorKnowledgeIsFoundHoweverThePrefaceIsCut() {
        let whole = priorKnowledgeRun { [$0] }
        XCTAssertEqual(whole.sorted(), ["http2_status_101", "prior_knowledge bytes 45/33"])
        for split in 1..<36 {
            XCTAssertEqual(priorKnowledgeRun { [split, $0 - split] }, whole, "split at \(split)")
        }
        for size in [1, 2, 3, 8] {
            XCTAssertEqual(priorKnowledgeRun { count in
                stride(from: 0, to: count, by: size).map { min(size, count - $0) }
            }, whole, "\(size)-byte pieces")
        }
    }

    func testAPrefixOfThePrefaceIsStillHTTPWhenItStopsMatching() {
        // "PRI" and "PUT" share a first byte; held bytes are fed as HTTP at their own frame.
        for size in [1, 2, 100] {
            let outcome = runScript([.client("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"),
                                     .server("HTTP/1.1 204 No Content\r\n\r\n")], chunk: size)
            XCTAssertEqual(outcome.rules, [], "\(size)")
            XCTAssertEqual(outcome.statistics.requests, 1, "\(size)")
            XCTAssertEqual(outcome.statistics.responses, 1, "\(size)")
        }
        // A prefix, then the end: HTTP/1.x's truncated message, not HTTP/2.
        let truncated = runScript([.client("PRI * HT"), .clientEnd])
        XCTAssertEqual(truncated.statistics.parseErrors["truncated_message"], 1)
    }

    func testNoUnrequestedSwitchAfterAHeadLimitSkip() {
        var options = UpgradeAnalysisOptions()
        options.parser.maxHeadBytes = 256
        let tracker = UpgradeTracker(connection: ConnectionRef(client: client, server: server, partial: false),
                                     options: options)
        let big = wsRequest.replacingOccurrences(of: "Host: example", with: "Cookie: " + String(repeating: "x", count: 300))
        Array(big.utf8).withUnsafeBytes { tracker.data(.clientToServer, $0, frame: 1, timestamp: .zero) }
        Array(ws101.utf8).withUnsafeBytes { tracker.data(.serverToClient, $0, frame: 2, timestamp: .zero) }
        tracker.close(lastTimestamp: .zero)
        let rules = tracker.takeFindings().compactMap { finding -> String? in
            if case .violation(let violation) = finding { return violation.rule.id } else { return nil }
        }
        XCTAssertEqual(rules, ["analyzer_limit_reached"])
    }

    private func heldRun(_ tracker: UpgradeTracker, early: Int, answer: Bool) -> [Violation] {
        Array(wsRequest.utf8).withUnsafeBytes { tracker.data(.clientToServer, $0, frame: 1, timestamp: .zero) }
        [UInt8](repeating: 0x82, count: early).withUnsafeBytes { tracker.data(.clientToServer, $0, frame: 2, timestamp: .zero) }
        if answer { Array(ws101.utf8).withUnsafeBytes { tracker.data(.serverToClient, $0, frame: 3, timestamp: .zero) } }
        return tracker.takeFindings().compactMap { finding -> Violation? in
            if case .violation(let violation) = finding { return violation } else { return nil }
        }
    }

    func testHeldBytesLimitsAreReportedWhenTheyCut() {
        var options = UpgradeAnalysisOptions()
        options.maxHeldBytes = 1000
        options.heldBudget = HeadBudget(limit: 1500)
        let connection = ConnectionRef(client: client, server: server, partial: false)
        let first = UpgradeTracker(connection: connection, options: options)
        // No answer yet: the per-connection limit is reported when it drops bytes.
        let limits = heldRun(first, early: 1200, answer: false).filter { $0.rule == .analyzerLimitReached }
        XCTAssertEqual(limits.map { $0.evidence["limit"] }, [.text("upgrade_held_bytes")])
        XCTAssertEqual(limits.first?.frame, 2)
        // Storage is charged as allocated: the allocator may round a request up by a few bytes.
        XCTAssertLessThanOrEqual(options.heldBudget!.used, 1500 + 16)
        // A second connection finds the shared budget mostly spent.
        let second = UpgradeTracker(connection: connection, options: options)
        let global = heldRun(second, early: 900, answer: false).filter { $0.rule == .analyzerLimitReached }
        XCTAssertEqual(global.map { $0.evidence["limit"] }, [.text("upgrade_held_bytes_global")])
        XCTAssertLessThanOrEqual(options.heldBudget!.used, 1500 + 2 * 16)
        // Answers and closes give every byte back.
        Array(ws101.utf8).withUnsafeBytes { first.data(.serverToClient, $0, frame: 3, timestamp: .zero) }
        first.close(lastTimestamp: .zero)
        second.close(lastTimestamp: .zero)
        XCTAssertEqual(options.heldBudget!.used, 0)
    }

    func testEmptyUpgradeOnA101IsMissingUpgrade() {
        let response = ws101.replacingOccurrences(of: "Upgrade: websocket", with: "Upgrade:")
        let outcome = runScript([.client(wsRequest), .server(response)])
        let finding = outcome.violations.first { $0.rule == .http101MissingUpgrade }
        XCTAssertEqual(finding?.evidence["upgrade_empty"], .flag(true))
    }

    func testDirectionsThatStopBeingHTTPLeaveAFinding() {
        // The server answers a request with a status line no client reads.
        let server = runScript([.client(wsRequest), .server("HTTP/1.1 10 Switching\r\n\r\n")])
        XCTAssertEqual(server.rules, ["http_not_http"])
        XCTAssertEqual(server.violations.first?.frame, 2)
        XCTAssertEqual(server.violations.first?.evidence["bytes"], .bytes(Array("HTTP/1.1 10 ".utf8)))
        // The client's bytes are not HTTP, the server's are: reported at the client's frame.
        let client = runScript([.clientBytes([0x16, 0x03, 0x01]), .server("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")])
        XCTAssertEqual(client.rules, ["http_not_http"])
        XCTAssertEqual(client.violations.first?.frame, 1)
        XCTAssertEqual(client.violations.first?.direction, "client_to_server")
        // Neither side speaks HTTP: counted only.
        let neither = runScript([.clientBytes([0x16, 0x03, 0x01]), .serverBytes([0x16, 0x03, 0x03])])
        XCTAssertEqual(neither.rules, [])
        XCTAssertEqual(neither.statistics.nonHTTPDirections, 2)
    }

    func testLenientResponsesNameTheClientsThatTakeThem() {
        let outcome = runScript([.client(wsRequest), .server(ws101.replacingOccurrences(of: "HTTP/1.1", with: "HTTP/2.0"))])
        XCTAssertEqual(outcome.switches.count, 1)
        let finding = outcome.violations.first { $0.rule == .httpLenientVersion }
        XCTAssertEqual(finding?.evidence["accepted_by"], .texts(["curl", "Node http", "Chromium"]))
        XCTAssertEqual(finding?.evidence["rejected_by"], .texts(["Python http.client", "websockets"]))
    }

    // MARK: CONNECT tunnels (issue #12: HTTP inside a CONNECT tunnel is parsed, as tshark does)

    func testHTTPInsideAConnectTunnelIsParsedWhateverTheSegmentation() {
        let steps: [Step] = [
            .client("CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n"),
            .server("HTTP/1.1 200 Connection established\r\n\r\n"),
            .client("GET /inner HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
            .server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
        ]
        for size in [nil, 1, 3, 7] as [Int?] {
            let outcome = runScript(steps, chunk: size)
            XCTAssertEqual(outcome.statistics.requests, 2, "\(String(describing: size))")
            XCTAssertEqual(outcome.statistics.responses, 2, "\(String(describing: size))")
            XCTAssertEqual(outcome.switches.map(\.protocolName), ["websocket"], "\(String(describing: size))")
        }
    }

    func testATLSConnectTunnelIsLeftAlone() {
        let outcome = runScript([
            .client("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
            .server("HTTP/1.1 200 Connection established\r\n\r\n"),
            .clientBytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + Array(repeating: 7, count: 32)),
            .serverBytes([0x16, 0x03, 0x03, 0x00, 0x7a, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03]),
        ])
        XCTAssertEqual(outcome.statistics.requests, 1)
        XCTAssertEqual(outcome.statistics.nonHTTPDirections, 0)
        XCTAssertEqual(outcome.rules, [])
    }

    // MARK: SOCKS (issue #13: HTTP through a SOCKS proxy was invisible)

    private let innerRequest = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"
    private let innerResponse = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

    func testHTTPThroughSOCKS5WithPasswordIsParsedWhateverTheSegmentation() {
        let host = Array("example.com".utf8)
        let steps: [Step] = [
            .clientBytes([5, 2, 0, 2]),                                   // methods: none, username/password
            .serverBytes([5, 2]),
            .clientBytes([1, 4] + Array("user".utf8) + [4] + Array("pass".utf8)),
            .serverBytes([1, 0]),
            .clientBytes([5, 1, 0, 3, UInt8(host.count)] + host + [0, 80]),
            .serverBytes([5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90]),
            .client(innerRequest),
            .server(innerResponse),
        ]
        for size in [nil, 1, 2, 5] as [Int?] {
            let outcome = runScript(steps, chunk: size)
            XCTAssertEqual(outcome.statistics.requests, 1, "\(String(describing: size))")
            XCTAssertEqual(outcome.statistics.responses, 1, "\(String(describing: size))")
            XCTAssertEqual(outcome.rules, [], "\(String(describing: size))")
        }
    }

    func testHTTPThroughSOCKS4aIsParsed() {
        let outcome = runScript([
            .clientBytes([4, 1, 0, 80, 0, 0, 0, 1] + Array("me".utf8) + [0] + Array("example.com".utf8) + [0]),
            .serverBytes([0, 90, 0, 0, 0, 0, 0, 0]),
            .client(innerRequest),
            .server(innerResponse),
        ], chunk: 3)
        XCTAssertEqual(outcome.statistics.requests, 1)
        XCTAssertEqual(outcome.statistics.responses, 1)
    }

    func testARefusedSOCKSRequestLeavesNothingToParse() {
        let outcome = runScript([
            .clientBytes([5, 1, 0]), .serverBytes([5, 0xff]),
            .client(innerRequest),
        ])
        XCTAssertEqual(outcome.statistics.requests, 0)
        XCTAssertEqual(outcome.rules, [])
    }

    func testBytesThatOnlyStartLikeSOCKSAreNotTakenForIt() {
        let handshake = { () -> SOCKSHandshake.Phase in
            var socks = SOCKSHandshake()
            _ = [UInt8]([5, 0]).withUnsafeBytes { socks.client($0) }      // no methods: not SOCKS5
            return socks.phase
        }()
        XCTAssertEqual(handshake, .notSOCKS)
        var socks4 = SOCKSHandshake()
        _ = [UInt8]([4, 9, 0, 80]).withUnsafeBytes { socks4.client($0) }   // command 9: not SOCKS4
        XCTAssertEqual(socks4.phase, .notSOCKS)
    }
}

/// CONNECT-UDP through the tracker: the session hears of a direction's end (FIN or RST) from
/// `end`, and only then is a capsule cut off by it malformed (RFC 9297 §3.3).
final class ConnectUDPTrackerTests: XCTestCase {
    private let request = "GET /.well-known/masque/udp/192.0.2.6/443/ HTTP/1.1\r\nHost: proxy.example\r\n"
        + "Connection: Upgrade\r\nUpgrade: connect-udp\r\nCapsule-Protocol: ?1\r\n\r\n"
    private let response = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: connect-udp\r\n"
        + "Capsule-Protocol: ?1\r\n\r\n"
    /// A whole DATAGRAM ("hi"), then one declaring 5 value bytes of which 2 come.
    private let cutCapsules: [UInt8] = [0x00, 0x03, 0x00, 0x68, 0x69, 0x00, 0x05, 0x00, 0x61]

    func testCapsuleCutByTheFINIsMalformed() {
        for chunk in [nil, 1] {
            let outcome = runScript([.client(request), .server(response), .clientBytes(cutCapsules), .clientEnd], chunk: chunk)
            XCTAssertEqual(outcome.rules, ["connect_udp_capsule_malformed"])
            XCTAssertEqual(outcome.violations.first?.frame, 4)
            XCTAssertEqual(outcome.switches.map(\.protocolName), ["connect-udp"])
            XCTAssertEqual(outcome.switches.first?.observed["connect_udp_target"],
                           .object(["template": .text("default"), "host": .text("192.0.2.6"), "port": .integer(443)]))
        }
    }

    /// Datagrams sent before the 101 (RFC 9298 §5 allowed them; RFC 9931 updates it over the
    /// smuggling risk) are flagged as early data and still decoded as the tunnel's first capsules.
    func testOptimisticDatagramsAreDecoded() {
        let datagram: [UInt8] = [0x00, 0x03, 0x00, 0x68, 0x69]
        let outcome = runScript([.client(request), .clientBytes(datagram), .server(response), .clientBytes(datagram), .clientEnd])
        XCTAssertEqual(outcome.rules, ["http_client_data_before_101"])
        guard case .object(let summary)? = outcome.switches.first?.observed["connect_udp"] else {
            return XCTFail("no connect_udp summary")
        }
        XCTAssertEqual(summary["client_datagrams"], .integer(2))
    }

    func testCaptureStoppingInsideACapsuleIsOnlyEvidence() {
        let outcome = runScript([.client(request), .server(response), .clientBytes(cutCapsules)])
        XCTAssertEqual(outcome.rules, [])
        guard case .object(let summary)? = outcome.switches.first?.observed["connect_udp"] else {
            return XCTFail("no connect_udp summary")
        }
        XCTAssertEqual(summary["client_incomplete_capsule"], .flag(true))
        XCTAssertEqual(summary["client_capsules"], .integer(1))
        XCTAssertEqual(summary["client_udp_payload_bytes"], .integer(3))
    }
}
