import Foundation
import XCTest
@testable import Reporting

final class SummaryTests: XCTestCase {
    func testRealAnalyzeOutputIsParsedAndCounted() throws {
        let document = parseJSONLinesDocument(Array(realAnalyzeOutput.utf8))
        XCTAssertEqual(document.invalidLines, [])
        XCTAssertEqual(document.records.map(\.type), ["violation", "switch", "upgrade_declined", "violation", "violation",
                                                       "violation", "violation", "switch", "prior_knowledge", "summary"])
        let text = AuditReport(records: document.records).json()
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(summary["violations"] as? Int, 5)
        XCTAssertEqual(summary["violations_by_severity"] as? [String: Int], ["high": 2, "medium": 2, "low": 0, "info": 1])
        XCTAssertEqual(summary["violations_by_rule"] as? [String: Int], [
            "h2c_bad_settings_header": 1, "h2c_missing_connection_token": 1, "h2c_upgrade_deprecated": 1,
            "http_upgrade_declined_then_tunnel": 1, "websocket_wrong_accept": 1,
        ])
        XCTAssertEqual(summary["switches"] as? Int, 2)
        XCTAssertEqual(summary["switches_by_protocol"] as? [String: Int], ["h2c": 1, "websocket": 1])
        XCTAssertEqual(summary["upgrades_declined"] as? Int, 1)
        XCTAssertEqual(summary["prior_knowledge_by_protocol"] as? [String: Int], ["http2": 1])
        let scope = try XCTUnwrap(summary["scope"] as? [String: Any])
        XCTAssertEqual(scope["packets"] as? Int, 40)
        XCTAssertEqual(scope["connections"] as? Int, 3)
        XCTAssertEqual(scope["first_ts"] as? String, "2026-11-21T17:51:26.203989Z")
        XCTAssertEqual(scope["last_ts"] as? String, "2026-11-21T17:52:08.005846Z")
        XCTAssertEqual(scope["duration_us"] as? Int, 41_801_857)
        let captures = try XCTUnwrap(scope["captures"] as? [[String: Any]])
        XCTAssertEqual(captures.compactMap { $0["capture"] as? String }, [
            "Captures/h2c-missing-settings.pcap", "Captures/http-upgrade-declined-then-tunnel.pcap",
            "Captures/websocket-wrong-accept.pcap",
        ])
        let risks = try XCTUnwrap(summary["top_risks"] as? [[String: Any]])
        XCTAssertEqual(risks.compactMap { $0["rule"] as? String }, ["http_upgrade_declined_then_tunnel", "websocket_wrong_accept"])
        XCTAssertEqual(risks.first?["reference"] as? String, "RFC 9110 §7.8")
        let pairs = try XCTUnwrap(summary["protocols_after_switch"] as? [[String: Any]])
        XCTAssertEqual(pairs.compactMap { $0["verdict"] as? String }, ["as agreed", "nothing sent"])
    }

    func testJSONKeysComeInAFixedOrder() {
        let text = AuditReport(records: realRecords()).json()
        let keys = ["\"report\"", "\"format_version\"", "\"title\"", "\"generated_at\"", "\"sources\"", "\"scope\"",
                    "\"switches\"", "\"switches_by_protocol\"", "\"protocols_after_switch\"", "\"upgrades_declined\"",
                    "\"prior_knowledge_by_protocol\"", "\"violations\"", "\"violations_by_severity\"",
                    "\"violations_by_rule\"", "\"top_risks\"", "\"baseline\"", "\"input\""]
        let positions = keys.map { key in text.range(of: "\n  \(key):")?.lowerBound }
        XCTAssertFalse(positions.contains(nil), "missing top-level key")
        let found = positions.compactMap { $0 }
        XCTAssertEqual(found, found.sorted())
        XCTAssertTrue(text.hasSuffix("}\n"))
    }

    func testSummaryRecordsOfSeveralRunsAreCombined() throws {
        let first = summaryRecord(captures: [("z.pcap", 10), ("b.pcap", 5)], first: "2026-01-02T00:00:10Z",
                                  last: "2026-01-02T00:00:20Z", packets: 15, connections: 2, violations: 0,
                                  parseErrors: [("not_http", 2)])
        let second = summaryRecord(captures: [("a.pcap", 7)], first: "2026-01-01T00:00:00Z",
                                   last: "2026-01-02T00:00:15Z", packets: 7, connections: 4, violations: 0,
                                   parseErrors: [("not_http", 1), ("gap", 3)])
        let audit = AuditReport(records: [first, second]).audit
        let scope = audit.scope
        XCTAssertEqual(scope.summaryRecords, 2)
        XCTAssertEqual(scope.packets, 22)
        XCTAssertEqual(scope.bytes, 2200)
        XCTAssertEqual(scope.connections, 6)
        XCTAssertEqual(audit.captures.map(\.name), ["a.pcap", "b.pcap", "z.pcap"])
        XCTAssertEqual(scope.first?.rfc3339, "2026-01-01T00:00:00.000000Z")
        XCTAssertEqual(scope.last?.rfc3339, "2026-01-02T00:00:20.000000Z")
        XCTAssertEqual(scope.parseErrors.ordered().map(\.name), ["gap", "not_http"])
        XCTAssertEqual(scope.parseErrors.values["not_http"], 3)
        XCTAssertEqual(scope.disposition.ordered(Scope.dispositionOrder).map(\.name), ["tcp", "non_tcp"])
    }

    func testFindingsAreLinkedToTheirConnectionsHandshake() throws {
        let audit = AuditReport(records: realRecords()).audit
        let examples = audit.groups.flatMap(\.examples.items)
        let accept = try XCTUnwrap(examples.first { $0.rule == "websocket_wrong_accept" })
        XCTAssertEqual(accept.context?.kind, .switched)
        XCTAssertEqual(accept.context?.request?.lines.first, "GET /chat HTTP/1.1")
        XCTAssertEqual(accept.context?.response?.startLine, "HTTP/1.1 101 Switching Protocols")
        XCTAssertEqual(accept.frames.map(\.frame), [4, 6])
        XCTAssertEqual(accept.connectionFilter, "ip.addr == 127.0.0.1 && ip.addr == 127.0.0.1 && tcp.port == 44476 && tcp.port == 53721")
        let tunnel = try XCTUnwrap(examples.first { $0.rule == "http_upgrade_declined_then_tunnel" })
        XCTAssertEqual(tunnel.context?.kind, .declined)
        XCTAssertEqual(tunnel.frames.map(\.frame), [4, 6, 8])

        let html = AuditReport(records: realRecords()).html()
        XCTAssertTrue(html.contains("<strong>frame 6</strong> — where the finding was detected — <code>frame.number == 6</code>"))
        XCTAssertTrue(html.contains("<a href=\"https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2\" rel=\"noreferrer noopener\">§4.2.2</a>"))
        XCTAssertTrue(html.contains("<h5>Request · frame 4</h5><pre>GET /chat HTTP/1.1\nhost: 127.0.0.1:53721"))
        // The h2c switch's first client bytes as a hex dump.
        XCTAssertTrue(html.contains("0000  50 52 49 20 2a 20 48 54  54 50 2f 32 2e 30 0d 0a  |PRI * HTTP/2.0..|"))
        let markdown = AuditReport(records: realRecords(), options: ReportOptions(longMarkdown: true)).markdown()
        XCTAssertTrue(markdown.contains("- Wireshark: frame 6 (where the finding was detected) — `frame.number == 6`"))
        XCTAssertTrue(markdown.contains("[§4.2.2](https://www.rfc-editor.org/rfc/rfc6455#section-4.2.2)"))
    }

    /// A newer analyze adds members (the summary's `tcp_not_believed`, say): the report reads
    /// what it knows, from lines and from records alike, and ignores the rest.
    func testUnknownMembersAreIgnored() throws {
        let summary = summaryRecord(captures: [("a.pcap", 10)], first: "2026-01-02T00:00:10Z", last: "2026-01-02T00:00:20Z",
                                    packets: 10, connections: 1, violations: 1)
        guard case .object(var members) = summary.value else { return XCTFail("not an object") }
        members.insert(JSONMember("tcp_not_believed", object([("bad_checksum_dropped", int(3)), ("per_capture", .array([object([("x", .null)])]))])), at: 4)
        members.append(JSONMember("future", .array([.bool(true), .null, .number("1.5e3")])))
        let newer = ReportRecord(.object(members))!
        let lines = json(newer.value) + "\n" + json(violation(rule: "websocket_wrong_accept").value) + "\n"
        let fromLines = AuditReport(jsonLines: Array(lines.utf8))
        let fromRecords = AuditReport(records: [newer, violation(rule: "websocket_wrong_accept")])
        XCTAssertEqual(fromLines.audit.invalidLines, 0)
        XCTAssertEqual(fromLines.audit.scope.packets, 10)
        XCTAssertEqual(fromLines.audit.captures.map(\.name), ["a.pcap"])
        XCTAssertEqual(fromLines.findingCount, 1)
        XCTAssertEqual(fromLines.json(), fromRecords.json())
        XCTAssertEqual(fromLines.html(), fromRecords.html())
    }

    func testEveryCatalogueRuleHasAGuide() {
        for rule in catalogueRuleIDs() {
            XCTAssertNotNil(RuleGuide.entries[rule], "no guide for \(rule)")
        }
        XCTAssertEqual(Set(RuleGuide.entries.keys), Set(catalogueRuleIDs()))
        XCTAssertEqual(RuleGuide.forRule("no_such_rule").title, "Unrecognised rule")
    }

    func testEmptyInputStillMakesAReport() {
        let report = AuditReport(jsonLines: [])
        XCTAssertTrue(report.html().contains("No violations were found"))
        XCTAssertTrue(report.markdown().contains("No violations were found."))
        XCTAssertTrue(report.json().contains("\"violations\": 0"))
    }
}
