/// Streaming reader for pcap and pcapng files and standard input. IMPLEMENTATION PENDING (helper).
public struct CaptureFileReader: PacketSource {
    public init(path: String) throws(CaptureError) {
        throw CaptureError(.cannotOpen, "pending")
    }
    public mutating func nextPacket() throws(CaptureError) -> CapturedPacket? { nil }
}
