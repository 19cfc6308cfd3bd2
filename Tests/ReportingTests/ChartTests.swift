import Findings
import XCTest
@testable import Reporting

final class ChartTests: XCTestCase {
    private func histogram(switches: [CaptureTime], violations: [(CaptureTime, Severity)]) -> TimeHistogram {
        var histogram = TimeHistogram()
        for time in switches { histogram.add(time, lane: 0) }
        for (time, severity) in violations { histogram.add(time, lane: 1 + severity.rawValue) }
        return histogram
    }

    func testTimelineBinsEventsOverCaptureTime() throws {
        let start = try XCTUnwrap(CaptureTime(rfc3339: "2026-01-01T00:00:00Z"))
        let end = CaptureTime(microseconds: start.microseconds + 60_000_000)
        let bins = try XCTUnwrap(histogram(switches: [start, end], violations: [(start, .high), (start, .medium), (end, .info)]).binned())
        XCTAssertEqual(bins.outlierCount, 0)
        let svg = Charts.timeline(bins)
        XCTAssertEqual(occurrences(of: "class=\"switch-bar\" x=", in: svg), 3, "the legend and two bars")
        XCTAssertTrue(svg.contains("<title>1 high violations</title>"))
        XCTAssertTrue(svg.contains("<title>1 info violations</title>"))
        XCTAssertTrue(svg.contains(">2026-01-01 00:00:00</text>"))
        XCTAssertTrue(svg.contains(">00:01:00.000</text>"))
        XCTAssertTrue(svg.contains("60 bins of 1 s"), svg)
    }

    func testTimelineWithOneInstantOrNothing() throws {
        let start = try XCTUnwrap(CaptureTime(rfc3339: "2026-01-01T00:00:00Z"))
        let single = try XCTUnwrap(histogram(switches: [], violations: [(start, .high)]).binned())
        XCTAssertTrue(single.isOneInstant)
        let svg = Charts.timeline(single)
        XCTAssertFalse(svg.contains("bins"), "no \"1 bins of 0 ms\"")
        XCTAssertTrue(svg.contains("capture time (UTC) of the one event"))
        XCTAssertTrue(svg.contains(">2026-01-01 00:00:00</text>"))
        let many = try XCTUnwrap(histogram(switches: [start, start], violations: [(start, .low)]).binned())
        XCTAssertTrue(Charts.timeline(many).contains("all 3 events within 1 µs"))
        XCTAssertNil(TimeHistogram().binned())
    }

    /// The public capture: a 1970 clock next to 2026 traffic. The bins cover the 2026
    /// minute; the 1970 events are counted and dated apart instead of stretching the axis.
    func testTimelineLeavesOutliersOutOfTheBins() throws {
        let start = try XCTUnwrap(CaptureTime(rfc3339: "2026-11-21T17:51:00Z"))
        var bulk: [(CaptureTime, Severity)] = (0..<68).map { (CaptureTime(microseconds: start.microseconds + Int64($0) * 1_000_000), .medium) }
        let epoch = try XCTUnwrap(CaptureTime(rfc3339: "1970-01-01T00:00:01Z"))
        bulk += [(epoch, .high), (CaptureTime(microseconds: epoch.microseconds + 5_000_000), .high), (epoch, .low)]
        // Shuffled input gives the same bins: the histogram does not depend on order.
        let bins = try XCTUnwrap(histogram(switches: [], violations: bulk).binned())
        let other = try XCTUnwrap(histogram(switches: [], violations: shuffled(bulk, seed: 3)).binned())
        XCTAssertEqual(bins.bins, other.bins)
        XCTAssertEqual(bins.before.count, 3)
        XCTAssertEqual(bins.after.count, 0)
        XCTAssertEqual(bins.bins.reduce(0) { $0 + $1.reduce(0, +) }, 68)
        XCTAssertLessThanOrEqual(bins.end - bins.start, 70_000_000, "the bins span the 2026 minute, not 56 years")
        XCTAssertGreaterThanOrEqual(bins.end - bins.start, 67_000_000)
        XCTAssertTrue(Charts.outlierText(bins).hasPrefix("3 outliers far from the rest (3 from 1970-01-01 to 1970-01-01)"))

        // Two equal clusters a day apart are both the bulk: no outliers.
        let day: Int64 = 86_400_000_000
        let split = (0..<50).map { (CaptureTime(microseconds: start.microseconds + Int64($0 % 2) * day + Int64($0)), Severity.low) }
        XCTAssertEqual(try XCTUnwrap(histogram(switches: [], violations: split).binned()).outlierCount, 0)

        // A million-year outlier and fine bulk still fit the bucket limit.
        var wide = TimeHistogram(limit: 64)
        for index in 0..<10_000 { wide.add(CaptureTime(microseconds: start.microseconds + Int64(index) * 1000), lane: 1) }
        wide.add(CaptureTime(microseconds: .max / 2), lane: 2)
        XCTAssertLessThanOrEqual(wide.buckets.count, 64)
        let wideBins = try XCTUnwrap(wide.binned())
        XCTAssertEqual(wideBins.after.count, 1)
        XCTAssertLessThan(wideBins.end - wideBins.start, 60_000_000)
    }

    func testThousandsSeparators() {
        XCTAssertEqual(grouped(0), "0")
        XCTAssertEqual(grouped(999), "999")
        XCTAssertEqual(grouped(1000), "1,000")
        XCTAssertEqual(grouped(22000), "22,000")
        XCTAssertEqual(grouped(1_234_567), "1,234,567")
        XCTAssertEqual(grouped(-1_234_567), "-1,234,567")
        XCTAssertEqual(grouped(.min), "-9,223,372,036,854,775,808")
        XCTAssertEqual(plural(22000, "finding"), "22,000 findings")
        let svg = Charts.ruleBars([RuleCount(rule: "a_rule", severity: .high, count: 22000)]) { $0 }
        XCTAssertTrue(svg.contains(">22,000</text>"))
        // The summary, the cards and the tables of a report with many findings.
        let records = (0..<1200).map { violation(rule: "websocket_wrong_accept", clientPort: 40000 + $0, frame: $0 + 1) }
        let report = AuditReport(records: records)
        let html = report.html()
        XCTAssertTrue(html.contains("found <strong>1,200 violations</strong>"))
        XCTAssertTrue(html.contains("1,200 are high severity"))
        XCTAssertTrue(html.contains("<span class=\"n\">1,200</span>"))
        let numbers = html.replacingOccurrences(of: HTMLAssets.style, with: "").components(separatedBy: ">").filter { $0.hasPrefix("1200") }
        XCTAssertEqual(numbers, [], "every count people read has separators")
        XCTAssertTrue(report.markdown().contains("| 🔴 high | 1,200 | 1 |"))
    }

    func testRuleBarsAreScaledAndLinked() {
        let svg = Charts.ruleBars([RuleCount(rule: "a_rule", severity: .high, count: 4), RuleCount(rule: "b_rule", severity: .low, count: 1)]) { "anchor-\($0)" }
        XCTAssertTrue(svg.contains("<a href=\"#anchor-a_rule\">"))
        XCTAssertTrue(svg.contains("class=\"sev-high\" x=\"330\" y=\"34\" width=\"480\""))
        XCTAssertTrue(svg.contains("class=\"sev-low\" x=\"330\" y=\"58\" width=\"120\""))
        XCTAssertEqual(Charts.ruleBars([]) { $0 }, "")
    }

    func testProtocolMatrixColoursByVerdict() {
        let pairs = [
            ProtocolPair(agreed: "websocket", observed: "websocket", count: 3, verdict: ProtocolVerdict(agreed: "websocket", observed: "websocket")),
            ProtocolPair(agreed: "websocket", observed: "http2", count: 1, verdict: ProtocolVerdict(agreed: "websocket", observed: "http2")),
            ProtocolPair(agreed: "h2c", observed: "http2", count: 2, verdict: ProtocolVerdict(agreed: "h2c", observed: "http2")),
            ProtocolPair(agreed: "tcp", observed: "none", count: 1, verdict: ProtocolVerdict(agreed: "tcp", observed: "none")),
        ]
        XCTAssertEqual(pairs.map(\.verdict), [.asAgreed, .different, .asAgreed, .nothingSent])
        let svg = Charts.protocolMatrix(pairs)
        XCTAssertEqual(occurrences(of: "class=\"v-agreed\"", in: svg), 3, "two cells and the legend")
        XCTAssertEqual(occurrences(of: "class=\"v-different\"", in: svg), 2)
        XCTAssertTrue(svg.contains("<title>websocket → http2: 1 (different protocol)</title>"))
        XCTAssertEqual(ProtocolVerdict(agreed: "tcp", observed: "docker-multiplexed"), .asAgreed)
        XCTAssertEqual(ProtocolVerdict(agreed: "tls", observed: "unknown"), .unrecognised)
    }
}
