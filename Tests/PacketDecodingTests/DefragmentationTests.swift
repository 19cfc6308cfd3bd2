import PacketCapture
import PacketDecoding
import TestSupport
import XCTest

/// IPv4 and IPv6 reassembly as Linux does it: orders, duplicates, overlaps (RFC 5722),
/// timeouts in capture time, limits, and what each packet is counted as.
final class DefragmentationTests: XCTestCase {
    static let payload = Array(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n").utf8)
    static let packet4 = PacketBuilder.tcp(src: "10.0.0.2:80", dst: "10.0.0.1:40000", seq: 100, ack: 200,
                                           flags: Flag.ack | Flag.psh, payload: payload)
    static let packet6 = PacketBuilder.tcp(src: "[2001:db8::2]:80", dst: "[2001:db8::1]:40000", seq: 100, ack: 200,
                                           flags: Flag.ack | Flag.psh, payload: payload)
    /// TCP header (20) + payload, in 8-byte-multiple pieces.
    static var tcpLength: Int { 20 + payload.count }

    struct Run {
        var decoder: PacketDecoder
        var outcomes: [Decoded] = []
        var notices: [DecodeNotice] = []

        init(verify: Bool = true, limits: FragmentLimits = FragmentLimits()) {
            decoder = PacketDecoder(verifiesChecksums: verify, fragmentLimits: limits)
        }

        mutating func feed(_ packets: [[UInt8]], seconds: Int64 = 0) {
            for (index, packet) in packets.enumerated() {
                let frame = UInt64(outcomes.count + 1)
                let outcome = packet.withUnsafeBytes { bytes in
                    Decoded(decoder.decode(linkType: .raw, bytes: bytes, frame: frame,
                                           timestamp: Timestamp(seconds: seconds, nanoseconds: UInt32(index))))
                }
                outcomes.append(outcome)
                notices += decoder.takeNotices()
            }
        }

        var segments: [Decoded.Segment] { outcomes.compactMap(\.segment) }
    }

    private func fragments4(_ ranges: [Range<Int>]) -> [[UInt8]] {
        ranges.map { PacketBuilder.ipv4Fragment(of: Self.packet4, $0) }
    }

    func testInOrderReverseAndShuffledIPv4() {
        let pieces = PacketBuilder.ipv4Fragments(of: Self.packet4, size: 24)
        XCTAssertGreaterThan(pieces.count, 3)
        for order in [Array(pieces.indices), pieces.indices.reversed(), [2, 0, 3, 1] + Array(4..<pieces.count)] {
            var run = Run()
            run.feed(order.map { pieces[$0] })
            XCTAssertEqual(run.segments.count, 1, "\(order)")
            XCTAssertEqual(run.segments.first?.payload, Self.payload)
            XCTAssertEqual(run.segments.first?.source, "10.0.0.2:80")
            XCTAssertEqual(run.outcomes.last?.segment?.sequenceNumber, 100, "the completing fragment yields the segment")
            XCTAssertEqual(run.decoder.counters[.fragmentHeld], UInt64(pieces.count - 1))
            XCTAssertEqual(run.decoder.counters.tcpSegments, 1)
            XCTAssertEqual(run.decoder.counters.total, UInt64(pieces.count))
            XCTAssertEqual(run.decoder.counters.fragmentDatagramsReassembled, 1)
            XCTAssertTrue(run.notices.isEmpty)
        }
    }

    func testReassembledChecksumIsVerified() {
        var run = Run()
        run.feed(PacketBuilder.ipv4Fragments(of: Self.packet4, size: 32))
        let status: ChecksumStatus? = {
            var decoder = PacketDecoder(verifiesChecksums: true)
            var last: ChecksumStatus?
            for piece in PacketBuilder.ipv4Fragments(of: Self.packet4, size: 32) {
                piece.withUnsafeBytes { bytes in
                    if case .tcp(let segment) = decoder.decode(linkType: .raw, bytes: bytes) { last = segment.checksum }
                }
            }
            return last
        }()
        XCTAssertEqual(status, .valid)
        XCTAssertEqual(run.segments.count, 1)
    }

    func testIPv6InOrderAndReverse() {
        let length = Self.tcpLength
        let ranges = [0..<16, 16..<48, 48..<length]
        let pieces = ranges.map { PacketBuilder.ipv6Fragment(of: Self.packet6, $0) }
        for order in [pieces, pieces.reversed()] {
            var run = Run()
            run.feed(order)
            XCTAssertEqual(run.segments.map(\.payload), [Self.payload])
            XCTAssertEqual(run.segments.first?.destination, "[2001:db8::1]:40000")
            XCTAssertEqual(run.decoder.counters[.fragmentHeld], 2)
        }
    }

    func testExactDuplicateIsIgnoredAndSameBytesGiveNoFinding() {
        let pieces = PacketBuilder.ipv4Fragments(of: Self.packet4, size: 24)
        var run = Run()
        run.feed([pieces[0], pieces[0]] + pieces.dropFirst())
        XCTAssertEqual(run.segments.map(\.payload), [Self.payload])
        XCTAssertEqual(run.decoder.counters[.fragmentDropped], 1)
        XCTAssertTrue(run.notices.isEmpty)
    }

    func testDuplicateWithDifferentBytesKeepsTheFirstCopyAndIsReported() {
        var evil = Array(Self.packet4[20...])
        evil.replaceSubrange(24..<48, with: Array("HTTP/1.1 200 OK\r\nX: y\r\n\r".utf8).prefix(24))
        let pieces = PacketBuilder.ipv4Fragments(of: Self.packet4, size: 24)
        let conflicting = PacketBuilder.ipv4Fragment(of: Self.packet4, 24..<48, replacing: Array(evil[24..<48]))
        var run = Run()
        run.feed([pieces[0], pieces[1], conflicting] + pieces.dropFirst(2))
        XCTAssertEqual(run.segments.map(\.payload), [Self.payload], "the first copy is kept")
        guard case .fragmentOverlapConflict(let overlap)? = run.notices.first?.kind else {
            return XCTFail("no overlap notice: \(run.notices)")
        }
        XCTAssertEqual(run.notices.first?.frame, 3)
        XCTAssertEqual(overlap.firstFrame, 2)
        XCTAssertFalse(overlap.datagramDiscarded)
        XCTAssertEqual(overlap.offset, 24 + zip(Self.packet4[44..<68], evil[24..<48]).prefix { $0 == $1 }.count)
        XCTAssertEqual(overlap.identification, 0x1234)
        XCTAssertEqual(overlap.source.description, "10.0.0.2")
    }

    func testPartialOverlapDiscardsTheDatagramReportedWhenBytesDiffer() {
        let length = Self.tcpLength
        for conflicting in [false, true] {
            let first = PacketBuilder.ipv4Fragment(of: Self.packet4, 0..<32)
            var bytes = Array(Self.packet4[(20 + 24)..<(20 + length)])
            if conflicting { bytes[0] ^= 0x20 }
            // Offset 24 overlaps the first fragment's last 8 bytes.
            let second = PacketBuilder.ipv4Fragment(of: Self.packet4, 24..<length, replacing: bytes)
            var run = Run()
            run.feed([first, second])
            XCTAssertEqual(run.outcomes, [.skipped(.fragmentHeld), .skipped(.fragmentDropped)])
            XCTAssertEqual(run.decoder.counters.fragmentDatagramsDiscardedForOverlap, 1)
            XCTAssertEqual(run.notices.count, conflicting ? 1 : 0)
            if case .fragmentOverlapConflict(let overlap)? = run.notices.first?.kind {
                XCTAssertTrue(overlap.datagramDiscarded)
                XCTAssertEqual(overlap.offset, 24)
                XCTAssertEqual(overlap.firstBytes.first, Self.packet4[44])
                XCTAssertEqual(overlap.secondBytes.first, Self.packet4[44] ^ 0x20)
            }
            // Later fragments start a new datagram, as after Linux's inet_frag_kill.
            run.feed(PacketBuilder.ipv4Fragments(of: Self.packet4, size: 32))
            XCTAssertEqual(run.segments.map(\.payload), [Self.payload])
        }
    }

    func testIPv6OverlapIsDiscarded() {
        let length = Self.tcpLength
        var run = Run()
        run.feed([PacketBuilder.ipv6Fragment(of: Self.packet6, 0..<32),
                  PacketBuilder.ipv6Fragment(of: Self.packet6, 16..<length)])
        XCTAssertEqual(run.outcomes.last, .skipped(.fragmentDropped))
        XCTAssertEqual(run.decoder.counters.fragmentDatagramsDiscardedForOverlap, 1)
        XCTAssertTrue(run.notices.isEmpty, "same bytes: discarded without a finding")
    }

    func testTimeoutInCaptureTime() {
        let pieces = PacketBuilder.ipv4Fragments(of: Self.packet4, size: 32)
        var run = Run()
        run.feed([pieces[0]], seconds: 100)
        run.feed(Array(pieces.dropFirst()), seconds: 131)   // 31 s later: the first is gone
        XCTAssertTrue(run.segments.isEmpty)
        XCTAssertEqual(run.decoder.counters.fragmentDatagramsTimedOut, 1)
        // Within 30 s it completes; IPv6 waits 60 s.
        var quick = Run()
        quick.feed([pieces[0]], seconds: 100)
        quick.feed(Array(pieces.dropFirst()), seconds: 129)
        XCTAssertEqual(quick.segments.count, 1)
        let pieces6 = [PacketBuilder.ipv6Fragment(of: Self.packet6, 0..<32),
                       PacketBuilder.ipv6Fragment(of: Self.packet6, 32..<Self.tcpLength)]
        var six = Run()
        six.feed([pieces6[0]], seconds: 100)
        six.feed([pieces6[1]], seconds: 159)
        XCTAssertEqual(six.segments.count, 1)
        // A clock that goes back days expires nothing.
        var back = Run()
        back.feed([pieces[0]], seconds: 1_000_000)
        back.feed(Array(pieces.dropFirst()), seconds: 1000)
        XCTAssertEqual(back.segments.count, 1)
    }

    func testDatagramLimitEvictsTheOldestAndReportsOnce() {
        var limits = FragmentLimits()
        limits.maxDatagrams = 2
        var run = Run(limits: limits)
        let firsts = (1...4).map { PacketBuilder.ipv4Fragment(of: Self.packet4, 0..<32, identification: UInt16($0)) }
        run.feed(firsts)
        XCTAssertEqual(run.decoder.counters.fragmentDatagramsEvicted, 2)
        XCTAssertEqual(run.notices.count, 1)
        guard case .limitReached(let limit, _)? = run.notices.first?.kind else { return XCTFail("no limit notice") }
        XCTAssertEqual(limit, "ip_fragment_datagrams")
        XCTAssertEqual(run.notices.first?.frame, 3)
        // Datagram 4 is still there and completes.
        run.feed([PacketBuilder.ipv4Fragment(of: Self.packet4, 32..<Self.tcpLength, identification: 4)])
        XCTAssertEqual(run.segments.count, 1)
        run.decoder.finish()
        XCTAssertEqual(run.decoder.counters.fragmentDatagramsIncomplete, 1)
    }

    func testByteLimit() {
        var limits = FragmentLimits()
        limits.maxHeldBytes = 40
        var run = Run(limits: limits)
        run.feed([PacketBuilder.ipv4Fragment(of: Self.packet4, 0..<32, identification: 1),
                  PacketBuilder.ipv4Fragment(of: Self.packet4, 0..<32, identification: 2)])
        XCTAssertEqual(run.decoder.counters.fragmentDatagramsEvicted, 1)
        guard case .limitReached(let limit, _)? = run.notices.first?.kind else { return XCTFail("no limit notice") }
        XCTAssertEqual(limit, "ip_fragment_bytes")
    }

    func testMalformedFragments() {
        let length = Self.tcpLength
        let cases: [(String, [[UInt8]], Decoded)] = [
            ("IPv6 non-final fragment not a multiple of 8",
             [PacketBuilder.ipv6Fragment(of: Self.packet6, 0..<20, more: true)], .skipped(.malformed)),
            ("IPv4 non-final fragment shorter than 8", [PacketBuilder.ipv4Fragment(of: Self.packet4, 0..<5, more: true)],
             .skipped(.malformed)),
            ("beyond 65,535 bytes", [PacketBuilder.ipv4Fragment(of: Self.packet4, 0..<32, more: false,
                                                                 replacing: [UInt8](repeating: 0, count: 32))
                                         .enumerated().map { $0.offset == 6 ? 0x1f : ($0.offset == 7 ? 0xff : $0.element) }],
             .skipped(.malformed)),
            ("data beyond the last fragment",
             [PacketBuilder.ipv4Fragment(of: Self.packet4, 32..<length),
              PacketBuilder.ipv4Fragment(of: Self.packet4, 0..<8, more: true,
                                         replacing: [UInt8](repeating: 0, count: (length + 15) / 8 * 8))],
             .skipped(.malformed)),
        ]
        for (name, packets, expected) in cases {
            var run = Run(verify: false)
            run.feed(packets)
            XCTAssertEqual(run.outcomes.last, expected, name)
        }
    }

    func testFragmentedTunnelInnerPacket() {
        // The outer IPv4 packet of an IP-in-IP tunnel is fragmented; the inner TCP comes out whole.
        let tunnel = PacketBuilder.tunnel(Self.packet4, outerSrc: "192.0.2.1", outerDst: "192.0.2.2")
        var run = Run()
        run.feed(PacketBuilder.ipv4Fragments(of: tunnel, size: 40))
        XCTAssertEqual(run.segments.map(\.payload), [Self.payload])
    }

    func testSnaplenCutFragmentIsTruncated() {
        let piece = PacketBuilder.ipv4Fragment(of: Self.packet4, 0..<32)
        var decoder = PacketDecoder()
        let outcome = Array(piece.prefix(40)).withUnsafeBytes {
            Decoded(decoder.decode(linkType: .raw, bytes: $0, originalLength: piece.count))
        }
        XCTAssertEqual(outcome, .skipped(.truncated))
    }
}
