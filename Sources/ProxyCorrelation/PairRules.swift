import Foundation
import Findings
import HTTP1
import PacketCapture
import SwitchedProtocols
import UpgradeAnalysis

/// The rules of `Rule.proxyCatalogue`, checked on one pair of legs. Each violation names the
/// front connection and carries the back leg's connection and frames as evidence.
enum PairRules {
    static func check(_ front: ProxyCorrelator.Item, _ back: ProxyCorrelator.Item, tolerance: Int64) -> [Violation] {
        var out: [Violation] = []
        let f = front.exchange, b = back.exchange
        func report(_ rule: Rule, _ message: String, _ evidence: Evidence) {
            var all = evidence
            all.append("back_capture", .text(back.captureName))
            all.append("back_connection", .text("\(b.connection.client) -> \(b.connection.server)"))
            all.append("back_request_frame", .integer(Int64(b.request.frame)))
            if let response = b.response { all.append("back_response_frame", .integer(Int64(response.frame))) }
            out.append(Violation(rule: rule, message: message, timestamp: f.response?.timestamp ?? f.request.timestamp,
                                 frame: f.response?.frame ?? f.request.frame, direction: nil, connection: f.connection,
                                 evidence: all))
        }

        // The backend declined, the client saw the decline, and what the client sent next
        // reached the backend on the same connection byte for byte.
        if case .declined(let backStatus) = b.outcome, case .declined(let frontStatus) = f.outcome,
           let frontNext = f.followUp, let backNext = b.followUp, relayedVerbatim(frontNext, backNext, tolerance: tolerance) {
            var evidence: Evidence = ["back_status": .integer(Int64(backStatus)), "front_status": .integer(Int64(frontStatus))]
            switch frontNext {
            case .request(let head):
                evidence.append("relayed_request_line", .text(head.startLine))
                evidence.append("front_follow_up_frame", .integer(Int64(head.frame)))
            case .bytes(let bytes, let frame, _):
                evidence.append("relayed_bytes", .bytes(bytes))
                evidence.append("front_follow_up_frame", .integer(Int64(frame)))
            }
            if case .request(let head) = backNext { evidence.append("back_follow_up_frame", .integer(Int64(head.frame))) }
            if case .bytes(_, let frame, _) = backNext { evidence.append("back_follow_up_frame", .integer(Int64(frame))) }
            report(.proxyTunnelAfterDeclinedUpgrade,
                   "The backend declined the upgrade with \(backStatus), yet the proxy relayed the client's next message verbatim on the same back connection (a tunnel).",
                   evidence)
        }

        // The client's 101 must be the backend's 101, relayed after it arrived.
        if case .switched(let frontProtocol) = f.outcome, let frontResponse = f.response {
            if case .switched = b.outcome, let backNanos = back.responseNanos, let frontNanos = front.responseNanos {
                if frontNanos + tolerance < backNanos {
                    report(.proxy101NotFromBackend,
                           "The client got a 101 (\(frontProtocol)) \(formatDelay(backNanos - frontNanos)) before the backend sent its own.",
                           ["front_101_frame": .integer(Int64(frontResponse.frame)), "early_by_seconds": .text(seconds(backNanos - frontNanos))])
                }
            } else {
                let backOutcome: String
                switch b.outcome {
                case .declined(let status): backOutcome = "declined with \(status)"
                case .noAnswer: backOutcome = "not answered"
                case .switched: backOutcome = "switched"
                }
                report(.proxy101NotFromBackend,
                       "The client got a 101 (\(frontProtocol)), but the backend's answer was: \(backOutcome).",
                       ["front_101_frame": .integer(Int64(frontResponse.frame)), "back_outcome": .text(backOutcome)])
            }
        }

        // The converse: the backend switched and the client was told otherwise.
        if case .switched(let backProtocol) = b.outcome {
            switch f.outcome {
            case .switched:
                break
            case .declined(let status):
                report(.proxyBackendSwitchedAlone,
                       "The backend switched to \(backProtocol), but the client got \(status) instead of a 101.",
                       ["back_protocol": .text(backProtocol), "front_status": .integer(Int64(status))])
            case .noAnswer:
                report(.proxyBackendSwitchedAlone,
                       "The backend switched to \(backProtocol), but the client got no answer.",
                       ["back_protocol": .text(backProtocol), "front_status": .text("none")])
            }
        }

        let altered = negotiationChanges(f, b)
        if !altered.isEmpty {
            report(.proxyUpgradeHeadersAltered,
                   "The proxy changed what the two ends negotiated: " + altered.map(\.summary).joined(separator: "; ") + ".",
                   Evidence(altered.map { ($0.key, .text($0.summary)) }))
        }

        if case .switched(let backProtocol) = b.outcome, backProtocol == "h2c" {
            var evidence: Evidence = ["back_upgrade": .text(b.request.value("upgrade") ?? "")]
            evidence.append("back_http2_settings", .flag(b.request.value("http2-settings") != nil))
            evidence.append("front_outcome", .text(ProxyCorrelator.leg(front).outcome))
            report(.proxyH2CUpgradeForwarded,
                   "The proxy forwarded an Upgrade: h2c request and the backend switched to HTTP/2 behind it.", evidence)
        }

        if case .switched(let frontProtocol) = f.outcome, case .switched(let backProtocol) = b.outcome {
            if frontProtocol != backProtocol {
                report(.proxySwitchedProtocolMismatch,
                       "The client switched to \(frontProtocol), the backend to \(backProtocol).",
                       ["front_protocol": .text(frontProtocol), "back_protocol": .text(backProtocol)])
            } else {
                let frontSniff = ProtocolSniffer.sniff(client: f.firstClientBytes, server: f.firstServerBytes)
                let backSniff = ProtocolSniffer.sniff(client: b.firstClientBytes, server: b.firstServerBytes)
                if frontSniff.observed != .unknown, backSniff.observed != .unknown, frontSniff.observed != backSniff.observed {
                    report(.proxySwitchedProtocolMismatch,
                           "Both legs switched to \(frontProtocol), but the bytes after the switch are \(frontSniff.observed.rawValue) on the front leg and \(backSniff.observed.rawValue) on the back leg.",
                           ["front_observed": .text(frontSniff.observed.rawValue), "back_observed": .text(backSniff.observed.rawValue),
                            "front_first_bytes": .bytes(f.firstClientBytes), "back_first_bytes": .bytes(b.firstClientBytes)])
                }
            }
        }
        return out
    }

    /// Whether the back leg's follow-up is the client's, unchanged (request line and every field
    /// in order, names' case included; or the same bytes), and not earlier than it.
    static func relayedVerbatim(_ front: UpgradeExchange.FollowUp, _ back: UpgradeExchange.FollowUp, tolerance: Int64) -> Bool {
        switch (front, back) {
        case (.request(let f), .request(let b)):
            return f.startLine == b.startLine && f.fields == b.fields
                && b.timestamp.totalNanoseconds + tolerance >= f.timestamp.totalNanoseconds
        case (.bytes(let f, _, let ft), .bytes(let b, _, let bt)):
            let common = min(f.count, b.count)
            return common > 0 && f.prefix(common) == b.prefix(common) && bt.totalNanoseconds + tolerance >= ft.totalNanoseconds
        default:
            return false
        }
    }

    struct Change {
        var key: String
        var summary: String
    }

    /// Differences between the legs in what decides the upgrade: the protocols offered and
    /// selected, the `upgrade` Connection option, and the WebSocket handshake headers.
    static func negotiationChanges(_ f: UpgradeExchange, _ b: UpgradeExchange) -> [Change] {
        var changes: [Change] = []
        func tokens(_ head: UpgradeExchange.Head?, _ name: String) -> [String] {
            guard let value = head?.value(name) else { return [] }
            return value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        }
        func compare(_ key: String, _ what: String, _ frontValue: String?, _ backValue: String?) {
            guard frontValue != backValue else { return }
            let summary: String
            switch (frontValue, backValue) {
            case (let value?, nil): summary = "\(what) \"\(value)\" removed"
            case (nil, let value?): summary = "\(what) \"\(value)\" added"
            default: summary = "\(what) \"\(frontValue ?? "")\" became \"\(backValue ?? "")\""
            }
            changes.append(Change(key: key, summary: summary))
        }
        func list(_ values: [String]) -> String? { values.isEmpty ? nil : values.joined(separator: ", ") }

        compare("request_upgrade", "request Upgrade", list(tokens(f.request, "upgrade")), list(tokens(b.request, "upgrade")))
        let frontOption = tokens(f.request, "connection").contains("upgrade")
        let backOption = tokens(b.request, "connection").contains("upgrade")
        if frontOption && !backOption {
            changes.append(Change(key: "request_connection", summary: "the request's Connection option `upgrade` removed"))
        }
        for name in ["sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol", "sec-websocket-extensions"] {
            compare("request_" + name, "request " + name, f.request.value(name), b.request.value(name))
        }
        if let frontResponse = f.response, let backResponse = b.response, frontResponse.status == backResponse.status {
            compare("response_upgrade", "response Upgrade", list(tokens(frontResponse, "upgrade")), list(tokens(backResponse, "upgrade")))
            for name in ["sec-websocket-accept", "sec-websocket-protocol", "sec-websocket-extensions"] {
                // What the client got (front) against what the backend sent (back).
                compare("response_" + name, "response " + name, frontResponse.value(name), backResponse.value(name))
            }
        }
        return changes
    }

    static func seconds(_ nanos: Int64) -> String {
        let value = Double(nanos) / 1e9
        return String(format: "%.6f", value)
    }

    static func formatDelay(_ nanos: Int64) -> String {
        nanos >= 1_000_000 ? String(format: "%.1f ms", Double(nanos) / 1e6) : String(format: "%.0f µs", Double(nanos) / 1e3)
    }
}
