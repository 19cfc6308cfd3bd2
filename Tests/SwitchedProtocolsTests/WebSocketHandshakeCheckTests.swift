import Findings
import SwitchedProtocols
import XCTest

final class WebSocketHandshakeCheckTests: XCTestCase {
    /// RFC 6455 §1.2's example handshake.
    static let request = HandshakeMessage(method: "GET", version: "HTTP/1.1", headers: [
        ("Host", "server.example.com"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Origin", "http://example.com"),
        ("Sec-WebSocket-Protocol", "chat, superchat"), ("Sec-WebSocket-Version", "13"),
    ])
    static let response = HandshakeMessage(version: "HTTP/1.1", status: 101, headers: [
        ("Upgrade", "websocket"), ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), ("Sec-WebSocket-Protocol", "chat"),
    ])

    func testAcceptValueFromRFCExample() {
        XCTAssertEqual(WebSocketHandshakeCheck.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    func testRFCExampleIsClean() {
        let result = WebSocketHandshakeCheck.check(request: Self.request, response: Self.response)
        XCTAssertEqual(result.findings.map(\.rule.id), [])
        XCTAssertEqual(result.negotiation.subprotocol, "chat")
        XCTAssertEqual(result.negotiation.offeredSubprotocols, ["chat", "superchat"])
        XCTAssertEqual(result.negotiation.allowedRSVBits, 0)
    }

    func with(_ message: HandshakeMessage, method: String? = nil, version: String? = nil,
              removing: String? = nil, adding: [(String, String)] = []) -> HandshakeMessage {
        var copy = message
        if let method { copy.method = method }
        if let version { copy.version = version }
        if let removing { copy.headers.removeAll { $0.name.lowercased() == removing.lowercased() } }
        copy.headers += adding.map { (name: $0.0, value: $0.1) }
        return copy
    }

    /// Each rule broken once, against the clean example.
    func testEachRule() {
        let request = Self.request
        let response = Self.response
        let newKey = "AQIDBAUGBwgJCgsMDQ4PEA=="  // base64 of 16 bytes 1…16
        let cases: [(String, HandshakeMessage?, HandshakeMessage, [String])] = [
            ("POST", with(request, method: "POST"), response, ["websocket_bad_handshake_method"]),
            ("lowercase get", with(request, method: "get"), response, ["websocket_bad_handshake_method"]),
            ("HTTP/1.0", with(request, version: "HTTP/1.0"), response, ["websocket_bad_handshake_method"]),
            ("no key", with(request, removing: "Sec-WebSocket-Key"), response, ["websocket_missing_key"]),
            ("key of 15 bytes",
             with(request, removing: "Sec-WebSocket-Key", adding: [("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4P")]),
             with(response, removing: "Sec-WebSocket-Accept",
                  adding: [("Sec-WebSocket-Accept", WebSocketHandshakeCheck.acceptValue(forKey: "AQIDBAUGBwgJCgsMDQ4P"))]),
             ["websocket_bad_key"]),
            ("key not base64",
             with(request, removing: "Sec-WebSocket-Key", adding: [("Sec-WebSocket-Key", "not a key!")]),
             with(response, removing: "Sec-WebSocket-Accept",
                  adding: [("Sec-WebSocket-Accept", WebSocketHandshakeCheck.acceptValue(forKey: "not a key!"))]),
             ["websocket_bad_key"]),
            ("version 8", with(request, removing: "Sec-WebSocket-Version", adding: [("Sec-WebSocket-Version", "8")]),
             response, ["websocket_bad_version"]),
            ("no version", with(request, removing: "Sec-WebSocket-Version"), response, ["websocket_bad_version"]),
            ("no accept", request, with(response, removing: "Sec-WebSocket-Accept"), ["websocket_missing_accept"]),
            ("wrong accept", request,
             with(response, removing: "Sec-WebSocket-Accept", adding: [("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo")]),
             ["websocket_wrong_accept"]),
            ("accept for another key", request,
             with(response, removing: "Sec-WebSocket-Accept",
                  adding: [("Sec-WebSocket-Accept", WebSocketHandshakeCheck.acceptValue(forKey: newKey))]),
             ["websocket_wrong_accept"]),
            ("two keys", with(request, adding: [("Sec-WebSocket-Key", newKey)]), response, ["websocket_duplicate_header"]),
            ("keys joined by a summary",
             with(request, removing: "Sec-WebSocket-Key", adding: [("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==, \(newKey)")]),
             response, ["websocket_duplicate_header"]),
            ("two versions", with(request, adding: [("Sec-WebSocket-Version", "13")]), response, ["websocket_duplicate_header"]),
            ("two accepts", request, with(response, adding: [("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")]),
             ["websocket_duplicate_header"]),
            ("two subprotocols selected", request,
             with(response, removing: "Sec-WebSocket-Protocol", adding: [("Sec-WebSocket-Protocol", "chat, superchat")]),
             ["websocket_duplicate_header"]),
            ("subprotocol not offered", request,
             with(response, removing: "Sec-WebSocket-Protocol", adding: [("Sec-WebSocket-Protocol", "mqtt")]),
             ["websocket_subprotocol_not_offered"]),
            ("subprotocol case differs", request,
             with(response, removing: "Sec-WebSocket-Protocol", adding: [("Sec-WebSocket-Protocol", "Chat")]),
             ["websocket_subprotocol_not_offered"]),
            ("subprotocol when none offered", with(request, removing: "Sec-WebSocket-Protocol"), response,
             ["websocket_subprotocol_not_offered"]),
            ("extension not offered", request,
             with(response, adding: [("Sec-WebSocket-Extensions", "permessage-deflate")]),
             ["websocket_extension_not_offered"]),
            ("client_max_window_bits not offered",
             with(request, adding: [("Sec-WebSocket-Extensions", "permessage-deflate")]),
             with(response, adding: [("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits=10")]),
             ["websocket_extension_not_offered"]),
            ("426 without versions", request,
             HandshakeMessage(version: "HTTP/1.1", status: 426, headers: [("Upgrade", "websocket")]),
             ["websocket_bad_version"]),
            ("400 to version 8 without versions",
             with(request, removing: "Sec-WebSocket-Version", adding: [("Sec-WebSocket-Version", "8")]),
             HandshakeMessage(version: "HTTP/1.1", status: 400, headers: []),
             // The server's refusal lists no versions, and the client asked for 8 (§4.1: 13).
             ["websocket_bad_version", "websocket_bad_version"]),
        ]
        for (name, request, response, expected) in cases {
            let result = WebSocketHandshakeCheck.check(request: request, response: response)
            XCTAssertEqual(result.findings.map(\.rule.id), expected, name)
            for finding in result.findings {
                XCTAssertFalse(finding.message.isEmpty, name)
                XCTAssertTrue(finding.message.hasSuffix("."), "\(name): \(finding.message)")
            }
        }
    }

    func testFindingsSayWhichMessageTheyConcern() {
        let result = WebSocketHandshakeCheck.check(
            request: with(Self.request, method: "PUT"), response: with(Self.response, removing: "Sec-WebSocket-Accept"))
        XCTAssertEqual(result.findings.map(\.concernsResponse), [false, true])
        let violation = result.findings[1].violation(frame: 6, timestamp: .zero, connection: nil)
        XCTAssertEqual(violation.direction, "server_to_client")
        XCTAssertEqual(violation.frame, 6)
        XCTAssertEqual(violation.evidence["expected_accept"], .text("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))
    }

    func testRefusalsThatListVersionsBlameOnlyTheClient() {
        let version8 = with(Self.request, removing: "Sec-WebSocket-Version", adding: [("Sec-WebSocket-Version", "8")])
        // RFC 6455 §4.4's example: the server answers with the versions it supports, which is
        // right; the client's version 8 is still not the 13 that §4.1 requires.
        for response in [
            HandshakeMessage(version: "HTTP/1.1", status: 426, headers: [("Sec-WebSocket-Version", "13, 8, 7")]),
            HandshakeMessage(version: "HTTP/1.1", status: 426,
                                      headers: [("Sec-WebSocket-Version", "13"), ("Sec-WebSocket-Version", "8, 7")]),
            HandshakeMessage(version: "HTTP/1.1", status: 400, headers: [("Sec-WebSocket-Version", "13")]),
        ] {
            let findings = WebSocketHandshakeCheck.check(request: version8, response: response).findings
            XCTAssertEqual(findings.map(\.rule.id), ["websocket_bad_version"])
            XCTAssertEqual(findings.map(\.concernsResponse), [false])
        }
        let version13Refused = HandshakeMessage(version: "HTTP/1.1", status: 426,
                                                         headers: [("Sec-WebSocket-Version", "13")])
        XCTAssertEqual(WebSocketHandshakeCheck.check(request: Self.request, response: version13Refused).findings.map(\.rule.id), [])
        // A non-101, non-version refusal of a bad request is the server doing its job.
        let refused = HandshakeMessage(version: "HTTP/1.1", status: 400, headers: [])
        XCTAssertEqual(WebSocketHandshakeCheck.check(request: with(Self.request, method: "POST", removing: "Sec-WebSocket-Key"),
                                                     response: refused).findings.map(\.rule.id), [])
        // A 426 listing something that is not a version.
        let junk = HandshakeMessage(version: "HTTP/1.1", status: 426, headers: [("Sec-WebSocket-Version", "latest")])
        XCTAssertEqual(WebSocketHandshakeCheck.check(request: version8, response: junk).findings.map(\.rule.id),
                       ["websocket_bad_version", "websocket_bad_version"])
    }

    func testPartialConnectionChecksOnlyTheResponse() {
        XCTAssertEqual(WebSocketHandshakeCheck.check(request: nil, response: Self.response).findings.map(\.rule.id), [])
        XCTAssertEqual(WebSocketHandshakeCheck.check(request: nil, response: with(Self.response, removing: "Sec-WebSocket-Accept"))
            .findings.map(\.rule.id), ["websocket_missing_accept"])
    }

    func testHeaderNamesAreCaseInsensitiveAndValuesTrimmed() {
        let request = HandshakeMessage(method: "GET", version: "HTTP/1.1", headers: [
            ("sec-websocket-key", "  dGhlIHNhbXBsZSBub25jZQ==\t"), ("SEC-WEBSOCKET-VERSION", "13"),
        ])
        let response = HandshakeMessage(version: "HTTP/1.1", status: 101, headers: [
            ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo= "),
        ])
        XCTAssertEqual(WebSocketHandshakeCheck.check(request: request, response: response).findings.map(\.rule.id), [])
    }

    func testPermessageDeflateNegotiation() {
        let request = with(Self.request, adding: [
            ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits, x-webkit-deflate-frame"),
        ])
        let response = with(Self.response, adding: [
            ("Sec-WebSocket-Extensions", "permessage-deflate; server_no_context_takeover; client_max_window_bits=\"12\""),
        ])
        let result = WebSocketHandshakeCheck.check(request: request, response: response)
        XCTAssertEqual(result.findings.map(\.rule.id), [])
        XCTAssertEqual(result.negotiation.permessageDeflate,
                       PerMessageDeflateParameters(serverNoContextTakeover: true, clientMaxWindowBits: 12))
        XCTAssertEqual(result.negotiation.allowedRSVBits, 0b100)
        XCTAssertEqual(result.negotiation.offeredExtensions.map(\.name), ["permessage-deflate", "x-webkit-deflate-frame"])
        let evidence = result.negotiation.evidence
        XCTAssertEqual(evidence["extensions"], .texts(["permessage-deflate; server_no_context_takeover; client_max_window_bits=12"]))
        XCTAssertEqual(evidence["permessage_deflate_client_max_window_bits"], .integer(12))
        XCTAssertEqual(evidence["subprotocol"], .text("chat"))
    }

    func testExtensionParsing() {
        let (parsed, malformed) = WebSocketExtension.parse([
            "foo; a=1; b=\"x,y\", bar", "Baz;flag", ", ", "bad token(; x",
        ])
        XCTAssertEqual(parsed, [
            WebSocketExtension(name: "foo", parameters: [.init(name: "a", value: "1"), .init(name: "b", value: "x,y")]),
            WebSocketExtension(name: "bar"),
            WebSocketExtension(name: "baz", parameters: [.init(name: "flag", value: nil)]),
        ])
        XCTAssertEqual(malformed, 1)
    }

    func testFromMessageSummary() {
        let summary = MessageSummary(method: "GET", target: "/", version: "HTTP/1.1", upgrade: ["websocket"],
                                     headers: [("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), ("sec-websocket-version", "13")],
                                     frame: 4, timestamp: .zero)
        let request = HandshakeMessage(summary)
        XCTAssertEqual(request.values("sec-websocket-key"), ["dGhlIHNhbXBsZSBub25jZQ=="])
        XCTAssertEqual(WebSocketHandshakeCheck.check(request: request, response: Self.response).findings.map(\.rule.id),
                       ["websocket_subprotocol_not_offered"])
    }

    func testCatalogue() {
        let ids = Rule.webSocketCatalogue.map(\.id)
        XCTAssertEqual(ids.count, 21)
        XCTAssertEqual(Set(ids).count, ids.count)
        XCTAssertTrue(ids.allSatisfy { $0.hasPrefix("websocket_") })
        XCTAssertTrue(Rule.webSocketCatalogue.allSatisfy {
            ($0.reference.hasPrefix("RFC 6455") || $0.reference.hasPrefix("RFC 7692")) && !$0.summary.isEmpty
        })
    }
}
