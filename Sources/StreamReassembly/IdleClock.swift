/// Capture time as idle timeouts see it: the latest timestamp, except that a lone packet stamped
/// more than a day after the clock is taken for a broken timestamp (fuzzed or corrupted captures
/// have them) and moves nothing; a second such packet confirms a real pause.
public struct IdleClock: Sendable {
    public private(set) var nowNanos = Int64.min
    /// A timestamp far ahead of the clock, waiting for a second packet to confirm it.
    private var pendingJumpNanos: Int64?
    /// Forward jumps larger than this need two packets to move the clock.
    public static let implausibleJumpNanos: Int64 = 86_400 * 1_000_000_000

    public init() {}

    /// Offers a packet's timestamp; true when the clock moved forward.
    public mutating func advance(to nanos: Int64) -> Bool {
        guard nanos > nowNanos else { return false }
        guard nowNanos != Int64.min, nanos &- nowNanos > Self.implausibleJumpNanos else {
            pendingJumpNanos = nil
            nowNanos = nanos
            return true
        }
        if let pending = pendingJumpNanos, nanos &- pending >= 0, nanos &- pending <= Self.implausibleJumpNanos {
            pendingJumpNanos = nil
            nowNanos = nanos
            return true
        }
        pendingJumpNanos = nanos
        return false
    }

    /// Follows a clock kept elsewhere; true when it moved forward.
    public mutating func follow(_ nanos: Int64) -> Bool {
        guard nanos > nowNanos else { return false }
        nowNanos = nanos
        return true
    }
}
