/// Names and constants of HTTP/2 framing (RFC 9113 §4, §6, §7, §11).
public enum HTTP2 {
    /// The client connection preface, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 §3.4).
    public static let clientPreface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// Frame header length (RFC 9113 §4.1).
    public static let frameHeaderLength = 9
    /// Initial SETTINGS_MAX_FRAME_SIZE, the largest payload a peer must accept (RFC 9113 §6.5.2).
    public static let defaultMaxFrameSize = 16_384
    /// Initial SETTINGS_HEADER_TABLE_SIZE (RFC 9113 §6.5.2).
    public static let defaultHeaderTableSize = 4_096

    /// A frame type's registered name (RFC 9113 §11.2 plus the ALTSVC/ORIGIN/PRIORITY_UPDATE extensions).
    public static func frameTypeName(_ type: UInt8) -> String {
        switch type {
        case 0x0: return "DATA"
        case 0x1: return "HEADERS"
        case 0x2: return "PRIORITY"
        case 0x3: return "RST_STREAM"
        case 0x4: return "SETTINGS"
        case 0x5: return "PUSH_PROMISE"
        case 0x6: return "PING"
        case 0x7: return "GOAWAY"
        case 0x8: return "WINDOW_UPDATE"
        case 0x9: return "CONTINUATION"
        case 0xA: return "ALTSVC"
        case 0xC: return "ORIGIN"
        case 0x10: return "PRIORITY_UPDATE"
        default: return "UNKNOWN_0x" + String(type, radix: 16)
        }
    }

    /// An error code's name (RFC 9113 §7).
    public static func errorCodeName(_ code: UInt32) -> String {
        let names = ["NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
                     "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
                     "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"]
        return code < names.count ? names[Int(code)] : "UNKNOWN_0x" + String(code, radix: 16)
    }
}

/// Frame types this module treats specially (RFC 9113 §6).
public enum HTTP2FrameType: UInt8, Sendable, CaseIterable {
    case data = 0x0, headers, priority, rstStream, settings, pushPromise, ping, goAway, windowUpdate, continuation

    public var name: String { HTTP2.frameTypeName(rawValue) }
}

/// Frame flags (RFC 9113 §6).
public enum HTTP2Flags {
    public static let endStream: UInt8 = 0x1
    public static let ack: UInt8 = 0x1
    public static let endHeaders: UInt8 = 0x4
    public static let padded: UInt8 = 0x8
    public static let priority: UInt8 = 0x20
}

/// The 9-byte frame header (RFC 9113 §4.1).
public struct HTTP2FrameHeader: Sendable, Equatable {
    public var length: Int
    public var type: UInt8
    public var flags: UInt8
    /// Stream identifier with the reserved bit cleared.
    public var streamID: UInt32

    public init(length: Int, type: UInt8, flags: UInt8, streamID: UInt32) {
        self.length = length
        self.type = type
        self.flags = flags
        self.streamID = streamID
    }

    /// Parses the first 9 bytes; nil when fewer are given.
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count >= 9 else { return nil }
        var index = bytes.startIndex
        var value: UInt64 = 0
        var streamBits: UInt32 = 0
        for position in 0..<9 {
            let byte = bytes[index]
            index = bytes.index(after: index)
            if position < 5 { value = value << 8 | UInt64(byte) } else { streamBits = streamBits << 8 | UInt32(byte) }
        }
        length = Int(value >> 16)
        type = UInt8(truncatingIfNeeded: value >> 8)
        flags = UInt8(truncatingIfNeeded: value)
        streamID = streamBits & 0x7FFF_FFFF
    }

    public var frameType: HTTP2FrameType? { HTTP2FrameType(rawValue: type) }
    public var typeName: String { HTTP2.frameTypeName(type) }
}

/// One SETTINGS parameter (RFC 9113 §6.5.1) with its registered name.
public struct HTTP2Setting: Sendable, Equatable {
    public var id: UInt16
    public var value: UInt32

    public init(id: UInt16, value: UInt32) {
        self.id = id
        self.value = value
    }

    public static let headerTableSize: UInt16 = 0x1
    public static let enablePush: UInt16 = 0x2
    public static let maxConcurrentStreams: UInt16 = 0x3
    public static let initialWindowSize: UInt16 = 0x4
    public static let maxFrameSize: UInt16 = 0x5
    public static let maxHeaderListSize: UInt16 = 0x6
    public static let enableConnectProtocol: UInt16 = 0x8
    public static let noRFC7540Priorities: UInt16 = 0x9

    /// Registered name (RFC 9113 §11.3, RFC 8441 §3, RFC 9218 §2.1).
    public static func name(of id: UInt16) -> String {
        switch id {
        case 0x1: return "HEADER_TABLE_SIZE"
        case 0x2: return "ENABLE_PUSH"
        case 0x3: return "MAX_CONCURRENT_STREAMS"
        case 0x4: return "INITIAL_WINDOW_SIZE"
        case 0x5: return "MAX_FRAME_SIZE"
        case 0x6: return "MAX_HEADER_LIST_SIZE"
        case 0x8: return "ENABLE_CONNECT_PROTOCOL"
        case 0x9: return "NO_RFC7540_PRIORITIES"
        default: return "UNKNOWN_0x" + String(id, radix: 16)
        }
    }

    public var name: String { Self.name(of: id) }
    /// `NAME=value`, as evidence lists settings.
    public var text: String { "\(name)=\(value)" }

    /// Why the value is not allowed for its parameter (RFC 9113 §6.5.2), or nil when it is.
    public var invalidReason: String? {
        switch id {
        case Self.enablePush, Self.enableConnectProtocol, Self.noRFC7540Priorities:
            return value > 1 ? "\(name) must be 0 or 1, got \(value)" : nil
        case Self.initialWindowSize:
            return value > 0x7FFF_FFFF ? "\(name) above 2^31-1: \(value)" : nil
        case Self.maxFrameSize:
            return value < 16_384 || value > 16_777_215 ? "\(name) outside 16384...16777215: \(value)" : nil
        default:
            return nil
        }
    }

    /// Parses a SETTINGS payload (6 bytes per parameter, RFC 9113 §6.5.1); nil when the
    /// length is not a multiple of 6.
    public static func parsePayload(_ payload: some Collection<UInt8>) -> [HTTP2Setting]? {
        guard payload.count % 6 == 0 else { return nil }
        var settings: [HTTP2Setting] = []
        settings.reserveCapacity(payload.count / 6)
        var entry = [UInt8]()
        entry.reserveCapacity(6)
        for byte in payload {
            entry.append(byte)
            if entry.count == 6 {
                settings.append(HTTP2Setting(sixBytes: entry))
                entry.removeAll(keepingCapacity: true)
            }
        }
        return settings
    }

    init(sixBytes b: [UInt8]) {
        id = UInt16(b[0]) << 8 | UInt16(b[1])
        value = UInt32(b[2]) << 24 | UInt32(b[3]) << 16 | UInt32(b[4]) << 8 | UInt32(b[5])
    }
}
