import Findings
import Foundation
import PacketCapture
import XCTest
@testable import Reporting
@testable import SwitchyardKit

/// `--format eve` against the field expectations of Suricata's EVE JSON schema (etc/schema.json in
/// Suricata's sources: the types of the common fields, the `timestamp` pattern, and the keys its
/// `alert` and `flow` objects allow). Scripts/check-eve validates with Suricata's file itself where
/// it is at hand; this test needs nothing outside the repository.
final class EVEFormatTests: XCTestCase {
    /// Suricata's top-level fields Switchyard writes, with their schema types, and `switchyard`.
    static let topLevel: [String: String] = [
        "timestamp": "string", "flow_id": "integer", "pcap_cnt": "integer", "event_type": "string",
        "src_ip": "string", "src_port": "integer", "dest_ip": "string", "dest_port": "integer",
        "proto": "string", "app_proto": "string", "community_id": "string",
        "alert": "object", "flow": "object", "switchyard": "object",
    ]
    static let alertKeys: [String: String] = [
        "action": "string", "category": "string", "gid": "integer", "rev": "integer", "rule": "string",
        "severity": "integer", "signature": "string", "signature_id": "integer", "xff": "string",
    ]
    static let flowKeys: [String: String] = [
        "action": "string", "age": "integer", "alerted": "boolean", "bypass": "string", "bytes_toclient": "integer",
        "bytes_toserver": "integer", "end": "string", "pkts_toclient": "integer", "pkts_toserver": "integer",
        "reason": "string", "start": "string", "state": "string",
    ]
    /// Suricata's `timestamp` pattern.
    static let timestampPattern = #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+[+\-]\d+$"#

    private func run(_ file: URL, _ format: OutputFormat) -> [JSONValue] {
        let sink = OutputSink(stream: .inMemory(), format: format)
        sink.analyzeFile(file.path, name: file.lastPathComponent)
        sink.writeSummary()
        return String(decoding: sink.stream.memory, as: UTF8.self).split(separator: "\n").compactMap {
            JSONParser.parse(ArraySlice(Array($0.utf8)))
        }
    }

    private func checkKeys(_ object: JSONValue, _ allowed: [String: String], _ context: String) {
        for member in object.members ?? [] {
            guard let type = allowed[member.key] else {
                XCTFail("\(context): Suricata's schema has no \(member.key)")
                continue
            }
            XCTAssertEqual(JSONSchemaValidator.typeName(member.value), type, "\(context).\(member.key)")
        }
    }

    func testEveryCaptureRecordFitsSuricatasEVESchemaAndCarriesTheJSONRecord() throws {
        var eventTypes: [String: Int] = [:]
        for file in TestPaths.captureFiles(in: TestPaths.captures) {
            let eve = run(file, .eve), json = run(file, .json)
            XCTAssertEqual(eve.count, json.count, file.lastPathComponent)
            for (record, native) in zip(eve, json) {
                let type = record["event_type"]?.stringValue ?? "?"
                let context = "\(file.lastPathComponent) \(type)"
                eventTypes[type, default: 0] += 1
                checkKeys(record, Self.topLevel, context)
                XCTAssertEqual(record["switchyard"], native, "\(context): the JSON record, unchanged")
                let timestamp = record["timestamp"]?.stringValue ?? ""
                XCTAssertNotNil(timestamp.range(of: Self.timestampPattern, options: .regularExpression), "\(context): \(timestamp)")
                if let alert = record["alert"] { checkKeys(alert, Self.alertKeys, context + ".alert") }
                if let flow = record["flow"] { checkKeys(flow, Self.flowKeys, context + ".flow") }
                if let connection = native["connection"] {
                    XCTAssertEqual(record["flow_id"], connection["flow_id"], context)
                    XCTAssertEqual(record["community_id"], connection["community_id"], context)
                    XCTAssertEqual(record["proto"]?.stringValue, "TCP", context)
                    let ends = Set([record["src_ip"]?.stringValue, record["dest_ip"]?.stringValue])
                    XCTAssertEqual(ends, Set([connection["client"]?["ip"]?.stringValue, connection["server"]?["ip"]?.stringValue]), context)
                }
                if type == "alert" {
                    XCTAssertEqual(native["type"]?.stringValue, "violation")
                    XCTAssertNotNil(record["alert"]?["signature_id"]?.integerValue, context)
                    if native["direction"]?.stringValue == "server_to_client" {
                        XCTAssertEqual(record["src_port"], native["connection"]?["server"]?["port"], "\(context): src is the sender")
                    }
                }
            }
        }
        XCTAssertEqual(Set(eventTypes.keys), ["alert", "switch", "upgrade_declined", "prior_knowledge", "proxied_upgrade", "summary"])
    }

    /// `flows --format eve`: Suricata `flow` events.
    func testFlowRecordsAreSuricataFlowEvents() throws {
        let file = TestPaths.captures.appendingPathComponent("websocket-echo.pcap")
        let sink = OutputSink(stream: .inMemory(), format: .eve)
        var reader = try CaptureFileReader(path: file.path)
        _ = flowsSource(&reader, name: "w", format: reader.formatName, options: PipelineOptions(), sink: sink,
                        streamDirectory: nil, gapFill: .none)
        let records = String(decoding: sink.stream.memory, as: UTF8.self).split(separator: "\n").compactMap {
            JSONParser.parse(ArraySlice(Array($0.utf8)))
        }
        let flow = try XCTUnwrap(records.first { $0["event_type"]?.stringValue == "flow" })
        checkKeys(flow, Self.topLevel, "flow")
        checkKeys(try XCTUnwrap(flow["flow"]), Self.flowKeys, "flow.flow")
        XCTAssertEqual(flow["flow"]?["pkts_toserver"]?.integerValue, 11)
        XCTAssertEqual(flow["flow"]?["state"]?.stringValue, "closed")
        XCTAssertEqual(flow["switchyard"]?["type"]?.stringValue, "flow")
    }

    func testSuricataTimestampAndSeverity() {
        XCTAssertEqual(EVELayout.timestamp(.init(seconds: 1_700_000_000, nanoseconds: 123_456_789)), "2023-11-14T22:13:20.123456+0000")
        XCTAssertEqual(EVELayout.severity(.high), 1)
        XCTAssertEqual(EVELayout.severity(.info), 3)
    }

    /// A signature id names one rule, and stays the same as rules are added (it comes from the id).
    func testSignatureIDsAreUniqueAndStable() {
        let ids = Rule.catalogue.map(EVELayout.signatureID)
        XCTAssertEqual(Set(ids).count, Rule.catalogue.count)
        XCTAssertTrue(ids.allSatisfy { (9_000_000..<10_000_000).contains($0) })
        XCTAssertEqual(EVELayout.signatureID(.websocketWeakMask), 9_274_546)
    }
}
