import PacketCapture

/// The last bytes delivered in one direction, kept so that a retransmission can be compared
/// against what was already delivered (RFC 9293 §3.10.7.4 lets a receiver keep either copy of
/// overlapping data; a monitor that silently picks one can be evaded, so we report conflicts).
///
/// A power-of-two ring indexed by absolute stream offset; its end is always the direction's
/// next expected offset. Allocated lazily and grown by doubling up to the configured window,
/// so short connections cost little. Bytes older than the window, or before the last gap,
/// are unknown: overlaps with them are dropped without comparison.
struct DeliveredHistory {
    private(set) var storage: [UInt8] = []
    /// Offsets below this are unknown (before the stream's first byte or before the last gap).
    private(set) var validFrom: Int64 = 0
    /// Where recently delivered chunks started and which frame carried them, to name the
    /// frame of kept bytes in an `overlapConflict` finding.
    private var recordStarts: [Int64] = []
    private var recordFrames: [UInt64] = []
    private var recordNext = 0
    private var recordCount = 0
    static let recordCapacity = 32

    var capacity: Int { storage.count }

    /// First offset still known when the ring ends at `end`.
    @inline(__always)
    func availableStart(end: Int64) -> Int64 {
        max(validFrom, end - Int64(storage.count))
    }

    /// Forgets everything before `offset` (a gap was delivered).
    mutating func reset(at offset: Int64) {
        validFrom = offset
        recordCount = 0
    }

    /// Records `bytes` delivered at `offset` (the current end). Returns how many bytes of
    /// storage were allocated; growth only happens within `budgetLeft`.
    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer, at offset: Int64, frame: UInt64,
                         maxCapacity: Int, budgetLeft: Int) -> Int {
        let count = bytes.count
        guard count > 0, maxCapacity > 0 else { return 0 }
        var grown = 0
        let wanted = min(Int64(maxCapacity), offset + Int64(count) - validFrom)
        if Int64(storage.count) < wanted {
            grown = grow(toAtLeast: Int(wanted), end: offset, maxCapacity: maxCapacity, budgetLeft: budgetLeft)
        }
        guard !storage.isEmpty, let source = bytes.baseAddress else {
            validFrom = offset + Int64(count)
            return grown
        }
        recordStarts[recordNext] = offset
        recordFrames[recordNext] = frame
        recordNext = recordNext == Self.recordCapacity - 1 ? 0 : recordNext + 1
        recordCount = min(recordCount + 1, Self.recordCapacity)
        let ringSize = storage.count
        let mask = Int64(ringSize - 1)
        storage.withUnsafeMutableBytes { ring in
            guard let destination = ring.baseAddress else { return }
            var index = max(0, count - ringSize)
            var position = Int((offset + Int64(index)) & mask)
            while index < count {
                let length = min(count - index, ringSize - position)
                (destination + position).copyMemory(from: source + index, byteCount: length)
                index += length
                position = 0
            }
        }
        return grown
    }

    private mutating func grow(toAtLeast wanted: Int, end: Int64, maxCapacity: Int, budgetLeft: Int) -> Int {
        let old = storage.count
        // Starting small matters with many short connections (a flood of one-request
        // connections: 4 KiB each was 256 MiB for 65,536 of them); doubling keeps it linear.
        var newCapacity = max(old * 2, 256)
        while newCapacity < wanted { newCapacity *= 2 }
        newCapacity = min(newCapacity, maxCapacity)
        guard newCapacity > old, newCapacity - old <= budgetLeft else { return 0 }
        // Unzeroed allocation and at most two block copies per ring: growth runs for every
        // connection (256 B doubling to the window), a byte loop here once cost 10% of a run.
        let known = old > 0 ? Int(end - availableStart(end: end)) : 0
        let newStorage = [UInt8](unsafeUninitializedCapacity: newCapacity) { target, initialized in
            if known > 0 {
                storage.withUnsafeBytes { source in
                    var offset = end - Int64(known)
                    while offset < end {
                        let from = Int(offset & Int64(old - 1))
                        let to = Int(offset & Int64(newCapacity - 1))
                        let length = Int(min(end - offset, Int64(old - from), Int64(newCapacity - to)))
                        UnsafeMutableRawPointer(target.baseAddress! + to)
                            .copyMemory(from: source.baseAddress! + from, byteCount: length)
                        offset += Int64(length)
                    }
                }
            }
            initialized = newCapacity
        }
        // Bytes that had already left the old ring stay unknown in the larger one.
        validFrom = max(validFrom, end - Int64(known))
        if old == 0 {
            recordStarts = [Int64](repeating: 0, count: Self.recordCapacity)
            recordFrames = [UInt64](repeating: 0, count: Self.recordCapacity)
        }
        storage = newStorage
        return newCapacity - old
    }

    /// Offset of the first byte in `from..<to` that differs from `other` (which holds the
    /// bytes for `from...`), or nil. The caller restricts the range to `availableStart`.
    func firstDifference(from: Int64, to: Int64, other: UnsafeRawPointer) -> Int64? {
        guard from < to, !storage.isEmpty else { return nil }
        let ringSize = storage.count
        let mask = Int64(ringSize - 1)
        return storage.withUnsafeBytes { ring -> Int64? in
            guard let base = ring.baseAddress else { return nil }
            var offset = from
            while offset < to {
                let position = Int(offset & mask)
                let length = Int(min(to - offset, Int64(ringSize - position)))
                if let index = StreamBytes.firstDifference(base + position, other + Int(offset - from), count: length) {
                    return offset + Int64(index)
                }
                offset += Int64(length)
            }
            return nil
        }
    }

    /// Up to `count` known bytes starting at `from`.
    func bytes(from: Int64, count: Int) -> [UInt8] {
        guard !storage.isEmpty else { return [] }
        let mask = Int64(storage.count - 1)
        return (0..<count).map { storage[Int((from + Int64($0)) & mask)] }
    }

    /// The frame that delivered the byte at `offset`, or 0 when no longer recorded.
    func frame(at offset: Int64) -> UInt64 {
        var i = 0
        while i < recordCount {
            let slot = (recordNext - 1 - i + 2 * Self.recordCapacity) % Self.recordCapacity
            if recordStarts[slot] <= offset { return recordFrames[slot] }
            i += 1
        }
        return 0
    }
}

enum StreamBytes {
    /// Index of the first differing byte, comparing eight bytes at a time.
    @inline(__always)
    static func firstDifference(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count: Int) -> Int? {
        var i = 0
        while i + 8 <= count {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                break
            }
            i += 8
        }
        while i < count {
            if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return i }
            i += 1
        }
        return nil
    }
}
