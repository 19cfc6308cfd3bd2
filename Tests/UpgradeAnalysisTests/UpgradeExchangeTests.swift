import XCTest
import Findings
import PacketCapture
import PacketDecoding
import StreamReassembly
@testable import UpgradeAnalysis

/// What the tracker hands the exchange observer (the proxy correlation), from bytes: fed whole
/// and byte by byte, the exchanges must be the same.
final class UpgradeExchangeTests: XCTestCase {
    private final class Recorder: UpgradeExchangeObserver {
        var exchanges: [UpgradeExchange] = []
        func exchange(_ exchange: UpgradeExchange) { exchanges.append(exchange) }
    }

    private func run(_ steps: [(Direction, String)], chunk: Int? = nil) -> [UpgradeExchange] {
        let recorder = Recorder()
        let connection = ConnectionRef(client: Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: 40000),
                                       server: Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: 8080), partial: false)
        let tracker = UpgradeTracker(connection: connection, exchangeObserver: recorder)
        for (index, (direction, text)) in steps.enumerated() {
            let bytes = Array(text.utf8), size = chunk ?? bytes.count
            var start = 0
            while start < bytes.count {
                Array(bytes[start..<min(bytes.count, start + size)]).withUnsafeBytes {
                    tracker.data(direction, $0, frame: UInt64(index + 1), timestamp: Timestamp(seconds: 1_700_000_000 + Int64(index), nanoseconds: 0))
                }
                start += size
            }
        }
        tracker.close(lastTimestamp: Timestamp(seconds: 1_800_000_000, nanoseconds: 0))
        return recorder.exchanges
    }

    private let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

    func testDeclinedUpgradeCarriesTheNextRequest() {
        let steps: [(Direction, String)] = [
            (.clientToServer, "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(key)\r\n"),
            (.serverToClient, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
            (.clientToServer, "GET /internal HTTP/1.1\r\nHost: a\r\n\r\n"),
            (.serverToClient, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ]
        for chunk in [nil, 1] {
            let exchanges = run(steps, chunk: chunk)
            XCTAssertEqual(exchanges.count, 1, "the plain request is no exchange of its own")
            XCTAssertEqual(exchanges.first?.outcome, .declined(403))
            XCTAssertEqual(exchanges.first?.request.value("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==")
            guard case .request(let next)? = exchanges.first?.followUp else { return XCTFail("no follow-up") }
            XCTAssertEqual(next.startLine, "GET /internal HTTP/1.1")
            XCTAssertEqual(next.frame, 3)
        }
    }

    /// A proxy that stripped Upgrade: the key alone makes the request an exchange; and a
    /// request never answered leaves as `noAnswer` at the close.
    func testKeyWithoutUpgradeAndUnansweredRequests() {
        let steps: [(Direction, String)] = [
            (.clientToServer, "GET /echo HTTP/1.1\r\nHost: a\r\n\(key)Sec-WebSocket-Version: 13\r\n\r\n"),
            (.serverToClient, "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n"),
            (.clientToServer, "GET /h2 HTTP/1.1\r\nHost: a\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n"),
        ]
        for chunk in [nil, 1] {
            let exchanges = run(steps, chunk: chunk)
            XCTAssertEqual(exchanges.map(\.outcome), [.declined(426), .noAnswer])
            XCTAssertEqual(exchanges.last?.request.target, "/h2")
        }
    }

    /// After a switch the exchange leaves at the close with the first bytes of each side.
    func testSwitchCarriesTheFirstBytes() {
        let steps: [(Direction, String)] = [
            (.clientToServer, "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(key)Sec-WebSocket-Version: 13\r\n\r\n"),
            (.serverToClient, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\u{81}\u{02}hi"),
        ]
        for chunk in [nil, 1] {
            let exchanges = run(steps, chunk: chunk)
            XCTAssertEqual(exchanges.map(\.outcome), [.switched("websocket")])
            XCTAssertEqual(exchanges.first?.firstServerBytes, Array("\u{81}\u{02}hi".utf8))
            XCTAssertEqual(exchanges.first?.response?.status, 101)
        }
    }

    /// Non-HTTP bytes after a declined upgrade are its follow-up.
    func testBytesAfterADeclineAreTheFollowUp() {
        let steps: [(Direction, String)] = [
            (.clientToServer, "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(key)\r\n"),
            (.serverToClient, "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nContent-Length: 0\r\n\r\n"),
            (.clientToServer, "\u{1}\u{2}not http at all\r\n\r\n"),
        ]
        for chunk in [nil, 1] {
            let exchanges = run(steps, chunk: chunk)
            XCTAssertEqual(exchanges.map(\.outcome), [.declined(426)])
            guard case .bytes(let bytes, let frame, _)? = exchanges.first?.followUp else { return XCTFail("no follow-up bytes") }
            XCTAssertEqual(bytes.first, 1, "the bytes the parser rejected")
            XCTAssertEqual(frame, 3)
        }
    }

    /// Requests that neither ask for an upgrade nor carry its headers are not handed over.
    func testPlainRequestsAreNotExchanges() {
        XCTAssertEqual(run([(.clientToServer, "GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
                            (.serverToClient, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")]).count, 0)
    }
}
