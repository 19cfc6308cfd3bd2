import Foundation
import XCTest
import PacketCapture
import TestSupport

/// The `switchyard` executable on bad and good input: one clear stderr line per bad input,
/// exit 2 only when nothing could be read, the other inputs still analysed.
final class CommandLineTests: XCTestCase {
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("switchyard-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    private func run(_ arguments: [String], stdin: Data? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        guard let executable = TestPaths.executable else { throw XCTSkip("switchyard executable not built") }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdoutData, as: UTF8.self), String(decoding: stderrData, as: UTF8.self))
    }

    private func write(_ name: String, _ bytes: [UInt8]) -> String {
        let url = scratch.appendingPathComponent(name)
        _ = FileManager.default.createFile(atPath: url.path, contents: Data(bytes))
        return url.path
    }

    private var goodCapture: String { TestPaths.captures.appendingPathComponent("http-101-unsolicited.pcap").path }

    /// The endpoint-view options reach the decoder and reassembler: no room for fragments makes
    /// the defragmenter report its limit; `--checksums` takes only its three values.
    func testFragmentAndChecksumOptions() throws {
        let capture = TestPaths.captures.appendingPathComponent("ip-fragment-overlap-conflict.pcap").path
        let limited = try run(["analyze", "--quiet", "--fail-on", "never", "--max-fragment-bytes", "0", capture])
        XCTAssertEqual(limited.status, 0, limited.stderr)
        XCTAssertTrue(limited.stdout.contains("\"limit\":\"ip_fragment_bytes\""), limited.stdout)
        let normal = try run(["analyze", "--quiet", "--fail-on", "never", capture])
        XCTAssertFalse(normal.stdout.contains("\"limit\":\"ip_fragment_bytes\""))
        let bad = try run(["analyze", "--checksums", "maybe", capture])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--checksums takes auto, on or off"), bad.stderr)
        let off = try run(["analyze", "--quiet", "--fail-on", "never", "--checksums", "off",
                           TestPaths.captures.appendingPathComponent("tcp-bad-checksum-fake-response.pcap").path])
        XCTAssertFalse(off.stdout.contains("tcp_bad_checksum_ignored"), "checksums off believes every packet")
    }

    /// `--max-http2-requests` bounds the HTTP/2 request list (issue #15): nghttp's three
    /// requests with room for one list stream 1 and count the other two, with one limit finding.
    func testHTTP2RequestListOption() throws {
        let capture = TestPaths.captures.appendingPathComponent("h2c-upgrade-nghttp-requests.pcap").path
        let limited = try run(["analyze", "--quiet", "--fail-on", "never", "--max-http2-requests", "1", capture])
        XCTAssertEqual(limited.status, 0, limited.stderr)
        XCTAssertTrue(limited.stdout.contains("\"limit\":\"http2_listed_requests\""), limited.stdout)
        XCTAssertTrue(limited.stdout.contains("\"requests_not_listed\":2"), limited.stdout)
        let normal = try run(["analyze", "--quiet", "--fail-on", "never", capture])
        XCTAssertFalse(normal.stdout.contains("requests_not_listed"))
        XCTAssertFalse(normal.stdout.contains("http2_listed_requests"))
    }

    func testBadInputsEachGetOneLineAndGoodOnesAreStillAnalysed() throws {
        let missing = scratch.appendingPathComponent("missing.pcap").path
        let emptyDirectory = scratch.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: emptyDirectory, withIntermediateDirectories: true)
        let good = try Data(contentsOf: URL(fileURLWithPath: goodCapture))
        let truncated = write("truncated.pcap", Array(good.prefix(good.count - 30)))
        var generator = SystemRandomNumberGenerator()
        let random = write("random.pcap", (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
        var writer = PcapWriter(linkType: LinkType(rawValue: 147))
        writer.append(packet: [1, 2, 3, 4], timestamp: Timestamp(seconds: 1, nanoseconds: 0))
        let unsupported = write("unsupported.pcap", writer.bytes)

        let result = try run(["analyze", missing, emptyDirectory.path, truncated, random, unsupported, goodCapture])
        let lines = result.stderr.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.contains("missing.pcap") && $0.contains("No such file") }, result.stderr)
        XCTAssertTrue(lines.contains { $0.contains("empty") && $0.contains("no pcap or pcapng") }, result.stderr)
        XCTAssertTrue(lines.contains { $0.contains("truncated.pcap") && $0.contains("truncated") }, result.stderr)
        XCTAssertTrue(lines.contains { $0.contains("random.pcap") && $0.contains("not a pcap") }, result.stderr)
        XCTAssertEqual(lines.count, 4, "one line per bad input:\n\(result.stderr)")
        // The good capture's violation is found, and so is the truncated copy's (its last packet was cut).
        XCTAssertEqual(result.stdout.components(separatedBy: "\"rule\":\"http_101_unsolicited\"").count - 1, 2)
        // The unsupported link type is read and accounted for, not fatal.
        XCTAssertTrue(result.stdout.contains("\"unsupported_link_types\":{\"linktype-147\":1}"), result.stdout)
        XCTAssertEqual(result.status, 1, "violations found")
    }

    func testExitTwoWhenNothingIsReadable() throws {
        let result = try run(["analyze", scratch.appendingPathComponent("nope.pcap").path])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stdout.contains("\"type\":\"summary\""))
    }

    func testExitCodesFollowFailOnAndSeverityFilters() throws {
        XCTAssertEqual(try run(["analyze", goodCapture]).status, 1)
        XCTAssertEqual(try run(["analyze", "--fail-on", "never", goodCapture]).status, 0)
        let clean = TestPaths.captures.appendingPathComponent("websocket-echo.pcap").path
        XCTAssertEqual(try run(["analyze", clean]).status, 0)
        // http_426_missing_upgrade is low: below --fail-on medium.
        let low = TestPaths.captures.appendingPathComponent("http-426-missing-upgrade.pcap").path
        XCTAssertEqual(try run(["analyze", "--fail-on", "medium", low]).status, 0)
        let filtered = try run(["analyze", "--min-severity", "high", low])
        XCTAssertFalse(filtered.stdout.contains("\"type\":\"violation\""))
        XCTAssertTrue(filtered.stdout.contains("\"suppressed_findings\":1"))
        XCTAssertEqual(filtered.status, 0)
        let disabled = try run(["analyze", "--rules", "-http_426_missing_upgrade", low])
        XCTAssertFalse(disabled.stdout.contains("\"type\":\"violation\""))
    }

    func testUsageErrorsExitTwo() throws {
        XCTAssertEqual(try run(["analyze"]).status, 2)
        XCTAssertEqual(try run(["analyze", "--bogus", goodCapture]).status, 2)
        XCTAssertEqual(try run(["analyze", "--rules", "no_such_rule", goodCapture]).status, 2)
        XCTAssertEqual(try run(["frobnicate"]).status, 2)
    }

    func testStandardInput() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: goodCapture))
        let result = try run(["analyze", "-"], stdin: bytes)
        XCTAssertTrue(result.stdout.contains("\"capture\":\"-\""))
        XCTAssertTrue(result.stdout.contains("http_101_unsolicited"))
    }

    func testRulesCommandListsTheCatalogue() throws {
        let result = try run(["rules", "--format", "json"])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stdout.contains("\"rule\":\"http_101_unsolicited\""))
    }

    func testAnalyzeWritesAReportAlongside() throws {
        let html = scratch.appendingPathComponent("audit.html").path
        let markdown = scratch.appendingPathComponent("audit.md").path
        let text = try run(["analyze", "--format", "text", "--report", html, goodCapture])
        XCTAssertEqual(text.status, 1)
        XCTAssertTrue(text.stdout.contains("http_101_unsolicited"))
        let page = try String(contentsOfFile: html, encoding: .utf8)
        XCTAssertTrue(page.lowercased().hasPrefix("<!doctype html>"))
        XCTAssertTrue(page.contains("http_101_unsolicited"))
        XCTAssertFalse(page.contains("<script src"), "the report must not load scripts")
        _ = try run(["analyze", "--report", markdown, goodCapture])
        // Markdown escapes the underscores of captured and rule text.
        XCTAssertTrue(try String(contentsOfFile: markdown, encoding: .utf8).contains("http\\_101\\_unsolicited"))
    }

    /// `report` streams its input; standard input is read once and kept for the second pass
    /// (the handshakes of the example findings), so the long Markdown still shows them.
    func testReportReadsStandardInputAndFiles() throws {
        let findings = try run(["analyze", goodCapture])
        XCTAssertEqual(findings.status, 1)
        let file = scratch.appendingPathComponent("findings.jsonl")
        try Data(findings.stdout.utf8).write(to: file)
        let piped = try run(["report", "-", "--format", "markdown", "--long"], stdin: Data(findings.stdout.utf8))
        XCTAssertEqual(piped.status, 0, piped.stderr)
        XCTAssertTrue(piped.stdout.contains("## Findings by rule and service"))
        XCTAssertTrue(piped.stdout.contains("reconstructed from the recorded upgrade-relevant headers"), "pass 2 found the handshake")
        let short = try run(["report", file.path, "--format", "markdown"])
        XCTAssertEqual(short.status, 0)
        XCTAssertLessThan(short.stdout.split(separator: "\n").count, 60, "the short form fits a ticket")
        XCTAssertFalse(short.stdout.contains("## Findings by rule and service"))
        let twice = try run(["report", "-", "-"], stdin: Data(findings.stdout.utf8))
        XCTAssertEqual(twice.status, 2)
    }

    func testFlowsWritesStreams() throws {
        let directory = scratch.appendingPathComponent("streams").path
        let result = try run(["flows", "--write-streams", directory, goodCapture])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stdout.contains("\"type\":\"flow\""))
        let folder = URL(fileURLWithPath: directory).appendingPathComponent("http-101-unsolicited.pcap")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        XCTAssertEqual(files.count, 2)
        let request = try String(contentsOf: folder.appendingPathComponent(files.first { $0.hasSuffix(".c2s") }!), encoding: .utf8)
        XCTAssertTrue(request.hasPrefix("GET / HTTP/1.1\r\n"))
    }
}
