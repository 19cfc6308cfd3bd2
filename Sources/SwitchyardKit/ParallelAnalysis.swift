import Foundation
import Findings
import PacketCapture
import PacketDecoding
import StreamReassembly
import UpgradeAnalysis

/// `--jobs N`: one reader feeds N analysis workers, each owning the connections whose
/// endpoints hash to it (both directions of a connection always meet in the same worker).
///
/// Why this shape: reading and decoding are cheap and sequential by nature; reassembly and the
/// protocol analysis are where the time goes, and connections are independent. Packets are
/// copied once into per-worker batches (the reader's buffer is reused), handed over through
/// bounded queues (so a slow worker slows the reader instead of growing memory), and each
/// worker runs the same decoder → reassembler → tracker chain as the single-threaded path.
/// Findings are collected per worker and written at the end in a documented order:
/// by timestamp, then by their JSON text (see docs/OUTPUT.md).
public enum ParallelAnalysis {
    /// Bytes per batch handed to a worker.
    static let batchBytes = 256 * 1024
    /// Batches waiting per worker before the reader blocks.
    static let queueDepth = 4

    public static func analyze<Source: PacketSource>(
        _ source: inout Source, name: String, format: String, options: PipelineOptions, sink: OutputSink,
        jobs: Int, progress: ProgressHandler? = nil, shouldStop: () -> Bool = { false }
    ) {
        var workerOptions = options
        // Each worker holds a share of the connections: the table limit is shared out too.
        workerOptions.reassembly.maxConnections = max(1, options.reassembly.maxConnections / jobs)
        workerOptions.reassembly.globalBufferBytes = max(0, options.reassembly.globalBufferBytes / jobs)
        let workers = (0..<jobs).map { _ in AnalysisWorker(capture: name, options: workerOptions.forOneThread(share: jobs)) }
        let finished = DispatchSemaphore(value: 0)
        for worker in workers {
            let thread = Thread {
                worker.run()
                finished.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }

        var account = CaptureAccount(name: name, format: format)
        var decoder = PacketDecoder()
        var clock = IdleClock()
        var batches = (0..<jobs).map { _ in PacketBatch() }
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
                let index = workerIndex(segment.source, segment.destination, jobs)
                batches[index].append(packet, clockNanos: clock.nowNanos)
                if batches[index].bytes.count >= batchBytes {
                    workers[index].queue.put(batches[index])
                    batches[index] = PacketBatch()
                }
            }
            if packets & 0x3FFF == 0 {
                if let progress { progress(source.progress.done, source.progress.total) }
                if shouldStop() { break }
            }
        }
        for (index, worker) in workers.enumerated() {
            if !batches[index].packets.isEmpty { worker.queue.put(batches[index]) }
            worker.finalClockNanos = clock.nowNanos
            worker.queue.close()
        }
        for _ in workers { finished.wait() }

        account.packets = packets
        account.bytes = bytes
        account.firstTimestamp = first
        account.lastTimestamp = first == nil ? nil : last
        account.decode = decoder.counters
        var collected: [(key: SortKey, finding: Finding)] = []
        for worker in workers {
            account.connections += worker.consumer.connections
            account.gaps += worker.consumer.gaps
            account.gapBytes += worker.consumer.gapBytes
            sink.tally.http.add(worker.consumer.inner.http)
            for finding in worker.sink.findings {
                collected.append((SortKey(finding, capture: name), finding))
            }
        }
        collected.sort { $0.key < $1.key }
        for entry in collected { sink.emit(entry.finding, capture: name) }
        sink.tally.captures.append(account)
    }

    /// The same worker for both directions: the endpoints are ordered before mixing.
    static func workerIndex(_ x: Endpoint, _ y: Endpoint, _ jobs: Int) -> Int {
        let (a, b) = x < y ? (x, y) : (y, x)
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        for word in [a.address.high, a.address.low, b.address.high, b.address.low,
                     UInt64(a.port) << 16 | UInt64(b.port)] {
            h = (h ^ word) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
        }
        return Int(h % UInt64(jobs))
    }
}

/// The order of records written with `--jobs` > 1: timestamp, then the record's JSON text.
struct SortKey: Comparable {
    var nanoseconds: Int64
    var json: [UInt8]

    init(_ finding: Finding, capture: String) {
        nanoseconds = finding.timestamp.totalNanoseconds
        var writer = JSONWriter()
        writer.finding(finding, capture: capture)
        json = writer.bytes
    }

    static func < (a: SortKey, b: SortKey) -> Bool {
        a.nanoseconds != b.nanoseconds ? a.nanoseconds < b.nanoseconds : a.json.lexicographicallyPrecedes(b.json)
    }
}

/// Packets copied out of the reader's buffer for one worker.
final class PacketBatch: @unchecked Sendable {
    struct Entry {
        var offset: Int
        var length: Int
        var originalLength: Int
        var frame: UInt64
        var timestamp: Timestamp
        var linkType: LinkType
        /// The capture clock when the reader met this packet.
        var clockNanos: Int64
    }

    var bytes: [UInt8] = []
    var packets: [Entry] = []

    init() {
        bytes.reserveCapacity(ParallelAnalysis.batchBytes + 65_536)
    }

    func append(_ packet: CapturedPacket, clockNanos: Int64) {
        packets.append(Entry(offset: bytes.count, length: packet.bytes.count, originalLength: packet.originalLength,
                             frame: packet.frameNumber, timestamp: packet.timestamp, linkType: packet.linkType,
                             clockNanos: clockNanos))
        bytes.append(contentsOf: packet.bytes)
    }
}

/// A bounded hand-over between the reader and one worker.
final class BatchQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [PacketBatch] = []
    private var closed = false

    func put(_ batch: PacketBatch) {
        condition.lock()
        while items.count >= ParallelAnalysis.queueDepth && !closed { condition.wait() }
        items.append(batch)
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch, or nil once the queue is closed and empty.
    func take() -> PacketBatch? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        guard !items.isEmpty else { return nil }
        let batch = items.removeFirst()
        condition.broadcast()
        return batch
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Keeps a worker's findings until the run is over.
final class CollectingSink: FindingSink, @unchecked Sendable {
    var findings: [Finding] = []

    func emit(_ finding: Finding, capture: String) {
        findings.append(finding)
    }
}

/// One analysis thread: the single-threaded chain over its share of the connections.
final class AnalysisWorker: @unchecked Sendable {
    let queue = BatchQueue()
    let sink = CollectingSink()
    var consumer: AccountingConsumer<AnalysisConsumer<CollectingSink>>
    private var reassembler: TCPReassembler
    private var decoder = PacketDecoder()
    /// The capture clock at the end of input.
    var finalClockNanos = Int64.min

    init(capture: String, options: PipelineOptions) {
        consumer = AccountingConsumer(inner: AnalysisConsumer(sink: sink, capture: capture, options: options.analysis))
        reassembler = TCPReassembler(limits: options.reassembly)
    }

    func run() {
        while let batch = queue.take() {
            batch.bytes.withUnsafeBytes { raw in
                for entry in batch.packets {
                    let packet = CapturedPacket(
                        frameNumber: entry.frame, timestamp: entry.timestamp, linkType: entry.linkType,
                        bytes: UnsafeRawBufferPointer(rebasing: raw[entry.offset..<(entry.offset + entry.length)]),
                        originalLength: entry.originalLength)
                    if case .tcp(let segment) = decoder.decode(packet) {
                        reassembler.process(segment, frame: entry.frame, timestamp: entry.timestamp,
                                            clockNanos: entry.clockNanos, into: &consumer)
                    }
                }
            }
        }
        // Set by the reader before it closes the queue (the queue's lock orders the accesses).
        reassembler.advanceClock(toNanos: finalClockNanos, into: &consumer)
        reassembler.finish(into: &consumer)
    }
}
