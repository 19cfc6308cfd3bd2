import Foundation
import Inflate
import XCTest

final class InflaterTests: XCTestCase {
    // MARK: Vectors from Python's zlib

    func testEveryVectorWhole() {
        XCTAssertGreaterThan(Fixtures.vectors.count, 20)
        for vector in Fixtures.vectors {
            let run = feed(vector.makeInflater(), [vector.bytes[...]])
            XCTAssertNil(run.error, vector.name)
            XCTAssertTrue(run.finished, vector.name)
            XCTAssertEqual(run.output, vector.expected, vector.name)
        }
    }

    func testEveryVectorByteByByteAndInPieces() {
        for vector in Fixtures.vectors {
            for size in [1, 7, 100, 4099] {
                let run = feed(vector.makeInflater(), pieces(vector.bytes, size: size))
                XCTAssertNil(run.error, "\(vector.name) pieces of \(size)")
                XCTAssertEqual(run.output, vector.expected, "\(vector.name) pieces of \(size)")
            }
        }
    }

    func testOutputBudgetPerCallGivesTheSameOutput() {
        for vector in Fixtures.vectors {
            for budget in vector.bytes.count < 4000 ? [1, 257, 258, 4096] : [257, 4096, 40_000] {
                let run = feed(vector.makeInflater(), pieces(vector.bytes, size: 1000), maxOutput: budget)
                XCTAssertNil(run.error, "\(vector.name) budget \(budget)")
                XCTAssertEqual(run.output, vector.expected, "\(vector.name) budget \(budget)")
            }
        }
    }

    /// Split in two at every point (small vectors: the cost is quadratic).
    func testEverySplitOfSmallVectors() {
        let small = Fixtures.vectors.filter { $0.bytes.count <= 2000 }
        XCTAssertGreaterThanOrEqual(small.count, 5)
        for vector in small {
            let bytes = vector.bytes
            for cut in 0...bytes.count {
                let run = feed(vector.makeInflater(), [bytes[..<cut], bytes[cut...]])
                XCTAssertEqual(run.output, vector.expected, "\(vector.name) cut at \(cut)")
                XCTAssertTrue(run.finished, "\(vector.name) cut at \(cut)")
            }
        }
    }

    /// A stream with stored, fixed and dynamic blocks, cut at pairs of points.
    func testTwoCutsOfAStreamWithEveryBlockType() throws {
        let vector = try XCTUnwrap(Fixtures.vectors.first { $0.name == "raw-stored-fixed-dynamic" })
        let expected = vector.expected
        let bytes = vector.bytes
        for first in stride(from: 0, through: bytes.count, by: 29) {
            for second in stride(from: first, through: bytes.count, by: 37) {
                let run = feed(vector.makeInflater(), [bytes[..<first], bytes[first..<second], bytes[second...]])
                XCTAssertEqual(run.output, expected, "cuts \(first) \(second)")
            }
        }
    }

    func testTruncationAtEveryByteNeedsInputNotAnError() {
        for name in ["zlib-text-fdict", "gzip-empty-fname", "raw-one-byte", "zlib-empty", "raw-text-dictionary"] {
            let vector = Fixtures.vectors.first { $0.name == name }!
            let bytes = vector.bytes
            for cut in 0..<bytes.count {
                let inflater = vector.makeInflater()
                var output: [UInt8] = []
                XCTAssertNoThrow(try {
                    let result = try inflater.inflate(Array(bytes[..<cut])) { output += $0 }
                    XCTAssertEqual(result.status, .needsInput, "\(name) cut at \(cut)")
                    XCTAssertEqual(result.consumed, cut)
                }(), "\(name) cut at \(cut)")
                XCTAssertEqual(output, Array(vector.expected.prefix(output.count)), "\(name) cut at \(cut)")
                XCTAssertThrowsError(try inflater.finish()) { error in
                    XCTAssertEqual((error as? InflateError)?.kind, .truncated)
                }
            }
        }
    }

    // MARK: permessage-deflate messages

    /// RFC 7692 §7.2.2: each message gets the 00 00 ff ff tail back; with context takeover one
    /// inflater serves every message, without it each message starts afresh.
    func testPerMessageDeflateSequences() {
        XCTAssertEqual(Fixtures.messageSequences.count, 5)
        for sequence in Fixtures.messageSequences {
            let inflater = Inflater(format: .raw, windowBits: sequence.window_bits)
            for (index, message) in sequence.messages.enumerated() {
                if !sequence.takeover { inflater.reset() }
                if inflater.isFinished { inflater.reset(keepingWindow: true) }
                var output: [UInt8] = []
                let payload = message.bytes + [0, 0, 0xFF, 0xFF]
                for piece in pieces(payload, size: 13) {
                    XCTAssertNoThrow(try inflater.inflate(Array(piece)) { output += $0 }, "\(sequence.name) #\(index)")
                }
                XCTAssertEqual(output, message.expected, "\(sequence.name) message \(index)")
            }
        }
    }

    func testContextTakeoverNeedsTheWindowOfEarlierMessages() throws {
        let sequence = try XCTUnwrap(Fixtures.messageSequences.first { $0.name == "wbits15-takeover" })
        // Message 5 repeats text of message 0: without the earlier window it cannot inflate.
        let inflater = Inflater(format: .raw)
        XCTAssertThrowsError(try inflater.inflate(sequence.messages[5].bytes + [0, 0, 0xFF, 0xFF]) { _ in }) { error in
            XCTAssertEqual((error as? InflateError)?.kind, .distanceTooFarBack)
        }
    }

    // MARK: Malformed streams, one per error kind

    private func expectError(_ kind: InflateError.Kind, _ bytes: [UInt8], format: Inflater.Format = .raw,
                             windowBits: Int = 15, dictionary: [UInt8] = [], offset: UInt64? = nil,
                             line: UInt = #line) {
        for size in [bytes.count, 1] {
            let run = feed(Inflater(format: format, windowBits: windowBits, dictionary: dictionary),
                           pieces(bytes, size: max(1, size)))
            XCTAssertEqual(run.error?.kind, kind, "pieces of \(size): \(String(describing: run.error))", line: line)
            if let offset { XCTAssertEqual(run.error?.offset, offset, "offset", line: line) }
        }
    }

    func testInvalidBlockType() {
        expectError(.invalidBlockType, [0x07], offset: 0)
        var writer = BitWriter()
        writer.write(0, 1); writer.write(0, 2); writer.write(0, 5)  // empty stored block, not final
        writer.write(0, 16); writer.write(0xFFFF, 16)
        writer.write(1, 1); writer.write(3, 2)
        expectError(.invalidBlockType, writer.bytes, offset: 5)
    }

    func testBadStoredLength() {
        expectError(.badStoredLength, [0x01, 0x05, 0x00, 0x00, 0x00], offset: 1)
    }

    private func dynamicHeader(literals: Int = 257, distances: Int = 1, codeLengthLengths: [Int]) -> BitWriter {
        var writer = BitWriter()
        writer.write(1, 1)
        writer.write(2, 2)
        writer.write(literals - 257, 5)
        writer.write(distances - 1, 5)
        writer.write(codeLengthLengths.count - 4, 4)
        for length in codeLengthLengths { writer.write(length, 3) }
        return writer
    }

    func testBadCodeLengths() {
        // Over-subscribed code-length code: 19 codes of one bit.
        expectError(.badCodeLengths, dynamicHeader(codeLengthLengths: Array(repeating: 1, count: 19)).bytes)
        // Incomplete code-length code: one code of two bits.
        expectError(.badCodeLengths, dynamicHeader(codeLengthLengths: [0, 0, 0, 2]).bytes)
        // 287 literal/length codes (HLIT 30).
        expectError(.badCodeLengths, dynamicHeader(literals: 287, codeLengthLengths: [1, 1]).bytes)
        // 31 distance codes.
        expectError(.badCodeLengths, dynamicHeader(distances: 31, codeLengthLengths: [1, 1]).bytes)
        // Code-length code: symbols 16 and 17 (order 16, 17, 18, 0…) with one bit each; the
        // first code length is "repeat previous" (16 = code 0) with nothing before it.
        var repeatFirst = dynamicHeader(codeLengthLengths: [1, 1, 0, 0])
        repeatFirst.code(0, 1)
        repeatFirst.write(0, 2)
        expectError(.badCodeLengths, repeatFirst.bytes)
        // Symbols 18 (zeros 11–138) and 0: 18 repeated past the 258 lengths.
        var past = dynamicHeader(codeLengthLengths: [0, 0, 1, 1])
        past.code(1, 1); past.write(127, 7)  // 138 zeros (18 has code 1, 0 has code 0)
        past.code(1, 1); past.write(127, 7)  // 276 > 258
        expectError(.badCodeLengths, past.bytes)
    }

    func testMissingEndOfBlockCode() {
        var writer = BitWriter()
        writer.write(1, 1); writer.write(2, 2); writer.write(0, 5); writer.write(0, 5); writer.write(18 - 4, 4)
        var order = [Int](repeating: 0, count: 18)
        order[2] = 1; order[17] = 1  // symbols 18 and 1
        for length in order { writer.write(length, 3) }
        writer.code(0, 1)                      // literal 0: length 1
        writer.code(1, 1); writer.write(127, 7)  // lengths 1…138 zero
        writer.code(1, 1); writer.write(107, 7)  // lengths 139…256 zero (EOB included)
        writer.code(0, 1)                      // distance 0: length 1
        let run = feed(Inflater(format: .raw), [writer.bytes[...]])
        XCTAssertEqual(run.error?.kind, .badCodeLengths)
        XCTAssertTrue(run.error?.detail.contains("end-of-block") ?? false, String(describing: run.error))
    }

    func testInvalidSymbols() {
        var literal286 = BitWriter()
        literal286.write(1, 1); literal286.write(1, 2)
        literal286.fixedSymbol(286)
        expectError(.invalidSymbol, literal286.bytes)
        var distance30 = BitWriter()
        distance30.write(1, 1); distance30.write(1, 2)
        distance30.fixedSymbol(65)
        distance30.fixedSymbol(257)  // length 3
        distance30.code(30, 5)
        distance30.fixedSymbol(256)
        expectError(.invalidSymbol, distance30.bytes + [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    /// Fuzzing found the fast path (8+ input bytes left) and the slow path reporting an
    /// invalid code at different offsets.
    func testErrorOffsetsDoNotDependOnTheCuts() {
        var writer = BitWriter()
        writer.write(1, 1); writer.write(1, 2)
        for byte in Array("abcdef".utf8) { writer.fixedSymbol(Int(byte)) }
        writer.fixedSymbol(287)
        let bytes = writer.bytes + Array(repeating: 0, count: 16)
        var offsets: Set<UInt64> = []
        for size in [bytes.count, 1, 3, 8] {
            let run = feed(Inflater(format: .raw), pieces(bytes, size: size))
            XCTAssertEqual(run.error?.kind, .invalidSymbol)
            XCTAssertEqual(run.output, Array("abcdef".utf8))
            if let offset = run.error?.offset { offsets.insert(offset) }
        }
        XCTAssertEqual(offsets, [7])
    }

    func testDistanceTooFarBack() {
        var writer = BitWriter()
        writer.write(1, 1); writer.write(1, 2)
        writer.fixedSymbol(65)
        writer.fixedSymbol(257)  // length 3
        writer.code(1, 5)        // distance 2, one byte of output so far
        writer.fixedSymbol(256)
        expectError(.distanceTooFarBack, writer.bytes)
        expectError(.distanceTooFarBack, writer.bytes + Array(repeating: 0, count: 20))  // the fast path too
        // Beyond a 512-byte window although the output is longer.
        var far = BitWriter()
        far.write(0, 1); far.write(0, 2); far.write(0, 5)
        far.write(600, 16); far.write(600 ^ 0xFFFF, 16)
        var bytes = far.bytes + Array(repeating: 0x41, count: 600)
        var tail = BitWriter()
        tail.write(1, 1); tail.write(1, 2)
        tail.fixedSymbol(257)
        tail.code(18, 5); tail.write(0, 8)  // distance 513
        tail.fixedSymbol(256)
        bytes += tail.bytes
        expectError(.distanceTooFarBack, bytes, windowBits: 9)
        XCTAssertNil(feed(Inflater(format: .raw, windowBits: 10), [bytes[...]]).error)
    }

    func testZlibHeaderErrors() {
        expectError(.badHeader, [0x78, 0x00], format: .zlib, offset: 0)  // FCHECK
        expectError(.badHeader, [0x77, 0x85], format: .zlib)             // method 7
        expectError(.badHeader, [0x78, 0x9C], format: .zlib, windowBits: 10)  // 32 KiB window > 2^10
    }

    func testZlibDictionary() throws {
        let vector = try XCTUnwrap(Fixtures.vectors.first { $0.name == "zlib-text-fdict" })
        expectError(.wrongDictionary, vector.bytes, format: .zlib, offset: 2)
        expectError(.wrongDictionary, vector.bytes, format: .zlib, dictionary: Array("not the one".utf8), offset: 2)
    }

    func testChecksumAndLengthMismatch() throws {
        let zlib = try XCTUnwrap(Fixtures.vectors.first { $0.name == "zlib-text-level6" }).bytes
        var badAdler = zlib
        badAdler[badAdler.count - 1] ^= 1
        expectError(.checksumMismatch, badAdler, format: .zlib, offset: UInt64(zlib.count - 4))
        let gzip = try XCTUnwrap(Fixtures.vectors.first { $0.name == "gzip-text-zlib" }).bytes
        var badCRC = gzip
        badCRC[badCRC.count - 8] ^= 0x80
        expectError(.checksumMismatch, badCRC, format: .gzip, offset: UInt64(gzip.count - 8))
        var badSize = gzip
        badSize[badSize.count - 2] ^= 1
        expectError(.lengthMismatch, badSize, format: .gzip, offset: UInt64(gzip.count - 4))
    }

    func testGzipHeaderErrorsAndTrailingData() throws {
        let gzip = try XCTUnwrap(Fixtures.vectors.first { $0.name == "gzip-mixed-all-flags" }).bytes
        var magic = gzip
        magic[1] = 0x8C
        expectError(.badHeader, magic, format: .gzip, offset: 1)
        var reserved = gzip
        reserved[3] |= 0x20
        expectError(.badHeader, reserved, format: .gzip, offset: 3)
        var headerCRC = gzip
        headerCRC[20] ^= 1  // inside FNAME: the header CRC no longer matches
        expectError(.badHeader, headerCRC, format: .gzip)
        expectError(.trailingData, gzip + Array("junk".utf8), format: .gzip, offset: UInt64(gzip.count))
        // A second member after the first is fine.
        let run = feed(Inflater(format: .gzip), [(gzip + gzip)[...]])
        XCTAssertNil(run.error)
        XCTAssertEqual(run.output.count, 2 * Fixtures.inputs["mixed"]!.count)
    }

    func testRawStreamEndLeavesTrailingBytesUnconsumed() throws {
        let vector = try XCTUnwrap(Fixtures.vectors.first { $0.name == "raw-text-level6" })
        let inflater = vector.makeInflater()
        var output: [UInt8] = []
        let result = try inflater.inflate(vector.bytes + [1, 2, 3]) { output += $0 }
        XCTAssertEqual(result.status, .streamEnd)
        XCTAssertEqual(result.consumed, vector.bytes.count)
        XCTAssertEqual(output, vector.expected)
    }

    func testAfterAnErrorEveryCallThrowsItUntilReset() {
        let inflater = Inflater(format: .raw)
        XCTAssertThrowsError(try inflater.inflate([0x07]) { _ in })
        XCTAssertThrowsError(try inflater.inflate([0x03, 0x00]) { _ in }) { error in
            XCTAssertEqual((error as? InflateError)?.kind, .invalidBlockType)
        }
        inflater.reset()
        XCTAssertNoThrow(try inflater.inflate([0x03, 0x00]) { _ in })
        XCTAssertTrue(inflater.isFinished)
    }

    // MARK: Decompression bomb

    /// 10 MiB of zeros in 10 KB: a 1 MiB budget stops it with `outputLimitReached`, in memory
    /// that does not grow with the output.
    func testBombStopsAtTheBudget() throws {
        let bomb = Fixtures.data("bomb-10MiB-zeros.deflate")
        XCTAssertLessThan(bomb.count, 12_000)
        let inflater = Inflater(format: .raw)
        let footprint = inflater.memoryFootprint
        XCTAssertLessThan(footprint, 80 * 1024)
        var produced = 0
        var nonZero = false
        let result = try inflater.inflate(bomb, maxOutput: 1 << 20) { chunk in
            produced += chunk.count
            XCTAssertLessThanOrEqual(chunk.count, 64 * 1024)
            if chunk.contains(where: { $0 != 0 }) { nonZero = true }
        }
        XCTAssertEqual(result.status, .outputLimitReached)
        XCTAssertEqual(result.produced, 1 << 20)
        XCTAssertEqual(produced, 1 << 20)
        XCTAssertLessThan(result.consumed, bomb.count)
        XCTAssertFalse(nonZero)
        XCTAssertEqual(inflater.memoryFootprint, footprint)
        // Continuing to the end gives all 10 MiB.
        let rest = try inflater.inflate(Array(bomb[result.consumed...])) { produced += $0.count }
        XCTAssertEqual(rest.status, .streamEnd)
        XCTAssertEqual(produced, 10 << 20)
    }

    func testBudgetExactlyTheOutputIsNotALimit() throws {
        let vector = try XCTUnwrap(Fixtures.vectors.first { $0.name == "raw-text-level6" })
        let inflater = vector.makeInflater()
        let result = try inflater.inflate(vector.bytes, maxOutput: vector.expected.count) { _ in }
        XCTAssertEqual(result.status, .streamEnd)
        let short = vector.makeInflater()
        XCTAssertEqual(try short.inflate(vector.bytes, maxOutput: vector.expected.count - 1) { _ in }.status,
                       .outputLimitReached)
    }

    // MARK: Checksums

    func testChecksumsAgainstKnownValues() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([]), 0)
        XCTAssertEqual(Adler32.checksum(Array("Wikipedia".utf8)), 0x11E6_0398)
        XCTAssertEqual(Adler32.checksum([]), 1)
        // Python: zlib.crc32 / zlib.adler32 of 100000 bytes 0xFF (past Adler's 5552-byte reduction).
        let ones = [UInt8](repeating: 0xFF, count: 100_000)
        XCTAssertEqual(CRC32.checksum(ones), 0x68C6_CEC4)
        XCTAssertEqual(Adler32.checksum(ones), 0x149A_302C)
    }
}
