import Foundation
import XCTest
import PacketCapture
import PacketDecoding
import SwitchedProtocols
import TestSupport
@testable import SwitchyardKit

/// `analyze --shard K/N` then `merge` gives byte for byte what one run writes: by files on
/// Captures/, by connections on a generated capture (every connection kind the route treats
/// differently: IPv4, IPv6, VLAN-tagged, IP fragments, non-TCP packets).
final class ShardTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-shard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    private func run(_ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: String) {
        guard let executable = TestPaths.executable else { throw XCTSkip("switchyard executable not built") }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, stdout, String(decoding: stderr, as: UTF8.self))
    }

    /// Shards 0..<N of `input`, merged, against one run with the same `--jobs`.
    private func checkMerge(_ input: String, shards: Int, jobs: Int, file: StaticString = #filePath,
                            line: UInt = #line) throws {
        let common = ["analyze", "--quiet", "--fail-on", "never", "--jobs", String(jobs)]
        let single = try run(common + [input])
        XCTAssertEqual(single.status, 0, single.stderr, file: file, line: line)
        var outputs: [String] = []
        for k in 0..<shards {
            let path = scratch.appendingPathComponent("shard-\(k)-of-\(shards).jsonl").path
            let part = try run(common + ["--shard", "\(k)/\(shards)", "-o", path, input])
            XCTAssertEqual(part.status, 0, part.stderr, file: file, line: line)
            outputs.append(path)
        }
        let merged = try run(["merge"] + outputs.reversed())
        XCTAssertEqual(merged.status, 0, merged.stderr, file: file, line: line)
        XCTAssertEqual(String(decoding: merged.stdout, as: UTF8.self), String(decoding: single.stdout, as: UTF8.self),
                       "\(input): \(shards) shards, \(jobs) jobs", file: file, line: line)
    }

    func testShardsOfTheCorpusMergeToOneRun() throws {
        for shards in 1...3 {
            try checkMerge(TestPaths.captures.path, shards: shards, jobs: 2)
        }
        try checkMerge(TestPaths.captures.path, shards: 2, jobs: 1)
    }

    func testShardsOfOneCaptureMergeToOneRun() throws {
        let capture = scratch.appendingPathComponent("generated.pcap").path
        try Self.generatedCapture().write(to: capture)
        for shards in 1...3 {
            try checkMerge(capture, shards: shards, jobs: 2)
        }
        try checkMerge(capture, shards: 3, jobs: 1)
        // Every shard analysed some connections (the hash spreads them).
        for k in 0..<3 {
            let part = try run(["analyze", "--quiet", "--fail-on", "never", "--shard", "\(k)/3", capture])
            let text = String(decoding: part.stdout, as: UTF8.self)
            XCTAssertTrue(text.contains("\"type\":\"switch\""), "shard \(k) of 3 found no switch")
        }
    }

    /// The legs of proxied upgrades in two shards are paired by `merge`: by connections on every
    /// proxy capture, and by files with the front and the back leg in two capture files.
    func testProxyLegsInTwoShardsArePaired() throws {
        var pairs = 0
        for file in TestPaths.captureFiles(in: TestPaths.captures) where file.lastPathComponent.hasPrefix("proxy-") {
            for shards in 2...3 {
                try checkMerge(file.path, shards: shards, jobs: 2)
            }
            let single = try run(["analyze", "--quiet", "--fail-on", "never", file.path])
            pairs += String(decoding: single.stdout, as: UTF8.self).components(separatedBy: "\"type\":\"proxied_upgrade\"").count - 1
        }
        XCTAssertGreaterThan(pairs, 5)
        let source = TestPaths.captures.appendingPathComponent("proxy-nginx-websocket.pcap").path
        let single = String(decoding: try run(["analyze", "--quiet", "--fail-on", "never", source]).stdout, as: UTF8.self)
        let pair = try XCTUnwrap(single.split(separator: "\n").first { $0.contains("\"type\":\"proxied_upgrade\"") })
        let record = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(pair.utf8)) as? [String: Any])
        let front = try XCTUnwrap(((record["front"] as? [String: Any])?["connection"] as? [String: Any])?["server"] as? [String: Any])
        let port = try XCTUnwrap(front["port"] as? Int)
        let (frontCapture, backCapture) = try ProxyCaptureTests.split(source, frontPort: UInt16(port), backShift: 7_250_000_000)
        let directory = scratch.appendingPathComponent("legs")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try frontCapture.write(to: directory.appendingPathComponent("a-front.pcap").path)
        try backCapture.write(to: directory.appendingPathComponent("b-back.pcap").path)
        try checkMerge(directory.path, shards: 2, jobs: 2)
        let apart = String(decoding: try run(["analyze", "--quiet", "--fail-on", "never", directory.path]).stdout, as: UTF8.self)
        XCTAssertTrue(apart.contains("\"type\":\"proxied_upgrade\""), "the two files pair in one run, and so merged")
    }

    func testMergeRefusesIncompleteOrForeignSets() throws {
        let capture = TestPaths.captures.appendingPathComponent("http-101-unsolicited.pcap").path
        let a = scratch.appendingPathComponent("a.jsonl").path
        XCTAssertEqual(try run(["analyze", "--quiet", "--fail-on", "never", "--shard", "0/2", "-o", a, capture]).status, 0)
        let missing = try run(["merge", a])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("shard(s) 1 of 2 missing"), missing.stderr)
        let plain = scratch.appendingPathComponent("plain.jsonl").path
        XCTAssertEqual(try run(["analyze", "--quiet", "--fail-on", "never", "-o", plain, capture]).status, 0)
        let foreign = try run(["merge", plain])
        XCTAssertEqual(foreign.status, 2)
        XCTAssertTrue(foreign.stderr.contains("not the output of 'analyze --shard'"), foreign.stderr)
        let bad = try run(["analyze", "--shard", "2/2", capture])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--shard"), bad.stderr)
    }

    func testShardSelectionParsing() {
        XCTAssertEqual(try ShardSelection.parse("1/3", environment: [:]).get(), ShardSelection(index: 1, count: 3))
        XCTAssertEqual(try ShardSelection.parse("auto/4", environment: ["JOB_COMPLETION_INDEX": "3"]).get(),
                       ShardSelection(index: 3, count: 4))
        // Slurm arrays may start anywhere: the index counts from SLURM_ARRAY_TASK_MIN.
        XCTAssertEqual(try ShardSelection.parse("auto", environment: ["SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5",
                                                                     "SLURM_ARRAY_TASK_COUNT": "4"]).get(),
                       ShardSelection(index: 2, count: 4))
        for bad in ["3/3", "-1/3", "1", "1/0", "x/2", "auto", "1/2/3", ""] {
            XCTAssertThrowsError(try ShardSelection.parse(bad, environment: [:]).get(), bad)
        }
        XCTAssertThrowsError(try ShardSelection.parse("auto", environment: ["JOB_COMPLETION_INDEX": "0"]).get(),
                             "Kubernetes gives no count")
    }

    /// By files, the shards are contiguous runs of the inputs that together hold each input once,
    /// balanced by size.
    func testFileShardsAreContiguousAndCoverEveryInput() {
        let inputs = (0..<10).map { CaptureInput.file("f\($0)") }
        let sizes: [UInt64] = [100, 1, 1, 1, 1, 1, 1, 1, 1, 100]
        for count in 1...5 {
            var seen: [CaptureInput] = []
            for index in 0..<count {
                seen += ShardSelection(index: index, count: count).inputs(of: inputs, sizes: sizes)
            }
            XCTAssertEqual(seen, inputs, "\(count) shards")
        }
        XCTAssertEqual(ShardSelection(index: 0, count: 2).inputs(of: inputs, sizes: sizes), Array(inputs[0..<5]))
        XCTAssertEqual(ShardSelection(index: 1, count: 3).inputs(of: inputs, sizes: [UInt64](repeating: 0, count: 10)),
                       Array(inputs[4..<7]))
    }

    /// The shared hash is symmetric and fixed: the values are part of the `--shard` contract
    /// (shards made by different builds must agree), so a change here must be deliberate.
    func testFlowHashIsSymmetricAndStable() {
        let a = TestEndpoints.make("10.0.0.1", 40000), b = TestEndpoints.make("10.0.0.2", 80)
        XCTAssertEqual(FlowHash.of(a, b), FlowHash.of(b, a))
        XCTAssertEqual(FlowHash.of(a, b), 0x9AF4_4C31_F6F6_8059)
        for count in 1...7 {
            XCTAssertLessThan(FlowHash.shard(FlowHash.of(a, b), of: count), count)
            XCTAssertLessThan(FlowHash.worker(FlowHash.of(a, b), of: count), count)
        }
    }

    // MARK: - A generated capture

    /// Connections of several kinds, each a handshake, a WebSocket upgrade answered 101, a
    /// frame each way and a close, interleaved in time; plus UDP packets and one request sent
    /// in IP fragments.
    static func generatedCapture() -> PcapWriter {
        var writer = PcapWriter(linkType: .ethernet, nanosecond: true)
        var packets: [(Int, [UInt8])] = []
        for n in 0..<24 {
            let ipv6 = n % 4 == 1
            let client = ipv6 ? "[2001:db8::\(n + 1)]:\(40000 + n)" : "10.0.\(n / 8).\(n + 1):\(40000 + n)"
            let server = ipv6 ? "[2001:db8::ff]:80" : "192.0.2.\(n % 3 + 1):80"
            // A key, target and host of its own: identical requests would look like the two legs
            // of a proxied upgrade (ProxyCorrelator).
            let key = Data((0..<16).map { UInt8(truncatingIfNeeded: n &* 31 &+ $0) }).base64EncodedString()
            let request = Array(("GET /chat/\(n) HTTP/1.1\r\nHost: example\(n)\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)
            let response = Array(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: \(WebSocketHandshakeCheck.acceptValue(forKey: key))\r\n\r\n").utf8)
            let clientFrame: [UInt8] = [0x81, 0x82, 1, 2, 3, 4, 0x68 ^ 1, 0x69 ^ 2]
            let serverFrame: [UInt8] = [0x81, 0x02, 0x68, 0x69]
            let c: UInt32 = 1000, s: UInt32 = 5000
            let q = UInt32(request.count), r = UInt32(response.count)
            var steps: [[UInt8]] = [
                PacketBuilder.tcp(src: client, dst: server, seq: c, flags: PacketBuilder.TCPFlagBits.syn),
                PacketBuilder.tcp(src: server, dst: client, seq: s, ack: c + 1, flags: PacketBuilder.TCPFlagBits.syn | PacketBuilder.TCPFlagBits.ack),
                PacketBuilder.tcp(src: client, dst: server, seq: c + 1, ack: s + 1),
            ]
            let requestPacket = PacketBuilder.tcp(src: client, dst: server, seq: c + 1, ack: s + 1,
                                                  flags: PacketBuilder.TCPFlagBits.ack | PacketBuilder.TCPFlagBits.psh, payload: request)
            steps += [
                requestPacket,
                PacketBuilder.tcp(src: server, dst: client, seq: s + 1, ack: c + 1 + q,
                                  flags: PacketBuilder.TCPFlagBits.ack | PacketBuilder.TCPFlagBits.psh, payload: response),
                PacketBuilder.tcp(src: client, dst: server, seq: c + 1 + q, ack: s + 1 + r,
                                  flags: PacketBuilder.TCPFlagBits.ack | PacketBuilder.TCPFlagBits.psh, payload: clientFrame),
                PacketBuilder.tcp(src: server, dst: client, seq: s + 1 + r, ack: c + 1 + q + 8,
                                  flags: PacketBuilder.TCPFlagBits.ack | PacketBuilder.TCPFlagBits.psh, payload: serverFrame),
                PacketBuilder.tcp(src: client, dst: server, seq: c + 1 + q + 8, ack: s + 1 + r + 4,
                                  flags: PacketBuilder.TCPFlagBits.fin | PacketBuilder.TCPFlagBits.ack),
                PacketBuilder.tcp(src: server, dst: client, seq: s + 1 + r + 4, ack: c + 2 + q + 8,
                                  flags: PacketBuilder.TCPFlagBits.fin | PacketBuilder.TCPFlagBits.ack),
                PacketBuilder.tcp(src: client, dst: server, seq: c + 2 + q + 8, ack: s + 2 + r + 4),
            ]
            var frames: [[UInt8]] = []
            for (i, step) in steps.enumerated() {
                if n % 6 == 2 && i == 3 && !ipv6 {
                    // The request in IP fragments: routed to every share, reassembled by each.
                    frames += PacketBuilder.ipv4Fragments(of: step, size: 64).map { PacketBuilder.ethernet($0) }
                } else {
                    frames.append(PacketBuilder.ethernet(step, vlanTags: n % 5 == 3 ? [100] : []))
                }
            }
            for (i, frame) in frames.enumerated() { packets.append((n * 7 + i * 13, frame)) }
            packets.append((n * 7 + 5, PacketBuilder.ethernet(PacketBuilder.udpPacket(src: "10.9.9.9", dst: "10.9.9.10",
                                                                                    dstPort: 53, [1, 2, 3]))))
        }
        packets.sort { $0.0 < $1.0 }
        for (time, frame) in packets {
            writer.append(packet: frame, timestamp: Timestamp(seconds: 1_700_000_000 + Int64(time / 1000),
                                                              nanoseconds: UInt32(time % 1000) * 1_000_000 + 7))
        }
        return writer
    }
}

/// The header route decides as the decoder's walk does, on every packet of the corpus and the
/// public captures, and on each of them cut short at every length the headers could end.
final class PacketRouteTests: XCTestCase {
    func testRouteAgreesWithTheDecodersWalk() throws {
        let files = TestPaths.captureFiles(in: TestPaths.captures) + TestPaths.captureFiles(in: TestPaths.publicCaptures)
        var routed = 0
        for file in files {
            var reader = try CaptureFileReader(path: file.path)
            var count = 0
            while let packet = try? reader.nextPacket(), count < 5_000 {
                count += 1
                XCTAssertEqual(PacketDecoder.route(packet), PacketDecoder.routeByWalk(packet),
                               "\(file.lastPathComponent) frame \(packet.frameNumber)")
                if case .tcp = PacketDecoder.route(packet) { routed += 1 }
                guard count <= 200 else { continue }
                // Cut short: the direct read must give up (or agree) wherever the walk does.
                for cut in stride(from: 0, through: min(packet.bytes.count, 120), by: 1) {
                    var short = packet
                    short.bytes = UnsafeRawBufferPointer(rebasing: packet.bytes[0..<cut])
                    XCTAssertEqual(PacketDecoder.route(short), PacketDecoder.routeByWalk(short),
                                   "\(file.lastPathComponent) frame \(packet.frameNumber) cut at \(cut)")
                }
            }
        }
        XCTAssertGreaterThan(routed, 1000)
    }

    /// Corrupted header fields (lengths, versions, flags) on a valid IPv4 and IPv6 segment.
    func testRouteAgreesOnCorruptedHeaders() {
        let frames = [
            PacketBuilder.ethernet(PacketBuilder.tcp(src: "10.0.0.1:1234", dst: "10.0.0.2:80", payload: Array("GET /".utf8))),
            PacketBuilder.ethernet(PacketBuilder.tcp(src: "[2001:db8::1]:1234", dst: "[2001:db8::2]:80", payload: [1, 2, 3])),
        ]
        for frame in frames {
            for offset in 12..<min(frame.count, 14 + 40 + 20) {
                for value: UInt8 in [0, 1, 4, 5, 6, 0x0f, 0x20, 0x3f, 0x45, 0x50, 0x60, 0xf0, 0xff] {
                    var bytes = frame
                    bytes[offset] = value
                    bytes.withUnsafeBytes { raw in
                        for original in [bytes.count, bytes.count + 100, 20] {
                            let packet = CapturedPacket(frameNumber: 1, timestamp: .zero, linkType: .ethernet,
                                                        bytes: raw, originalLength: original)
                            XCTAssertEqual(PacketDecoder.route(packet), PacketDecoder.routeByWalk(packet),
                                           "byte \(offset) = \(value), original length \(original)")
                        }
                    }
                }
            }
        }
    }
}

/// A mapped file gives the same packets, and the same errors, as reading it.
final class MappedReaderTests: XCTestCase {
    func testMappedReaderMatchesTheStreamingReader() throws {
        let files = TestPaths.captureFiles(in: TestPaths.captures)
        XCTAssertFalse(files.isEmpty)
        for file in files {
            let mapping = try XCTUnwrap(CaptureFileMapping.map(path: file.path))
            XCTAssertEqual(try Self.packets(CaptureFileReader(mapping: mapping)), try Self.packets(CaptureFileReader(path: file.path)),
                           file.lastPathComponent)
        }
    }

    func testMappedReaderReportsTruncationLikeTheStreamingReader() throws {
        let file = TestPaths.captures.appendingPathComponent("http-101-unsolicited.pcap")
        let bytes = try Data(contentsOf: file)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-map-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for cut in [30, 24 + 10, bytes.count - 3, bytes.count / 2] {
            let path = directory.appendingPathComponent("cut-\(cut).pcap").path
            _ = FileManager.default.createFile(atPath: path, contents: bytes.prefix(cut))
            let mapping = try XCTUnwrap(CaptureFileMapping.map(path: path))
            XCTAssertEqual(try Self.packets(CaptureFileReader(mapping: mapping)), try Self.packets(CaptureFileReader(path: path)),
                           "cut at \(cut)")
        }
        let empty = directory.appendingPathComponent("empty.pcap").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        XCTAssertNil(CaptureFileMapping.map(path: empty), "an empty file is read, not mapped")
        XCTAssertNil(CaptureFileMapping.map(path: directory.path), "a directory is not mapped")
    }

    /// Readers of one mapping with a small window: each gets every packet whether they read in
    /// turn or on two threads, and one that stops early and says so does not hold up the others.
    func testReadersOfOneMappingKeepWithinTheirWindow() throws {
        let file = TestPaths.captures.appendingPathComponent("proxy-nginx-websocket.pcap").path
        let expected = try Self.packets(CaptureFileReader(path: file))
        XCTAssertGreaterThan(expected.count, 20)
        let mapping = try XCTUnwrap(CaptureFileMapping.map(path: file, readers: 3, maximumLead: 2048, releaseStep: 512))
        let early = try CaptureFileReader(mapping: mapping)
        var copy = early
        for _ in 0..<3 { _ = try copy.nextPacket() }
        early.finishReading()
        let results = ResultBox()
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<2 {
            Thread {
                let list = (try? CaptureFileReader(mapping: mapping)).map { reader -> [String] in
                    defer { reader.finishReading() }
                    return MappedReaderTests.packets(reader)
                }
                results.add(list ?? [])
                done.signal()
            }.start()
        }
        for _ in 0..<2 { XCTAssertEqual(done.wait(timeout: .now() + 60), .success, "a reader waited for ever") }
        XCTAssertEqual(results.lists, [expected, expected])
    }

    /// Frame, time, length and bytes of every packet, then the error that ended the reading.
    private static func packets(_ reader: CaptureFileReader) -> [String] {
        var reader = reader
        var out: [String] = []
        while true {
            do {
                guard let packet = try reader.nextPacket() else { break }
                out.append("\(packet.frameNumber) \(packet.timestamp) \(packet.originalLength) \(Array(packet.bytes))")
            } catch {
                out.append("error: \(error.kind) at \(error.offset)")
                break
            }
        }
        return out
    }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var lists: [[String]] = []
    func add(_ list: [String]) {
        lock.lock()
        lists.append(list)
        lock.unlock()
    }
}
