import SwitchedProtocols
import XCTest

/// Builds WebSocket frames for tests (RFC 6455 §5.2).
struct FrameSpec {
    var fin = true
    var rsv: UInt8 = 0
    var opcode: UInt8
    var payload: [UInt8] = []
    /// Nil: unmasked.
    var mask: UInt32?
    /// Force a length encoding: 0 (7-bit), 2, 8; nil for the minimal one.
    var lengthBytes: Int?
    /// Declare this length instead of payload.count (the payload bytes are still written).
    var declaredLength: UInt64?

    var bytes: [UInt8] {
        let length = declaredLength ?? UInt64(payload.count)
        var out: [UInt8] = [(fin ? 0x80 : 0) | rsv << 4 | opcode]
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        let encoding = lengthBytes ?? (length < 126 ? 0 : length <= 0xFFFF ? 2 : 8)
        switch encoding {
        case 2:
            out += [maskBit | 126, UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
        case 8:
            out.append(maskBit | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: length >> UInt64(shift))) }
        default:
            out.append(maskBit | UInt8(truncatingIfNeeded: length))
        }
        if let mask {
            let key = [UInt8(mask >> 24), UInt8(truncatingIfNeeded: mask >> 16), UInt8(truncatingIfNeeded: mask >> 8),
                       UInt8(truncatingIfNeeded: mask)]
            out += key
            out += payload.enumerated().map { $0.element ^ key[$0.offset & 3] }
        } else {
            out += payload
        }
        return out
    }
}

func frame(_ opcode: UInt8, _ payload: [UInt8] = [], fin: Bool = true, rsv: UInt8 = 0, mask: UInt32? = nil,
           lengthBytes: Int? = nil) -> [UInt8] {
    FrameSpec(fin: fin, rsv: rsv, opcode: opcode, payload: payload, mask: mask, lengthBytes: lengthBytes).bytes
}

func text(_ string: String, fin: Bool = true, mask: UInt32? = nil) -> [UInt8] {
    frame(1, Array(string.utf8), fin: fin, mask: mask)
}

func closePayload(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] {
    [UInt8(code >> 8), UInt8(truncatingIfNeeded: code)] + reason
}

/// Every event from `bytes` fed in chunks of `chunk` bytes.
func decodeInChunks(_ bytes: [UInt8], chunk: Int, fromClient: Bool,
                    configuration: WebSocketFrameDecoder.Configuration? = nil) -> [WebSocketFrameEvent] {
    var decoder = WebSocketFrameDecoder(configuration: configuration ?? .init(fromClient: fromClient))
    var events: [WebSocketFrameEvent] = []
    var start = 0
    while start < bytes.count {
        let end = min(start + chunk, bytes.count)
        let piece = Array(bytes[start..<end])
        piece.withUnsafeBytes { raw in
            var index = 0
            while let event = decoder.next(in: raw, at: &index) { events.append(event) }
        }
        start = end
    }
    return events
}

func issues(_ events: [WebSocketFrameEvent]) -> [WebSocketFrameIssue] {
    events.compactMap { if case .issue(let issue, _) = $0 { return issue } else { return nil } }
}

func completedFrames(_ events: [WebSocketFrameEvent]) -> [WebSocketFrameHeader] {
    events.compactMap { if case .frameEnd(let header) = $0 { return header } else { return nil } }
}
