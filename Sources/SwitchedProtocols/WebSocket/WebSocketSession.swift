import Findings
import PacketCapture

/// Counts for one direction of a WebSocket connection.
public struct WebSocketDirectionStatistics: Sendable, Equatable {
    /// Post-switch bytes seen (gaps not included).
    public var bytes: UInt64 = 0
    public var gapBytes: UInt64 = 0
    /// Frames whose payload was complete (what tshark counts).
    public var frames: UInt64 = 0
    /// Indexed by opcode (0…15).
    public var framesByOpcode: [UInt64] = Array(repeating: 0, count: 16)
    /// Complete data messages (by their first frame's opcode) and control frames.
    public var messagesByOpcode: [UInt64] = Array(repeating: 0, count: 16)
    public var payloadBytes: UInt64 = 0
    /// Messages whose first frame set a negotiated RSV bit (permessage-deflate); those inflated
    /// are counted by the decoder (`inflatedMessages`) and UTF-8-checked after inflation.
    public var compressedMessages: UInt64 = 0
    /// The first Close frame this side sent.
    public var closeCode: UInt16?
    public var closeReason: String?
    public var closeFrame: UInt64?
    public var sentClose = false
    /// Stream offset of the gap that stopped decoding.
    public var decodingStoppedAt: UInt64?
    /// At `finish`: the stream ended inside a frame / inside a fragmented message.
    public var endedInsideFrame = false
    public var endedInsideMessage = false

    public init() {}

    public var messages: UInt64 { messagesByOpcode.reduce(0, &+) }
}

/// Audits both directions of one WebSocket connection after its 101 (RFC 6455 §5–§8):
/// decodes frames, turns broken rules into `Violation`s (at most `maxFindingsPerRule` per rule,
/// then one `analyzer_limit_reached` note) and summarises the traffic as `Evidence`.
///
/// A final class so the caller can keep one per connection and feed it from stream callbacks.
public final class WebSocketSession {
    public struct Limits: Sendable {
        public var maxFindingsPerRule: Int
        /// Inflated bytes per permessage-deflate message (`websocket_decompression_bomb` beyond).
        public var maxInflatedMessageBytes: Int
        /// Shared by the sessions of one analysis thread; nil: no bound across connections.
        public var inflaterMemory: InflaterMemoryBudget?

        public init(maxFindingsPerRule: Int = 100,
                    maxInflatedMessageBytes: Int = WebSocketInflation.defaultMaxMessageBytes,
                    inflaterMemory: InflaterMemoryBudget? = nil) {
            self.maxFindingsPerRule = maxFindingsPerRule
            self.maxInflatedMessageBytes = maxInflatedMessageBytes
            self.inflaterMemory = inflaterMemory
        }
    }

    public let negotiation: WebSocketNegotiation
    public let connection: ConnectionRef?
    public let limits: Limits

    private var clientDecoder: WebSocketFrameDecoder
    private var serverDecoder: WebSocketFrameDecoder
    public private(set) var clientStatistics = WebSocketDirectionStatistics()
    public private(set) var serverStatistics = WebSocketDirectionStatistics()
    /// `client` or `server`: who sent a Close frame first.
    public private(set) var closedFirst: String?

    private var outbox: [Violation] = []
    private var reportedPerRule: [String: Int] = [:]
    /// Findings counted but not reported after a rule's limit, by rule id.
    public private(set) var suppressedPerRule: [String: UInt64] = [:]

    public init(negotiation: WebSocketNegotiation = WebSocketNegotiation(), connection: ConnectionRef? = nil,
                limits: Limits = Limits()) {
        self.negotiation = negotiation
        self.connection = connection
        self.limits = limits
        clientDecoder = WebSocketFrameDecoder(
            configuration: .init(fromClient: true, negotiation: negotiation, maxInflatedMessageBytes: limits.maxInflatedMessageBytes),
            inflaterMemory: limits.inflaterMemory)
        serverDecoder = WebSocketFrameDecoder(
            configuration: .init(fromClient: false, negotiation: negotiation, maxInflatedMessageBytes: limits.maxInflatedMessageBytes),
            inflaterMemory: limits.inflaterMemory)
    }

    // MARK: Input

    /// Post-switch client bytes (valid only during the call; not retained).
    public func clientData(_ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        clientStatistics.bytes &+= UInt64(bytes.count)
        var index = 0
        while let event = clientDecoder.next(in: bytes, at: &index) {
            handle(event, fromClient: true, frame: frame, timestamp: timestamp)
        }
    }

    /// Post-switch server bytes (valid only during the call; not retained).
    public func serverData(_ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        serverStatistics.bytes &+= UInt64(bytes.count)
        var index = 0
        while let event = serverDecoder.next(in: bytes, at: &index) {
            handle(event, fromClient: false, frame: frame, timestamp: timestamp)
        }
    }

    public func clientData(_ bytes: [UInt8], frame: UInt64, timestamp: Timestamp) {
        bytes.withUnsafeBytes { clientData($0, frame: frame, timestamp: timestamp) }
    }

    public func serverData(_ bytes: [UInt8], frame: UInt64, timestamp: Timestamp) {
        bytes.withUnsafeBytes { serverData($0, frame: frame, timestamp: timestamp) }
    }

    /// `length` bytes of one direction are missing (see `WebSocketFrameDecoder.gap`).
    public func gap(fromClient: Bool, length: UInt64, frame: UInt64, timestamp: Timestamp) {
        if fromClient {
            clientStatistics.gapBytes &+= length
            clientDecoder.gap(length: length)
            while let event = clientDecoder.nextPendingEvent() {
                handle(event, fromClient: true, frame: frame, timestamp: timestamp)
            }
        } else {
            serverStatistics.gapBytes &+= length
            serverDecoder.gap(length: length)
            while let event = serverDecoder.nextPendingEvent() {
                handle(event, fromClient: false, frame: frame, timestamp: timestamp)
            }
        }
    }

    /// The connection ended: notes frames and messages left unfinished (for the summary).
    public func finish() {
        clientStatistics.endedInsideFrame = clientDecoder.current != nil || clientDecoder.partialHeaderBytes > 0
        clientStatistics.endedInsideMessage = clientDecoder.inFragmentedMessage
        serverStatistics.endedInsideFrame = serverDecoder.current != nil || serverDecoder.partialHeaderBytes > 0
        serverStatistics.endedInsideMessage = serverDecoder.inFragmentedMessage
    }

    // MARK: Output

    /// Violations produced so far and not yet taken.
    public func takeViolations() -> [Violation] {
        var taken: [Violation] = []
        swap(&taken, &outbox)
        return taken
    }

    public var hasViolations: Bool { !outbox.isEmpty }

    /// The first bytes of each direction's first data message, unmasked (and inflated, when it
    /// was compressed with permessage-deflate and could be inflated).
    public var firstMessageBytes: (client: [UInt8], server: [UInt8]) {
        (clientDecoder.firstMessageBytes, serverDecoder.firstMessageBytes)
    }

    /// What a tunnel carried inside WebSocket messages says it is (SSH, TLS, HTTP…), when the
    /// sniffers recognise the first message of either direction; nil otherwise.
    public var observedInner: SniffResult? {
        let (client, server) = firstMessageBytes
        guard !client.isEmpty || !server.isEmpty else { return nil }
        let result = ProtocolSniffer.sniff(client: client, server: server)
        guard result.observed != .unknown, result.observed != .websocket, result.confidence >= .medium else { return nil }
        return result
    }

    /// Total frames both ways (tshark's WebSocket frame count).
    public var totalFrames: UInt64 { clientStatistics.frames &+ serverStatistics.frames }

    /// For the switch record's "observed" evidence. Zero counts are left out.
    public var summary: Evidence {
        var evidence = negotiation.evidence
        for (prefix, statistics, decoder) in [("client", clientStatistics, clientDecoder),
                                              ("server", serverStatistics, serverDecoder)] {
            evidence.append("\(prefix)_frames", .integer(Int64(clamping: statistics.frames)))
            for opcode in 0..<16 where statistics.framesByOpcode[opcode] > 0 {
                evidence.append("\(prefix)_frames_\(WebSocketFrameHeader.opcodeName(UInt8(opcode)))",
                                .integer(Int64(clamping: statistics.framesByOpcode[opcode])))
            }
            evidence.append("\(prefix)_messages", .integer(Int64(clamping: statistics.messages)))
            for opcode in 0..<16 where statistics.messagesByOpcode[opcode] > 0 {
                evidence.append("\(prefix)_messages_\(WebSocketFrameHeader.opcodeName(UInt8(opcode)))",
                                .integer(Int64(clamping: statistics.messagesByOpcode[opcode])))
            }
            evidence.append("\(prefix)_bytes", .integer(Int64(clamping: statistics.bytes)))
            evidence.append("\(prefix)_payload_bytes", .integer(Int64(clamping: statistics.payloadBytes)))
            if statistics.gapBytes > 0 { evidence.append("\(prefix)_gap_bytes", .integer(Int64(clamping: statistics.gapBytes))) }
            if statistics.compressedMessages > 0 || negotiation.permessageDeflate != nil {
                evidence.append("\(prefix)_compressed_messages", .integer(Int64(clamping: statistics.compressedMessages)))
            }
            if decoder.configuration.inflation != nil && statistics.compressedMessages > 0 {
                evidence.append("\(prefix)_inflated_messages", .integer(Int64(clamping: decoder.inflatedMessages)))
                evidence.append("\(prefix)_inflated_bytes", .integer(Int64(clamping: decoder.inflatedBytes)))
            }
            if let reason = decoder.inflationStopped { evidence.append("\(prefix)_inflation_stopped", .text(reason)) }
            if let code = statistics.closeCode { evidence.append("\(prefix)_close_code", .integer(Int64(code))) }
            // A close frame without a status code (RFC 6455 §5.5.1): a flag of its own, so that
            // `*_close_code` is always a number.
            if statistics.sentClose && statistics.closeCode == nil { evidence.append("\(prefix)_close_without_code", .flag(true)) }
            if let reason = statistics.closeReason, !reason.isEmpty { evidence.append("\(prefix)_close_reason", .text(reason)) }
            if let offset = statistics.decodingStoppedAt {
                evidence.append("\(prefix)_decoding_stopped", .text("decoding stopped after a gap at offset \(offset)"))
            }
            if statistics.endedInsideFrame { evidence.append("\(prefix)_ended_inside_frame", .flag(true)) }
            if statistics.endedInsideMessage { evidence.append("\(prefix)_ended_inside_message", .flag(true)) }
        }
        if let closedFirst { evidence.append("closed_first", .text(closedFirst)) }
        let suppressed = suppressedPerRule.values.reduce(0, &+)
        if suppressed > 0 { evidence.append("findings_suppressed", .integer(Int64(clamping: suppressed))) }
        return evidence
    }

    // MARK: Events

    private func handle(_ event: WebSocketFrameEvent, fromClient: Bool, frame: UInt64, timestamp: Timestamp) {
        switch event {
        case .frameStart:
            break
        case .issue(let issue, let header):
            var evidence: Evidence = ["opcode": .text(header.opcodeName), "fin": .flag(header.fin),
                                      "payload_length": header.payloadLength <= UInt64(Int64.max)
                                          ? .integer(Int64(header.payloadLength)) : .text(String(header.payloadLength)),
                                      "stream_offset": .integer(Int64(clamping: header.offset)),
                                      "header_bytes": .bytes(header.bytes)]
            for entry in issue.evidence.entries { evidence.append(entry.key, entry.value) }
            report(issue.rule, issue.message(header), evidence, fromClient: fromClient, frame: frame, timestamp: timestamp)
        case .frameEnd(let header):
            update(fromClient) { statistics in
                statistics.frames &+= 1
                statistics.framesByOpcode[Int(header.opcode)] &+= 1
                statistics.payloadBytes &+= header.payloadLength
                if header.isControl { statistics.messagesByOpcode[Int(header.opcode)] &+= 1 }
            }
            if header.opcode == 8 { noteClose(header, fromClient: fromClient, frame: frame) }
        case .messageEnd(let opcode, _, let compressed):
            update(fromClient) { statistics in
                statistics.messagesByOpcode[Int(opcode & 0xF)] &+= 1
                if compressed { statistics.compressedMessages &+= 1 }
            }
        case .decodingStopped(let offset):
            update(fromClient) { $0.decodingStoppedAt = offset }
        }
    }

    private func noteClose(_ header: WebSocketFrameHeader, fromClient: Bool, frame: UInt64) {
        let statistics = fromClient ? clientStatistics : serverStatistics
        guard !statistics.sentClose else { return }
        let decoder = fromClient ? clientDecoder : serverDecoder
        let payload = decoder.controlPayload
        let incomplete = decoder.controlPayloadIncomplete
        update(fromClient) { statistics in
            statistics.sentClose = true
            statistics.closeFrame = frame
            if payload.count >= 2 {
                statistics.closeCode = UInt16(payload[0]) << 8 | UInt16(payload[1])
                statistics.closeReason = String(decoding: payload[2...], as: UTF8.self) + (incomplete ? "…" : "")
            }
        }
        if closedFirst == nil { closedFirst = fromClient ? "client" : "server" }
    }

    private func update(_ fromClient: Bool, _ body: (inout WebSocketDirectionStatistics) -> Void) {
        if fromClient { body(&clientStatistics) } else { body(&serverStatistics) }
    }

    private func report(_ rule: Rule, _ message: String, _ evidence: Evidence, fromClient: Bool, frame: UInt64,
                        timestamp: Timestamp) {
        let direction = fromClient ? "client_to_server" : "server_to_client"
        let reported = reportedPerRule[rule.id, default: 0]
        if reported < limits.maxFindingsPerRule {
            reportedPerRule[rule.id] = reported + 1
            outbox.append(Violation(rule: rule, message: message, timestamp: timestamp, frame: frame, direction: direction,
                                    connection: connection, evidence: evidence))
            return
        }
        let suppressed = suppressedPerRule[rule.id, default: 0]
        suppressedPerRule[rule.id] = suppressed &+ 1
        if suppressed == 0 {
            outbox.append(Violation(
                rule: .analyzerLimitReached,
                message: "More than \(limits.maxFindingsPerRule) \(rule.id) findings on this WebSocket connection; further ones are counted in the summary, not reported.",
                timestamp: timestamp, frame: frame, direction: direction, connection: connection,
                evidence: ["limit": .text("websocket_findings_per_rule"), "rule": .text(rule.id),
                           "max": .integer(Int64(limits.maxFindingsPerRule))]))
        }
    }
}

extension WebSocketHandshakeFinding {
    /// As a `Violation`, given the frame and timestamp of the message it concerns.
    public func violation(frame: UInt64, timestamp: Timestamp, connection: ConnectionRef?) -> Violation {
        Violation(rule: rule, message: message, timestamp: timestamp, frame: frame,
                  direction: concernsResponse ? "server_to_client" : "client_to_server",
                  connection: connection, evidence: evidence)
    }
}
