import Findings
@testable import SwitchedProtocols
import XCTest

/// Malformed input never traps: random and mutated bytes through every decoder here.
final class HTTP2RobustnessTests: XCTestCase {
    /// xorshift64*: deterministic, so a failure can be replayed.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
        mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next() >> 32) } }
    }

    func testRandomBytesEverywhere() {
        var random = Random(state: 0x9E37_79B9_7F4A_7C15)
        for round in 0..<300 {
            let noise = random.bytes(Int(random.next() % 300))
            var hpack = HPACKDecoder()
            _ = try? hpack.decode(noise)
            _ = try? Huffman.decode(noise)
            _ = try? H2CUpgradeCheck.decodeSettingsHeader(String(decoding: noise, as: UTF8.self))
            _ = ProtocolSniffer.sniff(client: noise, server: Array(noise.reversed()))
            _ = TLSRecordCheck.evaluate(noise)
            var docker = DockerStreamDecoder()
            docker.feed(noise, frame: 1, timestamp: testTimestamp)
            // Raw noise, and noise after a valid start (so that frames get decoded).
            let session = HTTP2Session(afterUpgrade: round % 2 == 0)
            session.clientData(round % 3 == 0 ? noise : clientStart + noise, frame: 1, timestamp: testTimestamp)
            session.serverData(round % 3 == 1 ? noise : serverStart + noise, frame: 2, timestamp: testTimestamp)
            session.clientGap(length: random.next() % 100, frame: 3, timestamp: testTimestamp)
            session.finish()
            XCTAssertLessThanOrEqual(session.takeViolations().count, 8 * Rule.http2Catalogue.count)
        }
    }

    /// Single-byte mutations of a real connection: framing and HPACK errors, no traps.
    func testMutatedRealConnection() throws {
        let client = try SniffTests.fixture("HTTP2-keywords2-client.bin")
        let server = try SniffTests.fixture("HTTP2-keywords2-server.bin")
        var random = Random(state: 42)
        for _ in 0..<500 {
            var mutatedClient = client, mutatedServer = server
            mutatedClient[Int(random.next() % UInt64(client.count))] = UInt8(truncatingIfNeeded: random.next())
            mutatedServer[Int(random.next() % UInt64(server.count))] = UInt8(truncatingIfNeeded: random.next())
            let session = HTTP2Session(afterUpgrade: true)
            session.clientData(mutatedClient, frame: 1, timestamp: testTimestamp)
            session.serverData(mutatedServer, frame: 2, timestamp: testTimestamp)
            session.finish()
            _ = session.takeViolations()
        }
    }
}
