import Findings

/// Writes the Markdown report (GitHub Flavored Markdown). By default the short form for a
/// ticket or pull request: summary, top risks and the services table, a few dozen lines
/// whatever the audit's size. With `options.longMarkdown`, every section of the HTML report
/// but the charts, with the same limits ("N more"). Every value from the input goes through
/// `m(_:)` (inline text and table cells) or a fenced code block that it cannot close.
struct MarkdownRenderer {
    let audit: Audit

    private func m(_ text: String) -> String { Escape.markdown(text) }

    /// `m` for values shown in full elsewhere, cut to keep tables readable.
    private func cell(_ text: String, _ limit: Int = 120) -> String { m(Escape.clipped(text, limit)) }

    /// Rows of the services table in the short form.
    static let shortServices = 10
    /// Top risks in the short form.
    static let shortRisks = 5

    func render() -> String {
        var out = "# \(m(audit.options.title))\n\n"
        var meta = ["Switchyard · HTTP/1.1 Upgrade audit", "\(audit.captureCountText) capture\(audit.captureCount == 1 ? "" : "s")"]
        if let first = audit.scope.first, let last = audit.scope.last {
            meta.append("\(first.short) – \(last.short) UTC (\(durationText(microseconds: last.microseconds &- first.microseconds)))")
        }
        if let generated = audit.options.generatedAt { meta.append("generated \(m(generated))") }
        out += "_\(meta.joined(separator: " · "))_\n\n"
        let long = audit.options.longMarkdown
        out += summary(long: long)
        out += services(limit: long ? audit.limits.shownServices : Self.shortServices)
        out += baseline(long: long)
        out += proxyPairs(limit: long ? audit.proxyPairs.count : Self.shortProxyPairs)
        if !long {
            out += "_Findings are grouped by rule and service; the full list, with examples and the `jq` filter for each group, is in the HTML report or `switchyard report --format markdown --long`._\n"
            return out
        }
        out += scope()
        out += groups()
        out += details()
        out += connections()
        out += about()
        return out
    }

    // MARK: Sections

    private func summary(long: Bool) -> String {
        var out = "## Executive summary\n\n"
        out += summarySentence(audit, strong: { "**\($0)**" }) + "\n\n"
        var groupsBySeverity = [Int](repeating: 0, count: Severity.allCases.count)
        for group in audit.groups { groupsBySeverity[group.severity.rawValue] += 1 }
        out += "| Severity | Violations | Groups |\n|---|--:|--:|\n"
        for entry in audit.countsBySeverity {
            out += "| \(badge(entry.severity)) | \(thousands(entry.count)) | \(thousands(groupsBySeverity[entry.severity.rawValue])) |\n"
        }
        out += "\n### Top risks\n\n"
        let risks = audit.topRisks(limit: long ? 6 : Self.shortRisks)
        if risks.shown.isEmpty {
            out += audit.findingCount == 0 ? "No violations were found.\n\n" : "No high or medium severity violations were found.\n\n"
        } else {
            for (index, risk) in risks.shown.enumerated() {
                let guide = RuleGuide.forRule(risk.rule)
                out += "\(index + 1). \(badge(risk.severity)) **\(guide.title)** — \(m(risk.rule)): \(plural(risk.count, "finding")) on \(plural(risk.services, "service")). "
                out += long ? "\(guide.why) _Fix:_ \(guide.remediation)\n" : "_Fix:_ \(guide.remediation)\n"
            }
            if risks.more > 0 { out += "\n\(plural(risks.more, "more high-severity rule was", "more high-severity rules were")) broken.\n" }
            out += "\n"
        }
        return out
    }

    private func services(limit: Int) -> String {
        guard !audit.services.isEmpty else { return "" }
        let shown = audit.services.prefix(limit)
        var out = "### Services\(audit.services.count > shown.count ? " (the first \(thousands(shown.count)) of \(audit.serviceCountText))" : "")\n\n"
        out += "| Service | Host | Switches | High | Medium | Low | Info |\n|---|---|---|--:|--:|--:|--:|\n"
        for service in shown {
            let hosts = service.hosts.values.prefix(2).map { cell($0, 60) }.joined(separator: ", ") + (service.hosts.values.count > 2 || service.hosts.overflow ? " …" : "")
            let protocols = service.switchesByProtocol.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(3)
                .map { "\(cell($0.key, 30)) \(thousands($0.value))" }.joined(separator: ", ")
            out += "| \(cell(service.key.display, 60)) | \(hosts.isEmpty ? "–" : hosts) | \(protocols.isEmpty ? "–" : protocols) |"
            for severity in Severity.allCases.reversed() { out += " \(thousands(service.findings[severity.rawValue])) |" }
            out += "\n"
        }
        return out + "\n"
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
        if let bins = audit.timeline, bins.outlierCount > 0 {
            out += "- Timeline: \(Charts.outlierText(bins))"
            if !audit.outlierCaptures.isEmpty { out += ", from " + audit.outlierCaptures.map { cell($0, 200) }.joined(separator: ", ") }
            out += "\n"
        }
        if scope.summaryRecords > 0 {
            out += "- Packets: \(grouped(scope.packets)) (\(grouped(scope.bytes)) bytes)\n"
            out += "- TCP connections: \(grouped(scope.connections)); gaps: \(grouped(scope.gaps)) (\(grouped(scope.gapBytes)) bytes)\n"
            out += "- HTTP messages: \(grouped(scope.requests)) requests, \(grouped(scope.responses)) responses, \(grouped(scope.nonHTTPDirections)) non-HTTP directions"
            let errors = scope.parseErrors.ordered()
            if !errors.isEmpty { out += "; parse errors: " + errors.map { "\(m($0.name)) \(grouped($0.count))" }.joined(separator: ", ") }
            out += "\n"
        }
        out += "- Upgrades: \(plural(audit.switchCount, "switch", "switches")), \(plural(audit.declinedCount, "declined upgrade")), \(plural(audit.priorCount, "prior-knowledge HTTP/2 connection"))\n"
        if scope.suppressedFindings > 0 {
            out += "- \(plural(Int(clamping: scope.suppressedFindings), "finding")) suppressed during analysis (`--min-severity` / `--rules`)\n"
        }
        if !audit.options.sources.isEmpty {
            out += "- Findings files: " + audit.options.sources.sorted().map(m).joined(separator: ", ") + "\n"
        }
        out += "\n"
        if !audit.captures.isEmpty {
            let shown = audit.captures.prefix(audit.limits.shownCaptures)
            out += "| Capture | Format | Packets | Connections | Switches | Violations | Read error |\n|---|---|--:|--:|--:|--:|---|\n"
            for capture in shown {
                out += "| \(cell(capture.name, 300)) | \(cell(capture.format)) | \(grouped(capture.packets)) | \(grouped(capture.connections)) | \(thousands(capture.switches)) | \(thousands(capture.findings)) | \(capture.error.map { cell($0) } ?? "") |\n"
            }
            if audit.captureCount > shown.count { out += "\n\(audit.capturesOverflowed ? "More captures" : plural(audit.captureCount - shown.count, "more capture")) not listed.\n" }
            out += "\n"
        }
        if scope.unreadableCount > 0 {
            out += "Inputs that could not be read (\(thousands(scope.unreadableCount))):\n\n| Input | Reason |\n|---|---|\n"
            for entry in scope.unreadable.items.prefix(audit.limits.shownCaptures) { out += "| \(cell(entry.name, 300)) | \(cell(entry.reason)) |\n" }
            out += "\n"
        }
        return out
    }

    private func baseline(long: Bool) -> String {
        guard let comparison = audit.baseline else { return "" }
        var out = "## Compared with the baseline\n\n"
        out += "Against \(plural(comparison.baselineFindings, "finding")) of the baseline"
        if !audit.options.baselineSources.isEmpty {
            out += " (" + audit.options.baselineSources.sorted().map(m).joined(separator: ", ") + ")"
        }
        out += ", in groups: **\(thousands(comparison.new.count)) new**, **\(thousands(comparison.fixed.count)) fixed**, \(thousands(comparison.unchanged.count)) unchanged. "
        out += "Groups are matched by \(GroupKey.description).\n\n"
        let lists = long ? [("New since the baseline", comparison.new), ("Fixed since the baseline", comparison.fixed), ("Unchanged", comparison.unchanged)]
            : [("New since the baseline", comparison.new)]
        let cap = long ? audit.limits.shownGroups : 5
        for (title, list) in lists {
            out += "### \(title) (\(thousands(list.count)))\n\n"
            guard !list.isEmpty else { out += "None.\n\n"; continue }
            out += "| Severity | Rule | Service | Before | Now | Example |\n|---|---|---|--:|--:|---|\n"
            for entry in list.prefix(cap) {
                let link = entry.group.map { " (G\($0))" } ?? ""
                out += "| \(badge(entry.severity)) | \(cell(entry.key.rule)) | \(cell(entry.key.server.display)) | \(thousands(entry.baselineCount)) | \(thousands(entry.currentCount)) | \(cell(entry.message, long ? 140 : 80))\(link) |\n"
            }
            if list.count > cap { out += "\n\(plural(list.count - cap, "more group")) not listed.\n" }
            out += "\n"
        }
        return out
    }

    private func groups() -> String {
        var out = "## Findings by rule and service\n\n"
        guard audit.findingCount > 0 else { return out + "No violations.\n\n" }
        let withBaseline = audit.baseline != nil
        out += "| # | Severity | Rule | Service | Findings | Captures | First seen (UTC) | Last seen (UTC) | Example |\(withBaseline ? " Baseline |" : "")\n"
        out += "|---|---|---|---|--:|--:|---|---|---|\(withBaseline ? "---|" : "")\n"
        let shown = audit.groups.prefix(audit.limits.shownGroups)
        for group in shown {
            let example = group.examples.items.first.map { item in
                "\(item.frame.map { "frame \(grouped($0)) in " } ?? "")\(cell(item.capture, 200))"
            } ?? ""
            out += "| \(group.anchor) | \(badge(group.severity)) | \(cell(group.key.rule, 80)) | \(cell(group.key.server.display)) | \(thousands(group.count)) | \(group.captures.countText) "
            out += "| \(group.first?.short ?? "–") | \(group.last?.short ?? "–") | \(example) |"
            if withBaseline { out += " \((group.baselineCount ?? 0) == 0 ? "new" : "unchanged") |" }
            out += "\n"
        }
        if audit.groups.count > shown.count { out += "\n\(plural(audit.groups.count - shown.count, "more group")) not listed.\n" }
        if audit.ungrouped.findings > 0 {
            out += "\n\(plural(audit.ungrouped.findings, "finding")) of further groups were beyond the limit of \(thousands(audit.limits.groups)) groups kept in memory (counted in the totals only).\n"
        }
        return out + "\n"
    }

    private func details() -> String {
        var out = "## Findings in detail\n\n"
        let detailed = Array(audit.groups.prefix(max(0, audit.options.maxDetailedGroups)))
        guard !detailed.isEmpty else { return out + "No violations.\n\n" }
        if detailed.count < audit.groups.count {
            out += "The first \(plural(detailed.count, "group")) of \(thousands(audit.groups.count)) are shown in full.\n\n"
        }
        for count in audit.ruleCounts {
            let groups = detailed.filter { $0.key.rule == count.rule }
            guard let firstItem = groups.first?.examples.items.first else { continue }
            let guide = RuleGuide.forRule(count.rule)
            let catalogue = Rule.named(count.rule)
            out += "### \(badge(count.severity)) \(guide.title) — \(m(count.rule)) (\(plural(count.count, "finding")))\n\n"
            if let catalogue { out += "- **What:** \(catalogue.summary)\n" }
            out += "- **Why it matters:** \(guide.why)\n"
            out += "- **Remediation:** \(guide.remediation)\n"
            let reference = catalogue?.reference ?? firstItem.reference
            out += "- **Reference:** \(referenceMarkdown(reference))\n\n"
            for group in groups { out += groupMarkdown(group, ruleReference: reference) }
        }
        return out
    }

    private func groupMarkdown(_ group: FindingGroup, ruleReference: String) -> String {
        guard let item = group.examples.items.first else { return "" }
        var out = "#### \(group.anchor) — \(m(group.key.server.display)): \(plural(group.count, "finding"))"
        if let before = group.baselineCount { out += before == 0 ? " (new)" : " (unchanged)" }
        out += "\n\n"
        out += "- Example: \(m(Escape.clipped(item.message.isEmpty ? "(no message)" : item.message, 400)))\n"
        out += "- Capture: \(m(Escape.clipped(item.capture, 300)))\n"
        out += "- Connection: \(m(connectionText(item.client, item.server)))\(item.partial ? " (capture joined mid-connection)" : "")\n"
        out += "- Time: \(item.time?.display ?? m(Escape.clipped(item.rawTimestamp, 60)))\n"
        out += "- Group: \(group.captures.countText) captures, \(group.clients.countText) client addresses\n"
        if let direction = item.direction { out += "- Direction: \(m(directionText(direction)))\n" }
        if item.reference != ruleReference, !item.reference.isEmpty { out += "- Reference: \(referenceMarkdown(item.reference))\n" }
        for frame in item.frames {
            out += "- Wireshark: frame \(grouped(frame.frame)) (\(m(frame.role))) — `frame.number == \(frame.frame)`\n"
        }
        if let filter = item.connectionFilter { out += "- Wireshark, whole connection: `\(filter)`\n" }
        for other in group.examples.items.dropFirst() {
            out += "- Also: \(other.frame.map { "frame \(grouped($0)) in " } ?? "")\(m(Escape.clipped(other.capture, 300))), \(m(connectionText(other.client, other.server)))\n"
        }
        out += "\n"
        if !item.evidence.isEmpty {
            out += "| Evidence | Value |\n|---|---|\n"
            var dumps: [(String, [UInt8])] = []
            for member in item.evidence.prefix(60) {
                if let bytes = byteEvidence(member.value) {
                    out += "| \(cell(member.key, 80)) | \(thousands(bytes.count)) bytes, hex dump below |\n"
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
        if let context = item.context { out += contextMarkdown(context) }
        let extraction = Extraction(group: group, sources: audit.options.sources)
        out += "All \(plural(group.count, "finding")) of this group:\n\n"
        out += Escape.markdownCodeBlock([extraction.jq] + (extraction.analyze.map { [$0] } ?? [])) + "\n"
        return out
    }

    private func contextMarkdown(_ context: ConnectionContext) -> String {
        var out = ""
        for (title, head) in [("Request", context.request), ("Response", context.response)] {
            guard let head else { continue }
            out += "\(title)\(head.frame.map { " (frame \(grouped($0)))" } ?? ""), reconstructed from the recorded upgrade-relevant headers:\n\n"
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
                out += "First \(thousands(bytes.count))\(total.map { " of \(grouped($0))" } ?? "") bytes \(label):\n\n"
                out += Escape.markdownCodeBlock(hexDumpLines(bytes)) + "\n"
            }
        }
        return out
    }

    private func connections() -> String {
        guard audit.switchCount + audit.declinedCount > 0 else { return "" }
        var out = "## Protocol switches and declined upgrades\n\n"
        if !audit.switchesByProtocol.isEmpty {
            out += "| Protocol (101 Upgrade) | Switches |\n|---|--:|\n"
            for entry in audit.switchesByProtocol { out += "| \(cell(entry.name)) | \(thousands(entry.count)) |\n" }
            out += "\n"
        }
        let pairs = audit.protocolPairs
        if !pairs.isEmpty {
            out += "| Agreed (101) | Observed | Switches | Verdict |\n|---|---|--:|---|\n"
            for pair in pairs { out += "| \(cell(pair.agreed)) | \(cell(pair.observed)) | \(thousands(pair.count)) | \(pair.verdict.rawValue) |\n" }
            out += "\n"
        }
        if !audit.switchExamples.isEmpty {
            out += "| Capture | Client → server | Request | Frames | Agreed | Observed | Bytes after (c→s / s→c) |\n|---|---|---|---|---|---|--:|\n"
            for context in audit.switchExamples {
                let request = context.request.map { "\($0.method ?? "") \($0.target ?? "")" } ?? "(not captured)"
                let frames = "\(context.request?.frame.map(grouped) ?? "–") → \(context.response?.frame.map(grouped) ?? "–")"
                out += "| \(cell(context.capture, 200)) | \(cell(connectionText(context.client, context.server))) | \(cell(request, 80)) | \(frames) "
                out += "| \(cell(context.agreed ?? "unknown")) | \(cell(context.observed ?? "none")) | \(context.bytesAfterClient.map(grouped) ?? "–") / \(context.bytesAfterServer.map(grouped) ?? "–") |\n"
            }
            if audit.switchCount > audit.switchExamples.count {
                out += "\nThe first \(thousands(audit.switchExamples.count)) of \(thousands(audit.switchCount)) switches are listed.\n"
            }
            out += "\n"
        }
        if !audit.declinedExamples.isEmpty {
            out += "Declined upgrades (\(thousands(audit.declinedCount))):\n\n| Capture | Client → server | Request | Answer |\n|---|---|---|---|\n"
            for context in audit.declinedExamples {
                let request = context.request.map { "\($0.method ?? "") \($0.target ?? "")" } ?? ""
                out += "| \(cell(context.capture, 200)) | \(cell(connectionText(context.client, context.server))) | \(cell(request, 80)) | \(cell(context.response?.startLine ?? "", 80)) |\n"
            }
            out += "\n"
        }
        return out
    }

    private func about() -> String {
        var out = "## About this report\n\n"
        out += "Made by `switchyard report` from the JSON Lines output of `switchyard analyze`. Findings are grouped by \(GroupKey.description); every finding stays in the JSON Lines. Frame numbers are Wireshark's (1-based). "
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
