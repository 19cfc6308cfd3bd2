import Foundation
import XCTest
import Findings
@testable import SwitchyardKit

/// Runs `analyze` on every capture in Captures/ (made on loopback by real programs; see
/// Captures/README.md) and checks (1) what each must produce, from the table below, written
/// from the scenario descriptions, and (2) the whole output against Captures/expected/,
/// so any change of output is seen in review (regenerate with Scripts/update-expected).
final class CaptureCorpusTests: XCTestCase {
    /// capture file → (rule ids, sorted; switched protocols, sorted; declined upgrades).
    /// The raw peers (misbehaving_peers.py) mask every client frame with RFC 6455 §5.7's sample
    /// key, so `websocket_weak_mask` is a true finding wherever they send two client frames.
    static let expectations: [String: (rules: [String], switches: [String], declined: Int)] = [
        "websocket-echo.pcap": ([], ["websocket"], 0),
        "websocket-echo-deflate.pcap": ([], ["websocket"], 0),
        "websocket-echo-sll.pcap": ([], ["websocket"], 0),
        "websocket-echo-ipv6.pcap": ([], ["websocket"], 0),
        "websocket-echo-ng.pcapng": ([], ["websocket"], 0),
        // curl's h2c upgrade: correct, but the mechanism itself is deprecated (info).
        "h2c-upgrade-curl.pcap": (["h2c_upgrade_deprecated"], ["h2c"], 0),
        "docker-attach-tcp.pcap": ([], ["tcp"], 0),
        "docker-attach-multiplexed.pcap": ([], ["tcp"], 0),
        "keepalive-then-upgrade.pcap": (["websocket_weak_mask"], ["websocket"], 0),
        "upgrade-declined.pcap": ([], [], 1),
        "http-101-missing-upgrade.pcap": (["http_101_missing_upgrade"], ["unknown"], 0),
        // The unsolicited 101 names websocket but carries no Sec-WebSocket-Accept.
        "http-101-unsolicited.pcap": (["http_101_unsolicited", "websocket_missing_accept"], ["websocket"], 0),
        "http-101-without-request.pcap": (["http_101_without_request", "websocket_missing_accept"], ["websocket"], 0),
        "http-101-protocol-not-offered.pcap": (["http_101_protocol_not_offered"], ["h2c"], 0),
        "http-upgrade-missing-connection-token.pcap":
            (["http_upgrade_missing_connection_token", "websocket_weak_mask"], ["websocket"], 0),
        "http-connection-upgrade-without-upgrade.pcap": (["http_connection_upgrade_without_upgrade"], [], 0),
        // An HTTP/1.0 opening handshake also breaks RFC 6455 §4.1 (GET of HTTP/1.1 or later).
        "http-101-to-http10-request.pcap":
            (["http_101_to_http10_request", "websocket_bad_handshake_method", "websocket_weak_mask"], ["websocket"], 0),
        "http-101-http10-response.pcap": (["http_101_http10_response", "websocket_weak_mask"], ["websocket"], 0),
        // The client waits for 100 before sending its body, so the 101 also precedes the body's end.
        "http-101-before-100-continue.pcap":
            (["h2c_upgrade_deprecated", "http_101_before_100_continue", "http_switch_before_request_complete"], ["h2c"], 0),
        "http-1xx-with-content.pcap": (["http_1xx_with_content"], ["websocket"], 0),
        "http-switch-before-request-complete.pcap":
            (["h2c_upgrade_deprecated", "http_switch_before_request_complete"], ["h2c"], 0),
        "http-client-data-before-101.pcap": (["http_client_data_before_101", "websocket_weak_mask"], ["websocket"], 0),
        // After the 101 the pipelined request is HTTP text where WebSocket frames were agreed.
        "http-request-pipelined-after-upgrade.pcap":
            (["http_request_pipelined_after_upgrade", "switch_protocol_mismatch"], ["websocket"], 0),
        "http-101-then-http-response.pcap": (["http_101_then_http_response", "switch_protocol_mismatch"], ["websocket"], 0),
        "http-upgrade-declined-then-tunnel.pcap": (["http_upgrade_declined_then_tunnel"], [], 1),
        "http-426-missing-upgrade.pcap": (["http_426_missing_upgrade"], [], 0),
        "http-426-with-upgrade.pcap": ([], [], 0),
        "websocket-wrong-accept.pcap": (["websocket_wrong_accept"], ["websocket"], 0),
        "websocket-unmasked-client-frame.pcap": (["websocket_unmasked_client_frame"], ["websocket"], 0),
        "websocket-masked-server-frame.pcap": (["websocket_masked_server_frame", "websocket_weak_mask"], ["websocket"], 0),
        "websocket-bad-close.pcap": (["websocket_bad_close", "websocket_weak_mask"], ["websocket"], 0),
        "websocket-invalid-utf8.pcap": (["websocket_invalid_utf8", "websocket_weak_mask"], ["websocket"], 0),
        "websocket-reserved-opcode.pcap": (["websocket_reserved_opcode", "websocket_weak_mask"], ["websocket"], 0),
        "websocket-bad-version.pcap": (["websocket_bad_version"], [], 1),
        "h2c-missing-settings.pcap":
            (["h2c_bad_settings_header", "h2c_missing_connection_token", "h2c_upgrade_deprecated"], ["h2c"], 0),
        "tls-upgrade-not-tls.pcap": (["tls_upgrade_not_tls"], ["tls"], 0),
        "switch-protocol-mismatch.pcap": (["switch_protocol_mismatch"], ["websocket"], 0),
        "http-obs-fold.pcap": (["http_obs_fold"], [], 0),
        "http-whitespace-before-colon.pcap": (["http_whitespace_before_colon"], [], 0),
        "http-conflicting-content-length.pcap": (["http_conflicting_content_length"], [], 0),
        "http-content-length-with-transfer-encoding.pcap": (["http_content_length_with_transfer_encoding"], [], 0),
        "http-malformed-message.pcap": (["http_malformed_message"], [], 0),
        "tcp-overlap-conflict.pcap": (["tcp_overlap_conflict"], [], 0),
        "analyzer-limit-reached.pcap": (["analyzer_limit_reached"], [], 0),
        "websocket-missing-key.pcap": (["websocket_missing_key"], ["websocket"], 0),
        "websocket-bad-key.pcap": (["websocket_bad_key"], ["websocket"], 0),
        "websocket-duplicate-header.pcap": (["websocket_duplicate_header"], ["websocket"], 0),
        "websocket-subprotocol-not-offered.pcap": (["websocket_subprotocol_not_offered"], ["websocket"], 0),
        "websocket-extension-not-offered.pcap": (["websocket_extension_not_offered"], ["websocket"], 0),
        "websocket-rsv-without-extension.pcap": (["websocket_rsv_without_extension"], ["websocket"], 0),
        "websocket-bad-control-frame.pcap": (["websocket_bad_control_frame"], ["websocket"], 0),
        "websocket-non-minimal-length.pcap": (["websocket_non_minimal_length"], ["websocket"], 0),
        "websocket-bad-fragmentation.pcap": (["websocket_bad_fragmentation"], ["websocket"], 0),
        "websocket-inflate-failed.pcap": (["websocket_inflate_failed"], ["websocket"], 0),
        "websocket-decompression-bomb.pcap": (["websocket_decompression_bomb"], ["websocket"], 0),
        "h2c-missing-client-preface.pcap": (["h2c_missing_client_preface", "h2c_upgrade_deprecated"], ["h2c"], 0),
        "h2c-server-first-frame-not-settings.pcap":
            (["h2c_server_first_frame_not_settings", "h2c_upgrade_deprecated"], ["h2c"], 0),
        "http2-status-101.pcap": (["h2c_upgrade_deprecated", "http2_status_101"], ["h2c"], 0),
        "http2-connection-specific-header.pcap": (["h2c_upgrade_deprecated", "http2_connection_specific_header"], ["h2c"], 0),
        "docker-bad-stream-header.pcap": (["docker_bad_stream_header"], ["tcp"], 0),
    ]

    /// Every rule in the catalogue is shown by at least one capture of the corpus.
    func testEveryRuleHasACapture() {
        let shown = Set(Self.expectations.values.flatMap(\.rules))
        let missing = Rule.catalogue.map(\.id).filter { !shown.contains($0) }
        XCTAssertEqual(missing, [], "rules without a capture in Captures/")
    }

    private func analyze(_ file: URL) -> (records: [[String: Any]], output: String) {
        let sink = OutputSink(stream: .inMemory(), format: .json)
        sink.analyzeFile(file.path, name: "Captures/" + file.lastPathComponent)
        sink.writeSummary()
        let output = String(decoding: sink.stream.memory, as: UTF8.self)
        let records = output.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
        return (records, output)
    }

    func testEveryCaptureProducesWhatItsScenarioMeans() throws {
        let files = TestPaths.captureFiles(in: TestPaths.captures)
        XCTAssertEqual(Set(files.map(\.lastPathComponent)), Set(Self.expectations.keys), "every capture has expectations")
        for (name, expected) in Self.expectations {
            let file = TestPaths.captures.appendingPathComponent(name)
            XCTAssertTrue(FileManager.default.fileExists(atPath: file.path), "missing capture \(name)")
            let records = analyze(file).records
            let rules = records.filter { $0["type"] as? String == "violation" }.compactMap { $0["rule"] as? String }
            let switches = records.filter { $0["type"] as? String == "switch" }.compactMap { $0["protocol"] as? String }
            let declined = records.filter { $0["type"] as? String == "upgrade_declined" }.count
            XCTAssertEqual(rules.sorted(), expected.rules, name)
            XCTAssertEqual(switches.sorted(), expected.switches, name)
            XCTAssertEqual(declined, expected.declined, name)
        }
    }

    /// The HTTP/1.x and TCP rules.
    static let httpRuleIDs = Set(Rule.catalogue.map(\.id).filter { $0.hasPrefix("http_") || $0.hasPrefix("tcp_") })

    func testOutputMatchesCheckedInExpectedFindings() throws {
        for file in TestPaths.captureFiles(in: TestPaths.captures) {
            let expectedFile = TestPaths.expected.appendingPathComponent(file.lastPathComponent + ".jsonl")
            guard let expected = try? String(contentsOf: expectedFile, encoding: .utf8) else {
                XCTFail("no expected output \(expectedFile.lastPathComponent); run Scripts/update-expected")
                continue
            }
            let output = analyze(file).output
            if output != expected {
                let ours = output.split(separator: "\n"), theirs = expected.split(separator: "\n")
                let index = Array(zip(ours, theirs)).firstIndex { $0.0 != $0.1 } ?? min(ours.count, theirs.count)
                XCTFail("\(file.lastPathComponent): output differs from Captures/expected at line \(index + 1):\n"
                        + "got:      \(index < ours.count ? String(ours[index]) : "<end>")\n"
                        + "expected: \(index < theirs.count ? String(theirs[index]) : "<end>")")
            }
        }
    }

    /// Every packet read lands in exactly one bucket of the summary's disposition.
    func testPacketAccountingAddsUp() throws {
        var files = TestPaths.captureFiles(in: TestPaths.captures)
        files += TestPaths.captureFiles(in: TestPaths.publicCaptures)
        for file in files {
            let records = analyze(file).records
            guard let summary = records.last, summary["type"] as? String == "summary",
                  let packets = summary["packets"] as? Int,
                  let disposition = summary["packet_disposition"] as? [String: Any] else {
                XCTFail("no summary for \(file.lastPathComponent)")
                continue
            }
            let sum = disposition.values.compactMap { $0 as? Int }.reduce(0, +)
            XCTAssertEqual(sum, packets, "\(file.lastPathComponent): dispositions \(disposition) do not add up")
        }
    }
}
