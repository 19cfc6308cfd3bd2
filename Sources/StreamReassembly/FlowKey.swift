import PacketDecoding

/// A connection's 4-tuple, independent of direction: `a` is the lower endpoint.
struct FlowKey: Hashable {
    var a: Endpoint
    var b: Endpoint

    @inline(__always)
    init(_ x: Endpoint, _ y: Endpoint) {
        if y < x {
            a = y
            b = x
        } else {
            a = x
            b = y
        }
    }

    /// Hashes five machine words instead of the synthesized field-by-field walk.
    func hash(into hasher: inout Hasher) {
        hasher.combine(a.address.high)
        hasher.combine(a.address.low)
        hasher.combine(b.address.high)
        hasher.combine(b.address.low)
        let v6: UInt64 = (a.address.isIPv6 ? 1 << 32 : 0) | (b.address.isIPv6 ? 1 << 33 : 0)
        hasher.combine(UInt64(a.port) << 16 | UInt64(b.port) | v6)
    }
}
