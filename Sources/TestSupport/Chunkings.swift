/// The ways a streaming parser case is fed in the tests (the project's convention): the bytes
/// whole, one byte at a time, and split in two at every point.
public func everyChunking(of bytes: [UInt8]) -> [(label: String, chunks: [[UInt8]])] {
    var chunkings: [(label: String, chunks: [[UInt8]])] = [("whole", [bytes]), ("byte by byte", bytes.map { [$0] })]
    for split in stride(from: 1, to: bytes.count, by: 1) {
        chunkings.append(("split at \(split)", [Array(bytes[..<split]), Array(bytes[split...])]))
    }
    return chunkings
}
