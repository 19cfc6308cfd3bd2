import Findings

/// One request of an HTTP/2 connection and what came back, as the switch record lists it.
///
/// Every field has one type; what was not seen (a block HPACK could not decode, a response
/// that never came) stays nil and is left out of the evidence rather than written differently.
public struct HTTP2StreamExchange: Sendable, Equatable {
    /// What the request is: an ordinary request, a CONNECT (RFC 9113 §8.5), an extended
    /// CONNECT (RFC 8441 §4: `:method CONNECT` with `:protocol`), or a server push
    /// (RFC 9113 §8.4: the request is the PUSH_PROMISE's).
    public enum Kind: String, Sendable {
        case request
        case connect
        case extendedConnect = "extended_connect"
        case push
    }

    public var streamID: UInt32
    /// Stream 1 after an h2c upgrade: the HTTP/1.1 request that carried the Upgrade, whose
    /// response the server sends on stream 1 (RFC 7540 §3.2). Its method, path and authority
    /// are the HTTP/1.1 request's.
    public var upgraded = false
    public var pushed = false
    public var method: String?
    public var scheme: String?
    public var authority: String?
    public var path: String?
    /// `:protocol` of an extended CONNECT (RFC 8441 §4): `websocket`, `connect-udp`…
    public var connectProtocol: String?
    /// The final (non-1xx) `:status`.
    public var status: Int?
    /// Interim (1xx) responses before it.
    public var interimResponses = 0
    /// DATA payload octets each way, padding included (what flow control counts, RFC 9113 §6.9.1).
    public var requestBytes: UInt64 = 0
    public var responseBytes: UInt64 = 0
    /// END_STREAM seen from the client (the request is complete) and from the server.
    public var requestComplete = false
    public var responseComplete = false
    /// RST_STREAM: which side sent the first one and its error code.
    public var resetByClient: Bool?
    public var resetErrorCode: UInt32?
    /// A field value was longer than `HTTP2RequestLog.maxValueBytes` and was cut.
    public var valuesTruncated = false
    /// Whether the request's header block was decoded (or, for stream 1, taken from HTTP/1.1).
    var requestHeadersSeen = false
    var responseHeadersSeen = false

    public init(streamID: UInt32) {
        self.streamID = streamID
    }

    public var kind: Kind {
        if pushed { return .push }
        guard method == "CONNECT" else { return .request }
        return connectProtocol == nil ? .connect : .extendedConnect
    }

    /// The request as a `requests` entry of the `http2` evidence.
    public var evidence: Evidence {
        var evidence: Evidence = ["stream_id": .integer(Int64(streamID)), "upgraded": .flag(upgraded),
                                  "kind": .text(kind.rawValue)]
        let texts: [(String, String?)] = [("method", method), ("scheme", scheme), ("authority", authority),
                                          ("path", path), ("protocol", connectProtocol)]
        for (key, value) in texts {
            if let value { evidence.append(key, .text(value)) }
        }
        if let status { evidence.append("status", .integer(Int64(status))) }
        if interimResponses > 0 { evidence.append("interim_responses", .integer(Int64(interimResponses))) }
        evidence.append("request_bytes", .integer(Int64(clamping: requestBytes)))
        evidence.append("response_bytes", .integer(Int64(clamping: responseBytes)))
        evidence.append("request_complete", .flag(requestComplete))
        evidence.append("response_complete", .flag(responseComplete))
        if let resetByClient, let resetErrorCode {
            evidence.append("reset_by", .text(resetByClient ? "client" : "server"))
            evidence.append("reset_error", .text(HTTP2.errorCodeName(resetErrorCode)))
        }
        if valuesTruncated { evidence.append("values_truncated", .flag(true)) }
        return evidence
    }
}

/// The requests of one HTTP/2 connection, in the order their streams opened: the first
/// `maxListed` are kept with their fields, later ones only counted (`notListed`), so the memory
/// is bounded whatever the connection carries (at most `maxListed` entries of at most
/// `maxValueBytes` per value).
///
/// Fed from the frame decoders' events: frame headers (new streams, DATA octets, END_STREAM),
/// decoded header blocks and RST_STREAM. Streams the log does not list are ignored.
public struct HTTP2RequestLog: Sendable, Equatable {
    public let maxListed: Int
    public let maxValueBytes: Int
    public private(set) var exchanges: [HTTP2StreamExchange] = []
    /// Request streams opened after the list was full.
    public private(set) var notListed: UInt64 = 0
    /// Highest stream id the client opened (RFC 9113 §5.1.1: new ids only grow); after an h2c
    /// upgrade stream 1 is already in use.
    var highestClientStream: UInt32 = 0
    var highestPromisedStream: UInt32 = 0
    /// Highest listed stream id, to skip lookups for streams that cannot be listed.
    var highestListed: UInt32 = 0

    public init(maxListed: Int = 32, maxValueBytes: Int = 512) {
        self.maxListed = max(0, maxListed)
        self.maxValueBytes = max(1, maxValueBytes)
    }

    public var isFull: Bool { exchanges.count >= maxListed }

    /// Stream 1 after an h2c upgrade (RFC 7540 §3.2): the HTTP/1.1 request, which the client
    /// has sent whole (stream 1 starts half-closed for it). `authority` is its Host.
    public mutating func openUpgraded(method: String?, target: String?, authority: String?) {
        highestClientStream = max(highestClientStream, 1)
        var exchange = HTTP2StreamExchange(streamID: 1)
        exchange.upgraded = true
        exchange.scheme = "http"
        exchange.method = method.map { Self.cut($0, &exchange, limit: maxValueBytes) }
        exchange.path = target.map { Self.cut($0, &exchange, limit: maxValueBytes) }
        exchange.authority = authority.map { Self.cut($0, &exchange, limit: maxValueBytes) }
        exchange.requestHeadersSeen = true
        exchange.requestComplete = true
        _ = list(exchange)
    }

    /// A frame header from the client. Returns true when it opened a request the full list
    /// could not take (the first time tells the caller to report the limit).
    public mutating func clientFrame(_ header: HTTP2FrameHeader) -> Bool {
        let endStream = header.flags & HTTP2Flags.endStream != 0
        switch header.frameType {
        case .headers:
            // A new stream is a client-initiated (odd) id above every earlier one.
            if header.streamID & 1 == 1 && header.streamID > highestClientStream {
                highestClientStream = header.streamID
                var exchange = HTTP2StreamExchange(streamID: header.streamID)
                exchange.requestComplete = endStream
                return !list(exchange)
            }
            if endStream { update(header.streamID) { $0.requestComplete = true } }
        case .data:
            update(header.streamID) {
                $0.requestBytes &+= UInt64(header.length)
                if endStream { $0.requestComplete = true }
            }
        default:
            break
        }
        return false
    }

    /// A frame header from the server (DATA octets and END_STREAM of responses).
    public mutating func serverFrame(_ header: HTTP2FrameHeader) {
        let endStream = header.flags & HTTP2Flags.endStream != 0
        switch header.frameType {
        case .headers:
            if endStream { update(header.streamID) { $0.responseComplete = true } }
        case .data:
            update(header.streamID) {
                $0.responseBytes &+= UInt64(header.length)
                if endStream { $0.responseComplete = true }
            }
        default:
            break
        }
    }

    /// A PUSH_PROMISE reserved `promisedStreamID` (server-initiated, even, growing) with the
    /// request `fields`. Returns true when the full list could not take it.
    public mutating func promised(_ promisedStreamID: UInt32, fields: [HPACKHeaderField]) -> Bool {
        guard promisedStreamID & 1 == 0, promisedStreamID > highestPromisedStream else { return false }
        highestPromisedStream = promisedStreamID
        var exchange = HTTP2StreamExchange(streamID: promisedStreamID)
        exchange.pushed = true
        exchange.requestComplete = true   // a promised request has no content (RFC 9113 §8.4)
        Self.take(fields, into: &exchange, limit: maxValueBytes)
        return !list(exchange)
    }

    /// A decoded client header block on `streamID`: the request's first block; later ones are
    /// trailers and change nothing listed.
    public mutating func requestHeaders(_ streamID: UInt32, _ fields: [HPACKHeaderField]) {
        let limit = maxValueBytes
        update(streamID) { exchange in
            guard !exchange.requestHeadersSeen else { return }
            Self.take(fields, into: &exchange, limit: limit)
        }
    }

    /// A decoded server header block: 1xx are interim, the first other `:status` is the
    /// response's, later blocks are trailers.
    public mutating func responseHeaders(_ streamID: UInt32, _ fields: [HPACKHeaderField]) {
        update(streamID) { exchange in
            guard !exchange.responseHeadersSeen else { return }
            guard let text = fields.first(where: { $0.name == ":status" })?.value, let status = Int(text),
                  text.utf8.count == 3 else { return }
            if status < 200 {
                exchange.interimResponses += 1
            } else {
                exchange.status = status
                exchange.responseHeadersSeen = true
            }
        }
    }

    /// RST_STREAM on `streamID`; the first one on a stream is kept.
    public mutating func reset(_ streamID: UInt32, errorCode: UInt32, byClient: Bool) {
        update(streamID) { exchange in
            guard exchange.resetErrorCode == nil else { return }
            exchange.resetByClient = byClient
            exchange.resetErrorCode = errorCode
        }
    }

    // MARK: Entries

    /// Lists `exchange` if there is room; false when the list is full (the request is counted).
    mutating func list(_ exchange: HTTP2StreamExchange) -> Bool {
        guard !isFull else {
            notListed &+= 1
            return false
        }
        exchanges.append(exchange)
        highestListed = max(highestListed, exchange.streamID)
        return true
    }

    mutating func update(_ streamID: UInt32, _ body: (inout HTTP2StreamExchange) -> Void) {
        guard streamID != 0, streamID <= highestListed else { return }
        // Newest first: DATA mostly belongs to the streams opened last.
        var index = exchanges.count - 1
        while index >= 0 {
            if exchanges[index].streamID == streamID {
                body(&exchanges[index])
                return
            }
            index -= 1
        }
    }

    static func take(_ fields: [HPACKHeaderField], into exchange: inout HTTP2StreamExchange, limit: Int) {
        exchange.requestHeadersSeen = true
        // Pseudo-header fields come first (RFC 9113 §8.3); the first of each name counts.
        for field in fields {
            guard field.name.utf8.first == UInt8(ascii: ":") else { break }
            switch field.name {
            case ":method" where exchange.method == nil: exchange.method = cut(field.value, &exchange, limit: limit)
            case ":scheme" where exchange.scheme == nil: exchange.scheme = cut(field.value, &exchange, limit: limit)
            case ":authority" where exchange.authority == nil: exchange.authority = cut(field.value, &exchange, limit: limit)
            case ":path" where exchange.path == nil: exchange.path = cut(field.value, &exchange, limit: limit)
            case ":protocol" where exchange.connectProtocol == nil:
                exchange.connectProtocol = cut(field.value, &exchange, limit: limit)
            default: break
            }
        }
    }

    /// `value` within `maxValueBytes` octets, cut at a character boundary (and the exchange marked).
    static func cut(_ value: String, _ exchange: inout HTTP2StreamExchange, limit maxValueBytes: Int) -> String {
        guard value.utf8.count > maxValueBytes else { return value }
        exchange.valuesTruncated = true
        var octets = 0
        var end = value.unicodeScalars.startIndex
        for index in value.unicodeScalars.indices {
            let length = UTF8.width(value.unicodeScalars[index])
            if octets + length > maxValueBytes { break }
            octets += length
            end = value.unicodeScalars.index(after: index)
        }
        return String(value.unicodeScalars[..<end])
    }
}
