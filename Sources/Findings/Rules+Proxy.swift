/// Rules about the two legs of a proxied upgrade (issue #14): what the client and the backend
/// each experienced differs, which no check of one connection alone can see.
extension Rule {
    public static let proxyTunnelAfterDeclinedUpgrade = Rule(
        id: "proxy_tunnel_after_declined_upgrade", severity: .high,
        reference: "RFC 9110 §7.8; WebSocket smuggling (0ang3el/websocket-smuggle, 2019)",
        summary: "The backend declined the upgrade, yet the proxy relayed the client's next bytes verbatim on the same back connection: a tunnel its rules no longer see.")
    public static let proxy101NotFromBackend = Rule(
        id: "proxy_101_not_from_backend", severity: .high, reference: "RFC 9110 §7.8, §15.2.2",
        summary: "The client got a 101 that the backend never sent, or before the backend sent it: the two ends disagree on the switch.")
    public static let proxyBackendSwitchedAlone = Rule(
        id: "proxy_backend_switched_alone", severity: .high, reference: "RFC 9110 §7.8, §15.2.2",
        summary: "The backend switched protocols, but the client got no 101: the back connection speaks the new protocol while the client still speaks HTTP/1.1.")
    public static let proxyUpgradeHeadersAltered = Rule(
        id: "proxy_upgrade_headers_altered", severity: .medium, reference: "RFC 9110 §7.6.1, §7.8; RFC 6455 §4.1, §9.1",
        summary: "The proxy removed or changed Upgrade, the `upgrade` Connection option or a Sec-WebSocket-* header, so client and backend negotiated different things.")
    public static let proxyH2CUpgradeForwarded = Rule(
        id: "proxy_h2c_upgrade_forwarded", severity: .high,
        reference: "RFC 9113 §3.1; RFC 7540 §3.2; h2c smuggling (Bishop Fox, 2020)",
        summary: "The proxy forwarded an h2c upgrade and the backend switched: HTTP/2 requests then pass the proxy unseen.")
    public static let proxySwitchedProtocolMismatch = Rule(
        id: "proxy_switched_protocol_mismatch", severity: .high, reference: "RFC 9110 §7.8",
        summary: "Both legs switched, but to different protocols, or the bytes after the switch are different protocols on the two legs.")

    public static let proxyCatalogue: [Rule] = [
        .proxyTunnelAfterDeclinedUpgrade, .proxy101NotFromBackend, .proxyBackendSwitchedAlone, .proxyUpgradeHeadersAltered,
        .proxyH2CUpgradeForwarded, .proxySwitchedProtocolMismatch,
    ]
}
