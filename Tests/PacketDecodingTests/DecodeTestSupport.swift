import PacketCapture
import PacketDecoding
import TestSupport
import XCTest

/// A decode outcome with the payload copied out, so tests can compare it after the bytes are gone.
enum Decoded: Equatable, CustomStringConvertible {
    case tcp(Segment)
    case skipped(SkipReason)

    struct Segment: Equatable {
        var source: String
        var destination: String
        var sequenceNumber: UInt32
        var acknowledgmentNumber: UInt32
        var flags: UInt8
        var window: UInt16
        var payload: [UInt8]
        var missingPayloadLength: Int
    }

    init(_ outcome: DecodeOutcome) {
        switch outcome {
        case .tcp(let segment):
            self = .tcp(Segment(source: segment.source.description, destination: segment.destination.description,
                                sequenceNumber: segment.sequenceNumber,
                                acknowledgmentNumber: segment.acknowledgmentNumber,
                                flags: segment.flags.rawValue, window: segment.window,
                                payload: Array(segment.payload), missingPayloadLength: segment.missingPayloadLength))
        case .skipped(let reason):
            self = .skipped(reason)
        }
    }

    var segment: Segment? {
        if case .tcp(let segment) = self { return segment }
        return nil
    }

    var description: String {
        switch self {
        case .tcp(let s):
            return "tcp \(s.source) > \(s.destination) seq \(s.sequenceNumber) ack \(s.acknowledgmentNumber) "
                + "flags \(s.flags) win \(s.window) payload \(s.payload.count) missing \(s.missingPayloadLength)"
        case .skipped(let reason):
            return "skipped \(reason.name)"
        }
    }
}

extension PacketDecoder {
    /// Decodes `bytes` as one frame of `linkType`, counting it.
    mutating func decode(_ linkType: LinkType, _ bytes: [UInt8], originalLength: Int? = nil) -> Decoded {
        bytes.withUnsafeBytes { buffer in
            Decoded(decode(linkType: linkType, bytes: buffer, originalLength: originalLength))
        }
    }
}

/// Decodes one frame with a fresh decoder.
func decodeOnce(_ linkType: LinkType, _ bytes: [UInt8], originalLength: Int? = nil) -> Decoded {
    var decoder = PacketDecoder()
    return decoder.decode(linkType, bytes, originalLength: originalLength)
}

typealias Flag = PacketBuilder.TCPFlagBits
