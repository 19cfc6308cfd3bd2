import Foundation
import XCTest
@testable import Reporting

/// The reports show `proxied_upgrade` records as pairs, front ↔ back, one row each.
final class ProxyPairsReportTests: XCTestCase {
    private func golden(_ name: String) throws -> [UInt8] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return Array(try Data(contentsOf: root.appendingPathComponent("Captures/expected/\(name).jsonl")))
    }

    func testPairsAppearInBothReports() throws {
        let report = AuditReport(jsonLines: try golden("proxy-varnish-pipe-declined.pcap"))
        let markdown = report.markdown()
        XCTAssertTrue(markdown.contains("## Proxied upgrades (front ↔ back)"))
        let rows = markdown.split(separator: "\n").filter { $0.hasPrefix("| GET /chat HTTP/1.1 |") }
        XCTAssertEqual(rows.count, 1)
        XCTAssertTrue(rows.first?.contains("declined 200") ?? false)
        XCTAssertTrue(rows.first?.contains("medium \\(sec-websocket-key") ?? false, String(rows.first ?? ""))
        let html = report.html()
        XCTAssertTrue(html.contains("<section id=\"proxied\">"))
        XCTAssertTrue(html.contains("<td>GET /chat HTTP/1.1</td>"))
        XCTAssertTrue(html.contains("proxy_tunnel_after_declined_upgrade"))
        // A run without pairs has no such section.
        let plain = AuditReport(jsonLines: try golden("websocket-echo.pcap"))
        XCTAssertFalse(plain.markdown().contains("Proxied upgrades"))
        XCTAssertFalse(plain.html().contains("id=\"proxied\""))
    }
}
