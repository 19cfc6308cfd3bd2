import Findings
import HTTP1
import PacketCapture

/// One request/response exchange of a connection that took part in an upgrade, or that looks
/// like the forwarded copy of one, as the tracker saw it: what the proxy correlation (issue #14)
/// needs to pair the two legs of a proxied upgrade. The tracker hands these to an optional
/// `UpgradeExchangeObserver`; it keeps no more state for them than one exchange per connection.
///
/// Why a separate value and not the `switch`/`upgrade_declined` records: a proxy that strips
/// `Upgrade` sends the backend a request those records never show (no Upgrade header, but the
/// client's `Sec-WebSocket-Key` or `HTTP2-Settings` still in it), a request left unanswered has
/// no record at all, and the pairing compares the complete header lists, not the subset the
/// records keep.
public struct UpgradeExchange: Sendable, Equatable {
    /// A message head as sent: its start line and every field, in order.
    public struct Head: Sendable, Equatable {
        public var startLine: String
        public var method: String?
        public var target: String?
        public var status: Int?
        public var fields: [HTTPField]
        /// The frame in which the head was completed, and its time.
        public var frame: UInt64
        public var timestamp: Timestamp

        public init(startLine: String, method: String? = nil, target: String? = nil, status: Int? = nil,
                    fields: [HTTPField], frame: UInt64, timestamp: Timestamp) {
            self.startLine = startLine
            self.method = method
            self.target = target
            self.status = status
            self.fields = fields
            self.frame = frame
            self.timestamp = timestamp
        }

        init(_ head: HTTPMessageHead, frame: UInt64, timestamp: Timestamp) {
            if head.kind == .request {
                self.init(startLine: "\(head.method) \(head.target) \(head.version)", method: head.method,
                          target: head.target, fields: head.fields, frame: frame, timestamp: timestamp)
            } else {
                self.init(startLine: "\(head.version) \(head.status) \(head.reason)", status: head.status,
                          fields: head.fields, frame: frame, timestamp: timestamp)
            }
        }

        /// The values of a field (case-insensitive name), joined with ", " as RFC 9110 §5.3 allows.
        public func value(_ name: String) -> String? {
            let values = fields.filter { $0.name.lowercased() == name }.map(\.value)
            return values.isEmpty ? nil : values.joined(separator: ", ")
        }

        /// Approximate memory held, for the correlation's bound.
        public var cost: Int {
            fields.reduce(64 + startLine.utf8.count) { $0 + $1.name.utf8.count + $1.value.utf8.count + 32 }
        }
    }

    public enum Outcome: Sendable, Equatable {
        /// A 101 switched the connection to this protocol (the Upgrade token, lowercased, no version).
        case switched(String)
        /// A final non-101 response.
        case declined(Int)
        /// The connection ended before any final answer.
        case noAnswer
    }

    /// What the client sent next after a declined answer.
    public enum FollowUp: Sendable, Equatable {
        /// Another HTTP/1.x request head.
        case request(Head)
        /// Bytes that are not HTTP/1.x (the first ones kept).
        case bytes([UInt8], frame: UInt64, timestamp: Timestamp)
    }

    public var connection: ConnectionRef
    /// The request's number on its connection (0 for the first).
    public var sequence: UInt64
    public var request: Head
    public var response: Head?
    public var outcome: Outcome
    public var followUp: FollowUp?
    /// After a switch: the first bytes each side sent in the new protocol (at most
    /// `UpgradeAnalysisOptions.firstBytesKept`).
    public var firstClientBytes: [UInt8]
    public var firstServerBytes: [UInt8]

    public init(connection: ConnectionRef, sequence: UInt64, request: Head, response: Head?, outcome: Outcome,
                followUp: FollowUp? = nil, firstClientBytes: [UInt8] = [], firstServerBytes: [UInt8] = []) {
        self.connection = connection
        self.sequence = sequence
        self.request = request
        self.response = response
        self.outcome = outcome
        self.followUp = followUp
        self.firstClientBytes = firstClientBytes
        self.firstServerBytes = firstServerBytes
    }

    public var cost: Int {
        var total = 128 + request.cost + (response?.cost ?? 0) + firstClientBytes.count + firstServerBytes.count
        switch followUp {
        case .request(let head): total += head.cost
        case .bytes(let bytes, _, _): total += bytes.count
        case nil: break
        }
        return total
    }
}

/// Receives the exchanges of every connection's tracker (called on the tracker's thread).
public protocol UpgradeExchangeObserver: AnyObject {
    func exchange(_ exchange: UpgradeExchange)
}

extension UpgradeTracker {
    /// Whether a request is worth handing to the observer: it asks for an upgrade, or carries
    /// what only an upgrade request carries (a proxy that strips Upgrade leaves these).
    func isExchangeCandidate(_ head: HTTPMessageHead, hasUpgrade: Bool, connectionUpgrade: Bool) -> Bool {
        guard exchangeObserver != nil else { return false }
        return hasUpgrade || connectionUpgrade || head.contains("Sec-WebSocket-Key") || head.contains("HTTP2-Settings")
    }

    /// A new request head: it is the follow-up of a declined exchange still open.
    func exchangeNextRequest(_ head: HTTPMessageHead) {
        guard var open = openExchange else { return }
        openExchange = nil
        if case .declined = open.outcome {
            open.followUp = .request(UpgradeExchange.Head(head, frame: frame, timestamp: timestamp))
        }
        exchangeObserver?.exchange(open)
    }

    /// Non-HTTP bytes after a declined upgrade.
    func exchangeTunnelBytes(_ bytes: [UInt8]) {
        guard var open = openExchange, case .declined = open.outcome, open.followUp == nil else { return }
        openExchange = nil
        open.followUp = .bytes(Array(bytes.prefix(options.firstBytesKept)), frame: frame, timestamp: timestamp)
        exchangeObserver?.exchange(open)
    }

    /// A candidate request got its final answer (or its 101).
    func exchangeAnswered(_ request: PendingRequest, _ response: HTTPMessageHead, _ outcome: UpgradeExchange.Outcome) {
        guard request.isExchangeCandidate, let observer = exchangeObserver else { return }
        if let open = openExchange { observer.exchange(open) }
        openExchange = UpgradeExchange(
            connection: connection, sequence: request.sequence,
            request: UpgradeExchange.Head(request.head, frame: request.frame, timestamp: request.timestamp),
            response: UpgradeExchange.Head(response, frame: frame, timestamp: timestamp), outcome: outcome)
    }

    /// The connection closed: the open exchange leaves with the post-switch bytes, and every
    /// candidate request still waiting leaves unanswered.
    func exchangeClose() {
        guard let observer = exchangeObserver else { return }
        if var open = openExchange {
            openExchange = nil
            if case .switched = open.outcome {
                open.firstClientBytes = afterSwitch.firstClientBytes
                open.firstServerBytes = afterSwitch.firstServerBytes
            }
            observer.exchange(open)
        }
        for request in queue.pending where request.isExchangeCandidate {
            observer.exchange(UpgradeExchange(
                connection: connection, sequence: request.sequence,
                request: UpgradeExchange.Head(request.head, frame: request.frame, timestamp: request.timestamp),
                response: nil, outcome: .noAnswer))
        }
    }
}
