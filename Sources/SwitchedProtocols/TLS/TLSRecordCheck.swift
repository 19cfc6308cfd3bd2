import Findings
import PacketCapture

/// RFC 2817 §3.2/§4: after `101 Switching Protocols` to `TLS/1.x` the client starts the TLS
/// handshake on the same connection, so its next bytes are a handshake record carrying a
/// ClientHello. Anything else means the connection kept going in clear text.
public enum TLSRecordCheck {
    public enum Verdict: Sendable, Equatable {
        /// Consistent so far; fewer than 6 bytes seen.
        case needMoreBytes
        /// Record header (RFC 8446 §5.1) plus handshake type 1; the record's legacy version.
        case clientHello(recordVersion: UInt16)
        /// An SSL 2.0-compatible ClientHello (RFC 6101 Appendix E.2): old, but a TLS start.
        case sslv2ClientHello
        case notTLS(reason: String)
    }

    public static func evaluate(_ bytes: [UInt8]) -> Verdict {
        guard let first = bytes.first else { return .needMoreBytes }
        if first & 0x80 != 0 {
            if bytes.count < 4 { return .needMoreBytes }
            if bytes[2] == 0x01 && bytes[3] == 0x03 { return .sslv2ClientHello }
        }
        guard first == 0x16 else {
            if (0x14...0x18).contains(first) {
                return .notTLS(reason: "a TLS record of content type \(first), not a handshake")
            }
            return .notTLS(reason: "first byte 0x\(String(first, radix: 16)) is not a TLS handshake record (\(describe(bytes)))")
        }
        if bytes.count >= 2 && bytes[1] != 0x03 { return .notTLS(reason: "record version major \(bytes[1]) is not 3") }
        if bytes.count >= 3 && bytes[2] > 0x04 { return .notTLS(reason: "record version 3.\(bytes[2]) is unknown") }
        guard bytes.count >= 6 else { return .needMoreBytes }
        let length = Int(bytes[3]) << 8 | Int(bytes[4])
        if length == 0 || length > 16_384 { return .notTLS(reason: "handshake record length \(length) outside 1...16384") }
        guard bytes[5] == 0x01 else { return .notTLS(reason: "handshake message type \(bytes[5]) is not ClientHello (1)") }
        return .clientHello(recordVersion: UInt16(bytes[1]) << 8 | UInt16(bytes[2]))
    }

    /// `tls_upgrade_not_tls` for the client's first post-switch bytes; nil while they are
    /// consistent with a ClientHello or too few to judge.
    public static func check(clientBytes: [UInt8], frame: UInt64, timestamp: Timestamp,
                             connection: ConnectionRef? = nil) -> Violation? {
        guard case .notTLS(let reason) = evaluate(clientBytes) else { return nil }
        let first = Array(clientBytes.prefix(ProtocolSniffer.maxBytes))
        return Violation(rule: .tlsUpgradeNotTLS,
                         message: "After the upgrade to TLS the client's next bytes are not a TLS handshake: \(reason).",
                         timestamp: timestamp, frame: frame, direction: HTTP2Session.clientDirection,
                         connection: connection, evidence: ["reason": .text(reason), "first_bytes": .bytes(first)])
    }

    static func describe(_ bytes: [UInt8]) -> String {
        let sniffed = ProtocolSniffer.sniff(client: bytes, server: [])
        return sniffed.observed == .unknown ? "unrecognised bytes" : "looks like \(sniffed.observed.rawValue)"
    }
}
