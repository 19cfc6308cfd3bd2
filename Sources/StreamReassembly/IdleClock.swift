/// Capture time as idle timeouts see it: *activity time*, which advances with the packets'
/// timestamps except across a step of the capture's clock.
///
/// Idle timeouts exist to bound memory, not to decide that a connection is over: an endpoint
/// keeps a TCP connection until FIN, RST or its own timers, whatever a capture's clock says. A
/// capture whose clock jumps (a host's clock set by days, captures merged out of order, fuzzed
/// or corrupted timestamps) must therefore not split connections that go on exchanging data
/// across the jump. A move of the timestamps by more than `stepNanos` in either direction is
/// taken as a step of the clock: activity time does not move, and later packets are measured
/// from the new reading. Smaller backward moves (merged captures, jitter) leave the clock alone,
/// as before: it never runs backwards.
///
/// For a capture without such steps, activity time equals the packets' timestamps.
public struct IdleClock: Sendable {
    /// Activity time, in nanoseconds (`Int64.min` before the first packet).
    public private(set) var nowNanos = Int64.min
    /// The latest timestamp reading the clock follows (the reference for the next delta).
    private var readingNanos = Int64.min
    /// Clock steps seen (forward or backward by more than `stepNanos`).
    public private(set) var steps: UInt64 = 0
    /// Moves of the timestamps larger than this, forward or backward, are clock steps.
    public static let stepNanos: Int64 = 86_400 * 1_000_000_000

    public init() {}

    /// Offers a packet's timestamp; true when activity time moved forward.
    public mutating func advance(to nanos: Int64) -> Bool {
        guard nowNanos != Int64.min else {
            nowNanos = nanos
            readingNanos = nanos
            return true
        }
        let (delta, overflow) = nanos.subtractingReportingOverflow(readingNanos)
        if overflow || delta > Self.stepNanos || delta < -Self.stepNanos {
            // A step of the capture's clock: follow the new reading, count no time.
            readingNanos = nanos
            steps &+= 1
            return false
        }
        guard delta > 0 else { return false }
        readingNanos = nanos
        let (next, nowOverflow) = nowNanos.addingReportingOverflow(delta)
        nowNanos = nowOverflow ? .max : next
        return true
    }

    /// Follows an activity clock kept elsewhere (`--jobs`: the reader keeps the capture's one
    /// clock and each worker follows it); true when it moved forward.
    public mutating func follow(_ nanos: Int64) -> Bool {
        guard nanos > nowNanos else { return false }
        nowNanos = nanos
        return true
    }
}
