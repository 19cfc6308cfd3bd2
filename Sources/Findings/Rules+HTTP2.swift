/// Rules about what follows a protocol switch: the h2c upgrade (RFC 7540 §3.2, removed by
/// RFC 9113 §3.1), HTTP/2 itself, TLS upgrades (RFC 2817) and Docker's multiplexed streams.
extension Rule {
    // MARK: h2c upgrade (RFC 7540 §3.2, §3.5)
    public static let h2cBadSettingsHeader = Rule(
        id: "h2c_bad_settings_header", severity: .medium, reference: "RFC 7540 §3.2.1",
        summary: "An h2c upgrade whose HTTP2-Settings header is missing, repeated, or not base64url of a valid SETTINGS payload.")
    public static let h2cMissingConnectionToken = Rule(
        id: "h2c_missing_connection_token", severity: .medium, reference: "RFC 7540 §3.2.1",
        summary: "An h2c upgrade whose Connection header does not name HTTP2-Settings, so intermediaries may forward it.")
    public static let h2cMissingClientPreface = Rule(
        id: "h2c_missing_client_preface", severity: .medium, reference: "RFC 7540 §3.5, RFC 9113 §3.4",
        summary: "After the switch to h2c the client's first bytes are not the 24-byte HTTP/2 connection preface.")
    public static let h2cServerFirstFrameNotSettings = Rule(
        id: "h2c_server_first_frame_not_settings", severity: .medium, reference: "RFC 7540 §3.5, RFC 9113 §3.4",
        summary: "The server's first HTTP/2 frame is not SETTINGS, as the server connection preface requires.")
    public static let h2cUpgradeDeprecated = Rule(
        id: "h2c_upgrade_deprecated", severity: .info, reference: "RFC 9113 §3.1",
        summary: "An HTTP/1.1 Upgrade to h2c, a mechanism RFC 9113 removed; many servers and proxies no longer honour it.")

    // MARK: HTTP/2 fields (RFC 9113 §8)
    public static let http2Status101 = Rule(
        id: "http2_status_101", severity: .high, reference: "RFC 9113 §8.6",
        summary: "A :status 101 inside HTTP/2, which has no protocol switching; intermediaries may mishandle it.")
    public static let http2ConnectionSpecificHeader = Rule(
        id: "http2_connection_specific_header", severity: .medium, reference: "RFC 9113 §8.2.2",
        summary: "Connection-specific fields (Connection, Upgrade, Keep-Alive, Transfer-Encoding, Proxy-Connection, TE other than trailers) in HTTP/2.")
    public static let http2ExtendedConnectWithoutSetting = Rule(
        id: "http2_extended_connect_without_setting", severity: .medium, reference: "RFC 8441 §3, §4",
        summary: "A client sent the :protocol pseudo-header (extended CONNECT) before the server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.")

    // MARK: Post-switch bytes
    public static let switchProtocolMismatch = Rule(
        id: "switch_protocol_mismatch", severity: .high, reference: "RFC 9110 §7.8, §15.2.2",
        summary: "The bytes after the switch are a different protocol from the one the 101 agreed on.")
    public static let tlsUpgradeNotTLS = Rule(
        id: "tls_upgrade_not_tls", severity: .high, reference: "RFC 2817 §3.2, §4",
        summary: "After an Upgrade to TLS/1.x the client's next bytes are not a TLS handshake record, so traffic stays in clear text.")
    public static let dockerBadStreamHeader = Rule(
        id: "docker_bad_stream_header", severity: .medium, reference: "Docker Engine API, attach: stream format",
        summary: "A Docker multiplexed stream header with a stream id other than 0/1/2 or non-zero reserved bytes.")

    /// The rules above, in catalogue order.
    public static let http2Catalogue: [Rule] = [
        .h2cBadSettingsHeader, .h2cMissingConnectionToken, .h2cMissingClientPreface,
        .h2cServerFirstFrameNotSettings, .h2cUpgradeDeprecated,
        .http2Status101, .http2ConnectionSpecificHeader, .http2ExtendedConnectWithoutSetting,
        .switchProtocolMismatch, .tlsUpgradeNotTLS, .dockerBadStreamHeader,
    ]
}
