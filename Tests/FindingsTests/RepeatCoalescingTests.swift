import Findings
import PacketCapture
import PacketDecoding
import XCTest

/// One finding per rule, frame and direction: repeats fold into the first with their evidence.
final class RepeatCoalescingTests: XCTestCase {
    let connection = ConnectionRef(client: Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: 40000),
                                   server: Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: 80), partial: false)

    func violation(_ rule: Rule, frame: UInt64, _ evidence: Evidence, direction: String? = "client_to_server") -> Finding {
        .violation(Violation(rule: rule, message: "m", timestamp: .zero, frame: frame, direction: direction,
                             connection: connection, evidence: evidence))
    }

    func evidence(_ finding: Finding) -> Evidence? {
        if case .violation(let v) = finding { return v.evidence }
        return nil
    }

    func testRepeatsInOneFrameBecomeOneFindingWithEveryValue() throws {
        let findings = Finding.coalescingRepeats([
            violation(.websocketWeakMask, frame: 829, ["opcode": .text("text"), "mask_key": .text("11223344"), "stream_offset": .integer(22)]),
            violation(.websocketWeakMask, frame: 829, ["opcode": .text("ping"), "mask_key": .text("11223344"), "stream_offset": .integer(40)]),
            violation(.websocketWeakMask, frame: 829, ["opcode": .text("continuation"), "mask_key": .text("11223344"), "stream_offset": .integer(46)]),
        ])
        XCTAssertEqual(findings.count, 1)
        let combined = try XCTUnwrap(evidence(findings[0]))
        XCTAssertEqual(combined["opcode"], .text("text"), "the first occurrence's evidence stays")
        XCTAssertEqual(combined["occurrences"], .integer(3))
        XCTAssertEqual(combined["each"], .object(["opcode": .list([.text("text"), .text("ping"), .text("continuation")]),
                                                  "stream_offset": .list([.integer(22), .integer(40), .integer(46)])]),
                       "only the keys that differ are listed")
    }

    func testDifferentFramesRulesOrDirectionsStaySeparateAndInOrder() {
        let findings = Finding.coalescingRepeats([
            violation(.httpObsFold, frame: 4, ["line": .text("a")]),
            violation(.websocketWeakMask, frame: 4, ["line": .text("a")]),
            violation(.httpObsFold, frame: 5, ["line": .text("b")]),
            violation(.httpObsFold, frame: 4, ["line": .text("c")], direction: "server_to_client"),
            violation(.httpObsFold, frame: 4, ["line": .text("d")]),
        ])
        XCTAssertEqual(findings.count, 4)
        XCTAssertEqual(evidence(findings[0])?["occurrences"], .integer(2))
        XCTAssertEqual(evidence(findings[0])?["each"], .object(["line": .list([.text("a"), .text("d")])]))
        XCTAssertNil(evidence(findings[1])?["occurrences"])
        XCTAssertEqual(evidence(findings[2])?["line"], .text("b"))
        XCTAssertEqual(evidence(findings[3])?["line"], .text("c"))
    }

    func testListedValuesAreBoundedButCounted() {
        let repeats = (0..<40).map { violation(.httpObsFold, frame: 9, ["line": .text("line \($0)")]) }
        let findings = Finding.coalescingRepeats(repeats)
        XCTAssertEqual(findings.count, 1)
        XCTAssertEqual(evidence(findings[0])?["occurrences"], .integer(40))
        guard case .object(let each)? = evidence(findings[0])?["each"], case .list(let lines)? = each["line"] else {
            return XCTFail("no each.line")
        }
        XCTAssertEqual(lines.count, Finding.maxListed)
    }
}
