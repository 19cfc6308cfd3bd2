import PacketCapture
import PacketDecoding
@testable import StreamReassembly

let clientEndpoint = Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 40000)
let serverEndpoint = Endpoint(address: IPAddress(ipv4: 0x0A00_0002), port: 80)
let c2s = Direction.clientToServer
let s2c = Direction.serverToClient

/// A segment to feed, with its payload as bytes. Frames are numbered by position (1-based).
struct Seg {
    var source = clientEndpoint
    var destination = serverEndpoint
    var sequence: UInt32
    var acknowledgment: UInt32 = 0
    var flags: TCPFlags = [.ack]
    var payload: [UInt8] = []
    var missing = 0
    /// Capture time in seconds; nil = 1000 s plus one millisecond per frame.
    var seconds: Int64?
    var checksum = ChecksumStatus.notVerified
    var urgentPointer: UInt16 = 0
    var ttl: UInt8 = 64

    /// The same segment sent the other way.
    var reversed: Seg {
        var copy = self
        swap(&copy.source, &copy.destination)
        return copy
    }

    func with(_ change: (inout Seg) -> Void) -> Seg {
        var copy = self
        change(&copy)
        return copy
    }
}

/// Builds the segments of one connection between `client` and `server` with the given ISNs.
struct Script {
    var client = clientEndpoint
    var server = serverEndpoint
    var clientISN: UInt32 = 1000
    var serverISN: UInt32 = 5000

    func handshake() -> [Seg] {
        [
            Seg(source: client, destination: server, sequence: clientISN, flags: [.syn]),
            Seg(source: server, destination: client, sequence: serverISN, acknowledgment: clientISN &+ 1,
                flags: [.syn, .ack]),
            Seg(source: client, destination: server, sequence: clientISN &+ 1, acknowledgment: serverISN &+ 1),
        ]
    }

    /// Client data at stream offset `offset` (0 = first byte after the SYN).
    func c(_ offset: Int, _ text: String = "", flags: TCPFlags = [.ack, .psh], ack: Int = 0, missing: Int = 0) -> Seg {
        Seg(source: client, destination: server, sequence: clientISN &+ 1 &+ UInt32(truncatingIfNeeded: offset),
            acknowledgment: serverISN &+ 1 &+ UInt32(truncatingIfNeeded: ack), flags: flags,
            payload: Array(text.utf8), missing: missing)
    }

    /// Server data at stream offset `offset`.
    func s(_ offset: Int, _ text: String = "", flags: TCPFlags = [.ack, .psh], ack: Int = 0, missing: Int = 0) -> Seg {
        Seg(source: server, destination: client, sequence: serverISN &+ 1 &+ UInt32(truncatingIfNeeded: offset),
            acknowledgment: clientISN &+ 1 &+ UInt32(truncatingIfNeeded: ack), flags: flags,
            payload: Array(text.utf8), missing: missing)
    }
}

func timestamp(of segment: Seg, frame: UInt64) -> Timestamp {
    if let seconds = segment.seconds { return Timestamp(seconds: seconds, nanoseconds: 0) }
    return Timestamp(seconds: 1000, nanoseconds: UInt32(frame % 1_000_000) * 1000)
}

/// What a test reads of a reassembler after feeding it (a `TCPReassembler` is `~Copyable`, so
/// it cannot travel in a tuple).
struct ReassemblerSnapshot {
    var statistics: ReassemblyStatistics
    var tableCount: Int
}

/// Feeds `segments` (frame = position + 1) and, when `finish`, ends the input.
func reassemble(_ segments: [Seg], limits: ReassemblyLimits = ReassemblyLimits(), finish: Bool = true,
                keepStreams: Bool = true) -> (RecordingConsumer, ReassemblerSnapshot) {
    var reassembler = TCPReassembler(limits: limits)
    var consumer = RecordingConsumer()
    consumer.keepStreams = keepStreams
    for (index, segment) in segments.enumerated() {
        let frame = UInt64(index + 1)
        segment.payload.withUnsafeBytes { payload in
            var tcp = TCPSegment(source: segment.source, destination: segment.destination,
                                 sequenceNumber: segment.sequence, acknowledgmentNumber: segment.acknowledgment,
                                 flags: segment.flags, window: 65535, payload: payload,
                                 missingPayloadLength: segment.missing, urgentPointer: segment.urgentPointer,
                                 checksum: segment.checksum)
            tcp.ttl = segment.ttl
            reassembler.process(tcp, frame: frame, timestamp: timestamp(of: segment, frame: frame), into: &consumer)
        }
    }
    if finish { reassembler.finish(into: &consumer) }
    return (consumer, ReassemblerSnapshot(statistics: reassembler.statistics, tableCount: reassembler.tableCount))
}
