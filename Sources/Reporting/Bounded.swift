/// The bounded containers the report aggregates into, so that its memory depends on the limits
/// (`ReportLimits`), never on the number of findings. Each keeps the *smallest* keys when it is
/// full, which makes what is kept independent of the order of the input (the report's bytes must
/// not depend on it), and says when something was left out.

/// Up to `limit` distinct strings: the smallest ones, sorted; `overflow` once more were seen.
struct SmallestSet: Sendable, Equatable {
    let limit: Int
    private(set) var values: [String] = []
    private(set) var overflow = false

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    mutating func insert(_ value: String) {
        var low = 0, high = values.count
        while low < high {
            let middle = (low + high) / 2
            if values[middle] < value { low = middle + 1 } else { high = middle }
        }
        if low < values.count && values[low] == value { return }
        if values.count < limit {
            values.insert(value, at: low)
        } else {
            overflow = true
            if low < values.count {
                values.insert(value, at: low)
                values.removeLast()
            }
        }
    }

    mutating func formUnion(_ other: SmallestSet) {
        for value in other.values { insert(value) }
        if other.overflow { overflow = true }
    }

    /// `3`, or `10+` when there were more than the limit.
    var countText: String { overflow ? "\(grouped(Int64(limit)))+" : grouped(Int64(values.count)) }
}

/// Up to `limit` items ordered by `precedes`: the first ones in that order.
struct SmallestList<Item: Sendable>: Sendable {
    let limit: Int
    private(set) var items: [Item] = []

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// Whether `item` would be kept (cheap to ask before building an expensive item).
    func wouldKeep(_ precedesLast: (Item) -> Bool) -> Bool {
        items.count < limit || (items.last.map(precedesLast) ?? false)
    }

    mutating func insert(_ item: Item, by precedes: (Item, Item) -> Bool) {
        guard limit > 0 else { return }
        if items.count == limit {
            guard let last = items.last, precedes(item, last) else { return }
            items.removeLast()
        }
        var index = items.count
        while index > 0 && precedes(item, items[index - 1]) { index -= 1 }
        items.insert(item, at: index)
    }
}

/// A dictionary that ends with at most `limit` entries: those of the smallest keys seen,
/// whatever their order. It may hold up to a quarter more while filling; then the largest are
/// evicted in one go (sorting, so each insertion costs O(log n) amortised) and a key above the
/// new cutoff is refused from then on. A refused or evicted key can never be among the final
/// `limit` smallest (`limit` smaller keys were already kept), so the entries that remain were
/// never refused: their values saw every update. `finish` trims to exactly `limit`.
struct BoundedTable<Key: Hashable & Comparable & Sendable, Value: Sendable>: Sendable {
    let limit: Int
    private(set) var entries: [Key: Value] = [:]
    /// Keys above this are refused (nil until the first eviction).
    private var cutoff: Key?
    /// Whether a key was ever refused or evicted (how many distinct keys were is not known:
    /// counting them would take the memory the limit saves).
    private(set) var overflowed = false

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    var isEmpty: Bool { entries.isEmpty }

    /// Applies `body` to the key's value, created by `make` if new. Returns false, without calling
    /// `body`, when the key is beyond the limit; `evicted` receives the values pushed out.
    @discardableResult
    mutating func update(_ key: Key, make: () -> Value, evicted: (Value) -> Void = { _ in },
                         _ body: (inout Value) -> Void) -> Bool {
        if let index = entries.index(forKey: key) {
            body(&entries.values[index])
            return true
        }
        if let cutoff, key > cutoff {
            overflowed = true
            return false
        }
        var value = make()
        body(&value)
        entries[key] = value
        if entries.count > limit + max(1, limit / 4) { trim(evicted) }
        return true
    }

    /// Trims to the `limit` smallest keys, handing the others to `evicted`.
    mutating func finish(evicted: (Value) -> Void = { _ in }) {
        if entries.count > limit { trim(evicted) }
    }

    private mutating func trim(_ evicted: (Value) -> Void) {
        overflowed = true
        let keys = entries.keys.sorted()
        cutoff = keys[limit - 1]
        for key in keys[limit...] {
            if let value = entries.removeValue(forKey: key) { evicted(value) }
        }
    }
}
