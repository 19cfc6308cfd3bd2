import Findings
import HTTP1
import PacketCapture
import SwitchedProtocols

/// The analyzer that follows the connection after the switch, chosen by the agreed protocol.
enum PostSwitchAnalyzer {
    case none
    case websocket(WebSocketSession)
}

extension UpgradeTracker {
    /// The request and response as the WebSocket handshake check reads them (every field, in order).
    static func handshakeMessage(_ head: HTTPMessageHead) -> WebSocketHandshakeMessage {
        WebSocketHandshakeMessage(method: head.kind == .request ? head.method : nil, version: head.version.description,
                                  status: head.kind == .response ? head.status : nil,
                                  headers: head.fields.map { (name: $0.name, value: $0.value) })
    }

    static func handshakeMessage(_ request: PendingRequest) -> WebSocketHandshakeMessage? {
        guard let fields = request.fields else { return nil }
        return WebSocketHandshakeMessage(method: request.method, version: request.version.description, status: nil,
                                         headers: fields.map { (name: $0.name, value: $0.value) })
    }

    /// Whether the exchange is a WebSocket opening handshake (RFC 6455 §4): a 101 that selects
    /// websocket, or a refusal of a request that offered it.
    static func isWebSocket(_ request: PendingRequest?, _ response: HTTPMessageHead) -> Bool {
        if response.status == 101 {
            return response.listMembers("Upgrade").first.map { ProtocolToken($0).name == "websocket" } ?? false
        }
        return request?.upgradeOffered.contains { ProtocolToken($0).name == "websocket" } ?? false
    }

    /// Checks the handshake of an upgrade (101 or declined) and reports what is wrong.
    func checkHandshake(_ request: PendingRequest?, _ response: HTTPMessageHead) -> WebSocketNegotiation? {
        guard Self.isWebSocket(request, response) else { return nil }
        let result = WebSocketHandshakeCheck.check(request: request.flatMap(Self.handshakeMessage),
                                                   response: Self.handshakeMessage(response))
        for finding in result.findings where options.isEnabled(finding.rule) {
            let frame = finding.concernsResponse ? self.frame : (request?.summary.frame ?? self.frame)
            let time = finding.concernsResponse ? timestamp : (request?.summary.timestamp ?? timestamp)
            outbox.append(.violation(finding.violation(frame: frame, timestamp: time, connection: connection)))
        }
        return result.negotiation
    }

    /// Chooses the post-switch analyzer once the 101 is parsed.
    func startPostSwitchAnalysis(_ request: PendingRequest?, _ response: HTTPMessageHead, protocolName: String) {
        if let negotiation = checkHandshake(request, response), protocolName == "websocket" {
            postSwitch = .websocket(WebSocketSession(negotiation: negotiation, connection: connection))
        }
    }

    func postSwitchData(fromClient: Bool, _ bytes: UnsafeRawBufferPointer) {
        switch postSwitch {
        case .none:
            return
        case .websocket(let session):
            if fromClient {
                session.clientData(bytes, frame: frame, timestamp: timestamp)
            } else {
                session.serverData(bytes, frame: frame, timestamp: timestamp)
            }
            if session.hasViolations { takePostSwitchFindings(session.takeViolations()) }
        }
    }

    func postSwitchGap(fromClient: Bool, length: UInt64) {
        switch postSwitch {
        case .none:
            return
        case .websocket(let session):
            session.gap(fromClient: fromClient, length: length, frame: frame, timestamp: timestamp)
            if session.hasViolations { takePostSwitchFindings(session.takeViolations()) }
        }
    }

    /// Ends the post-switch analysis; its summary goes into the switch record.
    func finishPostSwitch() -> (name: String, summary: Evidence)? {
        switch postSwitch {
        case .none:
            return nil
        case .websocket(let session):
            session.finish()
            takePostSwitchFindings(session.takeViolations())
            return ("websocket", session.summary)
        }
    }

    private func takePostSwitchFindings(_ violations: [Violation]) {
        for violation in violations where options.isEnabled(violation.rule) {
            outbox.append(.violation(violation))
        }
    }
}
