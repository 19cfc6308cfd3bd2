/// SHA-1 (RFC 3174), kept for two values defined with it: the WebSocket accept value
/// (RFC 6455 §4.2.2, `base64(SHA-1(key + GUID))`) and the Community ID flow hash
/// (corelight/community-id-spec v1). Not for anything security-related: SHA-1 is broken for
/// collision resistance, but both need exactly this function. It lives in `Findings`, below
/// `SwitchedProtocols`, because records carry the Community ID.
///
/// Incremental: `update` any number of times, then `finalize` once.
public struct SHA1: Sendable {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
    /// Partial block (fewer than 64 bytes), kept between `update` calls.
    private var block = [UInt8](repeating: 0, count: 64)
    private var blockCount = 0
    /// Message length in bytes (RFC 3174 §4: the length is appended in bits, modulo 2^64).
    private var length: UInt64 = 0

    public init() {}

    /// The 20-byte digest of `bytes`.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var sha = SHA1()
        sha.update(bytes)
        return sha.finalize()
    }

    /// The 20-byte digest of a string's UTF-8 bytes.
    public static func hash(_ text: String) -> [UInt8] {
        hash(Array(text.utf8))
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        length &+= UInt64(bytes.count)
        var index = 0
        if blockCount > 0 {
            let take = min(64 - blockCount, bytes.count)
            for i in 0..<take { block[blockCount + i] = bytes[i] }
            blockCount += take
            index = take
            if blockCount < 64 { return }
            block.withUnsafeBytes { compress($0.baseAddress!) }
            blockCount = 0
        }
        while bytes.count - index >= 64 {
            compress(bytes.baseAddress! + index)
            index += 64
        }
        while index < bytes.count {
            block[blockCount] = bytes[index]
            blockCount += 1
            index += 1
        }
    }

    /// Pads (RFC 3174 §4) and returns the digest. The value is spent afterwards.
    public mutating func finalize() -> [UInt8] {
        let bitLength = length &* 8
        var padding: [UInt8] = [0x80]
        let afterMarker = (blockCount + 1) % 64
        let zeros = afterMarker <= 56 ? 56 - afterMarker : 64 + 56 - afterMarker
        padding += [UInt8](repeating: 0, count: zeros)
        for shift in stride(from: 56, through: 0, by: -8) {
            padding.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift)))
        }
        let savedLength = length
        update(padding)
        length = savedLength
        var digest: [UInt8] = []
        digest.reserveCapacity(20)
        for word in [state.0, state.1, state.2, state.3, state.4] {
            digest += [UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16),
                       UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)]
        }
        return digest
    }

    /// One 512-bit block (RFC 3174 §6.1, method 1).
    private mutating func compress(_ pointer: UnsafeRawPointer) {
        var w = (UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0),
                 UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0))
        withUnsafeMutableBytes(of: &w) { raw in
            let words = raw.bindMemory(to: UInt32.self)
            for t in 0..<16 {
                let p = pointer + t * 4
                words[t] = UInt32(p.load(as: UInt8.self)) << 24 | UInt32(p.load(fromByteOffset: 1, as: UInt8.self)) << 16
                    | UInt32(p.load(fromByteOffset: 2, as: UInt8.self)) << 8 | UInt32(p.load(fromByteOffset: 3, as: UInt8.self))
            }
            var (a, b, c, d, e) = state
            for t in 0..<80 {
                let word: UInt32
                if t < 16 {
                    word = words[t]
                } else {
                    // W(t) kept in a 16-word ring (RFC 3174 §6.2, method 2's schedule).
                    let mixed = words[(t - 3) & 15] ^ words[(t - 8) & 15] ^ words[(t - 14) & 15] ^ words[t & 15]
                    word = mixed << 1 | mixed >> 31
                    words[t & 15] = word
                }
                let f: UInt32
                let k: UInt32
                switch t {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A82_7999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9_EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1B_BCDC
                default: f = b ^ c ^ d; k = 0xCA62_C1D6
                }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ word &+ k
                e = d
                d = c
                c = b << 30 | b >> 2
                b = a
                a = temp
            }
            state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e)
        }
    }
}
