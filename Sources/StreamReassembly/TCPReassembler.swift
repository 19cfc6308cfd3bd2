import PacketCapture
import PacketDecoding

/// Reassembles TCP connections, both directions, into ordered byte streams with gaps.
/// IMPLEMENTATION PENDING (helper).
public struct TCPReassembler {
    public let limits: ReassemblyLimits

    public init(limits: ReassemblyLimits = ReassemblyLimits()) {
        self.limits = limits
    }

    /// Feeds one segment (in capture order). Also evicts connections idle for longer than
    /// the idle timeout as capture time advances.
    public mutating func process<C: StreamConsumer>(_ segment: TCPSegment, frame: UInt64, timestamp: Timestamp,
                                                   into consumer: inout C) {
        fatalError("pending")
    }

    /// Flushes every connection at end of input: buffered out-of-order data is delivered
    /// after a gap, then each connection is closed with `.endOfInput`.
    public mutating func finish<C: StreamConsumer>(into consumer: inout C) {
        fatalError("pending")
    }
}
