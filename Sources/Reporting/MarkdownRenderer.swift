import Findings

/// Writes the Markdown report (GitHub Flavored Markdown): the HTML report's content without
/// charts, for a ticket or a pull request. Every value from the input goes through `m(_:)`
/// (inline text and table cells) or a fenced code block that it cannot close.
struct MarkdownRenderer {
    let audit: Audit

    private func m(_ text: String) -> String { Escape.markdown(text) }

    /// `m` for values shown in full elsewhere, cut to keep tables readable.
    private func cell(_ text: String, _ limit: Int = 120) -> String { m(Escape.clipped(text, limit)) }

    func render() -> String {
        var out = "# \(m(audit.options.title))\n\n"
        var meta = ["Switchyard · HTTP/1.1 Upgrade audit", plural(audit.captureNames.count, "capture")]
        if let first = audit.scope.first, let last = audit.scope.last {
            meta.append("\(first.short) – \(last.short) UTC (\(durationText(microseconds: last.microseconds &- first.microseconds)))")
        }
        if let generated = audit.options.generatedAt { meta.append("generated \(m(generated))") }
        out += "_\(meta.joined(separator: " · "))_\n\n"
        out += summary()
        out += scope()
        if audit.baseline != nil { out += baseline() }
        out += findingsTable()
        out += details()
        out += connections()
        out += proxyPairs()
        out += about()
        return out
    }

    // MARK: Sections

    private func summary() -> String {
        var out = "## Executive summary\n\n"
        let scope = audit.scope
        var sentence = "Switchyard analysed \(plural(audit.captureNames.count, "capture"))"
        if scope.summaryRecords > 0 {
            sentence += " (\(grouped(scope.packets)) packets, \(grouped(scope.connections)) TCP connections, "
                + "\(grouped(scope.requests)) HTTP requests and \(grouped(scope.responses)) responses)"
        }
        if let span = audit.timeSpan { sentence += " covering \(durationText(microseconds: span)) of capture time" }
        sentence += ", saw \(plural(audit.switches.count, "protocol switch", "protocol switches")) and found **\(plural(audit.findings.count, "violation"))**"
        if !audit.ruleCounts.isEmpty { sentence += " of \(plural(audit.ruleCounts.count, "rule"))" }
        out += sentence + ".\n\n"

        out += "| Severity | Violations | Meaning |\n|---|--:|---|\n"
        let meanings: [Severity: String] = [
            .high: "ends can disagree about what the connection carries", .medium: "a MUST is broken; interpretations rarely diverge",
            .low: "a SHOULD or hygiene problem", .info: "worth knowing, not wrong",
        ]
        for entry in audit.countsBySeverity {
            out += "| \(badge(entry.severity)) | \(entry.count) | \(meanings[entry.severity] ?? "") |\n"
        }
        out += "\n### Top risks\n\n"
        let risks = audit.topRisks()
        if risks.shown.isEmpty {
            out += audit.findings.isEmpty ? "No violations were found.\n\n" : "No high or medium severity violations were found.\n\n"
        } else {
            for (index, risk) in risks.shown.enumerated() {
                let guide = RuleGuide.forRule(risk.rule)
                out += "\(index + 1). \(badge(risk.severity)) **\(guide.title)** — \(m(risk.rule)), \(plural(risk.count, "finding")). "
                out += "\(guide.why) _Fix:_ \(guide.remediation)\n"
            }
            if risks.more > 0 { out += "\n\(risks.more) more high-severity rules were broken; see the findings below.\n" }
            out += "\n"
        }
        out += "### Switches by protocol\n\n"
        if audit.switchesByProtocol.isEmpty {
            out += "No protocol switches (101 responses) were seen.\n\n"
        } else {
            out += "| Protocol (101 Upgrade) | Switches |\n|---|--:|\n"
            for entry in audit.switchesByProtocol { out += "| \(cell(entry.name)) | \(entry.count) |\n" }
            out += "\n"
        }
        let pairs = audit.protocolPairs
        if !pairs.isEmpty {
            out += "### Protocols after switching\n\n| Agreed (101) | Observed | Switches | Verdict |\n|---|---|--:|---|\n"
            for pair in pairs { out += "| \(cell(pair.agreed)) | \(cell(pair.observed)) | \(pair.count) | \(pair.verdict.rawValue) |\n" }
            out += "\n"
        }
        return out
    }

    private func scope() -> String {
        let scope = audit.scope
        var out = "## Scope\n\n"
        if scope.summaryRecords == 0 {
            out += "The input has no summary record, so packet and connection counts are unknown.\n\n"
        }
        if let first = scope.first, let last = scope.last {
            out += "- Capture time: \(first.display) – \(last.display) (\(durationText(microseconds: last.microseconds &- first.microseconds)))\n"
        }
        if scope.summaryRecords > 0 {
            out += "- Packets: \(grouped(scope.packets)) (\(grouped(scope.bytes)) bytes)\n"
            out += "- TCP connections: \(grouped(scope.connections)); gaps: \(grouped(scope.gaps)) (\(grouped(scope.gapBytes)) bytes)\n"
            out += "- HTTP messages: \(grouped(scope.requests)) requests, \(grouped(scope.responses)) responses, \(grouped(scope.nonHTTPDirections)) non-HTTP directions"
            let errors = scope.parseErrors.ordered()
            if !errors.isEmpty { out += "; parse errors: " + errors.map { "\(m($0.name)) \(grouped($0.count))" }.joined(separator: ", ") }
            out += "\n"
        }
        out += "- Upgrades: \(plural(audit.switches.count, "switch", "switches")), \(plural(audit.declined.count, "declined upgrade")), \(plural(audit.priorKnowledge.count, "prior-knowledge HTTP/2 connection"))\n"
        if scope.suppressedFindings > 0 {
            out += "- \(plural(Int(clamping: scope.suppressedFindings), "finding")) suppressed during analysis (`--min-severity` / `--rules`)\n"
        }
        if !audit.options.sources.isEmpty {
            out += "- Findings files: " + audit.options.sources.sorted().map(m).joined(separator: ", ") + "\n"
        }
        out += "\n"
        if !scope.captures.isEmpty {
            out += "| Capture | Format | Packets | Connections | Violations | Read error |\n|---|---|--:|--:|--:|---|\n"
            var perCapture: [String: Int] = [:]
            for item in audit.findings { perCapture[item.capture, default: 0] += 1 }
            for capture in scope.captures {
                out += "| \(cell(capture.name, 200)) | \(cell(capture.format)) | \(grouped(capture.packets)) | \(grouped(capture.connections)) | \(perCapture[capture.name] ?? 0) | \(capture.error.map { cell($0) } ?? "") |\n"
            }
            out += "\n"
        }
        if !scope.unreadable.isEmpty {
            out += "Inputs that could not be read:\n\n| Input | Reason |\n|---|---|\n"
            for entry in scope.unreadable { out += "| \(cell(entry.name, 200)) | \(cell(entry.reason)) |\n" }
            out += "\n"
        }
        return out
    }

    private func baseline() -> String {
        guard let comparison = audit.baseline else { return "" }
        var out = "## Compared with the baseline\n\n"
        out += "Against \(plural(comparison.baselineFindings, "finding")) of the baseline"
        if !audit.options.baselineSources.isEmpty {
            out += " (" + audit.options.baselineSources.sorted().map(m).joined(separator: ", ") + ")"
        }
        out += ": **\(comparison.new.count) new**, **\(comparison.fixed.count) fixed**, \(comparison.unchanged.count) unchanged. "
        out += "Findings are matched by \(FindingKey.description).\n\n"
        for (title, list) in [("New since the baseline", comparison.new), ("Fixed since the baseline", comparison.fixed),
                              ("Unchanged", comparison.unchanged)] {
            out += "### \(title) (\(list.count))\n\n"
            guard !list.isEmpty else { out += "None.\n\n"; continue }
            out += "| Severity | Rule | Client | Server | Before | Now | Example |\n|---|---|---|---|--:|--:|---|\n"
            for entry in list {
                let link = entry.firstFinding.map { " (F\($0))" } ?? ""
                out += "| \(badge(entry.severity)) | \(cell(entry.key.rule)) | \(cell(entry.key.clientIP)) | \(cell(entry.key.serverIP + ":" + entry.key.serverPort)) | \(entry.baselineCount) | \(entry.currentCount) | \(cell(entry.message, 140))\(link) |\n"
            }
            out += "\n"
        }
        return out
    }

    private func findingsTable() -> String {
        var out = "## Findings\n\n"
        guard !audit.findings.isEmpty else { return out + "No violations.\n\n" }
        let withBaseline = audit.baseline != nil
        out += "| # | Severity | Rule | Finding | Capture | Client → server | Frame | Time (UTC) |\(withBaseline ? " Baseline |" : "")\n"
        out += "|---|---|---|---|---|---|--:|---|\(withBaseline ? "---|" : "")\n"
        for item in audit.findings {
            out += "| \(item.anchor) | \(badge(item.severity)) | \(cell(item.rule, 80)) | \(cell(item.message, 200)) | \(cell(baseName(item.capture), 60)) "
            out += "| \(cell(connectionText(item.client, item.server))) | \(item.frame.map { String($0) } ?? "–") | \(item.time?.short ?? cell(item.rawTimestamp, 40)) |"
            if withBaseline { out += " \(item.baselineStatus?.rawValue ?? "") |" }
            out += "\n"
        }
        return out + "\n"
    }

    private func details() -> String {
        var out = "## Findings in detail\n\n"
        let detailed = Array(audit.detailedFindings)
        guard !detailed.isEmpty else { return out + "No violations.\n\n" }
        if detailed.count < audit.findings.count {
            out += "The first \(detailed.count) of \(audit.findings.count) findings are shown in full.\n\n"
        }
        for count in audit.ruleCounts {
            let items = detailed.filter { $0.rule == count.rule }
            guard let firstItem = items.first else { continue }
            let guide = RuleGuide.forRule(count.rule)
            let catalogue = Rule.named(count.rule)
            out += "### \(badge(count.severity)) \(guide.title) — \(m(count.rule)) (\(plural(count.count, "finding")))\n\n"
            if let catalogue { out += "- **What:** \(catalogue.summary)\n" }
            out += "- **Why it matters:** \(guide.why)\n"
            out += "- **Remediation:** \(guide.remediation)\n"
            let reference = catalogue?.reference ?? firstItem.reference
            out += "- **Reference:** \(referenceMarkdown(reference))\n\n"
            var shown: [ConnectionKey: Int] = [:]
            for item in items { out += occurrence(item, ruleReference: reference, shown: &shown) }
        }
        return out
    }

    private func occurrence(_ item: FindingItem, ruleReference: String, shown: inout [ConnectionKey: Int]) -> String {
        var out = "#### \(item.anchor) — \(m(Escape.clipped(item.message.isEmpty ? "(no message)" : item.message, 400)))"
        if let status = item.baselineStatus { out += " (\(status.rawValue))" }
        out += "\n\n"
        out += "- Capture: \(m(Escape.clipped(item.capture, 300)))\n"
        out += "- Connection: \(m(connectionText(item.client, item.server)))\(item.partial ? " (capture joined mid-connection)" : "")\n"
        out += "- Time: \(item.time?.display ?? m(Escape.clipped(item.rawTimestamp, 60)))\n"
        if let direction = item.direction { out += "- Direction: \(m(directionText(direction)))\n" }
        if item.reference != ruleReference, !item.reference.isEmpty { out += "- Reference: \(referenceMarkdown(item.reference))\n" }
        for frame in item.frames {
            out += "- Wireshark: frame \(frame.frame) (\(m(frame.role))) — `frame.number == \(frame.frame)`\n"
        }
        if let filter = item.connectionFilter { out += "- Wireshark, whole connection: `\(filter)`\n" }
        out += "\n"
        if !item.evidence.isEmpty {
            out += "| Evidence | Value |\n|---|---|\n"
            var dumps: [(String, [UInt8])] = []
            for member in item.evidence.prefix(60) {
                if let bytes = byteEvidence(member.value) {
                    out += "| \(cell(member.key, 80)) | \(bytes.count) bytes, hex dump below |\n"
                    dumps.append((member.key, bytes))
                } else {
                    out += "| \(cell(member.key, 80)) | \(cell(displayText(member.value), 400)) |\n"
                }
            }
            out += "\n"
            for (key, bytes) in dumps where !bytes.isEmpty {
                out += "\(m(Escape.clipped(key, 80))):\n\n" + Escape.markdownCodeBlock(hexDumpLines(bytes)) + "\n"
            }
        }
        if let context = item.context {
            if let earlier = shown[item.connectionKey] {
                out += "Handshake and first bytes of this connection: as in \(earlier == 0 ? "above" : "F\(earlier)").\n\n"
            } else {
                shown[item.connectionKey] = item.number
                out += contextMarkdown(context)
            }
        }
        return out
    }

    private func contextMarkdown(_ context: ConnectionContext) -> String {
        var out = ""
        for (title, head) in [("Request", context.request), ("Response", context.response)] {
            guard let head else { continue }
            out += "\(title)\(head.frame.map { " (frame \($0))" } ?? ""), reconstructed from the recorded upgrade-relevant headers:\n\n"
            out += Escape.markdownCodeBlock(head.lines.prefix(40).map { Escape.clipped($0, 1200) }) + "\n"
        }
        if context.kind == .switched {
            out += "After the switch: agreed \(m(context.agreed ?? "unknown")), observed \(m(context.observed ?? "none"))"
            if let confidence = context.confidence { out += " (\(m(confidence)) confidence)" }
            if let reason = context.observedReason { out += ": \(m(Escape.clipped(reason)))" }
            out += ".\n\n"
            for (label, bytes, total) in [("client → server", context.clientFirstBytes, context.bytesAfterClient),
                                          ("server → client", context.serverFirstBytes, context.bytesAfterServer)] {
                guard let bytes, !bytes.isEmpty else { continue }
                out += "First \(bytes.count)\(total.map { " of \(grouped($0))" } ?? "") bytes \(label):\n\n"
                out += Escape.markdownCodeBlock(hexDumpLines(bytes)) + "\n"
            }
        }
        return out
    }

    private func connections() -> String {
        guard !(audit.switches.isEmpty && audit.declined.isEmpty) else { return "" }
        var out = "## Protocol switches and declined upgrades\n\n"
        if !audit.switches.isEmpty {
            out += "| Capture | Client → server | Request | Frames | Agreed | Observed | Bytes after (c→s / s→c) |\n|---|---|---|---|---|---|--:|\n"
            for context in audit.switches {
                let request = context.request.map { "\($0.method ?? "") \($0.target ?? "")" } ?? "(not captured)"
                let frames = "\(context.request?.frame.map { String($0) } ?? "–") → \(context.response?.frame.map { String($0) } ?? "–")"
                out += "| \(cell(baseName(context.capture), 60)) | \(cell(connectionText(context.client, context.server))) | \(cell(request, 80)) | \(frames) "
                out += "| \(cell(context.agreed ?? "unknown")) | \(cell(context.observed ?? "none")) | \(context.bytesAfterClient.map(grouped) ?? "–") / \(context.bytesAfterServer.map(grouped) ?? "–") |\n"
            }
            out += "\n"
        }
        if !audit.declined.isEmpty {
            out += "Declined upgrades:\n\n| Capture | Client → server | Request | Answer |\n|---|---|---|---|\n"
            for context in audit.declined {
                let request = context.request.map { "\($0.method ?? "") \($0.target ?? "")" } ?? ""
                out += "| \(cell(baseName(context.capture), 60)) | \(cell(connectionText(context.client, context.server))) | \(cell(request, 80)) | \(cell(context.response?.startLine ?? "", 80)) |\n"
            }
            out += "\n"
        }
        return out
    }

    private func about() -> String {
        var out = "## About this report\n\n"
        out += "Made by `switchyard report` from the JSON Lines output of `switchyard analyze`. Frame numbers are Wireshark's (1-based). "
        out += "Request and response heads are reconstructed from the recorded start line and upgrade-relevant headers. "
        out += "Values from the capture are shown as text; control characters appear as \\\\xNN."
        if audit.invalidLines > 0 { out += " \(plural(audit.invalidLines, "input line was", "input lines were")) not valid records and were skipped." }
        return out + "\n"
    }

    // MARK: Helpers

    private func badge(_ severity: Severity) -> String {
        switch severity {
        case .high: return "🔴 high"
        case .medium: return "🟠 medium"
        case .low: return "🟡 low"
        case .info: return "🔵 info"
        }
    }

    private func referenceMarkdown(_ reference: String) -> String {
        referenceParts(reference).map { part in
            guard let url = part.url else { return m(part.text) }
            return "[\(m(part.text))](\(url))"
        }.joined()
    }
}
