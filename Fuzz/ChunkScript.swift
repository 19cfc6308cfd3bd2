/// Two directions of a connection as a libFuzzer input: after the target's header bytes, a
/// sequence of records, alternately for the client and the server (client first). Each record
/// starts with a control byte C:
///
/// - 0x00–0xEF, 0xFB–0xFF: C bytes of data (fewer at the end of the input)
/// - 0xF0–0xF7: a gap of C − 0xEF bytes (1–8)
/// - 0xF8: a gap of (next two bytes, big-endian) + 1 bytes
/// - 0xF9: data whose length is the next two bytes, big-endian
/// - 0xFA: the direction ends
///
/// Fuzz/seeds.py writes seeds in the same format from followed TCP streams.
enum ChunkStep {
    case data(fromClient: Bool, UnsafeRawBufferPointer)
    case gap(fromClient: Bool, length: UInt64)
    case end(fromClient: Bool)

    var fromClient: Bool {
        switch self {
        case .data(let fromClient, _), .gap(let fromClient, _), .end(let fromClient): return fromClient
        }
    }
}

/// Parses the rest of `input` into steps.
func chunkSteps(_ input: inout FuzzInput) -> [ChunkStep] {
    var steps: [ChunkStep] = []
    var fromClient = true
    while !input.isEmpty {
        let control = input.byte()
        switch control {
        case 0xF0...0xF7:
            steps.append(.gap(fromClient: fromClient, length: UInt64(control - 0xEF)))
        case 0xF8:
            steps.append(.gap(fromClient: fromClient, length: UInt64(input.uint16()) + 1))
        case 0xF9:
            steps.append(.data(fromClient: fromClient, input.take(Int(input.uint16()))))
        case 0xFA:
            steps.append(.end(fromClient: fromClient))
        default:
            steps.append(.data(fromClient: fromClient, input.take(Int(control))))
        }
        fromClient.toggle()
    }
    return steps
}

/// Cuts `count` bytes into pieces for a second, differently segmented run: a small
/// generator seeded per step, mostly tiny pieces, sometimes large ones.
func pieces(count: Int, seed: UInt64) -> [Range<Int>] {
    var ranges: [Range<Int>] = []
    var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 0xD1B5_4A32_D192_ED03
    var start = 0
    while start < count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let size = state >> 63 == 0 ? Int(state >> 60) + 1 : Int(state >> 52) + 1
        let end = min(count, start + size)
        ranges.append(start..<end)
        start = end
    }
    return ranges
}

/// A data step's bytes, whole or (with `split`) cut by `pieces`, each handed over as an exact
/// copy (so ASan sees any read past the piece).
func forEachPiece(of bytes: UnsafeRawBufferPointer, step: Int, split: Bool, _ body: (UnsafeRawBufferPointer) -> Void) {
    let ranges = split ? pieces(count: bytes.count, seed: UInt64(step)) : [0..<bytes.count]
    for range in ranges {
        withExactCopy(UnsafeRawBufferPointer(rebasing: bytes[range]), body)
    }
}
