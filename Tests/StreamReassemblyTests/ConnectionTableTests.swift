import PacketCapture
import PacketDecoding
@testable import StreamReassembly
import XCTest

/// The slab + open-addressing table against a `Dictionary` model: random inserts and removals
/// (which exercise backward-shift deletion and growth) must always agree.
final class ConnectionTableTests: XCTestCase {
    private func key(_ n: Int) -> FlowKey {
        // Few distinct addresses and ports so many keys share words (and probe chains).
        let client = Endpoint(address: IPAddress(ipv4: 0x0A00_0000 | UInt32(n % 7)), port: UInt16(1024 + n / 7))
        let server = Endpoint(address: IPAddress(ipv4: 0x0A00_0100), port: 80)
        return FlowKey(client, server)
    }

    private func state(_ n: Int, slot: Int32) -> ConnectionState {
        ConnectionState(key: key(n), id: ConnectionID(UInt64(n)), slot: slot, firstSender: 0, frame: UInt64(n),
                        timestamp: .zero, nanos: 0)
    }

    func testRandomInsertsAndRemovalsMatchADictionary() {
        for seed in UInt64(1)...20 {
            var rng = SplitMix64(state: seed)
            var table = ConnectionTable(initialSlots: 1)
            var model: [Int: Int32] = [:]   // key number -> slot
            for _ in 0..<3000 {
                let n = rng.below(600)
                if let slot = model[n] {
                    XCTAssertEqual(table.find(key(n)), slot)
                    XCTAssertEqual(table.pointer(slot).pointee.id, ConnectionID(UInt64(n)))
                    if rng.chance(60) {
                        table.remove(slot)
                        model[n] = nil
                    }
                } else {
                    XCTAssertEqual(table.find(key(n)), ConnectionTable.none)
                    let slot = table.insert { state(n, slot: $0) }
                    XCTAssertEqual(table.pointer(slot).pointee.slot, slot)
                    model[n] = slot
                }
                XCTAssertEqual(table.count, model.count)
            }
            for (n, slot) in model {
                XCTAssertEqual(table.find(key(n)), slot, "seed \(seed) key \(n)")
            }
            XCTAssertEqual(Set(table.liveSlots), Set(model.values))
            // Slots stay dense: never more than the peak number of live connections.
            XCTAssertLessThanOrEqual(table.liveSlots.max().map(Int.init) ?? 0, 600)
            table.removeAll()
            XCTAssertEqual(table.count, 0)
            XCTAssertEqual(table.find(key(0)), ConnectionTable.none)
        }
    }

    func testSlotsAreReusedAfterRemoval() {
        var table = ConnectionTable(initialSlots: 4)
        let first = table.insert { state(1, slot: $0) }
        let second = table.insert { state(2, slot: $0) }
        table.remove(first)
        let third = table.insert { state(3, slot: $0) }
        XCTAssertEqual(third, first)
        XCTAssertEqual(table.find(key(2)), second)
        XCTAssertEqual(table.find(key(1)), ConnectionTable.none)
        XCTAssertEqual(table.pointer(third).pointee.id, ConnectionID(3))
    }
}
