#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A capture file mapped into memory once, read-only, for readers that share it.
///
/// Why: with `--jobs N` every worker walks the whole file (each needs every packet's
/// timestamp for the capture clock). Reading it with `read(2)` made the kernel copy the file
/// once per worker; mapped, the page cache's pages are shared by every thread of the process,
/// the page tables are built once (by whichever worker touches a page first), and no byte is
/// copied. `madvise(MADV_SEQUENTIAL)` lets the kernel read ahead aggressively and drop pages
/// behind; `MADV_WILLNEED` starts the read-ahead at once.
///
/// Only regular, non-empty files are mapped (`map(path:)` returns nil for anything else, and
/// the caller reads instead). A file truncated by another process while mapped would fault
/// (SIGBUS) when the missing pages are touched, so the mapping is used for offline analysis of
/// finished capture files only, never for standard input or live capture.
public final class CaptureFileMapping: @unchecked Sendable {
    public let base: UnsafeRawPointer
    public let count: Int
    public let path: String

    private init(base: UnsafeRawPointer, count: Int, path: String) {
        self.base = base
        self.count = count
        self.path = path
    }

    deinit {
        _ = munmap(UnsafeMutableRawPointer(mutating: base), count)
    }

    /// Maps the regular file at `path`, or nil when it cannot be mapped (not a regular file,
    /// empty, too large for the address space, or `mmap` refused): the caller then reads it.
    public static func map(path: String) -> CaptureFileMapping? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { _ = close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG,
              status.st_size > 0, status.st_size <= Int64(Int.max / 2) else { return nil }
        let count = Int(status.st_size)
        guard let address = mmap(nil, count, PROT_READ, MAP_SHARED, descriptor, 0),
              address != MAP_FAILED else { return nil }
        _ = madvise(address, count, MADV_SEQUENTIAL)
        _ = madvise(address, count, MADV_WILLNEED)
        return CaptureFileMapping(base: UnsafeRawPointer(address), count: count, path: path)
    }
}
