/// Incremental UTF-8 validation (RFC 3629 §4), for WebSocket text messages and close
/// reasons (RFC 6455 §5.6, §8.1), which arrive in pieces: split across fragments, TCP
/// segments and capture chunks, at any byte, possibly masked.
///
/// Holds no buffer: only the number of continuation bytes still expected and the range the
/// next one must fall in (which rules out overlong forms, surrogates and code points above
/// U+10FFFF). Bytes can be unmasked on the fly with a WebSocket masking key (RFC 6455 §5.3).
public struct UTF8Validator: Sendable, Equatable {
    /// Continuation bytes still expected for the current character.
    private var needed: UInt8 = 0
    /// Allowed range of the next continuation byte.
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF
    /// Offset (from the first validated byte) of the first byte that made the text invalid.
    public private(set) var failureOffset: UInt64?
    /// Bytes validated so far.
    public private(set) var count: UInt64 = 0

    public init() {}

    /// No invalid byte seen so far (a character may still be incomplete).
    public var isValid: Bool { failureOffset == nil }

    /// Valid and not in the middle of a character: the text may end here.
    public var isComplete: Bool { failureOffset == nil && needed == 0 }

    public mutating func reset() {
        self = UTF8Validator()
    }

    /// Validates `bytes`, each XORed with `maskKey`'s byte `(maskPhase + i) % 4` (the key as
    /// it appears on the wire, big-endian; 0 for unmasked data). Returns `isValid`.
    /// After the first error the validator only counts.
    @discardableResult
    public mutating func validate(_ bytes: UnsafeRawBufferPointer, maskKey: UInt32 = 0, maskPhase: Int = 0) -> Bool {
        guard failureOffset == nil else {
            count &+= UInt64(bytes.count)
            return false
        }
        let key = (UInt8(truncatingIfNeeded: maskKey >> 24), UInt8(truncatingIfNeeded: maskKey >> 16),
                   UInt8(truncatingIfNeeded: maskKey >> 8), UInt8(truncatingIfNeeded: maskKey))
        // The key as 8 bytes in memory order, one word per phase, for the ASCII fast path
        // (`pattern(_:at:)` picks the word for a position).
        var patterns: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        if bytes.count >= 8 && maskKey != 0 {
            withUnsafeMutableBytes(of: &patterns) { raw in
                for phase in 0..<4 {
                    for j in 0..<8 { raw[phase * 8 + j] = Self.keyByte(key, (maskPhase &+ phase &+ j) & 3) }
                }
            }
        }
        var index = 0
        let total = bytes.count
        while index < total {
            if needed == 0 && total - index >= 32 {
                // Text is mostly ASCII: 32 bytes per step while it lasts (advancing by a multiple
                // of 4 keeps the mask phase, so one pattern serves all four words).
                let pattern = Self.pattern(patterns, at: index)
                var ascii = true
                while total - index >= 32 {
                    let a = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    let b = bytes.loadUnaligned(fromByteOffset: index + 8, as: UInt64.self)
                    let c = bytes.loadUnaligned(fromByteOffset: index + 16, as: UInt64.self)
                    let d = bytes.loadUnaligned(fromByteOffset: index + 24, as: UInt64.self)
                    if ((a ^ pattern) | (b ^ pattern) | (c ^ pattern) | (d ^ pattern)) & 0x8080_8080_8080_8080 != 0 {
                        ascii = false
                        break
                    }
                    index += 32
                }
                if ascii { continue }
            }
            if needed == 0 && total - index >= 8 {
                let pattern = Self.pattern(patterns, at: index)
                let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ pattern
                if word & 0x8080_8080_8080_8080 == 0 {
                    index += 8
                    continue
                }
            }
            let byte = bytes[index] ^ Self.keyByte(key, (maskPhase &+ index) & 3)
            if needed > 0 {
                guard byte >= lower && byte <= upper else { return fail(at: index, total: total) }
                needed -= 1
                lower = 0x80
                upper = 0xBF
            } else {
                switch byte {
                case 0x00...0x7F: break
                case 0xC2...0xDF: needed = 1
                case 0xE0: needed = 2; lower = 0xA0
                case 0xE1...0xEC, 0xEE...0xEF: needed = 2
                case 0xED: needed = 2; upper = 0x9F  // no UTF-16 surrogates
                case 0xF0: needed = 3; lower = 0x90
                case 0xF1...0xF3: needed = 3
                case 0xF4: needed = 3; upper = 0x8F  // nothing above U+10FFFF
                default: return fail(at: index, total: total)  // continuation, overlong lead, F5–FF
                }
            }
            index += 1
        }
        count &+= UInt64(total)
        return true
    }

    @discardableResult
    public mutating func validate(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { validate($0) }
    }

    /// Marks the text as ending here: an unfinished character is an error at this offset.
    @discardableResult
    public mutating func finish() -> Bool {
        if failureOffset == nil && needed > 0 { failureOffset = count }
        return failureOffset == nil
    }

    private mutating func fail(at index: Int, total: Int) -> Bool {
        failureOffset = count &+ UInt64(index)
        count &+= UInt64(total)
        return false
    }

    /// The mask word for the bytes starting at `index` (the key's phase there is `index & 3`).
    @inline(__always)
    private static func pattern(_ patterns: (UInt64, UInt64, UInt64, UInt64), at index: Int) -> UInt64 {
        switch index & 3 {
        case 0: return patterns.0
        case 1: return patterns.1
        case 2: return patterns.2
        default: return patterns.3
        }
    }

    @inline(__always)
    private static func keyByte(_ key: (UInt8, UInt8, UInt8, UInt8), _ position: Int) -> UInt8 {
        switch position {
        case 0: return key.0
        case 1: return key.1
        case 2: return key.2
        default: return key.3
        }
    }
}
