import HTTP1
import XCTest

final class NonHTTPAndResyncTests: XCTestCase {
    private let clientHello: [UInt8] = [
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03, 0x6B, 0x2F, 0x1A, 0x0D, 0x0A,
        0x47, 0x45, 0x54, 0x20, 0x2F, 0x20, 0x48, 0x54, 0x54, 0x50, 0x2F, 0x31, 0x2E, 0x31, 0x0D, 0x0A,
    ]

    func testTLSClientHelloIsNotHTTPAndIgnoredAfterwards() {
        for role in [HTTPRole.request, .response] {
            let later = bytes("GET / HTTP/1.1\r\n\r\nHTTP/1.1 200 OK\r\n\r\n")
            let outcome = assertParsesIdentically([.bytes(clientHello), .bytes(later), .gap(10), .finish], role: role,
                                                  expect: ["error not_http @0"])
            XCTAssertEqual(outcome.errors.first?.evidence, [0x16])
            XCTAssertTrue(outcome.isSkipping)
            XCTAssertEqual(outcome.streamOffset, UInt64(clientHello.count + later.count + 10))
        }
    }

    func testSSHBannerIsNotHTTP() {
        let banner = "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n"
        let request = assertParsesIdentically([.text(banner)], role: .request, expect: ["error not_http @0"])
        // The method may be at most 20 bytes: the decision falls on the 21st.
        XCTAssertEqual(request.errors.first?.evidence, bytes("SSH-2.0-OpenSSH_9.6p1"))
        XCTAssertTrue(request.isSkipping)
        let response = assertParsesIdentically([.text("SSH-2.0-OpenSSH_8.9\r\n")], role: .response,
                                               expect: ["error not_http @0"])
        XCTAssertEqual(response.errors.first?.evidence, bytes("S"))
    }

    func testHTTP2PrefaceIsNotHTTP1() {
        let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        let settings: [UInt8] = [0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]
        let outcome = assertParsesIdentically([.bytes(bytes(preface) + settings)], role: .request,
                                              expect: ["error not_http @0"])
        XCTAssertEqual(outcome.errors.first?.evidence, bytes("PRI * HTTP/2.0\r\n"))
        XCTAssertTrue(outcome.isSkipping)
    }

    func testFirstStartLineFailingBeforeTheProtocolPrefixIsNotHTTP() {
        let cases: [(HTTPRole, String, UInt64, String)] = [
            (.request, " GET / HTTP/1.1\r\n", 0, " "),
            (.request, "\r\n\r\n\u{0}\u{0}", 4, "\u{0}"),
            (.request, "GET\r\n", 0, "GET\r"),
            (.request, "{\"jsonrpc\": \"2.0\"}", 0, "{"),
            (.request, "ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\n", 0, "ABCDEFGHIJKLMNOPQRSTU"),
            (.response, "220 smtp.example.com ESMTP\r\n", 0, "2"),
            (.response, "HTTPS/1.1 200 OK\r\n", 0, "HTTPS"),
            (.response, "\r\nHTTP 200\r\n", 2, "HTTP "),
        ]
        for (role, input, offset, evidence) in cases {
            let outcome = assertParsesIdentically([.text(input)], role: role, expect: ["error not_http @\(offset)"])
            XCTAssertEqual(outcome.errors.first?.evidence, bytes(evidence), input)
            XCTAssertTrue(outcome.isSkipping, input)
        }
    }

    func testFirstStartLineFailingAfterTheProtocolPrefixIsAnInvalidStartLine() {
        let cases: [(HTTPRole, String, String)] = [
            (.request, "GET /a b HTTP/1.1\r\n\r\n", "GET /a b"),  // unencoded space in the target
            (.request, "EHLO mail.example.com\r\n", "EHLO mail.example.com\r"),
            (.request, "GET /\r\n", "GET /\r"),
            (.response, "HTTP/1.1 2xx\r\n", "HTTP/1.1 2x"),
            (.response, "HTTP/1.1\r\n", "HTTP/1.1\r"),
        ]
        for (role, input, evidence) in cases {
            let next = role == .request ? "GET /next HTTP/1.1\r\n\r\n" : "HTTP/1.1 204 No Content\r\n\r\n"
            let end = length(input, next)
            let outcome = assertParsesIdentically([.text(input + next)], role: role, expect: [
                "error invalid_start_line @0", role == .request ? "head GET /next @\(end)" : "head 204 No Content @\(end)",
                "complete @\(end)",
            ])
            XCTAssertEqual(outcome.errors.first?.evidence, bytes(evidence), input)
            XCTAssertFalse(outcome.isSkipping, input)
        }
    }

    func testGapAtTheStartDisablesNotHTTPDetection() {
        // The bytes after the gap are tried as a line start, then the scan moves on line by line.
        let input = clientHello + bytes("\r\n")
        let outcome = assertParsesIdentically([.gap(50), .bytes(input)], role: .request, expect: [
            "error gap @0", "head GET / @\(50 + input.count)", "complete @\(50 + input.count)",
        ])
        XCTAssertFalse(outcome.isSkipping)
    }

    func testGarbageAfterAGapThenAValidResponse() {
        let garbage = "ody text of something\r\nmore junk\r\n\u{0}\u{1}\u{2}\nhttp/1.1 200 lowercase\r\nHTTP/2 200\r\n"
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let notModified = "HTTP/1.1 304 Not Modified\r\n\r\n"
        let outcome = assertParsesIdentically([.gap(100), .text(garbage + ok + notModified)], role: .response, expect: [
            "error gap @0",
            "head 200 OK @\(100 + length(garbage, ok) - 2)", "complete @\(100 + length(garbage, ok))",
            "head 304 Not Modified @\(100 + length(garbage, ok, notModified))",
            "complete @\(100 + length(garbage, ok, notModified))",
        ])
        XCTAssertEqual(outcome.heads.count, 2)
    }

    func testMidStreamGarbageIsAnInvalidStartLineThenResync() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let garbage = "XXgarbage\r\n\u{0}\u{1}binary\n"
        let notModified = "HTTP/1.1 304 Not Modified\n\n"
        let next = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        let outcome = assertParsesIdentically([.text(ok + garbage + notModified + next)], role: .response, expect: [
            "head 200 OK @\(length(ok) - 2)", "complete @\(length(ok))", "error invalid_start_line @\(length(ok))",
            "head 304 Not Modified @\(length(ok, garbage, notModified))",
            "complete @\(length(ok, garbage, notModified))",
            "head 200 OK @\(length(ok, garbage, notModified, next))", "complete @\(length(ok, garbage, notModified, next))",
        ])
        XCTAssertEqual(outcome.errors.first?.evidence, bytes("X"))
        XCTAssertEqual(outcome.heads[1].anomalies.map(\.kind), [.bareLF])
    }

    func testResyncCandidatesMustLookLikeRequests() {
        let first = "GET /a HTTP/1.1\r\n\r\n"
        let bad = "BAD LINE\r\n"
        let noise = "get / HTTP/1.1\r\nFOO bar HTTP/1.1\r\nGET / HTTP/2.0\r\nGET / HTTP/1.1 trailing\r\n"
            + "FOO htt HTTP/1.1\r\nfoo: bar\r\n\r\n"
        let search = "M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\n\r\n"
        let proxy = "FOO http://example.com/ HTTP/1.1\r\n\r\n"
        let input = first + bad + noise + search + proxy
        assertParsesIdentically([.text(input)], role: .request, expect: [
            "head GET /a @19", "complete @19", "error invalid_start_line @19",
            "head M-SEARCH * @\(length(first, bad, noise, search))", "complete @\(length(first, bad, noise, search))",
            "head FOO http://example.com/ @\(length(input))", "complete @\(length(input))",
        ])
    }

    func testGapInsideContentLengthBodyStaysInSync() {
        let head = "POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n"
        let next = "GET /b HTTP/1.1\r\n\r\n"
        let end = length(head) + 10
        assertParsesIdentically([.text(head + "abc"), .gap(4), .text("def" + next)], role: .request, expect: [
            "head POST /a @\(length(head))", "complete @\(end)",
            "head GET /b @\(end + length(next))", "complete @\(end + length(next))",
        ])
    }

    func testGapEndingExactlyWithTheBodyCompletesTheMessage() {
        let head = "POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n"
        let next = "GET /b HTTP/1.1\r\n\r\n"
        let end = length(head) + 10
        assertParsesIdentically([.text(head + "abc"), .gap(7), .text(next)], role: .request,
                                actions: [.pauseAfterMessage], expect: [
            "head POST /a @\(length(head))", "complete @\(end)", "paused @\(end)",
            "head GET /b @\(end + length(next))", "complete @\(end + length(next))",
        ])
    }

    func testGapInsideChunkDataStaysInSync() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        let next = "HTTP/1.1 204 No Content\r\n\r\n"
        let body1 = "a\r\n0123", body2 = "\r\n0\r\n\r\n"
        let end = length(head, body1, body2) + 6
        assertParsesIdentically([.text(head + body1), .gap(6), .text(body2 + next)], role: .response, expect: [
            "head 200 OK @\(length(head))", "complete @\(end)",
            "head 204 No Content @\(end + length(next))", "complete @\(end + length(next))",
        ])
    }

    func testGapBeyondTheBodyCompletesItThenResynchronises() {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
        let next = "HTTP/1.1 204 No Content\r\n\r\n"
        let bodyEnd = length(head) + 5
        let after = length(head) + 2 + 10
        assertParsesIdentically([.text(head + "ab"), .gap(10), .text("tail\r\n" + next)], role: .response, expect: [
            "head 200 OK @\(length(head))", "complete @\(bodyEnd)", "error gap @\(bodyEnd)",
            "head 204 No Content @\(after + length("tail\r\n", next))", "complete @\(after + length("tail\r\n", next))",
        ])
    }

    func testGapInsideHeadIsAnErrorThenResync() {
        let partial = "GET /a HTTP/1.1\r\nHost: x"
        let rest = "garbage\r\nGET /b HTTP/1.1\r\n\r\n"
        let end = length(partial, rest) + 10
        let outcome = assertParsesIdentically([.text(partial), .gap(10), .text(rest)], role: .request, expect: [
            "error gap @\(length(partial))", "head GET /b @\(end)", "complete @\(end)",
        ])
        XCTAssertEqual(outcome.errors.first?.evidence, [])
        XCTAssertEqual(outcome.streamOffset, end)
    }

    func testGapBetweenMessagesIsAnErrorAndTheNextLineIsTried() {
        let first = "HTTP/1.1 204 No Content\r\n\r\n"
        let next = "HTTP/1.1 304 Not Modified\r\n\r\n"
        let end = length(first, next) + 3
        assertParsesIdentically([.text(first), .gap(3), .text(next), .gap(4), .gap(5)], role: .response, expect: [
            "head 204 No Content @\(length(first))", "complete @\(length(first))", "error gap @\(length(first))",
            "head 304 Not Modified @\(end)", "complete @\(end)", "error gap @\(end)",
        ])
    }

    func testResyncScanIsLinearOnLongGarbage() {
        // 4 MB of lines that almost start a request: each must be rejected at its first bytes.
        let line = bytes(String(repeating: "x", count: 60) + "\nGE\n")
        var garbage: [UInt8] = []
        garbage.reserveCapacity(4 << 20)
        while garbage.count < 4 << 20 { garbage += line }
        var parser = HTTPMessageParser(role: .request)
        var delegate = RecordingDelegate()
        let first = bytes("GET / HTTP/1.1\r\n\r\nBAD\r\n")
        _ = first.withUnsafeBytes { parser.feed($0, delegate: &delegate) }
        let start = ContinuousClock.now
        _ = garbage.withUnsafeBytes { parser.feed($0, delegate: &delegate) }
        let elapsed = ContinuousClock.now - start
        XCTAssertEqual(delegate.events.map(\.description), ["head GET / @18", "complete @18", "error invalid_start_line @18"])
        XCTAssertEqual(parser.streamOffset, UInt64(first.count + garbage.count))
        XCTAssertLessThan(elapsed, .seconds(2))
    }
}
