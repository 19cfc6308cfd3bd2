import CPcap
import Foundation
import PacketCapture
import XCTest

/// Reads the public captures in `shared/captures-real` next to the checkout (read-only,
/// described by its MANIFEST.tsv) and checks counts and contents against the manifest and
/// against libpcap's own reader. Skipped when the directory is absent.
final class RealCaptureTests: XCTestCase {
    /// `<repo>/../shared/captures-real`, found from this source file so any checkout works.
    private static var capturesDirectory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()   // PacketCaptureTests
            .deletingLastPathComponent()   // Tests
            .deletingLastPathComponent()   // repository root
            .deletingLastPathComponent()
            .appendingPathComponent("shared/captures-real")
    }

    private struct ManifestRow {
        var file: String
        var packets: Int
        /// The numbers in the linktype column, e.g. "ether (DLT 1,1)" → [1, 1].
        var linkTypes: [UInt32]
    }

    private func manifest() throws -> [ManifestRow] {
        let directory = Self.capturesDirectory
        let manifestURL = directory.appendingPathComponent("MANIFEST.tsv")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: manifestURL.path),
                          "no captures at \(directory.path)")
        let lines = try String(contentsOf: manifestURL, encoding: .utf8).split(separator: "\n")
        let header = lines.first?.split(separator: "\t", omittingEmptySubsequences: false) ?? []
        XCTAssertEqual(header.count > 6 ? String(header[6]) : nil, "packets")
        return lines.dropFirst().compactMap { line -> ManifestRow? in
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns.count > 6, let packets = Int(columns[6]) else { return nil }
            var linkTypes: [UInt32] = []
            if let range = columns[5].range(of: "DLT ") {
                linkTypes = columns[5][range.upperBound...].split(whereSeparator: { !$0.isNumber })
                    .compactMap { UInt32($0) }
            }
            return ManifestRow(file: columns[0], packets: packets, linkTypes: linkTypes)
        }
    }

    func testEveryManifestCaptureReadsCompletely() throws {
        let rows = try manifest()
        XCTAssertFalse(rows.isEmpty)
        for row in rows {
            let path = Self.capturesDirectory.appendingPathComponent(row.file).path
            XCTAssertTrue(CaptureFileReader.looksLikeCapture(path: path), row.file)
            var reader = try CaptureFileReader(path: path)
            // By content, not name: websocket_test/websocket.pcap is a pcapng file.
            let magic = try Array(Data(contentsOf: URL(fileURLWithPath: path)).prefix(4))
            XCTAssertEqual(reader.formatName, magic == [0x0A, 0x0D, 0x0D, 0x0A] ? "pcapng" : "pcap", row.file)
            var count = 0
            while let packet = try reader.nextPacket() {
                count += 1
                XCTAssertEqual(packet.frameNumber, UInt64(count), row.file)
                XCTAssertLessThanOrEqual(packet.bytes.count, packet.originalLength, row.file)
            }
            XCTAssertEqual(count, row.packets, row.file)
            XCTAssertEqual(reader.bytesRead, reader.totalBytes, row.file)
            XCTAssertEqual(Set(reader.linkTypes.map(\.rawValue)), Set(row.linkTypes), row.file)
        }
    }

    func testEveryCaptureFileIsInTheManifest() throws {
        let listed = Set(try manifest().map(\.file))
        let root = Self.capturesDirectory
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        var found = 0
        while let relative = enumerator?.nextObject() as? String {
            guard relative.hasSuffix(".pcap") || relative.hasSuffix(".pcapng") else { continue }
            found += 1
            XCTAssertTrue(listed.contains(relative), "\(relative) is not in MANIFEST.tsv")
        }
        XCTAssertEqual(found, listed.count)
    }

    /// Same packets, bytes, lengths and timestamps as libpcap's offline reader (which can read
    /// all of these: none mixes link types across interfaces).
    func testPacketsMatchLibpcap() throws {
        for row in try manifest() {
            let path = Self.capturesDirectory.appendingPathComponent(row.file).path
            var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
            guard let handle = pcap_open_offline_with_tstamp_precision(
                path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer) else {
                XCTFail("libpcap cannot open \(row.file)")
                continue
            }
            defer { pcap_close(handle) }
            var reader = try CaptureFileReader(path: path)
            var frame = 0
            while true {
                var header: UnsafeMutablePointer<pcap_pkthdr>?
                var data: UnsafePointer<UInt8>?
                let status = pcap_next_ex(handle, &header, &data)
                let ours = try reader.nextPacket()
                guard status == 1, let header, let data else {
                    XCTAssertNil(ours, "\(row.file): libpcap ended (\(status)) before frame \(frame + 1)")
                    break
                }
                frame += 1
                guard let ours else {
                    XCTFail("\(row.file): ended before libpcap's frame \(frame)")
                    break
                }
                let theirs = header.pointee
                // Compared as totals: libpcap passes on a fraction of a second or more unchanged
                // (the fuzzed transform-base64-7296 has some); we carry it into the seconds.
                XCTAssertEqual(ours.timestamp.totalNanoseconds,
                               Int64(theirs.ts.tv_sec) * 1_000_000_000 + Int64(theirs.ts.tv_usec),
                               "\(row.file) #\(frame)")
                XCTAssertEqual(ours.originalLength, Int(theirs.len), "\(row.file) #\(frame)")
                XCTAssertEqual(ours.bytes.count, Int(theirs.caplen), "\(row.file) #\(frame)")
                if ours.bytes.count == Int(theirs.caplen) {
                    XCTAssertTrue(ours.bytes.elementsEqual(UnsafeBufferPointer(start: data, count: Int(theirs.caplen))),
                                  "\(row.file) #\(frame)")
                }
            }
        }
    }
}
