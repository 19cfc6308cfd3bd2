import Findings
import XCTest
@testable import Reporting

func catalogueRuleIDs() -> [String] { Rule.catalogue.map(\.id) }

final class ParsingTests: XCTestCase {
    func testJSONValues() throws {
        let value = try XCTUnwrap(JSONParser.parse(Array(#" {"a": [1, -2.5e3, true, false, null], "b": "x\"\\\/\n\u00e9\ud83d\ude00", "a": {}} "#.utf8)[...]))
        XCTAssertEqual(value["a"], .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null]))
        XCTAssertEqual(value["b"]?.stringValue, "x\"\\/\né😀")
        XCTAssertEqual(value.members?.map(\.key), ["a", "b", "a"], "order and duplicates are kept")
    }

    func testInvalidJSONIsRejected() {
        for text in ["", "{", "{\"a\":}", "[1,]", "01", "1.", "\"\u{1}\"", "{\"a\":1} x", "tru", "\"\\x\"", "-", "[1 2]"] {
            XCTAssertNil(JSONParser.parse(Array(text.utf8)[...]), text.debugDescription)
        }
    }

    func testDeepNestingIsRefusedNotFollowed() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertNil(JSONParser.parse(Array(deep.utf8)[...]))
        let fine = String(repeating: "[", count: 20) + String(repeating: "]", count: 20)
        XCTAssertNotNil(JSONParser.parse(Array(fine.utf8)[...]))
    }

    func testLoneSurrogatesAndInvalidUTF8BecomeReplacementCharacters() throws {
        let value = try XCTUnwrap(JSONParser.parse(Array(#""a\ud800b""#.utf8)[...]))
        XCTAssertEqual(value.stringValue, "a\u{FFFD}b")
        let raw: [UInt8] = [0x22, 0x61, 0xFF, 0x62, 0x22]
        XCTAssertEqual(JSONParser.parse(raw[...])?.stringValue, "a\u{FFFD}b")
    }

    func testJSONLinesSkipBlankAndCountBrokenLines() {
        let text = "{\"type\":\"violation\"}\r\n\n   \nnot json\n[1]\n{\"no_type\":1}\n{\"type\":\"summary\"}"
        let document = parseJSONLinesDocument(Array(text.utf8))
        XCTAssertEqual(document.records.map(\.type), ["violation", "summary"])
        XCTAssertEqual(document.invalidLines, [4, 5, 6])
        XCTAssertEqual(parseJSONLines(Array(text.utf8)).count, 2)
    }

    func testSerialisationIsSafeInsideScriptElements() {
        let value = object([("k</script>", str("</script><!-- \u{2028}\u{2029}&\u{7F}\u{1}"))])
        XCTAssertEqual(value.serialized(), #"{"k\u003c/script\u003e":"\u003c/script\u003e\u003c!-- \u2028\u2029\u0026\u007f\u0001"}"#)
        XCTAssertEqual(JSONParser.parse(Array(value.serialized().utf8)[...]), value)
        XCTAssertEqual(object([("a", .array([int(1)]))]).serialized(indent: 2), "{\n  \"a\": [\n    1\n  ]\n}")
    }

    func testCaptureTimes() throws {
        let time = try XCTUnwrap(CaptureTime(rfc3339: "2026-11-21T17:51:27.554127Z"))
        XCTAssertEqual(time.display, "2026-11-21 17:51:27.554127 UTC")
        XCTAssertEqual(time.rfc3339, "2026-11-21T17:51:27.554127Z")
        XCTAssertEqual(CaptureTime(rfc3339: "1970-01-01T00:00:01Z")?.microseconds, 1_000_000)
        XCTAssertEqual(CaptureTime(rfc3339: "2000-02-29T00:00:00.5Z")?.short, "2000-02-29 00:00:00")
        XCTAssertEqual(CaptureTime(rfc3339: "1969-12-31T23:59:59.000001Z")?.rfc3339, "1969-12-31T23:59:59.000001Z")
        for bad in ["", "2026-11-21 17:51:27Z", "2026-13-01T00:00:00Z", "2026-11-21T17:51:27.Z", "<script>", "2026-11-21T17:51:27+01:00"] {
            XCTAssertNil(CaptureTime(rfc3339: bad), bad)
        }
        XCTAssertEqual(durationText(microseconds: 54_456_069), "54.5 s")
        XCTAssertEqual(durationText(microseconds: 900), "900 µs")
        XCTAssertEqual(durationText(microseconds: 1500), "1 ms")
        XCTAssertEqual(durationText(microseconds: 3 * 3_600_000_000), "3 h")
    }

    func testReferencesBecomeLinksBuiltOnlyFromDigits() {
        XCTAssertEqual(referenceParts("RFC 6455 §4.1, §9.1; RFC 7692 §7.1"), [
            ReferencePart(text: "RFC 6455", url: "https://www.rfc-editor.org/rfc/rfc6455"),
            ReferencePart(text: " ", url: nil),
            ReferencePart(text: "§4.1", url: "https://www.rfc-editor.org/rfc/rfc6455#section-4.1"),
            ReferencePart(text: ", ", url: nil),
            ReferencePart(text: "§9.1", url: "https://www.rfc-editor.org/rfc/rfc6455#section-9.1"),
            ReferencePart(text: "; ", url: nil),
            ReferencePart(text: "RFC 7692", url: "https://www.rfc-editor.org/rfc/rfc7692"),
            ReferencePart(text: " ", url: nil),
            ReferencePart(text: "§7.1", url: "https://www.rfc-editor.org/rfc/rfc7692#section-7.1"),
        ])
        XCTAssertEqual(referenceParts("RFC 9112 §2–§7").compactMap(\.url), [
            "https://www.rfc-editor.org/rfc/rfc9112", "https://www.rfc-editor.org/rfc/rfc9112#section-2",
            "https://www.rfc-editor.org/rfc/rfc9112#section-7",
        ])
        XCTAssertEqual(referenceParts("Docker Engine API, attach: stream format"), [ReferencePart(text: "Docker Engine API, attach: stream format", url: nil)])
        let hostileParts = referenceParts("RFC 1\"><script> §\"onclick §1.2\"x")
        for part in hostileParts {
            if let url = part.url { XCTAssertTrue(url.allSatisfy { $0.isLetter || $0.isNumber || "/:.#-".contains($0) }, url) }
        }
        XCTAssertEqual(hostileParts.map(\.text).joined(), "RFC 1\"><script> §\"onclick §1.2\"x")
    }

    func testEscapes() {
        XCTAssertEqual(Escape.html("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;")
        XCTAssertEqual(Escape.visible("a\r\nb\u{7F}\u{85}c\u{202E}d\u{200B}"), "a\\x0d\\x0ab\\x7f\\x85c\\u{202E}d\\u{200B}")
        XCTAssertEqual(Escape.markdown("[x](javascript:alert(1)) | `a` *b* _c_ <d> & #1 @me $m$"),
                       "\\[x\\]\\(javascript:alert\\(1\\)\\) \\| \\`a\\` \\*b\\* \\_c\\_ &lt;d&gt; &amp; \\#1 \\@me \\$m\\$")
        XCTAssertEqual(Escape.clipped(String(repeating: "a", count: 10), 4), "aaaa… (6 more characters)")
    }

    func testHexDump() {
        let lines = hexDumpLines(Array("GET / HTTP/1.1\r\nHost: x\r\n".utf8))
        XCTAssertEqual(lines, [
            "0000  47 45 54 20 2f 20 48 54  54 50 2f 31 2e 31 0d 0a  |GET / HTTP/1.1..|",
            "0010  48 6f 73 74 3a 20 78 0d  0a                       |Host: x..|",
        ])
        XCTAssertEqual(hexDumpLines([UInt8](repeating: 0, count: 40), limit: 16).last, "… 24 more bytes")
        XCTAssertNil(byteEvidence(object([("hex", str("zz"))])))
        XCTAssertNil(byteEvidence(object([("hex", str("abc"))])))
        XCTAssertEqual(byteEvidence(object([("hex", str("00Ff"))])), [0x00, 0xFF])
    }

    func testSHA256() {
        XCTAssertEqual(SHA256.hash(Array("abc".utf8)).map { String(format: "%02x", $0) }.joined(),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hash(Array(String(repeating: "a", count: 1000).utf8)).count, 32)
        XCTAssertEqual(base64(Array("any carnal pleas".utf8)), "YW55IGNhcm5hbCBwbGVhcw==")
        XCTAssertEqual(SHA256.cspSource(""), "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='")
    }
}

/// The report scans lines for the fields it counts instead of parsing them: the scan must read
/// what the parser reads, and refuse what the parser refuses.
final class ScanTests: XCTestCase {
    func testScannedFieldsEqualParsedFields() throws {
        let lines = realAnalyzeOutput.split(separator: "\n").map { Array($0.utf8) }
            + [Array(json(violation(rule: hostile("zqrule"), capture: hostile("zqcapture"), message: hostile("zqmessage")).value).utf8)]
        for line in lines {
            let scanned = try XCTUnwrap(ScannedRecord(line[...]))
            let value = try XCTUnwrap(JSONParser.parse(line[...]))
            XCTAssertEqual(scanned.type, value["type"]?.stringValue)
            XCTAssertEqual(JSONScan.string(scanned.capture), value["capture"]?.stringValue)
            XCTAssertEqual(JSONScan.string(scanned.rule), value["rule"]?.stringValue)
            XCTAssertEqual(JSONScan.string(scanned.message), value["message"]?.stringValue)
            XCTAssertEqual(JSONScan.integer(scanned.frame), value["frame"]?.integerValue)
            XCTAssertEqual(scanned.client, Peer(value["connection"]?["client"]))
            XCTAssertEqual(scanned.server, Peer(value["connection"]?["server"]))
            XCTAssertEqual(JSONScan.string(scanned.observedProtocol), value["observed"]?["protocol"]?.stringValue)
            XCTAssertEqual(JSONScan.string(scanned.host), value["request"]?["headers"]?["host"]?.stringValue)
            XCTAssertFalse(scanned.escapedKey)
        }
    }

    func testScanRefusesWhatTheParserRefuses() {
        for text in ["", "{", "{\"a\":}", "[1,]", "{\"a\":1} x", "{\"a\":tru}", "{\"a\":\"\u{1}\"}", "{\"a\" 1}", "{\"a\":[1 2]}",
                     "{\"type\":\"violation\",\"x\":{\"y\":[}", "{\"a\":\"unterminated}", "[]", "\"text\"",
                     String(repeating: "{\"a\":", count: 100) + "1" + String(repeating: "}", count: 100)] {
            XCTAssertNil(ScannedRecord(Array(text.utf8)[...]), text.debugDescription)
            XCTAssertNil(JSONParser.parse(Array(text.utf8)[...]).flatMap(ReportRecord.init), text.debugDescription)
        }
        XCTAssertEqual(JSONScan.integer(Array("-42".utf8)[...]), -42)
        XCTAssertNil(JSONScan.integer(Array("99999999999999999999".utf8)[...]))
        XCTAssertNil(JSONScan.integer(Array("1.5".utf8)[...]))
    }

    /// A member name written with an escape is read by the full parser, so it counts the same.
    func testEscapedMemberNamesFallBackToTheParser() {
        let plain = #"{"type":"violation","rule":"websocket_wrong_accept","capture":"a.pcap"}"#
        let escaped = #"{"\u0074ype":"violation","rule":"websocket_wrong_accept","capture":"a.pcap"}"#
        XCTAssertEqual(ScannedRecord(Array(escaped.utf8)[...])?.escapedKey, true)
        let a = AuditReport(jsonLines: Array(plain.utf8)), b = AuditReport(jsonLines: Array(escaped.utf8))
        XCTAssertEqual(a.findingCount, 1)
        XCTAssertEqual(a.json(), b.json())
    }
}
