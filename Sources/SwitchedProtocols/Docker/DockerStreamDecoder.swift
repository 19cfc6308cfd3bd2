import Findings
import PacketCapture

/// Docker's multiplexed attach/exec stream (Engine API "Attach to a container", stream
/// format): each frame is an 8-byte header — stream id (0 stdin, 1 stdout, 2 stderr), three
/// zero bytes, big-endian payload length — then the payload. Used when the container has no
/// TTY. Payloads are skipped without copying; a bad header ends decoding, since frame
/// boundaries are lost after it.
public struct DockerStreamDecoder: Sendable {
    public let direction: String
    public let connection: ConnectionRef?
    /// Frames per stream id 0, 1, 2.
    public private(set) var framesByStream: [UInt64] = [0, 0, 0]
    public private(set) var payloadBytesByStream: [UInt64] = [0, 0, 0]
    public private(set) var stopReason: String?
    public private(set) var incompleteFrameAtEnd = false
    /// Bytes consumed.
    public private(set) var offset: UInt64 = 0

    var header: [UInt8] = []
    var currentStream = 0
    var payloadRemaining: UInt64 = 0
    var outbox: [Violation] = []

    public init(direction: String = HTTP2Session.serverDirection, connection: ConnectionRef? = nil) {
        self.direction = direction
        self.connection = connection
        header.reserveCapacity(8)
    }

    public var isStopped: Bool { stopReason != nil }
    public var frames: UInt64 { framesByStream.reduce(0, &+) }

    public mutating func feed(_ bytes: [UInt8], frame: UInt64, timestamp: Timestamp) {
        bytes.withUnsafeBytes { feed($0, frame: frame, timestamp: timestamp) }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        var index = 0
        while index < bytes.count && stopReason == nil {
            if payloadRemaining > 0 {
                let take = Int(min(payloadRemaining, UInt64(bytes.count - index)))
                payloadRemaining -= UInt64(take)
                payloadBytesByStream[currentStream] &+= UInt64(take)
                index += take
                offset &+= UInt64(take)
                continue
            }
            let take = min(8 - header.count, bytes.count - index)
            header.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
            index += take
            offset &+= UInt64(take)
            guard header.count == 8 else { continue }
            if header[0] > 2 || header[1] != 0 || header[2] != 0 || header[3] != 0 {
                let problem = header[0] > 2 ? "stream id \(header[0]) is not 0, 1 or 2" : "reserved bytes are not zero"
                outbox.append(Violation(
                    rule: .dockerBadStreamHeader,
                    message: "A Docker multiplexed stream header at offset \(offset - 8) is invalid: \(problem).",
                    timestamp: timestamp, frame: frame, direction: direction, connection: connection,
                    evidence: ["offset": .integer(Int64(clamping: offset - 8)), "header_bytes": .bytes(header)]))
                stopReason = "bad stream header at offset \(offset - 8)"
                return
            }
            currentStream = Int(header[0])
            payloadRemaining = UInt64(header[4]) << 24 | UInt64(header[5]) << 16 | UInt64(header[6]) << 8 | UInt64(header[7])
            framesByStream[currentStream] &+= 1
            header.removeAll(keepingCapacity: true)
        }
    }

    /// Missing bytes: harmless inside a payload, fatal to framing elsewhere.
    public mutating func gap(length: UInt64) {
        guard stopReason == nil else { return }
        if header.isEmpty && length <= payloadRemaining {
            payloadRemaining -= length
            offset &+= length
            return
        }
        stopReason = "decoding stopped after a gap at offset \(offset)"
    }

    public mutating func finish() {
        if stopReason == nil && (payloadRemaining > 0 || !header.isEmpty) { incompleteFrameAtEnd = true }
    }

    public mutating func takeViolations() -> [Violation] {
        var taken: [Violation] = []
        swap(&taken, &outbox)
        return taken
    }

    public var summary: Evidence {
        var evidence: Evidence = [
            "docker_frames_stdin": .integer(Int64(clamping: framesByStream[0])),
            "docker_frames_stdout": .integer(Int64(clamping: framesByStream[1])),
            "docker_frames_stderr": .integer(Int64(clamping: framesByStream[2])),
            "docker_payload_bytes": .integer(Int64(clamping: payloadBytesByStream.reduce(0, &+))),
        ]
        if incompleteFrameAtEnd { evidence.append("docker_incomplete_frame", .flag(true)) }
        if let stopReason { evidence.append("docker_stopped", .text(stopReason)) }
        return evidence
    }
}
