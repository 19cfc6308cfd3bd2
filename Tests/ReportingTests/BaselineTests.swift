import XCTest
@testable import Reporting

final class BaselineTests: XCTestCase {
    func testNewFixedAndUnchangedGroupsAreMatchedByRuleServerAndPort() throws {
        let baseline = [
            // Unchanged: same rule and addresses, other client port and time in the new audit.
            violation(rule: "websocket_wrong_accept", ts: "2025-01-01T00:00:00Z", clientPort: 50000, serverPort: 8080),
            // Fixed: only in the baseline.
            violation(rule: "http_101_unsolicited", server: "10.0.0.9", serverPort: 80),
            // Fixed too: the new audit has this rule on another server port.
            violation(rule: "http_obs_fold", severity: "medium", serverPort: 8000),
        ]
        let current = [
            violation(rule: "websocket_wrong_accept", ts: "2026-06-01T00:00:00Z", clientPort: 61000, serverPort: 8080),
            violation(rule: "websocket_wrong_accept", ts: "2026-06-01T00:00:01Z", clientPort: 61001, serverPort: 8080),
            violation(rule: "http_obs_fold", severity: "medium", serverPort: 9000),
            violation(rule: "websocket_missing_key", client: "10.0.0.7"),
            // Another client of an unchanged group: same group, so still unchanged.
            violation(rule: "websocket_wrong_accept", ts: "2026-06-01T00:00:02Z", client: "10.0.0.8", serverPort: 8080),
        ]
        let report = AuditReport(records: current, baseline: baseline, options: ReportOptions(baselineSources: ["old.jsonl"]))
        let counts = try XCTUnwrap(report.baselineCounts)
        XCTAssertEqual(counts.new, 2)
        XCTAssertEqual(counts.fixed, 2)
        XCTAssertEqual(counts.unchanged, 1)

        let comparison = try XCTUnwrap(report.audit.baseline)
        XCTAssertEqual(comparison.new.map(\.key.rule), ["websocket_missing_key", "http_obs_fold"])
        XCTAssertEqual(comparison.fixed.map(\.key.rule), ["http_101_unsolicited", "http_obs_fold"])
        XCTAssertEqual(comparison.fixed.last?.key.server.port, 8000)
        let unchanged = try XCTUnwrap(comparison.unchanged.first)
        XCTAssertEqual(unchanged.key.rule, "websocket_wrong_accept")
        XCTAssertEqual(unchanged.baselineCount, 1)
        XCTAssertEqual(unchanged.currentCount, 3)
        XCTAssertEqual(unchanged.group, report.audit.groups.first { $0.key.rule == "websocket_wrong_accept" }?.number)
        XCTAssertEqual(report.audit.groups.filter { ($0.baselineCount ?? 0) > 0 }.map(\.count), [3])
        XCTAssertEqual(report.audit.groups.filter { $0.baselineCount == 0 }.count, 2)

        let html = report.html()
        XCTAssertTrue(html.contains("in groups: <strong>2 new</strong>, <strong>2 fixed</strong>, 1 unchanged."))
        XCTAssertTrue(html.contains("rule, server IP address and server port"))
        XCTAssertTrue(html.contains("<span class=\"tag new\">new</span>"))
        let markdown = report.markdown()
        XCTAssertTrue(markdown.contains("**2 new**, **2 fixed**, 1 unchanged"))
        XCTAssertTrue(markdown.contains("### New since the baseline (2)"))
        XCTAssertFalse(markdown.contains("### Fixed since the baseline"), "the short form lists only new groups")
        var long = ReportOptions(baselineSources: ["old.jsonl"])
        long.longMarkdown = true
        let longMarkdown = AuditReport(records: current, baseline: baseline, options: long).markdown()
        XCTAssertTrue(longMarkdown.contains("### Fixed since the baseline (2)"))
        let json = report.json()
        XCTAssertTrue(json.contains("\"matching_key\": [\n      \"rule\",\n      \"server_ip\",\n      \"server_port\"\n    ]"))
        XCTAssertTrue(json.contains("\"new\": 2,\n    \"fixed\": 2,\n    \"unchanged\": 1"))
    }

    func testNoBaselineMeansNoComparison() {
        let report = AuditReport(records: realRecords())
        XCTAssertNil(report.baselineCounts)
        XCTAssertFalse(report.html().contains("id=\"baseline\""))
        XCTAssertTrue(report.json().contains("\"baseline\": null"))
    }

    func testIdenticalAuditsChangeNothing() throws {
        let report = AuditReport(records: realRecords(), baseline: realRecords())
        let counts = try XCTUnwrap(report.baselineCounts)
        XCTAssertEqual(counts.new, 0)
        XCTAssertEqual(counts.fixed, 0)
        XCTAssertEqual(counts.unchanged, 5)
    }

    func testBaselineStreamedLikeTheInputGivesTheSameComparison() throws {
        let old = Array((realAnalyzeOutput + "\n").utf8)
        let current = Array((realAnalyzeOutput + "\n" + json(violation(rule: "websocket_missing_key").value) + "\n").utf8)
        let report = AuditReport(jsonLines: current, baseline: old)
        let counts = try XCTUnwrap(report.baselineCounts)
        XCTAssertEqual(counts.new, 1)
        XCTAssertEqual(counts.fixed, 0)
        XCTAssertEqual(counts.unchanged, 5)
    }
}
