import Findings
import PacketCapture
import ProxyCorrelation

public enum OutputFormat: String, Sendable {
    case json
    case text
    /// Suricata's EVE JSON layout, the JSON record under `switchyard` (docs/OUTPUT.md).
    case eve
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
    /// Upgrade exchanges of every capture so far, paired when the run ends (`writeSummary`).
    private var exchanges: ExchangeCollector?
    private var exchangeCaptures: [String] = []
    private var proxyOptions = ProxyCorrelationOptions()

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
        var line: [UInt8]?
        switch format {
        case .json: break
        case .text: line = Array(TextFormatter.line(finding, capture: capture).utf8)
        case .eve:
            var eve = JSONWriter()
            eve.eveRecord(finding, native: writer.bytes)
            eve.newline()
            line = eve.bytes
        }
        return PreparedRecord(nanoseconds: finding.timestamp.totalNanoseconds, json: writer.bytes, text: line,
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
        case .text, .eve:
            stream.write(record: record.text ?? [])
        }
    }

    /// Keeps a capture's upgrade exchanges (from one collector, or one per `--jobs` worker)
    /// for the proxy correlation at the end of the run.
    func addExchanges(_ collectors: [ExchangeCollector], capture: String, options: ProxyCorrelationOptions) {
        let run = exchanges ?? ExchangeCollector(capture: "", byteLimit: options.maxExchangeBytes)
        exchanges = run
        proxyOptions = options
        if !exchangeCaptures.contains(capture) { exchangeCaptures.append(capture) }
        for collector in collectors { run.absorb(collector) }
    }

    /// Pairs the legs of proxied upgrades over every capture of the run and writes the
    /// `proxied_upgrade` records and their findings, sorted by time (docs/OUTPUT.md).
    func emitProxiedUpgrades() {
        guard let run = exchanges else { return }
        exchanges = nil
        var found = ProxyCorrelator.correlate(run.entries, captureOrder: exchangeCaptures, options: proxyOptions).findings
        if let limit = run.limitFinding() { found.append(limit) }
        var records = found.compactMap { prepare($0.finding, capture: $0.capture, tally: &tally) }
        records.sort(by: PreparedRecord.precedes)
        for record in records { write(record) }
    }

    public func writeSummary() {
        emitProxiedUpgrades()
        json.reset()
        tally.writeSummary(into: &json)
        json.newline()
        jsonCopy?.write(record: json.bytes)
        switch format {
        case .json:
            stream.write(record: json.bytes)
        case .text:
            stream.write(record: Array(TextFormatter.summary(tally).utf8))
        case .eve:
            var eve = JSONWriter()
            eve.eveSummary(timestamp: tally.lastTimestamp ?? .zero, native: Array(json.bytes.dropLast()))
            eve.newline()
            stream.write(record: eve.bytes)
        }
        stream.flush()
    }
}

/// A finding counted, filtered and encoded, waiting to be written in order.
struct PreparedRecord {
    var nanoseconds: Int64
    /// The JSON record without its newline: written as is, and the tie-breaker of the order.
    var json: [UInt8]
    /// The line to write when the output is text or EVE.
    var text: [UInt8]?
    var severity: Severity?
}
