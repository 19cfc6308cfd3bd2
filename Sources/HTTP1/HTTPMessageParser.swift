/// Incremental HTTP/1.x parser for one direction of a connection (RFC 9112), after llhttp
/// and picohttpparser.
///
/// It is fed chunks of any size and reports the same events whatever the chunking: every
/// decision depends only on stream positions, never on where a chunk happens to end. Heads
/// are buffered (at most `options.maxHeadBytes`) and materialised once complete; bodies are
/// skipped by length without being copied. After a framing error or a gap it resynchronises
/// at the next line that plausibly starts a message. A direction whose first bytes cannot
/// start a message of its role (requests: a method token of at most `maxMethodLength` bytes
/// and SP; responses: "HTTP/"), or that starts with the HTTP/2 preface, is reported once
/// (`.notHTTP`) at the first impossible byte and then ignored.
///
/// Every head delivered to `headComplete` is followed by `messageComplete` (for
/// `.switchProtocols`, at once, just before the pause) unless a framing error, a gap or
/// `finish` is reported first. While paused, nothing is consumed: `feed` returns
/// `.paused(at: 0)`, and `gap` and `finish` do nothing, so the caller re-presents what it held
/// back after `resume()`.
public struct HTTPMessageParser: Sendable {
    public let role: HTTPRole
    public let options: HTTPParserOptions
    /// Bytes of this direction consumed so far, gaps included.
    public private(set) var streamOffset: UInt64 = 0
    /// True once the direction was found not to carry HTTP; further input is ignored cheaply.
    public var isSkipping: Bool { state == .skipping }
    public var isPaused: Bool { state == .paused }

    /// Longest method accepted as the first token of a direction: beyond it the direction is
    /// not HTTP (an SSH banner, for instance, is one long token).
    public static let maxMethodLength = 20
    /// Longest chunk-size line, extensions included (`ChunkedBodyScanner`).
    public static let maxChunkLineBytes = ChunkedBodyScanner.maxSizeLineBytes
    /// Evidence attached to parse errors is at most this many bytes.
    public static let evidenceLimit = 64

    /// `method SP request-target SP HTTP-version CRLF` (RFC 9112 §3).
    private enum RequestLineState: UInt8 {
        case method
        case target
        case version        // "HTTP/" DIGIT "." DIGIT, then CR or a bare LF
        case afterCR
    }

    /// `HTTP-version SP status-code SP [ reason-phrase ] CRLF` (RFC 9112 §4).
    private enum StatusLineState: UInt8 {
        case version        // "HTTP/" DIGIT "." DIGIT, then SP
        case afterVersion   // the SP (leniently: more SP or HTAB) before the code
        case statusCode     // three digits, then SP, CR or a bare LF
        case reason         // anything up to the LF
        case afterCR
    }

    private enum State: UInt8 {
        case idle            // between messages, at a line start (empty lines skipped)
        case startLine       // validating the request or status line byte by byte
        case headerLines     // buffering field lines up to the blank line
        case bodyLength      // `remaining` body bytes to skip
        case chunkedBody     // a chunked body, followed by `chunked` (RFC 9112 §7.1)
        case untilClose      // body delimited by the end of the direction (RFC 9112 §6.3 item 8)
        case resync          // scanning for a line that starts a message
        case paused
        case skipping        // not HTTP
    }

    private var state = State.idle
    /// The state `resume()` returns to.
    private var resumeState = State.idle
    /// Stream offset of byte 0 of the chunk being fed.
    private var feedBase: UInt64 = 0
    /// The head being parsed; during chunked bodies, the current chunk line's first bytes (evidence).
    private var headBuffer: [UInt8] = []
    /// Bytes of `headBuffer` charged to the shared budget.
    private var charged = 0
    /// Stream offset of the current message's first byte.
    private var messageStart: UInt64 = 0
    /// Body bytes left to skip.
    private var remaining: UInt64 = 0
    /// The chunked body being skipped (state `.chunkedBody`).
    private var chunked = ChunkedBodyScanner(startingAt: 0, maxTrailerBytes: 0, evidenceLimit: 0)
    /// Where in the request line (role `.request`) or status line (role `.response`) the
    /// byte-by-byte validation is; named after the grammar of RFC 9112 §3 and §4, as llhttp
    /// names its states.
    private var requestLineState = RequestLineState.method
    private var statusLineState = StatusLineState.version
    /// Status line: what was read (for `HTTPHeadReader`) and the leniencies applied.
    private var statusLeniencies = StatusLineLeniencies()
    private var versionMajor: UInt8 = 0
    private var versionMinor: UInt8 = 0
    private var statusCode = 0
    /// Index of the reason phrase in the line, 0 if there is none.
    private var reasonStart = 0
    /// Index in the start line of the byte being validated.
    private var linePosition = 0
    /// Length of the current token, version position, status digits or line length.
    private var counter = 0
    /// The method's bytes packed into an integer, to recognise known methods cheaply.
    private var methodPacked: UInt64 = 0
    private var lastWasCR = false
    /// No message has started yet and no gap was seen: a bad start means "not HTTP".
    private var firstMessage = true
    /// The start line being validated was found by resynchronisation: stricter rules, silent failure.
    private var candidate = false
    /// A resync candidate whose method is not a known one needs a target starting "/", "*" or "http".
    private var candidateTargetCheck = false
    private var startLineEnd = 0
    private var startLineBareLF = false
    private var headerLineStart = 0
    private var fieldLineCount = 0
    private var atLineStart = true
    private var pauseAfterMessage = false

    public init(role: HTTPRole, options: HTTPParserOptions = HTTPParserOptions()) {
        self.role = role
        self.options = options
    }

    // MARK: - Public entry points

    public mutating func feed<D: HTTPParserDelegate>(_ bytes: UnsafeRawBufferPointer, delegate: inout D) -> HTTPParseResult {
        switch state {
        case .skipping:
            streamOffset &+= UInt64(bytes.count)
            return .consumedAll
        case .paused:
            return .paused(at: 0)
        default:
            break
        }
        feedBase = streamOffset
        let count = bytes.count
        var index = 0
        while index < count {
            switch state {
            case .idle:
                index = skipEmptyLines(bytes, from: index)
            case .startLine:
                index = parseStartLine(bytes, from: index, delegate: &delegate)
            case .headerLines:
                index = parseHeaderLines(bytes, from: index, delegate: &delegate)
            case .bodyLength:
                index = skipBody(bytes, from: index, delegate: &delegate)
            case .chunkedBody:
                index = scanChunkedBody(bytes, from: index, delegate: &delegate)
            case .untilClose, .skipping:
                index = count
            case .resync:
                index = resynchronise(bytes, from: index)
            case .paused:
                streamOffset = feedBase &+ UInt64(index)
                return .paused(at: index)
            }
        }
        streamOffset = feedBase &+ UInt64(count)
        return state == .paused ? .paused(at: count) : .consumedAll
    }

    /// `length` bytes of the direction are missing. Inside a body of known length (or one read
    /// until close) they are skipped in sync; anywhere else the parser reports `.gap` (unless it
    /// is already resynchronising) and resynchronises, treating the byte after the gap as a line start.
    public mutating func gap<D: HTTPParserDelegate>(length: UInt64, delegate: inout D) {
        guard length > 0 else { return }
        let start = streamOffset
        switch state {
        case .paused:
            return
        case .skipping, .untilClose:
            break
        case .resync:
            atLineStart = true
        case .bodyLength:
            if length < remaining {
                remaining -= length
            } else {
                // The message ends inside the gap; what followed it is lost.
                let end = start &+ remaining
                let lost = length - remaining
                remaining = 0
                completeMessage(at: end, delegate: &delegate)
                if lost > 0 { lostSync(at: end, delegate: &delegate) }
            }
        case .chunkedBody:
            if !chunked.gap(length: length, at: start) { lostSync(at: start, delegate: &delegate) }
        case .startLine where candidate:
            enterResync(atLineStart: true)
        case .idle, .startLine, .headerLines:
            lostSync(at: start, delegate: &delegate)
        }
        firstMessage = false
        streamOffset = start &+ length
    }

    /// The direction ended: completes a body read until close, or reports `.truncatedMessage`
    /// (at the message's first byte) when it ended inside a head or a delimited body.
    public mutating func finish<D: HTTPParserDelegate>(delegate: inout D) {
        switch state {
        case .untilClose:
            completeMessage(at: streamOffset, delegate: &delegate)
        case .startLine where candidate:
            enterResync(atLineStart: true)
        case .startLine, .headerLines:
            report(.truncatedMessage, at: messageStart, evidence: headPrefix, delegate: &delegate)
            state = .idle
        case .bodyLength, .chunkedBody:
            report(.truncatedMessage, at: messageStart, evidence: [], delegate: &delegate)
            state = .idle
        case .idle, .resync, .paused, .skipping:
            break
        }
        if state != .paused { pauseAfterMessage = false }
    }

    /// Continue parsing as HTTP after a pause; the caller re-feeds the bytes it held back.
    public mutating func resume() {
        guard state == .paused else { return }
        state = resumeState
        resumeState = .idle
    }

    // MARK: - Between messages and resynchronisation

    @inline(__always)
    private func offset(_ index: Int) -> UInt64 { feedBase &+ UInt64(index) }

    private var headPrefix: [UInt8] { Array(headBuffer.prefix(Self.evidenceLimit)) }

    /// Empty lines before a start line are ignored (RFC 9112 §2.2); any other byte starts one.
    private mutating func skipEmptyLines(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte != ASCII.cr && byte != ASCII.lf {
                beginStartLine(at: index, candidate: state == .resync)
                return index
            }
            index += 1
        }
        return index
    }

    /// Finds the next line start (a word-at-a-time scan, nothing buffered) and tries it as a
    /// message start. Every byte is looked at a bounded number of times: linear overall.
    private mutating func resynchronise(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var index = start
        if !atLineStart {
            guard let lineFeed = firstIndex(of: ASCII.lf, in: bytes, from: index, to: bytes.count) else {
                return bytes.count
            }
            index = lineFeed + 1
            atLineStart = true
        }
        return skipEmptyLines(bytes, from: index)
    }

    private mutating func enterResync(atLineStart: Bool) {
        state = .resync
        self.atLineStart = atLineStart
        candidate = false
        pauseAfterMessage = false
        // The abandoned head's bytes go back to the shared budget (its evidence was reported).
        trimCompletedHead()
    }

    private mutating func lostSync<D: HTTPParserDelegate>(at offset: UInt64, delegate: inout D) {
        report(.gap, at: offset, evidence: [], delegate: &delegate)
        if state == .paused {
            resumeState = .resync
            atLineStart = true
            candidate = false
        } else {
            enterResync(atLineStart: true)
        }
    }

    private func report<D: HTTPParserDelegate>(_ kind: HTTPParseError.Kind, at offset: UInt64, evidence: [UInt8],
                                               delegate: inout D) {
        delegate.parseError(HTTPParseError(kind, streamOffset: offset, evidence: evidence))
    }

    private mutating func declareNotHTTP<D: HTTPParserDelegate>(delegate: inout D) {
        report(.notHTTP, at: messageStart, evidence: headPrefix, delegate: &delegate)
        state = .skipping
        clearHead()
    }

    private mutating func completeMessage<D: HTTPParserDelegate>(at offset: UInt64, delegate: inout D) {
        delegate.messageComplete(streamOffset: offset)
        if pauseAfterMessage {
            pauseAfterMessage = false
            state = .paused
            resumeState = .idle
        } else {
            state = .idle
        }
    }

    // MARK: - Start line

    private mutating func beginStartLine(at index: Int, candidate: Bool) {
        state = .startLine
        self.candidate = candidate
        messageStart = offset(index)
        clearHead()
        requestLineState = .method
        statusLineState = .version
        statusLeniencies = []
        linePosition = 0
        statusCode = 0
        reasonStart = 0
        counter = 0
        methodPacked = 0
        lastWasCR = false
        candidateTargetCheck = false
        startLineBareLF = false
    }

    private mutating func parseStartLine<D: HTTPParserDelegate>(_ bytes: UnsafeRawBufferPointer, from start: Int,
                                                               delegate: inout D) -> Int {
        let count = bytes.count
        let room = headRoom
        let limit = start + min(count - start, room)
        var index = start
        var outcome = LineOutcome.needMore
        if role == .request {
            while index < limit {
                outcome = requestLineByte(bytes[index])
                index += 1
                if outcome != .needMore { break }
            }
        } else {
            while index < limit {
                outcome = statusLineByte(bytes[index])
                index += 1
                if outcome != .needMore { break }
            }
        }
        headBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        chargeHead()
        switch outcome {
        case .done:
            return startLineComplete(bytes, at: index, delegate: &delegate)
        case .failed:
            let atLineStart = headBuffer.last == ASCII.lf
            if candidate {
                enterResync(atLineStart: atLineStart)
                return index
            }
            if firstMessage && !matchedProtocolPrefix {
                declareNotHTTP(delegate: &delegate)
                return count
            }
            firstMessage = false
            report(.invalidStartLine, at: messageStart, evidence: headPrefix, delegate: &delegate)
            enterResync(atLineStart: atLineStart)
            return index
        case .needMore:
            return index < count ? headTooLarge(at: index, delegate: &delegate) : index
        }
    }

    /// Whether the start line so far shows that the direction speaks HTTP: a method token and
    /// its SP for requests, "HTTP/" for responses. A first start line that fails before this
    /// point means the direction is not HTTP; one that fails after it is an invalid start line
    /// (a client that sends a space inside its target still speaks HTTP).
    private var matchedProtocolPrefix: Bool {
        role == .request ? requestLineState != .method : (statusLineState != .version || counter >= 5)
    }

    /// `method SP request-target SP HTTP-version CRLF` (RFC 9112 §3), one byte at a time so
    /// that a direction that is not HTTP is recognised at its first impossible byte.
    @inline(__always)
    private mutating func requestLineByte(_ byte: UInt8) -> LineOutcome {
        switch requestLineState {
        case .method:
            if isTokenByte(byte) {
                if candidate && !((byte >= 0x41 && byte <= 0x5A) || byte == 0x2D || byte == 0x5F) { return .failed }
                counter += 1
                if counter > Self.maxMethodLength { return .failed }
                methodPacked = methodPacked << 8 | UInt64(byte)
                return .needMore
            }
            guard byte == ASCII.space, counter > 0 else { return .failed }
            if candidate {
                candidateTargetCheck = !(counter <= 8 && Self.knownMethods.contains(methodPacked))
            }
            requestLineState = .target
            counter = 0
            return .needMore
        case .target:  // any visible byte, no whitespace
            if byte == ASCII.space {
                guard counter > 0, !candidateTargetCheck else { return .failed }
                requestLineState = .version
                counter = 0
                return .needMore
            }
            guard byte > ASCII.space, byte != ASCII.delete else { return .failed }
            if candidateTargetCheck {
                if counter == 0 && (byte == ASCII.slash || byte == ASCII.asterisk) {
                    candidateTargetCheck = false
                } else if asciiLower(byte) == Self.httpLowercase(counter) {
                    if counter == 3 { candidateTargetCheck = false }
                } else {
                    return .failed
                }
            }
            counter += 1
            return .needMore
        case .version:
            if counter < 8 {
                guard versionByte(byte) else { return .failed }
                counter += 1
                return .needMore
            }
            if byte == ASCII.cr {
                requestLineState = .afterCR
                return .needMore
            }
            if byte == ASCII.lf {
                startLineBareLF = true
                return .done
            }
            return .failed
        case .afterCR:
            return byte == ASCII.lf ? .done : .failed
        }
    }

    /// `HTTP-version SP 3DIGIT SP reason-phrase CRLF` (RFC 9112 §4). The reason may be empty
    /// or absent together with its space ("HTTP/1.1 101"), as real servers send.
    ///
    /// Outside resynchronisation the line is read as leniently as at least one real client
    /// reads it (docs/RULES.md, *What real clients accept*; Captures/client_acceptance.py), and
    /// each leniency is recorded in `statusLeniencies` for the head's anomalies: "http/1.1",
    /// "HTTP/1", "HTTP/2.0"; more than one SP, or HTAB, after the version; leading zeros in the
    /// status code ("0101"); bytes glued to the code ("101x"). A resync candidate must be strict.
    @inline(__always)
    private mutating func statusLineByte(_ byte: UInt8) -> LineOutcome {
        defer { linePosition += 1 }  // the next byte's index in the line
        switch statusLineState {
        case .version:
            if counter == 6 && !candidate && isWhitespace(byte) {
                // "HTTP/1 101": no minor version (Chromium reads it as 1.0).
                statusLeniencies.insert(.versionWithoutMinor)
                versionMinor = 0
                statusLineState = .afterVersion
                counter = 0
                return statusLineSeparator(byte)
            }
            guard versionByte(byte) else {
                guard !candidate, counter < 4, byte & 0xDF == Self.httpUppercase(counter) else { return .failed }
                statusLeniencies.insert(.versionLowercase)
                counter += 1
                return .needMore
            }
            if counter == 5 { versionMajor = byte &- ASCII.zero }
            if counter == 7 { versionMinor = byte &- ASCII.zero }
            counter += 1
            guard counter == 8 else { return .needMore }
            statusLineState = .afterVersion
            counter = 0
            return .needMore
        case .afterVersion:
            return statusLineSeparator(byte)
        case .statusCode:
            if isDigit(byte) { return statusCodeDigit(byte) }
            guard statusCode >= 100 else { return .failed }
            switch byte {
            case ASCII.space:
                statusLineState = .reason
                reasonStart = linePosition + 1
                return .needMore
            case ASCII.cr:
                statusLineState = .afterCR
                return .needMore
            case ASCII.lf:
                startLineBareLF = true
                return .done
            default:
                // "101x": curl and Chromium take the code and ignore what is glued to it.
                guard !candidate, byte > ASCII.space, byte != ASCII.delete else { return .failed }
                statusLeniencies.insert(.statusCodeTrailingBytes)
                statusLineState = .reason
                reasonStart = linePosition
                lastWasCR = false
                return .needMore
            }
        case .reason:
            if byte == ASCII.lf {
                startLineBareLF = !lastWasCR
                return .done
            }
            lastWasCR = byte == ASCII.cr
            return .needMore
        case .afterCR:
            return byte == ASCII.lf ? .done : .failed
        }
    }

    /// Leading zeros are read as Python's int() reads them ("0101" is 101); the value stays at
    /// most 999, so the line's length is the only bound needed.
    @inline(__always)
    private mutating func statusCodeDigit(_ byte: UInt8) -> LineOutcome {
        let value = statusCode * 10 + Int(byte &- ASCII.zero)
        guard value <= 999 else { return .failed }
        if counter == 0 && byte == ASCII.zero {
            guard !candidate else { return .failed }
            statusLeniencies.insert(.statusCodeLeadingZeros)
        }
        statusCode = value
        counter += 1
        return .needMore
    }

    /// SP (or, leniently, HTAB and more whitespace) between the version and the status code;
    /// `counter` counts the separator bytes so far.
    @inline(__always)
    private mutating func statusLineSeparator(_ byte: UInt8) -> LineOutcome {
        if isDigit(byte) && counter > 0 {
            statusLineState = .statusCode
            counter = 0
            statusCode = 0
            return statusCodeDigit(byte)
        }
        counter += 1
        if byte == ASCII.space && counter == 1 { return .needMore }
        guard !candidate, isWhitespace(byte) else { return .failed }
        statusLeniencies.insert(byte == ASCII.tab ? .statusLineTab : .statusLineExtraWhitespace)
        return .needMore
    }

    /// Byte `counter` (0...7) of "HTTP/" DIGIT "." DIGIT; a resync candidate must be HTTP/1.x.
    @inline(__always)
    private func versionByte(_ byte: UInt8) -> Bool {
        switch counter {
        case 0: return byte == 0x48  // H
        case 1, 2: return byte == 0x54  // T
        case 3: return byte == 0x50  // P
        case 4: return byte == ASCII.slash
        case 5: return isDigit(byte) && (!candidate || byte == ASCII.one)
        case 6: return byte == ASCII.period
        default: return isDigit(byte)
        }
    }

    @inline(__always)
    private static func httpUppercase(_ index: Int) -> UInt8 {
        httpLowercase(index) & ~0x20
    }

    @inline(__always)
    private static func httpLowercase(_ index: Int) -> UInt8 {
        switch index {
        case 0: return 0x68  // h
        case 3: return 0x70  // p
        default: return 0x74  // t
        }
    }

    /// Methods a resync candidate may start with before any target (RFC 9110 §9, RFC 5789, RFC 9113 §3.4).
    private static let knownMethods: [UInt64] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PRI",
    ].map { name in name.utf8.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } }

    private mutating func startLineComplete<D: HTTPParserDelegate>(_ bytes: UnsafeRawBufferPointer, at index: Int,
                                                                  delegate: inout D) -> Int {
        startLineEnd = headBuffer.count
        var major: UInt8
        if role == .request {
            if Self.isHTTP2Preface(headBuffer) {
                // RFC 9113 §3.4: the client connection preface; let the caller sniff it.
                declareNotHTTP(delegate: &delegate)
                return bytes.count
            }
            major = headBuffer[startLineEnd - (startLineBareLF ? 1 : 2) - 3]
        } else {
            major = versionMajor &+ ASCII.zero
            if major == ASCII.zero + 2 && !candidate {
                // "HTTP/2.0 101": curl, Node and Chromium take it (Captures/client_acceptance.py).
                statusLeniencies.insert(.versionMajorTwo)
                major = ASCII.one
            }
        }
        firstMessage = false
        guard major == ASCII.one else {
            report(.invalidVersion, at: messageStart, evidence: headPrefix, delegate: &delegate)
            enterResync(atLineStart: true)
            return index
        }
        candidate = false
        state = .headerLines
        headerLineStart = startLineEnd
        fieldLineCount = 0
        return index
    }

    private static func isHTTP2Preface(_ line: [UInt8]) -> Bool {
        let preface: StaticString = "PRI * HTTP/2.0"
        guard line.count >= preface.utf8CodeUnitCount else { return false }
        return (0..<preface.utf8CodeUnitCount).allSatisfy { line[$0] == preface.utf8Start[$0] }
    }

    /// Head bytes that may still be buffered: the per-head limit, and the shared budget.
    private var headRoom: Int {
        let own = max(0, options.maxHeadBytes - headBuffer.count)
        guard let budget = options.budget else { return own }
        return min(own, budget.available)
    }

    private mutating func chargeHead() {
        let delta = headBuffer.count - charged
        guard delta > 0, let budget = options.budget else { return }
        budget.charge(delta)
        charged += delta
    }

    /// Empties the head buffer, gives its bytes back to the budget, and frees a buffer grown
    /// large by one big head (so idle connections do not keep 64 KiB each).
    private mutating func clearHead() {
        if charged > 0 {
            options.budget?.release(charged)
            charged = 0
        }
        if headBuffer.capacity > 8192 {
            headBuffer = []
        } else {
            headBuffer.removeAll(keepingCapacity: true)
        }
    }

    /// Gives back what this parser holds of the shared budget (the connection is going away).
    public mutating func releaseBudget() {
        clearHead()
    }

    private mutating func headTooLarge<D: HTTPParserDelegate>(at index: Int, delegate: inout D) -> Int {
        let atLineStart = headBuffer.last == ASCII.lf
        if !candidate {
            firstMessage = false
            let budgetSpent = headBuffer.count < options.maxHeadBytes && (options.budget?.available ?? 1) == 0
            report(budgetSpent ? .headBudgetExhausted : .headTooLarge, at: messageStart, evidence: headPrefix,
                   delegate: &delegate)
        }
        enterResync(atLineStart: atLineStart)
        return index
    }

    // MARK: - Field lines and the head

    /// Buffers whole lines (found with a word-at-a-time scan) until the blank line.
    ///
    /// The lines of this chunk are found first and appended with one copy. The room is taken
    /// once: every append below is charged at once, so per line it would only shrink by the
    /// bytes appended (no callback runs in between to spend the shared budget).
    private mutating func parseHeaderLines<D: HTTPParserDelegate>(_ bytes: UnsafeRawBufferPointer, from start: Int,
                                                                 delegate: inout D) -> Int {
        let count = bytes.count
        // `bytes[i]` will be `headBuffer[base + i]`; nothing past `limit` fits.
        let base = headBuffer.count - start
        let limit = start + min(count - start, headRoom)
        var index = start
        while index < count {
            let lineFeed = firstIndex(of: ASCII.lf, in: bytes, from: index, to: count)
            let end = lineFeed.map { $0 + 1 } ?? count
            if end > limit {
                appendHead(bytes, start, limit)
                return headTooLarge(at: limit, delegate: &delegate)
            }
            index = end
            guard lineFeed != nil else { break }
            let lineLength = base + index - headerLineStart
            if lineLength == 1
                || (lineLength == 2 && (headerLineStart < headBuffer.count ? headBuffer[headerLineStart]
                                                                            : bytes[headerLineStart - base]) == ASCII.cr) {
                appendHead(bytes, start, index)
                return headComplete(at: index, delegate: &delegate)
            }
            headerLineStart = base + index
            fieldLineCount += 1
        }
        appendHead(bytes, start, index)
        return index
    }

    @inline(__always)
    private mutating func appendHead(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) {
        headBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        chargeHead()
    }

    private mutating func headComplete<D: HTTPParserDelegate>(at index: Int, delegate: inout D) -> Int {
        let headEnd = offset(index)
        guard let (status, framing, action) = deliverHead(at: headEnd, delegate: &delegate) else {
            enterResync(atLineStart: true)
            return index
        }
        // The head is gone unless the delegate kept it: the buffer is usually ours alone again.
        startBody(status: status, framing: framing, action: action, at: headEnd, delegate: &delegate)
        trimCompletedHead()
        return index
    }

    /// Reads the buffered head and hands it to the delegate; nil after reporting a parse error.
    /// The head keeps the buffer (its field lines are read from it on demand): a reference, not
    /// a copy. Kept apart so that no local holds that reference once the delegate returned.
    @inline(never)
    private func deliverHead<D: HTTPParserDelegate>(at headEnd: UInt64, delegate: inout D)
        -> (status: Int, framing: BodyFraming, action: HTTPHeadAction)? {
        let storage = headBuffer
        let result = storage.withUnsafeBytes { raw in
            HTTPHeadReader(role: role, raw: raw, storage: storage, startLineEnd: startLineEnd,
                           startLineBareLF: startLineBareLF, headOffset: messageStart,
                           fieldLineCount: fieldLineCount,
                           statusLine: StatusLineReading(version: HTTPVersion(major: versionMajor, minor: versionMinor),
                                                         status: statusCode, reasonStart: reasonStart,
                                                         leniencies: statusLeniencies)).read()
        }
        switch result {
        case .failure(let error):
            delegate.parseError(error)
            return nil
        case .success(let (head, framing)):
            let action = delegate.headComplete(head, streamOffset: headEnd)
            return (head.status, framing, action)
        }
    }

    /// A delivered head is no longer needed beyond its evidence prefix: keep that, give the
    /// rest back to the budget (an idle keep-alive connection holds at most 64 bytes).
    private mutating func trimCompletedHead() {
        guard charged > 0 || headBuffer.count > Self.evidenceLimit else { return }
        if charged > 0 {
            options.budget?.release(charged)
            charged = 0
        }
        // The kept prefix is evidence only: not charged. Cut in place (no new array) unless the
        // buffer grew large (see `clearHead`).
        if headBuffer.capacity > 8192 {
            headBuffer = headPrefix
        } else if headBuffer.count > Self.evidenceLimit {
            headBuffer.removeSubrange(Self.evidenceLimit...)
        }
    }

    /// Applies RFC 9112 §6.3 with the delegate's knowledge of the other direction. A message
    /// that has no body (switch, HEAD, 1xx/204/304) ignores its framing fields, even invalid ones
    /// (RFC 9110 §9.3.6: a 2xx to CONNECT ignores them too); their anomalies stay on the head.
    private mutating func startBody<D: HTTPParserDelegate>(status: Int, framing: BodyFraming, action: HTTPHeadAction,
                                                          at offset: UInt64, delegate: inout D) {
        if action == .switchProtocols {
            // The message ends with its head; the next byte belongs to the new protocol.
            pauseAfterMessage = true
            completeMessage(at: offset, delegate: &delegate)
            return
        }
        pauseAfterMessage = action == .pauseAfterMessage
        let bodiless = role == .response && (status < 200 || status == 204 || status == 304)
        if action == .skipBody || bodiless {
            completeMessage(at: offset, delegate: &delegate)
            return
        }
        switch framing {
        case .none:
            completeMessage(at: offset, delegate: &delegate)
        case .length(let length):
            remaining = length
            state = .bodyLength
        case .chunked:
            beginChunkedBody(at: offset)
        case .untilClose:
            state = .untilClose
        case .invalid(let error):
            delegate.parseError(error)
            enterResync(atLineStart: true)
        }
    }

    // MARK: - Bodies

    /// Content-Length bodies: O(1) per chunk, nothing copied.
    private mutating func skipBody<D: HTTPParserDelegate>(_ bytes: UnsafeRawBufferPointer, from start: Int,
                                                         delegate: inout D) -> Int {
        let available = UInt64(bytes.count - start)
        if available < remaining {
            remaining -= available
            return bytes.count
        }
        let end = start + Int(remaining)
        remaining = 0
        completeMessage(at: offset(end), delegate: &delegate)
        return end
    }

    private mutating func beginChunkedBody(at offset: UInt64) {
        state = .chunkedBody
        chunked = ChunkedBodyScanner(startingAt: offset, maxTrailerBytes: options.maxHeadBytes,
                                     evidenceLimit: Self.evidenceLimit)
        clearHead()
    }

    private mutating func scanChunkedBody<D: HTTPParserDelegate>(_ bytes: UnsafeRawBufferPointer, from start: Int,
                                                                delegate: inout D) -> Int {
        let (index, outcome) = chunked.scan(bytes, from: start, base: feedBase)
        switch outcome {
        case .needMore:
            break
        case .complete:
            completeMessage(at: offset(index), delegate: &delegate)
        case .failed(let kind, let at, let evidence, let atLineStart):
            report(kind, at: at, evidence: evidence, delegate: &delegate)
            enterResync(atLineStart: atLineStart)
        }
        return index
    }
}
