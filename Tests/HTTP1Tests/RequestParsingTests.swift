import HTTP1
import XCTest

final class RequestParsingTests: XCTestCase {
    func testSimpleGET() {
        let request = "GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
        let end = length(request)
        let outcome = assertParsesIdentically([.text(request)], role: .request,
                                              expect: ["head GET /index.html?q=1 @\(end)", "complete @\(end)"])
        XCTAssertEqual(outcome.heads.first, HTTPMessageHead(
            kind: .request, method: "GET", target: "/index.html?q=1", version: .http11,
            fields: [HTTPField(name: "Host", value: "example.com"), HTTPField(name: "Accept", value: "*/*")],
            byteCount: Int(end)))
        XCTAssertEqual(outcome.streamOffset, end)
        XCTAssertFalse(outcome.isSkipping)
    }

    func testHTTP10AndOtherMinorVersionsAreAccepted() {
        let first = "GET / HTTP/1.0\r\n\r\n"
        let second = "GET / HTTP/1.2\r\n\r\n"
        let outcome = assertParsesIdentically([.text(first + second)], role: .request)
        XCTAssertEqual(outcome.heads.map(\.version), [.http10, HTTPVersion(major: 1, minor: 2)])
        XCTAssertEqual(outcome.errors, [])
    }

    func testPOSTWithContentLengthSkipsBodyThatLooksLikeARequest() {
        let head = "POST /submit HTTP/1.1\r\nContent-Length: 19\r\n\r\n"
        let body = "GET /x HTTP/1.1\r\n\r\n"
        let next = "GET /next HTTP/1.1\r\n\r\n"
        assertParsesIdentically([.text(head + body + next)], role: .request, expect: [
            "head POST /submit @\(length(head))", "complete @\(length(head, body))",
            "head GET /next @\(length(head, body, next))", "complete @\(length(head, body, next))",
        ])
    }

    func testChunkedBodyWithExtensionsAndTrailers() {
        let head = "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        let body = "5;name=value\r\nhello\r\n"
            + "6 ; a = \"q;\\\"x\\\"\" ;b\r\n world\r\n"
            + "00A;ext\r\n0123456789\r\n"
            + "0\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n"
        let next = "GET /after HTTP/1.1\r\n\r\n"
        assertParsesIdentically([.text(head + body + next)], role: .request, expect: [
            "head POST /upload @\(length(head))", "complete @\(length(head, body))",
            "head GET /after @\(length(head, body, next))", "complete @\(length(head, body, next))",
        ])
    }

    func testChunkedBodyWithoutTrailersAndWithBareLF() {
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        let body = "3\nabc\n0\n\n"
        let outcome = assertParsesIdentically([.text(head + body)], role: .request, expect: [
            "head POST / @\(length(head))", "complete @\(length(head, body))",
        ])
        XCTAssertEqual(outcome.heads.first?.anomalies, [])
    }

    func testInvalidChunkSizeReportsErrorAndResynchronises() {
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        let bad = "5x\r\nhello\r\n0\r\n\r\n"
        let next = "GET /next HTTP/1.1\r\n\r\n"
        let outcome = assertParsesIdentically([.text(head + bad + next)], role: .request, expect: [
            "head POST / @\(length(head))", "error invalid_chunk @\(length(head))",
            "head GET /next @\(length(head, bad, next))", "complete @\(length(head, bad, next))",
        ])
        XCTAssertEqual(outcome.errors.first?.evidence, bytes("5x"))
    }

    func testChunkDataNotFollowedByCRLFIsAnError() {
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        let bad = "3\r\nabcd\r\n0\r\n\r\n"
        let outcome = assertParsesIdentically([.text(head + bad)], role: .request, expect: [
            "head POST / @\(length(head))", "error invalid_chunk @\(length(head, "3\r\nabc"))",
        ])
        XCTAssertEqual(outcome.errors.first?.evidence, bytes("d"))
    }

    func testPipelinedRequestsInOneChunk() {
        let requests = ["GET /1 HTTP/1.1\r\nHost: a\r\n\r\n", "HEAD /2 HTTP/1.1\r\nHost: a\r\n\r\n",
                        "\r\nDELETE /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nxy"]
        var expected: [String] = []
        var offset: UInt64 = 0
        for (index, request) in requests.enumerated() {
            let body: UInt64 = index == 2 ? 2 : 0
            offset += length(request)
            expected += ["head \(["GET /1", "HEAD /2", "DELETE /3"][index]) @\(offset - body)", "complete @\(offset)"]
        }
        assertParsesIdentically([.text(requests.joined())], role: .request, expect: expected)
    }

    func testUpgradeRequestPausesAfterMessageThenResumes() {
        let upgrade = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        let next = "GET /next HTTP/1.1\r\n\r\n"
        let outcome = assertParsesIdentically([.text(upgrade + next)], role: .request,
                                              actions: [.pauseAfterMessage], onPause: .resume, expect: [
            "head GET /chat @\(length(upgrade))", "complete @\(length(upgrade))", "paused @\(length(upgrade))",
            "head GET /next @\(length(upgrade, next))", "complete @\(length(upgrade, next))",
        ])
        XCTAssertTrue(outcome.heads.first?.listContains("connection", token: "upgrade") ?? false)
    }

    func testUpgradeRequestWithBodyPausesAfterTheBody() {
        let head = "POST /h2c HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nContent-Length: 4\r\n\r\n"
        let body = "data"
        let after = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        let outcome = assertParsesIdentically([.text(head + body + after)], role: .request,
                                              actions: [.pauseAfterMessage], onPause: .stop, expect: [
            "head POST /h2c @\(length(head))", "complete @\(length(head, body))", "paused @\(length(head, body))",
        ])
        XCTAssertTrue(outcome.isPaused)
    }

    func testConnectRequestPausesAndTunnelBytesAreNotParsed() {
        let connect = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        var input = bytes(connect)
        input += [0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x03]
        let outcome = assertParsesIdentically([.bytes(input)], role: .request,
                                              actions: [.pauseAfterMessage], onPause: .stop, expect: [
            "head CONNECT example.com:443 @\(length(connect))", "complete @\(length(connect))",
            "paused @\(length(connect))",
        ])
        XCTAssertEqual(outcome.errors, [])
    }

    func testPausedParserConsumesNothingUntilResumed() {
        var parser = HTTPMessageParser(role: .request)
        var delegate = RecordingDelegate(actions: [.pauseAfterMessage])
        let upgrade = "GET / HTTP/1.1\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\n"
        let next = "GET /b HTTP/1.1\r\n\r\n"
        let input = bytes(upgrade + next)
        let pauseIndex = upgrade.utf8.count
        let first = input.withUnsafeBytes { parser.feed($0, delegate: &delegate) }
        XCTAssertEqual(first, .paused(at: pauseIndex))
        XCTAssertEqual(parser.streamOffset, UInt64(pauseIndex))
        let held = Array(input[pauseIndex...])
        let again = held.withUnsafeBytes { parser.feed($0, delegate: &delegate) }
        XCTAssertEqual(again, .paused(at: 0))
        parser.gap(length: 7, delegate: &delegate)
        parser.finish(delegate: &delegate)
        XCTAssertTrue(parser.isPaused)
        XCTAssertEqual(parser.streamOffset, UInt64(pauseIndex))
        XCTAssertEqual(delegate.events.map(\.description), ["head GET / @\(pauseIndex)", "complete @\(pauseIndex)"])
        parser.resume()
        XCTAssertFalse(parser.isPaused)
        XCTAssertEqual(held.withUnsafeBytes { parser.feed($0, delegate: &delegate) }, .consumedAll)
        let end = length(upgrade, next)
        XCTAssertEqual(Array(delegate.events.map(\.description).suffix(2)), ["head GET /b @\(end)", "complete @\(end)"])
    }

    func testRequestWithoutLengthHasNoBody() {
        let first = "POST /a HTTP/1.1\r\nHost: x\r\n\r\n"
        let second = "GET /b HTTP/1.1\r\n\r\n"
        assertParsesIdentically([.text(first + second)], role: .request, expect: [
            "head POST /a @\(length(first))", "complete @\(length(first))",
            "head GET /b @\(length(first, second))", "complete @\(length(first, second))",
        ])
    }

    func testFinishInsideHeadIsTruncated() {
        let partial = "GET /a HTTP/1.1\r\nHost: exa"
        let outcome = assertParsesIdentically([.text(partial), .finish], role: .request,
                                              expect: ["error truncated_message @0"])
        XCTAssertEqual(outcome.errors.first?.evidence, bytes(partial))
    }

    func testFinishInsideLengthDelimitedBodyIsTruncated() {
        let head = "GET /x HTTP/1.1\r\n\r\nPUT /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n"
        assertParsesIdentically([.text(head + "abc"), .finish], role: .request, expect: [
            "head GET /x @19", "complete @19", "head PUT /a @\(length(head))", "error truncated_message @19",
        ])
    }

    func testShortInputIsNotMisjudged() {
        for prefix in ["G", "GE", "GET", "GET ", "GET /", "GET / HTTP/1.", "GET / HTTP/1.1\r"] {
            let outcome = assertParsesIdentically([.text(prefix)], role: .request, expect: [])
            XCTAssertFalse(outcome.isSkipping, prefix)
        }
    }
}
