import Findings
@testable import SwitchedProtocols
import XCTest

final class HTTP2H2CUpgradeCheckTests: XCTestCase {
    func check(_ headers: [(String, String)]) -> H2CUpgradeCheck.Result {
        H2CUpgradeCheck.check(requestHeaders: headers.map { (name: $0.0, value: $0.1) }, frame: 3, timestamp: testTimestamp)
    }

    let base: [(String, String)] = [("Host", "example.com"), ("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c")]

    func testValidRequest() throws {
        // curl's value: MAX_CONCURRENT_STREAMS=100, INITIAL_WINDOW_SIZE=1073741824, ENABLE_PUSH=0.
        let result = check(base + [("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")])
        XCTAssertEqual(result.violations.map(\.rule.id), ["h2c_upgrade_deprecated"])
        XCTAssertEqual(result.violations.first?.rule.severity, .info)
        XCTAssertEqual(result.violations.first?.direction, "client_to_server")
        XCTAssertEqual(result.violations.first?.frame, 3)
        XCTAssertTrue(result.settingsValid)
        XCTAssertEqual(result.settings, [HTTP2Setting(id: 3, value: 100), HTTP2Setting(id: 4, value: 1 << 30),
                                         HTTP2Setting(id: 2, value: 0)])
        XCTAssertEqual(result.evidence["http2_settings"],
                       .texts(["MAX_CONCURRENT_STREAMS=100", "INITIAL_WINDOW_SIZE=1073741824", "ENABLE_PUSH=0"]))
    }

    func testNotAnH2CUpgradeIsNotChecked() {
        XCTAssertEqual(check([("Connection", "Upgrade"), ("Upgrade", "websocket")]).violations, [])
        XCTAssertEqual(check([]).violations, [])
        // Offered among others (and in another case) it is checked.
        XCTAssertEqual(check([("upgrade", "websocket, H2C")]).violations.map(\.rule.id),
                       ["h2c_upgrade_deprecated", "h2c_bad_settings_header", "h2c_missing_connection_token"])
    }

    func testSettingsHeaderValues() {
        let cases: [(value: String, error: H2CUpgradeCheck.SettingsHeaderError?, settings: [String])] = [
            ("AAMAAABkAARAAAAAAAIAAAAA", nil, ["MAX_CONCURRENT_STREAMS=100", "INITIAL_WINDOW_SIZE=1073741824", "ENABLE_PUSH=0"]),
            ("  AAEAABAA  ", nil, ["HEADER_TABLE_SIZE=4096"]),
            ("AAEAABAA==", nil, ["HEADER_TABLE_SIZE=4096"]),                     // padding tolerated
            ("AAP__-_-", nil, ["MAX_CONCURRENT_STREAMS=4294963198"]),             // '-' and '_' are base64url
            ("", .empty, []),
            ("===", .empty, []),
            ("AAP//+/+", .invalidCharacter("/", offset: 3), []),                  // plain base64, not base64url
            ("AAEAAB AA", .invalidCharacter(" ", offset: 6), []),
            ("AAEAABAAA", .invalidLength(9), []),                                 // 4n+1 characters
            ("AAEAAA", .payloadNotMultipleOfSix(4), []),
            ("AAEAAB", .nonCanonicalEnding, []),                                  // leftover bits not zero
            ("AAEAABAAAA", .payloadNotMultipleOfSix(7), []),
            ("AAIAAAAC", .invalidValue("ENABLE_PUSH must be 0 or 1, got 2"), []),
            ("AAUAAAAB", .invalidValue("MAX_FRAME_SIZE outside 16384...16777215: 1"), []),
            ("AASAAAAA", .invalidValue("INITIAL_WINDOW_SIZE above 2^31-1: 2147483648"), []),
        ]
        for entry in cases {
            do throws(H2CUpgradeCheck.SettingsHeaderError) {
                let settings = try H2CUpgradeCheck.decodeSettingsHeader(entry.value)
                XCTAssertNil(entry.error, "'\(entry.value)' should fail")
                XCTAssertEqual(settings.map(\.text), entry.settings, entry.value)
            } catch {
                XCTAssertEqual(error, entry.error, entry.value)
            }
        }
    }

    func testBadSettingsHeaderViolations() throws {
        let invalid = check(base + [("HTTP2-Settings", "AAMAAABk!")])
        XCTAssertEqual(invalid.violations.map(\.rule.id), ["h2c_upgrade_deprecated", "h2c_bad_settings_header"])
        let violation = try XCTUnwrap(invalid.violations.last)
        XCTAssertEqual(violation.rule.reference, "RFC 7540 §3.2.1")
        XCTAssertEqual(violation.evidence["http2_settings"], .text("AAMAAABk!"))
        XCTAssertEqual(violation.evidence["error"], .text("character '!' at offset 8 is not base64url"))
        XCTAssertFalse(invalid.settingsValid)
        XCTAssertEqual(invalid.settings, [])

        let odd = check(base + [("HTTP2-Settings", "AAMAAABkAA")])
        XCTAssertEqual(odd.violations.last?.message,
                       "The HTTP2-Settings header is not a base64url SETTINGS payload: decoded payload of 7 bytes is not a multiple of 6.")

        let missing = check(base)
        XCTAssertEqual(missing.violations.last?.message, "The h2c upgrade request has no HTTP2-Settings header.")
        XCTAssertEqual(missing.evidence["http2_settings_error"], .text("missing"))

        let repeated = check(base + [("HTTP2-Settings", "AAMAAABk"), ("http2-settings", "AAMAAABk")])
        XCTAssertEqual(repeated.violations.map(\.rule.id), ["h2c_upgrade_deprecated", "h2c_bad_settings_header"])
        XCTAssertEqual(repeated.violations.last?.evidence["http2_settings_count"], .integer(2))
        // Repeated fields that an earlier stage joined with a comma.
        let joined = check(base + [("HTTP2-Settings", "AAMAAABk, AAMAAABk")])
        XCTAssertEqual(joined.evidence["http2_settings_error"], .text("repeated"))
    }

    func testConnectionToken() {
        let missing = check([("Connection", "Upgrade"), ("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABk")])
        XCTAssertEqual(missing.violations.map(\.rule.id), ["h2c_upgrade_deprecated", "h2c_missing_connection_token"])
        XCTAssertEqual(missing.violations.last?.evidence["connection"], .texts(["Upgrade"]))
        // Token in a second Connection field, any case.
        let split = check([("Connection", "Upgrade"), ("connection", " http2-settings "), ("Upgrade", "h2c"),
                           ("HTTP2-Settings", "AAMAAABk")])
        XCTAssertEqual(split.violations.map(\.rule.id), ["h2c_upgrade_deprecated"])
    }

    func testCatalogue() {
        XCTAssertEqual(Rule.http2Catalogue.map(\.id), [
            "h2c_bad_settings_header", "h2c_missing_connection_token", "h2c_missing_client_preface",
            "h2c_server_first_frame_not_settings", "h2c_upgrade_deprecated", "http2_status_101",
            "http2_connection_specific_header", "http2_extended_connect_without_setting",
            "switch_protocol_mismatch", "tls_upgrade_not_tls", "docker_bad_stream_header",
        ])
        XCTAssertEqual(Set(Rule.http2Catalogue.map(\.id)).count, Rule.http2Catalogue.count)
        XCTAssertEqual(Rule.switchProtocolMismatch.severity, .high)
        XCTAssertEqual(Rule.h2cUpgradeDeprecated.severity, .info)
        for rule in Rule.http2Catalogue {
            XCTAssertFalse(rule.summary.isEmpty)
            XCTAssertTrue(rule.summary.hasSuffix("."), rule.id)
        }
    }
}
