import Findings
import PacketCapture

/// Docker's attach/exec hijack (`Upgrade: tcp`, Engine API): the 101's Content-Type says how
/// stdout and stderr are carried. Only the multiplexed stream has frames to decode; the client
/// always sends raw stdin.
public final class DockerStreamSession: SwitchedSession {
    public private(set) var decoder: DockerStreamDecoder

    public init(connection: ConnectionRef?) {
        decoder = DockerStreamDecoder(connection: connection)
    }

    @Sendable static func start(_ context: SwitchContext) -> SwitchStart {
        let contentType = context.response.values("Content-Type").first?.lowercased() ?? ""
        if contentType.hasPrefix("application/vnd.docker.multiplexed-stream") {
            return SwitchStart(session: DockerStreamSession(connection: context.connection),
                               evidence: ["docker_stream": .text("multiplexed")])
        }
        if contentType.hasPrefix("application/vnd.docker.raw-stream") {
            return SwitchStart(evidence: ["docker_stream": .text("raw")])
        }
        return SwitchStart()
    }

    public func data(fromClient: Bool, _ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        guard !fromClient else { return }
        decoder.feed(bytes, frame: frame, timestamp: timestamp)
    }

    public func gap(fromClient: Bool, length: UInt64, frame: UInt64, timestamp: Timestamp) {
        guard !fromClient else { return }
        decoder.gap(length: length)
    }

    public func finish() { decoder.finish() }
    public var hasViolations: Bool { !decoder.outbox.isEmpty }
    public func takeViolations() -> [Violation] { decoder.takeViolations() }
    public var evidence: Evidence { ["docker": .object(decoder.summary)] }
}
