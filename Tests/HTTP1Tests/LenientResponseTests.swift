import HTTP1
import XCTest

/// Responses that RFC 9112 forbids but at least one real client takes (Captures/client_acceptance.py,
/// docs/RULES.md *What real clients accept*): parsed as the client parses them, each deviation
/// named by an anomaly; fed whole, byte by byte and split at every point.
final class LenientResponseTests: XCTestCase {
    private let fields = "Upgrade: websocket\r\nConnection: Upgrade\r\n"

    private func assertLenient(_ statusLine: String, fields extra: String = "", status: Int = 101,
                               version: HTTPVersion = .http11, reason: String, anomalies: [HTTPAnomaly.Kind],
                               file: StaticString = #filePath, line: UInt = #line) {
        let head = statusLine + "\r\n" + extra + fields + "\r\n"
        for asFirst in [true, false] {
            // As the direction's first message, and after a valid one (not a resync candidate either way).
            let before = asFirst ? "" : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
            let outcome = assertParsesIdentically([.text(before + head)], role: .response,
                                                  actions: asFirst ? [.switchProtocols] : [.proceed, .switchProtocols],
                                                  onPause: .stop, file: file, line: line)
            XCTAssertEqual(outcome.errors, [], statusLine, file: file, line: line)
            guard let parsed = outcome.heads.last else {
                XCTFail("no head for \(statusLine)", file: file, line: line)
                continue
            }
            XCTAssertEqual(parsed.status, status, statusLine, file: file, line: line)
            XCTAssertEqual(parsed.version, version, statusLine, file: file, line: line)
            XCTAssertEqual(parsed.reason, reason, statusLine, file: file, line: line)
            XCTAssertEqual(parsed.anomalies.map(\.kind), anomalies, statusLine, file: file, line: line)
            XCTAssertEqual(parsed.values("Upgrade"), ["websocket"], statusLine, file: file, line: line)
            XCTAssertEqual(outcome.summary.last, "paused @\(length(before, head))", file: file, line: line)
        }
    }

    func testLenientVersions() {
        assertLenient("http/1.1 101 Switching Protocols", reason: "Switching Protocols", anomalies: [.versionLowercase])
        assertLenient("hTtP/1.1 101 Switching Protocols", reason: "Switching Protocols", anomalies: [.versionLowercase])
        assertLenient("HTTP/1 101 Switching Protocols", version: HTTPVersion(major: 1, minor: 0),
                      reason: "Switching Protocols", anomalies: [.versionWithoutMinor])
        assertLenient("HTTP/2.0 101 Switching Protocols", version: HTTPVersion(major: 2, minor: 0),
                      reason: "Switching Protocols", anomalies: [.versionMajorTwo])
    }

    func testLenientSeparators() {
        assertLenient("HTTP/1.1  101 Switching Protocols", reason: "Switching Protocols",
                      anomalies: [.statusLineExtraWhitespace])
        assertLenient("HTTP/1.1\t101 Switching Protocols", reason: "Switching Protocols", anomalies: [.statusLineTab])
        assertLenient("HTTP/1.1 \t 101", reason: "", anomalies: [.statusLineExtraWhitespace, .statusLineTab])
        assertLenient("HTTP/1  101 x", version: HTTPVersion(major: 1, minor: 0), reason: "x",
                      anomalies: [.versionWithoutMinor, .statusLineExtraWhitespace])
    }

    func testLenientStatusCodes() {
        assertLenient("HTTP/1.1 0101 Switching Protocols", reason: "Switching Protocols",
                      anomalies: [.statusCodeLeadingZeros])
        assertLenient("HTTP/1.1 101x Switching Protocols", reason: "x Switching Protocols",
                      anomalies: [.statusCodeTrailingBytes])
        assertLenient("HTTP/1.1 00101", reason: "", anomalies: [.statusCodeLeadingZeros])
    }

    func testLenientHeaderLines() {
        assertLenient("HTTP/1.1 101 Switching Protocols", fields: "X-No-Colon\r\n", reason: "Switching Protocols",
                      anomalies: [.headerLineWithoutColon])
        assertLenient("HTTP/1.1 101 Switching Protocols", fields: " X-Lead: 1\r\n", reason: "Switching Protocols",
                      anomalies: [.foldWithoutField])
        assertLenient("HTTP/1.1 101 Switching Protocols", fields: "X Bad: 1\r\n", reason: "Switching Protocols",
                      anomalies: [.invalidFieldName])
        assertLenient("HTTP/1.1 101 Switching Protocols", fields: "X-Folded: a\r\n b\r\n", reason: "Switching Protocols",
                      anomalies: [.obsFold])
    }

    func testSkippedLinesAreNotFields() {
        let head = "HTTP/1.1 200 OK\r\nX-No-Colon\r\n X-Lead: 1\r\nContent-Length: 2\r\nX Bad: 3\r\n\r\nok"
        let outcome = assertParsesIdentically([.text(head)], role: .response)
        XCTAssertEqual(outcome.errors, [])
        XCTAssertEqual(outcome.heads.first?.fields, [HTTPField(name: "Content-Length", value: "2"),
                                                     HTTPField(name: "X Bad", value: "3")])
        XCTAssertEqual(outcome.summary.last, "complete @\(length(head))")
    }

    func testRequestsStayStrict() {
        for bad in ["GET / HTTP/1.1\r\nX-No-Colon\r\n\r\n", "GET / HTTP/1.1\r\n X-Lead: 1\r\n\r\n",
                    "GET / HTTP/1.1\r\nX Bad: 1\r\n\r\n"] {
            let outcome = assertParsesIdentically([.text(bad)], role: .request)
            XCTAssertEqual(outcome.errors.map(\.kind), [.invalidHeader], bad)
        }
    }

    func testNoClientTakesTheseControlBytesInNames() {
        let outcome = assertParsesIdentically([.text("HTTP/1.1 200 OK\r\nX\u{1}Y: 1\r\n\r\n")], role: .response)
        XCTAssertEqual(outcome.errors.map(\.kind), [.invalidHeader])
    }

    func testResyncCandidatesStayStrict() {
        // After a framing error the parser looks for a strict status line: a lenient one is skipped.
        let first = "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"
        let lenient = "http/1.1 200 OK\r\n\r\nHTTP/1.1  200 OK\r\n\r\n"
        let strict = "HTTP/1.1 204 No Content\r\n\r\n"
        let outcome = assertParsesIdentically([.text(first + lenient + strict)], role: .response)
        XCTAssertEqual(outcome.heads.map(\.status), [200, 204])
        XCTAssertEqual(outcome.heads.last?.anomalies, [])
    }
}
