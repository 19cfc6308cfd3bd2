import Findings
import PacketCapture
@testable import SwitchedProtocols
import XCTest

/// Bytes from RFC-style hex ("8286 8441 …"; whitespace ignored).
func hexBytes(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [UInt8] {
    let digits = Array(text.unicodeScalars.filter { !$0.properties.isWhitespace })
    var bytes: [UInt8] = []
    var index = 0
    while index + 1 < digits.count {
        guard let byte = UInt8(String(digits[index]) + String(digits[index + 1]), radix: 16) else {
            XCTFail("bad hex", file: file, line: line)
            return []
        }
        bytes.append(byte)
        index += 2
    }
    return bytes
}

/// An HTTP/2 frame (RFC 9113 §4.1).
func http2Frame(_ type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
    let length = payload.count
    return [UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length),
            type, flags,
            UInt8(truncatingIfNeeded: stream >> 24), UInt8(truncatingIfNeeded: stream >> 16),
            UInt8(truncatingIfNeeded: stream >> 8), UInt8(truncatingIfNeeded: stream)] + payload
}

func settingsPayload(_ settings: [(UInt16, UInt32)]) -> [UInt8] {
    settings.flatMap { id, value in
        [UInt8(id >> 8), UInt8(id & 0xFF), UInt8(value >> 24), UInt8((value >> 16) & 0xFF),
         UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}

/// HPACK literal field without indexing, new name (RFC 7541 §6.2.2); short strings only.
func hpackLiteral(_ name: String, _ value: String, huffman: Bool = false) -> [UInt8] {
    func string(_ text: String) -> [UInt8] {
        let raw = Array(text.utf8)
        let encoded = huffman ? Huffman.encode(raw) : raw
        precondition(encoded.count < 127)
        return [UInt8(encoded.count) | (huffman ? 0x80 : 0)] + encoded
    }
    return [0x00] + string(name) + string(value)
}

/// HPACK literal field with incremental indexing, new name (RFC 7541 §6.2.1).
func hpackIndexedLiteral(_ name: String, _ value: String) -> [UInt8] {
    [0x40, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(value.utf8.count)] + Array(value.utf8)
}

let testTimestamp = Timestamp(seconds: 1_700_000_000, nanoseconds: 0)

/// A minimal valid client start: preface + empty SETTINGS.
let clientStart = HTTP2.clientPreface + http2Frame(4)
/// A minimal valid server start: empty SETTINGS.
let serverStart = http2Frame(4)
