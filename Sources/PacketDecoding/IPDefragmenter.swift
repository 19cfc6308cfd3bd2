import PacketCapture

/// Bounds on IP defragmentation, with Linux's defaults where Linux has one.
public struct FragmentLimits: Sendable {
    /// Datagrams being reassembled at once; the oldest is dropped to make room.
    public var maxDatagrams = 1024
    /// Fragment bytes held over all datagrams (Linux `ipfrag_high_thresh`: 4 MiB).
    public var maxHeldBytes = 4 << 20
    /// Capture-time seconds a datagram may take from its first fragment (Linux
    /// `net.ipv4.ipfrag_time`: 30 s).
    public var ipv4TimeoutSeconds: Int64 = 30
    /// The same for IPv6 (Linux `net.ipv6.ip6frag_time`: 60 s, the RFC 8200 §4.5 value).
    public var ipv6TimeoutSeconds: Int64 = 60

    public init() {}
}

/// What the decoder tells its caller besides the outcome of a packet: findings that belong
/// to no TCP connection. The caller drains them after each packet (`PacketDecoder.takeNotices`).
public struct DecodeNotice: Sendable {
    public enum Kind: Sendable {
        /// Fragments of one datagram overlapped and carried different bytes.
        case fragmentOverlapConflict(FragmentOverlap)
        /// A defragmentation limit was reached (`limit` names it); reported once per limit
        /// per decoder, further hits are counted in `DecodeCounters`.
        case limitReached(limit: String, detail: String)
    }
    public var kind: Kind
    /// The frame that caused the notice (for an overlap, the second copy).
    public var frame: UInt64
    public var timestamp: Timestamp
}

/// Two copies of the same datagram bytes that differ.
public struct FragmentOverlap: Sendable {
    public var source: IPAddress
    public var destination: IPAddress
    public var identification: UInt32
    /// Byte offset in the datagram's payload where the copies first differ.
    public var offset: Int
    /// Up to 64 bytes from `offset` as first received, and as the later fragment had them.
    public var firstBytes: [UInt8]
    public var secondBytes: [UInt8]
    public var firstFrame: UInt64
    /// True when the datagram was discarded (a partial overlap, Linux's and RFC 5722's rule);
    /// false when the later fragment lay wholly inside bytes already received and was ignored,
    /// so the first copy was kept.
    public var datagramDiscarded: Bool
}

/// One fragment as the decoder found it.
struct FragmentPiece {
    var key: FragmentKey
    /// Byte offset of `payload` in the datagram's fragmentable part.
    var offset: Int
    var moreFragments: Bool
    var payload: UnsafeRawBufferPointer
    /// The upper-layer protocol (IPv4) or the fragment header's next header (IPv6).
    var nextHeader: UInt8
    var badIPv4Header: Bool
}

/// A datagram's identity: RFC 791 §3.2 (source, destination, protocol, identification) and
/// RFC 8200 §4.5 (source, destination, identification).
struct FragmentKey: Hashable {
    var source: IPAddress
    var destination: IPAddress
    var identification: UInt32
    /// The protocol for IPv4; 0 for IPv6, whose key does not include it.
    var protocolNumber: UInt8
}

/// Reassembles IPv4 and IPv6 fragments the way Linux does (net/ipv4/inet_fragment.c,
/// `inet_frag_queue_insert`, since Linux 4.19 for IPv4 and always for IPv6 under RFC 5722):
/// a fragment that lies wholly inside bytes already received is a duplicate and ignored
/// (the first copy is kept), any other overlap discards the whole datagram. Fragments are
/// copied, so they do not need the capture's buffer after their packet; a completed datagram
/// is handed back in one buffer that stays valid until the next completion.
///
/// A class because the completed buffer is manually allocated (so that segments can point
/// into it like into a packet) and freed in `deinit`; it is owned by one `PacketDecoder`.
final class IPDefragmenter {
    /// A contiguous range of the datagram received so far, as Linux keeps "runs".
    struct Run {
        var start: Int
        var end: Int
    }

    /// A fragment's bytes and frame, to name the first copy in an overlap finding.
    struct Piece {
        var start: Int
        var end: Int
        var frame: UInt64
    }

    struct Datagram {
        var firstNanoseconds: Int64
        var data: [UInt8] = []
        /// Sorted, disjoint; the last one is Linux's tail run.
        var runs: [Run] = []
        var pieces: [Piece] = []
        /// Known once the fragment without More Fragments arrived.
        var totalLength: Int?
        /// From the fragment at offset 0.
        var nextHeader: UInt8?
        var heldBytes = 0
        var badIPv4Header = false
    }

    enum Result {
        case held
        case dropped(SkipReason)
        /// The datagram is whole in `completedBytes`; its upper layer is `nextHeader`.
        case completed(nextHeader: UInt8, badIPv4Header: Bool)
    }

    /// The largest IP datagram payload (RFC 791 total length, RFC 8200 payload length).
    static let maximumDatagramBytes = 65_535
    static let evidenceBytes = 64

    let limits: FragmentLimits
    private var datagrams: [FragmentKey: Datagram] = [:]
    private var heldBytes = 0
    private var oldestNanoseconds = Int64.max
    private var reportedLimits: Set<String> = []
    private let completed: UnsafeMutableRawBufferPointer
    private(set) var completedBytes = UnsafeRawBufferPointer(start: nil, count: 0)

    init(limits: FragmentLimits) {
        self.limits = limits
        completed = .allocate(byteCount: Self.maximumDatagramBytes, alignment: 8)
    }

    deinit { completed.deallocate() }

    /// Datagrams still waiting for fragments.
    var datagramsInProgress: Int { datagrams.count }

    /// Adds one fragment received at capture time `nanoseconds` in `frame`.
    func add(_ piece: FragmentPiece, frame: UInt64, timestamp: Timestamp,
             notices: inout NoticeQueue, counters: inout DecodeCounters) -> Result {
        let now = timestamp.totalNanoseconds
        expire(now: now, counters: &counters)
        let isIPv6 = piece.key.source.isIPv6
        let offset = piece.offset
        var end = offset + piece.payload.count
        if piece.moreFragments && end & 7 != 0 {
            // RFC 8200 §4.5: a non-final IPv6 fragment whose length is not a multiple of 8 is
            // discarded; Linux trims an IPv4 one to a multiple of 8 (ip_frag_queue).
            if isIPv6 { return .dropped(.malformed) }
            end &= ~7
        }
        guard end > offset else { return .dropped(.malformed) }
        guard end <= Self.maximumDatagramBytes else { return .dropped(.malformed) }

        if datagrams[piece.key] == nil {
            if datagrams.count >= limits.maxDatagrams {
                evictOldest(counters: &counters)
                reportLimit("ip_fragment_datagrams", "\(limits.maxDatagrams) datagrams in reassembly; the oldest was dropped",
                            frame: frame, timestamp: timestamp, notices: &notices)
            }
            datagrams[piece.key] = Datagram(firstNanoseconds: now)
            oldestNanoseconds = min(oldestNanoseconds, now)
        }
        let result = insert(piece, end: end, frame: frame, timestamp: timestamp, notices: &notices, counters: &counters)
        while heldBytes > limits.maxHeldBytes {
            reportLimit("ip_fragment_bytes", "\(limits.maxHeldBytes) fragment bytes held; the oldest datagram was dropped",
                        frame: frame, timestamp: timestamp, notices: &notices)
            let current = datagrams[piece.key] != nil
            evictOldest(counters: &counters)
            if current && datagrams[piece.key] == nil { return .dropped(.fragmentDropped) }
        }
        return result
    }

    private func insert(_ piece: FragmentPiece, end: Int, frame: UInt64, timestamp: Timestamp,
                        notices: inout NoticeQueue, counters: inout DecodeCounters) -> Result {
        let key = piece.key, offset = piece.offset
        guard var datagram = datagrams.removeValue(forKey: key) else { return .dropped(.fragmentDropped) }
        defer { if datagrams[key] == nil && datagram.heldBytes > 0 { datagrams[key] = datagram } }
        if !piece.moreFragments {
            // The last fragment: nothing may lie beyond it, and a second last must agree.
            let received = datagram.runs.last?.end ?? 0
            if end < received || (datagram.totalLength.map { $0 != end } ?? false) { return .dropped(.malformed) }
            datagram.totalLength = end
        } else if let total = datagram.totalLength, end > total {
            return .dropped(.malformed)
        }

        switch place(Run(start: offset, end: end), in: datagram.runs) {
        case .overlap:
            if let overlap = firstDifference(datagram, piece, end: end, frame: frame, discarded: true) {
                notices.append(DecodeNotice(kind: .fragmentOverlapConflict(overlap), frame: frame, timestamp: timestamp))
            }
            counters.fragmentDatagramsDiscardedForOverlap &+= 1
            heldBytes -= datagram.heldBytes
            datagram.heldBytes = 0   // not put back
            return .dropped(.fragmentDropped)
        case .duplicate:
            if let overlap = firstDifference(datagram, piece, end: end, frame: frame, discarded: false) {
                notices.append(DecodeNotice(kind: .fragmentOverlapConflict(overlap), frame: frame, timestamp: timestamp))
            }
            return .dropped(.fragmentDropped)
        case .insert(let index, let merged):
            if merged {
                datagram.runs[index].end = end
            } else {
                datagram.runs.insert(Run(start: offset, end: end), at: index)
            }
        }
        if datagram.data.count < end { datagram.data.append(contentsOf: repeatElement(0, count: end - datagram.data.count)) }
        datagram.data.withUnsafeMutableBytes { data in
            data.baseAddress!.advanced(by: offset).copyMemory(from: piece.payload.baseAddress!, byteCount: end - offset)
        }
        datagram.pieces.append(Piece(start: offset, end: end, frame: frame))
        datagram.heldBytes += end - offset
        heldBytes += end - offset
        if offset == 0 { datagram.nextHeader = piece.nextHeader }
        datagram.badIPv4Header = datagram.badIPv4Header || piece.badIPv4Header

        // Runs are disjoint and within the total, so holding `total` bytes is holding them all
        // (Linux's `meat == len`); adjacent runs are not merged, as in Linux.
        guard let total = datagram.totalLength, datagram.heldBytes == total,
              let nextHeader = datagram.nextHeader else { return .held }
        datagram.data.withUnsafeBytes { data in
            completed.baseAddress!.copyMemory(from: data.baseAddress!, byteCount: total)
        }
        completedBytes = UnsafeRawBufferPointer(start: completed.baseAddress, count: total)
        heldBytes -= datagram.heldBytes
        datagram.heldBytes = 0   // complete: not put back
        counters.fragmentDatagramsReassembled &+= 1
        return .completed(nextHeader: nextHeader, badIPv4Header: datagram.badIPv4Header)
    }

    private enum Placement {
        case overlap
        case duplicate
        /// Insert a new run at `index`, or (merged) extend the run at `index` to the new end.
        case insert(index: Int, merged: Bool)
    }

    /// Linux's `inet_frag_queue_insert`: past the tail run it appends (extending the tail when
    /// adjacent) unless it starts inside the tail; otherwise it must fit in a gap between runs,
    /// lie wholly inside one run (a duplicate), or it overlaps.
    private func place(_ new: Run, in runs: [Run]) -> Placement {
        guard let last = runs.last else { return .insert(index: 0, merged: false) }
        if last.end < new.end {
            if new.start < last.end { return .overlap }
            return new.start == last.end ? .insert(index: runs.count - 1, merged: true)
                                         : .insert(index: runs.count, merged: false)
        }
        var index = 0
        for run in runs {
            if new.end <= run.start { return .insert(index: index, merged: false) }
            if new.start >= run.end {
                index += 1
                continue
            }
            return new.start >= run.start && new.end <= run.end ? .duplicate : .overlap
        }
        return .insert(index: index, merged: false)
    }

    /// The first byte where `piece` disagrees with what the datagram already holds, if any.
    private func firstDifference(_ datagram: Datagram, _ piece: FragmentPiece, end: Int, frame: UInt64,
                                 discarded: Bool) -> FragmentOverlap? {
        for run in datagram.runs {
            let low = max(run.start, piece.offset), high = min(run.end, end)
            guard low < high else { continue }
            for position in low..<high where datagram.data[position] != piece.payload[position - piece.offset] {
                let stop = min(high, position + Self.evidenceBytes)
                let first = datagram.pieces.last { $0.start <= position && position < $0.end }?.frame ?? 0
                return FragmentOverlap(
                    source: piece.key.source, destination: piece.key.destination,
                    identification: piece.key.identification, offset: position,
                    firstBytes: Array(datagram.data[position..<stop]),
                    secondBytes: Array(piece.payload[(position - piece.offset)..<(stop - piece.offset)]),
                    firstFrame: first, datagramDiscarded: discarded)
            }
        }
        return nil
    }

    /// Drops datagrams older than their timeout (capture time from the first fragment, as
    /// Linux arms its timer once). A clock that goes back expires nothing.
    private func expire(now: Int64, counters: inout DecodeCounters) {
        let shortest = min(limits.ipv4TimeoutSeconds, limits.ipv6TimeoutSeconds) * 1_000_000_000
        guard oldestNanoseconds != Int64.max, now &- oldestNanoseconds > shortest else { return }
        var oldest = Int64.max
        for (key, datagram) in datagrams {
            let timeout = (key.source.isIPv6 ? limits.ipv6TimeoutSeconds : limits.ipv4TimeoutSeconds) * 1_000_000_000
            if now &- datagram.firstNanoseconds > timeout {
                heldBytes -= datagram.heldBytes
                datagrams[key] = nil
                counters.fragmentDatagramsTimedOut &+= 1
            } else {
                oldest = min(oldest, datagram.firstNanoseconds)
            }
        }
        oldestNanoseconds = oldest
    }

    private func evictOldest(counters: inout DecodeCounters) {
        guard let (key, datagram) = datagrams.min(by: { $0.value.firstNanoseconds < $1.value.firstNanoseconds }) else { return }
        heldBytes -= datagram.heldBytes
        datagrams[key] = nil
        counters.fragmentDatagramsEvicted &+= 1
        oldestNanoseconds = datagrams.values.map(\.firstNanoseconds).min() ?? Int64.max
    }

    private func reportLimit(_ limit: String, _ detail: String, frame: UInt64, timestamp: Timestamp,
                             notices: inout NoticeQueue) {
        guard reportedLimits.insert(limit).inserted else { return }
        notices.append(DecodeNotice(kind: .limitReached(limit: limit, detail: detail), frame: frame, timestamp: timestamp))
    }

    /// Forgets the datagrams still incomplete (end of capture), counting them.
    func finish(counters: inout DecodeCounters) {
        counters.fragmentDatagramsIncomplete &+= UInt64(datagrams.count)
        datagrams.removeAll()
        heldBytes = 0
        oldestNanoseconds = Int64.max
    }
}

/// The decoder's notices between two drains; bounded, with the overflow counted.
struct NoticeQueue {
    static let capacity = 64
    var notices: [DecodeNotice] = []
    var dropped: UInt64 = 0

    mutating func append(_ notice: DecodeNotice) {
        if notices.count < Self.capacity { notices.append(notice) } else { dropped &+= 1 }
    }
}
