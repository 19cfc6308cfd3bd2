import Findings
import PacketCapture

/// The `--format text` listing: one line per finding, connection first, with every
/// control character from the capture shown as `\xNN` so that captured bytes cannot
/// drive the terminal (escape sequences, carriage returns).
enum TextFormatter {
    static func safe(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || (scalar.value >= 0x80 && scalar.value < 0xA0) {
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            } else if isLineOrBidiControl(scalar.value) {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Line and paragraph separators (a line break to some viewers: a captured value could
    /// forge a line of output) and the bidirectional-text controls of Unicode Standard Annex #9
    /// (they reorder what follows on screen, CVE-2021-42574 "Trojan Source").
    private static func isLineOrBidiControl(_ value: UInt32) -> Bool {
        switch value {
        case 0x061C, 0x200E, 0x200F, 0x2028...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    static func connection(_ c: ConnectionRef) -> String {
        "\(c.client) -> \(c.server)\(c.partial ? " (partial)" : "")"
    }

    static func line(_ finding: Finding, capture: String) -> String {
        let time = finding.timestamp.rfc3339
        switch finding {
        case .violation(let v):
            let where_ = v.connection.map(connection) ?? "-"
            return safe("\(time) \(capture) \(where_) frame \(v.frame) [\(v.rule.severity.name)] \(v.rule.id): \(v.message)") + "\n"
        case .switched(let s):
            let request = s.request.map { "\($0.method ?? "") \($0.target ?? "") (frame \($0.frame))" } ?? "request not captured"
            return safe("\(time) \(capture) \(connection(s.connection)) switch to \(s.protocolName): \(request) -> "
                + "\(s.response.status ?? 0) \(s.response.reason ?? "") (frame \(s.response.frame)); after the switch "
                + "\(s.bytesAfterSwitchClient) bytes client->server, \(s.bytesAfterSwitchServer) bytes server->client") + "\n"
        case .upgradeDeclined(let d):
            return safe("\(time) \(capture) \(connection(d.connection)) upgrade to \(d.request.upgrade.joined(separator: ", ")) "
                + "declined: \(d.request.method ?? "") \(d.request.target ?? "") (frame \(d.request.frame)) -> "
                + "\(d.response.status ?? 0) \(d.response.reason ?? "") (frame \(d.response.frame))") + "\n"
        case .switchEnd(let e):
            return safe("\(time) \(capture) \(connection(e.connection)) end of \(e.protocolName) switched at frame "
                + "\(e.responseFrame): \(e.bytesAfterSwitchClient) bytes client->server, \(e.bytesAfterSwitchServer) bytes server->client") + "\n"
        case .priorKnowledge(let p):
            return safe("\(time) \(capture) \(connection(p.connection)) \(p.protocolName) with prior knowledge from frame "
                + "\(p.firstFrame): \(p.bytesClient) bytes client->server, \(p.bytesServer) bytes server->client") + "\n"
        case .proxiedUpgrade(let p):
            return safe("\(time) \(capture) proxied upgrade \(p.front.requestLine): front \(connection(p.front.connection)) "
                + "\(legOutcome(p.front)) <-> back \(connection(p.back.connection))"
                + "\(p.back.capture == p.front.capture ? "" : " in " + p.back.capture) \(legOutcome(p.back)); "
                + "forwarded after \(milliseconds(p.requestDelayNanos)); confidence \(p.confidence) "
                + "(\(p.matchedOn.joined(separator: ", "))); \(p.requestChanges.count) request header change(s)") + "\n"
        case .flow(let f):
            return safe("\(capture) flow \(f.id) \(connection(f.connection)) \(f.state) "
                + "c2s \(f.clientToServer.payloadBytes) bytes/\(f.clientToServer.packets) pkts, "
                + "s2c \(f.serverToClient.payloadBytes) bytes/\(f.serverToClient.packets) pkts") + "\n"
        }
    }

    private static func legOutcome(_ leg: ProxiedUpgradeRecord.Leg) -> String {
        let frames = "frame \(leg.requestFrame)" + (leg.responseFrame.map { "/\($0)" } ?? "")
        switch leg.outcome {
        case "switched": return "switched to \(leg.protocolName ?? "?") (\(frames))"
        case "declined": return "declined \(leg.status ?? 0) (\(frames))"
        default: return "no answer (\(frames))"
        }
    }

    private static func milliseconds(_ nanos: Int64) -> String {
        let tenths = nanos / 100_000
        return "\(tenths / 10).\(abs(tenths % 10)) ms"
    }

    static func summary(_ tally: RunTally) -> String {
        var lines: [String] = []
        var text = "summary: \(tally.captures.count) capture(s), \(tally.totalPackets) packets, "
        text += "\(tally.captures.reduce(0) { $0 + $1.connections }) connections, "
        text += "\(tally.http.requests) requests, \(tally.http.responses) responses, "
        text += "\(tally.switchesByProtocol.values.reduce(0, +)) switches"
        if !tally.switchesByProtocol.isEmpty {
            text += " (" + tally.switchesByProtocol.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"
        }
        text += ", \(tally.upgradesDeclined) declined, \(tally.violationsByRule.values.reduce(0, +)) violations"
        lines.append(text)
        for (rule, count) in tally.violationsByRule.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(rule): \(count)")
        }
        for entry in tally.unreadable {
            lines.append("  unreadable: \(entry.name): \(entry.reason)")
        }
        return lines.map(safe).joined(separator: "\n") + "\n"
    }
}
