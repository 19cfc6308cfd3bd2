import PacketCapture
import PacketDecoding

/// The two endpoints of a connection as findings name them.
public struct ConnectionRef: Sendable, Equatable {
    public var client: Endpoint
    public var server: Endpoint
    /// The capture did not see the connection's start.
    public var partial: Bool
    /// `FlowIdentity.flowID` of the connection (0 when made without one, in tests).
    public var flowID: UInt64

    public init(client: Endpoint, server: Endpoint, partial: Bool, flowID: UInt64 = 0) {
        self.client = client
        self.server = server
        self.partial = partial
        self.flowID = flowID
    }

    /// Community ID v1 of the connection (`FlowIdentity.communityID`).
    public var communityID: String { FlowIdentity.communityID(client, server) }
}

/// A request or response head as switch records show it.
public struct MessageSummary: Sendable, Equatable {
    public var method: String?
    public var target: String?
    public var version: String
    public var status: Int?
    public var reason: String?
    /// The Upgrade header's protocols, in order (`websocket`, `h2c`, `TLS/1.2`…).
    public var upgrade: [String]
    /// Headers relevant to the upgrade, lowercase names, repeated values joined with ", ".
    public var headers: [(name: String, value: String)]
    /// The frame in which the head was completed.
    public var frame: UInt64
    public var timestamp: Timestamp

    public init(method: String? = nil, target: String? = nil, version: String, status: Int? = nil,
                reason: String? = nil, upgrade: [String], headers: [(name: String, value: String)],
                frame: UInt64, timestamp: Timestamp) {
        self.method = method
        self.target = target
        self.version = version
        self.status = status
        self.reason = reason
        self.upgrade = upgrade
        self.headers = headers
        self.frame = frame
        self.timestamp = timestamp
    }

    public static func == (a: MessageSummary, b: MessageSummary) -> Bool {
        a.method == b.method && a.target == b.target && a.version == b.version && a.status == b.status
            && a.reason == b.reason && a.upgrade == b.upgrade && a.frame == b.frame
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }
}

/// A violation of a catalogue rule.
public struct Violation: Sendable, Equatable {
    public var rule: Rule
    public var message: String
    public var timestamp: Timestamp
    public var frame: UInt64
    /// `client_to_server`, `server_to_client`, or nil when the rule concerns the connection.
    public var direction: String?
    public var connection: ConnectionRef?
    public var evidence: Evidence

    public init(rule: Rule, message: String, timestamp: Timestamp, frame: UInt64, direction: String?,
                connection: ConnectionRef?, evidence: Evidence) {
        self.rule = rule
        self.message = message
        self.timestamp = timestamp
        self.frame = frame
        self.direction = direction
        self.connection = connection
        self.evidence = evidence
    }
}

/// One protocol switch (a 101 that switched the connection), or a declined upgrade.
public struct SwitchRecord: Sendable, Equatable {
    public var connection: ConnectionRef
    /// The selected protocol token, lowercased, without version (`websocket`, `h2c`, `tcp`, `tls`).
    public var protocolName: String
    /// Nil when the capture missed the request (partial connection).
    public var request: MessageSummary?
    public var response: MessageSummary
    /// Stream offsets where the new protocol starts in each direction (nil while unknown).
    public var clientHandoffOffset: UInt64?
    public var serverHandoffOffset: UInt64
    public var bytesAfterSwitchClient: UInt64
    public var bytesAfterSwitchServer: UInt64
    /// Post-switch observations (later stages add to it): written as-is under "observed".
    public var observed: Evidence
    public var lastTimestamp: Timestamp

    public init(connection: ConnectionRef, protocolName: String, request: MessageSummary?, response: MessageSummary,
                clientHandoffOffset: UInt64?, serverHandoffOffset: UInt64, bytesAfterSwitchClient: UInt64 = 0,
                bytesAfterSwitchServer: UInt64 = 0, observed: Evidence = Evidence(), lastTimestamp: Timestamp) {
        self.connection = connection
        self.protocolName = protocolName
        self.request = request
        self.response = response
        self.clientHandoffOffset = clientHandoffOffset
        self.serverHandoffOffset = serverHandoffOffset
        self.bytesAfterSwitchClient = bytesAfterSwitchClient
        self.bytesAfterSwitchServer = bytesAfterSwitchServer
        self.observed = observed
        self.lastTimestamp = lastTimestamp
    }
}

/// An Upgrade request answered by a final non-101 response.
public struct UpgradeDeclinedRecord: Sendable, Equatable {
    public var connection: ConnectionRef
    public var request: MessageSummary
    public var response: MessageSummary

    public init(connection: ConnectionRef, request: MessageSummary, response: MessageSummary) {
        self.connection = connection
        self.request = request
        self.response = response
    }
}

/// One connection as `switchyard flows` reports it.
public struct FlowRecord: Sendable {
    public struct Side: Sendable {
        public var packets: UInt64
        public var payloadBytes: UInt64
        public var gaps: UInt64
        public var gapBytes: UInt64
        public var retransmittedBytes: UInt64
        public var outOfOrderSegments: UInt64
        public init(packets: UInt64, payloadBytes: UInt64, gaps: UInt64, gapBytes: UInt64,
                    retransmittedBytes: UInt64, outOfOrderSegments: UInt64) {
            self.packets = packets
            self.payloadBytes = payloadBytes
            self.gaps = gaps
            self.gapBytes = gapBytes
            self.retransmittedBytes = retransmittedBytes
            self.outOfOrderSegments = outOfOrderSegments
        }
    }
    public var id: UInt64
    public var connection: ConnectionRef
    public var firstTimestamp: Timestamp
    public var lastTimestamp: Timestamp
    public var firstFrame: UInt64
    public var lastFrame: UInt64
    public var state: String
    public var clientToServer: Side
    public var serverToClient: Side
    /// Files written by `--write-streams`, if any.
    public var streamFiles: [String]

    public init(id: UInt64, connection: ConnectionRef, firstTimestamp: Timestamp, lastTimestamp: Timestamp,
                firstFrame: UInt64, lastFrame: UInt64, state: String, clientToServer: Side, serverToClient: Side,
                streamFiles: [String] = []) {
        self.id = id
        self.connection = connection
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.firstFrame = firstFrame
        self.lastFrame = lastFrame
        self.state = state
        self.clientToServer = clientToServer
        self.serverToClient = serverToClient
        self.streamFiles = streamFiles
    }
}

/// A connection that spoke HTTP/2 from its first byte (prior knowledge, RFC 9113 §3.3):
/// no upgrade, but analysed as HTTP/2 all the same.
public struct PriorKnowledgeRecord: Sendable, Equatable {
    public var connection: ConnectionRef
    public var protocolName: String
    public var firstFrame: UInt64
    public var firstTimestamp: Timestamp
    public var lastTimestamp: Timestamp
    public var bytesClient: UInt64
    public var bytesServer: UInt64
    public var observed: Evidence

    public init(connection: ConnectionRef, protocolName: String, firstFrame: UInt64, firstTimestamp: Timestamp,
                lastTimestamp: Timestamp, bytesClient: UInt64, bytesServer: UInt64, observed: Evidence) {
        self.connection = connection
        self.protocolName = protocolName
        self.firstFrame = firstFrame
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.bytesClient = bytesClient
        self.bytesServer = bytesServer
        self.observed = observed
    }
}

/// The end of a switched connection, when its `switch` record was written at the 101
/// (live capture): the post-switch byte counts and what was observed.
public struct SwitchEndRecord: Sendable, Equatable {
    public var connection: ConnectionRef
    public var protocolName: String
    public var responseFrame: UInt64
    public var bytesAfterSwitchClient: UInt64
    public var bytesAfterSwitchServer: UInt64
    public var lastTimestamp: Timestamp
    public var observed: Evidence

    public init(_ record: SwitchRecord) {
        connection = record.connection
        protocolName = record.protocolName
        responseFrame = record.response.frame
        bytesAfterSwitchClient = record.bytesAfterSwitchClient
        bytesAfterSwitchServer = record.bytesAfterSwitchServer
        lastTimestamp = record.lastTimestamp
        observed = record.observed
    }
}

/// Everything a record stream can carry. `capture` names the file or interface.
public enum Finding: Sendable {
    case violation(Violation)
    case switched(SwitchRecord)
    case upgradeDeclined(UpgradeDeclinedRecord)
    case flow(FlowRecord)
    case priorKnowledge(PriorKnowledgeRecord)
    case switchEnd(SwitchEndRecord)
    case proxiedUpgrade(ProxiedUpgradeRecord)

    public var timestamp: Timestamp {
        switch self {
        case .violation(let v): return v.timestamp
        case .switched(let s): return s.response.timestamp
        case .upgradeDeclined(let d): return d.response.timestamp
        case .flow(let f): return f.firstTimestamp
        case .priorKnowledge(let p): return p.firstTimestamp
        case .switchEnd(let e): return e.lastTimestamp
        case .proxiedUpgrade(let p): return p.front.requestTimestamp
        }
    }

    public var typeName: String {
        switch self {
        case .violation: return "violation"
        case .switched: return "switch"
        case .upgradeDeclined: return "upgrade_declined"
        case .flow: return "flow"
        case .priorKnowledge: return "prior_knowledge"
        case .switchEnd: return "switch_end"
        case .proxiedUpgrade: return "proxied_upgrade"
        }
    }
}

/// Where findings go. The pipeline adds the capture name.
public protocol FindingSink {
    mutating func emit(_ finding: Finding, capture: String)
}
