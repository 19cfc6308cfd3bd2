import Findings
import HTTP1
import PacketCapture
import SwitchedProtocols

/// The decoder that follows the connection after the switch, chosen by the agreed protocol.
enum PostSwitchAnalyzer {
    case none
    case websocket(WebSocketSession)
    case http2(HTTP2Session)
    case dockerMultiplexed(DockerStreamDecoder)
}

/// Holds a direction's first post-switch bytes until they show whether they fit the agreed
/// protocol: bytes that are plainly another protocol are not decoded as the agreed one (that
/// would only report noise) — `switch_protocol_mismatch` says what they are instead.
struct SniffGate {
    enum State { case undecided, feeding, suppressed }
    var state = State.undecided
    var held: [(bytes: [UInt8], frame: UInt64, timestamp: Timestamp)] = []
    var heldCount = 0
}

extension UpgradeTracker {
    // MARK: Choosing the analyzer

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

    /// Checks a WebSocket handshake (101 or refusal) and reports what is wrong.
    func checkHandshake(_ request: PendingRequest?, _ response: HTTPMessageHead) -> WebSocketNegotiation? {
        guard Self.isWebSocket(request, response) else { return nil }
        let result = WebSocketHandshakeCheck.check(request: request.flatMap(Self.handshakeMessage),
                                                   response: Self.handshakeMessage(response))
        for finding in result.findings {
            let frame = finding.concernsResponse ? self.frame : (request?.frame ?? self.frame)
            let time = finding.concernsResponse ? timestamp : (request?.timestamp ?? timestamp)
            take([finding.violation(frame: frame, timestamp: time, connection: connection)])
        }
        return result.negotiation
    }

    /// Chooses the post-switch analyzer once the 101 is parsed.
    func startPostSwitchAnalysis(_ request: PendingRequest?, _ response: HTTPMessageHead, protocolName: String) {
        let selected = response.listMembers("Upgrade").first ?? ""
        expectedAfterSwitch = ProtocolSniffer.expectedProtocol(forUpgradeToken: selected)
        switch protocolName {
        case "websocket":
            let negotiation = checkHandshake(request, response) ?? WebSocketNegotiation()
            postSwitch = .websocket(WebSocketSession(negotiation: negotiation, connection: connection,
                                                     limits: options.webSocket))
            switchRecord?.observed.append("negotiated", .object(negotiation.evidence))
        case "h2c":
            var settings: [HTTP2Setting] = []
            if let request, let fields = request.fields {
                let check = H2CUpgradeCheck.check(requestHeaders: fields.map { (name: $0.name, value: $0.value) },
                                                  frame: request.frame, timestamp: request.timestamp,
                                                  connection: connection)
                take(check.violations)
                settings = check.settings
                for entry in check.evidence.entries { switchRecord?.observed.append(entry.key, entry.value) }
            }
            postSwitch = .http2(HTTP2Session(connection: connection, afterUpgrade: true, upgradeSettings: settings))
        case "tcp":
            // Docker's attach/exec hijack (`Upgrade: tcp`): the Content-Type says how stdout and
            // stderr are carried.
            let contentType = response.values("Content-Type").first?.lowercased() ?? ""
            if contentType.hasPrefix("application/vnd.docker.multiplexed-stream") {
                postSwitch = .dockerMultiplexed(DockerStreamDecoder(connection: connection))
                switchRecord?.observed.append("docker_stream", .text("multiplexed"))
            } else if contentType.hasPrefix("application/vnd.docker.raw-stream") {
                switchRecord?.observed.append("docker_stream", .text("raw"))
            }
        default:
            break
        }
    }

    /// Prior-knowledge HTTP/2 (RFC 9113 §3.3): the client's first bytes are the preface.
    func startPriorKnowledgeHTTP2() {
        priorKnowledge = true
        serverSwitched = true
        clientMode = .switched
        expectedAfterSwitch = .http2
        postSwitch = .http2(HTTP2Session(connection: connection, afterUpgrade: false))
    }

    // MARK: Feeding

    func postSwitchData(fromClient: Bool, _ bytes: UnsafeRawBufferPointer) {
        guard let expected = expectedAfterSwitch else {
            deliver(fromClient: fromClient, bytes)
            return
        }
        var gate = fromClient ? clientGate : serverGate
        defer { if fromClient { clientGate = gate } else { serverGate = gate } }
        switch gate.state {
        case .feeding:
            deliver(fromClient: fromClient, bytes)
        case .suppressed:
            return
        case .undecided:
            gate.held.append((Array(bytes), frame, timestamp))
            gate.heldCount += bytes.count
            let first = fromClient ? firstClientBytes : firstServerBytes
            switch Self.gateFit(expected, first, fromClient: fromClient) {
            case .undecided:
                return
            case .fits:
                gate.state = .feeding
                release(&gate, fromClient: fromClient)
            case .breaks:
                // Decided on the same bytes however TCP cut them: at least the longest signature
                // (the 24-byte HTTP/2 preface), or whatever the direction sent by its end.
                if first.count < Self.signatureBytes { return }
                // Suppressed only when the bytes are recognisably another protocol; bytes that
                // merely break the agreed one (a reserved opcode…) go to its decoder, which says how.
                if isOtherProtocol(first, expected: expected, fromClient: fromClient) {
                    gate.state = .suppressed
                    gate.held.removeAll()
                    checkAgreedProtocol(final: false)
                } else if first.count < ProtocolSniffer.maxBytes {
                    return   // too few bytes to tell what else they might be: keep holding
                } else {
                    gate.state = .feeding
                    release(&gate, fromClient: fromClient)
                }
            }
        }
    }

    /// Whether a direction's first bytes break the agreed protocol by being recognisably another.
    func isOtherProtocol(_ first: [UInt8], expected: ObservedProtocol, fromClient: Bool) -> Bool {
        guard Self.gateFit(expected, first, fromClient: fromClient) == .breaks else { return false }
        let sniffed = fromClient ? ProtocolSniffer.sniff(client: first, server: [])
                                 : ProtocolSniffer.sniff(client: [], server: first)
        return sniffed.observed != .unknown && sniffed.observed != expected && sniffed.confidence >= .medium
    }

    /// Bytes a gate waits for before it decides that a direction is another protocol.
    static let signatureBytes = 24

    /// For WebSocket, frames with the wrong mask bit still fit (the decoder reports the mask
    /// rules); only bytes that are no frame at all are kept from it.
    static func gateFit(_ expected: ObservedProtocol, _ bytes: [UInt8], fromClient: Bool) -> DirectionFit {
        let own = ProtocolSniffer.fit(expected, bytes: bytes, fromClient: fromClient)
        guard expected == .websocket, own != .fits else { return own }
        let other = ProtocolSniffer.fit(expected, bytes: bytes, fromClient: !fromClient)
        if other == .fits { return .fits }
        return own == .breaks && other == .breaks ? .breaks : .undecided
    }

    private func release(_ gate: inout SniffGate, fromClient: Bool) {
        let held = gate.held
        gate.held.removeAll()
        let savedFrame = frame, savedTimestamp = timestamp
        for chunk in held {
            frame = chunk.frame
            timestamp = chunk.timestamp
            chunk.bytes.withUnsafeBytes { deliver(fromClient: fromClient, $0) }
        }
        frame = savedFrame
        timestamp = savedTimestamp
    }

    private func deliver(fromClient: Bool, _ bytes: UnsafeRawBufferPointer) {
        switch postSwitch {
        case .none:
            return
        case .websocket(let session):
            if fromClient {
                session.clientData(bytes, frame: frame, timestamp: timestamp)
            } else {
                session.serverData(bytes, frame: frame, timestamp: timestamp)
            }
            if session.hasViolations { take(session.takeViolations()) }
        case .http2(let session):
            if fromClient {
                session.clientData(bytes, frame: frame, timestamp: timestamp)
            } else {
                session.serverData(bytes, frame: frame, timestamp: timestamp)
            }
            take(session.takeViolations())
        case .dockerMultiplexed(var decoder):
            guard !fromClient else { return }   // the client sends raw stdin
            decoder.feed(bytes, frame: frame, timestamp: timestamp)
            take(decoder.takeViolations())
            postSwitch = .dockerMultiplexed(decoder)
        }
    }

    func postSwitchGap(fromClient: Bool, length: UInt64) {
        let gate = fromClient ? clientGate : serverGate
        if expectedAfterSwitch != nil && gate.state != .feeding {
            // Bytes went missing before the protocol could be recognised: stop here.
            if fromClient { clientGate.state = .suppressed } else { serverGate.state = .suppressed }
            return
        }
        switch postSwitch {
        case .none:
            return
        case .websocket(let session):
            session.gap(fromClient: fromClient, length: length, frame: frame, timestamp: timestamp)
            if session.hasViolations { take(session.takeViolations()) }
        case .http2(let session):
            if fromClient {
                session.clientGap(length: length, frame: frame, timestamp: timestamp)
            } else {
                session.serverGap(length: length, frame: frame, timestamp: timestamp)
            }
            take(session.takeViolations())
        case .dockerMultiplexed(var decoder):
            guard !fromClient else { return }
            decoder.gap(length: length)
            postSwitch = .dockerMultiplexed(decoder)
        }
    }

    // MARK: Checks on what was seen

    /// `switch_protocol_mismatch` and `tls_upgrade_not_tls`, once per connection, as soon as the
    /// first bytes tell (and at close for whatever is still undecided).
    func checkAgreedProtocol(final: Bool) {
        guard !agreedProtocolChecked, let expected = expectedAfterSwitch, !priorKnowledge else { return }
        let agreed = switchRecord?.response.upgrade.first ?? ""
        if expected == .tls {
            let verdict = TLSRecordCheck.evaluate(firstClientBytes)
            if case .notTLS = verdict {
                agreedProtocolChecked = true
                take([TLSRecordCheck.check(clientBytes: firstClientBytes, frame: firstClientFrame ?? frame,
                                           timestamp: timestamp, connection: connection)].compactMap { $0 })
                return
            }
            if !final { return }
        }
        let frameOfEvidence = [firstClientFrame, firstServerFrame].compactMap { $0 }.min() ?? frame
        if let violation = ProtocolSniffer.checkSwitch(agreedProtocol: agreed, client: firstClientBytes,
                                                       server: firstServerBytes, frame: frameOfEvidence,
                                                       timestamp: timestamp, connection: connection) {
            agreedProtocolChecked = true
            take([violation])
        } else if final {
            agreedProtocolChecked = true
        }
    }

    /// Ends the post-switch analysis: flushes held bytes, and returns what was observed for the
    /// switch record (the sniffed protocol, and the decoder's summary).
    func finishPostSwitch() -> Evidence {
        for fromClient in [true, false] {
            var gate = fromClient ? clientGate : serverGate
            if gate.state == .undecided && !gate.held.isEmpty {
                // The direction ended before the gate could tell: the same decision on what it sent.
                let first = fromClient ? firstClientBytes : firstServerBytes
                if let expected = expectedAfterSwitch, isOtherProtocol(first, expected: expected, fromClient: fromClient) {
                    gate.state = .suppressed
                    gate.held.removeAll()
                } else {
                    gate.state = .feeding
                    release(&gate, fromClient: fromClient)
                }
            }
            if fromClient { clientGate = gate } else { serverGate = gate }
        }
        checkAgreedProtocol(final: true)
        var observed = Evidence()
        let sniffed = ProtocolSniffer.sniff(client: firstClientBytes, server: firstServerBytes)
        let nothingSent = firstClientBytes.isEmpty && firstServerBytes.isEmpty
        observed.append("protocol", .text(nothingSent ? "none" : sniffed.observed.rawValue))
        observed.append("confidence", .text(sniffed.confidence.name))
        observed.append("reason", .text(nothingSent ? "no bytes after the switch" : sniffed.reason))
        if !firstClientBytes.isEmpty { observed.append("client_first_bytes", .bytes(firstClientBytes)) }
        if !firstServerBytes.isEmpty { observed.append("server_first_bytes", .bytes(firstServerBytes)) }
        if clientGate.state == .suppressed || serverGate.state == .suppressed {
            observed.append("not_decoded", .text("bytes after the switch do not fit the agreed protocol; not decoded as it"))
        }
        switch postSwitch {
        case .none:
            break
        case .websocket(let session):
            session.finish()
            take(session.takeViolations())
            observed.append("websocket", .object(session.summary))
            if let inner = session.observedInner { observed.append("observed_inner", .object(inner.evidence)) }
        case .http2(let session):
            session.finish()
            take(session.takeViolations())
            observed.append("http2", .object(session.summary))
        case .dockerMultiplexed(var decoder):
            decoder.finish()
            take(decoder.takeViolations())
            observed.append("docker", .object(decoder.summary))
            postSwitch = .dockerMultiplexed(decoder)
        }
        return observed
    }

    func take(_ violations: [Violation]) {
        for violation in violations where options.isEnabled(violation.rule) {
            outbox.append(.violation(violation))
        }
    }
}
