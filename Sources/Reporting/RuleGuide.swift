import Findings

/// What a reader of a report needs for each rule beyond the catalogue's one-liner: a title in
/// plain words, why it matters (from docs/RULES.md) and what to do about it.
struct RuleGuide: Sendable {
    var title: String
    var why: String
    var remediation: String

    /// The guide for a rule id; a neutral text for ids this version does not know (a findings
    /// file from a newer Switchyard, or a forged one).
    static func forRule(_ id: String) -> RuleGuide {
        entries[id] ?? RuleGuide(
            title: "Unrecognised rule",
            why: "This rule is not in this version's catalogue, so no explanation is available; see the finding's message and reference.",
            remediation: "Check the rule with the Switchyard version that produced the findings (`switchyard rules`).")
    }

    static let entries: [String: RuleGuide] = [
        // HTTP/1.1 upgrade
        "http_101_missing_upgrade": RuleGuide(
            title: "101 response does not say which protocol it switches to",
            why: "Without an Upgrade header a client or proxy can only guess what the following bytes are, so the two ends can disagree about what the connection carries.",
            remediation: "Make the server send `Upgrade: <protocol>` (and `Connection: upgrade`) on every 101, naming the protocol it switches to."),
        "http_101_unsolicited": RuleGuide(
            title: "Server switched protocols without being asked",
            why: "A proxy that saw no upgrade request keeps parsing the connection as HTTP while the server has left it: the raw material of request smuggling.",
            remediation: "Only answer 101 to requests that carry an Upgrade header offering that protocol; otherwise send a normal final response."),
        "http_101_without_request": RuleGuide(
            title: "101 sent with no request outstanding",
            why: "The server switched before the client asked anything, or after every request had its answer; proxies and clients cannot tie the switch to a request and will desynchronise.",
            remediation: "Fix the server (or the component in front of it) so that a 101 is only ever the answer to a pending upgrade request."),
        "http_101_protocol_not_offered": RuleGuide(
            title: "Server switched to a protocol the client did not offer",
            why: "The client and any proxy expect one of the offered protocols; a different one means the peers interpret the following bytes differently.",
            remediation: "Select only a protocol listed in the request's Upgrade header, or decline the upgrade with a normal response."),
        "http_upgrade_missing_connection_token": RuleGuide(
            title: "Upgrade header not marked hop-by-hop",
            why: "Without `upgrade` in Connection an intermediary may forward the Upgrade header to the next hop, which then switches on a request the first hop never meant to upgrade.",
            remediation: "Always send `Connection: upgrade` together with `Upgrade`, in requests and in 101 responses."),
        "http_connection_upgrade_without_upgrade": RuleGuide(
            title: "Connection: upgrade without an Upgrade header",
            why: "Harmless alone, but a sign of a half-configured proxy that strips or rewrites upgrade headers.",
            remediation: "Send both headers or neither; check proxy configuration for header rewriting."),
        "http_101_to_http10_request": RuleGuide(
            title: "Interim response sent to an HTTP/1.0 client",
            why: "HTTP/1.0 has no interim responses and no Upgrade; an HTTP/1.0 proxy takes the 101 as the final response and misreads everything after it.",
            remediation: "Never send 1xx responses (including 101) to HTTP/1.0 requests; answer them with a final response."),
        "http_101_http10_response": RuleGuide(
            title: "101 response labelled HTTP/1.0",
            why: "HTTP/1.0 has no 1xx responses, so recipients may treat the 101 as a final response or reject it.",
            remediation: "Send 101 responses with the HTTP/1.1 version in the status line."),
        "http_101_before_100_continue": RuleGuide(
            title: "Switched without sending 100 Continue first",
            why: "The client waits for 100 Continue before sending its body; switching first leaves it unsure whether its body was wanted or is part of the new protocol.",
            remediation: "When a request has `Expect: 100-continue` and Upgrade, send `100 Continue` before the 101."),
        "http_1xx_with_content": RuleGuide(
            title: "Interim response claims a body",
            why: "1xx responses end at their header block; a recipient that honours Content-Length or Transfer-Encoding reads part of the new protocol as a body.",
            remediation: "Remove Content-Length and Transfer-Encoding from 1xx responses."),
        "http_switch_before_request_complete": RuleGuide(
            title: "Switched before the request body was complete",
            why: "The rest of the request body can be read as new-protocol bytes by one side and as HTTP by the other (seen with h2c upgrades that carry bodies).",
            remediation: "Make the server read the whole upgrade request, body included, before sending 101; or refuse upgrades on requests with bodies."),
        "http_client_data_before_101": RuleGuide(
            title: "Client sent data before the server agreed to switch",
            why: "If the server declines, those early bytes are parsed as HTTP: an optimistic upgrade is a request smuggling vector (RFC 9931).",
            remediation: "Make the client wait for the 101 before sending new-protocol bytes, or make servers and proxies close the connection when they decline such an upgrade."),
        "http_request_pipelined_after_upgrade": RuleGuide(
            title: "Request pipelined behind an upgrade request",
            why: "Whether the pipelined bytes are an HTTP request or new-protocol data depends on the answer, and endpoints and proxies disagree.",
            remediation: "Do not pipeline behind an upgrade request; proxies should not forward pipelined data until the upgrade is answered."),
        "http_101_then_http_response": RuleGuide(
            title: "Server sent an HTTP response after switching",
            why: "The switch was not honoured; browsers and proxies disagree on which response counts, so one tunnels while the other still parses HTTP.",
            remediation: "After a 101 the server must speak only the new protocol; fix the server or the proxy that injects the second response."),
        "http_upgrade_declined_then_tunnel": RuleGuide(
            title: "Upgrade declined, yet the connection was tunnelled",
            why: "This is the WebSocket smuggling signature: a front proxy saw the refusal and keeps treating the connection as HTTP while the backend tunnels arbitrary bytes past it.",
            remediation: "Make the proxy verify the backend's status is 101 before tunnelling, and close connections on which a declined upgrade is followed by non-HTTP bytes."),
        "http_426_missing_upgrade": RuleGuide(
            title: "426 Upgrade Required does not name the protocol",
            why: "The client is told to upgrade but not to what, so it cannot comply.",
            remediation: "Send an Upgrade header with the acceptable protocol(s) on every 426 response."),
        // Proxied upgrades (both legs)
        "proxy_tunnel_after_declined_upgrade": RuleGuide(
            title: "Proxy tunnelled after the backend declined the upgrade",
            why: "The client's later requests reach the backend through a raw tunnel, past the proxy's routing and access rules (WebSocket smuggling).",
            remediation: "Tunnel only after the backend's 101 (in Varnish, do not `return (pipe)` for Upgrade requests whose answer is not checked); close the connection when the backend declines."),
        "proxy_101_not_from_backend": RuleGuide(
            title: "The client's 101 did not come from the backend",
            why: "The client speaks the new protocol while the backend still reads HTTP/1.1, so the two ends interpret the same bytes differently.",
            remediation: "Relay the backend's 101 instead of answering the upgrade in the proxy, and only after it arrived."),
        "proxy_backend_switched_alone": RuleGuide(
            title: "The backend switched, the client did not",
            why: "The back connection speaks the new protocol while the client and the proxy still expect HTTP/1.1; reusing it mixes protocols.",
            remediation: "When the proxy refuses an upgrade the backend accepted, close the back connection instead of keeping or reusing it."),
        "proxy_upgrade_headers_altered": RuleGuide(
            title: "The proxy changed the upgrade negotiation",
            why: "Client and backend negotiated different protocols, keys or extensions; the handshake fails or each end assumes a different framing.",
            remediation: "Forward Upgrade and Sec-WebSocket-* as the client sent them (nginx: `proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;`)."),
        "proxy_h2c_upgrade_forwarded": RuleGuide(
            title: "h2c upgrade forwarded to the backend",
            why: "After the backend switches to HTTP/2 the proxy only relays bytes: HTTP/2 requests bypass its rules (h2c smuggling).",
            remediation: "Drop `Upgrade: h2c` and `HTTP2-Settings` at the proxy (HAProxy: `http-request del-header Upgrade if { req.hdr(upgrade) -i h2c }`), or disable h2c on the backend."),
        "proxy_switched_protocol_mismatch": RuleGuide(
            title: "The two legs switched to different protocols",
            why: "The proxy joins two connections that speak different protocols, so each end misreads the other's bytes.",
            remediation: "Relay upgrades unchanged, or terminate and re-originate the protocol properly in the proxy."),
        // HTTP/1.x syntax
        "http_obs_fold": RuleGuide(
            title: "Obsolete header line folding",
            why: "Recipients either reject folded headers or join them differently, so a proxy and a server can read different values.",
            remediation: "Stop generating folded header lines; configure servers and proxies to reject them."),
        "http_whitespace_before_colon": RuleGuide(
            title: "Whitespace before a header's colon",
            why: "Servers must reject such messages; lenient parsers that accept `Transfer-Encoding : chunked` are a classic smuggling vector.",
            remediation: "Fix the sender; configure every parser on the path to reject such messages with 400."),
        "http_conflicting_content_length": RuleGuide(
            title: "Conflicting Content-Length values",
            why: "The message length is undecidable, so two parsers can split the stream into different messages (request smuggling).",
            remediation: "Send exactly one Content-Length; reject messages with conflicting values."),
        "http_content_length_with_transfer_encoding": RuleGuide(
            title: "Both Transfer-Encoding and Content-Length",
            why: "Transfer-Encoding wins, but a recipient that honours Content-Length frames the message differently (CL.TE / TE.CL smuggling).",
            remediation: "Send only one framing header; proxies should remove Content-Length when Transfer-Encoding is present, or reject the message."),
        "http_lenient_version": RuleGuide(
            title: "Status line with a non-standard HTTP version",
            why: "Some clients take `http/1.1`, `HTTP/1` or `HTTP/2.0` on an HTTP/1.x response and others reject it, so a client and a proxy can disagree about whether the connection switched.",
            remediation: "Make the server write its status line as `HTTP/1.1 <code> <reason>`."),
        "http_status_line_whitespace": RuleGuide(
            title: "Extra whitespace in the status line",
            why: "curl, Python and Chromium accept two spaces (Python also a tab) between version and status code while Node and websockets reject the response: the parties read the same bytes differently.",
            remediation: "Make the server send exactly one space between the version and the status code."),
        "http_lenient_status_code": RuleGuide(
            title: "Status code not written as three digits",
            why: "Codes like `0101` or `101x` are read as 101 by some clients and rejected by others, so whether the connection switched depends on who reads it.",
            remediation: "Make the server send a three-digit status code followed by a space."),
        "http_header_line_without_colon": RuleGuide(
            title: "Response header line without a colon",
            why: "curl and Chromium skip the line, Python's http.client stops reading headers there (losing Upgrade and the rest), Node rejects the response: each reads a different set of headers.",
            remediation: "Fix the server or proxy that emits the malformed line; every header line must be `name: value`."),
        "http_invalid_field_name": RuleGuide(
            title: "Response header name with invalid characters",
            why: "A name such as `X Bad` is kept by curl and Chromium, ends the header section for Python and makes Node reject the response, so clients see different headers.",
            remediation: "Only use token characters (letters, digits and !#$%&'*+-.^_`|~) in header names."),
        "http_not_http": RuleGuide(
            title: "A direction stopped being HTTP",
            why: "The connection carries HTTP but one direction sent bytes no client parses as HTTP/1.x; from there Switchyard cannot follow that direction as HTTP, and endpoints may each make something different of it.",
            remediation: "Look at the bytes in the finding: a broken server or proxy, a protocol spoken without a switch, or an evasion attempt."),
        "http_malformed_message": RuleGuide(
            title: "Malformed HTTP message",
            why: "Parsers that recover from malformed messages differently can disagree about where the next message starts.",
            remediation: "Fix the sender; make parsers on the path strict."),
        // TCP and analyzer
        "tcp_overlap_conflict": RuleGuide(
            title: "Retransmitted TCP data differs from the original",
            why: "Receivers resolve overlaps differently, so a monitor and the endpoint can each see a different stream: the classic IDS evasion.",
            remediation: "Investigate the sender; normalise traffic at the perimeter (a scrubber that drops conflicting retransmissions)."),
        "tcp_bad_checksum_ignored": RuleGuide(
            title: "Packet with a wrong checksum would have changed the stream",
            why: "Every endpoint drops it, but a monitor that believes it sees data, a reset or an end that never happened: a classic way to fake or hide an exchange from an IDS.",
            remediation: "Investigate the sender or the path that damaged it; keep checksum verification on in monitors (Suricata checksum-validation, Zeek ignore_checksums=F)."),
        "tcp_low_ttl_data_ignored": RuleGuide(
            title: "Data that expired before the receiver",
            why: "A segment sent with a TTL just large enough to pass the monitor but not reach the host makes a monitor read bytes the endpoint never got, then the real ones are ignored as retransmissions: the classic insertion attack.",
            remediation: "Find the sender of the short-TTL packets; normalise TTLs at the perimeter, or place monitors where they see what the hosts see."),
        "tcp_rst_ignored": RuleGuide(
            title: "RST the receiver refuses",
            why: "An RST off the expected sequence number (RFC 5961) closes nothing at the endpoint, but a monitor that trusts it stops watching the connection: blind-reset evasion.",
            remediation: "Look for the host injecting resets; make sure monitors validate resets against the window."),
        "tcp_rst_not_honoured": RuleGuide(
            title: "Connection went on after an RST",
            why: "The RST never took effect (lost on the way, or sent with a low TTL to fool monitors); a monitor that closed the connection on it misses everything after.",
            remediation: "Find the source of the reset; treat resets in captures as claims until the endpoints' later traffic confirms them."),
        "tcp_fin_not_honoured": RuleGuide(
            title: "Stream went on after a FIN",
            why: "The FIN never reached the receiver (lost, or forged with a low TTL), so a monitor that ended the stream on it misses what followed.",
            remediation: "Find the source of the FIN; treat FINs in captures as claims until the receiver acknowledges them."),
        "tcp_urgent_data": RuleGuide(
            title: "TCP urgent data",
            why: "Stacks and monitors disagree on whether the urgent byte is part of the stream (RFC 6093); applications rarely use it, attackers use it to make a monitor see one byte more than the application.",
            remediation: "Clear the URG bit at the perimeter (most firewalls can) unless an application really needs it."),
        "tcp_syn_data_not_acknowledged": RuleGuide(
            title: "SYN data the server never took",
            why: "The server acknowledged only the SYN, so its data was never received; a monitor that reads it sees a request the server never got.",
            remediation: "Investigate the client; Fast Open data is only valid when the SYN-ACK acknowledges it."),
        "ip_fragment_overlap_conflict": RuleGuide(
            title: "IP fragments overlap with different bytes",
            why: "Stacks reassemble overlaps differently (Linux discards the datagram, others keep the first or the last copy), so a monitor and each endpoint can see a different packet: the fragmentation evasion of Ptacek and Newsham.",
            remediation: "Investigate the sender; reassemble and normalise fragments at the perimeter, or drop overlapping ones as RFC 5722 requires for IPv6."),
        "analyzer_limit_reached": RuleGuide(
            title: "Analysis limit reached",
            why: "Part of the traffic was not analysed, so findings may be missing.",
            remediation: "Re-run with a higher limit for the named option to analyse everything."),
        // WebSocket
        "websocket_bad_handshake_method": RuleGuide(
            title: "WebSocket handshake not a GET over HTTP/1.1",
            why: "The handshake must be a GET over HTTP/1.1 or later; accepting anything else lets other request types be turned into sockets.",
            remediation: "Accept WebSocket upgrades only on GET requests with HTTP/1.1 or later."),
        "websocket_missing_key": RuleGuide(
            title: "WebSocket accepted without Sec-WebSocket-Key",
            why: "The handshake proves nothing, and a cross-protocol request was accepted as a WebSocket.",
            remediation: "Refuse WebSocket upgrades whose request has no valid Sec-WebSocket-Key."),
        "websocket_bad_key": RuleGuide(
            title: "Invalid Sec-WebSocket-Key accepted",
            why: "The key must be 16 random bytes in base64; a server that accepts anything does not validate the handshake.",
            remediation: "Reject keys that are not the base64 encoding of 16 bytes."),
        "websocket_bad_version": RuleGuide(
            title: "Wrong or unlisted WebSocket version",
            why: "Only version 13 is standard; switching for another version, or refusing without listing supported versions, breaks negotiation.",
            remediation: "Use Sec-WebSocket-Version 13; when refusing, answer 426 with the supported versions in Sec-WebSocket-Version."),
        "websocket_missing_accept": RuleGuide(
            title: "WebSocket 101 without Sec-WebSocket-Accept",
            why: "A conforming client must fail the connection, so whatever follows was not negotiated with a browser.",
            remediation: "Send `Sec-WebSocket-Accept` computed from the request's key on every WebSocket 101."),
        "websocket_wrong_accept": RuleGuide(
            title: "Wrong Sec-WebSocket-Accept",
            why: "The server (or a proxy that rewrote the key) did not prove it read this handshake; a client must fail the connection.",
            remediation: "Compute Accept as base64(SHA-1(key + \"258EAFA5-E914-47DA-95CA-C5AB0DC85B11\")); make proxies pass the key through unchanged."),
        "websocket_duplicate_header": RuleGuide(
            title: "Duplicated WebSocket handshake header",
            why: "Implementations pick different values when a handshake header appears twice, so the two ends may negotiate different things.",
            remediation: "Send each Sec-WebSocket-Key, -Version, -Accept and -Protocol header once with one value."),
        "websocket_subprotocol_not_offered": RuleGuide(
            title: "WebSocket subprotocol not offered by the client",
            why: "The client must fail the connection; if it does not, the two ends speak different application protocols.",
            remediation: "Select only a subprotocol the client listed, or none."),
        "websocket_extension_not_offered": RuleGuide(
            title: "WebSocket extension not offered by the client",
            why: "The ends disagree on the framing (e.g. compression), so messages are misread.",
            remediation: "Accept only extensions and parameters the client offered."),
        "websocket_unmasked_client_frame": RuleGuide(
            title: "Unmasked WebSocket frame from the client",
            why: "Masking keeps attacker-chosen bytes from looking like HTTP to intermediaries (cache poisoning); a server must close the connection.",
            remediation: "Fix the client to mask every frame; make the server close connections that send unmasked frames."),
        "websocket_masked_server_frame": RuleGuide(
            title: "Masked WebSocket frame from the server",
            why: "Servers must never mask; a client must close the connection.",
            remediation: "Fix the server to send unmasked frames."),
        "websocket_rsv_without_extension": RuleGuide(
            title: "Reserved WebSocket bits set",
            why: "RSV bits mean something only with a negotiated extension; peers disagree on how to decode the frame.",
            remediation: "Set RSV bits only as a negotiated extension defines; fail the connection otherwise."),
        "websocket_reserved_opcode": RuleGuide(
            title: "Reserved WebSocket opcode",
            why: "Reserved opcodes have no meaning; the receiver must fail the connection.",
            remediation: "Send only defined opcodes."),
        "websocket_bad_control_frame": RuleGuide(
            title: "Invalid WebSocket control frame",
            why: "Control frames must be short and unfragmented so they can be injected mid-message; violating that desynchronises the peers.",
            remediation: "Keep Close, Ping and Pong payloads at 125 bytes or less with FIN set."),
        "websocket_non_minimal_length": RuleGuide(
            title: "Non-minimal WebSocket length encoding",
            why: "Decoders that disagree on the length disagree on every later frame.",
            remediation: "Encode payload lengths in their shortest form."),
        "websocket_bad_fragmentation": RuleGuide(
            title: "Invalid WebSocket fragmentation",
            why: "Continuation frames out of sequence make peers reassemble different messages.",
            remediation: "Fix the sender's fragmentation logic; fail connections that break it."),
        "websocket_bad_close": RuleGuide(
            title: "Invalid WebSocket close",
            why: "A malformed close handshake or data after Close confuses connection teardown.",
            remediation: "Send valid close codes and nothing after a Close frame."),
        "websocket_invalid_utf8": RuleGuide(
            title: "Invalid UTF-8 in a WebSocket text message",
            why: "The receiver must fail the connection; lenient receivers may decode the text differently from filters in the path.",
            remediation: "Send binary frames for non-UTF-8 data; validate text before sending."),
        "websocket_weak_mask": RuleGuide(
            title: "Predictable WebSocket masking key",
            why: "The masking key must come from a strong source of entropy, or masking protects nothing against cache poisoning.",
            remediation: "Use a fresh random masking key for every client frame."),
        "websocket_inflate_failed": RuleGuide(
            title: "Compressed WebSocket message that does not inflate",
            why: "The receiver must fail the connection; one that carries on has read something else than the sender meant, and every later message that shares the compression context is unreadable.",
            remediation: "Fix the sender's permessage-deflate: compress each message with a sync flush, strip only the 00 00 ff ff tail, and keep the agreed window size."),
        "websocket_decompression_bomb": RuleGuide(
            title: "WebSocket message inflating past the size budget",
            why: "A few kilobytes that inflate to megabytes exhaust the memory of a receiver that has no limit on inflated messages.",
            remediation: "Enforce a maximum inflated message size on receivers (for example websockets' max_size, ws's maxPayload) and close connections that exceed it."),
        // HTTP/2 and h2c
        "h2c_bad_settings_header": RuleGuide(
            title: "Invalid HTTP2-Settings in an h2c upgrade",
            why: "The server has no valid initial SETTINGS for the client, so the two ends start HTTP/2 with different parameters.",
            remediation: "Send exactly one HTTP2-Settings header with the base64url SETTINGS payload, or use prior-knowledge HTTP/2 or TLS with ALPN."),
        "h2c_missing_connection_token": RuleGuide(
            title: "HTTP2-Settings not marked hop-by-hop",
            why: "A proxy may forward the hop-by-hop settings to the next server.",
            remediation: "List HTTP2-Settings in the Connection header: `Connection: Upgrade, HTTP2-Settings`."),
        "h2c_missing_client_preface": RuleGuide(
            title: "No HTTP/2 client preface after h2c switch",
            why: "The server cannot start HTTP/2 and will fail or misread the connection.",
            remediation: "Send the 24-byte connection preface and a SETTINGS frame right after the 101."),
        "h2c_server_first_frame_not_settings": RuleGuide(
            title: "Server's first HTTP/2 frame is not SETTINGS",
            why: "The server connection preface must be SETTINGS; clients treat anything else as a connection error.",
            remediation: "Send SETTINGS as the server's first frame after the switch."),
        "h2c_upgrade_deprecated": RuleGuide(
            title: "h2c upgrade (deprecated mechanism)",
            why: "RFC 9113 removed the upgrade to h2c; many clients and intermediaries no longer support it, and it is a known route for smuggling past proxies.",
            remediation: "Use HTTP/2 over TLS with ALPN, or prior-knowledge HTTP/2 on trusted links; disable h2c upgrades at the edge."),
        "http2_status_101": RuleGuide(
            title: "Status 101 inside HTTP/2",
            why: "HTTP/2 has no protocol switching; proxies translating to HTTP/1.1 may switch on it.",
            remediation: "Never send 101 over HTTP/2; use extended CONNECT (RFC 8441) for WebSockets."),
        "http2_connection_specific_header": RuleGuide(
            title: "Connection-specific header in HTTP/2",
            why: "Such a message is malformed, and a proxy that downgrades it to HTTP/1.1 may act on the headers (h2 smuggling).",
            remediation: "Strip Connection, Upgrade, Keep-Alive, Transfer-Encoding and Proxy-Connection when converting to HTTP/2; reject messages that carry them."),
        "http2_extended_connect_without_setting": RuleGuide(
            title: "Extended CONNECT without the server's setting",
            why: "A server that has not enabled RFC 8441 rejects the stream or may treat it as a plain CONNECT to :authority, so client and server disagree on what the stream carries.",
            remediation: "Make the client wait for SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 before sending :protocol, and fall back to HTTP/1.1 Upgrade otherwise."),
        // After the switch
        "switch_protocol_mismatch": RuleGuide(
            title: "Traffic after the switch is not the agreed protocol",
            why: "The bytes after the 101 are recognisably another protocol, so monitoring and proxies that trust the handshake are blind to what really flows.",
            remediation: "Find which peer speaks the wrong protocol; make proxies validate the new protocol's first bytes, or block the connection."),
        "tls_upgrade_not_tls": RuleGuide(
            title: "TLS upgrade accepted but traffic stayed in clear text",
            why: "Both sides agreed on TLS, yet the connection continues unencrypted.",
            remediation: "Make the client start the TLS handshake immediately after the 101, and the server refuse anything else; prefer TLS from the start."),
        "docker_bad_stream_header": RuleGuide(
            title: "Invalid Docker stream header",
            why: "Clients demultiplex the stream wrongly, mixing stdout, stderr and stdin data.",
            remediation: "Fix the server to send stream ids 0, 1 or 2 with zero reserved bytes."),
        // MASQUE CONNECT-UDP
        "connect_udp_request_malformed": RuleGuide(
            title: "CONNECT-UDP upgrade accepted on a malformed request",
            why: "The proxy opened a UDP socket for a request RFC 9298 says it must refuse; proxies that parse targets differently can be steered to unintended hosts or ports.",
            remediation: "Make the proxy answer 400 to anything but GET with one Host, a well-formed target_host and a target_port from 1 to 65535, and no message content."),
        "connect_udp_response_malformed": RuleGuide(
            title: "CONNECT-UDP 101 the client must reject",
            why: "The client treats the attempt as failed and aborts, while the proxy believes the tunnel is open.",
            remediation: "Answer with exactly one `Upgrade: connect-udp`, `Connection: Upgrade` and no Content-Length, Content-Type or Transfer-Encoding."),
        "connect_udp_capsule_protocol_missing": RuleGuide(
            title: "No Capsule-Protocol: ?1 on a CONNECT-UDP exchange",
            why: "Intermediaries that do not know connect-udp recognise the Capsule Protocol by this field; without it they may not forward DATAGRAM capsules correctly.",
            remediation: "Send `Capsule-Protocol: ?1` on the request and on the 101."),
        "connect_udp_not_capsules": RuleGuide(
            title: "CONNECT-UDP switched, but no capsules follow",
            why: "One side switched to the Capsule Protocol while the other speaks something else; the receiver misreads the bytes as capsules and the tunnel carries no UDP.",
            remediation: "Find the peer that did not switch (often a proxy that answered 101 and then sent an HTTP response); make proxies validate the new protocol or close the connection."),
        "connect_udp_capsule_malformed": RuleGuide(
            title: "Malformed capsule in a CONNECT-UDP tunnel",
            why: "The receiver must treat the stream as malformed and abort it, so the UDP flow breaks; differing parsers may also disagree on what was carried.",
            remediation: "Fix the sender's capsule encoding: a Context ID in every DATAGRAM, UDP payloads of at most 65527 bytes, and no capsule cut off when the stream ends."),
        "connect_udp_unregistered_context_id": RuleGuide(
            title: "DATAGRAM with an unregistered Context ID",
            why: "Receivers drop datagrams whose Context ID no extension registered, so the data never reaches the UDP target.",
            remediation: "Use Context ID 0 for UDP payloads, or register the Context ID through the extension that defines it before using it."),
    ]
}

/// A piece of a rule reference: text, linked to the RFC (section) when it names one.
struct ReferencePart: Equatable, Sendable {
    var text: String
    var url: String?
}

/// Splits a reference such as `RFC 9110 §15.2.2, §7.8; RFC 7692 §7.1` into linked parts:
/// `RFC NNNN` links to the RFC, `§X.Y` to that section of the RFC named last. URLs are built only
/// from the digits, dots and letters checked here, never from other input text.
func referenceParts(_ reference: String) -> [ReferencePart] {
    let characters = Array(reference)
    var parts: [ReferencePart] = []
    var plain = ""
    var rfc: String?
    var index = 0
    func flush() {
        if !plain.isEmpty { parts.append(ReferencePart(text: plain, url: nil)) }
        plain = ""
    }
    while index < characters.count {
        if characters[index] == "R", index + 4 < characters.count,
           String(characters[index..<index + 4]) == "RFC ", characters[index + 4].isASCII, characters[index + 4].isNumber {
            var end = index + 4
            while end < characters.count, characters[end].isASCII, characters[end].isNumber, end - index < 9 { end += 1 }
            let number = String(characters[index + 4..<end])
            flush()
            rfc = number
            parts.append(ReferencePart(text: "RFC " + number, url: "https://www.rfc-editor.org/rfc/rfc" + number))
            index = end
            continue
        }
        if characters[index] == "§", let current = rfc, index + 1 < characters.count,
           characters[index + 1].isASCII, characters[index + 1].isNumber || characters[index + 1].isUppercase {
            var end = index + 1
            while end < characters.count, characters[end].isASCII,
                  characters[end].isNumber || characters[end].isUppercase || characters[end] == ".", end - index < 16 { end += 1 }
            while end > index + 1, characters[end - 1] == "." { end -= 1 }
            let section = String(characters[index + 1..<end])
            flush()
            let anchor = section.first?.isLetter == true ? "appendix-" + section : "section-" + section
            parts.append(ReferencePart(text: "§" + section, url: "https://www.rfc-editor.org/rfc/rfc\(current)#\(anchor)"))
            index = end
            continue
        }
        plain.append(characters[index])
        index += 1
    }
    flush()
    return parts
}

extension Severity {
    /// Catalogue severity for a rule id, or the record's own when the rule is unknown.
    static func of(rule id: String, recorded: String?) -> Severity {
        if let recorded, let severity = Severity(name: recorded) { return severity }
        return Rule.named(id)?.severity ?? .info
    }
}
