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
    /// A JSON Lines copy of every record written (whatever `format` is), for `--report`;
    /// nil unless asked for.
    public var jsonCopy: [UInt8]?
    private var json = JSONWriter()

    public init(stream: RecordStream, format: OutputFormat, filter: FindingFilter = FindingFilter()) {
        self.stream = stream
        self.format = format
        self.filter = filter
    }

    public func emit(_ finding: Finding, capture: String) {
        tally.count(finding)
        guard filter.admits(finding) else {
            tally.suppressed += 1
            return
        }
        if case .violation(let violation) = finding {
            if tally.worstSeverityEmitted.map({ violation.rule.severity > $0 }) ?? true {
                tally.worstSeverityEmitted = violation.rule.severity
            }
        }
        if format == .json || jsonCopy != nil {
            json.reset()
            json.finding(finding, capture: capture)
            json.newline()
            jsonCopy?.append(contentsOf: json.bytes)
        }
        switch format {
        case .json:
            stream.write(record: json.bytes)
        case .text:
            stream.write(record: Array(TextFormatter.line(finding, capture: capture).utf8))
        }
    }

    public func writeSummary() {
        json.reset()
        tally.writeSummary(into: &json)
        json.newline()
        jsonCopy?.append(contentsOf: json.bytes)
        switch format {
        case .json:
            stream.write(record: json.bytes)
        case .text:
            stream.write(record: Array(TextFormatter.summary(tally).utf8))
        }
        stream.flush()
    }
}
