import Findings

/// Counters keyed by name (packet dispositions, parse errors…), summed over summary records.
struct Counts: Sendable, Equatable {
    var values: [String: Int64] = [:]

    mutating func add(_ value: JSONValue?) {
        for member in value?.members ?? [] {
            if let number = member.value.integerValue { values[member.key, default: 0] &+= number }
        }
    }

    /// The preferred names first (in that order, when present), then the rest sorted.
    func ordered(_ preferred: [String] = []) -> [(name: String, count: Int64)] {
        let first = preferred.compactMap { name in values[name].map { (name: name, count: $0) } }
        let rest = values.keys.filter { !preferred.contains($0) }.sorted().map { (name: $0, count: values[$0] ?? 0) }
        return first + rest
    }
}

/// One input of a run, from a summary's `captures` list.
struct CaptureInfo: Sendable {
    var name: String
    var format: String
    var packets: Int64
    var bytes: Int64
    var connections: Int64
    var error: String?
    var canonical: String
}

/// What was analysed, combined over every summary record of the inputs: counts are summed,
/// capture lists joined and sorted, and the time span widened.
struct Scope: Sendable {
    var summaryRecords = 0
    var captures: [CaptureInfo] = []
    var unreadable: [(name: String, reason: String)] = []
    var first: CaptureTime?
    var last: CaptureTime?
    var packets: Int64 = 0
    var bytes: Int64 = 0
    var connections: Int64 = 0
    var gaps: Int64 = 0
    var gapBytes: Int64 = 0
    var disposition = Counts()
    var requests: Int64 = 0
    var responses: Int64 = 0
    var nonHTTPDirections: Int64 = 0
    var parseErrors = Counts()
    var upgradesDeclined: Int64 = 0
    var suppressedFindings: Int64 = 0
    var summaryViolations: Int64 = 0

    static let dispositionOrder = ["tcp", "non_tcp", "fragment", "truncated", "malformed", "unsupported_link_type"]

    mutating func add(summary value: JSONValue) {
        summaryRecords += 1
        for entry in value["captures"]?.arrayValue ?? [] {
            captures.append(CaptureInfo(
                name: entry["capture"]?.stringValue ?? "", format: entry["format"]?.stringValue ?? "",
                packets: entry["packets"]?.integerValue ?? 0, bytes: entry["bytes"]?.integerValue ?? 0,
                connections: entry["connections"]?.integerValue ?? 0, error: entry["error"]?.stringValue,
                canonical: entry.serialized()))
        }
        for entry in value["unreadable"]?.arrayValue ?? [] {
            unreadable.append((entry["capture"]?.stringValue ?? "", entry["error"]?.stringValue ?? ""))
        }
        widen(value["first_ts"]?.stringValue)
        widen(value["last_ts"]?.stringValue)
        packets &+= value["packets"]?.integerValue ?? 0
        bytes &+= value["bytes"]?.integerValue ?? 0
        connections &+= value["connections"]?.integerValue ?? 0
        gaps &+= value["gaps"]?.integerValue ?? 0
        gapBytes &+= value["gap_bytes"]?.integerValue ?? 0
        disposition.add(value["packet_disposition"])
        let messages = value["http_messages"]
        requests &+= messages?["requests"]?.integerValue ?? 0
        responses &+= messages?["responses"]?.integerValue ?? 0
        nonHTTPDirections &+= messages?["non_http_directions"]?.integerValue ?? 0
        parseErrors.add(messages?["parse_errors"])
        upgradesDeclined &+= value["upgrades_declined"]?.integerValue ?? 0
        suppressedFindings &+= value["suppressed_findings"]?.integerValue ?? 0
        summaryViolations &+= value["violations"]?.integerValue ?? 0
    }

    mutating func widen(_ text: String?) {
        guard let time = text.flatMap(CaptureTime.init(rfc3339:)) else { return }
        first = min(first ?? time, time)
        last = max(last ?? time, time)
    }

    mutating func finish() {
        captures.sort { ($0.name, $0.canonical) < ($1.name, $1.canonical) }
        unreadable.sort { ($0.name, $0.reason) < ($1.name, $1.reason) }
    }
}

/// How agreed and observed protocols relate after a switch.
enum ProtocolVerdict: String, Sendable {
    case asAgreed = "as agreed"
    case different = "different protocol"
    case unrecognised = "unrecognised bytes"
    case nothingSent = "nothing sent"

    init(agreed: String, observed: String?) {
        guard let observed, observed != "none" else { self = .nothingSent; return }
        if observed == "unknown" { self = .unrecognised; return }
        let compatible = agreed == observed || (agreed == "h2c" && observed == "http2")
            || (agreed == "tcp" && observed.hasPrefix("docker"))
        self = compatible ? .asAgreed : .different
    }
}

struct RuleCount: Sendable {
    var rule: String
    var severity: Severity
    var count: Int
}

struct ProtocolPair: Sendable {
    var agreed: String
    var observed: String
    var count: Int
    var verdict: ProtocolVerdict
}

/// Findings of two audits matched by `FindingKey`.
struct BaselineComparison: Sendable {
    struct Entry: Sendable {
        var key: FindingKey
        var severity: Severity
        var baselineCount: Int
        var currentCount: Int
        /// A message from one of the matching findings (the first in report order).
        var message: String
        /// The first matching finding in the current report, for a link.
        var firstFinding: Int?
    }

    var new: [Entry] = []
    var fixed: [Entry] = []
    var unchanged: [Entry] = []
    var baselineFindings = 0
}

/// Everything a report shows, computed once from the records; the renderers only format it.
struct Audit: Sendable {
    var options: ReportOptions
    var scope = Scope()
    var findings: [FindingItem] = []
    var switches: [ConnectionContext] = []
    var declined: [ConnectionContext] = []
    var priorKnowledge: [ConnectionContext] = []
    var proxyPairs: [ProxyPair] = []
    var invalidLines = 0
    var ignoredRecords = 0
    var baseline: BaselineComparison?

    init(records: [ReportRecord], baseline: [ReportRecord]?, invalidLines: Int, options: ReportOptions) {
        self.options = options
        self.invalidLines = invalidLines
        var contexts: [ConnectionContext] = []
        for record in records {
            switch record.type {
            case "violation": if let item = FindingItem(record) { findings.append(item) }
            case "summary": scope.add(summary: record.value)
            case "proxied_upgrade": if let pair = ProxyPair(record) { proxyPairs.append(pair) }
            default:
                if let context = ConnectionContext(record) { contexts.append(context) } else { ignoredRecords += 1 }
            }
        }
        scope.finish()
        contexts.sort(by: Self.contextPrecedes)
        switches = contexts.filter { $0.kind == .switched }
        declined = contexts.filter { $0.kind == .declined }
        priorKnowledge = contexts.filter { $0.kind == .priorKnowledge }
        if scope.summaryRecords == 0 {
            for item in findings { scope.widen(item.rawTimestamp) }
            for context in contexts { scope.widen(context.time?.rfc3339) }
        }

        var byConnection: [ConnectionKey: [ConnectionContext]] = [:]
        for context in contexts where context.kind != .priorKnowledge {
            byConnection[context.connectionKey, default: []].append(context)
        }
        for index in findings.indices {
            findings[index].context = Self.context(for: findings[index], in: byConnection[findings[index].connectionKey] ?? [])
        }
        var ranks: [String: Int] = [:]
        for (rank, count) in ruleCounts.enumerated() { ranks[count.rule] = rank }
        for index in findings.indices { findings[index].ruleRank = ranks[findings[index].rule] ?? 0 }
        findings.sort(by: FindingItem.precedes)
        for index in findings.indices { findings[index].number = index + 1 }

        if let baseline {
            self.baseline = Self.compare(current: &findings, baseline: baseline)
        }
    }

    static func contextPrecedes(_ a: ConnectionContext, _ b: ConnectionContext) -> Bool {
        if a.capture != b.capture { return a.capture < b.capture }
        let at = a.time?.microseconds ?? .max, bt = b.time?.microseconds ?? .max
        if at != bt { return at < bt }
        return a.canonical < b.canonical
    }

    /// The switch on the finding's connection, else the declined upgrade answered last before
    /// the finding's frame (a keep-alive connection can decline several).
    static func context(for finding: FindingItem, in candidates: [ConnectionContext]) -> ConnectionContext? {
        if let switched = candidates.first(where: { $0.kind == .switched }) { return switched }
        let frame = finding.frame ?? .max
        let before = candidates.filter { ($0.response?.frame ?? 0) <= frame }
        return before.last ?? candidates.first
    }

    static func compare(current: inout [FindingItem], baseline records: [ReportRecord]) -> BaselineComparison {
        let old = records.compactMap(FindingItem.init).sorted(by: FindingItem.precedes)
        var oldGroups: [FindingKey: [FindingItem]] = [:]
        for item in old { oldGroups[item.key, default: []].append(item) }
        var newGroups: [FindingKey: [FindingItem]] = [:]
        for item in current { newGroups[item.key, default: []].append(item) }
        for index in current.indices {
            current[index].baselineStatus = oldGroups[current[index].key] == nil ? .new : .unchanged
        }
        var comparison = BaselineComparison()
        comparison.baselineFindings = old.count
        for key in Set(oldGroups.keys).union(newGroups.keys).sorted() {
            let before = oldGroups[key] ?? [], after = newGroups[key] ?? []
            let sample = after.first ?? before.first
            let entry = BaselineComparison.Entry(
                key: key, severity: sample?.severity ?? .info, baselineCount: before.count, currentCount: after.count,
                message: sample?.message ?? "", firstFinding: after.first?.number)
            if before.isEmpty { comparison.new.append(entry) }
            else if after.isEmpty { comparison.fixed.append(entry) }
            else { comparison.unchanged.append(entry) }
        }
        let order: (BaselineComparison.Entry, BaselineComparison.Entry) -> Bool = {
            $0.severity != $1.severity ? $0.severity > $1.severity : $0.key < $1.key
        }
        comparison.new.sort(by: order)
        comparison.fixed.sort(by: order)
        comparison.unchanged.sort(by: order)
        return comparison
    }

    // MARK: Aggregates

    var countsBySeverity: [(severity: Severity, count: Int)] {
        Severity.allCases.reversed().map { severity in (severity, findings.filter { $0.severity == severity }.count) }
    }

    /// Rules found, most severe first, then most frequent, then by id.
    var ruleCounts: [RuleCount] {
        var counts: [String: (Severity, Int)] = [:]
        for item in findings {
            let existing = counts[item.rule]
            counts[item.rule] = (max(existing?.0 ?? item.severity, item.severity), (existing?.1 ?? 0) + 1)
        }
        return counts.map { RuleCount(rule: $0.key, severity: $0.value.0, count: $0.value.1) }
            .sorted { ($0.severity, $0.count, $1.rule) > ($1.severity, $1.count, $0.rule) }
    }

    /// The rules a reader should look at first: every high-severity rule found (up to
    /// `limit`), or the most severe ones when none is high.
    func topRisks(limit: Int = 6) -> (shown: [RuleCount], more: Int) {
        let counts = ruleCounts.filter { $0.severity >= .medium }
        guard let worst = counts.first?.severity else { return ([], 0) }
        let candidates = worst == .high ? counts.filter { $0.severity == .high } : counts
        return (Array(candidates.prefix(limit)), max(0, candidates.count - limit))
    }

    /// Switches by the protocol the 101 selected, most frequent first.
    var switchesByProtocol: [(name: String, count: Int)] {
        var counts: [String: Int] = [:]
        for context in switches { counts[context.agreed ?? "unknown", default: 0] += 1 }
        return counts.map { (name: $0.key, count: $0.value) }.sorted { ($1.count, $0.name) < ($0.count, $1.name) }
    }

    var priorKnowledgeByProtocol: [(name: String, count: Int)] {
        var counts: [String: Int] = [:]
        for context in priorKnowledge { counts[context.agreed ?? "unknown", default: 0] += 1 }
        return counts.map { (name: $0.key, count: $0.value) }.sorted { ($1.count, $0.name) < ($0.count, $1.name) }
    }

    /// Agreed (the 101's protocol) against observed (what the bytes were), with counts.
    var protocolPairs: [ProtocolPair] {
        var counts: [String: [String: Int]] = [:]
        for context in switches {
            counts[context.agreed ?? "unknown", default: [:]][context.observed ?? "none", default: 0] += 1
        }
        var pairs: [ProtocolPair] = []
        for (agreed, row) in counts {
            for (observed, count) in row {
                pairs.append(ProtocolPair(agreed: agreed, observed: observed, count: count,
                                          verdict: ProtocolVerdict(agreed: agreed, observed: observed)))
            }
        }
        return pairs.sorted { ($0.agreed, $0.observed) < ($1.agreed, $1.observed) }
    }

    var timeSpan: Int64? {
        guard let first = scope.first, let last = scope.last else { return nil }
        return last.microseconds &- first.microseconds
    }

    /// Inputs named by findings when no summary record listed them.
    var captureNames: [String] {
        if !scope.captures.isEmpty { return scope.captures.map(\.name) }
        return Array(Set(findings.map(\.capture) + (switches + declined + priorKnowledge).map(\.capture))).filter { !$0.isEmpty }.sorted()
    }

    var detailedFindings: ArraySlice<FindingItem> { findings.prefix(max(0, options.maxDetailedFindings)) }
}
