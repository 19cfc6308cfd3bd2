import Foundation
import XCTest
import PacketCapture
@testable import SwitchyardKit

/// `--jobs N` must give the same records as one thread (written sorted by time, then JSON
/// text) and the same summary, on every capture of the corpus and the public set.
final class ParallelAnalysisTests: XCTestCase {
    private func run(_ file: URL, jobs: Int, options: PipelineOptions = PipelineOptions()) throws
        -> (records: [String], summary: String) {
        let sink = OutputSink(stream: .inMemory(), format: .json)
        if jobs == 1 {
            var reader = try CaptureFileReader(path: file.path)
            analyzeSource(&reader, name: file.lastPathComponent, format: reader.formatName, options: options, sink: sink)
        } else {
            try ParallelAnalysis.analyzeFile(path: file.path, name: file.lastPathComponent, options: options,
                                             sink: sink, jobs: jobs)
        }
        sink.writeSummary()
        var lines = String(decoding: sink.stream.memory, as: UTF8.self).split(separator: "\n").map(String.init)
        let summary = lines.removeLast()
        return (lines, summary)
    }

    func testParallelRunsMatchTheSingleThreadedRun() throws {
        let files = TestPaths.captureFiles(in: TestPaths.captures) + TestPaths.captureFiles(in: TestPaths.publicCaptures)
        XCTAssertFalse(files.isEmpty)
        for file in files {
            let single = try run(file, jobs: 1)
            for jobs in [2, 3] {
                let parallel = try run(file, jobs: jobs)
                XCTAssertEqual(parallel.records.sorted(), single.records.sorted(), "\(file.lastPathComponent), \(jobs) jobs")
                XCTAssertEqual(parallel.summary, single.summary, "\(file.lastPathComponent), \(jobs) jobs")
            }
        }
    }

    /// With no memory for held records every record goes through a spill file: the bytes
    /// written must not change.
    func testSpillingRecordsChangesNothing() throws {
        var spilling = PipelineOptions()
        spilling.heldRecordBytes = 0
        let files = TestPaths.captureFiles(in: TestPaths.captures)
        XCTAssertFalse(files.isEmpty)
        for file in files {
            let held = try run(file, jobs: 2)
            let spilled = try run(file, jobs: 2, options: spilling)
            XCTAssertEqual(spilled.records, held.records, file.lastPathComponent)
            XCTAssertEqual(spilled.summary, held.summary, file.lastPathComponent)
        }
    }

    /// The documented order: by timestamp, then by JSON text.
    func testParallelOutputIsSortedByTime() throws {
        let file = TestPaths.captures.appendingPathComponent("http-101-then-http-response.pcap")
        let records = try run(file, jobs: 2).records
        let times = records.compactMap { line -> String? in
            guard let range = line.range(of: "\"ts\":\"") else { return nil }
            return String(line[range.upperBound...].prefix(27))
        }
        XCTAssertEqual(times, times.sorted())
        XCTAssertGreaterThan(records.count, 1)
    }

    func testBothDirectionsOfAConnectionGoToTheSameWorker() {
        let a = TestEndpoints.make("10.0.0.1", 40000), b = TestEndpoints.make("10.0.0.2", 80)
        for jobs in 1...8 {
            XCTAssertEqual(FlowHash.worker(FlowHash.of(a, b), of: jobs), FlowHash.worker(FlowHash.of(b, a), of: jobs))
            XCTAssertEqual(FlowShare(worker: 0, workers: jobs).owns(a, b), FlowShare(worker: 0, workers: jobs).owns(b, a))
        }
    }
}

import PacketDecoding
enum TestEndpoints {
    static func make(_ ip: String, _ port: UInt16) -> Endpoint {
        let parts = ip.split(separator: ".").compactMap { UInt32($0) }
        return Endpoint(address: IPAddress(ipv4: parts.reduce(0) { $0 << 8 | $1 }), port: port)
    }
}
