@testable import StreamReassembly
import XCTest

/// The history ring that overlap comparisons read; growth must keep exactly the bytes it knew.
final class DeliveredHistoryTests: XCTestCase {
    private func append(_ history: inout DeliveredHistory, _ bytes: [UInt8], at offset: Int64, max: Int) {
        _ = bytes.withUnsafeBytes { history.append($0, at: offset, frame: 1, maxCapacity: max, budgetLeft: .max) }
    }

    private func differs(_ history: DeliveredHistory, _ stream: [UInt8], from: Int64, to: Int64) -> Int64? {
        stream.withUnsafeBytes { raw in
            history.firstDifference(from: from, to: to, other: raw.baseAddress! + Int(from))
        }
    }

    func testGrowthKeepsTheKnownBytesAcrossTheRingEnd() {
        let stream = (0..<700).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        var history = DeliveredHistory()
        // 256-byte ring (growth capped), wrapped twice over, then allowed to grow.
        append(&history, Array(stream[0..<256]), at: 0, max: 256)
        append(&history, Array(stream[256..<600]), at: 256, max: 256)
        XCTAssertEqual(history.capacity, 256)
        append(&history, Array(stream[600..<700]), at: 600, max: 4096)
        XCTAssertEqual(history.capacity, 1024)
        // Bytes 344..<600 were in the old ring and 600..<700 came after: all known, all equal.
        XCTAssertEqual(history.availableStart(end: 700), 344)
        XCTAssertNil(differs(history, stream, from: 344, to: 700))
        var changed = stream
        changed[345] ^= 0xFF
        XCTAssertEqual(differs(history, changed, from: 344, to: 700), 345)
        XCTAssertEqual(history.bytes(from: 344, count: 4), Array(stream[344..<348]))
    }

    func testBytesThatLeftTheSmallRingStayUnknownAfterGrowth() {
        var history = DeliveredHistory()
        append(&history, [UInt8](repeating: 1, count: 1000), at: 0, max: 256)
        append(&history, [UInt8](repeating: 2, count: 10), at: 1000, max: 65536)
        // Before the fix the larger ring claimed offsets from 0, whose bytes it never had.
        XCTAssertEqual(history.availableStart(end: 1010), 744)
    }
}
