import Findings
@testable import SwitchyardKit
import XCTest

/// `--jobs` records beyond the memory limit are spilled as sorted runs and merged back: the
/// merged order must be exactly the order of sorting everything in memory.
final class HeldRecordsTests: XCTestCase {
    private struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    private func record(_ generator: inout Generator) -> PreparedRecord {
        // Few distinct times, so that ties are broken by the JSON text; some records larger
        // than a run's read buffer, so that they straddle refills.
        let nanos = Int64(generator.next() % 50)
        let length = generator.next() % 20 == 0 ? 20_000 + Int(generator.next() % 5000) : Int(generator.next() % 300)
        let json = (0..<length).map { _ in UInt8(0x61 + generator.next() % 3) }
        let text: [UInt8]? = generator.next() % 2 == 0 ? nil : Array("line \(generator.next() % 7)".utf8)
        let severity = Severity(rawValue: Int(generator.next() % 5))   // 4 means none
        return PreparedRecord(nanoseconds: nanos, json: json, text: text, severity: severity)
    }

    private func key(_ record: PreparedRecord) -> String {
        "\(record.nanoseconds) \(record.json) \(String(describing: record.text)) \(String(describing: record.severity))"
    }

    func testSpilledRunsMergeIntoTheInMemoryOrder() {
        for (seed, limit) in [(UInt64(1), 0), (2, 4096), (3, 100_000), (4, 1 << 30)] {
            var generator = Generator(state: seed)
            let all = (0..<300).map { _ in record(&generator) }
            let held = HeldRecords(memoryLimit: limit)
            for record in all { held.append(record) }
            XCTAssertNil(held.spillError)
            if limit < 1 << 20 { XCTAssertGreaterThan(held.spilledRuns, 0, "limit \(limit)") }
            if limit == 1 << 30 { XCTAssertEqual(held.spilledRuns, 0) }
            var merged: [PreparedRecord] = []
            XCTAssertTrue(mergeRuns(held.takeRuns()) { merged.append($0) })
            let expected = all.sorted(by: PreparedRecord.precedes)
            XCTAssertEqual(merged.map(key), expected.map(key), "seed \(seed), limit \(limit)")
        }
    }

    /// The runs outlive the `HeldRecords` that wrote them (in `ParallelAnalysis` the workers are
    /// released before the merge): the spill file must stay open as long as a run reads it.
    func testRunsOutliveTheirHeldRecords() {
        var generator = Generator(state: 9)
        let all = (0..<200).map { _ in record(&generator) }
        func spill() -> [RecordRun] {
            let held = HeldRecords(memoryLimit: 2048)
            for record in all { held.append(record) }
            XCTAssertGreaterThan(held.spilledRuns, 1)
            return held.takeRuns()
        }
        var merged: [PreparedRecord] = []
        XCTAssertTrue(mergeRuns(spill()) { merged.append($0) })
        XCTAssertEqual(merged.map(key), all.sorted(by: PreparedRecord.precedes).map(key))
    }

    func testEncodingRoundTrips() {
        let records = [
            PreparedRecord(nanoseconds: -5, json: [], text: nil, severity: nil),
            PreparedRecord(nanoseconds: .max, json: Array("{\"a\":1}".utf8), text: [], severity: .high),
            PreparedRecord(nanoseconds: 0, json: [0xFF, 0], text: Array("x".utf8), severity: .info),
        ]
        var buffer: [UInt8] = []
        var ends: [Int] = []
        for record in records {
            record.encode(into: &buffer)
            ends.append(buffer.count)
        }
        var decoded: [PreparedRecord] = []
        buffer.withUnsafeBytes { raw in
            var offset = 0
            while let (record, next) = PreparedRecord.decode(raw, at: offset) {
                decoded.append(record)
                offset = next
            }
            XCTAssertEqual(offset, raw.count)
            // Cut anywhere, the bytes give exactly the records that end before the cut.
            for cut in 0..<raw.count {
                let prefix = UnsafeRawBufferPointer(rebasing: raw[0..<cut])
                var whole = 0, at = 0
                while let (_, next) = PreparedRecord.decode(prefix, at: at) {
                    whole += 1
                    at = next
                }
                XCTAssertEqual(whole, ends.filter { $0 <= cut }.count, "cut at \(cut)")
            }
        }
        XCTAssertEqual(decoded.map(key), records.map(key))
    }
}
