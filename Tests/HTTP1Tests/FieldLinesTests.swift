@testable import HTTP1
import XCTest

/// Parsed heads answer queries from their wire bytes (`HeaderFieldLines`); these tests check
/// that every query gives what the same query over the materialised fields gives.
final class FieldLinesTests: XCTestCase {
    private static let heads: [String] = [
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n",
        "GET / HTTP/1.1\r\nconnection: UPGRADE\r\nconnection: close\r\nUPGRADE: h2c, websocket/13\r\n\r\n",
        "GET / HTTP/1.1\r\nConnection: \"upgrade, x\", upgradeX\r\nExpect: 100-Continue\r\n\r\n",
        "GET / HTTP/1.1\r\nConnection:   ,  , upgrade ,\r\nX-Empty:\r\nx-empty: \t\r\n\r\n",
        "GET / HTTP/1.1\r\nConnection: caf\u{E9}, upgrade\r\nX-Bin: \u{FF}\r\n\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nconnection: Upgrade\r\nX-Tab: a\tb\r\nKey : v\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: upgrade\n\n",
        "HTTP/1.1 204 No Content\r\n\r\n",
    ]
    private static let names = ["Connection", "connection", "Upgrade", "Expect", "Transfer-Encoding",
                                "Content-Length", "Host", "X-Empty", "X-Bin", "x-tab", "Key", "Missing", ""]
    private static let tokens = ["upgrade", "UPGRADE", "100-continue", "chunked", "websocket", "close", "caf\u{E9}", ""]

    func testQueriesOnWireBytesMatchMaterialisedFields() {
        for text in Self.heads {
            let role: HTTPRole = text.hasPrefix("HTTP/") ? .response : .request
            let outcome = assertParsesIdentically([.text(text)], role: role)
            guard let head = outcome.heads.first else {
                XCTFail("no head: \(text)")
                continue
            }
            guard case .wire = head.fieldStorage else {
                XCTFail("a head without obs-fold keeps its wire bytes: \(text)")
                continue
            }
            var materialised = head
            materialised.fields = head.fields
            XCTAssertEqual(head, materialised)
            for name in Self.names {
                XCTAssertEqual(head.values(name), materialised.values(name), "\(name) in \(text)")
                XCTAssertEqual(head.contains(name), materialised.contains(name), "\(name) in \(text)")
                XCTAssertEqual(head.listMembers(name), materialised.listMembers(name), "\(name) in \(text)")
                for token in Self.tokens {
                    XCTAssertEqual(head.listContains(name, token: token), materialised.listContains(name, token: token),
                                   "\(name) ∋ \(token) in \(text)")
                }
            }
        }
    }

    func testKnownFieldsAreFoundWhateverTheirCase() {
        let text = "GET / HTTP/1.1\r\nCONNECTION: Upgrade\r\nupgrade: x\r\nExPeCt: 100-continue\r\n\r\n"
        let head = assertParsesIdentically([.text(text)], role: .request).heads.first
        XCTAssertEqual(head?.contains("Connection"), true)
        XCTAssertEqual(head?.contains("Upgrade"), true)
        XCTAssertEqual(head?.listContains("expect", token: "100-CONTINUE"), true)
        XCTAssertEqual(head?.contains("Content-Length"), false)
        XCTAssertEqual(head?.values("transfer-encoding"), [])
    }

    func testTokenBitmapMatchesTokenBytes() {
        for byte in 0...255 {
            let bytes = [UInt8(byte)]
            let all = bytes.withUnsafeBytes { allTokenBytes(in: $0, from: 0, to: 1) }
            XCTAssertEqual(all, isTokenByte(UInt8(byte)), "byte \(byte)")
        }
    }

    func testControlScanFindsTheFirstControlByteOrDelete() {
        // Every position and every byte value, with ordinary bytes (some ≥ 0x80) around it.
        for byte in 0...255 {
            let filler: [UInt8] = Array("abc\u{7E}:/ x".utf8) + [0x80, 0xFF, 0x20, 0x41, 0x7E, 0x21, 0x30, 0xC3, 0xA9, 0x5A, 0x61]
            for position in filler.indices {
                var bytes = filler
                bytes[position] = UInt8(byte)
                let expected = bytes.firstIndex { $0 < 0x20 || $0 == 0x7F }
                for start in [0, 1, 5] {
                    let found = bytes.withUnsafeBytes { firstControlIndex(in: $0, from: start, to: bytes.count) }
                    let wanted = expected.flatMap { $0 >= start ? $0 : bytes[start...].firstIndex { $0 < 0x20 || $0 == 0x7F } }
                    XCTAssertEqual(found, wanted, "byte \(byte) at \(position) from \(start)")
                }
            }
        }
    }

    func testHeadWithObsFoldIsMaterialised() {
        let text = "GET / HTTP/1.1\r\nConnection: keep-alive,\r\n upgrade\r\nUpgrade: x\r\n\r\n"
        let head = assertParsesIdentically([.text(text)], role: .request).heads.first
        guard case .materialized = head?.fieldStorage else { return XCTFail("obs-fold joins values") }
        XCTAssertEqual(head?.values("connection"), ["keep-alive, upgrade"])
        XCTAssertEqual(head?.listContains("Connection", token: "upgrade"), true)
    }
}
