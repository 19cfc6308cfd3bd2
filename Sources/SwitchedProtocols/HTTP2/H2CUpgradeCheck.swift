import Findings
import PacketCapture

/// Checks an HTTP/1.1 request that asks to upgrade to h2c (RFC 7540 §3.2, §3.2.1): exactly
/// one HTTP2-Settings header holding a base64url SETTINGS payload, named in Connection.
public enum H2CUpgradeCheck {
    public struct Result: Sendable, Equatable {
        public var violations: [Violation]
        /// The client's initial settings from HTTP2-Settings; empty when missing or invalid.
        public var settings: [HTTP2Setting]
        /// The header held a valid SETTINGS payload.
        public var settingsValid: Bool
        /// For the switch record: `http2_settings` (NAME=value list) or `http2_settings_error`.
        public var evidence: Evidence

        public init(violations: [Violation] = [], settings: [HTTP2Setting] = [], settingsValid: Bool = false,
                    evidence: Evidence = Evidence()) {
            self.violations = violations
            self.settings = settings
            self.settingsValid = settingsValid
            self.evidence = evidence
        }
    }

    /// Why an HTTP2-Settings value was rejected.
    public enum SettingsHeaderError: Error, Sendable, Equatable, CustomStringConvertible {
        case empty
        /// A character outside the base64url alphabet (`+` and `/` are plain base64).
        case invalidCharacter(String, offset: Int)
        /// A base64 length that no byte string encodes to (4n + 1 characters).
        case invalidLength(Int)
        /// The last character leaves non-zero bits over: not the canonical encoding of any bytes
        /// (RFC 4648 §3.5), so decoders disagree on it.
        case nonCanonicalEnding
        case payloadNotMultipleOfSix(Int)
        case invalidValue(String)

        public var description: String {
            switch self {
            case .empty: return "empty value"
            case .invalidCharacter(let character, let offset):
                return "character '\(character)' at offset \(offset) is not base64url"
            case .invalidLength(let length): return "\(length) base64url characters cannot encode whole bytes"
            case .nonCanonicalEnding: return "the last base64url character leaves non-zero bits over"
            case .payloadNotMultipleOfSix(let length):
                return "decoded payload of \(length) bytes is not a multiple of 6"
            case .invalidValue(let reason): return "invalid setting: \(reason)"
            }
        }
    }

    /// Checks the request's header fields (names in any case, repeated fields as separate
    /// entries, or joined with commas). Returns nothing for a request that does not offer h2c.
    public static func check(requestHeaders: [(name: String, value: String)], frame: UInt64, timestamp: Timestamp,
                             connection: ConnectionRef? = nil) -> Result {
        func values(_ name: String) -> [String] {
            requestHeaders.filter { $0.name.lowercased() == name }.map(\.value)
        }
        func tokens(_ name: String) -> [String] {
            values(name).flatMap { $0.split(separator: ",") }.map { trimmed(String($0)).lowercased() }
        }
        guard tokens("upgrade").contains("h2c") else { return Result() }

        var result = Result()
        func report(_ rule: Rule, _ message: String, _ evidence: Evidence) {
            result.violations.append(Violation(rule: rule, message: message, timestamp: timestamp, frame: frame,
                                               direction: HTTP2Session.clientDirection, connection: connection,
                                               evidence: evidence))
        }

        report(.h2cUpgradeDeprecated, "The request asks to upgrade to h2c, a mechanism RFC 9113 removed.",
               ["upgrade": .texts(values("upgrade"))])

        let settingsValues = values("http2-settings")
        if settingsValues.isEmpty {
            result.evidence.append("http2_settings_error", .text("missing"))
            report(.h2cBadSettingsHeader, "The h2c upgrade request has no HTTP2-Settings header.",
                   ["http2_settings_count": .integer(0)])
        } else if settingsValues.count > 1 || settingsValues[0].contains(",") {
            result.evidence.append("http2_settings_error", .text("repeated"))
            report(.h2cBadSettingsHeader, "The h2c upgrade request carries HTTP2-Settings more than once.",
                   ["http2_settings": .texts(settingsValues), "http2_settings_count": .integer(Int64(settingsValues.count))])
        } else {
            do throws(SettingsHeaderError) {
                let settings = try decodeSettingsHeader(settingsValues[0])
                result.settings = settings
                result.settingsValid = true
                result.evidence.append("http2_settings", .texts(settings.map(\.text)))
            } catch {
                result.evidence.append("http2_settings_error", .text(error.description))
                report(.h2cBadSettingsHeader,
                       "The HTTP2-Settings header is not a base64url SETTINGS payload: \(error.description).",
                       ["http2_settings": .text(settingsValues[0]), "error": .text(error.description)])
            }
        }

        if !tokens("connection").contains("http2-settings") {
            report(.h2cMissingConnectionToken, "The h2c upgrade request's Connection header does not name HTTP2-Settings.",
                   ["connection": .texts(values("connection"))])
        }
        return result
    }

    /// Decodes an HTTP2-Settings value: base64url without padding (RFC 7540 §3.2.1, RFC 4648
    /// §5; trailing `=` tolerated) of a SETTINGS payload with allowed values.
    public static func decodeSettingsHeader(_ value: String) throws(SettingsHeaderError) -> [HTTP2Setting] {
        let text = trimmed(value)
        guard !text.isEmpty else { throw .empty }
        let payload = try decodeBase64URL(Array(text.utf8))
        guard payload.count % 6 == 0, let settings = HTTP2Setting.parsePayload(payload) else {
            throw .payloadNotMultipleOfSix(payload.count)
        }
        if let invalid = settings.lazy.compactMap(\.invalidReason).first { throw .invalidValue(invalid) }
        return settings
    }

    /// base64url (RFC 4648 §5) through the shared `Base64` decoder; when it refuses, says why
    /// (the first character outside the alphabet, or a length no byte string encodes to).
    private static func decodeBase64URL(_ characters: [UInt8]) throws(SettingsHeaderError) -> [UInt8] {
        var end = characters.count
        while end > 0 && characters[end - 1] == UInt8(ascii: "=") { end -= 1 }
        guard end > 0 else { throw .empty }
        if let bytes = Base64.decode(Array(characters[..<end]), alphabet: .url, padding: .forbidden) { return bytes }
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        if let offset = characters[..<end].firstIndex(where: { !alphabet.contains($0) }) {
            throw .invalidCharacter(String(decoding: [characters[offset]], as: UTF8.self), offset: offset)
        }
        throw end % 4 == 1 ? .invalidLength(end) : .nonCanonicalEnding
    }

    private static func trimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { $0 != " " && $0 != "\t" }),
              let last = scalars.lastIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        return String(scalars[first...last])
    }
}
