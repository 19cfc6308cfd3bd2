/// How the body after a head is delimited, from its header fields alone (RFC 9112 §6.3).
/// The status code and the delegate's `HTTPHeadAction` may still override it.
enum BodyFraming: Equatable {
    case none
    case length(UInt64)
    case chunked
    case untilClose
    case invalid(HTTPParseError)
}

/// Leniencies applied to a status line, each the way at least one real client reads it
/// (docs/RULES.md, *What real clients accept*).
struct StatusLineLeniencies: OptionSet, Sendable {
    let rawValue: UInt8
    static let versionLowercase = StatusLineLeniencies(rawValue: 1 << 0)
    static let versionWithoutMinor = StatusLineLeniencies(rawValue: 1 << 1)
    static let versionMajorTwo = StatusLineLeniencies(rawValue: 1 << 2)
    static let statusLineExtraWhitespace = StatusLineLeniencies(rawValue: 1 << 3)
    static let statusLineTab = StatusLineLeniencies(rawValue: 1 << 4)
    static let statusCodeLeadingZeros = StatusLineLeniencies(rawValue: 1 << 5)
    static let statusCodeTrailingBytes = StatusLineLeniencies(rawValue: 1 << 6)

    /// Each leniency and the anomaly that names it, in the order they are reported.
    static let anomalies: [(StatusLineLeniencies, HTTPAnomaly.Kind)] = [
        (.versionLowercase, .versionLowercase), (.versionWithoutMinor, .versionWithoutMinor),
        (.versionMajorTwo, .versionMajorTwo), (.statusLineExtraWhitespace, .statusLineExtraWhitespace),
        (.statusLineTab, .statusLineTab), (.statusCodeLeadingZeros, .statusCodeLeadingZeros),
        (.statusCodeTrailingBytes, .statusCodeTrailingBytes),
    ]
}

/// What the parser read from a status line while validating it byte by byte.
struct StatusLineReading {
    var version: HTTPVersion
    var status: Int
    /// Index of the reason phrase in the head, 0 when there is none.
    var reasonStart: Int
    var leniencies: StatusLineLeniencies
}

/// Turns a complete, buffered head into an `HTTPMessageHead` and its body framing.
///
/// Runs once per head, after the start line was validated byte by byte, so it may assume the
/// start line's shape; it validates the field lines and names every leniency it applies.
///
/// Field lines are validated in place and not turned into strings: the head keeps the buffer
/// (`HeaderFieldLines`) and strings are built only for what is asked of it. Only a head with
/// obs-fold gets materialised `HTTPField`s (its joined values are not byte ranges of the wire).
struct HTTPHeadReader {
    let role: HTTPRole
    /// The whole head, start line through the blank line.
    let raw: UnsafeRawBufferPointer
    /// The array `raw` points into: the head keeps it (a reference, not a copy).
    let storage: [UInt8]
    /// Index just past the start line's LF.
    let startLineEnd: Int
    let startLineBareLF: Bool
    /// Stream offset of `raw[0]`.
    let headOffset: UInt64
    /// Lines after the start line, blank line included (sizes the field array once).
    let fieldLineCount: Int
    /// For responses: the status line as the parser read it.
    let statusLine: StatusLineReading

    private static let evidenceLimit = 64

    /// What validating the field lines found.
    private struct FieldScan {
        var anomalies: [HTTPAnomaly]
        var bareLFReported: Bool
        var contentLengthLine: Range<Int>?
        var transferEncodingLine: Range<Int>?
        var known = KnownFields()
        /// Only when materialising (a head with obs-fold).
        var fields: [HTTPField] = []
    }

    private enum ScanOutcome {
        case done(FieldScan)
        case failed(HTTPParseError)
        /// An obs-fold line: scan again, materialising.
        case foundFold
    }

    func read() -> Result<(HTTPMessageHead, BodyFraming), HTTPParseError> {
        var anomalies: [HTTPAnomaly] = []
        var bareLFReported = false
        let startContentEnd = startLineEnd - (startLineBareLF ? 1 : 2)
        if startLineBareLF {
            anomalies.append(HTTPAnomaly(.bareLF, evidence: evidence(0, startContentEnd)))
            bareLFReported = true
        }

        var head: HTTPMessageHead
        switch role {
        case .request:
            // method SP target SP HTTP/d.d, neither method nor target containing SP.
            let firstSpace = firstIndex(of: ASCII.space, in: raw, from: 0, to: startContentEnd) ?? 0
            let secondSpace = firstIndex(of: ASCII.space, in: raw, from: firstSpace + 1, to: startContentEnd)
                ?? startContentEnd
            let version = HTTPVersion(major: raw[startContentEnd - 3] &- ASCII.zero,
                                      minor: raw[startContentEnd - 1] &- ASCII.zero)
            head = HTTPMessageHead(kind: .request, method: text(0, firstSpace),
                                   target: text(firstSpace + 1, secondSpace), version: version,
                                   fieldStorage: .materialized([]), byteCount: raw.count)
        case .response:
            let reasonStart = statusLine.reasonStart
            let reason = reasonStart > 0 && startContentEnd > reasonStart ? text(reasonStart, startContentEnd) : ""
            head = HTTPMessageHead(kind: .response, version: statusLine.version, status: statusLine.status,
                                   reason: reason, fieldStorage: .materialized([]), byteCount: raw.count)
            for (leniency, kind) in StatusLineLeniencies.anomalies where statusLine.leniencies.contains(leniency) {
                anomalies.append(HTTPAnomaly(kind, evidence: evidence(0, startContentEnd)))
            }
        }

        let start = FieldScan(anomalies: anomalies, bareLFReported: bareLFReported)
        var scan: FieldScan
        switch scanFields(start, materialize: false) {
        case .failed(let error):
            return .failure(error)
        case .done(let result):
            scan = result
            head.fieldStorage = .wire(HeaderFieldLines(bytes: storage, start: startLineEnd, known: result.known))
        case .foundFold:
            // Rare: start again from the start line's outcome, building the joined fields.
            switch scanFields(start, materialize: true) {
            case .failed(let error):
                return .failure(error)
            case .done(let result):
                scan = result
                head.fieldStorage = .materialized(result.fields)
            case .foundFold:
                preconditionFailure("a materialising scan joins folds")
            }
        }

        let framing = bodyFraming(head, contentLengthLine: scan.contentLengthLine,
                                  transferEncodingLine: scan.transferEncodingLine, anomalies: &scan.anomalies)
        head.anomalies = scan.anomalies
        return .success((head, framing))
    }

    /// Validates the field lines (RFC 9112 §5), naming each leniency. Without `materialize` it
    /// builds no strings and stops at the first obs-fold line (`.foundFold`); the materialising
    /// scan then gives the same anomalies and errors, plus the fields with folds joined.
    private func scanFields(_ initial: FieldScan, materialize: Bool) -> ScanOutcome {
        var scan = initial
        if materialize { scan.fields.reserveCapacity(fieldLineCount) }
        var lineStart = startLineEnd
        var sawField = false
        while lineStart < raw.count {
            // One word-at-a-time scan finds the LF and, on the way, any control byte other than
            // HTAB and the CR of a CRLF. The name before the colon is checked to be a token and
            // the bytes around the value are SP/HTAB, so for a line that passes validation a
            // control byte can only be in its value.
            var lineFeed = -1
            var hasControl = false
            var from = lineStart
            while let index = firstControlIndex(in: raw, from: from, to: raw.count) {
                let byte = raw[index]
                if byte == ASCII.lf {
                    lineFeed = index
                    break
                }
                if byte != ASCII.tab && !(byte == ASCII.cr && index + 1 < raw.count && raw[index + 1] == ASCII.lf) {
                    hasControl = true
                }
                from = index + 1
            }
            guard lineFeed >= 0 else { break }
            var contentEnd = lineFeed
            if contentEnd > lineStart && raw[contentEnd - 1] == ASCII.cr {
                contentEnd -= 1
            } else if !scan.bareLFReported {
                scan.anomalies.append(HTTPAnomaly(.bareLF, evidence: evidence(lineStart, contentEnd)))
                scan.bareLFReported = true
            }
            defer { lineStart = lineFeed + 1 }
            if contentEnd == lineStart { break }  // the blank line ending the head

            if isWhitespace(raw[lineStart]) {
                // obs-fold (RFC 9112 §5.2): only valid as the continuation of a field. In a
                // response with no field before it, real clients skip the line (as we do,
                // materialising so that the stored lines hold only fields).
                guard sawField || role == .response else { return .failed(error(.invalidHeader, lineStart, contentEnd)) }
                guard materialize else { return .foundFold }
                if !sawField {
                    scan.anomalies.append(HTTPAnomaly(.foldWithoutField, evidence: evidence(lineStart, contentEnd)))
                    continue
                }
                scan.anomalies.append(HTTPAnomaly(.obsFold, evidence: evidence(lineStart, contentEnd)))
                let (valueStart, valueEnd) = trimmed(lineStart, contentEnd)
                if hasControl {
                    scan.anomalies.append(HTTPAnomaly(.invalidFieldValue, evidence: evidence(lineStart, contentEnd)))
                }
                if valueStart < valueEnd {
                    let continuation = text(valueStart, valueEnd)
                    let last = scan.fields.count - 1
                    scan.fields[last].value = scan.fields[last].value.isEmpty
                        ? continuation : scan.fields[last].value + " " + continuation
                }
                continue
            }

            guard let colon = firstIndex(of: ASCII.colon, in: raw, from: lineStart, to: contentEnd) else {
                // curl, Python's http.client and Chromium take a response whose field line has
                // no colon; Switchyard ignores the line, as curl and Chromium do.
                guard role == .response else { return .failed(error(.invalidHeader, lineStart, contentEnd)) }
                scan.anomalies.append(HTTPAnomaly(.headerLineWithoutColon, evidence: evidence(lineStart, contentEnd)))
                continue
            }
            var nameEnd = colon
            while nameEnd > lineStart && isWhitespace(raw[nameEnd - 1]) { nameEnd -= 1 }
            guard nameEnd > lineStart else { return .failed(error(.invalidHeader, lineStart, contentEnd)) }
            if !allTokenBytes(in: raw, from: lineStart, to: nameEnd) {
                // A name with visible bytes that are not tchar ("X Bad"): the same clients take
                // it as a field. Control bytes in a name are never taken.
                guard role == .response, allVisibleOrBlank(lineStart, nameEnd) else {
                    return .failed(error(.invalidHeader, lineStart, contentEnd))
                }
                scan.anomalies.append(HTTPAnomaly(.invalidFieldName, evidence: evidence(lineStart, contentEnd)))
            }
            if nameEnd != colon {
                scan.anomalies.append(HTTPAnomaly(.whitespaceBeforeColon, evidence: evidence(lineStart, contentEnd)))
            }
            let (valueStart, valueEnd) = trimmed(colon + 1, contentEnd)
            if hasControl {
                scan.anomalies.append(HTTPAnomaly(.invalidFieldValue, evidence: evidence(lineStart, contentEnd)))
            }
            let kind = KnownFields.classify(UnsafeRawBufferPointer(rebasing: raw[lineStart..<nameEnd]))
            if !kind.isEmpty {
                if kind == .contentLength && scan.contentLengthLine == nil {
                    scan.contentLengthLine = lineStart..<contentEnd
                } else if kind == .transferEncoding && scan.transferEncodingLine == nil {
                    scan.transferEncodingLine = lineStart..<contentEnd
                }
                scan.known.insert(kind)
            }
            sawField = true
            if materialize {
                scan.fields.append(HTTPField(name: text(lineStart, nameEnd), value: text(valueStart, valueEnd)))
            }
        }
        return .done(scan)
    }

    /// RFC 9112 §6.3 items 3–7, naming the ambiguities it resolves.
    private func bodyFraming(_ head: HTTPMessageHead, contentLengthLine: Range<Int>?,
                             transferEncodingLine: Range<Int>?, anomalies: inout [HTTPAnomaly]) -> BodyFraming {
        // Content-Length: every member of every field must be digits and agree (RFC 9110 §8.6).
        var tally = ContentLengthTally()
        if contentLengthLine != nil {
            switch head.fieldStorage {
            case .wire(let lines):
                HeaderFieldLines.forEachField(raw, from: lines.start) { name, value in
                    if equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: raw[name]), "content-length") {
                        tally.add(UnsafeRawBufferPointer(rebasing: raw[value]))
                    }
                    return true
                }
            case .materialized(let fields):
                for field in fields where nameEquals(field.name, "content-length") {
                    tally.add(field.value.utf8)
                }
            }
        }
        var lengthValues: String { head.values("Content-Length").joined(separator: ", ") }
        if tally.conflict {
            anomalies.append(HTTPAnomaly(.conflictingContentLength, evidence: capped(lengthValues)))
        } else if tally.count > 1 && !tally.invalid {
            anomalies.append(HTTPAnomaly(.duplicateContentLength, evidence: capped(lengthValues)))
        }

        if let transferEncodingLine {
            if contentLengthLine != nil {
                let both = "Transfer-Encoding: \(head.values("Transfer-Encoding").joined(separator: ", ")); "
                    + "Content-Length: \(lengthValues)"
                anomalies.append(HTTPAnomaly(.contentLengthWithTransferEncoding, evidence: capped(both)))
            }
            let codings = head.listMembers("Transfer-Encoding")
            if let last = codings.last, last.lowercased() == "chunked" { return .chunked }
            guard role == .request else { return .untilClose }
            anomalies.append(HTTPAnomaly(.transferEncodingNotChunked, evidence: capped(codings.joined(separator: ", "))))
            return .invalid(error(.invalidHeader, transferEncodingLine.lowerBound, transferEncodingLine.upperBound))
        }
        if let contentLengthLine {
            guard let length = tally.length, !tally.invalid, !tally.conflict else {
                return .invalid(error(.invalidContentLength, contentLengthLine.lowerBound, contentLengthLine.upperBound))
            }
            return length == 0 ? .none : .length(length)
        }
        return role == .request ? .none : .untilClose
    }

    /// Content-Length over all its fields: a field with any member that is not 1*DIGIT is
    /// invalid and contributes nothing; the numbers of the others must agree.
    private struct ContentLengthTally {
        var length: UInt64?
        var count = 0
        var invalid = false
        var conflict = false

        mutating func add<Bytes: Sequence<UInt8>>(_ value: Bytes) {
            // Validate the whole field first: an invalid member voids the field's other members.
            guard HTTPHeadReader.forEachContentLength(value, { _ in }) else {
                invalid = true
                return
            }
            _ = HTTPHeadReader.forEachContentLength(value) { number in
                count += 1
                if let first = length, first != number { conflict = true } else { length = number }
            }
        }
    }

    /// Calls `body` with the numbers of one Content-Length field value ("5" or "5, 5") and
    /// returns true, or returns false when a member is not 1*DIGIT or the field has none
    /// (`body` may then have been called for the members before). Empty list members are
    /// ignored (RFC 9110 §5.6.1).
    @inline(__always)
    static func forEachContentLength<Bytes: Sequence<UInt8>>(_ value: Bytes, _ body: (UInt64) -> Void) -> Bool {
        var current: UInt64 = 0
        var digits = 0
        var trailingSpace = false
        var any = false
        for byte in value {
            if isDigit(byte) {
                guard !trailingSpace, current <= (UInt64.max - 9) / 10 else { return false }
                current = current * 10 + UInt64(byte - ASCII.zero)
                digits += 1
            } else if byte == ASCII.comma {
                if digits > 0 {
                    body(current)
                    any = true
                }
                current = 0
                digits = 0
                trailingSpace = false
            } else if isWhitespace(byte) {
                if digits > 0 { trailingSpace = true }
            } else {
                return false
            }
        }
        if digits > 0 {
            body(current)
            any = true
        }
        return any
    }

    /// Whether `raw[start..<end]` holds only VCHAR, SP and HTAB.
    private func allVisibleOrBlank(_ start: Int, _ end: Int) -> Bool {
        (start..<end).allSatisfy { raw[$0] == ASCII.tab || (raw[$0] >= ASCII.space && raw[$0] < ASCII.delete) }
    }

    private func trimmed(_ start: Int, _ end: Int) -> (Int, Int) {
        var start = start, end = end
        while start < end && isWhitespace(raw[start]) { start += 1 }
        while end > start && isWhitespace(raw[end - 1]) { end -= 1 }
        return (start, end)
    }

    /// Anomaly evidence, at most `evidenceLimit` bytes of the line.
    private func evidence(_ start: Int, _ end: Int) -> String {
        text(start, min(end, start + Self.evidenceLimit))
    }

    private func capped(_ value: String) -> String {
        value.utf8.count <= Self.evidenceLimit ? value : String(decoding: value.utf8.prefix(Self.evidenceLimit), as: UTF8.self)
    }

    private func text(_ start: Int, _ end: Int) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: raw[start..<max(start, end)]), as: UTF8.self)
    }

    private func error(_ kind: HTTPParseError.Kind, _ start: Int, _ end: Int) -> HTTPParseError {
        let evidenceEnd = min(end, start + Self.evidenceLimit)
        return HTTPParseError(kind, streamOffset: headOffset &+ UInt64(start),
                              evidence: Array(raw[start..<max(start, evidenceEnd)]))
    }
}
