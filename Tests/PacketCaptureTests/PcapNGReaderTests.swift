import PacketCapture
import TestSupport
import XCTest

final class PcapNGReaderTests: XCTestCase {
    private let t0 = Timestamp(seconds: 1_700_000_000, nanoseconds: 123_456_789)

    func testInterfacesWithDifferentLinkTypesAndResolutionsInBothByteOrders() throws {
        for bigEndian in [false, true] {
            var writer = PcapNGWriter(bigEndian: bigEndian)
            let ethernet = writer.addInterface(linkType: .ethernet, name: "eth0")               // µs
            let raw = writer.addInterface(linkType: .raw, timestampResolution: 9, name: "tun0")  // ns
            let sll = writer.addInterface(linkType: .linuxSLL, timestampResolution: 3)          // ms
            writer.append(packet: samplePacket(0, length: 60), interface: ethernet, timestamp: t0)
            writer.append(packet: samplePacket(1, length: 41), interface: raw, timestamp: t0, comment: "odd")
            writer.append(packet: samplePacket(2, length: 44), interface: sll, timestamp: t0, originalLength: 1000)
            writer.append(packet: samplePacket(3, length: 0), interface: raw, timestamp: .zero)

            var reader = try CaptureFileReader(bytes: writer.bytes, name: "two-interfaces")
            XCTAssertEqual(reader.formatName, "pcapng")
            let result = readAll(&reader)
            XCTAssertNil(result.error)
            XCTAssertEqual(result.packets, [
                ReadPacket(frame: 1, timestamp: Timestamp(seconds: t0.seconds, nanoseconds: 123_456_000),
                           linkType: .ethernet, bytes: samplePacket(0, length: 60), originalLength: 60),
                ReadPacket(frame: 2, timestamp: t0, linkType: .raw, bytes: samplePacket(1, length: 41),
                           originalLength: 41),
                ReadPacket(frame: 3, timestamp: Timestamp(seconds: t0.seconds, nanoseconds: 123_000_000),
                           linkType: .linuxSLL, bytes: samplePacket(2, length: 44), originalLength: 1000),
                ReadPacket(frame: 4, timestamp: .zero, linkType: .raw, bytes: [], originalLength: 0),
            ], "bigEndian=\(bigEndian)")
            XCTAssertEqual(reader.linkTypes, [.ethernet, .raw, .linuxSLL])
            XCTAssertEqual(reader.bytesRead, UInt64(writer.bytes.count))
        }
    }

    func testEachSectionHasItsOwnInterfacesAndByteOrder() throws {
        var writer = PcapNGWriter(bigEndian: false)
        writer.addInterface(linkType: .ethernet)
        writer.addInterface(linkType: .linuxSLL2, timestampResolution: 9)
        writer.append(packet: [1], interface: 0, timestamp: t0)
        writer.append(packet: [2], interface: 1, timestamp: t0)
        writer.startSection(bigEndian: true)
        writer.addInterface(linkType: .raw, timestampResolution: 9)
        writer.append(packet: [3], interface: 0, timestamp: t0)
        writer.startSection(bigEndian: false)
        writer.addInterface(linkType: .null)
        writer.append(packet: [4], interface: 0, timestamp: t0)

        let result = readAll(bytes: writer.bytes)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.packets.map(\.frame), [1, 2, 3, 4])
        XCTAssertEqual(result.packets.map(\.linkType), [.ethernet, .linuxSLL2, .raw, .null])
        XCTAssertEqual(result.packets.map(\.bytes), [[1], [2], [3], [4]])
        XCTAssertEqual(result.packets[2].timestamp, t0)
    }

    func testInterfaceFromAnEarlierSectionIsUndefined() {
        var writer = PcapNGWriter()
        writer.addInterface(linkType: .ethernet)
        writer.addInterface(linkType: .raw)
        writer.startSection()
        writer.addInterface(linkType: .ethernet)
        let badOffset = UInt64(writer.bytes.count)
        writer.append(packet: [1], interface: 1, timestamp: t0)
        let result = readAll(bytes: writer.bytes)
        XCTAssertEqual(result.packets.count, 0)
        XCTAssertEqual(result.error?.kind, .malformed)
        XCTAssertEqual(result.error?.offset, badOffset)
    }

    func testTimestampResolutionsAndOffset() {
        let cases: [(resolution: UInt8?, offset: Int64?, written: Timestamp, read: Timestamp)] = [
            (nil, nil, t0, Timestamp(seconds: t0.seconds, nanoseconds: 123_456_000)),
            (6, nil, t0, Timestamp(seconds: t0.seconds, nanoseconds: 123_456_000)),
            (9, nil, t0, t0),
            (3, nil, t0, Timestamp(seconds: t0.seconds, nanoseconds: 123_000_000)),
            (0, nil, t0, Timestamp(seconds: t0.seconds, nanoseconds: 0)),
            // Picoseconds: 64 bits hold about 213 days, so a small seconds value.
            (12, nil, Timestamp(seconds: 1_000_000, nanoseconds: 123_456_789),
             Timestamp(seconds: 1_000_000, nanoseconds: 123_456_789)),
            (19, nil, Timestamp(seconds: 1, nanoseconds: 5), Timestamp(seconds: 1, nanoseconds: 5)),
            (0x80 | 20, nil, Timestamp(seconds: 7, nanoseconds: 500_000_000),
             Timestamp(seconds: 7, nanoseconds: 500_000_000)),
            // 2^-10 s: 123_456_789 ns → 126 units → 126 * 10^9 / 1024 = 123_046_875 ns.
            (0x80 | 10, nil, t0, Timestamp(seconds: t0.seconds, nanoseconds: 123_046_875)),
            (0x80 | 0, nil, t0, Timestamp(seconds: t0.seconds, nanoseconds: 0)),
            (9, 1_600_000_000, t0, t0),
            (6, -5, Timestamp(seconds: 10, nanoseconds: 0), Timestamp(seconds: 10, nanoseconds: 0)),
        ]
        for entry in cases {
            for bigEndian in [false, true] {
                var writer = PcapNGWriter(bigEndian: bigEndian)
                writer.addInterface(linkType: .ethernet, timestampResolution: entry.resolution,
                                    secondsOffset: entry.offset)
                writer.append(packet: [0xAB], interface: 0, timestamp: entry.written)
                let result = readAll(bytes: writer.bytes)
                XCTAssertNil(result.error)
                XCTAssertEqual(result.packets.first?.timestamp, entry.read,
                               "tsresol \(String(describing: entry.resolution)) offset \(String(describing: entry.offset))")
            }
        }
    }

    func testResolutionsBeyond64BitsAreMalformed() {
        for resolution: UInt8 in [20, 0x80 | 64, 0xFF] {
            var writer = PcapNGWriter()
            writer.addInterface(linkType: .ethernet, timestampResolution: resolution)
            XCTAssertEqual(readAll(bytes: writer.bytes).error?.kind, .malformed, "tsresol \(resolution)")
        }
    }

    func testSimpleAndObsoletePacketBlocks() {
        var writer = PcapNGWriter()
        writer.addInterface(linkType: .linuxSLL, snaplen: 100, timestampResolution: 9)
        writer.append(packet: samplePacket(0, length: 10), interface: 0, timestamp: t0)
        writer.appendSimplePacket(samplePacket(1, length: 61))     // padded to 64: length is the original
        // Snaplen 100 cuts a 200-byte packet; the block holds exactly the captured 100 bytes.
        writer.appendSimplePacket(samplePacket(2, length: 100), originalLength: 200)
        let t1 = Timestamp(seconds: t0.seconds + 1, nanoseconds: 1)
        writer.appendObsoletePacket(samplePacket(3, length: 33), interface: 0, timestamp: t1, originalLength: 40)

        let result = readAll(bytes: writer.bytes)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.packets, [
            ReadPacket(frame: 1, timestamp: t0, linkType: .linuxSLL, bytes: samplePacket(0, length: 10),
                       originalLength: 10),
            // Simple Packet Blocks have no timestamp: the previous packet's is used.
            ReadPacket(frame: 2, timestamp: t0, linkType: .linuxSLL, bytes: samplePacket(1, length: 61),
                       originalLength: 61),
            ReadPacket(frame: 3, timestamp: t0, linkType: .linuxSLL, bytes: samplePacket(2, length: 100),
                       originalLength: 200),
            ReadPacket(frame: 4, timestamp: t1, linkType: .linuxSLL, bytes: samplePacket(3, length: 33),
                       originalLength: 40),
        ])
    }

    func testSimplePacketBlockAsFirstPacketHasZeroTimestamp() {
        var writer = PcapNGWriter()
        writer.addInterface(linkType: .ethernet)
        writer.appendSimplePacket([1, 2, 3])
        XCTAssertEqual(readAll(bytes: writer.bytes).packets.first?.timestamp, .zero)
    }

    func testSimplePacketBlockWithoutInterfaceIsMalformed() {
        var writer = PcapNGWriter()
        let offset = UInt64(writer.bytes.count)
        writer.appendSimplePacket([1, 2, 3])
        let result = readAll(bytes: writer.bytes)
        XCTAssertEqual(result.error?.kind, .malformed)
        XCTAssertEqual(result.error?.offset, offset)
    }

    func testOtherBlocksAreSkippedEvenWhenLargerThanTheBuffer() {
        for bigEndian in [false, true] {
            var writer = PcapNGWriter(bigEndian: bigEndian)
            writer.appendBlock(type: 4, body: [0, 0, 0, 0])                     // Name Resolution
            writer.addInterface(linkType: .ethernet)
            writer.append(packet: [1], interface: 0, timestamp: t0)
            writer.appendBlock(type: 5, body: [UInt8](repeating: 0, count: 20))  // Interface Statistics
            writer.appendBlock(type: 0x0BAD, body: samplePacket(9, length: 5_000))   // custom
            writer.appendBlock(type: 0x4000_0BAD, body: [])
            writer.appendBlock(type: 0x0A, body: samplePacket(8, length: 129))   // Decryption Secrets
            writer.append(packet: [2], interface: 0, timestamp: t0)
            writer.appendBlock(type: 0x7777_7777, body: samplePacket(7, length: 300))
            for bufferSize in [64, 100, 4096, CaptureFileReader.defaultBufferSize] {
                let result = readAll(bytes: writer.bytes, bufferSize: bufferSize)
                XCTAssertNil(result.error, "buffer \(bufferSize)")
                XCTAssertEqual(result.packets.map(\.bytes), [[1], [2]], "buffer \(bufferSize)")
                XCTAssertEqual(result.packets.map(\.frame), [1, 2])
            }
        }
    }

    func testInvalidBlockLengthsAreMalformedAtTheBlockOffset() {
        // Each case appends a broken block after one good packet.
        let cases: [(name: String, corrupt: (inout PcapNGWriter) -> Void)] = [
            ("length not a multiple of 4", { writer in
                writer.bytes += [0xAD, 0x0B, 0, 0, 13, 0, 0, 0] + [UInt8](repeating: 0, count: 13)
            }),
            ("length below 12", { writer in
                writer.bytes += [0xAD, 0x0B, 0, 0, 8, 0, 0, 0, 8, 0, 0, 0]
            }),
            ("trailing length differs on a skipped block", { writer in
                writer.appendBlock(type: 0x0BAD, body: [1, 2, 3, 4])
                writer.bytes[writer.bytes.count - 4] = 24
            }),
            ("trailing length differs on a packet block", { writer in
                writer.append(packet: [1, 2, 3], interface: 0, timestamp: .zero)
                writer.bytes[writer.bytes.count - 4] &+= 4
            }),
            ("captured length beyond the block", { writer in
                let start = writer.bytes.count
                writer.append(packet: [1, 2, 3], interface: 0, timestamp: .zero)
                writer.bytes[start + 20] = 200
            }),
            ("EPB too short", { writer in
                writer.bytes += [6, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0]
            }),
            ("IDB option overruns the block", { writer in
                writer.bytes += [1, 0, 0, 0, 28, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0,
                                 9, 0, 200, 0, 6, 0, 0, 0, 28, 0, 0, 0]
            }),
            ("SHB with an invalid byte-order magic", { writer in
                writer.bytes += [0x0A, 0x0D, 0x0D, 0x0A, 28, 0, 0, 0, 1, 2, 3, 4] + [UInt8](repeating: 0, count: 16)
            }),
        ]
        for entry in cases {
            var writer = PcapNGWriter()
            writer.addInterface(linkType: .ethernet)
            writer.append(packet: [7], interface: 0, timestamp: t0)
            let badOffset = UInt64(writer.bytes.count)
            entry.corrupt(&writer)
            writer.append(packet: [8], interface: 0, timestamp: t0)
            for bufferSize in [64, CaptureFileReader.defaultBufferSize] {
                let result = readAll(bytes: writer.bytes, bufferSize: bufferSize)
                XCTAssertEqual(result.packets.map(\.bytes), [[7]], entry.name)
                XCTAssertEqual(result.error?.kind, .malformed, entry.name)
                XCTAssertEqual(result.error?.offset, badOffset, entry.name)
            }
        }
    }

    func testUnsupportedSectionVersion() {
        let first = PcapNGWriter(bigEndian: true)
        var writer = first
        writer.bytes.removeAll()
        writer.startSection(versionMajor: 2)
        XCTAssertEqual(readAll(bytes: writer.bytes).error?.kind, .unsupportedVersion)
        // The same in a later section, after packets were read.
        var later = first
        later.addInterface(linkType: .ethernet)
        later.append(packet: [1], interface: 0, timestamp: t0)
        let offset = UInt64(later.bytes.count)
        later.startSection(versionMajor: 2)
        let result = readAll(bytes: later.bytes)
        XCTAssertEqual(result.packets.count, 1)
        XCTAssertEqual(result.error?.kind, .unsupportedVersion)
        XCTAssertEqual(result.error?.offset, offset)
    }

    func testMaximumRecordLengthAppliesToPacketBlocks() {
        var writer = PcapNGWriter()
        writer.addInterface(linkType: .ethernet)
        writer.append(packet: samplePacket(0, length: 100), interface: 0, timestamp: t0)
        let offset = UInt64(writer.bytes.count)
        writer.append(packet: samplePacket(1, length: 101), interface: 0, timestamp: t0)
        let result = readAll(bytes: writer.bytes, maximumRecordLength: 100)
        XCTAssertEqual(result.packets.count, 1)
        XCTAssertEqual(result.error?.kind, .malformed)
        XCTAssertEqual(result.error?.offset, offset)
    }

    func testLargePacketsWithASmallBuffer() {
        var writer = PcapNGWriter(bigEndian: true)
        writer.addInterface(linkType: .ethernet, timestampResolution: 9)
        let sizes = [3, 100_000, 17, 65_535, 0]
        for (index, size) in sizes.enumerated() {
            writer.append(packet: samplePacket(index, length: size), interface: 0, timestamp: t0)
        }
        let result = readAll(bytes: writer.bytes, bufferSize: 64)
        XCTAssertNil(result.error)
        XCTAssertEqual(result.packets.map(\.bytes), sizes.enumerated().map { samplePacket($0, length: $1) })
    }
}
