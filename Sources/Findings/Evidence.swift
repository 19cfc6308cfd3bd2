/// A value proving a finding: header values, counts, or raw bytes from the capture.
public enum EvidenceValue: Sendable, Equatable {
    case text(String)
    case texts([String])
    /// Raw bytes, written as `{"hex": "...", "text": "..."}` (text: printable ASCII, others as '.').
    case bytes([UInt8])
    case integer(Int64)
    case flag(Bool)
    /// Nested evidence, e.g. a protocol's summary inside a switch record's `observed`.
    indirect case object(Evidence)
    /// Values of one kind, e.g. the per-occurrence values of a repeated finding (`each`).
    indirect case list([EvidenceValue])
}

/// Ordered key/value evidence (order is kept so output is deterministic).
public struct Evidence: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    public var entries: [(key: String, value: EvidenceValue)]

    public init(_ entries: [(key: String, value: EvidenceValue)] = []) {
        self.entries = entries
    }

    public init(dictionaryLiteral elements: (String, EvidenceValue)...) {
        entries = elements.map { (key: $0.0, value: $0.1) }
    }

    public mutating func append(_ key: String, _ value: EvidenceValue) {
        entries.append((key: key, value: value))
    }

    public subscript(key: String) -> EvidenceValue? {
        entries.first { $0.key == key }?.value
    }

    public static func == (a: Evidence, b: Evidence) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

extension JSONWriter {
    public mutating func evidenceValue(_ value: EvidenceValue) {
        switch value {
        case .text(let text): string(text)
        case .texts(let texts):
            beginArray()
            for text in texts { string(text) }
            endArray()
        case .bytes(let raw): byteEvidence(raw)
        case .integer(let number): int(number)
        case .flag(let flag): bool(flag)
        case .object(let nested): evidence(nested)
        case .list(let values):
            beginArray()
            for value in values { evidenceValue(value) }
            endArray()
        }
    }

    /// `{"hex": "474554", "text": "GET"}` for up to the given bytes.
    public mutating func byteEvidence(_ raw: [UInt8]) {
        beginObject()
        key("hex")
        string(hexString(raw))
        key("text")
        string(printableText(raw))
        endObject()
    }
}

private let hexDigits: [Character] = Array("0123456789abcdef")

public func hexString(_ raw: [UInt8]) -> String {
    var text = ""
    text.reserveCapacity(raw.count * 2)
    for byte in raw {
        text.append(hexDigits[Int(byte >> 4)])
        text.append(hexDigits[Int(byte & 0xF)])
    }
    return text
}

/// Printable ASCII kept, everything else (controls, bytes >= 0x7f) shown as '.', like a hex dump.
public func printableText(_ raw: [UInt8]) -> String {
    String(decoding: raw.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
}
