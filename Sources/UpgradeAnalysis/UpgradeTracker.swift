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

    /// State touched for every chunk lives in memory the tracker owns, not in stored properties:
    /// every access to a class's stored `var` is checked for exclusivity at run time
    /// (swift_beginAccess/endAccess), which cost as much as parsing a typical chunk. Only this
    /// tracker touches it, and never a parser from inside that parser's own `feed`.
    private struct HotState {
        var requestParser: HTTPMessageParser
        var responseParser: HTTPMessageParser
        var hasFindings = false
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

    /// Requests without a final response yet, oldest first (bounded by `options.maxPendingRequests`).
    var pending: [PendingRequest] = []
    var nextSequence: UInt64 = 0
    /// Sequence number of the request whose head/body the request parser is in.
    var parsingRequest: UInt64?
    var pendingLimitReported = false
    /// The request whose body the request parser completed last (the one a pause is about).
    var lastCompletedRequest: UInt64?
    /// The last request that got its answer: switched (101) or declined (final non-101).
    var lastAnswered: (sequence: UInt64, switched: Bool)?

    enum ClientMode { case http, holding, switched, ignored }
    var clientMode = ClientMode.http
    var serverSwitched = false
    var tunnelOnly = false
    /// Client bytes held while an upgrade request awaits its answer.
    var held: [UInt8] = []
    var heldDropped: UInt64 = 0
    var heldFrame: UInt64 = 0
    var heldTimestamp = Timestamp.zero

    /// The switch record being built (emitted at connection close).
    var switchRecord: SwitchRecord?
    var postSwitch = PostSwitchAnalyzer.none
    /// What the agreed protocol's bytes look like, when a sniffer can recognise them.
    var expectedAfterSwitch: ObservedProtocol?
    var clientGate = SniffGate()
    var serverGate = SniffGate()
    var agreedProtocolChecked = false
    var firstClientFrame: UInt64?
    var firstServerFrame: UInt64?
    /// The connection began with the HTTP/2 preface (no HTTP/1.1 at all).
    var priorKnowledge = false
    var priorKnowledgeStart = Timestamp.zero
    var priorKnowledgeBytes: (client: UInt64, server: UInt64) = (0, 0)
    var firstClientBytes: [UInt8] = []
    var firstServerBytes: [UInt8] = []
    var serverPostSwitchChecked = false
    /// The last declined upgrade: non-HTTP bytes after it are the smuggling signature.
    var declined: (request: MessageSummary, response: MessageSummary)?
    var declinedTunnelReported = false

    var clientGapSeen = false
    var clientNotHTTPCounted = false
    /// Per direction: an http_conflicting_content_length was just reported for a head.
    var conflictingLengthReported = [false, false]
    var serverNotHTTPCounted = false
    var anyRequestSeen = false

    // Where we are in the capture (for frames and timestamps in findings).
    var frame: UInt64 = 0
    var timestamp = Timestamp.zero

    public internal(set) var statistics = HTTPStatistics()
    /// Findings produced so far and not yet taken by `drainFindings`.
    var outbox: [Finding] = [] {
        // A simple didSet (no oldValue): appending still happens in place.
        didSet { hot.pointee.hasFindings = !outbox.isEmpty }
    }

    public init(connection: ConnectionRef, options: UpgradeAnalysisOptions = UpgradeAnalysisOptions()) {
        self.connection = connection
        self.options = options
        hot = UnsafeMutablePointer.allocate(capacity: 1)
        hot.initialize(to: HotState(requestParser: HTTPMessageParser(role: .request, options: options.parser),
                                    responseParser: HTTPMessageParser(role: .response, options: options.parser)))
    }

    deinit {
        hot.deinitialize(count: 1)
        hot.deallocate()
    }

    /// Takes the findings produced so far.
    public func takeFindings() -> [Finding] {
        var taken: [Finding] = []
        swap(&taken, &outbox)
        return taken
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
            clientGapSeen = true
            switch clientMode {
            case .http:
                var delegate = RequestDelegate(tracker: self)
                requestParser.gap(length: length, delegate: &delegate)
            case .holding:
                heldDropped &+= length
            case .switched:
                switchRecord?.bytesAfterSwitchClient &+= length
                postSwitchGap(fromClient: true, length: length)
            case .ignored:
                break
            }
        } else if serverSwitched {
            switchRecord?.bytesAfterSwitchServer &+= length
            postSwitchGap(fromClient: false, length: length)
        } else if !tunnelOnly {
            var delegate = ResponseDelegate(tracker: self)
            responseParser.gap(length: length, delegate: &delegate)
        }
    }

    public func end(_ direction: Direction, frame: UInt64, timestamp: Timestamp) {
        self.frame = frame
        self.timestamp = timestamp
        if direction == .clientToServer {
            if clientMode == .http {
                var delegate = RequestDelegate(tracker: self)
                requestParser.finish(delegate: &delegate)
            }
        } else if !serverSwitched && !tunnelOnly {
            var delegate = ResponseDelegate(tracker: self)
            responseParser.finish(delegate: &delegate)
        }
    }

    /// The connection closed: emits the switch record with its post-switch byte counts.
    public func close(lastTimestamp: Timestamp) {
        requestParser.releaseBudget()
        responseParser.releaseBudget()
        checkServerPostSwitchBytes(final: true)
        guard switchRecord != nil || priorKnowledge else { return }
        let observed = finishPostSwitch()
        if var record = switchRecord {
            record.lastTimestamp = lastTimestamp
            record.observed.entries.append(contentsOf: observed.entries)
            outbox.append(options.emitSwitchAtResponse ? .switchEnd(SwitchEndRecord(record)) : .switched(record))
            switchRecord = nil
        } else if priorKnowledge {
            outbox.append(.priorKnowledge(PriorKnowledgeRecord(
                connection: connection, protocolName: "http2", firstFrame: firstClientFrame ?? frame,
                firstTimestamp: priorKnowledgeStart, lastTimestamp: lastTimestamp,
                bytesClient: priorKnowledgeBytes.client, bytesServer: priorKnowledgeBytes.server, observed: observed)))
        }
    }

    // MARK: Client side

    func clientData(_ bytes: UnsafeRawBufferPointer) {
        if requestParser.streamOffset == 0 && clientMode == .http && !serverSwitched && startsWithHTTP2Preface(bytes) {
            priorKnowledgeStart = timestamp
            startPriorKnowledgeHTTP2()
        }
        var rest = bytes
        while !rest.isEmpty {
            switch clientMode {
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
        guard let sequence = lastCompletedRequest else {
            requestParser.resume()
            return
        }
        if pending.contains(where: { $0.sequence == sequence }) {
            clientMode = .holding
        } else if let answered = lastAnswered, answered.sequence == sequence, answered.switched {
            clientMode = .switched
        } else {
            requestParser.resume()
        }
    }

    /// RFC 9113 §3.4: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n". The first 16 bytes decide (a
    /// preface split before them is not recognised, and the connection is left as non-HTTP).
    private func startsWithHTTP2Preface(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let preface = Array("PRI * HTTP/2.0\r\n".utf8)
        return bytes.count >= preface.count && bytes.prefix(preface.count).elementsEqual(preface)
    }

    private func hold(_ bytes: UnsafeRawBufferPointer) {
        if held.isEmpty && heldDropped == 0 {
            heldFrame = frame
            heldTimestamp = timestamp
        }
        let room = max(0, options.maxHeldBytes - held.count)
        if bytes.count <= room {
            held.append(contentsOf: bytes)
        } else {
            held.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[..<room]))
            heldDropped &+= UInt64(bytes.count - room)
        }
    }

    func postSwitchClient(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        if firstClientFrame == nil { firstClientFrame = frame }
        if priorKnowledge { priorKnowledgeBytes.client &+= UInt64(bytes.count) }
        switchRecord?.bytesAfterSwitchClient &+= UInt64(bytes.count)
        if firstClientBytes.count < options.firstBytesKept {
            firstClientBytes.append(contentsOf: bytes.prefix(options.firstBytesKept - firstClientBytes.count))
        }
        postSwitchData(fromClient: true, bytes)
    }

    // MARK: Server side

    private func serverData(_ bytes: UnsafeRawBufferPointer) {
        if serverSwitched {
            postSwitchServer(bytes)
            return
        }
        if tunnelOnly { return }
        var delegate = ResponseDelegate(tracker: self)
        let result = responseParser.feed(bytes, delegate: &delegate)
        if case .paused(let index) = result, serverSwitched {
            postSwitchServer(UnsafeRawBufferPointer(rebasing: bytes[index...]))
        }
    }

    private func postSwitchServer(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        if firstServerFrame == nil { firstServerFrame = frame }
        if priorKnowledge { priorKnowledgeBytes.server &+= UInt64(bytes.count) }
        switchRecord?.bytesAfterSwitchServer &+= UInt64(bytes.count)
        if firstServerBytes.count < options.firstBytesKept {
            firstServerBytes.append(contentsOf: bytes.prefix(options.firstBytesKept - firstServerBytes.count))
        }
        checkServerPostSwitchBytes(final: false)
        postSwitchData(fromClient: false, bytes)
    }

    /// RFC 9110 §15.2.2: after the 101 the server speaks the new protocol. A second HTTP/1.x
    /// response there means the switch was not honoured.
    private func checkServerPostSwitchBytes(final: Bool) {
        guard switchRecord != nil, !serverPostSwitchChecked else { return }
        let prefix = Array("HTTP/1.".utf8)
        let available = firstServerBytes.count
        if available < prefix.count && !final { return }
        serverPostSwitchChecked = true
        guard available >= prefix.count, Array(firstServerBytes.prefix(prefix.count)) == prefix else { return }
        let line = firstServerBytes.prefix { $0 != 0x0D && $0 != 0x0A }
        report(.http101ThenHTTPResponse, .serverToClient,
               "After the 101 the server sent another HTTP/1.x response (\(printableText(Array(line)))) instead of the new protocol.",
               ["status_line": .text(printableText(Array(line))), "first_bytes": .bytes(firstServerBytes)])
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
    /// Post-switch bytes kept per direction as evidence.
    public var firstBytesKept = 64
    /// Write the `switch` record as soon as the 101 is parsed and a `switch_end` record when
    /// the connection ends (live capture), instead of one complete record at the end.
    public var emitSwitchAtResponse = false
    /// Rules switched off (`--rules -id`).
    public var disabledRules: Set<String> = []
    /// WebSocket sessions' limits: findings per rule, inflated bytes per message, inflater memory.
    public var webSocket = WebSocketSession.Limits()

    public init() {}

    public func isEnabled(_ rule: Rule) -> Bool { !disabledRules.contains(rule.id) }
}
