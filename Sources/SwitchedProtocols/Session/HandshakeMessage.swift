import Findings

/// An HTTP/1.x head of the upgrade exchange, as the checks and sessions of the switched
/// protocols need it (they do not depend on the HTTP/1 parser's types).
public struct HandshakeMessage: Sendable {
    /// Request method (requests only), case-sensitive as sent.
    public var method: String?
    /// Request target as sent (requests only).
    public var target: String?
    /// `HTTP/1.1` as sent.
    public var version: String
    /// Status code (responses only).
    public var status: Int?
    /// Every field line as received, in order, repeats kept as separate entries (names in any case).
    public var headers: [(name: String, value: String)]

    public init(method: String? = nil, target: String? = nil, version: String, status: Int? = nil,
                headers: [(name: String, value: String)]) {
        self.method = method
        self.target = target
        self.version = version
        self.status = status
        self.headers = headers
    }

    /// From a switch record's head. Its repeated fields are joined with ", ", which the checks
    /// still recognise as repeats for the single-valued fields (a key or accept never has a comma).
    public init(_ summary: MessageSummary) {
        self.init(method: summary.method, target: summary.target, version: summary.version, status: summary.status, headers: summary.headers)
    }

    /// Values of every line named `name` (case-insensitive), trimmed.
    public func values(_ name: String) -> [String] {
        let wanted = name.lowercased()
        return headers.filter { $0.name.lowercased() == wanted }.map { trimOWS($0.value) }
    }
}
