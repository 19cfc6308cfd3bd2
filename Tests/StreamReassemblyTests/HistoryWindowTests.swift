import PacketCapture
import PacketDecoding
@testable import StreamReassembly
import XCTest

/// The overlap history follows the bytes in flight: unacknowledged data is always compared,
/// acknowledged data only while the (small) ring still holds it.
final class HistoryWindowTests: XCTestCase {
    private let script = Script()

    /// 1,000 bytes of `letter` at client offset `offset`.
    private func block(_ offset: Int, _ letter: Character) -> Seg {
        script.c(offset, String(repeating: letter, count: 1000), ack: 0)
    }

    func testUnacknowledgedDataIsComparedFarBeyondTheMinimumWindow() {
        var segments = script.handshake()
        for index in 0..<20 { segments.append(block(index * 1000, "a")) }
        segments.append(block(0, "b"))   // 20,000 bytes in flight: the first block again, changed
        let (consumer, reassembler) = reassemble(segments, finish: false)
        XCTAssertEqual(consumer.findings.count, 1)
        XCTAssertEqual(reassembler.statistics.historyBytes, 32 << 10, "window grew to cover 20,000 bytes")
    }

    func testAcknowledgedDataKeepsTheWindowSmall() {
        var segments = script.handshake()
        for index in 0..<20 {
            segments.append(block(index * 1000, "a"))
            segments.append(script.s(0, "", flags: [.ack], ack: (index + 1) * 1000))
        }
        // A changed copy of acknowledged bytes the 4 KiB ring no longer holds: the receiver
        // dropped it (RFC 9293 §3.10.7.4), so it is not compared.
        segments.append(block(0, "b"))
        // A changed copy of acknowledged bytes the ring still holds is compared.
        segments.append(block(19_000, "b"))
        let (consumer, reassembler) = reassemble(segments, finish: false)
        XCTAssertEqual(reassembler.statistics.historyBytes, TCPReassembler.minimumHistoryWindow)
        XCTAssertEqual(consumer.findings.count, 1)
        let stream = consumer.streams[RecordingConsumer.Key(id: 1, direction: c2s)] ?? []
        XCTAssertEqual(stream.count, 20_000)
        XCTAssertTrue(stream.allSatisfy { $0 == UInt8(ascii: "a") }, "the first version is delivered")
        XCTAssertEqual(consumer.violations, [])
    }

    func testAcknowledgmentBeyondTheDeliveredDataIsClamped() {
        var segments = script.handshake()
        segments.append(script.s(0, "", flags: [.ack], ack: 1 << 20))   // acknowledges unseen data
        for index in 0..<10 { segments.append(block(index * 1000, "a")) }
        segments.append(block(0, "b"))
        let (consumer, _) = reassemble(segments, finish: false)
        XCTAssertEqual(consumer.findings.count, 1, "bytes sent after the bogus ACK are still in flight")
    }
}
