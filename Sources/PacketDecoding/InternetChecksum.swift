/// The Internet checksum's one's-complement sum (RFC 1071), computed many bytes at a time.
///
/// It runs over every byte of every TCP segment when checksums are verified, so it uses the
/// techniques of RFC 1071 §2 and §4: the sum is independent of byte order (§2 B), so native
/// (little-endian) 16-bit words are added into 32-bit lanes whose high halves keep the deferred
/// carries (§2 C), a loop LLVM vectorises; the result is folded (end-around carry)
/// and byte-swapped once at the end.
///
/// `add` may be called on consecutive pieces of one message; a piece starting at an odd
/// position is summed as if aligned and then byte-swapped (§2 B), so pieces of any length
/// concatenate correctly.
public struct InternetChecksum {
    /// The running sum in native byte order, not folded.
    private var sum: UInt64 = 0
    /// True when the bytes added so far have an odd count.
    private var odd = false

    public init() {}

    /// Adds the big-endian 16-bit word `value` (a pseudo-header field) at an even position.
    @inline(__always)
    public mutating func add(word value: UInt16) {
        precondition(!odd, "words are added at even positions")
        addWithCarry(UInt64(value.byteSwapped))
    }

    /// Adds 8 bytes given as a big-endian 64-bit value (two IPv4 or half an IPv6 address) at an even position.
    @inline(__always)
    public mutating func add(bigEndian64 value: UInt64) {
        precondition(!odd, "words are added at even positions")
        addWithCarry(value.byteSwapped)
    }

    /// Adds `bytes` as the next piece of the message.
    @inline(__always)
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        let piece = Self.nativeSum(bytes)
        // A piece at an odd position contributes its bytes in swapped lanes (RFC 1071 §2 B).
        addWithCarry(odd ? UInt64(Self.fold(piece).byteSwapped) : piece)
        if bytes.count & 1 == 1 { odd.toggle() }
    }

    /// The one's-complement sum folded to 16 bits, in host integer form (big-endian meaning):
    /// 0xffff for a message whose checksum field is right.
    public var folded: UInt16 { Self.fold(sum).byteSwapped }

    /// The checksum to put in a header: the complement of `folded`.
    public var checksum: UInt16 { ~folded }

    @inline(__always)
    private mutating func addWithCarry(_ value: UInt64) {
        let (partial, overflow) = sum.addingReportingOverflow(value)
        sum = partial &+ (overflow ? 1 : 0)
    }

    /// Folds a 64-bit one's-complement sum to 16 bits (still in native lanes).
    @inline(__always)
    static func fold(_ value: UInt64) -> UInt16 {
        var folded = (value & 0xffff_ffff) &+ (value >> 32)          // at most 33 bits
        folded = (folded & 0xffff_ffff) &+ (folded >> 32)            // at most 32 bits
        var small = UInt32(truncatingIfNeeded: folded)
        small = (small & 0xffff) &+ (small >> 16)                    // at most 17 bits
        small = (small & 0xffff) &+ (small >> 16)
        return UInt16(truncatingIfNeeded: small)
    }

    /// The one's-complement sum of `bytes` read as native 16-bit words, not folded; a final odd
    /// byte counts as the first byte of a 16-bit word (RFC 1071 §4.1 "mop up an odd byte").
    @inline(__always)
    static func nativeSum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        guard let base = bytes.baseAddress else { return 0 }
        var count = bytes.count
        var offset = 0
        // 16-bit words summed into 32-bit lanes cannot overflow within a block of 65,536 words
        // (65,536 × 65,535 < 2^32), so the inner loop needs no carry handling and LLVM turns it
        // into SSE2 unpack-and-add over 16 bytes at a time (RFC 1071 §4: "deferred carries");
        // each block's sum then joins a 64-bit total. 16-bit words in native order sum to the
        // same one's-complement value as any other word size (§2 B, C).
        var sum: UInt64 = 0
        let halfWords = count / 2
        var blockStart = 0
        while blockStart < halfWords {
            let blockEnd = min(halfWords, blockStart &+ 65_536)
            var block: UInt32 = 0
            for index in blockStart..<blockEnd {
                block &+= UInt32(base.loadUnaligned(fromByteOffset: index &* 2, as: UInt16.self))
            }
            sum &+= UInt64(block)
            blockStart = blockEnd
        }
        offset = halfWords * 2
        count -= offset
        // The last odd byte, zero-extended as a little-endian word: it lands in lane 0,
        // the lane it would have had inside a full word.
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while count > 0 {
            tail |= UInt64(base.load(fromByteOffset: offset, as: UInt8.self)) << shift
            shift += 8
            offset += 1
            count -= 1
        }
        let (total, o) = sum.addingReportingOverflow(tail)
        return total &+ (o ? 1 : 0)
    }
}
