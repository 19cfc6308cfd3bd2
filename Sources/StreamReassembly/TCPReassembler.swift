import PacketCapture
import PacketDecoding

/// Reassembles TCP connections, both directions, into ordered byte streams with gaps.
///
/// - Connections are keyed by their 4-tuple in either direction; the table is bounded
///   (`maxConnections`, least recently active evicted) and idle connections expire.
/// - In-order payload is handed to the consumer straight from the packet (no copy, no
///   allocation); only out-of-order data is copied into a bounded, sorted per-direction buffer.
/// - Missing data is always reported as a gap, never joined silently; overlapping bytes that
///   differ are reported and the first-seen version is kept.
///
/// A closed connection (FIN/RST) stays in the table, absorbing late packets such as the final
/// ACK, until it idles out, is evicted, or a new SYN reuses its 4-tuple.
///
/// `~Copyable`: it owns its connection table's memory, so there is exactly one of each.
public struct TCPReassembler: ~Copyable {
    public let limits: ReassemblyLimits
    public internal(set) var statistics = ReassemblyStatistics()

    var table: ConnectionTable
    /// Consecutive packets usually belong to the same connection: skip the hash lookup.
    private var cachedSlot = ConnectionTable.none
    /// Least-recently-active list (slots; see `ConnectionState`).
    private var newest = ConnectionTable.none
    private var oldest = ConnectionTable.none
    private var nextID: UInt64 = 1
    /// Capture time, driving idle timeouts and the closed-connection linger.
    private var clock: IdleClock
    var nowNanos: Int64 { clock.nowNanos }
    /// Connections closed by FIN/RST, in closing order, to be forgotten after the linger
    /// (by key and id, so the queue keeps no connection alive; at most `maxConnections` long).
    private var closedQueue = DeadlineQueue<Void>()
    /// Believed RSTs waiting for `resetHoldSeconds` (see `PendingReset`).
    var resetQueue = DeadlineQueue<Void>()
    /// FINs reached in sequence, waiting for their receiver's ACK (see `reachFIN`); the extra
    /// value is the FIN's side.
    var finQueue = DeadlineQueue<Int>()
    let resetHoldNanos: Int64
    private let closedLingerNanos: Int64
    private let idleTimeoutNanos: UInt64
    private let historyCapacity: Int
    private var reportedTableLimit = false

    public init(limits: ReassemblyLimits = ReassemblyLimits()) {
        self.limits = limits
        let linger = limits.closedLingerSeconds.multipliedReportingOverflow(by: 1_000_000_000)
        closedLingerNanos = linger.overflow ? .max : max(0, linger.partialValue)
        let hold = limits.resetHoldSeconds.multipliedReportingOverflow(by: 1_000_000_000)
        resetHoldNanos = hold.overflow ? .max : max(0, hold.partialValue)
        if limits.idleTimeoutSeconds > 0 {
            let (nanos, overflow) = limits.idleTimeoutSeconds.multipliedReportingOverflow(by: 1_000_000_000)
            idleTimeoutNanos = overflow ? .max : UInt64(nanos)
        } else {
            idleTimeoutNanos = .max
        }
        var capacity = 1
        while capacity <= limits.historyBytes / 2 { capacity *= 2 }
        historyCapacity = limits.historyBytes > 0 ? capacity : 0
        table = ConnectionTable(initialSlots: min(max(limits.maxConnections, 1), 256))
        clock = IdleClock(confirmSeconds: limits.idleTimeoutSeconds)
    }

    /// Feeds one segment (in capture order). Also evicts connections idle for longer than
    /// the idle timeout as capture time advances.
    public mutating func process<C: StreamConsumer>(_ segment: TCPSegment, frame: UInt64, timestamp: Timestamp,
                                                   into consumer: inout C) {
        if clock.advance(to: timestamp.totalNanoseconds) {
            expireIdle(&consumer)
        }
        handleSegment(segment, frame: frame, timestamp: timestamp, &consumer)
    }

    /// Feeds one segment whose capture clock is kept elsewhere (`--jobs`: the reader keeps the
    /// one clock of the capture and each worker follows it, so timeouts fall as in one thread).
    public mutating func process<C: StreamConsumer>(_ segment: TCPSegment, frame: UInt64, timestamp: Timestamp,
                                                   clock: IdleClock, into consumer: inout C) {
        follow(clock, into: &consumer)
        handleSegment(segment, frame: frame, timestamp: timestamp, &consumer)
    }

    /// Takes the state of a capture clock kept elsewhere and expires what timed out.
    public mutating func follow<C: StreamConsumer>(_ clock: IdleClock, into consumer: inout C) {
        let moved = clock.nowNanos > self.clock.nowNanos
        self.clock = clock
        if moved { expireIdle(&consumer) }
    }

    mutating func handleSegment<C: StreamConsumer>(_ segment: TCPSegment, frame: UInt64, timestamp: Timestamp,
                                                          _ consumer: inout C) {
        let key = FlowKey(segment.source, segment.destination)
        var slot = cachedSlot
        if slot == ConnectionTable.none || table.pointer(slot).pointee.key != key {
            slot = table.find(key)
            if slot != ConnectionTable.none { cachedSlot = slot }
        }
        let flags = segment.flags
        if segment.checksum.rawValue > ChecksumStatus.unverifiable.rawValue {
            guard believesChecksum(segment, slot: slot) else {
                disbelieveChecksum(segment, slot: slot, frame: frame, timestamp: timestamp, &consumer)
                return
            }
            if segment.checksum != .offloadPartial && limits.checksums == .auto {
                statistics.segmentsBelievedDespiteChecksum += 1
            }
        }
        let opening = flags.contains(.syn) && !flags.contains(.ack) && !flags.contains(.rst)
        if slot != ConnectionTable.none {
            let existing = table.pointer(slot)
            if existing.pointee.isClosed {
                // Late packets of a closed connection (the last ACK, retransmitted FINs) are
                // absorbed; only a new SYN starts a new connection.
                guard opening else {
                    touch(existing, frame: frame, timestamp: timestamp)
                    return
                }
                remove(existing)
                slot = ConnectionTable.none
            } else if opening, let pending = existing.pointee.pendingReset {
                // A new SYN after a believed RST: the reset took effect, and this is a new
                // attempt on the same 4-tuple (RFC 9293 §3.10.7.3), not a contradiction.
                close(existing, .reset, frame: pending.frame, timestamp: pending.timestamp, &consumer)
                remove(existing)
                slot = ConnectionTable.none
            } else if opening && startsNewConnection(existing, segment) {
                close(existing, .reused, frame: frame, timestamp: timestamp, &consumer)
                remove(existing)
                slot = ConnectionTable.none
            }
        }
        if slot == ConnectionTable.none {
            slot = create(key, source: segment.source, frame: frame, timestamp: timestamp, &consumer)
        }
        // Taken after `create`, which may move the slab.
        let connection = table.pointer(slot)
        touch(connection, frame: frame, timestamp: timestamp)
        handle(segment, connection, frame: frame, timestamp: timestamp, &consumer)
    }

    /// Evicts connections idle for longer than the idle timeout at time `now`, for live
    /// capture, where time passes without packets: the run loop calls this when a read
    /// times out. `now` must be on the packets' clock (wall-clock time for a live capture);
    /// capture time never goes backwards, so an earlier `now` changes nothing.
    public mutating func expireIdle<C: StreamConsumer>(now: Timestamp, into consumer: inout C) {
        if clock.advance(to: now.totalNanoseconds) { expireIdle(&consumer) }
    }

    /// Flushes every connection at end of input: buffered out-of-order data is delivered
    /// after a gap, then each connection is closed with `.endOfInput`.
    public mutating func finish<C: StreamConsumer>(into consumer: inout C) {
        let open = table.liveSlots.map { table.pointer($0) }.filter { !$0.pointee.isClosed }
            .sorted { $0.pointee.id < $1.pointee.id }
        for connection in open {
            if let pending = connection.pointee.pendingReset {
                close(connection, .reset, frame: pending.frame, timestamp: pending.timestamp, &consumer)
            } else {
                close(connection, .endOfInput, frame: connection.pointee.lastFrame,
                      timestamp: connection.pointee.lastTimestamp, &consumer)
            }
        }
        newest = ConnectionTable.none
        oldest = ConnectionTable.none
        cachedSlot = ConnectionTable.none
        table.removeAll()
    }

    // MARK: - Connection table

    mutating func create<C: StreamConsumer>(_ key: FlowKey, source: Endpoint, frame: UInt64,
                                                    timestamp: Timestamp, _ consumer: inout C) -> Int32 {
        let capacity = min(max(limits.maxConnections, 1), Int(Int32.max - 1))  // slots are Int32
        while table.count >= capacity && oldest != ConnectionTable.none {
            evict(table.pointer(oldest), .limit, &consumer)
        }
        let id = ConnectionID(nextID), firstSender = source == key.a ? 0 : 1, nanos = clock.touchNanos
        let slot = table.insert { slot in
            ConnectionState(key: key, id: id, slot: slot, firstSender: firstSender, frame: frame,
                            timestamp: timestamp, nanos: nanos)
        }
        nextID += 1
        cachedSlot = slot
        statistics.connectionsSeen += 1
        statistics.connectionsOpen += 1
        return slot
    }

    /// A SYN without ACK on an open connection: a retransmitted SYN, a simultaneous open, or
    /// a new connection reusing the 4-tuple (RFC 9293 §3.10.7.4 TIME-WAIT reuse, or a capture
    /// that missed the old connection's end).
    func startsNewConnection(_ connection: ConnectionPointer, _ segment: TCPSegment) -> Bool {
        let index = connection.pointee.sideIndex(of: segment.source)
        let side = connection.side(index)
        if side.pointee.stats.sawSYN { return segment.sequenceNumber != side.pointee.initialSequenceNumber }
        if side.pointee.initialized { return segment.sequenceNumber &+ 1 != side.pointee.sequenceBase }
        // This side has not sent anything sequenced: a simultaneous open if the peer is in
        // its handshake, else the old connection (seen only as ACKs) is over.
        return !connection.side(index ^ 1).pointee.stats.sawSYN
    }

    @inline(__always)
    mutating func touch(_ connection: ConnectionPointer, frame: UInt64, timestamp: Timestamp) {
        connection.pointee.lastFrame = frame
        connection.pointee.lastTimestamp = timestamp
        connection.pointee.lastNanos = clock.touchNanos
        let slot = connection.pointee.slot
        if newest != slot {
            unlink(connection)
            connection.pointee.older = newest
            if newest != ConnectionTable.none { table.pointer(newest).pointee.newer = slot }
            newest = slot
            if oldest == ConnectionTable.none { oldest = slot }
        }
    }

    mutating func unlink(_ connection: ConnectionPointer) {
        let slot = connection.pointee.slot
        let newer = connection.pointee.newer, older = connection.pointee.older
        if newer != ConnectionTable.none {
            table.pointer(newer).pointee.older = older
        } else if newest == slot {
            newest = older
        }
        if older != ConnectionTable.none {
            table.pointer(older).pointee.newer = newer
        } else if oldest == slot {
            oldest = newer
        }
        connection.pointee.newer = ConnectionTable.none
        connection.pointee.older = ConnectionTable.none
    }

    mutating func remove(_ connection: ConnectionPointer) {
        unlink(connection)
        let slot = connection.pointee.slot
        if cachedSlot == slot { cachedSlot = ConnectionTable.none }
        table.remove(slot)
    }

    mutating func expireIdle<C: StreamConsumer>(_ consumer: inout C) {
        commitHeldResets(&consumer)
        commitHeldFINs(&consumer)
        forgetLingeringClosed()
        while oldest != ConnectionTable.none {
            let candidate = table.pointer(oldest)
            let last = candidate.pointee.lastNanos
            let elapsed = nowNanos > last ? UInt64(bitPattern: nowNanos &- last) : 0
            guard elapsed > idleTimeoutNanos else { return }
            evict(candidate, .idleTimeout, &consumer)
        }
    }

    /// Connections in the table now, open or lingering after their close.
    public var tableCount: Int { table.count }

    /// Drops closed connections whose linger is over (if the table still holds them).
    mutating func forgetLingeringClosed() {
        while let entry = closedQueue.popExpired(now: nowNanos, holdNanos: closedLingerNanos) {
            let slot = table.find(entry.key)
            if slot != ConnectionTable.none {
                let connection = table.pointer(slot)
                if connection.pointee.isClosed && connection.pointee.id == entry.id { remove(connection) }
            }
        }
    }

    mutating func evict<C: StreamConsumer>(_ connection: ConnectionPointer, _ reason: CloseReason,
                                                   _ consumer: inout C) {
        if !connection.pointee.isClosed {
            if reason == .limit {
                statistics.connectionsEvicted += 1
                if !reportedTableLimit {
                    // Once per run: a full table means every new connection evicts one.
                    reportedTableLimit = true
                    ensureOpened(connection, &consumer)
                    let detail = "connection table full (\(max(limits.maxConnections, 1)) connections); "
                        + "evicted the least recently active connection (further evictions are only counted)"
                    consumer.reassemblyFinding(ReassemblyFinding(
                        kind: .limitReached(limit: "reassembly_max_connections", detail: detail),
                        connection: connection.pointee.info, direction: .clientToServer,
                        frame: connection.pointee.lastFrame, timestamp: connection.pointee.lastTimestamp))
                }
            } else if reason == .idleTimeout {
                statistics.connectionsTimedOut += 1
            }
            if let pending = connection.pointee.pendingReset {
                close(connection, .reset, frame: pending.frame, timestamp: pending.timestamp, &consumer)
            } else {
                close(connection, reason, frame: connection.pointee.lastFrame,
                      timestamp: connection.pointee.lastTimestamp, &consumer)
            }
        }
        remove(connection)
    }

    // MARK: - Lifecycle

    mutating func open<C: StreamConsumer>(_ connection: ConnectionPointer, clientSide: Int, partial: Bool,
                                                  _ consumer: inout C) {
        connection.pointee.clientSide = clientSide
        connection.pointee.info.client = connection.pointee.endpoint(ofSide: clientSide)
        connection.pointee.info.server = connection.pointee.endpoint(ofSide: clientSide ^ 1)
        connection.pointee.info.partial = partial
        connection.pointee.opened = true
        consumer.connectionOpened(connection.pointee.info)
    }

    /// Decides roles by port when nothing better was seen (connection seen only as ACKs).
    mutating func ensureOpened<C: StreamConsumer>(_ connection: ConnectionPointer, _ consumer: inout C) {
        guard !connection.pointee.opened else { return }
        let ports = (connection.pointee.key.a.port, connection.pointee.key.b.port)
        let client = RoleInference.clientSide(byPorts: ports, sender: connection.pointee.firstSender)
        open(connection, clientSide: client, partial: !(connection.pointee.side0.stats.sawSYN || connection.pointee.side1.stats.sawSYN),
             &consumer)
    }

    /// Flushes both directions (gap, then buffered data), ends them on RST, releases the
    /// buffers and reports the summary.
    mutating func close<C: StreamConsumer>(_ connection: ConnectionPointer, _ reason: CloseReason,
                                                   frame: UInt64, timestamp: Timestamp, _ consumer: inout C) {
        ensureOpened(connection, &consumer)
        var reason = reason
        if reason == .endOfInput || reason == .idleTimeout || reason == .limit,
           connection.pointee.side0.finOffset == connection.pointee.side0.next,
           connection.pointee.side1.finOffset == connection.pointee.side1.next {
            reason = .fin   // both FINs were reached; only their acknowledgements were missing
        }
        for direction in Direction.allCases {
            let side = connection.side(for: direction)
            flushAll(connection, side, direction, frame: frame, timestamp: timestamp, &consumer)
            if side.pointee.finHeldSince != nil && !side.pointee.ended {
                endDirection(connection, side, direction, &consumer)
            }
            if reason == .reset && !side.pointee.ended {
                side.pointee.ended = true
                consumer.streamEnd(connection.pointee.info, direction, frame: frame, timestamp: timestamp)
            }
        }
        connection.pointee.pendingReset = nil
        for index in 0..<2 {
            let side = connection.side(index)
            releaseSYNData(connection, side)
            releaseHeld(connection, &side.pointee.dataPastFIN)
            settleHeldBadChecksumData(connection, side, replacement: nil, &consumer)
            side.pointee.unacknowledgedSYNData = nil
            discardBuffer(connection, side)
            statistics.historyBytes -= side.pointee.history.capacity
            side.pointee.history = DeliveredHistory()
        }
        connection.pointee.isClosed = true
        statistics.connectionsOpen -= 1
        if reason == .fin || reason == .reset {
            closedQueue.append(.init(key: connection.pointee.key, id: connection.pointee.info.id, nanos: nowNanos,
                                     extra: ()), capacity: limits.maxConnections)
        }
        let client = connection.side(for: .clientToServer), server = connection.side(for: .serverToClient)
        consumer.connectionClosed(ConnectionSummary(
            connection: connection.pointee.info, lastFrame: connection.pointee.lastFrame, lastTimestamp: connection.pointee.lastTimestamp,
            closeReason: reason, statistics: [client.pointee.stats, server.pointee.stats]))
    }

    // MARK: - Segments

    @inline(__always)
    mutating func handle<C: StreamConsumer>(_ segment: TCPSegment, _ connection: ConnectionPointer,
                                                    frame: UInt64, timestamp: Timestamp, _ consumer: inout C) {
        let index = connection.pointee.sideIndex(of: segment.source)
        let side = connection.side(index)
        let peer = connection.side(index ^ 1)
        let flags = segment.flags
        let payloadCount = segment.payload.count
        // A decoder bug or hostile input must not make a gap larger than a TCP window.
        let missing = Int64(min(max(segment.missingPayloadLength, 0), 1 << 30))
        let hasData = payloadCount > 0 || missing > 0
        side.pointee.stats.packets &+= 1
        if flags.contains(.syn) { side.pointee.stats.sawSYN = true }
        if flags.contains(.fin) { side.pointee.stats.sawFIN = true }
        if flags.contains(.rst) { side.pointee.stats.sawRST = true }

        if !connection.pointee.opened {
            if flags.contains(.syn) {
                // RFC 9293 §3.5: the SYN's sender is the client; a SYN-ACK's receiver is.
                open(connection, clientSide: flags.contains(.ack) ? index ^ 1 : index, partial: false, &consumer)
            } else if hasData || flags.contains(.fin) || flags.contains(.rst) {
                let ports = (connection.pointee.key.a.port, connection.pointee.key.b.port)
                let client = RoleInference.clientSide(sender: index, payload: segment.payload, ports: ports)
                open(connection, clientSide: client, partial: true, &consumer)
            } else {
                return  // A pure ACK: wait for something that tells the roles.
            }
        }
        if segment.checksum == .valid || segment.checksum == .offloadPartial { side.pointee.sawValidChecksum = true }
        side.pointee.advertisedWindow = segment.window
        if side.pointee.usualTTL == 0 { side.pointee.usualTTL = segment.ttl }
        if flags.contains(.ack) { side.pointee.lastAcknowledgmentNumber = segment.acknowledgmentNumber }
        if let pending = connection.pointee.pendingReset, pending.senderSide == index, !flags.contains(.rst) {
            // A host that reset a connection sends nothing more on it but RSTs (RFC 9293
            // §3.10.7): its sender never acted on this RST, so the connection goes on.
            connection.pointee.pendingReset = nil
            statistics.resetsNotHonoured += 1
            consumer.reassemblyFinding(ReassemblyFinding(
                kind: .resetNotHonoured(resetFrame: pending.frame, sequenceNumber: pending.sequenceNumber,
                                        laterFlags: flags),
                connection: connection.pointee.info, direction: connection.pointee.direction(ofSide: index),
                frame: frame, timestamp: timestamp))
        }
        if flags.contains(.syn) && !flags.contains(.rst) {
            // The SYN occupies ISN; data starts at ISN+1 (RFC 9293 §3.4).
            if !side.pointee.initialized {
                side.pointee.start(sequenceBase: segment.sequenceNumber &+ 1)
                side.pointee.initialSequenceNumber = segment.sequenceNumber
            }
            if flags.contains(.ack) && !peer.pointee.initialized {
                peer.pointee.start(sequenceBase: segment.acknowledgmentNumber)
            }
            if flags.contains(.ack) && peer.pointee.synData != nil {
                resolveSYNData(connection, peer, direction: connection.pointee.direction(ofSide: index ^ 1),
                               acknowledged: peer.pointee.offset(of: segment.acknowledgmentNumber), &consumer)
            }
        }
        if flags.contains(.ack) && peer.pointee.initialized {
            peer.pointee.noteAcknowledgment(segment.acknowledgmentNumber)
            if peer.pointee.badChecksumData != nil {
                acceptHeldBadChecksumData(connection, peer, connection.pointee.direction(ofSide: index ^ 1),
                                          acknowledged: peer.pointee.offset(of: segment.acknowledgmentNumber),
                                          &consumer)
            }
            if peer.pointee.finHeldSince != nil, let fin = peer.pointee.finOffset {
                let acknowledged = peer.pointee.offset(of: segment.acknowledgmentNumber)
                let peerDirection = connection.pointee.direction(ofSide: index ^ 1)
                if acknowledged > fin + 1 || (acknowledged > fin && peer.pointee.dataPastFIN != nil
                                              && acknowledged != fin + 1) {
                    // The receiver took bytes past the FIN: it never got the FIN.
                    finNotHonoured(connection, peer, peerDirection, frame: frame, timestamp: timestamp, &consumer)
                } else if acknowledged == fin + 1 {
                    // The receiver acknowledged the FIN (RFC 9293 §3.10.7.4 eighth check).
                    endDirection(connection, peer, peerDirection, &consumer)
                    if connection.pointee.side0.ended && connection.pointee.side1.ended {
                        close(connection, .fin, frame: frame, timestamp: timestamp, &consumer)
                        return
                    }
                }
            }
        }
        if flags.contains(.ack) && peer.pointee.isWaiting {
            acknowledge(connection, peer, connection.pointee.direction(ofSide: index ^ 1), segment.acknowledgmentNumber,
                        frame: frame, timestamp: timestamp, &consumer)
        }
        if flags.contains(.rst) {
            // RFC 9293 §3.5.3; data carried by an RST is diagnostic, never delivered.
            handleReset(segment, connection, senderSide: index, frame: frame, timestamp: timestamp, &consumer)
            return
        }
        guard hasData || flags.contains(.fin) else { return }
        let dataSequence = flags.contains(.syn) ? segment.sequenceNumber &+ 1 : segment.sequenceNumber
        if !side.pointee.initialized { side.pointee.start(sequenceBase: dataSequence) }
        let direction = connection.pointee.direction(ofSide: index)
        let start = side.pointee.offset(of: dataSequence)
        if flags.contains(.syn) && !flags.contains(.ack) && hasData && start == side.pointee.next
            && holdSYNData(connection, side, direction, segment.payload, missing: missing, frame: frame,
                           timestamp: timestamp, &consumer) {
            // Delivered, or not, when the SYN-ACK says whether the server took it.
            if flags.contains(.fin) {
                registerFIN(connection, side, direction, at: start + Int64(payloadCount) + missing,
                            frame: frame, timestamp: timestamp, &consumer)
            }
            return
        }
        if side.pointee.synData != nil {
            // Later data from the client before any SYN-ACK was seen: data after the SYN's
            // means the server took the SYN's (its SYN-ACK was not captured); data at its
            // place means the SYN's was sent again.
            resolveSYNData(connection, side, direction: direction, acknowledged: start, &consumer)
        }
        if side.pointee.finHeldSince != nil, hasData, let fin = side.pointee.finOffset,
           start + Int64(payloadCount) > fin {
            holdDataPastFIN(connection, side, start: start, payload: segment.payload, fin: fin, frame: frame,
                            timestamp: timestamp)
        }
        if side.pointee.badChecksumData != nil && hasData && start <= side.pointee.next
            && start + Int64(payloadCount) > side.pointee.next {
            let skip = Int(side.pointee.next - start)
            settleHeldBadChecksumData(connection, side, replacement: UnsafeRawBufferPointer(
                rebasing: segment.payload[skip...]), &consumer)
        }
        if side.pointee.usualTTL > 1, segment.ttl != 0, segment.ttl < side.pointee.usualTTL - 1,
           holdLowTTLData(segment, connection, index, start: start, frame: frame, timestamp: timestamp) {
            return   // decided by the receiver's ACK or by the bytes that take its place
        }
        if side.pointee.unacknowledgedSYNData != nil && hasData {
            compareWithUnacknowledgedSYNData(connection, side, direction, start: start, payload: segment.payload,
                                             frame: frame, timestamp: timestamp, &consumer)
        }
        if hasData {
            if flags.contains(.urg) && segment.urgentPointer > 0 && payloadCount > 0 {
                processUrgent(connection, side, direction, start: start, segment: segment, missing: missing,
                              frame: frame, timestamp: timestamp, &consumer)
            } else {
                processData(connection, side, direction, start: start, payload: segment.payload, missing: missing,
                            frame: frame, timestamp: timestamp, &consumer)
            }
        }
        if flags.contains(.fin) {
            registerFIN(connection, side, direction, at: start + Int64(payloadCount) + missing,
                        frame: frame, timestamp: timestamp, &consumer)
        }
        if connection.pointee.side0.ended && connection.pointee.side1.ended {
            close(connection, .fin, frame: frame, timestamp: timestamp, &consumer)
        }
    }

    /// A FIN consumes one sequence number after the segment's data (RFC 9293 §3.4); the
    /// direction ends when it is reached in sequence. The first FIN position seen wins.
    mutating func registerFIN<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                         _ direction: Direction, at offset: Int64,
                                                         frame: UInt64, timestamp: Timestamp, _ consumer: inout C) {
        guard !side.pointee.ended else { return }
        if side.pointee.finOffset == nil && offset >= side.pointee.next {
            side.pointee.finOffset = offset
            side.pointee.finFrame = frame
            side.pointee.finTimestamp = timestamp
        }
        if side.pointee.finOffset == side.pointee.next {
            reachFIN(connection, side, direction, &consumer)
        }
    }

    mutating func endDirection<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                          _ direction: Direction, _ consumer: inout C) {
        side.pointee.ended = true
        side.pointee.finHeldSince = nil
        releaseHeld(connection, &side.pointee.dataPastFIN)
        discardBuffer(connection, side)
        consumer.streamEnd(connection.pointee.info, direction, frame: side.pointee.finFrame, timestamp: side.pointee.finTimestamp)
    }

    /// The peer acknowledged data we have not seen while we wait for it: it was sent but not
    /// captured, so stop waiting and report it as a gap (only as far as what we wait for).
    mutating func acknowledge<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                         _ direction: Direction, _ acknowledgment: UInt32,
                                                         frame: UInt64, timestamp: Timestamp, _ consumer: inout C) {
        let target = side.pointee.offset(of: acknowledgment)
        while !side.pointee.ended && side.pointee.next < target {
            let to: Int64
            if let first = side.pointee.buffer.first {
                to = min(target, first.start)
            } else if let fin = side.pointee.finOffset, fin > side.pointee.next {
                to = min(target, fin)
            } else {
                return
            }
            let before = (side.pointee.next, side.pointee.buffer.count)
            forceAdvance(connection, side, direction, to: to, frame: frame, timestamp: timestamp, &consumer)
            if side.pointee.next == before.0 && side.pointee.buffer.count == before.1 { return }
        }
    }

    /// Delivers `start..<start+payload.count+missing`: the part already delivered or buffered
    /// is compared and dropped, the part at `next` goes straight from the packet, the part
    /// beyond a hole is copied into the buffer.
    @inline(__always)
    mutating func processData<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                         _ direction: Direction, start: Int64,
                                                         payload: UnsafeRawBufferPointer, missing: Int64,
                                                         frame: UInt64, timestamp: Timestamp, _ consumer: inout C) {
        let capturedEnd = start + Int64(payload.count)
        var end = capturedEnd + missing
        if let fin = side.pointee.finOffset, end > fin { end = max(fin, start) }  // nothing follows a FIN

        // Fast path: the next bytes, nothing buffered, nothing cut. `end > start`: a segment
        // whose bytes were all cut and lie at or past the FIN has nothing to deliver (and its
        // direction may already have ended).
        if start == side.pointee.next && end == capturedEnd && end > start && side.pointee.buffer.isEmpty {
            deliver(connection, side, direction, payload, frame: frame, timestamp: timestamp, &consumer)
            if side.pointee.finOffset == side.pointee.next { reachFIN(connection, side, direction, &consumer) }
            return
        }
        // A keep-alive probe (RFC 9293 §3.8.4) repeats the last byte, or garbage: not data.
        if start == side.pointee.next - 1 && payload.count <= 1 && missing == 0 { return }

        var cursor = start
        var reported = false
        if cursor < side.pointee.next {
            let oldEnd = min(end, side.pointee.next)
            if oldEnd > cursor {
                side.pointee.stats.retransmittedBytes &+= UInt64(oldEnd - cursor)
                let compareFrom = max(cursor, side.pointee.history.availableStart(end: side.pointee.next))
                let compareTo = min(oldEnd, capturedEnd)
                if compareFrom < compareTo, let base = payload.baseAddress,
                   let difference = side.pointee.history.firstDifference(
                       from: compareFrom, to: compareTo, other: base + Int(compareFrom - start)) {
                    let count = Int(min(16, compareTo - difference))
                    let discarded = Array(UnsafeRawBufferPointer(rebasing:
                        payload[Int(difference - start)..<Int(difference - start) + count]))
                    reportConflict(connection, side, direction, at: difference,
                                   kept: side.pointee.history.bytes(from: difference, count: count), discarded: discarded,
                                   keptFrame: side.pointee.history.frame(at: difference), frame: frame, timestamp: timestamp,
                                   &consumer)
                    reported = true
                }
                cursor = oldEnd
            }
        }
        guard cursor < end else { return }
        if cursor > side.pointee.next { side.pointee.stats.outOfOrderSegments &+= 1 }

        // Bytes already buffered: the first version is kept; compare.
        if !side.pointee.buffer.isEmpty {
            let (overlapping, conflict) = side.pointee.buffer.overlap(
                from: cursor, to: end, segmentStart: start, capturedEnd: capturedEnd, payload: payload,
                compare: !reported)
            side.pointee.stats.retransmittedBytes &+= UInt64(overlapping)
            if let conflict {
                reportConflict(connection, side, direction, at: conflict.offset, kept: conflict.kept,
                               discarded: conflict.discarded, keptFrame: conflict.keptFrame, frame: frame,
                               timestamp: timestamp, &consumer)
            }
        }

        // New bytes, hole by hole between buffered chunks.
        while cursor < end && !side.pointee.ended {
            if cursor < side.pointee.next {
                cursor = side.pointee.next
                continue
            }
            guard let hole = side.pointee.buffer.hole(from: cursor, before: end) else { break }
            cursor = hole.lowerBound
            let pieceEnd = hole.upperBound
            let dataEnd = min(capturedEnd, pieceEnd)
            let cutStart = max(cursor, capturedEnd)
            if cursor == side.pointee.next {
                if dataEnd > cursor {
                    let bytes = UnsafeRawBufferPointer(rebasing: payload[Int(cursor - start)..<Int(dataEnd - start)])
                    deliver(connection, side, direction, bytes, frame: frame, timestamp: timestamp, &consumer)
                }
                if pieceEnd > cutStart {
                    emitGap(connection, side, direction, length: pieceEnd - side.pointee.next, frame: frame,
                            timestamp: timestamp, &consumer)
                }
                settle(connection, side, direction, &consumer)
                cursor = pieceEnd
                continue
            }
            let hasBytes = dataEnd > cursor, hasCut = pieceEnd > cutStart
            let cost = (hasBytes ? Int(dataEnd - cursor) + BufferedChunk.overheadBytes : 0)
                + (hasCut ? BufferedChunk.overheadBytes : 0)
            let segments = (hasBytes ? 1 : 0) + (hasCut ? 1 : 0)
            guard makeRoom(connection, side, direction, before: cursor, cost: cost, segments: segments,
                           frame: frame, timestamp: timestamp, &consumer) else {
                continue  // Gave up waiting: `next` reached `cursor`, deliver directly.
            }
            // Making room may have flushed chunks before `cursor`; those after it are unchanged.
            side.pointee.buffer.fill(cursor..<pieceEnd,
                                     bytes: hasBytes ? UnsafeRawBufferPointer(rebasing:
                                         payload[Int(cursor - start)..<Int(dataEnd - start)]) : UnsafeRawBufferPointer(start: nil, count: 0),
                                     cutStart: cutStart, frame: frame, timestamp: timestamp)
            connection.pointee.bufferedBytes += cost
            connection.pointee.bufferedSegments += segments
            statistics.bufferedBytes += cost
            statistics.peakBufferedBytes = max(statistics.peakBufferedBytes, statistics.bufferedBytes)
            cursor = pieceEnd
        }
    }

    /// Whether `cost` more bytes fit the buffer limits. When they do not, stops waiting
    /// (gap up to the earliest buffered chunk, flush what is contiguous) until they fit or
    /// `next` reaches `position`; returns false in the latter case.
    mutating func makeRoom<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                      _ direction: Direction, before position: Int64,
                                                      cost: Int, segments: Int, frame: UInt64,
                                                      timestamp: Timestamp, _ consumer: inout C) -> Bool {
        while true {
            let connectionFull = connection.pointee.bufferedBytes + cost > limits.connectionBufferBytes
                || connection.pointee.bufferedSegments + segments > limits.connectionBufferSegments
            let globalFull = statistics.bufferedBytes + cost > limits.globalBufferBytes
            if !connectionFull && !globalFull { return true }
            if connectionFull && !connection.pointee.reportedConnectionBufferLimit {
                connection.pointee.reportedConnectionBufferLimit = true
                let detail = "out-of-order buffer of the connection is full (\(limits.connectionBufferBytes) bytes, "
                    + "\(limits.connectionBufferSegments) segments); stopped waiting for missing data at "
                    + "\(direction.name) stream offset \(side.pointee.next)"
                reportLimit(connection, direction, "reassembly_connection_buffer", detail, frame, timestamp, &consumer)
            } else if !connectionFull && !connection.pointee.reportedGlobalBufferLimit {
                connection.pointee.reportedGlobalBufferLimit = true
                let detail = "out-of-order buffers of all connections are full (\(limits.globalBufferBytes) bytes); "
                    + "stopped waiting for missing data at \(direction.name) stream offset \(side.pointee.next)"
                reportLimit(connection, direction, "reassembly_global_buffer", detail, frame, timestamp, &consumer)
            }
            let target = min(side.pointee.buffer.first?.start ?? position, position)
            forceAdvance(connection, side, direction, to: target, frame: frame, timestamp: timestamp, &consumer)
            if side.pointee.next >= position || side.pointee.ended { return false }
        }
    }

    // MARK: - Delivery

    @inline(__always)
    mutating func deliver<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                     _ direction: Direction, _ bytes: UnsafeRawBufferPointer,
                                                     frame: UInt64, timestamp: Timestamp, _ consumer: inout C) {
        // The window grows with the bytes in flight (delivered, not yet acknowledged) instead
        // of straight to `historyBytes`: with ACKs in the capture most rings stay a few KiB and
        // cache-resident; copying every byte into 64 KiB rings cost a fifth of a run.
        let inFlight = side.pointee.next + Int64(bytes.count) - side.pointee.acknowledged
        statistics.historyBytes += side.pointee.history.append(
            bytes, at: side.pointee.next, frame: frame, maxCapacity: historyWindow(inFlight: inFlight),
            budgetLeft: limits.globalHistoryBytes - statistics.historyBytes)
        side.pointee.next += Int64(bytes.count)
        side.pointee.stats.payloadBytes &+= UInt64(bytes.count)
        consumer.streamData(connection.pointee.info, direction, bytes, frame: frame, timestamp: timestamp)
    }

    /// The power-of-two history window for `inFlight` unacknowledged bytes, between
    /// `minimumHistoryWindow` and `historyCapacity`.
    /// (A ring never shrinks: a window below its size only stops it growing.)
    @inline(__always)
    func historyWindow(inFlight: Int64) -> Int {
        if inFlight >= Int64(historyCapacity) { return historyCapacity }
        if inFlight <= Int64(Self.minimumHistoryWindow) { return min(Self.minimumHistoryWindow, historyCapacity) }
        return 1 << (64 - UInt64(inFlight - 1).leadingZeroBitCount)
    }

    /// Smallest window a direction grows to: a few segments, so that a retransmission right
    /// after delivery is always compared even before any ACK is seen.
    static let minimumHistoryWindow = 4 << 10

    mutating func emitGap<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                     _ direction: Direction, length: Int64, frame: UInt64,
                                                     timestamp: Timestamp, _ consumer: inout C) {
        guard length > 0 else { return }
        side.pointee.next += length
        side.pointee.history.reset(at: side.pointee.next)
        side.pointee.stats.gaps &+= 1
        side.pointee.stats.gapBytes &+= UInt64(length)
        consumer.streamGap(connection.pointee.info, direction, length: UInt64(length), frame: frame, timestamp: timestamp)
    }

    /// Delivers the buffered chunks that became contiguous, then ends the direction if its
    /// FIN was reached.
    mutating func settle<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                    _ direction: Direction, _ consumer: inout C) {
        if !side.pointee.buffer.isEmpty {
            let limit = side.pointee.finOffset ?? .max
            var flushed = 0, released = 0
            while flushed < side.pointee.buffer.count {
                let chunk = side.pointee.buffer[flushed]
                if chunk.start > side.pointee.next || side.pointee.next >= limit { break }
                let from = side.pointee.next, to = min(chunk.end, limit)
                if to > from {
                    if chunk.isGap {
                        emitGap(connection, side, direction, length: to - from, frame: chunk.frame,
                                timestamp: chunk.timestamp, &consumer)
                    } else {
                        chunk.bytes.withUnsafeBytes { raw in
                            let bytes = UnsafeRawBufferPointer(rebasing: raw[Int(from - chunk.start)..<Int(to - chunk.start)])
                            deliver(connection, side, direction, bytes, frame: chunk.frame, timestamp: chunk.timestamp,
                                    &consumer)
                        }
                    }
                }
                released += chunk.cost
                flushed += 1
            }
            if flushed > 0 {
                side.pointee.buffer.removeFirst(flushed)
                release(connection, bytes: released, segments: flushed)
            }
        }
        if !side.pointee.ended, let fin = side.pointee.finOffset, fin == side.pointee.next {
            reachFIN(connection, side, direction, &consumer)
        }
    }

    /// Declares everything before `target` (not beyond the FIN) missing, then settles.
    mutating func forceAdvance<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                          _ direction: Direction, to target: Int64, frame: UInt64,
                                                          timestamp: Timestamp, _ consumer: inout C) {
        let to = min(target, side.pointee.finOffset ?? .max)
        if to > side.pointee.next {
            emitGap(connection, side, direction, length: to - side.pointee.next, frame: frame, timestamp: timestamp, &consumer)
        }
        settle(connection, side, direction, &consumer)
    }

    /// Stops waiting for anything: gap before each buffered chunk, and up to a seen FIN.
    mutating func flushAll<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                      _ direction: Direction, frame: UInt64, timestamp: Timestamp,
                                                      _ consumer: inout C) {
        while !side.pointee.ended, let first = side.pointee.buffer.first {
            let before = (side.pointee.next, side.pointee.buffer.count)
            forceAdvance(connection, side, direction, to: first.start, frame: frame, timestamp: timestamp, &consumer)
            if side.pointee.next == before.0 && side.pointee.buffer.count == before.1 { break }
        }
        if !side.pointee.ended, let fin = side.pointee.finOffset, fin > side.pointee.next {
            forceAdvance(connection, side, direction, to: fin, frame: frame, timestamp: timestamp, &consumer)
        }
        discardBuffer(connection, side)
    }

    mutating func discardBuffer(_ connection: ConnectionPointer, _ side: SidePointer) {
        guard !side.pointee.buffer.isEmpty else { return }
        let (released, chunks) = side.pointee.buffer.removeAll()
        release(connection, bytes: released, segments: chunks)
    }

    @inline(__always)
    mutating func release(_ connection: ConnectionPointer, bytes: Int, segments: Int) {
        connection.pointee.bufferedBytes -= bytes
        connection.pointee.bufferedSegments -= segments
        statistics.bufferedBytes -= bytes
    }

    // MARK: - Findings

    mutating func reportConflict<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                            _ direction: Direction, at offset: Int64,
                                                            kept: [UInt8], discarded: [UInt8], keptFrame: UInt64,
                                                            frame: UInt64, timestamp: Timestamp,
                                                            _ consumer: inout C) {
        side.pointee.stats.overlapConflicts &+= 1
        guard side.pointee.conflictFindings < limits.overlapFindingsPerDirection else { return }
        side.pointee.conflictFindings += 1
        consumer.reassemblyFinding(ReassemblyFinding(
            kind: .overlapConflict(sequenceNumber: side.pointee.sequenceNumber(at: offset), keptBytes: kept,
                                   discardedBytes: discarded, keptFrame: keptFrame),
            connection: connection.pointee.info, direction: direction, frame: frame, timestamp: timestamp))
    }

    mutating func reportLimit<C: StreamConsumer>(_ connection: ConnectionPointer, _ direction: Direction,
                                                         _ limit: String, _ detail: String, _ frame: UInt64,
                                                         _ timestamp: Timestamp, _ consumer: inout C) {
        consumer.reassemblyFinding(ReassemblyFinding(
            kind: .limitReached(limit: limit, detail: detail),
            connection: connection.pointee.info, direction: direction, frame: frame, timestamp: timestamp))
    }
}
