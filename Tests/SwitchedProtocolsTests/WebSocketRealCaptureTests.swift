import Findings
import Foundation
import SwitchedProtocols
import XCTest

/// Real WebSocket connections from other projects' test suites. The fixtures hold each
/// connection's post-101 bytes per direction and its two message heads, extracted with
/// `tshark -r FILE -q -z follow,tcp,raw,STREAM` and cut after each head's CRLFCRLF
/// (see /work/shared/captures-real/MANIFEST.tsv for where the captures come from).
/// Expected frame counts are tshark 4's (MANIFEST column n_websocket_frames).
final class WebSocketRealCaptureTests: XCTestCase {
    struct Expectation {
        var capture: String
        var fixture: String
        var frames: UInt64
        var rules: [String]
        var compressed: UInt64 = 0
    }

    /// `rules`: every violation's rule id, sorted (handshake and frames together).
    static let expectations: [Expectation] = [
        Expectation(capture: "zeek/broker-websocket.pcap", fixture: "zeek_broker-websocket", frames: 9, rules: []),
        Expectation(capture: "zeek/fragmented-http-reply.pcap", fixture: "zeek_fragmented-http-reply", frames: 10, rules: []),
        Expectation(capture: "zeek/jupyter-websocket.pcap", fixture: "zeek_jupyter-websocket", frames: 14, rules: []),
        Expectation(capture: "zeek/message-too-big-status.pcap", fixture: "zeek_message-too-big-status", frames: 3, rules: []),
        // Synthetic: a 258-byte Close, its length in 64 bits (Zeek: control_frame_size_exceeded).
        Expectation(capture: "zeek/oversized-close-frame.pcapng", fixture: "zeek_oversized-close-frame", frames: 1,
                    rules: ["websocket_bad_control_frame", "websocket_non_minimal_length"]),
        Expectation(capture: "zeek/reply-ping-coalesced.pcap", fixture: "zeek_reply-ping-coalesced", frames: 6, rules: []),
        Expectation(capture: "zeek/reply-ping-separate.pcap", fixture: "zeek_reply-ping-separate", frames: 6, rules: []),
        Expectation(capture: "zeek/two-binary-fragments.pcap", fixture: "zeek_two-binary-fragments", frames: 7, rules: []),
        // wstunnel does not mask its client frames.
        Expectation(capture: "zeek/wstunnel-http.pcap", fixture: "zeek_wstunnel-http", frames: 4,
                    rules: ["websocket_unmasked_client_frame", "websocket_unmasked_client_frame"]),
        Expectation(capture: "zeek/wstunnel-https.pcap", fixture: "zeek_wstunnel-https", frames: 38, rules: []),
        Expectation(capture: "suricata-verify/websocket/basic_websockets.pcap", fixture: "suricata-verify_websocket_basic_websockets",
                    frames: 17, rules: []),
        // The client's ping (0x89 0x00) is unmasked. (The MANIFEST note has ping and pong the other way round.)
        Expectation(capture: "suricata-verify/websocket-ping/input.pcap", fixture: "suricata-verify_websocket-ping_input",
                    frames: 3, rules: ["websocket_unmasked_client_frame"]),
        Expectation(capture: "suricata-verify/websocket-compressed/example_websocket.pcap",
                    fixture: "suricata-verify_websocket-compressed_example_websocket", frames: 10, rules: [], compressed: 10),
        // Synthetic: the key is base64 of "suricata-test-key!" (18 bytes), one mask key for every frame.
        Expectation(capture: "suricata-verify/websocket-control-frag/input.pcap", fixture: "suricata-verify_websocket-control-frag_input",
                    frames: 4, rules: ["websocket_bad_key", "websocket_weak_mask", "websocket_weak_mask"]),
        // Synthetic: every client frame masked with 0x11223344.
        Expectation(capture: "arkime/arkime_synthetic.pcap", fixture: "arkime_arkime_synthetic", frames: 5,
                    rules: ["websocket_weak_mask", "websocket_weak_mask", "websocket_weak_mask"]),
        Expectation(capture: "zeek/websocket_baseline.pcap", fixture: "zeek_websocket_baseline", frames: 4, rules: []),
        Expectation(capture: "zeek/websocket_compressed.pcap", fixture: "zeek_websocket_compressed", frames: 4, rules: [],
                    compressed: 2),
        Expectation(capture: "websocket_test/websocket.pcap", fixture: "websocket_test_websocket", frames: 2, rules: []),
    ]

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let manifest = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/captures-real/MANIFEST.tsv")

    static func head(_ name: String) throws -> HandshakeMessage {
        let text = String(decoding: try Data(contentsOf: fixtures.appendingPathComponent(name)), as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        let start = lines[0].split(separator: " ", maxSplits: 2).map(String.init)
        var headers: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((name: String(line[..<colon]), value: String(line[line.index(after: colon)...])))
        }
        if start[0].hasPrefix("HTTP/") {
            return HandshakeMessage(version: start[0], status: Int(start[1]), headers: headers)
        }
        return HandshakeMessage(method: start[0], version: start[2], headers: headers)
    }

    struct Outcome: Equatable {
        var frames: UInt64
        var rules: [String]
        var compressed: UInt64
        var summary: Evidence
    }

    /// Handshake check plus a session fed each direction in `chunk`-byte pieces.
    func run(_ fixture: String, chunk: Int) throws -> Outcome {
        let check = WebSocketHandshakeCheck.check(request: try Self.head(fixture + ".request.txt"),
                                                  response: try Self.head(fixture + ".response.txt"))
        let session = WebSocketSession(negotiation: check.negotiation)
        let client = Array(try Data(contentsOf: Self.fixtures.appendingPathComponent(fixture + ".client.bin")))
        let server = Array(try Data(contentsOf: Self.fixtures.appendingPathComponent(fixture + ".server.bin")))
        // One direction after the other: the fixtures lose the interleaving, so `closed_first`
        // means nothing here and is not asserted.
        var start = 0
        while start < server.count {
            session.serverData(Array(server[start..<min(start + chunk, server.count)]), frame: UInt64(start), timestamp: .zero)
            start += chunk
        }
        start = 0
        while start < client.count {
            session.clientData(Array(client[start..<min(start + chunk, client.count)]), frame: UInt64(start), timestamp: .zero)
            start += chunk
        }
        session.finish()
        let rules = (check.findings.map(\.rule.id) + session.takeViolations().map(\.rule.id)).sorted()
        return Outcome(frames: session.totalFrames, rules: rules,
                       compressed: session.clientStatistics.compressedMessages + session.serverStatistics.compressedMessages,
                       summary: session.summary)
    }

    func testFrameCountsMatchTshark() throws {
        for expectation in Self.expectations {
            let outcome = try run(expectation.fixture, chunk: 1 << 20)
            XCTAssertEqual(outcome.frames, expectation.frames, expectation.fixture)
            XCTAssertEqual(outcome.rules, expectation.rules, expectation.fixture)
            XCTAssertEqual(outcome.compressed, expectation.compressed, expectation.fixture)
            XCTAssertNil(outcome.summary["client_decoding_stopped"], expectation.fixture)
            XCTAssertNil(outcome.summary["server_ended_inside_frame"], expectation.fixture)
            XCTAssertNil(outcome.summary["client_ended_inside_frame"], expectation.fixture)
        }
    }

    /// Same outcome whatever the segmenting (including one byte at a time).
    func testChunkingDoesNotMatter() throws {
        for expectation in Self.expectations {
            let whole = try run(expectation.fixture, chunk: 1 << 20)
            for chunk in [1, 7, 1460] {
                XCTAssertEqual(try run(expectation.fixture, chunk: chunk), whole, "\(expectation.fixture) chunk \(chunk)")
            }
        }
    }

    func testRealSummaries() throws {
        let jupyter = try run("zeek_jupyter-websocket", chunk: 1 << 20).summary
        XCTAssertEqual(jupyter["subprotocol"], .text("v1.kernel.websocket.jupyter.org"))
        // The MANIFEST note says permessage-deflate was negotiated, but Tornado's 101 has no
        // Sec-WebSocket-Extensions: only Firefox offered it (and no frame sets RSV1).
        XCTAssertNil(jupyter["extensions"])
        XCTAssertEqual(jupyter["offered_extensions"], .texts(["permessage-deflate"]))
        let tooBig = try run("zeek_message-too-big-status", chunk: 1 << 20).summary
        XCTAssertEqual(tooBig["client_close_code"], .integer(1009))
        XCTAssertEqual(tooBig["client_close_reason"], .text("over size limit (4 > 2 bytes)"))
        XCTAssertEqual(tooBig["server_close_code"], .integer(1000))
        let fragments = try run("zeek_two-binary-fragments", chunk: 1 << 20).summary
        XCTAssertEqual(fragments["server_frames"], .integer(4))
        XCTAssertEqual(fragments["server_messages_binary"], .integer(1))
        XCTAssertEqual(fragments["server_frames_continuation"], .integer(1))
    }

    /// Every WebSocket capture in the MANIFEST has an expectation with tshark's count.
    func testExpectationsCoverTheManifest() throws {
        guard let manifest = try? String(contentsOf: Self.manifest, encoding: .utf8) else {
            throw XCTSkip("no MANIFEST at \(Self.manifest.path)")
        }
        var counted: [String: UInt64] = [:]
        for line in manifest.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count > 10, let frames = UInt64(columns[10]), frames > 0 else { continue }
            counted[columns[0]] = frames
        }
        XCTAssertEqual(counted.count, Self.expectations.count)
        for expectation in Self.expectations {
            XCTAssertEqual(counted[expectation.capture], expectation.frames, expectation.capture)
        }
    }
}
