import Findings
@testable import SwitchedProtocols
import XCTest

final class DockerStreamDecoderTests: XCTestCase {
    func header(_ stream: UInt8, _ length: Int) -> [UInt8] {
        [stream, 0, 0, 0, UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
    }

    func testCorpusCaptureAtEverySplitPoint() throws {
        let bytes = try SniffTests.fixture("Docker-attach-multiplexed-server.bin")
        for split in 0...bytes.count {
            var decoder = DockerStreamDecoder()
            decoder.feed(Array(bytes[..<split]), frame: 1, timestamp: testTimestamp)
            decoder.feed(Array(bytes[split...]), frame: 2, timestamp: testTimestamp)
            decoder.finish()
            XCTAssertEqual(decoder.framesByStream, [0, 2, 1], "split \(split)")
            XCTAssertEqual(decoder.payloadBytesByStream, [0, 25, 23], "split \(split)")
            XCTAssertNil(decoder.stopReason)
            XCTAssertFalse(decoder.incompleteFrameAtEnd)
            XCTAssertEqual(decoder.takeViolations(), [])
        }
        var decoder = DockerStreamDecoder()
        decoder.feed(bytes, frame: 1, timestamp: testTimestamp)
        XCTAssertEqual(decoder.summary["docker_frames_stdout"], .integer(2))
        XCTAssertEqual(decoder.summary["docker_frames_stderr"], .integer(1))
        XCTAssertEqual(decoder.summary["docker_payload_bytes"], .integer(48))
    }

    func testBadHeaders() throws {
        let cases: [([UInt8], String)] = [
            (header(3, 1) + [0x41], "stream id 3 is not 0, 1 or 2"),
            ([1, 0, 1, 0, 0, 0, 0, 1, 0x41], "reserved bytes are not zero"),
        ]
        for (bad, problem) in cases {
            var decoder = DockerStreamDecoder(connection: nil)
            decoder.feed(header(1, 2) + [0x68, 0x69] + bad + header(1, 1) + [0x42], frame: 7, timestamp: testTimestamp)
            let violations = decoder.takeViolations()
            XCTAssertEqual(violations.map(\.rule.id), ["docker_bad_stream_header"])
            let violation = try XCTUnwrap(violations.first)
            XCTAssertEqual(violation.message, "A Docker multiplexed stream header at offset 10 is invalid: \(problem).")
            XCTAssertEqual(violation.evidence["header_bytes"], .bytes(Array(bad.prefix(8))))
            XCTAssertEqual(violation.direction, "server_to_client")
            XCTAssertEqual(violation.frame, 7)
            XCTAssertEqual(decoder.stopReason, "bad stream header at offset 10")
            XCTAssertEqual(decoder.frames, 1)
            decoder.feed(header(9, 9), frame: 8, timestamp: testTimestamp)
            XCTAssertEqual(decoder.takeViolations(), [], "one report, then stopped")
        }
    }

    func testGapsAndTruncation() {
        var decoder = DockerStreamDecoder()
        decoder.feed(header(1, 100) + [UInt8](repeating: 0x61, count: 10), frame: 1, timestamp: testTimestamp)
        decoder.gap(length: 50)
        decoder.feed([UInt8](repeating: 0x61, count: 40) + header(2, 4) + [1, 2], frame: 2, timestamp: testTimestamp)
        decoder.finish()
        XCTAssertNil(decoder.stopReason)
        XCTAssertEqual(decoder.framesByStream, [0, 1, 1])
        XCTAssertTrue(decoder.incompleteFrameAtEnd)
        decoder.gap(length: 10)
        XCTAssertEqual(decoder.stopReason, "decoding stopped after a gap at offset 118")

        // A huge declared length is just skipped: nothing is buffered.
        var huge = DockerStreamDecoder()
        huge.feed(header(1, 0x7FFF_FFFF) + [UInt8](repeating: 0, count: 1000), frame: 1, timestamp: testTimestamp)
        XCTAssertEqual(huge.payloadBytesByStream[1], 1000)
        XCTAssertEqual(huge.takeViolations(), [])
    }
}
