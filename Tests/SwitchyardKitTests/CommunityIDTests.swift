import Findings
import Foundation
import PacketCapture
import PacketDecoding
import XCTest
@testable import SwitchyardKit

/// `community_id` against tshark's Community ID (tshark 4.0 `communityid` post-dissector), for
/// every TCP connection of the public captures in ../shared/captures-real, and `flow_id` shared
/// by `analyze` and `flows`. tshark's values are committed in Fixtures/community-ids.tsv
/// (written by Scripts/community-id-table), so the computation is checked without tshark or the
/// public captures; where tshark is installed a few captures are checked against it again.
final class CommunityIDTests: XCTestCase {
    struct Row: Hashable {
        var capture: String
        var a: String
        var b: String
        var communityID: String
    }

    static let tablePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/community-ids.tsv")

    static func table() throws -> [Row] {
        try String(contentsOf: tablePath, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") }
            .map { line in
                let c = line.split(separator: "\t").map(String.init)
                return Row(capture: c[0], a: c[1], b: c[2], communityID: c[3])
            }
    }

    /// `1.2.3.4:80` or `[::1]:80`, as the table and `Endpoint.description` write them.
    static func endpoint(_ text: String) -> Endpoint? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        let host = text[..<colon].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if host.contains(":") {
            var raw = in6_addr()
            guard inet_pton(AF_INET6, host, &raw) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: raw) { Array($0) }
            let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return Endpoint(address: IPAddress(ipv6High: high, low: low), port: port)
        }
        var raw = in_addr()
        guard inet_pton(AF_INET, host, &raw) == 1 else { return nil }
        return Endpoint(address: IPAddress(ipv4: UInt32(bigEndian: raw.s_addr)), port: port)
    }

    /// The spec's worked example ordering, both directions giving one ID, and every row of tshark's table.
    func testCommunityIDEqualsTsharksForEveryTableRow() throws {
        let rows = try Self.table()
        XCTAssertGreaterThan(rows.count, 400)
        for row in rows {
            guard let a = Self.endpoint(row.a), let b = Self.endpoint(row.b) else {
                XCTFail("unparsable row \(row)")
                continue
            }
            XCTAssertEqual(FlowIdentity.communityID(a, b), row.communityID, "\(row.capture) \(row.a) \(row.b)")
            XCTAssertEqual(FlowIdentity.communityID(b, a), row.communityID, "order must not matter")
        }
        XCTAssertEqual(rows.filter { $0.a.hasPrefix("[") }.count > 0, true, "IPv6 rows are covered")
    }

    func testFlowIDIsSymmetricBoundedAndTimeDependent() throws {
        let a = try XCTUnwrap(Self.endpoint("10.0.0.1:1234")), b = try XCTUnwrap(Self.endpoint("127.0.0.1:80"))
        let t = Timestamp(seconds: 1_700_000_000, nanoseconds: 5)
        let id = FlowIdentity.flowID(a, b, firstTimestamp: t)
        XCTAssertEqual(id, FlowIdentity.flowID(b, a, firstTimestamp: t))
        XCTAssertLessThan(id, 1 << 53)
        XCTAssertNotEqual(id, FlowIdentity.flowID(a, b, firstTimestamp: Timestamp(seconds: 1_700_000_000, nanoseconds: 6)))
        XCTAssertNotEqual(id, 0)
    }

    /// Every connection `flows` reports in the public captures carries the Community ID tshark
    /// computed for it, and `analyze` records name the same `flow_id` as `flows` for it.
    func testEveryPublicConnectionHasTsharksCommunityIDAndOneFlowID() throws {
        let root = TestPaths.publicCaptures
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("MANIFEST.tsv").path) else {
            throw XCTSkip("../shared/captures-real is not present; the table test still checks the computation")
        }
        var expected: [String: String] = [:]
        for row in try Self.table() {
            expected["\(row.capture) \(row.a) \(row.b)"] = row.communityID
            expected["\(row.capture) \(row.b) \(row.a)"] = row.communityID
        }
        var connections = 0, analyzeRecords = 0
        for file in TestPaths.captureFiles(in: root) {
            let name = String(file.path.dropFirst(root.path.count + 1))
            var flowKeys = Set<String>()
            for record in try flowRecords(file, name: name) where record["type"] as? String == "flow" {
                let connection = try XCTUnwrap(record["connection"] as? [String: Any])
                let key = "\(name) \(endpointText(connection["client"])) \(endpointText(connection["server"]))"
                XCTAssertEqual(connection["community_id"] as? String, expected[key], key)
                flowKeys.insert("\(connection["community_id"] as? String ?? "") \(connection["flow_id"] as? Int ?? 0)")
                connections += 1
            }
            let sink = OutputSink(stream: .inMemory(), format: .json)
            sink.analyzeFile(file.path, name: name)
            for line in String(decoding: sink.stream.memory, as: UTF8.self).split(separator: "\n") {
                let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                guard let connection = record["connection"] as? [String: Any] else { continue }
                let key = "\(connection["community_id"] as? String ?? "") \(connection["flow_id"] as? Int ?? 0)"
                XCTAssertTrue(flowKeys.contains(key), "\(name): \(record["type"] ?? "") names no connection of `flows`: \(key)")
                analyzeRecords += 1
            }
        }
        XCTAssertGreaterThan(connections, 380)
        XCTAssertGreaterThan(analyzeRecords, 40)
    }

    /// tshark itself on a few captures covering IPv4, IPv6, VLAN, Linux cooked, pcapng and tunnels.
    func testTsharkStillAgreesOnASample() throws {
        guard let tshark = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("tshark is not installed; Fixtures/community-ids.tsv holds its values")
        }
        let root = TestPaths.publicCaptures
        guard FileManager.default.fileExists(atPath: root.path) else { throw XCTSkip("../shared/captures-real is not present") }
        let rows = try Self.table()
        for name in ["arkime/v6-http.pcap", "arkime/twovlan.pcap", "suricata-verify/decode-sll2-01/input.pcap",
                     "zeek/tunnels/vxlan-encapsulated-http.pcap", "nDPI/http2.pcapng"] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tshark)
            process.arguments = ["-r", root.appendingPathComponent(name).path, "--enable-protocol", "communityid",
                                 "-Y", "tcp && !icmp && !icmpv6", "-T", "fields", "-e", "communityid"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let theirs = Set(output.split(separator: "\n").map { String($0.split(separator: ",").last ?? "") })
            XCTAssertEqual(theirs, Set(rows.filter { $0.capture == name }.map(\.communityID)), name)
            XCTAssertFalse(theirs.isEmpty, name)
        }
    }

    private func endpointText(_ value: Any?) -> String {
        let object = value as? [String: Any] ?? [:]
        let ip = object["ip"] as? String ?? "", port = object["port"] as? Int ?? 0
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    private func flowRecords(_ file: URL, name: String) throws -> [[String: Any]] {
        let sink = OutputSink(stream: .inMemory(), format: .json)
        var reader = try CaptureFileReader(path: file.path)
        _ = flowsSource(&reader, name: name, format: reader.formatName, options: PipelineOptions(), sink: sink,
                        streamDirectory: nil, gapFill: .none)
        return String(decoding: sink.stream.memory, as: UTF8.self).split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }
}
