/// Decoding tables for DEFLATE's canonical prefix codes (RFC 1951 §3.2.2), in zlib's layout:
/// a primary table indexed by the next `primaryBits` input bits (bit-reversed codes, since
/// DEFLATE packs codes most significant bit first into a least-significant-first stream), whose
/// entries either decode a symbol directly or point to a subtable for the longer codes.
///
/// One entry is a `UInt32`:
/// - bits 0–4: bits to consume (the code length; in a subtable, the length past the primary
///   bits; in an invalid entry, the bits that must be known before calling the code invalid);
/// - bits 8–11: extra bits that follow (length and distance codes), or a subtable's index bits;
/// - bits 12–15: flags (literal, end of block, subtable pointer, invalid);
/// - bits 16–31: the literal byte, base length, base distance, code-length symbol or the
///   subtable's first index.
enum DeflateHuffmanTable {
    static let literalFlag: UInt32 = 0x1000
    static let endOfBlockFlag: UInt32 = 0x2000
    static let subtableFlag: UInt32 = 0x4000
    static let invalidFlag: UInt32 = 0x8000

    /// Primary index bits: 10 for literal/length codes (most codes of real streams are shorter,
    /// so one lookup usually decodes a symbol), 8 for distances, 7 for code-length codes (their
    /// longest, so never a subtable).
    static let literalLengthBits = 10
    static let distanceBits = 8
    static let codeLengthBits = 7
    /// Largest tables the builder can make with those primary sizes, for any valid set of code
    /// lengths up to 15 bits (zlib's `enough` program: 286 symbols / 10 bits → 1334;
    /// 30 symbols / 8 bits → 402).
    static let literalLengthCapacity = 1334
    static let distanceCapacity = 402
    static let codeLengthCapacity = 128

    /// RFC 1951 §3.2.5: lengths 3–258 from codes 257–285, distances 1–32768 from codes 0–29.
    static let lengthBase: [UInt16] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                       35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                       3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [UInt16] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                         257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
                                         8193, 12289, 16385, 24577]
    static let distanceExtra: [UInt8] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                         7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    enum Kind {
        case codeLength, literalLength, distance
    }

    /// What a symbol decodes to, without the bits to consume.
    @inline(__always)
    static func symbolEntry(_ symbol: Int, _ kind: Kind) -> UInt32 {
        switch kind {
        case .codeLength:
            return UInt32(symbol) << 16
        case .literalLength:
            if symbol < 256 { return UInt32(symbol) << 16 | literalFlag }
            if symbol == 256 { return endOfBlockFlag }
            if symbol > 285 { return invalidFlag }
            return UInt32(lengthBase[symbol - 257]) << 16 | UInt32(lengthExtra[symbol - 257]) << 8
        case .distance:
            if symbol > 29 { return invalidFlag }
            return UInt32(distanceBase[symbol]) << 16 | UInt32(distanceExtra[symbol]) << 8
        }
    }

    /// Why a set of code lengths makes no usable code (zlib's `inflate_table` rules).
    enum BuildFailure: Error {
        case overSubscribed, incomplete
    }

    /// Builds the table for `count` code lengths (0 = symbol unused) into `table`.
    ///
    /// Follows zlib so that a stream zlib accepts is accepted here and one it refuses is refused:
    /// an over-subscribed set is an error; an incomplete one is an error unless it is a single
    /// code of one bit (RFC 1951 §3.2.7 allows one distance code; zlib allows it for
    /// literal/length codes too), never for code-length codes; no codes at all gives a table of
    /// invalid entries (a block that uses no distances).
    static func build(lengths: UnsafePointer<UInt8>, count: Int, kind: Kind, primaryBits: Int,
                      into table: UnsafeMutablePointer<UInt32>, capacity: Int) throws(BuildFailure) {
        var lengthCount = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var offsets = lengthCount
        try withUnsafeMutableBytes(of: &lengthCount) { (countBytes) throws(BuildFailure) in
            let counts = countBytes.bindMemory(to: Int.self)
            try withUnsafeMutableBytes(of: &offsets) { (offsetBytes) throws(BuildFailure) in
                let offsets = offsetBytes.bindMemory(to: Int.self)
                // On the stack: a table is built for every dynamic block.
                try withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 288) { (sorted) throws(BuildFailure) in
                    try build(lengths: lengths, count: count, kind: kind, primaryBits: primaryBits, into: table,
                              capacity: capacity, counts: counts, offsets: offsets, sorted: sorted.baseAddress!)
                }
            }
        }
    }

    private static func build(lengths: UnsafePointer<UInt8>, count: Int, kind: Kind, primaryBits: Int,
                              into table: UnsafeMutablePointer<UInt32>, capacity: Int,
                              counts: UnsafeMutableBufferPointer<Int>, offsets: UnsafeMutableBufferPointer<Int>,
                              sorted: UnsafeMutablePointer<UInt16>) throws(BuildFailure) {
        for symbol in 0..<count { counts[Int(lengths[symbol])] += 1 }
        counts[0] = 0
        let primarySize = 1 << primaryBits
        var longest = 15
        while longest > 0 && counts[longest] == 0 { longest -= 1 }
        let invalidPrimary = invalidFlag | UInt32(primaryBits)
        for index in 0..<primarySize { table[index] = invalidPrimary }
        if longest == 0 { return }

        var left = 1
        for length in 1...15 {
            left <<= 1
            left -= counts[length]
            if left < 0 { throw .overSubscribed }
        }
        if left > 0 && (kind == .codeLength || longest != 1) { throw .incomplete }

        // Symbols sorted by code length, then by value: the canonical order of their codes.
        offsets[1] = 0
        for length in 1..<15 { offsets[length + 1] = offsets[length] + counts[length] }
        for symbol in 0..<count where lengths[symbol] != 0 {
            let length = Int(lengths[symbol])
            sorted[offsets[length]] = UInt16(symbol)
            offsets[length] += 1
        }
        let coded = offsets[15]

        let primaryMask = primarySize - 1
        var reversedCode = 0  // the current code, bit-reversed, as it appears in the stream
        var currentPrefix = -1
        var subtableStart = 0
        var subtableBits = 0
        var next = primarySize
        for position in 0..<coded {
            let symbol = Int(sorted[position])
            let length = Int(lengths[symbol])
            if length > primaryBits && reversedCode & primaryMask != currentPrefix {
                // A new subtable for the codes sharing these first primaryBits bits: as wide as
                // the codes left need (zlib's sizing).
                var bits = length - primaryBits
                var room = 1 << bits
                while bits + primaryBits < longest {
                    room -= counts[bits + primaryBits]
                    if room <= 0 { break }
                    bits += 1
                    room <<= 1
                }
                // Cannot happen with the capacities above; refused rather than trusted.
                guard next + (1 << bits) <= capacity else { throw .overSubscribed }
                subtableStart = next
                subtableBits = bits
                let invalidSub = invalidFlag | UInt32(bits)
                for index in next..<(next + (1 << bits)) { table[index] = invalidSub }
                next += 1 << bits
                currentPrefix = reversedCode & primaryMask
                table[currentPrefix] = UInt32(subtableStart) << 16 | UInt32(bits) << 8 | subtableFlag
                    | UInt32(primaryBits)
            }
            let entry = symbolEntry(symbol, kind)
            if length <= primaryBits {
                var index = reversedCode
                while index < primarySize {
                    table[index] = entry | UInt32(length)
                    index += 1 << length
                }
            } else {
                let subLength = length - primaryBits
                var index = reversedCode >> primaryBits
                while index < 1 << subtableBits {
                    table[subtableStart + index] = entry | UInt32(subLength)
                    index += 1 << subLength
                }
            }
            counts[length] -= 1
            // Next code of this length, in bit-reversed form.
            var increment = 1 << (length - 1)
            while reversedCode & increment != 0 { increment >>= 1 }
            if increment != 0 {
                reversedCode &= increment - 1
                reversedCode += increment
            } else {
                reversedCode = 0
            }
        }
    }
}
