import HTTP1
import XCTest

/// One thing the parser reported, with absolute stream offsets.
enum ParserEvent: Equatable, CustomStringConvertible {
    case head(HTTPMessageHead, at: UInt64)
    case complete(at: UInt64)
    case error(HTTPParseError)
    case paused(at: UInt64)

    /// A compact form for readable expectations: "head GET /a @18", "head 200 OK @40",
    /// "complete @18", "error invalid_chunk @52", "paused @77".
    var description: String {
        switch self {
        case .head(let head, let offset):
            switch head.kind {
            case .request: return "head \(head.method) \(head.target) @\(offset)"
            case .response: return "head \(head.status)\(head.reason.isEmpty ? "" : " " + head.reason) @\(offset)"
            }
        case .complete(let offset): return "complete @\(offset)"
        case .error(let error): return "error \(error.kind.rawValue) @\(error.streamOffset)"
        case .paused(let offset): return "paused @\(offset)"
        }
    }
}

/// Records every event; answers heads with scripted actions, in order (then `.proceed`).
struct RecordingDelegate: HTTPParserDelegate {
    var events: [ParserEvent] = []
    var actions: [HTTPHeadAction]

    init(actions: [HTTPHeadAction] = []) {
        self.actions = actions
    }

    mutating func headComplete(_ head: HTTPMessageHead, streamOffset: UInt64) -> HTTPHeadAction {
        events.append(.head(head, at: streamOffset))
        return actions.isEmpty ? .proceed : actions.removeFirst()
    }

    mutating func messageComplete(streamOffset: UInt64) {
        events.append(.complete(at: streamOffset))
    }

    mutating func parseError(_ error: HTTPParseError) {
        events.append(.error(error))
    }
}

/// What happens to one direction, in order.
enum DirectionStep {
    case bytes([UInt8])
    case gap(UInt64)
    case finish

    static func text(_ string: String) -> DirectionStep { .bytes(Array(string.utf8)) }
}

/// What the caller does when the parser pauses.
enum PausePolicy {
    /// The rest is another protocol: stop feeding (a 101, a 2xx to CONNECT).
    case stop
    /// The answer came and was not a switch: `resume()` and re-feed the held-back bytes.
    case resume
}

struct ParseOutcome: Equatable {
    var events: [ParserEvent]
    var streamOffset: UInt64
    var isSkipping: Bool
    var isPaused: Bool
    /// Breaches of the feed contract (offsets not matching what a result says was consumed).
    var contractViolations: [String]

    var summary: [String] { events.map(\.description) }
    var heads: [HTTPMessageHead] {
        events.compactMap { if case .head(let head, _) = $0 { return head } else { return nil } }
    }
    var errors: [HTTPParseError] {
        events.compactMap { if case .error(let error) = $0 { return error } else { return nil } }
    }
}

/// How each `.bytes` step is cut into chunks: step index and byte count → chunk sizes.
typealias Chunking = (_ step: Int, _ count: Int) -> [Int]

func runParser(_ steps: [DirectionStep], role: HTTPRole, options: HTTPParserOptions = HTTPParserOptions(),
               actions: [HTTPHeadAction] = [], onPause: PausePolicy = .resume,
               chunking: Chunking = { _, count in [count] }) -> ParseOutcome {
    var parser = HTTPMessageParser(role: role, options: options)
    var delegate = RecordingDelegate(actions: actions)
    var violations: [String] = []
    feeding: for (stepIndex, step) in steps.enumerated() {
        switch step {
        case .bytes(let bytes):
            var position = 0
            for size in chunking(stepIndex, bytes.count) where size > 0 {
                var chunk = Array(bytes[position..<(position + size)])
                position += size
                while !chunk.isEmpty {
                    let base = parser.streamOffset
                    let result = chunk.withUnsafeBytes { parser.feed($0, delegate: &delegate) }
                    switch result {
                    case .consumedAll:
                        if parser.streamOffset != base + UInt64(chunk.count) {
                            violations.append("consumedAll but offset \(parser.streamOffset) != \(base) + \(chunk.count)")
                        }
                        chunk = []
                    case .paused(let index):
                        if parser.streamOffset != base + UInt64(index) || !parser.isPaused {
                            violations.append("paused(at: \(index)) but offset \(parser.streamOffset), base \(base)")
                        }
                        delegate.events.append(.paused(at: base + UInt64(index)))
                        if onPause == .stop { break feeding }
                        parser.resume()
                        chunk = Array(chunk[index...])
                    }
                }
            }
        case .gap(let length):
            parser.gap(length: length, delegate: &delegate)
        case .finish:
            parser.finish(delegate: &delegate)
        }
    }
    return ParseOutcome(events: delegate.events, streamOffset: parser.streamOffset, isSkipping: parser.isSkipping,
                        isPaused: parser.isPaused, contractViolations: violations)
}

/// Feeds `steps` whole, then at every split point of every `.bytes` step, byte by byte and in
/// pseudo-random small chunks, and checks that every run reports exactly what the whole run
/// did. Returns the whole run's outcome; `expect` (compact event forms) is checked against it.
@discardableResult
func assertParsesIdentically(_ steps: [DirectionStep], role: HTTPRole, options: HTTPParserOptions = HTTPParserOptions(),
                             actions: [HTTPHeadAction] = [], onPause: PausePolicy = .resume,
                             expect expected: [String]? = nil,
                             file: StaticString = #filePath, line: UInt = #line) -> ParseOutcome {
    let whole = runParser(steps, role: role, options: options, actions: actions, onPause: onPause)
    XCTAssertEqual(whole.contractViolations, [], "whole feed", file: file, line: line)
    if let expected {
        XCTAssertEqual(whole.summary, expected, file: file, line: line)
    }

    var chunkings: [(String, Chunking)] = []
    for (stepIndex, step) in steps.enumerated() {
        guard case .bytes(let bytes) = step, bytes.count > 1 else { continue }
        for split in 1..<bytes.count {
            chunkings.append(("step \(stepIndex) split at \(split)", { index, count in
                index == stepIndex ? [split, count - split] : [count]
            }))
        }
    }
    chunkings.append(("byte by byte", { _, count in Array(repeating: 1, count: count) }))
    for seed in 1...12 {
        chunkings.append(("random seed \(seed)", { index, count in
            var state = UInt64(seed &* 7919 &+ index)
            var sizes: [Int] = []
            var left = count
            while left > 0 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let size = min(left, Int(state >> 60) + 1)
                sizes.append(size)
                left -= size
            }
            return sizes
        }))
    }

    for (name, chunking) in chunkings {
        let outcome = runParser(steps, role: role, options: options, actions: actions, onPause: onPause,
                                chunking: chunking)
        if outcome != whole {
            XCTFail("""
                \(name) differs from the whole feed:
                  whole: \(whole.summary) offset \(whole.streamOffset) skipping \(whole.isSkipping) paused \(whole.isPaused)
                  split: \(outcome.summary) offset \(outcome.streamOffset) skipping \(outcome.isSkipping) \
                paused \(outcome.isPaused) violations \(outcome.contractViolations)
                """, file: file, line: line)
            break
        }
    }
    return whole
}

func bytes(_ string: String) -> [UInt8] { Array(string.utf8) }

func length(_ parts: String...) -> UInt64 { UInt64(parts.reduce(0) { $0 + $1.utf8.count }) }
