import XCTest
import Findings
import PacketCapture
import PacketDecoding
import StreamReassembly
@testable import UpgradeAnalysis

/// Inputs the `upgrade` fuzz target (Fuzz/UpgradeFuzz.swift) failed on. That target feeds the
/// same steps whole and cut into pieces (same frames) and expects the same findings.
final class FuzzRegressionTests: XCTestCase {
    private enum Step {
        case client([UInt8])
        case server([UInt8])
    }

    private struct Outcome: Equatable {
        var rules: [String]
        var requests: UInt64
        var responses: UInt64
        var parseErrors: [String: UInt64]
    }

    /// Each step is its own frame; its bytes are fed in pieces of `chunk` bytes (nil: whole).
    private func run(_ steps: [Step], partial: Bool = false, chunk: Int?) -> Outcome {
        let connection = ConnectionRef(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 40000),
                                       server: Endpoint(address: IPAddress(ipv4: 0x0A00_0002), port: 80),
                                       partial: partial)
        let tracker = UpgradeTracker(connection: connection)
        var rules: [String] = []
        for (index, step) in steps.enumerated() {
            let (direction, bytes): (Direction, [UInt8])
            switch step {
            case .client(let data): (direction, bytes) = (.clientToServer, data)
            case .server(let data): (direction, bytes) = (.serverToClient, data)
            }
            let time = Timestamp(seconds: 1_700_000_000 + Int64(index), nanoseconds: 0)
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + (chunk ?? bytes.count))
                Array(bytes[start..<end]).withUnsafeBytes {
                    tracker.data(direction, $0, frame: UInt64(index + 1), timestamp: time)
                }
                start = end
            }
        }
        tracker.close(lastTimestamp: Timestamp(seconds: 1_800_000_000, nanoseconds: 0))
        for finding in tracker.takeFindings() {
            if case .violation(let violation) = finding { rules.append(violation.rule.id) }
        }
        let statistics = tracker.statistics
        return Outcome(rules: rules.sorted(), requests: statistics.requests, responses: statistics.responses,
                       parseErrors: statistics.parseErrors)
    }

    private func assertSegmentationIndependent(_ steps: [Step], partial: Bool = false,
                                               file: StaticString = #filePath, line: UInt = #line) -> Outcome {
        let whole = run(steps, partial: partial, chunk: nil)
        for chunk in [1, 2, 3, 5, 8, 13, 64] {
            XCTAssertEqual(run(steps, partial: partial, chunk: chunk), whole, "pieces of \(chunk) bytes",
                           file: file, line: line)
        }
        return whole
    }

    private func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// A declined upgrade, then non-HTTP client bytes: the connection is a tunnel from then
    /// on, decided inside the callback for the response head. The rest of the server chunk
    /// that carried the head used to be parsed as HTTP all the same (another response counted,
    /// parse errors reported), while the same bytes in a later chunk were ignored.
    func testResponsesAfterTunnelDecisionIgnoredWhateverTheSegmentation() {
        let outcome = assertSegmentationIndependent([
            .client(Array("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n".utf8)),
            .client([0x0B, 0x81, 0x85, 0x6A, 0x75, 0x6E, 0x6B]),
            .server(Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\u{0B}junk\r\nHTTP/1.1 200 OK\r\n\r\n".utf8)),
        ])
        XCTAssertEqual(outcome.responses, 1)
        XCTAssertEqual(outcome.rules, ["http_upgrade_declined_then_tunnel"])
    }

    /// The fuzz input (minimised) that found it: an h2c upgrade answered by garbage and a 304
    /// split across chunks, non-HTTP client bytes held meanwhile, then another 304.
    func testFuzzInputDeclinedH2CThenGarbage() {
        let outcome = assertSegmentationIndependent([
            .client(hex("474554202f696e6465782e68746d6c20485454502f312e310d0a486f73743a203132372e302e302e313a3434"
                + "3034350d0a557365722d4167656e743a206375726c2f372e38382e310d0a4163636570743a202a2f2a0d0a436f6e"
                + "6e656374696f6e3a20557067726164652c2048545450322d53657474696e67730d0a557067726164653a20683263"
                + "0d0a48545450322d53657474696e67733a2041414d414141426b4141513fed03ffffffffffffffff41410d0a0d0a")),
            .server(hex("485454502f31040000ffff0009000000010008003c703e6865322e300d0a0d0a534d0d0a0d0a0000120400ffff"
                + "ffff00030000006400040200002e2d435320226f6e642066696c65496e740a0d0a330d0a6162630d0a300d0a0d0a"
                + "485454502f312e302033303420")),
            .client(hex("0d0a0b8185642066696c")),
            .server(hex("0a0d0a0b81853722382e310a300d0a0d0a485454502f312e3020333034204e4d0d0a0d0a0b818564696c650a")),
        ], partial: true)
        XCTAssertEqual(outcome.responses, 1)
    }
}
