import Findings
import PacketCapture

/// A decoder of one switched connection: what follows the 101's blank line (RFC 9110 §15.2.2),
/// or a prior-knowledge HTTP/2 connection (RFC 9113 §3.3), in both directions.
///
/// The upgrade tracker knows no protocol by name: it asks `SwitchedProtocolTable` for a session
/// when the switch is agreed, feeds it every post-switch byte, gap and the end, collects its
/// violations as they appear, and puts its evidence in the switch record when the connection
/// closes. A new protocol is one file with a conforming type and one entry in the table, the
/// way Zeek's `HTTP::upgrade_analyzers` maps tokens to analyzers.
///
/// Class-bound: the tracker keeps one per connection and feeds it in place from stream
/// callbacks, without copying decoder state on every chunk.
public protocol SwitchedSession: AnyObject {
    /// Bytes one direction sent after the switch, in stream order.
    func data(fromClient: Bool, _ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp)
    /// Bytes of one direction that the capture lost (`length` of them).
    func gap(fromClient: Bool, length: UInt64, frame: UInt64, timestamp: Timestamp)
    /// One direction ended in the stream: its FIN or an RST was reached in order, so its
    /// receiver saw it end there (RFC 9293 §3.6, §3.10.7). Not called when the capture merely
    /// stops; `finish` follows in every case. Sessions that need not tell the two apart keep the
    /// default, which does nothing.
    func end(fromClient: Bool, frame: UInt64, timestamp: Timestamp)
    /// Both directions are over: notes what was left unfinished.
    func finish()
    /// Whether `takeViolations` has something (asked after every chunk: keep it cheap).
    var hasViolations: Bool { get }
    /// The rules broken since the last call.
    func takeViolations() -> [Violation]
    /// What the session saw, for the switch record's `observed` object (after `finish`).
    var evidence: Evidence { get }
}

extension SwitchedSession {
    public func end(fromClient: Bool, frame: UInt64, timestamp: Timestamp) {}
}

/// What a session is started from: the exchange that agreed on the switch.
public struct SwitchContext: Sendable {
    public var connection: ConnectionRef
    /// The protocol the 101 selected (its first `Upgrade` member), as sent.
    public var selectedToken: String
    /// Its name without version, lowercased (`ProtocolToken.name`): the table's key.
    public var protocolName: String
    /// The subprotocol the response selected (`Sec-WebSocket-Protocol`), lowercased; nil if none.
    public var subprotocol: String?
    /// The upgrade request's head; nil when there was none or its fields were not kept.
    public var request: HandshakeMessage?
    public var requestFrame: UInt64
    public var requestTimestamp: Timestamp
    /// The 101's head.
    public var response: HandshakeMessage
    public var responseFrame: UInt64
    public var responseTimestamp: Timestamp
    public var limits: SwitchedSessionLimits

    public init(connection: ConnectionRef, selectedToken: String, protocolName: String, request: HandshakeMessage?,
                requestFrame: UInt64, requestTimestamp: Timestamp, response: HandshakeMessage, responseFrame: UInt64,
                responseTimestamp: Timestamp, limits: SwitchedSessionLimits) {
        self.connection = connection
        self.selectedToken = selectedToken
        self.protocolName = protocolName
        self.subprotocol = response.values("Sec-WebSocket-Protocol").first?.lowercased()
        self.request = request
        self.requestFrame = requestFrame
        self.requestTimestamp = requestTimestamp
        self.response = response
        self.responseFrame = responseFrame
        self.responseTimestamp = responseTimestamp
        self.limits = limits
    }
}

/// The limits every switched session is built with (each protocol reads its own part).
public struct SwitchedSessionLimits: Sendable {
    public var webSocket = WebSocketSession.Limits()
    public var http2 = HTTP2Session.Options()
    public init() {}
}

/// What starting a session gives: the session (nil when the protocol is recognised but has
/// nothing to decode), the rules the handshake broke, and evidence for the switch record at once.
public struct SwitchStart {
    public var session: (any SwitchedSession)?
    public var violations: [Violation]
    public var evidence: Evidence

    public init(session: (any SwitchedSession)? = nil, violations: [Violation] = [], evidence: Evidence = Evidence()) {
        self.session = session
        self.violations = violations
        self.evidence = evidence
    }
}
