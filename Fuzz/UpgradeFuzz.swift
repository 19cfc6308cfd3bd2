import Findings
import PacketCapture
import PacketDecoding
import StreamReassembly
import UpgradeAnalysis

/// libFuzzer target `upgrade`: one UpgradeTracker fed client and server chunks alternately
/// (Fuzz/ChunkScript.swift), with gaps and direction ends, then closed.
///
/// Byte 0 = options: bit 0 partial connection, bit 1 switch records at the response,
/// bit 2 small limits (4 pending requests, 64 held bytes, 256-byte heads). Every step is its
/// own frame. The script runs twice, the second time with each data chunk cut into pieces
/// (same frame): the findings must be the same, since the tracker works on stream positions.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzUpgrade(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let steps = chunkSteps(&input)
    var options = UpgradeAnalysisOptions()
    options.emitSwitchAtResponse = mode & 2 != 0
    if mode & 4 != 0 {
        options.maxPendingRequests = 4
        options.maxHeldBytes = 64
        options.parser.maxHeadBytes = 256
    }
    let connection = ConnectionRef(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 40000),
                                   server: Endpoint(address: IPAddress(ipv4: 0x0A00_0002), port: 80),
                                   partial: mode & 1 != 0)
    let whole = run(steps, connection: connection, options: options, split: false)
    let split = run(steps, connection: connection, options: options, split: true)
    if whole != split {
        let render = { (lines: [String]) in lines.joined(separator: "\n") }
        fuzzCheck(false, "segmentation changed the findings:\n\(render(whole))\n--- split:\n\(render(split))")
    }
    return 0
}

private func run(_ steps: [ChunkStep], connection: ConnectionRef, options: UpgradeAnalysisOptions,
                 split: Bool) -> [String] {
    let tracker = UpgradeTracker(connection: connection, options: options)
    var lines: [String] = []
    var writer = JSONWriter()
    func drain() {
        for finding in tracker.takeFindings() {
            writer.reset()
            writer.finding(finding, capture: "fuzz")
            lines.append(String(decoding: writer.bytes, as: UTF8.self))
        }
    }
    for (index, step) in steps.enumerated() {
        let frame = UInt64(index + 1)
        let time = Timestamp(seconds: 1_700_000_000 + Int64(index), nanoseconds: 0)
        let direction: Direction = step.fromClient ? .clientToServer : .serverToClient
        switch step {
        case .data(_, let bytes):
            if split {
                for range in pieces(count: bytes.count, seed: UInt64(index)) {
                    withExactCopy(UnsafeRawBufferPointer(rebasing: bytes[range])) {
                        tracker.data(direction, $0, frame: frame, timestamp: time)
                    }
                }
            } else {
                withExactCopy(bytes) { tracker.data(direction, $0, frame: frame, timestamp: time) }
            }
        case .gap(_, let length):
            tracker.gap(direction, length: length, frame: frame, timestamp: time)
        case .end:
            tracker.end(direction, frame: frame, timestamp: time)
        }
        drain()
    }
    tracker.close(lastTimestamp: Timestamp(seconds: 1_800_000_000, nanoseconds: 0))
    drain()
    let statistics = tracker.statistics
    lines.append("requests \(statistics.requests) responses \(statistics.responses) "
        + "non-HTTP \(statistics.nonHTTPDirections) errors \(statistics.parseErrors.sorted { $0.key < $1.key })")
    return lines
}
