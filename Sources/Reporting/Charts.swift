import Findings

/// Inline SVG charts. Sizes are in a fixed viewBox and the SVG scales to the page width;
/// colours come from the page's CSS classes (`sev-high`…), so print and screen agree. Every
/// label that came from the input is clipped and HTML-escaped.
enum Charts {
    static let width = 880

    /// Horizontal bars: findings per rule, coloured by severity, each linking to its section.
    static func ruleBars(_ counts: [RuleCount], anchor: (String) -> String) -> String {
        guard let maximum = counts.map(\.count).max(), maximum > 0 else { return "" }
        let shown = Array(counts.prefix(40))
        let labelWidth = 330, rowHeight = 24, top = 30
        let barArea = width - labelWidth - 70
        let height = top + shown.count * rowHeight + 10
        var svg = svgOpen(height: height, label: "Violations by rule and severity")
        svg += legend(x: labelWidth, y: 12, items: Severity.allCases.reversed().map { ("sev-\($0.name)", $0.name) })
        for (row, entry) in shown.enumerated() {
            let y = top + row * rowHeight
            let barWidth = max(3, entry.count * barArea / maximum)
            svg += "<a href=\"#\(anchor(entry.rule))\">"
            svg += "<title>\(Escape.html(entry.rule)): \(thousands(entry.count)) (\(entry.severity.name))</title>"
            svg += "<text class=\"label mono\" x=\"\(labelWidth - 10)\" y=\"\(y + 16)\" text-anchor=\"end\">\(Escape.html(short(entry.rule, 44)))</text>"
            svg += "<rect class=\"sev-\(entry.severity.name)\" x=\"\(labelWidth)\" y=\"\(y + 4)\" width=\"\(barWidth)\" height=\"16\" rx=\"2\"/>"
            svg += "<text class=\"value\" x=\"\(labelWidth + barWidth + 6)\" y=\"\(y + 16)\">\(thousands(entry.count))</text>"
            svg += "</a>"
        }
        svg += "</svg>"
        if counts.count > shown.count {
            svg += "<p class=\"note\">\(plural(counts.count - shown.count, "more rule")) in the findings table.</p>"
        }
        return svg
    }

    /// Switches and violations over capture time, in equal time bins over the bulk of the
    /// events (outliers are counted apart, see `TimeHistogram.binned`): switches above,
    /// violations below stacked by severity. Events all at one instant get one bar and say so.
    static func timeline(_ timeline: TimelineBins) -> String {
        let bins = timeline.bins.count
        let span = timeline.end &- timeline.start
        let left = 110, right = 20, laneHeight = 70, top = 30, gap = 18
        let plotWidth = width - left - right
        let binWidth = Double(plotWidth) / Double(bins)
        let barWidth = timeline.isOneInstant ? 40 : max(2.0, min(binWidth - 2, 40))
        let switchMax = max(1, timeline.bins.map { $0[0] }.max() ?? 1)
        let violationMax = max(1, timeline.bins.map { $0.dropFirst().reduce(0, +) }.max() ?? 1)
        let lane2 = top + laneHeight + gap
        let axisY = lane2 + laneHeight
        let height = axisY + 40
        var svg = svgOpen(height: height, label: "Switches and violations over capture time")
        svg += legend(x: left, y: 12, items: [("switch-bar", "switches")] + Severity.allCases.reversed().map { ("sev-\($0.name)", "\($0.name) violations") })
        svg += "<text class=\"label\" x=\"\(left - 10)\" y=\"\(top + laneHeight / 2 + 4)\" text-anchor=\"end\">Switches</text>"
        svg += "<text class=\"label\" x=\"\(left - 10)\" y=\"\(lane2 + laneHeight / 2 + 4)\" text-anchor=\"end\">Violations</text>"
        svg += "<text class=\"axis-note\" x=\"\(left - 10)\" y=\"\(top + 10)\" text-anchor=\"end\">max \(thousands(switchMax))</text>"
        svg += "<text class=\"axis-note\" x=\"\(left - 10)\" y=\"\(lane2 + 10)\" text-anchor=\"end\">max \(thousands(violationMax))</text>"
        svg += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(top + laneHeight)\" x2=\"\(left + plotWidth)\" y2=\"\(top + laneHeight)\"/>"
        svg += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(axisY)\" x2=\"\(left + plotWidth)\" y2=\"\(axisY)\"/>"
        for index in 0..<bins {
            let counts = timeline.bins[index]
            let x = Double(left) + Double(index) * binWidth + (binWidth - barWidth) / 2
            if counts[0] > 0 {
                let h = max(2, counts[0] * (laneHeight - 14) / switchMax)
                svg += "<rect class=\"switch-bar\" x=\"\(fixed(x))\" y=\"\(top + laneHeight - h)\" width=\"\(fixed(barWidth))\" height=\"\(h)\"><title>\(thousands(counts[0])) switches</title></rect>"
            }
            var y = axisY
            for severity in Severity.allCases.reversed() {
                let count = counts[1 + severity.rawValue]
                guard count > 0 else { continue }
                let h = max(2, count * (laneHeight - 14) / violationMax)
                y -= h
                svg += "<rect class=\"sev-\(severity.name)\" x=\"\(fixed(x))\" y=\"\(y)\" width=\"\(fixed(barWidth))\" height=\"\(h)\"><title>\(thousands(count)) \(severity.name) violations</title></rect>"
            }
        }
        let ticks = timeline.isOneInstant ? 1 : 5
        for tick in 0..<ticks {
            let fraction = ticks == 1 ? 0.5 : Double(tick) / Double(ticks - 1)
            let time = CaptureTime(microseconds: timeline.start &+ Int64(Double(span) * fraction))
            let x = Double(left) + fraction * Double(plotWidth)
            let label: String
            if span > 2 * 86_400_000_000 { label = String(time.short.prefix(10)) }
            else if tick == 0 || ticks == 1 { label = time.short }
            else { label = time.timeOfDay }
            let anchor = ticks == 1 ? "middle" : tick == 0 ? "start" : tick == ticks - 1 ? "end" : "middle"
            svg += "<line class=\"tick\" x1=\"\(fixed(x))\" y1=\"\(axisY)\" x2=\"\(fixed(x))\" y2=\"\(axisY + 5)\"/>"
            svg += "<text class=\"axis-label\" x=\"\(fixed(x))\" y=\"\(axisY + 20)\" text-anchor=\"\(anchor)\">\(label)</text>"
        }
        let note: String
        if timeline.isOneInstant {
            let events = timeline.bins[0].reduce(0, +)
            note = events == 1 ? "capture time (UTC) of the one event" : "capture time (UTC): all \(thousands(events)) events within \(durationText(microseconds: timeline.resolution))"
        } else {
            note = "capture time (UTC), \(bins) bins of \(durationText(microseconds: timeline.binWidth))"
        }
        let outliers = timeline.outlierCount > 0 ? "; \(outlierText(timeline)) not shown" : ""
        svg += "<text class=\"axis-note\" x=\"\(left + plotWidth)\" y=\"\(axisY + 36)\" text-anchor=\"end\">\(note)\(outliers)</text>"
        svg += "</svg>"
        return svg
    }

    /// `3 outliers (2 before 2026-01-01, 1 after 2026-01-03)`, dates of the outliers themselves.
    static func outlierText(_ timeline: TimelineBins) -> String {
        var sides: [String] = []
        if timeline.before.count > 0 {
            sides.append("\(thousands(timeline.before.count)) from \(CaptureTime(microseconds: timeline.before.first).short.prefix(10))"
                + (timeline.before.count > 1 ? " to \(CaptureTime(microseconds: timeline.before.last).short.prefix(10))" : ""))
        }
        if timeline.after.count > 0 {
            sides.append("\(thousands(timeline.after.count)) from \(CaptureTime(microseconds: timeline.after.first).short.prefix(10))"
                + (timeline.after.count > 1 ? " to \(CaptureTime(microseconds: timeline.after.last).short.prefix(10))" : ""))
        }
        let count = timeline.outlierCount
        return "\(thousands(count)) outlier\(count == 1 ? "" : "s") far from the rest (\(sides.joined(separator: "; ")))"
    }

    /// A matrix of the protocol each 101 agreed on (rows) against what the bytes after it were
    /// (columns), coloured by whether they match.
    static func protocolMatrix(_ pairs: [ProtocolPair]) -> String {
        guard !pairs.isEmpty else { return "" }
        func totals(_ key: (ProtocolPair) -> String) -> [String] {
            var counts: [String: Int] = [:]
            for pair in pairs { counts[key(pair), default: 0] += pair.count }
            return counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map(\.key).prefix(12).map { $0 }
        }
        let rows = totals(\.agreed), columns = totals(\.observed)
        let labelWidth = 150, cellWidth = min(130, (width - 150 - 20) / max(1, columns.count)), cellHeight = 34
        let top = 62
        let height = top + rows.count * cellHeight + 50
        var svg = svgOpen(height: height, label: "Protocols after switching: agreed against observed")
        svg += "<text class=\"axis-note\" x=\"\(labelWidth)\" y=\"14\">observed after the 101 →</text>"
        svg += "<text class=\"axis-note\" x=\"\(labelWidth - 10)\" y=\"\(top - 8)\" text-anchor=\"end\">agreed in the 101 ↓</text>"
        for (index, column) in columns.enumerated() {
            let x = labelWidth + index * cellWidth + cellWidth / 2
            svg += "<text class=\"label mono\" x=\"\(x)\" y=\"\(top - 10)\" text-anchor=\"middle\">\(Escape.html(short(column, max(4, (cellWidth - 6) / 7))))</text>"
        }
        for (rowIndex, row) in rows.enumerated() {
            let y = top + rowIndex * cellHeight
            svg += "<text class=\"label mono\" x=\"\(labelWidth - 10)\" y=\"\(y + cellHeight / 2 + 5)\" text-anchor=\"end\">\(Escape.html(short(row, 18)))</text>"
            for (columnIndex, column) in columns.enumerated() {
                let x = labelWidth + columnIndex * cellWidth
                if let pair = pairs.first(where: { $0.agreed == row && $0.observed == column }) {
                    svg += "<rect class=\"\(verdictClass(pair.verdict))\" x=\"\(x + 2)\" y=\"\(y + 2)\" width=\"\(cellWidth - 4)\" height=\"\(cellHeight - 4)\" rx=\"3\"><title>\(Escape.html(row)) → \(Escape.html(column)): \(thousands(pair.count)) (\(pair.verdict.rawValue))</title></rect>"
                    svg += "<text class=\"cell-value\(pair.verdict == .nothingSent ? " on-light" : "")\" x=\"\(x + cellWidth / 2)\" y=\"\(y + cellHeight / 2 + 5)\" text-anchor=\"middle\">\(thousands(pair.count))</text>"
                } else {
                    svg += "<rect class=\"empty-cell\" x=\"\(x + 2)\" y=\"\(y + 2)\" width=\"\(cellWidth - 4)\" height=\"\(cellHeight - 4)\" rx=\"3\"/>"
                }
            }
        }
        let verdicts: [ProtocolVerdict] = [.asAgreed, .different, .unrecognised, .nothingSent]
        svg += legend(x: labelWidth, y: top + rows.count * cellHeight + 24, items: verdicts.map { (verdictClass($0), $0.rawValue) })
        svg += "</svg>"
        return svg
    }

    /// A label cut to fit a chart, with an ellipsis.
    static func short(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    static func verdictClass(_ verdict: ProtocolVerdict) -> String {
        switch verdict {
        case .asAgreed: return "v-agreed"
        case .different: return "v-different"
        case .unrecognised: return "v-unrecognised"
        case .nothingSent: return "v-none"
        }
    }

    private static func svgOpen(height: Int, label: String) -> String {
        "<svg class=\"chart\" viewBox=\"0 0 \(width) \(height)\" width=\"100%\" role=\"img\" aria-label=\"\(label)\">"
    }

    private static func legend(x: Int, y: Int, items: [(className: String, label: String)]) -> String {
        var svg = ""
        var position = x
        for item in items {
            svg += "<rect class=\"\(item.className)\" x=\"\(position)\" y=\"\(y - 9)\" width=\"10\" height=\"10\" rx=\"2\"/>"
            svg += "<text class=\"legend\" x=\"\(position + 14)\" y=\"\(y)\">\(item.label)</text>"
            position += 14 + item.label.count * 7 + 18
        }
        return svg
    }

    private static func fixed(_ value: Double) -> String {
        let scaled = Int((value * 10).rounded())
        return scaled % 10 == 0 ? String(scaled / 10) : "\(scaled / 10).\(abs(scaled % 10))"
    }
}
