import XCTest
@testable import HTTP1

/// The head budget shared by all parsers of a run: unfinished heads of many connections cannot
/// add up beyond it, and a delivered head gives its bytes back.
final class HeadBudgetTests: XCTestCase {
    private func feed(_ parser: inout HTTPMessageParser, _ text: String, _ delegate: inout RecordingDelegate) {
        _ = Array(text.utf8).withUnsafeBytes { parser.feed($0, delegate: &delegate) }
    }

    func testParsersShareTheBudgetAndGiveItBack() {
        let budget = HeadBudget(limit: 200)
        var options = HTTPParserOptions()
        options.budget = budget
        var first = HTTPMessageParser(role: .request, options: options)
        var second = HTTPMessageParser(role: .request, options: options)
        var firstEvents = RecordingDelegate(), secondEvents = RecordingDelegate()

        // 150 bytes of an unfinished head in the first connection.
        feed(&first, "GET /a HTTP/1.1\r\nX-Pad: " + String(repeating: "a", count: 124) + "\r\n", &firstEvents)
        XCTAssertEqual(budget.used, 150)
        // The second connection's head does not fit in what is left.
        feed(&second, "GET /b HTTP/1.1\r\nX-Pad: " + String(repeating: "b", count: 80) + "\r\n\r\n", &secondEvents)
        let kinds: [HTTPParseError.Kind] = secondEvents.events.compactMap { event -> HTTPParseError.Kind? in
            if case .error(let error) = event { return error.kind } else { return nil }
        }
        XCTAssertEqual(kinds, [.headBudgetExhausted])

        // The first head completes: only its 64-byte evidence prefix stays charged.
        feed(&first, "\r\n", &firstEvents)
        XCTAssertTrue(firstEvents.events.contains { if case .head = $0 { return true } else { return false } },
                      "\(firstEvents.events) used \(budget.used)")
        XCTAssertLessThanOrEqual(budget.used, 64)
        first.releaseBudget()
        second.releaseBudget()
        XCTAssertEqual(budget.used, 0)
        XCTAssertGreaterThanOrEqual(budget.peak, 150)
    }

    func testWithoutABudgetOnlyThePerHeadLimitApplies() {
        var parser = HTTPMessageParser(role: .request)
        var delegate = RecordingDelegate()
        feed(&parser, "GET / HTTP/1.1\r\nX-Pad: " + String(repeating: "x", count: 10_000) + "\r\n\r\n", &delegate)
        XCTAssertTrue(delegate.events.contains { if case .head = $0 { return true } else { return false } })
    }
}
