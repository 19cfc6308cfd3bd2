import PacketCapture

/// One direction of a Capsule Protocol data stream (RFC 9297 §3.2): capsules of Capsule Type
/// and Capsule Length, both QUIC variable-length integers (RFC 9000 §16), then Length bytes of
/// value. Decoded as CONNECT-UDP uses it (RFC 9298 §5): a DATAGRAM capsule (type 0x00, RFC 9297
/// §3.5) starts with a Context ID, and Context ID 0 carries one UDP payload.
///
/// Nothing is buffered: the two integers and the Context ID are accumulated in integers, and
/// every value, of any length up to 2^62-1, is skipped as it arrives (RFC 9297 §3.2 and §3.5
/// tell receivers not to accumulate capsule values). So the memory of a direction is fixed,
/// whatever the capsules claim; only the tables of counts by type and by Context ID have a
/// limit (`Limits`), past which capsules are still counted, together.
///
/// Capsules of unknown or reserved types (0x29 * N + 0x17, RFC 9297 §5.4) are counted and
/// skipped, as RFC 9297 §3.2 requires of endpoints. What a receiver must treat as a malformed
/// message (RFC 9297 §3.3, RFC 9298 §5) is reported once per kind as an `Issue`; framing
/// survives it, so decoding goes on and every such capsule is counted in `malformedCapsules`.
public struct CapsuleDecoder: Sendable {
    public struct Limits: Sendable, Equatable {
        /// Capsule types counted one by one; capsules of further types are counted together.
        public var maxListedTypes = 16
        /// Context IDs counted one by one; datagrams with further IDs are counted together.
        public var maxListedContextIDs = 16
        public init() {}
    }

    /// Where the decoder is in the stream.
    public enum State: Sendable, Equatable {
        /// Between capsules, or inside a Capsule Type.
        case capsuleType
        /// Inside the Capsule Length of a capsule of this type.
        case capsuleLength(type: UInt64)
        /// Inside a DATAGRAM capsule's Context ID, with `remaining` value bytes left.
        case contextID(remaining: UInt64)
        /// Skipping the rest of a value; `udpPayload` when it is the payload of a Context ID 0 datagram.
        case value(type: UInt64, remaining: UInt64, udpPayload: Bool)
        /// Capsule boundaries were lost (bytes missing where a type or length was due).
        case stopped(reason: String)
    }

    /// What a receiver treats as an error, or cannot use.
    public enum Issue: Sendable, Equatable {
        /// A DATAGRAM capsule with an empty value: no Context ID (RFC 9297 §3.3, RFC 9298 §5).
        case datagramWithoutContextID
        /// A DATAGRAM capsule whose value ends inside its Context ID.
        case contextIDTruncated(length: UInt64)
        /// A Context ID 0 datagram whose UDP payload is longer than 65527 bytes (RFC 9298 §5).
        case udpPayloadTooLong(UInt64)
        /// The direction ended inside a capsule (RFC 9297 §3.3).
        case truncatedAtEnd(type: UInt64?, length: UInt64?, missing: UInt64?)
        /// A datagram with a non-zero Context ID when no capsule of another kind had been sent
        /// in either direction, so nothing could have registered it (RFC 9298 §4).
        case unregisteredContextID(UInt64)
    }

    public struct Report: Sendable, Equatable {
        public var issue: Issue
        /// Stream offset of the capsule's first byte.
        public var offset: UInt64
        public var frame: UInt64
        public var timestamp: Timestamp
    }

    /// The largest UDP payload (RFC 768: a 16-bit length including the 8-byte header).
    public static let maxUDPPayload: UInt64 = 65_527
    /// DATAGRAM (RFC 9297 §3.5).
    public static let datagramType: UInt64 = 0x00

    /// Reserved types that exercise the skipping of unknown ones (RFC 9297 §5.4).
    public static func isReserved(_ type: UInt64) -> Bool { type >= 0x17 && (type - 0x17) % 0x29 == 0 }

    public let limits: Limits
    public private(set) var state = State.capsuleType
    /// Bytes consumed, gaps included.
    public private(set) var offset: UInt64 = 0
    /// Complete capsules.
    public private(set) var capsules: UInt64 = 0
    /// Complete capsules per type, in the order first seen (at most `limits.maxListedTypes`).
    public private(set) var capsulesByType: [(value: UInt64, count: UInt64)] = []
    /// Complete capsules of types beyond the listed ones.
    public private(set) var unlistedTypeCapsules: UInt64 = 0
    /// DATAGRAM capsules with a whole Context ID.
    public private(set) var datagrams: UInt64 = 0
    /// Those per Context ID, in the order first seen (at most `limits.maxListedContextIDs`).
    public private(set) var datagramsByContextID: [(value: UInt64, count: UInt64)] = []
    public private(set) var unlistedContextDatagrams: UInt64 = 0
    /// UDP payload bytes (of Context ID 0 datagrams) seen.
    public private(set) var udpPayloadBytes: UInt64 = 0
    /// Capsules a receiver must treat as malformed.
    public private(set) var malformedCapsules: UInt64 = 0
    /// Datagrams with a Context ID that nothing could have registered.
    public private(set) var unregisteredContextDatagrams: UInt64 = 0
    /// Whether this direction sent a capsule that is neither DATAGRAM nor reserved: an
    /// extension's capsule, which may register Context IDs (RFC 9298 §4).
    public private(set) var sentExtensionCapsule = false
    /// Set by the owner when the other direction sent such a capsule.
    public var peerSentExtensionCapsule = false
    /// Issues found, each kind reported once (`takeReports`).
    public private(set) var reports: [Report] = []
    public private(set) var incompleteAtEnd = false

    var integer = VariableLengthIntegerReader()
    var capsuleStart: UInt64 = 0
    var declaredLength: UInt64 = 0
    var reportedKinds: Set<Int> = []

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    public var isStopped: Bool { if case .stopped = state { return true } else { return false } }
    /// Whether the tables of counts by type or by Context ID overflowed.
    public var listsOverflowed: Bool { unlistedTypeCapsules > 0 || unlistedContextDatagrams > 0 }

    public mutating func feed(_ bytes: [UInt8], frame: UInt64 = 0, timestamp: Timestamp = .zero) {
        bytes.withUnsafeBytes { feed($0, frame: frame, timestamp: timestamp) }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, frame: UInt64, timestamp: Timestamp) {
        var index = 0
        while index < bytes.count {
            switch state {
            case .stopped:
                return
            case .value(let type, let remaining, let udpPayload):
                let take = Int(min(remaining, UInt64(bytes.count - index)))
                index += take
                offset &+= UInt64(take)
                if udpPayload { udpPayloadBytes &+= UInt64(take) }
                if remaining == UInt64(take) {
                    complete(type)
                } else {
                    state = .value(type: type, remaining: remaining - UInt64(take), udpPayload: udpPayload)
                }
            case .capsuleType:
                if integer.isEmpty { capsuleStart = offset }
                let byte = bytes[index]
                index += 1
                offset &+= 1
                if integer.add(byte) {
                    state = .capsuleLength(type: integer.value)
                    integer.reset()
                }
            case .capsuleLength(let type):
                let byte = bytes[index]
                index += 1
                offset &+= 1
                if integer.add(byte) {
                    declaredLength = integer.value
                    integer.reset()
                    startValue(type: type, frame: frame, timestamp: timestamp)
                }
            case .contextID(let remaining):
                let byte = bytes[index]
                index += 1
                offset &+= 1
                contextIDByte(byte, remaining: remaining - 1, frame: frame, timestamp: timestamp)
            }
        }
    }

    private mutating func startValue(type: UInt64, frame: UInt64, timestamp: Timestamp) {
        if type != Self.datagramType && !Self.isReserved(type) { sentExtensionCapsule = true }
        guard type == Self.datagramType else {
            if declaredLength == 0 { complete(type) } else { state = .value(type: type, remaining: declaredLength, udpPayload: false) }
            return
        }
        if declaredLength == 0 {
            report(.datagramWithoutContextID, frame: frame, timestamp: timestamp)
            malformedCapsules &+= 1
            complete(type)
        } else {
            state = .contextID(remaining: declaredLength)
        }
    }

    private mutating func contextIDByte(_ byte: UInt8, remaining: UInt64, frame: UInt64, timestamp: Timestamp) {
        guard integer.add(byte) else {
            if remaining == 0 {
                // The value ended before the Context ID did (RFC 9297 §3.3).
                report(.contextIDTruncated(length: declaredLength), frame: frame, timestamp: timestamp)
                malformedCapsules &+= 1
                integer.reset()
                complete(Self.datagramType)
            } else {
                state = .contextID(remaining: remaining)
            }
            return
        }
        let id = integer.value
        integer.reset()
        datagrams &+= 1
        count(&datagramsByContextID, key: id, limit: limits.maxListedContextIDs, unlisted: &unlistedContextDatagrams)
        var udpPayload = false
        if id == 0 {
            if remaining > Self.maxUDPPayload {
                report(.udpPayloadTooLong(remaining), frame: frame, timestamp: timestamp)
                malformedCapsules &+= 1
            } else {
                udpPayload = true
            }
        } else if !sentExtensionCapsule && !peerSentExtensionCapsule {
            unregisteredContextDatagrams &+= 1
            report(.unregisteredContextID(id), frame: frame, timestamp: timestamp)
        }
        if remaining == 0 {
            complete(Self.datagramType)
        } else {
            state = .value(type: Self.datagramType, remaining: remaining, udpPayload: udpPayload)
        }
    }

    private mutating func complete(_ type: UInt64) {
        capsules &+= 1
        count(&capsulesByType, key: type, limit: limits.maxListedTypes, unlisted: &unlistedTypeCapsules)
        state = .capsuleType
    }

    /// Counts `key` in a table of at most `limit` entries, or in `unlisted` once it is full.
    private func count(_ table: inout [(value: UInt64, count: UInt64)], key: UInt64, limit: Int, unlisted: inout UInt64) {
        if let index = table.firstIndex(where: { $0.value == key }) {
            table[index].count &+= 1
        } else if table.count < limit {
            table.append((key, 1))
        } else {
            unlisted &+= 1
        }
    }

    private mutating func report(_ issue: Issue, frame: UInt64, timestamp: Timestamp) {
        let kind: Int
        switch issue {
        case .datagramWithoutContextID: kind = 0
        case .contextIDTruncated: kind = 1
        case .udpPayloadTooLong: kind = 2
        case .truncatedAtEnd: kind = 3
        case .unregisteredContextID: kind = 4
        }
        guard reportedKinds.insert(kind).inserted else { return }
        reports.append(Report(issue: issue, offset: capsuleStart, frame: frame, timestamp: timestamp))
    }

    /// Bytes the capture lost: harmless inside a value (skipped anyway), fatal to framing elsewhere.
    public mutating func gap(length: UInt64) {
        if case .value(let type, let remaining, let udpPayload) = state, length <= remaining {
            offset &+= length
            if length == remaining {
                complete(type)
            } else {
                state = .value(type: type, remaining: remaining - length, udpPayload: udpPayload)
            }
            return
        }
        if case .stopped = state { return }
        state = .stopped(reason: "decoding stopped after a gap of \(length) bytes at offset \(offset)")
        offset &+= length
    }

    /// The direction ended: a capsule still open is truncated (RFC 9297 §3.3).
    public mutating func finish(frame: UInt64 = 0, timestamp: Timestamp = .zero) {
        let issue: Issue
        switch state {
        case .stopped: return
        case .capsuleType:
            if integer.isEmpty { return }
            issue = .truncatedAtEnd(type: nil, length: nil, missing: nil)
        case .capsuleLength(let type):
            issue = .truncatedAtEnd(type: type, length: nil, missing: nil)
        case .contextID(let remaining):
            issue = .truncatedAtEnd(type: Self.datagramType, length: declaredLength, missing: remaining)
        case .value(let type, let remaining, _):
            issue = .truncatedAtEnd(type: type, length: declaredLength, missing: remaining)
        }
        incompleteAtEnd = true
        malformedCapsules &+= 1
        report(issue, frame: frame, timestamp: timestamp)
        state = .capsuleType
        integer.reset()
    }

    public mutating func takeReports() -> [Report] {
        var taken: [Report] = []
        swap(&taken, &reports)
        return taken
    }
}
