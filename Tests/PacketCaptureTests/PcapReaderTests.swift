import Foundation
import PacketCapture
import TestSupport
import XCTest

final class PcapReaderTests: TemporaryDirectoryTestCase {
    /// (captured length, wire length, timestamp) for each sample record.
    private let records: [(length: Int, original: Int?, timestamp: Timestamp)] = [
        (60, nil, Timestamp(seconds: 1_700_000_000, nanoseconds: 123_456_789)),
        (0, nil, Timestamp(seconds: 0, nanoseconds: 0)),
        (1, 1, Timestamp(seconds: 1, nanoseconds: 999_999_999)),
        (1514, nil, Timestamp(seconds: 4_294_967_295, nanoseconds: 1_000)),   // largest u32 second
        (96, 1500, Timestamp(seconds: 1_700_000_001, nanoseconds: 500_000_000)),   // snaplen-cut
    ]

    private func makeWriter(nanosecond: Bool, bigEndian: Bool, linkType: LinkType = .ethernet) -> PcapWriter {
        var writer = PcapWriter(linkType: linkType, nanosecond: nanosecond, bigEndian: bigEndian)
        for (index, record) in records.enumerated() {
            writer.append(packet: samplePacket(index, length: record.length), timestamp: record.timestamp,
                          originalLength: record.original)
        }
        return writer
    }

    private func expectedPackets(nanosecond: Bool, linkType: LinkType = .ethernet) -> [ReadPacket] {
        records.enumerated().map { index, record in
            let nanos = nanosecond ? record.timestamp.nanoseconds : record.timestamp.nanoseconds / 1000 * 1000
            return ReadPacket(frame: UInt64(index + 1),
                              timestamp: Timestamp(seconds: record.timestamp.seconds, nanoseconds: nanos),
                              linkType: linkType, bytes: samplePacket(index, length: record.length),
                              originalLength: record.original ?? record.length)
        }
    }

    func testEveryVariantRoundTripsFromMemoryAndFile() throws {
        for bigEndian in [false, true] {
            for nanosecond in [false, true] {
                let label = "bigEndian=\(bigEndian) nanosecond=\(nanosecond)"
                let writer = makeWriter(nanosecond: nanosecond, bigEndian: bigEndian)
                let expected = expectedPackets(nanosecond: nanosecond)

                var memoryReader = try CaptureFileReader(bytes: writer.bytes)
                XCTAssertEqual(memoryReader.formatName, "pcap", label)
                XCTAssertEqual(memoryReader.linkTypes, [.ethernet], label)
                let fromMemory = readAll(&memoryReader)
                XCTAssertNil(fromMemory.error, label)
                XCTAssertEqual(fromMemory.packets, expected, label)
                XCTAssertEqual(memoryReader.bytesRead, UInt64(writer.bytes.count), label)
                XCTAssertEqual(memoryReader.packetsRead, UInt64(records.count), label)

                // A buffer smaller than the largest record: compaction and growth paths.
                let file = path("v-\(bigEndian)-\(nanosecond).pcap")
                try writer.write(to: file)
                var fileReader = try CaptureFileReader(path: file, bufferSize: 64)
                XCTAssertEqual(fileReader.totalBytes, UInt64(writer.bytes.count), label)
                let fromFile = readAll(&fileReader)
                XCTAssertNil(fromFile.error, label)
                XCTAssertEqual(fromFile.packets, expected, label)
                XCTAssertEqual(fileReader.bytesRead, UInt64(writer.bytes.count), label)
                XCTAssertNil(try fileReader.nextPacket(), "stays at end: \(label)")
            }
        }
    }

    func testLinkTypeFieldKeepsOnlyLow16BitsAndMapsDLTValues() throws {
        let cases: [(value: UInt32, flags: UInt32, expected: LinkType)] = [
            (1, 0x1400_0000, .ethernet),   // FCS length 4 with the F bit
            (113, 0xF000_0000, .linuxSLL),
            (14, 0, .raw),                 // OpenBSD DLT_RAW
            (12, 0, .raw),                 // DLT_RAW elsewhere
            (276, 0, .linuxSLL2),
            (0, 0, .null),
        ]
        for entry in cases {
            var writer = PcapWriter(linkTypeFlags: entry.flags, linkTypeValue: entry.value)
            writer.append(packet: [1, 2, 3], timestamp: .zero)
            var reader = try CaptureFileReader(bytes: writer.bytes)
            XCTAssertEqual(reader.linkTypes, [entry.expected], "value \(entry.value)")
            XCTAssertEqual(try reader.nextPacket()?.linkType, entry.expected, "value \(entry.value)")
        }
    }

    func testMicrosecondFractionOfAWholeSecondOrMoreCarriesIntoSeconds() throws {
        for (nanosecond, fraction, expected) in [
            (false, UInt32(1_500_000), Timestamp(seconds: 11, nanoseconds: 500_000_000)),
            (true, UInt32(2_000_000_001), Timestamp(seconds: 12, nanoseconds: 1)),
        ] {
            var writer = PcapWriter(nanosecond: nanosecond)
            writer.appendRecord(seconds: 10, fraction: fraction, capturedLength: 1, originalLength: 1, data: [9])
            let result = readAll(bytes: writer.bytes)
            XCTAssertNil(result.error)
            XCTAssertEqual(result.packets.first?.timestamp, expected)
        }
    }

    func testUnsupportedMajorVersionIsRejected() {
        let writer = PcapWriter(versionMajor: 3, versionMinor: 0)
        XCTAssertEqual(readAll(bytes: writer.bytes).error?.kind, .unsupportedVersion)
        // Minor versions other than 4 (e.g. old 2.3 files) are read.
        var old = PcapWriter(versionMajor: 2, versionMinor: 3)
        old.append(packet: [1], timestamp: .zero)
        XCTAssertEqual(readAll(bytes: old.bytes).packets.count, 1)
    }

    func testImpossibleCapturedLengthIsMalformedNotAllocated() {
        var writer = PcapWriter()
        writer.append(packet: [1, 2, 3, 4], timestamp: .zero)
        let badOffset = UInt64(writer.bytes.count)
        writer.appendRecord(seconds: 1, fraction: 0, capturedLength: 0xFFFF_FFF0, originalLength: 60, data: [0, 0])
        let result = readAll(bytes: writer.bytes)
        XCTAssertEqual(result.packets.count, 1)
        XCTAssertEqual(result.error?.kind, .malformed)
        XCTAssertEqual(result.error?.offset, badOffset)
    }

    func testMaximumRecordLengthIsConfigurable() {
        var writer = PcapWriter()
        writer.append(packet: samplePacket(0, length: 100), timestamp: .zero)
        writer.append(packet: samplePacket(1, length: 101), timestamp: .zero)
        let result = readAll(bytes: writer.bytes, maximumRecordLength: 100)
        XCTAssertEqual(result.packets.count, 1)
        XCTAssertEqual(result.error?.kind, .malformed)
        XCTAssertEqual(result.error?.offset, UInt64(24 + 16 + 100))
    }

    func testRecordsMuchLargerThanTheBufferAreReadAndTheBufferRecovers() {
        var writer = PcapWriter(nanosecond: true)
        let sizes = [10, 70_000, 5, 200_000, 64, 0, 3_000]
        for (index, size) in sizes.enumerated() {
            writer.append(packet: samplePacket(index, length: size),
                          timestamp: Timestamp(seconds: Int64(index), nanoseconds: 0))
        }
        let result = readAll(bytes: writer.bytes, bufferSize: 64)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.packets.map(\.bytes.count), sizes)
        for (index, packet) in result.packets.enumerated() {
            XCTAssertEqual(packet.bytes, samplePacket(index, length: sizes[index]))
        }
    }

    /// A pipe delivers the file in small pieces: short reads must be stitched together.
    func testReadsFromAPipeWithShortReads() throws {
        let writer = makeWriter(nanosecond: true, bigEndian: true)
        var descriptors: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&descriptors), 0)
        let bytes = writer.bytes
        let writeEnd = descriptors[1]
        let feeder = Thread {
            var position = 0
            while position < bytes.count {
                let chunk = min(7, bytes.count - position)
                let written = bytes[position..<(position + chunk)].withUnsafeBytes { write(writeEnd, $0.baseAddress, chunk) }
                if written <= 0 { break }
                position += written
                usleep(50)
            }
            close(writeEnd)
        }
        feeder.start()
        var reader = try CaptureFileReader(fileDescriptor: descriptors[0], name: "pipe", closeWhenDone: true,
                                           bufferSize: 64)
        XCTAssertNil(reader.totalBytes)
        let result = readAll(&reader)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.packets, expectedPackets(nanosecond: true))
        XCTAssertEqual(reader.bytesRead, UInt64(bytes.count))
    }

    /// `-` reads standard input (here a file put in its place for the duration of the test).
    func testDashReadsStandardInput() throws {
        let writer = makeWriter(nanosecond: false, bigEndian: false)
        let file = path("stdin.pcap")
        try writer.write(to: file)
        let descriptor = open(file, O_RDONLY)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        let savedStandardInput = dup(STDIN_FILENO)
        XCTAssertEqual(dup2(descriptor, STDIN_FILENO), STDIN_FILENO)
        close(descriptor)
        defer {
            dup2(savedStandardInput, STDIN_FILENO)
            close(savedStandardInput)
        }
        var reader = try CaptureFileReader(path: "-")
        XCTAssertEqual(reader.name, "standard input")
        let result = readAll(&reader)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.packets, expectedPackets(nanosecond: false))
    }
}
