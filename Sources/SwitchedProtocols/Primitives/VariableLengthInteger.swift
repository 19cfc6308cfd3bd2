/// QUIC variable-length integers (RFC 9000 §16): the two most significant bits of the first
/// byte give the length (1, 2, 4 or 8 bytes), the remaining 6, 14, 30 or 62 bits the value in
/// network byte order. Every 2-bit prefix is valid and non-minimal encodings are allowed
/// (§16: "values do not need to be encoded on the minimum number of bytes"), so the only way
/// such an integer can fail is to be cut short. The Capsule Protocol (RFC 9297 §3.2) and
/// CONNECT-UDP's Context ID (RFC 9298 §4) use them.
public struct VariableLengthIntegerReader: Sendable, Equatable {
    /// The value so far (complete once `isComplete`).
    public private(set) var value: UInt64 = 0
    /// Bytes the integer takes (1, 2, 4 or 8) once its first byte is read; 0 before.
    public private(set) var length = 0
    /// Bytes read so far.
    public private(set) var read = 0

    public init() {}

    public static let maxValue: UInt64 = (1 << 62) - 1

    public var isEmpty: Bool { read == 0 }
    public var isComplete: Bool { read > 0 && read == length }

    /// Adds the next byte; true when the integer is complete. Must not be called once complete.
    public mutating func add(_ byte: UInt8) -> Bool {
        if read == 0 {
            length = 1 << Int(byte >> 6)
            value = UInt64(byte & 0x3F)
        } else {
            value = value << 8 | UInt64(byte)
        }
        read += 1
        return read == length
    }

    public mutating func reset() { self = VariableLengthIntegerReader() }

    /// Decodes one integer at the start of `bytes`: its value and length, or nil when `bytes`
    /// holds fewer bytes than the first byte announces (or none).
    public static func decode<Bytes: Collection>(_ bytes: Bytes) -> (value: UInt64, length: Int)? where Bytes.Element == UInt8 {
        var reader = VariableLengthIntegerReader()
        for byte in bytes where reader.add(byte) { return (reader.value, reader.length) }
        return nil
    }

    /// The shortest encoding of `value` (at most `maxValue`), or the one of `length` bytes when given.
    public static func encode(_ value: UInt64, length: Int? = nil) -> [UInt8] {
        precondition(value <= maxValue, "a variable-length integer holds 62 bits")
        let size = length ?? (value < 1 << 6 ? 1 : value < 1 << 14 ? 2 : value < 1 << 30 ? 4 : 8)
        precondition([1, 2, 4, 8].contains(size) && (size == 8 || value < 1 << (8 * UInt64(size) - 2)),
                     "the value does not fit the requested length")
        var bytes = (0..<size).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(size - 1 - $0))) }
        bytes[0] |= UInt8([1: 0x00, 2: 0x40, 4: 0x80, 8: 0xC0][size]!)
        return bytes
    }
}
