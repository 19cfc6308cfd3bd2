import XCTest
import PacketCapture
import PacketDecoding
@testable import StreamReassembly

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator so runs are reproducible.
struct SplitMix64 {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (bound > 0; the modulo bias is irrelevant here).
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
}

final class ReassemblyPropertyTests: XCTestCase {
    /// One direction's stream, cut into segments that may overlap and repeat.
    private struct Plan {
        var bytes: [UInt8]
        /// Data segments as (offset, length); the FIN follows the last byte.
        var pieces: [(offset: Int, length: Int)]
    }

    private func plan(_ rng: inout SplitMix64) -> Plan {
        let length = rng.below(6000)
        let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var pieces: [(offset: Int, length: Int)] = []
        var offset = 0
        while offset < length {
            let size = min(length - offset, 1 + rng.below(rng.chance(20) ? 40 : 1460))
            pieces.append((offset, size))
            // Duplicates and overlapping re-cuts of what was just sent (same bytes).
            if rng.chance(15) { pieces.append((offset, size)) }
            if rng.chance(15) {
                let start = max(0, offset - rng.below(300))
                pieces.append((start, min(length, offset + size + rng.below(300)) - start))
            }
            offset += size
        }
        return Plan(bytes: bytes, pieces: pieces)
    }

    private func segments(_ plan: Plan, from source: Endpoint, to destination: Endpoint, isn: UInt32,
                          peerISN: UInt32, drop: Int, _ rng: inout SplitMix64) -> (segments: [Seg], ranges: [Range<Int>], finKept: Bool) {
        var segments: [Seg] = [], ranges: [Range<Int>] = []
        for piece in plan.pieces where !rng.chance(drop) {
            segments.append(Seg(source: source, destination: destination,
                                sequence: isn &+ 1 &+ UInt32(truncatingIfNeeded: piece.offset),
                                acknowledgment: peerISN &+ 1, flags: [.ack, .psh], payload: Array(plan.bytes[piece.offset..<piece.offset + piece.length])))
            ranges.append(piece.offset..<piece.offset + piece.length)
        }
        let finKept = !rng.chance(drop)
        if finKept {
            segments.append(Seg(source: source, destination: destination,
                                sequence: isn &+ 1 &+ UInt32(truncatingIfNeeded: plan.bytes.count),
                                acknowledgment: peerISN &+ 1, flags: [.fin, .ack]))
            ranges.append(plan.bytes.count..<plan.bytes.count)
        }
        return (segments, ranges, finKept)
    }

    /// Random ISN, sometimes just below 2^32 so the stream crosses the wrap.
    private func isn(_ rng: inout SplitMix64) -> UInt32 {
        rng.chance(50) ? UInt32.max &- UInt32(rng.below(7000)) : UInt32(truncatingIfNeeded: rng.next())
    }

    /// Random segmentation, duplication, overlap and local reordering of both directions
    /// (no loss): both streams come out exactly as sent, each chunk naming a frame that
    /// carried those bytes, and the connection closes by FIN.
    func testRandomSegmentationAndReorderingReassemblesExactly() {
        for seed in UInt64(1)...150 {
            check(seed: seed, drop: 0)
        }
    }

    /// The same with segments lost (no ACKs, so gaps appear at end of input): every
    /// delivered byte is the original byte at that offset, gaps stand exactly for the
    /// missing bytes, and the stream is complete up to the FIN when the FIN was captured.
    func testRandomLossKeepsOffsetsExact() {
        for seed in UInt64(1001)...1150 {
            check(seed: seed, drop: 10)
        }
    }

    private func check(seed: UInt64, drop: Int) {
        var rng = SplitMix64(state: seed)
        let script = Script(clientISN: isn(&rng), serverISN: isn(&rng))
        let plans = [plan(&rng), plan(&rng)]
        let client = segments(plans[0], from: script.client, to: script.server, isn: script.clientISN,
                              peerISN: script.serverISN, drop: drop, &rng)
        let server = segments(plans[1], from: script.server, to: script.client, isn: script.serverISN,
                              peerISN: script.clientISN, drop: drop, &rng)
        // Interleave the directions at random, then reorder locally (within 8 positions).
        var order: [(Direction, Int)] = []
        var pending = (client: client.segments.indices.map { (c2s, $0) }, server: server.segments.indices.map { (s2c, $0) })
        while !pending.client.isEmpty || !pending.server.isEmpty {
            let fromClient = pending.server.isEmpty || (!pending.client.isEmpty && rng.chance(50))
            if fromClient { order.append(pending.client.removeFirst()) } else { order.append(pending.server.removeFirst()) }
        }
        for i in order.indices {
            let j = min(order.count - 1, i + rng.below(8))
            order.swapAt(i, j)
        }
        let handshake = script.handshake()
        var feed = handshake
        var ranges: [(Direction, Range<Int>)] = handshake.map { _ in (c2s, 0..<0) }
        for (direction, index) in order {
            let source = direction == c2s ? client : server
            feed.append(source.segments[index])
            ranges.append((direction, source.ranges[index]))
        }

        let (consumer, reassembler) = reassemble(feed)
        let context = "seed \(seed)"
        XCTAssertEqual(consumer.violations, [], context)
        XCTAssertTrue(consumer.findings.isEmpty, "\(context): \(consumer.findings.map { $0.kind })")
        XCTAssertEqual(reassembler.statistics.bufferedBytes, 0, context)
        for (direction, plan, finKept) in [(c2s, plans[0], client.finKept), (s2c, plans[1], server.finKept)] {
            let stream = consumer.streams[RecordingConsumer.Key(id: 1, direction: direction)] ?? []
            XCTAssertLessThanOrEqual(stream.count, plan.bytes.count, context)
            for (offset, byte) in stream.enumerated() where byte != nil && offset < plan.bytes.count {
                if byte != plan.bytes[offset] {
                    XCTFail("\(context) \(direction.name): byte \(offset) differs")
                    break
                }
            }
            if drop == 0 {
                XCTAssertEqual(stream.compactMap { $0 }, plan.bytes, "\(context) \(direction.name)")
                XCTAssertEqual(consumer.summary(1)?[direction].gaps, 0, context)
            } else if finKept {
                XCTAssertEqual(stream.count, plan.bytes.count, "\(context) \(direction.name) complete up to FIN")
            }
            let statistics = consumer.summary(1)?[direction]
            XCTAssertEqual(statistics.map { $0.payloadBytes + $0.gapBytes }, UInt64(stream.count), context)
            let finFrame = feed.indices.last { ranges[$0].0 == direction && feed[$0].flags.contains(.fin) }
            let ended = consumer.events.contains(Event.end(1, direction, frame: UInt64((finFrame ?? -1) + 1)))
            XCTAssertEqual(ended, finKept, "\(context) \(direction.name) end")
        }
        for chunk in consumer.chunks {
            let index = Int(chunk.frame) - 1
            guard feed.indices.contains(index) else {
                XCTFail("\(context): chunk names frame \(chunk.frame)")
                continue
            }
            let (direction, range) = ranges[index]
            XCTAssertEqual(direction, chunk.key.direction, context)
            XCTAssertTrue(range.contains(chunk.offset) && range.contains(chunk.offset + chunk.count - 1),
                          "\(context): chunk \(chunk.offset)+\(chunk.count) not in frame \(chunk.frame) \(range)")
        }
        let closes = consumer.summaries.map { $0.closeReason }
        if drop == 0 {
            XCTAssertEqual(closes, [CloseReason.fin], context)
        } else {
            XCTAssertEqual(closes.count, 1, context)
        }
    }
}
