import Foundation
import PacketCapture
import TestSupport
import XCTest

final class CaptureErrorTests: TemporaryDirectoryTestCase {
    private func openError(_ path: String) -> CaptureError? {
        do {
            _ = try CaptureFileReader(path: path)
            return nil
        } catch {
            return error
        }
    }

    func testMissingFileCannotBeOpened() {
        let error = openError(path("absent.pcap"))
        XCTAssertEqual(error?.kind, .cannotOpen)
        XCTAssertTrue(error?.detail.contains("No such file or directory") ?? false, "\(String(describing: error))")
        XCTAssertTrue(error?.detail.contains("absent.pcap") ?? false)
    }

    func testDirectoryCannotBeOpened() {
        let error = openError(directory)
        XCTAssertEqual(error?.kind, .cannotOpen)
        XCTAssertTrue(error?.detail.contains("Is a directory") ?? false, "\(String(describing: error))")
    }

    func testUnreadableFileCannotBeOpened() throws {
        try XCTSkipIf(geteuid() == 0, "root reads files regardless of permissions")
        let file = path("secret.pcap")
        try PcapWriter().write(to: file)
        XCTAssertEqual(chmod(file, 0), 0)
        let error = openError(file)
        XCTAssertEqual(error?.kind, .cannotOpen)
        XCTAssertTrue(error?.detail.contains("Permission denied") ?? false)
    }

    func testEmptyAndNonCaptureFilesAreNotCaptures() throws {
        let inputs: [(String, [UInt8])] = [
            ("empty", []),
            ("three bytes of a magic", [0xD4, 0xC3, 0xB2]),
            ("text", Array("GET / HTTP/1.1\r\nHost: example\r\n\r\n".utf8)),
            // Starts like a pcapng SHB but the byte-order magic is text.
            ("CRLF text", Array("\n\r\r\nsome text that goes on for a while\n".utf8)),
            ("ELF", [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0] + [UInt8](repeating: 0, count: 56)),
        ]
        for (name, bytes) in inputs {
            let file = path(name)
            try bytes.write(to: file)
            let error = openError(file)
            XCTAssertEqual(error?.kind, .notACapture, name)
            XCTAssertTrue(error?.detail.contains("not a pcap or pcapng file") ?? false, name)
            XCTAssertFalse(CaptureFileReader.looksLikeCapture(path: file), name)
        }
    }

    func testLooksLikeCapture() throws {
        let pcap = path("a.pcap")
        try PcapWriter(nanosecond: true, bigEndian: true).write(to: pcap)
        let pcapng = path("b.pcapng")
        try PcapNGWriter().write(to: pcapng)
        XCTAssertTrue(CaptureFileReader.looksLikeCapture(path: pcap))
        XCTAssertTrue(CaptureFileReader.looksLikeCapture(path: pcapng))
        XCTAssertFalse(CaptureFileReader.looksLikeCapture(path: path("missing")))
        XCTAssertFalse(CaptureFileReader.looksLikeCapture(path: directory))
        for magic: [UInt8] in [[0xA1, 0xB2, 0xC3, 0xD4], [0xD4, 0xC3, 0xB2, 0xA1],
                               [0xA1, 0xB2, 0x3C, 0x4D], [0x4D, 0x3C, 0xB2, 0xA1]] {
            XCTAssertEqual(CaptureFormat.detect(leadingBytes: magic), .pcap)
        }
        XCTAssertEqual(CaptureFormat.detect(leadingBytes: [0x0A, 0x0D, 0x0D, 0x0A, 0xFF]), .pcapng)
        XCTAssertNil(CaptureFormat.detect(leadingBytes: [0xA1, 0xB2, 0xC3]))
        XCTAssertNil(CaptureFormat.detect(leadingBytes: [0xA1, 0xB2, 0xC3, 0xD5]))
    }

    func testProgressCountersForAFile() throws {
        var writer = PcapNGWriter()
        writer.addInterface(linkType: .ethernet)
        for index in 0..<50 {
            writer.append(packet: samplePacket(index, length: 100 + index), interface: 0, timestamp: .zero)
        }
        let file = path("progress.pcapng")
        try writer.write(to: file)
        var reader = try CaptureFileReader(path: file, bufferSize: 256)
        XCTAssertEqual(reader.totalBytes, UInt64(writer.bytes.count))
        XCTAssertEqual(reader.name, file)
        var previous = reader.bytesRead
        XCTAssertGreaterThan(previous, 0)   // the SHB was read by init
        while let packet = try reader.nextPacket() {
            XCTAssertGreaterThan(reader.bytesRead, previous, "frame \(packet.frameNumber)")
            previous = reader.bytesRead
        }
        XCTAssertEqual(reader.bytesRead, UInt64(writer.bytes.count))
        XCTAssertEqual(reader.packetsRead, 50)
    }

    /// Cuts a file at every byte: the packets wholly before the cut come back intact, then the
    /// reader reports `.truncated` at the start of the cut record (or ends cleanly at a boundary).
    func testCutAtEveryByte() {
        var pcap = PcapWriter(nanosecond: true, bigEndian: true)
        var pcapBoundaries = [24]
        for index in 0..<3 {
            pcap.append(packet: samplePacket(index, length: 10 + index * 7),
                        timestamp: Timestamp(seconds: Int64(index), nanoseconds: 0))
            pcapBoundaries.append(pcap.bytes.count)
        }
        var pcapng = PcapNGWriter()
        var pcapngBoundaries = [pcapng.bytes.count]
        var pcapngPacketEnds: [Int] = []
        pcapng.addInterface(linkType: .ethernet, name: "eth0")
        pcapngBoundaries.append(pcapng.bytes.count)
        for index in 0..<3 {
            pcapng.append(packet: samplePacket(index, length: 10 + index * 7), interface: 0, timestamp: .zero)
            pcapngBoundaries.append(pcapng.bytes.count)
            pcapngPacketEnds.append(pcapng.bytes.count)
            pcapng.appendBlock(type: 0x0BAD, body: [1, 2, 3, 4, 5])
            pcapngBoundaries.append(pcapng.bytes.count)
        }
        let files: [(name: String, bytes: [UInt8], headerEnd: Int, boundaries: [Int], packetEnds: [Int])] = [
            ("pcap", pcap.bytes, 24, pcapBoundaries, Array(pcapBoundaries.dropFirst())),
            ("pcapng", pcapng.bytes, pcapngBoundaries[0], pcapngBoundaries, pcapngPacketEnds),
        ]
        for file in files {
            let complete = readAll(bytes: file.bytes).packets
            XCTAssertEqual(complete.count, 3)
            for cut in 0...file.bytes.count {
                let label = "\(file.name) cut at \(cut)"
                let result = readAll(bytes: Array(file.bytes[0..<cut]), bufferSize: 64)
                if cut < 4 {
                    XCTAssertEqual(result.error?.kind, .notACapture, label)
                    continue
                }
                if cut < file.headerEnd {
                    XCTAssertEqual(result.error?.kind, .truncated, label)
                    XCTAssertEqual(result.error?.offset, 0, label)
                    continue
                }
                let wholePackets = file.packetEnds.filter { $0 <= cut }.count
                XCTAssertEqual(result.packets, Array(complete.prefix(wholePackets)), label)
                if file.boundaries.contains(cut) {
                    XCTAssertNil(result.error, label)
                } else {
                    XCTAssertEqual(result.error?.kind, .truncated, label)
                    XCTAssertEqual(result.error?.offset, UInt64(file.boundaries.last { $0 < cut } ?? -1), label)
                }
            }
        }
    }

    func testErrorsEndTheReading() throws {
        var writer = PcapWriter()
        writer.append(packet: [1, 2, 3], timestamp: .zero)
        writer.append(packet: [4, 5, 6], timestamp: .zero)
        var reader = try CaptureFileReader(bytes: Array(writer.bytes.dropLast()))
        XCTAssertNotNil(try reader.nextPacket())
        XCTAssertThrowsError(try reader.nextPacket()) { error in
            XCTAssertEqual((error as? CaptureError)?.kind, .truncated)
            XCTAssertTrue("\(error)".contains("(at byte 43)"), "\(error)")
        }
        XCTAssertNil(try reader.nextPacket())
    }

    /// Random bytes, and random bytes behind valid headers: never a crash, a hang, or a
    /// packet reaching outside the input.
    func testRandomInputNeverCrashes() {
        var random = SplitMix64(state: 0x5EED)
        let prefixes: [[UInt8]] = [
            [],
            PcapWriter().bytes,
            PcapWriter(nanosecond: true, bigEndian: true).bytes,
            PcapNGWriter().bytes,
            PcapNGWriter(bigEndian: true).bytes,
        ]
        for round in 0..<400 {
            let input = prefixes[round % prefixes.count] + random.bytes(random.below(600))
            let result = readAll(bytes: input, bufferSize: 64 + random.below(200))
            let total = result.packets.reduce(0) { $0 + $1.bytes.count }
            XCTAssertLessThanOrEqual(total, input.count)
            XCTAssertLessThanOrEqual(result.error?.offset ?? 0, UInt64(input.count))
            if round % prefixes.count == 0 && CaptureFormat.detect(leadingBytes: input) == nil {
                XCTAssertEqual(result.error?.kind, .notACapture)
            }
        }
    }

    /// Valid files with a few bytes changed: every outcome is packets and maybe one typed error.
    func testMutatedFilesNeverCrash() {
        var pcapng = PcapNGWriter()
        pcapng.addInterface(linkType: .ethernet, timestampResolution: 9, secondsOffset: 3, name: "eth0")
        pcapng.addInterface(linkType: .raw)
        for index in 0..<6 {
            pcapng.append(packet: samplePacket(index, length: 20 + index), interface: UInt32(index % 2),
                          timestamp: Timestamp(seconds: 100, nanoseconds: 5), comment: "c")
        }
        pcapng.appendSimplePacket([1, 2, 3, 4, 5])
        pcapng.appendObsoletePacket([6, 7], interface: 1, timestamp: .zero)
        var pcap = PcapWriter(bigEndian: true)
        for index in 0..<6 { pcap.append(packet: samplePacket(index, length: 30), timestamp: .zero) }

        var random = SplitMix64(state: 42)
        for original in [pcapng.bytes, pcap.bytes] {
            for _ in 0..<500 {
                var input = original
                for _ in 0..<(1 + random.below(4)) {
                    input[random.below(input.count)] = UInt8(truncatingIfNeeded: random.next())
                }
                let result = readAll(bytes: input, bufferSize: 64)
                XCTAssertLessThanOrEqual(result.packets.count, 8)
                XCTAssertLessThanOrEqual(result.error?.offset ?? 0, UInt64(input.count))
                for (index, packet) in result.packets.enumerated() {
                    XCTAssertEqual(packet.frame, UInt64(index + 1))
                    XCTAssertLessThanOrEqual(packet.timestamp.nanoseconds, 999_999_999)
                }
            }
        }
    }
}

extension Array where Element == UInt8 {
    func write(to path: String) throws {
        try Data(self).write(to: URL(fileURLWithPath: path))
    }
}
