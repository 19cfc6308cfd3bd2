/// The opening of a SOCKS proxy connection (SOCKS4/4a, and SOCKS5 per RFC 1928 with the
/// RFC 1929 username/password exchange), followed byte by byte in both directions, so that what
/// the tunnel carries afterwards can be analysed: HTTP through a SOCKS proxy is HTTP all the same
/// (tshark and Zeek parse it; issue #13: Switchyard was blind to it).
///
/// It only recognises the exchange; it judges nothing. `client`/`server` take each direction's
/// bytes and say how many belong to the handshake; once `phase` is `.tunnel`, the rest of each
/// direction is the tunnel's. Anything that is not a well-formed SOCKS opening ends it with
/// `.notSOCKS` (the caller then treats the connection as it would have), and a refusal with
/// `.refused`. Each message is small and bounded (user ids and host names at most 255 bytes), so
/// the state keeps at most one message per direction.
struct SOCKSHandshake {
    enum Phase: Equatable {
        /// Waiting for the client's greeting (SOCKS5) or request (SOCKS4).
        case clientGreeting
        /// SOCKS5: the server chooses a method.
        case serverMethod
        /// SOCKS5 with username/password (RFC 1929 §2): the client's credentials, the status.
        case clientCredentials
        case serverCredentialsStatus
        /// The CONNECT request (SOCKS5) and the server's reply (both versions).
        case clientRequest
        case serverReply
        case tunnel
        case refused
        case notSOCKS
    }

    private(set) var phase = Phase.clientGreeting
    private(set) var version: UInt8 = 0
    /// The destination the client asked for, as text (for evidence).
    private(set) var destination = ""
    private var clientBuffer: [UInt8] = []
    private var serverBuffer: [UInt8] = []
    static let maximumMessage = 600

    /// Whether a connection's first client bytes can start a SOCKS opening.
    static func mayStart(_ first: UInt8) -> Bool { first == 4 || first == 5 }

    /// Client bytes; returns how many belong to the handshake (the rest, if the phase is now
    /// `.tunnel`, are the tunnel's).
    mutating func client(_ bytes: UnsafeRawBufferPointer) -> Int {
        feed(bytes, fromClient: true)
    }

    mutating func server(_ bytes: UnsafeRawBufferPointer) -> Int {
        feed(bytes, fromClient: false)
    }

    private mutating func feed(_ bytes: UnsafeRawBufferPointer, fromClient: Bool) -> Int {
        var used = 0
        while used < bytes.count {
            let expectsClient: Bool
            switch phase {
            case .clientGreeting, .clientCredentials, .clientRequest: expectsClient = true
            case .serverMethod, .serverCredentialsStatus, .serverReply: expectsClient = false
            case .tunnel, .refused, .notSOCKS: return used
            }
            guard expectsClient == fromClient else {
                // A side that speaks out of turn is not doing a SOCKS opening.
                phase = .notSOCKS
                return used
            }
            let byte = bytes[used]
            used += 1
            if fromClient { clientBuffer.append(byte) } else { serverBuffer.append(byte) }
            guard clientBuffer.count <= Self.maximumMessage, serverBuffer.count <= Self.maximumMessage else {
                phase = .notSOCKS
                return used
            }
            if let complete = fromClient ? clientMessageLength() : serverMessageLength() {
                if complete < 0 {
                    phase = .notSOCKS
                    return used
                }
                finishMessage(fromClient: fromClient)
            }
        }
        return used
    }

    /// The length of the client message being read once it is complete: nil while more bytes
    /// are needed, -1 when it cannot be SOCKS.
    private func clientMessageLength() -> Int? {
        let b = clientBuffer
        switch phase {
        case .clientGreeting:
            guard let first = b.first else { return nil }
            if first == 5 {
                // VER NMETHODS METHODS (RFC 1928 §3).
                guard b.count >= 2 else { return nil }
                guard b[1] > 0 else { return -1 }
                return b.count == 2 + Int(b[1]) ? b.count : nil
            }
            if first == 4 {
                // VN CD DSTPORT DSTIP USERID NUL [HOST NUL for 4a]: CONNECT (1) or BIND (2).
                guard b.count >= 2 else { return nil }
                guard b[1] == 1 || b[1] == 2 else { return -1 }
                guard b.count > 8, b.last == 0 else { return nil }
                let nuls = b[8...].filter { $0 == 0 }.count
                let socks4a = b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] != 0
                return nuls == (socks4a ? 2 : 1) ? b.count : nil
            }
            return -1
        case .clientCredentials:
            // VER(1) ULEN UNAME PLEN PASSWD (RFC 1929 §2).
            guard b.count >= 2 else { return nil }
            guard b[0] == 1 else { return -1 }
            let userEnd = 2 + Int(b[1])
            guard b.count > userEnd else { return nil }
            return b.count == userEnd + 1 + Int(b[userEnd]) ? b.count : nil
        case .clientRequest:
            // VER CMD RSV ATYP DST.ADDR DST.PORT (RFC 1928 §4).
            guard b.count >= 5 else { return nil }
            guard b[0] == 5, (1...3).contains(b[1]), b[2] == 0 else { return -1 }
            guard let length = Self.addressLength(b[3], next: b[4]) else { return -1 }
            return b.count == 4 + length + 2 ? b.count : nil
        default:
            return -1
        }
    }

    private func serverMessageLength() -> Int? {
        let b = serverBuffer
        switch phase {
        case .serverMethod, .serverCredentialsStatus:
            guard b.count == 2 else { return nil }
            return b[0] == (phase == .serverMethod ? 5 : 1) ? 2 : -1
        case .serverReply:
            if version == 4 {
                // VN(0) CD DSTPORT DSTIP: 90 granted, 91–93 refused.
                guard b.count == 8 else { return nil }
                return b[0] == 0 && (90...93).contains(b[1]) ? 8 : -1
            }
            guard b.count >= 5 else { return nil }
            guard b[0] == 5, b[2] == 0, let length = Self.addressLength(b[3], next: b[4]) else { return -1 }
            return b.count == 4 + length + 2 ? b.count : nil
        default:
            return -1
        }
    }

    /// Address bytes for ATYP (RFC 1928 §5): IPv4 4, IPv6 16, a name its length byte plus it.
    private static func addressLength(_ type: UInt8, next: UInt8) -> Int? {
        switch type {
        case 1: return 4
        case 4: return 16
        case 3: return next > 0 ? 1 + Int(next) : nil
        default: return nil
        }
    }

    private mutating func finishMessage(fromClient: Bool) {
        let b = fromClient ? clientBuffer : serverBuffer
        switch phase {
        case .clientGreeting:
            version = b[0]
            if version == 4 {
                let port = Int(b[2]) << 8 | Int(b[3])
                let host: String
                if b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] != 0, let nul = b[8...].firstIndex(of: 0) {
                    host = String(decoding: b[(nul + 1)..<(b.count - 1)], as: UTF8.self)
                } else {
                    host = "\(b[4]).\(b[5]).\(b[6]).\(b[7])"
                }
                destination = "\(host):\(port)"
                phase = .serverReply
            } else {
                phase = .serverMethod
            }
        case .serverMethod:
            switch b[1] {
            case 0x00: phase = .clientRequest
            case 0x02: phase = .clientCredentials
            default: phase = .refused     // 0xFF: no acceptable method; GSSAPI and others: opaque
            }
        case .clientCredentials:
            phase = .serverCredentialsStatus
        case .serverCredentialsStatus:
            phase = b[1] == 0 ? .clientRequest : .refused
        case .clientRequest:
            let port = Int(b[b.count - 2]) << 8 | Int(b[b.count - 1])
            switch b[3] {
            case 1: destination = "\(b[4]).\(b[5]).\(b[6]).\(b[7]):\(port)"
            case 3: destination = String(decoding: b[5..<(5 + Int(b[4]))], as: UTF8.self) + ":\(port)"
            default: destination = "[IPv6]:\(port)"
            }
            phase = .serverReply
        case .serverReply:
            phase = (version == 4 ? b[1] == 90 : b[1] == 0) ? .tunnel : .refused
        default:
            break
        }
        if fromClient { clientBuffer = [] } else { serverBuffer = [] }
    }
}
