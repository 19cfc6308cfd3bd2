/// Byte constants and classes used by the HTTP/1 parser's hot loops (RFC 9110 §5.6.2, RFC 9112 §2).
enum ASCII {
    static let tab: UInt8 = 0x09
    static let lf: UInt8 = 0x0A
    static let cr: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let asterisk: UInt8 = 0x2A
    static let comma: UInt8 = 0x2C
    static let period: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let one: UInt8 = 0x31
    static let nine: UInt8 = 0x39
    static let colon: UInt8 = 0x3A
    static let semicolon: UInt8 = 0x3B
    static let equals: UInt8 = 0x3D
    static let backslash: UInt8 = 0x5C
    static let delete: UInt8 = 0x7F
}

/// `tchar` (RFC 9110 §5.6.2): the bytes allowed in methods, field names and chunk-extension names.
@inline(__always)
func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A:
        return true
    case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E:
        return true
    default:
        return false
    }
}

@inline(__always)
func isDigit(_ byte: UInt8) -> Bool { byte &- ASCII.zero < 10 }

@inline(__always)
func isWhitespace(_ byte: UInt8) -> Bool { byte == ASCII.space || byte == ASCII.tab }

@inline(__always)
func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: return byte &- 0x30
    case 0x41...0x46: return byte &- 0x41 &+ 10
    case 0x61...0x66: return byte &- 0x61 &+ 10
    default: return nil
    }
}

/// Index of the first `target` in `buffer[start..<end]`, or nil.
///
/// Looks at eight bytes per step (the SWAR "has zero byte" test) so that header lines and
/// resynchronisation scans cost little more than memchr, without importing libc.
@inline(__always)
func firstIndex(of target: UInt8, in buffer: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
    guard start < end, let base = buffer.baseAddress else { return nil }
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    let pattern = UInt64(target) &* ones
    var index = start
    while index &+ 8 <= end {
        let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self)) ^ pattern
        // The lowest flagged byte is exact; borrows can only create false flags above it.
        let found = (word &- ones) & ~word & highs
        if found != 0 {
            return index &+ (found.trailingZeroBitCount >> 3)
        }
        index &+= 8
    }
    while index < end {
        if base.load(fromByteOffset: index, as: UInt8.self) == target { return index }
        index &+= 1
    }
    return nil
}

/// Index of the first control byte (below 0x20: LF, CR, HTAB and the invalid ones) or DEL in
/// `buffer[start..<end]`, or nil.
///
/// Field lines are scanned with this once: it finds the line's LF and, on the way, any byte a
/// field value must not contain (RFC 9110 §5.5), eight bytes per step. Each of the two SWAR
/// tests flags its lowest matching byte exactly, so the lowest flag of their union is exact.
@inline(__always)
func firstControlIndex(in buffer: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
    guard start < end, let base = buffer.baseAddress else { return nil }
    let ones: UInt64 = 0x0101_0101_0101_0101
    let highs: UInt64 = 0x8080_8080_8080_8080
    let below: UInt64 = 0x2020_2020_2020_2020
    let delete: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    var index = start
    while index &+ 8 <= end {
        let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: index, as: UInt64.self))
        let deleteBytes = word ^ delete
        let found = ((word &- below) & ~word | (deleteBytes &- ones) & ~deleteBytes) & highs
        if found != 0 {
            return index &+ (found.trailingZeroBitCount >> 3)
        }
        index &+= 8
    }
    while index < end {
        let byte = base.load(fromByteOffset: index, as: UInt8.self)
        if byte < ASCII.space || byte == ASCII.delete { return index }
        index &+= 1
    }
    return nil
}

/// Whether every byte of `buffer[start..<end]` is a `tchar` (RFC 9110 §5.6.2): field names are
/// checked with two bitmap words (bytes 0–63 and 64–127; `isTokenByte` spelled as bits, see
/// `testTokenBitmapMatchesTokenBytes`) instead of a switch per byte.
@inline(__always)
func allTokenBytes(in buffer: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Bool {
    let low: UInt64 = 0x03FF_6CFA_0000_0000
    let high: UInt64 = 0x57FF_FFFF_C7FF_FFFE
    var index = start
    while index < end {
        let byte = buffer[index]
        let bits = byte < 64 ? low : (byte < 128 ? high : 0)
        if bits >> UInt64(byte & 63) & 1 == 0 { return false }
        index &+= 1
    }
    return true
}

/// Whether `bytes` equals the lowercase ASCII `lowercased`, ignoring ASCII case.
@inline(__always)
func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercased: StaticString) -> Bool {
    guard bytes.count == lowercased.utf8CodeUnitCount else { return false }
    let wanted = lowercased.utf8Start
    for index in 0..<bytes.count where asciiLower(bytes[index]) != wanted[index] {
        return false
    }
    return true
}

/// Whether a field name (a String from a materialised head) equals `lowercased`, ignoring ASCII case.
@inline(__always)
func nameEquals(_ name: String, _ lowercased: StaticString) -> Bool {
    let wanted = UnsafeBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount)
    return name.utf8.elementsEqual(wanted) { asciiLower($0) == $1 }
}
