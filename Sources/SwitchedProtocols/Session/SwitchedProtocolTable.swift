import Findings

/// Which session decodes a switched connection, by the protocol the 101 selected and, where one
/// was selected, its subprotocol: the one place that maps upgrade tokens to decoders, in the
/// spirit of Zeek's `HTTP::upgrade_analyzers`. Tokens compare by name without version,
/// lowercased (`ProtocolToken.name`): RFC 9110 §7.8 makes protocol names case-insensitive.
public enum SwitchedProtocolTable {
    public struct Entry: Sendable {
        /// The upgrade token's name (`websocket`, `h2c`, `tcp`…).
        public var token: String
        /// When set, the entry applies only to this subprotocol (lowercased), and wins over the
        /// token's entry without one.
        public var subprotocol: String?
        /// Starts the session once the switch is agreed.
        public var start: @Sendable (SwitchContext) -> SwitchStart
        /// Checks a refused offer of this protocol (a final response to a request that offered
        /// it); the context's `response` is the refusal.
        public var checkRefusal: (@Sendable (SwitchContext) -> [Violation])?

        public init(token: String, subprotocol: String? = nil, start: @escaping @Sendable (SwitchContext) -> SwitchStart,
                    checkRefusal: (@Sendable (SwitchContext) -> [Violation])? = nil) {
            self.token = token
            self.subprotocol = subprotocol
            self.start = start
            self.checkRefusal = checkRefusal
        }
    }

    public static let entries: [Entry] = [
        // RFC 6455: WebSocket; the handshake is checked on a 101 and on a refusal alike.
        Entry(token: "websocket", start: WebSocketSession.start, checkRefusal: WebSocketSession.checkRefusal),
        // RFC 7540 §3.2 (h2c, removed from RFC 9113 but still deployed).
        Entry(token: "h2c", start: HTTP2Session.startAfterUpgrade),
        // Docker's attach/exec hijack.
        Entry(token: "tcp", start: DockerStreamSession.start),
        // RFC 9298 §3.2, §3.3: MASQUE CONNECT-UDP, then the Capsule Protocol (RFC 9297).
        Entry(token: "connect-udp", start: ConnectUDPSession.start),
    ]

    /// The entry for a protocol name and subprotocol: the subprotocol's own entry if there is
    /// one, else the token's.
    public static func entry(protocolName: String, subprotocol: String?) -> Entry? {
        if let subprotocol, let exact = entries.first(where: { $0.token == protocolName && $0.subprotocol == subprotocol }) {
            return exact
        }
        return entries.first { $0.token == protocolName && $0.subprotocol == nil }
    }

    /// Starts the session for an agreed switch; a protocol without an entry is followed by the
    /// sniffers only (an empty start).
    public static func start(_ context: SwitchContext) -> SwitchStart {
        entry(protocolName: context.protocolName, subprotocol: context.subprotocol)?.start(context) ?? SwitchStart()
    }

    /// Checks a refusal against every protocol the request offered that has a refusal check,
    /// each once (`offered` are token names).
    public static func checkRefusal(offered: [String], _ context: SwitchContext) -> [Violation] {
        var checked: Set<String> = []
        var violations: [Violation] = []
        for name in offered where !checked.contains(name) {
            checked.insert(name)
            guard let check = entry(protocolName: name, subprotocol: nil)?.checkRefusal else { continue }
            var offeredContext = context
            offeredContext.protocolName = name
            violations += check(offeredContext)
        }
        return violations
    }

    /// Prior-knowledge HTTP/2 (RFC 9113 §3.3): no upgrade, the connection starts as HTTP/2.
    public static func startPriorKnowledgeHTTP2(connection: ConnectionRef,
                                                options: HTTP2Session.Options = HTTP2Session.Options()) -> any SwitchedSession {
        HTTP2Session(connection: connection, afterUpgrade: false, options: options)
    }
}
