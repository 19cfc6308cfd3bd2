import XCTest
import PacketCapture
import PacketDecoding
@testable import Findings

final class JSONWriterTests: XCTestCase {
    private func text(_ build: (inout JSONWriter) -> Void) -> String {
        var json = JSONWriter()
        build(&json)
        return String(decoding: json.bytes, as: UTF8.self)
    }

    func testNestedContainersAndCommas() {
        let out = text { j in
            j.beginObject()
            j.key("a"); j.int(1)
            j.key("b"); j.beginArray(); j.int(2); j.string("x"); j.beginObject(); j.endObject(); j.endArray()
            j.key("c"); j.bool(false)
            j.key("d"); j.null()
            j.endObject()
        }
        XCTAssertEqual(out, #"{"a":1,"b":[2,"x",{}],"c":false,"d":null}"#)
    }

    func testEscapesEveryControlByteAndLineSeparators() {
        let out = text { $0.string("a\"b\\c\n\r\t\u{0}\u{1B}[31m\u{7F}\u{2028}\u{2029}é") }
        XCTAssertEqual(out, #""a\"b\\c\n\r\t\u0000\u001b[31m\u007f\u2028\u2029é""#)
        // The output must parse as JSON and round-trip.
        let decoded = try? JSONSerialization.jsonObject(with: Data(out.utf8), options: [.fragmentsAllowed]) as? String
        XCTAssertEqual(decoded, "a\"b\\c\n\r\t\u{0}\u{1B}[31m\u{7F}\u{2028}\u{2029}é")
    }

    func testInvalidUTF8FromTheWireBecomesReplacementCharacter() {
        let wire: [UInt8] = [0x41, 0xFF, 0xFE, 0x42]
        let out = text { $0.string(String(decoding: wire, as: UTF8.self)) }
        XCTAssertEqual(out, "\"A\u{FFFD}\u{FFFD}B\"")
    }

    func testDoubles() {
        XCTAssertEqual(text { $0.double(1.5) }, "1.5")
        XCTAssertEqual(text { $0.double(2) }, "2")
        XCTAssertEqual(text { $0.double(-0.25) }, "-0.25")
        XCTAssertEqual(text { $0.double(0.0000004) }, "0")
        XCTAssertEqual(text { $0.double(.infinity) }, "null")
    }

    func testByteEvidence() {
        let out = text { $0.byteEvidence([0x47, 0x45, 0x54, 0x00, 0xFF]) }
        XCTAssertEqual(out, #"{"hex":"474554 00ff","text":"GET.."}"#.replacingOccurrences(of: " ", with: ""))
    }

    func testViolationRecordFieldsAndOrder() {
        let client = Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: 50000)
        let server = Endpoint(address: IPAddress(ipv6High: 0, low: 1), port: 80)
        let violation = Violation(
            rule: .http101Unsolicited, message: "m", timestamp: Timestamp(seconds: 1_700_000_000, nanoseconds: 123_456_789),
            frame: 6, direction: "server_to_client",
            connection: ConnectionRef(client: client, server: server, partial: false, flowID: 42),
            evidence: ["upgrade": .texts(["websocket"])])
        var json = JSONWriter()
        json.finding(.violation(violation), capture: "x.pcap")
        XCTAssertEqual(String(decoding: json.bytes, as: UTF8.self),
                       #"{"type":"violation","ts":"2023-11-14T22:13:20.123456Z","capture":"x.pcap","#
                       + #""connection":{"client":{"ip":"127.0.0.1","port":50000},"server":{"ip":"::1","port":80},"partial":false,"#
                       + #""flow_id":42,"community_id":"1:hxYEY+GaH/oojl9L6BPeAsgpipU="},"#
                       + #""rule":"http_101_unsolicited","severity":"high","message":"m","reference":"RFC 9110 §7.8","#
                       + #""frame":6,"direction":"server_to_client","evidence":{"upgrade":["websocket"]}}"#)
    }

    func testTimestampFormatting() {
        XCTAssertEqual(Timestamp(seconds: 0, nanoseconds: 0).rfc3339, "1970-01-01T00:00:00.000000Z")
        XCTAssertEqual(Timestamp(seconds: 951_782_400, nanoseconds: 999_999).rfc3339, "2000-02-29T00:00:00.000999Z")
        XCTAssertEqual(Timestamp(seconds: -1, nanoseconds: 0).rfc3339, "1969-12-31T23:59:59.000000Z")
        XCTAssertEqual(Timestamp(seconds: 4_102_444_800, nanoseconds: 0).rfc3339, "2100-01-01T00:00:00.000000Z")
    }

    func testRuleIdsAreUniqueSnakeCaseWithProtocolPrefix() {
        let ids = Rule.catalogue.map(\.id)
        XCTAssertEqual(Set(ids).count, ids.count, "duplicate rule id")
        for id in ids {
            XCTAssertTrue(id.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, id)
            XCTAssertTrue(["http_", "tcp_", "ip_", "analyzer_", "websocket_", "h2c_", "http2_", "tls_", "docker_", "switch_", "proxy_"]
                .contains { id.hasPrefix($0) }, id)
        }
    }
}
