import PacketCapture

/// The two legs of one proxied upgrade: the front leg (client → proxy) and the back leg
/// (proxy → backend) of the same upgrade request, paired by the proxy correlation (issue #14,
/// docs/OUTPUT.md `proxied_upgrade`).
public struct ProxiedUpgradeRecord: Sendable, Equatable {
    /// One leg: a connection and one request/response exchange on it.
    public struct Leg: Sendable, Equatable {
        public var capture: String
        public var connection: ConnectionRef
        public var requestLine: String
        public var requestFrame: UInt64
        public var requestTimestamp: Timestamp
        /// `switched`, `declined` or `no_answer`.
        public var outcome: String
        /// The protocol switched to (outcome `switched`).
        public var protocolName: String?
        public var status: Int?
        public var responseFrame: UInt64?
        public var responseTimestamp: Timestamp?

        public init(capture: String, connection: ConnectionRef, requestLine: String, requestFrame: UInt64,
                    requestTimestamp: Timestamp, outcome: String, protocolName: String?, status: Int?,
                    responseFrame: UInt64?, responseTimestamp: Timestamp?) {
            self.capture = capture
            self.connection = connection
            self.requestLine = requestLine
            self.requestFrame = requestFrame
            self.requestTimestamp = requestTimestamp
            self.outcome = outcome
            self.protocolName = protocolName
            self.status = status
            self.responseFrame = responseFrame
            self.responseTimestamp = responseTimestamp
        }
    }

    /// A header the proxy added (`front` nil), removed (`back` nil) or rewrote. Names are
    /// lowercase; repeated fields are joined with ", ".
    public struct HeaderChange: Sendable, Equatable {
        public var name: String
        public var front: String?
        public var back: String?

        public init(name: String, front: String?, back: String?) {
            self.name = name
            self.front = front
            self.back = back
        }

        public var kind: String { front == nil ? "added" : back == nil ? "removed" : "rewritten" }
    }

    public var front: Leg
    public var back: Leg
    /// `high`, `medium` or `low` (docs/OUTPUT.md says what each means).
    public var confidence: String
    /// What the two requests had in common that paired them (`sec-websocket-key`, `target`…).
    public var matchedOn: [String]
    /// Request headers as the backend got them, compared with the client's.
    public var requestChanges: [HeaderChange]
    /// Response headers as the client got them, compared with the backend's (both answered).
    public var responseChanges: [HeaderChange]
    /// Back request time minus front request time, after the clock offset.
    public var requestDelayNanos: Int64
    /// Front response time minus back response time, after the clock offset (both answered).
    public var responseDelayNanos: Int64?
    /// Added to the back leg's capture times to put them on the front leg's clock (0 when both
    /// legs are in the same capture).
    public var clockOffsetNanos: Int64

    public init(front: Leg, back: Leg, confidence: String, matchedOn: [String], requestChanges: [HeaderChange],
                responseChanges: [HeaderChange], requestDelayNanos: Int64, responseDelayNanos: Int64?,
                clockOffsetNanos: Int64) {
        self.front = front
        self.back = back
        self.confidence = confidence
        self.matchedOn = matchedOn
        self.requestChanges = requestChanges
        self.responseChanges = responseChanges
        self.requestDelayNanos = requestDelayNanos
        self.responseDelayNanos = responseDelayNanos
        self.clockOffsetNanos = clockOffsetNanos
    }
}

extension JSONWriter {
    mutating func proxiedUpgrade(_ p: ProxiedUpgradeRecord) {
        key("confidence"); string(p.confidence)
        key("matched_on")
        beginArray()
        for name in p.matchedOn { string(name) }
        endArray()
        key("front"); proxyLeg(p.front)
        key("back"); proxyLeg(p.back)
        key("request_changes"); headerChanges(p.requestChanges)
        key("response_changes"); headerChanges(p.responseChanges)
        key("timing")
        beginObject()
        key("request_forwarded_after_seconds"); double(Double(p.requestDelayNanos) / 1e9)
        key("response_forwarded_after_seconds")
        if let delay = p.responseDelayNanos { double(Double(delay) / 1e9) } else { null() }
        key("clock_offset_seconds"); double(Double(p.clockOffsetNanos) / 1e9)
        endObject()
    }

    private mutating func proxyLeg(_ leg: ProxiedUpgradeRecord.Leg) {
        beginObject()
        key("capture"); string(leg.capture)
        key("connection"); connection(leg.connection)
        key("request_line"); string(leg.requestLine)
        key("request_frame"); int(leg.requestFrame)
        key("request_ts"); string(leg.requestTimestamp.rfc3339)
        key("outcome"); string(leg.outcome)
        key("protocol")
        if let name = leg.protocolName { string(name) } else { null() }
        key("status")
        if let status = leg.status { int(status) } else { null() }
        key("response_frame")
        if let frame = leg.responseFrame { int(frame) } else { null() }
        key("response_ts")
        if let time = leg.responseTimestamp { string(time.rfc3339) } else { null() }
        endObject()
    }

    private mutating func headerChanges(_ changes: [ProxiedUpgradeRecord.HeaderChange]) {
        beginArray()
        for change in changes {
            beginObject()
            key("header"); string(change.name)
            key("change"); string(change.kind)
            key("front")
            if let value = change.front { string(value) } else { null() }
            key("back")
            if let value = change.back { string(value) } else { null() }
            endObject()
        }
        endArray()
    }
}
