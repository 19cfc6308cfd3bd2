import Findings
import PacketCapture

/// A protocol recognised from the first bytes after a switch.
public enum ObservedProtocol: String, Sendable, CaseIterable {
    case websocket
    case http2
    case tls
    case ssh
    case dockerMultiplexed = "docker-multiplexed"
    case http1
    case unknown
}

/// How sure a sniffer is. `low`: a loose pattern that random bytes can match.
public enum SniffConfidence: Int, Sendable, Comparable, CaseIterable {
    case low = 1, medium, high

    public static func < (a: SniffConfidence, b: SniffConfidence) -> Bool { a.rawValue < b.rawValue }

    public var name: String {
        switch self {
        case .low: return "low"
        case .medium: return "medium"
        case .high: return "high"
        }
    }

    var raised: SniffConfidence { SniffConfidence(rawValue: min(rawValue + 1, SniffConfidence.high.rawValue)) ?? .high }
}

public struct SniffResult: Sendable, Equatable {
    public var observed: ObservedProtocol
    public var confidence: SniffConfidence
    /// One sentence: which signature matched.
    public var reason: String
    /// `observed_protocol`, `confidence`, `reason`, `client_first_bytes`, `server_first_bytes`.
    public var evidence: Evidence

    public init(observed: ObservedProtocol, confidence: SniffConfidence, reason: String, evidence: Evidence) {
        self.observed = observed
        self.confidence = confidence
        self.reason = reason
        self.evidence = evidence
    }
}

/// Recognises the protocol spoken after a `101 Switching Protocols` from the first bytes
/// (up to 64) of each direction, and compares it with what the 101 agreed on.
public enum ProtocolSniffer {
    /// Bytes per direction the sniffers look at.
    public static let maxBytes = 64

    enum Verdict: Equatable {
        case match(SniffConfidence, String)
        /// Consistent so far, but too few bytes to tell.
        case needMoreBytes
        case noMatch
    }

    /// Tie-break order when two signatures are equally sure: the more specific first.
    static let order: [ObservedProtocol] = [.http2, .tls, .ssh, .http1, .dockerMultiplexed, .websocket]

    public static func sniff(client: UnsafeRawBufferPointer, server: UnsafeRawBufferPointer) -> SniffResult {
        sniff(client: Array(client.prefix(maxBytes)), server: Array(server.prefix(maxBytes)))
    }

    public static func sniff(client: [UInt8], server: [UInt8]) -> SniffResult {
        let client = Array(client.prefix(maxBytes))
        let server = Array(server.prefix(maxBytes))
        var best: (ObservedProtocol, SniffConfidence, String)?
        for candidate in order {
            guard case .match(let confidence, let reason) = verdict(candidate, client: client, server: server) else { continue }
            if let current = best, confidence <= current.1 { continue }
            best = (candidate, confidence, reason)
        }
        let (observed, confidence, reason) = best ?? (.unknown, .low, "no known protocol signature in the first bytes")
        var evidence = Evidence()
        evidence.append("observed_protocol", .text(observed.rawValue))
        evidence.append("confidence", .text(confidence.name))
        evidence.append("reason", .text(reason))
        if !client.isEmpty { evidence.append("client_first_bytes", .bytes(client)) }
        if !server.isEmpty { evidence.append("server_first_bytes", .bytes(server)) }
        return SniffResult(observed: observed, confidence: confidence, reason: reason, evidence: evidence)
    }

    /// The protocol an Upgrade token names, when the bytes of that protocol can be recognised:
    /// `websocket`, `h2c` (HTTP/2), `TLS/1.x` (RFC 2817), `SSH`. Nil for anything else
    /// (`tcp` as Docker uses it carries raw or multiplexed streams alike).
    public static func expectedProtocol(forUpgradeToken token: String) -> ObservedProtocol? {
        let lowered = token.lowercased()
        if lowered == "websocket" { return .websocket }
        if lowered == "h2c" { return .http2 }
        if lowered == "tls" || lowered.hasPrefix("tls/") { return .tls }
        if lowered == "ssh" || lowered.hasPrefix("ssh/") { return .ssh }
        return nil
    }

    /// False when the bytes seen so far cannot be `expected`: a direction that has bytes
    /// breaks the protocol's opening (client preface, ClientHello, masked frames…).
    public static func isCompatible(_ expected: ObservedProtocol, client: [UInt8], server: [UInt8]) -> Bool {
        if expected == .unknown { return true }
        let verdicts = directionVerdicts(expected, client: Array(client.prefix(maxBytes)), server: Array(server.prefix(maxBytes)))
        return verdicts.client != .noMatch && verdicts.server != .noMatch
    }

    /// `switch_protocol_mismatch`: the bytes cannot be what the 101 agreed on and are
    /// recognisably another protocol (medium confidence or better).
    public static func checkSwitch(agreedProtocol: String, client: [UInt8], server: [UInt8], frame: UInt64,
                                   timestamp: Timestamp, connection: ConnectionRef? = nil) -> Violation? {
        guard let expected = expectedProtocol(forUpgradeToken: agreedProtocol),
              !isCompatible(expected, client: client, server: server) else { return nil }
        let result = sniff(client: client, server: server)
        guard result.observed != .unknown, result.observed != expected, result.confidence >= .medium else { return nil }
        var evidence: Evidence = ["agreed_protocol": .text(agreedProtocol)]
        evidence.entries.append(contentsOf: result.evidence.entries)
        return Violation(rule: .switchProtocolMismatch,
                         message: "The 101 agreed on \(agreedProtocol) but the bytes after the switch are \(result.observed.rawValue): \(result.reason).",
                         timestamp: timestamp, frame: frame, direction: nil, connection: connection, evidence: evidence)
    }

    // MARK: Signatures

    /// The label verdict: the stronger direction decides (WebSocket tolerates one broken side).
    static func verdict(_ candidate: ObservedProtocol, client: [UInt8], server: [UInt8]) -> Verdict {
        let verdicts = directionVerdicts(candidate, client: client, server: server)
        if candidate == .websocket { return websocket(client: verdicts.client, server: verdicts.server) }
        return either(verdicts.client, verdicts.server)
    }

    /// Each direction judged on its own; an empty direction needs more bytes.
    static func directionVerdicts(_ candidate: ObservedProtocol, client: [UInt8],
                                  server: [UInt8]) -> (client: Verdict, server: Verdict) {
        switch candidate {
        case .http2: return (http2Client(client), http2Server(server))
        case .tls: return (tls(client, fromClient: true), tls(server, fromClient: false))
        case .ssh: return (ssh(client), ssh(server))
        case .http1: return (http1Request(client), http1Response(server))
        case .dockerMultiplexed: return (.needMoreBytes, docker(server))   // the client sends raw stdin
        case .websocket: return (websocketFrames(client, masked: true), websocketFrames(server, masked: false))
        case .unknown: return (.noMatch, .noMatch)
        }
    }

    /// The stronger of two directions' verdicts.
    static func either(_ a: Verdict, _ b: Verdict) -> Verdict {
        switch (a, b) {
        case (.match(let ca, let ra), .match(let cb, let rb)): return ca >= cb ? .match(ca, ra) : .match(cb, rb)
        case (.match, _): return a
        case (_, .match): return b
        case (.needMoreBytes, _), (_, .needMoreBytes): return .needMoreBytes
        default: return .noMatch
        }
    }

    static func hasPrefix(_ bytes: [UInt8], _ prefix: [UInt8]) -> Verdict {
        if bytes.isEmpty { return .needMoreBytes }
        let n = min(bytes.count, prefix.count)
        guard bytes[0..<n].elementsEqual(prefix[0..<n]) else { return .noMatch }
        return bytes.count >= prefix.count ? .match(.high, "") : .needMoreBytes
    }

    /// RFC 9113 §3.4: the client preface.
    static func http2Client(_ client: [UInt8]) -> Verdict {
        switch hasPrefix(client, HTTP2.clientPreface) {
        case .match: return .match(.high, "the client sent the HTTP/2 connection preface")
        case .needMoreBytes where client.count >= 4: return .match(.medium, "the client's bytes begin the HTTP/2 connection preface")
        case let other: return other
        }
    }

    /// RFC 9113 §3.4: the server's first frame is a non-ACK SETTINGS on stream 0.
    static func http2Server(_ server: [UInt8]) -> Verdict {
        if server.count >= 9, let header = HTTP2FrameHeader(server) {
            let settings = header.type == HTTP2FrameType.settings.rawValue && header.flags == 0
                && header.streamID == 0 && header.length % 6 == 0 && header.length <= HTTP2.defaultMaxFrameSize
            return settings ? .match(.medium, "the server's first frame is an HTTP/2 SETTINGS frame") : .noMatch
        }
        if server.count >= 4 && server[3] != HTTP2FrameType.settings.rawValue { return .noMatch }
        return .needMoreBytes
    }

    /// TLS record header (RFC 8446 §5.1): content type 20...24, version 3.0...3.4, length up
    /// to 2^14 + 2048; a ClientHello (client) or ServerHello (server) makes it certain.
    static func tls(_ bytes: [UInt8], fromClient: Bool) -> Verdict {
        if bytes.count < 5 {
            if bytes.isEmpty { return .needMoreBytes }
            guard (0x14...0x18).contains(bytes[0]) else { return sslv2(bytes, fromClient: fromClient) }
            if bytes.count >= 2 && bytes[1] != 0x03 { return .noMatch }
            if bytes.count >= 3 && bytes[2] > 0x04 { return .noMatch }
            return .needMoreBytes
        }
        guard (0x14...0x18).contains(bytes[0]), bytes[1] == 0x03, bytes[2] <= 0x04 else {
            return sslv2(bytes, fromClient: fromClient)
        }
        let length = Int(bytes[3]) << 8 | Int(bytes[4])
        guard length > 0, length <= 16_384 + 2_048 else { return .noMatch }
        let version = "3.\(bytes[2])"
        if bytes[0] == 0x16 && bytes.count > 5 {
            let hello: UInt8 = fromClient ? 0x01 : 0x02
            if bytes[5] == hello {
                return .match(.high, "a TLS handshake record (version \(version)) with a \(fromClient ? "ClientHello" : "ServerHello")")
            }
        }
        return .match(.medium, "a TLS record header (content type \(bytes[0]), version \(version), length \(length))")
    }

    /// An SSL 2.0-compatible ClientHello (RFC 6101 Appendix E.2), still sent by old clients.
    static func sslv2(_ bytes: [UInt8], fromClient: Bool) -> Verdict {
        guard fromClient, bytes.count >= 4 else { return .noMatch }
        if bytes[0] & 0x80 != 0 && bytes[2] == 0x01 && bytes[3] == 0x03 {
            return .match(.medium, "an SSL 2.0-compatible ClientHello")
        }
        return .noMatch
    }

    /// RFC 4253 §4.2: the identification string.
    static func ssh(_ bytes: [UInt8]) -> Verdict {
        switch hasPrefix(bytes, Array("SSH-".utf8)) {
        case .match:
            if bytes.starts(with: Array("SSH-2.0-".utf8)) || bytes.starts(with: Array("SSH-1.99-".utf8)) {
                return .match(.high, "an SSH identification string")
            }
            return .match(.medium, "an SSH-like identification string")
        case let other:
            return other
        }
    }

    static func http1Response(_ bytes: [UInt8]) -> Verdict {
        switch hasPrefix(bytes, Array("HTTP/1.".utf8)) {
        case .match:
            let line = bytes.prefix { $0 != 0x0D && $0 != 0x0A }
            return .match(.high, "the server sent an HTTP/1.x status line (\(printableText(Array(line))))")
        case let other:
            return other
        }
    }

    /// RFC 9112 §3: method token, SP, request target, SP, HTTP/1.x.
    static func http1Request(_ bytes: [UInt8]) -> Verdict {
        if bytes.isEmpty { return .needMoreBytes }
        var index = 0
        while index < bytes.count && isTokenCharacter(bytes[index]) {
            index += 1
            if index > 20 { return .noMatch }
        }
        if index == bytes.count { return .needMoreBytes }
        guard index > 0, bytes[index] == UInt8(ascii: " ") else { return .noMatch }
        let method = Array(bytes[0..<index])
        if method == Array("PRI".utf8) { return .noMatch }   // the HTTP/2 preface
        let known = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
            .contains { Array($0.utf8) == method }
        let line = printableText(Array(bytes.prefix { $0 != 0x0D && $0 != 0x0A }))
        let partial: Verdict = known
            ? .match(.medium, "the client's bytes start like an HTTP/1.x request (\(line))") : .needMoreBytes
        var targetEnd = index + 1
        while targetEnd < bytes.count && bytes[targetEnd] > 0x20 && bytes[targetEnd] < 0x7F { targetEnd += 1 }
        if targetEnd == bytes.count { return partial }
        guard targetEnd > index + 1, bytes[targetEnd] == UInt8(ascii: " ") else { return .noMatch }
        let version = Array("HTTP/1.".utf8)
        let rest = bytes[(targetEnd + 1)...]
        let compared = min(rest.count, version.count)
        guard rest.prefix(compared).elementsEqual(version.prefix(compared)) else { return .noMatch }
        if compared < version.count { return partial }
        return .match(.high, "the client sent an HTTP/1.x request line (\(line))")
    }

    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// Docker's multiplexed stream (attach/exec without a TTY): 8-byte headers of stream
    /// id 0/1/2, three zero bytes and a big-endian length, sent by the server.
    static func docker(_ bytes: [UInt8]) -> Verdict {
        switch dockerHeader(bytes, at: 0) {
        case .valid(let length):
            let next = 8 + length
            if next < bytes.count {
                switch dockerHeader(bytes, at: next) {
                case .valid: return .match(.high, "the server's bytes are Docker stream headers (stream \(bytes[0]), two frames)")
                case .invalid: return .noMatch
                case .incomplete: break
                }
            }
            return .match(.medium, "the server's first bytes are a Docker stream header (stream \(bytes[0]), length \(length))")
        case .invalid: return .noMatch
        case .incomplete: return .needMoreBytes
        }
    }

    enum DockerHeader { case incomplete, invalid, valid(length: Int) }

    static func dockerHeader(_ bytes: [UInt8], at start: Int) -> DockerHeader {
        let available = bytes.count - start
        if available <= 0 { return .incomplete }
        if bytes[start] > 2 { return .invalid }
        for offset in 1..<min(4, available) where bytes[start + offset] != 0 { return .invalid }
        guard available >= 8 else { return .incomplete }
        let length = Int(bytes[start + 4]) << 24 | Int(bytes[start + 5]) << 16 | Int(bytes[start + 6]) << 8 | Int(bytes[start + 7])
        guard length > 0, length <= 1 << 24 else { return .invalid }
        return .valid(length: length)
    }

    // MARK: WebSocket (RFC 6455 §5.2)

    /// Frame header shape (not full validity, which the WebSocket analyzer checks): RSV2/RSV3
    /// clear, a defined opcode (no continuation first), MASK set exactly on client frames,
    /// control frames final, a 64-bit length of at most 2 GiB. A second valid header
    /// right after the first frame raises confidence.
    static func websocket(client fromClient: Verdict, server fromServer: Verdict) -> Verdict {
        switch (fromClient, fromServer) {
        case (.match(let a, _), .match(let b, _)):
            return .match(max(a, b).raised, "valid WebSocket frame headers in both directions (masked from the client only)")
        case (.match(let confidence, let reason), .needMoreBytes), (.needMoreBytes, .match(let confidence, let reason)):
            return .match(confidence, reason)
        case (.match(_, let reason), .noMatch), (.noMatch, .match(_, let reason)):
            // A peer breaking RFC 6455 still speaks WebSocket; its analyzer reports the frames.
            return .match(.low, reason + "; the other direction's first bytes are not a valid frame header")
        case (.needMoreBytes, .needMoreBytes):
            return .needMoreBytes
        default:
            return .noMatch
        }
    }

    static func websocketFrames(_ bytes: [UInt8], masked: Bool) -> Verdict {
        let side = masked ? "client" : "server"
        switch websocketHeader(bytes, at: 0, masked: masked, continuationAllowed: false) {
        case .incomplete:
            return .needMoreBytes
        case .invalid:
            return .noMatch
        case .valid(let end, let final):
            var confidence: SniffConfidence = masked ? .medium : .low
            var reason = "a valid \(masked ? "masked" : "unmasked") WebSocket frame header from the \(side)"
            if end < bytes.count {
                switch websocketHeader(bytes, at: end, masked: masked, continuationAllowed: !final) {
                case .valid:
                    confidence = confidence.raised
                    reason = "consecutive valid WebSocket frame headers from the \(side)"
                case .invalid:
                    return .noMatch
                case .incomplete:
                    break
                }
            }
            return .match(confidence, reason)
        }
    }

    enum WebSocketHeader {
        case incomplete
        case invalid
        /// `end`: offset after the frame's payload (may be beyond the bytes at hand).
        case valid(end: Int, final: Bool)
    }

    static func websocketHeader(_ bytes: [UInt8], at start: Int, masked: Bool, continuationAllowed: Bool) -> WebSocketHeader {
        let available = bytes.count - start
        guard available >= 1 else { return .incomplete }
        let first = bytes[start]
        let final = first & 0x80 != 0
        let opcode = first & 0x0F
        if first & 0x30 != 0 { return .invalid }                      // RSV2, RSV3: no extension defines them
        switch opcode {
        case 0x0: if !continuationAllowed { return .invalid }
        case 0x1, 0x2, 0x8, 0x9, 0xA: break
        default: return .invalid
        }
        if opcode >= 0x8 && !final { return .invalid }
        guard available >= 2 else { return .incomplete }
        let second = bytes[start + 1]
        if (second & 0x80 != 0) != masked { return .invalid }
        var length = Int(second & 0x7F)
        var headerLength = 2
        if length == 126 {
            guard available >= 4 else { return .incomplete }
            length = Int(bytes[start + 2]) << 8 | Int(bytes[start + 3])
            headerLength = 4
        } else if length == 127 {
            guard available >= 10 else { return .incomplete }
            var value: UInt64 = 0
            for offset in 2..<10 { value = value << 8 | UInt64(bytes[start + offset]) }
            if value > 1 << 31 { return .invalid }                       // not a sane length (top bit must be 0 anyway)
            length = Int(value)
            headerLength = 10
        }
        if masked { headerLength += 4 }
        return .valid(end: start + headerLength + length, final: final)
    }
}

/// How one direction's first bytes fit the protocol a 101 agreed on.
public enum DirectionFit: Sendable, Equatable {
    case fits
    case breaks
    case undecided
}

extension ProtocolSniffer {
    /// Judges one direction alone, so a caller can decide, as bytes arrive, whether to hand
    /// them to the agreed protocol's decoder (which would only report noise on another protocol).
    public static func fit(_ expected: ObservedProtocol, bytes: [UInt8], fromClient: Bool) -> DirectionFit {
        let prefix = Array(bytes.prefix(maxBytes))
        let verdicts = fromClient ? directionVerdicts(expected, client: prefix, server: [])
                                  : directionVerdicts(expected, client: [], server: prefix)
        switch fromClient ? verdicts.client : verdicts.server {
        case .match: return .fits
        case .noMatch: return .breaks
        case .needMoreBytes: return bytes.count >= maxBytes ? .fits : .undecided
        }
    }
}
