import CPcap
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How to open a live capture (`switchyard live`).
public struct LiveCaptureOptions: Sendable {
    public var interface: String
    /// Bytes kept of each packet; tcpdump's default, enough for any TCP segment.
    public var snapshotLength: Int32 = 262_144
    public var promiscuous = false
    /// Kernel ring buffer size. Larger than libpcap's 2 MiB default: in immediate mode on Linux
    /// every ring frame is as large as the interface MTU allows (64 KiB on `lo`), so 2 MiB holds
    /// only about 30 packets and a short burst is dropped. (On `lo` the ring takes twice this:
    /// each 64 KiB frame sits in a 128 KiB block.)
    public var bufferSizeBytes: Int32? = 16 << 20
    /// How long one read waits for a packet before it returns a timeout, so the run loop
    /// can check signals, its duration and idle connections even when nothing arrives.
    public var timeoutMilliseconds: Int32 = 100
    /// BPF filter (pcap-filter(7)); only TCP matters to the analysis.
    public var filter = "tcp"

    public init(interface: String) {
        self.interface = interface
    }
}

/// Why a live capture could not be opened or configured. `description` is one line for stderr.
public struct LiveCaptureError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The interface does not exist; `known` lists the capture devices that do.
        case noSuchInterface(known: [String])
        /// Capturing needs root or CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode and buffers).
        case permissionDenied
        case interfaceNotUp
        case invalidFilter
        case cannotWrite
        case other
    }
    public var kind: Kind
    public var interface: String
    /// libpcap's text (pcap_geterr / pcap_statustostr).
    public var detail: String

    public init(_ kind: Kind, interface: String, detail: String) {
        self.kind = kind
        self.interface = interface
        self.detail = detail
    }

    public var description: String {
        switch kind {
        case .noSuchInterface(let known):
            let list = known.isEmpty ? "none found" : known.joined(separator: ", ")
            return "no such interface '\(interface)' (capture devices: \(list); see 'switchyard interfaces')"
        case .permissionDenied:
            return "no permission to capture on '\(interface)' (\(detail)): capturing needs root or the "
                + "CAP_NET_RAW and CAP_NET_ADMIN capabilities, e.g. "
                + "'sudo setcap cap_net_raw,cap_net_admin=eip \(CommandLine.arguments.first ?? "switchyard")'"
        case .interfaceNotUp:
            return "interface '\(interface)' is not up (\(detail))"
        case .invalidFilter:
            return "invalid capture filter: \(detail)"
        case .cannotWrite, .other:
            return detail
        }
    }
}

/// libpcap's counters for a live capture (pcap_stats(3PCAP)); on Linux, `received` counts
/// packets that passed the filter, `dropped` those the ring buffer had no room for.
public struct LiveCaptureStatistics: Sendable, Equatable {
    public var received: UInt64
    public var dropped: UInt64
    public var interfaceDropped: UInt64

    public init(received: UInt64, dropped: UInt64, interfaceDropped: UInt64) {
        self.received = received
        self.dropped = dropped
        self.interfaceDropped = interfaceDropped
    }
}

/// What one read of a live capture gave.
public enum LiveCaptureEvent {
    /// A packet; its bytes point into libpcap's ring buffer, valid until the next read.
    case packet(CapturedPacket)
    /// The read timeout passed without a packet.
    case timeout
    /// `breakLoop()` was called (a stop signal).
    case stopped
    /// The capture failed (the interface went down or disappeared); nothing more will come.
    case failed(CaptureError)
}

/// A live capture on one interface through libpcap: `pcap_create`, options, `pcap_activate`,
/// a BPF filter, then `pcap_next_ex` in immediate mode with a short timeout.
///
/// Immediate mode because findings must appear as the packets arrive (on Linux it also selects
/// TPACKET_V2, whose poll honours the timeout even when no packet comes). Packets are views into
/// libpcap's buffer: nothing is copied or allocated per packet. Frames are numbered from 1.
public final class LiveCapture: PacketSource {
    public let options: LiveCaptureOptions
    /// From `pcap_datalink`, mapped to LINKTYPE_ numbers like a file's header.
    public let linkType: LinkType
    /// libpcap's name for the link type, e.g. `EN10MB`.
    public let linkTypeName: String
    /// Whether libpcap delivers nanosecond timestamps (else microseconds).
    public let nanosecondTimestamps: Bool
    /// Warnings from `pcap_activate` (e.g. promiscuous mode not supported); the capture runs.
    public private(set) var warnings: [String] = []
    /// True while libpcap reports the interface down (ENETDOWN) but still present; it waits
    /// for the interface to come back, or fails the capture once the interface disappears.
    public private(set) var interfaceDown = false
    /// Packets returned so far; the last one's frame number.
    public private(set) var packetsRead: UInt64 = 0

    private var handle: OpaquePointer?
    private let selectableDescriptor: Int32
    /// The last packet's header and bytes, for `PcapDumper` (valid until the next read).
    var lastHeader: UnsafeMutablePointer<pcap_pkthdr>?
    var lastData: UnsafePointer<UInt8>?

    /// Opens, activates and filters the capture; throws a `LiveCaptureError` whose description
    /// is the one line to show.
    public init(options: LiveCaptureOptions) throws(LiveCaptureError) {
        self.options = options
        let name = options.interface
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let handle = pcap_create(name, &errorBuffer) else {
            throw LiveCaptureError(.other, interface: name,
                                   detail: "cannot open '\(name)': \(string(fromCBuffer: errorBuffer))")
        }
        func fail(_ kind: LiveCaptureError.Kind, _ detail: String) -> LiveCaptureError {
            pcap_close(handle)
            return LiveCaptureError(kind, interface: name, detail: detail)
        }
        _ = pcap_set_snaplen(handle, options.snapshotLength)
        _ = pcap_set_promisc(handle, options.promiscuous ? 1 : 0)
        _ = pcap_set_timeout(handle, options.timeoutMilliseconds)
        _ = pcap_set_immediate_mode(handle, 1)
        if let size = options.bufferSizeBytes { _ = pcap_set_buffer_size(handle, size) }
        // Nanoseconds where the platform has them, so findings carry the kernel's exact time.
        _ = pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO))

        let status = pcap_activate(handle)
        if status < 0 {
            let detail = Self.errorText(handle, status)
            switch status {
            case PCAP_ERROR_NO_SUCH_DEVICE:
                throw fail(.noSuchInterface(known: Self.knownInterfaces()), detail)
            case PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED:
                // Unprivileged users may fail on permissions before the name is checked.
                let known = Self.knownInterfaces()
                if !known.isEmpty && !known.contains(name) {
                    throw fail(.noSuchInterface(known: known), detail)
                }
                throw fail(.permissionDenied, detail)
            case PCAP_ERROR_IFACE_NOT_UP:
                throw fail(.interfaceNotUp, detail)
            default:
                throw fail(.other, "cannot capture on '\(name)': \(detail)")
            }
        }
        if status > 0 { warnings.append("'\(name)': \(Self.errorText(handle, status))") }

        var program = bpf_program()
        if pcap_compile(handle, &program, options.filter, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw fail(.invalidFilter, "'\(options.filter)': \(String(cString: pcap_geterr(handle)))")
        }
        let filtered = pcap_setfilter(handle, &program)
        pcap_freecode(&program)
        if filtered != 0 {
            throw fail(.invalidFilter, "'\(options.filter)': \(String(cString: pcap_geterr(handle)))")
        }

        let datalink = pcap_datalink(handle)
        linkType = LinkType.fromFileValue(UInt32(bitPattern: datalink))
        linkTypeName = pcap_datalink_val_to_name(datalink).map { String(cString: $0) } ?? "DLT \(datalink)"
        nanosecondTimestamps = pcap_get_tstamp_precision(handle) == Int32(PCAP_TSTAMP_PRECISION_NANO)
        selectableDescriptor = pcap_get_selectable_fd(handle)
        guard selectableDescriptor >= 0, pcap_setnonblock(handle, 1, &errorBuffer) == 0 else {
            throw fail(.other, "cannot capture on '\(name)': no pollable descriptor (\(string(fromCBuffer: errorBuffer)))")
        }
        self.handle = handle
    }

    deinit {
        close()
    }

    /// Stops capturing and releases the handle (also done on deinit).
    public func close() {
        guard let handle else { return }
        LiveStopSignals.unregister(handle)
        self.handle = nil
        lastHeader = nil
        lastData = nil
        pcap_close(handle)
    }

    /// Waits up to the timeout for the next packet.
    ///
    /// The handle is non-blocking and the wait is our own `poll(2)` on libpcap's selectable
    /// descriptor: in blocking mode libpcap 1.10 on Linux polls again after every timeout and
    /// never returns, so neither the duration nor idle timeouts could be checked.
    public func next() -> LiveCaptureEvent {
        guard let handle else { return .stopped }
        var waited = false
        while true {
            var header: UnsafeMutablePointer<pcap_pkthdr>?
            var data: UnsafePointer<UInt8>?
            let status = pcap_next_ex(handle, &header, &data)
            switch status {
            case 1:
                guard let header, let data else { return .timeout }
                interfaceDown = false
                return packet(header, data)
            case 0:
                if waited || LiveStopSignals.received != nil { return .timeout }
                waited = true
                // After an ENETDOWN libpcap asks to be called again soon (1 ms) to tell a
                // downed interface from a vanished one.
                var wait = options.timeoutMilliseconds
                let required = pcap_get_required_select_timeout(handle)
                interfaceDown = required != nil
                if let required {
                    let milliseconds = required.pointee.tv_sec * 1000 + required.pointee.tv_usec / 1000
                    wait = Int32(clamping: max(1, min(Int(wait), milliseconds)))
                }
                var descriptor = pollfd(fd: selectableDescriptor, events: Int16(POLLIN), revents: 0)
                _ = poll(&descriptor, 1, wait)  // EINTR (a signal) just ends the wait
            case PCAP_ERROR_BREAK:
                return .stopped
            default:
                let text = String(cString: pcap_geterr(handle))
                return .failed(CaptureError(.live, "capture on '\(options.interface)' failed: \(text)"))
            }
        }
    }

    private func packet(_ header: UnsafeMutablePointer<pcap_pkthdr>, _ data: UnsafePointer<UInt8>) -> LiveCaptureEvent {
        lastHeader = header
        lastData = data
        packetsRead &+= 1
        let info = header.pointee
        let fraction = Int64(info.ts.tv_usec)
        let nanos = nanosecondTimestamps ? fraction : fraction &* 1000
        let timestamp = Timestamp(seconds: Int64(info.ts.tv_sec),
                                  nanoseconds: UInt32(clamping: min(max(nanos, 0), 999_999_999)))
        return .packet(CapturedPacket(frameNumber: packetsRead, timestamp: timestamp, linkType: linkType,
                                      bytes: UnsafeRawBufferPointer(start: data, count: Int(info.caplen)),
                                      originalLength: Int(info.len)))
    }

    /// `PacketSource`: the next packet, waiting through timeouts; nil once stopped.
    public func nextPacket() throws(CaptureError) -> CapturedPacket? {
        while true {
            switch next() {
            case .packet(let packet): return packet
            case .timeout: continue
            case .stopped: return nil
            case .failed(let error): throw error
            }
        }
    }

    /// Makes a blocked `next()` return `.stopped` (pcap_breakloop).
    public func breakLoop() {
        if let handle { pcap_breakloop(handle) }
    }

    /// libpcap's counters so far; nil when the platform cannot tell or the capture is closed.
    public func statistics() -> LiveCaptureStatistics? {
        guard let handle else { return nil }
        var stats = pcap_stat()
        guard pcap_stats(handle, &stats) == 0 else { return nil }
        return LiveCaptureStatistics(received: UInt64(stats.ps_recv), dropped: UInt64(stats.ps_drop),
                                     interfaceDropped: UInt64(stats.ps_ifdrop))
    }

    /// SIGINT and SIGTERM (or `signals`) stop this capture: the handler records the signal and
    /// calls `pcap_breakloop`, nothing else, so it stays async-signal-safe. A second signal
    /// while stopping takes the default action (terminates at once).
    public func stopOnSignals(_ signals: [Int32] = [SIGINT, SIGTERM]) {
        guard let handle else { return }
        LiveStopSignals.install(handle, signals: signals)
    }

    /// The signal that asked to stop, if one did.
    public static var stopSignal: Int32? { LiveStopSignals.received }

    /// Raw access for `PcapDumper`.
    var rawHandle: OpaquePointer? { handle }

    private static func errorText(_ handle: OpaquePointer, _ status: Int32) -> String {
        let own = String(cString: pcap_geterr(handle))
        return own.isEmpty ? String(cString: pcap_statustostr(status)) : own
    }

    private static func knownInterfaces() -> [String] {
        (try? CaptureDevice.all().map(\.name)) ?? []
    }
}

/// Signal state shared with the handler. Plain globals written before the handler is
/// installed (so no lazy initialisation happens inside it); the handler only stores an
/// integer and calls `pcap_breakloop`, which on Linux writes to an eventfd.
nonisolated(unsafe) private var stopHandle: OpaquePointer?
nonisolated(unsafe) private var stopSignalNumber: Int32 = 0

private func liveStopHandler(_ signal: Int32) {
    if stopSignalNumber != 0 {
        // Asked twice: give up on the orderly stop.
        _ = Glibc.signal(signal, SIG_DFL)
        _ = raise(signal)
        return
    }
    stopSignalNumber = signal
    if let handle = stopHandle { pcap_breakloop(handle) }
}

enum LiveStopSignals {
    static var received: Int32? { stopSignalNumber == 0 ? nil : stopSignalNumber }

    static func install(_ handle: OpaquePointer, signals: [Int32]) {
        stopSignalNumber = 0
        stopHandle = handle
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = liveStopHandler
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0  // no SA_RESTART: interrupted waits return at once
            _ = sigaction(number, &action, nil)
        }
    }

    static func unregister(_ handle: OpaquePointer) {
        if stopHandle == handle { stopHandle = nil }
    }
}
