import CPcap
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A bounded read buffer over a file descriptor or an in-memory byte array.
///
/// Records are parsed in place: `fill(_:)` makes the next `count` unconsumed bytes contiguous
/// at `current`, reading with large `read(2)` calls. The buffer grows only when a single record
/// is larger than it, doubling as data actually arrives (so a lying length field cannot make
/// it allocate more than twice the bytes present), never beyond `maximumCapacity`, and shrinks
/// back once such a record has been consumed. Memory therefore does not grow with input size.
final class CaptureInput {
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private let baseCapacity: Int
    let maximumCapacity: Int
    /// First unconsumed byte in `buffer`.
    private var start = 0
    /// One past the last valid byte in `buffer`.
    private var end = 0
    /// Input offset of `buffer[0]`.
    private var bufferOrigin: UInt64 = 0
    private var reachedEnd = false

    private let fileDescriptor: Int32
    private let closesDescriptor: Bool
    private let memory: [UInt8]
    private var memoryPosition = 0
    /// The whole file, mapped: `buffer` points into it, nothing is read or copied.
    private let mapping: CaptureFileMapping?
    /// This reader's slot in the mapping, and where it next reports its position.
    private var mappingSlot = 0
    private var nextReport = Int.max

    /// Input offset of the first unconsumed byte.
    var offset: UInt64 { bufferOrigin &+ UInt64(start) }
    /// Unconsumed bytes already in the buffer.
    var available: Int { end - start }
    /// The first unconsumed byte; valid until the next `fill` or `skip`.
    var current: UnsafeRawPointer { UnsafeRawPointer(buffer + start) }

    init(fileDescriptor: Int32, closesDescriptor: Bool, bufferSize: Int, maximumCapacity: Int) {
        self.fileDescriptor = fileDescriptor
        self.closesDescriptor = closesDescriptor
        self.memory = []
        self.mapping = nil
        self.baseCapacity = bufferSize
        self.maximumCapacity = max(maximumCapacity, bufferSize)
        self.capacity = bufferSize
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 16)
    }

    /// Parses a mapped file in place: the whole input is "in the buffer" from the start, so
    /// `fill` never reads, moves or grows anything. `maximumCapacity` still bounds what one
    /// record may ask for, so errors are the same as when the file is read.
    init(mapping: CaptureFileMapping, maximumCapacity: Int) {
        self.fileDescriptor = -1
        self.closesDescriptor = false
        self.memory = []
        self.mapping = mapping
        self.baseCapacity = mapping.count
        self.maximumCapacity = maximumCapacity
        self.capacity = mapping.count
        self.buffer = UnsafeMutableRawPointer(mutating: mapping.base)
        self.end = mapping.count
        self.reachedEnd = true
        self.mappingSlot = mapping.claimSlot()
        self.nextReport = mapping.releaseStep
    }

    /// Reads from a copy of `bytes` through the same buffering as a descriptor, so tests
    /// exercise the real compaction and growth paths.
    init(bytes: [UInt8], bufferSize: Int, maximumCapacity: Int) {
        self.fileDescriptor = -1
        self.closesDescriptor = false
        self.memory = bytes
        self.mapping = nil
        self.baseCapacity = bufferSize
        self.maximumCapacity = max(maximumCapacity, bufferSize)
        self.capacity = bufferSize
        self.buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 16)
    }

    deinit {
        finishReading()
        if mapping == nil { buffer.deallocate() }
        if closesDescriptor && fileDescriptor >= 0 {
            _ = close(fileDescriptor)
        }
    }

    /// Makes at least `count` unconsumed bytes available at `current`. Returns false when the
    /// input ends first (`available` then tells how many bytes were left).
    /// - Precondition: the caller has checked `count <= maximumCapacity`.
    func fill(_ count: Int) throws(CaptureError) -> Bool {
        if end - start >= count { return true }
        guard count <= maximumCapacity, mapping == nil else { return false }
        if capacity > baseCapacity && count <= baseCapacity && end - start <= baseCapacity {
            resize(to: baseCapacity)
        } else if start > 0 {
            let kept = end - start
            if kept > 0 { memmove(buffer, buffer + start, kept) }
            bufferOrigin &+= UInt64(start)
            start = 0
            end = kept
        }
        while end < count {
            if reachedEnd { return false }
            if end == capacity {
                resize(to: min(max(capacity, 1) * 2, maximumCapacity))
            }
            let got = try readSome(into: buffer + end, maximum: capacity - end)
            if got == 0 {
                reachedEnd = true
                return false
            }
            end += got
        }
        return true
    }

    /// Tells a shared mapping that this reader reads no more (so that no other reader waits
    /// for it); idempotent.
    func finishReading() {
        guard let mapping, nextReport != Int.max else { return }
        nextReport = Int.max
        mapping.advance(slot: mappingSlot, to: Int.max)
    }

    /// Marks `count` bytes (at most `available`) as consumed.
    @inline(__always)
    func consume(_ count: Int) {
        start += min(count, end - start)
        if mapping != nil { prefetchAhead() }
    }

    /// How far ahead of `start` a mapped input asks for cache lines, and how far it has asked.
    private static let prefetchDistance = 4096
    private var prefetched = 0

    /// Asks for the cache lines up to `prefetchDistance` bytes ahead. A reader that skips a
    /// packet touches only its record header, whose place is known only once the header before
    /// it is read: without this, every header is a cache miss in a dependent chain (half the
    /// time of a worker walking other workers' packets, measured in docs/BENCHMARK.md).
    @inline(__always)
    private func prefetchAhead() {
        if start >= nextReport, let mapping {
            mapping.advance(slot: mappingSlot, to: start)
            nextReport = start + mapping.releaseStep
        }
        let target = min(start + Self.prefetchDistance, end)
        if prefetched < start { prefetched = start & ~63 }
        while prefetched < target {
            switchyard_prefetch(buffer + prefetched)
            prefetched += 64
        }
    }

    /// Discards `count` bytes without keeping them all in memory (for blocks we do not parse).
    /// Returns false when the input ends first.
    func skip(_ count: UInt64) throws(CaptureError) -> Bool {
        var remaining = count
        while true {
            let here = UInt64(end - start)
            if here >= remaining {
                start += Int(remaining)
                return true
            }
            remaining -= here
            if mapping != nil {
                start = end
                return false
            }
            bufferOrigin &+= UInt64(end)
            start = 0
            end = 0
            if reachedEnd { return false }
            let got = try readSome(into: buffer, maximum: capacity)
            if got == 0 {
                reachedEnd = true
                return false
            }
            end = got
        }
    }

    /// Moves the unconsumed bytes to the start of a buffer of `newCapacity` bytes.
    private func resize(to newCapacity: Int) {
        let kept = end - start
        let newBuffer = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        if kept > 0 { newBuffer.copyMemory(from: buffer + start, byteCount: kept) }
        buffer.deallocate()
        buffer = newBuffer
        capacity = newCapacity
        bufferOrigin &+= UInt64(start)
        start = 0
        end = kept
    }

    /// One `read(2)` (retried on EINTR), or a copy from the in-memory bytes; 0 at end of input.
    private func readSome(into destination: UnsafeMutableRawPointer, maximum: Int) throws(CaptureError) -> Int {
        if fileDescriptor < 0 {
            let count = min(maximum, memory.count - memoryPosition)
            if count > 0 {
                memory.withUnsafeBytes { source in
                    if let base = source.baseAddress {
                        destination.copyMemory(from: base + memoryPosition, byteCount: count)
                    }
                }
                memoryPosition += count
            }
            return count
        }
        while true {
            let got = read(fileDescriptor, destination, maximum)
            if got >= 0 { return got }
            let code = errno
            if code == EINTR { continue }
            throw CaptureError(.io, offset: bufferOrigin &+ UInt64(end),
                               "read failed: \(systemErrorMessage(code))")
        }
    }
}

/// The C library's text for an errno value, e.g. "No such file or directory".
func systemErrorMessage(_ code: Int32) -> String {
    String(cString: strerror(code))
}
