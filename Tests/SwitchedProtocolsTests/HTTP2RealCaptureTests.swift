import Findings
import Foundation
@testable import SwitchedProtocols
import XCTest

/// Real HTTP/2 connections. Fixtures hold each direction's bytes, extracted with
/// `tshark -r FILE -q -z follow,tcp,raw,STREAM`: after the upgrade request's and the 101's
/// CRLFCRLF for h2c upgrades, whole streams for prior knowledge. Sources: the public captures
/// in /work/shared/captures-real (MANIFEST.tsv) and this repository's Captures/ corpus.
/// Expected totals are tshark 4.0's HTTP/2 frame counts (`-Y http2 -T fields -e http2.type`).
final class HTTP2RealCaptureTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let manifest = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/captures-real/MANIFEST.tsv")

    static func fixture(_ name: String) throws -> [UInt8] {
        let url = fixtures.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("fixture \(name) absent") }
        return [UInt8](try Data(contentsOf: url))
    }

    struct Expectation {
        var name: String
        /// MANIFEST.tsv row and its n_http2_frames (nil: not in the manifest).
        var manifestFile: String?
        var manifestFrames: Int?
        var afterUpgrade: Bool
        var clientFrames: UInt64
        var serverFrames: UInt64
        /// What tshark counts for this connection.
        var tsharkFrames: UInt64
        /// Our total minus tshark's, and why they differ.
        var difference: Int = 0
        var why: String = ""
    }

    static let expectations: [Expectation] = [
        Expectation(name: "keywords2", manifestFile: "suricata-verify/http2-keywords2/input.pcap", manifestFrames: 10,
                    afterUpgrade: true, clientFrames: 4, serverFrames: 6, tsharkFrames: 10),
        Expectation(name: "deflate", manifestFile: "suricata-verify/http2-deflate/http2_deflate.pcap", manifestFrames: 9,
                    afterUpgrade: true, clientFrames: 3, serverFrames: 6, tsharkFrames: 9),
        Expectation(name: "arkime-nghttp2", manifestFile: "arkime/http2-nghttp2.pcap", manifestFrames: 16,
                    afterUpgrade: false, clientFrames: 12, serverFrames: 9, tsharkFrames: 16, difference: 5,
                    why: "tshark fails to reassemble the client's 16384-byte HEADERS + 2192-byte CONTINUATION "
                        + "(\"BoundError Unreassembled Packet\") and dissects none of the client's later frames: "
                        + "CONTINUATION, SETTINGS ACK, two WINDOW_UPDATE, GOAWAY; the framing is consistent to the last byte"),
        Expectation(name: "drop-protocol-change", manifestFile: "suricata-verify/drop-protocol-change/input.pcap",
                    manifestFrames: 4, afterUpgrade: true, clientFrames: 2, serverFrames: 3, tsharkFrames: 4, difference: 1,
                    why: "no request precedes the 101, so tshark hands the connection to HTTP/2 only from the next "
                        + "segment and misses the server SETTINGS sharing the 101's segment"),
        Expectation(name: "nDPI", manifestFile: "nDPI/http2.pcapng", manifestFrames: 0, afterUpgrade: false,
                    clientFrames: 5, serverFrames: 7, tsharkFrames: 12,
                    why: "port 29518 is not dissected as HTTP/2 by default (manifest 0); with "
                        + "-d tcp.port==29518,http2 tshark shows these 12 frames in 10 packets"),
        Expectation(name: "h2c-upgrade-curl", afterUpgrade: true, clientFrames: 4, serverFrames: 6, tsharkFrames: 10),
        Expectation(name: "h2c-missing-settings", afterUpgrade: true, clientFrames: 3, serverFrames: 3, tsharkFrames: 6),
    ]

    func manifestFrames(_ file: String) -> Int? {
        guard let text = try? String(contentsOf: Self.manifest, encoding: .utf8) else { return nil }
        let rows = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        guard let header = rows.first, let column = header.firstIndex(of: "n_http2_frames"),
              let row = rows.first(where: { $0.first.map(String.init) == file }), column < row.count else { return nil }
        return Int(row[column])
    }

    func run(_ expectation: Expectation, chunk: Int? = nil) throws -> HTTP2Session {
        let client = try Self.fixture("HTTP2-\(expectation.name)-client.bin")
        let server = try Self.fixture("HTTP2-\(expectation.name)-server.bin")
        let session = HTTP2Session(afterUpgrade: expectation.afterUpgrade)
        // Interleave the directions in pieces, as a capture would deliver them.
        let size = chunk ?? max(client.count, server.count)
        var offset = 0
        var frame: UInt64 = 0
        while offset < max(client.count, server.count) {
            frame += 1
            if offset < server.count {
                session.serverData(Array(server[offset..<min(server.count, offset + size)]), frame: frame, timestamp: testTimestamp)
            }
            if offset < client.count {
                session.clientData(Array(client[offset..<min(client.count, offset + size)]), frame: frame, timestamp: testTimestamp)
            }
            offset += size
        }
        session.finish()
        return session
    }

    func testFrameCountsMatchTshark() throws {
        for expectation in Self.expectations {
            if let file = expectation.manifestFile, let listed = manifestFrames(file) {
                XCTAssertEqual(listed, expectation.manifestFrames, "MANIFEST changed for \(file)")
            }
            for chunk in [nil, 1, 7, 1460] as [Int?] {
                let session = try run(expectation, chunk: chunk)
                let label = "\(expectation.name) chunk \(chunk.map(String.init) ?? "whole")"
                XCTAssertEqual(session.client.statistics.frames, expectation.clientFrames, label)
                XCTAssertEqual(session.server.statistics.frames, expectation.serverFrames, label)
                XCTAssertEqual(Int(session.totalFrames) - Int(expectation.tsharkFrames), expectation.difference,
                               "\(label): \(expectation.why)")
                XCTAssertNil(session.client.stopReason, label)
                XCTAssertNil(session.server.stopReason, label)
                XCTAssertNil(session.clientHPACKStopReason, label)
                XCTAssertNil(session.serverHPACKStopReason, label)
                XCTAssertFalse(session.client.statistics.incompleteFrameAtEnd, label)
                XCTAssertFalse(session.server.statistics.incompleteFrameAtEnd, label)
                XCTAssertEqual(session.summary["client_preface"], .text("seen"), label)
                XCTAssertEqual(session.takeViolations(), [], label)
            }
        }
    }

    /// Header fields per direction, decoded with the frame decoder and HPACK directly.
    func headers(_ bytes: [UInt8], isClient: Bool, tableSize: Int = 4096) -> [[String]] {
        var decoder = HTTP2FrameDecoder(isClient: isClient)
        var hpack = HPACKDecoder(maxAllowedTableSize: tableSize)
        var lists: [[String]] = []
        decoder.feed(bytes) { event in
            if case .headerBlock(let info, let block) = event {
                let fields = (try? hpack.decode(block).fields) ?? []
                lists.append(["stream \(info.streamID)"] + fields.map { "\($0.name): \($0.value)" })
            }
        }
        return lists
    }

    func testKeywords2HeadersAndSettings() throws {
        let session = try run(Self.expectations[0])
        let summary = session.summary
        XCTAssertEqual(summary["server_settings"],
                       .texts(["HEADER_TABLE_SIZE=8192", "MAX_CONCURRENT_STREAMS=100", "INITIAL_WINDOW_SIZE=1048576"]))
        XCTAssertEqual(summary["client_streams_opened"], .integer(1))
        XCTAssertEqual(summary["client_header_blocks"], .integer(1))
        XCTAssertEqual(summary["server_header_blocks"], .integer(2))

        let client = headers(try Self.fixture("HTTP2-keywords2-client.bin"), isClient: true, tableSize: 8192)
        XCTAssertEqual(client.first?.prefix(5), ["stream 3", ":method: GET", ":path: /humans.txt", ":scheme: http",
                                                  ":authority: nghttp2.org"])
        let server = headers(try Self.fixture("HTTP2-keywords2-server.bin"), isClient: false)
        XCTAssertEqual(server.map { Array($0.prefix(2)) }, [["stream 1", ":status: 200"], ["stream 3", ":status: 404"]])
    }

    func testArkimeServerPushes() throws {
        let session = try run(Self.expectations[2])
        XCTAssertEqual(session.server.statistics.count(of: .pushPromise), 1)
        XCTAssertEqual(session.summary["server_streams_opened"], .integer(1))
        XCTAssertEqual(session.summary["client_streams_opened"], .integer(1))
    }

    /// transform-base64-7296 (oss-fuzz mutation; tshark: 5 frames over two connections).
    /// Stream 0: the client's preface, SETTINGS and WINDOW_UPDATE (tshark 2; the server half
    /// carries no payload). Stream 4: the client's 27-byte SETTINGS segment went to another
    /// port, leaving a gap right after the preface; Switchyard stops there, while tshark
    /// resumes at the next segment (WINDOW_UPDATE, SETTINGS ACK) and also decodes one server
    /// SETTINGS from a half whose sequence numbers restart mid-connection (tshark 3).
    func testTransformBase64Captures() throws {
        if let listed = manifestFrames("suricata-verify/transform-base64-7296/input.pcap") { XCTAssertEqual(listed, 5) }
        let stream0 = HTTP2Session(afterUpgrade: true)
        stream0.clientData(try Self.fixture("HTTP2-transform-base64-7296-stream0-client.bin"), frame: 8, timestamp: testTimestamp)
        stream0.finish()
        XCTAssertEqual(stream0.totalFrames, 2)
        XCTAssertEqual(stream0.takeViolations(), [])

        let stream4 = HTTP2Session(afterUpgrade: true)
        stream4.clientData(try Self.fixture("HTTP2-transform-base64-7296-stream4-client-before-gap.bin"), frame: 33,
                           timestamp: testTimestamp)
        stream4.clientGap(length: 27, frame: 35, timestamp: testTimestamp)
        stream4.clientData(try Self.fixture("HTTP2-transform-base64-7296-stream4-client-after-gap.bin"), frame: 35,
                           timestamp: testTimestamp)
        stream4.finish()
        let summary = stream4.summary
        XCTAssertEqual(stream4.totalFrames, 0)
        XCTAssertEqual(summary["client_preface"], .text("seen"))
        XCTAssertEqual(summary["client_stopped"], .text("decoding stopped after a gap at offset 24"))
        XCTAssertEqual(stream4.takeViolations(), [])
    }

    /// The h2c upgrade requests of the Captures/ corpus through H2CUpgradeCheck.
    func testUpgradeRequestsFromCorpus() throws {
        func fields(_ name: String) throws -> [(name: String, value: String)] {
            let text = String(decoding: try Self.fixture(name), as: UTF8.self)
            return text.split(separator: "\r\n").dropFirst().compactMap { line in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), String(line[line.index(after: colon)...]))
            }
        }
        let curl = H2CUpgradeCheck.check(requestHeaders: try fields("HTTP2-h2c-upgrade-curl-request.txt"), frame: 4,
                                         timestamp: testTimestamp)
        XCTAssertEqual(curl.violations.map(\.rule.id), ["h2c_upgrade_deprecated"])
        XCTAssertEqual(curl.settings.map(\.text), ["MAX_CONCURRENT_STREAMS=100", "INITIAL_WINDOW_SIZE=33554432", "ENABLE_PUSH=0"])

        let missing = H2CUpgradeCheck.check(requestHeaders: try fields("HTTP2-h2c-missing-settings-request.txt"), frame: 4,
                                            timestamp: testTimestamp)
        XCTAssertEqual(missing.violations.map(\.rule.id),
                       ["h2c_upgrade_deprecated", "h2c_bad_settings_header", "h2c_missing_connection_token"])
        XCTAssertEqual(missing.evidence["http2_settings_error"], .text("missing"))
    }
}
