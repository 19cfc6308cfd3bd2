import Findings
import HTTP1
import PacketCapture
import PacketDecoding
import SwitchedProtocols
import UpgradeAnalysis

/// Pairs the front leg (client → proxy) and the back leg (proxy → backend) of proxied
/// upgrades among the exchanges of one run, and checks each pair for the disagreements of
/// `Rule.proxyCatalogue` (docs/RULES.md, docs/OUTPUT.md `proxied_upgrade`).
///
/// Runs once, at the end of the run, over the exchanges of every capture and every `--jobs`
/// worker: the two legs of one upgrade are two TCP connections, which may be analysed by
/// different workers or be in different captures, so pairing after the merge is the one place
/// that sees both. The result does not depend on the order the exchanges arrived in.
///
/// Matching (what a proxy passes through): `Sec-WebSocket-Key` (16 random bytes per
/// handshake, RFC 6455 §4.1) pairs with high confidence when it occurs in exactly two exchanges
/// of the run and is not the RFC's sample key (which tools and test captures reuse: two unrelated
/// captures were paired on it); otherwise method and target must be
/// equal and `HTTP2-Settings`, Host, User-Agent and Origin add to the score. The back request
/// must follow the front request (a proxy cannot forward what it has not received) within
/// `maxForwardDelayNanos`; the two legs are different connections to different servers.
/// Without `Sec-WebSocket-Key` or `HTTP2-Settings` the back leg must also start from the front
/// leg's server address (the proxy host). Each exchange takes part in one pair at most (so of
/// a chain of two proxies only the best-matched hop is paired); the best-scored, then
/// nearest-in-time pairs are taken first.
///
/// Clock offset between captures: each capture after the first gets the offset that puts its
/// times on the first capture's clock, estimated from the exchanges that match on a
/// `Sec-WebSocket-Key` or `HTTP2-Settings` value found in exactly two exchanges of the run
/// (curl, for one, always sends the same settings), one in each capture: the median difference of
/// the midpoints of their request → response intervals (a proxy's back exchange lies inside
/// its front exchange, and the forward and return delays are about equal, so the midpoints
/// meet). Times are compared after the offset, with a tolerance of twice the median absolute
/// deviation of those differences (at least 1 ms). A capture with no such match keeps offset 0 and pairs across captures only on
/// `Sec-WebSocket-Key`, whose uniqueness needs no clock.
public enum ProxyCorrelator {
    public struct Output {
        public var findings: [(finding: Finding, capture: String)] = []
    }

    struct Item {
        var index: Int
        var capture: Int
        var captureName: String
        var exchange: UpgradeExchange
        var webSocketKey: String?
        var settings: String?
        var requestNanos: Int64
        var responseNanos: Int64?
        var method: String
        var target: String
        /// The key, or the settings, occur in exactly two exchanges of the run (and the key is not
        /// RFC 6455's sample key, which tools and tests send): only then do they identify one
        /// upgrade by themselves.
        var uniqueKey = false
        var uniqueSettings = false
        /// Host, User-Agent and Origin, compared for every candidate.
        var otherHeaders: [String?] = []

        var midpoint: Int64 {
            guard let responseNanos else { return requestNanos }
            return requestNanos / 2 + responseNanos / 2
        }
    }

    struct Candidate {
        var front: Int
        var back: Int
        var score: Int
        var delay: Int64
        var matchedOn: [String]
        var confidence: String
    }

    public static func correlate(_ entries: [ExchangeCollector.Entry], captureOrder: [String],
                                 options: ProxyCorrelationOptions = ProxyCorrelationOptions()) -> Output {
        var items = makeItems(entries, captureOrder: captureOrder)
        guard items.count >= 2 else { return Output() }
        let (offsets, tolerances) = clockOffsets(items, captures: captureOrder.count)
        for index in items.indices {
            let offset = offsets[items[index].capture] ?? 0
            items[index].requestNanos &+= offset
            items[index].responseNanos = items[index].responseNanos.map { $0 &+ offset }
        }
        var candidates = findCandidates(items, offsets: offsets, tolerances: tolerances, options: options)
        candidates.sort(by: precedes)
        var used = Set<Int>()
        var output = Output()
        var pairs: [(Candidate, Int64)] = []
        for candidate in candidates {
            guard !used.contains(candidate.front), !used.contains(candidate.back) else { continue }
            used.insert(candidate.front)
            used.insert(candidate.back)
            let front = items[candidate.front], back = items[candidate.back]
            pairs.append((candidate, (offsets[back.capture] ?? 0) - (offsets[front.capture] ?? 0)))
        }
        pairs.sort { ($0.0.front, $0.0.back) < ($1.0.front, $1.0.back) }
        for (candidate, offset) in pairs {
            let front = items[candidate.front], back = items[candidate.back]
            let tolerance = front.capture == back.capture ? 0 : max(tolerances[back.capture] ?? 0, tolerances[front.capture] ?? 0)
            let record = makeRecord(front, back, candidate, clockOffset: offset)
            output.findings.append((.proxiedUpgrade(record), front.captureName))
            for violation in PairRules.check(front, back, tolerance: tolerance)
            where !options.disabledRules.contains(violation.rule.id) {
                output.findings.append((.violation(violation), front.captureName))
            }
        }
        return output
    }

    // MARK: Items

    static func makeItems(_ entries: [ExchangeCollector.Entry], captureOrder: [String]) -> [Item] {
        var captureIndex: [String: Int] = [:]
        for (index, name) in captureOrder.enumerated() where captureIndex[name] == nil { captureIndex[name] = index }
        var items = entries.map { entry -> Item in
            let exchange = entry.exchange
            return Item(index: 0, capture: captureIndex[entry.capture] ?? captureOrder.count, captureName: entry.capture,
                        exchange: exchange, webSocketKey: exchange.request.value("sec-websocket-key"),
                        settings: exchange.request.value("http2-settings"),
                        requestNanos: exchange.request.timestamp.totalNanoseconds,
                        responseNanos: exchange.response?.timestamp.totalNanoseconds,
                        method: exchange.request.method ?? "", target: exchange.request.target ?? "",
                        otherHeaders: otherHeaderNames.map { exchange.request.value($0) })
        }
        // A fixed order whatever order the workers delivered in.
        items.sort {
            ($0.capture, $0.exchange.request.frame, $0.exchange.sequence, $0.exchange.connection.client.port)
                < ($1.capture, $1.exchange.request.frame, $1.exchange.sequence, $1.exchange.connection.client.port)
        }
        var keys: [String: Int] = [:], settings: [String: Int] = [:]
        for item in items {
            if let key = item.webSocketKey { keys[key, default: 0] += 1 }
            if let value = item.settings { settings[value, default: 0] += 1 }
        }
        for index in items.indices {
            items[index].index = index
            if let key = items[index].webSocketKey {
                items[index].uniqueKey = keys[key] == 2 && key != rfc6455SampleKey
            }
            if let value = items[index].settings { items[index].uniqueSettings = settings[value] == 2 }
        }
        return items
    }

    static let otherHeaderNames = ["host", "user-agent", "origin"]

    /// RFC 6455 §1.3's example `Sec-WebSocket-Key`, which test tools and captures reuse.
    static let rfc6455SampleKey = "dGhlIHNhbXBsZSBub25jZQ=="

    // MARK: Clock offsets

    /// Per capture index: the offset to add to its times, and the tolerance of the estimate.
    /// Captures without an estimate are absent.
    static func clockOffsets(_ items: [Item], captures: Int) -> ([Int: Int64], [Int: Int64]) {
        var offsets: [Int: Int64] = [0: 0]
        var tolerances: [Int: Int64] = [0: 0]
        guard captures > 1 else { return (offsets, tolerances) }
        var byKey: [String: [Int]] = [:]
        for item in items {
            if let key = item.webSocketKey, item.uniqueKey { byKey["k:" + key, default: []].append(item.index) }
            if let settings = item.settings, item.uniqueSettings { byKey["s:" + settings, default: []].append(item.index) }
        }
        // Captures take their offset from any capture already placed, in capture order.
        var progress = true
        while progress {
            progress = false
            for capture in 1..<captures where offsets[capture] == nil {
                var differences: [Int64] = []
                for group in byKey.values {
                    for a in group where offsets[items[a].capture] != nil && items[a].capture != capture {
                        for b in group where items[b].capture == capture {
                            differences.append(items[a].midpoint + offsets[items[a].capture]! - items[b].midpoint)
                        }
                    }
                }
                guard !differences.isEmpty else { continue }
                differences.sort()
                let median = differences[differences.count / 2]
                offsets[capture] = median
                // Twice the median absolute deviation: one pair with an odd delay (a proxy that
                // answered early) does not widen it.
                let deviations = differences.map { abs($0 - median) }.sorted()
                tolerances[capture] = max(2 * deviations[deviations.count / 2], 1_000_000)
                progress = true
            }
        }
        return (offsets, tolerances)
    }

    // MARK: Candidates

    static func findCandidates(_ items: [Item], offsets: [Int: Int64], tolerances: [Int: Int64],
                               options: ProxyCorrelationOptions) -> [Candidate] {
        // Buckets: unique Sec-WebSocket-Keys (two exchanges each), and method and target
        // (sorted by request time, so that a front leg looks only at the back legs just after it).
        var byKey: [String: [Int]] = [:]
        var byTarget: [String: [Int]] = [:]
        for item in items {
            if let key = item.webSocketKey, item.uniqueKey { byKey[key, default: []].append(item.index) }
            byTarget[item.method + " " + item.target, default: []].append(item.index)
        }
        for key in byTarget.keys { byTarget[key]!.sort { (items[$0].requestNanos, $0) < (items[$1].requestNanos, $1) } }

        // Bounded work and memory: at most `maxCandidatesPerExchange` looked at and
        // `keptCandidatesPerExchange` kept per front leg, whatever the traffic.
        var perFront: [Int: [Candidate]] = [:]
        var seen = Set<Int64>()
        func consider(_ front: Item, _ back: Item) {
            guard front.index != back.index, seen.insert(Int64(front.index) << 32 | Int64(back.index)).inserted,
                  let candidate = score(front, back, offsets: offsets, tolerances: tolerances, options: options)
            else { return }
            perFront[front.index, default: []].append(candidate)
        }
        for group in byKey.values where group.count == 2 {
            consider(items[group[0]], items[group[1]])
            consider(items[group[1]], items[group[0]])
        }
        for group in byTarget.values where group.count > 1 {
            for (position, a) in group.enumerated() {
                // Equal times: look a little behind as well (the tolerance across captures).
                var previous = position - 1, looked = 0
                while previous >= 0, looked < options.maxCandidatesPerExchange,
                      items[a].requestNanos - items[group[previous]].requestNanos <= 1_000_000 {
                    consider(items[a], items[group[previous]])
                    previous -= 1
                    looked += 1
                }
                var next = position + 1
                looked = 0
                while next < group.count, looked < options.maxCandidatesPerExchange {
                    let b = group[next]
                    if items[b].requestNanos - items[a].requestNanos > options.maxForwardDelayNanos { break }
                    consider(items[a], items[b])
                    looked += 1
                    next += 1
                }
            }
        }
        var candidates: [Candidate] = []
        for front in perFront.keys.sorted() {
            let best = perFront[front]!.sorted(by: precedes).prefix(options.keptCandidatesPerExchange)
            candidates.append(contentsOf: best)
        }
        return candidates
    }

    /// Best first: higher score, then shorter delay, then a fixed order.
    static func precedes(_ a: Candidate, _ b: Candidate) -> Bool {
        (a.score, -a.delay, -a.front, -a.back) > (b.score, -b.delay, -b.front, -b.back)
    }

    static func score(_ front: Item, _ back: Item, offsets: [Int: Int64], tolerances: [Int: Int64],
                      options: ProxyCorrelationOptions) -> Candidate? {
        let f = front.exchange, b = back.exchange
        // Two legs are two connections, to two different servers (a proxy and its backend).
        guard f.connection.client != b.connection.client, f.connection.server != b.connection.server,
              !(f.connection.client == b.connection.server && f.connection.server == b.connection.client)
        else { return nil }
        let sameCapture = front.capture == back.capture
        let clocksKnown = offsets[front.capture] != nil && offsets[back.capture] != nil
        let tolerance = sameCapture ? 0 : max(tolerances[front.capture] ?? 0, tolerances[back.capture] ?? 0)
        let delay = back.requestNanos - front.requestNanos
        var matchedOn: [String] = []
        var score = 0
        var strong = false
        var keyMatched = false
        if let frontKey = front.webSocketKey, let backKey = back.webSocketKey {
            guard frontKey == backKey else { return nil }
            matchedOn.append("sec-websocket-key")
            keyMatched = true
            // A key seen more than twice, or the RFC's sample key, does not identify one upgrade.
            strong = front.uniqueKey
            score += strong ? 100 : 30
        }
        if let frontSettings = front.settings, let backSettings = back.settings, frontSettings == backSettings {
            matchedOn.append("http2-settings")
            score += 30
        }
        // Without a clock, only the key (unique by itself) pairs across captures.
        if !sameCapture && !clocksKnown && !strong { return nil }
        if sameCapture || clocksKnown {
            guard delay >= -tolerance, delay <= options.maxForwardDelayNanos else { return nil }
        }
        guard front.method == back.method else { return nil }
        matchedOn.append("method")
        if front.target == back.target {
            matchedOn.append("target")
            score += 20
        } else if !strong {
            return nil
        }
        for (index, name) in otherHeaderNames.enumerated() {
            if let value = front.otherHeaders[index], value == back.otherHeaders[index] {
                matchedOn.append(name)
                score += 5
            }
        }
        if b.connection.client.address == f.connection.server.address {
            matchedOn.append("proxy_address")
            score += 10
        } else if !strong && !keyMatched && !matchedOn.contains("http2-settings") {
            return nil
        }
        // Something beyond method and target must agree.
        guard strong || matchedOn.count > 3 else { return nil }
        let confidence = strong ? "high" : keyMatched || matchedOn.contains("http2-settings") ? "medium" : "low"
        return Candidate(front: front.index, back: back.index, score: score, delay: max(0, delay),
                         matchedOn: matchedOn, confidence: confidence)
    }

    // MARK: The record

    static func makeRecord(_ front: Item, _ back: Item, _ candidate: Candidate, clockOffset: Int64) -> ProxiedUpgradeRecord {
        let responseDelay: Int64? = front.responseNanos.flatMap { f in back.responseNanos.map { f - $0 } }
        var responseChanges: [ProxiedUpgradeRecord.HeaderChange] = []
        if let frontResponse = front.exchange.response, let backResponse = back.exchange.response {
            responseChanges = headerChanges(from: backResponse.fields, to: frontResponse.fields, fromIsBack: true)
        }
        return ProxiedUpgradeRecord(
            front: leg(front), back: leg(back), confidence: candidate.confidence, matchedOn: candidate.matchedOn,
            requestChanges: headerChanges(from: front.exchange.request.fields, to: back.exchange.request.fields,
                                          fromIsBack: false),
            responseChanges: responseChanges, requestDelayNanos: back.requestNanos - front.requestNanos,
            responseDelayNanos: responseDelay, clockOffsetNanos: clockOffset)
    }

    static func leg(_ item: Item) -> ProxiedUpgradeRecord.Leg {
        let exchange = item.exchange
        let outcome: String, protocolName: String?
        switch exchange.outcome {
        case .switched(let name): (outcome, protocolName) = ("switched", name)
        case .declined: (outcome, protocolName) = ("declined", nil)
        case .noAnswer: (outcome, protocolName) = ("no_answer", nil)
        }
        return ProxiedUpgradeRecord.Leg(
            capture: item.captureName, connection: exchange.connection, requestLine: exchange.request.startLine,
            requestFrame: exchange.request.frame, requestTimestamp: exchange.request.timestamp, outcome: outcome,
            protocolName: protocolName, status: exchange.response?.status, responseFrame: exchange.response?.frame,
            responseTimestamp: exchange.response?.timestamp)
    }

    /// Fields grouped by lowercase name (values joined with ", "), in first-seen order.
    static func grouped(_ fields: [HTTPField]) -> [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        var position: [String: Int] = [:]
        for field in fields {
            let name = field.name.lowercased()
            if let index = position[name] {
                out[index].value += ", " + field.value
            } else {
                position[name] = out.count
                out.append((name, field.value))
            }
        }
        return out
    }

    /// What changed from the sender's copy (`from`) to what the proxy passed on (`to`), always
    /// expressed as front/back values.
    static func headerChanges(from: [HTTPField], to: [HTTPField], fromIsBack: Bool) -> [ProxiedUpgradeRecord.HeaderChange] {
        let source = grouped(from), result = grouped(to)
        let resultValues = Dictionary(result.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        let sourceNames = Set(source.map(\.name))
        var changes: [ProxiedUpgradeRecord.HeaderChange] = []
        func change(_ name: String, sent: String?, passed: String?) {
            changes.append(fromIsBack ? .init(name: name, front: passed, back: sent) : .init(name: name, front: sent, back: passed))
        }
        for (name, value) in source where resultValues[name] != value {
            change(name, sent: value, passed: resultValues[name])
        }
        for (name, value) in result where !sourceNames.contains(name) {
            change(name, sent: nil, passed: value)
        }
        return changes
    }
}
