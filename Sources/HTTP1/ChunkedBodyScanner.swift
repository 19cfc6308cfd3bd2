/// Skips a chunked message body (RFC 9112 §7.1) without copying it: chunk-size lines are
/// validated byte by byte, chunk data is skipped by length, the trailer section is skipped line
/// by line up to its blank line. One scanner per body; `HTTPMessageParser` owns it while the
/// body lasts.
///
/// Like the parser, it decides only from stream positions, never from where a chunk of input
/// ends: every line is scanned byte by byte or with bounded counters, nothing depends on what
/// arrived together.
struct ChunkedBodyScanner {
    /// Where in the body the scanner is.
    enum Phase: UInt8 {
        case sizeLine      // chunk-size [ chunk-ext ] CRLF
        case data          // `remaining` chunk bytes to skip
        case dataEnd       // the CRLF after chunk data
        case trailers      // trailer section up to its blank line (RFC 9112 §7.1.2)
    }

    /// States of the chunk-size line, named after the grammar of RFC 9112 §7.1.1:
    /// `chunk-size [ chunk-ext ] CRLF` with
    /// `chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )`.
    enum SizeLineState: UInt8 {
        case firstDigit
        case moreDigits
        case afterSize              // BWS after the size
        case beforeExtensionName    // BWS after ";"
        case extensionName
        case afterExtensionName     // BWS before "=" or the next ";"
        case beforeExtensionValue   // BWS after "="
        case tokenValue
        case quotedValue
        case quotedPair
        case afterExtensionValue    // BWS after a value
        case afterCR
    }

    /// What a call to `scan` ended with.
    enum Outcome: Equatable {
        /// Every byte given was consumed; the body goes on.
        case needMore
        /// The body ended just before the returned index.
        case complete
        /// The body cannot be followed from here: report `kind` at `offset` with `evidence`,
        /// then resynchronise (at a line start when `atLineStart`).
        case failed(HTTPParseError.Kind, offset: UInt64, evidence: [UInt8], atLineStart: Bool)
    }

    /// Longest chunk-size line, extensions included. It is scanned, not buffered; the bound
    /// keeps a stream that never ends the line from hiding inside a chunked body.
    static let maxSizeLineBytes = 4096

    private(set) var phase = Phase.sizeLine
    private var sizeLineState = SizeLineState.firstDigit
    /// Chunk size while reading a size line, then the chunk bytes left to skip.
    private var remaining: UInt64 = 0
    /// Bytes of the current size line, or of the current trailer line's content.
    private var counter = 0
    private var lastWasCR = false
    private var trailerBytes = 0
    /// Stream offset of the current size line, chunk-data terminator or trailer section.
    private var lineStart: UInt64
    /// The current size line's (or terminator's) first bytes, for evidence.
    private var evidence: [UInt8] = []
    /// The trailer section is bounded like a head.
    private let maxTrailerBytes: Int
    private let evidenceLimit: Int

    init(startingAt offset: UInt64, maxTrailerBytes: Int, evidenceLimit: Int) {
        lineStart = offset
        self.maxTrailerBytes = maxTrailerBytes
        self.evidenceLimit = evidenceLimit
    }

    /// Consumes `bytes[start...]` as far as the body goes; `base` is the stream offset of
    /// `bytes[0]`. Returns the index reached and how the body stands there.
    mutating func scan(_ bytes: UnsafeRawBufferPointer, from start: Int, base: UInt64) -> (Int, Outcome) {
        var index = start
        while index < bytes.count {
            let outcome: Outcome
            switch phase {
            case .sizeLine: (index, outcome) = scanSizeLine(bytes, from: index, base: base)
            case .data: (index, outcome) = skipData(bytes, from: index, base: base)
            case .dataEnd: (index, outcome) = scanDataEnd(bytes, from: index, base: base)
            case .trailers: (index, outcome) = scanTrailers(bytes, from: index)
            }
            if outcome != .needMore { return (index, outcome) }
        }
        return (index, .needMore)
    }

    /// `length` bytes at stream offset `offset` are missing: true when they fall inside chunk
    /// data (skipped in sync), false when the body can no longer be followed.
    mutating func gap(length: UInt64, at offset: UInt64) -> Bool {
        guard phase == .data, length <= remaining else { return false }
        remaining -= length
        if remaining == 0 { beginDataEnd(at: offset &+ length) }
        return true
    }

    // MARK: - Chunk-size lines

    private mutating func beginSizeLine(at offset: UInt64) {
        phase = .sizeLine
        sizeLineState = .firstDigit
        counter = 0
        remaining = 0
        lineStart = offset
        evidence.removeAll(keepingCapacity: true)
    }

    private mutating func scanSizeLine(_ bytes: UnsafeRawBufferPointer, from start: Int, base: UInt64) -> (Int, Outcome) {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if evidence.count < evidenceLimit { evidence.append(byte) }
            counter += 1
            let outcome = counter > Self.maxSizeLineBytes ? LineOutcome.failed : sizeLineByte(byte)
            switch outcome {
            case .needMore:
                continue
            case .done:
                if remaining == 0 {
                    beginTrailers(at: base &+ UInt64(index))
                } else {
                    phase = .data
                }
                return (index, .needMore)
            case .failed:
                return (index, .failed(.invalidChunk, offset: lineStart, evidence: evidence,
                                       atLineStart: byte == ASCII.lf))
            }
        }
        return (index, .needMore)
    }

    /// One byte of a chunk-size line. A bare LF is tolerated here, as by most servers.
    @inline(__always)
    private mutating func sizeLineByte(_ byte: UInt8) -> LineOutcome {
        switch sizeLineState {
        case .firstDigit:
            guard let digit = hexValue(byte) else { return .failed }
            remaining = UInt64(digit)
            sizeLineState = .moreDigits
            return .needMore
        case .moreDigits:
            if let digit = hexValue(byte) {
                guard remaining <= UInt64.max >> 4 else { return .failed }
                remaining = remaining << 4 | UInt64(digit)
                return .needMore
            }
            return endOrExtension(byte, whitespaceState: .afterSize)
        case .afterSize, .afterExtensionValue:
            return endOrExtension(byte, whitespaceState: sizeLineState)
        case .beforeExtensionName:
            if isWhitespace(byte) { return .needMore }
            guard isTokenByte(byte) else { return .failed }
            sizeLineState = .extensionName
            return .needMore
        case .extensionName:
            if isTokenByte(byte) { return .needMore }
            if byte == ASCII.equals {
                sizeLineState = .beforeExtensionValue
                return .needMore
            }
            return endOrExtension(byte, whitespaceState: .afterExtensionName)
        case .afterExtensionName:
            if byte == ASCII.equals {
                sizeLineState = .beforeExtensionValue
                return .needMore
            }
            return endOrExtension(byte, whitespaceState: .afterExtensionName)
        case .beforeExtensionValue:
            if isWhitespace(byte) { return .needMore }
            if byte == ASCII.quote {
                sizeLineState = .quotedValue
                return .needMore
            }
            guard isTokenByte(byte) else { return .failed }
            sizeLineState = .tokenValue
            return .needMore
        case .tokenValue:
            if isTokenByte(byte) { return .needMore }
            return endOrExtension(byte, whitespaceState: .afterExtensionValue)
        case .quotedValue:
            if byte == ASCII.quote {
                sizeLineState = .afterExtensionValue
                return .needMore
            }
            if byte == ASCII.backslash {
                sizeLineState = .quotedPair
                return .needMore
            }
            return isQuotedTextByte(byte) ? .needMore : .failed
        case .quotedPair:
            guard isQuotedTextByte(byte) || byte == ASCII.quote || byte == ASCII.backslash else { return .failed }
            sizeLineState = .quotedValue
            return .needMore
        case .afterCR:
            return byte == ASCII.lf ? .done : .failed
        }
    }

    @inline(__always)
    private mutating func endOrExtension(_ byte: UInt8, whitespaceState: SizeLineState) -> LineOutcome {
        switch byte {
        case ASCII.space, ASCII.tab:
            sizeLineState = whitespaceState
            return .needMore
        case ASCII.semicolon:
            sizeLineState = .beforeExtensionName
            return .needMore
        case ASCII.cr:
            sizeLineState = .afterCR
            return .needMore
        case ASCII.lf:
            return .done
        default:
            return .failed
        }
    }

    /// qdtext and the bytes of a quoted-pair (RFC 9110 §5.6.4): HTAB, SP, VCHAR, obs-text.
    @inline(__always)
    private func isQuotedTextByte(_ byte: UInt8) -> Bool {
        byte == ASCII.tab || (byte >= ASCII.space && byte != ASCII.delete)
    }

    // MARK: - Chunk data and its terminator

    /// O(1) per input chunk, nothing copied.
    private mutating func skipData(_ bytes: UnsafeRawBufferPointer, from start: Int, base: UInt64) -> (Int, Outcome) {
        let available = UInt64(bytes.count - start)
        if available < remaining {
            remaining -= available
            return (bytes.count, .needMore)
        }
        let end = start + Int(remaining)
        remaining = 0
        beginDataEnd(at: base &+ UInt64(end))
        return (end, .needMore)
    }

    private mutating func beginDataEnd(at offset: UInt64) {
        phase = .dataEnd
        lastWasCR = false
        lineStart = offset
        evidence.removeAll(keepingCapacity: true)
    }

    private mutating func scanDataEnd(_ bytes: UnsafeRawBufferPointer, from start: Int, base: UInt64) -> (Int, Outcome) {
        let byte = bytes[start]
        let index = start + 1
        evidence.append(byte)
        if !lastWasCR && byte == ASCII.cr {
            lastWasCR = true
        } else if byte == ASCII.lf {
            beginSizeLine(at: base &+ UInt64(index))
        } else {
            return (index, .failed(.invalidChunk, offset: lineStart, evidence: evidence, atLineStart: false))
        }
        return (index, .needMore)
    }

    // MARK: - Trailer section

    private mutating func beginTrailers(at offset: UInt64) {
        phase = .trailers
        counter = 0
        lastWasCR = false
        trailerBytes = 0
        lineStart = offset
    }

    /// Skipped line by line (a word-at-a-time scan) up to the blank line, bounded like a head.
    private mutating func scanTrailers(_ bytes: UnsafeRawBufferPointer, from start: Int) -> (Int, Outcome) {
        let count = bytes.count
        var index = start
        while index < count {
            let lineFeed = firstIndex(of: ASCII.lf, in: bytes, from: index, to: count)
            let end = lineFeed.map { $0 + 1 } ?? count
            let room = max(0, maxTrailerBytes - trailerBytes)
            if end - index > room {
                return (index + room, .failed(.headTooLarge, offset: lineStart, evidence: [], atLineStart: false))
            }
            trailerBytes += end - index
            let contentEnd = lineFeed ?? count
            if contentEnd > index {
                counter += contentEnd - index
                lastWasCR = bytes[contentEnd - 1] == ASCII.cr
            }
            index = end
            guard lineFeed != nil else { break }
            if counter == 0 || (counter == 1 && lastWasCR) {
                return (index, .complete)
            }
            counter = 0
            lastWasCR = false
        }
        return (index, .needMore)
    }
}

/// How a byte-by-byte line validator stands after a byte.
enum LineOutcome { case needMore, done, failed }
