#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a report is written.
public struct ReportOptions: Sendable, Equatable {
    /// The page's title.
    public var title: String
    /// Shown as the generation time only when given, so that by default the same input gives
    /// the same bytes.
    public var generatedAt: String?
    /// The findings files the report was made from, as named on the command line (shown sorted).
    public var sources: [String]
    /// The baseline findings files, when comparing (`--baseline`).
    public var baselineSources: [String]
    /// Groups shown in full (evidence and handshake of their first example) in the HTML report
    /// and the long Markdown form; all groups are counted and listed up to `limits.shownGroups`.
    public var maxDetailedGroups: Int
    /// Markdown: the long form (every section) rather than the short one for a ticket.
    public var longMarkdown: Bool
    /// What the report keeps and shows.
    public var limits: ReportLimits

    public init(title: String = "Switchyard audit report", generatedAt: String? = nil, sources: [String] = [],
                baselineSources: [String] = [], maxDetailedGroups: Int = 40, longMarkdown: Bool = false,
                limits: ReportLimits = ReportLimits()) {
        self.title = title
        self.generatedAt = generatedAt
        self.sources = sources
        self.baselineSources = baselineSources
        self.maxDetailedGroups = maxDetailedGroups
        self.longMarkdown = longMarkdown
        self.limits = limits
    }
}

public enum ReportFormat: String, CaseIterable, Sendable {
    case html, markdown, json
}

/// Builds a report from records or JSON Lines fed one at a time, in bounded memory: pass 1
/// (`add`, `addBaseline`) aggregates; pass 2 (`addHandshake`, over the same input again)
/// picks up the handshakes of the few example findings shown in full.
public struct AuditReportBuilder: Sendable {
    var builder: AuditBuilder
    var baseline: BaselineBuilder?
    let options: ReportOptions
    var wanted: Set<ConnectionKey>?
    /// The captures of `wanted`, to pass over other lines without scanning them.
    var wantedCaptures: Set<String> = []

    public init(options: ReportOptions = ReportOptions(), baseline: Bool = false) {
        self.options = options
        builder = AuditBuilder(limits: options.limits)
        self.baseline = baseline ? BaselineBuilder(limits: options.limits) : nil
    }

    public mutating func add(_ record: ReportRecord) { builder.add(record) }

    /// A line of `analyze` output; false (and counted) when it is not a record. Blank lines are
    /// skipped. The line is scanned for the fields the report counts, not parsed into a tree.
    @discardableResult
    public mutating func add(line: ArraySlice<UInt8>) -> Bool {
        if isBlank(line) { return true }
        guard let scanned = ScannedRecord(line), !scanned.escapedKey, let type = scanned.type else {
            // Escaped member names (or a line the scan refuses): the full parser decides.
            guard let value = JSONParser.parse(line), let record = ReportRecord(value) else {
                builder.invalidLines += 1
                return false
            }
            builder.add(record)
            return true
        }
        switch type {
        case "violation":
            if let item = FindingItem(scanned, line: line) { builder.add(finding: item) }
        case "summary":
            builder.scope.add(summaryLine: line, captures: &builder.captures)
        case "proxied_upgrade":
            // Few and small: parsed in full, within the builder's bound.
            if let value = JSONParser.parse(line), let record = ReportRecord(value) { builder.add(record) }
        default:
            if let context = ConnectionContext(scanned, line: line) { builder.add(context: context) } else { builder.ignoredRecords += 1 }
        }
        return true
    }

    /// Lines skipped before they reached `add(line:)` (too long), counted as not records.
    public mutating func addInvalidLines(_ count: Int) { builder.invalidLines += count }

    public mutating func addBaseline(_ record: ReportRecord) {
        if baseline == nil { baseline = BaselineBuilder(limits: options.limits) }
        baseline?.add(record)
    }

    public mutating func addBaseline(line: ArraySlice<UInt8>) {
        guard !isBlank(line) else { return }
        if baseline == nil { baseline = BaselineBuilder(limits: options.limits) }
        if let scanned = ScannedRecord(line), !scanned.escapedKey {
            if let item = FindingItem(scanned, line: line) { baseline?.add(item) }
        } else if let value = JSONParser.parse(line), let record = ReportRecord(value) {
            baseline?.add(record)
        }
    }

    /// Pass 2: a record of the same input again.
    public mutating func addHandshake(_ record: ReportRecord) {
        if wanted == nil { wanted = builder.wantedConnections(detailed: options.maxDetailedGroups) }
        guard let wanted, !wanted.isEmpty, let context = ConnectionContext(record) else { return }
        builder.attach(context, wanted: wanted)
    }

    /// Pass 2: a line of the same input again. Only switch and declined-upgrade records matter,
    /// so lines that analyze wrote as something else are not parsed.
    public mutating func addHandshake(line: ArraySlice<UInt8>) {
        if wanted == nil {
            wanted = builder.wantedConnections(detailed: options.maxDetailedGroups)
            wantedCaptures = Set(wanted?.map(\.capture) ?? [])
        }
        guard let wanted, !wanted.isEmpty else { return }
        let prefix = Array("{\"type\":\"".utf8)
        if line.starts(with: prefix) {
            let rest = line.dropFirst(prefix.count)
            guard rest.starts(with: "switch\"".utf8) || rest.starts(with: "upgrade_declined\"".utf8) else { return }
            // analyze writes the capture near the start: a line of another capture needs no scan.
            if let capture = peekCapture(rest.prefix(256)), !wantedCaptures.contains(capture) { return }
        }
        if let scanned = ScannedRecord(line), !scanned.escapedKey {
            if let context = ConnectionContext(scanned, line: line) { builder.attach(context, wanted: wanted) }
        } else if let value = JSONParser.parse(line), let record = ReportRecord(value), let context = ConnectionContext(record) {
            builder.attach(context, wanted: wanted)
        }
    }

    /// The text of the first `"capture":"…"` in `head` when it has no escapes; nil otherwise
    /// (then the line is scanned in full).
    private func peekCapture(_ head: ArraySlice<UInt8>) -> String? {
        let key: StaticString = "\"capture\":\""
        let found: Int? = head.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress, buffer.count >= key.utf8CodeUnitCount else { return nil }
            for position in 0...(buffer.count - key.utf8CodeUnitCount)
            where base[position] == UInt8(ascii: "\"") && memcmp(base + position, key.utf8Start, key.utf8CodeUnitCount) == 0 {
                return position + key.utf8CodeUnitCount
            }
            return nil
        }
        guard let offset = found else { return nil }
        let start = head.startIndex + offset
        guard
              let end = head[start...].firstIndex(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }),
              head[end] == UInt8(ascii: "\"") else { return nil }
        return String(decoding: head[start..<end], as: UTF8.self)
    }

    /// Whether pass 2 can find anything (no finding, no need to read the input again).
    public var needsHandshakes: Bool { builder.findingCount > 0 }

    public func report() -> AuditReport {
        AuditReport(audit: Audit(builder: builder, baseline: baseline, options: options))
    }
}

/// An audit report over the JSON Lines output of one or more `switchyard analyze` runs.
///
/// Pure: no file or network access. The same records give the same bytes whatever their
/// order, in every format. Everything taken from the records is escaped for where it lands
/// (HTML text and attributes, inline script data, Markdown). Its size depends on the number
/// of groups (rule × service) up to the limits of `ReportLimits`, not on the number of findings.
public struct AuditReport: Sendable {
    let audit: Audit

    init(audit: Audit) {
        self.audit = audit
    }

    /// - Parameters:
    ///   - records: the records of every input, in any order (summaries are combined).
    ///   - baseline: the records of an earlier audit to compare with; groups are matched by
    ///     rule, server IP and server port.
    ///   - invalidLines: lines of the input that were not records, to mention in the report.
    public init(records: [ReportRecord], baseline: [ReportRecord]? = nil, invalidLines: Int = 0,
                options: ReportOptions = ReportOptions()) {
        var builder = AuditReportBuilder(options: options, baseline: baseline != nil)
        for record in records { builder.add(record) }
        builder.addInvalidLines(invalidLines)
        for record in baseline ?? [] { builder.addBaseline(record) }
        if builder.needsHandshakes { for record in records { builder.addHandshake(record) } }
        self = builder.report()
    }

    /// From the bytes of `analyze` output (several files may simply be concatenated).
    public init(jsonLines: [UInt8], baseline: [UInt8]? = nil, options: ReportOptions = ReportOptions()) {
        var builder = AuditReportBuilder(options: options, baseline: baseline != nil)
        var splitter = JSONLinesSplitter(maxLineBytes: options.limits.maxLineBytes)
        splitter.push(jsonLines) { line, _ in builder.add(line: line) }
        splitter.finish { line, _ in builder.add(line: line) }
        builder.addInvalidLines(splitter.tooLong)
        if let baseline {
            var other = JSONLinesSplitter(maxLineBytes: options.limits.maxLineBytes)
            other.push(baseline) { line, _ in builder.addBaseline(line: line) }
            other.finish { line, _ in builder.addBaseline(line: line) }
        }
        if builder.needsHandshakes {
            var again = JSONLinesSplitter(maxLineBytes: options.limits.maxLineBytes)
            again.push(jsonLines) { line, _ in builder.addHandshake(line: line) }
            again.finish { line, _ in builder.addHandshake(line: line) }
        }
        self = builder.report()
    }

    /// One self-contained HTML page: inline CSS and SVG, a small inline script for filtering
    /// the tables (the page reads fine without it), no external resources.
    public func html() -> String { HTMLRenderer(audit: audit).render() }

    /// Markdown for a ticket or pull request: the short form (summary, top risks, services),
    /// or every section with `options.longMarkdown`.
    public func markdown() -> String { MarkdownRenderer(audit: audit).render() }

    /// The summary as one JSON document for dashboards, keys in a fixed order.
    public func json() -> String { SummaryJSON(audit: audit).document().serialized(indent: 2) + "\n" }

    public func render(_ format: ReportFormat) -> String {
        switch format {
        case .html: return html()
        case .markdown: return markdown()
        case .json: return json()
        }
    }

    /// Findings in the report (violation records).
    public var findingCount: Int { audit.findingCount }

    /// Groups (rule × service) in the report.
    public var groupCount: Int { audit.groups.count }

    /// The baseline comparison's counts of groups, when a baseline was given.
    public var baselineCounts: (new: Int, fixed: Int, unchanged: Int)? {
        audit.baseline.map { ($0.new.count, $0.fixed.count, $0.unchanged.count) }
    }

    /// How groups are matched against a baseline, as the report states it.
    public static let baselineMatchingKey = GroupKey.description
}
