import PacketCapture

/// Decodes link → IP → TCP in place. IMPLEMENTATION PENDING (helper).
public struct PacketDecoder {
    public private(set) var counters = DecodeCounters()
    public init() {}

    public mutating func decode(_ packet: CapturedPacket) -> DecodeOutcome {
        fatalError("pending")
    }
}
