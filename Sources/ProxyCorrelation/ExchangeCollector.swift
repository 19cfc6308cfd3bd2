import Findings
import PacketCapture
import UpgradeAnalysis

/// Limits of the proxy correlation.
public struct ProxyCorrelationOptions: Sendable {
    /// Memory the exchanges of a run may take until they are paired at its end. Past it, later
    /// exchanges are not kept (an `analyzer_limit_reached` finding names the limit and the
    /// first connection left out), so they take part in no pair.
    public var maxExchangeBytes = 32 << 20
    /// The longest a proxy may take to forward a request: a back request later than this after
    /// the front request is not its copy.
    public var maxForwardDelayNanos: Int64 = 30_000_000_000
    /// Candidate back legs looked at for one front leg (the nearest in time first).
    public var maxCandidatesPerExchange = 64
    /// Candidate back legs kept for one front leg (the best matched): bounds the pairing's
    /// memory to a few entries per exchange.
    public var keptCandidatesPerExchange = 8
    /// Rules switched off (`--rules -id`): not checked on the pairs.
    public var disabledRules: Set<String> = []

    public init() {}
}

/// Keeps the upgrade exchanges of one capture (or of one `--jobs` worker), within a byte
/// bound, until the run ends and `ProxyCorrelator` pairs them.
///
/// One per capture and worker, filled on that worker's thread only and read after it ended.
public final class ExchangeCollector: UpgradeExchangeObserver, @unchecked Sendable {
    public struct Entry: Sendable {
        public var capture: String
        public var exchange: UpgradeExchange
    }

    public let capture: String
    public let byteLimit: Int
    public private(set) var entries: [Entry] = []
    public private(set) var bytes = 0
    /// Exchanges not kept because the limit was reached, and the first of them.
    public private(set) var dropped: UInt64 = 0
    public private(set) var firstDropped: Entry?

    public init(capture: String, byteLimit: Int) {
        self.capture = capture
        self.byteLimit = byteLimit
    }

    public func exchange(_ exchange: UpgradeExchange) {
        add(Entry(capture: capture, exchange: exchange), cost: exchange.cost)
    }

    private func add(_ entry: Entry, cost: Int) {
        guard bytes + cost <= byteLimit else {
            dropped += 1
            if firstDropped == nil { firstDropped = entry }
            return
        }
        bytes += cost
        entries.append(entry)
    }

    /// Takes another collector's exchanges (a worker's, a capture's), within this one's limit.
    public func absorb(_ other: ExchangeCollector) {
        for entry in other.entries { add(entry, cost: entry.exchange.cost) }
        if other.dropped > 0 {
            dropped += other.dropped
            if firstDropped == nil { firstDropped = other.firstDropped }
        }
    }

    /// The `analyzer_limit_reached` finding, once, when exchanges were left out.
    public func limitFinding() -> (finding: Finding, capture: String)? {
        guard dropped > 0, let first = firstDropped else { return nil }
        let detail = "the upgrade exchanges kept for pairing reached \(byteLimit) bytes; \(dropped) later exchange(s) "
            + "were not paired"
        return (.violation(Violation(
            rule: .analyzerLimitReached, message: "Limit proxy_pairing_bytes reached: \(detail).",
            timestamp: first.exchange.request.timestamp, frame: first.exchange.request.frame, direction: nil,
            connection: first.exchange.connection,
            evidence: ["limit": .text("proxy_pairing_bytes"), "detail": .text(detail)])), first.capture)
    }
}
