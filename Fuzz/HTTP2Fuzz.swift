import Findings
import PacketCapture
import PacketDecoding
import SwitchedProtocols

/// libFuzzer target `http2`: the HTTP/2 frame decoder and HPACK decoder.
///
/// Byte 0 = mode. Bit 0 set: HPACK only — the rest is a sequence of header blocks (each a
/// length byte, then that many bytes) decoded by one HPACKDecoder (so the dynamic table
/// carries over) whose table limit is 4096, 256 or 0 (bits 1–2) and header list limit 64 KiB
/// or 128 bytes (bit 3); decoding stops at the first error, as the session does.
/// Bit 0 clear: an HTTP2Session fed client and server chunks alternately
/// (Fuzz/ChunkScript.swift; direction ends are ignored), after an upgrade (bit 1) or not,
/// with small header-block limits (bit 2), with gaps not bridged (bit 3); it runs twice, the
/// second time with data chunks cut into pieces, and frames, statistics and violations
/// must not change.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP2(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    if mode & 1 != 0 {
        fuzzHPACK(&input, mode: mode)
        return 0
    }
    var options = HTTP2Session.Options()
    options.frames.bridgeGapsInSkippedPayload = mode & 8 == 0
    if mode & 4 != 0 {
        options.frames.maxHeaderBlockBytes = 64
        options.maxHeaderListSize = 128
        options.maxViolationsPerRule = 2
        options.maxListedRequests = 2
        options.maxRequestValueBytes = 8
    }
    let afterUpgrade = mode & 2 != 0
    let settings = afterUpgrade ? [HTTP2Setting(id: HTTP2Setting.headerTableSize, value: UInt32(mode >> 4) << 8)] : []
    let steps = chunkSteps(&input)
    let whole = runSession(steps, afterUpgrade: afterUpgrade, settings: settings, options: options, split: false)
    let split = runSession(steps, afterUpgrade: afterUpgrade, settings: settings, options: options, split: true)
    fuzzCheck(whole.normalised == split.normalised, "segmentation changed the outcome:\n\(whole)\n--- split:\n\(split)")
    // The request list stays within its bound, stream 1 first after an upgrade, values cut.
    fuzzCheck(whole.requests.exchanges.count <= options.maxListedRequests, "more requests listed than the limit")
    fuzzCheck(!afterUpgrade || options.maxListedRequests == 0 || whole.requests.exchanges.first?.upgraded == true,
              "stream 1 of an upgrade not listed first")
    for exchange in whole.requests.exchanges {
        for value in [exchange.method, exchange.scheme, exchange.authority, exchange.path, exchange.connectProtocol] {
            fuzzCheck((value?.utf8.count ?? 0) <= options.maxRequestValueBytes, "listed value beyond the byte limit")
        }
    }
    return 0
}

private func fuzzHPACK(_ input: inout FuzzInput, mode: UInt8) {
    let tableLimit = [4096, 256, 0, 4096][Int(mode >> 1) & 3]
    let listLimit = mode & 8 != 0 ? 128 : 65_536
    var decoder = HPACKDecoder(maxAllowedTableSize: tableLimit, maxHeaderListSize: listLimit)
    while !input.isEmpty {
        let block = input.take(Int(input.byte()))
        let result = withExactCopy(block) { copy -> Result<HPACKHeaderBlock, HPACKError> in
            do throws(HPACKError) { return .success(try decoder.decode(copy)) } catch { return .failure(error) }
        }
        fuzzCheck(decoder.tableSize <= decoder.tableCapacity, "table size \(decoder.tableSize) over capacity")
        fuzzCheck(decoder.tableCapacity <= tableLimit, "table capacity over the allowed size")
        // Sizes count octets (RFC 7541 §4.1), not the UTF-8 of the repaired strings, so each
        // entry is at least 32 and the table holds at most capacity / 32 entries.
        fuzzCheck(decoder.dynamicTable.count * 32 <= decoder.tableSize, "entries beyond the table size")
        guard case .success(let headers) = result else { return }
        fuzzCheck(headers.fields.count * 32 <= listLimit, "kept fields beyond the header list limit")
        fuzzCheck(headers.truncated == (headers.listSize > listLimit), "truncated flag does not match the list size")
    }
}

private struct Outcome: Equatable, CustomStringConvertible {
    var client: HTTP2DirectionStatistics
    var server: HTTP2DirectionStatistics
    var clientStop: String?
    var serverStop: String?
    var clientHPACKStop: String?
    var serverHPACKStop: String?
    var headerBlocks: [UInt64]
    var violations: [Violation]
    var summary: Evidence
    var requests: HTTP2RequestLog

    /// Without what legitimately depends on segmentation: a missing preface is reported at
    /// the first wrong byte with the rest of that chunk (up to 24 bytes) as evidence.
    var normalised: Outcome {
        var copy = self
        for index in copy.violations.indices where copy.violations[index].rule.id == "h2c_missing_client_preface" {
            copy.violations[index].evidence.entries.removeAll { $0.key == "first_bytes" }
        }
        return copy
    }

    var description: String {
        "client \(client) stop \(clientStop ?? "-") hpack \(clientHPACKStop ?? "-")\n"
            + "server \(server) stop \(serverStop ?? "-") hpack \(serverHPACKStop ?? "-")\n"
            + "violations \(violations)\nsummary \(summary)"
    }
}

private func runSession(_ steps: [ChunkStep], afterUpgrade: Bool, settings: [HTTP2Setting],
                        options: HTTP2Session.Options, split: Bool) -> Outcome {
    let session = HTTP2Session(connection: nil, afterUpgrade: afterUpgrade, upgradeSettings: settings, options: options)
    var violations: [Violation] = []
    for (index, step) in steps.enumerated() {
        let frame = UInt64(index + 1)
        let time = Timestamp(seconds: 1_700_000_000 + Int64(index), nanoseconds: 0)
        switch step {
        case .data(let fromClient, let bytes):
            let ranges = split ? pieces(count: bytes.count, seed: UInt64(index)) : [0..<bytes.count]
            for range in ranges {
                withExactCopy(UnsafeRawBufferPointer(rebasing: bytes[range])) { copy in
                    if fromClient {
                        session.clientData(copy, frame: frame, timestamp: time)
                    } else {
                        session.serverData(copy, frame: frame, timestamp: time)
                    }
                }
            }
        case .gap(let fromClient, let length):
            if fromClient {
                session.clientGap(length: length, frame: frame, timestamp: time)
            } else {
                session.serverGap(length: length, frame: frame, timestamp: time)
            }
        case .end:
            break
        }
        violations += session.takeViolations()
    }
    session.finish()
    let summary = session.summary
    violations += session.takeViolations()
    return Outcome(client: session.client.statistics, server: session.server.statistics,
                   clientStop: session.client.stopReason, serverStop: session.server.stopReason,
                   clientHPACKStop: session.clientHPACKStopReason, serverHPACKStop: session.serverHPACKStopReason,
                   headerBlocks: [session.clientHeaderBlocks, session.serverHeaderBlocks],
                   violations: violations, summary: summary, requests: session.requests)
}
