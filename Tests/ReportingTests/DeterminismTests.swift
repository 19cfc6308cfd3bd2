import XCTest
@testable import Reporting

final class DeterminismTests: XCTestCase {
    private func mixedRecords() -> [ReportRecord] {
        realRecords() + [
            violation(rule: "websocket_weak_mask", severity: "medium", ts: "2026-01-02T03:04:05.000001Z", frame: 9),
            violation(rule: "websocket_weak_mask", severity: "medium", ts: "2026-01-02T03:04:05.000001Z", frame: 9,
                      message: "Same time and frame, other message."),
            violation(rule: "websocket_weak_mask", severity: "medium", ts: "2026-01-02T03:04:05.000001Z", frame: 9,
                      evidence: object([("mask_key", str("00000000"))])),
            violation(rule: "not_a_known_rule", severity: "low", ts: "not a time"),
            switchRecord(),
            summaryRecord(captures: [("a.pcap", 10)], first: "2026-01-02T03:04:05.000001Z", last: "2026-01-02T03:04:09Z",
                          packets: 10, connections: 1, violations: 4),
        ]
    }

    func testSameInputGivesSameBytes() {
        let records = mixedRecords()
        for format in ReportFormat.allCases {
            let first = AuditReport(records: records).render(format)
            let second = AuditReport(records: records).render(format)
            XCTAssertEqual(first, second, "\(format)")
            XCTAssertFalse(first.isEmpty)
        }
    }

    func testInputOrderDoesNotMatter() {
        let records = mixedRecords()
        let baseline = Array(realRecords().prefix(4))
        let options = ReportOptions(sources: ["b.jsonl", "a.jsonl"])
        let reference = AuditReport(records: records, baseline: baseline, options: options)
        for seed in [1, 7, 42, 1234, 99999] as [UInt64] {
            let other = AuditReport(records: shuffled(records, seed: seed), baseline: shuffled(baseline, seed: seed &+ 1),
                                    options: ReportOptions(sources: ["a.jsonl", "b.jsonl"]))
            for format in ReportFormat.allCases {
                XCTAssertEqual(reference.render(format), other.render(format), "\(format), seed \(seed)")
            }
        }
    }

    func testConcatenatedFilesEqualSeparateRecords() {
        let text = realAnalyzeOutput + "\n" + realAnalyzeOutput.split(separator: "\n").reversed().joined(separator: "\n")
        let combined = AuditReport(jsonLines: Array(text.utf8))
        let separate = AuditReport(records: realRecords() + realRecords().reversed())
        XCTAssertEqual(combined.html(), separate.html())
    }

    func testNoGenerationTimeUnlessGiven() {
        let plain = AuditReport(records: realRecords())
        XCTAssertFalse(plain.html().contains("Generated"))
        XCTAssertTrue(plain.json().contains("\"generated_at\": null"))
        let dated = AuditReport(records: realRecords(), options: ReportOptions(generatedAt: "2030-01-01 00:00 UTC"))
        XCTAssertTrue(dated.html().contains("Generated 2030-01-01 00:00 UTC."))
        XCTAssertTrue(dated.markdown().contains("generated 2030\\-01\\-01") || dated.markdown().contains("generated 2030-01-01"))
    }

    func testGroupsAreNumberedInReportOrder() throws {
        let audit = AuditReport(records: mixedRecords()).audit
        XCTAssertEqual(audit.groups.map(\.number), Array(1...audit.groups.count))
        let severities = audit.groups.map(\.severity.rawValue)
        XCTAssertEqual(severities, severities.sorted(by: >))
        // The three weak-mask findings tie on everything but their text: still a fixed order.
        let weak = try XCTUnwrap(audit.groups.first { $0.key.rule == "websocket_weak_mask" })
        XCTAssertEqual(weak.count, 3)
        let texts = weak.examples.items.map(\.canonical)
        XCTAssertEqual(texts, texts.sorted())
    }
}
