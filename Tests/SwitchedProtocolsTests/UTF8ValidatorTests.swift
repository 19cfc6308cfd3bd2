import SwitchedProtocols
import XCTest

final class UTF8ValidatorTests: XCTestCase {
    /// Agrees with the standard library's decoder on every 1- to 2-byte input and on a sample
    /// of 3- and 4-byte inputs, at every split point.
    func testAgreesWithStandardLibrary() {
        var inputs: [[UInt8]] = []
        for a in 0...255 { inputs.append([UInt8(a)]) }
        for a in 0xC0...0xFF { for b in stride(from: 0, through: 255, by: 1) { inputs.append([UInt8(a), UInt8(b)]) } }
        for a in [0xE0, 0xE1, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5] {
            for b in stride(from: 0x70, through: 0xC0, by: 0x08) {
                inputs.append([UInt8(a), UInt8(b), 0x80])
                inputs.append([UInt8(a), UInt8(b), 0x80, 0xBF])
            }
        }
        for input in inputs {
            let expected = String(validating: input, as: UTF8.self) != nil
            for split in 0...input.count {
                var validator = UTF8Validator()
                validator.validate(Array(input[..<split]))
                validator.validate(Array(input[split...]))
                validator.finish()
                XCTAssertEqual(validator.isValid, expected, "\(input) split \(split)")
            }
        }
    }

    func testMaskedFastPath() {
        let plain = Array("The quick brown fox jumps over the lazy dog — 🐕".utf8) + [0x80] + Array("tail tail tail".utf8)
        let key: [UInt8] = [0x12, 0x9A, 0x34, 0xBC]
        for phase in 0..<4 {
            let masked = plain.enumerated().map { $0.element ^ key[($0.offset + phase) & 3] }
            var validator = UTF8Validator()
            masked.withUnsafeBytes { _ = validator.validate($0, maskKey: 0x129A_34BC, maskPhase: phase) }
            XCTAssertEqual(validator.failureOffset, UInt64(plain.count - 15), "phase \(phase)")
        }
    }

    /// Random texts (mostly ASCII, some multi-byte characters, some invalid bytes) masked with
    /// random keys at every phase, fed in random pieces (some long enough for the 32-byte ASCII
    /// path): the verdict and the error offset must match the standard library and an unmasked,
    /// byte-at-a-time run.
    func testRandomMaskedTextsAgree() {
        var generator = SplitMix64(seed: 6455)
        let pieces: [[UInt8]] = [Array("abcdefgh".utf8), Array("é".utf8), Array("€".utf8), Array("🐕".utf8), [0x80], [0xC0, 0x80],
                                 [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], Array("0123456789".utf8), [0xE2, 0x82]]
        for _ in 0..<3000 {
            var plain: [UInt8] = []
            for _ in 0..<Int(generator.next() % 40) {
                let index = Int(generator.next() % UInt64(pieces.count))
                // Invalid pieces are rarer than valid ones.
                if index >= 4 && index != 8 && generator.next() % 4 != 0 { continue }
                plain += pieces[index]
            }
            let key = UInt32(truncatingIfNeeded: generator.next())
            let keyBytes = [UInt8(key >> 24), UInt8(truncatingIfNeeded: key >> 16), UInt8(truncatingIfNeeded: key >> 8),
                            UInt8(truncatingIfNeeded: key)]
            let phase = Int(generator.next() % 4)
            let masked = plain.enumerated().map { $0.element ^ keyBytes[($0.offset + phase) & 3] }

            var reference = UTF8Validator()
            for byte in plain { reference.validate([byte]) }
            reference.finish()
            XCTAssertEqual(reference.isValid, String(validating: plain, as: UTF8.self) != nil, "\(plain)")

            var validator = UTF8Validator()
            var start = 0
            while start < masked.count {
                let end = min(masked.count, start + 1 + Int(generator.next() % 120))
                Array(masked[start..<end]).withUnsafeBytes {
                    _ = validator.validate($0, maskKey: key, maskPhase: (phase + start) & 3)
                }
                start = end
            }
            validator.finish()
            XCTAssertEqual(validator.failureOffset, reference.failureOffset, "\(plain) key \(key) phase \(phase)")
        }
    }
}

/// Deterministic pseudo-random numbers for tests (SplitMix64).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
