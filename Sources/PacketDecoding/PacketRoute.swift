import PacketCapture

/// Where a packet belongs when the connections of a capture are shared out (`--jobs` workers,
/// `--shard` machines), decided from its headers alone: without state, without counting it
/// and without computing checksums, so that a worker can pass over the packets of other
/// workers' connections for the price of a header walk.
///
/// The walk is the decoder's own (`decodeFrame`), so a packet is `.tcp` here exactly when
/// `decode` would return it as a TCP segment, with the same endpoints: checksums only label a
/// segment, they never change whether one comes out. What needs state cannot be routed by its
/// headers: an IP fragment (a non-first fragment carries no ports, and which datagram a
/// fragment completes depends on the ones before it) is `.fragment`, and every share
/// reassembles every fragment (they are rare) and keeps the completed segment only if it owns
/// its connection, so each connection's fragmented packets reach the one share that owns it.
public enum PacketRoute: Equatable, Sendable {
    /// A whole TCP segment (possibly inside tunnels) between these endpoints.
    case tcp(source: Endpoint, destination: Endpoint)
    /// Not a TCP segment (another protocol, truncated, malformed): only counted.
    case other
    /// An IP fragment: it goes to the defragmenter of every share.
    case fragment
}

extension PacketDecoder {
    /// The route of `packet` (see `PacketRoute`). Allocates nothing and changes nothing.
    ///
    /// The common frame (Ethernet, then IPv4 or IPv6 without options' surprises, then TCP) is
    /// read straight from its header bytes (`ethernetTCPEndpoints`); anything else takes the
    /// decoder's walk.
    @inline(__always)
    public static func route(_ packet: CapturedPacket) -> PacketRoute {
        if packet.linkType == .ethernet, let (source, destination) = ethernetTCPEndpoints(packet) {
            return .tcp(source: source, destination: destination)
        }
        return routeByWalk(packet)
    }

    /// The endpoints of an Ethernet frame that `decodeFrame` certainly returns as a TCP segment:
    /// untagged IPv4 that is not a fragment and gives its length, or IPv6 whose next header is
    /// TCP, and a TCP header the capture holds whole. Every check is one `decodeIPv4`,
    /// `decodeIPv6` and `decodeTCP` make on the way to `.tcp`, so a frame that passes them is a
    /// segment there too; a frame that fails any of them is left to the walk (nil), which
    /// decides exactly. Tested against the walk on every capture of the corpus.
    @inline(__always)
    static func ethernetTCPEndpoints(_ packet: CapturedPacket) -> (Endpoint, Endpoint)? {
        let bytes = packet.bytes
        let captured = bytes.count
        // What the decoder's regions hold after the 14-byte Ethernet header.
        let wire = max(packet.originalLength, captured) - 14
        let ip = 14
        let tcp: Int
        let tcpWire: Int
        let capturedEnd: Int
        let isIPv6: Bool
        guard captured >= ip + 20 else { return nil }
        switch bytes.u16(12) {
        case 0x0800:
            let versionAndIHL = bytes[ip]
            let headerLength = Int(versionAndIHL & 0x0f) * 4
            let totalLength = Int(bytes.u16(ip + 2))
            guard versionAndIHL >> 4 == 4, headerLength >= 20, totalLength != 0, totalLength >= headerLength,
                  totalLength <= wire, captured - ip >= headerLength,
                  bytes.u16(ip + 6) & 0x3fff == 0, bytes[ip + 9] == 6 else { return nil }
            tcp = ip + headerLength
            tcpWire = totalLength - headerLength
            capturedEnd = min(captured, ip + totalLength)
            isIPv6 = false
        case 0x86dd:
            guard captured - ip >= 40 else { return nil }
            let payloadLength = Int(bytes.u16(ip + 4))
            guard bytes[ip] >> 4 == 6, payloadLength != 0, 40 + payloadLength <= wire, bytes[ip + 6] == 6 else {
                return nil
            }
            tcp = ip + 40
            tcpWire = payloadLength
            capturedEnd = min(captured, tcp + payloadLength)
            isIPv6 = true
        default:
            return nil
        }
        guard tcpWire >= 20, capturedEnd - tcp >= 20 else { return nil }
        let tcpHeaderLength = Int(bytes[tcp + 12] >> 4) * 4
        guard tcpHeaderLength >= 20, tcpHeaderLength <= tcpWire, capturedEnd - tcp >= tcpHeaderLength else { return nil }
        let addresses = isIPv6 ? ip + 8 : ip + 12
        let width = isIPv6 ? 16 : 4
        return (Endpoint(address: IPAddress(bytes: bytes, offset: addresses, isIPv6: isIPv6), port: bytes.u16(tcp)),
                Endpoint(address: IPAddress(bytes: bytes, offset: addresses + width, isIPv6: isIPv6),
                         port: bytes.u16(tcp + 2)))
    }

    /// The route by the decoder's own walk (every link type, tunnel and header chain).
    public static func routeByWalk(_ packet: CapturedPacket) -> PacketRoute {
        var fragment: FragmentPiece?
        let outcome = decodeFrame(linkType: packet.linkType, bytes: packet.bytes,
                                  originalLength: packet.originalLength, verifiesChecksums: false,
                                  fragment: &fragment)
        if fragment != nil { return .fragment }
        if case .tcp(let segment) = outcome { return .tcp(source: segment.source, destination: segment.destination) }
        return .other
    }

    /// Decodes `packet` like `decode(_:)` but leaves the counters as they were: a share that
    /// reassembles a fragment every share sees, but that another share counts.
    public mutating func decodeUncounted(_ packet: CapturedPacket) -> DecodeOutcome {
        let saved = counters
        defer { counters = saved }
        return decode(packet)
    }
}

/// A connection's stable, symmetric hash: the same for both directions, on every machine and
/// in every run (fixed constants, no seed), because `--shard K/N` runs on different machines
/// must agree on who owns a connection, and `switchyard merge` relies on it.
///
/// The endpoints are ordered, then their address words and ports are mixed with the
/// SplitMix64 finaliser's multiply-xorshift steps. The high 32 bits choose the shard and the
/// low 32 bits the worker within it (`FlowHash.bucket`), so the two choices are independent:
/// with `--shard 0/2 --jobs 2` both workers get connections.
public enum FlowHash {
    @inline(__always)
    public static func of(_ x: Endpoint, _ y: Endpoint) -> UInt64 {
        let (a, b) = x < y ? (x, y) : (y, x)
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15
        @inline(__always) func mix(_ word: UInt64) {
            h = (h ^ word) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
        }
        mix(a.address.high)
        mix(a.address.low)
        mix(b.address.high)
        mix(b.address.low)
        mix(UInt64(a.port) << 16 | UInt64(b.port))
        return h
    }

    /// Maps 32 bits of a hash onto `0..<count` (multiply-shift: no division, even spread).
    @inline(__always)
    public static func bucket(_ bits: UInt32, _ count: Int) -> Int {
        Int((UInt64(bits) &* UInt64(max(count, 1))) >> 32)
    }

    /// The shard (of `count`) that owns the connection with this hash.
    @inline(__always)
    public static func shard(_ hash: UInt64, of count: Int) -> Int { bucket(UInt32(truncatingIfNeeded: hash >> 32), count) }

    /// The worker (of `count`) within its shard that owns the connection with this hash.
    @inline(__always)
    public static func worker(_ hash: UInt64, of count: Int) -> Int { bucket(UInt32(truncatingIfNeeded: hash), count) }
}
