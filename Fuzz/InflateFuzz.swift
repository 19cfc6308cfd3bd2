import Inflate

/// libFuzzer target `inflate`: the Inflater on arbitrary bytes.
///
/// Byte 0: bits 0–1 format (raw, zlib, gzip, raw with a preset dictionary); bits 2–4 window
/// bits − 8 (raw and zlib); bits 5–7 the per-call output budget (1, 7, 258, 259, 4096,
/// 65536, 1 MiB, unlimited). Byte 1 seeds the pieces of the second run. The rest is the
/// compressed stream.
///
/// Run once whole and once cut into pieces (ChunkScript.swift's `pieces`), each piece fed
/// again after `outputLimitReached`: the output, the final status and any error (kind and
/// offset) must not change; `needsInput` consumes every byte; no call produces more than its
/// budget; the output stops at 1 MiB (64 KiB with budgets under 256 bytes), and memory stays fixed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzInflate(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let seed = input.byte()
    let stream = input.rest()
    let budgets = [1, 7, 258, 259, 4096, 65536, 1 << 20, Int.max]
    let budget = budgets[Int(mode >> 5)]
    let windowBits = 8 + Int((mode >> 2) & 7)
    let format: Inflater.Format
    var dictionary: [UInt8] = []
    switch mode & 3 {
    case 0: format = .raw
    case 1: format = .zlib
    case 2: format = .gzip
    default:
        format = .raw
        dictionary = Array("GET / HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\n".utf8)
    }
    let whole = run(stream, [0..<stream.count], format: format, windowBits: windowBits, dictionary: dictionary,
                    budget: budget)
    let split = run(stream, pieces(count: stream.count, seed: UInt64(seed)), format: format,
                    windowBits: windowBits, dictionary: dictionary, budget: budget)
    fuzzCheck(whole == split, "segmentation changed the outcome:\n\(whole)\n--- split:\n\(split)")
    return 0
}

private struct Outcome: Equatable, CustomStringConvertible {
    var length = 0
    var checksum: UInt32 = 0
    var lastStatus: Inflater.Status?
    var error: InflateError?
    var stoppedAtCap = false

    var description: String {
        "\(length) bytes crc \(checksum) status \(String(describing: lastStatus)) error \(String(describing: error)) cap \(stoppedAtCap)"
    }
}

private let outputCap = 1 << 20

private func run(_ stream: UnsafeRawBufferPointer, _ ranges: [Range<Int>], format: Inflater.Format, windowBits: Int,
                 dictionary: [UInt8], budget: Int) -> Outcome {
    let inflater = Inflater(format: format, windowBits: windowBits, dictionary: dictionary)
    let footprint = inflater.memoryFootprint
    var outcome = Outcome()
    // Tiny budgets mean a call per output byte or so: a lower cap keeps runs fast.
    let cap = budget < 256 ? 64 << 10 : outputCap
    feeding: for range in ranges.isEmpty ? [0..<0] : ranges {
        let stop = withExactCopy(UnsafeRawBufferPointer(rebasing: stream[range])) { piece -> Bool in
            var offset = 0
            while true {
                let attempt = Result { () throws(InflateError) in
                    // Never past the cap, so both runs stop at the same byte.
                    try inflater.inflate(UnsafeRawBufferPointer(rebasing: piece[offset...]),
                                         maxOutput: min(budget, cap - outcome.length)) { chunk in
                        fuzzCheck(chunk.count <= 2 * inflater.windowSize + 8192, "chunk larger than the buffer")
                        outcome.length += chunk.count
                        outcome.checksum = CRC32.update(outcome.checksum, chunk)
                    }
                }
                let result: Inflater.Result
                switch attempt {
                case .success(let value): result = value
                case .failure(let error):
                    outcome.error = error
                    outcome.lastStatus = nil  // the error is the outcome, whichever piece it came in
                    return true
                }
                fuzzCheck(result.produced <= budget, "produced \(result.produced) over the budget \(budget)")
                fuzzCheck(result.consumed <= piece.count - offset, "consumed more than given")
                if result.status == .needsInput { fuzzCheck(result.consumed == piece.count - offset, "needsInput left input") }
                outcome.lastStatus = result.status
                offset += result.consumed
                if outcome.length >= cap {
                    outcome.stoppedAtCap = true
                    outcome.lastStatus = nil  // at the cap the status depends on where the piece ended
                    return true
                }
                if result.status == .outputLimitReached { continue }
                // Bytes after a raw/zlib stream are not part of it.
                return result.status == .streamEnd && offset < piece.count && format != .gzip
            }
        }
        if stop { break feeding }
    }
    fuzzCheck(inflater.memoryFootprint == footprint, "memory grew")
    return outcome
}
