import Foundation
import XCTest
import PacketCapture
import PacketDecoding
import TestSupport
@testable import SwitchyardKit

/// The proxy captures of Captures/ (make_proxy_captures.py): which legs pair, with what
/// outcome, also with `--jobs` (the legs in different workers) and across two captures whose
/// clocks differ.
final class ProxyCaptureTests: XCTestCase {
    /// capture → pairs as "front outcome/back outcome confidence".
    static let expectedPairs: [String: [String]] = [
        "proxy-nginx-websocket.pcap": ["switched/switched high"],
        "proxy-varnish-pipe-declined.pcap": ["declined/declined medium"],
        "proxy-haproxy-h2c.pcap": ["switched/switched medium"],
        "proxy-nginx-websocket-h2c.pcap": ["switched/switched medium"],
        "proxy-nginx-no-upgrade-headers.pcap": ["declined/declined high"],
        "proxy-nginx-keepalive.pcap": [],
        "proxy-early-101.pcap": ["switched/switched high"],
        "proxy-blocks-after-101.pcap": ["declined/switched high"],
        "proxy-switch-mismatch.pcap": ["switched/switched low"],
    ]

    private func records(_ paths: [(path: String, name: String)], jobs: Int = 1) throws -> [[String: Any]] {
        let sink = OutputSink(stream: .inMemory(), format: .json)
        for (path, name) in paths {
            if jobs == 1 {
                sink.analyzeFile(path, name: name)
            } else {
                try ParallelAnalysis.analyzeFile(path: path, name: name, options: PipelineOptions(), sink: sink, jobs: jobs)
            }
        }
        sink.writeSummary()
        return String(decoding: sink.stream.memory, as: UTF8.self).split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    private func pairs(_ records: [[String: Any]]) -> [String] {
        records.filter { $0["type"] as? String == "proxied_upgrade" }.map { record in
            let front = record["front"] as? [String: Any], back = record["back"] as? [String: Any]
            return "\(front?["outcome"] as? String ?? "?")/\(back?["outcome"] as? String ?? "?") \(record["confidence"] as? String ?? "?")"
        }
    }

    func testEveryProxyCapturePairsAsItsScenarioMeans() throws {
        let files = TestPaths.captureFiles(in: TestPaths.captures).filter { $0.lastPathComponent.hasPrefix("proxy-") }
        XCTAssertEqual(Set(files.map(\.lastPathComponent)), Set(Self.expectedPairs.keys))
        for file in files {
            let expected = Self.expectedPairs[file.lastPathComponent] ?? ["?"]
            XCTAssertEqual(pairs(try records([(file.path, file.lastPathComponent)])), expected, file.lastPathComponent)
            XCTAssertEqual(pairs(try records([(file.path, file.lastPathComponent)], jobs: 2)), expected,
                           "\(file.lastPathComponent), 2 jobs")
        }
    }

    /// `--format text`: one line per pair, naming both legs.
    func testTextOutputShowsEachPairOnOneLine() {
        let sink = OutputSink(stream: .inMemory(), format: .text)
        sink.analyzeFile(TestPaths.captures.appendingPathComponent("proxy-haproxy-h2c.pcap").path, name: "h2c.pcap")
        sink.writeSummary()
        let lines = String(decoding: sink.stream.memory, as: UTF8.self).split(separator: "\n").filter { $0.contains("proxied upgrade") }
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines.first?.contains("front 127.0.0.1:") ?? false)
        XCTAssertTrue(lines.first?.contains("switched to h2c") ?? false)
        XCTAssertTrue(lines.first?.contains("<-> back 127.0.0.1:") ?? false)
        XCTAssertTrue(lines.first?.contains("confidence medium (http2-settings") ?? false, String(lines.first ?? ""))
    }

    /// The legs of at least one capture hash to two different workers with `--jobs 2`, so the
    /// test above pairs across workers (ParallelAnalysisTests checks the whole output).
    func testSomeLegsAreAnalysedByDifferentWorkers() throws {
        var split = 0
        for name in Self.expectedPairs.keys where !(Self.expectedPairs[name] ?? []).isEmpty {
            let records = try records([(TestPaths.captures.appendingPathComponent(name).path, name)])
            guard let pair = records.first(where: { $0["type"] as? String == "proxied_upgrade" }),
                  let front = endpoints(pair["front"]), let back = endpoints(pair["back"]) else { continue }
            if FlowHash.worker(FlowHash.of(front.0, front.1), of: 2) != FlowHash.worker(FlowHash.of(back.0, back.1), of: 2) {
                split += 1
            }
        }
        XCTAssertGreaterThan(split, 0)
    }

    private func endpoints(_ leg: Any?) -> (Endpoint, Endpoint)? {
        guard let connection = (leg as? [String: Any])?["connection"] as? [String: Any],
              let client = connection["client"] as? [String: Any], let server = connection["server"] as? [String: Any],
              let clientPort = client["port"] as? Int, let serverPort = server["port"] as? Int else { return nil }
        let loopback = IPAddress(ipv4: 0x7F00_0001)
        return (Endpoint(address: loopback, port: UInt16(clientPort)), Endpoint(address: loopback, port: UInt16(serverPort)))
    }

    /// The nginx capture cut in two, as a front-side and a back-side capture would be, the
    /// back side's clock 7.25 s ahead: one run over both files pairs the legs and reports the
    /// offset it estimated and applied.
    func testTwoCapturesWithAClockOffset() throws {
        let source = TestPaths.captures.appendingPathComponent("proxy-nginx-websocket.pcap").path
        let single = try records([(source, "one")])
        guard let pair = single.first(where: { $0["type"] as? String == "proxied_upgrade" }),
              let frontServer = endpoints(pair["front"])?.1 else { return XCTFail("no pair in the source capture") }
        let (front, back) = try Self.split(source, frontPort: frontServer.port, backShift: 7_250_000_000)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-proxy-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let frontPath = directory.appendingPathComponent("front.pcap").path
        let backPath = directory.appendingPathComponent("back.pcap").path
        try front.write(to: frontPath)
        try back.write(to: backPath)

        for jobs in [1, 2] {
            try checkApart(try records([(frontPath, "front.pcap"), (backPath, "back.pcap")], jobs: jobs), single: pair)
        }
    }

    /// A proxy capture cut in two: the front connections (to `frontPort`) as they were, the back
    /// ones with their clock moved by `backShift` nanoseconds, as two capture points would see them.
    static func split(_ source: String, frontPort: UInt16, backShift: Int64) throws -> (front: PcapWriter, back: PcapWriter) {
        var reader = try CaptureFileReader(path: source)
        var decoder = PacketDecoder()
        var front = PcapWriter(linkType: .ethernet, nanosecond: true), back = PcapWriter(linkType: .ethernet, nanosecond: true)
        while let packet = try reader.nextPacket() {
            guard case .tcp(let segment) = decoder.decode(packet) else { continue }
            let bytes = Array(packet.bytes)
            if segment.source.port == frontPort || segment.destination.port == frontPort {
                front.append(packet: bytes, timestamp: packet.timestamp)
            } else {
                let nanos = packet.timestamp.totalNanoseconds + backShift
                back.append(packet: bytes, timestamp: Timestamp(seconds: nanos / 1_000_000_000,
                                                                 nanoseconds: UInt32(nanos % 1_000_000_000)))
            }
        }
        return (front, back)
    }

    private func checkApart(_ apart: [[String: Any]], single pair: [String: Any]) throws {
        let pairs = apart.filter { $0["type"] as? String == "proxied_upgrade" }
        XCTAssertEqual(pairs.count, 1)
        guard let found = pairs.first, let timing = found["timing"] as? [String: Any] else { return }
        XCTAssertEqual((found["front"] as? [String: Any])?["capture"] as? String, "front.pcap")
        XCTAssertEqual((found["back"] as? [String: Any])?["capture"] as? String, "back.pcap")
        let offset = timing["clock_offset_seconds"] as? Double ?? 0
        // The midpoint estimate is off by the difference of the forward and return delays (ms).
        XCTAssertEqual(offset, -7.25, accuracy: 0.01)
        let forwarded = timing["request_forwarded_after_seconds"] as? Double ?? -1
        XCTAssertEqual(forwarded, (pair["timing"] as? [String: Any])?["request_forwarded_after_seconds"] as? Double ?? 0, accuracy: 0.01)
        XCTAssertFalse(apart.contains { $0["type"] as? String == "violation" }, "no finding: nginx is set up right")
    }
}
