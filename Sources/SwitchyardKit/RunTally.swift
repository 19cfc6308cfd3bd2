import Findings
import PacketCapture
import PacketDecoding
import StreamReassembly
import UpgradeAnalysis

/// One input's account, for the summary record.
public struct CaptureAccount: Sendable {
    public var name: String
    public var format: String
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    public var firstTimestamp: Timestamp?
    public var lastTimestamp: Timestamp?
    /// Why reading stopped early (truncated file, read error), if it did.
    public var error: String?
    public var decode = DecodeCounters()
    /// TCP segments the endpoints would not have acted on (see `TCPDisbelief`).
    public var tcpNotBelieved = TCPDisbelief()
    public var connections: UInt64 = 0
    public var gaps: UInt64 = 0
    public var gapBytes: UInt64 = 0
    /// libpcap's counters for a live capture (pcap_stats): packets received by the filter,
    /// dropped for lack of buffer space, dropped by the interface. Nil for files.
    public var liveReceived: UInt64?
    public var liveDropped: UInt64?
    public var liveInterfaceDropped: UInt64?

    public init(name: String, format: String) {
        self.name = name
        self.format = format
    }
}

/// What the reassembler did not believe, or believed only partly, as the endpoints would
/// (summed over a capture's workers).
public struct TCPDisbelief: Sendable, Equatable {
    public var badChecksum: UInt64 = 0
    public var badChecksumAcknowledged: UInt64 = 0
    public var lowTTLDataDropped: UInt64 = 0
    public var lowTTLDataAcknowledged: UInt64 = 0
    public var believedDespiteChecksum: UInt64 = 0
    public var resetsIgnored: UInt64 = 0
    public var resetsNotHonoured: UInt64 = 0
    public var finsNotHonoured: UInt64 = 0
    public var urgentBytesRemoved: UInt64 = 0
    public var synPayloadsNotAcknowledged: UInt64 = 0
    public var clockSteps: UInt64 = 0
    public var ackPaddingIgnored: UInt64 = 0

    public init() {}

    init(_ statistics: ReassemblyStatistics, clockSteps: UInt64) {
        badChecksum = statistics.segmentsDroppedBadChecksum
        badChecksumAcknowledged = statistics.badChecksumAcknowledged
        lowTTLDataDropped = statistics.lowTTLDataDropped
        lowTTLDataAcknowledged = statistics.lowTTLDataAcknowledged
        believedDespiteChecksum = statistics.segmentsBelievedDespiteChecksum
        resetsIgnored = statistics.resetsIgnored
        resetsNotHonoured = statistics.resetsNotHonoured
        finsNotHonoured = statistics.finsNotHonoured
        urgentBytesRemoved = statistics.urgentBytesRemoved
        synPayloadsNotAcknowledged = statistics.synPayloadsNotAcknowledged
        self.clockSteps = clockSteps
    }

    mutating func add(_ other: TCPDisbelief, countingClock: Bool = true) {
        badChecksum += other.badChecksum
        badChecksumAcknowledged += other.badChecksumAcknowledged
        lowTTLDataDropped += other.lowTTLDataDropped
        lowTTLDataAcknowledged += other.lowTTLDataAcknowledged
        believedDespiteChecksum += other.believedDespiteChecksum
        resetsIgnored += other.resetsIgnored
        resetsNotHonoured += other.resetsNotHonoured
        finsNotHonoured += other.finsNotHonoured
        urgentBytesRemoved += other.urgentBytesRemoved
        synPayloadsNotAcknowledged += other.synPayloadsNotAcknowledged
        if countingClock {
            clockSteps += other.clockSteps
            ackPaddingIgnored += other.ackPaddingIgnored   // decoded by every worker: count once
        }
    }

    func write(into json: inout JSONWriter) {
        json.beginObject()
        json.key("bad_checksum_dropped"); json.int(badChecksum)
        json.key("bad_checksum_acknowledged"); json.int(badChecksumAcknowledged)
        json.key("bad_checksum_believed_as_offload"); json.int(believedDespiteChecksum)
        json.key("low_ttl_data_dropped"); json.int(lowTTLDataDropped)
        json.key("low_ttl_data_acknowledged"); json.int(lowTTLDataAcknowledged)
        json.key("rst_ignored"); json.int(resetsIgnored)
        json.key("rst_not_honoured"); json.int(resetsNotHonoured)
        json.key("fin_not_honoured"); json.int(finsNotHonoured)
        json.key("urgent_bytes_removed"); json.int(urgentBytesRemoved)
        json.key("syn_payloads_not_acknowledged"); json.int(synPayloadsNotAcknowledged)
        json.key("capture_clock_steps"); json.int(clockSteps)
        json.key("ack_padding_ignored"); json.int(ackPaddingIgnored)
        json.endObject()
    }
}

/// Everything the run's last record (`"type": "summary"`) reports, so nothing is silently lost.
public struct RunTally: Sendable {
    public var captures: [CaptureAccount] = []
    /// Inputs that could not be read at all (name, reason).
    public var unreadable: [(name: String, reason: String)] = []
    public var http = HTTPStatistics()
    public var switchesByProtocol: [String: UInt64] = [:]
    public var upgradesDeclined: UInt64 = 0
    /// Connections that spoke a protocol from their first byte (HTTP/2 prior knowledge).
    public var priorKnowledgeByProtocol: [String: UInt64] = [:]
    public var violationsByRule: [String: UInt64] = [:]
    /// `proxied_upgrade` records (pairs of legs).
    public var proxiedUpgrades: UInt64 = 0
    public var violationsBySeverity: [String: UInt64] = [:]
    /// Findings not written because of --min-severity / --rules.
    public var suppressed: UInt64 = 0
    public var worstSeverityEmitted: Severity?

    public init() {}

    public mutating func count(_ finding: Finding) {
        switch finding {
        case .violation(let violation):
            violationsByRule[violation.rule.id, default: 0] += 1
            violationsBySeverity[violation.rule.severity.name, default: 0] += 1
        case .switched(let record):
            switchesByProtocol[record.protocolName, default: 0] += 1
        case .upgradeDeclined:
            upgradesDeclined += 1
        case .priorKnowledge(let record):
            priorKnowledgeByProtocol[record.protocolName, default: 0] += 1
        case .proxiedUpgrade:
            proxiedUpgrades += 1
        case .flow, .switchEnd:
            break
        }
    }

    /// Adds another tally's finding counts (a `--jobs` worker's) to this one.
    mutating func addCounts(_ other: RunTally) {
        switchesByProtocol.merge(other.switchesByProtocol, uniquingKeysWith: +)
        upgradesDeclined += other.upgradesDeclined
        proxiedUpgrades += other.proxiedUpgrades
        priorKnowledgeByProtocol.merge(other.priorKnowledgeByProtocol, uniquingKeysWith: +)
        violationsByRule.merge(other.violationsByRule, uniquingKeysWith: +)
        violationsBySeverity.merge(other.violationsBySeverity, uniquingKeysWith: +)
        suppressed += other.suppressed
    }

    public var totalPackets: UInt64 { captures.reduce(0) { $0 + $1.packets } }

    /// The last packet time of every capture read (nil when none had a packet).
    public var lastTimestamp: Timestamp? { captures.compactMap(\.lastTimestamp).max() }

    public func writeSummary(into json: inout JSONWriter) {
        let first = captures.compactMap(\.firstTimestamp).min()
        let last = lastTimestamp
        json.beginObject()
        json.key("type"); json.string("summary")
        json.key("ts"); json.string((last ?? Timestamp.zero).rfc3339)
        json.key("capture"); json.string(captures.count == 1 ? captures[0].name : "*")
        json.key("schema_version"); json.int(OutputSchema.version)
        json.key("first_ts")
        if let first { json.string(first.rfc3339) } else { json.null() }
        json.key("last_ts")
        if let last { json.string(last.rfc3339) } else { json.null() }
        json.key("captures")
        json.beginArray()
        for account in captures { writeAccount(account, into: &json) }
        json.endArray()
        json.key("unreadable")
        json.beginArray()
        for entry in unreadable {
            json.beginObject()
            json.key("capture"); json.string(entry.name)
            json.key("error"); json.string(entry.reason)
            json.endObject()
        }
        json.endArray()
        var total = CaptureAccount(name: "*", format: "")
        for account in captures {
            total.packets += account.packets
            total.bytes += account.bytes
            total.decode.add(account.decode)
            total.tcpNotBelieved.add(account.tcpNotBelieved)
            total.connections += account.connections
            total.gaps += account.gaps
            total.gapBytes += account.gapBytes
        }
        json.key("packets"); json.int(total.packets)
        json.key("bytes"); json.int(total.bytes)
        json.key("packet_disposition"); writeDisposition(total.decode, into: &json)
        json.key("tcp_not_believed"); total.tcpNotBelieved.write(into: &json)
        json.key("ip_defragmentation"); writeDefragmentation(total.decode, into: &json)
        json.key("connections"); json.int(total.connections)
        json.key("gaps"); json.int(total.gaps)
        json.key("gap_bytes"); json.int(total.gapBytes)
        json.key("http_messages")
        json.beginObject()
        json.key("requests"); json.int(http.requests)
        json.key("responses"); json.int(http.responses)
        json.key("non_http_directions"); json.int(http.nonHTTPDirections)
        json.key("parse_errors"); writeCounts(http.parseErrors, into: &json)
        json.endObject()
        json.key("switches"); json.int(switchesByProtocol.values.reduce(0, +))
        json.key("switches_by_protocol"); writeCounts(switchesByProtocol, into: &json)
        json.key("upgrades_declined"); json.int(upgradesDeclined)
        // Only when pairs were found, so that runs without proxies keep their summary as it was.
        if proxiedUpgrades > 0 { json.key("proxied_upgrades"); json.int(proxiedUpgrades) }
        json.key("prior_knowledge_by_protocol"); writeCounts(priorKnowledgeByProtocol, into: &json)
        json.key("violations"); json.int(violationsByRule.values.reduce(0, +))
        json.key("violations_by_severity"); writeCounts(violationsBySeverity, into: &json)
        json.key("violations_by_rule"); writeCounts(violationsByRule, into: &json)
        json.key("suppressed_findings"); json.int(suppressed)
        json.endObject()
    }

    private func writeAccount(_ account: CaptureAccount, into json: inout JSONWriter) {
        json.beginObject()
        json.key("capture"); json.string(account.name)
        json.key("format"); json.string(account.format)
        json.key("packets"); json.int(account.packets)
        json.key("bytes"); json.int(account.bytes)
        json.key("packet_disposition"); writeDisposition(account.decode, into: &json)
        json.key("tcp_not_believed"); account.tcpNotBelieved.write(into: &json)
        json.key("ip_defragmentation"); writeDefragmentation(account.decode, into: &json)
        json.key("connections"); json.int(account.connections)
        if let received = account.liveReceived, let dropped = account.liveDropped,
           let interfaceDropped = account.liveInterfaceDropped {
            json.key("pcap_stats")
            json.beginObject()
            json.key("received"); json.int(received)
            json.key("dropped"); json.int(dropped)
            json.key("interface_dropped"); json.int(interfaceDropped)
            json.endObject()
        }
        json.key("error")
        if let error = account.error { json.string(error) } else { json.null() }
        json.endObject()
    }

    /// Where every packet went; the values add up to `packets`.
    private func writeDisposition(_ decode: DecodeCounters, into json: inout JSONWriter) {
        json.beginObject()
        json.key("tcp"); json.int(decode.tcpSegments)
        for reason in SkipReason.allCases {
            json.key(reason.name); json.int(decode[reason])
        }
        if !decode.unsupportedLinkTypes.isEmpty {
            json.key("unsupported_link_types")
            json.beginObject()
            for (type, count) in decode.unsupportedLinkTypes.sorted(by: { $0.key < $1.key }) {
                json.key(LinkType(rawValue: type).description); json.int(count)
            }
            json.endObject()
        }
        json.endObject()
    }

    /// What became of the IP datagrams that arrived in fragments.
    private func writeDefragmentation(_ decode: DecodeCounters, into json: inout JSONWriter) {
        json.beginObject()
        json.key("reassembled"); json.int(decode.fragmentDatagramsReassembled)
        json.key("timed_out"); json.int(decode.fragmentDatagramsTimedOut)
        json.key("evicted"); json.int(decode.fragmentDatagramsEvicted)
        json.key("discarded_for_overlap"); json.int(decode.fragmentDatagramsDiscardedForOverlap)
        json.key("incomplete_at_end"); json.int(decode.fragmentDatagramsIncomplete)
        json.endObject()
    }

    private func writeCounts(_ counts: [String: UInt64], into json: inout JSONWriter) {
        json.beginObject()
        for (key, value) in counts.sorted(by: { $0.key < $1.key }) {
            json.key(key); json.int(value)
        }
        json.endObject()
    }
}
