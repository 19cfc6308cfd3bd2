import Findings
import PacketCapture
import SwitchedProtocols

// The parts of `UpgradeTracker`'s state, named by the side of the connection they follow, so a
// reader sees the lifecycle: requests queue up (`RequestQueue`); the client side parses HTTP/1.x,
// holds its bytes while an upgrade awaits its answer, then either goes on, switches or is left
// alone (`ClientSide.Phase`); the server side parses responses until the 101 (`ServerSide`);
// a CONNECT or SOCKS tunnel is probed for HTTP inside it (`TunnelState`); after the switch both
// directions feed the switched protocol's session (`PostSwitchState`).

/// Requests without a final response yet (RFC 9112 §9.3: responses come in request order).
struct RequestQueue {
    /// Oldest first; bounded by `options.maxPendingRequests`.
    var pending: [PendingRequest] = []
    var nextSequence: UInt64 = 0
    /// Sequence number of the request whose head/body the request parser is in.
    var parsing: UInt64?
    var limitReported = false
    /// The request whose body the request parser completed last (the one a pause is about).
    var lastCompleted: UInt64?
    /// The last request that got its answer: switched (101) or declined (final non-101).
    var lastAnswered: (sequence: UInt64, switched: Bool)?
}

/// The client → server direction.
struct ClientSide {
    /// Where the client's bytes go.
    enum Phase {
        /// Parsed as HTTP/1.x requests.
        case http
        /// Held after a request that may switch, until its answer (`HeldClientBytes`).
        case holding
        /// After an agreed switch: fed to the switched protocol.
        case switched
        /// Not analysed (a tunnel that is not HTTP, a refused SOCKS opening, a parse error).
        case ignored
    }
    var phase = Phase.http
    var held = HeldClientBytes()
    var preface = PrefaceProbe()
    var gapSeen = false
    /// A client head was skipped for a size or budget limit: a request may have gone unseen.
    var headSkipped = false
    var notHTTPCounted = false
    /// The first message was not HTTP; reported once the server shows HTTP.
    var notHTTP: NotHTTPDirection?
    var anyRequestSeen = false
}

/// Client bytes that arrived while an upgrade request awaits its answer: replayed as HTTP if
/// the upgrade is declined, fed to the new protocol if it is accepted.
struct HeldClientBytes {
    var bytes: [UInt8] = []
    /// Bytes that did not fit the limits (a gap where they are replayed).
    var dropped: UInt64 = 0
    var frame: UInt64 = 0
    var timestamp = Timestamp.zero
    /// Bytes of `bytes`' storage charged to `options.heldBudget`.
    var charged = 0
    var limitReported = false
}

/// The client's first bytes while they may still be the start of the HTTP/2 preface line
/// (at most 15 bytes; decided the same however TCP cut them).
struct PrefaceProbe {
    var bytes: [UInt8] = []
    var open = true
    var frame: UInt64 = 0
    var timestamp = Timestamp.zero
}

/// The server → client direction.
struct ServerSide {
    /// The 101 was parsed (or the connection began as prior-knowledge HTTP/2).
    var switched = false
    var notHTTPCounted = false
}

/// A CONNECT (RFC 9110 §9.3.6) or SOCKS tunnel on the connection.
struct TunnelState {
    /// The connection is a tunnel: responses are no longer parsed.
    var only = false
    /// After a 2xx to CONNECT: the client's first tunnel bytes, kept until they say whether the
    /// tunnel carries HTTP/1.x (then parsing starts again inside it, as tshark does) or something
    /// else (TLS, mostly: left alone). Nil when no tunnel is deciding.
    var connectProbe: [UInt8]?
    /// Client bytes held when the 2xx arrived: the first bytes of the tunnel.
    var connectHeld: [UInt8] = []
    /// CONNECT tunnels opened inside each other on this connection.
    var depth = 0
    /// A SOCKS opening followed from the connection's first client byte (`SOCKSHandshake`);
    /// once it reaches its tunnel, the tunnel is probed as a CONNECT tunnel is.
    var socks: SOCKSHandshake?
    var socksProbeOpen = true
}

/// After the switch: the session, the gates that hold each direction's first bytes until they
/// show whether they fit the agreed protocol, and the first bytes kept as evidence.
struct PostSwitchState {
    /// The switched protocol's decoder (`SwitchedProtocolTable`); nil when none follows it.
    var session: (any SwitchedSession)?
    /// What the agreed protocol's bytes look like, when a sniffer can recognise them.
    var expected: ObservedProtocol?
    var clientGate = SniffGate()
    var serverGate = SniffGate()
    var agreedProtocolChecked = false
    var firstClientFrame: UInt64?
    var firstServerFrame: UInt64?
    var firstClientBytes: [UInt8] = []
    var firstServerBytes: [UInt8] = []
    var serverChecked = false
    /// The connection began with the HTTP/2 preface (no HTTP/1.1 at all).
    var priorKnowledge = false
    var priorKnowledgeStart = Timestamp.zero
    var priorKnowledgeBytes: (client: UInt64, server: UInt64) = (0, 0)
}
