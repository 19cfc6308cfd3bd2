@testable import SwitchedProtocols
import XCTest

final class HPACKHuffmanTests: XCTestCase {
    /// Codes printed in RFC 7541 Appendix B, checked against the canonical derivation.
    func testCodesMatchAppendixB() {
        let expected: [(symbol: Int, code: UInt32, bits: UInt8)] = [
            (0, 0x1FF8, 13), (1, 0x7F_FFD8, 23), (9, 0xFF_FFEA, 24), (10, 0x3FFF_FFFC, 30), (13, 0x3FFF_FFFD, 30),
            (22, 0x3FFF_FFFE, 30), (32, 0x14, 6), (38, 0xF8, 8), (48, 0x0, 5), (58, 0x5C, 7), (60, 0x7FFC, 15),
            (65, 0x21, 6), (97, 0x3, 5), (122, 0x7B, 7), (127, 0xFFF_FFFC, 28), (128, 0xF_FFE6, 20),
            (200, 0x3FF_FFE2, 26), (254, 0x7FF_FFF0, 27), (255, 0x3FF_FFEE, 26), (256, 0x3FFF_FFFF, 30),
        ]
        for entry in expected {
            XCTAssertEqual(Huffman.codes[entry.symbol], entry.code, "symbol \(entry.symbol)")
            XCTAssertEqual(Huffman.codeLengths[entry.symbol], entry.bits, "symbol \(entry.symbol)")
        }
    }

    func testCodeIsCompleteAndPrefixFree() {
        XCTAssertEqual(Huffman.codeLengths.count, 257)
        // Kraft sum of a complete prefix code is exactly 1 (in units of 2^-30).
        let kraft = Huffman.codeLengths.reduce(UInt64(0)) { $0 + (UInt64(1) << UInt64(30 - Int($1))) }
        XCTAssertEqual(kraft, 1 << 30)
        // Every internal node has two children, and each symbol has exactly one leaf.
        XCTAssertFalse(Huffman.tree.contains(0))
        XCTAssertEqual(Set(Huffman.tree.filter { $0 < 0 }).count, 257)
    }

    func testAppendixCStrings() throws {
        let cases: [(String, String)] = [
            ("f1e3 c2e5 f23a 6ba0 ab90 f4ff", "www.example.com"),
            ("a8eb 1064 9cbf", "no-cache"),
            ("25a8 49e9 5ba9 7d7f", "custom-key"),
            ("25a8 49e9 5bb8 e8b4 bf", "custom-value"),
            ("6402", "302"),
            ("aec3 771a 4b", "private"),
            ("d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3", "https://www.example.com"),
            ("9bd9 ab", "gzip"),
            ("94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07",
             "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
        ]
        for (hex, text) in cases {
            XCTAssertEqual(try Huffman.decode(hexBytes(hex)), Array(text.utf8), text)
            XCTAssertEqual(Huffman.encode(Array(text.utf8)), hexBytes(hex), text)
        }
    }

    func testEveryByteRoundTrips() throws {
        let all = (0...255).map { UInt8($0) }
        XCTAssertEqual(try Huffman.decode(Huffman.encode(all)), all)
        XCTAssertEqual(try Huffman.decode(Huffman.encode(all.reversed())), all.reversed())
        XCTAssertEqual(try Huffman.decode([]), [])
    }

    func testEOSIsRejected() {
        // EOS alone (30 ones) padded with two ones: 0xFFFFFFFF.
        XCTAssertThrowsError(try Huffman.decode([0xFF, 0xFF, 0xFF, 0xFF])) { error in
            XCTAssertEqual(error as? HuffmanError, .endOfStringSymbol(byteOffset: 3))
        }
        // 'a' (00011) then EOS: 00011 111111111111111111111111111111 + padding.
        let bits = "00011" + String(repeating: "1", count: 30) + "11111"
        XCTAssertThrowsError(try Huffman.decode(bitBytes(bits))) { error in
            XCTAssertEqual(error as? HuffmanError, .endOfStringSymbol(byteOffset: 4))
        }
    }

    func testPaddingRules() throws {
        // 'a' = 00011 plus 3 one bits: valid.
        XCTAssertEqual(try Huffman.decode(bitBytes("00011111")), Array("a".utf8))
        // 'a' plus 3 bits that are not all ones.
        XCTAssertThrowsError(try Huffman.decode(bitBytes("00011101"))) { XCTAssertEqual($0 as? HuffmanError, .invalidPadding) }
        XCTAssertThrowsError(try Huffman.decode(bitBytes("00011000"))) { XCTAssertEqual($0 as? HuffmanError, .invalidPadding) }
        // "aa" (10 bits) plus 6 ones: valid; "a" plus 19 ones (over 7 bits of padding): invalid.
        XCTAssertEqual(try Huffman.decode(bitBytes("0001100011111111")), Array("aa".utf8))
        XCTAssertThrowsError(try Huffman.decode(bitBytes("000111111111111111111111"))) {
            XCTAssertEqual($0 as? HuffmanError, .invalidPadding)
        }
        // A whole byte of ones after a symbol boundary is 8 bits of padding: invalid.
        XCTAssertThrowsError(try Huffman.decode([0xFF])) { XCTAssertEqual($0 as? HuffmanError, .invalidPadding) }
        // A symbol cut short by the end of the data (first 7 bits of a 13-bit code) is not padding.
        XCTAssertThrowsError(try Huffman.decode(bitBytes("11111110"))) { XCTAssertEqual($0 as? HuffmanError, .invalidPadding) }
    }

    func testOutputLimit() {
        let encoded = Huffman.encode(Array("hello world".utf8))
        XCTAssertThrowsError(try Huffman.decode(encoded, limit: 5)) { XCTAssertEqual($0 as? HuffmanError, .outputTooLong(limit: 5)) }
        XCTAssertEqual(try Huffman.decode(encoded, limit: 11), Array("hello world".utf8))
    }

    func bitBytes(_ bits: String) -> [UInt8] {
        precondition(bits.count % 8 == 0)
        let characters = Array(bits)
        return stride(from: 0, to: characters.count, by: 8).map { start in
            characters[start..<(start + 8)].reduce(UInt8(0)) { $0 << 1 | ($1 == "1" ? 1 : 0) }
        }
    }
}
