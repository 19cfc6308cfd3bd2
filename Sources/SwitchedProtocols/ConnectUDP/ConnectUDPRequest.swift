/// The UDP target a CONNECT-UDP request names through its URI template (RFC 9298 §2, §3).
public struct ConnectUDPTarget: Sendable, Equatable {
    /// Which template form the request target was recognised as.
    public enum Template: String, Sendable {
        /// `/.well-known/masque/udp/{target_host}/{target_port}/`, the default (RFC 9298 §2).
        case wellKnown = "default"
        /// `?target_host=…&target_port=…`, the `{?target_host,target_port}` form (RFC 9298 §2, Figure 1).
        case query
    }

    public var template: Template
    /// Percent-decoded (an IPv6 literal without brackets).
    public var host: String
    public var port: Int

    public static let wellKnownPrefix = "/.well-known/masque/udp/"

    /// What a request target says.
    public enum Parsed: Sendable, Equatable {
        case target(ConnectUDPTarget)
        /// A recognised template form whose variables break RFC 9298 §3 (the reason says how).
        case invalid(Template?, String)
        /// Neither form: a server may use any template (RFC 9298 §2), so nothing can be checked.
        case unrecognised
    }

    /// Parses an origin-form or absolute-form request target (RFC 9112 §3.2.1, §3.2.2; RFC 9298
    /// §3.2's example uses the absolute form).
    public static func parse(requestTarget: String) -> Parsed {
        var rest = Substring(requestTarget)
        if !rest.hasPrefix("/") {
            guard let schemeEnd = rest.firstRange(of: "://") else {
                return .invalid(nil, "the request target is neither origin-form nor absolute-form")
            }
            rest = rest[schemeEnd.upperBound...]
            guard let pathStart = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return .unrecognised }
            rest = rest[pathStart...]
        }
        let path: Substring
        var query: Substring?
        if let mark = rest.firstIndex(of: "?") {
            path = rest[..<mark]
            query = rest[rest.index(after: mark)...]
        } else {
            path = rest
        }
        if path.hasPrefix(wellKnownPrefix) {
            let segments = path.dropFirst(wellKnownPrefix.count).split(separator: "/", omittingEmptySubsequences: false)
            guard segments.count == 3, segments[2].isEmpty else {
                return .invalid(.wellKnown, "the path after \(wellKnownPrefix) is not {target_host}/{target_port}/")
            }
            return variables(host: segments[0], port: segments[1], template: .wellKnown)
        }
        if let query {
            var host: Substring?
            var port: Substring?
            for parameter in query.split(separator: "&", omittingEmptySubsequences: false) {
                let pair = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                if pair.first == "target_host" { host = pair.count == 2 ? pair[1] : "" }
                if pair.first == "target_port" { port = pair.count == 2 ? pair[1] : "" }
            }
            if let host, let port { return variables(host: host, port: port, template: .query) }
        }
        return .unrecognised
    }

    /// RFC 9298 §3, Figure 2: `target_host = IPv6address / IPv4address / reg-name`,
    /// `target_port = port`, neither empty, IPv6 colons percent-encoded, no zone identifier,
    /// the port 1–65535.
    static func variables(host rawHost: Substring, port rawPort: Substring, template: Template) -> Parsed {
        guard !rawHost.isEmpty else { return .invalid(template, "target_host is empty") }
        guard !rawPort.isEmpty else { return .invalid(template, "target_port is empty") }
        for character in rawHost.unicodeScalars where !isRegNameCharacter(character) {
            if character == ":" { return .invalid(template, "target_host has an unencoded ':' (an IPv6 literal's colons must be percent-encoded)") }
            return .invalid(template, "target_host has '\(character.escaped(asASCII: true))', not allowed in a URI host")
        }
        guard let host = percentDecoded(rawHost) else { return .invalid(template, "target_host has a bad percent-encoding") }
        if host.contains(":") {
            if host.contains("%") { return .invalid(template, "target_host is an IPv6 literal with a zone identifier, which RFC 9298 does not support") }
            guard isIPv6Address(host) else { return .invalid(template, "target_host '\(host)' has ':' but is not an IPv6 address") }
        }
        guard let portText = percentDecoded(rawPort), !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return .invalid(template, "target_port '\(rawPort)' is not a decimal number")
        }
        let digits = portText.drop { $0 == "0" }
        guard digits.count <= 5, let port = Int(digits.isEmpty ? "0" : String(digits)), (1...65_535).contains(port) else {
            return .invalid(template, "target_port \(portText) is not between 1 and 65535")
        }
        return .target(ConnectUDPTarget(template: template, host: host, port: port))
    }

    /// RFC 3986 §3.2.2 reg-name: unreserved, pct-encoded ('%' here; checked when decoding) and sub-delims.
    static func isRegNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.isASCII else { return false }
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", ".", "_", "~", "%",
             "!", "$", "&", "'", "(", ")", "*", "+", ",", ";", "=":
            return true
        default:
            return false
        }
    }

    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard iterator.count >= 2, let high = hexValue(iterator.removeFirst()), let low = hexValue(iterator.removeFirst()) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// RFC 3986 §3.2.2 IPv6address: eight 16-bit groups of 1–4 hex digits, one `::` standing
    /// for one or more zero groups, the last 32 bits optionally dotted IPv4.
    static func isIPv6Address(_ text: String) -> Bool {
        var halves = [Substring(text)]
        if let double = text.firstRange(of: "::") { halves = [text[..<double.lowerBound], text[double.upperBound...]] }
        if halves.count == 2 && halves[1].contains("::") { return false }
        func groups(_ part: Substring) -> Int? {
            if part.isEmpty { return 0 }
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            var count = 0
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains(".") {
                    guard isIPv4Address(piece) else { return nil }
                    count += 2
                } else {
                    guard (1...4).contains(piece.count), piece.allSatisfy(\.isHexDigit) else { return nil }
                    count += 1
                }
            }
            return count
        }
        guard let first = groups(halves[0]) else { return false }
        if halves.count == 1 { return first == 8 }
        // An IPv4 tail belongs at the very end only.
        if halves[0].contains(".") { return false }
        guard let second = groups(halves[1]) else { return false }
        return first + second <= 7
    }

    /// RFC 3986 §3.2.2 IPv4address: four dec-octets (0–255, no leading zeros).
    static func isIPv4Address<Text: StringProtocol>(_ text: Text) -> Bool {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { octet in
            guard (1...3).contains(octet.count), octet.allSatisfy({ $0.isASCII && $0.isNumber }),
                  octet.count == 1 || octet.first != "0", let value = Int(String(octet)) else { return false }
            return value <= 255
        }
    }
}

/// The `Capsule-Protocol` header field (RFC 9297 §3.4): an Item Structured Field (RFC 8941
/// §3.3) whose value must be a Boolean; any other type, or more than one field line (a List),
/// counts as absent.
public enum CapsuleProtocolField: Sendable, Equatable {
    case absent
    case isTrue
    case isFalse
    /// Present but not a single Boolean item: ignored by recipients. The text says why.
    case ignored(String)

    public init(_ message: HandshakeMessage) {
        let values = message.values("Capsule-Protocol")
        guard let value = values.first else { self = .absent; return }
        if values.count > 1 {
            self = .ignored("\(values.count) Capsule-Protocol fields (a List, not a Boolean)")
            return
        }
        // sf-boolean = "?" boolean, then optional parameters (";" key ["=" value]), ignored.
        let item = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        switch trimOWS(item) {
        case "?1": self = .isTrue
        case "?0": self = .isFalse
        default: self = .ignored("Capsule-Protocol: \(value) is not a Boolean (?1)")
        }
    }
}
