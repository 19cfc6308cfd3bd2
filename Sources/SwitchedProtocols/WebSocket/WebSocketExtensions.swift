/// One entry of a `Sec-WebSocket-Extensions` list (RFC 6455 §9.1):
/// `extension-token *( ";" extension-param )`, a param being `token [ "=" (token / quoted-string) ]`.
public struct WebSocketExtension: Sendable, Equatable {
    public struct Parameter: Sendable, Equatable {
        public var name: String
        /// Nil for a bare parameter (`client_no_context_takeover`); quoted strings are unquoted.
        public var value: String?

        public init(name: String, value: String?) {
            self.name = name
            self.value = value
        }
    }

    /// Lowercased (extension tokens compare case-insensitively).
    public var name: String
    public var parameters: [Parameter]

    public init(name: String, parameters: [Parameter] = []) {
        self.name = name
        self.parameters = parameters
    }

    public func parameter(_ name: String) -> Parameter? {
        parameters.first { $0.name == name }
    }

    /// As it would be written in the header: `permessage-deflate; client_max_window_bits=15`.
    public var headerText: String {
        var text = name
        for parameter in parameters {
            text += "; " + parameter.name
            if let value = parameter.value { text += "=" + value }
        }
        return text
    }

    /// Parses the values of every `Sec-WebSocket-Extensions` line (a list may span several lines).
    /// Elements that are not `token *(; param)` are skipped; `malformed` counts them.
    public static func parse(_ values: [String]) -> (extensions: [WebSocketExtension], malformed: Int) {
        var extensions: [WebSocketExtension] = []
        var malformed = 0
        for value in values {
            for element in splitOutsideQuotes(value, separator: ",") {
                let parts = splitOutsideQuotes(element, separator: ";").map(trimOWS)
                guard let first = parts.first, !first.isEmpty else {
                    if !element.allSatisfy({ $0 == " " || $0 == "\t" }) { malformed += 1 }
                    continue
                }
                guard isToken(first) else {
                    malformed += 1
                    continue
                }
                var parameters: [Parameter] = []
                var bad = false
                for part in parts.dropFirst() {
                    let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    let name = trimOWS(String(pieces[0])).lowercased()
                    guard isToken(name) else {
                        bad = true
                        continue
                    }
                    var parameterValue: String?
                    if pieces.count == 2 {
                        var raw = trimOWS(String(pieces[1]))
                        if raw.count >= 2 && raw.hasPrefix("\"") && raw.hasSuffix("\"") {
                            raw = String(raw.dropFirst().dropLast()).replacingBackslashEscapes()
                        }
                        parameterValue = raw
                    }
                    parameters.append(Parameter(name: name, value: parameterValue))
                }
                if bad { malformed += 1 }
                extensions.append(WebSocketExtension(name: first.lowercased(), parameters: parameters))
            }
        }
        return (extensions, malformed)
    }
}

/// permessage-deflate's negotiated parameters (RFC 7692 §7.1), as the server accepted them.
public struct PerMessageDeflateParameters: Sendable, Equatable {
    public var serverNoContextTakeover: Bool
    public var clientNoContextTakeover: Bool
    /// 8…15 when given; nil when absent (the default window, 15).
    public var serverMaxWindowBits: Int?
    public var clientMaxWindowBits: Int?

    public init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                serverMaxWindowBits: Int? = nil, clientMaxWindowBits: Int? = nil) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
    }

    public init(_ element: WebSocketExtension) {
        self.init(serverNoContextTakeover: element.parameter("server_no_context_takeover") != nil,
                  clientNoContextTakeover: element.parameter("client_no_context_takeover") != nil,
                  serverMaxWindowBits: element.parameter("server_max_window_bits")?.value.flatMap { Int($0) },
                  clientMaxWindowBits: element.parameter("client_max_window_bits")?.value.flatMap { Int($0) })
    }
}

// MARK: Header-value helpers (RFC 9110 §5.6)

/// Splits on `separator` except inside quoted strings.
func splitOutsideQuotes(_ text: String, separator: Character) -> [String] {
    var parts: [String] = []
    var current = ""
    var quoted = false
    var escaped = false
    for character in text {
        if escaped {
            escaped = false
        } else if quoted && character == "\\" {
            escaped = true
        } else if character == "\"" {
            quoted.toggle()
        } else if character == separator && !quoted {
            parts.append(current)
            current = ""
            continue
        }
        current.append(character)
    }
    parts.append(current)
    return parts
}

/// Removes optional whitespace (SP / HTAB) at both ends.
func trimOWS(_ text: String) -> String {
    var slice = Substring(text)
    while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
    while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
    return String(slice)
}

/// RFC 9110 §5.6.2 token.
func isToken(_ text: String) -> Bool {
    !text.isEmpty && text.utf8.allSatisfy { byte in
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

/// Comma-separated list elements of all values, trimmed, empty elements dropped (RFC 9110 §5.6.1).
func listElements(_ values: [String]) -> [String] {
    values.flatMap { splitOutsideQuotes($0, separator: ",") }.map(trimOWS).filter { !$0.isEmpty }
}

extension String {
    fileprivate func replacingBackslashEscapes() -> String {
        var result = ""
        var escaped = false
        for character in self {
            if escaped || character != "\\" {
                result.append(character)
                escaped = false
            } else {
                escaped = true
            }
        }
        return result
    }
}
