import Findings
import StreamReassembly
import SwitchyardKit

/// Options `analyze` and `live` share: limits, filters, exit policy and output format.
struct AnalysisArguments {
    static let valued: Set<String> = ["format", "output", "min-severity", "rules", "fail-on", "max-head-bytes",
                                      "connection-buffer", "global-buffer", "max-connections", "idle-timeout",
                                      "max-buffered-heads", "checksums", "max-held-early-data",
                                      "max-inflated-message", "max-inflater-memory", "max-http2-requests",
                                      "max-http2-value-bytes",
                                      "max-fragment-datagrams", "max-fragment-bytes"]

    var options = PipelineOptions()
    var filter = FindingFilter()
    var failOn: Severity? = .low
    var format = OutputFormat.json

    init(_ parsed: Arguments) throws {
        if let n = try parsed.integer("max-head-bytes", range: 256...(64 << 20)) { options.analysis.parser.maxHeadBytes = n }
        if let n = try parsed.integer("connection-buffer", range: 0...(1 << 34)) { options.reassembly.connectionBufferBytes = n }
        if let n = try parsed.integer("global-buffer", range: 0...(1 << 40)) { options.reassembly.globalBufferBytes = n }
        if let n = try parsed.integer("max-connections", range: 1...(1 << 26)) { options.reassembly.maxConnections = n }
        if let n = try parsed.integer("max-buffered-heads", range: 0...(1 << 40)) { options.maxBufferedHeadBytes = n }
        if let n = try parsed.integer("max-held-early-data", range: 0...(1 << 40)) { options.maxHeldEarlyBytes = n }
        if let n = try parsed.integer("idle-timeout", range: 1...(1 << 31)) { options.reassembly.idleTimeoutSeconds = Int64(n) }
        if let n = try parsed.integer("max-fragment-datagrams", range: 1...(1 << 24)) {
            options.reassembly.fragments.maxDatagrams = n
        }
        if let n = try parsed.integer("max-fragment-bytes", range: 0...(1 << 34)) { options.reassembly.fragments.maxHeldBytes = n }
        if let text = parsed.value("checksums") {
            guard let policy = ChecksumPolicy(rawValue: text) else {
                throw Arguments.UsageError(message: "--checksums takes auto, on or off")
            }
            options.reassembly.checksums = policy
        }
        if let n = try parsed.integer("max-inflated-message", range: 1...(1 << 40)) {
            options.analysis.webSocket.maxInflatedMessageBytes = n
        }
        if let n = try parsed.integer("max-inflater-memory", range: 0...(1 << 40)) { options.maxInflaterMemoryBytes = n }
        if let n = try parsed.integer("max-http2-requests", range: 0...(1 << 20)) { options.analysis.http2.maxListedRequests = n }
        if let n = try parsed.integer("max-http2-value-bytes", range: 1...(1 << 16)) {
            options.analysis.http2.maxRequestValueBytes = n
        }
        if let text = parsed.value("min-severity") {
            guard let severity = Severity(name: text) else {
                throw Arguments.UsageError(message: "--min-severity takes info, low, medium or high")
            }
            filter.minimumSeverity = severity
        }
        if let text = parsed.value("rules") { try parseRules(text, filter: &filter, options: &options) }
        if let text = parsed.value("fail-on") {
            if text == "never" {
                failOn = nil
            } else {
                guard let severity = Severity(name: text) else {
                    throw Arguments.UsageError(message: "--fail-on takes info, low, medium, high or never")
                }
                failOn = severity
            }
        }
        switch parsed.value("format") ?? "json" {
        case "json": format = .json
        case "text": format = .text
        case "eve": format = .eve
        default: throw Arguments.UsageError(message: "--format takes json, text or eve")
        }
    }

    /// Exit status 1 when a written violation reaches `--fail-on`.
    func exitStatus(_ tally: RunTally) -> Int32 {
        if let failOn, let worst = tally.worstSeverityEmitted, worst >= failOn { return 1 }
        return 0
    }
}
