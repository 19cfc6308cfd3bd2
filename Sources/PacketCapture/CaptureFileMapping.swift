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
/// Memory: the pages a reader has passed stay mapped (and counted in the process's resident
/// size) until they are released. Each reader reports its position every `releaseStep` bytes
/// (`advance`), and the pages below the slowest registered reader are released with
/// `MADV_DONTNEED`: they stay in the page cache, but leave the process. A reader more than
/// `maximumLead` bytes ahead of the slowest waits there (blocked, using no CPU) until it
/// catches up, so the resident size is bounded by the window, not by the file's size or by how
/// unevenly the threads happen to be scheduled.
///
/// Only regular, non-empty files are mapped (`map(path:)` returns nil for anything else, and
/// the caller reads instead). A file truncated by another process while mapped would fault
/// (SIGBUS) when the missing pages are touched, so the mapping is used for offline analysis of
/// finished capture files only, never for standard input or live capture.
public final class CaptureFileMapping: @unchecked Sendable {
    public let base: UnsafeRawPointer
    public let count: Int
    public let path: String
    /// How often (in bytes read) a reader reports its position, and the least released at once.
    public let releaseStep: Int

    /// How far a reader may run ahead of the slowest before it waits.
    public let maximumLead: Int

    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let moved = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Each registered reader's position (`Int.max` once it is done).
    private var positions: [Int]
    private var claimed = 0
    /// Offset below which the pages have been released.
    private var released = 0
    private let pageSize = max(4096, Int(sysconf(Int32(_SC_PAGESIZE))))

    private init(base: UnsafeRawPointer, count: Int, path: String, readers: Int, maximumLead: Int, releaseStep: Int) {
        self.maximumLead = maximumLead
        self.releaseStep = releaseStep
        self.base = base
        self.count = count
        self.path = path
        positions = Array(repeating: 0, count: max(readers, 1))
        pthread_mutex_init(lock, nil)
        pthread_cond_init(moved, nil)
    }

    deinit {
        _ = munmap(UnsafeMutableRawPointer(mutating: base), count)
        pthread_cond_destroy(moved)
        pthread_mutex_destroy(lock)
        lock.deallocate()
        moved.deallocate()
    }

    /// A reader's slot for `advance`: the `readers` slots given to `map` first (their position
    /// counts from the start, so no page is released before every reader has started), then new ones.
    func claimSlot() -> Int {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        claimed += 1
        if claimed > positions.count { positions.append(released) }
        return claimed - 1
    }

    /// Reader `slot` is at `offset` (`Int.max`: done, which a reader must say when it stops
    /// reading, or the others would wait for it); releases the pages every reader has passed,
    /// then waits while this reader is more than `maximumLead` ahead of the slowest.
    func advance(slot: Int, to offset: Int) {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        positions[slot] = offset
        pthread_cond_broadcast(moved)
        let slowest = min(positions.min() ?? 0, count)
        let end = slowest / pageSize * pageSize
        if end - released >= releaseStep || (slowest == count && end > released) {
            _ = madvise(UnsafeMutableRawPointer(mutating: base) + released, end - released, MADV_DONTNEED)
            released = end
        }
        while offset != Int.max, offset - (positions.min() ?? offset) > maximumLead {
            pthread_cond_wait(moved, lock)
        }
    }

    /// Maps the regular file at `path`, or nil when it cannot be mapped (not a regular file,
    /// empty, too large for the address space, or `mmap` refused): the caller then reads it.
    /// `readers` is how many readers will share it (pages are released behind the slowest); a
    /// reader runs at most `maximumLead` bytes ahead of the slowest (64 MiB) and reports its
    /// position every `releaseStep` bytes (16 MiB).
    public static func map(path: String, readers: Int = 1, maximumLead: Int = 64 << 20,
                           releaseStep: Int = 16 << 20) -> CaptureFileMapping? {
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
        return CaptureFileMapping(base: UnsafeRawPointer(address), count: count, path: path, readers: readers,
                                  maximumLead: max(maximumLead, 1), releaseStep: max(releaseStep, 1))
    }
}
