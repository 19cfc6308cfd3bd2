import Findings
import Foundation
import PacketCapture
import XCTest
@testable import Reporting
@testable import SwitchyardKit

/// The published record schema (docs/schema/switchyard-record.schema.json) against every record
/// Switchyard writes for the captures in Captures/ — `analyze` (the goldens), `flows`, and the
/// `switch`/`switch_end` pair of live capture — and the public captures where present.
final class OutputSchemaTests: XCTestCase {
    static let schemaPath = TestPaths.repositoryRoot.appendingPathComponent("docs/schema/switchyard-record.schema.json")

    /// (where it came from, the record's text), gathered once for every test here.
    nonisolated(unsafe) static var gathered: [(source: String, line: Substring)]?

    static func records() throws -> [(source: String, line: Substring)] {
        if let gathered { return gathered }
        var lines: [(String, Substring)] = []
        func add(_ sink: OutputSink, _ source: String) {
            for line in String(decoding: sink.stream.memory, as: UTF8.self).split(separator: "\n") { lines.append((source, line)) }
        }
        for golden in try FileManager.default.contentsOfDirectory(at: TestPaths.expected, includingPropertiesForKeys: nil)
            where golden.pathExtension == "jsonl" {
            for line in try String(contentsOf: golden, encoding: .utf8).split(separator: "\n") {
                lines.append((golden.lastPathComponent, line))
            }
        }
        var captures = TestPaths.captureFiles(in: TestPaths.captures)
        if FileManager.default.fileExists(atPath: TestPaths.publicCaptures.path) {
            captures += TestPaths.captureFiles(in: TestPaths.publicCaptures)
            for file in TestPaths.captureFiles(in: TestPaths.publicCaptures) {
                let sink = OutputSink(stream: .inMemory(), format: .json)
                sink.analyzeFile(file.path)
                sink.writeSummary()
                add(sink, "analyze \(file.lastPathComponent)")
            }
        }
        for file in captures {
            let flows = OutputSink(stream: .inMemory(), format: .json)
            var reader = try CaptureFileReader(path: file.path)
            _ = flowsSource(&reader, name: file.path, format: reader.formatName, options: PipelineOptions(), sink: flows,
                            streamDirectory: nil, gapFill: .none)
            flows.writeSummary()
            add(flows, "flows \(file.lastPathComponent)")
        }
        // Fields only a limit produces (as Scripts/output-schema's LIMITED_RUNS): HTTP/2's
        // requests_not_listed, values_truncated and the http2_listed_requests finding.
        var limited = PipelineOptions()
        limited.analysis.http2.maxListedRequests = 2
        limited.analysis.http2.maxRequestValueBytes = 4
        let limitedSink = OutputSink(stream: .inMemory(), format: .json)
        limitedSink.analyzeFile(TestPaths.captures.appendingPathComponent("h2c-upgrade-nghttp-requests.pcap").path,
                                options: limited)
        limitedSink.writeSummary()
        add(limitedSink, "analyze (small HTTP/2 limits) h2c-upgrade-nghttp-requests.pcap")
        var live = PipelineOptions()
        live.analysis.emitSwitchAtResponse = true
        for file in TestPaths.captureFiles(in: TestPaths.captures) where file.lastPathComponent.hasPrefix("websocket-echo")
            || file.lastPathComponent.hasPrefix("h2c-upgrade") {
            let sink = OutputSink(stream: .inMemory(), format: .json)
            sink.analyzeFile(file.path, options: live)
            sink.writeSummary()
            add(sink, "live-style \(file.lastPathComponent)")
        }
        gathered = lines
        return lines
    }

    func parsed() throws -> [(source: String, value: JSONValue)] {
        try Self.records().map { record in
            guard let value = JSONParser.parse(ArraySlice(Array(record.line.utf8))) else {
                throw JSONSchemaValidator.ValidationError("\(record.source): not JSON: \(record.line.prefix(200))")
            }
            return (record.source, value)
        }
    }

    func testEveryRecordValidatesAgainstThePublishedSchema() throws {
        let validator = try JSONSchemaValidator(schema: Array(try Data(contentsOf: Self.schemaPath)))
        let records = try parsed()
        var types = Set<String>(), failures = 0
        for (source, value) in records {
            types.insert(value["type"]?.stringValue ?? "?")
            let errors = validator.errors(value)
            if !errors.isEmpty {
                failures += 1
                if failures <= 20 { XCTFail("\(source) \(value["type"]?.stringValue ?? "?"): \(errors.prefix(5).joined(separator: "; "))") }
            }
        }
        XCTAssertEqual(failures, 0, "records that break docs/schema; if a field was added on purpose, run Scripts/output-schema")
        XCTAssertGreaterThan(records.count, 200)
        XCTAssertEqual(types, ["violation", "switch", "switch_end", "upgrade_declined", "prior_knowledge",
                               "proxied_upgrade", "flow", "summary"], "every record type is checked")
    }

    func testNoFieldPathHasTwoJSONTypes() throws {
        var seen: [String: [String: String]] = [:]
        func walk(_ value: JSONValue, _ path: String, _ source: String) {
            var type = JSONSchemaValidator.typeName(value)
            if type == "integer" { type = "number" } // 0 and 0.5 are both `duration_seconds`
            if type != "null" { seen[path, default: [:]][type] = seen[path]?[type] ?? source }
            switch value {
            case .object(let members): for member in members { walk(member.value, path + "." + member.key, source) }
            case .array(let elements): for element in elements { walk(element, path + "[]", source) }
            default: break
            }
        }
        for (source, value) in try parsed() { walk(value, "", "\(source) \(value["type"]?.stringValue ?? "")") }
        let clashes = seen.filter { $0.value.count > 1 }.map { "\($0.key): \($0.value)" }.sorted()
        XCTAssertEqual(clashes, [], "one JSON type per field path")
        XCTAssertGreaterThan(seen.count, 400)
    }

    func testSchemaVersionIsWrittenAndPublished() throws {
        let schema = try XCTUnwrap(JSONParser.parse(ArraySlice(Array(try Data(contentsOf: Self.schemaPath)))))
        XCTAssertEqual(schema["x-switchyard-schema-version"]?.integerValue, Int64(OutputSchema.version))
        let summaries = try parsed().filter { $0.value["type"]?.stringValue == "summary" }
        XCTAssertFalse(summaries.isEmpty)
        for summary in summaries {
            XCTAssertEqual(summary.value["schema_version"]?.integerValue, Int64(OutputSchema.version), summary.source)
        }
    }

    /// Issue #17 *Noise*: a rule fires once for one frame, direction and connection.
    func testNoRuleFiresTwiceForOneFrame() throws {
        var seen = Set<String>()
        for (source, value) in try parsed() where value["type"]?.stringValue == "violation" {
            let key = [source, value["capture"]?.stringValue ?? "", value["connection"]?["flow_id"]?.serialized() ?? "-",
                       value["rule"]?.stringValue ?? "", value["frame"]?.serialized() ?? "",
                       value["direction"]?.serialized() ?? ""].joined(separator: " ")
            XCTAssertTrue(seen.insert(key).inserted, "fired twice: \(key)")
        }
    }

    /// The validator finds what it is meant to find, so the tests above can fail.
    func testValidatorRejectsWrongTypesUnknownFieldsAndMissingOnes() throws {
        let validator = try JSONSchemaValidator(schema: Array(try Data(contentsOf: Self.schemaPath)))
        func errors(_ text: String) -> [String] { validator.errors(JSONParser.parse(ArraySlice(Array(text.utf8)))!) }
        XCTAssertEqual(errors(#"{"type":"violation","ts":"2026-01-01T00:00:00.000000Z","capture":"x","frame":3,"direction":null}"#), [])
        XCTAssertFalse(errors(#"{"type":"violation","ts":"2026-01-01T00:00:00Z","capture":"x","frame":"3"}"#).isEmpty)
        XCTAssertFalse(errors(#"{"type":"violation","ts":"2026-01-01T00:00:00Z","capture":"x","frame":3.5}"#).isEmpty)
        XCTAssertFalse(errors(#"{"type":"violation","ts":"2026-01-01T00:00:00Z","capture":"x","no_such_field":1}"#).isEmpty)
        XCTAssertFalse(errors(#"{"type":"violation","capture":"x"}"#).isEmpty, "ts is required")
        XCTAssertFalse(errors(#"{"type":"nonsense","ts":"2026-01-01T00:00:00Z","capture":"x"}"#).isEmpty)
        XCTAssertFalse(errors(#"{"type":"flow","ts":"yesterday","capture":"x"}"#).isEmpty)
        XCTAssertFalse(errors(#"{"type":"flow","ts":"2026-01-01T00:00:00Z","capture":"x","connection":{"community_id":"2:x"}}"#).isEmpty)
        XCTAssertFalse(errors(#"{"type":"violation","ts":"2026-01-01T00:00:00Z","capture":"x","evidence":{"header":{"hex":"00","text":"."}}}"#).isEmpty,
                       "evidence.header is a header name")
    }
}
