import PacketCapture
import PacketDecoding

/// What the endpoints would have believed: checksums, resets, SYN data and urgent data.
///
/// A monitor that believes every packet of a capture can be made to see a stream no endpoint
/// received: a packet with a wrong checksum, an RST at a sequence number the receiver refuses,
/// SYN data the server never took, an urgent byte the application never read. Each rule here
/// follows what a receiving host does (RFC 9293, RFC 5961, RFC 7413, RFC 6093 and Linux's
/// defaults where the RFCs leave a choice), and each time believing the capture would have
/// changed the stream, the reassembler says so in a finding.
extension TCPReassembler {
    // MARK: - Checksums

    /// Whether a packet whose checksum is not right is believed under the policy.
    func believesChecksum(_ segment: TCPSegment, slot: Int32) -> Bool {
        switch limits.checksums {
        case .off:
            return true
        case .on:
            return false
        case .auto:
            // Transmit offload on the capturing host leaves the pseudo-header sum: the NIC
            // completes it on the wire, so the receiver got a right checksum.
            if segment.checksum == .offloadPartial { return true }
            guard slot != ConnectionTable.none else { return true }
            let connection = table.pointer(slot)
            if connection.pointee.isClosed { return true }
            let side = connection.side(connection.pointee.sideIndex(of: segment.source))
            // A direction that has shown right checksums does not offload them: a wrong one
            // there is a damaged or forged packet, which its receiver dropped.
            return !side.pointee.sawValidChecksum
        }
    }

    /// Drops a packet for its checksum; reports it when believing it would have changed the
    /// stream (and the connection is known).
    mutating func disbelieveChecksum<C: StreamConsumer>(_ segment: TCPSegment, slot: Int32, frame: UInt64,
                                                        timestamp: Timestamp, _ consumer: inout C) {
        statistics.segmentsDroppedBadChecksum += 1
        guard slot != ConnectionTable.none else { return }
        let connection = table.pointer(slot)
        guard connection.pointee.opened, !connection.pointee.isClosed else { return }
        let index = connection.pointee.sideIndex(of: segment.source)
        guard let effect = effectOfBelieving(segment, connection, index) else { return }
        let side = connection.side(index)
        let ignored = IgnoredSegment(
            reason: .badChecksum, sequenceNumber: segment.sequenceNumber,
            expectedSequenceNumber: side.pointee.initialized ? side.pointee.sequenceNumber(at: side.pointee.next) : nil,
            flags: segment.flags, checksum: segment.checksum,
            payloadPrefix: Array(segment.payload.prefix(16)), payloadLength: segment.payload.count,
            effect: effect)
        // In-order data only: held until the receiver's ACK or other bytes decide.
        let flags = segment.flags
        if side.pointee.badChecksumData == nil, side.pointee.initialized, segment.missingPayloadLength == 0,
           !flags.contains(.syn), !flags.contains(.fin), !flags.contains(.rst), segment.payload.count > 0,
           side.pointee.offset(of: segment.sequenceNumber) == side.pointee.next, side.pointee.buffer.isEmpty {
            if chargeHeld(connection, cost: segment.payload.count + BufferedChunk.overheadBytes) {
                side.pointee.badChecksumData = HeldBytes(bytes: Array(segment.payload),
                                                         length: Int64(segment.payload.count),
                                                         frame: frame, timestamp: timestamp)
                side.pointee.badChecksumEvidence = ignored
                return
            }
        }
        reportNotBelieved(connection, index, ignored, frame: frame, timestamp: timestamp, &consumer)
    }

    /// In-order data whose TTL is below its direction's (checked by the caller): held in the
    /// bad-checksum slot, with the same outcomes. False when it is not in-order data, the slot
    /// is taken or there is no room; the segment is then processed as any other.
    mutating func holdLowTTLData(_ segment: TCPSegment, _ connection: ConnectionPointer, _ index: Int,
                                 start: Int64, frame: UInt64, timestamp: Timestamp) -> Bool {
        let side = connection.side(index)
        let flags = segment.flags
        guard side.pointee.badChecksumData == nil, segment.missingPayloadLength == 0, segment.payload.count > 0,
              !flags.contains(.syn), !flags.contains(.fin), !flags.contains(.rst),
              start == side.pointee.next, side.pointee.buffer.isEmpty,
              chargeHeld(connection, cost: segment.payload.count + BufferedChunk.overheadBytes) else { return false }
        side.pointee.badChecksumData = HeldBytes(bytes: Array(segment.payload), length: Int64(segment.payload.count),
                                                 frame: frame, timestamp: timestamp)
        let direction = connection.pointee.direction(ofSide: index).name
        side.pointee.badChecksumEvidence = IgnoredSegment(
            reason: .ttlBelowDirection, sequenceNumber: segment.sequenceNumber,
            expectedSequenceNumber: side.pointee.sequenceNumber(at: side.pointee.next), flags: flags,
            checksum: segment.checksum, payloadPrefix: Array(segment.payload.prefix(16)),
            payloadLength: segment.payload.count,
            effect: "it would have added \(segment.payload.count) bytes to the \(direction) stream at offset "
                + "\(side.pointee.next) (IP TTL \(segment.ttl), the direction's \(side.pointee.usualTTL))")
        return true
    }

    /// The receiver acknowledged the bytes of a held bad-checksum segment (nothing else took
    /// their place): it received them intact, so they are delivered.
    mutating func acceptHeldBadChecksumData<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                               _ direction: Direction, acknowledged: Int64,
                                                               _ consumer: inout C) {
        guard let held = side.pointee.badChecksumData, acknowledged >= side.pointee.next + held.length else { return }
        let reason = side.pointee.badChecksumEvidence?.reason
        releaseHeld(connection, &side.pointee.badChecksumData)
        side.pointee.badChecksumEvidence = nil
        if reason == .ttlBelowDirection {
            statistics.lowTTLDataAcknowledged += 1
        } else {
            statistics.segmentsDroppedBadChecksum -= 1
            statistics.badChecksumAcknowledged += 1
        }
        held.bytes.withUnsafeBytes { bytes in
            processData(connection, side, direction, start: side.pointee.next, payload: bytes, missing: 0,
                        frame: held.frame, timestamp: held.timestamp, &consumer)
        }
    }

    /// Other bytes arrived where the held bad-checksum segment was, or the connection closes:
    /// the receiver dropped it. Reported when its bytes differ from what took their place.
    mutating func settleHeldBadChecksumData<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                               replacement: UnsafeRawBufferPointer?,
                                                               _ consumer: inout C) {
        guard let held = side.pointee.badChecksumData, var ignored = side.pointee.badChecksumEvidence else { return }
        releaseHeld(connection, &side.pointee.badChecksumData)
        side.pointee.badChecksumEvidence = nil
        if ignored.reason == .ttlBelowDirection { statistics.lowTTLDataDropped += 1 }
        if let replacement {
            let count = min(replacement.count, held.bytes.count)
            if count == held.bytes.count && held.bytes.elementsEqual(replacement.prefix(count)) { return }
            ignored.effect = "it carried different bytes than the segment the receiver took at that place ("
                + ignored.effect + ")"
        } else {
            ignored.effect += "; the receiver never acknowledged it"
        }
        let index = connection.side(0) == side ? 0 : 1
        reportNotBelieved(connection, index, ignored, frame: held.frame, timestamp: held.timestamp, &consumer)
    }

    /// What believing `segment` would have changed, or nil when it would have changed nothing
    /// (a retransmission of delivered bytes, a bare ACK).
    func effectOfBelieving(_ segment: TCPSegment, _ connection: ConnectionPointer, _ index: Int) -> String? {
        let side = connection.side(index)
        let direction = connection.pointee.direction(ofSide: index).name
        let flags = segment.flags
        if flags.contains(.rst) { return "it would have reset the connection" }
        if flags.contains(.syn) { return "it would have restarted the connection" }
        let payload = segment.payload
        if payload.count > 0 {
            guard side.pointee.initialized else { return "it would have started the \(direction) stream" }
            let start = side.pointee.offset(of: segment.sequenceNumber)
            let end = start + Int64(payload.count)
            if end > side.pointee.next {
                return "it would have added \(end - max(start, side.pointee.next)) bytes to the \(direction) stream "
                    + "at offset \(max(start, side.pointee.next))"
            }
            let compareFrom = max(start, side.pointee.history.availableStart(end: side.pointee.next))
            if compareFrom < end, let base = payload.baseAddress,
               let difference = side.pointee.history.firstDifference(from: compareFrom, to: end,
                                                                    other: base + Int(compareFrom - start)) {
                return "it carried different bytes for \(direction) stream offset \(difference)"
            }
        }
        if flags.contains(.fin) { return "it would have ended the \(direction) stream" }
        return nil
    }

    // MARK: - Resets

    /// RFC 9293 §3.10.7 as amended by RFC 5961 §3.2: an RST is acted on only at the sequence
    /// number the receiver expects next (RCV.NXT); in the window but elsewhere it draws a
    /// challenge ACK, outside it is dropped. In SYN-SENT it must acknowledge the SYN.
    mutating func handleReset<C: StreamConsumer>(_ segment: TCPSegment, _ connection: ConnectionPointer,
                                                 senderSide index: Int, frame: UInt64, timestamp: Timestamp,
                                                 _ consumer: inout C) {
        // One RST at a time: later ones while one waits change nothing.
        guard connection.pointee.pendingReset == nil else { return }
        let side = connection.side(index), peer = connection.side(index ^ 1)
        let sequence = segment.sequenceNumber
        var refusal: (IgnoredSegment.Reason, UInt32?)?
        if let said = peer.pointee.lastAcknowledgmentNumber, sequence == said {
            // The receiver's own latest ACK names this sequence number as its RCV.NXT.
        } else if !side.pointee.initialized {
            // Nothing is known of the sender's sequence space. If the receiver is in SYN-SENT,
            // the RST must acknowledge its SYN (§3.10.7.3); otherwise it cannot be checked.
            if peer.pointee.stats.sawSYN && !side.pointee.stats.sawSYN
                && !(segment.flags.contains(.ack)
                     && segment.acknowledgmentNumber == peer.pointee.initialSequenceNumber &+ 1) {
                refusal = (.resetNotAcknowledgingSYN, nil)
            }
        } else {
            let expected = side.pointee.sequenceNumber(at: side.pointee.next)
            // RCV.NXT is what the capture saw sent (the sender's SND.NXT), what the receiver
            // acknowledged (it may lag the capture), or one past a FIN.
            var acceptable = sequence == expected
                || sequence == side.pointee.sequenceNumber(at: side.pointee.acknowledged)
            if let fin = side.pointee.finOffset { acceptable = acceptable || sequence == side.pointee.sequenceNumber(at: fin + 1) }
            if !acceptable {
                let distance = Int64(Int32(bitPattern: sequence &- side.pointee.sequenceNumber(at: side.pointee.acknowledged)))
                // The window the receiver advertised, at the largest scale it could use
                // (RFC 7323 §2.3: shift at most 14), and never below a classic 64 KiB.
                let window = max(Int64(peer.pointee.advertisedWindow) << 14, 65_535)
                let inWindow = distance >= 0 && distance < window
                refusal = (inWindow ? .resetNotAtExpectedSequence : .resetOutOfWindow, expected)
            }
        }
        if let (reason, expected) = refusal {
            statistics.resetsIgnored += 1
            let effect = reason == .resetNotAtExpectedSequence
                ? "it would have reset the connection; the receiver answers it with a challenge ACK instead (RFC 5961 §3.2)"
                : "it would have reset the connection; the receiver drops it"
            reportNotBelieved(connection, index, IgnoredSegment(
                reason: reason, sequenceNumber: sequence, expectedSequenceNumber: expected, flags: segment.flags,
                checksum: segment.checksum, payloadPrefix: Array(segment.payload.prefix(16)),
                payloadLength: segment.payload.count, effect: effect), frame: frame, timestamp: timestamp, &consumer)
            return
        }
        guard resetHoldNanos > 0 else {
            close(connection, .reset, frame: frame, timestamp: timestamp, &consumer)
            return
        }
        connection.pointee.pendingReset = PendingReset(senderSide: index, sequenceNumber: sequence, frame: frame,
                                                       timestamp: timestamp, nanos: nowNanos)
        resetQueue.append(.init(key: connection.pointee.key, id: connection.pointee.info.id, nanos: nowNanos,
                                extra: ()), capacity: limits.maxConnections)
    }

    /// Closes the connections whose believed RST was not contradicted within the hold.
    mutating func commitHeldResets<C: StreamConsumer>(_ consumer: inout C) {
        while let entry = resetQueue.popExpired(now: nowNanos, holdNanos: resetHoldNanos) {
            let slot = table.find(entry.key)
            guard slot != ConnectionTable.none else { continue }
            let connection = table.pointer(slot)
            guard connection.pointee.id == entry.id, !connection.pointee.isClosed,
                  let pending = connection.pointee.pendingReset, pending.nanos == entry.nanos else { continue }
            close(connection, .reset, frame: pending.frame, timestamp: pending.timestamp, &consumer)
        }
    }

    // MARK: - SYN data

    /// Keeps a SYN's payload aside until the SYN-ACK says whether the server took it (TCP Fast
    /// Open, RFC 7413 §4.2) or only the SYN (everyone else, RFC 9293 §3.10.7.2: the data is
    /// queued, acknowledged only if accepted). False when there is no room, in which case the
    /// payload is delivered as before and the limit is reported.
    mutating func holdSYNData<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                 _ direction: Direction, _ payload: UnsafeRawBufferPointer,
                                                 missing: Int64, frame: UInt64, timestamp: Timestamp,
                                                 _ consumer: inout C) -> Bool {
        guard side.pointee.synData == nil, missing == 0, payload.count > 0 else { return false }
        guard chargeHeld(connection, cost: payload.count + BufferedChunk.overheadBytes) else {
            reportLimit(connection, direction, "reassembly_global_buffer",
                        "no room to hold the SYN's \(payload.count) bytes until the SYN-ACK; delivered them unchecked",
                        frame, timestamp, &consumer)
            return false
        }
        side.pointee.synData = HeldBytes(bytes: Array(payload), length: Int64(payload.count), frame: frame,
                                           timestamp: timestamp)
        return true
    }

    /// Delivers the held SYN payload if `acknowledged` (a stream offset) covers it, else sets
    /// its first bytes aside to compare with what is sent at its place later.
    mutating func resolveSYNData<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                    direction: Direction, acknowledged: Int64, _ consumer: inout C) {
        guard let held = side.pointee.synData else { return }
        releaseSYNData(connection, side)
        if acknowledged >= held.length {
            held.bytes.withUnsafeBytes { bytes in
                processData(connection, side, direction, start: 0, payload: bytes, missing: 0, frame: held.frame,
                            timestamp: held.timestamp, &consumer)
            }
        } else {
            statistics.synPayloadsNotAcknowledged += 1
            side.pointee.unacknowledgedSYNData = HeldBytes(
                bytes: Array(held.bytes.prefix(HeldBytes.comparedBytes)), length: held.length,
                frame: held.frame, timestamp: held.timestamp)
        }
    }

    mutating func releaseSYNData(_ connection: ConnectionPointer, _ side: SidePointer) {
        releaseHeld(connection, &side.pointee.synData)
    }

    /// The bytes sent where the unacknowledged SYN data was: if they differ, a monitor that
    /// believed the SYN saw a stream the server never received.
    mutating func compareWithUnacknowledgedSYNData<C: StreamConsumer>(
        _ connection: ConnectionPointer, _ side: SidePointer, _ direction: Direction, start: Int64,
        payload: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp, _ consumer: inout C
    ) {
        guard let held = side.pointee.unacknowledgedSYNData else { return }
        guard start <= 0 else {
            side.pointee.unacknowledgedSYNData = nil   // its place was passed without a comparison
            return
        }
        let skip = Int(-start)
        guard skip < payload.count else { return }
        side.pointee.unacknowledgedSYNData = nil
        let count = min(held.bytes.count, payload.count - skip)
        let later = Array(payload[skip..<skip + count])
        guard Array(held.bytes.prefix(count)) != later else { return }
        guard connection.pointee.disbeliefFindings < limits.disbeliefFindingsPerConnection else { return }
        connection.pointee.disbeliefFindings += 1
        consumer.reassemblyFinding(ReassemblyFinding(
            kind: .synDataNotAcknowledged(synFrame: held.frame, synBytes: Array(held.bytes.prefix(min(count, 16))),
                                          laterBytes: Array(later.prefix(16))),
            connection: connection.pointee.info, direction: direction, frame: frame, timestamp: timestamp))
    }

    // MARK: - Urgent data

    /// A segment with URG: a receiver without SO_OOBINLINE (the default everywhere) takes the
    /// urgent byte out of the stream. The urgent pointer points one past it (RFC 6093 §2: what
    /// BSD, Linux and Windows implement, not RFC 9293's "last urgent byte"). Only an in-order
    /// segment is cut; otherwise the byte stays and the finding says so.
    mutating func processUrgent<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                   _ direction: Direction, start: Int64, segment: TCPSegment,
                                                   missing: Int64, frame: UInt64, timestamp: Timestamp,
                                                   _ consumer: inout C) {
        let payload = segment.payload
        let urgent = Int(segment.urgentPointer) - 1
        let inOrder = start == side.pointee.next && side.pointee.buffer.isEmpty && missing == 0
            && side.pointee.finOffset.map({ $0 >= start + Int64(payload.count) }) ?? true
        let removable = inOrder && urgent < payload.count
        if removable {
            if urgent > 0 {
                processData(connection, side, direction, start: start,
                            payload: UnsafeRawBufferPointer(rebasing: payload[0..<urgent]), missing: 0,
                            frame: frame, timestamp: timestamp, &consumer)
            }
            // The byte occupies its sequence number but never reaches the application.
            side.pointee.next += 1
            side.pointee.history.reset(at: side.pointee.next)
            statistics.urgentBytesRemoved += 1
            if urgent + 1 < payload.count {
                processData(connection, side, direction, start: start + Int64(urgent) + 1,
                            payload: UnsafeRawBufferPointer(rebasing: payload[(urgent + 1)...]), missing: 0,
                            frame: frame, timestamp: timestamp, &consumer)
            }
        } else {
            processData(connection, side, direction, start: start, payload: payload, missing: missing,
                        frame: frame, timestamp: timestamp, &consumer)
        }
        guard !side.pointee.reportedUrgentData,
              connection.pointee.disbeliefFindings < limits.disbeliefFindingsPerConnection else { return }
        side.pointee.reportedUrgentData = true
        connection.pointee.disbeliefFindings += 1
        consumer.reassemblyFinding(ReassemblyFinding(
            kind: .urgentData(sequenceNumber: segment.sequenceNumber &+ UInt32(truncatingIfNeeded: max(urgent, 0)),
                              byte: urgent < payload.count ? payload[urgent] : nil, removed: removable),
            connection: connection.pointee.info, direction: direction, frame: frame, timestamp: timestamp))
    }

    // MARK: - Reporting

    mutating func reportNotBelieved<C: StreamConsumer>(_ connection: ConnectionPointer, _ senderSide: Int,
                                                       _ ignored: IgnoredSegment, frame: UInt64,
                                                       timestamp: Timestamp, _ consumer: inout C) {
        guard connection.pointee.disbeliefFindings < limits.disbeliefFindingsPerConnection else { return }
        connection.pointee.disbeliefFindings += 1
        if !connection.pointee.opened { ensureOpened(connection, &consumer) }
        consumer.reassemblyFinding(ReassemblyFinding(
            kind: .segmentNotBelieved(ignored), connection: connection.pointee.info,
            direction: connection.pointee.direction(ofSide: senderSide), frame: frame, timestamp: timestamp))
    }
}

// MARK: - FINs

extension TCPReassembler {
    /// A FIN reached in sequence ends its direction once its receiver acknowledges it, or after
    /// `resetHoldSeconds` without a contradiction, or when the connection closes. Until then,
    /// data from the same sender past the FIN shows that the FIN never reached the receiver
    /// (lost, or forged for monitors): a sender sends nothing after its own FIN (RFC 9293
    /// §3.6), so the direction goes on (`tcp_fin_not_honoured`).
    mutating func reachFIN<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                              _ direction: Direction, _ consumer: inout C) {
        guard !side.pointee.ended, side.pointee.finHeldSince == nil, let fin = side.pointee.finOffset else { return }
        let index = connection.pointee.sideIndex(for: direction)
        let receiver = connection.side(index ^ 1)
        if resetHoldNanos == 0 {
            endDirection(connection, side, direction, &consumer)
            return
        }
        if let said = receiver.pointee.lastAcknowledgmentNumber, side.pointee.offset(of: said) > fin {
            endDirection(connection, side, direction, &consumer)
            return
        }
        side.pointee.finHeldSince = nowNanos
        finQueue.append(.init(key: connection.pointee.key, id: connection.pointee.info.id, nanos: nowNanos,
                              extra: index), capacity: 2 * max(limits.maxConnections, 1))
    }

    /// Ends the directions whose FIN waited for longer than the hold without a contradiction.
    mutating func commitHeldFINs<C: StreamConsumer>(_ consumer: inout C) {
        while let entry = finQueue.popExpired(now: nowNanos, holdNanos: resetHoldNanos) {
            let slot = table.find(entry.key)
            guard slot != ConnectionTable.none else { continue }
            let connection = table.pointer(slot)
            let side = connection.side(entry.extra)
            guard connection.pointee.id == entry.id, !connection.pointee.isClosed,
                  side.pointee.finHeldSince == entry.nanos else { continue }
            let direction = connection.pointee.direction(ofSide: entry.extra)
            endDirection(connection, side, direction, &consumer)
            if connection.pointee.side0.ended && connection.pointee.side1.ended {
                close(connection, .fin, frame: connection.pointee.lastFrame, timestamp: connection.pointee.lastTimestamp,
                      &consumer)
            }
        }
    }

    /// Keeps the bytes a sender sent past its own held FIN (contiguous from the FIN, within the
    /// connection's buffer budget) until the receiver's ACK decides between them and the FIN.
    mutating func holdDataPastFIN(_ connection: ConnectionPointer, _ side: SidePointer, start: Int64,
                                  payload: UnsafeRawBufferPointer, fin: Int64, frame: UInt64, timestamp: Timestamp) {
        let held = side.pointee.dataPastFIN
        let from = fin + (held?.length ?? 0)
        guard start <= from, start + Int64(payload.count) > from else { return }
        let piece = payload[Int(from - start)...]
        guard chargeHeld(connection, cost: piece.count + (held == nil ? BufferedChunk.overheadBytes : 0)) else { return }
        if held == nil {
            side.pointee.dataPastFIN = HeldBytes(bytes: Array(piece), length: Int64(piece.count), frame: frame,
                                                 timestamp: timestamp)
        } else {
            side.pointee.dataPastFIN!.bytes.append(contentsOf: piece)
            side.pointee.dataPastFIN!.length += Int64(piece.count)
        }
    }

    /// Charges bytes held aside (SYN data, data past a FIN, bad-checksum data) against the same
    /// limits as out-of-order data; false, charging nothing, when they do not fit.
    mutating func chargeHeld(_ connection: ConnectionPointer, cost: Int) -> Bool {
        guard connection.pointee.bufferedBytes + cost <= limits.connectionBufferBytes,
              statistics.bufferedBytes + cost <= limits.globalBufferBytes else { return false }
        connection.pointee.bufferedBytes += cost
        statistics.bufferedBytes += cost
        statistics.peakBufferedBytes = max(statistics.peakBufferedBytes, statistics.bufferedBytes)
        return true
    }

    /// Releases held bytes' charge against the buffer limits.
    mutating func releaseHeld(_ connection: ConnectionPointer, _ held: inout HeldBytes?) {
        guard let bytes = held else { return }
        let cost = bytes.bytes.count + BufferedChunk.overheadBytes
        connection.pointee.bufferedBytes -= cost
        statistics.bufferedBytes -= cost
        held = nil
    }

    /// The receiver acknowledged bytes past the FIN: it never got the FIN, so the direction goes
    /// on, and the bytes held past the FIN are delivered.
    mutating func finNotHonoured<C: StreamConsumer>(_ connection: ConnectionPointer, _ side: SidePointer,
                                                    _ direction: Direction, frame: UInt64, timestamp: Timestamp,
                                                    _ consumer: inout C) {
        let finFrame = side.pointee.finFrame
        let fin = side.pointee.finOffset ?? side.pointee.next
        let sequence = side.pointee.sequenceNumber(at: fin)
        side.pointee.finOffset = nil
        side.pointee.finHeldSince = nil
        statistics.finsNotHonoured += 1
        consumer.reassemblyFinding(ReassemblyFinding(
            kind: .finNotHonoured(finFrame: finFrame, sequenceNumber: sequence),
            connection: connection.pointee.info, direction: direction, frame: frame, timestamp: timestamp))
        if let held = side.pointee.dataPastFIN {
            releaseHeld(connection, &side.pointee.dataPastFIN)
            held.bytes.withUnsafeBytes { bytes in
                processData(connection, side, direction, start: fin, payload: bytes, missing: 0, frame: held.frame,
                            timestamp: held.timestamp, &consumer)
            }
        }
    }
}
