import CPcap
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Saves a live capture's packets to a pcap file (`switchyard live --write FILE`) with
/// libpcap's own writer, so the file has the capture's link type and timestamp precision.
public final class PcapDumper {
    public let path: String
    private var dumper: OpaquePointer?
    /// The first write error, once noticed (on flush).
    public private(set) var failure: String?

    public init(capture: LiveCapture, path: String) throws(LiveCaptureError) {
        self.path = path
        guard let handle = capture.rawHandle else {
            throw LiveCaptureError(.cannotWrite, interface: capture.options.interface,
                                   detail: "cannot write \(path): the capture is closed")
        }
        guard let opened = pcap_dump_open(handle, path) else {
            throw LiveCaptureError(.cannotWrite, interface: capture.options.interface,
                                   detail: "cannot write \(String(cString: pcap_geterr(handle)))")
        }
        dumper = opened
    }

    deinit {
        close()
    }

    /// Appends the packet `capture.next()` returned last.
    public func writeCurrentPacket(of capture: LiveCapture) {
        guard let dumper, let header = capture.lastHeader, let data = capture.lastData else { return }
        pcap_dump(UnsafeMutablePointer<UInt8>(dumper), header, data)
    }

    /// Pushes buffered packets to the file; false (and `failure` set) when writing failed.
    @discardableResult
    public func flush() -> Bool {
        guard let dumper else { return failure == nil }
        if pcap_dump_flush(dumper) != 0 && failure == nil {
            failure = "cannot write \(path): \(String(cString: strerror(errno)))"
        }
        return failure == nil
    }

    public func close() {
        guard let dumper else { return }
        flush()
        pcap_dump_close(dumper)
        self.dumper = nil
    }
}
