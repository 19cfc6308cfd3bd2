import Findings
import HTTP1
import StreamReassembly

/// Parser callbacks for the client → server direction.
///
/// Once the client direction is ignored (a tunnel, possibly decided by a callback in the
/// middle of a chunk), the events from the rest of that chunk are dropped, as later chunks
/// are not fed at all (see `ResponseDelegate`). `.proceed`, not a pause: a pause would make
/// `clientData` put the direction back into holding.
struct RequestDelegate: HTTPParserDelegate {
    /// Unretained: a delegate lives only for one call on the tracker's own parser, while the
    /// tracker is alive (a checked `unowned` costs a retain per chunk).
    unowned(unsafe) let tracker: UpgradeTracker

    init(tracker: UpgradeTracker) {
        self.tracker = tracker
    }

    mutating func headComplete(_ head: HTTPMessageHead, streamOffset: UInt64) -> HTTPHeadAction {
        if tracker.client.phase == .ignored { return .proceed }
        return tracker.requestHead(head, streamOffset: streamOffset)
    }

    mutating func messageComplete(streamOffset: UInt64) {
        guard tracker.client.phase != .ignored else { return }
        tracker.requestComplete(streamOffset: streamOffset)
    }

    mutating func parseError(_ error: HTTPParseError) {
        guard tracker.client.phase != .ignored else { return }
        tracker.parseError(error, .clientToServer)
    }
}

extension UpgradeTracker {
    func requestHead(_ head: HTTPMessageHead, streamOffset: UInt64) -> HTTPHeadAction {
        statistics.requests &+= 1
        client.anyRequestSeen = true
        reportAnomalies(head, .clientToServer)

        let upgrade = head.listMembers("Upgrade")
        let hasUpgrade = head.contains("Upgrade")
        let connectionUpgrade = head.listContains("Connection", token: "upgrade")
        if hasUpgrade && !connectionUpgrade {
            report(.httpUpgradeMissingConnectionToken, .clientToServer,
                   "The request carries Upgrade but its Connection header lacks the `upgrade` option.",
                   ["upgrade": .texts(head.values("Upgrade")), "connection": .texts(head.values("Connection"))])
        } else if connectionUpgrade && !hasUpgrade {
            report(.httpConnectionUpgradeWithoutUpgrade, .clientToServer,
                   "The request's Connection header names `upgrade` but there is no Upgrade header.",
                   ["connection": .texts(head.values("Connection"))])
        }

        if hasOpenExchange { exchangeNextRequest(head) }
        let request = PendingRequest(
            sequence: queue.nextSequence, head: head, frame: frame, timestamp: timestamp,
            method: head.method, version: head.version, upgradeOffered: upgrade, hasUpgradeHeader: hasUpgrade,
            expectsContinue: head.listContains("Expect", token: "100-continue"),
            isExchangeCandidate: isExchangeCandidate(head, hasUpgrade: hasUpgrade, connectionUpgrade: connectionUpgrade))
        queue.nextSequence &+= 1
        if queue.pending.count < options.maxPendingRequests {
            queue.pending.append(request)
            queue.parsing = request.sequence
        } else {
            queue.parsing = nil
            if !queue.limitReported {
                queue.limitReported = true
                reportLimit("http_max_pending_requests",
                            "more than \(options.maxPendingRequests) requests awaited responses; later ones are not paired",
                            .clientToServer)
            }
        }
        // A request that may switch protocols: what the client sends after it depends on the answer.
        if hasUpgrade || connectionUpgrade || head.method == "CONNECT" {
            return .pauseAfterMessage
        }
        return .proceed
    }

    func requestComplete(streamOffset: UInt64) {
        defer { queue.parsing = nil }
        guard let sequence = queue.parsing else { return }
        queue.lastCompleted = sequence
        if let index = queue.pending.lastIndex(where: { $0.sequence == sequence }) {
            queue.pending[index].complete = true
            queue.pending[index].endOffset = streamOffset
        } else if let answered = queue.lastAnswered, answered.sequence == sequence, answered.switched {
            // The 101 came before the body ended: the new protocol starts here.
            switchRecord?.clientHandoffOffset = streamOffset
        }
    }

    func reportAnomalies(_ head: HTTPMessageHead, _ direction: Direction) {
        for anomaly in head.anomalies {
            let rule: Rule
            switch anomaly.kind {
            case .obsFold: rule = .httpObsFold
            case .whitespaceBeforeColon: rule = .httpWhitespaceBeforeColon
            case .conflictingContentLength: rule = .httpConflictingContentLength
            case .contentLengthWithTransferEncoding: rule = .httpContentLengthWithTransferEncoding
            case .foldWithoutField: rule = .httpObsFold
            case .versionLowercase, .versionWithoutMinor, .versionMajorTwo: rule = .httpLenientVersion
            case .statusLineExtraWhitespace, .statusLineTab: rule = .httpStatusLineWhitespace
            case .statusCodeLeadingZeros, .statusCodeTrailingBytes: rule = .httpLenientStatusCode
            case .headerLineWithoutColon: rule = .httpHeaderLineWithoutColon
            case .invalidFieldName: rule = .httpInvalidFieldName
            case .duplicateContentLength, .bareLF, .invalidFieldValue, .transferEncodingNotChunked:
                rule = .httpMalformedMessage
            }
            if anomaly.kind == .conflictingContentLength {
                // The parser's invalid_content_length error for this head says the same thing.
                conflictingLengthReported[direction.rawValue] = true
            }
            var evidence: Evidence = ["anomaly": .text(anomaly.kind.rawValue), "line": .text(anomaly.evidence)]
            if direction == .serverToClient, let accepted = ClientAcceptance.acceptedBy(anomaly.kind) {
                evidence.append("accepted_by", .texts(accepted))
                evidence.append("rejected_by", .texts(ClientAcceptance.rejectedBy(anomaly.kind) ?? []))
            }
            report(rule, direction, anomalyMessage(anomaly.kind), evidence)
        }
    }

    private func anomalyMessage(_ kind: HTTPAnomaly.Kind) -> String {
        switch kind {
        case .obsFold: return "A header field value is folded onto a continuation line (obs-fold)."
        case .whitespaceBeforeColon: return "A header field name is followed by whitespace before the colon."
        case .duplicateContentLength: return "Content-Length is repeated (with equal values)."
        case .conflictingContentLength: return "Content-Length values disagree, so the message length is ambiguous."
        case .contentLengthWithTransferEncoding: return "The message has both Transfer-Encoding and Content-Length."
        case .transferEncodingNotChunked: return "The request's Transfer-Encoding does not end in chunked."
        case .bareLF: return "A line ends in a bare LF instead of CRLF."
        case .invalidFieldValue: return "A header field value contains a control character."
        case .versionLowercase: return "The status line's protocol name is not upper case (http/…)."
        case .versionWithoutMinor: return "The status line's version has no minor number (HTTP/1)."
        case .versionMajorTwo: return "An HTTP/1.x status line says HTTP/2.0."
        case .statusLineExtraWhitespace: return "More than one space separates the version from the status code."
        case .statusLineTab: return "A tab separates the version from the status code."
        case .statusCodeLeadingZeros: return "The status code has leading zeros."
        case .statusCodeTrailingBytes: return "Bytes other than a space follow the three-digit status code."
        case .headerLineWithoutColon: return "A header line has no colon; it was skipped."
        case .invalidFieldName: return "A header name contains bytes that are not token characters."
        case .foldWithoutField: return "A header line starts with whitespace but no field precedes it; it was skipped."
        }
    }

    func parseError(_ error: HTTPParseError, _ direction: Direction) {
        statistics.parseErrors[error.kind.rawValue, default: 0] &+= 1
        switch error.kind {
        case .notHTTP:
            if declined != nil {
                countNotHTTP(direction)
                reportDeclinedTunnel(direction, error.evidence)
            } else {
                directionNotHTTP(error, direction)
            }
        case .gap, .truncatedMessage:
            break
        case .headBudgetExhausted:
            if direction == .clientToServer { client.headSkipped = true }
            reportLimit("http_global_head_bytes",
                        "the header blocks buffered by all connections reached \(options.parser.budget?.limit ?? 0) bytes; "
                            + "a head at stream offset \(error.streamOffset) was not analysed",
                        direction)
        case .headTooLarge:
            if direction == .clientToServer { client.headSkipped = true }
            reportLimit("http_max_head_bytes",
                        "a header block exceeded \(options.parser.maxHeadBytes) bytes at stream offset \(error.streamOffset)",
                        direction)
        case .invalidStartLine, .invalidHeader, .invalidVersion, .invalidContentLength, .invalidChunk:
            let headsSeen = direction == .clientToServer ? statistics.requests : statistics.responses
            if error.kind == .invalidContentLength && conflictingLengthReported[direction.rawValue] {
                conflictingLengthReported[direction.rawValue] = false
            } else if declined != nil {
                reportDeclinedTunnel(direction, error.evidence)
            } else if headsSeen == 0 {
                // Nothing in this direction was ever HTTP/1.x (SMTP, IRC, HTTP/0.9, …): not
                // malformed HTTP, but not HTTP — said in a finding when the connection is HTTP.
                directionNotHTTP(error, direction)
            } else {
                report(.httpMalformedMessage, direction,
                       "An HTTP/1.x message did not parse (\(error.kind.rawValue)) at stream offset \(error.streamOffset).",
                       ["error": .text(error.kind.rawValue), "stream_offset": .integer(Int64(clamping: error.streamOffset)),
                        "bytes": .bytes(error.evidence)])
            }
        }
    }

    /// Counts a direction as not HTTP, once.
    private func countNotHTTP(_ direction: Direction) {
        if direction == .clientToServer {
            if client.notHTTPCounted { return }
            client.notHTTPCounted = true
        } else {
            if server.notHTTPCounted { return }
            server.notHTTPCounted = true
        }
        statistics.nonHTTPDirections &+= 1
    }

    /// A direction's first message is not HTTP/1.x (the parser then ignores the direction, or
    /// looks for a later message start). Never silent on a connection that carries HTTP: a
    /// response direction that began with "HTTP/" or answers a request, or a request direction
    /// whose server answers with HTTP, gets `http_not_http` — for the client, once the first
    /// response shows that the server speaks HTTP. Elsewhere (TLS, SSH, …) only counted.
    private func directionNotHTTP(_ error: HTTPParseError, _ direction: Direction) {
        let alreadyCounted = direction == .clientToServer ? client.notHTTPCounted : server.notHTTPCounted
        countNotHTTP(direction)
        guard !alreadyCounted else { return }
        let pending = NotHTTPDirection(error: error, frame: frame, timestamp: timestamp)
        if direction == .serverToClient {
            if client.anyRequestSeen || error.kind != .notHTTP { reportNotHTTP(pending, .serverToClient) }
        } else if statistics.responses > 0 {
            reportNotHTTP(pending, .clientToServer)
        } else {
            client.notHTTP = pending
        }
    }

    func reportNotHTTP(_ notHTTP: NotHTTPDirection, _ direction: Direction) {
        let error = notHTTP.error
        let message = direction == .serverToClient
            ? "The server's bytes are not an HTTP/1.x response that any measured client reads (\(error.kind.rawValue) at stream offset \(error.streamOffset)); the direction is not analysed as HTTP from there."
            : "The client's bytes are not an HTTP/1.x request (\(error.kind.rawValue) at stream offset \(error.streamOffset)) although the server answers with HTTP; the direction is not analysed as HTTP from there."
        atFrame(notHTTP.frame, notHTTP.timestamp) {
            report(.httpNotHTTP, direction, message,
                   ["verdict": .text(error.kind.rawValue), "stream_offset": .integer(Int64(clamping: error.streamOffset)),
                    "bytes": .bytes(error.evidence)])
        }
    }

    /// RFC 9110 §7.8: a declined upgrade leaves the connection in HTTP/1.1. Non-HTTP bytes
    /// after it mean one side switched anyway — what a front proxy that saw the refusal will
    /// not expect (WebSocket request smuggling).
    func reportDeclinedTunnel(_ direction: Direction, _ bytes: [UInt8]) {
        guard let declined, !declinedTunnelReported else { return }
        declinedTunnelReported = true
        exchangeTunnelBytes(bytes)
        var evidence: Evidence = [
            "offered": .texts(declined.request.upgrade),
            "response_status": .integer(Int64(declined.response.status ?? 0)),
            "response_frame": .integer(Int64(declined.response.frame)),
        ]
        evidence.append("first_bytes", .bytes(Array(bytes.prefix(options.firstBytesKept))))
        report(.httpUpgradeDeclinedThenTunnel, direction,
               "The upgrade was declined with \(declined.response.status ?? 0), yet the connection then carried non-HTTP bytes.",
               evidence)
        // Stop reading this connection as HTTP: it is a tunnel now.
        client.phase = .ignored
        tunnel.only = true
    }
}
