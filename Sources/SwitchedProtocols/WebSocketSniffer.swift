/// Recognises WebSocket framing from a stream's first bytes, for connections whose handshake
/// the capture missed (it started mid-stream) or whose 101 named something else.
public enum WebSocketSniffer {
    public enum Confidence: Int, Comparable, Sendable {
        /// One plausible header, nothing more to check.
        case low = 1
        /// A complete plausible frame.
        case medium
        /// A complete plausible frame followed by another plausible header.
        case high

        public static func < (a: Confidence, b: Confidence) -> Bool { a.rawValue < b.rawValue }
    }

    /// Nil unless `firstBytes` start with a sane frame header (RFC 6455 §5.2): a defined opcode,
    /// no RSV2/RSV3, masked exactly when sent by the client, a control frame unfragmented and
    /// ≤ 125 bytes, a minimally encoded length below 2^32.
    public static func looksLikeWebSocket(firstBytes: UnsafeRawBufferPointer, fromClient: Bool) -> Confidence? {
        guard let first = plausibleHeader(firstBytes, fromClient: fromClient, continuationAllowed: false) else { return nil }
        let frameEnd = UInt64(first.headerLength) &+ first.payloadLength
        guard frameEnd <= UInt64(firstBytes.count) else { return .low }
        let rest = UnsafeRawBufferPointer(rebasing: firstBytes[Int(frameEnd)...])
        if rest.count < 2 { return .medium }
        let secondHeaderNeeded = WebSocketFrameHeader.headerLength(secondByte: rest[1])
        if rest.count < secondHeaderNeeded { return .medium }
        return plausibleHeader(rest, fromClient: fromClient, continuationAllowed: !first.fin) != nil ? .high : nil
    }

    public static func looksLikeWebSocket(firstBytes: [UInt8], fromClient: Bool) -> Confidence? {
        firstBytes.withUnsafeBytes { looksLikeWebSocket(firstBytes: $0, fromClient: fromClient) }
    }

    private static func plausibleHeader(_ bytes: UnsafeRawBufferPointer, fromClient: Bool,
                                        continuationAllowed: Bool) -> WebSocketFrameHeader? {
        guard let header = WebSocketFrameHeader.parse(bytes) else { return nil }
        guard !header.isReservedOpcode, header.rsv & 0b011 == 0, header.masked == fromClient else { return nil }
        if header.opcode == 0 && !continuationAllowed { return nil }
        if header.isControl && (header.payloadLength > 125 || !header.fin) { return nil }
        switch header.extendedLengthBytes {
        case 2: guard header.payloadLength >= 126 else { return nil }
        case 8: guard header.payloadLength > 0xFFFF && header.payloadLength < 1 << 32 else { return nil }
        default: break
        }
        return header
    }
}
