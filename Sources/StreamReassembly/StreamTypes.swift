import PacketCapture
import PacketDecoding

/// Stable, capture-local identity of a connection (1, 2, 3 … in order of first packet).
public struct ConnectionID: Hashable, Comparable, Sendable {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: ConnectionID, b: ConnectionID) -> Bool { a.rawValue < b.rawValue }
}

public enum Direction: Int, Sendable, CaseIterable {
    case clientToServer = 0
    case serverToClient = 1

    public var reversed: Direction { self == .clientToServer ? .serverToClient : .clientToServer }
    /// `"client_to_server"` / `"server_to_client"`, as findings spell it.
    public var name: String { self == .clientToServer ? "client_to_server" : "server_to_client" }
}

/// What is known about a connection when its first event is delivered.
public struct Connection: Sendable {
    public var id: ConnectionID
    public var client: Endpoint
    public var server: Endpoint
    /// True when the capture did not see the connection's SYN: roles were inferred
    /// (HTTP request line, else port) and data before the capture began is missing.
    public var partial: Bool
    public var firstFrame: UInt64
    public var firstTimestamp: Timestamp
    /// The connection's slot in the reassembler's table: small, dense, unique among open
    /// connections and reused only after `connectionClosed`, so a consumer can keep its
    /// per-connection state in an array instead of hashing `id` for every chunk.
    public var slot: Int

    public init(id: ConnectionID, client: Endpoint, server: Endpoint, partial: Bool,
                firstFrame: UInt64, firstTimestamp: Timestamp, slot: Int) {
        self.id = id
        self.slot = slot
        self.client = client
        self.server = server
        self.partial = partial
        self.firstFrame = firstFrame
        self.firstTimestamp = firstTimestamp
    }
}

/// Per-direction counters, as `switchyard flows` reports them.
public struct DirectionStatistics: Sendable, Equatable {
    public var packets: UInt64 = 0
    /// Payload bytes delivered in order (each byte once, retransmissions not counted).
    public var payloadBytes: UInt64 = 0
    public var gaps: UInt64 = 0
    public var gapBytes: UInt64 = 0
    public var retransmittedBytes: UInt64 = 0
    public var outOfOrderSegments: UInt64 = 0
    public var sawSYN = false
    public var sawFIN = false
    public var sawRST = false
    /// Overlaps whose bytes differed from the first-seen version (each reported or not,
    /// see `ReassemblyLimits.overlapFindingsPerDirection`).
    public var overlapConflicts: UInt64 = 0
    public init() {}
}

public enum CloseReason: String, Sendable {
    case fin = "closed"            // both FINs reached in sequence
    case reset = "reset"           // RST
    case idleTimeout = "timeout"   // evicted after the idle timeout
    case reused = "reused"         // a new SYN reused the 4-tuple
    case endOfInput = "open"       // still open when the capture ended
    case limit = "limit"           // evicted because the connection table was full
}

public struct ConnectionSummary: Sendable {
    public var connection: Connection
    public var lastFrame: UInt64
    public var lastTimestamp: Timestamp
    public var closeReason: CloseReason
    /// Indexed by `Direction.rawValue`.
    public var statistics: [DirectionStatistics]

    public init(connection: Connection, lastFrame: UInt64, lastTimestamp: Timestamp,
                closeReason: CloseReason, statistics: [DirectionStatistics]) {
        self.connection = connection
        self.lastFrame = lastFrame
        self.lastTimestamp = lastTimestamp
        self.closeReason = closeReason
        self.statistics = statistics
    }

    public subscript(direction: Direction) -> DirectionStatistics { statistics[direction.rawValue] }
}

/// Something the reassembler noticed that a user should be told about.
public struct ReassemblyFinding: Sendable {
    public enum Kind: Sendable {
        /// Overlapping bytes differed; the first-seen version was kept (RFC 9293 leaves this
        /// to the receiver, so endpoints and monitors may disagree — an evasion technique).
        case overlapConflict(sequenceNumber: UInt32, keptBytes: [UInt8], discardedBytes: [UInt8], keptFrame: UInt64)
        /// A buffer or table limit was hit; `limit` names it (e.g. `reassembly_connection_buffer`).
        case limitReached(limit: String, detail: String)
        /// A segment the receiving endpoint would have dropped was not believed, and believing
        /// it would have changed the stream (data, FIN, RST or SYN).
        case segmentNotBelieved(IgnoredSegment)
        /// An RST was believed, then its own sender went on sending (RFC 9293 §3.10.7: a host
        /// that reset a connection sends nothing more on it), so no endpoint acted on it: it
        /// never arrived, or was forged. The connection's analysis went on.
        case resetNotHonoured(resetFrame: UInt64, sequenceNumber: UInt32, laterFlags: TCPFlags)
        /// A FIN reached in sequence, then its own sender sent data past it before the receiver
        /// acknowledged it: the FIN never took effect, and the direction went on.
        case finNotHonoured(finFrame: UInt64, sequenceNumber: UInt32)
        /// Urgent data (RFC 9293 §3.8.5): a default receiver (no SO_OOBINLINE) takes the urgent
        /// byte out of the stream, which monitors that keep it do not see.
        case urgentData(sequenceNumber: UInt32, byte: UInt8?, removed: Bool)
        /// The SYN carried data its SYN-ACK did not acknowledge (no TCP Fast Open, RFC 7413
        /// §4.2), so the server never received it; the bytes sent later at the same place differ.
        case synDataNotAcknowledged(synFrame: UInt64, synBytes: [UInt8], laterBytes: [UInt8])
    }
    public var kind: Kind
    public var connection: Connection
    public var direction: Direction
    public var frame: UInt64
    public var timestamp: Timestamp

    public init(kind: Kind, connection: Connection, direction: Direction, frame: UInt64, timestamp: Timestamp) {
        self.kind = kind
        self.connection = connection
        self.direction = direction
        self.frame = frame
        self.timestamp = timestamp
    }
}

/// Receives reassembled streams. Calls arrive in capture order; a connection's
/// `connectionOpened` comes before any other call for it and `connectionClosed` last.
///
/// `bytes` in `streamData` may point into the current packet (no copy) and is valid only
/// during the call.
public protocol StreamConsumer {
    mutating func connectionOpened(_ connection: Connection)
    mutating func streamData(_ connection: Connection, _ direction: Direction, _ bytes: UnsafeRawBufferPointer,
                             frame: UInt64, timestamp: Timestamp)
    /// `length` bytes of this direction are missing (lost, not captured, snaplen-cut, or given up on).
    mutating func streamGap(_ connection: Connection, _ direction: Direction, length: UInt64,
                            frame: UInt64, timestamp: Timestamp)
    /// The direction ended (its FIN reached in sequence, or an RST); no more data follows in it.
    mutating func streamEnd(_ connection: Connection, _ direction: Direction, frame: UInt64, timestamp: Timestamp)
    mutating func connectionClosed(_ summary: ConnectionSummary)
    mutating func reassemblyFinding(_ finding: ReassemblyFinding)
}

/// A segment that was not believed, and why.
public struct IgnoredSegment: Sendable {
    public enum Reason: String, Sendable {
        /// The IPv4 header or TCP checksum is wrong: the receiver drops the packet
        /// (RFC 1122 §3.2.1.2, §4.2.2.7).
        case badChecksum = "bad_checksum"
        /// An RST whose sequence number is outside the receive window: dropped
        /// (RFC 9293 §3.10.7.4 first check, RFC 5961 §3.2).
        case resetOutOfWindow = "reset_out_of_window"
        /// An RST in the window but not at the next expected sequence number: the receiver
        /// answers with a challenge ACK and keeps the connection (RFC 5961 §3.2).
        case resetNotAtExpectedSequence = "reset_not_at_expected_sequence"
        /// An RST in SYN-SENT that does not acknowledge the SYN (RFC 9293 §3.10.7.3).
        case resetNotAcknowledgingSYN = "reset_not_acknowledging_syn"
        /// Data sent with an IP TTL (hop limit) below the rest of its direction's, which other
        /// bytes then replaced, or which the receiver never acknowledged: it expired on the way
        /// (the low-TTL evasion of Ptacek and Newsham, 1998) and only monitors saw it.
        case ttlBelowDirection = "ttl_below_direction"
    }
    public var reason: Reason
    public var sequenceNumber: UInt32
    /// The sequence number the receiver expected, where one is known.
    public var expectedSequenceNumber: UInt32?
    public var flags: TCPFlags
    /// The checksum verdict of the packet (for `.badChecksum`).
    public var checksum: ChecksumStatus
    /// The first bytes of the payload (at most 16) and the payload's length.
    public var payloadPrefix: [UInt8]
    public var payloadLength: Int
    /// What believing it would have changed, in words.
    public var effect: String

    public init(reason: Reason, sequenceNumber: UInt32, expectedSequenceNumber: UInt32?, flags: TCPFlags,
                checksum: ChecksumStatus, payloadPrefix: [UInt8], payloadLength: Int, effect: String) {
        self.reason = reason
        self.sequenceNumber = sequenceNumber
        self.expectedSequenceNumber = expectedSequenceNumber
        self.flags = flags
        self.checksum = checksum
        self.payloadPrefix = payloadPrefix
        self.payloadLength = payloadLength
        self.effect = effect
    }
}

/// Which checksums a packet must pass to be believed (`--checksums`).
public enum ChecksumPolicy: String, Sendable, CaseIterable {
    /// Verify, except where the capture shows offloading: a TCP checksum left as the
    /// pseudo-header sum (transmit offload on the capturing host) is believed, and so is a wrong
    /// checksum in a direction of a connection that has not yet shown a right checksum or the
    /// offload pattern (a host whose checksums are all garbage in the capture offloads them
    /// some other way). Once a direction has shown either, any other wrong checksum there is a
    /// packet its receiver dropped.
    case auto
    /// Every packet with a wrong checksum (offload pattern included) is dropped.
    case on
    /// Checksums are not looked at.
    case off
}

/// Bounds on reassembly state, each with a sane default (DEVELOPERS.md: bounded everything).
public struct ReassemblyLimits: Sendable {
    /// Out-of-order bytes buffered per connection (both directions).
    public var connectionBufferBytes = 1 << 20
    /// Out-of-order bytes buffered over all connections.
    public var globalBufferBytes = 256 << 20
    /// Connections tracked at once; the least recently active is evicted beyond it.
    public var maxConnections = 65_536
    /// Capture-time seconds without a packet after which a connection is closed.
    /// Zero or negative disables the idle timeout.
    public var idleTimeoutSeconds: Int64 = 120
    /// Capture-time seconds a connection closed by FIN or RST stays in the table to absorb
    /// late packets (the last ACK, retransmitted FINs) before it is forgotten. Short, so that
    /// memory follows the connection rate, not the capture's length.
    public var closedLingerSeconds: Int64 = 1
    /// Out-of-order segments buffered per connection (both directions). Bounds the cost of
    /// keeping the buffer sorted when an attacker sends many tiny segments.
    public var connectionBufferSegments = 4096
    /// Recently delivered bytes kept per direction to compare retransmissions against
    /// (rounded down to a power of two; 0 disables the comparison). Overlaps older than
    /// this window are dropped without comparison.
    public var historyBytes = 64 << 10
    /// Total bytes of those history windows over all connections; when exhausted, windows
    /// stop growing (and new ones are not allocated), so comparison becomes best effort.
    public var globalHistoryBytes = 32 << 20
    /// `overlapConflict` findings reported per direction; further conflicts are only
    /// counted (`DirectionStatistics.overlapConflicts`).
    public var overlapFindingsPerDirection = 16
    /// Capture-time seconds a believed RST waits before it closes the connection: if its own
    /// sender sends anything but an RST meanwhile, no endpoint acted on it and the connection
    /// goes on (`tcp_rst_not_honoured`). Zero closes at once, as a monitor that trusts every
    /// RST would.
    public var resetHoldSeconds: Int64 = 5
    /// Which checksums a packet must pass to be believed. Not a limit, but a policy on what
    /// the reassembler believes; it lives here so one value configures reassembly.
    public var checksums = ChecksumPolicy.auto
    /// The decoder's IP defragmentation bounds, carried here so that one value configures
    /// everything below the HTTP layer of a run (`--max-fragment-datagrams`, `--max-fragment-bytes`).
    public var fragments = FragmentLimits()
    /// `segmentNotBelieved` and `urgentData` findings per connection; further ones are only
    /// counted in `ReassemblyStatistics`.
    public var disbeliefFindingsPerConnection = 8

    public init() {}
}
