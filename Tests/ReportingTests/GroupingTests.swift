import Findings
import Foundation
import XCTest
@testable import Reporting

final class GroupingTests: XCTestCase {
    func testFindingsAreGroupedByRuleAndService() throws {
        var records: [ReportRecord] = []
        // 30 findings of one rule on one service, from 3 captures and 6 clients.
        for index in 0..<30 {
            records.append(violation(rule: "websocket_wrong_accept", capture: "/sites/lyon/cap-\(index % 3).pcap",
                                     ts: "2026-01-02T03:04:\(10 + index).000000Z", client: "10.0.1.\(index % 6)",
                                     clientPort: 40000 + index, server: "10.0.0.2", serverPort: 443, frame: 100 + index))
        }
        // The same rule on another port is another group; another rule on the same service too.
        records.append(violation(rule: "websocket_wrong_accept", server: "10.0.0.2", serverPort: 8443))
        records.append(violation(rule: "http_obs_fold", severity: "medium", server: "10.0.0.2", serverPort: 443))
        records.append(switchRecord(capture: "/sites/lyon/cap-0.pcap", server: "10.0.0.2", serverPort: 443))
        let audit = AuditReport(records: records).audit
        XCTAssertEqual(audit.findingCount, 32)
        XCTAssertEqual(audit.groups.map(\.count), [30, 1, 1])
        let big = audit.groups[0]
        XCTAssertEqual(big.number, 1)
        XCTAssertEqual(big.key, GroupKey(rule: "websocket_wrong_accept", server: ServiceKey(Peer(ip: "10.0.0.2", port: 443))))
        XCTAssertEqual(big.captures.values, ["/sites/lyon/cap-0.pcap", "/sites/lyon/cap-1.pcap", "/sites/lyon/cap-2.pcap"])
        XCTAssertEqual(big.clients.countText, "6")
        XCTAssertEqual(big.first?.rfc3339, "2026-01-02T03:04:10.000000Z")
        XCTAssertEqual(big.last?.rfc3339, "2026-01-02T03:04:39.000000Z")
        // The examples are the first in capture, time, frame order: three of them.
        XCTAssertEqual(big.examples.items.map(\.frame), [100, 103, 106])
        XCTAssertEqual(audit.groups.map(\.key.server.port), [443, 8443, 443])

        // Services: one row per server address and port, with switches and findings by severity.
        let service = try XCTUnwrap(audit.services.first)
        XCTAssertEqual(service.key.display, "10.0.0.2:443")
        XCTAssertEqual(service.findings[Severity.high.rawValue], 30)
        XCTAssertEqual(service.findings[Severity.medium.rawValue], 1)
        XCTAssertEqual(service.switchesByProtocol, ["websocket": 1])
        XCTAssertEqual(audit.services.count, 2)
        XCTAssertEqual(audit.ruleCounts.first { $0.rule == "websocket_wrong_accept" }?.services, 2)

        // The page lists groups, not findings, with the full capture path and how to extract them.
        let html = AuditReport(records: records, options: ReportOptions(sources: ["run 1.jsonl"])).html()
        XCTAssertTrue(html.contains("<td class=\"id\">10.0.0.2:443</td>"), "the services table")
        XCTAssertTrue(html.contains("/sites/lyon/cap-0.pcap"), "full capture paths")
        XCTAssertEqual(occurrences(of: "<tr class=\"high\" data-severity=\"high\"><td class=\"nowrap\"", in: html), 2)
        XCTAssertTrue(html.contains(Escape.html(#"jq -c 'select(.type == "violation" and .rule == "websocket_wrong_accept" and (.connection.server.ip // "") == "10.0.0.2" and .connection.server.port == 443)' 'run 1.jsonl'"#)))
        XCTAssertTrue(html.contains("switchyard analyze --rules websocket_wrong_accept /sites/lyon/cap-0.pcap /sites/lyon/cap-1.pcap /sites/lyon/cap-2.pcap"))
        XCTAssertLessThan(html.range(of: "id=\"services\"")!.lowerBound, html.range(of: "id=\"groups\"")!.lowerBound, "services come first")
    }

    func testExtractionCommandsAreQuotedForTheShell() {
        XCTAssertEqual(shellQuoted("a.jsonl"), "a.jsonl")
        XCTAssertEqual(shellQuoted("it's here.jsonl"), #"'it'\''s here.jsonl'"#)
        XCTAssertEqual(shellQuoted("$(rm -rf /)"), "'$(rm -rf /)'")
        XCTAssertEqual(shellQuoted(""), "''")
        var group = FindingGroup(key: GroupKey(rule: "x'); rm -rf /; echo ('", server: ServiceKey(Peer(ip: "1.2.3.4", port: nil))),
                                 severity: .high, limits: ReportLimits())
        group.captures.insert("a.pcap")
        let extraction = Extraction(group: group, sources: ["-"])
        XCTAssertEqual(extraction.jq, #"jq -c 'select(.type == "violation" and .rule == "x'\''); rm -rf /; echo ('\''" and (.connection.server.ip // "") == "1.2.3.4" and .connection.server.port == null)' FINDINGS.jsonl"#)
        XCTAssertNil(extraction.analyze, "not a catalogue rule")
    }

    func testGroupLimitKeepsTheSmallestKeysWhateverTheOrder() {
        var limits = ReportLimits()
        limits.groups = 3
        let records = (0..<10).flatMap { server in
            (0...server).map { _ in violation(rule: "websocket_wrong_accept", server: "10.0.0.\(server)") }
        }
        var reports: [String] = []
        for seed in [1, 2, 3] as [UInt64] {
            let report = AuditReport(records: shuffled(records, seed: seed), options: ReportOptions(limits: limits))
            XCTAssertEqual(report.audit.groups.map(\.key.server.ip).sorted(), ["10.0.0.0", "10.0.0.1", "10.0.0.2"])
            XCTAssertEqual(report.audit.ungrouped.findings, records.count - 6)
            XCTAssertEqual(report.findingCount, records.count)
            reports.append(report.html())
        }
        XCTAssertEqual(Set(reports).count, 1)
        XCTAssertTrue(reports[0].contains("49 findings of further groups were beyond the limit of 3 groups"))
        XCTAssertTrue(reports[0].contains("<span class=\"n\">3+</span><span class=\"l\">Groups</span>"))
    }

    func testSmallestSetAndBoundedTable() {
        var set = SmallestSet(limit: 2)
        for value in ["c", "a", "d", "a", "b"] { set.insert(value) }
        XCTAssertEqual(set.values, ["a", "b"])
        XCTAssertTrue(set.overflow)
        XCTAssertEqual(set.countText, "2+")
        var table = BoundedTable<Int, Int>(limit: 2)
        var evicted: [Int] = []
        for key in [5, 3, 9, 1, 5, 4, 2, 3] { table.update(key, make: { 0 }, evicted: { evicted.append($0) }) { $0 += key } }
        table.finish { evicted.append($0) }
        XCTAssertEqual(table.entries, [1: 1, 2: 2])
        XCTAssertEqual(evicted.sorted(), [5, 6, 9], "5 and 9 went at the first trim (then 5 and 4 were refused), 3 (updated twice) at the end")
        XCTAssertTrue(table.overflowed)
    }

    /// A findings file many times larger than the bounds it is read with: one line of buffer,
    /// a few groups. Everything is still counted, the buffer never held more than one line,
    /// and the report is the same as reading the file whole.
    func testStreamingAFileLargerThanTheMemoryBound() throws {
        var limits = ReportLimits()
        limits.maxLineBytes = 2048
        limits.groups = 20
        limits.services = 10
        limits.captures = 10
        let options = ReportOptions(limits: limits)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-stream-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("findings.jsonl")
        var text = ""
        let findings = 2000
        for index in 0..<findings {
            text += json(violation(rule: index % 2 == 0 ? "websocket_wrong_accept" : "http_obs_fold", severity: index % 2 == 0 ? "high" : "medium",
                                   capture: "/fleet/site-\(index % 40)/c.pcap", client: "10.1.0.\(index % 200)",
                                   server: "10.0.\(index % 50).1", frame: index + 1).value) + "\n"
            if index % 100 == 1 {
                text += json(switchRecord(capture: "/fleet/site-\(index % 40)/c.pcap", client: "10.1.0.\(index % 200)", server: "10.0.\(index % 50).1").value) + "\n"
            }
        }
        text += "{\"type\":\"violation\",\"message\":\"" + String(repeating: "x", count: 5000) + "\"}\n"
        text += "not json\n"
        try Data(text.utf8).write(to: file)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int)
        XCTAssertGreaterThan(size, 200 * limits.maxLineBytes)

        func read(_ body: (ArraySlice<UInt8>) -> Void) throws -> JSONLinesSplitter {
            let handle = try FileHandle(forReadingFrom: file)
            defer { try? handle.close() }
            var splitter = JSONLinesSplitter(maxLineBytes: limits.maxLineBytes)
            while let chunk = try handle.read(upToCount: 4096), !chunk.isEmpty {
                chunk.withUnsafeBytes { splitter.push($0) { line, _ in body(line) } }
            }
            splitter.finish { line, _ in body(line) }
            return splitter
        }
        var builder = AuditReportBuilder(options: options)
        let splitter = try read { builder.add(line: $0) }
        builder.addInvalidLines(splitter.tooLong)
        _ = try read { builder.addHandshake(line: $0) }
        XCTAssertEqual(splitter.tooLong, 1)
        XCTAssertLessThanOrEqual(splitter.peakPendingBytes, limits.maxLineBytes)
        let report = builder.report()
        XCTAssertEqual(report.findingCount, findings)
        XCTAssertEqual(report.audit.invalidLines, 2)
        XCTAssertLessThanOrEqual(report.audit.groups.count, limits.groups)
        XCTAssertEqual(report.audit.groups.reduce(0) { $0 + $1.count } + report.audit.ungrouped.findings, findings)
        XCTAssertLessThanOrEqual(report.audit.services.count, limits.services)
        XCTAssertEqual(report.audit.switchCount, 20)
        XCTAssertTrue(report.audit.groups.contains { $0.examples.items.first?.context?.kind == .switched }, "pass 2 found handshakes")

        let whole = AuditReport(jsonLines: Array(try Data(contentsOf: file)), options: options)
        XCTAssertEqual(report.html(), whole.html())
        XCTAssertEqual(report.json(), whole.json())
    }

    func testSplitterHandsOverLinesCutAnywhere() {
        let text = Array("{\"a\":1}\r\n\nline three\nlast".utf8)
        for cut in 0...text.count {
            var splitter = JSONLinesSplitter(maxLineBytes: 64)
            var lines: [String] = []
            splitter.push(Array(text[..<cut])) { line, number in lines.append("\(number):" + String(decoding: line, as: UTF8.self)) }
            splitter.push(Array(text[cut...])) { line, number in lines.append("\(number):" + String(decoding: line, as: UTF8.self)) }
            splitter.finish { line, number in lines.append("\(number):" + String(decoding: line, as: UTF8.self)) }
            XCTAssertEqual(lines, ["1:{\"a\":1}\r", "2:", "3:line three", "4:last"], "cut at \(cut)")
        }
    }
}
