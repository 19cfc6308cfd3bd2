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

/// A dictionary of at most `limit` entries. When full, a new key smaller than the largest kept
/// one evicts it; a larger one is refused. The kept keys are therefore always the smallest
/// `limit` keys seen, whatever their order, and a refused or evicted key never comes back
/// (the largest kept key only decreases once the table is full).
struct BoundedTable<Key: Hashable & Comparable & Sendable, Value: Sendable>: Sendable {
    let limit: Int
    private(set) var entries: [Key: Value] = [:]
    private var largest: Key?
    /// Whether a key was ever refused or evicted (how many distinct keys were is not known:
    /// counting them would take the memory the limit saves).
    private(set) var overflowed = false

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    var isEmpty: Bool { entries.isEmpty }

    /// Applies `body` to the key's value, created by `make` if new. Returns false, without calling
    /// `body`, when the key is beyond the limit; `evicted` receives a value pushed out to make room.
    @discardableResult
    mutating func update(_ key: Key, make: () -> Value, evicted: (Value) -> Void = { _ in },
                         _ body: (inout Value) -> Void) -> Bool {
        if let index = entries.index(forKey: key) {
            body(&entries.values[index])
            return true
        }
        if entries.count >= limit {
            overflowed = true
            guard let current = largest, key < current else { return false }
            if let value = entries.removeValue(forKey: current) { evicted(value) }
            largest = entries.keys.max()
        }
        var value = make()
        body(&value)
        entries[key] = value
        if largest.map({ key > $0 }) ?? true { largest = key }
        return true
    }
}
