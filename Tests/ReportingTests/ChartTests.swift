import Findings
import XCTest
@testable import Reporting

final class ChartTests: XCTestCase {
    func testTimelineBinsEventsOverCaptureTime() throws {
        let start = try XCTUnwrap(CaptureTime(rfc3339: "2026-01-01T00:00:00Z"))
        let end = CaptureTime(microseconds: start.microseconds + 60_000_000)
        let svg = Charts.timeline(switchTimes: [start, end], violations: [(start, .high), (start, .medium), (end, .info)])
        XCTAssertEqual(occurrences(of: "class=\"switch-bar\" x=", in: svg), 3, "the legend and two bars")
        XCTAssertTrue(svg.contains("<title>1 high violations</title>"))
        XCTAssertTrue(svg.contains("<title>1 info violations</title>"))
        XCTAssertTrue(svg.contains(">2026-01-01 00:00:00</text>"))
        XCTAssertTrue(svg.contains(">00:01:00.000</text>"))
        XCTAssertTrue(svg.contains("60 bins of 1 s"))
    }

    func testTimelineWithOneInstantOrNothing() throws {
        let start = try XCTUnwrap(CaptureTime(rfc3339: "2026-01-01T00:00:00Z"))
        let single = Charts.timeline(switchTimes: [start], violations: [])
        XCTAssertTrue(single.contains("1 bins"))
        XCTAssertEqual(Charts.timeline(switchTimes: [], violations: []), "")
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
