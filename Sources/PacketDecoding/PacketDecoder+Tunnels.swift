/// Encapsulations that carry users' traffic inside another header: UDP tunnels (GTP-U, VXLAN,
/// Geneve, GRE-in-UDP), GRE with ERSPAN, PPPoE sessions and 802.11 data frames. Each returns
/// the next layer for `decodeLayers`, which bounds the nesting. A tunnel header recognised
/// but not decodable is counted as `unsupportedTunnel`, never as ordinary non-TCP traffic.
extension PacketDecoder {
    /// GRE's protocol type for transparent Ethernet bridging (RFC 1701 §3.1, used by gretap).
    static let transparentEthernetBridging: UInt16 = 0x6558

    /// UDP (RFC 768): the tunnels that live on well-known ports; any other datagram is non-TCP.
    /// VXLAN, Geneve and GRE-in-UDP are recognised by the destination port only (their source
    /// port is flow entropy: RFC 7348 §5, RFC 8926 §3.3, RFC 8086 §3.2).
    static func decodeUDP(_ bytes: UnsafeRawBufferPointer, _ udp: Region) -> Next {
        guard udp.captured >= 8 else { return .done(.skipped(.nonTCP)) }
        let sourcePort = bytes.u16(udp.start), destinationPort = bytes.u16(udp.start + 2)
        // The UDP length bounds the tunnel payload (the IP length may include padding).
        let udpLength = Int(bytes.u16(udp.start + 4))
        var payload = udp.dropping(8)
        if udpLength >= 8 && udpLength <= udp.wireLength {
            payload.wireLength = udpLength - 8
            payload.capturedEnd = min(payload.capturedEnd, udp.start + udpLength)
        }
        switch destinationPort {
        case 4789: return decodeVXLAN(bytes, payload)
        case 6081: return decodeGeneve(bytes, payload)
        case 4754: return decodeGRE(bytes, payload)
        default:
            // GTP-U and AYIYA servers answer from their well-known port.
            if sourcePort == 2152 || destinationPort == 2152 { return decodeGTPU(bytes, payload) }
            if sourcePort == 5072 || destinationPort == 5072 { return decodeAYIYA(bytes, payload) }
            return .done(.skipped(.nonTCP))
        }
    }

    /// GTP-U (3GPP TS 29.281 §5): mobile-network captures carry users' IP packets in UDP
    /// port 2152. Only G-PDUs (message type 255) of version 1 are unwrapped; other GTP
    /// messages (echo, error indication) are signalling, non-TCP.
    static func decodeGTPU(_ bytes: UnsafeRawBufferPointer, _ gtp: Region) -> Next {
        guard gtp.captured >= 8 else { return .done(.skipped(.truncated)) }
        let flags = bytes[gtp.start]
        guard flags >> 5 == 1, flags & 0x10 != 0, bytes[gtp.start + 1] == 0xFF else { return .done(.skipped(.nonTCP)) }
        var offset = 8
        if flags & 0x07 != 0 {
            // Sequence number, N-PDU number and next-extension-type fields are present together.
            offset = 12
            guard gtp.captured >= offset else { return .done(.skipped(.truncated)) }
            var nextExtension = bytes[gtp.start + 11]
            var extensions = 0
            while nextExtension != 0 {
                extensions += 1
                guard extensions <= 8, gtp.captured > offset else { return .done(.skipped(.malformed)) }
                let length = Int(bytes[gtp.start + offset]) * 4
                guard length > 0, gtp.captured >= offset + length else { return .done(.skipped(.malformed)) }
                nextExtension = bytes[gtp.start + offset + length - 1]
                offset += length
            }
        }
        return ipByVersion(bytes, gtp.dropping(offset))
    }

    /// An IP packet whose version nibble says which IP it is.
    static func ipByVersion(_ bytes: UnsafeRawBufferPointer, _ inner: Region) -> Next {
        guard inner.captured >= 1 else { return .done(truncatedOrMalformed(inner, 1)) }
        switch bytes[inner.start] >> 4 {
        case 4: return .ip(.ipv4, inner)
        case 6: return .ip(.ipv6, inner)
        default: return .done(.skipped(.malformed))
        }
    }

    /// AYIYA (draft-massar-v6ops-ayiya-02 §5, UDP 5072, SixXS tunnel brokers): a header with
    /// identity and signature of variable length; only "forward" (opcode 1) carries a packet.
    static func decodeAYIYA(_ bytes: UnsafeRawBufferPointer, _ ayiya: Region) -> Next {
        guard ayiya.captured >= 8 else { return .done(truncatedOrMalformed(ayiya, 8)) }
        let identityLength = 1 << Int(bytes[ayiya.start] >> 4)
        let signatureLength = Int(bytes[ayiya.start + 1] >> 4) * 4
        guard bytes[ayiya.start + 2] & 0x0f == 1 else { return .done(.skipped(.nonTCP)) }
        let length = 8 + identityLength + signatureLength
        guard ayiya.captured >= length else { return .done(truncatedOrMalformed(ayiya, length)) }
        switch bytes[ayiya.start + 3] {
        case 4: return .ip(.ipv4, ayiya.dropping(length))
        case 41: return .ip(.ipv6, ayiya.dropping(length))
        default: return .done(.skipped(.unsupportedTunnel))
        }
    }

    /// VXLAN (RFC 7348 §5): 8 bytes (flags with the I bit, VNI), then an Ethernet frame.
    static func decodeVXLAN(_ bytes: UnsafeRawBufferPointer, _ vxlan: Region) -> Next {
        guard vxlan.captured >= 8 else { return .done(truncatedOrMalformed(vxlan, 8)) }
        // The I flag must be 1 for a valid VNI; without it this is not VXLAN as we know it.
        guard bytes[vxlan.start] & 0x08 != 0 else { return .done(.skipped(.unsupportedTunnel)) }
        return .ethernet(vxlan.dropping(8))
    }

    /// Geneve (RFC 8926 §3.4): version 0, options of `Opt Len` × 4 bytes, then the protocol
    /// type: Ethernet (0x6558) or IP. Unknown versions must be dropped (§3.4).
    static func decodeGeneve(_ bytes: UnsafeRawBufferPointer, _ geneve: Region) -> Next {
        guard geneve.captured >= 8 else { return .done(truncatedOrMalformed(geneve, 8)) }
        guard bytes[geneve.start] >> 6 == 0 else { return .done(.skipped(.unsupportedTunnel)) }
        let length = 8 + Int(bytes[geneve.start] & 0x3f) * 4
        guard geneve.captured >= length else { return .done(truncatedOrMalformed(geneve, length)) }
        let inner = geneve.dropping(length)
        switch bytes.u16(geneve.start + 2) {
        case transparentEthernetBridging: return .ethernet(inner)
        case 0x0800: return .ip(.ipv4, inner)
        case 0x86dd: return .ip(.ipv6, inner)
        default: return .done(.skipped(.unsupportedTunnel))
        }
    }

    /// GRE (RFC 2784, with the key and sequence number of RFC 2890): a 4-byte header, then
    /// checksum, key and sequence number when their flags say so. Version 1 (PPTP's enhanced
    /// GRE) and the deprecated routing field (RFC 1701) are not decoded.
    static func decodeGRE(_ bytes: UnsafeRawBufferPointer, _ gre: Region) -> Next {
        guard gre.captured >= 4 else { return .done(truncatedOrMalformed(gre, 4)) }
        let flags = bytes.u16(gre.start)
        let protocolType = bytes.u16(gre.start + 2)
        guard flags & 0x0007 == 0, flags & 0x4000 == 0 else { return .done(.skipped(.unsupportedTunnel)) }
        let sequenced = flags & 0x1000 != 0
        var length = 4
        if flags & 0x8000 != 0 { length += 4 }   // checksum and reserved1
        if flags & 0x2000 != 0 { length += 4 }   // key
        if sequenced { length += 4 }             // sequence number
        guard gre.captured >= length else { return .done(truncatedOrMalformed(gre, length)) }
        let inner = gre.dropping(length)
        switch protocolType {
        case transparentEthernetBridging:
            return .ethernet(inner)
        case 0x88be:
            // ERSPAN type II has the sequence number; without it this is type I, a bare frame.
            return sequenced ? decodeERSPAN(bytes, inner, type: 2) : .ethernet(inner)
        case 0x22eb:
            return decodeERSPAN(bytes, inner, type: 3)
        case 0x0800, 0x86dd, 0x8100, 0x88a8, 0x8864:
            return etherType(bytes, protocolType, inner)
        case 0x8200:
            // Aruba access points send their stations' 802.11 frames to the controller in GRE
            // with this type (Wireshark's "ARUBA WLAN"; Zeek decodes it too).
            return decode80211(bytes, inner)
        default:
            // MPLS, other vendor payloads: a tunnel we do not open.
            return .done(.skipped(.unsupportedTunnel))
        }
    }

    /// ERSPAN (draft-foschiano-erspan-03 §4.1, §4.2): an 8-byte (type II, version 1) or 12-byte
    /// (type III, version 2, plus 8 bytes of platform-specific subheader when O is set) header,
    /// then the mirrored Ethernet frame. The T bit says the mirror cut the frame: its IP length
    /// then exceeds the bytes, which is a snaplen cut (a gap), not a malformed packet.
    static func decodeERSPAN(_ bytes: UnsafeRawBufferPointer, _ erspan: Region, type: Int) -> Next {
        let length = type == 2 ? 8 : 12
        guard erspan.captured >= length else { return .done(truncatedOrMalformed(erspan, length)) }
        let version = Int(bytes[erspan.start] >> 4)
        guard version == type - 1 else { return .done(.skipped(.unsupportedTunnel)) }
        var headerLength = length
        if type == 3 {
            let last = bytes.u16(erspan.start + 10)
            // Frame type (FT): 0 is Ethernet; the others are not defined for decoding.
            guard (last >> 10) & 0x1f == 0 else { return .done(.skipped(.unsupportedTunnel)) }
            if last & 1 != 0 { headerLength += 8 }
            guard erspan.captured >= headerLength else { return .done(truncatedOrMalformed(erspan, headerLength)) }
        }
        var inner = erspan.dropping(headerLength)
        if bytes.u16(erspan.start + 2) & 0x0400 != 0 {
            inner.wireLength = max(inner.wireLength, Int(UInt16.max) + 64)
        }
        return .ethernet(inner)
    }

    /// A PPPoE session frame (RFC 2516 §4, ethertype 0x8864): version and type 1, code 0,
    /// session id, length, then a PPP frame (RFC 1661 §2): IPv4 (0x0021) and IPv6 (0x0057)
    /// are decoded; LCP, IPCP and the other PPP protocols are control traffic, non-TCP.
    static func decodePPPoESession(_ bytes: UnsafeRawBufferPointer, _ pppoe: Region) -> Next {
        guard pppoe.captured >= 8 else { return .done(truncatedOrMalformed(pppoe, 8)) }
        guard bytes[pppoe.start] == 0x11, bytes[pppoe.start + 1] == 0 else { return .done(.skipped(.unsupportedTunnel)) }
        let length = Int(bytes.u16(pppoe.start + 4))
        guard length >= 2, length <= pppoe.wireLength - 6 else { return .done(.skipped(.malformed)) }
        // Protocol-field compression (RFC 1661 §6.5): a one-byte field is odd.
        let compressed = bytes[pppoe.start + 6] & 1 == 1
        let protocolNumber = compressed ? UInt16(bytes[pppoe.start + 6]) : bytes.u16(pppoe.start + 6)
        let headerLength = compressed ? 7 : 8
        var inner = pppoe.dropping(headerLength)
        inner.wireLength = length - (headerLength - 6)
        inner.capturedEnd = min(inner.capturedEnd, inner.start + inner.wireLength)
        switch protocolNumber {
        case 0x0021: return .ip(.ipv4, inner)
        case 0x0057: return .ip(.ipv6, inner)
        default: return .done(.skipped(.nonTCP))
        }
    }

    // MARK: - 802.11

    /// A radiotap header (radiotap.org; LINKTYPE_IEEE802_11_RADIOTAP): version 0, its own
    /// length, then the 802.11 frame. A frame the radio received with a bad FCS (Flags field
    /// bit 0x40) never reached the station's stack, so it is not believed.
    static func decodeRadiotap(_ bytes: UnsafeRawBufferPointer, _ frame: Region) -> Next {
        guard frame.captured >= 8 else { return .done(truncatedOrMalformed(frame, 8)) }
        guard bytes[frame.start] == 0 else { return .done(.skipped(.malformed)) }
        let length = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: frame.start + 2, as: UInt16.self)))
        guard length >= 8, length <= frame.wireLength else { return .done(.skipped(.malformed)) }
        guard frame.captured >= length else { return .done(.skipped(.truncated)) }
        // The present bitmaps chain while bit 31 is set; fields follow the last one.
        let present = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: frame.start + 4, as: UInt32.self))
        var offset = 8
        var word = present
        var bitmaps = 1
        while word & 0x8000_0000 != 0 {
            bitmaps += 1
            guard bitmaps <= 16, offset + 4 <= length else { return .done(.skipped(.malformed)) }
            word = UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: frame.start + offset, as: UInt32.self))
            offset += 4
        }
        if present & 0x1 != 0 { offset = (offset + 7) & ~7; offset += 8 }   // TSFT: 8 bytes, 8-aligned
        if present & 0x2 != 0, offset < length, bytes[frame.start + offset] & 0x40 != 0 {
            return .done(.skipped(.badFCS80211))
        }
        return decode80211(bytes, frame.dropping(length))
    }

    /// An IEEE 802.11 frame (802.11-2020 §9.2, §9.3.2): only data frames carry users' traffic.
    /// The header has 3 or 4 addresses (both DS bits set), a QoS control field for QoS
    /// subtypes and an HT control field when QoS and +HTC/Order are set; protected frames are
    /// encrypted (we hold no keys); the payload starts with an LLC/SNAP header (RFC 1042)
    /// that names the ethertype.
    static func decode80211(_ bytes: UnsafeRawBufferPointer, _ frame: Region) -> Next {
        guard frame.captured >= 2 else { return .done(truncatedOrMalformed(frame, 2)) }
        let control = bytes[frame.start], flags = bytes[frame.start + 1]
        guard control & 0x03 == 0 else { return .done(.skipped(.malformed)) }   // protocol version 0
        let type = (control >> 2) & 0x03, subtype = control >> 4
        // Management, control and extension frames, and data subtypes without data (Null, QoS Null, CF-*).
        guard type == 2, subtype & 0x04 == 0 else { return .done(.skipped(.nonTCP)) }
        guard flags & 0x40 == 0 else { return .done(.skipped(.encrypted80211)) }
        var headerLength = flags & 0x03 == 0x03 ? 30 : 24
        let qos = subtype & 0x08 != 0
        if qos { headerLength += flags & 0x80 != 0 ? 6 : 2 }
        guard frame.captured >= headerLength else { return .done(truncatedOrMalformed(frame, headerLength)) }
        // MAC-level fragments (More Fragments, or a fragment number) and A-MSDU aggregates.
        let sequenceControl = UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: frame.start + 22, as: UInt16.self))
        if flags & 0x04 != 0 || sequenceControl & 0x000f != 0 { return .done(.skipped(.unsupported80211)) }
        if qos && bytes[frame.start + (flags & 0x03 == 0x03 ? 30 : 24)] & 0x80 != 0 {
            return .done(.skipped(.unsupported80211))
        }
        let llc = frame.dropping(headerLength)
        guard llc.captured >= 8 else { return .done(llc.wireLength >= 8 ? .skipped(.truncated) : .skipped(.nonTCP)) }
        // SNAP: DSAP AA, SSAP AA, UI (03), OUI 00-00-00 (RFC 1042) or 00-00-F8 (802.1H).
        let snap = bytes[llc.start] == 0xaa && bytes[llc.start + 1] == 0xaa && bytes[llc.start + 2] == 0x03
            && bytes[llc.start + 3] == 0 && bytes[llc.start + 4] == 0
            && (bytes[llc.start + 5] == 0 || bytes[llc.start + 5] == 0xf8)
        guard snap else { return .done(.skipped(.nonTCP)) }
        return .etherType(bytes.u16(llc.start + 6), llc.dropping(8))
    }
}
