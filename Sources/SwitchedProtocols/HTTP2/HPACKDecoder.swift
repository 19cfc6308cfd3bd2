/// One decoded header field.
public struct HPACKHeaderField: Sendable, Equatable {
    public var name: String
    public var value: String
    /// Sent as a literal "never indexed" (RFC 7541 §6.2.3): the sender marked it sensitive.
    public var neverIndexed: Bool

    public init(name: String, value: String, neverIndexed: Bool = false) {
        self.name = name
        self.value = value
        self.neverIndexed = neverIndexed
    }
}

/// The fields of one header block.
public struct HPACKHeaderBlock: Sendable, Equatable {
    public var fields: [HPACKHeaderField]
    /// The header list outgrew `maxHeaderListSize`: later fields were decoded (to keep the
    /// dynamic table in step) but not kept.
    public var truncated: Bool
    /// The header list size as RFC 9113 §6.5.2 counts it (name + value + 32 per field), all fields.
    public var listSize: Int

    public init(fields: [HPACKHeaderField], truncated: Bool = false, listSize: Int = 0) {
        self.fields = fields
        self.truncated = truncated
        self.listSize = listSize
    }
}

/// A decoding error (RFC 7541 §3.3 calls all of them COMPRESSION_ERROR); offsets are into the block.
public enum HPACKError: Error, Sendable, Equatable, CustomStringConvertible {
    case truncated(offset: Int)
    case integerOverflow(offset: Int)
    case indexOutOfRange(index: UInt64, offset: Int)
    case tableSizeUpdateTooLarge(requested: UInt64, limit: Int, offset: Int)
    case tableSizeUpdateAfterField(offset: Int)
    case huffman(HuffmanError, offset: Int)

    public var description: String {
        switch self {
        case .truncated(let offset): return "header block truncated at offset \(offset)"
        case .integerOverflow(let offset): return "integer overflow at offset \(offset)"
        case .indexOutOfRange(let index, let offset): return "index \(index) out of range at offset \(offset)"
        case .tableSizeUpdateTooLarge(let requested, let limit, let offset):
            return "dynamic table size update to \(requested) above the allowed \(limit) at offset \(offset)"
        case .tableSizeUpdateAfterField(let offset):
            return "dynamic table size update after a field at offset \(offset)"
        case .huffman(let error, let offset):
            switch error {
            case .endOfStringSymbol: return "Huffman string with EOS at offset \(offset)"
            case .invalidPadding: return "Huffman string with invalid padding at offset \(offset)"
            case .outputTooLong: return "Huffman string too long at offset \(offset)"
            }
        }
    }
}

/// HPACK header block decoder (RFC 7541): static and dynamic tables, integer and string
/// literals, Huffman strings. One per direction of an HTTP/2 connection.
///
/// Bounded: the dynamic table never grows beyond `maxAllowedTableSize` (the receiver's
/// SETTINGS_HEADER_TABLE_SIZE), integers beyond 2^32-1 are rejected before use, and a
/// block's kept fields stop at `maxHeaderListSize`.
public struct HPACKDecoder: Sendable {
    struct Entry: Sendable {
        var name: String
        var value: String
        /// Octets of the name as sent (the text may hold U+FFFD for invalid UTF-8).
        var nameOctets: Int
        /// RFC 7541 §4.1: octets of name and value plus 32 (octets, not characters).
        var size: Int
    }

    /// The largest dynamic table size the decoding side allowed; a size update above it is an error.
    public var maxAllowedTableSize: Int
    /// Fields of a block are kept up to this header list size (name + value + 32 each).
    public var maxHeaderListSize: Int
    /// Current dynamic table maximum, set by size updates (RFC 7541 §4.2).
    public private(set) var tableCapacity: Int
    /// Octets in the dynamic table as RFC 7541 §4.1 counts them.
    public private(set) var tableSize = 0
    /// Oldest first.
    var entries: [Entry] = []
    /// Reused output of Huffman decoding.
    var scratch: [UInt8] = []

    /// Largest integer accepted anywhere in a block; larger ones are an overflow.
    static let maxInteger: UInt64 = 0xFFFF_FFFF

    public init(maxAllowedTableSize: Int = HTTP2.defaultHeaderTableSize, maxHeaderListSize: Int = 65_536) {
        self.maxAllowedTableSize = max(0, maxAllowedTableSize)
        self.maxHeaderListSize = max(0, maxHeaderListSize)
        tableCapacity = self.maxAllowedTableSize
    }

    /// The dynamic table, newest entry first (dynamic index 1 first).
    public var dynamicTable: [HPACKHeaderField] {
        entries.reversed().map { HPACKHeaderField(name: $0.name, value: $0.value) }
    }

    public mutating func decode(_ block: [UInt8]) throws(HPACKError) -> HPACKHeaderBlock {
        var result: Result<HPACKHeaderBlock, HPACKError> = .success(HPACKHeaderBlock(fields: []))
        block.withUnsafeBytes { raw in
            do throws(HPACKError) { result = .success(try decode(raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Decodes one complete header block. After an error the decoder's table is no longer
    /// in step with the encoder's (RFC 7541 §2.2), so callers stop using it.
    public mutating func decode(_ block: UnsafeRawBufferPointer) throws(HPACKError) -> HPACKHeaderBlock {
        var output = HPACKHeaderBlock(fields: [])
        var index = 0
        var sawField = false
        while index < block.count {
            let start = index
            let first = block[index]
            if first & 0x80 != 0 {
                // §6.1 Indexed Header Field.
                let position = try Self.integer(block, &index, prefixBits: 7)
                let entry = try lookup(position, offset: start)
                emit(entry.name, entry.value, size: entry.size, neverIndexed: false, into: &output)
                sawField = true
            } else if first & 0xE0 == 0x20 {
                // §6.3 Dynamic Table Size Update: only at the start of a block (§4.2).
                if sawField { throw .tableSizeUpdateAfterField(offset: start) }
                let requested = try Self.integer(block, &index, prefixBits: 5)
                guard requested <= UInt64(maxAllowedTableSize) else {
                    throw .tableSizeUpdateTooLarge(requested: requested, limit: maxAllowedTableSize, offset: start)
                }
                tableCapacity = Int(requested)
                evict(toFit: 0)
            } else {
                // §6.2 Literal Header Field: with incremental indexing (01), without (0000), never indexed (0001).
                let indexing = first & 0xC0 == 0x40
                let neverIndexed = !indexing && first & 0x10 != 0
                let nameIndex = try Self.integer(block, &index, prefixBits: indexing ? 6 : 4)
                let name: String
                let nameOctets: Int
                if nameIndex == 0 {
                    (name, nameOctets) = try string(block, &index)
                } else {
                    let entry = try lookup(nameIndex, offset: start)
                    name = entry.name
                    nameOctets = entry.nameOctets
                }
                let (value, valueOctets) = try string(block, &index)
                let size = nameOctets + valueOctets + 32
                emit(name, value, size: size, neverIndexed: neverIndexed, into: &output)
                if indexing { insert(Entry(name: name, value: value, nameOctets: nameOctets, size: size)) }
                sawField = true
            }
        }
        return output
    }

    // MARK: Tables

    /// Static entries first (1...61), then dynamic, newest first (RFC 7541 §2.3.3).
    func lookup(_ position: UInt64, offset: Int) throws(HPACKError) -> Entry {
        let staticCount = UInt64(HPACKStaticTable.count)
        if position >= 1 && position <= staticCount {
            let slot = Int(position) - 1
            let entry = HPACKStaticTable.entries[slot]
            return Entry(name: entry.name, value: entry.value, nameOctets: entry.name.utf8.count,
                         size: HPACKStaticTable.sizes[slot])
        }
        let dynamic = position &- staticCount
        guard position > staticCount, dynamic <= UInt64(entries.count) else {
            throw .indexOutOfRange(index: position, offset: offset)
        }
        return entries[entries.count - Int(dynamic)]
    }

    /// §4.4: evict oldest entries to make room; an entry larger than the table empties it.
    mutating func insert(_ entry: Entry) {
        if entry.size > tableCapacity {
            entries.removeAll(keepingCapacity: true)
            tableSize = 0
            return
        }
        evict(toFit: entry.size)
        entries.append(entry)
        tableSize += entry.size
    }

    /// §4.3/§4.4: evicts oldest entries until `room` more octets fit within the capacity.
    mutating func evict(toFit room: Int) {
        var removeCount = 0
        while tableSize + room > tableCapacity && removeCount < entries.count {
            tableSize -= entries[removeCount].size
            removeCount += 1
        }
        if removeCount > 0 { entries.removeFirst(removeCount) }
    }

    mutating func emit(_ name: String, _ value: String, size: Int, neverIndexed: Bool, into output: inout HPACKHeaderBlock) {
        output.listSize = output.listSize &+ size
        if output.truncated || output.listSize > maxHeaderListSize {
            output.truncated = true
            return
        }
        output.fields.append(HPACKHeaderField(name: name, value: value, neverIndexed: neverIndexed))
    }

    // MARK: Primitives

    /// §5.1 integer with an N-bit prefix. Rejects values above 2^32-1 after at most five
    /// continuation bytes, so a crafted integer costs nothing.
    static func integer(_ bytes: UnsafeRawBufferPointer, _ index: inout Int, prefixBits: Int) throws(HPACKError) -> UInt64 {
        let start = index
        guard index < bytes.count else { throw .truncated(offset: start) }
        let mask = UInt8(truncatingIfNeeded: (1 << prefixBits) - 1)
        var value = UInt64(bytes[index] & mask)
        index += 1
        if value < UInt64(mask) { return value }
        var shift: UInt64 = 0
        while true {
            guard index < bytes.count else { throw .truncated(offset: start) }
            let byte = bytes[index]
            index += 1
            value += UInt64(byte & 0x7F) << shift
            if value > maxInteger { throw .integerOverflow(offset: start) }
            if byte & 0x80 == 0 { return value }
            shift += 7
            if shift > 28 { throw .integerOverflow(offset: start) }
        }
    }

    /// §5.2 string literal: returns the text and its length in octets (the table counts octets).
    mutating func string(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) throws(HPACKError) -> (String, Int) {
        let start = index
        guard index < bytes.count else { throw .truncated(offset: start) }
        let huffman = bytes[index] & 0x80 != 0
        let length = try Self.integer(bytes, &index, prefixBits: 7)
        guard length <= UInt64(bytes.count - index) else { throw .truncated(offset: start) }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[index..<(index + Int(length))])
        index += Int(length)
        if !huffman {
            return (String(decoding: raw, as: UTF8.self), raw.count)
        }
        scratch.removeAll(keepingCapacity: true)
        do {
            try Huffman.decode(raw, into: &scratch)
        } catch {
            throw .huffman(error, offset: start)
        }
        return (String(decoding: scratch, as: UTF8.self), scratch.count)
    }
}
