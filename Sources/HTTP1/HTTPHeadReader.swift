/// How the body after a head is delimited, from its header fields alone (RFC 9112 §6.3).
/// The status code and the delegate's `HTTPHeadAction` may still override it.
enum BodyFraming: Equatable {
    case none
    case length(UInt64)
    case chunked
    case untilClose
    case invalid(HTTPParseError)
}

/// Turns a complete, buffered head into an `HTTPMessageHead` and its body framing.
///
/// Runs once per head, after the start line was validated byte by byte, so it may assume the
/// start line's shape; it validates the field lines and names every leniency it applies.
struct HTTPHeadReader {
    let role: HTTPRole
    /// The whole head, start line through the blank line.
    let raw: UnsafeRawBufferPointer
    /// Index just past the start line's LF.
    let startLineEnd: Int
    let startLineBareLF: Bool
    /// Stream offset of `raw[0]`.
    let headOffset: UInt64
    /// Lines after the start line, blank line included (sizes the field array once).
    let fieldLineCount: Int

    private static let evidenceLimit = 64

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
                                   fields: [], byteCount: raw.count)
        case .response:
            // HTTP/d.d SP 3DIGIT [SP reason]
            let version = HTTPVersion(major: raw[5] &- ASCII.zero, minor: raw[7] &- ASCII.zero)
            var status = 0
            for index in 9..<12 { status = status * 10 + Int(raw[index] &- ASCII.zero) }
            let reason = startContentEnd > 13 ? text(13, startContentEnd) : ""
            head = HTTPMessageHead(kind: .response, version: version, status: status, reason: reason,
                                   fields: [], byteCount: raw.count)
        }

        var fields: [HTTPField] = []
        fields.reserveCapacity(fieldLineCount)
        var contentLengthLine: Range<Int>?
        var transferEncodingLine: Range<Int>?
        var lineStart = startLineEnd
        while lineStart < raw.count {
            guard let lineFeed = firstIndex(of: ASCII.lf, in: raw, from: lineStart, to: raw.count) else { break }
            var contentEnd = lineFeed
            if contentEnd > lineStart && raw[contentEnd - 1] == ASCII.cr {
                contentEnd -= 1
            } else if !bareLFReported {
                anomalies.append(HTTPAnomaly(.bareLF, evidence: evidence(lineStart, contentEnd)))
                bareLFReported = true
            }
            defer { lineStart = lineFeed + 1 }
            if contentEnd == lineStart { break }  // the blank line ending the head

            if isWhitespace(raw[lineStart]) {
                // obs-fold (RFC 9112 §5.2): only valid as the continuation of a field.
                guard !fields.isEmpty else { return .failure(error(.invalidHeader, lineStart, contentEnd)) }
                anomalies.append(HTTPAnomaly(.obsFold, evidence: evidence(lineStart, contentEnd)))
                let (valueStart, valueEnd) = trimmed(lineStart, contentEnd)
                if containsInvalidValueByte(valueStart, valueEnd) {
                    anomalies.append(HTTPAnomaly(.invalidFieldValue, evidence: evidence(lineStart, contentEnd)))
                }
                if valueStart < valueEnd {
                    let continuation = text(valueStart, valueEnd)
                    let last = fields.count - 1
                    fields[last].value = fields[last].value.isEmpty ? continuation : fields[last].value + " " + continuation
                }
                continue
            }

            guard let colon = firstIndex(of: ASCII.colon, in: raw, from: lineStart, to: contentEnd) else {
                return .failure(error(.invalidHeader, lineStart, contentEnd))
            }
            var nameEnd = colon
            while nameEnd > lineStart && isWhitespace(raw[nameEnd - 1]) { nameEnd -= 1 }
            guard nameEnd > lineStart, (lineStart..<nameEnd).allSatisfy({ isTokenByte(raw[$0]) }) else {
                return .failure(error(.invalidHeader, lineStart, contentEnd))
            }
            if nameEnd != colon {
                anomalies.append(HTTPAnomaly(.whitespaceBeforeColon, evidence: evidence(lineStart, contentEnd)))
            }
            let (valueStart, valueEnd) = trimmed(colon + 1, contentEnd)
            if containsInvalidValueByte(valueStart, valueEnd) {
                anomalies.append(HTTPAnomaly(.invalidFieldValue, evidence: evidence(lineStart, contentEnd)))
            }
            let nameBytes = UnsafeRawBufferPointer(rebasing: raw[lineStart..<nameEnd])
            if contentLengthLine == nil && equalsIgnoringCase(nameBytes, "content-length") {
                contentLengthLine = lineStart..<contentEnd
            } else if transferEncodingLine == nil && equalsIgnoringCase(nameBytes, "transfer-encoding") {
                transferEncodingLine = lineStart..<contentEnd
            }
            fields.append(HTTPField(name: text(lineStart, nameEnd), value: text(valueStart, valueEnd)))
        }
        head.fields = fields

        let framing = bodyFraming(head, contentLengthLine: contentLengthLine,
                                  transferEncodingLine: transferEncodingLine, anomalies: &anomalies)
        head.anomalies = anomalies
        return .success((head, framing))
    }

    /// RFC 9112 §6.3 items 3–7, naming the ambiguities it resolves.
    private func bodyFraming(_ head: HTTPMessageHead, contentLengthLine: Range<Int>?,
                             transferEncodingLine: Range<Int>?, anomalies: inout [HTTPAnomaly]) -> BodyFraming {
        // Content-Length: every member of every field must be digits and agree (RFC 9110 §8.6).
        var length: UInt64?
        var lengthCount = 0
        var lengthInvalid = false
        var lengthConflict = false
        for field in head.fields where nameEquals(field.name, "content-length") {
            guard let values = Self.contentLengthValues(field.value) else {
                lengthInvalid = true
                continue
            }
            for value in values {
                lengthCount += 1
                if let first = length, first != value { lengthConflict = true } else { length = value }
            }
        }
        var lengthValues: String { head.values("Content-Length").joined(separator: ", ") }
        if lengthConflict {
            anomalies.append(HTTPAnomaly(.conflictingContentLength, evidence: capped(lengthValues)))
        } else if lengthCount > 1 && !lengthInvalid {
            anomalies.append(HTTPAnomaly(.duplicateContentLength, evidence: capped(lengthValues)))
        }

        if let transferEncodingLine {
            let codings = head.listMembers("Transfer-Encoding")
            if contentLengthLine != nil {
                let both = "Transfer-Encoding: \(head.values("Transfer-Encoding").joined(separator: ", ")); "
                    + "Content-Length: \(lengthValues)"
                anomalies.append(HTTPAnomaly(.contentLengthWithTransferEncoding, evidence: capped(both)))
            }
            if let last = codings.last, last.lowercased() == "chunked" { return .chunked }
            guard role == .request else { return .untilClose }
            anomalies.append(HTTPAnomaly(.transferEncodingNotChunked, evidence: capped(codings.joined(separator: ", "))))
            return .invalid(error(.invalidHeader, transferEncodingLine.lowerBound, transferEncodingLine.upperBound))
        }
        if let contentLengthLine {
            guard let length, !lengthInvalid, !lengthConflict else {
                return .invalid(error(.invalidContentLength, contentLengthLine.lowerBound, contentLengthLine.upperBound))
            }
            return length == 0 ? .none : .length(length)
        }
        return role == .request ? .none : .untilClose
    }

    /// The numbers of one Content-Length field value ("5" or "5, 5"), or nil when any member is
    /// not 1*DIGIT or the field has none. Empty list members are ignored (RFC 9110 §5.6.1).
    static func contentLengthValues(_ value: String) -> [UInt64]? {
        var values: [UInt64] = []
        var current: UInt64 = 0
        var digits = 0
        var trailingSpace = false
        for byte in value.utf8 {
            if isDigit(byte) {
                guard !trailingSpace, current <= (UInt64.max - 9) / 10 else { return nil }
                current = current * 10 + UInt64(byte - ASCII.zero)
                digits += 1
            } else if byte == ASCII.comma {
                if digits > 0 { values.append(current) }
                current = 0
                digits = 0
                trailingSpace = false
            } else if isWhitespace(byte) {
                if digits > 0 { trailingSpace = true }
            } else {
                return nil
            }
        }
        if digits > 0 { values.append(current) }
        return values.isEmpty ? nil : values
    }

    private func trimmed(_ start: Int, _ end: Int) -> (Int, Int) {
        var start = start, end = end
        while start < end && isWhitespace(raw[start]) { start += 1 }
        while end > start && isWhitespace(raw[end - 1]) { end -= 1 }
        return (start, end)
    }

    private func containsInvalidValueByte(_ start: Int, _ end: Int) -> Bool {
        var index = start
        while index < end {
            if isInvalidFieldValueByte(raw[index]) { return true }
            index &+= 1
        }
        return false
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
