import Findings

/// Writes the HTML report. Rule of the file: every string that came from the input goes
/// through `h(_:)` (HTML text, and attribute values, which are always double-quoted); the
/// only other text is this file's own, numbers it formatted, and URLs built from validated digits.
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
        out += chartsSection()
        out += scopeSection()
        if audit.baseline != nil { out += baselineSection() }
        out += findingsTableSection()
        out += detailsSection()
        out += connectionsSection()
        out += proxyPairsSection()
        out += aboutSection()
        out += "</main>\n"
        out += "<footer class=\"wrap\">Made by <code>switchyard report</code> from the JSON Lines output of <code>switchyard analyze</code>."
        if let generated = audit.options.generatedAt { out += " Generated \(h(generated))." }
        out += "</footer>\n"
        out += "<script type=\"application/json\" id=\"switchyard-summary\">"
        out += SummaryJSON(audit: audit).document().serialized()
        out += "</script>\n<script>\(script)</script>\n</body>\n</html>\n"
        return out
    }

    // MARK: Header

    private func masthead() -> String {
        var meta: [String] = []
        let captures = audit.captureNames.count
        meta.append("\(captures) capture\(captures == 1 ? "" : "s")")
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
        var links = [("summary", "Summary"), ("charts", "Charts"), ("scope", "Scope")]
        if audit.baseline != nil { links.append(("baseline", "Baseline")) }
        links += [("findings-table-section", "Findings"), ("details", "Details"), ("connections", "Switches"), ("about", "About")]
        return "<nav class=\"toc\"><div class=\"wrap\">" + links.map { "<a href=\"#\($0.0)\">\($0.1)</a>" }.joined() + "</div></nav>\n"
    }

    // MARK: Executive summary

    private func summarySection() -> String {
        let scope = audit.scope
        let severities = audit.countsBySeverity
        var out = "<section id=\"summary\">\n<h2>Executive summary</h2>\n"
        out += "<p class=\"lead\">\(summarySentence())</p>\n"
        out += "<div class=\"cards\">"
        out += card("Violations", audit.findings.count, "total")
        for entry in severities { out += card(capitalizedName(entry.severity), entry.count, entry.severity.name) }
        out += card("Switches", audit.switches.count, "")
        out += card("Declined", audit.declined.count, "")
        if scope.summaryRecords > 0 { out += card("Connections", Int(clamping: scope.connections), "") }
        out += "</div>\n"

        let risks = audit.topRisks()
        out += "<h3>Top risks</h3>\n"
        if risks.shown.isEmpty {
            out += audit.findings.isEmpty
                ? "<p>No violations were found in the analysed traffic.</p>\n"
                : "<p>No high or medium severity violations were found; see the findings table for the rest.</p>\n"
        } else {
            out += "<ol class=\"risks\">\n"
            for risk in risks.shown {
                let guide = RuleGuide.forRule(risk.rule)
                out += "<li class=\"\(risk.severity.name)\"><span class=\"sev \(risk.severity.name)\">\(risk.severity.name)</span> "
                out += "<span class=\"t\">\(h(guide.title))</span> — <a href=\"#\(ruleAnchors[risk.rule] ?? "details")\"><code>\(h(risk.rule))</code></a>, "
                out += "\(plural(risk.count, "finding"))<p>\(rich(guide.why))</p><p class=\"fix\"><strong>Fix:</strong> \(rich(guide.remediation))</p></li>\n"
            }
            out += "</ol>\n"
            if risks.more > 0 {
                out += "<p class=\"note\">\(risks.more) more high-severity rule\(risks.more == 1 ? " was" : "s were") broken; see <a href=\"#details\">Findings in detail</a>.</p>\n"
            }
        }

        out += "<div class=\"grid2\">\n<div>\n<h3>Switches by protocol</h3>\n"
        let protocols = audit.switchesByProtocol
        if protocols.isEmpty {
            out += "<p class=\"note\">No protocol switches (101 responses) were seen.</p>\n"
        } else {
            out += "<table><thead><tr><th>Protocol (101 Upgrade)</th><th class=\"num\">Switches</th><th class=\"num\">With violations</th></tr></thead><tbody>\n"
            let withFindings = Set(audit.findings.map(\.connectionKey))
            for entry in protocols {
                let affected = audit.switches.filter { context in
                    (context.agreed ?? "unknown") == entry.name && withFindings.contains(context.connectionKey)
                }.count
                out += "<tr><td class=\"mono\">\(h(entry.name))</td><td class=\"num\">\(entry.count)</td><td class=\"num\">\(affected)</td></tr>\n"
            }
            out += "</tbody></table>\n"
        }
        if !audit.priorKnowledge.isEmpty {
            out += "<p class=\"note\">Also \(plural(audit.priorKnowledge.count, "connection")) spoke HTTP/2 from the first byte (prior knowledge, no upgrade).</p>\n"
        }
        out += "</div>\n<div>\n<h3>Violations by severity</h3>\n"
        out += "<table><thead><tr><th>Severity</th><th class=\"num\">Violations</th><th>Meaning</th></tr></thead><tbody>\n"
        for entry in severities {
            out += "<tr><td><span class=\"sev \(entry.severity.name)\">\(entry.severity.name)</span></td><td class=\"num\">\(entry.count)</td><td>\(severityMeaning(entry.severity))</td></tr>\n"
        }
        out += "</tbody></table>\n</div>\n</div>\n</section>\n"
        return out
    }

    private func summarySentence() -> String {
        let scope = audit.scope
        var text = "Switchyard analysed \(plural(audit.captureNames.count, "capture"))"
        if scope.summaryRecords > 0 {
            text += " (\(grouped(scope.packets)) packets, \(grouped(scope.connections)) TCP connections, "
                + "\(grouped(scope.requests)) HTTP requests and \(grouped(scope.responses)) responses)"
        }
        if let span = audit.timeSpan { text += " covering \(durationText(microseconds: span)) of capture time" }
        text += ", saw \(plural(audit.switches.count, "protocol switch", "protocol switches"))"
        text += " and found <strong>\(plural(audit.findings.count, "violation"))</strong>"
        let rules = audit.ruleCounts.count
        if rules > 0 { text += " of \(plural(rules, "rule"))" }
        text += "."
        let high = audit.countsBySeverity.first { $0.severity == .high }?.count ?? 0
        if high > 0 {
            text += " \(high) \(high == 1 ? "is" : "are") high severity: the two ends of a connection, or a proxy and a server, can disagree about what it carries — the raw material of request smuggling and desync attacks."
        }
        return text
    }

    private func card(_ label: String, _ value: Int, _ className: String) -> String {
        "<div class=\"card \(className)\"><span class=\"n\">\(grouped(Int64(value)))</span><span class=\"l\">\(label)</span></div>"
    }

    // MARK: Charts

    private func chartsSection() -> String {
        var out = "<section id=\"charts\">\n<h2>Charts</h2>\n"
        out += "<div class=\"figure\"><h3>Violations by rule and severity</h3>\n"
        let bars = Charts.ruleBars(audit.ruleCounts) { ruleAnchors[$0] ?? "details" }
        out += bars.isEmpty ? "<p class=\"note\">No violations.</p>" : bars
        out += "</div>\n<div class=\"figure\"><h3>Timeline of switches and violations</h3>\n"
        let timeline = Charts.timeline(
            switchTimes: audit.switches.compactMap(\.time),
            violations: audit.findings.compactMap { item in item.time.map { (time: $0, severity: item.severity) } })
        out += timeline.isEmpty ? "<p class=\"note\">No timestamps to show.</p>" : timeline
        out += "</div>\n<div class=\"figure\"><h3>Protocols after switching: agreed vs observed</h3>\n"
        let matrix = Charts.protocolMatrix(audit.protocolPairs)
        out += matrix.isEmpty ? "<p class=\"note\">No protocol switches.</p>"
            : matrix + "<p class=\"note\">Rows: the protocol the 101 response selected. Columns: what Switchyard recognised in the bytes that followed (<code>none</code>: nothing was sent).</p>"
        out += "</div>\n</section>\n"
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
        out += "<dt>Upgrades</dt><dd>\(plural(audit.switches.count, "switch", "switches")), \(plural(audit.declined.count, "declined upgrade"))"
        if !audit.priorKnowledge.isEmpty { out += ", \(plural(audit.priorKnowledge.count, "prior-knowledge HTTP/2 connection"))" }
        out += "</dd>"
        if scope.suppressedFindings > 0 {
            out += "<dt>Not in this report</dt><dd>\(plural(Int(clamping: scope.suppressedFindings), "finding")) suppressed by <code>--min-severity</code> or <code>--rules</code> during analysis</dd>"
        }
        if !audit.options.sources.isEmpty {
            out += "<dt>Findings files</dt><dd>" + audit.options.sources.sorted().map { "<code>\(h($0))</code>" }.joined(separator: " ") + "</dd>"
        }
        out += "</dl>\n"

        if !scope.captures.isEmpty {
            out += "<h3>Captures</h3>\n<table><thead><tr><th>Capture</th><th>Format</th><th class=\"num\">Packets</th><th class=\"num\">Bytes</th><th class=\"num\">Connections</th><th class=\"num\">Violations</th><th>Read error</th></tr></thead><tbody>\n"
            var perCapture: [String: Int] = [:]
            for item in audit.findings { perCapture[item.capture, default: 0] += 1 }
            for capture in scope.captures {
                out += "<tr><td class=\"mono\">\(h(Escape.clipped(capture.name, 200)))</td><td>\(h(capture.format))</td>"
                out += "<td class=\"num\">\(grouped(capture.packets))</td><td class=\"num\">\(grouped(capture.bytes))</td>"
                out += "<td class=\"num\">\(grouped(capture.connections))</td><td class=\"num\">\(perCapture[capture.name] ?? 0)</td>"
                out += "<td>\(capture.error.map { h(Escape.clipped($0)) } ?? "")</td></tr>\n"
            }
            out += "</tbody></table>\n"
        }
        if !scope.unreadable.isEmpty {
            out += "<h3>Inputs that could not be read</h3>\n<table><thead><tr><th>Input</th><th>Reason</th></tr></thead><tbody>\n"
            for entry in scope.unreadable {
                out += "<tr><td class=\"mono\">\(h(Escape.clipped(entry.name, 200)))</td><td>\(h(Escape.clipped(entry.reason)))</td></tr>\n"
            }
            out += "</tbody></table>\n"
        }
        out += "</section>\n"
        return out
    }

    // MARK: Baseline

    private func baselineSection() -> String {
        guard let comparison = audit.baseline else { return "" }
        var out = "<section id=\"baseline\">\n<h2>Compared with the baseline</h2>\n"
        out += "<p>Against \(plural(comparison.baselineFindings, "finding")) of the baseline"
        if !audit.options.baselineSources.isEmpty {
            out += " (" + audit.options.baselineSources.sorted().map { "<code>\(h($0))</code>" }.joined(separator: " ") + ")"
        }
        out += ": <strong>\(comparison.new.count) new</strong>, <strong>\(comparison.fixed.count) fixed</strong>, \(comparison.unchanged.count) unchanged.</p>\n"
        out += "<p class=\"note\">Findings are matched by \(FindingKey.description). Several findings with the same key count as one entry; the counts show how many there were before and now.</p>\n"
        for (title, tag, list) in [("New since the baseline", "new", comparison.new), ("Fixed since the baseline", "fixed", comparison.fixed),
                                   ("Unchanged", "unchanged", comparison.unchanged)] {
            out += "<h3><span class=\"tag \(tag)\">\(tag)</span> \(title) (\(list.count))</h3>\n"
            guard !list.isEmpty else { out += "<p class=\"note\">None.</p>\n"; continue }
            out += "<table><thead><tr><th>Severity</th><th>Rule</th><th>Client</th><th>Server</th><th class=\"num\">Before</th><th class=\"num\">Now</th><th>Example</th></tr></thead><tbody>\n"
            for entry in list {
                let link = entry.firstFinding.map { " <a href=\"#F\($0)\">F\($0)</a>" } ?? ""
                out += "<tr><td><span class=\"sev \(entry.severity.name)\">\(entry.severity.name)</span></td>"
                out += "<td class=\"mono\">\(h(entry.key.rule))</td><td class=\"mono\">\(h(entry.key.clientIP))</td>"
                out += "<td class=\"mono\">\(h(entry.key.serverIP)):\(h(entry.key.serverPort))</td>"
                out += "<td class=\"num\">\(entry.baselineCount)</td><td class=\"num\">\(entry.currentCount)</td>"
                out += "<td>\(h(Escape.clipped(entry.message, 160)))\(link)</td></tr>\n"
            }
            out += "</tbody></table>\n"
        }
        out += "</section>\n"
        return out
    }

    // MARK: Findings table

    private func findingsTableSection() -> String {
        var out = "<section id=\"findings-table-section\">\n<h2>Findings</h2>\n"
        guard !audit.findings.isEmpty else { return out + "<p>No violations.</p>\n</section>\n" }
        out += "<div id=\"findings-controls\"></div>\n"
        let baseline = audit.baseline != nil
        out += "<table class=\"findings\" id=\"findings-table\"><thead><tr><th class=\"c-id\" data-numeric>#</th><th class=\"c-sev\" data-numeric>Severity</th><th class=\"c-rule\">Rule</th><th>Finding</th><th class=\"c-where\">Capture and connection</th><th class=\"c-frame num\" data-numeric>Frame</th><th class=\"c-time\" data-numeric>Time (UTC)</th>"
        if baseline { out += "<th class=\"c-base\">Baseline</th>" }
        out += "</tr></thead><tbody>\n"
        let detailed = audit.detailedFindings.count
        for item in audit.findings {
            let number = item.number <= detailed ? "<a href=\"#\(item.anchor)\">\(item.anchor)</a>" : item.anchor
            out += "<tr class=\"\(item.severity.name)\" data-severity=\"\(item.severity.name)\">"
            out += "<td class=\"nowrap\" data-sort=\"\(item.number)\">\(number)</td>"
            out += "<td data-sort=\"\(item.severity.rawValue)\"><span class=\"sev \(item.severity.name)\">\(item.severity.name)</span></td>"
            out += "<td class=\"mono\">\(breakable(h(Escape.clipped(item.rule, 80))))</td>"
            out += "<td>\(h(Escape.clipped(item.message, 220)))</td>"
            out += "<td class=\"where\" data-sort=\"\(h(Escape.clipped(item.capture, 300)))\"><span class=\"mono\" title=\"\(h(Escape.clipped(item.capture, 300)))\">\(h(Escape.clipped(baseName(item.capture), 60)))</span>"
            out += "<br><span class=\"mono conn\">\(h(connectionText(item.client, item.server)))</span></td>"
            out += "<td class=\"num\" data-sort=\"\(item.frame ?? 0)\">\(item.frame.map { String($0) } ?? "–")</td>"
            let time = item.time.map { "\($0.short.prefix(10))<br>\($0.short.suffix(8))" } ?? h(Escape.clipped(item.rawTimestamp, 40))
            out += "<td class=\"nowrap\" data-sort=\"\(item.time?.microseconds ?? 0)\">\(time)</td>"
            if baseline, let status = item.baselineStatus { out += "<td><span class=\"tag \(status.rawValue)\">\(status.rawValue)</span></td>" }
            out += "</tr>\n"
        }
        out += "</tbody></table>\n"
        out += "<p class=\"note\">Sorted by severity, then by rule (most frequent first), capture and time. With scripts enabled, click a column to sort and use the filter above.</p>\n"
        out += "</section>\n"
        return out
    }

    // MARK: Details

    private func detailsSection() -> String {
        var out = "<section id=\"details\">\n<h2>Findings in detail</h2>\n"
        let detailed = Array(audit.detailedFindings)
        guard !detailed.isEmpty else { return out + "<p>No violations.</p>\n</section>\n" }
        if detailed.count < audit.findings.count {
            out += "<p class=\"note\">The first \(detailed.count) of \(audit.findings.count) findings are shown in full; all are in the table above.</p>\n"
        }
        out += "<p class=\"note\">Grouped by rule, most severe first. Frame numbers are Wireshark's: open the capture and apply the display filter shown. Request and response heads are reconstructed from the findings: the start line and the upgrade-relevant headers Switchyard records.</p>\n"
        for count in audit.ruleCounts {
            let items = detailed.filter { $0.rule == count.rule }
            guard let firstItem = items.first else { continue }
            let guide = RuleGuide.forRule(count.rule)
            let catalogue = Rule.named(count.rule)
            out += "<article class=\"rule\" id=\"\(ruleAnchors[count.rule] ?? "")\">\n<header><span class=\"sev \(count.severity.name)\">\(count.severity.name)</span>"
            out += "<h3>\(h(guide.title))</h3><code>\(h(count.rule))</code><span class=\"note\">\(plural(count.count, "finding"))</span></header>\n"
            out += "<dl class=\"explain\">"
            if let catalogue { out += "<dt>What</dt><dd>\(rich(catalogue.summary))</dd>" }
            out += "<dt>Why it matters</dt><dd>\(rich(guide.why))</dd>"
            out += "<dt>Remediation</dt><dd>\(rich(guide.remediation))</dd>"
            let reference = catalogue?.reference ?? firstItem.reference
            out += "<dt>Reference</dt><dd class=\"refs\">\(referenceHTML(reference))</dd></dl>\n"
            var shownConnections: [ConnectionKey: Int] = [:]
            for item in items {
                out += occurrence(item, ruleReference: reference, shownConnections: &shownConnections)
            }
            out += "</article>\n"
        }
        out += "</section>\n"
        return out
    }

    private func occurrence(_ item: FindingItem, ruleReference: String, shownConnections: inout [ConnectionKey: Int]) -> String {
        var out = "<div class=\"occurrence \(item.severity.name)\" id=\"\(item.anchor)\">\n"
        out += "<h4><a class=\"fid\" href=\"#\(item.anchor)\">\(item.anchor)</a>\(h(item.message.isEmpty ? "(no message)" : item.message))"
        if let status = item.baselineStatus { out += " <span class=\"tag \(status.rawValue)\">\(status.rawValue)</span>" }
        out += "</h4>\n<dl class=\"facts\">"
        out += "<dt>Capture</dt><dd class=\"mono\">\(h(Escape.clipped(item.capture, 300)))</dd>"
        out += "<dt>Connection</dt><dd class=\"mono\">\(h(connectionText(item.client, item.server)))\(item.partial ? " <span class=\"note\">(capture joined mid-connection; roles inferred)</span>" : "")</dd>"
        out += "<dt>Time</dt><dd>\(item.time?.display ?? h(Escape.clipped(item.rawTimestamp, 60)))</dd>"
        if let direction = item.direction { out += "<dt>Direction</dt><dd>\(h(directionText(direction)))</dd>" }
        if item.reference != ruleReference, !item.reference.isEmpty {
            out += "<dt>Reference</dt><dd class=\"refs\">\(referenceHTML(item.reference))</dd>"
        }
        out += "</dl>\n"

        let frames = item.frames
        if !frames.isEmpty {
            out += "<h5>Open in Wireshark</h5><ul class=\"frames\">"
            for frame in frames {
                out += "<li><strong>frame \(frame.frame)</strong> — \(h(frame.role)) — <code>frame.number == \(frame.frame)</code></li>"
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

        if let context = item.context {
            if let earlier = shownConnections[item.connectionKey] {
                out += "<p class=\"note\">Handshake and first bytes of this connection: as in <a href=\"#F\(earlier)\">F\(earlier)</a> above.</p>\n"
            } else {
                shownConnections[item.connectionKey] = item.number
                out += contextHTML(context)
            }
        }
        out += "</div>\n"
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
        let frame = head.frame.map { " · frame \($0)" } ?? ""
        let lines = head.lines.prefix(40).map { h(Escape.clipped($0, 1200)) }
        return "<div><h5>\(title)\(frame)</h5><pre>\(lines.joined(separator: "\n"))</pre></div>"
    }

    private func bytesHTML(_ bytes: [UInt8]?, _ label: String, total: Int64?) -> String {
        guard let bytes, !bytes.isEmpty else { return "" }
        let totalText = total.map { " of \(grouped($0))" } ?? ""
        return "<h5>First \(bytes.count)\(totalText) bytes \(label)</h5><pre class=\"hex\">\(hexDumpLines(bytes).map(h).joined(separator: "\n"))</pre>\n"
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

    // MARK: Connections

    private func connectionsSection() -> String {
        var out = "<section id=\"connections\">\n<h2>Protocol switches and declined upgrades</h2>\n"
        guard !(audit.switches.isEmpty && audit.declined.isEmpty && audit.priorKnowledge.isEmpty) else {
            return out + "<p>No upgrades were seen.</p>\n</section>\n"
        }
        if !audit.switches.isEmpty {
            out += "<h3>Switches (\(audit.switches.count))</h3>\n"
            out += "<table><thead><tr><th>Capture</th><th>Client → server</th><th>Request</th><th class=\"num\">Frames</th><th>Agreed</th><th>Observed</th><th class=\"num\">Bytes after (c→s / s→c)</th></tr></thead><tbody>\n"
            for context in audit.switches {
                let verdict = ProtocolVerdict(agreed: context.agreed ?? "unknown", observed: context.observed)
                out += "<tr><td class=\"mono\" title=\"\(h(Escape.clipped(context.capture, 300)))\">\(h(Escape.clipped(baseName(context.capture), 60)))</td>"
                out += "<td class=\"mono\">\(h(connectionText(context.client, context.server)))</td>"
                out += "<td class=\"mono\">\(h(Escape.clipped(context.request.map { "\($0.method ?? "") \($0.target ?? "")" } ?? "(not captured)", 80)))</td>"
                out += "<td class=\"num\">\(framePair(context))</td>"
                out += "<td class=\"mono\">\(h(context.agreed ?? "unknown"))</td>"
                out += "<td class=\"mono\">\(h(context.observed ?? "none"))\(verdict == .different ? " <span class=\"sev high\">mismatch</span>" : "")</td>"
                out += "<td class=\"num\">\(context.bytesAfterClient.map(grouped) ?? "–") / \(context.bytesAfterServer.map(grouped) ?? "–")</td></tr>\n"
            }
            out += "</tbody></table>\n"
        }
        if !audit.declined.isEmpty {
            out += "<h3>Declined upgrades (\(audit.declined.count))</h3>\n"
            out += "<table><thead><tr><th>Capture</th><th>Client → server</th><th>Request</th><th>Offered</th><th>Answer</th><th class=\"num\">Frames</th></tr></thead><tbody>\n"
            for context in audit.declined {
                out += "<tr><td class=\"mono\" title=\"\(h(Escape.clipped(context.capture, 300)))\">\(h(Escape.clipped(baseName(context.capture), 60)))</td>"
                out += "<td class=\"mono\">\(h(connectionText(context.client, context.server)))</td>"
                out += "<td class=\"mono\">\(h(Escape.clipped(context.request.map { "\($0.method ?? "") \($0.target ?? "")" } ?? "", 80)))</td>"
                out += "<td class=\"mono\">\(h(Escape.clipped(context.request?.headers.first { $0.name == "upgrade" }?.value ?? "", 80)))</td>"
                out += "<td>\(h(Escape.clipped(context.response?.startLine ?? "", 80)))</td>"
                out += "<td class=\"num\">\(framePair(context))</td></tr>\n"
            }
            out += "</tbody></table>\n"
        }
        if !audit.priorKnowledge.isEmpty {
            out += "<h3>Prior-knowledge HTTP/2 (\(audit.priorKnowledge.count))</h3>\n"
            out += "<table><thead><tr><th>Capture</th><th>Client → server</th><th>Protocol</th><th class=\"num\">First frame</th><th class=\"num\">Bytes (c→s / s→c)</th></tr></thead><tbody>\n"
            for context in audit.priorKnowledge {
                out += "<tr><td class=\"mono\" title=\"\(h(Escape.clipped(context.capture, 300)))\">\(h(Escape.clipped(baseName(context.capture), 60)))</td>"
                out += "<td class=\"mono\">\(h(connectionText(context.client, context.server)))</td>"
                out += "<td class=\"mono\">\(h(context.agreed ?? "unknown"))</td><td class=\"num\">\(context.firstFrame.map { String($0) } ?? "–")</td>"
                out += "<td class=\"num\">\(context.bytesAfterClient.map(grouped) ?? "–") / \(context.bytesAfterServer.map(grouped) ?? "–")</td></tr>\n"
            }
            out += "</tbody></table>\n"
        }
        out += "</section>\n"
        return out
    }

    private func framePair(_ context: ConnectionContext) -> String {
        let request = context.request?.frame.map { String($0) } ?? "–"
        let response = context.response?.frame.map { String($0) } ?? "–"
        return "\(request) → \(response)"
    }

    // MARK: About

    private func aboutSection() -> String {
        var out = "<section id=\"about\">\n<h2>About this report</h2>\n<ul>\n"
        out += "<li>Made from the JSON Lines findings of <code>switchyard analyze</code> (fields in docs/OUTPUT.md, rules in docs/RULES.md). Several inputs are merged: their summary records are added up.</li>\n"
        out += "<li>Severities: <strong>high</strong> — the two ends (or a proxy and a server) can disagree about what the connection carries; <strong>medium</strong> — a MUST is broken but interpretations rarely diverge; <strong>low</strong> — a SHOULD or hygiene problem; <strong>info</strong> — worth knowing, not wrong.</li>\n"
        out += "<li>Frame numbers are 1-based, as Wireshark numbers frames; the filter <code>frame.number == N</code> shows one.</li>\n"
        out += "<li>Request and response heads are reconstructed from the recorded start line and the upgrade-relevant headers, not copied from the wire.</li>\n"
        out += "<li>Everything shown from the capture is untrusted and shown as text: control characters appear as <code>\\xNN</code>, invisible or direction-changing characters as <code>\\u{…}</code>.</li>\n"
        if audit.baseline != nil {
            out += "<li>Baseline comparison matches findings by \(FindingKey.description).</li>\n"
        }
        if audit.invalidLines > 0 {
            out += "<li>\(plural(audit.invalidLines, "input line was", "input lines were")) not valid records and were skipped.</li>\n"
        }
        if audit.scope.summaryRecords > 0, audit.scope.summaryViolations != Int64(audit.findings.count) {
            out += "<li>The summary records count \(grouped(audit.scope.summaryViolations)) violations but the input holds \(audit.findings.count): a findings file may be incomplete.</li>\n"
        }
        out += "</ul>\n<p class=\"note\">The machine-readable summary (the same as <code>switchyard report --format json</code>) is embedded in this page as <code>script#switchyard-summary</code>.</p>\n</section>\n"
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

func baseName(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/"), path.index(after: slash) < path.endIndex else { return path }
    return String(path[path.index(after: slash)...])
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
