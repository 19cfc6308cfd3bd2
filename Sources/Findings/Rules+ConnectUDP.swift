/// Rules about MASQUE CONNECT-UDP over HTTP/1.1 (RFC 9298 §3.2, §3.3): the upgrade's request
/// form and what follows the 101, the Capsule Protocol (RFC 9297 §3) carrying UDP payloads in
/// DATAGRAM capsules.
extension Rule {
    public static let connectUDPRequestMalformed = Rule(
        id: "connect_udp_request_malformed", severity: .medium, reference: "RFC 9298 §3, §3.2; RFC 9297 §3.2",
        summary: "A CONNECT-UDP upgrade was accepted although its request is malformed (not GET, no single Host, a bad target_host or target_port, or message content), which the proxy must refuse.")
    public static let connectUDPResponseMalformed = Rule(
        id: "connect_udp_response_malformed", severity: .medium, reference: "RFC 9298 §3.3; RFC 9297 §3.2",
        summary: "A 101 to CONNECT-UDP that the client must treat as a failed attempt: Upgrade is not exactly `connect-udp`, or the response carries Content-Length, Content-Type or Transfer-Encoding.")
    public static let connectUDPCapsuleProtocolMissing = Rule(
        id: "connect_udp_capsule_protocol_missing", severity: .low, reference: "RFC 9297 §3.4; RFC 9298 §3.2, §3.3",
        summary: "A CONNECT-UDP request or its 101 without `Capsule-Protocol: ?1` (absent, false, or not a Boolean), which intermediaries use to recognise capsules.")
    public static let connectUDPNotCapsules = Rule(
        id: "connect_udp_not_capsules", severity: .high, reference: "RFC 9298 §3; RFC 9297 §3.2, §3.3",
        summary: "After a 101 to CONNECT-UDP a direction does not speak the Capsule Protocol: its first bytes are another protocol, or its first capsule never completes.")
    public static let connectUDPCapsuleMalformed = Rule(
        id: "connect_udp_capsule_malformed", severity: .medium, reference: "RFC 9297 §3.3, §3.5; RFC 9298 §5",
        summary: "A capsule the receiver must treat as a malformed message: a DATAGRAM without a whole Context ID, a UDP payload over 65527 bytes, or a capsule cut off by the end of the stream.")
    public static let connectUDPUnregisteredContextID = Rule(
        id: "connect_udp_unregistered_context_id", severity: .low, reference: "RFC 9298 §4, §5",
        summary: "A DATAGRAM capsule with a non-zero Context ID that no capsule exchanged before it could have registered; the receiver drops it.")

    /// The rules above, in catalogue order.
    public static let connectUDPCatalogue: [Rule] = [
        .connectUDPRequestMalformed, .connectUDPResponseMalformed, .connectUDPCapsuleProtocolMissing,
        .connectUDPNotCapsules, .connectUDPCapsuleMalformed, .connectUDPUnregisteredContextID,
    ]
}
