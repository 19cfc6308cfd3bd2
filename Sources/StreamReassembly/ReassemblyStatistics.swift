/// Reassembler-wide counters for the run summary.
public struct ReassemblyStatistics: Sendable, Equatable {
    /// Connections created (each reuse of a 4-tuple counts again).
    public var connectionsSeen: UInt64 = 0
    /// Connections created and not yet closed.
    public var connectionsOpen = 0
    /// Out-of-order bytes buffered right now over all connections. Each buffered segment is
    /// charged its length plus `BufferedChunk.overheadBytes`, so that floods of tiny segments
    /// stay within `ReassemblyLimits.globalBufferBytes` too.
    public var bufferedBytes = 0
    public var peakBufferedBytes = 0
    /// Connections closed with `.limit` because the table was full.
    public var connectionsEvicted: UInt64 = 0
    /// Connections closed with `.idleTimeout`.
    public var connectionsTimedOut: UInt64 = 0
    /// Bytes allocated for the retransmission-comparison history windows right now.
    public var historyBytes = 0
    /// Segments dropped for a wrong checksum (`ChecksumPolicy`).
    public var segmentsDroppedBadChecksum: UInt64 = 0
    /// In-order data with a wrong checksum that the receiver then acknowledged (so it got it
    /// intact: rewritten after the capture point), delivered after all.
    public var badChecksumAcknowledged: UInt64 = 0
    /// In-order data with a TTL below its direction's: held, then dropped (replaced or never
    /// acknowledged) or delivered (acknowledged).
    public var lowTTLDataDropped: UInt64 = 0
    public var lowTTLDataAcknowledged: UInt64 = 0
    /// Segments with a wrong checksum believed because `auto` took their direction for one
    /// whose checksums are offloaded.
    public var segmentsBelievedDespiteChecksum: UInt64 = 0
    /// RSTs not believed (out of window, off the expected sequence number, not acknowledging
    /// the SYN).
    public var resetsIgnored: UInt64 = 0
    /// RSTs believed at first, then contradicted by their own sender's later traffic.
    public var resetsNotHonoured: UInt64 = 0
    /// FINs reached in sequence, then contradicted by data from their own sender.
    public var finsNotHonoured: UInt64 = 0
    /// Urgent bytes taken out of the stream, as a default receiver does.
    public var urgentBytesRemoved: UInt64 = 0
    /// SYN payloads not delivered because the SYN-ACK did not acknowledge them.
    public var synPayloadsNotAcknowledged: UInt64 = 0

    public init() {}
}
