/// Capture time as idle timeouts see it: *activity time*, which advances with the packets'
/// timestamps except across a step of the capture's clock or a lone outlier timestamp.
///
/// Idle timeouts exist to bound memory, not to decide that a connection is over: an endpoint
/// keeps a TCP connection until FIN, RST or its own timers, whatever a capture's clock says. So
/// a capture's clock must not split connections that go on exchanging data:
/// - a move of the timestamps by more than `stepNanos` (a day) in either direction is a step of
///   the clock (a host's clock set, captures merged out of order): activity time does not move,
///   and later packets are measured from the new reading;
/// - a forward move by more than the idle timeout but less than a step waits for a second packet
///   to confirm it (a real pause), so one packet with a corrupted timestamp moves nothing;
///   connections touched meanwhile are stamped with the pending time, so that a confirmed pause
///   does not expire the connection whose packet ended it;
/// - smaller backward moves (jitter, merged captures) leave the clock alone: it never runs back.
///
/// For a capture without such moves, activity time equals the packets' timestamps.
public struct IdleClock: Sendable {
    /// Activity time, in nanoseconds (`Int64.min` before the first packet).
    public private(set) var nowNanos = Int64.min
    /// The latest timestamp reading the clock follows (the reference for the next delta).
    private var readingNanos = Int64.min
    /// A forward move past `confirmNanos`, waiting for a second packet (activity time it would
    /// reach, and the reading that caused it).
    private var pending: (activity: Int64, reading: Int64)?
    /// Clock steps seen (forward or backward by more than `stepNanos`).
    public private(set) var steps: UInt64 = 0
    /// Moves of the timestamps larger than this, forward or backward, are clock steps.
    public static let stepNanos: Int64 = 86_400 * 1_000_000_000
    /// Forward moves larger than this need a second packet to count.
    public let confirmNanos: Int64

    /// `confirmSeconds` is normally the idle timeout: only a move that could expire a
    /// connection needs confirming.
    public init(confirmSeconds: Int64 = 120) {
        let (nanos, overflow) = max(confirmSeconds, 1).multipliedReportingOverflow(by: 1_000_000_000)
        confirmNanos = overflow ? Self.stepNanos : min(nanos, Self.stepNanos)
    }

    /// The time to stamp a connection touched now with: the pending time while a forward move
    /// waits, so that its confirmation does not count the move as that connection's idle time.
    public var touchNanos: Int64 { max(nowNanos, pending?.activity ?? nowNanos) }

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
            pending = nil
            steps &+= 1
            return false
        }
        if delta > confirmNanos {
            if let waiting = pending, nanos >= waiting.reading, nanos - waiting.reading <= confirmNanos {
                // A second packet confirms the pause.
                pending = nil
                readingNanos = nanos
                return move(by: delta)
            }
            pending = (nowNanos.addingReportingOverflow(delta).overflow ? .max : nowNanos + delta, nanos)
            return false
        }
        pending = nil
        guard delta > 0 else { return false }
        readingNanos = nanos
        return move(by: delta)
    }

    private mutating func move(by delta: Int64) -> Bool {
        let (next, overflow) = nowNanos.addingReportingOverflow(delta)
        nowNanos = overflow ? .max : next
        return true
    }
}
