import Findings
import Foundation
@testable import SwitchedProtocols
import XCTest

final class TLSRecordCheckTests: XCTestCase {
    func testVerdicts() throws {
        let hello = try SniffTests.fixture("Sniff-tls-client.bin")
        XCTAssertEqual(TLSRecordCheck.evaluate(hello), .clientHello(recordVersion: 0x0303))
        XCTAssertEqual(TLSRecordCheck.evaluate([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), .clientHello(recordVersion: 0x0301))
        XCTAssertEqual(TLSRecordCheck.evaluate([0x80, 0x2E, 0x01, 0x03, 0x01]), .sslv2ClientHello)
        let cases: [([UInt8], TLSRecordCheck.Verdict)] = [
            ([], .needMoreBytes),
            ([0x16], .needMoreBytes),
            ([0x16, 0x03, 0x01, 0x00], .needMoreBytes),
            ([0x16, 0x02], .notTLS(reason: "record version major 2 is not 3")),
            ([0x16, 0x03, 0x05], .notTLS(reason: "record version 3.5 is unknown")),
            ([0x16, 0x03, 0x01, 0x00, 0x00, 0x01], .notTLS(reason: "handshake record length 0 outside 1...16384")),
            ([0x16, 0x03, 0x01, 0x40, 0x01, 0x01], .notTLS(reason: "handshake record length 16385 outside 1...16384")),
            ([0x16, 0x03, 0x03, 0x00, 0x10, 0x02], .notTLS(reason: "handshake message type 2 is not ClientHello (1)")),
            ([0x17, 0x03, 0x03, 0x00, 0x10], .notTLS(reason: "a TLS record of content type 23, not a handshake")),
            (Array("GET / HTTP/1.1\r\n".utf8), .notTLS(reason: "first byte 0x47 is not a TLS handshake record (looks like http1)")),
            (Array("this is not".utf8), .notTLS(reason: "first byte 0x74 is not a TLS handshake record (unrecognised bytes)")),
        ]
        for (bytes, verdict) in cases {
            XCTAssertEqual(TLSRecordCheck.evaluate(bytes), verdict, hexString(bytes))
        }
    }

    func testCorpusCapture() throws {
        let bytes = try SniffTests.fixture("TLS-upgrade-not-tls-client.bin")
        let violation = try XCTUnwrap(TLSRecordCheck.check(clientBytes: bytes, frame: 6, timestamp: testTimestamp))
        XCTAssertEqual(violation.rule.id, "tls_upgrade_not_tls")
        XCTAssertEqual(violation.rule.severity, .high)
        XCTAssertEqual(violation.direction, "client_to_server")
        XCTAssertEqual(violation.evidence["first_bytes"], .bytes(Array("this is not a TLS ClientHello\r\n".utf8)))
        XCTAssertEqual(violation.message,
                       "After the upgrade to TLS the client's next bytes are not a TLS handshake: first byte 0x74 is not a TLS handshake record (unrecognised bytes).")
        XCTAssertNil(TLSRecordCheck.check(clientBytes: try SniffTests.fixture("Sniff-tls-client.bin"), frame: 6,
                                          timestamp: testTimestamp))
        XCTAssertNil(TLSRecordCheck.check(clientBytes: [0x16, 0x03], frame: 6, timestamp: testTimestamp))
    }
}
