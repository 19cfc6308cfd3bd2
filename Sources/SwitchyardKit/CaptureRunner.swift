import Findings
import HTTP1
import PacketCapture
import PacketDecoding
import ProxyCorrelation
import StreamReassembly
import SwitchedProtocols
import UpgradeAnalysis

/// Limits and options shared by every command that reads captures.
public struct PipelineOptions: Sendable {
    public var reassembly = ReassemblyLimits()
    public var analysis = UpgradeAnalysisOptions()
    /// HTTP header bytes all connections may buffer at once (unfinished heads).
    public var maxBufferedHeadBytes = 64 << 20
    /// Client bytes all connections may hold while their upgrade requests await an answer
    /// (`UpgradeAnalysisOptions.maxHeldBytes` is the per-connection share).
    public var maxHeldEarlyBytes = 64 << 20
    /// Memory all permessage-deflate inflaters may hold at once (about 72 KiB per inflating
    /// direction at the default window: some 900 directions).
    public var maxInflaterMemoryBytes = 64 << 20
    /// With `--jobs`, encoded records all workers may hold in memory before they spill sorted
    /// runs to a temporary file (records are written sorted when the capture ends).
    public var heldRecordBytes = 1 << 20
    /// Pairing the legs of proxied upgrades (at the end of the run, over every capture).
    public var proxy = ProxyCorrelationOptions()
    public init() {}

    /// The pairing's options, with the rules switched off (`--rules -id`) as the analysis has them.
    var pairing: ProxyCorrelationOptions {
        var pairing = proxy
        pairing.disabledRules = analysis.disabledRules
        return pairing
    }

    /// The options one analysis thread uses: its own head and early-data budgets (`share` of the totals).
    func forOneThread(share: Int = 1) -> PipelineOptions {
        var options = self
        options.analysis.parser.budget = HeadBudget(limit: maxBufferedHeadBytes / max(1, share))
        options.analysis.heldBudget = HeadBudget(limit: maxHeldEarlyBytes / max(1, share))
        options.analysis.webSocket.inflaterMemory = InflaterMemoryBudget(limit: maxInflaterMemoryBytes / max(1, share))
        return options
    }
}

/// Called now and then with the input's progress (bytes read, total if known).
public typealias ProgressHandler = (_ done: UInt64, _ total: UInt64?) -> Void

/// Reads one packet source to its end through decoding and reassembly into `consumer`.
/// Stops early only when the source throws (truncated or unreadable input) or `shouldStop`
/// says so; what was read until then is still analysed and flushed.
///
/// The capture clock (idle timeouts) is kept here over every TCP packet, and `share` chooses
/// the connections analysed: all of them, or those a `--jobs` worker or `--shard` owns, whose
/// timeouts then fall exactly as in a single-threaded run over the whole capture.
///
/// The decoder's notices (IP fragment overlaps, defragmentation limits) go to the consumer
/// after each packet, from the one share that counts the packets no connection owns.
func runPackets<Source: PacketSource, Consumer: PipelineConsumer>(
    _ source: inout Source, account: inout CaptureAccount, limits: ReassemblyLimits,
    consumer: inout Consumer, progress: ProgressHandler?, shouldStop: () -> Bool = { false },
    share: FlowShare = FlowShare()
) {
    var decoder = PacketDecoder(verifiesChecksums: limits.checksums != .off, fragmentLimits: limits.fragments)
    var reassembler = TCPReassembler(limits: limits)
    var clock = IdleClock(confirmSeconds: limits.idleTimeoutSeconds)
    var packets: UInt64 = 0
    var bytes: UInt64 = 0
    var first: Timestamp?
    var last = Timestamp.zero
    let whole = share.isWhole
    while true {
        let packet: CapturedPacket?
        do {
            packet = try source.nextPacket()
        } catch {
            account.error = error.description
            break
        }
        guard let packet else { break }
        packets &+= 1
        bytes &+= UInt64(packet.bytes.count)
        if first == nil { first = packet.timestamp }
        last = packet.timestamp
        if whole {
            if case .tcp(let segment) = decoder.decode(packet) {
                _ = clock.advance(to: packet.timestamp.totalNanoseconds)
                reassembler.process(segment, frame: packet.frameNumber, timestamp: packet.timestamp,
                                    clock: clock, into: &consumer)
            }
        } else {
            // A share decodes in full only its own connections' packets; the others cost a
            // header walk (PacketRoute), and their timestamps still move the capture clock.
            switch PacketDecoder.route(packet) {
            case .tcp(let source, let destination):
                _ = clock.advance(to: packet.timestamp.totalNanoseconds)
                if share.owns(source, destination), case .tcp(let segment) = decoder.decode(packet) {
                    reassembler.process(segment, frame: packet.frameNumber, timestamp: packet.timestamp,
                                        clock: clock, into: &consumer)
                }
            case .other:
                if share.countsShared { _ = decoder.decode(packet) }
            case .fragment:
                let outcome = share.countsShared ? decoder.decode(packet) : decoder.decodeUncounted(packet)
                if case .tcp(let segment) = outcome {
                    _ = clock.advance(to: packet.timestamp.totalNanoseconds)
                    if share.owns(segment.source, segment.destination) {
                        reassembler.process(segment, frame: packet.frameNumber, timestamp: packet.timestamp,
                                            clock: clock, into: &consumer)
                    }
                }
            }
        }
        if decoder.hasNotices {
            let notices = decoder.takeNotices()
            if share.countsShared { for notice in notices { consumer.decodeNotice(notice) } }
        }
        if packets & 0x3FFF == 0 {
            if let progress { progress(source.progress.done, source.progress.total) }
            if shouldStop() { break }
        }
    }
    reassembler.follow(clock, into: &consumer)
    reassembler.finish(into: &consumer)
    // Datagrams left incomplete are counted by the share that counts fragments.
    if share.countsShared { decoder.finish() }
    account.packets = packets
    account.bytes = bytes
    account.firstTimestamp = first
    account.lastTimestamp = first == nil ? nil : last
    account.decode = decoder.counters
    account.tcpNotBelieved = TCPDisbelief(reassembler.statistics, clockSteps: clock.steps)
    account.tcpNotBelieved.ackPaddingIgnored = decoder.counters.ackPaddingIgnored
}

/// The part of a capture's connections one run analyses: shard `shard` of `shards` (machines,
/// `--shard`), worker `worker` of `workers` within it (threads, `--jobs`), by `FlowHash`.
///
/// Each packet is counted (`packet_disposition`) by exactly one share: a TCP segment by the
/// share that owns its connection, everything else (other protocols, malformed packets, IP
/// fragments, which every share reassembles) by share 0 of shard 0, which also reports the
/// decoder's notices. Summing the shares' counters gives the whole run's.
public struct FlowShare: Sendable, Equatable {
    public var shard = 0
    public var shards = 1
    public var worker = 0
    public var workers = 1

    public init(shard: Int = 0, shards: Int = 1, worker: Int = 0, workers: Int = 1) {
        self.shard = shard
        self.shards = shards
        self.worker = worker
        self.workers = workers
    }

    var isWhole: Bool { shards == 1 && workers == 1 }
    /// Counts the packets no connection owns and reports the decoder's notices.
    var countsShared: Bool { shard == 0 && worker == 0 }

    @inline(__always)
    func owns(_ a: Endpoint, _ b: Endpoint) -> Bool {
        let hash = FlowHash.of(a, b)
        return FlowHash.shard(hash, of: shards) == shard && FlowHash.worker(hash, of: workers) == worker
    }
}


/// A stream consumer that also takes the decoder's notices: findings that belong to no
/// TCP connection (IP fragments that overlap with different bytes, defragmentation limits).
protocol PipelineConsumer: StreamConsumer {
    mutating func decodeNotice(_ notice: DecodeNotice)
}

/// Counts gaps per connection for the summary, then passes everything on.
struct AccountingConsumer<Inner: PipelineConsumer>: PipelineConsumer {
    var inner: Inner
    var connections: UInt64 = 0
    var gaps: UInt64 = 0
    var gapBytes: UInt64 = 0

    mutating func connectionOpened(_ connection: Connection) { inner.connectionOpened(connection) }
    mutating func streamData(_ connection: Connection, _ direction: Direction, _ bytes: UnsafeRawBufferPointer,
                             frame: UInt64, timestamp: Timestamp) {
        inner.streamData(connection, direction, bytes, frame: frame, timestamp: timestamp)
    }
    mutating func streamGap(_ connection: Connection, _ direction: Direction, length: UInt64,
                            frame: UInt64, timestamp: Timestamp) {
        inner.streamGap(connection, direction, length: length, frame: frame, timestamp: timestamp)
    }
    mutating func streamEnd(_ connection: Connection, _ direction: Direction, frame: UInt64, timestamp: Timestamp) {
        inner.streamEnd(connection, direction, frame: frame, timestamp: timestamp)
    }
    mutating func connectionClosed(_ summary: ConnectionSummary) {
        connections += 1
        for direction in Direction.allCases {
            gaps += summary[direction].gaps
            gapBytes += summary[direction].gapBytes
        }
        inner.connectionClosed(summary)
    }
    mutating func reassemblyFinding(_ finding: ReassemblyFinding) { inner.reassemblyFinding(finding) }
    mutating func decodeNotice(_ notice: DecodeNotice) { inner.decodeNotice(notice) }
}

/// `switchyard analyze` on one packet source.
public func analyzeSource<Source: PacketSource>(
    _ source: inout Source, name: String, format: String, options: PipelineOptions,
    sink: OutputSink, progress: ProgressHandler? = nil, shouldStop: () -> Bool = { false }
) {
    var account = CaptureAccount(name: name, format: format)
    let options = options.forOneThread()
    let exchanges = ExchangeCollector(capture: name, byteLimit: options.proxy.maxExchangeBytes)
    var consumer = AccountingConsumer(inner: AnalysisConsumer(sink: sink, capture: name, options: options.analysis,
                                                              exchanges: exchanges))
    runPackets(&source, account: &account, limits: options.reassembly, consumer: &consumer,
               progress: progress, shouldStop: shouldStop)
    sink.addExchanges([exchanges], capture: name, options: options.pairing)
    account.connections = consumer.connections
    account.gaps = consumer.gaps
    account.gapBytes = consumer.gapBytes
    sink.tally.http.add(consumer.inner.http)
    sink.tally.captures.append(account)
}
