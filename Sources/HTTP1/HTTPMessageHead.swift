/// HTTP version from a request or status line.
public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    public var major: UInt8
    public var minor: UInt8
    public init(major: UInt8, minor: UInt8) {
        self.major = major
        self.minor = minor
    }
    public static let http10 = HTTPVersion(major: 1, minor: 0)
    public static let http11 = HTTPVersion(major: 1, minor: 1)
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// One header field as it appeared on the wire (name case preserved, value with
/// surrounding whitespace removed; obs-fold continuation lines joined by a single space).
public struct HTTPField: Hashable, Sendable {
    public var name: String
    public var value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A parsed request or response head (start line and header fields).
///
/// Only heads are materialised; bodies are skipped by length and never copied. Heads made by
/// the parser keep their field lines as the wire bytes (`HeaderFieldLines`) and build `HTTPField`
/// strings only when `fields` is read: most messages are only asked about a few framing and
/// upgrade fields, which the queries below answer from the bytes without allocating.
public struct HTTPMessageHead: Sendable, Equatable {
    public enum Kind: Sendable { case request, response }
    public var kind: Kind
    /// Request method as sent (case-sensitive, RFC 9110 §9.1); empty for responses.
    public var method: String
    /// Request target as sent; empty for responses.
    public var target: String
    public var version: HTTPVersion
    /// Status code; 0 for requests.
    public var status: Int
    /// Reason phrase, possibly empty; empty for requests.
    public var reason: String
    /// Size of the head on the wire, start line through the blank line.
    public var byteCount: Int
    /// Leniencies the parser applied to accept this head (each one named).
    public var anomalies: [HTTPAnomaly]

    enum FieldStorage: Sendable {
        /// Built by hand, or by the parser for a head with obs-fold (values joined, so no longer
        /// a byte range of the wire).
        case materialized([HTTPField])
        /// Validated field lines as received.
        case wire(HeaderFieldLines)
    }
    var fieldStorage: FieldStorage

    /// The header fields in order, names as sent. Built on each read for a parsed head: prefer
    /// `values`, `contains`, `listMembers` and `listContains`, which do not build all of them.
    public var fields: [HTTPField] {
        get {
            switch fieldStorage {
            case .materialized(let fields): return fields
            case .wire(let lines): return lines.materialize()
            }
        }
        set { fieldStorage = .materialized(newValue) }
    }

    public init(kind: Kind, method: String = "", target: String = "", version: HTTPVersion,
                status: Int = 0, reason: String = "", fields: [HTTPField], byteCount: Int,
                anomalies: [HTTPAnomaly] = []) {
        self.init(kind: kind, method: method, target: target, version: version, status: status, reason: reason,
                  fieldStorage: .materialized(fields), byteCount: byteCount, anomalies: anomalies)
    }

    init(kind: Kind, method: String = "", target: String = "", version: HTTPVersion,
         status: Int = 0, reason: String = "", fieldStorage: FieldStorage, byteCount: Int,
         anomalies: [HTTPAnomaly] = []) {
        self.kind = kind
        self.method = method
        self.target = target
        self.version = version
        self.status = status
        self.reason = reason
        self.fieldStorage = fieldStorage
        self.byteCount = byteCount
        self.anomalies = anomalies
    }

    public static func == (lhs: HTTPMessageHead, rhs: HTTPMessageHead) -> Bool {
        lhs.kind == rhs.kind && lhs.method == rhs.method && lhs.target == rhs.target && lhs.version == rhs.version
            && lhs.status == rhs.status && lhs.reason == rhs.reason && lhs.byteCount == rhs.byteCount
            && lhs.anomalies == rhs.anomalies && lhs.fields == rhs.fields
    }

    /// Every value of the named field, in order (names compare case-insensitively, RFC 9110 §5.1).
    public func values(_ name: String) -> [String] {
        switch fieldStorage {
        case .materialized(let fields):
            let length = name.utf8.count
            return fields.compactMap { field in
                // Lengths first: most names differ in length, and the count of a native string is O(1).
                guard field.name.utf8.count == length else { return nil }
                return field.name.utf8.elementsEqual(name.utf8, by: { asciiLower($0) == asciiLower($1) }) ? field.value : nil
            }
        case .wire(let lines):
            return lines.values(name)
        }
    }

    /// Whether a field of that name exists (case-insensitive), without collecting values.
    public func contains(_ name: String) -> Bool {
        switch fieldStorage {
        case .materialized(let fields):
            let length = name.utf8.count
            return fields.contains { field in
                field.name.utf8.count == length
                    && field.name.utf8.elementsEqual(name.utf8, by: { asciiLower($0) == asciiLower($1) })
            }
        case .wire(let lines):
            return lines.contains(name)
        }
    }

    /// The field's comma-separated list members over all its lines (RFC 9110 §5.6.1),
    /// commas inside quoted strings respected, empty members dropped, whitespace trimmed.
    public func listMembers(_ name: String) -> [String] {
        switch fieldStorage {
        case .materialized:
            return values(name).flatMap(HTTPMessageHead.splitList)
        case .wire(let lines):
            return lines.listMembers(name)
        }
    }

    /// Whether the field's list contains `token`, case-insensitively (e.g. Connection: upgrade).
    public func listContains(_ name: String, token: String) -> Bool {
        if case .wire(let lines) = fieldStorage, let answer = lines.listContains(name, asciiToken: token) {
            return answer
        }
        let wanted = token.lowercased()
        return listMembers(name).contains { $0.lowercased() == wanted }
    }

    public static func splitList(_ value: String) -> [String] {
        var value = value
        return value.withUTF8 { utf8 in
            let raw = UnsafeRawBufferPointer(utf8)
            var members: [String] = []
            HeaderFieldLines.forEachMember(raw, in: 0..<raw.count) { members.append(text(raw, $0)) }
            return members
        }
    }
}

@inline(__always)
func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
}

/// A leniency the parser applied, or a framing ambiguity it resolved. Each is named so
/// that the analysis can report it (llhttp's rule: strict by default, every leniency named).
public struct HTTPAnomaly: Hashable, Sendable {
    public enum Kind: String, Sendable {
        /// A header line continued with leading whitespace (RFC 9112 §5.2).
        case obsFold = "obs_fold"
        /// Whitespace between a field name and the colon (RFC 9112 §5.1: must be rejected).
        case whitespaceBeforeColon = "whitespace_before_colon"
        /// Several Content-Length values that agree (tolerated, RFC 9110 §8.6).
        case duplicateContentLength = "duplicate_content_length"
        /// Content-Length values that disagree (RFC 9112 §6.3 item 5: unrecoverable).
        case conflictingContentLength = "conflicting_content_length"
        /// Both Transfer-Encoding and Content-Length (RFC 9112 §6.1: smuggling risk).
        case contentLengthWithTransferEncoding = "content_length_with_transfer_encoding"
        /// Transfer-Encoding whose final coding is not chunked, in a request (RFC 9112 §6.3 item 4).
        case transferEncodingNotChunked = "transfer_encoding_not_chunked"
        /// A bare LF used as a line terminator (RFC 9112 §2.2).
        case bareLF = "bare_lf"
        /// A field-value with a control character other than HTAB.
        case invalidFieldValue = "invalid_field_value"
        // Leniencies of responses, each applied because a real client applies it
        // (Captures/client_acceptance.py; docs/RULES.md, *What real clients accept*).
        /// "http/1.1": the protocol name not in upper case (RFC 9112 §2.3: case-sensitive).
        case versionLowercase = "version_lowercase"
        /// "HTTP/1": no minor version (RFC 9112 §2.3: DIGIT "." DIGIT).
        case versionWithoutMinor = "version_without_minor"
        /// "HTTP/2.0" on an HTTP/1.x message (RFC 9113 has no text status line).
        case versionMajorTwo = "version_major_2"
        /// More than one SP between the version and the status code (RFC 9112 §4: one SP).
        case statusLineExtraWhitespace = "status_line_extra_whitespace"
        /// HTAB between the version and the status code (RFC 9112 §4: SP).
        case statusLineTab = "status_line_tab"
        /// A status code with leading zeros ("0101"; RFC 9112 §4: 3DIGIT).
        case statusCodeLeadingZeros = "status_code_leading_zeros"
        /// Bytes glued to the status code ("101x"; RFC 9112 §4: SP after 3DIGIT).
        case statusCodeTrailingBytes = "status_code_trailing_bytes"
        /// A field line without a colon (RFC 9112 §5: field-name ":" OWS field-value OWS);
        /// the line is ignored.
        case headerLineWithoutColon = "header_line_without_colon"
        /// A field name with bytes that are not tchar (RFC 9110 §5.1), such as a space inside.
        case invalidFieldName = "invalid_field_name"
        /// A line starting with whitespace where no field precedes it to continue (RFC 9112
        /// §5.2); the line is ignored.
        case foldWithoutField = "fold_without_field"
    }
    public var kind: Kind
    /// The offending line or values, for evidence.
    public var evidence: String
    public init(_ kind: Kind, evidence: String) {
        self.kind = kind
        self.evidence = evidence
    }
}
