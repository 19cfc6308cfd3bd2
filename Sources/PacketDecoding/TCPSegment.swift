import PacketCapture

/// TCP header flags (RFC 9293 §3.1), as the low 8 bits of the flags field.
public struct TCPFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)

    /// The set flags as tcpdump prints them in order (`"SYN,ACK"`), or `"none"`.
    public var names: String {
        let all: [(TCPFlags, String)] = [(.fin, "FIN"), (.syn, "SYN"), (.rst, "RST"), (.psh, "PSH"),
                                         (.ack, "ACK"), (.urg, "URG"), (.ece, "ECE"), (.cwr, "CWR")]
        let set = all.filter { contains($0.0) }.map(\.1)
        return set.isEmpty ? "none" : set.joined(separator: ",")
    }
}

/// A decoded TCP segment. `payload` points into the packet's bytes (no copy) and is valid
/// only as long as the `CapturedPacket` it came from.
public struct TCPSegment {
    public var source: Endpoint
    public var destination: Endpoint
    public var sequenceNumber: UInt32
    public var acknowledgmentNumber: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    /// The captured payload bytes.
    public var payload: UnsafeRawBufferPointer
    /// Payload bytes the segment carried on the wire but the capture did not keep
    /// (snaplen cut). The reassembler reports them as a gap after `payload`.
    public var missingPayloadLength: Int
    /// The urgent pointer (RFC 9293 §3.1), meaningful only with `URG`.
    public var urgentPointer: UInt16
    /// What the IPv4 header and TCP checksums say about this packet, when the decoder was
    /// asked to verify them (`PacketDecoder.verifiesChecksums`); `.notVerified` otherwise.
    public var checksum: ChecksumStatus
    /// The decoder took a minimum frame's Ethernet padding out of a bare ACK's payload
    /// (`PacketDecoder.maximumFramePadding`).
    public var framePaddingRemoved = false
    /// The IPv4 TTL or IPv6 hop limit the packet had at the capture point (0: unknown).
    public var ttl: UInt8 = 0

    public init(source: Endpoint, destination: Endpoint, sequenceNumber: UInt32,
                acknowledgmentNumber: UInt32, flags: TCPFlags, window: UInt16,
                payload: UnsafeRawBufferPointer, missingPayloadLength: Int = 0,
                urgentPointer: UInt16 = 0, checksum: ChecksumStatus = .notVerified) {
        self.source = source
        self.destination = destination
        self.sequenceNumber = sequenceNumber
        self.acknowledgmentNumber = acknowledgmentNumber
        self.flags = flags
        self.window = window
        self.payload = payload
        self.missingPayloadLength = missingPayloadLength
        self.urgentPointer = urgentPointer
        self.checksum = checksum
    }
}

/// The verdict of the IPv4 header checksum (RFC 791 §3.1) and the TCP checksum over its
/// pseudo-header (RFC 9293 §3.1, RFC 8200 §8.1) for one packet. A receiving host drops a packet
/// whose checksum is wrong, so a monitor that believes it sees something no endpoint saw.
public enum ChecksumStatus: UInt8, Sendable {
    /// Verification was off, or not asked for.
    case notVerified
    /// Both checksums (the IPv4 header's where there is one, and TCP's) are right.
    case valid
    /// The snaplen cut the segment, so the TCP checksum cannot be computed.
    case unverifiable
    /// The TCP checksum field holds the folded pseudo-header sum alone: what an operating
    /// system leaves for the NIC to complete under transmit checksum offload (Linux
    /// CHECKSUM_PARTIAL), so the capture was taken on the sending host before the NIC.
    case offloadPartial
    /// The TCP checksum is wrong (and is not the offload pattern).
    case badTCP
    /// The IPv4 header checksum is wrong.
    case badIPv4Header

    /// The verdict as findings spell it.
    public var name: String {
        switch self {
        case .notVerified: return "not_verified"
        case .valid: return "valid"
        case .unverifiable: return "unverifiable"
        case .offloadPartial: return "offload_partial"
        case .badTCP: return "bad_tcp"
        case .badIPv4Header: return "bad_ipv4_header"
        }
    }
}

/// Why a packet did not yield a TCP segment. Every packet read lands in exactly one
/// bucket (`DecodeCounters`), so the run summary accounts for all of them.
public enum SkipReason: Int, CaseIterable, Sendable {
    case nonTCP               // ARP, UDP, ICMP, …
    /// An IPv4/IPv6 fragment kept for reassembly. The fragment that completes a datagram is
    /// counted by what the datagram holds (`tcp`, `non_tcp`, …) instead.
    case fragmentHeld
    /// A fragment reassembly will not use: a duplicate, an overlap that discards its
    /// datagram (RFC 5722), or over the byte limit.
    case fragmentDropped
    case truncated            // snaplen cut inside a header
    case malformed            // impossible header fields
    case unsupportedLinkType
    /// A tunnel header recognised but not opened: GRE version 1 or with routing, GRE payloads
    /// other than IP/Ethernet/ERSPAN, unknown VXLAN flags, Geneve versions or ERSPAN versions.
    case unsupportedTunnel
    /// Tunnels and IP headers nested beyond `PacketDecoder.maximumEncapsulationDepth` or
    /// `maximumIPNesting`.
    case encapsulationTooDeep
    /// A protected (encrypted) 802.11 data frame.
    case encrypted80211
    /// An 802.11 data frame we do not decode: a MAC-level fragment or an A-MSDU.
    case unsupported80211
    /// An 802.11 frame the radio received with a bad FCS (radiotap), which no station accepted.
    case badFCS80211

    public var name: String {
        switch self {
        case .nonTCP: return "non_tcp"
        case .fragmentHeld: return "fragment_held"
        case .fragmentDropped: return "fragment_dropped"
        case .truncated: return "truncated"
        case .malformed: return "malformed"
        case .unsupportedLinkType: return "unsupported_link_type"
        case .unsupportedTunnel: return "unsupported_tunnel"
        case .encapsulationTooDeep: return "encapsulation_too_deep"
        case .encrypted80211: return "encrypted_80211"
        case .unsupported80211: return "unsupported_80211"
        case .badFCS80211: return "bad_fcs_80211"
        }
    }
}

public enum DecodeOutcome {
    case tcp(TCPSegment)
    case skipped(SkipReason)
}

/// Per-reason packet counts, plus the number of TCP segments decoded.
public struct DecodeCounters: Sendable, Equatable {
    public var tcpSegments: UInt64 = 0
    public var skipped: [UInt64] = Array(repeating: 0, count: SkipReason.allCases.count)
    /// Link types met that are not supported, with packet counts (for the summary).
    public var unsupportedLinkTypes: [UInt32: UInt64] = [:]
    /// IP datagrams reassembled from fragments (their last fragment is counted as what they held).
    public var fragmentDatagramsReassembled: UInt64 = 0
    /// Datagrams dropped incomplete after the reassembly timeout (capture time).
    public var fragmentDatagramsTimedOut: UInt64 = 0
    /// Datagrams dropped to stay within `FragmentLimits` (datagram count or held bytes).
    public var fragmentDatagramsEvicted: UInt64 = 0
    /// Datagrams discarded because fragments partially overlapped (RFC 5722, Linux).
    public var fragmentDatagramsDiscardedForOverlap: UInt64 = 0
    /// Datagrams still incomplete when the capture ended.
    public var fragmentDatagramsIncomplete: UInt64 = 0
    /// Bare ACKs whose few zero "payload" bytes were Ethernet padding let in by a zero IP length.
    public var ackPaddingIgnored: UInt64 = 0

    public init() {}

    public subscript(reason: SkipReason) -> UInt64 {
        get { skipped[reason.rawValue] }
        set { skipped[reason.rawValue] = newValue }
    }

    public var total: UInt64 { skipped.reduce(tcpSegments, +) }

    public mutating func add(_ other: DecodeCounters) {
        tcpSegments += other.tcpSegments
        for i in skipped.indices { skipped[i] += other.skipped[i] }
        for (k, v) in other.unsupportedLinkTypes { unsupportedLinkTypes[k, default: 0] += v }
        fragmentDatagramsReassembled += other.fragmentDatagramsReassembled
        fragmentDatagramsTimedOut += other.fragmentDatagramsTimedOut
        fragmentDatagramsEvicted += other.fragmentDatagramsEvicted
        fragmentDatagramsDiscardedForOverlap += other.fragmentDatagramsDiscardedForOverlap
        fragmentDatagramsIncomplete += other.fragmentDatagramsIncomplete
        ackPaddingIgnored += other.ackPaddingIgnored
    }
}
