/// Why a compressed stream could not be inflated, and where: `offset` counts the compressed
/// bytes of the stream (wrapper header included) up to the byte holding the bit at which
/// decoding failed, so a caller can point at it in a capture or a message.
public struct InflateError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// BTYPE 11 (RFC 1951 §3.2.3).
        case invalidBlockType = "invalid_block_type"
        /// A stored block whose NLEN is not the one's complement of LEN (RFC 1951 §3.2.4).
        case badStoredLength = "bad_stored_length"
        /// A dynamic block's code lengths do not make a usable prefix code: over-subscribed or
        /// incomplete, a repeat with nothing to repeat or past the end, more than 286 literal/length
        /// or 30 distance codes, or no end-of-block code (RFC 1951 §3.2.7).
        case badCodeLengths = "bad_code_lengths"
        /// A literal/length code 286 or 287, a distance code 30 or 31, or a bit pattern no code
        /// uses (RFC 1951 §3.2.6).
        case invalidSymbol = "invalid_symbol"
        /// A match reaching before the start of the output or beyond the window (RFC 1951 §3.2.5).
        case distanceTooFarBack = "distance_too_far_back"
        /// A zlib header (RFC 1950 §2.2: method, window, check bits) or gzip header (RFC 1952
        /// §2.3: magic, method, reserved flags, header CRC) that a decoder must refuse.
        case badHeader = "bad_header"
        /// A zlib stream with FDICT set and no dictionary given, or a dictionary whose Adler-32
        /// is not the DICTID (RFC 1950 §2.2).
        case wrongDictionary = "wrong_dictionary"
        /// Adler-32 (zlib) or CRC-32 (gzip) of the output differs from the trailer's.
        case checksumMismatch = "checksum_mismatch"
        /// gzip's ISIZE is not the member's length modulo 2^32 (RFC 1952 §2.3.1).
        case lengthMismatch = "length_mismatch"
        /// Bytes after the last gzip member that do not start another member.
        case trailingData = "trailing_data"
        /// `finish()` before the end of the stream.
        case truncated
    }

    public var kind: Kind
    public var offset: UInt64
    /// One phrase for a person ("distance 40000 exceeds the 32768-byte window").
    public var detail: String

    public init(_ kind: Kind, offset: UInt64, _ detail: String) {
        self.kind = kind
        self.offset = offset
        self.detail = detail
    }

    public var description: String { "\(kind.rawValue) at byte \(offset): \(detail)" }
}

extension InflateError.Kind {
    /// What the kind means, in a few words (for findings that keep only the kind).
    public var summary: String {
        switch self {
        case .invalidBlockType: return "a block of the reserved type 3"
        case .badStoredLength: return "a stored block whose LEN and NLEN disagree"
        case .badCodeLengths: return "code lengths that make no usable prefix code"
        case .invalidSymbol: return "a code no symbol may use"
        case .distanceTooFarBack: return "a match reaching before the window"
        case .badHeader: return "a zlib or gzip header a decoder refuses"
        case .wrongDictionary: return "a missing or wrong preset dictionary"
        case .checksumMismatch: return "a checksum that does not match the data"
        case .lengthMismatch: return "a length that does not match the data"
        case .trailingData: return "bytes after the last member"
        case .truncated: return "an unfinished stream"
        }
    }
}
