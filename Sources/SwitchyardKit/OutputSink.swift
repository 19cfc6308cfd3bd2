import Findings
import PacketCapture

public enum OutputFormat: String, Sendable {
    case json
    case text
}

/// Which findings are written (all are counted in the summary).
public struct FindingFilter: Sendable {
    public var minimumSeverity: Severity = .info
    /// When non-empty, only these rules are written.
    public var onlyRules: Set<String> = []
    public var disabledRules: Set<String> = []

    public init() {}

    public func admits(_ finding: Finding) -> Bool {
        guard case .violation(let violation) = finding else { return true }
        if violation.rule.severity < minimumSeverity { return false }
        if disabledRules.contains(violation.rule.id) { return false }
        if !onlyRules.isEmpty && !onlyRules.contains(violation.rule.id) { return false }
        return true
    }
}

/// Writes findings as JSON Lines or text, filtered, and counts them for the summary.
public final class OutputSink: FindingSink {
    public let stream: RecordStream
    public let format: OutputFormat
    public let filter: FindingFilter
    public var tally = RunTally()
    /// Where a JSON Lines copy of every record written goes (whatever `format` is), for
    /// `--report`: a temporary file, so that memory does not grow with the findings; nil unless
    /// asked for.
    public var jsonCopy: RecordStream?
    private var json = JSONWriter()

    public init(stream: RecordStream, format: OutputFormat, filter: FindingFilter = FindingFilter()) {
        self.stream = stream
        self.format = format
        self.filter = filter
    }

    public func emit(_ finding: Finding, capture: String) {
        if let record = prepare(finding, capture: capture, tally: &tally) { write(record) }
    }

    /// Counts `finding` into `tally` and, if the filter admits it, encodes it for `write(_:)`:
    /// at once for `emit`, or later for `--jobs` workers, which hold encoded records, not
    /// findings, until the merge.
    func prepare(_ finding: Finding, capture: String, tally: inout RunTally) -> PreparedRecord? {
        tally.count(finding)
        guard filter.admits(finding) else {
            tally.suppressed += 1
            return nil
        }
        var writer = JSONWriter()
        writer.finding(finding, capture: capture)
        var severity: Severity?
        if case .violation(let violation) = finding { severity = violation.rule.severity }
        return PreparedRecord(nanoseconds: finding.timestamp.totalNanoseconds, json: writer.bytes,
                              text: format == .text ? Array(TextFormatter.line(finding, capture: capture).utf8) : nil,
                              severity: severity)
    }

    /// Writes a record made by `prepare` (already counted).
    func write(_ record: PreparedRecord) {
        if let severity = record.severity, tally.worstSeverityEmitted.map({ severity > $0 }) ?? true {
            tally.worstSeverityEmitted = severity
        }
        if format == .json || jsonCopy != nil {
            json.reset()
            json.raw(record.json)
            json.newline()
            jsonCopy?.write(record: json.bytes)
        }
        switch format {
        case .json:
            stream.write(record: json.bytes)
        case .text:
            stream.write(record: record.text ?? [])
        }
    }

    public func writeSummary() {
        json.reset()
        tally.writeSummary(into: &json)
        json.newline()
        jsonCopy?.write(record: json.bytes)
        switch format {
        case .json:
            stream.write(record: json.bytes)
        case .text:
            stream.write(record: Array(TextFormatter.summary(tally).utf8))
        }
        stream.flush()
    }
}

/// A finding counted, filtered and encoded, waiting to be written in order.
struct PreparedRecord {
    var nanoseconds: Int64
    /// The JSON record without its newline: written as is, and the tie-breaker of the order.
    var json: [UInt8]
    /// The text line, when the output is text.
    var text: [UInt8]?
    var severity: Severity?
}
