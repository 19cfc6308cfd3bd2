import Findings
import HTTP1
import PacketCapture
import SwitchedProtocols

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
    // MARK: Choosing the session

    static func handshakeMessage(_ head: HTTPMessageHead) -> HandshakeMessage {
        HandshakeMessage(method: head.kind == .request ? head.method : nil,
                         target: head.kind == .request ? head.target : nil, version: head.version.description,
                         status: head.kind == .response ? head.status : nil,
                         headers: head.fields.map { (name: $0.name, value: $0.value) })
    }

    /// The exchange as the switched protocols' table sees it; `response` is the head just parsed
    /// (in the current frame).
    func switchContext(_ request: PendingRequest?, _ response: HTTPMessageHead, selected: String) -> SwitchContext {
        var limits = SwitchedSessionLimits()
        limits.webSocket = options.webSocket
        limits.http2 = options.http2
        return SwitchContext(connection: connection, selectedToken: selected, protocolName: ProtocolToken(selected).name,
                             request: request.flatMap { request in request.fields.map { _ in Self.handshakeMessage(request.head) } },
                             requestFrame: request?.frame ?? frame, requestTimestamp: request?.timestamp ?? timestamp,
                             response: Self.handshakeMessage(response), responseFrame: frame, responseTimestamp: timestamp,
                             limits: limits)
    }

    /// A final response refused an upgrade offer: the offered protocols' own handshake rules
    /// still apply (`SwitchedProtocolTable.checkRefusal`).
    func checkRefusedUpgrade(_ request: PendingRequest, _ response: HTTPMessageHead) {
        let offered = request.upgradeOffered.map { ProtocolToken($0).name }
        take(SwitchedProtocolTable.checkRefusal(offered: offered, switchContext(request, response, selected: "")))
    }

    /// Starts the session the table names for the protocol the 101 selected.
    func startPostSwitchAnalysis(_ request: PendingRequest?, _ response: HTTPMessageHead) {
        let selected = response.listMembers("Upgrade").first ?? ""
        afterSwitch.expected = ProtocolSniffer.expectedProtocol(forUpgradeToken: selected)
        let start = SwitchedProtocolTable.start(switchContext(request, response, selected: selected))
        take(start.violations)
        switchRecord?.observed.entries.append(contentsOf: start.evidence.entries)
        afterSwitch.session = start.session
    }

    /// Prior-knowledge HTTP/2 (RFC 9113 §3.3): the client's first bytes are the preface.
    func startPriorKnowledgeHTTP2() {
        afterSwitch.priorKnowledge = true
        server.switched = true
        client.phase = .switched
        afterSwitch.expected = .http2
        afterSwitch.session = SwitchedProtocolTable.startPriorKnowledgeHTTP2(connection: connection, options: options.http2)
    }

    // MARK: Feeding

    func postSwitchData(fromClient: Bool, _ bytes: UnsafeRawBufferPointer) {
        guard let expected = afterSwitch.expected else {
            deliver(fromClient: fromClient, bytes)
            return
        }
        var gate = fromClient ? afterSwitch.clientGate : afterSwitch.serverGate
        defer { if fromClient { afterSwitch.clientGate = gate } else { afterSwitch.serverGate = gate } }
        switch gate.state {
        case .feeding:
            deliver(fromClient: fromClient, bytes)
        case .suppressed:
            return
        case .undecided:
            gate.held.append((Array(bytes), frame, timestamp))
            gate.heldCount += bytes.count
            let first = fromClient ? afterSwitch.firstClientBytes : afterSwitch.firstServerBytes
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
        guard let session = afterSwitch.session else { return }
        session.data(fromClient: fromClient, bytes, frame: frame, timestamp: timestamp)
        if session.hasViolations { take(session.takeViolations()) }
    }

    func postSwitchGap(fromClient: Bool, length: UInt64) {
        let gate = fromClient ? afterSwitch.clientGate : afterSwitch.serverGate
        if afterSwitch.expected != nil && gate.state != .feeding {
            // Bytes went missing before the protocol could be recognised: stop here.
            if fromClient { afterSwitch.clientGate.state = .suppressed } else { afterSwitch.serverGate.state = .suppressed }
            return
        }
        guard let session = afterSwitch.session else { return }
        session.gap(fromClient: fromClient, length: length, frame: frame, timestamp: timestamp)
        if session.hasViolations { take(session.takeViolations()) }
    }

    /// A direction ended (FIN or RST) after the switch. The session hears of it only once the
    /// gate has delivered every byte it held for that direction, so that the end follows the data.
    func postSwitchEnd(fromClient: Bool) {
        guard let session = afterSwitch.session else { return }
        let gate = fromClient ? afterSwitch.clientGate : afterSwitch.serverGate
        if afterSwitch.expected != nil && gate.state != .feeding { return }
        session.end(fromClient: fromClient, frame: frame, timestamp: timestamp)
        if session.hasViolations { take(session.takeViolations()) }
    }

    // MARK: Checks on what was seen

    /// `switch_protocol_mismatch` and `tls_upgrade_not_tls`, once per connection, as soon as the
    /// first bytes tell (and at close for whatever is still undecided).
    func checkAgreedProtocol(final: Bool) {
        guard !afterSwitch.agreedProtocolChecked, let expected = afterSwitch.expected, !afterSwitch.priorKnowledge else { return }
        let agreed = switchRecord?.response.upgrade.first ?? ""
        if expected == .tls {
            let verdict = TLSRecordCheck.evaluate(afterSwitch.firstClientBytes)
            if case .notTLS = verdict {
                afterSwitch.agreedProtocolChecked = true
                take([TLSRecordCheck.check(clientBytes: afterSwitch.firstClientBytes, frame: afterSwitch.firstClientFrame ?? frame,
                                           timestamp: timestamp, connection: connection)].compactMap { $0 })
                return
            }
            if !final { return }
        }
        let frameOfEvidence = [afterSwitch.firstClientFrame, afterSwitch.firstServerFrame].compactMap { $0 }.min() ?? frame
        if let violation = ProtocolSniffer.checkSwitch(agreedProtocol: agreed, client: afterSwitch.firstClientBytes,
                                                       server: afterSwitch.firstServerBytes, frame: frameOfEvidence,
                                                       timestamp: timestamp, connection: connection) {
            afterSwitch.agreedProtocolChecked = true
            take([violation])
        } else if final {
            afterSwitch.agreedProtocolChecked = true
        }
    }

    /// Ends the post-switch analysis: flushes held bytes, and returns what was observed for the
    /// switch record (the sniffed protocol, and the decoder's summary).
    func finishPostSwitch() -> Evidence {
        for fromClient in [true, false] {
            var gate = fromClient ? afterSwitch.clientGate : afterSwitch.serverGate
            if gate.state == .undecided && !gate.held.isEmpty {
                // The direction ended before the gate could tell: the same decision on what it sent.
                let first = fromClient ? afterSwitch.firstClientBytes : afterSwitch.firstServerBytes
                if let expected = afterSwitch.expected, isOtherProtocol(first, expected: expected, fromClient: fromClient) {
                    gate.state = .suppressed
                    gate.held.removeAll()
                } else {
                    gate.state = .feeding
                    release(&gate, fromClient: fromClient)
                }
            }
            if fromClient { afterSwitch.clientGate = gate } else { afterSwitch.serverGate = gate }
        }
        checkAgreedProtocol(final: true)
        var observed = Evidence()
        let sniffed = ProtocolSniffer.sniff(client: afterSwitch.firstClientBytes, server: afterSwitch.firstServerBytes)
        let nothingSent = afterSwitch.firstClientBytes.isEmpty && afterSwitch.firstServerBytes.isEmpty
        observed.append("protocol", .text(nothingSent ? "none" : sniffed.observed.rawValue))
        observed.append("confidence", .text(sniffed.confidence.name))
        observed.append("reason", .text(nothingSent ? "no bytes after the switch" : sniffed.reason))
        if !afterSwitch.firstClientBytes.isEmpty { observed.append("client_first_bytes", .bytes(afterSwitch.firstClientBytes)) }
        if !afterSwitch.firstServerBytes.isEmpty { observed.append("server_first_bytes", .bytes(afterSwitch.firstServerBytes)) }
        if afterSwitch.clientGate.state == .suppressed || afterSwitch.serverGate.state == .suppressed {
            observed.append("not_decoded", .text("bytes after the switch do not fit the agreed protocol; not decoded as it"))
        }
        if let session = afterSwitch.session {
            session.finish()
            take(session.takeViolations())
            observed.entries.append(contentsOf: session.evidence.entries)
        }
        return observed
    }

    func take(_ violations: [Violation]) {
        for violation in violations where options.isEnabled(violation.rule) {
            outbox.append(.violation(violation))
        }
    }
}
