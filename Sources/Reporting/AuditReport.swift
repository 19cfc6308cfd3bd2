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
    /// Findings shown in full in the HTML and Markdown reports (all are counted, charted and
    /// listed in the findings table).
    public var maxDetailedFindings: Int

    public init(title: String = "Switchyard audit report", generatedAt: String? = nil, sources: [String] = [],
                baselineSources: [String] = [], maxDetailedFindings: Int = 1000) {
        self.title = title
        self.generatedAt = generatedAt
        self.sources = sources
        self.baselineSources = baselineSources
        self.maxDetailedFindings = maxDetailedFindings
    }
}

public enum ReportFormat: String, CaseIterable, Sendable {
    case html, markdown, json
}

/// An audit report over the JSON Lines output of one or more `switchyard analyze` runs.
///
/// Pure: no file or network access. The same records give the same bytes whatever their
/// order, in every format. Everything taken from the records is escaped for where it lands
/// (HTML text and attributes, inline script data, Markdown).
public struct AuditReport: Sendable {
    let audit: Audit

    /// - Parameters:
    ///   - records: the records of every input, in any order (summaries are combined).
    ///   - baseline: the records of an earlier audit to compare with; findings are matched by
    ///     rule, client IP, server IP and server port.
    ///   - invalidLines: lines of the input that were not records, to mention in the report.
    public init(records: [ReportRecord], baseline: [ReportRecord]? = nil, invalidLines: Int = 0,
                options: ReportOptions = ReportOptions()) {
        audit = Audit(records: records, baseline: baseline, invalidLines: invalidLines, options: options)
    }

    /// From the bytes of `analyze` output (several files may simply be concatenated).
    public init(jsonLines: [UInt8], baseline: [UInt8]? = nil, options: ReportOptions = ReportOptions()) {
        let document = parseJSONLinesDocument(jsonLines)
        self.init(records: document.records, baseline: baseline.map(parseJSONLines),
                  invalidLines: document.invalidLines.count, options: options)
    }

    /// One self-contained HTML page: inline CSS and SVG, a small inline script for sorting and
    /// filtering the findings table (the page reads fine without it), no external resources.
    public func html() -> String { HTMLRenderer(audit: audit).render() }

    /// The same content without charts, for a ticket or pull request.
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
    public var findingCount: Int { audit.findings.count }

    /// The baseline comparison's counts, when a baseline was given.
    public var baselineCounts: (new: Int, fixed: Int, unchanged: Int)? {
        audit.baseline.map { ($0.new.count, $0.fixed.count, $0.unchanged.count) }
    }

    /// How findings are matched against a baseline, as the report states it.
    public static let baselineMatchingKey = FindingKey.description
}
