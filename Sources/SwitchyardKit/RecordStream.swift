#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Buffered writes to a file descriptor. Writes whole records only: a failed write (closed
/// pipe, full disk) stops all further output, so no partial JSON line follows a failure.
public final class RecordStream {
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    private var buffer: [UInt8] = []
    private let flushThreshold: Int
    /// Set when a write failed; the text of the error.
    public private(set) var failure: String?
    /// Flush after every record (live output, terminals).
    public var flushEachRecord = false

    public init(descriptor: Int32, ownsDescriptor: Bool = false, flushThreshold: Int = 1 << 16) {
        self.descriptor = descriptor
        self.ownsDescriptor = ownsDescriptor
        self.flushThreshold = flushThreshold
        buffer.reserveCapacity(flushThreshold + 4096)
    }

    /// Opens (creates or truncates) a file for writing.
    public static func file(path: String) -> Result<RecordStream, OutputError> {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return .failure(OutputError(message: "\(path): \(String(cString: strerror(errno)))")) }
        return .success(RecordStream(descriptor: fd, ownsDescriptor: true))
    }


    /// A stream that keeps what is written in `memory` (tests, reports).
    public static func inMemory() -> RecordStream {
        RecordStream(descriptor: -1)
    }

    /// Everything written, for an in-memory stream.
    public private(set) var memory: [UInt8] = []

    public func write(record bytes: [UInt8]) {
        guard failure == nil else { return }
        if descriptor < 0 {
            memory.append(contentsOf: bytes)
            return
        }
        buffer.append(contentsOf: bytes)
        if flushEachRecord || buffer.count >= flushThreshold { flush() }
    }

    public func flush() {
        guard failure == nil, !buffer.isEmpty else {
            buffer.removeAll(keepingCapacity: true)
            return
        }
        var written = 0
        buffer.withUnsafeBytes { raw in
            while written < raw.count {
                let result = Glibc.write(descriptor, raw.baseAddress! + written, raw.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                written += result
            }
        }
        if failure != nil && written > 0 { removePartialRecord(written: written) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// A short write followed by a failure (disk full, file size limit) leaves part of a
    /// record in the file: cut a regular file back to its last whole record (every record
    /// ends in a newline), so that readers never see a partial JSON line.
    private func removePartialRecord(written: Int) {
        let complete = buffer[..<written].lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        let partial = written - complete
        guard partial > 0 else { return }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return }
        let end = lseek(descriptor, 0, SEEK_CUR)
        guard end >= off_t(partial) else { return }
        _ = ftruncate(descriptor, end - off_t(partial))
    }

    public func close() {
        flush()
        if ownsDescriptor { _ = Glibc.close(descriptor) }
    }
}

public struct OutputError: Error, Sendable {
    public var message: String
}
