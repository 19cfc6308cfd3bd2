import Foundation
import Findings
import PacketCapture
import PacketDecoding
import ProxyCorrelation
import StreamReassembly
import UpgradeAnalysis

/// `--jobs N` on a capture file: N workers each walk the whole file and analyse the
/// connections whose endpoints hash to them (`FlowShare`; both directions of a connection meet
/// in the same worker).
///
/// Why this shape: a single reader feeding the workers (decoding every packet and copying the
/// TCP ones into per-worker batches over bounded queues) was built twice, the second time after
/// the per-packet costs had been cut (docs/BENCHMARK.md); on two cores two threads were then no
/// faster than one, because the copy, the second decode and packets crossing cores cost what
/// they saved. Here nothing crosses threads: the file is mapped once (`CaptureFileMapping`),
/// so its pages are shared and never copied, and each worker walks the record headers,
/// routes each packet by its headers alone (`PacketDecoder.route`: no checksums, no state) and
/// decodes in full only its own connections' packets. Adding a worker adds a header walk over
/// the file, not a read and a decode. Every worker numbers frames as the file does and sees
/// every timestamp, so each keeps the same capture clock as a single-threaded run and idle
/// timeouts fall exactly as they would there. Standard input can be read only once, so it is
/// analysed by one thread; a file that cannot be mapped is read by each worker.
///
/// Findings are counted, filtered and encoded per worker and written at the end in a
/// documented order: by timestamp, then by their JSON text (docs/OUTPUT.md). The summary equals
/// the one-thread run's.
public enum ParallelAnalysis {
    public static func analyzeFile(
        path: String, name: String, options: PipelineOptions, sink: OutputSink, jobs: Int,
        shard: (index: Int, count: Int) = (0, 1),
        progress: ProgressHandler? = nil, shouldStop: () -> Bool = { false }
    ) throws(CaptureError) {
        // Opened here first, so that an unreadable file is reported before any thread starts.
        let mapping = CaptureFileMapping.map(path: path, readers: jobs)
        var firstReader = try reader(mapping, path: path)
        var workerOptions = options
        // Each worker holds a share of the connections: the table limits are shared out too.
        workerOptions.reassembly.maxConnections = max(1, options.reassembly.maxConnections / jobs)
        workerOptions.reassembly.globalBufferBytes = max(0, options.reassembly.globalBufferBytes / jobs)
        workerOptions.reassembly.globalHistoryBytes = max(0, options.reassembly.globalHistoryBytes / jobs)
        workerOptions.heldRecordBytes = max(0, options.heldRecordBytes / jobs)
        workerOptions.proxy.maxExchangeBytes = max(0, options.proxy.maxExchangeBytes / jobs)
        let stop = StopFlag()
        let workers = (0..<jobs).map {
            FileWorker(share: FlowShare(shard: shard.index, shards: shard.count, worker: $0, workers: jobs),
                       capture: name, options: workerOptions.forOneThread(share: jobs), output: sink, stop: stop)
        }
        let finished = DispatchSemaphore(value: 0)
        for worker in workers.dropFirst() {
            let thread = Thread {
                if var reader = try? reader(mapping, path: path) {
                    worker.run(&reader, progress: nil, shouldStop: { false })
                } else {
                    worker.failed = true
                }
                finished.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        // Worker 0 runs here: it reports progress and counts the packets no connection owns.
        workers[0].run(&firstReader, progress: progress, shouldStop: shouldStop)
        for _ in workers.dropFirst() { finished.wait() }

        var account = workers[0].account
        account.format = firstReader.formatName
        var runs: [RecordRun] = []
        for worker in workers {
            if worker.failed && account.error == nil { account.error = "a worker could not reopen the file" }
            account.connections += worker.consumer.connections
            account.gaps += worker.consumer.gaps
            account.gapBytes += worker.consumer.gapBytes
            if worker !== workers[0] {
                // Each packet was decoded by one worker; every worker keeps the one capture
                // clock, so its steps are counted once.
                account.decode.add(worker.account.decode)
                account.tcpNotBelieved.add(worker.account.tcpNotBelieved, countingClock: false)
            }
            sink.tally.http.add(worker.consumer.inner.http)
            sink.tally.addCounts(worker.sink.tally)
            if let reason = worker.sink.held.spillError { spillWarning(reason) }
            runs += worker.sink.held.takeRuns()
        }
        // The two legs of a proxied upgrade may be in two workers: they are paired at the end
        // of the run, over every worker's exchanges (ProxyCorrelator).
        sink.addExchanges(workers.map(\.exchanges), capture: name, options: options.pairing)
        if !mergeRuns(runs, { sink.write($0) }) && account.error == nil {
            account.error = "records were lost: a temporary file of held records could not be read back"
        }
        sink.tally.captures.append(account)
    }

    /// A reader over the shared mapping, or over the file itself when it could not be mapped.
    static func reader(_ mapping: CaptureFileMapping?, path: String) throws(CaptureError) -> CaptureFileReader {
        if let mapping { return try CaptureFileReader(mapping: mapping, name: path) }
        return try CaptureFileReader(path: path)
    }

    /// Once per run, on stderr: the records are kept in memory instead (nothing is lost).
    private static let warned = StopFlag()
    private static func spillWarning(_ reason: String) {
        guard !warned.isSet else { return }
        warned.set()
        FileHandle.standardError.write(Data("switchyard: --jobs: \(reason); holding the records in memory\n".utf8))
    }
}

/// Set when worker 0 stops early (output failed), so that the others stop too.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    func set() {
        lock.lock()
        stopped = true
        lock.unlock()
    }
}

/// Keeps a worker's records until the run is over: counted and filtered as the output sink
/// would, and held encoded (about half the memory of the findings themselves), in bounded
/// memory (`HeldRecords`).
final class CollectingSink: FindingSink, @unchecked Sendable {
    private let output: OutputSink
    var tally = RunTally()
    let held: HeldRecords

    init(output: OutputSink, memoryLimit: Int) {
        self.output = output
        held = HeldRecords(memoryLimit: memoryLimit)
    }

    func emit(_ finding: Finding, capture: String) {
        if let record = output.prepare(finding, capture: capture, tally: &tally) { held.append(record) }
    }
}

/// One analysis thread: the single-threaded chain over its share of the connections, with the
/// capture clock kept over every packet of the file.
final class FileWorker: @unchecked Sendable {
    let share: FlowShare
    let sink: CollectingSink
    var consumer: AccountingConsumer<AnalysisConsumer<CollectingSink>>
    var account: CaptureAccount
    let exchanges: ExchangeCollector
    var failed = false
    private let limits: ReassemblyLimits
    private let stop: StopFlag

    init(share: FlowShare, capture: String, options: PipelineOptions, output: OutputSink, stop: StopFlag) {
        self.share = share
        sink = CollectingSink(output: output, memoryLimit: options.heldRecordBytes)
        self.stop = stop
        account = CaptureAccount(name: capture, format: "")
        exchanges = ExchangeCollector(capture: capture, byteLimit: options.proxy.maxExchangeBytes)
        consumer = AccountingConsumer(inner: AnalysisConsumer(sink: sink, capture: capture, options: options.analysis,
                                                              exchanges: exchanges))
        limits = options.reassembly
    }

    func run(_ source: inout CaptureFileReader, progress: ProgressHandler?, shouldStop: () -> Bool) {
        let stop = self.stop
        runPackets(&source, account: &account, limits: limits, consumer: &consumer, progress: progress,
                   shouldStop: {
                       if shouldStop() {
                           stop.set()
                           return true
                       }
                       return stop.isSet
                   },
                   share: share)
        // The other workers must not wait for this one's position in the shared mapping.
        source.finishReading()
    }
}
