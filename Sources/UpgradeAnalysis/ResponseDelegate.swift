import Findings
import HTTP1
import StreamReassembly

/// Parser callbacks for the server → client direction.
///
/// Once the connection is a tunnel (`tunnel.only`, possibly set by a callback in the middle of
/// a chunk), the rest of that chunk is not HTTP either: its events are dropped and the next
/// head stops the parser, as later chunks are not fed at all — so the outcome does not depend
/// on where TCP cut the bytes.
struct ResponseDelegate: HTTPParserDelegate {
    /// Unretained: a delegate lives only for one call on the tracker's own parser, while the
    /// tracker is alive (a checked `unowned` costs a retain per chunk).
    unowned(unsafe) let tracker: UpgradeTracker

    init(tracker: UpgradeTracker) {
        self.tracker = tracker
    }

    mutating func headComplete(_ head: HTTPMessageHead, streamOffset: UInt64) -> HTTPHeadAction {
        if tracker.tunnel.only { return .switchProtocols }
        return tracker.responseHead(head, streamOffset: streamOffset)
    }

    mutating func messageComplete(streamOffset: UInt64) {}

    mutating func parseError(_ error: HTTPParseError) {
        guard !tracker.tunnel.only else { return }
        tracker.parseError(error, .serverToClient)
    }
}

extension UpgradeTracker {
    func responseHead(_ head: HTTPMessageHead, streamOffset: UInt64) -> HTTPHeadAction {
        statistics.responses &+= 1
        if let notHTTP = client.notHTTP {
            // The server speaks HTTP: the client's non-HTTP start is worth a finding after all.
            client.notHTTP = nil
            reportNotHTTP(notHTTP, .clientToServer)
        }
        reportAnomalies(head, .serverToClient)
        let hasUpgrade = head.contains("Upgrade")
        let connectionUpgrade = head.listContains("Connection", token: "upgrade")

        if head.status == 426 && !hasUpgrade {
            report(.http426MissingUpgrade, .serverToClient,
                   "A 426 Upgrade Required response does not say which protocol to upgrade to (no Upgrade header).",
                   ["status_line": .text(statusLine(head))])
        }
        if connectionUpgrade && !hasUpgrade && head.status != 101 {
            report(.httpConnectionUpgradeWithoutUpgrade, .serverToClient,
                   "The response's Connection header names `upgrade` but there is no Upgrade header.",
                   ["connection": .texts(head.values("Connection")), "status": .integer(Int64(head.status))])
        }

        if head.status >= 100 && head.status < 200 {
            return interimResponse(head, streamOffset: streamOffset)
        }

        // A final response answers the oldest outstanding request.
        guard !queue.pending.isEmpty else { return .proceed }
        let request = queue.pending.removeFirst()
        queue.lastAnswered = (request.sequence, false)
        exchangeAnswered(request, head, .declined(head.status))
        if request.hasUpgradeHeader {
            let response = MessageSummary(head: head, frame: frame, timestamp: timestamp)
            checkRefusedUpgrade(request, head)
            outbox.append(.upgradeDeclined(UpgradeDeclinedRecord(connection: connection, request: request.summary,
                                                                 response: response)))
            declined = (request.summary, response)
        }
        if request.method == "CONNECT" && head.status >= 200 && head.status < 300 {
            // RFC 9110 §9.3.6: a 2xx to CONNECT turns the connection into a tunnel. Its first
            // client bytes say whether HTTP goes on inside it (`probeConnectTunnel`).
            tunnel.only = true
            if tunnel.depth < Self.maximumConnectDepth && client.phase != .switched {
                tunnel.connectHeld = client.phase == .holding ? client.held.bytes : []
                tunnel.connectProbe = []
            }
            releaseHeld()
            client.phase = .ignored
            return .switchProtocols
        }
        if client.phase == .holding {
            replayHeldClientBytes()
        }
        return request.method == "HEAD" ? .skipBody : .proceed
    }

    private func statusLine(_ head: HTTPMessageHead) -> String {
        "\(head.version) \(head.status) \(head.reason)"
    }

    private func interimResponse(_ head: HTTPMessageHead, streamOffset: UInt64) -> HTTPHeadAction {
        if head.contains("Content-Length") || head.contains("Transfer-Encoding") {
            var evidence: Evidence = ["status_line": .text(statusLine(head))]
            if head.contains("Content-Length") { evidence.append("content_length", .texts(head.values("Content-Length"))) }
            if head.contains("Transfer-Encoding") {
                evidence.append("transfer_encoding", .texts(head.values("Transfer-Encoding")))
            }
            report(.http1xxWithContent, .serverToClient,
                   "A \(head.status) response carries Content-Length or Transfer-Encoding; 1xx responses never have content.",
                   evidence)
        }
        if let request = queue.pending.first, request.version.major == 1 && request.version.minor == 0 {
            report(.http101ToHTTP10Request, .serverToClient,
                   "The server sent a \(head.status) to an HTTP/1.0 request; HTTP/1.0 clients do not understand 1xx responses.",
                   ["request_line": .text("\(request.method) \(request.target) \(request.version)"),
                    "request_frame": .integer(Int64(request.frame)), "status": .integer(Int64(head.status))])
        }
        if head.status == 100, !queue.pending.isEmpty {
            queue.pending[0].seen100 = true
        }
        guard head.status == 101 else { return .proceed }
        return switchProtocols(head, streamOffset: streamOffset)
    }

    // MARK: The switch

    private func switchProtocols(_ head: HTTPMessageHead, streamOffset: UInt64) -> HTTPHeadAction {
        let response = MessageSummary(head: head, frame: frame, timestamp: timestamp)
        let selected = head.listMembers("Upgrade")
        let request: PendingRequest? = queue.pending.isEmpty ? nil : queue.pending.removeFirst()
        if let request { queue.lastAnswered = (request.sequence, true) }

        if head.version.major == 1 && head.version.minor == 0 {
            report(.http101HTTP10Response, .serverToClient,
                   "The 101 response's status line says HTTP/1.0, a version without 1xx responses.",
                   ["status_line": .text(statusLine(head))])
        }
        if !head.contains("Upgrade") {
            report(.http101MissingUpgrade, .serverToClient,
                   "The 101 response has no Upgrade header, so the new protocol is not named.",
                   ["status_line": .text(statusLine(head)), "connection": .texts(head.values("Connection"))])
        } else if selected.isEmpty {
            // Present but empty: as unnamed as no header at all (Node then fires `response`,
            // not `upgrade`; websockets and Chromium fail the handshake).
            report(.http101MissingUpgrade, .serverToClient,
                   "The 101 response's Upgrade header is empty, so the new protocol is not named.",
                   ["status_line": .text(statusLine(head)), "upgrade": .texts(head.values("Upgrade")),
                    "upgrade_empty": .flag(true), "connection": .texts(head.values("Connection"))])
        } else if !head.listContains("Connection", token: "upgrade") {
            report(.httpUpgradeMissingConnectionToken, .serverToClient,
                   "The 101 response carries Upgrade but its Connection header lacks the `upgrade` option.",
                   ["upgrade": .texts(head.values("Upgrade")), "connection": .texts(head.values("Connection"))])
        }

        if let request {
            checkSwitchAgainstRequest(request, head: head, selected: selected)
        } else if !connection.partial && !client.gapSeen && !client.headSkipped {
            report(.http101WithoutRequest, .serverToClient,
                   client.anyRequestSeen
                       ? "The server sent a 101 when every request had already been answered."
                       : "The server sent a 101 before the client sent any request on this connection.",
                   ["status_line": .text(statusLine(head)), "upgrade": .texts(selected)])
        }

        server.switched = true
        let protocolName = selected.first.map { ProtocolToken($0).name } ?? "unknown"
        if let request { exchangeAnswered(request, head, .switched(protocolName)) }
        hasSwitchRecord = true
        switchRecord = SwitchRecord(connection: connection, protocolName: protocolName, request: request?.summary,
                                    response: response, clientHandoffOffset: nil, serverHandoffOffset: streamOffset,
                                    lastTimestamp: timestamp)
        startPostSwitchAnalysis(request, head)
        switchClientSide(request)
        // Live output: the record leaves now, with both hand-off offsets known (the client's is
        // still unknown only when the request body has not ended yet).
        if options.emitSwitchAtResponse, let record = switchRecord { outbox.append(.switched(record)) }
        return .switchProtocols
    }

    private func checkSwitchAgainstRequest(_ request: PendingRequest, head: HTTPMessageHead, selected: [String]) {
        let requestLine = "\(request.method) \(request.target) \(request.version)"
        if !request.hasUpgradeHeader {
            report(.http101Unsolicited, .serverToClient,
                   "The server switched protocols although the request did not ask for an upgrade.",
                   ["request_line": .text(requestLine), "request_frame": .integer(Int64(request.frame)),
                    "upgrade": .texts(selected)])
        } else if !selected.isEmpty {
            let offers = request.upgradeOffered.map(ProtocolToken.init)
            // RFC 9110 §7.8 lists layered protocols in ascending order; HTTP named above the
            // first layer (RFC 2817 §3.3: `Upgrade: TLS/1.0, HTTP/1.1`) is the protocol in use.
            let notOffered = selected.enumerated().filter { index, token in
                let parsed = ProtocolToken(token)
                return !(index > 0 && parsed.name == "http") && !parsed.isOffered(in: offers)
            }.map(\.element)
            if !notOffered.isEmpty {
                report(.http101ProtocolNotOffered, .serverToClient,
                       "The 101 selects \(notOffered.joined(separator: ", ")), which the request did not offer.",
                       ["offered": .texts(request.upgradeOffered), "selected": .texts(selected),
                        "request_frame": .integer(Int64(request.frame))])
            }
        }
        if request.expectsContinue && !request.seen100 {
            report(.http101Before100Continue, .serverToClient,
                   "The request sent Expect: 100-continue with Upgrade; the server switched without a 100 Continue first.",
                   ["request_line": .text(requestLine), "expect": .text("100-continue"),
                    "request_frame": .integer(Int64(request.frame))])
        }
        if !request.complete {
            report(.httpSwitchBeforeRequestComplete, .serverToClient,
                   "The server switched protocols before the upgrade request's body was complete.",
                   ["request_line": .text(requestLine), "request_frame": .integer(Int64(request.frame)),
                    "content_length": .texts(request.summary.headers.filter { $0.name == "content-length" }.map(\.value))])
        }
    }

    /// Decides where the client's new protocol starts and what to make of bytes the client
    /// sent before the 101.
    private func switchClientSide(_ request: PendingRequest?) {
        guard let request else {
            // No request known (partial capture or none sent): everything the client sends from now on.
            client.phase = .switched
            switchRecord?.clientHandoffOffset = requestParser.streamOffset
            return
        }
        if !request.complete {
            // The body is still arriving (already reported): the request parser pauses after
            // it and the new protocol starts there (`requestComplete`).
            return
        }
        switchRecord?.clientHandoffOffset = request.endOffset
        if client.phase == .holding {
            client.phase = .switched
            let bytes = client.held.bytes
            let dropped = client.held.dropped
            releaseHeld()
            reportEarlyClientBytes(bytes, droppedCount: dropped)
            bytes.withUnsafeBytes { postSwitchClient($0) }
            switchRecord?.bytesAfterSwitchClient &+= dropped
            if dropped > 0 { postSwitchGap(fromClient: true, length: dropped) }
        } else if client.phase == .http {
            // Parser is between messages (a request without Upgrade was answered by 101).
            client.phase = .switched
        }
    }

    /// Client bytes that arrived between the upgrade request and the 101.
    private func reportEarlyClientBytes(_ bytes: [UInt8], droppedCount: UInt64) {
        guard !bytes.isEmpty else { return }
        let total = Int64(clamping: UInt64(bytes.count) &+ droppedCount)
        let evidence: Evidence = ["bytes_before_101": .integer(total), "first_frame": .integer(Int64(client.held.frame)),
                                  "first_bytes": .bytes(Array(bytes.prefix(options.firstBytesKept)))]
        if looksLikeRequestLine(bytes) {
            report(.httpRequestPipelinedAfterUpgrade, .clientToServer,
                   "Another HTTP request was pipelined behind the upgrade request; after the 101 it is read as the new protocol.",
                   evidence)
        } else {
            report(.httpClientDataBefore101, .clientToServer,
                   "The client sent \(total) bytes after its upgrade request before the server's 101 arrived.",
                   evidence)
        }
    }

    /// The upgrade was declined: the held client bytes are HTTP again (or a tunnel).
    func replayHeldClientBytes() {
        let bytes = client.held.bytes
        let dropped = client.held.dropped
        releaseHeld()
        client.phase = .http
        requestParser.resume()
        guard !bytes.isEmpty else { return }
        if looksLikeRequestLine(bytes) {
            report(.httpRequestPipelinedAfterUpgrade, .clientToServer,
                   "Another HTTP request was pipelined behind the upgrade request; its meaning depended on the answer.",
                   ["first_frame": .integer(Int64(client.held.frame)), "first_bytes": .bytes(Array(bytes.prefix(options.firstBytesKept)))])
        } else if declined != nil {
            reportDeclinedTunnel(.clientToServer, bytes)
            return
        }
        atFrame(client.held.frame, client.held.timestamp) { bytes.withUnsafeBytes { clientData($0) } }
        if dropped > 0 {
            // Reported when the bytes were dropped (`hold`).
            var delegate = RequestDelegate(tracker: self)
            requestParser.gap(length: dropped, delegate: &delegate)
        }
    }
}

/// Whether bytes start like an HTTP/1.x request line: an uppercase method token, a space,
/// and a target (RFC 9112 §3).
func looksLikeRequestLine(_ bytes: [UInt8]) -> Bool {
    var index = 0
    while index < bytes.count && index < 20, bytes[index] >= UInt8(ascii: "A") && bytes[index] <= UInt8(ascii: "Z") {
        index += 1
    }
    guard index >= 3, index < bytes.count, bytes[index] == UInt8(ascii: " "), index + 1 < bytes.count else { return false }
    let next = bytes[index + 1]
    return next == UInt8(ascii: "/") || next == UInt8(ascii: "*") || next == UInt8(ascii: "h") || next.isASCIIAlphanumeric
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (self >= 0x30 && self <= 0x39) || (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A)
    }
}
