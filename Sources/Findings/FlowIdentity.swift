import PacketCapture
import PacketDecoding

/// The join keys a record carries so that an analyst can find the same connection in Zeek's
/// `conn.log`, Suricata's `flow` events, Arkime or Wireshark (`community_id`), and the
/// `analyze`, `flows` and `live` records of one connection in Switchyard's own output (`flow_id`).
public enum FlowIdentity {
    /// IANA protocol number of TCP, the only transport Switchyard follows.
    public static let tcp: UInt8 = 6

    /// Community ID v1 (corelight/community-id-spec): `"1:" + base64(SHA-1(seed . saddr . daddr
    /// . proto . 0 . sport . dport))`, the endpoints ordered so that the smaller address (then
    /// port) comes first, every part in network byte order. Computed from the addresses and ports
    /// as the capture carried them (the innermost IP header of a tunnel), so it equals what
    /// Wireshark, Zeek and Suricata compute from the same packets.
    public static func communityID(_ a: Endpoint, _ b: Endpoint, proto: UInt8 = tcp, seed: UInt16 = 0) -> String {
        let (low, high) = b < a ? (b, a) : (a, b)
        var input: [UInt8] = []
        input.reserveCapacity(2 + 32 + 2 + 4)
        appendBigEndian(&input, seed)
        appendAddress(&input, low.address)
        appendAddress(&input, high.address)
        input.append(proto)
        input.append(0)
        appendBigEndian(&input, low.port)
        appendBigEndian(&input, high.port)
        return "1:" + Base64.encode(SHA1.hash(input))
    }

    /// A number naming one connection within a run, like Suricata's `flow_id`: a 64-bit mix of
    /// the ordered endpoints and the connection's first packet time, cut to 53 bits so that every
    /// JSON reader (JavaScript's doubles included) keeps it exact. It depends on the connection
    /// only, not on the order in which connections were seen, so `analyze`, `flows`, `live` and
    /// `--jobs` workers give the same connection the same number; two connections that reuse a
    /// port pair differ by their first packet time. Never 0 (0 would read as "none").
    public static func flowID(_ a: Endpoint, _ b: Endpoint, firstTimestamp: Timestamp) -> UInt64 {
        let (low, high) = b < a ? (b, a) : (a, b)
        var hash: UInt64 = 0x5357_4954_4348_5944 // "SWITCHYD"
        for word in [low.address.high, low.address.low, high.address.high, high.address.low,
                     UInt64(low.port) << 16 | UInt64(high.port) | (low.address.isIPv6 ? 1 << 32 : 0),
                     UInt64(bitPattern: firstTimestamp.seconds), UInt64(firstTimestamp.nanoseconds)] {
            hash = mix(hash ^ word)
        }
        let id = hash & (1 << 53 - 1)
        return id == 0 ? 1 : id
    }

    /// SplitMix64's finaliser (Steele, Lea, Flood 2014): every input bit affects every output bit.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private static func appendBigEndian<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    private static func appendAddress(_ bytes: inout [UInt8], _ address: IPAddress) {
        if address.isIPv6 {
            appendBigEndian(&bytes, address.high)
            appendBigEndian(&bytes, address.low)
        } else {
            appendBigEndian(&bytes, UInt32(truncatingIfNeeded: address.low))
        }
    }
}
