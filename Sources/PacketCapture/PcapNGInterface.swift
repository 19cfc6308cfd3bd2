/// What a pcapng Interface Description Block says about its packets (draft-ietf-opsawg-pcapng §4.2).
struct PcapNGInterface {
    var linkType: LinkType
    var snapshotLength: UInt32
    /// Timestamp units per second: 10^n or 2^n from if_tsresol; 10^6 when the option is absent.
    private(set) var unitsPerSecond: UInt64 = 1_000_000
    /// if_tsoffset: seconds to add to every timestamp of the interface.
    var secondsOffset: Int64 = 0

    init(linkType: LinkType, snapshotLength: UInt32) {
        self.linkType = linkType
        self.snapshotLength = snapshotLength
    }

    /// Applies an if_tsresol byte: high bit clear → 10^-n seconds, set → 2^-n seconds.
    /// Returns false for resolutions whose units per second do not fit 64 bits.
    mutating func setResolution(_ value: UInt8) -> Bool {
        let exponent = Int(value & 0x7F)
        if value & 0x80 != 0 {
            guard exponent < 64 else { return false }
            unitsPerSecond = 1 << UInt64(exponent)
        } else {
            guard exponent <= 19 else { return false }
            var units: UInt64 = 1
            for _ in 0..<exponent { units &*= 10 }
            unitsPerSecond = units
        }
        return true
    }

    /// Converts a 64-bit timestamp in this interface's units to seconds and nanoseconds,
    /// truncating below a nanosecond. Exact integer arithmetic, no floating point.
    func timestamp(units: UInt64) -> Timestamp {
        let perSecond = unitsPerSecond
        let whole = units / perSecond
        let fraction = units % perSecond
        let nanoseconds: UInt64
        switch perSecond {
        case 1_000_000_000: nanoseconds = fraction
        case 1_000_000: nanoseconds = fraction &* 1000
        default:
            // fraction < perSecond, so fraction * 10^9 / perSecond < 10^9 fits the quotient.
            let product = fraction.multipliedFullWidth(by: 1_000_000_000)
            nanoseconds = perSecond.dividingFullWidth(product).quotient
        }
        return Timestamp(seconds: Int64(truncatingIfNeeded: whole) &+ secondsOffset,
                         nanoseconds: UInt32(truncatingIfNeeded: nanoseconds))
    }
}
