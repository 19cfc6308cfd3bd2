import Foundation
import Inflate
import XCTest

/// The vectors of Fixtures/ (written by Fixtures/make_vectors.py with Python's zlib).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func data(_ name: String) -> [UInt8] {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent(name)) else {
            fatalError("missing fixture \(name)")
        }
        return [UInt8](data)
    }

    static let inputs: [String: [UInt8]] = [
        "text": data("input-text.bin"), "binary": data("input-binary.bin"), "mixed": data("input-mixed.bin"),
    ]

    struct Vector: Decodable {
        var name: String
        var format: String
        var window_bits: Int
        var dictionary: String?
        var compressed: String
        var input: String
        var start: Int
        var end: Int
        var members: [[Member]]?

        enum Member: Decodable {
            case name(String), index(Int)
            init(from decoder: Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let text = try? container.decode(String.self) { self = .name(text) } else { self = .index(try container.decode(Int.self)) }
            }
        }

        var bytes: [UInt8] { [UInt8](Data(base64Encoded: compressed)!) }

        var expected: [UInt8] {
            guard let members else { return Array(Fixtures.inputs[input]![start..<end]) }
            var output: [UInt8] = []
            for member in members {
                guard case .name(let source) = member[0], case .index(let from) = member[1], case .index(let to) = member[2] else {
                    fatalError("bad member")
                }
                output += Fixtures.inputs[source]![from..<to]
            }
            return output
        }

        var inflaterFormat: Inflater.Format {
            switch format {
            case "zlib": return .zlib
            case "gzip": return .gzip
            default: return .raw
            }
        }

        func makeInflater() -> Inflater {
            Inflater(format: inflaterFormat, windowBits: window_bits,
                     dictionary: dictionary.map { Fixtures.inputs[$0]! } ?? [])
        }
    }

    struct MessageSequence: Decodable {
        struct Message: Decodable {
            var compressed: String
            var input: String
            var start: Int
            var end: Int
            var bytes: [UInt8] { [UInt8](Data(base64Encoded: compressed)!) }
            var expected: [UInt8] { Array(Fixtures.inputs[input]![start..<end]) }
        }
        var name: String
        var window_bits: Int
        var takeover: Bool
        var messages: [Message]
    }

    static func lines<T: Decodable>(_ name: String, as type: T.Type) -> [T] {
        let text = String(decoding: data(name), as: UTF8.self)
        return text.split(separator: "\n").map { try! JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }

    static let vectors = lines("vectors.jsonl", as: Vector.self)
    static let messageSequences = lines("messages.jsonl", as: MessageSequence.self)
}

/// What feeding a stream produced.
struct InflateRun: Equatable {
    var output: [UInt8] = []
    var statuses: [Inflater.Status] = []
    var error: InflateError?
    var finished = false
}

/// Feeds `pieces` in turn (each fed again from where it stopped after `outputLimitReached`),
/// `maxOutput` bytes per call.
func feed(_ inflater: Inflater, _ pieces: [ArraySlice<UInt8>], maxOutput: Int = .max) -> InflateRun {
    var run = InflateRun()
    do {
        for piece in pieces {
            var rest = piece
            while true {
                let result = try rest.withUnsafeBytes { raw in
                    try Swift.Result { () throws(InflateError) in
                        try inflater.inflate(raw, maxOutput: maxOutput) { run.output += $0 }
                    }.get()
                }
                XCTAssertLessThanOrEqual(result.produced, maxOutput)
                run.statuses.append(result.status)
                rest = rest.dropFirst(result.consumed)
                if result.status == .outputLimitReached { continue }
                if result.status == .needsInput { XCTAssertTrue(rest.isEmpty, "needsInput must consume everything") }
                break
            }
        }
        try inflater.finish()
        run.finished = true
    } catch let error as InflateError {
        run.error = error
    } catch {
        XCTFail("untyped error \(error)")
    }
    return run
}

func pieces(_ bytes: [UInt8], size: Int) -> [ArraySlice<UInt8>] {
    guard !bytes.isEmpty else { return [bytes[...]] }
    return stride(from: 0, to: bytes.count, by: size).map { bytes[$0..<min(bytes.count, $0 + size)] }
}

/// Writes DEFLATE bits (least significant first) to craft malformed streams.
struct BitWriter {
    var bytes: [UInt8] = []
    var bitCount = 0

    /// `count` bits of `value`, least significant first (header fields, extra bits).
    mutating func write(_ value: Int, _ count: Int) {
        for bit in 0..<count {
            if bitCount % 8 == 0 { bytes.append(0) }
            if value >> bit & 1 != 0 { bytes[bytes.count - 1] |= 1 << UInt8(bitCount % 8) }
            bitCount += 1
        }
    }

    /// A Huffman code of `length` bits, most significant bit first (RFC 1951 §3.1.1).
    mutating func code(_ value: Int, _ length: Int) {
        for bit in stride(from: length - 1, through: 0, by: -1) { write(value >> bit & 1, 1) }
    }

    /// Fixed-code literal/length symbol (RFC 1951 §3.2.6).
    mutating func fixedSymbol(_ symbol: Int) {
        switch symbol {
        case 0..<144: code(0x30 + symbol, 8)
        case 144..<256: code(0x190 + symbol - 144, 9)
        case 256..<280: code(symbol - 256, 7)
        default: code(0xC0 + symbol - 280, 8)
        }
    }
}
