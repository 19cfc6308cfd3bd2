import Findings

/// The summary's first sentence, for HTML and Markdown alike: it holds only numbers and this
/// file's own words (nothing from the input), so it needs no escaping; `strong` marks the total.
func summarySentence(_ audit: Audit, strong: (String) -> String) -> String {
    let scope = audit.scope
    var text = "Switchyard analysed \(audit.captureCountText) capture\(audit.captureCount == 1 ? "" : "s")"
    if scope.summaryRecords > 0 {
        text += " (\(grouped(scope.packets)) packets, \(grouped(scope.connections)) TCP connections, "
            + "\(grouped(scope.requests)) HTTP requests and \(grouped(scope.responses)) responses)"
    }
    if let span = audit.timeSpan { text += " covering \(durationText(microseconds: span)) of capture time" }
    text += ", saw \(plural(audit.switchCount, "protocol switch", "protocol switches"))"
    text += " and found " + strong(plural(audit.findingCount, "violation"))
    if !audit.ruleCounts.isEmpty { text += " of \(plural(audit.ruleCounts.count, "rule"))\(audit.rulesLeftOut.overflowed ? " and more" : "")" }
    let affected = audit.services.filter { $0.findingCount > 0 }.count
    if audit.findingCount > 0 {
        text += ", in \(audit.groupCountText) group\(audit.groups.count == 1 ? "" : "s") on \(plural(affected, "service"))\(audit.servicesOverflowed ? " and more" : "")"
    }
    text += "."
    let high = audit.countsBySeverity.first { $0.severity == .high }?.count ?? 0
    if high > 0 {
        text += " \(thousands(high)) \(high == 1 ? "is" : "are") high severity: the two ends of a connection, or a proxy and a server, can disagree about what it carries — the raw material of request smuggling and desync attacks."
    }
    return text
}

/// How to get every finding of a group back from the JSON Lines (`jq`), and, when the group
/// comes from a few captures and a known rule, how to analyse just those again.
struct Extraction {
    var jq: String
    var analyze: String?

    init(group: FindingGroup, sources: [String]) {
        let server = group.key.server
        let conditions = [
            ".type == \"violation\"",
            ".rule == \(jsonQuoted(group.key.rule))",
            "(.connection.server.ip // \"\") == \(jsonQuoted(server.ip))",
            ".connection.server.port == \(server.port.map { String($0) } ?? "null")",
        ]
        let program = "select(" + conditions.joined(separator: " and ") + ")"
        let files = sources.filter { $0 != "-" }.sorted()
        jq = "jq -c " + shellQuoted(program) + " " + (files.isEmpty ? "FINDINGS.jsonl" : files.map(shellQuoted).joined(separator: " "))
        let captures = group.captures
        if Rule.named(group.key.rule) != nil, !captures.overflow, !captures.values.isEmpty, captures.values.count <= 3,
           !captures.values.contains("-") {
            analyze = "switchyard analyze --rules \(group.key.rule) " + captures.values.map(shellQuoted).joined(separator: " ")
        }
    }
}

/// A word for a POSIX shell: as is when it holds only safe characters, else single-quoted
/// (a `'` inside becomes `'\''`).
func shellQuoted(_ text: String) -> String {
    let safe = !text.isEmpty && text.unicodeScalars.allSatisfy {
        ($0.value >= 0x30 && $0.value <= 0x39) || ($0.value >= 0x41 && $0.value <= 0x5A) || ($0.value >= 0x61 && $0.value <= 0x7A)
            || "_./:=@%+,-".unicodeScalars.contains($0)
    }
    if safe { return text }
    var out = "'"
    for character in text {
        if character == "'" { out += "'\\''" } else { out.append(character) }
    }
    return out + "'"
}
