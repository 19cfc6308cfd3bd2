/// `proxied_upgrade` records as the reports show them: one row per pair, front ↔ back
/// (docs/OUTPUT.md). A separate small section, kept apart from the per-connection tables.
struct ProxyPair: Sendable {
    struct Leg: Sendable {
        var capture: String
        var client: Peer?
        var server: Peer?
        var requestLine: String
        var outcome: String
        var requestFrame: Int64?
        var responseFrame: Int64?

        init(_ value: JSONValue?) {
            capture = value?["capture"]?.stringValue ?? ""
            client = Peer(value?["connection"]?["client"])
            server = Peer(value?["connection"]?["server"])
            requestLine = value?["request_line"]?.stringValue ?? ""
            let outcome = value?["outcome"]?.stringValue ?? "?"
            let detail = outcome == "switched" ? value?["protocol"]?.stringValue : value?["status"]?.integerValue.map { String($0) }
            self.outcome = detail.map { "\(outcome) \($0)" } ?? (outcome == "no_answer" ? "no answer" : outcome)
            requestFrame = value?["request_frame"]?.integerValue
            responseFrame = value?["response_frame"]?.integerValue
        }

        var frames: String { "\(requestFrame.map { String($0) } ?? "–") → \(responseFrame.map { String($0) } ?? "–")" }
        var connection: String { connectionText(client, server) }
    }

    var front: Leg
    var back: Leg
    var confidence: String
    var matchedOn: String
    var changes: Int

    init?(_ record: ReportRecord) {
        guard record.type == "proxied_upgrade" else { return nil }
        front = Leg(record.value["front"])
        back = Leg(record.value["back"])
        confidence = record.value["confidence"]?.stringValue ?? ""
        matchedOn = (record.value["matched_on"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", ")
        changes = (record.value["request_changes"]?.arrayValue?.count ?? 0) + (record.value["response_changes"]?.arrayValue?.count ?? 0)
    }

    static let columns = ["Request", "Front: client → proxy", "Outcome (frames)", "Back: proxy → backend", "Outcome (frames)",
                          "Confidence (matched on)", "Header changes"]

    var cells: [String] {
        [front.requestLine, front.connection + " (\(front.capture))", "\(front.outcome) (\(front.frames))",
         back.connection + (back.capture == front.capture ? "" : " (\(back.capture))"), "\(back.outcome) (\(back.frames))",
         "\(confidence) (\(matchedOn))", String(changes)]
    }
}

extension HTMLRenderer {
    func proxyPairsSection() -> String {
        guard !audit.proxyPairs.isEmpty else { return "" }
        var out = "<section id=\"proxied\">\n<h2>Proxied upgrades (front ↔ back)</h2>\n"
        out += "<p>Each row pairs the two legs of one upgrade through a proxy; findings on a pair are listed with the front connection.</p>\n"
        out += "<table>\n<thead><tr>" + ProxyPair.columns.map { "<th>\(Escape.html($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for pair in audit.proxyPairs {
            out += "<tr>" + pair.cells.map { "<td>\(Escape.html($0))</td>" }.joined() + "</tr>\n"
        }
        out += "</tbody>\n</table>\n"
        if audit.proxyPairCount > audit.proxyPairs.count {
            out += "<p>\(audit.proxyPairCount - audit.proxyPairs.count) more pairs are in the JSON Lines "
                + "(<code>jq 'select(.type == \"proxied_upgrade\")'</code>).</p>\n"
        }
        return out + "</section>\n"
    }
}

extension MarkdownRenderer {
    /// Pairs shown in the short (ticket) form.
    static let shortProxyPairs = 10

    func proxyPairs(limit: Int) -> String {
        guard !audit.proxyPairs.isEmpty else { return "" }
        var out = "## Proxied upgrades (front ↔ back)\n\n"
        out += "| " + ProxyPair.columns.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: ProxyPair.columns.count) + "\n"
        for pair in audit.proxyPairs.prefix(limit) {
            out += "| " + pair.cells.map { Escape.markdown(Escape.clipped($0, 120)) }.joined(separator: " | ") + " |\n"
        }
        let shown = min(limit, audit.proxyPairs.count)
        if audit.proxyPairCount > shown {
            out += "\n\(audit.proxyPairCount - shown) more pairs are in the JSON Lines.\n"
        }
        return out + "\n"
    }
}
