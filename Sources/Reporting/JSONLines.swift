#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One record of `switchyard analyze` output (docs/OUTPUT.md): its `type` and the whole object.
public struct ReportRecord: Sendable, Equatable {
    /// `violation`, `switch`, `upgrade_declined`, `prior_knowledge`, `flow`, `summary`, or
    /// whatever a (possibly forged) file says: unknown types are kept and ignored by the report.
    public var type: String
    public var value: JSONValue

    public init(type: String, value: JSONValue) {
        self.type = type
        self.value = value
    }

    /// A record from a JSON value; nil unless it is an object with a string `type`.
    public init?(_ value: JSONValue) {
        guard let type = value["type"]?.stringValue else { return nil }
        self.init(type: type, value: value)
    }
}

/// The records of a JSON Lines document, and how many non-blank lines were not records.
public struct JSONLinesDocument: Sendable, Equatable {
    public var records: [ReportRecord]
    /// 1-based numbers of non-blank lines that were not a JSON object with a string `type`.
    public var invalidLines: [Int]

    public init(records: [ReportRecord] = [], invalidLines: [Int] = []) {
        self.records = records
        self.invalidLines = invalidLines
    }
}

/// Parses `analyze` output: one JSON object per line (LF or CRLF). Blank lines are skipped;
/// lines that are not records are skipped and counted (a file cut short by a crash keeps
/// every complete line).
public func parseJSONLinesDocument(_ data: [UInt8]) -> JSONLinesDocument {
    var document = JSONLinesDocument()
    var start = 0
    var lineNumber = 0
    while start <= data.count {
        var end = start
        while end < data.count && data[end] != 0x0A { end += 1 }
        lineNumber += 1
        let line = data[start..<end]
        if line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) {
            if let value = JSONParser.parse(line), let record = ReportRecord(value) {
                document.records.append(record)
            } else {
                document.invalidLines.append(lineNumber)
            }
        }
        start = end + 1
    }
    return document
}

/// The records of `analyze` output; lines that are not records are skipped.
public func parseJSONLines(_ data: [UInt8]) -> [ReportRecord] {
    parseJSONLinesDocument(data).records
}

/// Splits a byte stream into lines with a bounded buffer: a line is handed over as soon as its
/// LF arrives, and at most `maxLineBytes` of an unfinished line are held. A longer line is
/// skipped to its end and counted in `tooLong` (and as not a record). So reading a findings
/// file of any size needs memory for one line, not for the file.
public struct JSONLinesSplitter: Sendable {
    public let maxLineBytes: Int
    private var pending: [UInt8] = []
    private var skipping = false
    /// 1-based number of the line being read.
    public private(set) var lineNumber = 1
    /// Lines skipped because they were longer than `maxLineBytes`.
    public private(set) var tooLong = 0
    /// The most bytes ever held for an unfinished line (for tests of the bound).
    public private(set) var peakPendingBytes = 0

    public init(maxLineBytes: Int = ReportLimits().maxLineBytes) {
        self.maxLineBytes = max(16, maxLineBytes)
    }

    /// Feeds the first `count` bytes of `bytes` (all by default); `line` gets each complete line
    /// (without its LF) and its number. Lines within `bytes` are handed over as slices of it, not
    /// copied; only a line cut by the end of `bytes` is held until the rest comes.
    public mutating func push(_ bytes: [UInt8], count: Int? = nil, _ line: (ArraySlice<UInt8>, Int) -> Void) {
        let end = min(count ?? bytes.count, bytes.count)
        var start = 0
        while start < end {
            let found: Int? = bytes.withUnsafeBufferPointer { buffer in
                guard let base = buffer.baseAddress, let hit = memchr(base + start, 0x0A, end - start) else { return nil }
                return UnsafeRawPointer(hit) - UnsafeRawPointer(base)
            }
            guard let newline = found else {
                hold(bytes[start..<end])
                return
            }
            if skipping {
                skipping = false
            } else if pending.isEmpty {
                if newline - start > maxLineBytes { tooLong += 1 } else { line(bytes[start..<newline], lineNumber) }
            } else {
                hold(bytes[start..<newline])
                if !skipping { line(pending[...], lineNumber) }
                skipping = false
            }
            pending.removeAll(keepingCapacity: pending.capacity <= 1 << 20)
            lineNumber += 1
            start = newline + 1
        }
    }

    public mutating func push(_ bytes: UnsafeRawBufferPointer, _ line: (ArraySlice<UInt8>, Int) -> Void) {
        push(Array(bytes), line)
    }

    /// The end of the input: hands over a last line without LF, and starts counting lines anew.
    public mutating func finish(_ line: (ArraySlice<UInt8>, Int) -> Void) {
        if !skipping && !pending.isEmpty { line(pending[...], lineNumber) }
        pending = []
        skipping = false
        lineNumber = 1
    }

    private mutating func hold(_ bytes: ArraySlice<UInt8>) {
        guard !skipping else { return }
        if pending.count + bytes.count > maxLineBytes {
            skipping = true
            tooLong += 1
            pending = []
            return
        }
        pending.append(contentsOf: bytes)
        peakPendingBytes = max(peakPendingBytes, pending.count)
    }
}

/// Whether a line holds anything but blanks (blank lines are skipped, not counted as invalid).
func isBlank(_ line: ArraySlice<UInt8>) -> Bool {
    !line.contains { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }
}
