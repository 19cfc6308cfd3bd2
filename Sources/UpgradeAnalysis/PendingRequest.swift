import PacketCapture
import Findings
import HTTP1

/// A request waiting for its final response (RFC 9112 §9.3: responses come in request order).
struct PendingRequest {
    var sequence: UInt64
    /// The parsed head; the summary records show is built from it only when one is needed
    /// (most requests never take part in an upgrade).
    var head: HTTPMessageHead
    var frame: UInt64
    var timestamp: Timestamp
    var summary: MessageSummary { MessageSummary(head: head, frame: frame, timestamp: timestamp) }
    var target: String { head.target }
    var method: String
    var version: HTTPVersion
    /// Protocols offered in Upgrade, as sent.
    var upgradeOffered: [String]
    var hasUpgradeHeader: Bool
    var expectsContinue: Bool
    /// Handed to the exchange observer when answered (`UpgradeTracker.isExchangeCandidate`).
    var isExchangeCandidate = false
    /// All header fields of requests that offer an upgrade (handshake checks).
    var fields: [HTTPField]? { hasUpgradeHeader ? head.fields : nil }
    var seen100 = false
    /// Body fully received.
    var complete = false
    /// Stream offset just past the request's last byte (set when complete).
    var endOffset: UInt64 = 0
}

/// Names of the headers kept in switch records (the ones an upgrade audit needs).
let relevantHeaderNames: Set<String> = [
    "host", "connection", "upgrade", "origin", "expect", "content-length", "transfer-encoding", "content-type",
    "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol", "sec-websocket-extensions",
    "sec-websocket-accept", "http2-settings", "server", "user-agent", "capsule-protocol",
]

extension MessageSummary {
    init(head: HTTPMessageHead, frame: UInt64, timestamp: Timestamp) {
        var headers: [(name: String, value: String)] = []
        for field in head.fields {
            let name = field.name.lowercased()
            guard relevantHeaderNames.contains(name) else { continue }
            if let index = headers.firstIndex(where: { $0.name == name }) {
                headers[index].value += ", " + field.value
            } else {
                headers.append((name: name, value: field.value))
            }
        }
        let isRequest = head.kind == .request
        self.init(method: isRequest ? head.method : nil, target: isRequest ? head.target : nil,
                  version: head.version.description, status: isRequest ? nil : head.status,
                  reason: isRequest ? nil : head.reason, upgrade: head.listMembers("Upgrade"),
                  headers: headers, frame: frame, timestamp: timestamp)
    }
}
