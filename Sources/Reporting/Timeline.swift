import Findings

/// Event counts over capture time in at most `limit` buckets, each 2^shift microseconds wide.
/// When a new event would make one bucket too many, buckets are merged in pairs (the width
/// doubles). The final width is the smallest power of two at which the events fit the limit,
/// whatever the order they came in; an outlier years away costs one bucket, not the resolution
/// of the bulk (a capture with a 1970 clock next to 2026 traffic still gets fine bins).
struct TimeHistogram: Sendable {
    /// Lane 0 counts switches; lanes 1... count violations by `Severity.rawValue + 1`.
    static let laneCount = 1 + Severity.allCases.count
    let limit: Int
    private(set) var shift = 0
    private(set) var buckets: [Int64: [Int]] = [:]
    private(set) var total = 0

    init(limit: Int = 2048) {
        self.limit = max(2, limit)
    }

    mutating func add(_ time: CaptureTime, lane: Int) {
        let key = time.microseconds >> Int64(shift)
        if let index = buckets.index(forKey: key) {
            buckets.values[index][lane] += 1
        } else {
            var counts = [Int](repeating: 0, count: Self.laneCount)
            counts[lane] = 1
            buckets[key] = counts
            while buckets.count > limit && shift < 62 { coarsen() }
        }
        total += 1
    }

    private mutating func coarsen() {
        shift += 1
        var merged: [Int64: [Int]] = [:]
        merged.reserveCapacity(buckets.count / 2 + 1)
        for (key, counts) in buckets {
            let wider = key >> 1
            if let index = merged.index(forKey: wider) {
                for lane in 0..<counts.count { merged.values[index][lane] += counts[lane] }
            } else {
                merged[wider] = counts
            }
        }
        buckets = merged
    }

    /// The bins to draw: from the bulk of the events, with outliers counted apart.
    func binned(maximumBins: Int = 60, bulkShare: Double = 0.9) -> TimelineBins? {
        guard total > 0 else { return nil }
        let keys = buckets.keys.sorted()
        let counts = keys.map { buckets[$0]?.reduce(0, +) ?? 0 }
        let width = Int64(1) << Int64(shift)
        // The bulk: the narrowest run of buckets holding at least `bulkShare` of the events.
        let needed = max(1, Int((Double(total) * bulkShare).rounded(.up)))
        var best = (first: 0, last: keys.count - 1)
        var sum = 0, first = 0
        for last in keys.indices {
            sum += counts[last]
            while sum - counts[first] >= needed { sum -= counts[first]; first += 1 }
            if sum >= needed && keys[last] &- keys[first] < keys[best.last] &- keys[best.first] { best = (first, last) }
        }
        // Events farther from the bulk than its own width (at least a second) are outliers.
        let bulkStart = keys[best.first] &* width, bulkEnd = (keys[best.last] &+ 1) &* width
        let margin = max(bulkEnd &- bulkStart, 1_000_000)
        let fenceLow = bulkStart &- margin, fenceHigh = bulkEnd &+ margin
        var inside: [Int] = []
        var before = TimelineBins.Outliers(), after = TimelineBins.Outliers()
        for index in keys.indices {
            let start = keys[index] &* width
            if start < fenceLow { before.add(start, start &+ width, counts[index]) }
            else if start >= fenceHigh { after.add(start, start &+ width, counts[index]) }
            else { inside.append(index) }
        }
        guard let low = inside.first, let high = inside.last else { return nil }
        let rangeStart = keys[low] &* width, rangeEnd = (keys[high] &+ 1) &* width
        let binCount = Int(min(Int64(maximumBins), keys[high] &- keys[low] &+ 1))
        let binWidth = max(1, (rangeEnd &- rangeStart + Int64(binCount) - 1) / Int64(binCount))
        var bins = [[Int]](repeating: [Int](repeating: 0, count: Self.laneCount), count: binCount)
        for index in inside {
            let bin = min(binCount - 1, Int((keys[index] &* width &- rangeStart) / binWidth))
            for lane in 0..<Self.laneCount { bins[bin][lane] += buckets[keys[index]]?[lane] ?? 0 }
        }
        return TimelineBins(start: rangeStart, end: rangeEnd, binWidth: binWidth, resolution: width, bins: bins,
                            before: before, after: after)
    }
}

/// What the timeline chart draws.
struct TimelineBins: Sendable {
    /// Outliers on one side of the bulk: how many, and the span they fall in.
    struct Outliers: Sendable {
        var count = 0
        var first: Int64 = .max
        var last: Int64 = .min

        mutating func add(_ start: Int64, _ end: Int64, _ events: Int) {
            count += events
            first = min(first, start)
            last = max(last, end &- 1)
        }

        /// Whether a time range touches this side's outliers.
        func covers(_ low: Int64, _ high: Int64) -> Bool { count > 0 && high >= first && low <= last }
    }

    var start: Int64
    var end: Int64
    var binWidth: Int64
    /// The histogram's bucket width: times are known to this precision.
    var resolution: Int64
    var bins: [[Int]]
    var before: Outliers
    var after: Outliers

    /// All events fall in one bucket: one instant, as far as the chart can tell.
    var isOneInstant: Bool { bins.count == 1 }
    var outlierCount: Int { before.count + after.count }
}
