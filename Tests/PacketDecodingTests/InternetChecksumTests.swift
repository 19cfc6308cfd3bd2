import PacketDecoding
import TestSupport
import XCTest

/// The 64-bit checksum against the byte-at-a-time reference (RFC 1071) over random inputs.
final class InternetChecksumTests: XCTestCase {
    /// RFC 1071 §4.1 literally: 16-bit big-endian words, a last odd byte padded with zero.
    private func referenceFolded(_ bytes: [UInt8]) -> UInt16 { ~PacketBuilder.internetChecksum(bytes) }

    private func folded(_ pieces: [ArraySlice<UInt8>]) -> UInt16 {
        var checksum = InternetChecksum()
        for piece in pieces { Array(piece).withUnsafeBytes { checksum.add($0) } }
        return checksum.folded
    }

    func testRFC1071Example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        XCTAssertEqual(folded([[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]]), 0xddf2)
    }

    func testEmptyAndAllOnes() {
        XCTAssertEqual(folded([]), 0)
        // Sums that carry out of bit 63 many times.
        let ones = [UInt8](repeating: 0xff, count: 1001)
        XCTAssertEqual(folded([ones[...]]), referenceFolded(ones))
    }

    func testRandomInputsOfEveryLengthAndAlignment() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<300 {
            let bytes = (0..<length + 3).map { _ in UInt8.random(in: 0...255, using: &generator) }
            for alignment in 0..<3 {
                // A slice starting at `alignment` within its array: odd alignment in memory.
                let message = Array(bytes[alignment..<alignment + length])
                let expected = referenceFolded(message)
                bytes.withUnsafeBytes { buffer in
                    var checksum = InternetChecksum()
                    checksum.add(UnsafeRawBufferPointer(rebasing: buffer[alignment..<alignment + length]))
                    XCTAssertEqual(checksum.folded, expected, "length \(length) alignment \(alignment)")
                }
            }
        }
    }

    func testPiecesOfAnyLengthConcatenate() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let length = Int.random(in: 0..<200, using: &generator)
            let message = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var cuts = (0..<Int.random(in: 0..<5, using: &generator)).map { _ in Int.random(in: 0...length, using: &generator) }
            cuts = ([0] + cuts + [length]).sorted()
            let pieces = zip(cuts, cuts.dropFirst()).map { message[$0..<$1] }
            XCTAssertEqual(folded(pieces), referenceFolded(message), "cuts \(cuts)")
        }
    }

    func testWordsAndChecksum() {
        var checksum = InternetChecksum()
        checksum.add(word: 0x0001)
        checksum.add(word: 0xf203)
        XCTAssertEqual(checksum.folded, 0xf204)
        XCTAssertEqual(checksum.checksum, ~0xf204)
        // A header whose checksum field holds `checksum` sums to 0xffff.
        let header: [UInt8] = [0x45, 0, 0, 40, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        var sum = InternetChecksum()
        header.withUnsafeBytes { sum.add($0) }
        var withField = header
        withField[10] = UInt8(sum.checksum >> 8)
        withField[11] = UInt8(sum.checksum & 0xff)
        var verify = InternetChecksum()
        withField.withUnsafeBytes { verify.add($0) }
        XCTAssertEqual(verify.folded, 0xffff)
    }
}
