import Findings
import PacketCapture
import PacketDecoding
import StreamReassembly
#if canImport(Glibc)
import Glibc
#endif

/// How `--write-streams` treats missing bytes.
public enum GapFill: String, Sendable {
    /// Gaps are left out of the files (and counted in the flow record).
    case none
    /// Gaps are written as zero bytes, so file offsets equal stream offsets (at most
    /// `GapFill.maxFillPerGap` bytes per gap, to bound the output).
    case zero

    public static let maxFillPerGap: UInt64 = 64 << 20
}

/// `switchyard flows`: one record per connection, and optionally each direction's bytes on disk.
struct FlowConsumer: PipelineConsumer {
    let sink: OutputSink
    let capture: String
    let streamDirectory: String?
    let gapFill: GapFill
    var files = StreamFiles()
    var failures: [String] = []

    init(sink: OutputSink, capture: String, streamDirectory: String?, gapFill: GapFill) {
        self.sink = sink
        self.capture = capture
        self.streamDirectory = streamDirectory
        self.gapFill = gapFill
    }

    func path(_ connection: Connection, _ direction: Direction) -> String? {
        guard let streamDirectory else { return nil }
        func clean(_ endpoint: Endpoint) -> String {
            String(endpoint.description.map { $0.isLetter || $0.isNumber || $0 == "." ? $0 : "_" })
        }
        let suffix = direction == .clientToServer ? "c2s" : "s2c"
        return "\(streamDirectory)/\(connection.id.rawValue)-\(clean(connection.client))-\(clean(connection.server)).\(suffix)"
    }

    mutating func connectionOpened(_ connection: Connection) {
        for direction in Direction.allCases {
            if let path = path(connection, direction) { files.create(path) }
        }
    }

    mutating func streamData(_ connection: Connection, _ direction: Direction, _ bytes: UnsafeRawBufferPointer,
                             frame: UInt64, timestamp: Timestamp) {
        guard let path = path(connection, direction) else { return }
        files.append(path, bytes)
    }

    mutating func streamGap(_ connection: Connection, _ direction: Direction, length: UInt64,
                            frame: UInt64, timestamp: Timestamp) {
        guard gapFill == .zero, let path = path(connection, direction) else { return }
        var remaining = min(length, GapFill.maxFillPerGap)
        let zeros = [UInt8](repeating: 0, count: 1 << 16)
        zeros.withUnsafeBytes { raw in
            while remaining > 0 {
                let count = Int(min(remaining, UInt64(raw.count)))
                files.append(path, UnsafeRawBufferPointer(rebasing: raw[..<count]))
                remaining -= UInt64(count)
            }
        }
    }

    mutating func streamEnd(_ connection: Connection, _ direction: Direction, frame: UInt64, timestamp: Timestamp) {}

    mutating func connectionClosed(_ summary: ConnectionSummary) {
        let connection = summary.connection
        var written: [String] = []
        for direction in Direction.allCases {
            if let path = path(connection, direction) {
                files.close(path)
                written.append(path)
            }
        }
        func side(_ s: DirectionStatistics) -> FlowRecord.Side {
            FlowRecord.Side(packets: s.packets, payloadBytes: s.payloadBytes, gaps: s.gaps, gapBytes: s.gapBytes,
                            retransmittedBytes: s.retransmittedBytes, outOfOrderSegments: s.outOfOrderSegments)
        }
        let record = FlowRecord(
            id: connection.id.rawValue, connection: ConnectionRef(connection),
            firstTimestamp: connection.firstTimestamp, lastTimestamp: summary.lastTimestamp,
            firstFrame: connection.firstFrame, lastFrame: summary.lastFrame, state: summary.closeReason.rawValue,
            clientToServer: side(summary[.clientToServer]), serverToClient: side(summary[.serverToClient]),
            streamFiles: written)
        sink.emit(.flow(record), capture: capture)
    }

    mutating func reassemblyFinding(_ finding: ReassemblyFinding) {
        sink.emit(.violation(Violation(finding)), capture: capture)
    }

    mutating func decodeNotice(_ notice: DecodeNotice) {
        sink.emit(.violation(Violation(notice)), capture: capture)
    }
}

/// Open stream files, at most `maxOpen` at once (least recently used closed first), so that
/// a capture with many concurrent connections does not run out of descriptors.
struct StreamFiles {
    private var open: [String: Int32] = [:]
    private var order: [String] = []
    let maxOpen = 128
    private(set) var errors: [String] = []

    mutating func create(_ path: String) {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            errors.append("\(path): \(String(cString: strerror(errno)))")
            return
        }
        remember(path, fd)
    }

    private mutating func remember(_ path: String, _ fd: Int32) {
        open[path] = fd
        order.append(path)
        if open.count > maxOpen, let oldest = order.first {
            order.removeFirst()
            if let old = open.removeValue(forKey: oldest) { _ = Glibc.close(old) }
        }
    }

    mutating func append(_ path: String, _ bytes: UnsafeRawBufferPointer) {
        var fd = open[path] ?? -1
        if fd < 0 {
            fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
            guard fd >= 0 else { return }
            remember(path, fd)
        }
        var written = 0
        while written < bytes.count {
            let result = Glibc.write(fd, bytes.baseAddress! + written, bytes.count - written)
            if result < 0 {
                if errno == EINTR { continue }
                errors.append("\(path): \(String(cString: strerror(errno)))")
                return
            }
            written += result
        }
    }

    mutating func close(_ path: String) {
        if let fd = open.removeValue(forKey: path) {
            _ = Glibc.close(fd)
            order.removeAll { $0 == path }
        }
    }
}

/// `switchyard flows` on one packet source.
public func flowsSource<Source: PacketSource>(
    _ source: inout Source, name: String, format: String, options: PipelineOptions, sink: OutputSink,
    streamDirectory: String?, gapFill: GapFill, progress: ProgressHandler? = nil,
    shouldStop: () -> Bool = { false }
) -> [String] {
    var account = CaptureAccount(name: name, format: format)
    var directory = streamDirectory
    if let base = streamDirectory {
        let safeName = String(name.split(separator: "/").last ?? "stdin").map { $0 == "." || $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" }
        directory = base + "/" + String(safeName)
        _ = mkdir(base, 0o755)
        _ = mkdir(directory!, 0o755)
    }
    var consumer = AccountingConsumer(inner: FlowConsumer(sink: sink, capture: name, streamDirectory: directory,
                                                          gapFill: gapFill))
    runPackets(&source, account: &account, limits: options.reassembly, consumer: &consumer, progress: progress,
               shouldStop: shouldStop)
    account.connections = consumer.connections
    account.gaps = consumer.gaps
    account.gapBytes = consumer.gapBytes
    sink.tally.captures.append(account)
    return consumer.inner.files.errors
}
