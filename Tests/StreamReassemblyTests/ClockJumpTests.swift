import XCTest
import PacketCapture
import PacketDecoding
@testable import StreamReassembly

/// The idle clock against broken timestamps: one packet stamped far in the future (fuzzed or
/// corrupted captures have them) must not expire every connection; a real pause must.
final class ClockJumpTests: XCTestCase {
    private func closes(_ consumer: RecordingConsumer) -> [CloseReason] {
        consumer.events.compactMap { if case .closed(_, let reason) = $0 { return reason } else { return nil } }
    }

    func testOneFarFuturePacketDoesNotExpireConnections() {
        let a = Script(), b = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0003), port: 40001))
        var segments = a.handshake() + b.handshake() + [a.c(0, "GET / HTTP/1.1\r\n\r\n")]
        // Frame from connection b with a timestamp 71 million seconds ahead, then normal time again.
        segments.append(b.c(0, "x").with { $0.seconds = 71_339_732 })
        segments.append(a.c(18, "more"))
        let (consumer, _) = reassemble(segments, limits: { var l = ReassemblyLimits(); l.idleTimeoutSeconds = 60; return l }())
        XCTAssertFalse(closes(consumer).contains(.idleTimeout), "a single broken timestamp evicted connections")
        XCTAssertEqual(closes(consumer), [.endOfInput, .endOfInput])
    }

    func testAJumpOfDaysIsAClockStepNotIdleTime() {
        let a = Script(), b = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0003), port: 40001))
        var segments = a.handshake() + [a.c(0, "GET / HTTP/1.1\r\n\r\n")]
        // The capture's clock steps three days ahead; connection a goes on right after it.
        let later = Int64(1000 + 3 * 86_400)
        segments += b.handshake().map { $0.with { $0.seconds = later } }
        segments.append(a.c(18, "GET /again HTTP/1.1\r\n\r\n").with { $0.seconds = later })
        let (consumer, reassembler) = reassemble(
            segments, limits: { var l = ReassemblyLimits(); l.idleTimeoutSeconds = 60; return l }())
        XCTAssertEqual(closes(consumer), [.endOfInput, .endOfInput], "the clock step split or expired a connection")
        XCTAssertEqual(consumer.streams[.init(id: 1, direction: c2s)].map { $0.count }, 41)
        XCTAssertEqual(reassembler.statistics.connectionsTimedOut, 0)
    }

    func testABackwardStepOfDaysKeepsConnections() {
        let a = Script()
        let segments = a.handshake() + [a.c(0, "one"), a.c(3, "two").with { $0.seconds = 1000 - 5 * 86_400 },
                                        a.c(6, "three").with { $0.seconds = 1000 - 5 * 86_400 + 30 }]
        let (consumer, _) = reassemble(segments, limits: { var l = ReassemblyLimits(); l.idleTimeoutSeconds = 60; return l }())
        XCTAssertEqual(closes(consumer), [.endOfInput])
        XCTAssertEqual(consumer.streams[.init(id: 1, direction: c2s)].map { $0.count }, 11)
    }

    func testIdleTimeAfterAStepStillExpiresIdleConnections() {
        let a = Script(), b = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0003), port: 40001))
        var segments = a.handshake() + [a.c(0, "GET / HTTP/1.1\r\n\r\n")]
        let later = Int64(1000 + 2 * 86_400)
        // After the step, connection b is active for two minutes while a stays silent.
        segments += b.handshake().map { $0.with { $0.seconds = later } }
        segments.append(b.c(0, "x").with { $0.seconds = later + 120 })
        segments.append(b.c(1, "y").with { $0.seconds = later + 121 })   // confirms the pause
        let (consumer, _) = reassemble(segments, limits: { var l = ReassemblyLimits(); l.idleTimeoutSeconds = 60; return l }())
        XCTAssertEqual(closes(consumer).first, .idleTimeout)
    }
}

/// Closed connections linger briefly (to absorb the last ACK), then leave the table, so memory
/// follows the connection rate rather than the capture's length.
final class ClosedLingerTests: XCTestCase {
    func testClosedConnectionsAreForgottenAfterTheLinger() {
        var limits = ReassemblyLimits()
        limits.closedLingerSeconds = 1
        var segments: [Seg] = []
        for index in 0..<50 {
            let script = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0100 + UInt32(index)), port: 40000))
            let second = 1000 + Int64(index)   // one connection per second of capture time
            segments += (script.handshake() + [script.c(0, "x"), script.c(1, flags: [.fin, .ack]),
                                               script.s(0, flags: [.fin, .ack], ack: 2), script.c(2, ack: 1)])
                .map { $0.with { $0.seconds = second } }
        }
        let (_, reassembler) = reassemble(segments, limits: limits, finish: false)
        XCTAssertLessThanOrEqual(reassembler.tableCount, 3, "closed connections stayed in the table")
        // A late ACK within the linger is absorbed, not a new connection.
        let last = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0100 + 49), port: 40000))
        var lateSegments = segments
        lateSegments.append(last.c(2, ack: 1).with { $0.seconds = 1049 })
        let (consumer, _) = reassemble(lateSegments, limits: limits)
        XCTAssertEqual(consumer.events.filter { if case .opened = $0 { return true } else { return false } }.count, 50)
    }
}
