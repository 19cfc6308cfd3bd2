/// Progress of a packet source, for the progress line on a terminal.
public protocol ProgressReporting {
    /// Bytes consumed so far, and the total when known (files; not pipes or interfaces).
    var progress: (done: UInt64, total: UInt64?) { get }
}

extension PacketSource {
    /// Sources that cannot tell report nothing.
    public var progress: (done: UInt64, total: UInt64?) {
        (self as? ProgressReporting)?.progress ?? (0, nil)
    }
}

extension CaptureFileReader: ProgressReporting {
    public var progress: (done: UInt64, total: UInt64?) { (bytesRead, totalBytes) }
}
