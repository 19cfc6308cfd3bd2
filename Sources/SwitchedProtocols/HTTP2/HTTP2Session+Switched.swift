import Findings
import PacketCapture

extension HTTP2Session: SwitchedSession {
    public func data(fromClient: Bool, _ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        if fromClient {
            clientData(bytes, frame: frame, timestamp: timestamp)
        } else {
            serverData(bytes, frame: frame, timestamp: timestamp)
        }
    }

    public func gap(fromClient: Bool, length: UInt64, frame: UInt64, timestamp: Timestamp) {
        if fromClient {
            clientGap(length: length, frame: frame, timestamp: timestamp)
        } else {
            serverGap(length: length, frame: frame, timestamp: timestamp)
        }
    }

    public var evidence: Evidence { ["http2": .object(summary)] }

    /// A 101 to `h2c` (RFC 7540 §3.2): the request's `HTTP2-Settings` are checked and become the
    /// client's first settings; the server's first bytes must be its SETTINGS. The request
    /// itself becomes stream 1 of the request list.
    @Sendable static func startAfterUpgrade(_ context: SwitchContext) -> SwitchStart {
        var start = SwitchStart()
        var settings: [HTTP2Setting] = []
        if let request = context.request {
            let check = H2CUpgradeCheck.check(requestHeaders: request.headers, frame: context.requestFrame,
                                              timestamp: context.requestTimestamp, connection: context.connection)
            start.violations = check.violations
            start.evidence = check.evidence
            settings = check.settings
        }
        start.session = HTTP2Session(connection: context.connection, afterUpgrade: true, upgradeSettings: settings,
                                     upgradeRequest: context.request, options: context.limits.http2)
        return start
    }
}
