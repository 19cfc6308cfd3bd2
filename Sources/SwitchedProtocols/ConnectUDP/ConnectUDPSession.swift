import Findings
import PacketCapture

/// MASQUE CONNECT-UDP over HTTP/1.1 (RFC 9298 §3.2, §3.3): after the 101 both directions speak
/// the Capsule Protocol (RFC 9297 §3.2), UDP payloads travelling in DATAGRAM capsules with
/// Context ID 0 (RFC 9298 §5).
///
/// Each direction's first bytes are judged before they are decoded: bytes that are plainly
/// another protocol (an HTTP/1.x message, TLS, SSH, the HTTP/2 preface) are not capsules, and
/// decoding them would only report a capsule of some huge type and length. Every 2-bit varint
/// prefix is valid, so capsule decoding alone cannot reject them at once; what it can tell is
/// that the first "capsule" never completes, which is the other `connect_udp_not_capsules` case.
public final class ConnectUDPSession: SwitchedSession {
    /// Bytes of a direction held before judging it: the length of the longest signature the
    /// sniffers look for (the 24-byte HTTP/2 client preface), as the upgrade tracker's gate does.
    public static let judgedBytes = 24

    /// Protocols whose signatures no capsule stream shares (text, or a fixed preface): bytes
    /// sniffed as these, at medium confidence or better, are not capsules.
    static let otherProtocols: Set<ObservedProtocol> = [.http1, .http2, .tls, .ssh]

    /// Where a direction is.
    enum Phase {
        /// Holding its first bytes (at most `judgedBytes`) until they can be judged.
        case judging([UInt8])
        case decoding
        /// Not capsules (the reason says why): nothing more is decoded.
        case notCapsules(String)
        /// Bytes were lost before the first ones could be judged: nothing more is decoded.
        case lost(String)
    }

    struct Side {
        let fromClient: Bool
        var phase = Phase.judging([])
        var decoder: CapsuleDecoder
        var bytes: UInt64 = 0
        var ended = false
        var limitReported = false
        var lastFrame: UInt64 = 0
        var lastTimestamp = Timestamp.zero
        var direction: String { fromClient ? HTTP2Session.clientDirection : HTTP2Session.serverDirection }
        var name: String { fromClient ? "client" : "server" }
    }

    public let connection: ConnectionRef?
    var client: Side
    var server: Side
    var outbox: [Violation] = []

    public init(connection: ConnectionRef?, limits: CapsuleDecoder.Limits = CapsuleDecoder.Limits()) {
        self.connection = connection
        client = Side(fromClient: true, decoder: CapsuleDecoder(limits: limits))
        server = Side(fromClient: false, decoder: CapsuleDecoder(limits: limits))
    }

    // MARK: Feeding

    public func data(fromClient: Bool, _ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        if fromClient { data(&client, peer: server, bytes, frame: frame, timestamp: timestamp) }
        else { data(&server, peer: client, bytes, frame: frame, timestamp: timestamp) }
    }

    private func data(_ side: inout Side, peer: Side, _ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        // An empty chunk says nothing, and must not move the frame findings at the end point to.
        guard !bytes.isEmpty else { return }
        side.bytes &+= UInt64(bytes.count)
        side.lastFrame = frame
        side.lastTimestamp = timestamp
        switch side.phase {
        case .notCapsules, .lost:
            return
        case .decoding:
            decode(&side, peer: peer, bytes, frame: frame, timestamp: timestamp)
        case .judging(var held):
            let take = min(Self.judgedBytes - held.count, bytes.count)
            held.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<take]))
            guard held.count == Self.judgedBytes else {
                side.phase = .judging(held)
                return
            }
            guard judge(&side, held, frame: frame, timestamp: timestamp) else { return }
            held.withUnsafeBytes { decode(&side, peer: peer, $0, frame: frame, timestamp: timestamp) }
            decode(&side, peer: peer, UnsafeRawBufferPointer(rebasing: bytes[take...]), frame: frame, timestamp: timestamp)
        }
    }

    /// Decides whether a direction's first bytes may be capsules; true (and decoding) when they may.
    private func judge(_ side: inout Side, _ held: [UInt8], frame: UInt64, timestamp: Timestamp) -> Bool {
        let sniffed = side.fromClient ? ProtocolSniffer.sniff(client: held, server: []) : ProtocolSniffer.sniff(client: [], server: held)
        guard Self.otherProtocols.contains(sniffed.observed), sniffed.confidence >= .medium else {
            side.phase = .decoding
            return true
        }
        let reason = "its first bytes are \(sniffed.observed.rawValue): \(sniffed.reason)"
        side.phase = .notCapsules(reason)
        notCapsules(side, reason: reason, firstBytes: held, sniffed: sniffed.observed.rawValue, frame: frame, timestamp: timestamp)
        return false
    }

    private func decode(_ side: inout Side, peer: Side, _ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        guard !bytes.isEmpty else { return }
        side.decoder.peerSentExtensionCapsule = peer.decoder.sentExtensionCapsule
        side.decoder.feed(bytes, frame: frame, timestamp: timestamp)
        collect(&side)
    }

    public func gap(fromClient: Bool, length: UInt64, frame: UInt64, timestamp: Timestamp) {
        if fromClient { gap(&client, length: length) } else { gap(&server, length: length) }
    }

    private func gap(_ side: inout Side, length: UInt64) {
        side.bytes &+= length
        switch side.phase {
        case .judging:
            side.phase = .lost("\(length) bytes were lost before the first bytes could be judged")
        case .decoding:
            side.decoder.gap(length: length)
        case .notCapsules, .lost:
            break
        }
    }

    public func end(fromClient: Bool, frame: UInt64, timestamp: Timestamp) {
        if fromClient { end(&client, peer: server, frame: frame, timestamp: timestamp) }
        else { end(&server, peer: client, frame: frame, timestamp: timestamp) }
    }

    /// The direction ended in the stream, so a capsule still open is truncated (RFC 9297 §3.3);
    /// when not even the first capsule completed, the direction never spoke capsules.
    private func end(_ side: inout Side, peer: Side, frame: UInt64, timestamp: Timestamp) {
        guard !side.ended else { return }
        side.ended = true
        if case .judging(let held) = side.phase {
            guard !held.isEmpty, judge(&side, held, frame: frame, timestamp: timestamp) else { return }
            held.withUnsafeBytes { decode(&side, peer: peer, $0, frame: frame, timestamp: timestamp) }
        }
        guard case .decoding = side.phase else { return }
        if side.decoder.capsules == 0, let open = openCapsule(side.decoder) {
            let reason = "its first capsule never completed: \(open), and the direction ended after \(side.bytes) bytes"
            side.phase = .notCapsules(reason)
            notCapsules(side, reason: reason, firstBytes: nil, sniffed: nil, frame: frame, timestamp: timestamp)
            return
        }
        side.decoder.finish(frame: frame, timestamp: timestamp)
        collect(&side)
    }

    /// The capsule the decoder is inside, described; nil between capsules.
    private func openCapsule(_ decoder: CapsuleDecoder) -> String? {
        switch decoder.state {
        case .capsuleType: return decoder.integer.isEmpty ? nil : "its type was cut short"
        case .capsuleLength(let type): return "type \(Self.hex(type)), its length cut short"
        case .contextID(let remaining), .value(_, let remaining, _):
            let type: UInt64
            if case .value(let valueType, _, _) = decoder.state { type = valueType } else { type = CapsuleDecoder.datagramType }
            return "type \(Self.hex(type)) declared \(decoder.declaredLength) bytes of value, \(remaining) of them never came"
        case .stopped: return nil
        }
    }

    public func finish() {
        // Directions the capture stopped in without an end are left as they are: an open
        // capsule is only evidence there (`*_incomplete_capsule`), the endpoint may yet see it end.
        for fromClient in [true, false] {
            let side = fromClient ? client : server
            if case .judging(let held) = side.phase, !held.isEmpty {
                if fromClient {
                    if judge(&client, held, frame: client.lastFrame, timestamp: client.lastTimestamp) {
                        held.withUnsafeBytes { decode(&client, peer: server, $0, frame: client.lastFrame, timestamp: client.lastTimestamp) }
                    }
                } else if judge(&server, held, frame: server.lastFrame, timestamp: server.lastTimestamp) {
                    held.withUnsafeBytes { decode(&server, peer: client, $0, frame: server.lastFrame, timestamp: server.lastTimestamp) }
                }
            }
        }
    }

    // MARK: Findings

    private func collect(_ side: inout Side) {
        for report in side.decoder.takeReports() {
            outbox.append(violation(report, side: side))
        }
        if side.decoder.listsOverflowed && !side.limitReported {
            side.limitReported = true
            let limits = side.decoder.limits
            outbox.append(Violation(
                rule: .analyzerLimitReached,
                message: "Limit connect_udp_listed_types reached: more than \(limits.maxListedTypes) capsule types or \(limits.maxListedContextIDs) Context IDs from the \(side.name); further ones are counted together, not by id.",
                timestamp: side.lastTimestamp, frame: side.lastFrame, direction: side.direction, connection: connection,
                evidence: ["limit": .text("connect_udp_listed_types"), "max_types": .integer(Int64(limits.maxListedTypes)),
                           "max_context_ids": .integer(Int64(limits.maxListedContextIDs))]))
        }
    }

    private func violation(_ report: CapsuleDecoder.Report, side: Side) -> Violation {
        var evidence: Evidence = ["offset": .integer(Int64(clamping: report.offset))]
        let rule: Rule
        let message: String
        switch report.issue {
        case .datagramWithoutContextID:
            rule = .connectUDPCapsuleMalformed
            message = "A DATAGRAM capsule from the \(side.name) at offset \(report.offset) is empty: it has no Context ID, so the receiver must treat the stream as malformed."
            evidence.append("problem", .text("datagram_without_context_id"))
        case .contextIDTruncated(let length):
            rule = .connectUDPCapsuleMalformed
            message = "A DATAGRAM capsule from the \(side.name) at offset \(report.offset) ends inside its Context ID (value of \(length) bytes), so the receiver must treat the stream as malformed."
            evidence.append("problem", .text("context_id_truncated"))
            evidence.append("capsule_length", .integer(Int64(clamping: length)))
        case .udpPayloadTooLong(let length):
            rule = .connectUDPCapsuleMalformed
            message = "A DATAGRAM capsule from the \(side.name) at offset \(report.offset) carries a UDP payload of \(length) bytes, more than 65527; the receiver must abort the stream."
            evidence.append("problem", .text("udp_payload_too_long"))
            evidence.append("udp_payload_length", .integer(Int64(clamping: length)))
        case .truncatedAtEnd(let type, let length, let missing):
            rule = .connectUDPCapsuleMalformed
            var detail = "a capsule"
            if let type { detail += " of type \(Self.hex(type))" }
            if let length, let missing { detail += " lacks \(missing) of its \(length) value bytes" } else { detail += " lacks part of its header" }
            message = "The \(side.name)'s stream ended inside a capsule: \(detail); the receiver must treat the stream as malformed."
            evidence.append("problem", .text("truncated_at_end"))
            if let type { evidence.append("capsule_type", .text(Self.hex(type))) }
            if let length { evidence.append("capsule_length", .integer(Int64(clamping: length))) }
            if let missing { evidence.append("missing_bytes", .integer(Int64(clamping: missing))) }
        case .unregisteredContextID(let id):
            rule = .connectUDPUnregisteredContextID
            message = "A DATAGRAM capsule from the \(side.name) at offset \(report.offset) uses Context ID \(id), which no capsule exchanged before it could have registered; the receiver drops it."
            evidence.append("context_id", .integer(Int64(clamping: id)))
        }
        return Violation(rule: rule, message: message, timestamp: report.timestamp, frame: report.frame,
                         direction: side.direction, connection: connection, evidence: evidence)
    }

    private func notCapsules(_ side: Side, reason: String, firstBytes: [UInt8]?, sniffed: String?, frame: UInt64, timestamp: Timestamp) {
        var evidence: Evidence = ["reason": .text(reason)]
        if let sniffed { evidence.append("observed_protocol", .text(sniffed)) }
        if let firstBytes { evidence.append("first_bytes", .bytes(firstBytes)) }
        outbox.append(Violation(
            rule: .connectUDPNotCapsules,
            message: "After the 101 to connect-udp the \(side.name) does not speak the Capsule Protocol: \(reason).",
            timestamp: timestamp, frame: frame, direction: side.direction, connection: connection, evidence: evidence))
    }

    public var hasViolations: Bool { !outbox.isEmpty }

    public func takeViolations() -> [Violation] {
        var taken: [Violation] = []
        swap(&taken, &outbox)
        return taken
    }

    // MARK: Evidence

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    /// `connect_udp`: per direction, capsules by type, datagrams by Context ID, UDP payload bytes,
    /// and what stopped or cut decoding. Every field keeps one JSON type.
    public var evidence: Evidence {
        var summary = Evidence()
        for side in [client, server] {
            let decoder = side.decoder
            let prefix = side.name + "_"
            summary.append(prefix + "bytes", .integer(Int64(clamping: side.bytes)))
            summary.append(prefix + "capsules", .integer(Int64(clamping: decoder.capsules)))
            summary.append(prefix + "capsules_by_type", .object(Evidence(decoder.capsulesByType.map {
                (key: Self.hex($0.value), value: .integer(Int64(clamping: $0.count))) })))
            summary.append(prefix + "datagrams", .integer(Int64(clamping: decoder.datagrams)))
            summary.append(prefix + "datagrams_by_context_id", .object(Evidence(decoder.datagramsByContextID.map {
                (key: String($0.value), value: .integer(Int64(clamping: $0.count))) })))
            summary.append(prefix + "udp_payload_bytes", .integer(Int64(clamping: decoder.udpPayloadBytes)))
            if decoder.unlistedTypeCapsules > 0 {
                summary.append(prefix + "capsules_of_unlisted_types", .integer(Int64(clamping: decoder.unlistedTypeCapsules)))
            }
            if decoder.unlistedContextDatagrams > 0 {
                summary.append(prefix + "datagrams_of_unlisted_context_ids", .integer(Int64(clamping: decoder.unlistedContextDatagrams)))
            }
            if decoder.malformedCapsules > 0 {
                summary.append(prefix + "malformed_capsules", .integer(Int64(clamping: decoder.malformedCapsules)))
            }
            if decoder.unregisteredContextDatagrams > 0 {
                summary.append(prefix + "unregistered_context_datagrams", .integer(Int64(clamping: decoder.unregisteredContextDatagrams)))
            }
            switch side.phase {
            case .notCapsules(let reason): summary.append(prefix + "not_capsules", .text(reason))
            case .lost(let reason): summary.append(prefix + "stopped", .text(reason))
            case .decoding:
                if case .stopped(let reason) = decoder.state { summary.append(prefix + "stopped", .text(reason)) }
                if !side.ended && openCapsule(decoder) != nil { summary.append(prefix + "incomplete_capsule", .flag(true)) }
            case .judging:
                break
            }
        }
        return ["connect_udp": .object(summary)]
    }
}
