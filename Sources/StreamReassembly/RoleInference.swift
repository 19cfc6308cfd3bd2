import PacketDecoding

/// Guesses which endpoint is the client of a connection whose SYN was not captured.
enum RoleInference {
    /// An HTTP/1.x request line starts with a method token (RFC 9110 §9.1; registered methods
    /// are uppercase, some with `-`) and a space. `PRI * HTTP/2.0` (RFC 9113 §3.4) matches too.
    static func looksLikeRequest(_ payload: UnsafeRawBufferPointer) -> Bool {
        let limit = min(payload.count, 21)
        var i = 0
        while i < limit {
            let byte = payload[i]
            if byte == 0x20 { return i >= 3 }
            let isUpper = byte >= 0x41 && byte <= 0x5A
            if !(isUpper || (i > 0 && (byte == 0x2D || byte == 0x5F))) { return false }
            i += 1
        }
        return false
    }

    /// A status line starts with `HTTP/1.` (RFC 9112 §4).
    static func looksLikeResponse(_ payload: UnsafeRawBufferPointer) -> Bool {
        let prefix: StaticString = "HTTP/1."
        guard payload.count >= prefix.utf8CodeUnitCount else { return false }
        let text = prefix.utf8Start
        for i in 0..<prefix.utf8CodeUnitCount where payload[i] != text[i] { return false }
        return true
    }

    /// Ports that identify the server side when the SYN was not seen.
    static func isWellKnownServerPort(_ port: UInt16) -> Bool {
        switch port {
        case 21, 22, 23, 25, 53, 80, 110, 143, 443, 465, 587, 993, 995, 1080, 3128,
             3000, 5000, 8000, 8008, 8080, 8081, 8088, 8443, 8888, 9000, 9443:
            return true
        default:
            return false
        }
    }

    /// The side index (0 or 1) of the client. `sender` sent `payload`; `ports` are the
    /// source ports of side 0 and side 1.
    static func clientSide(sender: Int, payload: UnsafeRawBufferPointer, ports: (UInt16, UInt16)) -> Int {
        if looksLikeRequest(payload) { return sender }
        if looksLikeResponse(payload) { return sender ^ 1 }
        return clientSide(byPorts: ports, sender: sender)
    }

    /// The server is the side with a well-known port, else the lower port; on a tie the
    /// sender of the packet at hand is taken as the client.
    static func clientSide(byPorts ports: (UInt16, UInt16), sender: Int) -> Int {
        let known0 = isWellKnownServerPort(ports.0), known1 = isWellKnownServerPort(ports.1)
        if known0 != known1 { return known0 ? 1 : 0 }
        if ports.0 != ports.1 { return ports.0 < ports.1 ? 1 : 0 }
        return sender
    }
}
