import Findings

/// One handshake rule broken, for the caller to turn into a `Violation` with the frame and
/// timestamp of the message it concerns.
public struct WebSocketHandshakeFinding: Sendable, Equatable {
    public var rule: Rule
    public var message: String
    public var evidence: Evidence
    /// True when the finding is about the response (attach the response's frame), false for the request.
    public var concernsResponse: Bool

    public init(rule: Rule, message: String, evidence: Evidence, concernsResponse: Bool) {
        self.rule = rule
        self.message = message
        self.evidence = evidence
        self.concernsResponse = concernsResponse
    }
}

/// What the handshake settled, as frame decoding needs it (RFC 6455 §4.2.2, §9; RFC 7692 §7).
public struct WebSocketNegotiation: Sendable, Equatable {
    /// The subprotocol the server selected, if any.
    public var subprotocol: String?
    /// Extensions the server accepted, in its order.
    public var extensions: [WebSocketExtension]
    /// Set when the server accepted permessage-deflate (RSV1 then marks a compressed message).
    public var permessageDeflate: PerMessageDeflateParameters?
    public var offeredSubprotocols: [String]
    public var offeredExtensions: [WebSocketExtension]

    public init(subprotocol: String? = nil, extensions: [WebSocketExtension] = [],
                permessageDeflate: PerMessageDeflateParameters? = nil,
                offeredSubprotocols: [String] = [], offeredExtensions: [WebSocketExtension] = []) {
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.permessageDeflate = permessageDeflate
        self.offeredSubprotocols = offeredSubprotocols
        self.offeredExtensions = offeredExtensions
    }

    /// RSV bits (0b100 = RSV1, 0b010 = RSV2, 0b001 = RSV3) a frame may set. permessage-deflate
    /// defines RSV1; an extension we do not know may use any bit, so then all are allowed.
    public var allowedRSVBits: UInt8 {
        var bits: UInt8 = 0
        for element in extensions {
            if element.name == "permessage-deflate" { bits |= 0b100 } else { bits = 0b111 }
        }
        return bits
    }

    /// True when an accepted extension other than permessage-deflate may transform payloads.
    public var hasUnknownExtension: Bool {
        extensions.contains { $0.name != "permessage-deflate" }
    }

    /// For a switch record's "observed" evidence.
    public var evidence: Evidence {
        var evidence = Evidence()
        if let subprotocol { evidence.append("subprotocol", .text(subprotocol)) }
        if !extensions.isEmpty { evidence.append("extensions", .texts(extensions.map(\.headerText))) }
        if let deflate = permessageDeflate {
            evidence.append("permessage_deflate_server_no_context_takeover", .flag(deflate.serverNoContextTakeover))
            evidence.append("permessage_deflate_client_no_context_takeover", .flag(deflate.clientNoContextTakeover))
            if let bits = deflate.serverMaxWindowBits {
                evidence.append("permessage_deflate_server_max_window_bits", .integer(Int64(bits)))
            }
            if let bits = deflate.clientMaxWindowBits {
                evidence.append("permessage_deflate_client_max_window_bits", .integer(Int64(bits)))
            }
        }
        if !offeredSubprotocols.isEmpty { evidence.append("offered_subprotocols", .texts(offeredSubprotocols)) }
        if !offeredExtensions.isEmpty { evidence.append("offered_extensions", .texts(offeredExtensions.map(\.headerText))) }
        return evidence
    }
}

/// Checks a WebSocket opening handshake (RFC 6455 §4): pure, no state.
public enum WebSocketHandshakeCheck {
    /// RFC 6455 §1.3, §4.2.2.
    public static let acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// `base64(SHA-1(key + GUID))` (RFC 6455 §4.2.2 step 5.4), the key taken as sent (trimmed).
    public static func acceptValue(forKey key: String) -> String {
        Base64.encode(SHA1.hash(key + acceptGUID))
    }

    public struct Result: Sendable, Equatable {
        public var findings: [WebSocketHandshakeFinding]
        public var negotiation: WebSocketNegotiation
    }

    /// Checks the handshake. `request` is nil when the capture missed it (only response-side
    /// checks run then). Request rules are checked only when the server switched (101): a
    /// server refusing a bad request is doing its job. For a refusal (426, or any 4xx to a
    /// version other than 13) the response must list the versions it supports (§4.2.2, §4.4).
    public static func check(request: HandshakeMessage?, response: HandshakeMessage) -> Result {
        var findings: [WebSocketHandshakeFinding] = []
        func report(_ rule: Rule, _ message: String, _ evidence: Evidence, response: Bool) {
            findings.append(WebSocketHandshakeFinding(rule: rule, message: message, evidence: evidence,
                                                      concernsResponse: response))
        }
        var negotiation = WebSocketNegotiation()
        if let request {
            negotiation.offeredSubprotocols = listElements(request.values("sec-websocket-protocol"))
            negotiation.offeredExtensions = WebSocketExtension.parse(request.values("sec-websocket-extensions")).extensions
        }
        let status = response.status ?? 0
        let requestVersions = request?.values("sec-websocket-version") ?? []

        guard status == 101 else {
            let refusedVersion = requestVersions.count == 1 && requestVersions[0] != "13"
            if status == 426 || (refusedVersion && (400..<500).contains(status)) {
                let listed = listElements(response.values("sec-websocket-version"))
                let numeric = !listed.isEmpty && listed.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }
                if !numeric {
                    var evidence: Evidence = ["status": .integer(Int64(status))]
                    if !requestVersions.isEmpty { evidence.append("request_version", .texts(requestVersions)) }
                    evidence.append("response_version", .texts(response.values("sec-websocket-version")))
                    report(.websocketBadVersion,
                           "The server refused the WebSocket handshake with \(status) but did not list the versions it supports in Sec-WebSocket-Version.",
                           evidence, response: true)
                }
            }
            // RFC 6455 §4.1: the client MUST send version 13, whatever the server answers.
            if refusedVersion {
                report(.websocketBadVersion,
                       "The client asked for Sec-WebSocket-Version \(requestVersions[0]); RFC 6455 clients must send 13.",
                       ["version": .text(requestVersions[0]), "status": .integer(Int64(status))], response: false)
            }
            return Result(findings: findings, negotiation: negotiation)
        }

        // MARK: Request (RFC 6455 §4.1, §4.2.1)
        var keyForAccept: String?
        if let request {
            let method = request.method ?? ""
            if method != "GET" || !isAtLeastHTTP11(request.version) {
                report(.websocketBadHandshakeMethod,
                       "The server switched to WebSocket for a \(method.isEmpty ? "request" : method) \(request.version) request; the opening handshake must be a GET of HTTP/1.1 or later.",
                       ["method": .text(method), "version": .text(request.version)], response: false)
            }

            let keys = request.values("sec-websocket-key")
            if keys.isEmpty {
                report(.websocketMissingKey, "The server switched to WebSocket although the request had no Sec-WebSocket-Key.",
                       [:], response: false)
            } else if keys.count > 1 || keys[0].contains(",") {
                report(.websocketDuplicateHeader,
                       "The request carried Sec-WebSocket-Key more than once (\(keys.count) lines), which the server should have rejected.",
                       ["header": .text("Sec-WebSocket-Key"), "values": .texts(keys)], response: false)
            } else {
                keyForAccept = keys[0]
                if Base64.decode(keys[0])?.count != 16 {
                    let decoded = Base64.decode(keys[0])
                    let why = decoded.map { "decodes to \($0.count) bytes" } ?? "is not valid base64"
                    report(.websocketBadKey,
                           "The server switched to WebSocket although Sec-WebSocket-Key \(why), not the base64 of 16 random bytes.",
                           ["key": .text(keys[0])], response: false)
                }
            }

            if requestVersions.isEmpty {
                report(.websocketBadVersion, "The server switched to WebSocket although the request had no Sec-WebSocket-Version.",
                       [:], response: false)
            } else if requestVersions.count > 1 || requestVersions[0].contains(",") {
                report(.websocketDuplicateHeader,
                       "The request listed Sec-WebSocket-Version more than once, where a client sends exactly one version.",
                       ["header": .text("Sec-WebSocket-Version"), "values": .texts(requestVersions)], response: false)
            } else if requestVersions[0] != "13" {
                report(.websocketBadVersion,
                       "The server switched to WebSocket for Sec-WebSocket-Version \(requestVersions[0]); only 13 is defined by RFC 6455.",
                       ["version": .text(requestVersions[0])], response: false)
            }
        }

        // MARK: Response (RFC 6455 §4.1 client checks, §4.2.2)
        let accepts = response.values("sec-websocket-accept")
        if accepts.isEmpty {
            report(.websocketMissingAccept,
                   "The 101 switching to WebSocket has no Sec-WebSocket-Accept, so the client cannot tell the server understood the handshake.",
                   keyForAccept.map { ["key": .text($0), "expected_accept": .text(acceptValue(forKey: $0))] } ?? [:],
                   response: true)
        } else {
            if accepts.count > 1 || accepts[0].contains(",") {
                report(.websocketDuplicateHeader, "The 101 carried Sec-WebSocket-Accept more than once.",
                       ["header": .text("Sec-WebSocket-Accept"), "values": .texts(accepts)], response: true)
            }
            if let key = keyForAccept {
                let expected = acceptValue(forKey: key)
                let sent = listElements(accepts)
                if !sent.contains(expected) {
                    report(.websocketWrongAccept,
                           "Sec-WebSocket-Accept is \(sent.first ?? "empty") but the key \(key) requires \(expected).",
                           ["key": .text(key), "accept": .texts(accepts), "expected_accept": .text(expected)], response: true)
                }
            }
        }

        let selected = response.values("sec-websocket-protocol")
        let selectedElements = listElements(selected)
        if selected.count > 1 || selectedElements.count > 1 {
            report(.websocketDuplicateHeader, "The 101 selected more than one subprotocol in Sec-WebSocket-Protocol.",
                   ["header": .text("Sec-WebSocket-Protocol"), "values": .texts(selected)], response: true)
        }
        if let chosen = selectedElements.first {
            negotiation.subprotocol = chosen
            if request != nil && !negotiation.offeredSubprotocols.contains(chosen) {
                let offered = negotiation.offeredSubprotocols
                report(.websocketSubprotocolNotOffered,
                       offered.isEmpty
                           ? "The 101 selected subprotocol \(chosen) but the client offered none."
                           : "The 101 selected subprotocol \(chosen), which is not among those the client offered (\(offered.joined(separator: ", "))).",
                       ["selected": .texts([chosen]), "offered": .texts(offered)], response: true)
            }
        }

        let accepted = WebSocketExtension.parse(response.values("sec-websocket-extensions")).extensions
        negotiation.extensions = accepted
        if let deflate = accepted.first(where: { $0.name == "permessage-deflate" }) {
            negotiation.permessageDeflate = PerMessageDeflateParameters(deflate)
        }
        if request != nil {
            let offeredNames = Set(negotiation.offeredExtensions.map(\.name))
            for element in accepted where !offeredNames.contains(element.name) {
                report(.websocketExtensionNotOffered,
                       "The 101 accepted extension \(element.name), which the client did not offer.",
                       ["accepted": .text(element.headerText),
                        "offered": .texts(negotiation.offeredExtensions.map(\.headerText))], response: true)
            }
            // RFC 7692 §7.1.2.2: the server may send client_max_window_bits only if the client offered it.
            if let deflate = accepted.first(where: { $0.name == "permessage-deflate" }),
               deflate.parameter("client_max_window_bits") != nil,
               offeredNames.contains("permessage-deflate"),
               !negotiation.offeredExtensions.contains(where: {
                   $0.name == "permessage-deflate" && $0.parameter("client_max_window_bits") != nil
               }) {
                report(.websocketExtensionNotOffered,
                       "The 101 set permessage-deflate's client_max_window_bits, which the client did not offer to accept.",
                       ["accepted": .text(deflate.headerText),
                        "offered": .texts(negotiation.offeredExtensions.map(\.headerText))], response: true)
            }
        }
        return Result(findings: findings, negotiation: negotiation)
    }

    /// `HTTP/1.1`, `HTTP/2`, `HTTP/1.10`… compared numerically; anything unparsable is "not 1.1+".
    static func isAtLeastHTTP11(_ version: String) -> Bool {
        guard version.hasPrefix("HTTP/") else { return false }
        let numbers = version.dropFirst(5).split(separator: ".", omittingEmptySubsequences: false)
        guard let major = numbers.first.flatMap({ Int($0) }) else { return false }
        let minor = numbers.count > 1 ? Int(numbers[1]) ?? -1 : 0
        return major > 1 || (major == 1 && minor >= 1)
    }
}
