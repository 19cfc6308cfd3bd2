#if canImport(Glibc)
import Glibc
#endif
import PacketCapture
import PacketDecoding
import StreamReassembly

/// FUZZ_TRACE=1 prints every segment and consumer call (for reproducing a crash by hand).
private let tracing = getenv("FUZZ_TRACE") != nil

private func trace(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
}

/// libFuzzer target `reassembly`: TCPReassembler fed segments described by the input, with a
/// consumer that checks the StreamConsumer contract and the stream contents.
///
/// Byte 0 = limits: bit 0 small buffers (512 bytes, 8 segments per connection, 2 KiB overall),
/// bit 1 at most 2 connections, bit 2 a 64-byte retransmission history, bit 3 none, bit 4 a
/// 2 s idle timeout, bit 5 one overlap finding per direction.
/// Then 5 bytes per segment:
/// - a: bit 0 direction (server → client when set), bits 1–2 connection (4 client ports),
///   bit 3 corrupt payload, bit 4 large sequence jump, bits 5–6 bytes cut by snaplen
///   (0, 1, 100, 70 000), bit 7 three seconds pass (else a millisecond)
/// - flags (TCP flags byte)
/// - sequence delta (signed, from where this direction's previous segment ended; × 4096 with a
///   large jump)
/// - payload length
/// - acknowledgment delta (signed, from where the other direction's previous segment ended)
///
/// Every payload byte at sequence number s is `UInt8(truncatingIfNeeded: s)` unless corrupted,
/// so the consumer can check each delivered byte against the position the reassembler claims
/// for it (the previous byte + 1 + any gap between them): the reassembler maps sequence numbers
/// to stream offsets linearly, so this holds whatever the segmentation, overlaps and losses.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzReassembly(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    var limits = ReassemblyLimits()
    if mode & 1 != 0 {
        limits.connectionBufferBytes = 512
        limits.connectionBufferSegments = 8
        limits.globalBufferBytes = 2048
    }
    if mode & 2 != 0 { limits.maxConnections = 2 }
    if mode & 4 != 0 { limits.historyBytes = 64; limits.globalHistoryBytes = 256 }
    if mode & 8 != 0 { limits.historyBytes = 0 }
    if mode & 16 != 0 { limits.idleTimeoutSeconds = 2 }
    if mode & 32 != 0 { limits.overlapFindingsPerDirection = 1 }

    var reassembler = TCPReassembler(limits: limits)
    var consumer = CheckingConsumer()
    // Where each (connection, direction)'s last segment ended, in sequence space; ISNs differ
    // per connection and direction, some near the wrap.
    var cursors: [UInt32] = (0..<8).map { UInt32.max &- 300 &+ UInt32($0) &* 0x1234_5678 }
    var payload = [UInt8](repeating: 0, count: 256)
    var nanos: Int64 = 1_000_000_000_000
    var frame: UInt64 = 0
    while input.remainingCount >= 5 {
        let a = input.byte()
        let flags = TCPFlags(rawValue: input.byte())
        let sequenceDelta = Int32(Int8(bitPattern: input.byte()))
        let length = Int(input.byte())
        let ackDelta = Int32(Int8(bitPattern: input.byte()))
        let reverse = a & 1 != 0
        let connection = Int(a >> 1) & 3
        let corrupt = a & 8 != 0
        let missing = [0, 1, 100, 70_000][Int(a >> 5) & 3]
        nanos += a & 0x80 != 0 ? 3_000_000_000 : 1_000_000
        let slot = connection * 2 + (reverse ? 1 : 0)
        let peerSlot = connection * 2 + (reverse ? 0 : 1)
        let jump = a & 16 != 0 ? sequenceDelta &* 4096 : sequenceDelta
        let sequence = cursors[slot] &+ UInt32(bitPattern: jump)
        let acknowledgment = cursors[peerSlot] &+ UInt32(bitPattern: ackDelta)
        var dataStart = sequence
        if flags.contains(.syn) { dataStart &+= 1 }
        for index in 0..<length {
            let value = UInt8(truncatingIfNeeded: dataStart &+ UInt32(index))
            payload[index] = corrupt ? value ^ 0x5A : value
        }
        // The endpoint view: a checksum verdict and, with URG, an urgent pointer from bits the
        // segment already carries (the urgent byte leaves the stream, so contents stop matching
        // sequence numbers; a dropped bad-checksum segment is a loss like any other).
        let checksum: ChecksumStatus = [.notVerified, .valid, .offloadPartial, .badTCP][Int(UInt8(bitPattern: Int8(ackDelta))) & 3]
        let urgentPointer: UInt16 = flags.contains(.urg) ? UInt16(length / 2 + 1) : 0
        if corrupt || urgentPointer > 0 { consumer.contentsUnreliable = true }
        var end = dataStart &+ UInt32(length) &+ UInt32(missing)
        if flags.contains(.fin) { end &+= 1 }
        cursors[slot] = end
        let client = Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 40000 + UInt16(connection))
        let server = Endpoint(address: IPAddress(ipv4: 0x0A00_0002), port: 80)
        frame += 1
        let timestamp = Timestamp(seconds: nanos / 1_000_000_000, nanoseconds: UInt32(nanos % 1_000_000_000))
        if tracing {
            trace("frame \(frame) conn \(connection) \(reverse ? "s>c" : "c>s") seq \(sequence) ack \(acknowledgment) "
                + "flags \(String(flags.rawValue, radix: 2)) len \(length) missing \(missing) corrupt \(corrupt) t \(nanos)")
        }
        payload.withUnsafeBytes { buffer in
            withExactCopy(UnsafeRawBufferPointer(rebasing: buffer[0..<length])) { bytes in
                var segment = TCPSegment(source: reverse ? server : client, destination: reverse ? client : server,
                                         sequenceNumber: sequence, acknowledgmentNumber: acknowledgment,
                                         flags: flags, window: 65535, payload: bytes, missingPayloadLength: missing,
                                         urgentPointer: urgentPointer, checksum: checksum)
                // One segment in four of a direction's later ones comes with a low TTL.
                segment.ttl = UInt8(truncatingIfNeeded: sequenceDelta) & 0xC0 == 0xC0 ? 1 : 64
                reassembler.process(segment, frame: frame, timestamp: timestamp, into: &consumer)
            }
        }
        let statistics = reassembler.statistics
        fuzzCheck(statistics.bufferedBytes >= 0 && statistics.bufferedBytes <= limits.globalBufferBytes,
                  "buffered \(statistics.bufferedBytes) beyond the global limit \(limits.globalBufferBytes)")
        fuzzCheck(statistics.historyBytes <= limits.globalHistoryBytes, "history beyond its global limit")
        fuzzCheck(statistics.connectionsOpen <= max(limits.maxConnections, 1), "more connections than the limit")
    }
    reassembler.finish(into: &consumer)
    fuzzCheck(reassembler.statistics.bufferedBytes == 0, "bytes still buffered after finish")
    fuzzCheck(reassembler.statistics.connectionsOpen == 0, "connections open after finish")
    fuzzCheck(consumer.open.isEmpty, "connections never closed: \(consumer.open)")
    return 0
}

private struct Key: Hashable {
    var id: UInt64
    var direction: Direction
}

/// What one direction has delivered so far.
private struct StreamState {
    var lastByte: UInt8?
    var gapSinceLast: UInt64 = 0
    var dataBytes: UInt64 = 0
    var gapBytes: UInt64 = 0
    var ended = false
}

private struct CheckingConsumer: StreamConsumer {
    var open: Set<UInt64> = []
    var closed: Set<UInt64> = []
    var streams: [Key: StreamState] = [:]
    var contentsUnreliable = false

    private func checkOpen(_ connection: Connection, _ what: String) {
        fuzzCheck(open.contains(connection.id.rawValue), "\(what) for connection \(connection.id.rawValue) not open")
    }

    mutating func connectionOpened(_ connection: Connection) {
        if tracing { trace("  opened \(connection.id.rawValue) client \(connection.client) partial \(connection.partial)") }
        fuzzCheck(!closed.contains(connection.id.rawValue) && open.insert(connection.id.rawValue).inserted,
                  "connection \(connection.id.rawValue) opened twice")
    }

    mutating func streamData(_ connection: Connection, _ direction: Direction, _ bytes: UnsafeRawBufferPointer,
                             frame: UInt64, timestamp: Timestamp) {
        if tracing { trace("  data \(connection.id.rawValue) \(direction.name) \(bytes.count) bytes first \(bytes.first ?? 0)") }
        checkOpen(connection, "streamData")
        fuzzCheck(!bytes.isEmpty, "empty streamData")
        let key = Key(id: connection.id.rawValue, direction: direction)
        var state = streams[key] ?? StreamState()
        fuzzCheck(!state.ended, "streamData after streamEnd")
        if !contentsUnreliable {
            var expected = state.lastByte.map { $0 &+ 1 &+ UInt8(truncatingIfNeeded: state.gapSinceLast) }
            for byte in bytes {
                if let expected {
                    fuzzCheck(byte == expected, "byte \(state.dataBytes + state.gapBytes) of connection "
                        + "\(connection.id.rawValue) \(direction.name) is \(byte), expected \(expected)")
                }
                expected = byte &+ 1
            }
        }
        state.lastByte = bytes.last
        state.gapSinceLast = 0
        state.dataBytes += UInt64(bytes.count)
        streams[key] = state
    }

    mutating func streamGap(_ connection: Connection, _ direction: Direction, length: UInt64,
                            frame: UInt64, timestamp: Timestamp) {
        if tracing { trace("  gap \(connection.id.rawValue) \(direction.name) \(length)") }
        checkOpen(connection, "streamGap")
        fuzzCheck(length > 0, "empty streamGap")
        let key = Key(id: connection.id.rawValue, direction: direction)
        var state = streams[key] ?? StreamState()
        fuzzCheck(!state.ended, "streamGap after streamEnd")
        state.gapSinceLast &+= length
        state.gapBytes &+= length
        streams[key] = state
    }

    mutating func streamEnd(_ connection: Connection, _ direction: Direction, frame: UInt64, timestamp: Timestamp) {
        if tracing { trace("  end \(connection.id.rawValue) \(direction.name)") }
        checkOpen(connection, "streamEnd")
        let key = Key(id: connection.id.rawValue, direction: direction)
        var state = streams[key] ?? StreamState()
        fuzzCheck(!state.ended, "streamEnd twice")
        state.ended = true
        streams[key] = state
    }

    mutating func connectionClosed(_ summary: ConnectionSummary) {
        let id = summary.connection.id.rawValue
        if tracing { trace("  closed \(id) \(summary.closeReason)") }
        fuzzCheck(open.remove(id) != nil, "connectionClosed for connection \(id) not open")
        closed.insert(id)
        for direction in Direction.allCases {
            let state = streams.removeValue(forKey: Key(id: id, direction: direction)) ?? StreamState()
            let statistics = summary[direction]
            fuzzCheck(statistics.payloadBytes == state.dataBytes && statistics.gapBytes == state.gapBytes,
                      "summary of \(id) \(direction.name) says \(statistics.payloadBytes)+\(statistics.gapBytes) "
                        + "bytes, delivered \(state.dataBytes)+\(state.gapBytes)")
        }
    }

    mutating func reassemblyFinding(_ finding: ReassemblyFinding) {
        if tracing { trace("  finding \(finding.connection.id.rawValue) \(finding.kind)") }
        checkOpen(finding.connection, "reassemblyFinding")
        if case .overlapConflict = finding.kind {
            // Without corrupted segments every copy of a byte is the same.
            fuzzCheck(contentsUnreliable, "an overlap conflict between identical copies")
        }
    }
}
