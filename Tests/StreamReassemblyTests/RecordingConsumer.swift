import PacketCapture
import PacketDecoding
@testable import StreamReassembly

/// One consumer call, with bytes copied and rendered as text for readable expectations.
enum Event: Equatable, CustomStringConvertible {
    case opened(UInt64, client: String, partial: Bool)
    case data(UInt64, Direction, String, frame: UInt64)
    case gap(UInt64, Direction, UInt64, frame: UInt64)
    case end(UInt64, Direction, frame: UInt64)
    case closed(UInt64, CloseReason)
    case conflict(UInt64, Direction, sequence: UInt32, kept: String, discarded: String, keptFrame: UInt64)
    case limit(UInt64, String)
    /// A segment not believed (`IgnoredSegment.Reason`), an RST not honoured, urgent data, SYN data.
    case notBelieved(UInt64, Direction, String, frame: UInt64)
    case resetNotHonoured(UInt64, resetFrame: UInt64, frame: UInt64)
    case urgent(UInt64, Direction, removed: Bool)
    case finNotHonoured(UInt64, finFrame: UInt64, frame: UInt64)
    case synDataNotAcknowledged(UInt64, syn: String, later: String)

    var description: String {
        switch self {
        case let .opened(id, client, partial): return "opened(\(id) client=\(client) partial=\(partial))"
        case let .data(id, direction, text, frame): return "data(\(id) \(direction.name) \(text.debugDescription) f\(frame))"
        case let .gap(id, direction, length, frame): return "gap(\(id) \(direction.name) \(length) f\(frame))"
        case let .end(id, direction, frame): return "end(\(id) \(direction.name) f\(frame))"
        case let .closed(id, reason): return "closed(\(id) \(reason))"
        case let .conflict(id, direction, sequence, kept, discarded, keptFrame):
            return "conflict(\(id) \(direction.name) seq=\(sequence) kept=\(kept.debugDescription) "
                + "discarded=\(discarded.debugDescription) keptFrame=\(keptFrame))"
        case let .limit(id, name): return "limit(\(id) \(name))"
        case let .notBelieved(id, direction, reason, frame): return "notBelieved(\(id) \(direction.name) \(reason) f\(frame))"
        case let .resetNotHonoured(id, resetFrame, frame): return "resetNotHonoured(\(id) rst=f\(resetFrame) f\(frame))"
        case let .urgent(id, direction, removed): return "urgent(\(id) \(direction.name) removed=\(removed))"
        case let .finNotHonoured(id, finFrame, frame): return "finNotHonoured(\(id) fin=f\(finFrame) f\(frame))"
        case let .synDataNotAcknowledged(id, syn, later):
            return "synDataNotAcknowledged(\(id) syn=\(syn.debugDescription) later=\(later.debugDescription))"
        }
    }
}

/// Records every call and checks the consumer contract: `connectionOpened` first,
/// `connectionClosed` last, nothing after a direction's `streamEnd`.
struct RecordingConsumer: StreamConsumer {
    var events: [Event] = []
    var summaries: [ConnectionSummary] = []
    var findings: [ReassemblyFinding] = []
    /// Per connection and direction: the concatenated data, with gaps as `nil` runs.
    var streams: [Key: [UInt8?]] = [:]
    /// Every data call: where it landed in its stream and which frame it named.
    var chunks: [(key: Key, offset: Int, count: Int, frame: UInt64)] = []
    var violations: [String] = []
    /// Off for inputs with huge gaps, whose streams would not fit in memory as arrays.
    var keepStreams = true
    private var opened: Set<UInt64> = []
    private var closed: Set<UInt64> = []
    private var ended: Set<Key> = []

    struct Key: Hashable {
        var id: UInt64
        var direction: Direction
    }

    private mutating func check(_ id: ConnectionID, _ what: String) {
        if !opened.contains(id.rawValue) { violations.append("\(what) for \(id.rawValue) before connectionOpened") }
        if closed.contains(id.rawValue) { violations.append("\(what) for \(id.rawValue) after connectionClosed") }
    }

    private mutating func checkOpen(_ id: ConnectionID, _ direction: Direction, _ what: String) {
        check(id, what)
        if ended.contains(Key(id: id.rawValue, direction: direction)) {
            violations.append("\(what) for \(id.rawValue) \(direction.name) after streamEnd")
        }
    }

    mutating func connectionOpened(_ connection: Connection) {
        if !opened.insert(connection.id.rawValue).inserted { violations.append("opened \(connection.id.rawValue) twice") }
        events.append(.opened(connection.id.rawValue, client: connection.client.description, partial: connection.partial))
    }

    mutating func streamData(_ connection: Connection, _ direction: Direction, _ bytes: UnsafeRawBufferPointer,
                             frame: UInt64, timestamp: Timestamp) {
        checkOpen(connection.id, direction, "streamData")
        if bytes.isEmpty { violations.append("empty streamData") }
        events.append(.data(connection.id.rawValue, direction, String(decoding: bytes, as: UTF8.self), frame: frame))
        let key = Key(id: connection.id.rawValue, direction: direction)
        if keepStreams {
            chunks.append((key, streams[key]?.count ?? 0, bytes.count, frame))
            streams[key, default: []].append(contentsOf: bytes.map { $0 })
        }
    }

    mutating func streamGap(_ connection: Connection, _ direction: Direction, length: UInt64,
                            frame: UInt64, timestamp: Timestamp) {
        checkOpen(connection.id, direction, "streamGap")
        if length == 0 { violations.append("empty streamGap") }
        events.append(.gap(connection.id.rawValue, direction, length, frame: frame))
        if keepStreams {
            streams[Key(id: connection.id.rawValue, direction: direction), default: []]
                .append(contentsOf: [UInt8?](repeating: nil, count: Int(length)))
        }
    }

    mutating func streamEnd(_ connection: Connection, _ direction: Direction, frame: UInt64, timestamp: Timestamp) {
        checkOpen(connection.id, direction, "streamEnd")
        ended.insert(Key(id: connection.id.rawValue, direction: direction))
        events.append(.end(connection.id.rawValue, direction, frame: frame))
    }

    mutating func connectionClosed(_ summary: ConnectionSummary) {
        check(summary.connection.id, "connectionClosed")
        closed.insert(summary.connection.id.rawValue)
        summaries.append(summary)
        events.append(.closed(summary.connection.id.rawValue, summary.closeReason))
    }

    mutating func reassemblyFinding(_ finding: ReassemblyFinding) {
        check(finding.connection.id, "reassemblyFinding")
        findings.append(finding)
        switch finding.kind {
        case let .overlapConflict(sequence, kept, discarded, keptFrame):
            events.append(.conflict(finding.connection.id.rawValue, finding.direction, sequence: sequence,
                                    kept: String(decoding: kept, as: UTF8.self),
                                    discarded: String(decoding: discarded, as: UTF8.self), keptFrame: keptFrame))
        case let .limitReached(limit, _):
            events.append(.limit(finding.connection.id.rawValue, limit))
        case let .segmentNotBelieved(ignored):
            events.append(.notBelieved(finding.connection.id.rawValue, finding.direction, ignored.reason.rawValue,
                                       frame: finding.frame))
        case let .resetNotHonoured(resetFrame, _, _):
            events.append(.resetNotHonoured(finding.connection.id.rawValue, resetFrame: resetFrame, frame: finding.frame))
        case let .finNotHonoured(finFrame, _):
            events.append(.finNotHonoured(finding.connection.id.rawValue, finFrame: finFrame, frame: finding.frame))
        case let .urgentData(_, _, removed):
            events.append(.urgent(finding.connection.id.rawValue, finding.direction, removed: removed))
        case let .synDataNotAcknowledged(_, syn, later):
            events.append(.synDataNotAcknowledged(finding.connection.id.rawValue,
                                                  syn: String(decoding: syn, as: UTF8.self),
                                                  later: String(decoding: later, as: UTF8.self)))
        }
    }

    func summary(_ id: UInt64) -> ConnectionSummary? {
        summaries.first { $0.connection.id.rawValue == id }
    }
}
