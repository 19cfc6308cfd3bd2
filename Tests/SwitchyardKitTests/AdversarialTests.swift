import Foundation
import XCTest
import Findings
import PacketCapture
import PacketDecoding
@testable import StreamReassembly
import UpgradeAnalysis
@testable import SwitchyardKit

/// Small versions of the adversarial captures of docs/ROBUSTNESS.md, made by
/// Scripts/gen-adversarial.py at a thousandth of their size (1,000 SYNs, a 100 KB header
/// line, 100 pipelined requests…) and analysed in-process with limits scaled down to match,
/// so that every limit is reached: each must give its `analyzer_limit_reached` finding (which
/// limit, where) or its own finding, and the summary must account for every packet.
/// Scripts/adversarial runs the full-size captures and measures time and memory.
final class AdversarialTests: XCTestCase {
    static let scale = "0.001"

    /// The generated captures, once per test run; nil when python3 is not available.
    private static let generated: URL? = {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("switchyard-adversarial-\(UUID().uuidString)")
        let script = TestPaths.repositoryRoot.appendingPathComponent("Scripts/gen-adversarial.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, "--out", directory.path, "--scale", scale]
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? directory : nil
    }()

    override class func tearDown() {
        if let directory = generated { try? FileManager.default.removeItem(at: directory) }
        super.tearDown()
    }

    /// Limits small enough for the thousandth-size captures to reach every one of them.
    static var smallLimits: PipelineOptions {
        var options = PipelineOptions()
        options.reassembly.maxConnections = 100
        options.reassembly.overlapFindingsPerDirection = 4
        options.analysis.parser.maxHeadBytes = 4096
        options.analysis.maxPendingRequests = 10
        return options
    }

    private func capture(_ name: String) throws -> String {
        guard let directory = Self.generated else { throw XCTSkip("python3 could not run Scripts/gen-adversarial.py") }
        return directory.appendingPathComponent(name + ".pcap").path
    }

    private struct Run {
        var records: [[String: Any]]
        var output: [UInt8]
        var summary: [String: Any] { records.last { $0["type"] as? String == "summary" } ?? [:] }
        var violations: [[String: Any]] { records.filter { $0["type"] as? String == "violation" } }
        func rules(_ rule: String) -> [[String: Any]] { violations.filter { $0["rule"] as? String == rule } }
        /// `evidence.limit` of every `analyzer_limit_reached`, in output order.
        var limits: [String] {
            rules("analyzer_limit_reached").compactMap { ($0["evidence"] as? [String: Any])?["limit"] as? String }
        }
        func http(_ key: String) -> Int { (summary["http_messages"] as? [String: Any])?[key] as? Int ?? -1 }
    }

    private func analyze(_ name: String, options: PipelineOptions = smallLimits,
                         format: OutputFormat = .json) throws -> Run {
        let path = try capture(name)
        let sink = OutputSink(stream: .inMemory(), format: format)
        XCTAssertTrue(sink.analyzeFile(path, name: name, options: options), name)
        sink.writeSummary()
        let output = sink.stream.memory
        let records = format == .text ? [] : output.split(separator: 0x0A).compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any]
        }
        return Run(records: records, output: output)
    }

    /// Packets in a classic pcap file, counted from its record headers.
    private func packetCount(_ name: String) throws -> Int {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try capture(name))))
        var offset = 24, count = 0
        while offset + 16 <= bytes.count {
            let length = Int(bytes[offset + 8]) | Int(bytes[offset + 9]) << 8 | Int(bytes[offset + 10]) << 16
                | Int(bytes[offset + 11]) << 24
            offset += 16 + length
            count += 1
        }
        return count
    }

    /// Every packet read is in the summary, and the dispositions add up to it.
    private func assertAccounted(_ run: Run, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let packets = try packetCount(name)
        XCTAssertEqual(run.summary["packets"] as? Int, packets, name, file: file, line: line)
        let disposition = run.summary["packet_disposition"] as? [String: Int] ?? [:]
        XCTAssertEqual(disposition.values.reduce(0, +), packets, name, file: file, line: line)
        XCTAssertEqual(disposition["tcp"], packets, name, file: file, line: line)
    }

    // MARK: - Scenarios

    func testSYNFloodIsBoundedByTheConnectionTable() throws {
        let run = try analyze("syn-flood")
        XCTAssertEqual(run.limits, ["reassembly_max_connections"])
        XCTAssertEqual(run.violations.count, 1)
        XCTAssertEqual(run.summary["connections"] as? Int, 1000, "every connection closed and counted")
        try assertAccounted(run, "syn-flood")
    }

    func testRequestFloodIsBoundedByTheConnectionTable() throws {
        let run = try analyze("request-flood")
        XCTAssertEqual(run.limits, ["reassembly_max_connections"])
        XCTAssertEqual(run.violations.count, 1)
        XCTAssertEqual(run.summary["connections"] as? Int, 300)
        XCTAssertEqual(run.http("requests"), 0, "no request was complete")
        try assertAccounted(run, "request-flood")
    }

    func testHugeHeaderLineAndStatusLineReachTheHeadLimit() throws {
        let run = try analyze("header-line-100mb")
        XCTAssertEqual(run.limits, ["http_max_head_bytes", "http_max_head_bytes"])
        XCTAssertEqual(Set(run.rules("analyzer_limit_reached").compactMap { $0["direction"] as? String }),
                       ["client_to_server", "server_to_client"])
        // The parser resynchronises after each oversized head: the next message is read.
        XCTAssertEqual(run.http("requests"), 1)
        XCTAssertEqual(run.http("responses"), 1)
        try assertAccounted(run, "header-line-100mb")
    }

    func testPipelinedRequestsReachThePendingLimitOnce() throws {
        let run = try analyze("pipelined-100k")
        XCTAssertEqual(run.limits, ["http_max_pending_requests"])
        XCTAssertEqual(run.http("requests"), 100)
        XCTAssertEqual(run.http("responses"), 100)
        try assertAccounted(run, "pipelined-100k")
    }

    func testConflictingOverlapsAreReportedAtMostTheLimitPerDirection() throws {
        let run = try analyze("overlap-conflicts")
        let conflicts = run.rules("tcp_overlap_conflict")
        XCTAssertEqual(conflicts.filter { $0["direction"] as? String == "client_to_server" }.count, 4)
        XCTAssertEqual(conflicts.filter { $0["direction"] as? String == "server_to_client" }.count, 4)
        XCTAssertEqual(run.violations.count, 8)
        try assertAccounted(run, "overlap-conflicts")
    }

    func testWebSocketLengthOf2To63IsReportedNotAllocated() throws {
        let run = try analyze("websocket-2-63")
        let findings = run.rules("websocket_non_minimal_length")
        XCTAssertEqual(findings.count, 1, "the client's 2^63; the server's 2^63 - 1 is legal")
        XCTAssertEqual(findings.first?["direction"] as? String, "client_to_server")
        XCTAssertEqual(run.records.filter { $0["type"] as? String == "switch" }.count, 1)
        XCTAssertEqual(run.violations.count, 1)
        try assertAccounted(run, "websocket-2-63")
    }

    func testHPACKTableSizeUpdateTo4GiBStopsHPACKWithAReason() throws {
        let run = try analyze("hpack-table-4gib")
        let switches = run.records.filter { $0["type"] as? String == "switch" }
        XCTAssertEqual(switches.count, 1)
        let http2 = (switches.first?["observed"] as? [String: Any])?["http2"] as? [String: Any] ?? [:]
        XCTAssertEqual(http2["client_hpack_stopped"] as? String, "HPACK stopped: integer overflow at offset 0 (stream 3)")
        XCTAssertTrue((http2["server_hpack_stopped"] as? String ?? "").contains("table size update to 4294967295"),
                      "\(http2)")
        try assertAccounted(run, "hpack-table-4gib")
    }

    func testHalfOpenUpgradesAreAllFlushedAtTheEnd() throws {
        let run = try analyze("half-open-upgrades")
        XCTAssertEqual(run.rules("http_upgrade_missing_connection_token").count, 5)
        XCTAssertEqual(run.violations.count, 5)
        XCTAssertEqual(run.http("requests"), 10)
        XCTAssertEqual(run.summary["connections"] as? Int, 10)
        try assertAccounted(run, "half-open-upgrades")
    }

    func testUnfinishedHeadsReachTheHeadLimit() throws {
        let run = try analyze("partial-heads")
        XCTAssertEqual(run.limits, ["http_max_head_bytes", "http_max_head_bytes"])
        try assertAccounted(run, "partial-heads")
    }

    /// JSON Lines stay one record per line for any line splitter (Python's `splitlines`, Swift's
    /// `isNewline` also break at U+0085, U+2028, U+2029, VT, FF, FS…), and every line parses.
    func testHostileStringsGiveParsableJSONLines() throws {
        let run = try analyze("hostile-strings", options: PipelineOptions())
        XCTAssertFalse(run.output.contains { ($0 < 0x20 && $0 != 0x0A) || $0 == 0x7F }, "raw control byte in JSON")
        let text = String(decoding: run.output, as: UTF8.self)
        let lines = text.split(whereSeparator: \.isNewline)
        XCTAssertEqual(lines.count, run.output.filter { $0 == 0x0A }.count)
        XCTAssertEqual(lines.count, run.records.count, "every line parses as JSON")
        XCTAssertGreaterThanOrEqual(run.violations.count, 10)
        // The hostile bytes did reach the output (escaped), in records and evidence.
        XCTAssertTrue(text.contains(#"\u001b]0;owned\u0007"#))
        XCTAssertTrue(text.contains(#"\u009b31m"#))
        XCTAssertTrue(text.contains(#"\u2028"#))
        try assertAccounted(run, "hostile-strings")
    }

    func testHostileStringsGiveNoTerminalControlsInText() throws {
        let run = try analyze("hostile-strings", options: PipelineOptions(), format: .text)
        XCTAssertFalse(run.output.contains { ($0 < 0x20 && $0 != 0x0A) || $0 == 0x7F }, "raw control byte in text")
        let scalars = String(decoding: run.output, as: UTF8.self).unicodeScalars
        let forbidden = scalars.filter {
            (0x80...0x9F).contains($0.value) || (0x2028...0x202E).contains($0.value) || (0x2066...0x2069).contains($0.value)
        }
        XCTAssertEqual(forbidden.map(\.value), [], "C1 controls, line separators or bidi controls in text")
        let text = String(decoding: run.output, as: UTF8.self)
        XCTAssertTrue(text.contains(#"\x1b[31m"#))
        XCTAssertTrue(text.contains(#"\u202e"#))
    }

    // MARK: - Regressions found by the scenarios

    /// A connection that never carries data (SYN flood, port scan) costs no `UpgradeTracker`:
    /// with 262,144 tracked connections that was 629 MB instead of 232 MB.
    func testConnectionsWithoutDataGetNoTracker() {
        let sink = OutputSink(stream: .inMemory(), format: .json)
        var consumer = AnalysisConsumer(sink: sink, capture: "test", options: UpgradeAnalysisOptions())
        let client = Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 40000)
        let server = Endpoint(address: IPAddress(ipv4: 0x0A00_0002), port: 80)
        for id in 1...3 as ClosedRange<UInt64> {
            let connection = Connection(id: ConnectionID(id), client: client, server: server, partial: false,
                                        firstFrame: id, firstTimestamp: .zero, slot: Int(id))
            consumer.connectionOpened(connection)
            consumer.streamEnd(connection, .clientToServer, frame: id, timestamp: .zero)
            if id == 3 {
                Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8).withUnsafeBytes {
                    consumer.streamData(connection, .clientToServer, $0, frame: id, timestamp: .zero)
                }
            }
        }
        XCTAssertEqual(consumer.liveTrackers, 1, "only the connection with data has a tracker")
        XCTAssertEqual(consumer.connections, 3)
        let statistics = [DirectionStatistics(), DirectionStatistics()]
        for id in 1...3 as ClosedRange<UInt64> {
            let connection = Connection(id: ConnectionID(id), client: client, server: server, partial: false,
                                        firstFrame: id, firstTimestamp: .zero, slot: Int(id))
            consumer.connectionClosed(ConnectionSummary(connection: connection, lastFrame: id, lastTimestamp: .zero,
                                                        closeReason: .endOfInput, statistics: statistics))
        }
        XCTAssertEqual(consumer.liveTrackers, 0)
        XCTAssertEqual(consumer.http.requests, 1)
    }

    /// A file size limit (or a full disk) cuts a write short: the output keeps whole records
    /// only, and the run says so and exits 2 instead of dying of SIGXFSZ mid-record.
    func testOutputCutShortByAFileSizeLimitKeepsWholeRecords() throws {
        guard let executable = TestPaths.executable else { throw XCTSkip("switchyard executable not built") }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-fsize-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // 64 blocks: 32 KiB (POSIX sh) or 64 KiB (bash); the corpus gives ~180 KB of JSON.
        process.arguments = ["-c", "ulimit -f 64; exec \"$0\" analyze --quiet --fail-on never -o \"$1\" \"$2\"",
                             executable.path, output.path, TestPaths.captures.path]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "not killed by a signal")
        XCTAssertEqual(process.terminationStatus, 2)
        XCTAssertTrue(stderr.contains("switchyard: output: File too large; findings were lost"), stderr)
        let written = [UInt8](try Data(contentsOf: output))
        XCTAssertGreaterThan(written.count, 1000)
        XCTAssertEqual(written.last, 0x0A, "the file ends with a whole record")
        for line in written.split(separator: 0x0A) {
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line)))
        }
    }

    /// C1 controls are escaped in JSON: NEL (U+0085) is a line break to Unicode-aware
    /// line splitters and would cut a record in two.
    func testJSONEscapesC1Controls() {
        var json = JSONWriter()
        json.string("a\u{85}b\u{9B}31m\u{80}\u{9F}\u{A0}é")
        XCTAssertEqual(String(decoding: json.bytes, as: UTF8.self), #""a\u0085b\u009b31m\u0080\u009f\#u{A0}é""#)
    }

    /// Text output shows line separators and bidirectional-text controls escaped, so a captured
    /// value can neither forge a line nor reorder the rest of its line on screen.
    func testTextEscapesLineSeparatorsAndBidiControls() {
        XCTAssertEqual(TextFormatter.safe("a\u{2028}b\u{2029}c\u{202E}d\u{2066}e\u{200F}f\u{1B}g\u{85}h é"),
                       #"a\u2028b\u2029c\u202ed\u2066e\u200ff\x1bg\x85h é"#)
    }

    /// The ring of recently delivered bytes (compared with retransmissions) starts at 256 bytes,
    /// not 4 KiB: 65,536 connections that each carry a short request took 477 MB, now 231 MB.
    func testDeliveredHistoryOfAShortStreamIsSmallAndGrowsToTheWindow() {
        var history = DeliveredHistory()
        let request = [UInt8](repeating: 0x41, count: 26)
        let grown = request.withUnsafeBytes { history.append($0, at: 0, frame: 1, maxCapacity: 64 << 10, budgetLeft: 1 << 30) }
        XCTAssertEqual(grown, 256)
        XCTAssertEqual(history.capacity, 256)
        let body = [UInt8](repeating: 0x42, count: 70_000)
        _ = body.withUnsafeBytes { history.append($0, at: 26, frame: 2, maxCapacity: 64 << 10, budgetLeft: 1 << 30) }
        XCTAssertEqual(history.capacity, 64 << 10)
        XCTAssertEqual(history.availableStart(end: 70_026), 70_026 - (64 << 10))
    }
}
