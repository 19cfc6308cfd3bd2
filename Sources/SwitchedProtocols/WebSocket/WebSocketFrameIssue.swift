import Findings
import Inflate

/// A framing rule broken in one frame (RFC 6455 §5, §7.4, §8.1). Payloads are plain integers
/// so that reporting an issue never allocates in the decoder.
public enum WebSocketFrameIssue: Sendable, Equatable {
    case unmaskedClientFrame
    case maskedServerFrame
    /// RSV bits set that no negotiated extension defines (`negotiated` false), or RSV1 on a
    /// control or continuation frame where permessage-deflate forbids it (RFC 7692 §6.1).
    case rsvBits(bits: UInt8, negotiated: Bool)
    case reservedOpcode(UInt8)
    case controlFrameTooLong(length: UInt64)
    case fragmentedControlFrame
    /// `lengthBytes` (2 or 8) used for a length that fits a shorter form.
    case nonMinimalLength(length: UInt64, lengthBytes: Int)
    case lengthTopBitSet(length: UInt64)
    case continuationWithoutStart
    /// A text or binary frame while a fragmented message (`openOpcode`) was still open.
    case dataFrameInsideMessage(openOpcode: UInt8)
    case closeOneBytePayload
    case closeCode(code: UInt16, validity: WebSocketCloseCode.Validity)
    /// A data frame after this direction's Close (reported once per direction).
    case dataAfterClose
    /// `offset`: the first bad byte, from the start of the message (or of the close reason).
    case invalidUTF8(offset: UInt64, inCloseReason: Bool)
    case zeroMaskKey
    case repeatedMaskKey(UInt32)
    /// A permessage-deflate message that does not inflate (RFC 7692 §7.2.2, RFC 1951);
    /// `messageOffset` counts the message's compressed bytes.
    /// (The kind only, not the `InflateError`, whose text would make every event costly to copy.)
    case inflateFailed(InflateError.Kind, messageOffset: UInt64)
    /// A message inflating past `limit` bytes after `compressedBytes` compressed ones.
    case decompressionBomb(limit: Int, compressedBytes: UInt64)
    /// No inflater could be made: the inflater memory of all connections is spent.
    case inflaterMemoryExhausted(limit: Int)

    public var rule: Rule {
        switch self {
        case .unmaskedClientFrame: return .websocketUnmaskedClientFrame
        case .maskedServerFrame: return .websocketMaskedServerFrame
        case .rsvBits: return .websocketRSVWithoutExtension
        case .reservedOpcode: return .websocketReservedOpcode
        case .controlFrameTooLong, .fragmentedControlFrame: return .websocketBadControlFrame
        case .nonMinimalLength, .lengthTopBitSet: return .websocketNonMinimalLength
        case .continuationWithoutStart, .dataFrameInsideMessage: return .websocketBadFragmentation
        case .closeOneBytePayload, .closeCode, .dataAfterClose: return .websocketBadClose
        case .invalidUTF8: return .websocketInvalidUTF8
        case .zeroMaskKey, .repeatedMaskKey: return .websocketWeakMask
        case .inflateFailed: return .websocketInflateFailed
        case .decompressionBomb: return .websocketDecompressionBomb
        case .inflaterMemoryExhausted: return .analyzerLimitReached
        }
    }

    /// One sentence for a person.
    public func message(_ header: WebSocketFrameHeader) -> String {
        let frame = "\(header.opcodeName) frame"
        switch self {
        case .unmaskedClientFrame:
            return "The client sent an unmasked \(frame); clients must mask every frame."
        case .maskedServerFrame:
            return "The server sent a masked \(frame); servers must not mask frames."
        case .rsvBits(let bits, let negotiated):
            return negotiated
                ? "A \(frame) sets RSV1, which permessage-deflate allows only on the first frame of a data message."
                : "A \(frame) sets reserved bits (RSV \(Self.rsvText(bits))) that no negotiated extension defines."
        case .reservedOpcode(let opcode):
            return "A frame uses reserved opcode 0x\(String(opcode, radix: 16, uppercase: true))."
        case .controlFrameTooLong(let length):
            return "A \(frame) carries \(length) payload bytes; control frames are limited to 125."
        case .fragmentedControlFrame:
            return "A \(frame) has FIN clear; control frames must not be fragmented."
        case .nonMinimalLength(let length, let lengthBytes):
            return "A \(frame) encodes its \(length)-byte length in \(lengthBytes * 8) bits instead of the shortest form."
        case .lengthTopBitSet(let length):
            return "A \(frame) declares a 64-bit length (\(length)) with the most significant bit set."
        case .continuationWithoutStart:
            return "A continuation frame arrived with no fragmented message in progress."
        case .dataFrameInsideMessage(let open):
            return "A new \(header.opcodeName) message started before the fragmented \(WebSocketFrameHeader.opcodeName(open)) message finished."
        case .closeOneBytePayload:
            return "A Close frame carries a 1-byte body; the body must be empty or start with a 2-byte status code."
        case .closeCode(let code, let validity):
            switch validity {
            case .notForTheWire:
                return "A Close frame carries status code \(code), which names a local condition and must never be sent."
            case .reserved:
                return "A Close frame carries status code \(code), which is reserved and not assigned."
            case .outOfRange, .valid:
                return "A Close frame carries status code \(code), outside the ranges RFC 6455 defines."
            }
        case .dataAfterClose:
            return "A \(frame) was sent after this side's Close frame."
        case .invalidUTF8(let offset, let inCloseReason):
            return inCloseReason
                ? "The Close frame's reason is not valid UTF-8 (byte \(offset) of the reason)."
                : "A text message is not valid UTF-8 (byte \(offset) of the message)."
        case .zeroMaskKey:
            return "The client masked a \(frame) with an all-zero key, which leaves the payload in clear."
        case .repeatedMaskKey(let key):
            return "The client reused masking key 0x\(Self.hex32(key)) on consecutive frames; keys must be unpredictable."
        case .inflateFailed(let kind, let offset):
            return "A compressed message does not inflate (\(kind.rawValue) at byte \(offset) of the message: \(kind.summary)); a receiver must fail the connection."
        case .decompressionBomb(let limit, let compressed):
            return "A compressed message inflates to more than \(limit) bytes from \(compressed) compressed bytes; the rest of it was not inflated or checked."
        case .inflaterMemoryExhausted(let limit):
            return "The inflaters of all WebSocket connections hold \(limit) bytes, the limit: this direction's compressed messages are counted, not inflated."
        }
    }

    /// Issue-specific evidence (the session adds the frame header's fields).
    public var evidence: Evidence {
        switch self {
        case .rsvBits(let bits, _): return ["rsv": .text(Self.rsvText(bits))]
        // `opcode` is the name in every WebSocket finding (`reserved_0x3` here), the number beside it.
        case .reservedOpcode(let opcode):
            return ["opcode": .text(WebSocketFrameHeader.opcodeName(opcode)), "opcode_value": .integer(Int64(opcode))]
        case .nonMinimalLength(_, let lengthBytes): return ["length_field_bits": .integer(Int64(lengthBytes * 8))]
        case .dataFrameInsideMessage(let open): return ["open_message": .text(WebSocketFrameHeader.opcodeName(open))]
        case .closeCode(let code, let validity):
            return ["close_code": .integer(Int64(code)), "code_class": .text(validity.rawValue)]
        case .invalidUTF8(let offset, let inCloseReason):
            return ["utf8_error_offset": .integer(Int64(clamping: offset)), "in_close_reason": .flag(inCloseReason)]
        case .repeatedMaskKey(let key): return ["mask_key": .text(Self.hex32(key))]
        case .zeroMaskKey: return ["mask_key": .text("00000000")]
        case .inflateFailed(let kind, let offset):
            return ["inflate_error": .text(kind.rawValue), "compressed_offset": .integer(Int64(clamping: offset))]
        case .decompressionBomb(let limit, let compressed):
            return ["limit": .text("max_inflated_message_bytes"), "max": .integer(Int64(limit)),
                    "compressed_bytes": .integer(Int64(clamping: compressed))]
        case .inflaterMemoryExhausted(let limit):
            return ["limit": .text("inflater_memory"), "max": .integer(Int64(limit))]
        default: return [:]
        }
    }

    static func rsvText(_ bits: UInt8) -> String {
        var names: [String] = []
        if bits & 4 != 0 { names.append("1") }
        if bits & 2 != 0 { names.append("2") }
        if bits & 1 != 0 { names.append("3") }
        return names.joined(separator: ",")
    }

    static func hex32(_ value: UInt32) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 8 - text.count) + text
    }
}
