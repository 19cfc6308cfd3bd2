import Findings

/// Writes the HTML report. Rule of the file: every string that came from the input goes
/// through `h(_:)` (HTML text, and attribute values, which are always double-quoted); the
/// only other text is this file's own, numbers it formatted, and URLs built from validated digits.
///
/// Aggregate first: the summary, then services, then findings grouped by rule and service.
/// Every list that can grow with the input is cut at a limit with "N more", so the page's size
/// depends on the limits, not on the number of findings.
struct HTMLRenderer {
    let audit: Audit
    private let ruleAnchors: [String: String]

    init(audit: Audit) {
        self.audit = audit
        var anchors: [String: String] = [:]
        for (index, count) in audit.ruleCounts.enumerated() { anchors[count.rule] = "rule-\(index + 1)" }
        ruleAnchors = anchors
    }

    private func h(_ text: String) -> String { Escape.html(text) }

    private var detailedGroups: ArraySlice<FindingGroup> { audit.groups.prefix(max(0, audit.options.maxDetailedGroups)) }

    func render() -> String {
        let style = HTMLAssets.style, script = HTMLAssets.script
        let policy = "default-src 'none'; style-src \(SHA256.cspSource(style)); script-src \(SHA256.cspSource(script)); "
            + "img-src 'none'; base-uri 'none'; form-action 'none'"
        var out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        out += "<meta http-equiv=\"Content-Security-Policy\" content=\"\(policy)\">\n"
        out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        out += "<meta name=\"referrer\" content=\"no-referrer\">\n"
        out += "<meta name=\"generator\" content=\"switchyard report\">\n"
        out += "<title>\(h(audit.options.title))</title>\n<style>\(style)</style>\n</head>\n<body>\n"
        out += masthead()
        out += navigation()
        out += "<main class=\"wrap\">\n"
        out += summarySection()
        out += servicesSection()
        if audit.baseline != nil { out += baselineSection() }
        out += groupsSection()
        out += chartsSection()
        out += detailsSection()
        out += scopeSection()
        out += connectionsSection()
        out += proxyPairsSection()
        out += aboutSection()
        out += "</main>\n"
        out += "<footer class=\"wrap\">Made by <code>switchyard report</code> from the JSON Lines output of <code>switchyard analyze</code>."
        if let generated = audit.options.generatedAt { out += " Generated \(h(generated))." }
        out += "</footer>\n"
        out += "<script type=\"application/json\" id=\"switchyard-summary\">"
        out += SummaryJSON(audit: audit, captureLimit: audit.limits.shownCaptures).document().serialized()
        out += "</script>\n<script>\(script)</script>\n</body>\n</html>\n"
        return out
    }

    // MARK: Header

    private func masthead() -> String {
        var meta: [String] = ["\(audit.captureCountText) capture\(audit.captureCount == 1 ? "" : "s")"]
        if let first = audit.scope.first, let last = audit.scope.last {
            meta.append("\(first.short) – \(last.short) UTC (\(durationText(microseconds: last.microseconds &- first.microseconds)))")
        }
        if let generated = audit.options.generatedAt { meta.append("generated \(h(generated))") }
        return """
        <header class="masthead"><div class="wrap">
        <div class="eyebrow">Switchyard · HTTP/1.1 Upgrade audit</div>
        <h1>\(h(audit.options.title))</h1>
        <p class="meta">\(meta.joined(separator: " · "))</p>
        </div></header>

        """
    }

    private func navigation() -> String {
        var links = [("summary", "Summary"), ("services", "Services")]
        if audit.baseline != nil { links.append(("baseline", "Baseline")) }
        links += [("groups", "Findings"), ("charts", "Charts"), ("details", "Details"), ("scope", "Scope"),
                  ("connections", "Switches"), ("about", "About")]
        return "<nav class=\"toc\"><div class=\"wrap\">" + links.map { "<a href=\"#\($0.0)\">\($0.1)</a>" }.joined() + "</div></nav>\n"
    }

    // MARK: Executive summary

    private func summarySection() -> String {
        var out = "<section id=\"summary\">\n<h2>Executive summary</h2>\n"
        out += "<p class=\"lead\">\(summarySentence(audit, strong: { "<strong>\($0)</strong>" }))</p>\n"
        out += "<div class=\"cards\">"
        out += card("Violations", audit.findingCount, "total")
        for entry in audit.countsBySeverity { out += card(capitalizedName(entry.severity), entry.count, entry.severity.name) }
        out += card("Groups", audit.groupCountText, "")
        out += card("Services", audit.serviceCountText, "")
        out += card("Switches", audit.switchCount, "")
        out += "</div>\n"

        let risks = audit.topRisks()
        out += "<h3>Top risks</h3>\n"
        if risks.shown.isEmpty {
            out += audit.findingCount == 0
                ? "<p>No violations were found in the analysed traffic.</p>\n"
                : "<p>No high or medium severity violations were found; see the findings for the rest.</p>\n"
        } else {
            out += "<ol class=\"risks\">\n"
            for risk in risks.shown {
                let guide = RuleGuide.forRule(risk.rule)
                out += "<li class=\"\(risk.severity.name)\"><span class=\"sev \(risk.severity.name)\">\(risk.severity.name)</span> "
                out += "<span class=\"t\">\(h(guide.title))</span> — <a class=\"id\" href=\"#\(ruleAnchors[risk.rule] ?? "groups")\">\(breakable(h(risk.rule)))</a>: "
                out += "\(plural(risk.count, "finding")) on \(plural(risk.services, "service"))"
                out += "<p class=\"fix\"><strong>Fix:</strong> \(rich(guide.remediation))</p></li>\n"
            }
            out += "</ol>\n"
            if risks.more > 0 {
                out += "<p class=\"note\">\(plural(risks.more, "more high-severity rule was", "more high-severity rules were")) broken; see <a href=\"#groups\">the findings</a>.</p>\n"
            }
        }
        out += "</section>\n"
        return out
    }

    private func card(_ label: String, _ value: Int, _ className: String) -> String {
        card(label, thousands(value), className)
    }

    private func card(_ label: String, _ value: String, _ className: String) -> String {
        "<div class=\"card \(className)\"><span class=\"n\">\(value)</span><span class=\"l\">\(label)</span></div>"
    }

    // MARK: Services

    private func servicesSection() -> String {
        var out = "<section id=\"services\">\n<h2>Services: what to fix, and where</h2>\n"
        guard !audit.services.isEmpty else { return out + "<p>No server was named by any record.</p>\n</section>\n" }
        out += "<p class=\"note\">One row per server address and port, most high-severity findings first. Host names are those the upgrade requests sent.</p>\n"
        out += "<div class=\"controls\" data-for=\"services-table\"></div>\n"
        out += "<table class=\"services filterable\" id=\"services-table\"><thead><tr><th class=\"c-svc\">Service</th><th class=\"c-host\">Host</th>"
        out += "<th class=\"c-proto\">Switches</th><th class=\"num p-drop\">Declined</th>"
        for severity in Severity.allCases.reversed() { out += "<th class=\"num\" data-numeric>\(capitalizedName(severity))</th>" }
        out += "<th class=\"num p-drop\">Rules</th><th class=\"num p-drop\">Captures</th></tr></thead><tbody>\n"
        let shown = audit.services.prefix(audit.limits.shownServices)
        for (index, service) in shown.enumerated() {
            let worst = Severity.allCases.reversed().first { service.findings[$0.rawValue] > 0 }
            let printed = index < audit.limits.printedServices ? "" : " p-drop"
            out += "<tr class=\"\(worst?.name ?? "")\(printed)\" data-severity=\"\(worst?.name ?? "")\">"
            out += "<td class=\"id\">\(h(service.key.display))</td>"
            out += "<td class=\"hosts\">\(hostsHTML(service.hosts))</td>"
            let protocols = service.switchesByProtocol.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
            out += "<td>\(protocols.isEmpty ? "–" : protocols.map { "<span class=\"id\">\(h($0.key))</span> \(grouped(Int64($0.value)))" }.joined(separator: ", "))</td>"
            out += "<td class=\"num p-drop\">\(thousands(service.declined))</td>"
            for severity in Severity.allCases.reversed() {
                let count = service.findings[severity.rawValue]
                out += "<td class=\"num\(count > 0 ? " has-\(severity.name)" : "")\" data-sort=\"\(count)\">\(count > 0 ? thousands(count) : "–")</td>"
            }
            out += "<td class=\"num p-drop\">\(service.rules.countText)</td><td class=\"num p-drop\">\(service.captures.countText)</td></tr>\n"
        }
        out += "</tbody></table>\n"
        out += printedNote(shown.count, audit.limits.printedServices, "services")
        let more = audit.services.count - shown.count
        if more > 0 {
            out += "<p class=\"note\">\(plural(more, "more service")) not shown (the table lists the first \(thousands(shown.count)))."
            out += "</p>\n"
        }
        if audit.servicesOverflowed {
            out += "<p class=\"note\">There were more services than the limit of \(thousands(audit.limits.services)) kept in memory; the findings of the others are counted in the totals and groups.</p>\n"
        }
        out += "</section>\n"
        return out
    }

    private func hostsHTML(_ hosts: SmallestSet?) -> String {
        guard let hosts, !hosts.values.isEmpty else { return "<span class=\"note\">–</span>" }
        var text = hosts.values.prefix(2).map { "<span class=\"host\">\(wrappable(h(Escape.clipped($0, 120))))</span>" }.joined(separator: " ")
        if hosts.overflow || hosts.values.count > 2 { text += " <span class=\"note\">and more</span>" }
        return text
    }

    // MARK: Groups

    private func groupsSection() -> String {
        var out = "<section id=\"groups\">\n<h2>Findings by rule and service</h2>\n"
        guard audit.findingCount > 0 else { return out + "<p>No violations.</p>\n</section>\n" }
        out += "<p class=\"note\">One row per rule and service (server address and port), most severe and most frequent first. "
        out += "Every finding is in the JSON Lines; each row says how to extract its findings.</p>\n"
        out += "<div class=\"controls\" data-for=\"groups-table\"></div>\n"
        let baseline = audit.baseline != nil
        out += "<table class=\"groups filterable\" id=\"groups-table\"><thead><tr><th class=\"c-id\" data-numeric>#</th><th class=\"c-sev\" data-numeric>Severity</th>"
        out += "<th class=\"c-rule\">Rule</th><th class=\"c-svc\">Service</th><th class=\"c-count num\" data-numeric>Findings</th>"
        out += "<th class=\"c-seen\" data-numeric>Seen (UTC)</th><th class=\"c-ex\">Examples and extraction</th>"
        if baseline { out += "<th class=\"c-base\">Baseline</th>" }
        out += "</tr></thead><tbody>\n"
        let shown = audit.groups.prefix(audit.limits.shownGroups)
        let detailed = detailedGroups.count
        for group in shown {
            let id = group.number <= detailed ? "<a href=\"#\(group.anchor)\">\(group.anchor)</a>" : group.anchor
            out += "<tr class=\"\(group.severity.name)\(group.number > audit.limits.printedGroups ? " p-drop" : "")\" data-severity=\"\(group.severity.name)\">"
            out += "<td class=\"nowrap\" data-sort=\"\(group.number)\">\(id)</td>"
            out += "<td data-sort=\"\(group.severity.rawValue)\"><span class=\"sev \(group.severity.name)\">\(group.severity.name)</span></td>"
            out += "<td class=\"id\">\(breakable(h(Escape.clipped(group.key.rule, 80))))</td>"
            out += "<td class=\"hosts\"><span class=\"id\">\(h(group.key.server.display))</span>\(hostsHTML(audit.hosts(of: group.key.server)))</td>"
            out += "<td class=\"num\" data-sort=\"\(group.count)\">\(thousands(group.count))<br><span class=\"note\">\(group.captures.countText) capt.<br>\(group.clients.countText) clients</span></td>"
            out += "<td data-sort=\"\(group.first?.microseconds ?? 0)\">\(seenHTML(group))</td>"
            out += "<td class=\"ex\">\(examplesHTML(group))</td>"
            if baseline {
                let status = (group.baselineCount ?? 0) == 0 ? "new" : "unchanged"
                out += "<td><span class=\"tag \(status)\">\(status)</span>\((group.baselineCount ?? 0) > 0 ? "<br><span class=\"note\">was \(thousands(group.baselineCount ?? 0))</span>" : "")</td>"
            }
            out += "</tr>\n"
        }
        out += "</tbody></table>\n"
        out += printedNote(shown.count, audit.limits.printedGroups, "groups")
        let more = audit.groups.count - shown.count
        if more > 0 {
            out += "<p class=\"note\">\(plural(more, "more group")) (\(plural(audit.groups.dropFirst(shown.count).reduce(0) { $0 + $1.count }, "finding"))) not shown; the table lists the first \(thousands(shown.count)). Extract any of them from the JSON Lines with the filters above.</p>\n"
        }
        if audit.ungrouped.findings > 0 {
            out += "<p class=\"note\">\(plural(audit.ungrouped.findings, "finding")) of further groups were beyond the limit of \(thousands(audit.limits.groups)) groups kept in memory: they are in the totals, the charts and the rule counts, not in this table.</p>\n"
        }
        out += "</section>\n"
        return out
    }

    private func seenHTML(_ group: FindingGroup) -> String {
        guard let first = group.first, let last = group.last else { return "<span class=\"note\">no valid time</span>" }
        if first == last { return "\(first.short.prefix(10))<br>\(first.short.suffix(8))" }
        return "\(first.short.prefix(10)) \(first.short.suffix(8))<br>– \(first.short.prefix(10) == last.short.prefix(10) ? "" : String(last.short.prefix(10)) + " ")\(last.short.suffix(8))"
    }

    private func examplesHTML(_ group: FindingGroup) -> String {
        var out = "<ul class=\"ex\">"
        for item in group.examples.items {
            out += "<li>\(item.frame.map { "frame \(grouped($0)) in " } ?? "")<span class=\"path\">\(path(item.capture))</span>"
            if let client = item.client { out += " <span class=\"conn\">from \(h(client.display))</span>" }
            out += "</li>"
        }
        out += "</ul>"
        let extraction = Extraction(group: group, sources: audit.options.sources)
        out += "<code class=\"cmd p-drop\">\(h(extraction.jq))</code>"
        if let analyze = extraction.analyze { out += "<code class=\"cmd p-drop\">\(h(analyze))</code>" }
        return out
    }

    /// A capture path in full (the `path` class lets it wrap anywhere, so it is never cut off).
    private func path(_ text: String) -> String { h(Escape.clipped(text, 400)) }

    // MARK: Charts

    private func chartsSection() -> String {
        var out = "<section id=\"charts\">\n<h2>Charts</h2>\n"
        out += "<div class=\"figure\"><h3>Violations by rule and severity</h3>\n"
        let bars = Charts.ruleBars(audit.ruleCounts) { ruleAnchors[$0] ?? "groups" }
        out += bars.isEmpty ? "<p class=\"note\">No violations.</p>" : bars
        out += "</div>\n<div class=\"figure\"><h3>Timeline of switches and violations</h3>\n"
        if let bins = audit.timeline {
            out += Charts.timeline(bins)
            if bins.outlierCount > 0 {
                out += "<p class=\"note\">\(Charts.outlierText(bins)) are left out of the bins"
                if !audit.outlierCaptures.isEmpty {
                    out += "; they come from " + audit.outlierCaptures.map { "<span class=\"path\">\(path($0))</span>" }.joined(separator: ", ")
                }
                out += ". A capture whose clock was wrong (e.g. 1970) would otherwise squeeze the rest into one bar.</p>\n"
            }
        } else {
            out += "<p class=\"note\">No timestamps to show.</p>"
        }
        out += "</div>\n<div class=\"figure\"><h3>Protocols after switching: agreed vs observed</h3>\n"
        let matrix = Charts.protocolMatrix(audit.protocolPairs)
        out += matrix.isEmpty ? "<p class=\"note\">No protocol switches.</p>"
            : matrix + "<p class=\"note\">Rows: the protocol the 101 response selected. Columns: what Switchyard recognised in the bytes that followed (<code>none</code>: nothing was sent).</p>"
        out += "</div>\n</section>\n"
        return out
    }

    // MARK: Details

    private func detailsSection() -> String {
        var out = "<section id=\"details\">\n<h2>Findings in detail</h2>\n"
        let detailed = Array(detailedGroups)
        guard !detailed.isEmpty else { return out + "<p>No violations.</p>\n</section>\n" }
        if detailed.count < audit.groups.count {
            out += "<p class=\"note\">The first \(plural(detailed.count, "group")) of \(thousands(audit.groups.count)) are shown in full, each with its first example; all are in the table above.</p>\n"
        }
        out += "<p class=\"note\">By rule, most severe first. Frame numbers are Wireshark's: open the capture and apply the display filter shown. Request and response heads are reconstructed from the findings: the start line and the upgrade-relevant headers Switchyard records.</p>\n"
        for count in audit.ruleCounts {
            let groups = detailed.filter { $0.key.rule == count.rule }
            guard let firstGroup = groups.first, let firstItem = firstGroup.examples.items.first else { continue }
            let guide = RuleGuide.forRule(count.rule)
            let catalogue = Rule.named(count.rule)
            out += "<article class=\"rule\" id=\"\(ruleAnchors[count.rule] ?? "")\">\n<header><span class=\"sev \(count.severity.name)\">\(count.severity.name)</span>"
            out += "<h3>\(h(guide.title))</h3><code class=\"id\">\(breakable(h(count.rule)))</code><span class=\"note\">\(plural(count.count, "finding")) on \(plural(count.services, "service"))</span></header>\n"
            out += "<dl class=\"explain\">"
            if let catalogue { out += "<dt>What</dt><dd>\(rich(catalogue.summary))</dd>" }
            out += "<dt>Why it matters</dt><dd>\(rich(guide.why))</dd>"
            out += "<dt>Remediation</dt><dd>\(rich(guide.remediation))</dd>"
            let reference = catalogue?.reference ?? firstItem.reference
            out += "<dt>Reference</dt><dd class=\"refs\">\(referenceHTML(reference))</dd></dl>\n"
            for group in groups { out += groupHTML(group, ruleReference: reference) }
            out += "</article>\n"
        }
        if detailed.count > audit.limits.printedDetails {
            out += "<p class=\"note p-only\">This printed copy shows the first \(thousands(audit.limits.printedDetails)) groups in full; the screen version shows \(thousands(detailed.count)).</p>\n"
        }
        out += "</section>\n"
        return out
    }

    private func groupHTML(_ group: FindingGroup, ruleReference: String) -> String {
        guard let item = group.examples.items.first else { return "" }
        var out = "<div class=\"occurrence \(group.severity.name)\(group.number > audit.limits.printedDetails ? " p-drop" : "")\" id=\"\(group.anchor)\">\n"
        out += "<h4><a class=\"fid\" href=\"#\(group.anchor)\">\(group.anchor)</a><span class=\"id\">\(h(group.key.server.display))</span> — \(plural(group.count, "finding"))"
        if let before = group.baselineCount { out += before == 0 ? " <span class=\"tag new\">new</span>" : " <span class=\"tag unchanged\">unchanged</span>" }
        out += "</h4>\n<dl class=\"facts\">"
        out += "<dt>Example</dt><dd>\(h(item.message.isEmpty ? "(no message)" : Escape.clipped(item.message, 600)))</dd>"
        out += "<dt>Capture</dt><dd class=\"path\">\(path(item.capture))</dd>"
        out += "<dt>Connection</dt><dd class=\"mono\">\(h(connectionText(item.client, item.server)))\(item.partial ? " <span class=\"note\">(capture joined mid-connection; roles inferred)</span>" : "")</dd>"
        out += "<dt>Time</dt><dd>\(item.time?.display ?? h(Escape.clipped(item.rawTimestamp, 60)))</dd>"
        if let direction = item.direction { out += "<dt>Direction</dt><dd>\(h(directionText(direction)))</dd>" }
        if item.reference != ruleReference, !item.reference.isEmpty {
            out += "<dt>Reference</dt><dd class=\"refs\">\(referenceHTML(item.reference))</dd>"
        }
        out += "<dt>Group</dt><dd>\(group.captures.countText) captures, \(group.clients.countText) client addresses"
        if let first = group.first, let last = group.last { out += ", \(first.display) – \(last.display)" }
        out += "</dd>"
        if let hosts = audit.hosts(of: group.key.server), !hosts.values.isEmpty { out += "<dt>Host</dt><dd>\(hostsHTML(hosts))</dd>" }
        out += "</dl>\n"

        let frames = item.frames
        if !frames.isEmpty {
            out += "<h5>Open in Wireshark</h5><ul class=\"frames\">"
            for frame in frames {
                out += "<li><strong>frame \(grouped(frame.frame))</strong> — \(h(frame.role)) — <code>frame.number == \(frame.frame)</code></li>"
            }
            if let filter = item.connectionFilter { out += "<li>the whole connection — <code>\(h(filter))</code></li>" }
            out += "</ul>\n"
        }
        if !item.evidence.isEmpty {
            out += "<h5>Evidence</h5><table class=\"kv\"><tbody>"
            for member in item.evidence.prefix(60) {
                out += "<tr><th class=\"mono\">\(h(Escape.clipped(member.key, 80)))</th><td>\(evidenceHTML(member.value))</td></tr>"
            }
            out += "</tbody></table>\n"
        }
        if let context = item.context { out += contextHTML(context) }
        if group.examples.items.count > 1 {
            out += "<h5>Other examples</h5><ul class=\"frames\">"
            for other in group.examples.items.dropFirst() {
                out += "<li>\(other.frame.map { "frame \(grouped($0)) in " } ?? "")<span class=\"path\">\(path(other.capture))</span> — \(h(connectionText(other.client, other.server))) — \(h(Escape.clipped(other.message, 200)))</li>"
            }
            out += "</ul>\n"
        }
        let extraction = Extraction(group: group, sources: audit.options.sources)
        out += "<h5>All \(plural(group.count, "finding")) of this group</h5><pre class=\"cmd\">\(h(extraction.jq))"
        if let analyze = extraction.analyze { out += "\n\(h(analyze))" }
        out += "</pre>\n</div>\n"
        return out
    }

    private func contextHTML(_ context: ConnectionContext) -> String {
        var out = ""
        if context.request != nil || context.response != nil {
            out += "<div class=\"heads\">"
            out += headHTML(context.request, title: "Request", missing: "The capture does not contain the request.")
            out += headHTML(context.response, title: context.kind == .declined ? "Response (upgrade declined)" : "Response",
                            missing: "No response.")
            out += "</div>\n"
        }
        if context.kind == .switched {
            out += "<h5>After the switch</h5><p>Agreed <code>\(h(context.agreed ?? "unknown"))</code>, observed <code>\(h(context.observed ?? "none"))</code>"
            if let confidence = context.confidence { out += " (\(h(confidence)) confidence)" }
            if let reason = context.observedReason { out += ": \(h(Escape.clipped(reason)))" }
            out += ".</p>\n"
            out += bytesHTML(context.clientFirstBytes, "client → server", total: context.bytesAfterClient)
            out += bytesHTML(context.serverFirstBytes, "server → client", total: context.bytesAfterServer)
        }
        return out
    }

    private func headHTML(_ head: MessageHead?, title: String, missing: String) -> String {
        guard let head else { return "<div><h5>\(title)</h5><p class=\"note\">\(missing)</p></div>" }
        let frame = head.frame.map { " · frame \(grouped($0))" } ?? ""
        let lines = head.lines.prefix(40).map { h(Escape.clipped($0, 1200)) }
        return "<div><h5>\(title)\(frame)</h5><pre>\(lines.joined(separator: "\n"))</pre></div>"
    }

    private func bytesHTML(_ bytes: [UInt8]?, _ label: String, total: Int64?) -> String {
        guard let bytes, !bytes.isEmpty else { return "" }
        let totalText = total.map { " of \(grouped($0))" } ?? ""
        return "<h5>First \(thousands(bytes.count))\(totalText) bytes \(label)</h5><pre class=\"hex\">\(hexDumpLines(bytes).map(h).joined(separator: "\n"))</pre>\n"
    }

    private func evidenceHTML(_ value: JSONValue) -> String {
        if let bytes = byteEvidence(value) {
            return bytes.isEmpty ? "<span class=\"note\">(no bytes)</span>"
                : "<pre class=\"hex\">\(hexDumpLines(bytes).map(h).joined(separator: "\n"))</pre>"
        }
        switch value {
        case .string(let text): return "<span class=\"mono\">\(h(Escape.clipped(text, 600)))</span>"
        case .array(let items) where items.allSatisfy({ $0.stringValue != nil }):
            return items.prefix(40).map { "<code>\(h(Escape.clipped($0.stringValue ?? "", 300)))</code>" }.joined(separator: " ")
        default: return "<span class=\"mono\">\(h(Escape.clipped(displayText(value), 600)))</span>"
        }
    }

    // MARK: Baseline

    private func baselineSection() -> String {
        guard let comparison = audit.baseline else { return "" }
        var out = "<section id=\"baseline\">\n<h2>Compared with the baseline</h2>\n"
        out += "<p>Against \(plural(comparison.baselineFindings, "finding")) of the baseline"
        if !audit.options.baselineSources.isEmpty {
            out += " (" + audit.options.baselineSources.sorted().map { "<code>\(h($0))</code>" }.joined(separator: " ") + ")"
        }
        out += ", in groups: <strong>\(thousands(comparison.new.count)) new</strong>, <strong>\(thousands(comparison.fixed.count)) fixed</strong>, \(thousands(comparison.unchanged.count)) unchanged.</p>\n"
        out += "<p class=\"note\">Groups are matched by \(GroupKey.description); the counts show how many findings each had before and now.</p>\n"
        let cap = audit.limits.shownGroups
        for (title, tag, list) in [("New since the baseline", "new", comparison.new), ("Fixed since the baseline", "fixed", comparison.fixed),
                                   ("Unchanged", "unchanged", comparison.unchanged)] {
            out += "<h3><span class=\"tag \(tag)\">\(tag)</span> \(title) (\(thousands(list.count)))</h3>\n"
            guard !list.isEmpty else { out += "<p class=\"note\">None.</p>\n"; continue }
            out += "<table class=\"baseline\"><thead><tr><th class=\"c-sev\">Severity</th><th class=\"c-rule\">Rule</th><th class=\"c-svc\">Service</th><th class=\"num\">Before</th><th class=\"num\">Now</th><th>Example</th></tr></thead><tbody>\n"
            for entry in list.prefix(cap) {
                let link = entry.group.map { " <a href=\"#G\($0)\">G\($0)</a>" } ?? ""
                out += "<tr><td><span class=\"sev \(entry.severity.name)\">\(entry.severity.name)</span></td>"
                out += "<td class=\"id\">\(breakable(h(Escape.clipped(entry.key.rule, 80))))</td><td class=\"id\">\(h(entry.key.server.display))</td>"
                out += "<td class=\"num\">\(thousands(entry.baselineCount))</td><td class=\"num\">\(thousands(entry.currentCount))</td>"
                out += "<td>\(h(Escape.clipped(entry.message, 160)))\(link)</td></tr>\n"
            }
            out += "</tbody></table>\n"
            if list.count > cap { out += "<p class=\"note\">\(plural(list.count - cap, "more group")) not shown.</p>\n" }
        }
        out += "</section>\n"
        return out
    }

    // MARK: Scope

    private func scopeSection() -> String {
        let scope = audit.scope
        var out = "<section id=\"scope\">\n<h2>Scope</h2>\n"
        if scope.summaryRecords == 0 {
            out += "<p class=\"note\">The input has no summary record (an interrupted run?), so packet and connection counts are unknown; captures are those named by the records.</p>\n"
        }
        out += "<dl class=\"facts\">"
        if let first = scope.first, let last = scope.last {
            out += "<dt>Capture time</dt><dd>\(first.display) – \(last.display) (\(durationText(microseconds: last.microseconds &- first.microseconds)))</dd>"
        }
        if scope.summaryRecords > 0 {
            out += "<dt>Packets</dt><dd>\(grouped(scope.packets)) (\(grouped(scope.bytes)) bytes)"
            let disposition = scope.disposition.ordered(Scope.dispositionOrder).filter { $0.count != 0 }
            if !disposition.isEmpty {
                out += ": " + disposition.map { "\(h($0.name.replacingUnderscores())) \(grouped($0.count))" }.joined(separator: ", ")
            }
            out += "</dd>"
            out += "<dt>TCP connections</dt><dd>\(grouped(scope.connections))"
            if scope.gaps > 0 { out += ", \(grouped(scope.gaps)) gaps (\(grouped(scope.gapBytes)) bytes missing)" }
            out += "</dd>"
            out += "<dt>HTTP messages</dt><dd>\(grouped(scope.requests)) requests, \(grouped(scope.responses)) responses, "
                + "\(grouped(scope.nonHTTPDirections)) non-HTTP directions"
            let errors = scope.parseErrors.ordered()
            if !errors.isEmpty {
                out += "; parse errors: " + errors.map { "\(h($0.name.replacingUnderscores())) \(grouped($0.count))" }.joined(separator: ", ")
            }
            out += "</dd>"
        }
        out += "<dt>Upgrades</dt><dd>\(plural(audit.switchCount, "switch", "switches")), \(plural(audit.declinedCount, "declined upgrade"))"
        if audit.priorCount > 0 { out += ", \(plural(audit.priorCount, "prior-knowledge HTTP/2 connection"))" }
        out += "</dd>"
        if scope.suppressedFindings > 0 {
            out += "<dt>Not in this report</dt><dd>\(plural(Int(clamping: scope.suppressedFindings), "finding")) suppressed by <code>--min-severity</code> or <code>--rules</code> during analysis</dd>"
        }
        if !audit.options.sources.isEmpty {
            out += "<dt>Findings files</dt><dd>" + audit.options.sources.sorted().map { "<code>\(h($0))</code>" }.joined(separator: " ") + "</dd>"
        }
        out += "</dl>\n"

        if !audit.captures.isEmpty {
            out += "<h3>Captures (\(audit.captureCountText))</h3>\n"
            out += "<div class=\"controls\" data-for=\"captures-table\"></div>\n"
            out += "<table class=\"captures filterable\" id=\"captures-table\"><thead><tr><th class=\"c-path\">Capture</th><th class=\"p-drop\">Format</th><th class=\"num\" data-numeric>Packets</th><th class=\"num p-drop\" data-numeric>Connections</th><th class=\"num\" data-numeric>Switches</th><th class=\"num\" data-numeric>Violations</th><th>Read error</th></tr></thead><tbody>\n"
            let shown = audit.captures.prefix(audit.limits.shownCaptures)
            for (index, capture) in shown.enumerated() {
                out += "<tr\(index < audit.limits.printedCaptures ? "" : " class=\"p-drop\"") data-severity=\"\"><td class=\"path\">\(path(capture.name))</td><td class=\"p-drop\">\(h(capture.format))</td>"
                out += "<td class=\"num\" data-sort=\"\(capture.packets)\">\(grouped(capture.packets))</td><td class=\"num p-drop\" data-sort=\"\(capture.connections)\">\(grouped(capture.connections))</td>"
                out += "<td class=\"num\" data-sort=\"\(capture.switches)\">\(thousands(capture.switches))</td><td class=\"num\" data-sort=\"\(capture.findings)\">\(thousands(capture.findings))</td>"
                out += "<td>\(capture.error.map { h(Escape.clipped($0)) } ?? "")</td></tr>\n"
            }
            out += "</tbody></table>\n"
            out += printedNote(shown.count, audit.limits.printedCaptures, "captures")
            if audit.captureCount > shown.count {
                out += "<p class=\"note\">The first \(thousands(shown.count)) captures by name are listed"
                if audit.capturesOverflowed { out += "; there were more than the \(thousands(audit.limits.captures)) kept in memory" }
                out += ".</p>\n"
            }
        }
        if scope.unreadableCount > 0 {
            out += "<h3>Inputs that could not be read (\(thousands(scope.unreadableCount)))</h3>\n<table><thead><tr><th>Input</th><th>Reason</th></tr></thead><tbody>\n"
            for entry in scope.unreadable.items.prefix(audit.limits.shownCaptures) {
                out += "<tr><td class=\"path\">\(path(entry.name))</td><td>\(h(Escape.clipped(entry.reason)))</td></tr>\n"
            }
            out += "</tbody></table>\n"
        }
        out += "</section>\n"
        return out
    }

    // MARK: Connections

    private func connectionsSection() -> String {
        var out = "<section id=\"connections\">\n<h2>Protocol switches and declined upgrades</h2>\n"
        guard audit.switchCount + audit.declinedCount + audit.priorCount > 0 else {
            return out + "<p>No upgrades were seen.</p>\n</section>\n"
        }
        let protocols = audit.switchesByProtocol
        if !protocols.isEmpty {
            out += "<p>" + protocols.map { "<span class=\"id\">\(h($0.name))</span> \(thousands($0.count))" }.joined(separator: " · ") + "</p>\n"
        }
        func moreNote(_ shown: Int, _ total: Int, _ what: String) -> String {
            total > shown ? "<p class=\"note\">The first \(thousands(shown)) of \(thousands(total)) \(what) (by capture and time) are listed; every one is in the JSON Lines.</p>\n" : ""
        }
        if !audit.switchExamples.isEmpty {
            out += "<h3>Switches (\(thousands(audit.switchCount)))</h3>\n"
            out += "<table class=\"switches\"><thead><tr><th class=\"c-path\">Capture</th><th>Client → server</th><th class=\"p-drop\">Request</th><th class=\"num\">Frames</th><th>Agreed</th><th>Observed</th><th class=\"num p-drop\">Bytes after (c→s / s→c)</th></tr></thead><tbody>\n"
            for (index, context) in audit.switchExamples.enumerated() {
                let verdict = ProtocolVerdict(agreed: context.agreed ?? "unknown", observed: context.observed)
                out += "<tr\(printedRow(index))><td class=\"path\">\(path(context.capture))</td>"
                out += "<td class=\"mono\">\(h(connectionText(context.client, context.server)))</td>"
                out += "<td class=\"mono p-drop\">\(h(Escape.clipped(context.request.map { "\($0.method ?? "") \($0.target ?? "")" } ?? "(not captured)", 80)))</td>"
                out += "<td class=\"num\">\(framePair(context))</td>"
                out += "<td class=\"id\">\(h(context.agreed ?? "unknown"))</td>"
                out += "<td class=\"id\">\(h(context.observed ?? "none"))\(verdict == .different ? " <span class=\"sev high\">mismatch</span>" : "")</td>"
                out += "<td class=\"num p-drop\">\(context.bytesAfterClient.map(grouped) ?? "–") / \(context.bytesAfterServer.map(grouped) ?? "–")</td></tr>\n"
            }
            out += "</tbody></table>\n" + moreNote(audit.switchExamples.count, audit.switchCount, "switches")
        }
        if !audit.declinedExamples.isEmpty {
            out += "<h3>Declined upgrades (\(thousands(audit.declinedCount)))</h3>\n"
            out += "<table><thead><tr><th class=\"c-path\">Capture</th><th>Client → server</th><th class=\"p-drop\">Request</th><th>Offered</th><th>Answer</th><th class=\"num\">Frames</th></tr></thead><tbody>\n"
            for (index, context) in audit.declinedExamples.enumerated() {
                let request = context.request
                out += "<tr\(printedRow(index))><td class=\"path\">\(path(context.capture))</td>"
                out += "<td class=\"mono\">\(h(connectionText(context.client, context.server)))</td>"
                out += "<td class=\"mono p-drop\">\(h(Escape.clipped(request.map { "\($0.method ?? "") \($0.target ?? "")" } ?? "", 80)))</td>"
                out += "<td class=\"id\">\(h(Escape.clipped(request?.headers.first { $0.name == "upgrade" }?.value ?? "", 80)))</td>"
                out += "<td>\(h(Escape.clipped(context.response?.startLine ?? "", 80)))</td>"
                out += "<td class=\"num\">\(framePair(context))</td></tr>\n"
            }
            out += "</tbody></table>\n" + moreNote(audit.declinedExamples.count, audit.declinedCount, "declined upgrades")
        }
        if !audit.priorExamples.isEmpty {
            out += "<h3>Prior-knowledge HTTP/2 (\(thousands(audit.priorCount)))</h3>\n"
            out += "<table><thead><tr><th class=\"c-path\">Capture</th><th>Client → server</th><th>Protocol</th><th class=\"num\">First frame</th><th class=\"num\">Bytes (c→s / s→c)</th></tr></thead><tbody>\n"
            for (index, context) in audit.priorExamples.enumerated() {
                out += "<tr\(printedRow(index))><td class=\"path\">\(path(context.capture))</td>"
                out += "<td class=\"mono\">\(h(connectionText(context.client, context.server)))</td>"
                out += "<td class=\"id\">\(h(context.agreed ?? "unknown"))</td><td class=\"num\">\(context.firstFrame.map(grouped) ?? "–")</td>"
                out += "<td class=\"num\">\(context.bytesAfterClient.map(grouped) ?? "–") / \(context.bytesAfterServer.map(grouped) ?? "–")</td></tr>\n"
            }
            out += "</tbody></table>\n" + moreNote(audit.priorExamples.count, audit.priorCount, "prior-knowledge connections")
        }
        out += "</section>\n"
        return out
    }

    private func printedRow(_ index: Int) -> String { index < audit.limits.printedConnections ? "" : " class=\"p-drop\"" }

    /// Says, in print only, that a table was cut for paper.
    private func printedNote(_ shown: Int, _ printed: Int, _ what: String) -> String {
        shown > printed ? "<p class=\"note p-only\">This printed copy lists the first \(thousands(printed)) of these \(thousands(shown)) \(what); the screen version lists them all.</p>\n" : ""
    }

    private func framePair(_ context: ConnectionContext) -> String {
        let request = context.request?.frame.map(grouped) ?? "–"
        let response = context.response?.frame.map(grouped) ?? "–"
        return "\(request) → \(response)"
    }

    // MARK: About

    private func aboutSection() -> String {
        var out = "<section id=\"about\">\n<h2>About this report</h2>\n<ul>\n"
        out += "<li>Made from the JSON Lines findings of <code>switchyard analyze</code> (fields in docs/OUTPUT.md, rules in docs/RULES.md). Several inputs are merged: their summary records are added up.</li>\n"
        out += "<li>Findings are grouped by \(GroupKey.description). Long lists are cut (\(thousands(audit.limits.shownGroups)) groups, \(thousands(audit.limits.shownServices)) services, \(thousands(audit.limits.shownCaptures)) captures) with the number left out; every finding stays in the JSON Lines, and each group shows the <code>jq</code> filter that extracts it.</li>\n"
        out += "<li>Severities: <strong>high</strong> — the two ends (or a proxy and a server) can disagree about what the connection carries; <strong>medium</strong> — a MUST is broken but interpretations rarely diverge; <strong>low</strong> — a SHOULD or hygiene problem; <strong>info</strong> — worth knowing, not wrong.</li>\n"
        out += "<li>Frame numbers are 1-based, as Wireshark numbers frames; the filter <code>frame.number == N</code> shows one.</li>\n"
        out += "<li>Request and response heads are reconstructed from the recorded start line and the upgrade-relevant headers, not copied from the wire.</li>\n"
        out += "<li>Everything shown from the capture is untrusted and shown as text: control characters appear as <code>\\xNN</code>, invisible or direction-changing characters as <code>\\u{…}</code>.</li>\n"
        if audit.invalidLines > 0 {
            out += "<li>\(plural(audit.invalidLines, "input line was", "input lines were")) not valid records (or longer than \(thousands(audit.limits.maxLineBytes)) bytes) and were skipped.</li>\n"
        }
        if audit.scope.summaryRecords > 0, audit.scope.summaryViolations != Int64(audit.findingCount) {
            out += "<li>The summary records count \(grouped(audit.scope.summaryViolations)) violations but the input holds \(thousands(audit.findingCount)): a findings file may be incomplete.</li>\n"
        }
        out += "</ul>\n<p class=\"note\">The machine-readable summary (as <code>switchyard report --format json</code> writes it, with the first \(thousands(audit.limits.shownCaptures)) captures) is embedded in this page as <code>script#switchyard-summary</code>.</p>\n</section>\n"
        return out
    }

    // MARK: Helpers

    /// The guide's own text (trusted), escaped, with `code` spans.
    private func rich(_ text: String) -> String {
        let parts = h(text).split(separator: "`", omittingEmptySubsequences: false)
        var out = ""
        for (index, part) in parts.enumerated() {
            out += index % 2 == 1 && index < parts.count - 1 ? "<code>\(part)</code>" : String(part)
        }
        return out
    }

    private func referenceHTML(_ reference: String) -> String {
        referenceParts(reference).map { part in
            guard let url = part.url else { return h(part.text) }
            return "<a href=\"\(h(url))\" rel=\"noreferrer noopener\">\(h(part.text))</a>"
        }.joined()
    }

    private func severityMeaning(_ severity: Severity) -> String {
        switch severity {
        case .high: return "ends can disagree about what the connection carries"
        case .medium: return "a MUST is broken; interpretations rarely diverge"
        case .low: return "a SHOULD or hygiene problem"
        case .info: return "worth knowing, not wrong"
        }
    }
}

/// `12,345`
func thousands(_ value: Int) -> String { grouped(Int64(value)) }

func plural(_ count: Int, _ singular: String, _ pluralForm: String? = nil) -> String {
    "\(grouped(Int64(count))) \(count == 1 ? singular : pluralForm ?? singular + "s")"
}

/// `12,345`
func grouped(_ value: Int64) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (index, character) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { out += "," }
        out.append(character)
    }
    return value < 0 ? "-" + out : out
}

/// Lets long identifiers (`http_upgrade_missing_connection_token`) wrap after underscores;
/// applied to already-escaped text.
func breakable(_ escaped: String) -> String {
    escaped.split(separator: "_", omittingEmptySubsequences: false).joined(separator: "_<wbr>")
}


func connectionText(_ client: Peer?, _ server: Peer?) -> String {
    guard client != nil || server != nil else { return "–" }
    return "\(client?.display ?? "?") → \(server?.display ?? "?")"
}

func directionText(_ direction: String) -> String {
    switch direction {
    case "client_to_server": return "client → server"
    case "server_to_client": return "server → client"
    default: return direction
    }
}

func capitalizedName(_ severity: Severity) -> String {
    severity.name.prefix(1).uppercased() + severity.name.dropFirst()
}

/// Lets host names wrap after dots; applied to already-escaped text.
func wrappable(_ escaped: String) -> String {
    escaped.split(separator: ".", omittingEmptySubsequences: false).joined(separator: ".<wbr>")
}
