import Findings

/// One end of a connection as a record names it.
struct Peer: Hashable, Sendable {
    var ip: String
    var port: Int64?

    init(ip: String, port: Int64?) {
        self.ip = ip
        self.port = port
    }

    init?(_ value: JSONValue?) {
        guard let value, let ip = value["ip"]?.stringValue else { return nil }
        self.ip = ip
        self.port = value["port"]?.integerValue
    }

    /// `127.0.0.1:80`, `[::1]:80`.
    var display: String {
        let host = ip.contains(":") ? "[\(ip)]" : ip
        return port.map { "\(host):\($0)" } ?? host
    }
}

/// A request or response head reconstructed from a record's `request` / `response` object.
struct MessageHead: Sendable {
    var method: String?
    var target: String?
    var version: String
    var status: Int64?
    var reason: String?
    var headers: [(name: String, value: String)]
    var frame: Int64?

    init?(_ value: JSONValue?) {
        guard let value, value.members != nil else { return nil }
        method = value["method"]?.stringValue
        target = value["target"]?.stringValue
        version = value["version"]?.stringValue ?? ""
        status = value["status"]?.integerValue
        reason = value["reason"]?.stringValue
        headers = (value["headers"]?.members ?? []).map { (name: $0.key, value: displayText($0.value)) }
        frame = value["frame"]?.integerValue
    }

    var isRequest: Bool { status == nil }

    var startLine: String {
        if let status {
            return [version, String(status), reason ?? ""].filter { !$0.isEmpty }.joined(separator: " ")
        }
        return [method ?? "", target ?? "", version].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// The head as it would appear on the wire (the upgrade-relevant headers analyze kept).
    var lines: [String] {
        [startLine] + headers.map { "\($0.name): \($0.value)" }
    }
}

/// A record's whole text or its parsed value. Records that are only counted keep neither; the
/// few shown in full keep their line and parse it once (`materialize`) before they are shown.
struct RecordSource: Sendable {
    var parsed: JSONValue?
    var raw: ArraySlice<UInt8>?

    var value: JSONValue { parsed ?? raw.flatMap { JSONParser.parse($0) } ?? .null }

    mutating func materialize() {
        if parsed == nil, raw != nil { parsed = value }
        raw = nil
    }

    /// Keeps a compact copy of the line (the slice may share a larger buffer).
    mutating func keep() {
        if let raw, parsed == nil { self.raw = Array(raw)[...] }
    }
}

/// What a `switch`, `upgrade_declined` or `prior_knowledge` record says about a connection; a
/// violation on the same connection shows it as evidence.
struct ConnectionContext: Sendable {
    enum Kind: String, Sendable { case switched = "switch", declined = "upgrade_declined", priorKnowledge = "prior_knowledge" }

    var kind: Kind
    var capture: String
    var client: Peer?
    var server: Peer?
    var time: CaptureTime?
    /// The selected protocol (`websocket`, `h2c`…), for switches and prior knowledge.
    var agreed: String?
    var observed: String?
    /// The Host header of the upgrade request.
    var host: String?
    /// The whole record; what only the few contexts shown in full need is read from it on demand,
    /// so the many that are only counted cost no parsing.
    var source: RecordSource
    var value: JSONValue { source.value }

    init?(_ record: ReportRecord) {
        guard let kind = Kind(rawValue: record.type) else { return nil }
        let value = record.value
        self.kind = kind
        source = RecordSource(parsed: value)
        capture = value["capture"]?.stringValue ?? ""
        client = Peer(value["connection"]?["client"])
        server = Peer(value["connection"]?["server"])
        time = value["ts"]?.stringValue.flatMap(CaptureTime.init(rfc3339:))
        agreed = kind == .declined ? nil : value["protocol"]?.stringValue
        observed = value["observed"]?["protocol"]?.stringValue
        host = value["request"]?["headers"]?.members?.first { $0.key.lowercased() == "host" }?.value.stringValue
    }

    /// The same from a scanned line, which is kept (not parsed) in case the context is shown.
    init?(_ scanned: ScannedRecord, line: ArraySlice<UInt8>) {
        guard let type = scanned.type, let kind = Kind(rawValue: type) else { return nil }
        self.kind = kind
        source = RecordSource(raw: line)
        capture = JSONScan.string(scanned.capture) ?? ""
        client = scanned.client
        server = scanned.server
        time = JSONScan.string(scanned.ts).flatMap(CaptureTime.init(rfc3339:))
        agreed = kind == .declined ? nil : JSONScan.string(scanned.protocolName)
        observed = JSONScan.string(scanned.observedProtocol)
        host = kind == .priorKnowledge ? nil : JSONScan.string(scanned.host)
    }

    var partial: Bool { value["connection"]?["partial"]?.boolValue ?? false }
    var confidence: String? { value["observed"]?["confidence"]?.stringValue }
    var observedReason: String? { value["observed"]?["reason"]?.stringValue }
    var request: MessageHead? { MessageHead(value["request"]) }
    var response: MessageHead? { MessageHead(value["response"]) }
    var clientFirstBytes: [UInt8]? { byteEvidence(value["observed"]?["client_first_bytes"]) }
    var serverFirstBytes: [UInt8]? { byteEvidence(value["observed"]?["server_first_bytes"]) }
    /// `stream_bytes` since schema 1 (`bytes` before, which the summary also uses for an integer).
    private var bytesAfter: JSONValue? {
        kind == .priorKnowledge ? value["stream_bytes"] ?? value["bytes"] : value["bytes_after_switch"]
    }
    var bytesAfterClient: Int64? { bytesAfter?["client_to_server"]?.integerValue }
    var bytesAfterServer: Int64? { bytesAfter?["server_to_client"]?.integerValue }
    var firstFrame: Int64? { value["first_frame"]?.integerValue ?? value["response_frame"]?.integerValue ?? response?.frame }
    var canonical: String { value.serialized() }

    var connectionKey: ConnectionKey { ConnectionKey(capture: capture, client: client, server: server) }
}

/// Identifies one connection in one capture (ports included: within a capture they are exact).
struct ConnectionKey: Hashable, Sendable {
    var capture: String
    var client: Peer?
    var server: Peer?
}

/// A service as the findings name it: the server's IP address and port. Host names come from
/// the upgrade requests to it (a violation record does not carry one).
struct ServiceKey: Hashable, Comparable, Sendable {
    var ip: String
    var port: Int64?

    init(_ peer: Peer?) {
        ip = peer?.ip ?? ""
        port = peer?.port
    }

    static func < (a: ServiceKey, b: ServiceKey) -> Bool { (a.ip, a.port ?? -1) < (b.ip, b.port ?? -1) }

    /// `10.0.0.2:80`, `[::1]:443`, or `(no server)`.
    var display: String { ip.isEmpty && port == nil ? "(no server)" : Peer(ip: ip, port: port).display }
}

/// How findings are grouped, and how groups of two audits are matched (`--baseline`): the rule
/// and the service. Client addresses, ports and times are left out on purpose: in a fleet they
/// are many and change on every run; a group says how many clients and captures it spans.
struct GroupKey: Hashable, Comparable, Sendable {
    var rule: String
    var server: ServiceKey

    static func < (a: GroupKey, b: GroupKey) -> Bool { (a.rule, a.server) < (b.rule, b.server) }

    static let description = "rule, server IP address and server port (not capture, time or client)"
}

/// One violation record, ready to show.
struct FindingItem: Sendable {
    var rule: String
    var severity: Severity
    var message: String
    var time: CaptureTime?
    var rawTimestamp: String
    var capture: String
    var client: Peer?
    var server: Peer?
    var frame: Int64?
    var context: ConnectionContext?
    /// The whole record; fields only a finding shown in full needs are read from it on demand.
    var source: RecordSource
    var value: JSONValue { source.value }

    /// From a scanned line; the line is kept only if the finding becomes an example.
    init?(_ scanned: ScannedRecord, line: ArraySlice<UInt8>) {
        guard scanned.type == "violation" else { return nil }
        source = RecordSource(raw: line)
        rule = JSONScan.string(scanned.rule) ?? "(no rule)"
        severity = Severity.of(rule: rule, recorded: JSONScan.string(scanned.severity))
        message = JSONScan.string(scanned.message) ?? ""
        rawTimestamp = JSONScan.string(scanned.ts) ?? ""
        time = CaptureTime(rfc3339: rawTimestamp)
        capture = JSONScan.string(scanned.capture) ?? ""
        client = scanned.client
        server = scanned.server
        frame = JSONScan.integer(scanned.frame)
    }

    init?(_ record: ReportRecord) {
        guard record.type == "violation" else { return nil }
        let value = record.value
        source = RecordSource(parsed: value)
        rule = value["rule"]?.stringValue ?? "(no rule)"
        severity = Severity.of(rule: rule, recorded: value["severity"]?.stringValue)
        message = value["message"]?.stringValue ?? ""
        rawTimestamp = value["ts"]?.stringValue ?? ""
        time = CaptureTime(rfc3339: rawTimestamp)
        capture = value["capture"]?.stringValue ?? ""
        client = Peer(value["connection"]?["client"])
        server = Peer(value["connection"]?["server"])
        frame = value["frame"]?.integerValue
    }

    var reference: String { value["reference"]?.stringValue ?? Rule.named(rule)?.reference ?? "" }
    var partial: Bool { value["connection"]?["partial"]?.boolValue ?? false }
    var direction: String? { value["direction"]?.stringValue }
    var evidence: [JSONMember] { value["evidence"]?.members ?? [] }
    var canonical: String { value.serialized() }

    var groupKey: GroupKey { GroupKey(rule: rule, server: ServiceKey(server)) }

    var connectionKey: ConnectionKey { ConnectionKey(capture: capture, client: client, server: server) }

    /// The order of examples within a group: capture, time, frame, connection; the record's
    /// own text breaks any remaining tie, so the order never depends on input order.
    static func precedes(_ a: FindingItem, _ b: FindingItem) -> Bool {
        if a.severity != b.severity { return a.severity > b.severity }
        if a.rule != b.rule { return a.rule < b.rule }
        if a.capture != b.capture { return a.capture < b.capture }
        let at = a.time?.microseconds ?? .max, bt = b.time?.microseconds ?? .max
        if at != bt { return at < bt }
        let af = a.frame ?? .max, bf = b.frame ?? .max
        if af != bf { return af < bf }
        let ac = a.client?.display ?? "", bc = b.client?.display ?? ""
        if ac != bc { return ac < bc }
        let asv = a.server?.display ?? "", bsv = b.server?.display ?? ""
        if asv != bsv { return asv < bsv }
        return a.canonical < b.canonical
    }

    /// Frames worth opening in Wireshark, with what each one is: the finding's own frame, the
    /// frames named in its evidence, and the upgrade request and response of its connection.
    var frames: [(frame: Int64, role: String)] {
        var list: [(Int64, String)] = []
        func add(_ frame: Int64?, _ role: String) {
            guard let frame, frame > 0, !list.contains(where: { $0.0 == frame }) else { return }
            list.append((frame, role))
        }
        add(frame, "where the finding was detected")
        for member in evidence where member.key.hasSuffix("frame") {
            add(member.value.integerValue, member.key.replacingUnderscores())
        }
        add(context?.request?.frame, "upgrade request")
        add(context?.response?.frame, context?.kind == .declined ? "declining response" : "101 response")
        return list.sorted { $0.0 < $1.0 }.map { (frame: $0.0, role: $0.1) }
    }

    /// A Wireshark display filter for the connection, when both ends are plain IP addresses.
    var connectionFilter: String? {
        guard let client, let server, let clientPort = client.port, let serverPort = server.port,
              isPlainAddress(client.ip), isPlainAddress(server.ip) else { return nil }
        let field = client.ip.contains(":") ? "ipv6.addr" : "ip.addr"
        return "\(field) == \(client.ip) && \(field) == \(server.ip) && tcp.port == \(clientPort) && tcp.port == \(serverPort)"
    }
}

private func isPlainAddress(_ text: String) -> Bool {
    !text.isEmpty && text.count <= 45 && text.allSatisfy { $0.isASCII && ($0.isHexDigit || $0 == "." || $0 == ":") }
}

extension String {
    func replacingUnderscores() -> String { String(map { $0 == "_" ? " " : $0 }) }
}

/// Short text for a JSON value shown as evidence or a header value.
func displayText(_ value: JSONValue) -> String {
    switch value {
    case .null: return "null"
    case .bool(let flag): return flag ? "true" : "false"
    case .number(let text): return text
    case .string(let text): return text
    case .array(let items): return items.map(displayText).joined(separator: ", ")
    case .object(let members):
        if let bytes = byteEvidence(value) { return printableText(bytes) }
        return members.map { "\($0.key)=\(displayText($0.value))" }.joined(separator: ", ")
    }
}

/// The bytes of a `{"hex": …, "text": …}` evidence value; nil unless the hex is well formed.
func byteEvidence(_ value: JSONValue?) -> [UInt8]? {
    guard let value, let members = value.members, members.contains(where: { $0.key == "hex" }),
          let hex = value["hex"]?.stringValue else { return nil }
    let digits = Array(hex.utf8)
    guard digits.count % 2 == 0, digits.count <= 1 << 20 else { return nil }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    var index = 0
    while index < digits.count {
        guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
        bytes.append(high << 4 | low)
        index += 2
    }
    return bytes
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case 0x30...0x39: return byte - 0x30
    case 0x41...0x46: return byte - 0x41 + 10
    case 0x61...0x66: return byte - 0x61 + 10
    default: return nil
    }
}

extension ConnectionContext {
    /// The context with a compact copy of its line, to be kept.
    func kept() -> ConnectionContext {
        var copy = self
        copy.source.keep()
        return copy
    }
}
