/// Connections named by key and id, in the order something happened to them, each waiting for
/// a hold (linger after close, RST hold, FIN hold) to pass in capture time. The queue keeps no
/// connection alive: an entry whose connection changed since (another id, a newer hold) is
/// skipped by the caller. Bounded: past `capacity` entries the oldest is dropped, and its
/// connection then leaves by idle timeout, eviction or the end of the input.
struct DeadlineQueue<Extra> {
    struct Entry {
        var key: FlowKey
        var id: ConnectionID
        var nanos: Int64
        var extra: Extra
    }

    private var entries: [Entry] = []
    private var head = 0

    mutating func append(_ entry: Entry, capacity: Int) {
        if entries.count - head >= max(capacity, 1) { head += 1 }
        entries.append(entry)
    }

    /// The oldest entry whose hold of `holdNanos` has passed at `now`, removed; nil when none.
    mutating func popExpired(now: Int64, holdNanos: Int64) -> Entry? {
        guard head < entries.count, now &- entries[head].nanos > holdNanos else {
            compact()
            return nil
        }
        head += 1
        return entries[head - 1]
    }

    private mutating func compact() {
        if head > 1024 && head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }
}
