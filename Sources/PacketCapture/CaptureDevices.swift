import CPcap
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One device libpcap can capture on (`switchyard interfaces`, like `tcpdump -D`).
public struct CaptureDevice: Sendable, Equatable {
    public enum ConnectionStatus: String, Sendable {
        case unknown, connected, disconnected, notApplicable = "not_applicable"
    }

    public var name: String
    public var description: String?
    /// IPv4 and IPv6 addresses, as text.
    public var addresses: [String]
    public var isUp: Bool
    public var isRunning: Bool
    public var isLoopback: Bool
    public var isWireless: Bool
    public var connectionStatus: ConnectionStatus

    /// Every capture device, in libpcap's order (usable, up interfaces first).
    public static func all() throws(LiveCaptureError) -> [CaptureDevice] {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        var list: UnsafeMutablePointer<pcap_if_t>?
        guard pcap_findalldevs(&list, &errorBuffer) == 0 else {
            throw LiveCaptureError(.other, interface: "",
                                   detail: "cannot list capture devices: \(string(fromCBuffer: errorBuffer))")
        }
        defer { if let list { pcap_freealldevs(list) } }
        var devices: [CaptureDevice] = []
        var cursor = list
        while let entry = cursor {
            let device = entry.pointee
            let flags = device.flags
            var addresses: [String] = []
            var address = device.addresses
            while let current = address {
                if let text = Self.text(current.pointee.addr) { addresses.append(text) }
                address = current.pointee.next
            }
            let status: ConnectionStatus
            switch flags & UInt32(PCAP_IF_CONNECTION_STATUS) {
            case UInt32(PCAP_IF_CONNECTION_STATUS_CONNECTED): status = .connected
            case UInt32(PCAP_IF_CONNECTION_STATUS_DISCONNECTED): status = .disconnected
            case UInt32(PCAP_IF_CONNECTION_STATUS_NOT_APPLICABLE): status = .notApplicable
            default: status = .unknown
            }
            devices.append(CaptureDevice(
                name: String(cString: device.name),
                description: device.description.map { String(cString: $0) },
                addresses: addresses,
                isUp: flags & UInt32(PCAP_IF_UP) != 0,
                isRunning: flags & UInt32(PCAP_IF_RUNNING) != 0,
                isLoopback: flags & UInt32(PCAP_IF_LOOPBACK) != 0,
                isWireless: flags & UInt32(PCAP_IF_WIRELESS) != 0,
                connectionStatus: status))
            cursor = device.next
        }
        return devices
    }

    /// The flags as `tcpdump -D` shows them: `Up, Running, Loopback`, `Connected`…
    public var flagNames: [String] {
        var names: [String] = []
        if isUp { names.append("Up") }
        if isRunning { names.append("Running") }
        if isWireless { names.append("Wireless") }
        if isLoopback { names.append("Loopback") }
        switch connectionStatus {
        case .connected: names.append("Connected")
        case .disconnected: names.append("Disconnected")
        case .unknown, .notApplicable: break
        }
        return names
    }

    private static func text(_ address: UnsafeMutablePointer<sockaddr>?) -> String? {
        guard let address else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ipv4 in
                var raw = ipv4.pointee.sin_addr
                guard inet_ntop(AF_INET, &raw, &buffer, socklen_t(buffer.count)) != nil else { return nil }
                return string(fromCBuffer: buffer)
            }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { ipv6 in
                var raw = ipv6.pointee.sin6_addr
                guard inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count)) != nil else { return nil }
                let text = string(fromCBuffer: buffer)
                let scope = ipv6.pointee.sin6_scope_id
                return scope != 0 && text.hasPrefix("fe80") ? "\(text)%\(scope)" : text
            }
        default:
            return nil
        }
    }
}

/// A NUL-terminated C string held in an array (error buffers, inet_ntop output).
func string(fromCBuffer buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
