import HTTP1

/// libFuzzer target `http1`: HTTPMessageParser, either role.
///
/// Input: byte 0 = role (bit 0), head limit (bits 1–2), pause policy (bit 3), gaps (bit 4);
/// bytes 1–2 = eight head actions, two bits each (cycled); byte 3 = split seed; the rest is
/// the direction's bytes. The stream is fed once per gap-separated run and again cut into
/// pieces chosen by the split seed; both runs must report the same events (the parser's
/// contract: decisions depend on stream positions only), and the feed contract must hold.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP1(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let actionBits = input.uint16()
    let splitSeed = input.byte()
    let stream = input.rest()

    let role: HTTPRole = mode & 1 == 0 ? .request : .response
    var options = HTTPParserOptions()
    options.maxHeadBytes = [64 * 1024, 48, 200, 1024][Int(mode >> 1) & 3]
    let stopOnPause = mode & 8 != 0
    let withGaps = mode & 16 != 0
    let choices: [HTTPHeadAction] = [.proceed, .skipBody, .switchProtocols, .pauseAfterMessage]
    let actions = (0..<8).map { choices[Int(actionBits >> ($0 * 2)) & 3] }

    // Runs of the stream between gaps; a gap of 1–16 bytes follows every run but the last.
    var runs: [Range<Int>] = []
    if withGaps {
        var start = 0
        var state = UInt64(splitSeed) &+ 0x9E37
        while start < stream.count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let length = Int(state >> 56) + 1
            runs.append(start..<min(stream.count, start + length))
            start += length
        }
    } else {
        runs = [0..<stream.count]
    }

    let whole = run(stream, runs: runs, role: role, options: options, actions: actions,
                    stopOnPause: stopOnPause, splitSeed: nil)
    let split = run(stream, runs: runs, role: role, options: options, actions: actions,
                    stopOnPause: stopOnPause, splitSeed: splitSeed)
    fuzzCheck(whole.violations.isEmpty, "feed contract (whole): \(whole.violations)")
    fuzzCheck(split.violations.isEmpty, "feed contract (split): \(split.violations)")
    fuzzCheck(whole.events == split.events, "split changed the events:\n\(whole.events)\n\(split.events)")
    fuzzCheck(whole.offset == split.offset, "split changed the final offset")
    var total = UInt64(stream.count)
    if withGaps { total += UInt64(max(0, runs.count - 1)) * 16 }
    fuzzCheck(whole.offset <= total, "offset \(whole.offset) beyond input \(total)")
    for event in whole.events {
        if case .error(let error) = event {
            fuzzCheck(error.evidence.count <= HTTPMessageParser.evidenceLimit, "evidence too long")
        }
    }
    return 0
}

private enum Event: Equatable {
    case head(HTTPMessageHead, UInt64)
    case complete(UInt64)
    case error(HTTPParseError)
    case paused(UInt64)
}

private struct Delegate: HTTPParserDelegate {
    var events: [Event] = []
    let actions: [HTTPHeadAction]
    var heads = 0

    mutating func headComplete(_ head: HTTPMessageHead, streamOffset: UInt64) -> HTTPHeadAction {
        events.append(.head(head, streamOffset))
        fuzzCheck(head.byteCount > 0, "empty head")
        defer { heads += 1 }
        return actions[heads % actions.count]
    }

    mutating func messageComplete(streamOffset: UInt64) { events.append(.complete(streamOffset)) }

    mutating func parseError(_ error: HTTPParseError) { events.append(.error(error)) }
}

private func run(_ stream: UnsafeRawBufferPointer, runs: [Range<Int>], role: HTTPRole, options: HTTPParserOptions,
                 actions: [HTTPHeadAction], stopOnPause: Bool, splitSeed: UInt8?)
    -> (events: [Event], offset: UInt64, violations: [String]) {
    var parser = HTTPMessageParser(role: role, options: options)
    var delegate = Delegate(actions: actions)
    var violations: [String] = []
    var state = UInt64(splitSeed ?? 0) &* 0x2545_F491_4F6C_DD1D &+ 1
    feeding: for (runIndex, range) in runs.enumerated() {
        if runIndex > 0 { parser.gap(length: 16, delegate: &delegate) }
        var position = range.lowerBound
        while position < range.upperBound {
            var size = range.upperBound - position
            if splitSeed != nil {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                // Mostly tiny pieces, sometimes larger ones.
                size = min(size, state >> 63 == 0 ? Int(state >> 60) + 1 : Int(state >> 54) + 1)
            }
            var chunk = UnsafeRawBufferPointer(rebasing: stream[position..<(position + size)])
            position += size
            while !chunk.isEmpty {
                let base = parser.streamOffset
                let result = withExactCopy(chunk) { parser.feed($0, delegate: &delegate) }
                switch result {
                case .consumedAll:
                    if parser.streamOffset != base + UInt64(chunk.count) { violations.append("consumedAll offset") }
                    chunk = UnsafeRawBufferPointer(rebasing: chunk[chunk.count...])
                case .paused(let index):
                    if index < 0 || index > chunk.count || parser.streamOffset != base + UInt64(index)
                        || !parser.isPaused {
                        violations.append("paused(at: \(index)) of \(chunk.count)")
                        break feeding
                    }
                    delegate.events.append(.paused(base + UInt64(index)))
                    if stopOnPause { break feeding }
                    parser.resume()
                    chunk = UnsafeRawBufferPointer(rebasing: chunk[index...])
                }
            }
        }
    }
    parser.finish(delegate: &delegate)
    return (delegate.events, parser.streamOffset, violations)
}
