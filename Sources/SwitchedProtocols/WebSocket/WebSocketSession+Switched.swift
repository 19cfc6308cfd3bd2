import Findings
import PacketCapture

extension WebSocketSession: SwitchedSession {
    public func data(fromClient: Bool, _ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        if fromClient {
            clientData(bytes, frame: frame, timestamp: timestamp)
        } else {
            serverData(bytes, frame: frame, timestamp: timestamp)
        }
    }

    /// The traffic summary, and what the first messages carried inside when the sniffers know it.
    public var evidence: Evidence {
        var evidence: Evidence = ["websocket": .object(summary)]
        if let inner = observedInner { evidence.append("observed_inner", .object(inner.evidence)) }
        return evidence
    }

    /// A 101 to `websocket`: the opening handshake is checked (RFC 6455 §4) and frames are
    /// decoded with what it negotiated.
    @Sendable static func start(_ context: SwitchContext) -> SwitchStart {
        let (violations, negotiation) = checkHandshake(context)
        return SwitchStart(session: WebSocketSession(negotiation: negotiation, connection: context.connection,
                                                     limits: context.limits.webSocket),
                           violations: violations, evidence: ["negotiated": .object(negotiation.evidence)])
    }

    /// A refused WebSocket offer still has handshake rules (a key, a version…).
    @Sendable static func checkRefusal(_ context: SwitchContext) -> [Violation] {
        checkHandshake(context).violations
    }

    private static func checkHandshake(_ context: SwitchContext) -> (violations: [Violation], negotiation: WebSocketNegotiation) {
        let result = WebSocketHandshakeCheck.check(request: context.request, response: context.response)
        let violations = result.findings.map { finding in
            finding.violation(frame: finding.concernsResponse ? context.responseFrame : context.requestFrame,
                              timestamp: finding.concernsResponse ? context.responseTimestamp : context.requestTimestamp,
                              connection: context.connection)
        }
        return (violations, result.negotiation)
    }
}
