import Findings
import HTTP1
import PacketCapture
import StreamReassembly
import SwitchedProtocols

/// Follows one connection's HTTP/1.x exchange: pairs requests with responses, finds the
/// protocol switch and the exact byte where the new protocol starts in each direction,
/// and checks the upgrade rules of RFC 9110 §7.8.
///
/// A final class (one per connection) so that both directions' parsers and the request
/// queue can be reached from parser callbacks without copying state.
public final class UpgradeTracker {
    public let connection: ConnectionRef
    let options: UpgradeAnalysisOptions
    /// Gets the upgrade exchanges (`UpgradeExchange`) for the proxy correlation; nil: none kept.
    let exchangeObserver: (any UpgradeExchangeObserver)?
    /// The last answered candidate exchange, until its follow-up or the close.
    var openExchange: UpgradeExchange? {
        didSet { hasOpenExchange = openExchange != nil }
    }
    /// Asked for every request head: reading the optional itself copies the whole exchange.
    var hasOpenExchange = false

    /// State touched for every chunk lives in memory the tracker owns, not in stored properties:
    /// every access to a class's stored `var` is checked for exclusivity at run time
    /// (swift_beginAccess/endAccess), which cost as much as parsing a typical chunk. Only this
    /// tracker touches it, and never a parser from inside that parser's own `feed`. The parts of
    /// the connection's state (`TrackerState.swift`) live there too, for the same reason: each is
    /// read or changed for every chunk.
    private struct HotState {
        var requestParser: HTTPMessageParser
        var responseParser: HTTPMessageParser
        var hasFindings = false
        var queue = RequestQueue()
        var client = ClientSide()
        var server = ServerSide()
        var tunnel = TunnelState()
        var afterSwitch = PostSwitchState()
    }
    private let hot: UnsafeMutablePointer<HotState>
    var requestParser: HTTPMessageParser {
        get { hot.pointee.requestParser }
        _modify { yield &hot.pointee.requestParser }
    }
    var responseParser: HTTPMessageParser {
        get { hot.pointee.responseParser }
        _modify { yield &hot.pointee.responseParser }
    }

    // The connection's state, by part (`TrackerState.swift` says how they follow each other).
    var queue: RequestQueue {
        get { hot.pointee.queue }
        _modify { yield &hot.pointee.queue }
    }
    var client: ClientSide {
        get { hot.pointee.client }
        _modify { yield &hot.pointee.client }
    }
    var server: ServerSide {
        get { hot.pointee.server }
        _modify { yield &hot.pointee.server }
    }
    var tunnel: TunnelState {
        get { hot.pointee.tunnel }
        _modify { yield &hot.pointee.tunnel }
    }
    var afterSwitch: PostSwitchState {
        get { hot.pointee.afterSwitch }
        _modify { yield &hot.pointee.afterSwitch }
    }
    /// Bytes that decide what a CONNECT tunnel carries, and how deep tunnels may nest.
    static let connectProbeBytes = 16
    static let maximumConnectDepth = 4

    /// The switch record being built (emitted at connection close).
    var switchRecord: SwitchRecord?
    /// `switchRecord != nil`, kept apart: that test copies the whole record (a retain of each of
    /// its strings and arrays), and it is asked for every post-switch chunk.
    var hasSwitchRecord = false
    /// The last declined upgrade: non-HTTP bytes after it are the smuggling signature.
    var declined: (request: MessageSummary, response: MessageSummary)?
    var declinedTunnelReported = false
    /// Per direction: an http_conflicting_content_length was just reported for a head.
    var conflictingLengthReported = [false, false]

    // Where we are in the capture (for frames and timestamps in findings).
    var frame: UInt64 = 0
    var timestamp = Timestamp.zero

    public internal(set) var statistics = HTTPStatistics()
    /// Findings produced so far and not yet taken by `drainFindings`.
    var outbox: [Finding] = [] {
        // A simple didSet (no oldValue): appending still happens in place.
        didSet { hot.pointee.hasFindings = !outbox.isEmpty }
    }

    public init(connection: ConnectionRef, options: UpgradeAnalysisOptions = UpgradeAnalysisOptions(),
                exchangeObserver: (any UpgradeExchangeObserver)? = nil) {
        self.connection = connection
        self.options = options
        self.exchangeObserver = exchangeObserver
        hot = UnsafeMutablePointer.allocate(capacity: 1)
        hot.initialize(to: HotState(requestParser: HTTPMessageParser(role: .request, options: options.parser),
                                    responseParser: HTTPMessageParser(role: .response, options: options.parser)))
    }

    deinit {
        hot.deinitialize(count: 1)
        hot.deallocate()
    }

    /// Takes the findings produced so far, repeats of a rule in one frame folded into one
    /// (`Finding.coalescingRepeats`).
    public func takeFindings() -> [Finding] {
        var taken: [Finding] = []
        swap(&taken, &outbox)
        return Finding.coalescingRepeats(taken)
    }

    /// Asked after every chunk: a flag kept by `outbox` in `hot`, because reading the array
    /// itself costs a run-time exclusivity check.
    public var hasFindings: Bool { hot.pointee.hasFindings }

    // MARK: Stream events

    public func data(_ direction: Direction, _ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        self.frame = frame
        self.timestamp = timestamp
        if direction == .clientToServer { clientData(bytes) } else { serverData(bytes) }
    }

    public func gap(_ direction: Direction, length: UInt64, frame: UInt64, timestamp: Timestamp) {
        self.frame = frame
        self.timestamp = timestamp
        if direction == .clientToServer {
            client.gapSeen = true
            closePrefaceProbe()
            switch client.phase {
            case .http:
                var delegate = RequestDelegate(tracker: self)
                requestParser.gap(length: length, delegate: &delegate)
            case .holding:
                client.held.dropped &+= length
            case .switched:
                switchRecord?.bytesAfterSwitchClient &+= length
                postSwitchGap(fromClient: true, length: length)
            case .ignored:
                break
            }
        } else if server.switched {
            switchRecord?.bytesAfterSwitchServer &+= length
            postSwitchGap(fromClient: false, length: length)
        } else if !tunnel.only {
            var delegate = ResponseDelegate(tracker: self)
            responseParser.gap(length: length, delegate: &delegate)
        }
    }

    public func end(_ direction: Direction, frame: UInt64, timestamp: Timestamp) {
        self.frame = frame
        self.timestamp = timestamp
        if direction == .clientToServer {
            closePrefaceProbe()
            finishConnectProbe()
            if client.phase == .http {
                var delegate = RequestDelegate(tracker: self)
                requestParser.finish(delegate: &delegate)
            } else if client.phase == .switched {
                postSwitchEnd(fromClient: true)
            }
        } else if server.switched {
            postSwitchEnd(fromClient: false)
        } else if !tunnel.only {
            var delegate = ResponseDelegate(tracker: self)
            responseParser.finish(delegate: &delegate)
        }
    }

    /// The connection closed: emits the switch record with its post-switch byte counts.
    public func close(lastTimestamp: Timestamp) {
        requestParser.releaseBudget()
        responseParser.releaseBudget()
        releaseHeld()
        checkServerPostSwitchBytes(final: true)
        exchangeClose()
        guard hasSwitchRecord || afterSwitch.priorKnowledge else { return }
        let observed = finishPostSwitch()
        if var record = switchRecord {
            record.lastTimestamp = lastTimestamp
            record.observed.entries.append(contentsOf: observed.entries)
            outbox.append(options.emitSwitchAtResponse ? .switchEnd(SwitchEndRecord(record)) : .switched(record))
            switchRecord = nil
            hasSwitchRecord = false
        } else if afterSwitch.priorKnowledge {
            outbox.append(.priorKnowledge(PriorKnowledgeRecord(
                connection: connection, protocolName: "http2", firstFrame: afterSwitch.firstClientFrame ?? frame,
                firstTimestamp: afterSwitch.priorKnowledgeStart, lastTimestamp: lastTimestamp,
                bytesClient: afterSwitch.priorKnowledgeBytes.client, bytesServer: afterSwitch.priorKnowledgeBytes.server, observed: observed)))
        }
    }

    // MARK: Client side

    func clientData(_ bytes: UnsafeRawBufferPointer) {
        if tunnel.socksProbeOpen, !bytes.isEmpty {
            tunnel.socksProbeOpen = false
            if !connection.partial, client.phase == .http, !client.anyRequestSeen, SOCKSHandshake.mayStart(bytes[0]) {
                tunnel.socks = SOCKSHandshake()
            }
        }
        if tunnel.socks != nil {
            socksData(bytes, fromClient: true)
            return
        }
        if tunnel.connectProbe != nil {
            probeConnectTunnel(bytes)
            return
        }
        if client.preface.open && probePreface(bytes) { return }
        clientBytes(bytes)
    }

    private func clientBytes(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            switch client.phase {
            case .switched:
                postSwitchClient(rest)
                return
            case .holding:
                hold(rest)
                return
            case .ignored:
                return
            case .http:
                var delegate = RequestDelegate(tracker: self)
                let result = requestParser.feed(rest, delegate: &delegate)
                guard case .paused(let index) = result else { return }
                rest = UnsafeRawBufferPointer(rebasing: rest[index...])
                clientParserPaused()
            }
        }
    }

    /// The request parser stopped after a request that may switch protocols: what follows
    /// depends on that request's answer.
    private func clientParserPaused() {
        guard let sequence = queue.lastCompleted else {
            requestParser.resume()
            return
        }
        if queue.pending.contains(where: { $0.sequence == sequence }) {
            client.phase = .holding
        } else if let answered = queue.lastAnswered, answered.sequence == sequence, answered.switched {
            client.phase = .switched
        } else {
            requestParser.resume()
        }
    }

    /// RFC 9113 §3.4: prior-knowledge HTTP/2 starts with "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    /// its first line decides. While the client's first bytes are a proper prefix of that line
    /// they are held here (at most 15 bytes), so the answer is the same however TCP cut them.
    /// Returns true when it kept or consumed `bytes`.
    private func probePreface(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard client.phase == .http, !server.switched, !bytes.isEmpty else {
            closePrefaceProbe()
            return false
        }
        let line = Self.prefaceLine
        var index = 0
        while index < bytes.count && client.preface.bytes.count + index < line.count {
            guard bytes[index] == line[client.preface.bytes.count + index] else {
                closePrefaceProbe()
                return false
            }
            index += 1
        }
        if client.preface.bytes.count + index < line.count {
            if client.preface.bytes.isEmpty {
                client.preface.frame = frame
                client.preface.timestamp = timestamp
            }
            client.preface.bytes.append(contentsOf: bytes)
            return true
        }
        client.preface.open = false
        afterSwitch.priorKnowledgeStart = client.preface.bytes.isEmpty ? timestamp : client.preface.timestamp
        startPriorKnowledgeHTTP2()
        replayPrefaceProbe()
        clientBytes(bytes)
        return true
    }

    private static let prefaceLine = Array("PRI * HTTP/2.0\r\n".utf8)

    /// The probe is decided against HTTP/2 (or cut short by a gap or the end): what it held is
    /// fed as HTTP/1.x, at the frame it arrived in.
    private func closePrefaceProbe() {
        guard client.preface.open else { return }
        client.preface.open = false
        replayPrefaceProbe()
    }

    private func replayPrefaceProbe() {
        guard !client.preface.bytes.isEmpty else { return }
        let bytes = client.preface.bytes
        client.preface.bytes = []
        atFrame(client.preface.frame, client.preface.timestamp) { bytes.withUnsafeBytes { clientBytes($0) } }
    }

    /// Runs `body` as if in an earlier frame (bytes held back and replayed, findings about them).
    func atFrame(_ earlier: UInt64, _ earlierTimestamp: Timestamp, _ body: () -> Void) {
        let savedFrame = frame, savedTimestamp = timestamp
        frame = earlier
        timestamp = earlierTimestamp
        body()
        frame = savedFrame
        timestamp = savedTimestamp
    }

    /// Keeps client bytes that arrived while an upgrade awaits its answer, within the
    /// per-connection limit (`maxHeldBytes`) and the run's `heldBudget`; the storage is charged
    /// as allocated. Whatever does not fit is counted, reported once (`analyzer_limit_reached`),
    /// and becomes a gap where the bytes are replayed.
    private func hold(_ bytes: UnsafeRawBufferPointer) {
        if client.held.bytes.isEmpty && client.held.dropped == 0 {
            client.held.frame = frame
            client.held.timestamp = timestamp
        }
        var kept = min(bytes.count, max(0, options.maxHeldBytes - client.held.bytes.count))
        let needed = client.held.bytes.count + kept
        var globalShort = false
        if needed > client.held.bytes.capacity {
            let budgetLeft = options.heldBudget?.available ?? Int.max
            let wanted = min(max(needed, 2 * client.held.bytes.capacity), options.maxHeldBytes)
            let growth = min(wanted - client.held.bytes.capacity, budgetLeft)
            if client.held.bytes.capacity + growth < needed {
                globalShort = true
                kept = max(0, client.held.bytes.capacity + growth - client.held.bytes.count)
            }
            if growth > 0 { client.held.bytes.reserveCapacity(client.held.bytes.capacity + growth) }
            chargeHeld()
        }
        client.held.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[..<kept]))
        guard kept < bytes.count else { return }
        client.held.dropped &+= UInt64(bytes.count - kept)
        guard !client.held.limitReported else { return }
        client.held.limitReported = true
        if globalShort {
            reportLimit("upgrade_held_bytes_global",
                        "the client bytes client.held.bytes by all connections awaiting upgrade answers reached "
                            + "\(options.heldBudget?.limit ?? 0) bytes; this connection's early bytes from stream offset "
                            + "\(requestParser.streamOffset &+ UInt64(client.held.bytes.count)) on are not analysed",
                        .clientToServer)
        } else {
            reportLimit("upgrade_held_bytes",
                        "more than \(options.maxHeldBytes) client bytes arrived before the answer to an upgrade request; "
                            + "the bytes after them are not analysed",
                        .clientToServer)
        }
    }

    private func chargeHeld() {
        guard let budget = options.heldBudget else { return }
        let delta = client.held.bytes.capacity - client.held.charged
        if delta > 0 { budget.charge(delta) } else if delta < 0 { budget.release(-delta) }
        client.held.charged = client.held.bytes.capacity
    }

    /// Empties the held client bytes and gives its storage back to the budget.
    func releaseHeld() {
        client.held.bytes = []
        client.held.dropped = 0
        chargeHeld()
    }

    func postSwitchClient(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        if afterSwitch.firstClientFrame == nil { afterSwitch.firstClientFrame = frame }
        if afterSwitch.priorKnowledge { afterSwitch.priorKnowledgeBytes.client &+= UInt64(bytes.count) }
        switchRecord?.bytesAfterSwitchClient &+= UInt64(bytes.count)
        if afterSwitch.firstClientBytes.count < options.firstBytesKept {
            afterSwitch.firstClientBytes.append(contentsOf: bytes.prefix(options.firstBytesKept - afterSwitch.firstClientBytes.count))
        }
        postSwitchData(fromClient: true, bytes)
    }

    // MARK: Server side

    private func serverData(_ bytes: UnsafeRawBufferPointer) {
        if tunnel.socks != nil {
            socksData(bytes, fromClient: false)
            return
        }
        if server.switched {
            postSwitchServer(bytes)
            return
        }
        if tunnel.only { return }
        var delegate = ResponseDelegate(tracker: self)
        let result = responseParser.feed(bytes, delegate: &delegate)
        if case .paused(let index) = result, server.switched {
            postSwitchServer(UnsafeRawBufferPointer(rebasing: bytes[index...]))
        } else if case .paused = result, tunnel.connectProbe != nil {
            // The 2xx to CONNECT: what the client already sent into the tunnel decides first.
            // (Server bytes before the client's are not HTTP/1.x, which the client starts.)
            let early = tunnel.connectHeld
            tunnel.connectHeld = []
            if !early.isEmpty { early.withUnsafeBytes { probeConnectTunnel($0) } }
        }
    }

    /// The client's first tunnel bytes after a 2xx to CONNECT: once `connectProbeBytes` are in
    /// (or a line ends), an HTTP/1.x request line starts parsing again inside the tunnel, with
    /// fresh parsers; anything else leaves the tunnel alone, as before.
    private func probeConnectTunnel(_ bytes: UnsafeRawBufferPointer) {
        guard var probe = tunnel.connectProbe else { return }
        probe.append(contentsOf: bytes)
        // Empty lines before a request line are ignored (RFC 9112 §2.2), as the parser does.
        let line = probe.drop { $0 == 0x0D || $0 == 0x0A }
        guard line.count >= Self.connectProbeBytes || line.contains(0x0A) || probe.count > 4 * Self.connectProbeBytes else {
            tunnel.connectProbe = probe
            return
        }
        tunnel.connectProbe = nil
        guard looksLikeRequestLine(Array(line)) else { return }
        tunnel.depth += 1
        requestParser.releaseBudget()
        responseParser.releaseBudget()
        requestParser = HTTPMessageParser(role: .request, options: options.parser)
        responseParser = HTTPMessageParser(role: .response, options: options.parser)
        queue.pending = []
        queue.parsing = nil
        queue.lastCompleted = nil
        queue.lastAnswered = nil
        client.phase = .http
        tunnel.only = false
        // Prior-knowledge HTTP/2 (`PRI * HTTP/2.0`) is detected inside the tunnel as at a
        // connection's start (gRPC through an HTTP proxy does this).
        client.preface.bytes = []
        client.preface.open = !afterSwitch.priorKnowledge && !hasSwitchRecord
        probe.withUnsafeBytes { clientData($0) }
    }

    /// Bytes of either direction while a SOCKS opening is followed: past its tunnel, they are
    /// probed as a CONNECT tunnel's; if the bytes are not a SOCKS opening after all, HTTP parsing
    /// takes the rest as before.
    private func socksData(_ bytes: UnsafeRawBufferPointer, fromClient: Bool) {
        guard var handshake = tunnel.socks else { return }
        let used = fromClient ? handshake.client(bytes) : handshake.server(bytes)
        tunnel.socks = handshake
        let rest = UnsafeRawBufferPointer(rebasing: bytes[used...])
        switch handshake.phase {
        case .tunnel, .notSOCKS:
            tunnel.socks = nil
            if handshake.phase == .tunnel { enterSOCKSTunnel() }
            if !rest.isEmpty {
                if fromClient { clientData(rest) } else { serverData(rest) }
            }
        case .refused:
            tunnel.socks = nil
            tunnel.only = true
            client.phase = .ignored
        default:
            break
        }
    }

    /// The SOCKS proxy granted the connection: what follows is the tunnel, probed like a CONNECT
    /// tunnel's (an HTTP request line starts parsing in it; anything else is left alone).
    private func enterSOCKSTunnel() {
        tunnel.only = true
        client.phase = .ignored
        tunnel.connectProbe = []
    }

    /// Called at the end of the client direction: a probe still short of bytes decides now.
    private func finishConnectProbe() {
        guard let probe = tunnel.connectProbe, !probe.isEmpty else { return }
        tunnel.connectProbe = []
        probe.withUnsafeBytes { probeConnectTunnel($0) }
        if tunnel.connectProbe != nil { tunnel.connectProbe = nil }
    }

    private func postSwitchServer(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        if afterSwitch.firstServerFrame == nil { afterSwitch.firstServerFrame = frame }
        if afterSwitch.priorKnowledge { afterSwitch.priorKnowledgeBytes.server &+= UInt64(bytes.count) }
        switchRecord?.bytesAfterSwitchServer &+= UInt64(bytes.count)
        if afterSwitch.firstServerBytes.count < options.firstBytesKept {
            afterSwitch.firstServerBytes.append(contentsOf: bytes.prefix(options.firstBytesKept - afterSwitch.firstServerBytes.count))
        }
        checkServerPostSwitchBytes(final: false)
        postSwitchData(fromClient: false, bytes)
    }

    /// RFC 9110 §15.2.2: after the 101 the server speaks the new protocol. A second HTTP/1.x
    /// response there means the switch was not honoured.
    private func checkServerPostSwitchBytes(final: Bool) {
        guard !afterSwitch.serverChecked else { return }
        guard hasSwitchRecord else {
            afterSwitch.serverChecked = true   // prior knowledge: no 101 to check against
            return
        }
        let prefix = Array("HTTP/1.".utf8)
        let available = afterSwitch.firstServerBytes.count
        if available < prefix.count && !final { return }
        afterSwitch.serverChecked = true
        guard available >= prefix.count, Array(afterSwitch.firstServerBytes.prefix(prefix.count)) == prefix else { return }
        let line = afterSwitch.firstServerBytes.prefix { $0 != 0x0D && $0 != 0x0A }
        report(.http101ThenHTTPResponse, .serverToClient,
               "After the 101 the server sent another HTTP/1.x response (\(printableText(Array(line)))) instead of the new protocol.",
               ["status_line": .text(printableText(Array(line))), "first_bytes": .bytes(afterSwitch.firstServerBytes)])
    }

    // MARK: Findings

    func report(_ rule: Rule, _ direction: Direction?, _ message: String, _ evidence: Evidence) {
        guard options.isEnabled(rule) else { return }
        outbox.append(.violation(Violation(rule: rule, message: message, timestamp: timestamp, frame: frame,
                                           direction: direction?.name, connection: connection, evidence: evidence)))
    }

    func reportLimit(_ limit: String, _ detail: String, _ direction: Direction?) {
        report(.analyzerLimitReached, direction, "Limit \(limit) reached: \(detail).",
               ["limit": .text(limit), "detail": .text(detail)])
    }
}

/// Where and why a direction's first message was not HTTP/1.x (`http_not_http`).
struct NotHTTPDirection {
    var error: HTTPParseError
    var frame: UInt64
    var timestamp: Timestamp
}

/// Counters for the run summary.
public struct HTTPStatistics: Sendable {
    public var requests: UInt64 = 0
    public var responses: UInt64 = 0
    public var parseErrors: [String: UInt64] = [:]
    public var nonHTTPDirections: UInt64 = 0
    public init() {}

    public mutating func add(_ other: HTTPStatistics) {
        requests += other.requests
        responses += other.responses
        nonHTTPDirections += other.nonHTTPDirections
        for (k, v) in other.parseErrors { parseErrors[k, default: 0] += v }
    }
}

public struct UpgradeAnalysisOptions: Sendable {
    public var parser = HTTPParserOptions()
    /// Requests waiting for responses on one connection (pipelining depth tracked).
    public var maxPendingRequests = 1024
    /// Client bytes held while an upgrade request awaits its answer.
    public var maxHeldBytes = 64 * 1024
    /// Shared by every tracker of a run (one analysis thread): the client bytes all of them may
    /// hold at once while upgrades await their answers (storage as allocated). Nil: no bound.
    public var heldBudget: HeadBudget?
    /// Post-switch bytes kept per direction as evidence.
    public var firstBytesKept = 64
    /// Write the `switch` record as soon as the 101 is parsed and a `switch_end` record when
    /// the connection ends (live capture), instead of one complete record at the end.
    public var emitSwitchAtResponse = false
    /// Rules switched off (`--rules -id`).
    public var disabledRules: Set<String> = []
    /// WebSocket sessions' limits: findings per rule, inflated bytes per message, inflater memory.
    public var webSocket = WebSocketSession.Limits()
    /// HTTP/2 sessions' options: requests listed per connection, findings per rule.
    public var http2 = HTTP2Session.Options()

    public init() {}

    public func isEnabled(_ rule: Rule) -> Bool { !disabledRules.contains(rule.id) }
}
