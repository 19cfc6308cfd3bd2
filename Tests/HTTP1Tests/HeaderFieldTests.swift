import HTTP1
import XCTest

final class HeaderFieldTests: XCTestCase {
    func testLowercaseAndRepeatedFieldsKeepOrderAndCase() {
        let request = "GET / HTTP/1.1\r\nhost: a\r\naccept: text/html, \"a,b\", x\r\nAccept:y\r\n"
            + "set-cookie: a=1\r\nSet-Cookie: b=2\r\nempty:\r\n\r\n"
        let outcome = assertParsesIdentically([.text(request)], role: .request)
        guard let head = outcome.heads.first else { return XCTFail("no head") }
        XCTAssertEqual(head.fields.map(\.name), ["host", "accept", "Accept", "set-cookie", "Set-Cookie", "empty"])
        XCTAssertEqual(head.values("ACCEPT"), ["text/html, \"a,b\", x", "y"])
        XCTAssertEqual(head.listMembers("Accept"), ["text/html", "\"a,b\"", "x", "y"])
        XCTAssertEqual(head.values("Set-Cookie"), ["a=1", "b=2"])
        XCTAssertEqual(head.values("empty"), [""])
        XCTAssertTrue(head.contains("HOST"))
        XCTAssertFalse(head.contains("hos"))
        XCTAssertEqual(head.anomalies, [])
    }

    func testListSplittingRespectsQuotedStrings() {
        let cases: [(String, [String])] = [
            ("a, b,c", ["a", "b", "c"]),
            (" a , \"b,\\\"c\\\"\" ,, d ", ["a", "\"b,\\\"c\\\"\"", "d"]),
            ("Upgrade, HTTP2-Settings", ["Upgrade", "HTTP2-Settings"]),
            ("", []),
            (" , ,", []),
        ]
        for (value, members) in cases {
            XCTAssertEqual(HTTPMessageHead.splitList(value), members, value)
        }
    }

    func testObsFoldIsJoinedWithOneSpaceAndNamed() {
        let request = "GET / HTTP/1.1\r\nX-Long: part1\r\n  part2\r\n\tpart3 \r\nHost: h\r\n\r\n"
        let outcome = assertParsesIdentically([.text(request)], role: .request)
        guard let head = outcome.heads.first else { return XCTFail("no head") }
        XCTAssertEqual(head.fields, [HTTPField(name: "X-Long", value: "part1 part2 part3"), HTTPField(name: "Host", value: "h")])
        XCTAssertEqual(head.anomalies.map(\.kind), [.obsFold, .obsFold])
        XCTAssertEqual(head.anomalies.first?.evidence, "  part2")
    }

    func testObsFoldBeforeAnyFieldIsInvalid() {
        let request = "GET / HTTP/1.1\r\n folded: x\r\n\r\n"
        let next = "GET /b HTTP/1.1\r\n\r\n"
        let outcome = assertParsesIdentically([.text(request + next)], role: .request, expect: [
            "error invalid_header @16", "head GET /b @\(length(request, next))", "complete @\(length(request, next))",
        ])
        XCTAssertEqual(outcome.errors.first?.evidence, bytes(" folded: x"))
    }

    func testWhitespaceBeforeColonIsRecordedWithTrimmedName() {
        let request = "GET / HTTP/1.1\r\nHost : example.com\r\nX-Tab\t:v\r\n\r\n"
        let outcome = assertParsesIdentically([.text(request)], role: .request)
        guard let head = outcome.heads.first else { return XCTFail("no head") }
        XCTAssertEqual(head.fields, [HTTPField(name: "Host", value: "example.com"), HTTPField(name: "X-Tab", value: "v")])
        XCTAssertEqual(head.anomalies, [HTTPAnomaly(.whitespaceBeforeColon, evidence: "Host : example.com"),
                                        HTTPAnomaly(.whitespaceBeforeColon, evidence: "X-Tab\t:v")])
    }

    func testControlCharacterInValueIsNamed() {
        let request = "GET / HTTP/1.1\r\nX-A: a\u{0}b\r\nX-B: tab\tok\r\nX-C: bare\rcr\r\n\r\n"
        let outcome = assertParsesIdentically([.text(request)], role: .request)
        guard let head = outcome.heads.first else { return XCTFail("no head") }
        XCTAssertEqual(head.anomalies.map(\.kind), [.invalidFieldValue, .invalidFieldValue])
        XCTAssertEqual(head.values("x-c"), ["bare\rcr"])
        XCTAssertEqual(head.values("x-b"), ["tab\tok"])
    }

    func testBareLFIsNamedOnce() {
        let request = "GET / HTTP/1.1\nHost: a\nAccept: b\n\n"
        let outcome = assertParsesIdentically([.text(request)], role: .request, expect: [
            "head GET / @\(length(request))", "complete @\(length(request))",
        ])
        XCTAssertEqual(outcome.heads.first?.anomalies, [HTTPAnomaly(.bareLF, evidence: "GET / HTTP/1.1")])
        XCTAssertEqual(outcome.heads.first?.fields.count, 2)
    }

    func testInvalidFieldLinesAreErrorsAtTheirOffset() {
        let start = "GET / HTTP/1.1\r\nHost: a\r\n"
        for bad in ["NoColon\r\n", "Bad Name: v\r\n", ": empty\r\n", "B@d: v\r\n", "\u{1}: v\r\n"] {
            let next = "GET /b HTTP/1.1\r\n\r\n"
            let input = start + bad + "\r\n" + next
            let outcome = assertParsesIdentically([.text(input)], role: .request, expect: [
                "error invalid_header @\(length(start))", "head GET /b @\(length(input))", "complete @\(length(input))",
            ])
            XCTAssertEqual(outcome.errors.first?.evidence, bytes(String(bad.dropLast())), bad)
        }
    }

    func testDuplicateEqualContentLengthsAreAccepted() {
        for fields in ["Content-Length: 5, 5\r\n", "Content-Length: 5\r\ncontent-length: 5\r\n",
                       "Content-Length: 5,5\r\nContent-Length: 5\r\n"] {
            let head = "POST / HTTP/1.1\r\n" + fields + "\r\n"
            let next = "GET /b HTTP/1.1\r\n\r\n"
            let outcome = assertParsesIdentically([.text(head + "hello" + next)], role: .request, expect: [
                "head POST / @\(length(head))", "complete @\(length(head, "hello"))",
                "head GET /b @\(length(head, "hello", next))", "complete @\(length(head, "hello", next))",
            ])
            XCTAssertEqual(outcome.heads.first?.anomalies.map(\.kind), [.duplicateContentLength], fields)
        }
    }

    func testConflictingContentLengthsAreAnErrorAfterTheHead() {
        let head = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
        let body = "hello!\r\n"
        let next = "GET /next HTTP/1.1\r\n\r\n"
        let outcome = assertParsesIdentically([.text(head + body + next)], role: .request, expect: [
            "head POST /a @\(length(head))", "error invalid_content_length @27",
            "head GET /next @\(length(head, body, next))", "complete @\(length(head, body, next))",
        ])
        XCTAssertEqual(outcome.heads.first?.anomalies, [HTTPAnomaly(.conflictingContentLength, evidence: "5, 6")])
        XCTAssertEqual(outcome.errors.first?.evidence, bytes("Content-Length: 5"))
    }

    func testMalformedContentLengthIsAnError() {
        for value in ["5a", "-1", "", "+5", "5 5", "0x10", "99999999999999999999999"] {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: \(value)\r\n\r\n"
            let next = "HTTP/1.1 204 No Content\r\n\r\n"
            let outcome = assertParsesIdentically([.text(head + "body\r\n" + next)], role: .response, expect: [
                "head 200 OK @\(length(head))", "error invalid_content_length @17",
                "head 204 No Content @\(length(head, "body\r\n", next))", "complete @\(length(head, "body\r\n", next))",
            ])
            XCTAssertEqual(outcome.heads.first?.anomalies, [], value)
        }
    }

    func testTransferEncodingWinsOverContentLength() {
        let head = "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        let body = "3\r\nabc\r\n0\r\n\r\n"
        let outcome = assertParsesIdentically([.text(head + body)], role: .request, expect: [
            "head POST / @\(length(head))", "complete @\(length(head, body))",
        ])
        XCTAssertEqual(outcome.heads.first?.anomalies,
                       [HTTPAnomaly(.contentLengthWithTransferEncoding, evidence: "Transfer-Encoding: chunked; Content-Length: 3")])
    }

    func testRequestTransferEncodingNotEndingInChunkedIsInvalid() {
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
        let body = "\u{1F}\u{8B}compressed\r\n"
        let next = "GET /b HTTP/1.1\r\n\r\n"
        let outcome = assertParsesIdentically([.text(head + body + next)], role: .request, expect: [
            "head POST / @\(length(head))", "error invalid_header @17",
            "head GET /b @\(length(head, body, next))", "complete @\(length(head, body, next))",
        ])
        XCTAssertEqual(outcome.heads.first?.anomalies.map(\.kind), [.transferEncodingNotChunked])
    }

    func testHeadTooLargeIsReportedAndTheParserResynchronises() {
        var options = HTTPParserOptions()
        options.maxHeadBytes = 64
        let big = "GET /a HTTP/1.1\r\nX-Big: " + String(repeating: "x", count: 80) + "\r\n\r\n"
        let next = "GET /ok HTTP/1.1\r\n\r\n"
        let outcome = assertParsesIdentically([.text(big + next)], role: .request, options: options, expect: [
            "error head_too_large @0", "head GET /ok @\(length(big, next))", "complete @\(length(big, next))",
        ])
        XCTAssertEqual(outcome.errors.first?.evidence, Array(bytes(big).prefix(64)))
    }

    func testHeadOfExactlyTheLimitIsAccepted() {
        var options = HTTPParserOptions()
        let head = "GET /a HTTP/1.1\r\nX-Pad: " + String(repeating: "p", count: 30) + "\r\n\r\n"
        options.maxHeadBytes = head.utf8.count
        assertParsesIdentically([.text(head)], role: .request, options: options,
                                expect: ["head GET /a @\(length(head))", "complete @\(length(head))"])
        options.maxHeadBytes = head.utf8.count - 1
        assertParsesIdentically([.text(head)], role: .request, options: options, expect: ["error head_too_large @0"])
    }

    func testOversizedStartLineIsTooLargeNotNotHTTP() {
        var options = HTTPParserOptions()
        options.maxHeadBytes = 32
        let long = "GET /" + String(repeating: "a", count: 40) + " HTTP/1.1\r\n\r\n"
        let outcome = assertParsesIdentically([.text(long)], role: .request, options: options,
                                              expect: ["error head_too_large @0"])
        XCTAssertFalse(outcome.isSkipping)
    }
}

final class EvidenceAndLimitTests: XCTestCase {
    func testErrorAndAnomalyEvidenceIsCappedAt64Bytes() {
        let longName = String(repeating: "n", count: 100)
        let badLine = longName + " x: value"
        let before = "GET / HTTP/1.1\r\nX-Fold: a\r\n " + String(repeating: "f", count: 100) + "\r\n"
        let request = before + badLine + "\r\n\r\n"
        let outcome = assertParsesIdentically([.text(request)], role: .request,
                                              expect: ["error invalid_header @\(length(before))"])
        XCTAssertEqual(outcome.errors.first?.evidence, Array(bytes(badLine).prefix(64)))

        let folded = "GET / HTTP/1.1\r\nX-Fold: a\r\n " + String(repeating: "f", count: 100) + "\r\n\r\n"
        let head = assertParsesIdentically([.text(folded)], role: .request).heads.first
        XCTAssertEqual(head?.anomalies.first?.evidence.utf8.count, 64)
        XCTAssertEqual(head?.values("x-fold").first?.utf8.count, 102)
    }

    func testOverlongChunkLineIsInvalid() {
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        let line = "5;ext=" + String(repeating: "v", count: HTTPMessageParser.maxChunkLineBytes) + "\r\nhello\r\n0\r\n\r\n"
        let outcome = assertParsesIdentically([.text(head + line)], role: .request, expect: [
            "head POST / @\(length(head))", "error invalid_chunk @\(length(head))",
        ])
        XCTAssertEqual(outcome.errors.first?.evidence, Array(bytes(line).prefix(64)))
    }

    func testMalformedChunkExtensionsAreInvalid() {
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        for (line, evidence) in [("5;\"q\"\r\n", "5;\""), ("5;a=\"x\u{1}\"\r\n", "5;a=\"x\u{1}"), ("5;a=b c\r\n", "5;a=b c"),
                                 ("\r\n", "\r"), ("5;=v\r\n", "5;="), ("5;a=\r\n", "5;a=\r"),
                                 ("11111111111111111\r\n", "11111111111111111")] {
            let outcome = assertParsesIdentically([.text(head + line)], role: .request, expect: [
                "head POST / @\(length(head))", "error invalid_chunk @\(length(head))",
            ])
            XCTAssertEqual(outcome.errors.first?.evidence, bytes(evidence), line)
        }
    }

    func testOversizedTrailerSectionIsReported() {
        var options = HTTPParserOptions()
        options.maxHeadBytes = 100
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        let body = "0\r\n" + String(repeating: "X-T: 1234567890\r\n", count: 10) + "\r\n"
        let next = "GET /b HTTP/1.1\r\n\r\n"
        assertParsesIdentically([.text(head + body + next)], role: .request, options: options, expect: [
            "head POST / @\(length(head))", "error head_too_large @\(length(head, "0\r\n"))",
            "head GET /b @\(length(head, body, next))", "complete @\(length(head, body, next))",
        ])
    }
}
