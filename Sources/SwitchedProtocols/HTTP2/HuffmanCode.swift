/// Why a Huffman-coded HPACK string was rejected (RFC 7541 §5.2).
public enum HuffmanError: Error, Sendable, Equatable {
    /// The EOS symbol appeared in the data, which a decoder must treat as an error.
    case endOfStringSymbol(byteOffset: Int)
    /// The final padding is longer than 7 bits or not the most significant bits of EOS (all ones).
    case invalidPadding
    /// The decoded string would exceed the caller's limit.
    case outputTooLong(limit: Int)
}

/// The static Huffman code of HPACK (RFC 7541 Appendix B).
///
/// The code is canonical: within each length, codes are consecutive in symbol order, and
/// each length starts where the previous one ended, shifted left. So the 257 code lengths
/// below determine every code, and the table stays small enough to check by eye against
/// the RFC.
public enum Huffman {
    /// Code length in bits of symbols 0...255, then EOS (256).
    static let codeLengths: [UInt8] = [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,
    ]

    static let endOfString = 256

    /// Codes of symbols 0...256, right-aligned, assigned canonically from `codeLengths`.
    public static let codes: [UInt32] = {
        var codes = [UInt32](repeating: 0, count: 257)
        let order = (0..<257).sorted { (codeLengths[$0], $0) < (codeLengths[$1], $1) }
        var code: UInt32 = 0
        var previousLength = codeLengths[order[0]]
        for (position, symbol) in order.enumerated() {
            let length = codeLengths[symbol]
            if position > 0 { code = (code &+ 1) << UInt32(length - previousLength) }
            codes[symbol] = code
            previousLength = length
        }
        return codes
    }()

    /// Decoding tree: node n's children are `tree[2n]` (bit 0) and `tree[2n+1]` (bit 1).
    /// A child > 0 is an internal node; a child < 0 is the leaf for symbol `-child - 1`.
    /// The root is node 0, which is never a child, so 0 marks a missing child (there is none
    /// in a complete code: 257 leaves, 256 internal nodes).
    static let tree: [Int16] = {
        var tree = [Int16](repeating: 0, count: 2 * 256)
        var nodeCount = 1
        for symbol in 0..<257 {
            let length = Int(codeLengths[symbol])
            let code = codes[symbol]
            var node = 0
            for bitIndex in stride(from: length - 1, through: 0, by: -1) {
                let slot = 2 * node + Int((code >> UInt32(bitIndex)) & 1)
                if bitIndex == 0 {
                    tree[slot] = Int16(-symbol - 1)
                } else {
                    if tree[slot] == 0 {
                        tree[slot] = Int16(nodeCount)
                        nodeCount += 1
                    }
                    node = Int(tree[slot])
                }
            }
        }
        return tree
    }()

    /// Decodes a Huffman-coded string literal, appending to `output`, walking the tree bit
    /// by bit. Rejects EOS and padding that is over 7 bits or not all ones (RFC 7541 §5.2).
    public static func decode(_ input: UnsafeRawBufferPointer, into output: inout [UInt8],
                              limit: Int = Int.max) throws(HuffmanError) {
        let tree = Self.tree
        var node = 0
        var bitsSinceSymbol = 0
        var onlyOnes = true
        var produced = 0
        for (byteOffset, byte) in input.enumerated() {
            var mask: UInt8 = 0x80
            while mask != 0 {
                let bit = byte & mask != 0 ? 1 : 0
                mask >>= 1
                let child = Int(tree[2 &* node &+ bit])
                if child < 0 {
                    let symbol = -child - 1
                    if symbol == endOfString { throw .endOfStringSymbol(byteOffset: byteOffset) }
                    if produced >= limit { throw .outputTooLong(limit: limit) }
                    output.append(UInt8(truncatingIfNeeded: symbol))
                    produced += 1
                    node = 0
                    bitsSinceSymbol = 0
                    onlyOnes = true
                } else {
                    node = child
                    bitsSinceSymbol += 1
                    if bit == 0 { onlyOnes = false }
                }
            }
        }
        if bitsSinceSymbol > 7 || !onlyOnes { throw .invalidPadding }
    }

    public static func decode(_ input: [UInt8], limit: Int = Int.max) throws(HuffmanError) -> [UInt8] {
        var output: [UInt8] = []
        var failure: HuffmanError?
        input.withUnsafeBytes { raw in
            do throws(HuffmanError) { try decode(raw, into: &output, limit: limit) } catch { failure = error }
        }
        if let failure { throw failure }
        return output
    }

    /// Huffman-encodes `input`, padding the last byte with the most significant bits of EOS
    /// (RFC 7541 §5.2). Used to build test header blocks.
    public static func encode(_ input: some Sequence<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        var accumulator: UInt64 = 0
        var bitCount = 0
        for byte in input {
            let length = Int(codeLengths[Int(byte)])
            accumulator = accumulator << UInt64(length) | UInt64(codes[Int(byte)])
            bitCount += length
            while bitCount >= 8 {
                bitCount -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt64(bitCount)))
            }
            accumulator &= (1 << UInt64(bitCount)) - 1
        }
        if bitCount > 0 {
            output.append(UInt8(truncatingIfNeeded: accumulator << UInt64(8 - bitCount) | (0xFF >> UInt64(bitCount))))
        }
        return output
    }
}
