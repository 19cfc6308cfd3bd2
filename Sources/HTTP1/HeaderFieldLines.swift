/// Field names the parser and the upgrade analysis ask about for every message. The head
/// records which of them occur, so that asking for an absent one costs no scan.
struct KnownFields: OptionSet, Sendable {
    let rawValue: UInt8
    static let contentLength = KnownFields(rawValue: 1 << 0)
    static let transferEncoding = KnownFields(rawValue: 1 << 1)
    static let connection = KnownFields(rawValue: 1 << 2)
    static let upgrade = KnownFields(rawValue: 1 << 3)
    static let expect = KnownFields(rawValue: 1 << 4)
    /// Asked for every request by the proxy correlation (UpgradeTracker.isExchangeCandidate).
    static let secWebSocketKey = KnownFields(rawValue: 1 << 5)
    static let http2Settings = KnownFields(rawValue: 1 << 6)

    /// The known name `name` is (ignoring ASCII case), or `[]` for any other name.
    /// Lengths first: they differ but for two pairs, so at most two comparisons are made.
    @inline(__always)
    static func classify(_ name: UnsafeRawBufferPointer) -> KnownFields {
        switch name.count {
        case 6: return equalsIgnoringCase(name, "expect") ? .expect : []
        case 7: return equalsIgnoringCase(name, "upgrade") ? .upgrade : []
        case 10: return equalsIgnoringCase(name, "connection") ? .connection : []
        case 14:
            if equalsIgnoringCase(name, "content-length") { return .contentLength }
            return equalsIgnoringCase(name, "http2-settings") ? .http2Settings : []
        case 17:
            if equalsIgnoringCase(name, "transfer-encoding") { return .transferEncoding }
            return equalsIgnoringCase(name, "sec-websocket-key") ? .secWebSocketKey : []
        default: return []
        }
    }

    static func classify(_ name: String) -> KnownFields {
        var name = name
        return name.withUTF8 { classify(UnsafeRawBufferPointer($0)) }
    }
}

/// The field lines of a parsed head, kept as the bytes received (RFC 9112 §5).
///
/// The parser validated them (a colon on every line, token names, no obs-fold: a head with
/// obs-fold stores materialised fields instead), so a query only re-finds line ends and colons
/// with the word-at-a-time scan. Strings are built only for what a query returns; the queries
/// give exactly what the same query over materialised `HTTPField`s gives.
struct HeaderFieldLines: Sendable {
    /// The whole head, start line through the blank line (the parser's buffer, shared, not copied).
    let bytes: [UInt8]
    /// Index of the first field line.
    let start: Int
    /// Which `KnownFields` names occur.
    let known: KnownFields

    /// Calls `body` with the name and (trimmed) value range of each field line, in order,
    /// until it returns false.
    @inline(__always)
    static func forEachField(_ raw: UnsafeRawBufferPointer, from start: Int,
                             _ body: (_ name: Range<Int>, _ value: Range<Int>) -> Bool) {
        var lineStart = start
        let count = raw.count
        while lineStart < count {
            guard let lineFeed = firstIndex(of: ASCII.lf, in: raw, from: lineStart, to: count) else { return }
            var contentEnd = lineFeed
            if contentEnd > lineStart && raw[contentEnd - 1] == ASCII.cr { contentEnd -= 1 }
            if contentEnd == lineStart { return }  // the blank line
            if let colon = firstIndex(of: ASCII.colon, in: raw, from: lineStart, to: contentEnd) {
                var nameEnd = colon
                while nameEnd > lineStart && isWhitespace(raw[nameEnd - 1]) { nameEnd -= 1 }
                var valueStart = colon + 1, valueEnd = contentEnd
                while valueStart < valueEnd && isWhitespace(raw[valueStart]) { valueStart += 1 }
                while valueEnd > valueStart && isWhitespace(raw[valueEnd - 1]) { valueEnd -= 1 }
                if !body(lineStart..<nameEnd, valueStart..<valueEnd) { return }
            }
            lineStart = lineFeed + 1
        }
    }

    /// Calls `body` with each list member of `value` (RFC 9110 §5.6.1): commas inside quoted
    /// strings kept, SP/HTAB trimmed, empty members dropped (`HTTPMessageHead.splitList` too).
    @inline(__always)
    static func forEachMember(_ raw: UnsafeRawBufferPointer, in value: Range<Int>, _ body: (Range<Int>) -> Void) {
        var memberStart = value.lowerBound
        var inQuotes = false
        var escaped = false
        var index = value.lowerBound
        func emit(_ end: Int) {
            var start = memberStart, end = end
            while start < end && isWhitespace(raw[start]) { start += 1 }
            while end > start && isWhitespace(raw[end - 1]) { end -= 1 }
            if start < end { body(start..<end) }
        }
        while index < value.upperBound {
            let byte = raw[index]
            if inQuotes {
                if escaped { escaped = false } else if byte == ASCII.backslash { escaped = true } else if byte == ASCII.quote { inQuotes = false }
            } else if byte == ASCII.comma {
                emit(index)
                memberStart = index + 1
            } else if byte == ASCII.quote {
                inQuotes = true
            }
            index += 1
        }
        emit(value.upperBound)
    }

    @inline(__always)
    static func isASCII(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var index = range.lowerBound
        while index < range.upperBound {
            if raw[index] >= 0x80 { return false }
            index += 1
        }
        return true
    }

    @inline(__always)
    static func nameMatches(_ raw: UnsafeRawBufferPointer, _ name: Range<Int>, _ query: UnsafeBufferPointer<UInt8>) -> Bool {
        guard name.count == query.count else { return false }
        var index = 0
        while index < query.count {
            if asciiLower(raw[name.lowerBound + index]) != asciiLower(query[index]) { return false }
            index += 1
        }
        return true
    }

    /// Whether a field named `name` may occur: false only when it is a known name the head lacks.
    @inline(__always)
    private func mayContain(_ name: String) -> Bool {
        let kind = KnownFields.classify(name)
        return kind.isEmpty || known.contains(kind)
    }

    /// Calls `body` with the value range of every field named `query`.
    private func forEachValue(named query: String, _ body: (UnsafeRawBufferPointer, Range<Int>) -> Bool) {
        var query = query
        query.withUTF8 { query in
            bytes.withUnsafeBytes { raw in
                Self.forEachField(raw, from: start) { name, value in
                    Self.nameMatches(raw, name, query) ? body(raw, value) : true
                }
            }
        }
    }

    func materialize() -> [HTTPField] {
        var fields: [HTTPField] = []
        bytes.withUnsafeBytes { raw in
            Self.forEachField(raw, from: start) { name, value in
                fields.append(HTTPField(name: text(raw, name), value: text(raw, value)))
                return true
            }
        }
        return fields
    }

    func values(_ name: String) -> [String] {
        guard mayContain(name) else { return [] }
        var values: [String] = []
        forEachValue(named: name) { raw, value in
            values.append(text(raw, value))
            return true
        }
        return values
    }

    func contains(_ name: String) -> Bool {
        let kind = KnownFields.classify(name)
        if !kind.isEmpty { return known.contains(kind) }
        var found = false
        forEachValue(named: name) { _, _ in
            found = true
            return false
        }
        return found
    }

    func listMembers(_ name: String) -> [String] {
        guard mayContain(name) else { return [] }
        var members: [String] = []
        forEachValue(named: name) { raw, value in
            if Self.isASCII(raw, value) {
                Self.forEachMember(raw, in: value) { members.append(text(raw, $0)) }
            } else {
                // Split the decoded value, as `splitList` always did (bytes that are not UTF-8
                // become U+FFFD first).
                members.append(contentsOf: HTTPMessageHead.splitList(text(raw, value)))
            }
            return true
        }
        return members
    }

    /// `listContains` without building strings, or nil when the token or a value of the field
    /// is not ASCII (Unicode lowercasing could then matter: the caller takes the string path).
    func listContains(_ name: String, asciiToken token: String) -> Bool? {
        var token = token
        return token.withUTF8 { wanted -> Bool? in
            guard Self.isASCII(UnsafeRawBufferPointer(wanted), 0..<wanted.count) else { return nil }
            guard mayContain(name) else { return false }
            var answer: Bool? = false
            forEachValue(named: name) { raw, value in
                guard Self.isASCII(raw, value) else {
                    answer = nil
                    return false
                }
                Self.forEachMember(raw, in: value) { member in
                    if Self.nameMatches(raw, member, wanted) { answer = true }
                }
                return answer == false
            }
            return answer
        }
    }
}

@inline(__always)
func text(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
    String(decoding: UnsafeRawBufferPointer(rebasing: raw[range]), as: UTF8.self)
}
