#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the members of a JSON object without building a tree: the report needs a dozen fields
/// of each of millions of records, and building every record's `JSONValue` (then dropping it)
/// was most of a report's time. Values are checked structurally while they are skipped
/// (strings closed and free of raw control characters, brackets balanced, literals spelled
/// out, numbers made of number characters); a value the report keeps is parsed in full later by
/// `JSONParser`, so nothing shown comes from unchecked text.
enum JSONScan {
    typealias Bytes = ArraySlice<UInt8>

    /// Calls `visit` with each member's key (the bytes between its quotes) and its value's bytes,
    /// in order. False when `text` is not one well-formed object (blanks around it allowed).
    @discardableResult
    static func members(_ text: Bytes, _ visit: (Bytes, Bytes) -> Void) -> Bool {
        text.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return false }
            let bytes = Cursor(base: base, count: buffer.count)
            let offset = text.startIndex
            let start = bytes.skipBlanks(0)
            guard start < bytes.count, base[start] == UInt8(ascii: "{") else { return false }
            guard let end = bytes.object(start, depth: 0, visit: { key, value in
                visit(text[(offset + key.lowerBound)..<(offset + key.upperBound)], text[(offset + value.lowerBound)..<(offset + value.upperBound)])
            }) else { return false }
            return bytes.skipBlanks(end) == bytes.count
        }
    }

    /// Calls `visit` with each element of an array. False when `text` is not an array.
    @discardableResult
    static func elements(_ text: Bytes, _ visit: (Bytes) -> Void) -> Bool {
        text.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return false }
            let bytes = Cursor(base: base, count: buffer.count)
            let offset = text.startIndex
            var index = bytes.skipBlanks(0)
            guard index < bytes.count, base[index] == UInt8(ascii: "[") else { return false }
            index = bytes.skipBlanks(index + 1)
            if index < bytes.count, base[index] == UInt8(ascii: "]") { return bytes.skipBlanks(index + 1) == bytes.count }
            while index < bytes.count {
                guard let end = bytes.value(index, depth: 1) else { return false }
                visit(text[(offset + index)..<(offset + end)])
                index = bytes.skipBlanks(end)
                guard index < bytes.count else { return false }
                if base[index] == UInt8(ascii: "]") { return bytes.skipBlanks(index + 1) == bytes.count }
                guard base[index] == UInt8(ascii: ",") else { return false }
                index = bytes.skipBlanks(index + 1)
            }
            return false
        }
    }

    /// Calls `visit` with the members of each object element of an array, in one pass (the element's
    /// number, then key and value as `members` gives them). False when `text` is not an array.
    @discardableResult
    static func objectElements(_ text: Bytes, _ visit: (Int, Bytes, Bytes) -> Void) -> Bool {
        text.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return false }
            let bytes = Cursor(base: base, count: buffer.count)
            let offset = text.startIndex
            var index = bytes.skipBlanks(0)
            guard index < bytes.count, base[index] == UInt8(ascii: "[") else { return false }
            index = bytes.skipBlanks(index + 1)
            if index < bytes.count, base[index] == UInt8(ascii: "]") { return bytes.skipBlanks(index + 1) == bytes.count }
            var element = 0
            while index < bytes.count {
                let end: Int?
                if base[index] == UInt8(ascii: "{") {
                    let number = element
                    end = bytes.object(index, depth: 1) { key, value in
                        visit(number, text[(offset + key.lowerBound)..<(offset + key.upperBound)], text[(offset + value.lowerBound)..<(offset + value.upperBound)])
                    }
                } else {
                    end = bytes.value(index, depth: 1)
                }
                guard let end else { return false }
                element += 1
                index = bytes.skipBlanks(end)
                guard index < bytes.count else { return false }
                if base[index] == UInt8(ascii: "]") { return bytes.skipBlanks(index + 1) == bytes.count }
                guard base[index] == UInt8(ascii: ",") else { return false }
                index = bytes.skipBlanks(index + 1)
            }
            return false
        }
    }

    /// The value ranges of the fields the report counts, found in one pass over a record.
    struct RecordRanges {
        var type, ts, capture, rule, severity, message, frame, protocolName: Range<Int>?
        var clientIP, clientPort, serverIP, serverPort: Range<Int>?
        /// `observed.protocol` and `request.headers.host` (header name in any case).
        var observedProtocol, host: Range<Int>?
        var escapedKey = false
    }

    /// Scans a record once: top-level fields by name, and `connection`, `observed` and
    /// `request` read while they are checked, not scanned again. Nil when `text` is not one
    /// well-formed object. Ranges are offsets into `text` from its start.
    static func record(_ text: Bytes) -> RecordRanges? {
        text.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return nil }
            let bytes = Cursor(base: base, count: buffer.count)
            var ranges = RecordRanges()
            let start = bytes.skipBlanks(0)
            guard start < bytes.count, base[start] == UInt8(ascii: "{"),
                  let end = bytes.record(start, into: &ranges), bytes.skipBlanks(end) == bytes.count else { return nil }
            return ranges
        }
    }

    /// The member `key` of an object value, if any (the first one, as `JSONValue` subscripts do).
    static func member(_ text: Bytes, _ key: StaticString) -> Bytes? {
        var found: Bytes?
        let wanted = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        members(text) { name, value in
            if found == nil && name.elementsEqual(wanted) { found = value }
        }
        return found
    }

    /// A string value; nil for anything else. Escapes are decoded (by `JSONParser`).
    static func string(_ value: Bytes?) -> String? {
        guard let value, value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") else { return nil }
        let inner = value.dropFirst().dropLast()
        if !inner.contains(UInt8(ascii: "\\")) { return String(decoding: inner, as: UTF8.self) }
        return JSONParser.parse(value)?.stringValue
    }

    /// An integral number that fits in Int64 (as `JSONValue.integerValue`); nil for anything else.
    static func integer(_ value: Bytes?) -> Int64? {
        guard let value, !value.isEmpty, value.count <= 20 else { return nil }
        var result: Int64 = 0
        var negative = false
        var index = value.startIndex
        if value[index] == UInt8(ascii: "-") { negative = true; index += 1 }
        guard index < value.endIndex else { return nil }
        while index < value.endIndex {
            let byte = value[index]
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            let (times, overflowA) = result.multipliedReportingOverflow(by: 10)
            let (sum, overflowB) = times.addingReportingOverflow(Int64(byte - 0x30) * (negative ? -1 : 1))
            guard !overflowA && !overflowB else { return nil }
            result = sum
            index += 1
        }
        return result
    }

    static func bool(_ value: Bytes?) -> Bool? {
        guard let value else { return nil }
        if value.elementsEqual("true".utf8) { return true }
        if value.elementsEqual("false".utf8) { return false }
        return nil
    }

    private static let maximumDepth = 64

    /// The scanning itself, over raw memory: this runs over every byte of the input.
    private struct Cursor {
        let base: UnsafePointer<UInt8>
        let count: Int

        func skipBlanks(_ start: Int) -> Int {
            var index = start
            while index < count {
                switch base[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return index
                }
            }
            return index
        }

        /// The end of the value starting at `start`, or nil when it is malformed.
        func value(_ start: Int, depth: Int) -> Int? {
            guard start < count, depth < maximumDepth else { return nil }
            switch base[start] {
            case UInt8(ascii: "\""): return string(start)
            case UInt8(ascii: "{"): return object(start, depth: depth + 1) { _, _ in }
            case UInt8(ascii: "["): return array(start, depth: depth + 1)
            case UInt8(ascii: "t"): return literal(start, "true")
            case UInt8(ascii: "f"): return literal(start, "false")
            case UInt8(ascii: "n"): return literal(start, "null")
            default:
                var index = start
                while index < count {
                    switch base[index] {
                    case 0x30...0x39, UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): index += 1
                    default: return index > start ? index : nil
                    }
                }
                return index > start ? index : nil
            }
        }

        func literal(_ start: Int, _ word: StaticString) -> Int? {
            let length = word.utf8CodeUnitCount
            guard count - start >= length, memcmp(base + start, word.utf8Start, length) == 0 else { return nil }
            return start + length
        }

        /// The end of the string starting at `start` (just past its closing quote).
        func string(_ start: Int) -> Int? {
            var index = start + 1
            while index < count {
                let byte = base[index]
                if byte == UInt8(ascii: "\"") { return index + 1 }
                if byte == UInt8(ascii: "\\") { index += 2; continue }
                if byte < 0x20 { return nil }
                index += 1
            }
            return nil
        }

        func array(_ start: Int, depth: Int) -> Int? {
            var index = skipBlanks(start + 1)
            if index < count, base[index] == UInt8(ascii: "]") { return index + 1 }
            while index < count {
                guard let end = value(index, depth: depth) else { return nil }
                index = skipBlanks(end)
                guard index < count else { return nil }
                if base[index] == UInt8(ascii: "]") { return index + 1 }
                guard base[index] == UInt8(ascii: ",") else { return nil }
                index = skipBlanks(index + 1)
            }
            return nil
        }

        /// Calls `body` with each member's key and the start of its value; `body` returns the
        /// value's end (having skipped or read it).
        @inline(__always)
        func eachMember(_ start: Int, _ body: (Range<Int>, Int) -> Int?) -> Int? {
            var index = skipBlanks(start + 1)
            if index < count, base[index] == UInt8(ascii: "}") { return index + 1 }
            while index < count {
                let keyStart = index
                guard base[index] == UInt8(ascii: "\""), let keyEnd = string(index) else { return nil }
                index = skipBlanks(keyEnd)
                guard index < count, base[index] == UInt8(ascii: ":") else { return nil }
                index = skipBlanks(index + 1)
                guard let valueEnd = body((keyStart + 1)..<(keyEnd - 1), index) else { return nil }
                index = skipBlanks(valueEnd)
                guard index < count else { return nil }
                if base[index] == UInt8(ascii: "}") { return index + 1 }
                guard base[index] == UInt8(ascii: ",") else { return nil }
                index = skipBlanks(index + 1)
            }
            return nil
        }

        @inline(__always)
        func isKey(_ key: Range<Int>, _ name: StaticString) -> Bool {
            key.count == name.utf8CodeUnitCount && memcmp(base + key.lowerBound, name.utf8Start, key.count) == 0
        }

        /// Skips the value at `start`, or reads it with `read` when it is an object.
        @inline(__always)
        func objectValue(_ start: Int, depth: Int, _ read: (Int) -> Int?) -> Int? {
            start < count && base[start] == UInt8(ascii: "{") && depth < maximumDepth ? read(start) : value(start, depth: depth)
        }

        func record(_ start: Int, into ranges: inout RecordRanges) -> Int? {
            eachMember(start) { key, valueStart in
                if memchr(base + key.lowerBound, Int32(UInt8(ascii: "\\")), key.count) != nil { ranges.escapedKey = true }
                func take(_ slot: inout Range<Int>?) -> Int? {
                    guard let end = value(valueStart, depth: 1) else { return nil }
                    if slot == nil { slot = valueStart..<end }
                    return end
                }
                switch key.count {
                case 2 where isKey(key, "ts"): return take(&ranges.ts)
                case 4 where isKey(key, "type"): return take(&ranges.type)
                case 4 where isKey(key, "rule"): return take(&ranges.rule)
                case 5 where isKey(key, "frame"): return take(&ranges.frame)
                case 7 where isKey(key, "capture"): return take(&ranges.capture)
                case 7 where isKey(key, "message"): return take(&ranges.message)
                case 8 where isKey(key, "severity"): return take(&ranges.severity)
                case 8 where isKey(key, "protocol"): return take(&ranges.protocolName)
                case 10 where isKey(key, "connection"):
                    let first = ranges.clientIP == nil && ranges.serverIP == nil
                    return objectValue(valueStart, depth: 1) { object in
                        eachMember(object) { name, inner in
                            let client = isKey(name, "client")
                            guard first, client || isKey(name, "server") else { return value(inner, depth: 2) }
                            return objectValue(inner, depth: 2) { peer in
                                eachMember(peer) { field, at in
                                    guard let end = value(at, depth: 3) else { return nil }
                                    if isKey(field, "ip") {
                                        if client { if ranges.clientIP == nil { ranges.clientIP = at..<end } }
                                        else if ranges.serverIP == nil { ranges.serverIP = at..<end }
                                    } else if isKey(field, "port") {
                                        if client { if ranges.clientPort == nil { ranges.clientPort = at..<end } }
                                        else if ranges.serverPort == nil { ranges.serverPort = at..<end }
                                    }
                                    return end
                                }
                            }
                        }
                    }
                case 8 where isKey(key, "observed"):
                    return objectValue(valueStart, depth: 1) { object in
                        eachMember(object) { name, inner in
                            guard let end = value(inner, depth: 2) else { return nil }
                            if ranges.observedProtocol == nil, isKey(name, "protocol") { ranges.observedProtocol = inner..<end }
                            return end
                        }
                    }
                case 7 where isKey(key, "request"):
                    return objectValue(valueStart, depth: 1) { object in
                        eachMember(object) { name, inner in
                            guard isKey(name, "headers") else { return value(inner, depth: 2) }
                            return objectValue(inner, depth: 2) { headers in
                                eachMember(headers) { header, at in
                                    guard let end = value(at, depth: 3) else { return nil }
                                    if ranges.host == nil, header.count == 4, isHost(header) { ranges.host = at..<end }
                                    return end
                                }
                            }
                        }
                    }
                default:
                    return value(valueStart, depth: 1)
                }
            }
        }

        private func isHost(_ key: Range<Int>) -> Bool {
            let word: [UInt8] = [0x68, 0x6F, 0x73, 0x74]
            for position in 0..<4 {
                var byte = base[key.lowerBound + position]
                if byte >= 0x41 && byte <= 0x5A { byte += 0x20 }
                if byte != word[position] { return false }
            }
            return true
        }

        func object(_ start: Int, depth: Int, visit: (Range<Int>, Range<Int>) -> Void) -> Int? {
            eachMember(start) { key, valueStart in
                guard let valueEnd = value(valueStart, depth: depth) else { return nil }
                visit(key, valueStart..<valueEnd)
                return valueEnd
            }
        }
    }
}

extension JSONScan {
    /// A member name as text (escapes decoded).
    static func keyString(_ key: Bytes) -> String {
        if !key.contains(UInt8(ascii: "\\")) { return String(decoding: key, as: UTF8.self) }
        return JSONParser.parse([UInt8(ascii: "\"")] + key + [UInt8(ascii: "\"")])?.stringValue ?? String(decoding: key, as: UTF8.self)
    }

    static func isKey(_ key: Bytes, _ name: StaticString) -> Bool {
        key.count == name.utf8CodeUnitCount && key.elementsEqual(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    /// `{"ip": …, "port": …}` as a peer, like `Peer.init?(JSONValue)`.
    static func peer(_ value: Bytes?) -> Peer? {
        guard let value else { return nil }
        var ip: Bytes?, port: Bytes?
        guard members(value, { key, member in
            if ip == nil && isKey(key, "ip") { ip = member } else if port == nil && isKey(key, "port") { port = member }
        }), let address = string(ip) else { return nil }
        return Peer(ip: address, port: integer(port))
    }
}

/// The fields of one `analyze` record the report counts, read by `JSONScan.record` in one
/// pass (the first member of each name, as `JSONValue` subscripts read them).
struct ScannedRecord {
    var type: String?
    var ts: JSONScan.Bytes?
    var capture: JSONScan.Bytes?
    var rule: JSONScan.Bytes?
    var severity: JSONScan.Bytes?
    var message: JSONScan.Bytes?
    var frame: JSONScan.Bytes?
    var protocolName: JSONScan.Bytes?
    var client: Peer?
    var server: Peer?
    /// `observed.protocol`
    var observedProtocol: JSONScan.Bytes?
    /// `request.headers.host` (any case)
    var host: JSONScan.Bytes?
    /// A top-level member name with an escape: the scan's byte comparisons cannot be trusted
    /// with it, so the caller parses the line in full instead.
    var escapedKey = false

    /// Nil when the line is not one well-formed JSON object.
    init?(_ line: JSONScan.Bytes) {
        guard let ranges = JSONScan.record(line) else { return nil }
        let offset = line.startIndex
        func slice(_ range: Range<Int>?) -> JSONScan.Bytes? { range.map { line[(offset + $0.lowerBound)..<(offset + $0.upperBound)] } }
        escapedKey = ranges.escapedKey
        type = JSONScan.string(slice(ranges.type))
        ts = slice(ranges.ts)
        capture = slice(ranges.capture)
        rule = slice(ranges.rule)
        severity = slice(ranges.severity)
        message = slice(ranges.message)
        frame = slice(ranges.frame)
        protocolName = slice(ranges.protocolName)
        client = JSONScan.string(slice(ranges.clientIP)).map { Peer(ip: $0, port: JSONScan.integer(slice(ranges.clientPort))) }
        server = JSONScan.string(slice(ranges.serverIP)).map { Peer(ip: $0, port: JSONScan.integer(slice(ranges.serverPort))) }
        observedProtocol = slice(ranges.observedProtocol)
        host = slice(ranges.host)
    }
}
