import Findings
import XCTest

/// RFC 3174 §7.3 test vectors, plus the empty message (FIPS 180-2 examples).
final class SHA1Tests: XCTestCase {
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    func testVectors() {
        let cases: [(String, String)] = [
            ("abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            ("", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"),
            ("The quick brown fox jumps over the lazy dog", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(hex(SHA1.hash(input)), expected, input)
        }
    }

    func testOneMillionAs() {
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        XCTAssertEqual(hex(SHA1.hash(million)), "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    /// RFC 3174's fourth vector: "0123456701234567012345670123456701234567012345670123456701234567" × 10.
    func testRepeatedBlocksFedInOddPieces() {
        let block = Array("0123456701234567012345670123456701234567012345670123456701234567".utf8)
        let message = Array([[UInt8]](repeating: block, count: 10).joined())
        for piece in [1, 3, 63, 64, 65, 200] {
            var sha = SHA1()
            var index = 0
            while index < message.count {
                let end = min(index + piece, message.count)
                sha.update(Array(message[index..<end]))
                index = end
            }
            XCTAssertEqual(hex(sha.finalize()), "dea356a2cddd90c7a7ecedc5ebb563934f460452", "piece \(piece)")
        }
    }

    /// Padding boundaries: 55, 56, 63, 64 bytes need one or two final blocks.
    func testPaddingBoundaries() {
        let expected: [Int: String] = [
            55: "c1c8bbdc22796e28c0e15163d20899b65621d65a",
            56: "c2db330f6083854c99d4b5bfb6e8f29f201be699",
            63: "03f09f5b158a7a8cdad920bddc29b81c18a551f5",
            64: "0098ba824b5c16427bd7a1122a5a442a25ec644d",
        ]
        for (count, digest) in expected {
            XCTAssertEqual(hex(SHA1.hash([UInt8](repeating: UInt8(ascii: "a"), count: count))), digest, "\(count)")
        }
    }
}
