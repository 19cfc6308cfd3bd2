import HTTP1

/// Which real clients take a response with each leniency, as measured by
/// Captures/client_acceptance.py on loopback (curl 7.88.1, Python 3.11 http.client,
/// websockets 10.4, Node v20 http, Chromium 156 headless; docs/RULES.md, *What real clients
/// accept*). Findings about a response name them, so that a reader sees who would have
/// followed the server and who would not.
enum ClientAcceptance {
    static let clients = ["curl", "Python http.client", "websockets", "Node http", "Chromium"]

    /// The clients that take a response with this anomaly (with how, when they read it
    /// differently from Switchyard), or nil for anomalies that were not measured.
    static func acceptedBy(_ kind: HTTPAnomaly.Kind) -> [String]? {
        switch kind {
        case .versionLowercase:
            return ["Chromium", "curl (reads the head but not as a status line: reports 200, no switch)"]
        case .versionWithoutMinor:
            return ["Chromium"]
        case .versionMajorTwo:
            return ["curl", "Node http", "Chromium"]
        case .statusLineExtraWhitespace:
            return ["curl", "Python http.client", "Chromium"]
        case .statusLineTab:
            return ["Python http.client"]
        case .statusCodeLeadingZeros:
            return ["Python http.client", "websockets", "Chromium"]
        case .statusCodeTrailingBytes:
            return ["curl", "Chromium"]
        case .bareLF, .obsFold, .foldWithoutField:
            return ["curl", "Python http.client", "Chromium"]
        case .headerLineWithoutColon, .invalidFieldName:
            return ["curl", "Chromium", "Python http.client (ends the header section at this line: later fields are lost)"]
        case .whitespaceBeforeColon:
            return ["curl", "Chromium", "Python http.client (keeps the space in the name: the field is not found)"]
        case .invalidFieldValue:
            return ["curl", "Python http.client", "Chromium (not with NUL: the WebSocket does not open)"]
        case .duplicateContentLength, .conflictingContentLength, .contentLengthWithTransferEncoding,
             .transferEncodingNotChunked:
            return nil
        }
    }

    /// The measured clients that reject such a response.
    static func rejectedBy(_ kind: HTTPAnomaly.Kind) -> [String]? {
        guard let accepted = acceptedBy(kind) else { return nil }
        return clients.filter { client in !accepted.contains { $0.hasPrefix(client) } }
    }
}
