import Foundation
import PacketCapture
import XCTest

/// A packet copied out of the reader's buffer, so it can be kept and compared.
struct ReadPacket: Equatable {
    var frame: UInt64
    var timestamp: Timestamp
    var linkType: LinkType
    var bytes: [UInt8]
    var originalLength: Int
}

/// Everything a reader yields until nil or an error.
func readAll(_ reader: inout CaptureFileReader, limit: Int = 1_000_000) -> (packets: [ReadPacket], error: CaptureError?) {
    var packets: [ReadPacket] = []
    do {
        while packets.count < limit, let packet = try reader.nextPacket() {
            packets.append(ReadPacket(frame: packet.frameNumber, timestamp: packet.timestamp,
                                      linkType: packet.linkType, bytes: Array(packet.bytes),
                                      originalLength: packet.originalLength))
        }
        return (packets, nil)
    } catch {
        return (packets, error)
    }
}

/// Opens `bytes` as a capture and reads it to the end (or the first error, from init or later).
func readAll(bytes: [UInt8], bufferSize: Int = CaptureFileReader.defaultBufferSize,
             maximumRecordLength: Int = CaptureFileReader.defaultMaximumRecordLength)
    -> (packets: [ReadPacket], error: CaptureError?) {
    do {
        var reader = try CaptureFileReader(bytes: bytes, bufferSize: bufferSize,
                                           maximumRecordLength: maximumRecordLength)
        return readAll(&reader)
    } catch {
        return ([], error)
    }
}

/// Packet contents that differ in length and content from frame to frame.
func samplePacket(_ index: Int, length: Int) -> [UInt8] {
    (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index &* 7) }
}

/// Deterministic pseudo-random numbers (SplitMix64), so fuzz failures reproduce.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

/// A fresh temporary directory, removed by the test case's teardown.
class TemporaryDirectoryTestCase: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("switchyard-capture-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func path(_ name: String) -> String { directory + "/" + name }
}
