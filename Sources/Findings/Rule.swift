/// One entry of the rule catalogue: a stable id, its severity, where the rule comes from,
/// and a one-line explanation (`switchyard rules`; docs/RULES.md explains each in full).
public struct Rule: Hashable, Sendable {
    public let id: String
    public let severity: Severity
    public let reference: String
    public let summary: String

    public init(id: String, severity: Severity, reference: String, summary: String) {
        self.id = id
        self.severity = severity
        self.reference = reference
        self.summary = summary
    }
}

extension Rule {
    // MARK: TCP and analyzer limits
    public static let tcpOverlapConflict = Rule(
        id: "tcp_overlap_conflict", severity: .high, reference: "RFC 9293 §3.10.7.4",
        summary: "Overlapping TCP segments carried different bytes; endpoints and monitors may each see a different stream.")
    public static let tcpBadChecksumIgnored = Rule(
        id: "tcp_bad_checksum_ignored", severity: .high, reference: "RFC 1122 §3.2.1.2, §4.2.2.7; RFC 9293 §3.1",
        summary: "A packet with a wrong checksum, which its receiver drops, would have changed the stream; it was not believed.")
    public static let tcpLowTTLDataIgnored = Rule(
        id: "tcp_low_ttl_data_ignored", severity: .high, reference: "RFC 9293 §3.10.7.4; Ptacek & Newsham 1998 §3.1",
        summary: "Data sent with a lower IP TTL than the rest of its direction was replaced by other bytes, or never acknowledged: it expired before the receiver, and only monitors saw it.")
    public static let tcpRSTIgnored = Rule(
        id: "tcp_rst_ignored", severity: .medium, reference: "RFC 5961 §3.2; RFC 9293 §3.10.7",
        summary: "An RST the receiver refuses (outside the window, off the expected sequence number, or not acknowledging the SYN) was not believed.")
    public static let tcpRSTNotHonoured = Rule(
        id: "tcp_rst_not_honoured", severity: .high, reference: "RFC 9293 §3.10.7; RFC 5961 §3",
        summary: "After an RST its own sender went on sending, so no endpoint acted on it (lost, or forged for monitors); the analysis went on.")
    public static let tcpFINNotHonoured = Rule(
        id: "tcp_fin_not_honoured", severity: .high, reference: "RFC 9293 §3.6, §3.10.7.4",
        summary: "A FIN was followed by data past it from its own sender before it was acknowledged: it never took effect (lost, or forged for monitors); the stream went on.")
    public static let tcpUrgentData = Rule(
        id: "tcp_urgent_data", severity: .medium, reference: "RFC 9293 §3.8.5; RFC 6093 §2",
        summary: "A segment carried urgent data; a default receiver takes the urgent byte out of the stream, which monitors that keep it do not see.")
    public static let tcpSYNDataNotAcknowledged = Rule(
        id: "tcp_syn_data_not_acknowledged", severity: .high, reference: "RFC 9293 §3.10.7.2; RFC 7413 §4.2",
        summary: "A SYN carried data its SYN-ACK did not acknowledge, and the bytes sent later in its place differ: the server never saw the SYN's.")
    public static let ipFragmentOverlapConflict = Rule(
        id: "ip_fragment_overlap_conflict", severity: .high, reference: "RFC 791 §3.2, RFC 8200 §4.5, RFC 5722 §4",
        summary: "Overlapping IP fragments carried different bytes; hosts that reassemble differently see different datagrams.")
    public static let analyzerLimitReached = Rule(
        id: "analyzer_limit_reached", severity: .info, reference: "Switchyard limits",
        summary: "A configured buffer or table limit was reached; part of the traffic was not analysed.")

    // MARK: HTTP/1.1 upgrade (RFC 9110 §7.8)
    public static let http101MissingUpgrade = Rule(
        id: "http_101_missing_upgrade", severity: .high, reference: "RFC 9110 §15.2.2, §7.8",
        summary: "A 101 Switching Protocols response without an Upgrade header naming the new protocol.")
    public static let http101Unsolicited = Rule(
        id: "http_101_unsolicited", severity: .high, reference: "RFC 9110 §7.8",
        summary: "A 101 answering a request that carried no Upgrade header.")
    public static let http101WithoutRequest = Rule(
        id: "http_101_without_request", severity: .high, reference: "RFC 9110 §7.8, RFC 9112 §9.3",
        summary: "A 101 on a connection seen from its start where no request was outstanding.")
    public static let http101ProtocolNotOffered = Rule(
        id: "http_101_protocol_not_offered", severity: .high, reference: "RFC 9110 §7.8",
        summary: "The 101 selects a protocol the request did not offer in its Upgrade header.")
    public static let httpUpgradeMissingConnectionToken = Rule(
        id: "http_upgrade_missing_connection_token", severity: .medium, reference: "RFC 9110 §7.8",
        summary: "An Upgrade header without the `upgrade` option in Connection, so intermediaries may forward it.")
    public static let httpConnectionUpgradeWithoutUpgrade = Rule(
        id: "http_connection_upgrade_without_upgrade", severity: .low, reference: "RFC 9110 §7.6.1, §7.8",
        summary: "Connection names `upgrade` but the message has no Upgrade header.")
    public static let http101ToHTTP10Request = Rule(
        id: "http_101_to_http10_request", severity: .high, reference: "RFC 9110 §15.2, §7.8",
        summary: "A 1xx (here a 101) sent in answer to an HTTP/1.0 request, which cannot understand it.")
    public static let http101HTTP10Response = Rule(
        id: "http_101_http10_response", severity: .medium, reference: "RFC 9110 §15.2",
        summary: "A 101 whose status line says HTTP/1.0, a version that has no 1xx responses.")
    public static let http101Before100Continue = Rule(
        id: "http_101_before_100_continue", severity: .medium, reference: "RFC 9110 §7.8",
        summary: "The request expected 100-continue and asked for an upgrade; the server switched without sending 100 first.")
    public static let http1xxWithContent = Rule(
        id: "http_1xx_with_content", severity: .medium, reference: "RFC 9110 §8.6, RFC 9112 §6.3",
        summary: "A 1xx response carrying Content-Length or Transfer-Encoding, which 1xx responses never have.")
    public static let httpSwitchBeforeRequestComplete = Rule(
        id: "http_switch_before_request_complete", severity: .high, reference: "RFC 9110 §7.8, RFC 7540 §3.2",
        summary: "The protocol switched before the upgrade request's body was complete.")
    public static let httpClientDataBefore101 = Rule(
        id: "http_client_data_before_101", severity: .medium, reference: "RFC 6455 §4.1, RFC 9931",
        summary: "The client sent bytes after its upgrade request and before any response (optimistic upgrade).")
    public static let httpRequestPipelinedAfterUpgrade = Rule(
        id: "http_request_pipelined_after_upgrade", severity: .medium, reference: "RFC 9110 §7.8",
        summary: "Another request was pipelined behind an upgrade request; its meaning depends on the answer.")
    public static let http101ThenHTTPResponse = Rule(
        id: "http_101_then_http_response", severity: .high, reference: "RFC 9110 §15.2.2",
        summary: "After a 101 the server sent another HTTP/1.x response: the switch was not honoured.")
    public static let httpUpgradeDeclinedThenTunnel = Rule(
        id: "http_upgrade_declined_then_tunnel", severity: .high, reference: "RFC 9110 §7.8",
        summary: "An upgrade was declined but the connection then carried non-HTTP bytes (WebSocket smuggling signature).")
    public static let http426MissingUpgrade = Rule(
        id: "http_426_missing_upgrade", severity: .low, reference: "RFC 9110 §15.5.22",
        summary: "A 426 Upgrade Required response without an Upgrade header naming the required protocol.")

    // MARK: HTTP/1.1 message syntax met on the way (RFC 9112)
    public static let httpObsFold = Rule(
        id: "http_obs_fold", severity: .medium, reference: "RFC 9112 §5.2",
        summary: "A header line folded onto the next (obs-fold); parsers disagree on it.")
    public static let httpWhitespaceBeforeColon = Rule(
        id: "http_whitespace_before_colon", severity: .high, reference: "RFC 9112 §5.1",
        summary: "Whitespace between a header name and its colon, which servers must reject (request smuggling vector).")
    public static let httpConflictingContentLength = Rule(
        id: "http_conflicting_content_length", severity: .high, reference: "RFC 9112 §6.3, RFC 9110 §8.6",
        summary: "Content-Length values that disagree; message framing is ambiguous.")
    public static let httpContentLengthWithTransferEncoding = Rule(
        id: "http_content_length_with_transfer_encoding", severity: .medium, reference: "RFC 9112 §6.1",
        summary: "Both Transfer-Encoding and Content-Length in one message (request smuggling vector).")
    public static let httpLenientVersion = Rule(
        id: "http_lenient_version", severity: .medium, reference: "RFC 9112 §2.3, §4",
        summary: "A status line whose HTTP version is not `HTTP/1.x` as written (`http/1.1`, `HTTP/1`, `HTTP/2.0`); some clients take it, others reject it.")
    public static let httpStatusLineWhitespace = Rule(
        id: "http_status_line_whitespace", severity: .medium, reference: "RFC 9112 §4",
        summary: "More than one SP, or HTAB, between the version and the status code; some clients take it, others reject it.")
    public static let httpLenientStatusCode = Rule(
        id: "http_lenient_status_code", severity: .medium, reference: "RFC 9112 §4",
        summary: "A status code that is not exactly three digits followed by SP (`0101`, `101x`); some clients take it, others reject it.")
    public static let httpHeaderLineWithoutColon = Rule(
        id: "http_header_line_without_colon", severity: .high, reference: "RFC 9112 §5",
        summary: "A response header line without a colon; clients skip it, end the header section there, or reject the response.")
    public static let httpInvalidFieldName = Rule(
        id: "http_invalid_field_name", severity: .high, reference: "RFC 9110 §5.1, RFC 9112 §5",
        summary: "A response header name with bytes that are not token characters; clients keep it, end the header section there, or reject the response.")
    public static let httpNotHTTP = Rule(
        id: "http_not_http", severity: .medium, reference: "RFC 9112 §2–§4",
        summary: "A direction of a connection that carries HTTP stopped being HTTP/1.x at a point no client parses; it is not analysed as HTTP from there.")
    public static let httpMalformedMessage = Rule(
        id: "http_malformed_message", severity: .low, reference: "RFC 9112 §2–§7",
        summary: "An HTTP/1.x message that does not parse; analysis resumed at the next message start.")

    /// Every rule, in catalogue order.
    public static let catalogue: [Rule] = [
        .http101MissingUpgrade, .http101Unsolicited, .http101WithoutRequest, .http101ProtocolNotOffered,
        .httpUpgradeMissingConnectionToken, .httpConnectionUpgradeWithoutUpgrade, .http101ToHTTP10Request,
        .http101HTTP10Response, .http101Before100Continue, .http1xxWithContent, .httpSwitchBeforeRequestComplete,
        .httpClientDataBefore101, .httpRequestPipelinedAfterUpgrade, .http101ThenHTTPResponse,
        .httpUpgradeDeclinedThenTunnel, .http426MissingUpgrade,
        .httpObsFold, .httpWhitespaceBeforeColon, .httpConflictingContentLength,
        .httpContentLengthWithTransferEncoding, .httpLenientVersion, .httpStatusLineWhitespace,
        .httpLenientStatusCode, .httpHeaderLineWithoutColon, .httpInvalidFieldName, .httpNotHTTP,
        .httpMalformedMessage,
        .tcpOverlapConflict, .tcpBadChecksumIgnored, .tcpLowTTLDataIgnored, .tcpRSTIgnored, .tcpRSTNotHonoured, .tcpFINNotHonoured,
        .tcpUrgentData, .tcpSYNDataNotAcknowledged, .ipFragmentOverlapConflict, .analyzerLimitReached,
    ] + webSocketCatalogue + http2Catalogue + connectUDPCatalogue + proxyCatalogue

    public static func named(_ id: String) -> Rule? { catalogue.first { $0.id == id } }
}
