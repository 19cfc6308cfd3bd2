import Foundation
import XCTest
@testable import SwitchyardKit

/// `analyze` against the public captures in ../shared/captures-real and what tshark saw in them
/// (UPGRADE_PAIRS.tsv). Skipped where the folder is absent.
final class PublicCaptureTests: XCTestCase {
    private func records(_ file: URL, name: String) -> [[String: Any]] {
        let sink = OutputSink(stream: .inMemory(), format: .json)
        sink.analyzeFile(file.path, name: name)
        return String(decoding: sink.stream.memory, as: UTF8.self).split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    func publicRoot() throws -> URL {
        let root = TestPaths.publicCaptures
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("UPGRADE_PAIRS.tsv").path) else {
            throw XCTSkip("../shared/captures-real is not present")
        }
        return root
    }

    /// For every 101 tshark lists, a switch at the same response frame; no switch where tshark
    /// sees no 101. tshark is matched everywhere, with the GTP-U (nDPI) captures decoded too.
    func testSwitchesMatchTsharkUpgradePairs() throws {
        let root = try publicRoot()
        let table = try String(contentsOf: root.appendingPathComponent("UPGRADE_PAIRS.tsv"), encoding: .utf8)
        var expected: [String: [Int]] = [:]
        for line in table.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count > 2, columns[1] == "101", let frame = Int(columns[2]) else { continue }
            expected[columns[0], default: []].append(frame)
        }
        XCTAssertFalse(expected.isEmpty)
        for file in TestPaths.captureFiles(in: root) {
            let name = String(file.path.dropFirst(root.path.count + 1))
            let switches = records(file, name: name).filter { $0["type"] as? String == "switch" }
                .compactMap { $0["response_frame"] as? Int }
            XCTAssertEqual(switches.sorted(), (expected[name] ?? []).sorted(), name)
        }
    }

    /// Clean upgrades produce no HTTP/1.x violations (the post-switch protocols' findings on these
    /// files are checked in SwitchedProtocolsTests). The only ones in the public set are real: Gnutella
    /// clients fold X-Alt header lines (obs-fold, RFC 9112 §5.2) in three requests, two folds each
    /// (one finding per request, `occurrences` 2);
    /// suricata-verify's transform-base64-7296 has servers answer with a NUL inside a header name
    /// (`Con\0ent-Length`, frame 19) and with `HTTP/1.1` followed by 0x10 (frame 31): responses no
    /// measured client reads, so `http_not_http` says where analysis of those directions stopped;
    /// the same capture has a crafted segment with every TCP flag set (frame 36, at the server's
    /// next sequence number) after which the server itself goes on sending: its RST took no effect.
    /// Arkime's synthetic capture has one PostgreSQL startup message (frame 427) whose TCP
    /// checksum is wrong (tshark agrees): the server drops it, so it is not believed.
    func testViolationsOnPublicCapturesAreOnlyTheRealOnes() throws {
        let root = try publicRoot()
        var found: [String] = []
        for file in TestPaths.captureFiles(in: root) {
            let name = String(file.path.dropFirst(root.path.count + 1))
            for record in records(file, name: name) where record["type"] as? String == "violation"
                && CaptureCorpusTests.httpRuleIDs.contains(record["rule"] as? String ?? "") {
                found.append("\(name) \(record["rule"] as? String ?? "?") \(record["frame"] as? Int ?? 0)")
            }
        }
        XCTAssertEqual(found.sorted(), [
            "arkime/arkime_synthetic.pcap tcp_bad_checksum_ignored 427",
            "nDPI/gnutella.pcap http_obs_fold 1972",
            "nDPI/gnutella.pcap http_obs_fold 1976",
            "nDPI/gnutella.pcap http_obs_fold 2081",
            "suricata-verify/transform-base64-7296/input.pcap http_not_http 19",
            "suricata-verify/transform-base64-7296/input.pcap http_not_http 31",
            "suricata-verify/transform-base64-7296/input.pcap tcp_rst_not_honoured 37",
        ])
    }

    /// nDPI/gnutella.pcap: the two RFC 2817-style `Upgrade: TLS/1.0` requests tshark counts are
    /// answered `206 OK`: declined upgrades, not switches.
    func testGnutellaTLSUpgradesAreDeclined() throws {
        let root = try publicRoot()
        let declined = records(root.appendingPathComponent("nDPI/gnutella.pcap"), name: "g")
            .filter { $0["type"] as? String == "upgrade_declined" }
            .compactMap { ($0["request_frame"] as? Int, $0["response_frame"] as? Int) as? (Int, Int) }
        XCTAssertEqual(declined.map(\.0), [1972, 1976])
        XCTAssertEqual(declined.map(\.1), [1983, 1990])
    }
}

extension PublicCaptureTests {
    /// Tunnels inside WebSocket are named from the first message (RFC 6455 binary messages
    /// carrying TLS or HTTP): zeek's wstunnel-https carries a TLS ClientHello, and
    /// fragmented-http-reply an HTTP request.
    func testTunnelsInsideWebSocketAreNamed() throws {
        let root = try publicRoot()
        for (file, inner) in [("zeek/wstunnel-https.pcap", "tls"), ("zeek/fragmented-http-reply.pcap", "http1")] {
            let sink = OutputSink(stream: .inMemory(), format: .json)
            sink.analyzeFile(root.appendingPathComponent(file).path, name: file)
            let text = String(decoding: sink.stream.memory, as: UTF8.self)
            XCTAssertTrue(text.contains("\"observed_inner\":{\"observed_protocol\":\"\(inner)\""), file)
        }
    }

    /// Connections that start with the HTTP/2 preface are analysed as HTTP/2 (prior knowledge).
    func testPriorKnowledgeHTTP2IsRecognised() throws {
        let root = try publicRoot()
        for file in ["nDPI/http2.pcapng", "arkime/http2-nghttp2.pcap"] {
            let sink = OutputSink(stream: .inMemory(), format: .json)
            sink.analyzeFile(root.appendingPathComponent(file).path, name: file)
            XCTAssertEqual(sink.tally.priorKnowledgeByProtocol["http2"], 1, file)
        }
    }
}
