import PacketCapture
import PacketDecoding

/// Bytes kept aside until an acknowledgement says whether the receiver took them: SYN payload
/// (`StreamSide.synData`) or data past a FIN (`StreamSide.dataPastFIN`).
struct HeldBytes {
    var bytes: [UInt8]
    /// The payload's length on the wire (`bytes` may hold only its first bytes).
    var length: Int64
    var frame: UInt64
    var timestamp: Timestamp
    /// Bytes of `unacknowledgedSYNData` kept for the comparison.
    static let comparedBytes = 64
}

/// An RST that was believed and waits `ReassemblyLimits.resetHoldSeconds` for its own sender
/// to contradict it before it closes the connection.
struct PendingReset {
    var senderSide: Int
    var sequenceNumber: UInt32
    var frame: UInt64
    var timestamp: Timestamp
    var nanos: Int64
}

/// One direction of a connection, named by its sender (not by role: roles of a connection
/// whose SYN was missed are only decided at its first payload).
///
/// Positions are absolute 64-bit stream offsets (0 = first data byte, gaps included), so
/// buffering and comparisons never wrap; sequence numbers are converted at the edge with
/// serial-number arithmetic (RFC 1982 §3.2, as RFC 9293 §3.4 requires).
struct StreamSide {
    var stats = DirectionStatistics()
    /// The sequence space is known (from a SYN, a SYN-ACK's ACK, or the first data seen).
    var initialized = false
    /// Sequence number of stream offset 0.
    var sequenceBase: UInt32 = 0
    /// The SYN's sequence number, valid when `stats.sawSYN`.
    var initialSequenceNumber: UInt32 = 0
    /// Next offset to deliver; everything before it was delivered as data or gap.
    var next: Int64 = 0
    /// Offset the FIN occupies once seen; data at or beyond it is ignored.
    var finOffset: Int64?
    var finFrame: UInt64 = 0
    var finTimestamp = Timestamp.zero
    /// The FIN was reached in sequence (or an RST ended the direction).
    var ended = false
    /// The FIN was reached in sequence but its receiver has not acknowledged it yet: when
    /// (activity time). A sender that goes on past its own FIN never sent it (`reachFIN`).
    var finHeldSince: Int64?
    /// Data its sender sent past its own held FIN, kept until the receiver's ACK tells whether
    /// the FIN (ACK = FIN + 1) or this data (ACK beyond it) reached it.
    var dataPastFIN: HeldBytes?
    /// In-order data whose checksum was wrong where this direction's checksums can be checked:
    /// kept until the receiver's ACK says whether it took the data (a middlebox may have
    /// rewritten the packet after the capture point; the endpoint's ACK is the proof) or other
    /// bytes take its place (then it was dropped, `tcp_bad_checksum_ignored`).
    var badChecksumData: HeldBytes?
    var badChecksumEvidence: IgnoredSegment?
    /// The IP TTL of this direction's first packet (its SYN, usually): data arriving with a TTL
    /// below it is held like bad-checksum data, until the receiver's ACK or other bytes decide.
    var usualTTL: UInt8 = 0
    /// Out-of-order data waiting for the bytes before it (every chunk after `next`).
    var buffer = OutOfOrderBuffer()
    var history = DeliveredHistory()
    /// Highest offset the peer has acknowledged, at most `next`. Only bytes after it can still
    /// reach the receiver in a second version (RFC 9293 §3.10.7.4: a segment wholly below
    /// RCV.NXT is dropped), so the history window follows the bytes in flight.
    var acknowledged: Int64 = 0
    var conflictFindings = 0
    /// A packet of this direction passed its checksums, or showed the transmit-offload pattern
    /// (the pseudo-header sum a NIC completes): its sender's checksums can be checked, so from
    /// now on (`ChecksumPolicy.auto`) any other wrong checksum here is a packet the receiver
    /// dropped, not offloading.
    var sawValidChecksum = false
    /// The last window this side's sender advertised (unscaled), for the RST window check.
    var advertisedWindow: UInt16 = 0
    /// The acknowledgment number of this side's sender's latest ACK, raw: the receiver's
    /// RCV.NXT as it said it last, even when it lies outside what the capture saw (an ACK
    /// answering a SYN that hit an older connection, RFC 9293 §3.10.7.3).
    var lastAcknowledgmentNumber: UInt32?
    /// Payload a SYN carried, held until the SYN-ACK says whether the server took it.
    var synData: HeldBytes?
    /// The first bytes of SYN data the SYN-ACK did not acknowledge, to compare with the bytes
    /// sent later at the same place (the difference is what a monitor that believed the SYN
    /// would have got wrong).
    var unacknowledgedSYNData: HeldBytes?
    var reportedUrgentData = false

    @inline(__always)
    mutating func start(sequenceBase base: UInt32) {
        sequenceBase = base
        initialized = true
    }

    @inline(__always)
    func sequenceNumber(at offset: Int64) -> UInt32 {
        sequenceBase &+ UInt32(truncatingIfNeeded: offset)
    }

    /// The absolute offset of `sequence`, taken within ±2^31 of `next`.
    @inline(__always)
    func offset(of sequence: UInt32) -> Int64 {
        next + Int64(Int32(bitPattern: sequence &- sequenceNumber(at: next)))
    }

    /// Notes the peer's acknowledgment number (wrap-safe, clamped to what was delivered).
    @inline(__always)
    mutating func noteAcknowledgment(_ number: UInt32) {
        let offset = min(self.offset(of: number), next)
        if offset > acknowledged { acknowledged = offset }
    }

    /// Data or a FIN is missing before something already seen.
    @inline(__always)
    var isWaiting: Bool {
        if ended { return false }
        if !buffer.isEmpty { return true }
        if let fin = finOffset { return fin > next }
        return false
    }

}

/// A tracked connection, stored in a `ConnectionTable` slot.
///
/// A struct in a slab rather than a class per connection: the reassembler works on it through
/// an `UnsafeMutablePointer` into the slab, so the per-packet path has no reference counting
/// and no dynamic exclusivity checks (with a class, retain/release and `swift_beginAccess`
/// were a fifth of a run). The least-recently-active list is intrusive, by slot index.
struct ConnectionState {
    let key: FlowKey
    let id: ConnectionID
    /// The side that sent the first packet (tie-breaker for the port heuristic).
    let firstSender: Int
    var info: Connection
    /// `connectionOpened` was delivered (roles are decided).
    var opened = false
    var isClosed = false
    var clientSide = 0
    var side0 = StreamSide()
    var side1 = StreamSide()
    var lastFrame: UInt64
    var lastTimestamp: Timestamp
    var lastNanos: Int64
    var bufferedBytes = 0
    var bufferedSegments = 0
    var reportedConnectionBufferLimit = false
    var reportedGlobalBufferLimit = false
    /// A believed RST waiting to close the connection (see `PendingReset`).
    var pendingReset: PendingReset?
    /// `segmentNotBelieved` and `urgentData` findings reported for this connection.
    var disbeliefFindings = 0
    /// Least-recently-active list links (slot indices, `ConnectionTable.none` at the ends).
    var newer = ConnectionTable.none
    var older = ConnectionTable.none

    init(key: FlowKey, id: ConnectionID, slot: Int32, firstSender: Int, frame: UInt64, timestamp: Timestamp,
         nanos: Int64) {
        self.key = key
        self.id = id
        self.firstSender = firstSender
        info = Connection(id: id, client: key.a, server: key.b, partial: true,
                          firstFrame: frame, firstTimestamp: timestamp, slot: Int(slot))
        lastFrame = frame
        lastTimestamp = timestamp
        lastNanos = nanos
    }

    /// Where the connection sits in the `ConnectionTable` (and the list links name it by).
    @inline(__always)
    var slot: Int32 { Int32(truncatingIfNeeded: info.slot) }

    /// Side 0 is sent by `key.a`.
    @inline(__always)
    func sideIndex(of source: Endpoint) -> Int { source == key.a ? 0 : 1 }

    @inline(__always)
    func direction(ofSide index: Int) -> Direction { index == clientSide ? .clientToServer : .serverToClient }

    @inline(__always)
    func sideIndex(for direction: Direction) -> Int { direction == .clientToServer ? clientSide : clientSide ^ 1 }

    func endpoint(ofSide index: Int) -> Endpoint { index == 0 ? key.a : key.b }
}

typealias ConnectionPointer = UnsafeMutablePointer<ConnectionState>
typealias SidePointer = UnsafeMutablePointer<StreamSide>

private let side0Offset = MemoryLayout<ConnectionState>.offset(of: \ConnectionState.side0)!
private let side1Offset = MemoryLayout<ConnectionState>.offset(of: \ConnectionState.side1)!

extension UnsafeMutablePointer where Pointee == ConnectionState {
    /// The side's storage inside the slot (stable while the slot is live and the slab does not grow).
    @inline(__always)
    func side(_ index: Int) -> SidePointer {
        (UnsafeMutableRawPointer(self) + (index == 0 ? side0Offset : side1Offset))
            .assumingMemoryBound(to: StreamSide.self)
    }

    @inline(__always)
    func side(for direction: Direction) -> SidePointer { side(pointee.sideIndex(for: direction)) }
}
