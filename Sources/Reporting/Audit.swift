import Findings

/// Counters keyed by name (packet dispositions, parse errors…), summed over summary records.
struct Counts: Sendable, Equatable {
    var values: [String: Int64] = [:]
    /// Distinct names kept (a forged summary could name millions).
    static let limit = 256

    mutating func add(_ value: JSONValue?) {
        for member in value?.members ?? [] {
            guard let number = member.value.integerValue else { continue }
            if values[member.key] != nil || values.count < Self.limit {
                values[member.key, default: 0] &+= number
            } else {
                values["(other)", default: 0] &+= number
            }
        }
    }

    mutating func add(scanned value: JSONScan.Bytes?) {
        guard let value else { return }
        JSONScan.members(value) { key, member in
            guard let number = JSONScan.integer(member) else { return }
            let name = JSONScan.keyString(key)
            if values[name] != nil || values.count < Self.limit {
                values[name, default: 0] &+= number
            } else {
                values["(other)", default: 0] &+= number
            }
        }
    }

    /// The preferred names first (in that order, when present), then the rest sorted.
    func ordered(_ preferred: [String] = []) -> [(name: String, count: Int64)] {
        let first = preferred.compactMap { name in values[name].map { (name: name, count: $0) } }
        let rest = values.keys.filter { !preferred.contains($0) }.sorted().map { (name: $0, count: values[$0] ?? 0) }
        return first + rest
    }
}

/// One input of a run, from a summary's `captures` list, with what the records say happened in it.
struct CaptureInfo: Sendable {
    var name: String
    var format = ""
    var packets: Int64 = 0
    var bytes: Int64 = 0
    var connections: Int64 = 0
    var error: String?
    /// Summary records that listed it (a capture analysed in two runs is listed twice).
    var listed = 0
    var findings = 0
    var switches = 0
    var first: CaptureTime?
    var last: CaptureTime?

    init(name: String) {
        self.name = name
    }

    mutating func widen(_ time: CaptureTime?) {
        guard let time else { return }
        first = min(first ?? time, time)
        last = max(last ?? time, time)
    }
}

/// What was analysed, combined over every summary record of the inputs: counts are summed,
/// captures merged by name, and the time span widened.
struct Scope: Sendable {
    var summaryRecords = 0
    var unreadable = SmallestList<(name: String, reason: String)>(limit: 200)
    var unreadableCount = 0
    /// Entries of the summaries' capture lists (a capture analysed in two runs counts twice).
    var captureEntries = 0
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

    static let dispositionOrder = ["tcp", "non_tcp", "fragment_held", "fragment_dropped", "truncated", "malformed", "unsupported_link_type",
                                   "unsupported_tunnel", "encapsulation_too_deep", "encrypted_80211",
                                   "unsupported_80211", "bad_fcs_80211"]

    /// Adds a summary record; its captures go to `captures`. Unknown keys (a newer analyze,
    /// e.g. `tcp_not_believed`) are ignored.
    mutating func add(summary value: JSONValue, captures: inout BoundedTable<String, CaptureInfo>) {
        summaryRecords += 1
        for entry in value["captures"]?.arrayValue ?? [] {
            captureEntries += 1
            let name = entry["capture"]?.stringValue ?? ""
            captures.update(name, make: { CaptureInfo(name: name) }) { info in
                info.listed += 1
                let format = entry["format"]?.stringValue ?? ""
                if info.format.isEmpty || (!format.isEmpty && format < info.format) { info.format = format }
                info.packets &+= entry["packets"]?.integerValue ?? 0
                info.bytes &+= entry["bytes"]?.integerValue ?? 0
                info.connections &+= entry["connections"]?.integerValue ?? 0
                if let error = entry["error"]?.stringValue { info.error = min(info.error ?? error, error) }
            }
        }
        for entry in value["unreadable"]?.arrayValue ?? [] {
            unreadableCount += 1
            unreadable.insert((entry["capture"]?.stringValue ?? "", entry["error"]?.stringValue ?? ""), by: { ($0.name, $0.reason) < ($1.name, $1.reason) })
        }
        widen(value["first_ts"]?.stringValue.flatMap(CaptureTime.init(rfc3339:)))
        widen(value["last_ts"]?.stringValue.flatMap(CaptureTime.init(rfc3339:)))
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

    mutating func widen(_ time: CaptureTime?) {
        guard let time else { return }
        first = min(first ?? time, time)
        last = max(last ?? time, time)
    }

    /// `add(summary:)` from a scanned line: the same fields, read without building the record
    /// (a summary lists every capture of its run: tens of kilobytes a line).
    mutating func add(summaryLine line: JSONScan.Bytes, captures: inout BoundedTable<String, CaptureInfo>) {
        summaryRecords += 1
        var seen = Set<String>()
        JSONScan.members(line) { rawKey, value in
            let key = JSONScan.keyString(rawKey)
            guard seen.insert(key).inserted else { return }
            switch key {
            case "captures":
                var fields = CaptureFields()
                JSONScan.objectElements(value) { element, key, member in
                    if element != fields.element {
                        if fields.element >= 0 { addCapture(fields, to: &captures) }
                        fields = CaptureFields(element: element)
                    }
                    fields.take(key, member)
                }
                if fields.element >= 0 { addCapture(fields, to: &captures) }
            case "unreadable":
                JSONScan.elements(value) { entry in
                    unreadableCount += 1
                    let name = JSONScan.string(JSONScan.member(entry, "capture")) ?? ""
                    let reason = JSONScan.string(JSONScan.member(entry, "error")) ?? ""
                    unreadable.insert((name, reason), by: { ($0.name, $0.reason) < ($1.name, $1.reason) })
                }
            case "first_ts", "last_ts": widen(JSONScan.string(value).flatMap(CaptureTime.init(rfc3339:)))
            case "packets": packets &+= JSONScan.integer(value) ?? 0
            case "bytes": bytes &+= JSONScan.integer(value) ?? 0
            case "connections": connections &+= JSONScan.integer(value) ?? 0
            case "gaps": gaps &+= JSONScan.integer(value) ?? 0
            case "gap_bytes": gapBytes &+= JSONScan.integer(value) ?? 0
            case "packet_disposition": disposition.add(scanned: value)
            case "http_messages":
                requests &+= JSONScan.integer(JSONScan.member(value, "requests")) ?? 0
                responses &+= JSONScan.integer(JSONScan.member(value, "responses")) ?? 0
                nonHTTPDirections &+= JSONScan.integer(JSONScan.member(value, "non_http_directions")) ?? 0
                parseErrors.add(scanned: JSONScan.member(value, "parse_errors"))
            case "upgrades_declined": upgradesDeclined &+= JSONScan.integer(value) ?? 0
            case "suppressed_findings": suppressedFindings &+= JSONScan.integer(value) ?? 0
            case "violations": summaryViolations &+= JSONScan.integer(value) ?? 0
            default: break
            }
        }
    }

    /// The members of one entry of a summary's `captures`, as they are scanned.
    private struct CaptureFields {
        var element = -1
        var capture, format, packets, bytes, connections, error: JSONScan.Bytes?

        mutating func take(_ key: JSONScan.Bytes, _ value: JSONScan.Bytes) {
            if capture == nil && JSONScan.isKey(key, "capture") { capture = value }
            else if format == nil && JSONScan.isKey(key, "format") { format = value }
            else if packets == nil && JSONScan.isKey(key, "packets") { packets = value }
            else if bytes == nil && JSONScan.isKey(key, "bytes") { bytes = value }
            else if connections == nil && JSONScan.isKey(key, "connections") { connections = value }
            else if error == nil && JSONScan.isKey(key, "error") { error = value }
        }
    }

    private mutating func addCapture(_ entry: CaptureFields, to captures: inout BoundedTable<String, CaptureInfo>) {
        captureEntries += 1
        let (capture, format, packets, bytes, connections, error) = (entry.capture, entry.format, entry.packets, entry.bytes, entry.connections, entry.error)
        let name = JSONScan.string(capture) ?? ""
        captures.update(name, make: { CaptureInfo(name: name) }) { info in
            info.listed += 1
            let format = JSONScan.string(format) ?? ""
            if info.format.isEmpty || (!format.isEmpty && format < info.format) { info.format = format }
            info.packets &+= JSONScan.integer(packets) ?? 0
            info.bytes &+= JSONScan.integer(bytes) ?? 0
            info.connections &+= JSONScan.integer(connections) ?? 0
            if let error = JSONScan.string(error) { info.error = min(info.error ?? error, error) }
        }
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
    /// Services (server IP and port) it was found on, counted from the groups kept.
    var services = 0
}

struct ProtocolPair: Sendable {
    var agreed: String
    var observed: String
    var count: Int
    var verdict: ProtocolVerdict
}

struct ProtocolPairKey: Hashable, Comparable, Sendable {
    var agreed: String
    var observed: String
    static func < (a: ProtocolPairKey, b: ProtocolPairKey) -> Bool { (a.agreed, a.observed) < (b.agreed, b.observed) }
}

/// The findings of one rule on one service: counted, dated, and a few examples kept.
struct FindingGroup: Sendable {
    var key: GroupKey
    var severity: Severity
    var count = 0
    var first: CaptureTime?
    var last: CaptureTime?
    var captures: SmallestSet
    var clients: SmallestSet
    /// The first findings in example order, the first shown in full.
    var examples: SmallestList<FindingItem>
    /// Set when the audit is compared with a baseline: findings of this group in the baseline.
    var baselineCount: Int?
    /// `G1`, `G2`… in report order.
    var number = 0

    init(key: GroupKey, severity: Severity, limits: ReportLimits) {
        self.key = key
        self.severity = severity
        captures = SmallestSet(limit: limits.namesPerGroup)
        clients = SmallestSet(limit: limits.namesPerGroup)
        examples = SmallestList(limit: limits.examplesPerGroup)
    }

    mutating func add(_ item: FindingItem) {
        count += 1
        severity = max(severity, item.severity)
        if let time = item.time {
            first = min(first ?? time, time)
            last = max(last ?? time, time)
        }
        captures.insert(item.capture)
        if let client = item.client { clients.insert(client.ip) }
        if examples.wouldKeep({ FindingItem.precedes(item, $0) }) {
            var kept = item
            kept.source.keep()
            examples.insert(kept, by: FindingItem.precedes)
        }
    }

    var anchor: String { "G\(number)" }

    /// Report order: most severe first, then most findings, then rule and service.
    static func precedes(_ a: FindingGroup, _ b: FindingGroup) -> Bool {
        if a.severity != b.severity { return a.severity > b.severity }
        if a.count != b.count { return a.count > b.count }
        return a.key < b.key
    }
}

/// One service (server IP and port): what was seen on it.
struct ServiceStats: Sendable {
    var key: ServiceKey
    var hosts: SmallestSet
    var switchesByProtocol: [String: Int] = [:]
    var switches = 0
    var declined = 0
    var findings = [Int](repeating: 0, count: Severity.allCases.count)
    var rules: SmallestSet
    var captures: SmallestSet

    init(key: ServiceKey, limits: ReportLimits) {
        self.key = key
        hosts = SmallestSet(limit: limits.hostsPerService)
        rules = SmallestSet(limit: 64)
        captures = SmallestSet(limit: limits.namesPerGroup)
    }

    var findingCount: Int { findings.reduce(0, +) }

    mutating func addSwitch(_ protocolName: String) {
        switches += 1
        if switchesByProtocol[protocolName] != nil || switchesByProtocol.count < 16 {
            switchesByProtocol[protocolName, default: 0] += 1
        } else {
            switchesByProtocol["(other)", default: 0] += 1
        }
    }

    /// Most findings of the highest severity first.
    static func precedes(_ a: ServiceStats, _ b: ServiceStats) -> Bool {
        for severity in Severity.allCases.reversed() where a.findings[severity.rawValue] != b.findings[severity.rawValue] {
            return a.findings[severity.rawValue] > b.findings[severity.rawValue]
        }
        if a.switches != b.switches { return a.switches > b.switches }
        return a.key < b.key
    }
}

/// The limits that bound what a report keeps in memory and shows, whatever the input's size.
public struct ReportLimits: Sendable, Equatable {
    /// Longest input line read; longer lines are skipped and counted as not records.
    public var maxLineBytes = 4 << 20
    /// Groups (rule × service) kept; findings of further groups are counted but not grouped.
    public var groups = 5_000
    /// Services (server IP × port) kept.
    public var services = 5_000
    /// Captures kept in the scope table.
    public var captures = 5_000
    /// Distinct rules kept.
    public var rules = 1_000
    /// Example findings kept per group (the first shown in full).
    public var examplesPerGroup = 3
    /// Capture and client names kept per group and service (then "10+").
    public var namesPerGroup = 10
    /// Host names kept per service.
    public var hostsPerService = 4
    /// Example switches, declined upgrades and prior-knowledge connections kept for the tables.
    public var connectionExamples = 50
    /// Rows of the long tables shown (groups, services, captures); the rest are counted ("N more").
    public var shownGroups = 300
    public var shownServices = 100
    public var shownCaptures = 100
    /// Proxied upgrades kept and shown as pairs (the rest are counted).
    public var proxyPairs = 200
    /// Rows of those tables, and groups in full, in a printed copy (the screen shows the rest).
    public var printedGroups = 60
    public var printedServices = 40
    public var printedCaptures = 30
    public var printedDetails = 10
    public var printedConnections = 15

    public init() {}
}

/// Counts of findings that could not be put in a group (the group limit was reached).
struct Ungrouped: Sendable {
    var findings = 0
    var bySeverity = [Int](repeating: 0, count: Severity.allCases.count)
}

/// Accumulates records one at a time into bounded structures: the first pass of a report.
/// A second pass (`attach`) finds the handshake of the example findings' connections.
struct AuditBuilder: Sendable {
    let limits: ReportLimits
    var scope = Scope()
    var captures: BoundedTable<String, CaptureInfo>
    var severityCounts = [Int](repeating: 0, count: Severity.allCases.count)
    var findingCount = 0
    var rules: BoundedTable<String, RuleCount>
    var rulesLeftOutFindings = 0
    var groups: BoundedTable<GroupKey, FindingGroup>
    var ungrouped = Ungrouped()
    var services: BoundedTable<ServiceKey, ServiceStats>
    var timeline = TimeHistogram()
    var recordTimes = Scope()
    var switchCount = 0
    var declinedCount = 0
    var priorCount = 0
    var switchesByProtocol: BoundedTable<String, Int>
    var priorByProtocol: BoundedTable<String, Int>
    var protocolPairs: BoundedTable<ProtocolPairKey, Int>
    var switchExamples: SmallestList<ConnectionContext>
    var declinedExamples: SmallestList<ConnectionContext>
    var priorExamples: SmallestList<ConnectionContext>
    var invalidLines = 0
    var ignoredRecords = 0
    /// `proxied_upgrade` records: the first `limits.proxyPairs` in input order, and the count.
    var proxyPairs: [ProxyPair] = []
    var proxyPairCount = 0
    /// Handshake candidates for the example findings' connections (second pass).
    var contexts: [ConnectionKey: SmallestList<ConnectionContext>] = [:]

    init(limits: ReportLimits) {
        self.limits = limits
        captures = BoundedTable(limit: limits.captures)
        rules = BoundedTable(limit: limits.rules)
        groups = BoundedTable(limit: limits.groups)
        services = BoundedTable(limit: limits.services)
        switchesByProtocol = BoundedTable(limit: 256)
        priorByProtocol = BoundedTable(limit: 256)
        protocolPairs = BoundedTable(limit: 1024)
        switchExamples = SmallestList(limit: limits.connectionExamples)
        declinedExamples = SmallestList(limit: limits.connectionExamples)
        priorExamples = SmallestList(limit: limits.connectionExamples)
    }

    mutating func add(_ record: ReportRecord) {
        switch record.type {
        case "violation":
            if let item = FindingItem(record) { add(finding: item) }
        case "summary":
            scope.add(summary: record.value, captures: &captures)
        case "proxied_upgrade":
            proxyPairCount += 1
            if proxyPairs.count < limits.proxyPairs, let pair = ProxyPair(record) { proxyPairs.append(pair) }
        default:
            if let context = ConnectionContext(record) { add(context: context) } else { ignoredRecords += 1 }
        }
    }

    mutating func add(finding item: FindingItem) {
        findingCount += 1
        severityCounts[item.severity.rawValue] += 1
        recordTimes.widen(item.time)
        if let time = item.time { timeline.add(time, lane: 1 + item.severity.rawValue) }
        var evictedRule = 0
        let kept = rules.update(item.rule, make: { RuleCount(rule: item.rule, severity: item.severity, count: 0) },
                                evicted: { evictedRule += $0.count }) { count in
            count.count += 1
            count.severity = max(count.severity, item.severity)
        }
        rulesLeftOutFindings += evictedRule + (kept ? 0 : 1)
        let key = item.groupKey
        var lost = Ungrouped()
        let grouped = groups.update(key, make: { FindingGroup(key: key, severity: item.severity, limits: limits) },
                                    evicted: { group in
                                        lost.findings += group.count
                                        lost.bySeverity[group.severity.rawValue] += group.count
                                    }) { $0.add(item) }
        if lost.findings > 0 {
            ungrouped.findings += lost.findings
            for index in lost.bySeverity.indices { ungrouped.bySeverity[index] += lost.bySeverity[index] }
        }
        if !grouped {
            ungrouped.findings += 1
            ungrouped.bySeverity[item.severity.rawValue] += 1
        }
        services.update(key.server, make: { ServiceStats(key: key.server, limits: limits) }) { stats in
            stats.findings[item.severity.rawValue] += 1
            stats.rules.insert(item.rule)
            stats.captures.insert(item.capture)
        }
        captures.update(item.capture, make: { CaptureInfo(name: item.capture) }) { info in
            info.findings += 1
            info.widen(item.time)
        }
    }

    mutating func add(context: ConnectionContext) {
        recordTimes.widen(context.time)
        let service = ServiceKey(context.server)
        let host = context.kind == .priorKnowledge ? nil : context.host
        switch context.kind {
        case .switched:
            switchCount += 1
            if let time = context.time { timeline.add(time, lane: 0) }
            let agreed = context.agreed ?? "unknown"
            switchesByProtocol.update(agreed, make: { 0 }) { $0 += 1 }
            protocolPairs.update(ProtocolPairKey(agreed: agreed, observed: context.observed ?? "none"), make: { 0 }) { $0 += 1 }
            services.update(service, make: { ServiceStats(key: service, limits: limits) }) { stats in
                stats.addSwitch(agreed)
                if let host { stats.hosts.insert(host) }
                stats.captures.insert(context.capture)
            }
            captures.update(context.capture, make: { CaptureInfo(name: context.capture) }) { info in
                info.switches += 1
                info.widen(context.time)
            }
            if switchExamples.wouldKeep({ Self.contextPrecedes(context, $0) }) { switchExamples.insert(context.kept(), by: Self.contextPrecedes) }
        case .declined:
            declinedCount += 1
            services.update(service, make: { ServiceStats(key: service, limits: limits) }) { stats in
                stats.declined += 1
                if let host { stats.hosts.insert(host) }
            }
            if declinedExamples.wouldKeep({ Self.contextPrecedes(context, $0) }) { declinedExamples.insert(context.kept(), by: Self.contextPrecedes) }
        case .priorKnowledge:
            priorCount += 1
            priorByProtocol.update(context.agreed ?? "unknown", make: { 0 }) { $0 += 1 }
            if priorExamples.wouldKeep({ Self.contextPrecedes(context, $0) }) { priorExamples.insert(context.kept(), by: Self.contextPrecedes) }
        }
    }

    /// Trims every table to its limit (they may hold a little more while filling).
    mutating func finish() {
        var lost = Ungrouped()
        groups.finish { group in
            lost.findings += group.count
            lost.bySeverity[group.severity.rawValue] += group.count
        }
        ungrouped.findings += lost.findings
        for index in lost.bySeverity.indices { ungrouped.bySeverity[index] += lost.bySeverity[index] }
        var lostRules = 0
        rules.finish { lostRules += $0.count }
        rulesLeftOutFindings += lostRules
        services.finish()
        captures.finish()
        switchesByProtocol.finish()
        priorByProtocol.finish()
        protocolPairs.finish()
    }

    /// The connections whose handshake the report shows: those of the examples of the groups
    /// shown in full (the first `detailed` in report order, after the tables are trimmed).
    mutating func wantedConnections(detailed: Int) -> Set<ConnectionKey> {
        finish()
        var wanted = Set<ConnectionKey>()
        for group in groups.entries.values.sorted(by: FindingGroup.precedes).prefix(max(0, detailed)) {
            for item in group.examples.items { wanted.insert(item.connectionKey) }
        }
        return wanted
    }

    /// Second pass: keeps the switch and declined records of the wanted connections.
    mutating func attach(_ context: ConnectionContext, wanted: Set<ConnectionKey>) {
        guard context.kind == .switched || context.kind == .declined else { return }
        let key = context.connectionKey
        guard wanted.contains(key) else { return }
        contexts[key, default: SmallestList(limit: 16)].insert(context.kept(), by: Self.contextPrecedes)
    }

    static func contextPrecedes(_ a: ConnectionContext, _ b: ConnectionContext) -> Bool {
        if a.capture != b.capture { return a.capture < b.capture }
        let at = a.time?.microseconds ?? .max, bt = b.time?.microseconds ?? .max
        if at != bt { return at < bt }
        let ac = a.client?.display ?? "", bc = b.client?.display ?? ""
        if ac != bc { return ac < bc }
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
}

/// The findings of an earlier audit, grouped the same way (`--baseline`).
struct BaselineBuilder: Sendable {
    struct Entry: Sendable {
        var severity: Severity
        var count = 0
        /// The smallest message, so the choice does not depend on input order.
        var message: String
    }

    var groups: BoundedTable<GroupKey, Entry>
    var findings = 0
    var ungrouped = 0

    init(limits: ReportLimits) {
        groups = BoundedTable(limit: limits.groups)
    }

    mutating func finish() {
        var lost = 0
        groups.finish { lost += $0.count }
        ungrouped += lost
    }

    mutating func add(_ record: ReportRecord) {
        guard let item = FindingItem(record) else { return }
        add(item)
    }

    mutating func add(_ item: FindingItem) {
        findings += 1
        var evicted = 0
        let kept = groups.update(item.groupKey, make: { Entry(severity: item.severity, message: item.message) },
                                 evicted: { evicted += $0.count }) { entry in
            entry.count += 1
            entry.severity = max(entry.severity, item.severity)
            entry.message = min(entry.message, item.message)
        }
        ungrouped += evicted + (kept ? 0 : 1)
    }
}

/// Groups of two audits matched by `GroupKey`.
struct BaselineComparison: Sendable {
    struct Entry: Sendable {
        var key: GroupKey
        var severity: Severity
        var baselineCount: Int
        var currentCount: Int
        var message: String
        /// The group in the current report, for a link.
        var group: Int?
    }

    var new: [Entry] = []
    var fixed: [Entry] = []
    var unchanged: [Entry] = []
    var baselineFindings = 0
    var baselineUngrouped = 0
}

/// Everything a report shows, computed once from the aggregates; the renderers only format it.
struct Audit: Sendable {
    var options: ReportOptions
    var limits: ReportLimits
    var scope: Scope
    var findingCount: Int
    var countsBySeverity: [(severity: Severity, count: Int)]
    /// Rules found, most severe first, then most frequent, then by id.
    var ruleCounts: [RuleCount]
    /// Whether there were more rules than the limit, and findings of rules beyond it.
    var rulesLeftOut: (overflowed: Bool, findings: Int)
    var groups: [FindingGroup]
    /// Findings of groups beyond the group limit.
    var ungrouped: Ungrouped
    var services: [ServiceStats]
    var hostsByService: [ServiceKey: SmallestSet]
    var servicesOverflowed: Bool
    var captures: [CaptureInfo]
    var capturesOverflowed: Bool
    var timeline: TimelineBins?
    /// Captures with events among the timeline's outliers (at most 5).
    var outlierCaptures: [String] = []
    var switchCount: Int
    var declinedCount: Int
    var priorCount: Int
    var switchesByProtocol: [(name: String, count: Int)]
    var priorKnowledgeByProtocol: [(name: String, count: Int)]
    var protocolPairs: [ProtocolPair]
    var switchExamples: [ConnectionContext]
    var declinedExamples: [ConnectionContext]
    var priorExamples: [ConnectionContext]
    var invalidLines: Int
    var ignoredRecords: Int
    var baseline: BaselineComparison?
    /// Proxied upgrades shown as pairs (the first ones of the input) and how many there were.
    var proxyPairs: [ProxyPair]
    var proxyPairCount: Int

    init(builder: AuditBuilder, baseline: BaselineBuilder?, options: ReportOptions) {
        var builder = builder
        builder.finish()
        var baseline = baseline
        baseline?.finish()
        self.options = options
        limits = builder.limits
        scope = builder.scope
        if scope.summaryRecords == 0 {
            scope.widen(builder.recordTimes.first)
            scope.widen(builder.recordTimes.last)
        }
        findingCount = builder.findingCount
        countsBySeverity = Severity.allCases.reversed().map { ($0, builder.severityCounts[$0.rawValue]) }
        invalidLines = builder.invalidLines
        ignoredRecords = builder.ignoredRecords

        var groups = builder.groups.entries.values.sorted(by: FindingGroup.precedes)
        for index in groups.indices {
            groups[index].number = index + 1
            var examples = SmallestList<FindingItem>(limit: groups[index].examples.limit)
            for var item in groups[index].examples.items {
                // Only the groups shown are parsed in full; the others keep their compact lines.
                if index < max(limits.shownGroups, options.maxDetailedGroups) {
                    item.source.materialize()
                    item.context = AuditBuilder.context(for: item, in: builder.contexts[item.connectionKey]?.items ?? [])
                    item.context?.source.materialize()
                }
                examples.insert(item, by: FindingItem.precedes)
            }
            groups[index].examples = examples
        }
        ungrouped = builder.ungrouped

        var servicesPerRule: [String: Int] = [:]
        for group in groups { servicesPerRule[group.key.rule, default: 0] += 1 }
        ruleCounts = builder.rules.entries.values.map { count in
            var count = count
            count.services = servicesPerRule[count.rule] ?? 0
            return count
        }.sorted { ($0.severity, $0.count, $1.rule) > ($1.severity, $1.count, $0.rule) }
        rulesLeftOut = (builder.rules.overflowed, builder.rulesLeftOutFindings)

        services = builder.services.entries.values.sorted(by: ServiceStats.precedes)
        hostsByService = builder.services.entries.mapValues(\.hosts)
        servicesOverflowed = builder.services.overflowed
        captures = builder.captures.entries.values.sorted { $0.name < $1.name }
        capturesOverflowed = builder.captures.overflowed

        timeline = builder.timeline.binned()
        if let bins = timeline, bins.outlierCount > 0 {
            outlierCaptures = captures.filter { info in
                guard let first = info.first?.microseconds, let last = info.last?.microseconds else { return false }
                return bins.before.covers(first, last) || bins.after.covers(first, last)
            }.map(\.name).prefix(5).map { $0 }
        }

        proxyPairs = builder.proxyPairs
        proxyPairCount = builder.proxyPairCount
        switchCount = builder.switchCount
        declinedCount = builder.declinedCount
        priorCount = builder.priorCount
        func byCount(_ table: BoundedTable<String, Int>) -> [(name: String, count: Int)] {
            table.entries.map { (name: $0.key, count: $0.value) }.sorted { ($1.count, $0.name) < ($0.count, $1.name) }
        }
        switchesByProtocol = byCount(builder.switchesByProtocol)
        priorKnowledgeByProtocol = byCount(builder.priorByProtocol)
        protocolPairs = builder.protocolPairs.entries.map { key, count in
            ProtocolPair(agreed: key.agreed, observed: key.observed, count: count,
                         verdict: ProtocolVerdict(agreed: key.agreed, observed: key.observed))
        }.sorted { ($0.agreed, $0.observed) < ($1.agreed, $1.observed) }
        func materialized(_ list: [ConnectionContext]) -> [ConnectionContext] {
            list.map { context in
                var context = context
                context.source.materialize()
                return context
            }
        }
        switchExamples = materialized(builder.switchExamples.items)
        declinedExamples = materialized(builder.declinedExamples.items)
        priorExamples = materialized(builder.priorExamples.items)

        if let baseline {
            self.baseline = Self.compare(current: &groups, baseline: baseline)
        }
        self.groups = groups
    }

    static func compare(current: inout [FindingGroup], baseline: BaselineBuilder) -> BaselineComparison {
        var comparison = BaselineComparison()
        comparison.baselineFindings = baseline.findings
        comparison.baselineUngrouped = baseline.ungrouped
        var seen = Set<GroupKey>()
        for index in current.indices {
            let key = current[index].key
            seen.insert(key)
            let before = baseline.groups.entries[key]
            current[index].baselineCount = before?.count ?? 0
            let entry = BaselineComparison.Entry(
                key: key, severity: current[index].severity, baselineCount: before?.count ?? 0,
                currentCount: current[index].count, message: current[index].examples.items.first?.message ?? before?.message ?? "",
                group: current[index].number)
            if before == nil { comparison.new.append(entry) } else { comparison.unchanged.append(entry) }
        }
        for (key, before) in baseline.groups.entries where !seen.contains(key) {
            comparison.fixed.append(BaselineComparison.Entry(key: key, severity: before.severity, baselineCount: before.count,
                                                             currentCount: 0, message: before.message, group: nil))
        }
        let order: (BaselineComparison.Entry, BaselineComparison.Entry) -> Bool = {
            $0.severity != $1.severity ? $0.severity > $1.severity : $0.key < $1.key
        }
        comparison.new.sort(by: order)
        comparison.fixed.sort(by: order)
        comparison.unchanged.sort(by: order)
        return comparison
    }

    // MARK: Derived

    /// The rules a reader should look at first: every high-severity rule found (up to
    /// `limit`), or the most severe ones when none is high.
    func topRisks(limit: Int = 6) -> (shown: [RuleCount], more: Int) {
        let counts = ruleCounts.filter { $0.severity >= .medium }
        guard let worst = counts.first?.severity else { return ([], 0) }
        let candidates = worst == .high ? counts.filter { $0.severity == .high } : counts
        return (Array(candidates.prefix(limit)), max(0, candidates.count - limit))
    }

    var timeSpan: Int64? {
        guard let first = scope.first, let last = scope.last else { return nil }
        return last.microseconds &- first.microseconds
    }

    /// Captures analysed: those kept, or when there were more than the limit, the entries of
    /// the summaries' capture lists (`captureCountText` says "5,000+" when even that is unknown).
    var captureCount: Int { capturesOverflowed ? max(scope.captureEntries, captures.count) : captures.count }
    var captureCountText: String {
        capturesOverflowed && scope.captureEntries <= captures.count ? "\(thousands(captures.count))+" : thousands(captureCount)
    }
    var groupCountText: String { ungrouped.findings > 0 ? "\(thousands(groups.count))+" : thousands(groups.count) }
    var serviceCountText: String { servicesOverflowed ? "\(thousands(services.count))+" : thousands(services.count) }

    /// Host names seen in upgrade requests to a service.
    func hosts(of service: ServiceKey) -> SmallestSet? { hostsByService[service] }
}
