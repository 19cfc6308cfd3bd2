/// A WebSocket frame header (RFC 6455 §5.2), 2 to 14 bytes on the wire.
public struct WebSocketFrameHeader: Sendable, Equatable {
    public var fin: Bool
    /// RSV1-3 as a 3-bit value (0b100 = RSV1).
    public var rsv: UInt8
    public var opcode: UInt8
    public var masked: Bool
    /// The masking key as on the wire, big-endian (0 when not masked).
    public var maskKey: UInt32
    public var payloadLength: UInt64
    /// 2…14.
    public var headerLength: Int
    /// 0 (7-bit length), 2 (16-bit) or 8 (64-bit).
    public var extendedLengthBytes: Int
    /// Stream offset of the header's first byte (post-switch bytes of this direction, gaps included).
    public var offset: UInt64

    public init(fin: Bool, rsv: UInt8, opcode: UInt8, masked: Bool, maskKey: UInt32, payloadLength: UInt64,
                headerLength: Int, extendedLengthBytes: Int, offset: UInt64) {
        self.fin = fin
        self.rsv = rsv
        self.opcode = opcode
        self.masked = masked
        self.maskKey = maskKey
        self.payloadLength = payloadLength
        self.headerLength = headerLength
        self.extendedLengthBytes = extendedLengthBytes
        self.offset = offset
    }

    /// Opcodes with the high bit set are control frames (RFC 6455 §5.5), reserved ones included.
    public var isControl: Bool { opcode & 0x8 != 0 }
    /// Continuation, text or binary.
    public var isData: Bool { opcode <= 2 }
    public var isReservedOpcode: Bool { (3...7).contains(opcode) || opcode >= 0xB }

    public var opcodeName: String { Self.opcodeName(opcode) }

    /// RFC 6455 §11.8 names; reserved ones as `reserved_0x3`.
    public static func opcodeName(_ opcode: UInt8) -> String {
        switch opcode {
        case 0x0: return "continuation"
        case 0x1: return "text"
        case 0x2: return "binary"
        case 0x8: return "close"
        case 0x9: return "ping"
        case 0xA: return "pong"
        default: return "reserved_0x" + String(opcode, radix: 16)
        }
    }

    /// Total header length announced by the first two bytes.
    @inline(__always)
    public static func headerLength(secondByte: UInt8) -> Int {
        let length7 = secondByte & 0x7F
        return 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + (secondByte & 0x80 != 0 ? 4 : 0)
    }

    /// Parses a header from the start of `bytes`; nil when `bytes` is shorter than the header.
    public static func parse(_ bytes: UnsafeRawBufferPointer, offset: UInt64 = 0) -> WebSocketFrameHeader? {
        guard bytes.count >= 2 else { return nil }
        let first = bytes[0]
        let second = bytes[1]
        let length = headerLength(secondByte: second)
        guard bytes.count >= length else { return nil }
        var index = 2
        var payloadLength = UInt64(second & 0x7F)
        var extended = 0
        if payloadLength == 126 {
            payloadLength = UInt64(bytes[2]) << 8 | UInt64(bytes[3])
            extended = 2
            index = 4
        } else if payloadLength == 127 {
            payloadLength = 0
            for i in 2..<10 { payloadLength = payloadLength << 8 | UInt64(bytes[i]) }
            extended = 8
            index = 10
        }
        let masked = second & 0x80 != 0
        var key: UInt32 = 0
        if masked {
            key = UInt32(bytes[index]) << 24 | UInt32(bytes[index + 1]) << 16
                | UInt32(bytes[index + 2]) << 8 | UInt32(bytes[index + 3])
        }
        return WebSocketFrameHeader(fin: first & 0x80 != 0, rsv: (first >> 4) & 0x7, opcode: first & 0xF, masked: masked,
                                    maskKey: key, payloadLength: payloadLength, headerLength: length,
                                    extendedLengthBytes: extended, offset: offset)
    }

    /// The header in its wire form (for tests and evidence); the length in the encoding recorded.
    public var bytes: [UInt8] {
        var out: [UInt8] = [(fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0xF)]
        let maskBit: UInt8 = masked ? 0x80 : 0
        switch extendedLengthBytes {
        case 2:
            out += [maskBit | 126, UInt8(truncatingIfNeeded: payloadLength >> 8), UInt8(truncatingIfNeeded: payloadLength)]
        case 8:
            out.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: payloadLength >> UInt64(shift)))
            }
        default:
            out.append(maskBit | UInt8(truncatingIfNeeded: min(payloadLength, 125)))
        }
        if masked {
            out += [UInt8(truncatingIfNeeded: maskKey >> 24), UInt8(truncatingIfNeeded: maskKey >> 16),
                    UInt8(truncatingIfNeeded: maskKey >> 8), UInt8(truncatingIfNeeded: maskKey)]
        }
        return out
    }
}

/// Close status codes (RFC 6455 §7.4) and whether one may appear in a Close frame.
public enum WebSocketCloseCode {
    public enum Validity: String, Sendable, Equatable {
        case valid
        /// 0–999 and 5000+: outside every range RFC 6455 §7.4.2 defines.
        case outOfRange = "out_of_range"
        /// 1004 and 1016–2999: reserved for the protocol, not assigned.
        case reserved
        /// 1005, 1006, 1015: names for a missing code, an abnormal close or a TLS failure, never sent.
        case notForTheWire = "not_for_the_wire"
    }

    public static func validity(_ code: UInt16) -> Validity {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: return .valid  // 1012–1014: IANA registry
        case 1005, 1006, 1015: return .notForTheWire
        case 1004, 1016...2999: return .reserved
        default: return .outOfRange
        }
    }
}
