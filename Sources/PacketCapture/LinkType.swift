/// A link-layer header type, by its LINKTYPE_ number as pcap and pcapng files store it
/// (tcpdump.org/linktypes.html). DLT_ values that differ from the LINKTYPE_ value are
/// mapped by the readers, so everything downstream sees LINKTYPE_ numbers only.
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let null = LinkType(rawValue: 0)          // BSD loopback, host-order AF
    public static let ethernet = LinkType(rawValue: 1)
    public static let raw = LinkType(rawValue: 101)         // raw IPv4/IPv6 (DLT_RAW)
    public static let loop = LinkType(rawValue: 108)        // OpenBSD loopback, network-order AF
    public static let linuxSLL = LinkType(rawValue: 113)
    public static let ipv4 = LinkType(rawValue: 228)
    public static let ipv6 = LinkType(rawValue: 229)
    public static let linuxSLL2 = LinkType(rawValue: 276)
    public static let nflog = LinkType(rawValue: 239)
    public static let ieee80211 = LinkType(rawValue: 105)          // 802.11 frames, no radio header
    public static let ieee80211Radiotap = LinkType(rawValue: 127)  // radiotap header, then 802.11

    /// Maps the platform-dependent DLT_ numbers that some writers put in files to LINKTYPE_ numbers.
    public static func fromFileValue(_ value: UInt32) -> LinkType {
        switch value {
        case 12, 14: return .raw   // DLT_RAW on OpenBSD (14) and elsewhere (12)
        default: return LinkType(rawValue: value)
        }
    }

    public var description: String {
        switch self {
        case .null: return "null"
        case .ethernet: return "ethernet"
        case .raw: return "raw"
        case .loop: return "loop"
        case .linuxSLL: return "linux-sll"
        case .ipv4: return "ipv4"
        case .ipv6: return "ipv6"
        case .linuxSLL2: return "linux-sll2"
        case .nflog: return "nflog"
        case .ieee80211: return "ieee802_11"
        case .ieee80211Radiotap: return "ieee802_11_radiotap"
        default: return "linktype-\(rawValue)"
        }
    }
}
