/// WebSocket rules (RFC 6455), checked on the opening handshake of a switch to `websocket`
/// and on every frame after the 101.
extension Rule {
    // MARK: Opening handshake (RFC 6455 §4)
    public static let websocketBadHandshakeMethod = Rule(
        id: "websocket_bad_handshake_method", severity: .medium, reference: "RFC 6455 §4.1, §4.2.1",
        summary: "The server switched to WebSocket for a request that was not a GET, or not HTTP/1.1 or later.")
    public static let websocketMissingKey = Rule(
        id: "websocket_missing_key", severity: .high, reference: "RFC 6455 §4.1, §4.2.1",
        summary: "The server switched to WebSocket although the request carried no Sec-WebSocket-Key.")
    public static let websocketBadKey = Rule(
        id: "websocket_bad_key", severity: .medium, reference: "RFC 6455 §4.1, §4.2.1",
        summary: "Sec-WebSocket-Key is not the base64 encoding of 16 bytes, yet the server switched.")
    public static let websocketBadVersion = Rule(
        id: "websocket_bad_version", severity: .medium, reference: "RFC 6455 §4.2.1, §4.2.2, §4.4",
        summary: "The server switched for a Sec-WebSocket-Version other than 13, or refused a version without listing the ones it supports.")
    public static let websocketMissingAccept = Rule(
        id: "websocket_missing_accept", severity: .high, reference: "RFC 6455 §4.1, §4.2.2",
        summary: "A 101 switching to WebSocket without Sec-WebSocket-Accept; a conforming client must fail the connection.")
    public static let websocketWrongAccept = Rule(
        id: "websocket_wrong_accept", severity: .high, reference: "RFC 6455 §4.1, §4.2.2",
        summary: "Sec-WebSocket-Accept is not base64(SHA-1(key + GUID)); the server did not prove it read the handshake.")
    public static let websocketDuplicateHeader = Rule(
        id: "websocket_duplicate_header", severity: .medium, reference: "RFC 6455 §11.3.1, §11.3.3, §11.3.4, §11.3.5",
        summary: "Sec-WebSocket-Key, -Version (request) or -Accept, -Protocol (response) appears more than once or lists several values.")
    public static let websocketSubprotocolNotOffered = Rule(
        id: "websocket_subprotocol_not_offered", severity: .medium, reference: "RFC 6455 §4.1, §4.2.2",
        summary: "The 101 selects a Sec-WebSocket-Protocol the client did not offer.")
    public static let websocketExtensionNotOffered = Rule(
        id: "websocket_extension_not_offered", severity: .medium, reference: "RFC 6455 §4.1, §9.1; RFC 7692 §7.1",
        summary: "The 101 accepts a Sec-WebSocket-Extensions extension (or parameter) the client did not offer.")

    // MARK: Framing (RFC 6455 §5)
    public static let websocketUnmaskedClientFrame = Rule(
        id: "websocket_unmasked_client_frame", severity: .high, reference: "RFC 6455 §5.1, §5.3, §10.3",
        summary: "A client frame without masking, which exposes intermediaries to cache poisoning.")
    public static let websocketMaskedServerFrame = Rule(
        id: "websocket_masked_server_frame", severity: .medium, reference: "RFC 6455 §5.1",
        summary: "A server frame with the MASK bit set, which servers must never send.")
    public static let websocketRSVWithoutExtension = Rule(
        id: "websocket_rsv_without_extension", severity: .medium, reference: "RFC 6455 §5.2; RFC 7692 §6",
        summary: "A frame sets RSV1-3 bits that no negotiated extension defines (or RSV1 where permessage-deflate forbids it).")
    public static let websocketReservedOpcode = Rule(
        id: "websocket_reserved_opcode", severity: .medium, reference: "RFC 6455 §5.2, §11.8",
        summary: "A frame uses a reserved opcode (0x3-0x7, 0xB-0xF).")
    public static let websocketBadControlFrame = Rule(
        id: "websocket_bad_control_frame", severity: .medium, reference: "RFC 6455 §5.5",
        summary: "A control frame (close, ping, pong) with more than 125 payload bytes or fragmented (FIN=0).")
    public static let websocketNonMinimalLength = Rule(
        id: "websocket_non_minimal_length", severity: .medium, reference: "RFC 6455 §5.2",
        summary: "A payload length not in its shortest encoding, or a 64-bit length with its top bit set; parsers may disagree.")
    public static let websocketBadFragmentation = Rule(
        id: "websocket_bad_fragmentation", severity: .medium, reference: "RFC 6455 §5.4",
        summary: "A continuation frame with no message to continue, or a new data message inside a fragmented one.")
    public static let websocketBadClose = Rule(
        id: "websocket_bad_close", severity: .low, reference: "RFC 6455 §5.5.1, §7.4",
        summary: "A Close frame with a 1-byte body or a status code that may not appear on the wire, or data sent after Close.")
    public static let websocketInvalidUTF8 = Rule(
        id: "websocket_invalid_utf8", severity: .low, reference: "RFC 6455 §5.6, §8.1",
        summary: "A text message or close reason that is not valid UTF-8.")
    public static let websocketInflateFailed = Rule(
        id: "websocket_inflate_failed", severity: .medium, reference: "RFC 7692 §7.2.2; RFC 1951",
        summary: "A permessage-deflate message that does not inflate; the receiver must fail the connection, and with context takeover no later message of that direction can be read.")
    public static let websocketDecompressionBomb = Rule(
        id: "websocket_decompression_bomb", severity: .medium, reference: "RFC 7692 §7.2.2; RFC 6455 §10.4",
        summary: "A permessage-deflate message inflates past the per-message budget (--max-inflated-message, default 8 MiB): a decompression bomb for a receiver without a limit.")
    public static let websocketWeakMask = Rule(
        id: "websocket_weak_mask", severity: .medium, reference: "RFC 6455 §5.3, §10.3",
        summary: "A client masking key that is all zeros or repeats the previous frame's key, so masking protects nothing.")

    /// The WebSocket rules, in catalogue order.
    public static let webSocketCatalogue: [Rule] = [
        .websocketBadHandshakeMethod, .websocketMissingKey, .websocketBadKey, .websocketBadVersion,
        .websocketMissingAccept, .websocketWrongAccept, .websocketDuplicateHeader,
        .websocketSubprotocolNotOffered, .websocketExtensionNotOffered,
        .websocketUnmaskedClientFrame, .websocketMaskedServerFrame, .websocketRSVWithoutExtension,
        .websocketReservedOpcode, .websocketBadControlFrame, .websocketNonMinimalLength,
        .websocketBadFragmentation, .websocketBadClose, .websocketInvalidUTF8, .websocketWeakMask,
        .websocketInflateFailed, .websocketDecompressionBomb,
    ]
}
