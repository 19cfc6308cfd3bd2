/// Which kind of messages a direction carries.
public enum HTTPRole: Sendable { case request, response }

public struct HTTPParserOptions: Sendable {
    /// Largest header block buffered (start line through blank line); beyond it the
    /// parser reports `.headTooLarge` and resynchronises (DEVELOPERS.md: bounded everything).
    public var maxHeadBytes = 64 * 1024
    /// Shared by every parser of a run: the head bytes all of them may buffer at once, so that
    /// many connections with unfinished heads cannot add up to unbounded memory. Nil: no bound.
    public var budget: HeadBudget?
    public init() {}
}

/// A byte budget shared by the parsers (or, for early client data, the upgrade trackers) that
/// run on one thread (one per analysis worker).
public final class HeadBudget: @unchecked Sendable {
    public let limit: Int
    /// `used` and `peak` live in memory the budget owns rather than in stored `var`s: every
    /// access to a class's stored `var` is checked for exclusivity at run time, and the budget
    /// is charged for every head. One analysis thread owns a budget, so no check is needed.
    private let counters: UnsafeMutablePointer<(used: Int, peak: Int)>
    public var used: Int { counters.pointee.used }
    /// Peak of `used`, for the run summary.
    public var peak: Int { counters.pointee.peak }

    public init(limit: Int) {
        self.limit = max(0, limit)
        counters = UnsafeMutablePointer.allocate(capacity: 1)
        counters.initialize(to: (0, 0))
    }

    deinit {
        counters.deallocate()
    }

    public var available: Int { max(0, limit - counters.pointee.used) }

    public func charge(_ count: Int) {
        counters.pointee.used += count
        if counters.pointee.used > counters.pointee.peak { counters.pointee.peak = counters.pointee.used }
    }

    public func release(_ count: Int) {
        counters.pointee.used = max(0, counters.pointee.used - count)
    }
}

/// What follows a head, as decided by the one who knows the other direction.
public enum HTTPHeadAction: Sendable, Equatable {
    /// Frame the body per RFC 9112 §6.3 (1xx, 204 and 304 never have one).
    case proceed
    /// The message has no body whatever its headers say (a response to HEAD).
    case skipBody
    /// The bytes right after this head are no longer HTTP (a 101, or a 2xx to CONNECT):
    /// the parser pauses and reports where the new protocol starts.
    case switchProtocols
    /// Read this message's body, then pause (a request carrying Upgrade, or CONNECT):
    /// what the client sends next depends on the answer. `resume()` continues as HTTP.
    case pauseAfterMessage
}

/// Why the parser could not follow the stream at some point. It resynchronises by itself
/// at the next plausible message start (or, for `.notHTTP`, ignores the direction).
public struct HTTPParseError: Error, Equatable, Sendable {
    public enum Kind: String, Sendable {
        case notHTTP = "not_http"                   // the direction does not start with HTTP
        case invalidStartLine = "invalid_start_line"
        case invalidHeader = "invalid_header"
        case invalidVersion = "invalid_version"
        case invalidContentLength = "invalid_content_length"
        case invalidChunk = "invalid_chunk"
        case headTooLarge = "head_too_large"
        /// The shared head budget (`HTTPParserOptions.budget`) was spent by other connections.
        case headBudgetExhausted = "head_budget_exhausted"
        case gap = "gap"                            // bytes missing where framing could not skip them
        case truncatedMessage = "truncated_message" // the direction ended inside a message
    }
    public var kind: Kind
    /// Offset in this direction's byte stream (gaps counted as their length).
    public var streamOffset: UInt64
    /// Up to 64 bytes of the offending input, for evidence.
    public var evidence: [UInt8]

    public init(_ kind: Kind, streamOffset: UInt64, evidence: [UInt8] = []) {
        self.kind = kind
        self.streamOffset = streamOffset
        self.evidence = evidence
    }
}

public enum HTTPParseResult: Equatable, Sendable {
    /// Every byte was consumed (possibly buffered as part of a head).
    case consumedAll
    /// Parsing stopped; bytes from this index of the chunk on are not HTTP
    /// (after `.switchProtocols`) or wait for `resume()` (after `.pauseAfterMessage`).
    case paused(at: Int)
}

/// Receives parser events. Calls happen inside `feed`, `gap` and `finish`.
public protocol HTTPParserDelegate {
    /// A head is complete; `streamOffset` is the offset just past its blank line.
    mutating func headComplete(_ head: HTTPMessageHead, streamOffset: UInt64) -> HTTPHeadAction
    /// The message (head and body) is complete at `streamOffset`.
    mutating func messageComplete(streamOffset: UInt64)
    mutating func parseError(_ error: HTTPParseError)
}
