/// A small streaming JSON writer into a byte buffer, with deterministic output.
///
/// Strings are escaped so the output is always valid JSON on one line: `"`, `\` and every
/// control byte (U+0000–U+001F, U+007F) are escaped, and so are U+2028/U+2029 so a line can be
/// embedded in JavaScript. Swift `String`s are valid Unicode already; text decoded from the
/// wire with invalid UTF-8 carries U+FFFD there, and raw bytes go through `bytes(_:)` as hex.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    /// One entry per open container: whether a value was already written in it.
    private var needsComma: [Bool] = []
    private var afterKey = false

    public init() {
        bytes.reserveCapacity(512)
    }

    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        needsComma.removeAll(keepingCapacity: true)
        afterKey = false
    }

    private mutating func separator() {
        if afterKey {
            afterKey = false
            return
        }
        if let last = needsComma.last {
            if last { bytes.append(UInt8(ascii: ",")) }
            needsComma[needsComma.count - 1] = true
        }
    }

    public mutating func beginObject() {
        separator()
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    public mutating func endObject() {
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "}"))
    }

    public mutating func beginArray() {
        separator()
        bytes.append(UInt8(ascii: "["))
        needsComma.append(false)
    }

    public mutating func endArray() {
        needsComma.removeLast()
        bytes.append(UInt8(ascii: "]"))
    }

    public mutating func key(_ name: String) {
        separator()
        appendEscaped(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    public mutating func string(_ value: String) {
        separator()
        appendEscaped(value)
    }

    public mutating func int<T: BinaryInteger>(_ value: T) {
        separator()
        bytes.append(contentsOf: String(value).utf8)
    }

    /// A finite number with up to 6 decimals (non-finite values become null).
    public mutating func double(_ value: Double, decimals: Int = 6) {
        separator()
        guard value.isFinite else {
            bytes.append(contentsOf: "null".utf8)
            return
        }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (value * scale).rounded()
        if abs(scaled) < 9e15 {
            let integer = Int64(scaled)
            let whole = integer / Int64(scale)
            var fraction = abs(integer % Int64(scale))
            var text = (integer < 0 && whole == 0 ? "-" : "") + String(whole)
            if fraction != 0 {
                var digits = decimals
                while fraction % 10 == 0 { fraction /= 10; digits -= 1 }
                let f = String(fraction)
                text += "." + String(repeating: "0", count: digits - f.count) + f
            }
            bytes.append(contentsOf: text.utf8)
        } else {
            bytes.append(contentsOf: String(value).utf8)
        }
    }

    public mutating func bool(_ value: Bool) {
        separator()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    public mutating func null() {
        separator()
        bytes.append(contentsOf: "null".utf8)
    }

    /// Writes already-serialised JSON (e.g. a nested document) as one value.
    public mutating func raw(_ json: [UInt8]) {
        separator()
        bytes.append(contentsOf: json)
    }

    public mutating func newline() {
        bytes.append(UInt8(ascii: "\n"))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func appendEscaped(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        let utf8 = Array(text.utf8)
        var i = 0
        while i < utf8.count {
            let byte = utf8[i]
            switch byte {
            case 0x22: bytes.append(contentsOf: [0x5C, 0x22])
            case 0x5C: bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20, 0x7F:
                appendUnicodeEscape(UInt32(byte))
            case 0xC2 where i + 1 < utf8.count && utf8[i + 1] < 0xA0:
                // C1 controls (U+0080–U+009F): NEL is a line break to Unicode-aware line
                // splitters (Python's str.splitlines), CSI one to some terminals.
                appendUnicodeEscape(UInt32(utf8[i + 1]))
                i += 1
            case 0xE2 where i + 2 < utf8.count && utf8[i + 1] == 0x80 && (utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9):
                appendUnicodeEscape(utf8[i + 2] == 0xA8 ? 0x2028 : 0x2029)
                i += 2
            default:
                bytes.append(byte)
            }
            i += 1
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendUnicodeEscape(_ v: UInt32) {
        bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"),
                                  Self.hexDigits[Int(v >> 12 & 0xF)], Self.hexDigits[Int(v >> 8 & 0xF)],
                                  Self.hexDigits[Int(v >> 4 & 0xF)], Self.hexDigits[Int(v & 0xF)]])
    }
}
