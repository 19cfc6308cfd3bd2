import Inflate

/// How one direction's permessage-deflate messages are inflated (RFC 7692 §7.2.2), from what
/// the server accepted in the 101.
public struct WebSocketInflation: Sendable, Equatable {
    /// The sender's LZ77 window: `client_max_window_bits` for client messages,
    /// `server_max_window_bits` for server messages (15 when absent; RFC 7692 §7.1.2).
    public var windowBits: Int
    /// False when `client_no_context_takeover` / `server_no_context_takeover` was agreed: each
    /// message then starts with an empty window (RFC 7692 §7.1.1).
    public var contextTakeover: Bool
    /// Output budget per message: a message inflating to more is reported as a decompression
    /// bomb and the rest of it is neither inflated nor checked.
    public var maxMessageBytes: Int

    /// The default budget: 8 MiB. Real endpoints cap inflated messages too (Python websockets:
    /// 1 MiB, Node's ws: 100 MiB, both applied after inflation); inflating costs a few
    /// nanoseconds per output byte, so 8 MiB bounds one message at tens of milliseconds of CPU
    /// while leaving room for every legitimate message seen in the corpus.
    public static let defaultMaxMessageBytes = 8 << 20

    public init(windowBits: Int = 15, contextTakeover: Bool = true, maxMessageBytes: Int = defaultMaxMessageBytes) {
        self.windowBits = windowBits
        self.contextTakeover = contextTakeover
        self.maxMessageBytes = maxMessageBytes
    }

    /// For the direction `fromClient` of a negotiation, or nil when its messages cannot be
    /// inflated: permessage-deflate not accepted, or another extension accepted too (its
    /// transform would come between, and we do not know it).
    public init?(fromClient: Bool, negotiation: WebSocketNegotiation, maxMessageBytes: Int = defaultMaxMessageBytes) {
        guard let deflate = negotiation.permessageDeflate, !negotiation.hasUnknownExtension else { return nil }
        let bits = fromClient ? deflate.clientMaxWindowBits : deflate.serverMaxWindowBits
        self.init(windowBits: min(15, max(8, bits ?? 15)),
                  contextTakeover: !(fromClient ? deflate.clientNoContextTakeover : deflate.serverNoContextTakeover),
                  maxMessageBytes: maxMessageBytes)
    }
}

/// Inflater memory all WebSocket sessions of one analysis thread may hold (each inflating
/// direction holds about 72 KiB at the default window), so that many compressed connections
/// cannot add up to unbounded memory. Reaching it gives an `analyzer_limit_reached` finding and
/// that direction's messages are counted but not inflated.
public final class InflaterMemoryBudget: @unchecked Sendable {
    public let limit: Int
    public private(set) var used = 0
    /// Peak of `used`.
    public private(set) var peak = 0

    public init(limit: Int) {
        self.limit = max(0, limit)
    }

    func reserve(_ count: Int) -> Bool {
        guard used + count <= limit else { return false }
        used += count
        peak = max(peak, used)
        return true
    }

    func release(_ count: Int) {
        used = max(0, used - count)
    }
}

/// One direction's inflater and the buffer its payload is unmasked into, made at the first
/// compressed message (so uncompressed connections cost nothing) and charged to the budget.
final class MessageInflater {
    let inflater: Inflater
    let budget: InflaterMemoryBudget?
    private let charge: Int
    /// Unmasked payload, fed to the inflater in pieces of this size.
    let scratch: UnsafeMutableRawBufferPointer
    static let scratchSize = 4096

    /// Nil when the budget cannot hold it.
    init?(_ inflation: WebSocketInflation, budget: InflaterMemoryBudget?) {
        // zlib cannot compress with a 256-byte window and silently uses 512 (deflateInit2 since
        // 1.2.9), so a sender that agreed to 8 bits may reach 512 bytes back: a receiver built on
        // zlib inflates that, so the window is at least 2^9 here.
        let inflater = Inflater(format: .raw, windowBits: max(9, inflation.windowBits))
        let charge = inflater.memoryFootprint + Self.scratchSize
        if let budget, !budget.reserve(charge) { return nil }
        self.inflater = inflater
        self.budget = budget
        self.charge = charge
        scratch = .allocate(byteCount: Self.scratchSize, alignment: 8)
    }

    deinit {
        budget?.release(charge)
        scratch.deallocate()
    }
}
