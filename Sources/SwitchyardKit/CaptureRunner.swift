import Findings
import HTTP1
import PacketCapture
import PacketDecoding
import StreamReassembly
import SwitchedProtocols
import UpgradeAnalysis

/// Limits and options shared by every command that reads captures.
public struct PipelineOptions: Sendable {
    public var reassembly = ReassemblyLimits()
    public var analysis = UpgradeAnalysisOptions()
    /// HTTP header bytes all connections may buffer at once (unfinished heads).
    public var maxBufferedHeadBytes = 64 << 20
    /// Memory all permessage-deflate inflaters may hold at once (about 72 KiB per inflating
    /// direction at the default window: some 900 directions).
    public var maxInflaterMemoryBytes = 64 << 20
    /// With `--jobs`, encoded records all workers may hold in memory before they spill sorted
    /// runs to a temporary file (records are written sorted when the capture ends).
    public var heldRecordBytes = 1 << 20
    public init() {}

    /// The options one analysis thread uses: its own head budget (`share` of the total).
    func forOneThread(share: Int = 1) -> PipelineOptions {
        var options = self
        options.analysis.parser.budget = HeadBudget(limit: maxBufferedHeadBytes / max(1, share))
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
/// The capture clock (idle timeouts) is kept here over every TCP packet, and `keep` chooses the
/// connections analysed: all of them, or a `--jobs` worker's share, whose timeouts then fall
/// exactly as in a single-threaded run.
func runPackets<Source: PacketSource, Consumer: StreamConsumer>(
    _ source: inout Source, account: inout CaptureAccount, limits: ReassemblyLimits,
    consumer: inout Consumer, progress: ProgressHandler?, shouldStop: () -> Bool = { false },
    keep: (TCPSegment) -> Bool = { _ in true }
) {
    var decoder = PacketDecoder()
    var reassembler = TCPReassembler(limits: limits)
    var clock = IdleClock()
    var packets: UInt64 = 0
    var bytes: UInt64 = 0
    var first: Timestamp?
    var last = Timestamp.zero
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
        if case .tcp(let segment) = decoder.decode(packet) {
            _ = clock.advance(to: packet.timestamp.totalNanoseconds)
            if keep(segment) {
                reassembler.process(segment, frame: packet.frameNumber, timestamp: packet.timestamp,
                                    clockNanos: clock.nowNanos, into: &consumer)
            }
        }
        if packets & 0x3FFF == 0 {
            if let progress { progress(source.progress.done, source.progress.total) }
            if shouldStop() { break }
        }
    }
    reassembler.advanceClock(toNanos: clock.nowNanos, into: &consumer)
    reassembler.finish(into: &consumer)
    account.packets = packets
    account.bytes = bytes
    account.firstTimestamp = first
    account.lastTimestamp = first == nil ? nil : last
    account.decode = decoder.counters
}


/// Counts gaps per connection for the summary, then passes everything on.
struct AccountingConsumer<Inner: StreamConsumer>: StreamConsumer {
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
}

/// `switchyard analyze` on one packet source.
public func analyzeSource<Source: PacketSource>(
    _ source: inout Source, name: String, format: String, options: PipelineOptions,
    sink: OutputSink, progress: ProgressHandler? = nil, shouldStop: () -> Bool = { false }
) {
    var account = CaptureAccount(name: name, format: format)
    let options = options.forOneThread()
    var consumer = AccountingConsumer(inner: AnalysisConsumer(sink: sink, capture: name, options: options.analysis))
    runPackets(&source, account: &account, limits: options.reassembly, consumer: &consumer,
               progress: progress, shouldStop: shouldStop)
    account.connections = consumer.connections
    account.gaps = consumer.gaps
    account.gapBytes = consumer.gapBytes
    sink.tally.http.add(consumer.inner.http)
    sink.tally.captures.append(account)
}
