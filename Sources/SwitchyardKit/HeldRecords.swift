import Foundation
import Findings

/// A `--jobs` worker's records until the capture ends, in bounded memory.
///
/// The records of a capture are written sorted (docs/OUTPUT.md), so none can be written before
/// every worker is done. Past `memoryLimit` bytes, the records held are sorted and appended to
/// the worker's spill file as one sorted run; `mergeRuns` then merges every worker's runs (an
/// external merge sort). So a capture with millions of findings needs no more memory with
/// `--jobs` than with one thread. The spill file is created in `TMPDIR` (default `/tmp`) and
/// unlinked at once: nothing is left behind, whatever happens. If it cannot be written, the
/// records stay in memory, as they would without a limit, and `spillError` says why.
final class HeldRecords {
    let memoryLimit: Int
    private var records: [PreparedRecord] = []
    private var heldBytes = 0
    private var file: SpillFile?
    private var fileSize: Int64 = 0
    private var spilled: [(offset: Int64, length: Int64)] = []
    private(set) var spillError: String?

    init(memoryLimit: Int) {
        self.memoryLimit = max(memoryLimit, 0)
    }

    var spilledRuns: Int { spilled.count }

    func append(_ record: PreparedRecord) {
        records.append(record)
        heldBytes += record.cost
        if heldBytes > memoryLimit && spillError == nil { spill() }
    }

    /// The sorted runs: each spilled one, then what is still in memory. Call once, at the end.
    func takeRuns() -> [RecordRun] {
        records.sort(by: PreparedRecord.precedes)
        var runs = file.map { file in spilled.map { RecordRun(file: file, offset: $0.offset, length: $0.length) } } ?? []
        runs.append(RecordRun(memory: records))
        records = []
        heldBytes = 0
        return runs
    }

    private func spill() {
        records.sort(by: PreparedRecord.precedes)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(heldBytes)
        for record in records { record.encode(into: &buffer) }
        if file == nil {
            let directory = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            var template = Array((directory + "/switchyard-records-XXXXXX").utf8CString)
            let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard descriptor >= 0 else {
                spillError = "cannot create a spill file in \(directory): \(String(cString: strerror(errno)))"
                return
            }
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
            file = SpillFile(descriptor: descriptor)
        }
        guard let descriptor = file?.descriptor else { return }
        var written = 0
        while written < buffer.count {
            let (done, at) = (written, fileSize)
            let result = buffer.withUnsafeBytes { raw in
                pwrite(descriptor, raw.baseAddress! + done, raw.count - done, off_t(at + Int64(done)))
            }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                spillError = "cannot write the spill file: \(String(cString: strerror(result < 0 ? errno : ENOSPC)))"
                return
            }
            written += result
        }
        spilled.append((fileSize, Int64(buffer.count)))
        fileSize += Int64(buffer.count)
        records = []
        heldBytes = 0
    }
}

extension PreparedRecord {
    /// Bytes charged against the memory limit: the encoded record and the array headers.
    var cost: Int { json.count + (text?.count ?? 0) + 96 }

    /// The written order: timestamp, then JSON text (docs/OUTPUT.md).
    static func precedes(_ a: PreparedRecord, _ b: PreparedRecord) -> Bool {
        a.nanoseconds != b.nanoseconds ? a.nanoseconds < b.nanoseconds : a.json.lexicographicallyPrecedes(b.json)
    }

    /// nanoseconds (8, little-endian), severity (1; 0xFF none), JSON length (4) and bytes,
    /// text length (4; 0xFFFFFFFF none) and bytes.
    func encode(into buffer: inout [UInt8]) {
        withUnsafeBytes(of: nanoseconds.littleEndian) { buffer.append(contentsOf: $0) }
        buffer.append(severity.map { UInt8($0.rawValue) } ?? 0xFF)
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { buffer.append(contentsOf: $0) }
        buffer.append(contentsOf: json)
        withUnsafeBytes(of: (text.map { UInt32($0.count) } ?? UInt32.max).littleEndian) { buffer.append(contentsOf: $0) }
        if let text { buffer.append(contentsOf: text) }
    }

    /// Decodes one record at `offset` of `bytes`; nil when they hold less than a whole record.
    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> (record: PreparedRecord, next: Int)? {
        var position = offset
        func take(_ count: Int) -> UnsafeRawBufferPointer? {
            guard bytes.count - position >= count else { return nil }
            defer { position += count }
            return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
        }
        guard let nanos = take(8), let severity = take(1), let jsonLength = take(4) else { return nil }
        let jsonCount = Int(UInt32(littleEndian: jsonLength.loadUnaligned(as: UInt32.self)))
        guard let json = take(jsonCount), let textLength = take(4) else { return nil }
        let rawTextCount = UInt32(littleEndian: textLength.loadUnaligned(as: UInt32.self))
        var text: [UInt8]?
        if rawTextCount != UInt32.max {
            guard let textBytes = take(Int(rawTextCount)) else { return nil }
            text = Array(textBytes)
        }
        let record = PreparedRecord(nanoseconds: Int64(littleEndian: nanos.loadUnaligned(as: Int64.self)),
                                    json: Array(json), text: text,
                                    severity: severity[0] == 0xFF ? nil : Severity(rawValue: Int(severity[0])))
        return (record, position)
    }
}

/// The spill file's descriptor, closed when the last run reading it is gone (the runs, not
/// the `HeldRecords` that wrote them, decide how long it must stay open).
final class SpillFile {
    let descriptor: Int32

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }
}

/// One sorted run of records, read in order: from memory, or from a region of a spill file
/// through a small buffer.
struct RecordRun {
    private var memory: [PreparedRecord]
    private var memoryIndex = 0
    private let file: SpillFile?
    private var offset: Int64
    private let end: Int64
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    /// The spill file could not be read back to the run's end (records were lost).
    private(set) var failed = false

    static let readSize = 16 << 10

    init(memory: [PreparedRecord]) {
        self.memory = memory
        file = nil
        offset = 0
        end = 0
    }

    init(file: SpillFile, offset: Int64, length: Int64) {
        memory = []
        self.file = file
        self.offset = offset
        end = offset + length
    }

    /// The next record, or nil at the end of the run (or if the spill file cannot be read).
    mutating func next() -> PreparedRecord? {
        guard let file else {
            guard memoryIndex < memory.count else { return nil }
            defer { memoryIndex += 1 }
            return memory[memoryIndex]
        }
        while true {
            let decoded = buffer.withUnsafeBytes { PreparedRecord.decode($0, at: bufferStart) }
            if let (record, next) = decoded {
                bufferStart = next
                return record
            }
            guard offset < end, refill(file.descriptor) else {
                if bufferStart < buffer.count || offset < end { failed = true }
                return nil
            }
        }
    }

    /// Keeps the unread bytes and reads up to `readSize` more (a record larger than that is
    /// completed over several reads).
    private mutating func refill(_ descriptor: Int32) -> Bool {
        buffer.removeFirst(bufferStart)
        bufferStart = 0
        let wanted = Int(min(Int64(Self.readSize), end - offset))
        let kept = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: wanted))
        var got = 0
        let start = offset
        while got < wanted {
            let done = got
            let result = buffer.withUnsafeMutableBytes { raw in
                pread(descriptor, raw.baseAddress! + kept + done, wanted - done, off_t(start + Int64(done)))
            }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                buffer.removeLast(wanted - got)
                offset = end
                return got > 0
            }
            got += result
        }
        offset += Int64(got)
        return true
    }
}

/// Merges sorted runs into one sorted sequence (a binary heap of the runs' next records).
/// Returns false if a spill file could not be read back whole.
@discardableResult
func mergeRuns(_ runs: [RecordRun], _ body: (PreparedRecord) -> Void) -> Bool {
    var runs = runs
    var heap: [(record: PreparedRecord, run: Int)] = []
    heap.reserveCapacity(runs.count)
    func less(_ a: Int, _ b: Int) -> Bool {
        let x = heap[a], y = heap[b]
        return PreparedRecord.precedes(x.record, y.record) || (!PreparedRecord.precedes(y.record, x.record) && x.run < y.run)
    }
    func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && less(left, smallest) { smallest = left }
            if right < heap.count && less(right, smallest) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
    for index in runs.indices {
        if let record = runs[index].next() { heap.append((record, index)) }
    }
    for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    while let top = heap.first {
        body(top.record)
        if let record = runs[top.run].next() {
            heap[0] = (record, top.run)
        } else {
            heap[0] = heap[heap.count - 1]
            heap.removeLast()
        }
        if !heap.isEmpty { siftDown(0) }
    }
    return !runs.contains { $0.failed }
}
