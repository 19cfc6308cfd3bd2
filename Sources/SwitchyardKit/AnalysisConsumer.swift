import Findings
import PacketCapture
import PacketDecoding
import ProxyCorrelation
import StreamReassembly
import UpgradeAnalysis

/// Runs one `UpgradeTracker` per connection and forwards every finding to the sink.
struct AnalysisConsumer<Sink: FindingSink>: PipelineConsumer {
    var sink: Sink
    let capture: String
    let options: UpgradeAnalysisOptions
    /// Keeps each connection's upgrade exchanges for the proxy correlation at the end of the run.
    let exchanges: ExchangeCollector?
    /// Trackers by the reassembler's connection slot (`Connection.slot`): dense and reused
    /// only after `connectionClosed`, so an array index replaces a hash lookup per chunk.
    private var trackers: [UpgradeTracker?] = []
    /// The same trackers, unretained, for the per-chunk path: loading a class reference from
    /// `trackers` costs a retain and a release per chunk; `trackers` keeps them alive.
    private var trackerRefs: [Unmanaged<UpgradeTracker>?] = []
    /// Connections with a tracker now.
    var liveTrackers: Int { trackers.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    var http = HTTPStatistics()
    var connections: UInt64 = 0

    init(sink: Sink, capture: String, options: UpgradeAnalysisOptions, exchanges: ExchangeCollector? = nil) {
        self.sink = sink
        self.capture = capture
        self.options = options
        self.exchanges = exchanges
    }

    private mutating func drain(_ tracker: UpgradeTracker) {
        guard tracker.hasFindings else { return }
        for finding in tracker.takeFindings() { sink.emit(finding, capture: capture) }
    }

    private mutating func drain(_ ref: Unmanaged<UpgradeTracker>) {
        guard ref._withUnsafeGuaranteedRef({ $0.hasFindings }) else { return }
        for finding in ref._withUnsafeGuaranteedRef({ $0.takeFindings() }) { sink.emit(finding, capture: capture) }
    }

    mutating func connectionOpened(_ connection: Connection) {
        connections += 1
    }

    /// The connection's tracker, made at its first stream event: a connection that never
    /// carries data (a SYN flood, a port scan) costs no tracker, which is most of the
    /// memory of a connection, so the table limit bounds far less memory for such floods.
    @inline(__always)
    private mutating func tracker(_ connection: Connection) -> Unmanaged<UpgradeTracker> {
        let slot = connection.slot
        if slot < trackerRefs.count, let tracker = trackerRefs[slot] { return tracker }
        return makeTracker(connection)
    }

    private mutating func makeTracker(_ connection: Connection) -> Unmanaged<UpgradeTracker> {
        let tracker = UpgradeTracker(connection: ConnectionRef(connection), options: options, exchangeObserver: exchanges)
        if connection.slot >= trackers.count {
            trackers.append(contentsOf: repeatElement(nil, count: connection.slot + 1 - trackers.count))
            trackerRefs.append(contentsOf: repeatElement(nil, count: connection.slot + 1 - trackerRefs.count))
        }
        trackers[connection.slot] = tracker
        trackerRefs[connection.slot] = Unmanaged.passUnretained(tracker)
        return Unmanaged.passUnretained(tracker)
    }

    mutating func streamData(_ connection: Connection, _ direction: Direction, _ bytes: UnsafeRawBufferPointer,
                             frame: UInt64, timestamp: Timestamp) {
        let tracker = tracker(connection)
        tracker._withUnsafeGuaranteedRef { $0.data(direction, bytes, frame: frame, timestamp: timestamp) }
        drain(tracker)
    }

    mutating func streamGap(_ connection: Connection, _ direction: Direction, length: UInt64,
                            frame: UInt64, timestamp: Timestamp) {
        let tracker = tracker(connection)
        tracker._withUnsafeGuaranteedRef { $0.gap(direction, length: length, frame: frame, timestamp: timestamp) }
        drain(tracker)
    }

    mutating func streamEnd(_ connection: Connection, _ direction: Direction, frame: UInt64, timestamp: Timestamp) {
        // Nothing was sent: nothing to end.
        guard connection.slot < trackers.count, let tracker = trackers[connection.slot] else { return }
        tracker.end(direction, frame: frame, timestamp: timestamp)
        drain(tracker)
    }

    mutating func connectionClosed(_ summary: ConnectionSummary) {
        let slot = summary.connection.slot
        guard slot < trackers.count, let tracker = trackers[slot] else { return }
        trackers[slot] = nil
        trackerRefs[slot] = nil
        tracker.close(lastTimestamp: summary.lastTimestamp)
        drain(tracker)
        http.add(tracker.statistics)
    }

    mutating func reassemblyFinding(_ finding: ReassemblyFinding) {
        sink.emit(.violation(Violation(finding)), capture: capture)
    }

    mutating func decodeNotice(_ notice: DecodeNotice) {
        sink.emit(.violation(Violation(notice)), capture: capture)
    }
}

extension Violation {
    /// Decoder notices become catalogue violations without a connection: an IP datagram's
    /// fragments are not yet a TCP connection.
    init(_ notice: DecodeNotice) {
        switch notice.kind {
        case .fragmentOverlapConflict(let overlap):
            let fate = overlap.datagramDiscarded
                ? "the datagram was discarded, as Linux does for any partial overlap (RFC 5722)"
                : "the later fragment lay inside bytes already received and was ignored, as Linux does; the first copy was kept"
            self.init(rule: .ipFragmentOverlapConflict,
                      message: "Overlapping fragments of IP datagram \(overlap.identification) from \(overlap.source) to \(overlap.destination) carried different bytes at offset \(overlap.offset); \(fate).",
                      timestamp: notice.timestamp, frame: notice.frame, direction: nil, connection: nil,
                      evidence: ["source": .text(overlap.source.description),
                                 "destination": .text(overlap.destination.description),
                                 "identification": .integer(Int64(overlap.identification)),
                                 "offset": .integer(Int64(overlap.offset)),
                                 "first_frame": .integer(Int64(overlap.firstFrame)),
                                 "first_bytes": .bytes(overlap.firstBytes),
                                 "second_bytes": .bytes(overlap.secondBytes),
                                 "datagram_discarded": .flag(overlap.datagramDiscarded)])
        case .limitReached(let limit, let detail):
            self.init(rule: .analyzerLimitReached, message: "Limit \(limit) reached: \(detail).",
                      timestamp: notice.timestamp, frame: notice.frame, direction: nil, connection: nil,
                      evidence: ["limit": .text(limit), "detail": .text(detail)])
        }
    }
}

extension ConnectionRef {
    init(_ connection: Connection) {
        self.init(client: connection.client, server: connection.server, partial: connection.partial,
                  flowID: FlowIdentity.flowID(connection.client, connection.server,
                                              firstTimestamp: connection.firstTimestamp))
    }
}

extension Violation {
    /// Reassembly findings become catalogue violations.
    init(_ finding: ReassemblyFinding) {
        let connection = ConnectionRef(finding.connection)
        switch finding.kind {
        case .overlapConflict(let sequenceNumber, let kept, let discarded, let keptFrame):
            self.init(rule: .tcpOverlapConflict,
                      message: "Overlapping TCP segments carried different bytes at sequence number \(sequenceNumber); the first version (frame \(keptFrame)) was kept.",
                      timestamp: finding.timestamp, frame: finding.frame, direction: finding.direction.name,
                      connection: connection,
                      evidence: ["sequence_number": .integer(Int64(sequenceNumber)), "kept_frame": .integer(Int64(keptFrame)),
                                 "kept_bytes": .bytes(kept), "discarded_bytes": .bytes(discarded)])
        case .limitReached(let limit, let detail):
            self.init(rule: .analyzerLimitReached, message: "Limit \(limit) reached: \(detail).",
                      timestamp: finding.timestamp, frame: finding.frame, direction: finding.direction.name,
                      connection: connection, evidence: ["limit": .text(limit), "detail": .text(detail)])
        case .segmentNotBelieved(let ignored):
            var evidence: Evidence = [
                "reason": .text(ignored.reason.rawValue),
                "sequence_number": .integer(Int64(ignored.sequenceNumber)),
                "tcp_flags": .text(ignored.flags.names),
                "payload_length": .integer(Int64(ignored.payloadLength)),
                "payload_prefix": .bytes(ignored.payloadPrefix),
                "effect": .text(ignored.effect),
            ]
            if let expected = ignored.expectedSequenceNumber {
                evidence.append("expected_sequence_number", .integer(Int64(expected)))
            }
            let rule: Rule
            let what: String
            switch ignored.reason {
            case .badChecksum:
                rule = .tcpBadChecksumIgnored
                evidence.append("checksum", .text(ignored.checksum.name))
                what = "A packet with a wrong checksum (\(ignored.checksum.name)) was not believed"
            case .ttlBelowDirection:
                rule = .tcpLowTTLDataIgnored
                what = "Data sent with a lower IP TTL than the rest of its direction never reached the receiver"
            case .resetOutOfWindow, .resetNotAtExpectedSequence, .resetNotAcknowledgingSYN:
                rule = .tcpRSTIgnored
                what = "An RST at sequence number \(ignored.sequenceNumber) was not believed (\(ignored.reason.rawValue))"
            }
            self.init(rule: rule, message: "\(what): \(ignored.effect).",
                      timestamp: finding.timestamp, frame: finding.frame, direction: finding.direction.name,
                      connection: connection, evidence: evidence)
        case .resetNotHonoured(let resetFrame, let sequenceNumber, let laterFlags):
            self.init(rule: .tcpRSTNotHonoured,
                      message: "The RST of frame \(resetFrame) was followed by this \(laterFlags.names) segment from its own sender; the connection went on.",
                      timestamp: finding.timestamp, frame: finding.frame, direction: finding.direction.name,
                      connection: connection,
                      evidence: ["reset_frame": .integer(Int64(resetFrame)),
                                 "reset_sequence_number": .integer(Int64(sequenceNumber)),
                                 "later_tcp_flags": .text(laterFlags.names)])
        case .finNotHonoured(let finFrame, let sequenceNumber):
            self.init(rule: .tcpFINNotHonoured,
                      message: "The FIN of frame \(finFrame) was followed by data past it from its own sender before it was acknowledged; the stream went on.",
                      timestamp: finding.timestamp, frame: finding.frame, direction: finding.direction.name,
                      connection: connection,
                      evidence: ["fin_frame": .integer(Int64(finFrame)), "fin_sequence_number": .integer(Int64(sequenceNumber))])
        case .urgentData(let sequenceNumber, let byte, let removed):
            var evidence: Evidence = [
                "urgent_sequence_number": .integer(Int64(sequenceNumber)),
                "removed_from_stream": .flag(removed),
            ]
            if let byte { evidence.append("urgent_byte", .bytes([byte])) }
            self.init(rule: .tcpUrgentData,
                      message: removed
                        ? "Urgent data: the urgent byte at sequence number \(sequenceNumber) was taken out of the stream, as a receiver without SO_OOBINLINE does."
                        : "Urgent data: the urgent byte (sequence number \(sequenceNumber)) is not in an in-order segment and was left in the stream.",
                      timestamp: finding.timestamp, frame: finding.frame, direction: finding.direction.name,
                      connection: connection, evidence: evidence)
        case .synDataNotAcknowledged(let synFrame, let synBytes, let laterBytes):
            self.init(rule: .tcpSYNDataNotAcknowledged,
                      message: "The SYN of frame \(synFrame) carried data its SYN-ACK did not acknowledge; the bytes sent later in its place differ.",
                      timestamp: finding.timestamp, frame: finding.frame, direction: finding.direction.name,
                      connection: connection,
                      evidence: ["syn_frame": .integer(Int64(synFrame)), "syn_bytes": .bytes(synBytes),
                                 "later_bytes": .bytes(laterBytes)])
        }
    }
}
