import Findings
@testable import SwitchedProtocols
import XCTest

/// The `requests` list of the `http2` evidence: streams, the upgraded stream 1, extended
/// CONNECT, the list limit, and the same result however TCP cut the bytes.
final class HTTP2RequestLogTests: XCTestCase {
    static let upgradeRequest = HandshakeMessage(method: "GET", target: "/index.html", version: "HTTP/1.1",
                                                 headers: [(name: "Host", value: "example.com"),
                                                           (name: "Upgrade", value: "h2c")])

    /// Client: POST /upload on stream 3 with 10 bytes of DATA in two frames, trailers-free.
    static let clientStream: [UInt8] = clientStart
        + http2Frame(1, flags: 0x04, stream: 3, [0x83, 0x86] + hpackLiteral(":path", "/upload")
                     + hpackLiteral(":authority", "example.com", huffman: true))
        + http2Frame(0, stream: 3, Array("01234".utf8))
        + http2Frame(0, flags: 0x01, stream: 3, Array("56789".utf8))
    /// Server: response to stream 1 (the upgraded request) with 5 bytes, a 100 then 201 on
    /// stream 3 with trailers, and a PUSH_PROMISE of /style.css on stream 2, then reset.
    static let serverStream: [UInt8] = serverStart
        + http2Frame(1, flags: 0x04, stream: 1, [0x88])
        + http2Frame(0, flags: 0x01, stream: 1, Array("hello".utf8))
        + http2Frame(1, flags: 0x04, stream: 3, hpackLiteral(":status", "100"))
        + http2Frame(1, flags: 0x04, stream: 3, hpackLiteral(":status", "201"))
        + http2Frame(0, stream: 3, Array("created".utf8))
        + http2Frame(1, flags: 0x05, stream: 3, hpackLiteral("grpc-status", "0"))
        + http2Frame(5, flags: 0x04, stream: 3, [0, 0, 0, 2, 0x82, 0x86] + hpackLiteral(":path", "/style.css")
                     + hpackLiteral(":authority", "example.com"))
        + http2Frame(3, stream: 2, [0, 0, 0, 8])

    func upgradedSession(options: HTTP2Session.Options = .init()) -> HTTP2Session {
        HTTP2Session(afterUpgrade: true, upgradeRequest: Self.upgradeRequest, options: options)
    }

    func requests(_ session: HTTP2Session) -> [Evidence] {
        guard case .list(let list) = session.summary["requests"] else {
            XCTFail("no requests list")
            return []
        }
        return list.compactMap { value in
            guard case .object(let entry) = value else {
                XCTFail("a request that is not an object")
                return nil
            }
            return entry
        }
    }

    func testUpgradedRequestStreamsAndPush() {
        let session = upgradedSession()
        session.serverData(Array(Self.serverStream.prefix(9)), frame: 1, timestamp: testTimestamp)
        session.clientData(Self.clientStream, frame: 2, timestamp: testTimestamp)
        session.serverData(Array(Self.serverStream.dropFirst(9)), frame: 3, timestamp: testTimestamp)
        session.finish()
        XCTAssertEqual(session.takeViolations(), [])
        let list = requests(session)
        XCTAssertEqual(list.count, 3)
        XCTAssertEqual(list[0], [
            "stream_id": .integer(1), "upgraded": .flag(true), "kind": .text("request"), "method": .text("GET"),
            "scheme": .text("http"), "authority": .text("example.com"), "path": .text("/index.html"),
            "status": .integer(200), "request_bytes": .integer(0), "response_bytes": .integer(5),
            "request_complete": .flag(true), "response_complete": .flag(true),
        ])
        XCTAssertEqual(list[1], [
            "stream_id": .integer(3), "upgraded": .flag(false), "kind": .text("request"), "method": .text("POST"),
            "scheme": .text("http"), "authority": .text("example.com"), "path": .text("/upload"),
            "status": .integer(201), "interim_responses": .integer(1), "request_bytes": .integer(10),
            "response_bytes": .integer(7), "request_complete": .flag(true), "response_complete": .flag(true),
        ])
        XCTAssertEqual(list[2], [
            "stream_id": .integer(2), "upgraded": .flag(false), "kind": .text("push"), "method": .text("GET"),
            "scheme": .text("http"), "authority": .text("example.com"), "path": .text("/style.css"),
            "request_bytes": .integer(0), "response_bytes": .integer(0), "request_complete": .flag(true),
            "response_complete": .flag(false), "reset_by": .text("server"), "reset_error": .text("CANCEL"),
        ])
        XCTAssertNil(session.summary["requests_not_listed"])
    }

    /// Whole, byte by byte and split at every point of each direction: the same list.
    func testSameListHoweverTheBytesAreCut() {
        func run(clientChunks: [Int], serverChunks: [Int]) -> EvidenceValue? {
            let session = upgradedSession()
            feed(Array(Self.serverStream.prefix(9)), chunks: [], into: session, fromClient: false)
            feed(Self.clientStream, chunks: clientChunks, into: session, fromClient: true)
            feed(Array(Self.serverStream.dropFirst(9)), chunks: serverChunks, into: session, fromClient: false)
            session.finish()
            XCTAssertEqual(session.takeViolations(), [])
            return session.summary["requests"]
        }
        let reference = run(clientChunks: [], serverChunks: [])
        XCTAssertEqual(run(clientChunks: [Int](repeating: 1, count: Self.clientStream.count),
                           serverChunks: [Int](repeating: 1, count: Self.serverStream.count)), reference)
        for split in 1..<Self.clientStream.count {
            XCTAssertEqual(run(clientChunks: [split], serverChunks: []), reference, "client split at \(split)")
        }
        for split in 1..<(Self.serverStream.count - 9) {
            XCTAssertEqual(run(clientChunks: [], serverChunks: [split]), reference, "server split at \(split)")
        }
    }

    /// Feeds `bytes` in chunks of the given sizes, then the rest.
    func feed(_ bytes: [UInt8], chunks: [Int], into session: HTTP2Session, fromClient: Bool) {
        var offset = 0
        for size in chunks + [bytes.count] where offset < bytes.count {
            let end = min(bytes.count, offset + size)
            let chunk = Array(bytes[offset..<end])
            if fromClient {
                session.clientData(chunk, frame: 1, timestamp: testTimestamp)
            } else {
                session.serverData(chunk, frame: 1, timestamp: testTimestamp)
            }
            offset = end
        }
    }

    func testUpgradeWithoutKeptRequestHeadStillMarksStreamOne() {
        let session = HTTP2Session(afterUpgrade: true)
        session.finish()
        XCTAssertEqual(requests(session), [[
            "stream_id": .integer(1), "upgraded": .flag(true), "kind": .text("request"), "scheme": .text("http"),
            "request_bytes": .integer(0), "response_bytes": .integer(0), "request_complete": .flag(true),
            "response_complete": .flag(false),
        ]])
    }

    func testPriorKnowledgeListStartsEmptyAndResetByClient() {
        let session = HTTP2Session(afterUpgrade: false)
        XCTAssertEqual(requests(session), [])
        session.clientData(clientStart + http2Frame(1, flags: 0x05, stream: 1, [0x82, 0x86, 0x84])
                           + http2Frame(3, stream: 1, [0, 0, 0, 8]), frame: 1, timestamp: testTimestamp)
        session.serverData(serverStart + http2Frame(3, stream: 1, [0, 0, 0, 5]), frame: 2, timestamp: testTimestamp)
        let list = requests(session)
        XCTAssertEqual(list.count, 1)
        XCTAssertEqual(list[0]["upgraded"], .flag(false))
        XCTAssertEqual(list[0]["path"], .text("/"))
        XCTAssertEqual(list[0]["reset_by"], .text("client"))
        XCTAssertEqual(list[0]["reset_error"], .text("CANCEL"))
    }

    func testListLimitCountsTheRestAndSaysSoOnce() throws {
        var options = HTTP2Session.Options()
        options.maxListedRequests = 2
        let session = upgradedSession(options: options)
        var client = clientStart
        for stream in stride(from: UInt32(3), through: 11, by: 2) {
            client += http2Frame(1, flags: 0x05, stream: stream, [0x82, 0x86, 0x84])
        }
        session.clientData(client, frame: 7, timestamp: testTimestamp)
        session.finish()
        let violations = session.takeViolations()
        XCTAssertEqual(violations.map(\.rule.id), ["analyzer_limit_reached"])
        let limit = try XCTUnwrap(violations.first)
        XCTAssertEqual(limit.evidence["limit"], .text("http2_listed_requests"))
        XCTAssertEqual(limit.evidence["max"], .integer(2))
        XCTAssertEqual(limit.evidence["stream_id"], .integer(5))
        XCTAssertEqual(limit.frame, 7)
        XCTAssertEqual(requests(session).map { $0["stream_id"] }, [.integer(1), .integer(3)])
        XCTAssertEqual(session.summary["requests_not_listed"], .integer(4))
        // DATA and resets on unlisted streams change nothing.
        session.serverData(serverStart + http2Frame(0, flags: 0x01, stream: 9, [1, 2, 3]), frame: 8, timestamp: testTimestamp)
        XCTAssertEqual(requests(session)[1]["response_bytes"], .integer(0))
    }

    /// With no room at all, even the upgraded stream 1 is only counted, and the limit is still said.
    func testZeroListedRequestsStillSaysSo() {
        var options = HTTP2Session.Options()
        options.maxListedRequests = 0
        let session = upgradedSession(options: options)
        session.finish()
        XCTAssertEqual(session.takeViolations().map(\.rule.id), ["analyzer_limit_reached"])
        XCTAssertEqual(requests(session), [])
        XCTAssertEqual(session.summary["requests_not_listed"], .integer(1))
    }

    /// A second HEADERS on a known stream (trailers) and HEADERS on an old or even stream id
    /// open nothing.
    func testTrailersAndOldStreamIDsOpenNoRequest() {
        let session = HTTP2Session(afterUpgrade: false)
        session.clientData(clientStart + http2Frame(1, flags: 0x04, stream: 5, [0x83, 0x86, 0x84])
                           + http2Frame(1, flags: 0x05, stream: 5, hpackLiteral("x-checksum", "1"))
                           + http2Frame(1, flags: 0x05, stream: 3, [0x82, 0x86, 0x84])
                           + http2Frame(1, flags: 0x05, stream: 6, [0x82, 0x86, 0x84]),
                           frame: 1, timestamp: testTimestamp)
        let list = requests(session)
        XCTAssertEqual(list.map { $0["stream_id"] }, [.integer(5)])
        XCTAssertEqual(list[0]["method"], .text("POST"))
        XCTAssertEqual(list[0]["request_complete"], .flag(true))
    }

    static let extendedConnect: [UInt8] = [0x02, 0x07] + Array("CONNECT".utf8) + hpackLiteral(":protocol", "websocket")
        + [0x86] + hpackLiteral(":path", "/chat") + hpackLiteral(":authority", "example.com")

    func testExtendedConnectIsNamedAndNeedsTheServerSetting() throws {
        // The setting first: no finding, the request is an extended CONNECT.
        let allowed = HTTP2Session(afterUpgrade: false)
        allowed.serverData(http2Frame(4, settingsPayload([(8, 1)])), frame: 1, timestamp: testTimestamp)
        allowed.clientData(clientStart + http2Frame(1, flags: 0x04, stream: 1, Self.extendedConnect), frame: 2,
                           timestamp: testTimestamp)
        XCTAssertEqual(allowed.takeViolations(), [])
        let entry = try XCTUnwrap(requests(allowed).first)
        XCTAssertEqual(entry["kind"], .text("extended_connect"))
        XCTAssertEqual(entry["protocol"], .text("websocket"))
        XCTAssertEqual(entry["method"], .text("CONNECT"))
        XCTAssertEqual(entry["path"], .text("/chat"))
        XCTAssertEqual(entry["request_complete"], .flag(false))

        // No setting, a setting of 0, or the setting only after the request: the rule.
        let cases: [(server: [UInt8], after: [UInt8], expected: String)] = [
            (serverStart, [], "not sent"),
            (http2Frame(4, settingsPayload([(8, 0)])), [], "ENABLE_CONNECT_PROTOCOL=0"),
            (serverStart, http2Frame(4, settingsPayload([(8, 1)])), "not sent"),
        ]
        for (server, after, expected) in cases {
            let session = HTTP2Session(afterUpgrade: false)
            session.serverData(server, frame: 1, timestamp: testTimestamp)
            session.clientData(clientStart + http2Frame(1, flags: 0x04, stream: 1, Self.extendedConnect), frame: 2,
                               timestamp: testTimestamp)
            session.serverData(after, frame: 3, timestamp: testTimestamp)
            let violations = session.takeViolations()
            XCTAssertEqual(violations.map(\.rule.id), ["http2_extended_connect_without_setting"])
            let violation = try XCTUnwrap(violations.first)
            XCTAssertEqual(violation.evidence, ["stream_id": .integer(1), "protocol": .text("websocket"),
                                                "server_setting": .text(expected)])
            XCTAssertEqual(violation.frame, 2)
            XCTAssertEqual(violation.direction, "client_to_server")
        }
    }

    func testClassicConnectIsNamedConnect() throws {
        let connect = [0x02, 0x07] + Array("CONNECT".utf8) + hpackLiteral(":authority", "example.com:443")
        let session = HTTP2Session(afterUpgrade: false)
        session.clientData(clientStart + http2Frame(1, flags: 0x04, stream: 1, connect), frame: 1, timestamp: testTimestamp)
        XCTAssertEqual(session.takeViolations(), [])
        let entry = try XCTUnwrap(requests(session).first)
        XCTAssertEqual(entry["kind"], .text("connect"))
        XCTAssertNil(entry["path"])
        XCTAssertNil(entry["protocol"])
    }

    func testLongValuesAreCutAtACharacterBoundary() throws {
        var options = HTTP2Session.Options()
        options.maxRequestValueBytes = 8
        let session = HTTP2Session(afterUpgrade: false, options: options)
        session.clientData(clientStart + http2Frame(1, flags: 0x05, stream: 1, [0x82, 0x86]
                                                    + hpackLiteral(":path", "/abcdé€fgh")), frame: 1, timestamp: testTimestamp)
        let entry = try XCTUnwrap(requests(session).first)
        XCTAssertEqual(entry["path"], .text("/abcdé"))   // 7 octets: the next "€" (3 octets) would pass 8
        XCTAssertEqual(entry["values_truncated"], .flag(true))
        XCTAssertEqual(entry["method"], .text("GET"))
    }

    func testEveryFieldKeepsOneJSONType() {
        let session = upgradedSession()
        session.serverData(Array(Self.serverStream.prefix(9)), frame: 1, timestamp: testTimestamp)
        session.clientData(Self.clientStream, frame: 2, timestamp: testTimestamp)
        session.serverData(Array(Self.serverStream.dropFirst(9)), frame: 3, timestamp: testTimestamp)
        var types: [String: String] = [:]
        for entry in requests(session) {
            for (key, value) in entry.entries {
                let type: String
                switch value {
                case .text: type = "text"
                case .integer: type = "integer"
                case .flag: type = "flag"
                default: type = "other"
                }
                XCTAssertNotEqual(type, "other", key)
                XCTAssertEqual(types[key, default: type], type, key)
                types[key] = type
            }
        }
        XCTAssertEqual(types.count, 15)
    }
}
