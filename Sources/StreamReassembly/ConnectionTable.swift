/// The reassembler's connections: a slab of `ConnectionState` structs addressed by slot, and an
/// open-addressing index from 4-tuple to slot.
///
/// Shaped for the per-packet path: a lookup is one seeded multiply-mix hash and, usually, one
/// probe; the caller then works on the connection through a pointer into the slab, with no
/// reference counting and no dynamic exclusivity checks. (A `[FlowKey: ConnectionState]` of
/// classes cost SipHash plus retain/release on every packet.)
///
/// Pointers returned by `pointer(_:)` stay valid until the slot is removed or `insert` grows
/// the slab; the reassembler takes them after any insert of the same step.
///
/// The hash is seeded per table from the system generator so a hostile capture cannot aim
/// 4-tuples at one probe chain; the table is bounded by the reassembler's `maxConnections`.
struct ConnectionTable: ~Copyable {
    static let none: Int32 = -1

    private var slots: UnsafeMutablePointer<ConnectionState>
    /// Which slots hold a live connection (the others are uninitialized memory).
    private var live: UnsafeMutablePointer<Bool>
    private var slotCapacity: Int
    private var freeSlots: [Int32] = []
    /// Slots at or above this index have never been used.
    private var highWater = 0
    /// Slot per bucket, `none` when empty; linear probing, at most half full.
    private var buckets: UnsafeMutablePointer<Int32>
    private var bucketCount: Int
    private(set) var count = 0
    private let seed0: UInt64
    private let seed1: UInt64

    init(initialSlots: Int = 64) {
        slotCapacity = max(initialSlots, 1)
        bucketCount = 16
        while bucketCount < slotCapacity * 2 { bucketCount *= 2 }
        slots = .allocate(capacity: slotCapacity)
        live = .allocate(capacity: slotCapacity)
        live.initialize(repeating: false, count: slotCapacity)
        buckets = .allocate(capacity: bucketCount)
        buckets.initialize(repeating: Self.none, count: bucketCount)
        var generator = SystemRandomNumberGenerator()
        seed0 = generator.next() | 1
        seed1 = generator.next() | 1
    }

    /// The table owns its memory: being `~Copyable`, no second copy can free it twice or keep
    /// pointers into a slab the other copy grew.
    deinit {
        for slot in 0..<highWater where live[slot] {
            (slots + slot).deinitialize(count: 1)
        }
        slots.deallocate()
        live.deallocate()
        buckets.deallocate()
    }

    @inline(__always)
    func pointer(_ slot: Int32) -> ConnectionPointer { slots + Int(slot) }

    /// The slot of `key`, or `none`.
    @inline(__always)
    func find(_ key: FlowKey) -> Int32 {
        var bucket = bucketIndex(key)
        while true {
            let slot = buckets[bucket]
            if slot == Self.none || slots[Int(slot)].key == key { return slot }
            bucket = (bucket + 1) & (bucketCount - 1)
        }
    }

    /// Stores a new connection (its key must be absent) and returns its slot.
    mutating func insert(_ makeState: (Int32) -> ConnectionState) -> Int32 {
        let slot: Int32
        if let reused = freeSlots.popLast() {
            slot = reused
        } else {
            if highWater == slotCapacity { growSlots() }
            slot = Int32(highWater)
            highWater += 1
        }
        if (count + 1) * 2 > bucketCount { growBuckets() }  // before the new slot is live
        (slots + Int(slot)).initialize(to: makeState(slot))
        live[Int(slot)] = true
        count += 1
        var bucket = bucketIndex(slots[Int(slot)].key)
        while buckets[bucket] != Self.none { bucket = (bucket + 1) & (bucketCount - 1) }
        buckets[bucket] = slot
        return slot
    }

    /// Removes a live slot (backward-shift deletion: no tombstones, probe chains stay short).
    mutating func remove(_ slot: Int32) {
        let mask = bucketCount - 1
        var hole = bucketIndex(slots[Int(slot)].key)
        while buckets[hole] != slot { hole = (hole + 1) & mask }
        var probe = (hole + 1) & mask
        while buckets[probe] != Self.none {
            let home = bucketIndex(slots[Int(buckets[probe])].key)
            // Move the entry back into the hole unless its home lies cyclically in (hole, probe].
            if (hole - home) & mask < (probe - home) & mask {
                buckets[hole] = buckets[probe]
                hole = probe
            }
            probe = (probe + 1) & mask
        }
        buckets[hole] = Self.none
        (slots + Int(slot)).deinitialize(count: 1)
        live[Int(slot)] = false
        freeSlots.append(slot)
        count -= 1
    }

    /// The live slots, in slot order.
    var liveSlots: [Int32] {
        (0..<highWater).compactMap { live[$0] ? Int32($0) : nil }
    }

    /// Removes every connection.
    mutating func removeAll() {
        for slot in 0..<highWater where live[slot] {
            (slots + slot).deinitialize(count: 1)
            live[slot] = false
        }
        highWater = 0
        freeSlots.removeAll()
        count = 0
        buckets.update(repeating: Self.none, count: bucketCount)
    }

    // MARK: - Internals

    @inline(__always)
    private func bucketIndex(_ key: FlowKey) -> Int {
        Int(truncatingIfNeeded: key.mixedHash(seed0, seed1)) & (bucketCount - 1)
    }

    private mutating func growSlots() {
        let newCapacity = slotCapacity * 2
        let newSlots = UnsafeMutablePointer<ConnectionState>.allocate(capacity: newCapacity)
        let newLive = UnsafeMutablePointer<Bool>.allocate(capacity: newCapacity)
        newLive.initialize(repeating: false, count: newCapacity)
        for slot in 0..<highWater where live[slot] {
            (newSlots + slot).moveInitialize(from: slots + slot, count: 1)
            newLive[slot] = true
        }
        slots.deallocate()
        live.deallocate()
        slots = newSlots
        live = newLive
        slotCapacity = newCapacity
    }

    private mutating func growBuckets() {
        buckets.deallocate()
        bucketCount *= 2
        buckets = .allocate(capacity: bucketCount)
        buckets.initialize(repeating: Self.none, count: bucketCount)
        for slot in 0..<highWater where live[slot] {
            var bucket = bucketIndex(slots[slot].key)
            while buckets[bucket] != Self.none { bucket = (bucket + 1) & (bucketCount - 1) }
            buckets[bucket] = Int32(slot)
        }
    }
}

extension FlowKey {
    /// Folded 128-bit products of the key's words with the table's seeds (the wyhash mixing
    /// step): a few multiplies instead of SipHash, still unpredictable without the seeds.
    @inline(__always)
    func mixedHash(_ seed0: UInt64, _ seed1: UInt64) -> UInt64 {
        let ports = UInt64(a.port) << 16 | UInt64(b.port)
            | (a.address.isIPv6 ? 1 << 32 : 0) | (b.address.isIPv6 ? 1 << 33 : 0)
        var h = Self.fold(a.address.high ^ seed0, a.address.low ^ seed1)
        h = Self.fold(h ^ b.address.high ^ seed1, b.address.low ^ seed0)
        return Self.fold(h ^ ports ^ seed0, seed1 ^ 0x9E37_79B9_7F4A_7C15)
    }

    @inline(__always)
    private static func fold(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let product = x.multipliedFullWidth(by: y)
        return product.high ^ product.low
    }
}
