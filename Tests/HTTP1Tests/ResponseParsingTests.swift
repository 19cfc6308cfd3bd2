import HTTP1
import XCTest

final class ResponseParsingTests: XCTestCase {
    func testResponsesWithAndWithoutBodies() {
        let ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
        let noContent = "HTTP/1.1 204 No Content\r\nContent-Length: 100\r\n\r\n"
        let notModified = "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n"
        let last = "HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\n\r\n"
        let input = ok + "hello" + noContent + notModified + last + "no"
        assertParsesIdentically([.text(input)], role: .response, expect: [
            "head 200 OK @\(length(ok))", "complete @\(length(ok, "hello"))",
            "head 204 No Content @\(length(ok, "hello", noContent))", "complete @\(length(ok, "hello", noContent))",
            "head 304 Not Modified @\(length(ok, "hello", noContent, notModified))",
            "complete @\(length(ok, "hello", noContent, notModified))",
            "head 404 Not Found @\(length(ok, "hello", noContent, notModified, last))",
            "complete @\(length(input))",
        ])
    }

    func testResponseToHEADHasNoBodyWhateverItsHeadersSay() {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
        let chunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        let next = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        assertParsesIdentically([.text(head + chunkedHead + next)], role: .response,
                                actions: [.skipBody, .skipBody], expect: [
            "head 200 OK @\(length(head))", "complete @\(length(head))",
            "head 200 OK @\(length(head, chunkedHead))", "complete @\(length(head, chunkedHead))",
            "head 200 OK @\(length(head, chunkedHead, next))", "complete @\(length(head, chunkedHead, next))",
        ])
    }

    func testBodyReadUntilCloseCompletesAtFinish() {
        let head = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"
        let body = "everything until the connection closes\r\nHTTP/1.1 200 OK\r\n\r\n"
        let outcome = assertParsesIdentically([.text(head + body), .finish], role: .response, expect: [
            "head 200 OK @\(length(head))", "complete @\(length(head, body))",
        ])
        XCTAssertEqual(outcome.errors, [])
    }

    func testGapInsideBodyReadUntilCloseStaysInSync() {
        let head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
        assertParsesIdentically([.text(head + "abc"), .gap(1000), .text("def"), .finish], role: .response, expect: [
            "head 200 OK @\(length(head))", "complete @\(length(head) + 1006)",
        ])
    }

    func testResponseWithTransferEncodingNotChunkedIsReadUntilClose() {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"
        let outcome = assertParsesIdentically([.text(head + "\u{1F}binary"), .finish], role: .response, expect: [
            "head 200 OK @\(length(head))", "complete @\(length(head, "\u{1F}binary"))",
        ])
        XCTAssertEqual(outcome.heads.first?.anomalies, [])
    }

    func testContinueThenFinalResponse() {
        let interim = "HTTP/1.1 100 Continue\r\n\r\n"
        let final = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        assertParsesIdentically([.text(interim + final)], role: .response, expect: [
            "head 100 Continue @\(length(interim))", "complete @\(length(interim))",
            "head 200 OK @\(length(interim, final) - 2)", "complete @\(length(interim, final))",
        ])
    }

    func testInterimResponsesThenSwitchingProtocolsPausesWhereTheNewProtocolStarts() {
        let continued = "HTTP/1.1 100 Continue\r\n\r\n"
        let processing = "HTTP/1.1 102 Processing\r\n\r\n"
        let interim = continued + processing
            + "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"
        let switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        let frame: [UInt8] = [0x81, 0x05] + bytes("Hello") + bytes("HTTP/1.1 200 OK\r\n\r\n")
        let input = bytes(interim + switching) + frame
        let pausedAt = length(interim, switching)
        let outcome = assertParsesIdentically([.bytes(input)], role: .response,
                                              actions: [.proceed, .proceed, .proceed, .switchProtocols],
                                              onPause: .stop, expect: [
            "head 100 Continue @\(length(continued))", "complete @\(length(continued))",
            "head 102 Processing @\(length(continued, processing))", "complete @\(length(continued, processing))",
            "head 103 Early Hints @\(length(interim))", "complete @\(length(interim))",
            "head 101 Switching Protocols @\(pausedAt)", "complete @\(pausedAt)", "paused @\(pausedAt)",
        ])
        XCTAssertEqual(Array(input[Int(pausedAt)...]), frame)
        XCTAssertTrue(outcome.isPaused)
        XCTAssertEqual(outcome.heads.last?.values("upgrade"), ["websocket"])
    }

    func testSwitchingProtocolsAtTheEndOfAChunkPausesAtItsEnd() {
        var parser = HTTPMessageParser(role: .response)
        var delegate = RecordingDelegate(actions: [.switchProtocols])
        let head = bytes("HTTP/1.1 101\r\n\r\n")
        XCTAssertEqual(head.withUnsafeBytes { parser.feed($0, delegate: &delegate) }, .paused(at: head.count))
        let frame: [UInt8] = [0x81, 0x00]
        XCTAssertEqual(frame.withUnsafeBytes { parser.feed($0, delegate: &delegate) }, .paused(at: 0))
        XCTAssertEqual(parser.streamOffset, UInt64(head.count))
    }

    func testConnectSuccessSwitchesToTunnel() {
        let established = "HTTP/1.1 200 Connection established\r\nContent-Length: 100\r\n\r\n"
        let tls: [UInt8] = [0x16, 0x03, 0x03, 0x00, 0x7A, 0x02, 0x00, 0x00, 0x76, 0x03, 0x03]
        let outcome = assertParsesIdentically([.bytes(bytes(established) + tls)], role: .response,
                                              actions: [.switchProtocols], onPause: .stop, expect: [
            "head 200 Connection established @\(length(established))", "complete @\(length(established))",
            "paused @\(length(established))",
        ])
        XCTAssertEqual(outcome.errors, [])
    }

    func testStatusLineVariants() {
        let cases: [(String, Int, String)] = [
            ("HTTP/1.1 101\r\n\r\n", 101, ""),                 // no space, no reason
            ("HTTP/1.1 101\n\n", 101, ""),                     // and bare LFs
            ("HTTP/1.1 200 \r\n\r\n", 200, ""),                // empty reason
            ("HTTP/1.1 200 OK\r\n\r\n", 200, "OK"),
            ("HTTP/1.1 404 Not  Found \r\n\r\n", 404, "Not  Found "),
            ("HTTP/1.1 599 \u{7}odd\u{1} bytes\r\n\r\n", 599, "\u{7}odd\u{1} bytes"),
            ("HTTP/1.1 200 caf\u{E9}\r\n\r\n", 200, "caf\u{E9}"),
        ]
        for (line, status, reason) in cases {
            let outcome = assertParsesIdentically([.text(line)], role: .response, actions: [.skipBody])
            XCTAssertEqual(outcome.heads.map(\.status), [status], line)
            XCTAssertEqual(outcome.heads.first?.reason, reason, line)
            XCTAssertEqual(outcome.heads.first?.byteCount, line.utf8.count, line)
            XCTAssertEqual(outcome.errors, [], line)
        }
    }

    func testInvalidStatusLinesAreErrorsAfterTheFirstMessage() {
        let first = "HTTP/1.1 204 No Content\r\n\r\n"
        // No client measured by Captures/client_acceptance.py takes these (lenient forms that
        // one does take are in LenientResponseTests).
        for bad in ["HTTP/1.1 20 OK\r\n", "HTTP/1.1 099 Low\r\n", "HTTP/1.1 2000\r\n", "HTTP/1.1 0099 Low\r\n",
                    "HTTP/1.1\r\n", "HTTP/11 200 OK\r\n", "HTTP /1.1 200 OK\r\n", "HTTP/1.1 200\u{1}\r\n"] {
            let next = "HTTP/1.1 304 Not Modified\r\n\r\n"
            let start = length(first)
            let outcome = assertParsesIdentically([.text(first + bad + next)], role: .response, expect: [
                "head 204 No Content @\(start)", "complete @\(start)", "error invalid_start_line @\(start)",
                "head 304 Not Modified @\(length(first, bad, next))", "complete @\(length(first, bad, next))",
            ])
            XCTAssertFalse(outcome.isSkipping, bad)
        }
    }

    func testOtherMajorVersionIsInvalidVersion() {
        let bad = "HTTP/3.0 200 OK\r\n\r\n"
        let next = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
        let outcome = assertParsesIdentically([.text(bad + next)], role: .response, expect: [
            "error invalid_version @0", "head 200 OK @\(length(bad, next))", "complete @\(length(bad, next))",
        ])
        XCTAssertEqual(outcome.errors.first?.evidence, bytes("HTTP/3.0 200 OK\r\n"))
    }
}
