import Findings
import Foundation
import PacketCapture
import PacketDecoding
import StreamReassembly
import UpgradeAnalysis

/// FUZZ_TRACE=1 prints every piece fed and the tracker's counters after it.
private let tracing = getenv("FUZZ_TRACE") != nil

/// libFuzzer target `upgrade`: one UpgradeTracker fed client and server chunks alternately
/// (Fuzz/ChunkScript.swift), with gaps and direction ends, then closed.
///
/// Byte 0 = options: bit 0 partial connection, bit 1 switch records at the response,
/// bit 2 small limits (4 pending requests, 64 held bytes, 256-byte heads). Every step is its
/// own frame. The script runs twice, the second time with each data chunk cut into pieces
/// (same frame): the HTTP/1 findings and records must be the same (in any order: a check may
/// decide a chunk earlier or later), since the tracker works on stream positions; see
/// `normalised` for what is left out. Every finding must render as valid JSON.
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
    if whole.sorted() != split.sorted() {
        let onlyWhole = whole.filter { !split.contains($0) }, onlySplit = split.filter { !whole.contains($0) }
        fuzzCheck(false, "segmentation changed the findings (\(whole.count) vs \(split.count) lines):\n"
            + "only whole:\n\(onlyWhole.joined(separator: "\n"))\nonly split:\n\(onlySplit.joined(separator: "\n"))")
    }
    return 0
}

private func run(_ steps: [ChunkStep], connection: ConnectionRef, options: UpgradeAnalysisOptions,
                 split: Bool) -> [String] {
    let tracker = UpgradeTracker(connection: connection, options: options)
    var lines: [String] = []
    var writer = JSONWriter()
    var clientStarted = false
    func drain() {
        for finding in tracker.takeFindings() {
            writer.reset()
            writer.finding(finding, capture: "fuzz")
            if let line = normalised(writer.bytes) { lines.append(line) }
        }
    }
    for (index, step) in steps.enumerated() {
        let frame = UInt64(index + 1)
        let time = Timestamp(seconds: 1_700_000_000 + Int64(index), nanoseconds: 0)
        let direction: Direction = step.fromClient ? .clientToServer : .serverToClient
        defer { if step.fromClient { clientStarted = true } }
        switch step {
        case .data(_, let bytes):
            if split {
                var ranges = pieces(count: bytes.count, seed: UInt64(index))
                if direction == .clientToServer && !clientStarted {
                    // Documented limit: prior-knowledge HTTP/2 is recognised only when the
                    // client's first chunk holds the preface's first 16 bytes.
                    ranges = keepingFirst(16, of: ranges)
                }
                for range in ranges {
                    withExactCopy(UnsafeRawBufferPointer(rebasing: bytes[range])) {
                        tracker.data(direction, $0, frame: frame, timestamp: time)
                    }
                    if tracing { trace(tracker, direction, UnsafeRawBufferPointer(rebasing: bytes[range])) }
                }
            } else {
                withExactCopy(bytes) { tracker.data(direction, $0, frame: frame, timestamp: time) }
                if tracing { trace(tracker, direction, bytes) }
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

private func trace(_ tracker: UpgradeTracker, _ direction: Direction, _ bytes: UnsafeRawBufferPointer) {
    let statistics = tracker.statistics
    let line = "\(direction == .clientToServer ? "C" : "S") \(String(reflecting: String(decoding: bytes, as: UTF8.self))) "
        + "-> requests \(statistics.requests) responses \(statistics.responses) errors \(statistics.parseErrors)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

/// Rules decided by the bytes after a switch. The tracker holds those bytes until they show
/// whether they fit the agreed protocol and decides as soon as they tell: a prefix of another
/// protocol's signature ("PRI " of the HTTP/2 preface) is enough to suppress decoding as the
/// agreed protocol, so their outcome depends on how the first bytes were cut (docs/ROBUSTNESS.md).
/// The frame-level rules are compared by the websocket and http2 targets instead.
private let postSwitchRules: Set<String> = [
    "switch_protocol_mismatch", "tls_upgrade_not_tls", "docker_bad_stream_header", "h2c_missing_client_preface",
    "h2c_server_first_frame_not_settings", "http2_status_101", "http2_connection_specific_header",
    "websocket_unmasked_client_frame", "websocket_masked_server_frame", "websocket_rsv_without_extension",
    "websocket_reserved_opcode", "websocket_bad_control_frame", "websocket_non_minimal_length",
    "websocket_bad_fragmentation", "websocket_bad_close", "websocket_invalid_utf8", "websocket_weak_mask",
]

/// A finding's JSON, checked to parse, without what may depend on segmentation: violations
/// of `postSwitchRules` (and the WebSocket decoder's limit finding) and the post-switch
/// `observed` summaries (nil: left out); of other
/// violations the rule, frame and direction (messages and evidence may describe fewer bytes).
private func normalised(_ json: [UInt8]) -> String? {
    guard var object = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any] else {
        fuzzCheck(false, "a finding is not a JSON object: \(String(decoding: json, as: UTF8.self))")
        return nil
    }
    if object["type"] as? String == "violation" {
        if let rule = object["rule"] as? String, postSwitchRules.contains(rule) { return nil }
        // The WebSocket decoder's findings-per-rule limit is post-switch too.
        if let evidence = object["evidence"] as? [String: Any], evidence["limit"] as? String == "websocket_findings_per_rule" {
            return nil
        }
        object["message"] = nil
        object["evidence"] = nil
    }
    object["observed"] = nil
    guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return nil }
    return String(decoding: data, as: UTF8.self)
}

/// `ranges` with the pieces covering the first `count` bytes merged into one.
private func keepingFirst(_ count: Int, of ranges: [Range<Int>]) -> [Range<Int>] {
    guard let first = ranges.first, let last = ranges.last else { return ranges }
    let cut = min(last.upperBound, max(first.upperBound, first.lowerBound + count))
    var merged = [first.lowerBound..<cut]
    for range in ranges where range.upperBound > cut {
        merged.append(max(range.lowerBound, cut)..<range.upperBound)
    }
    return merged
}
