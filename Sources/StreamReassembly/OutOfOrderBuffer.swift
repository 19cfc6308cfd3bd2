import PacketCapture

/// Out-of-order data copied out of its packet, waiting for the bytes before it.
struct BufferedChunk {
    /// Absolute stream offset of the first byte.
    var start: Int64
    var length: Int64
    /// The bytes; empty for a placeholder of bytes the capture did not keep (snaplen cut),
    /// which is delivered as a gap when reached.
    var bytes: [UInt8]
    var frame: UInt64
    var timestamp: Timestamp

    /// Charged per chunk on top of its bytes against the buffer limits (array header,
    /// allocator rounding, this struct), so tiny segments cannot exhaust memory unbudgeted.
    static let overheadBytes = 64

    var end: Int64 { start + length }
    var isGap: Bool { bytes.isEmpty }
    var cost: Int { bytes.count + Self.overheadBytes }
}

/// One direction's out-of-order data: copies of segments that arrived before the bytes in
/// front of them, sorted by stream offset and disjoint, each after the direction's `next`.
///
/// Overlaps with what is already buffered keep the first version (as most stacks do, RFC 9293
/// §3.10.7.4 leaves it open) and are compared, so a second version that differs is reported.
/// The reassembler decides what to deliver and charges the limits; this type only keeps the
/// chunks in order and answers where the holes are.
struct OutOfOrderBuffer {
    private(set) var chunks: [BufferedChunk] = []

    /// Where buffered bytes and a new segment's bytes first differ.
    struct Conflict {
        var offset: Int64
        var kept: [UInt8]
        var discarded: [UInt8]
        var keptFrame: UInt64
    }

    var isEmpty: Bool { chunks.isEmpty }
    var count: Int { chunks.count }
    var first: BufferedChunk? { chunks.first }
    subscript(index: Int) -> BufferedChunk { chunks[index] }

    /// Index of the first chunk ending after `offset` (binary search).
    func firstChunk(endingAfter offset: Int64) -> Int {
        var low = 0, high = chunks.count
        while low < high {
            let middle = (low + high) / 2
            if chunks[middle].end <= offset { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Compares the part of a segment at `from..<end` that is already buffered (the segment's
    /// captured bytes start at stream offset `start` and end at `capturedEnd`): returns how
    /// many of its bytes were buffered already and, when asked, the first difference.
    func overlap(from: Int64, to end: Int64, segmentStart start: Int64, capturedEnd: Int64,
                 payload: UnsafeRawBufferPointer, compare: Bool) -> (bytes: Int64, conflict: Conflict?) {
        var overlapping: Int64 = 0
        var conflict: Conflict?
        var index = firstChunk(endingAfter: from)
        while index < chunks.count && chunks[index].start < end {
            let chunk = chunks[index]
            let lower = max(from, chunk.start), upper = min(end, chunk.end)
            overlapping += upper - lower
            let compareTo = min(upper, capturedEnd)
            if compare && conflict == nil && !chunk.isGap && lower < compareTo, let base = payload.baseAddress {
                let difference: Int64? = chunk.bytes.withUnsafeBytes { kept in
                    guard let keptBase = kept.baseAddress else { return nil }
                    return StreamBytes.firstDifference(keptBase + Int(lower - chunk.start), base + Int(lower - start),
                                                       count: Int(compareTo - lower)).map { lower + Int64($0) }
                }
                if let difference {
                    let count = Int(min(16, compareTo - difference))
                    let keptStart = Int(difference - chunk.start), discardedStart = Int(difference - start)
                    conflict = Conflict(offset: difference, kept: Array(chunk.bytes[keptStart..<keptStart + count]),
                                        discarded: Array(payload[discardedStart..<discardedStart + count]),
                                        keptFrame: chunk.frame)
                }
            }
            index += 1
        }
        return (overlapping, conflict)
    }

    /// The first hole at or after `cursor` and before `end`, skipping buffered chunks:
    /// nil when `cursor..<end` is all buffered.
    func hole(from cursor: Int64, before end: Int64) -> Range<Int64>? {
        var cursor = cursor
        while cursor < end {
            let index = firstChunk(endingAfter: cursor)
            guard index < chunks.count else { return cursor..<end }
            let chunk = chunks[index]
            if chunk.start <= cursor {
                cursor = chunk.end
                continue
            }
            return cursor..<min(end, chunk.start)
        }
        return nil
    }

    /// Buffers a hole's captured bytes and, after them, a placeholder for the bytes the
    /// capture cut (delivered as a gap when reached). The hole must not overlap a chunk.
    mutating func fill(_ hole: Range<Int64>, bytes: UnsafeRawBufferPointer, cutStart: Int64, frame: UInt64,
                       timestamp: Timestamp) {
        var insertAt = firstChunk(endingAfter: hole.lowerBound)
        if !bytes.isEmpty {
            chunks.insert(BufferedChunk(start: hole.lowerBound, length: Int64(bytes.count), bytes: Array(bytes),
                                        frame: frame, timestamp: timestamp), at: insertAt)
            insertAt += 1
        }
        if hole.upperBound > cutStart {
            chunks.insert(BufferedChunk(start: cutStart, length: hole.upperBound - cutStart, bytes: [],
                                        frame: frame, timestamp: timestamp), at: insertAt)
        }
    }

    /// Drops the first `count` chunks (delivered).
    mutating func removeFirst(_ count: Int) { chunks.removeFirst(count) }

    /// Drops everything; returns the cost released and the number of chunks.
    mutating func removeAll() -> (cost: Int, chunks: Int) {
        var cost = 0
        for chunk in chunks { cost += chunk.cost }
        let count = chunks.count
        chunks = []
        return (cost, count)
    }
}
