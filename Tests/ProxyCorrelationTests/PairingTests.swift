import XCTest
import Findings
import HTTP1
import PacketCapture
import PacketDecoding
@testable import ProxyCorrelation
import UpgradeAnalysis

/// The pairing from values: exchanges as the trackers hand them over, legs built by hand.
final class PairingTests: XCTestCase {
    // Addresses: clients 10.0.0.x, the proxy 192.0.2.1 (front :80, back from :4xxxx), backend 198.51.100.7:8080.
    static let proxy = IPAddress(ipv4: 0xC000_0201)
    static func endpoint(_ address: UInt32, _ port: UInt16) -> Endpoint { Endpoint(address: IPAddress(ipv4: address), port: port) }
    static func front(_ clientPort: UInt16) -> ConnectionRef {
        ConnectionRef(client: endpoint(0x0A00_0001, clientPort), server: Endpoint(address: proxy, port: 80), partial: false)
    }
    static func back(_ proxyPort: UInt16) -> ConnectionRef {
        ConnectionRef(client: Endpoint(address: proxy, port: proxyPort), server: endpoint(0xC633_6407, 8080), partial: false)
    }

    static func time(_ milliseconds: Int64) -> Timestamp {
        let nanos = 1_800_000_000_000_000_000 + milliseconds * 1_000_000
        return Timestamp(seconds: nanos / 1_000_000_000, nanoseconds: UInt32(nanos % 1_000_000_000))
    }

    static func request(_ target: String = "/chat", key: String? = nil, upgrade: String? = "websocket",
                        extra: [HTTPField] = [], at milliseconds: Int64, frame: UInt64) -> UpgradeExchange.Head {
        var fields = [HTTPField(name: "Host", value: "example.test")]
        if let upgrade {
            fields.append(HTTPField(name: "Upgrade", value: upgrade))
            fields.append(HTTPField(name: "Connection", value: "Upgrade"))
        }
        if let key { fields.append(HTTPField(name: "Sec-WebSocket-Key", value: key)) }
        fields += extra
        return UpgradeExchange.Head(startLine: "GET \(target) HTTP/1.1", method: "GET", target: target, fields: fields,
                                    frame: frame, timestamp: time(milliseconds))
    }

    static func response(_ status: Int, upgrade: String? = "websocket", at milliseconds: Int64, frame: UInt64)
        -> UpgradeExchange.Head {
        var fields: [HTTPField] = []
        if status == 101, let upgrade {
            fields = [HTTPField(name: "Upgrade", value: upgrade), HTTPField(name: "Connection", value: "Upgrade")]
        }
        return UpgradeExchange.Head(startLine: "HTTP/1.1 \(status) x", status: status, fields: fields, frame: frame,
                                    timestamp: time(milliseconds))
    }

    static func exchange(_ connection: ConnectionRef, sequence: UInt64 = 0, _ request: UpgradeExchange.Head,
                         _ response: UpgradeExchange.Head?, followUp: UpgradeExchange.FollowUp? = nil) -> UpgradeExchange {
        let outcome: UpgradeExchange.Outcome
        if let response {
            outcome = response.status == 101 ? .switched(response.value("upgrade")?.lowercased() ?? "unknown")
                : .declined(response.status ?? 0)
        } else {
            outcome = .noAnswer
        }
        return UpgradeExchange(connection: connection, sequence: sequence, request: request, response: response,
                               outcome: outcome, followUp: followUp)
    }

    private func pairs(_ entries: [ExchangeCollector.Entry], captures: [String] = ["c"])
        -> (records: [ProxiedUpgradeRecord], rules: [String]) {
        let output = ProxyCorrelator.correlate(entries, captureOrder: captures)
        var records: [ProxiedUpgradeRecord] = []
        var rules: [String] = []
        for (finding, _) in output.findings {
            if case .proxiedUpgrade(let record) = finding { records.append(record) }
            if case .violation(let violation) = finding { rules.append(violation.rule.id) }
        }
        return (records, rules.sorted())
    }

    private func entries(_ exchanges: [UpgradeExchange], capture: String = "c") -> [ExchangeCollector.Entry] {
        exchanges.map { ExchangeCollector.Entry(capture: capture, exchange: $0) }
    }

    /// Three WebSocket upgrades through one proxy, their legs interleaved in time: each back leg
    /// pairs with the front leg of its key, whatever the order the exchanges arrive in.
    func testInterleavedUpgradesPairByKey() {
        let keys = ["AAAAAAAAAAAAAAAAAAAAAA==", "BBBBBBBBBBBBBBBBBBBBBB==", "CCCCCCCCCCCCCCCCCCCCCC=="]
        var exchanges: [UpgradeExchange] = []
        for (i, key) in keys.enumerated() {
            let start = Int64(i) * 2   // front requests at 0, 2, 4 ms; back requests at 5, 6, 7 ms (reversed)
            let backStart = Int64(9 - i * 1)
            exchanges.append(Self.exchange(Self.front(50_000 + UInt16(i)), Self.request(key: key, at: start, frame: UInt64(i)),
                                           Self.response(101, at: 20 + start, frame: 100 + UInt64(i))))
            exchanges.append(Self.exchange(Self.back(40_000 + UInt16(i)), Self.request(key: key, at: backStart, frame: 10 + UInt64(i)),
                                           Self.response(101, at: 15 + start, frame: 50 + UInt64(i))))
        }
        for order in [exchanges, exchanges.reversed()] {
            let result = pairs(entries(order))
            XCTAssertEqual(result.records.count, 3)
            XCTAssertEqual(result.rules, [])
            for record in result.records {
                XCTAssertEqual(record.confidence, "high")
                XCTAssertEqual(record.front.connection.server.port, 80)
                XCTAssertEqual(record.back.connection.server.port, 8080)
                XCTAssertEqual(record.front.requestFrame + 10, record.back.requestFrame, "paired with its own key")
            }
        }
    }

    /// Without keys (h2c-like requests with the same HTTP2-Settings), upgrades one after another
    /// pair by time: each back request with the front request just before it.
    func testUpgradesWithoutKeysPairInTimeOrder() {
        let settings = HTTPField(name: "HTTP2-Settings", value: "AAMAAABkAAQAoAAAAAIAAAAA")
        var exchanges: [UpgradeExchange] = []
        for i in 0..<3 {
            let t = Int64(i) * 100
            exchanges.append(Self.exchange(Self.front(50_000 + UInt16(i)),
                                           Self.request("/", upgrade: "h2c", extra: [settings], at: t, frame: UInt64(i * 10)),
                                           Self.response(101, upgrade: "h2c", at: t + 10, frame: UInt64(i * 10 + 3))))
            exchanges.append(Self.exchange(Self.back(40_000 + UInt16(i)),
                                           Self.request("/", upgrade: "h2c", extra: [settings], at: t + 2, frame: UInt64(i * 10 + 1)),
                                           Self.response(101, upgrade: "h2c", at: t + 8, frame: UInt64(i * 10 + 2))))
        }
        let result = pairs(entries(exchanges))
        XCTAssertEqual(result.records.count, 3)
        for record in result.records {
            XCTAssertEqual(record.back.requestFrame, record.front.requestFrame + 1)
            XCTAssertEqual(record.confidence, "medium")
            XCTAssertEqual(record.requestDelayNanos, 2_000_000)
            XCTAssertEqual(record.responseDelayNanos, 2_000_000)
        }
        XCTAssertEqual(result.rules, Array(repeating: "proxy_h2c_upgrade_forwarded", count: 3))
    }

    /// A proxy that keeps one back-end connection: two clients' upgrades travel on it one after
    /// the other (sequence 0 declined, sequence 1 switched).
    func testBackConnectionReusedForTwoUpgrades() {
        let back = Self.back(40_000)
        let exchanges = [
            Self.exchange(Self.front(50_000), Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: 0, frame: 1),
                          Self.response(403, at: 5, frame: 4)),
            Self.exchange(back, sequence: 0, Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: 1, frame: 2),
                          Self.response(403, at: 4, frame: 3)),
            Self.exchange(Self.front(50_001), Self.request(key: "BBBBBBBBBBBBBBBBBBBBBB==", at: 10, frame: 5),
                          Self.response(101, at: 15, frame: 8)),
            Self.exchange(back, sequence: 1, Self.request(key: "BBBBBBBBBBBBBBBBBBBBBB==", at: 11, frame: 6),
                          Self.response(101, at: 14, frame: 7)),
        ]
        let result = pairs(entries(exchanges))
        XCTAssertEqual(result.records.map(\.front.outcome), ["declined", "switched"])
        XCTAssertEqual(result.records.map(\.back.connection), [back, back])
        XCTAssertEqual(result.rules, [])
    }

    /// One leg only (a capture on the client, or a direct connection): no pair, no finding.
    /// Nor do two clients of the same server pair with each other.
    func testOneLegAloneMakesNoPair() {
        let direct = ConnectionRef(client: Self.endpoint(0x0A00_0009, 50_009), server: Self.endpoint(0xC633_6407, 8080), partial: false)
        XCTAssertEqual(pairs(entries([Self.exchange(Self.front(50_000), Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: 0, frame: 1),
                                                    Self.response(101, at: 2, frame: 2))])).records.count, 0)
        let twoClients = [
            Self.exchange(Self.back(40_000), Self.request("/", upgrade: "h2c", at: 0, frame: 1), Self.response(101, upgrade: "h2c", at: 3, frame: 3)),
            Self.exchange(direct, Self.request("/", upgrade: "h2c", at: 1, frame: 2), Self.response(101, upgrade: "h2c", at: 2, frame: 4)),
        ]
        XCTAssertEqual(pairs(entries(twoClients)).records.count, 0)
        // Different keys never pair, however close in time.
        let otherKeys = [
            Self.exchange(Self.front(50_000), Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: 0, frame: 1), nil),
            Self.exchange(Self.back(40_000), Self.request(key: "BBBBBBBBBBBBBBBBBBBBBB==", at: 1, frame: 2), nil),
        ]
        XCTAssertEqual(pairs(entries(otherKeys)).records.count, 0)
    }

    /// A front-side and a back-side capture whose clocks differ by an hour: the offset is
    /// estimated from the key-matched pairs, and then also pairs an exchange without a key and
    /// catches a 101 sent to the client before the backend's.
    func testClockOffsetBetweenTwoCapturesIsEstimated() {
        let offset: Int64 = 3_600_000   // the back-side capture's clock is one hour ahead
        var front: [UpgradeExchange] = [], back: [UpgradeExchange] = []
        for i in 0..<3 {
            let key = String(repeating: ["A", "B", "C"][i], count: 22) + "=="
            let t = Int64(i) * 50
            front.append(Self.exchange(Self.front(50_000 + UInt16(i)), Self.request(key: key, at: t, frame: UInt64(i)),
                                       Self.response(101, at: t + 10, frame: 10 + UInt64(i))))
            back.append(Self.exchange(Self.back(40_000 + UInt16(i)), Self.request(key: key, at: offset + t + 3, frame: UInt64(i)),
                                      Self.response(101, at: offset + t + 7, frame: 10 + UInt64(i))))
        }
        // No key: same target, user agent and settings; the proxy answered before the backend did.
        let ua = HTTPField(name: "User-Agent", value: "curl/7.88.1")
        let settings = HTTPField(name: "HTTP2-Settings", value: "AAMAAABkAAQAoAAAAAIAAAAA")
        front.append(Self.exchange(Self.front(50_010), Self.request("/h2", upgrade: "h2c", extra: [ua, settings], at: 500, frame: 20),
                                   Self.response(101, upgrade: "h2c", at: 501, frame: 21)))
        back.append(Self.exchange(Self.back(40_010), Self.request("/h2", upgrade: "h2c", extra: [ua, settings], at: offset + 520, frame: 20),
                                  Self.response(101, upgrade: "h2c", at: offset + 540, frame: 21)))
        let all = entries(front, capture: "front.pcap") + entries(back, capture: "back.pcap")
        let result = pairs(all, captures: ["front.pcap", "back.pcap"])
        XCTAssertEqual(result.records.count, 4)
        for record in result.records {
            XCTAssertEqual(record.front.capture, "front.pcap")
            XCTAssertEqual(record.back.capture, "back.pcap")
            // The estimate: the median of the midpoint differences (all -3600 s exactly here,
            // the h2c pair's settings included).
            XCTAssertEqual(record.clockOffsetNanos, -offset * 1_000_000, accuracy: 10_000_000)
        }
        XCTAssertTrue(result.rules.contains("proxy_101_not_from_backend"), "\(result.rules)")
        XCTAssertTrue(result.rules.contains("proxy_h2c_upgrade_forwarded"))
        // Without any key across the captures the clocks cannot be related: only keyed pairs would be made.
        let unrelated = entries([front[3]], capture: "front.pcap") + entries([back[3]], capture: "back.pcap")
        XCTAssertEqual(pairs(unrelated, captures: ["front.pcap", "back.pcap"]).records.count, 1,
                       "HTTP2-Settings sets the offset for the h2c pair itself")
        var noSettings = [front[3], back[3]]
        for index in noSettings.indices {
            noSettings[index].request.fields.removeAll { $0.name == "HTTP2-Settings" }
        }
        let clockless = entries([noSettings[0]], capture: "front.pcap") + entries([noSettings[1]], capture: "back.pcap")
        XCTAssertEqual(pairs(clockless, captures: ["front.pcap", "back.pcap"]).records.count, 0)
    }

    /// The backend switched, the client was refused or got nothing: proxy_backend_switched_alone.
    func testBackendSwitchedAlone() {
        for front in [Self.response(403, at: 5, frame: 4), nil] {
            let result = pairs(entries([
                Self.exchange(Self.front(50_000), Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: 0, frame: 1), front),
                Self.exchange(Self.back(40_000), Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: 1, frame: 2),
                              Self.response(101, at: 4, frame: 3)),
            ]))
            XCTAssertEqual(result.rules, ["proxy_backend_switched_alone"])
        }
    }

    /// The RFC 6455 sample key (which tools and test captures send) or a key seen more than
    /// twice identifies no upgrade: such legs pair only as a proxy's legs otherwise would
    /// (medium confidence), and never across two captures, where it cannot set the clock.
    func testSampleOrRepeatedKeysAreNotUnique() {
        let sample = "dGhlIHNhbXBsZSBub25jZQ=="
        let sameCapture = pairs(entries([
            Self.exchange(Self.front(50_000), Self.request(key: sample, at: 0, frame: 1), Self.response(101, at: 5, frame: 4)),
            Self.exchange(Self.back(40_000), Self.request(key: sample, at: 1, frame: 2), Self.response(101, at: 4, frame: 3)),
        ]))
        XCTAssertEqual(sameCapture.records.map(\.confidence), ["medium"])
        // Two unrelated captures a year apart, both using the sample key: no pair.
        let unrelated = entries([Self.exchange(Self.front(50_000), Self.request(key: sample, at: 0, frame: 1),
                                               Self.response(101, at: 5, frame: 2))], capture: "a.pcap")
            + entries([Self.exchange(Self.back(40_000), Self.request(key: sample, at: 31_536_000_000, frame: 1),
                                     Self.response(101, at: 31_536_000_004, frame: 2))], capture: "b.pcap")
        XCTAssertEqual(pairs(unrelated, captures: ["a.pcap", "b.pcap"]).records.count, 0)
        // A random key seen three times (a client that reuses it) is not unique either.
        let key = "AAAAAAAAAAAAAAAAAAAAAA=="
        let repeated = pairs(entries([
            Self.exchange(Self.front(50_000), Self.request(key: key, at: 0, frame: 1), Self.response(101, at: 5, frame: 4)),
            Self.exchange(Self.back(40_000), Self.request(key: key, at: 1, frame: 2), Self.response(101, at: 4, frame: 3)),
            Self.exchange(Self.front(50_001), Self.request(key: key, at: 60_000, frame: 5), nil),
        ]))
        XCTAssertEqual(repeated.records.map(\.confidence), ["medium"])
    }

    /// The tunnel rule needs the client's next message relayed byte for byte: a proxy that
    /// adds one header after the decline is not a tunnel.
    func testTunnelAfterDeclineNeedsAVerbatimRelay() {
        let next = UpgradeExchange.Head(startLine: "GET /internal HTTP/1.1", method: "GET", target: "/internal",
                                        fields: [HTTPField(name: "Host", value: "example.test")], frame: 9, timestamp: Self.time(30))
        var relayed = next
        relayed.frame = 10
        relayed.timestamp = Self.time(31)
        var rewritten = relayed
        rewritten.fields.append(HTTPField(name: "Via", value: "1.1 proxy"))
        func run(_ backNext: UpgradeExchange.Head) -> [String] {
            pairs(entries([
                Self.exchange(Self.front(50_000), Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: 0, frame: 1),
                              Self.response(200, at: 5, frame: 4), followUp: .request(next)),
                Self.exchange(Self.back(40_000), Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: 1, frame: 2),
                              Self.response(200, at: 4, frame: 3), followUp: .request(backNext)),
            ])).rules
        }
        XCTAssertEqual(run(relayed), ["proxy_tunnel_after_declined_upgrade"])
        XCTAssertEqual(run(rewritten), [])
        var off = ProxyCorrelationOptions()
        off.disabledRules = ["proxy_tunnel_after_declined_upgrade"]
        let disabled = ProxyCorrelator.correlate(entries([
            Self.exchange(Self.front(50_000), Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: 0, frame: 1),
                          Self.response(200, at: 5, frame: 4), followUp: .request(next)),
            Self.exchange(Self.back(40_000), Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: 1, frame: 2),
                          Self.response(200, at: 4, frame: 3), followUp: .request(relayed)),
        ]), captureOrder: ["c"], options: off)
        XCTAssertEqual(disabled.findings.count, 1, "the pair, without the switched-off rule")

        // Non-HTTP bytes after the decline (WebSocket frames sent anyway), the same on both legs.
        let frame: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        func runBytes(_ back: [UInt8]) -> [String] {
            pairs(entries([
                Self.exchange(Self.front(50_000), Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: 0, frame: 1),
                              Self.response(426, at: 5, frame: 4), followUp: .bytes(frame, frame: 5, timestamp: Self.time(6))),
                Self.exchange(Self.back(40_000), Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: 1, frame: 2),
                              Self.response(426, at: 4, frame: 3), followUp: .bytes(back, frame: 6, timestamp: Self.time(7))),
            ])).rules
        }
        XCTAssertEqual(runBytes(frame), ["proxy_tunnel_after_declined_upgrade"])
        XCTAssertEqual(runBytes([0x81, 0x85, 0, 0, 0, 0]), [])
    }

    /// The proxy strips Upgrade and Connection but passes the key on: paired on the key, and
    /// the negotiation change reported; the record lists every header change.
    func testStrippedUpgradeIsReported() {
        let key = "AAAAAAAAAAAAAAAAAAAAAA=="
        let result = pairs(entries([
            Self.exchange(Self.front(50_000), Self.request(key: key, at: 0, frame: 1), Self.response(426, at: 5, frame: 4)),
            Self.exchange(Self.back(40_000), Self.request(key: key, upgrade: nil, extra: [HTTPField(name: "X-Real-IP", value: "10.0.0.1")],
                                                           at: 1, frame: 2),
                          Self.response(426, at: 4, frame: 3)),
        ]))
        XCTAssertEqual(result.rules, ["proxy_upgrade_headers_altered"])
        XCTAssertEqual(result.records.first?.requestChanges.map(\.kind), ["removed", "removed", "added"])
        XCTAssertEqual(result.records.first?.requestChanges.map(\.name), ["upgrade", "connection", "x-real-ip"])
    }

    /// Many look-alike upgrades (one client program, one target, one settings value) through
    /// a proxy: the candidates kept stay within a few per exchange, and every leg still pairs
    /// with the nearest one in time.
    func testLookAlikeUpgradesKeepFewCandidates() {
        let settings = HTTPField(name: "HTTP2-Settings", value: "AAMAAABkAAQCAAAAAAIAAAAA")
        var exchanges: [UpgradeExchange] = []
        for i in 0..<150 {
            let t = Int64(i) * 10
            exchanges.append(Self.exchange(Self.front(UInt16(10_000 + i)),
                                           Self.request("/", upgrade: "h2c", extra: [settings], at: t, frame: UInt64(4 * i)),
                                           Self.response(101, upgrade: "h2c", at: t + 4, frame: UInt64(4 * i + 3))))
            exchanges.append(Self.exchange(Self.back(UInt16(30_000 + i)),
                                           Self.request("/", upgrade: "h2c", extra: [settings], at: t + 1, frame: UInt64(4 * i + 1)),
                                           Self.response(101, upgrade: "h2c", at: t + 3, frame: UInt64(4 * i + 2))))
        }
        let items = ProxyCorrelator.makeItems(entries(exchanges), captureOrder: ["c"])
        let candidates = ProxyCorrelator.findCandidates(items, offsets: [0: 0], tolerances: [0: 0], options: ProxyCorrelationOptions())
        XCTAssertLessThanOrEqual(candidates.count, 8 * items.count)
        let result = pairs(entries(exchanges))
        XCTAssertEqual(result.records.count, 150)
        XCTAssertTrue(result.records.allSatisfy { $0.back.requestFrame == $0.front.requestFrame + 1 })
    }

    /// The collector's bound: past it exchanges are dropped and one limit finding names it.
    func testCollectorIsBounded() {
        let collector = ExchangeCollector(capture: "c", byteLimit: 1_000)
        for i in 0..<20 {
            collector.exchange(Self.exchange(Self.front(50_000 + UInt16(i)), Self.request(key: "AAAAAAAAAAAAAAAAAAAAAA==", at: Int64(i), frame: UInt64(i)), nil))
        }
        XCTAssertLessThanOrEqual(collector.bytes, 1_000)
        XCTAssertGreaterThan(collector.dropped, 0)
        XCTAssertEqual(collector.entries.count + Int(collector.dropped), 20)
        guard case .violation(let violation)? = collector.limitFinding()?.finding else { return XCTFail("no limit finding") }
        XCTAssertEqual(violation.rule.id, "analyzer_limit_reached")
        XCTAssertEqual(violation.evidence.entries.first?.value, .text("proxy_pairing_bytes"))
        let run = ExchangeCollector(capture: "", byteLimit: 1_000)
        run.absorb(collector)
        XCTAssertEqual(run.dropped, collector.dropped)
    }
}
