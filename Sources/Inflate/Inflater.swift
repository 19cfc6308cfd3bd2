/// A streaming DEFLATE decoder (RFC 1951) with the zlib (RFC 1950) and gzip (RFC 1952)
/// wrappers, written here because the product takes no packages.
///
/// **Streaming.** Input comes in pieces of any size, split at any bit; the decoder keeps its
/// state between calls (the unconsumed bits of the last piece included), so a caller never
/// holds input back: after `needsInput` every byte given was consumed. Output goes to a sink
/// as views into the decoder's own buffer, valid during the call only.
///
/// **Bounded.** Memory is fixed at creation: the window (2^windowBits bytes, 32 KiB at most)
/// plus as much again for output not yet slid into the window (at least 8 KiB), plus about
/// 7.5 KiB of decoding tables. Each call produces at most `maxOutput` bytes; when the stream
/// has more to give the call stops with `outputLimitReached` (state kept: call again with the
/// rest of the input to continue), which a caller with a per-message budget reports as a
/// decompression bomb instead of growing.
///
/// **Context.** The window persists across calls and across `reset(keepingWindow: true)`: this
/// is permessage-deflate's context takeover (RFC 7692 §7.2.3), where each message continues
/// the previous one's LZ77 window; `reset()` forgets it (`*_no_context_takeover`).
///
/// **Speed.** Codes are decoded through zlib-style tables (10-bit primary for literal/length,
/// 8-bit for distance, subtables for longer codes), with a 64-bit bit buffer refilled eight
/// bytes at a time while at least 8 input bytes and 258 output bytes of room remain (libdeflate's
/// branchless refill); near the edges of input or output, a slower path decodes one symbol at a
/// time and can stop anywhere.
///
/// A final class: the state is large and lives in manually allocated memory owned here.
///
/// Reading a gzip file in pieces (a `.pcap.gz` reader, issue #17), each read buffer fed until it
/// is used up, the output bounded per call by the room the reader has:
///
/// ```swift
/// let inflater = Inflater(format: .gzip)
/// var rest = UnsafeRawBufferPointer(rebasing: readBuffer[..<filled])
/// repeat {
///     let result = try inflater.inflate(rest, maxOutput: room) { bytes in append(bytes) }
///     rest = UnsafeRawBufferPointer(rebasing: rest[result.consumed...])
///     // .outputLimitReached: drain, then loop; .needsInput: read more; .streamEnd: a member ended
/// } while !rest.isEmpty
/// try inflater.finish()  // at end of file: `truncated` if the last member is incomplete
/// ```
///
/// (`trailingData` is thrown for bytes after a member that do not start another one; gzip(1)
/// and zlib's gzread ignore such bytes, so a capture reader may treat it as the end.)
public final class Inflater {
    public enum Format: Sendable, Equatable {
        /// Bare DEFLATE blocks (permessage-deflate, RFC 7692 §7.2).
        case raw
        /// RFC 1950: CMF/FLG header, optional preset-dictionary id, Adler-32 trailer.
        case zlib
        /// RFC 1952: one or more members, each with its header, CRC-32 and ISIZE trailer.
        case gzip
    }

    public enum Status: Sendable, Equatable {
        /// Every input byte was consumed and the stream is not finished: give more.
        case needsInput
        /// `maxOutput` bytes were produced and the stream has more: call again, with the
        /// input not consumed yet, to continue.
        case outputLimitReached
        /// The stream (raw or zlib) or the last gzip member so far ended. Bytes after it are
        /// not consumed (gzip: the next call goes on to another member).
        case streamEnd
    }

    public struct Result: Sendable, Equatable {
        public var status: Status
        /// Input bytes consumed by this call.
        public var consumed: Int
        /// Output bytes given to the sink by this call.
        public var produced: Int
    }

    public let format: Format
    public let windowBits: Int
    /// 2^windowBits: the farthest a match may reach back.
    public let windowSize: Int
    private let dictionary: [UInt8]

    /// Output bytes produced since the stream (or the last `reset`) began.
    public private(set) var totalOut: UInt64 = 0
    /// Input bytes consumed since the stream (or the last `reset`) began.
    public private(set) var totalIn: UInt64 = 0

    // Output: window + fresh output, linear; slid when full.
    private let buffer: UnsafeMutablePointer<UInt8>
    /// Where output stops before sliding (window + chunk); `padding` more bytes are allocated
    /// for the fast path's 8-byte copies, which may write a few bytes past a match.
    private let bufferLimit: Int
    private static let padding = 16
    private var out = 0
    private var flushed = 0

    // Decoding tables, in one allocation.
    private let tables: UnsafeMutablePointer<UInt32>
    private var literalTable: UnsafeMutablePointer<UInt32> { tables }
    private var distanceTable: UnsafeMutablePointer<UInt32> { tables + DeflateHuffmanTable.literalLengthCapacity }
    private var codeLengthTable: UnsafeMutablePointer<UInt32> {
        tables + DeflateHuffmanTable.literalLengthCapacity + DeflateHuffmanTable.distanceCapacity
    }
    /// Code lengths of a dynamic block (286 + 30, and room for the code-length code's 19).
    private let lengths: UnsafeMutablePointer<UInt8>
    private static let codeLengthLengthsOffset = 320
    private enum LoadedTables { case none, fixed, dynamic }
    private var loadedTables = LoadedTables.none

    // Bit buffer: `bitCount` valid bits, least significant first. Bits above them are zero or
    // the true next input bits (the fast path's refill relies on it).
    private var bits: UInt64 = 0
    private var bitCount = 0

    /// Every decoder state is named; a call can stop in any of them.
    private enum State: Equatable {
        case zlibHeader, zlibDictionaryID
        case gzipHeader, gzipExtraLength, gzipExtra(remaining: Int), gzipName, gzipComment, gzipHeaderCRC
        case blockHeader
        case storedLengths
        case stored(remaining: Int)
        case dynamicCounts
        case codeLengthCodes(index: Int)
        case codeLengths(index: Int)
        case codes
        /// A literal decoded when the output budget was spent.
        case literal(UInt8)
        case copy(length: Int, distance: Int)
        case trailer
        /// gzip: between members.
        case memberEnd
        case done
        case failed(InflateError)
    }
    private var state: State
    private var finalBlock = false
    private var literalCount = 0
    private var distanceCount = 0
    private var codeLengthCount = 0

    // Wrapper fields read a byte at a time.
    private var headerValue: UInt64 = 0
    private var headerBytes = 0
    private var gzipFlags: UInt8 = 0
    private var headerCRC: UInt32 = 0
    /// Adler-32 (zlib) or CRC-32 (gzip) of the output so far.
    private var check: UInt32 = 0
    private var memberLength: UInt32 = 0

    /// - Parameters:
    ///   - windowBits: 8…15 (raw and zlib; a zlib header asking for more is refused); gzip uses 15.
    ///   - dictionary: raw: preset into the window at the start (and at every `reset()`);
    ///     zlib: used when the header asks for it (FDICT) and its Adler-32 matches the DICTID.
    public init(format: Format, windowBits: Int = 15, dictionary: [UInt8] = []) {
        precondition((8...15).contains(windowBits), "windowBits must be 8…15")
        self.format = format
        self.windowBits = format == .gzip ? 15 : windowBits
        windowSize = 1 << self.windowBits
        self.dictionary = dictionary
        bufferLimit = windowSize + max(windowSize, 8192)
        // Not zeroed: nothing is read before it is written (a match reads only bytes before
        // `out`, checked against the history), and zeroing cost a memset per WebSocket direction.
        buffer = .allocate(capacity: bufferLimit + Self.padding)
        let tableCount = DeflateHuffmanTable.literalLengthCapacity + DeflateHuffmanTable.distanceCapacity
            + DeflateHuffmanTable.codeLengthCapacity
        tables = .allocate(capacity: tableCount)
        tables.initialize(repeating: 0, count: tableCount)
        lengths = .allocate(capacity: Self.codeLengthLengthsOffset + 19)
        lengths.initialize(repeating: 0, count: Self.codeLengthLengthsOffset + 19)
        state = .blockHeader
        reset()
    }

    deinit {
        buffer.deallocate()
        tables.deallocate()
        lengths.deallocate()
    }

    /// Bytes of memory this decoder holds (window, output chunk, tables).
    public var memoryFootprint: Int {
        bufferLimit + Self.padding + 4 * (DeflateHuffmanTable.literalLengthCapacity
            + DeflateHuffmanTable.distanceCapacity + DeflateHuffmanTable.codeLengthCapacity)
            + Self.codeLengthLengthsOffset + 19
    }

    /// Starts a new stream. `keepingWindow`: matches may still reach into what the previous
    /// stream produced (permessage-deflate's context takeover after a message whose last block
    /// had BFINAL set); otherwise the window is emptied (and a raw dictionary preset again).
    public func reset(keepingWindow: Bool = false) {
        switch format {
        case .raw: state = .blockHeader
        case .zlib: state = .zlibHeader
        case .gzip: state = .gzipHeader
        }
        bits = 0
        bitCount = 0
        totalIn = 0
        totalOut = 0
        finalBlock = false
        headerValue = 0
        headerBytes = 0
        check = format == .zlib ? Adler32.initial : CRC32.initial
        memberLength = 0
        if keepingWindow {
            flushed = out
        } else {
            out = 0
            flushed = 0
            if format == .raw { preset(dictionary) }
        }
    }

    /// True once the stream ended (for gzip: at a member boundary).
    public var isFinished: Bool {
        state == .done || state == .memberEnd
    }

    /// Bytes were given after the last call's `needsInput` that the stream never completed:
    /// throws `truncated` unless the stream is finished.
    public func finish() throws(InflateError) {
        if case .failed(let error) = state { throw error }
        guard isFinished else {
            throw InflateError(.truncated, offset: totalIn, "the stream ended before its last block (and trailer)")
        }
    }

    // MARK: Decoding

    /// Decodes from `input`, giving output to `sink` (in pieces of at most the window's size,
    /// valid during the sink call only), at most `maxOutput` bytes in this call.
    ///
    /// Throws at the first violation of the format; output decoded before it has been given to
    /// the sink. After an error every call throws it again until `reset`.
    @discardableResult
    public func inflate(_ input: UnsafeRawBufferPointer, maxOutput: Int = .max,
                        into sink: (UnsafeRawBufferPointer) -> Void) throws(InflateError) -> Result {
        if case .failed(let error) = state { throw error }
        var position = 0
        var produced = 0
        let status: Status
        do {
            status = try run(input, &position, &produced, max(0, maxOutput), sink)
        } catch {
            flush(sink)
            state = .failed(error)
            totalIn &+= UInt64(position)
            throw error
        }
        flush(sink)
        totalIn &+= UInt64(position)
        return Result(status: status, consumed: position, produced: produced)
    }

    public func inflate(_ input: [UInt8], maxOutput: Int = .max,
                        into sink: (UnsafeRawBufferPointer) -> Void) throws(InflateError) -> Result {
        // withUnsafeBytes rethrows untyped errors: carry the typed one out in a Result.
        let result = input.withUnsafeBytes { raw in
            Swift.Result { () throws(InflateError) in try inflate(raw, maxOutput: maxOutput, into: sink) }
        }
        return try result.get()
    }

    private func run(_ input: UnsafeRawBufferPointer, _ position: inout Int, _ produced: inout Int, _ maxOutput: Int,
                     _ sink: (UnsafeRawBufferPointer) -> Void) throws(InflateError) -> Status {
        let end = input.count
        while true {
            switch state {
            case .zlibHeader:
                guard try readHeaderBytes(2, input, &position) else { return .needsInput }
                let cmf = UInt32(headerValue >> 8 & 0xFF), flags = UInt32(headerValue & 0xFF)
                let offset = currentOffset(position) &- 2
                guard cmf & 0x0F == 8 else {
                    throw InflateError(.badHeader, offset: offset, "zlib compression method \(cmf & 0x0F), not 8 (deflate)")
                }
                guard Int(cmf >> 4) + 8 <= windowBits else {
                    throw InflateError(.badHeader, offset: offset,
                                       "zlib window 2^\(Int(cmf >> 4) + 8) exceeds the allowed 2^\(windowBits)")
                }
                guard (cmf << 8 | flags) % 31 == 0 else {
                    throw InflateError(.badHeader, offset: offset, "zlib header check bits (FCHECK) do not match")
                }
                state = flags & 0x20 != 0 ? .zlibDictionaryID : .blockHeader
            case .zlibDictionaryID:
                guard try readHeaderBytes(4, input, &position) else { return .needsInput }
                let identifier = UInt32(truncatingIfNeeded: headerValue)
                guard !dictionary.isEmpty else {
                    throw InflateError(.wrongDictionary, offset: currentOffset(position) &- 4,
                                       "the stream needs a preset dictionary (DICTID \(hex(identifier))) and none was given")
                }
                guard Adler32.checksum(dictionary) == identifier else {
                    throw InflateError(.wrongDictionary, offset: currentOffset(position) &- 4,
                                       "the given dictionary's Adler-32 is not the stream's DICTID \(hex(identifier))")
                }
                preset(dictionary)
                state = .blockHeader
            case .gzipHeader:
                guard try readHeaderBytes(10, input, &position) else { return .needsInput }
                try checkGzipHeader(position)
            case .gzipExtraLength:
                guard try readHeaderBytes(2, input, &position) else { return .needsInput }
                let length = Int(headerValue >> 8 & 0xFF) | Int(headerValue & 0xFF) << 8
                state = .gzipExtra(remaining: length)
            case .gzipExtra(let remaining):
                if remaining == 0 {
                    state = gzipFlags & 0x08 != 0 ? .gzipName : gzipFlags & 0x10 != 0 ? .gzipComment
                        : gzipFlags & 0x02 != 0 ? .gzipHeaderCRC : .blockHeader
                    continue
                }
                guard let byte = takeByte(input, &position) else { return .needsInput }
                headerCRC = CRC32.update(headerCRC, byte)
                state = .gzipExtra(remaining: remaining - 1)
            case .gzipName, .gzipComment:
                guard let byte = takeByte(input, &position) else { return .needsInput }
                headerCRC = CRC32.update(headerCRC, byte)
                if byte == 0 {
                    state = state == .gzipName && gzipFlags & 0x10 != 0 ? .gzipComment
                        : gzipFlags & 0x02 != 0 ? .gzipHeaderCRC : .blockHeader
                }
            case .gzipHeaderCRC:
                let expected = headerCRC & 0xFFFF
                guard try readHeaderBytes(2, input, &position, crc: false) else { return .needsInput }
                let stored = UInt32(headerValue >> 8 & 0xFF) | UInt32(headerValue & 0xFF) << 8
                guard stored == expected else {
                    throw InflateError(.badHeader, offset: currentOffset(position) &- 2,
                                       "gzip header CRC \(hex(stored)) is not the header's (\(hex(expected)))")
                }
                state = .blockHeader
            case .blockHeader:
                guard need(3, input, &position) else { return .needsInput }
                finalBlock = bits & 1 != 0
                let type = Int((bits >> 1) & 3)
                let headerOffset = currentOffset(position)
                drop(3)
                switch type {
                case 0:
                    drop(bitCount & 7)
                    state = .storedLengths
                case 1:
                    if loadedTables != .fixed { loadFixedTables() }
                    state = .codes
                case 2:
                    state = .dynamicCounts
                default:
                    throw InflateError(.invalidBlockType, offset: headerOffset, "block type 3 is reserved")
                }
            case .storedLengths:
                guard try readHeaderBytes(4, input, &position, crc: false) else { return .needsInput }
                let length = Int(headerValue >> 24 & 0xFF) | Int(headerValue >> 16 & 0xFF) << 8
                let complement = Int(headerValue & 0xFF) << 8 | Int(headerValue >> 8 & 0xFF)
                guard length ^ 0xFFFF == complement else {
                    throw InflateError(.badStoredLength, offset: currentOffset(position) &- 4,
                                       "stored block LEN \(length) and NLEN \(complement) are not complements")
                }
                state = .stored(remaining: length)
            case .stored(let remaining):
                if remaining == 0 {
                    endBlock(sink)
                    continue
                }
                guard produced < maxOutput else { return giveBack(.outputLimitReached, &position) }
                if out == bufferLimit { slide(sink) }
                if bitCount >= 8 {
                    buffer[out] = UInt8(truncatingIfNeeded: bits)
                    drop(8)
                    out += 1
                    produced += 1
                    state = .stored(remaining: remaining - 1)
                    continue
                }
                let count = min(remaining, bufferLimit - out, maxOutput - produced, end - position)
                guard count > 0 else { return .needsInput }
                (buffer + out).update(from: input.baseAddress!.assumingMemoryBound(to: UInt8.self) + position,
                                      count: count)
                out += count
                position += count
                produced += count
                state = .stored(remaining: remaining - count)
            case .dynamicCounts:
                guard need(14, input, &position) else { return .needsInput }
                literalCount = Int(bits & 0x1F) + 257
                distanceCount = Int((bits >> 5) & 0x1F) + 1
                codeLengthCount = Int((bits >> 10) & 0xF) + 4
                drop(14)
                guard literalCount <= 286, distanceCount <= 30 else {
                    throw InflateError(.badCodeLengths, offset: currentOffset(position),
                                       "\(literalCount) literal/length and \(distanceCount) distance codes (at most 286 and 30)")
                }
                (lengths + Self.codeLengthLengthsOffset).update(repeating: 0, count: 19)
                state = .codeLengthCodes(index: 0)
            case .codeLengthCodes(let index):
                if index == codeLengthCount {
                    do {
                        try DeflateHuffmanTable.build(lengths: lengths + Self.codeLengthLengthsOffset, count: 19,
                                                      kind: .codeLength, primaryBits: DeflateHuffmanTable.codeLengthBits,
                                                      into: codeLengthTable, capacity: DeflateHuffmanTable.codeLengthCapacity)
                    } catch {
                        throw InflateError(.badCodeLengths, offset: currentOffset(position),
                                           "the code-length code is \(error == .overSubscribed ? "over-subscribed" : "incomplete")")
                    }
                    loadedTables = .none
                    state = .codeLengths(index: 0)
                    continue
                }
                guard need(3, input, &position) else { return .needsInput }
                lengths[Self.codeLengthLengthsOffset + Int(Self.codeLengthOrder[index])] = UInt8(truncatingIfNeeded: bits & 7)
                drop(3)
                state = .codeLengthCodes(index: index + 1)
            case .codeLengths(let index):
                let total = literalCount + distanceCount
                if index == total {
                    try buildDynamicTables(position)
                    state = .codes
                    continue
                }
                stash(input, &position)
                guard let (entry, length) = peek(codeLengthTable, DeflateHuffmanTable.codeLengthBits) else {
                    return .needsInput
                }
                guard entry & DeflateHuffmanTable.invalidFlag == 0 else {
                    throw InflateError(.badCodeLengths, offset: currentOffset(position), "a code-length code no code uses")
                }
                let symbol = Int(entry >> 16)
                if symbol < 16 {
                    drop(length)
                    lengths[index] = UInt8(symbol)
                    state = .codeLengths(index: index + 1)
                    continue
                }
                let (extraBits, minimum) = symbol == 16 ? (2, 3) : symbol == 17 ? (3, 3) : (7, 11)
                guard bitCount >= length + extraBits else { return .needsInput }
                drop(length)
                let repeatCount = minimum + Int(bits & ((1 << UInt64(extraBits)) - 1))
                drop(extraBits)
                var value: UInt8 = 0
                if symbol == 16 {
                    guard index > 0 else {
                        throw InflateError(.badCodeLengths, offset: currentOffset(position),
                                           "code 16 repeats the previous length, and there is none")
                    }
                    value = lengths[index - 1]
                }
                guard index + repeatCount <= total else {
                    throw InflateError(.badCodeLengths, offset: currentOffset(position),
                                       "a repeat runs past the \(total) code lengths")
                }
                (lengths + index).update(repeating: value, count: repeatCount)
                state = .codeLengths(index: index + repeatCount)
            case .codes:
                if bufferLimit - out < 258 && maxOutput - produced >= 258 { slide(sink) }
                if end - position >= 8 && bufferLimit - out >= 258 && maxOutput - produced >= 258 {
                    let start = out
                    let room = min(bufferLimit - out, maxOutput - produced)
                    let exit = fastCodes(input, &position, outputLimit: out + room - 258)
                    produced += out - start
                    switch exit {
                    case .limits: break
                    case .endOfBlock: endBlock(sink)
                    case .invalidLiteralLength:
                        throw InflateError(.invalidSymbol, offset: currentOffset(position), "literal/length code 286 or 287, or an unused code")
                    case .invalidDistance:
                        throw InflateError(.invalidSymbol, offset: currentOffset(position), "distance code 30 or 31, or an unused code")
                    case .tooFarBack(let distance):
                        throw tooFarBack(distance, position)
                    }
                    continue
                }
                if let status = try slowCode(input, &position, &produced, maxOutput, sink) { return status }
            case .literal(let byte):
                guard produced < maxOutput else { return giveBack(.outputLimitReached, &position) }
                if out == bufferLimit { slide(sink) }
                buffer[out] = byte
                out += 1
                produced += 1
                state = .codes
            case .copy(let length, let distance):
                if length == 0 {
                    state = .codes
                    continue
                }
                guard produced < maxOutput else { return giveBack(.outputLimitReached, &position) }
                if out == bufferLimit { slide(sink) }
                let count = min(length, bufferLimit - out, maxOutput - produced)
                let target = buffer + out
                let source = target - distance
                for index in 0..<count { target[index] = source[index] }
                out += count
                produced += count
                state = .copy(length: length - count, distance: distance)
            case .trailer:
                if format == .zlib {
                    guard try readHeaderBytes(4, input, &position, crc: false) else { return .needsInput }
                    let stored = UInt32(truncatingIfNeeded: headerValue)
                    guard stored == check else {
                        throw InflateError(.checksumMismatch, offset: currentOffset(position) &- 4,
                                           "Adler-32 \(hex(stored)) in the trailer, \(hex(check)) computed")
                    }
                    state = .done
                } else {
                    guard try readHeaderBytes(8, input, &position, crc: false) else { return .needsInput }
                    let stored = UInt32(truncatingIfNeeded: headerValue >> 32).byteSwapped
                    let size = UInt32(truncatingIfNeeded: headerValue).byteSwapped
                    guard stored == check else {
                        throw InflateError(.checksumMismatch, offset: currentOffset(position) &- 8,
                                           "CRC-32 \(hex(stored)) in the trailer, \(hex(check)) computed")
                    }
                    guard size == memberLength else {
                        throw InflateError(.lengthMismatch, offset: currentOffset(position) &- 4,
                                           "ISIZE \(size), but the member inflated to \(memberLength) bytes (mod 2^32)")
                    }
                    state = .memberEnd
                }
            case .memberEnd:
                guard bitCount >= 8 || position < end else { return .streamEnd }
                let next = bitCount >= 8 ? UInt8(truncatingIfNeeded: bits) : input[position]
                guard next == 0x1F else {
                    throw InflateError(.trailingData, offset: currentOffset(position),
                                       "byte 0x\(String(next, radix: 16)) after a gzip member does not start another")
                }
                // A new member: a new stream with its own window and checks.
                flush(sink)
                out = 0
                flushed = 0
                check = CRC32.initial
                memberLength = 0
                headerValue = 0
                headerBytes = 0
                state = .gzipHeader
            case .done:
                return giveBack(.streamEnd, &position)
            case .failed(let error):
                throw error
            }
        }
    }

    /// One literal/length symbol (and its match) the slow way: stops cleanly wherever input or
    /// output runs out. Returns a status to stop with, or nil to go on.
    private func slowCode(_ input: UnsafeRawBufferPointer, _ position: inout Int, _ produced: inout Int, _ maxOutput: Int,
                          _ sink: (UnsafeRawBufferPointer) -> Void) throws(InflateError) -> Status? {
        // A symbol with its extra bits and distance needs at most 48 bits: take what input there
        // is (49 bits or more unless the input ends), decode all of it or nothing.
        stash(input, &position)
        let savedBits = bits, savedCount = bitCount
        guard let (entry, length) = peek(literalTable, DeflateHuffmanTable.literalLengthBits) else { return .needsInput }
        if entry & DeflateHuffmanTable.literalFlag != 0 {
            drop(length)
            let byte = UInt8(truncatingIfNeeded: entry >> 16)
            guard produced < maxOutput else {
                state = .literal(byte)
                return giveBack(.outputLimitReached, &position)
            }
            if out == bufferLimit { slide(sink) }
            buffer[out] = byte
            out += 1
            produced += 1
            return nil
        }
        if entry & DeflateHuffmanTable.endOfBlockFlag != 0 {
            drop(length)
            endBlock(sink)
            return nil
        }
        drop(length)  // before an error too: its offset is the fast path's, which has consumed the code
        if entry & DeflateHuffmanTable.invalidFlag != 0 {
            throw InflateError(.invalidSymbol, offset: currentOffset(position), "literal/length code 286 or 287, or an unused code")
        }
        let lengthExtra = Int((entry >> 8) & 0xF)
        guard bitCount >= lengthExtra else { return restore(savedBits, savedCount) }
        let matchLength = Int(entry >> 16) + Int(bits & ((1 << UInt64(lengthExtra)) - 1))
        drop(lengthExtra)
        guard let (distanceEntry, distanceLength) = peek(distanceTable, DeflateHuffmanTable.distanceBits) else {
            return restore(savedBits, savedCount)
        }
        if distanceEntry & DeflateHuffmanTable.invalidFlag != 0 {
            throw InflateError(.invalidSymbol, offset: currentOffset(position), "distance code 30 or 31, or an unused code")
        }
        drop(distanceLength)
        let distanceExtra = Int((distanceEntry >> 8) & 0xF)
        guard bitCount >= distanceExtra else { return restore(savedBits, savedCount) }
        let distance = Int(distanceEntry >> 16) + Int(bits & ((1 << UInt64(distanceExtra)) - 1))
        drop(distanceExtra)
        guard distance <= out && distance <= windowSize else { throw tooFarBack(distance, position) }
        state = .copy(length: matchLength, distance: distance)
        return nil
    }

    private func restore(_ savedBits: UInt64, _ savedCount: Int) -> Status {
        bits = savedBits
        bitCount = savedCount
        return .needsInput
    }

    private func tooFarBack(_ distance: Int, _ position: Int) -> InflateError {
        let reach = min(out, windowSize)
        return InflateError(.distanceTooFarBack, offset: currentOffset(position),
                            distance > windowSize
                                ? "distance \(distance) exceeds the \(windowSize)-byte window"
                                : "distance \(distance) reaches before the start of the output (\(reach) bytes back)")
    }

    private enum FastExit {
        case limits, endOfBlock, invalidLiteralLength, invalidDistance, tooFarBack(Int)
    }

    /// The hot loop: whole symbols while at least 8 input bytes remain and the output stays
    /// below `outputLimit` (so a 258-byte match always fits). State lives in locals.
    private func fastCodes(_ input: UnsafeRawBufferPointer, _ position: inout Int, outputLimit: Int) -> FastExit {
        let base = input.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var next = base + position
        let inputLimit = base + input.count - 8
        let start = buffer
        var output = buffer + out
        let outputEnd = buffer + outputLimit
        let literals = UnsafePointer(literalTable)
        let distances = UnsafePointer(distanceTable)
        let window = windowSize
        var bitBuffer = bits
        var available = bitCount
        var exit = FastExit.limits
        let literalMask: UInt64 = (1 << UInt64(DeflateHuffmanTable.literalLengthBits)) - 1
        let distanceMask: UInt64 = (1 << UInt64(DeflateHuffmanTable.distanceBits)) - 1
        let literalFlag = DeflateHuffmanTable.literalFlag, subtableFlag = DeflateHuffmanTable.subtableFlag

        decoding: while next <= inputLimit && output <= outputEnd {
            // Refill to 56+ bits: bytes beyond the ones counted land above `available` and are
            // the same bits the next refill ORs in again.
            bitBuffer |= UInt64(littleEndian: UnsafeRawPointer(next).loadUnaligned(as: UInt64.self)) &<< UInt64(available)
            next += (63 &- available) &>> 3
            available |= 56

            var entry = literals[Int(bitBuffer & literalMask)]
            if entry & subtableFlag != 0 {
                bitBuffer &>>= UInt64(DeflateHuffmanTable.literalLengthBits)
                available &-= DeflateHuffmanTable.literalLengthBits
                entry = literals[Int(entry >> 16) &+ Int(bitBuffer & ((1 &<< UInt64((entry >> 8) & 0xF)) &- 1))]
            }
            bitBuffer &>>= UInt64(entry & 0x1F)
            available &-= Int(entry & 0x1F)
            if entry & literalFlag != 0 {
                output.pointee = UInt8(truncatingIfNeeded: entry >> 16)
                output += 1
                // At least 41 bits remain: up to two more literals without a refill.
                for _ in 0..<2 {
                    entry = literals[Int(bitBuffer & literalMask)]
                    guard entry & literalFlag != 0 else { break }
                    bitBuffer &>>= UInt64(entry & 0x1F)
                    available &-= Int(entry & 0x1F)
                    output.pointee = UInt8(truncatingIfNeeded: entry >> 16)
                    output += 1
                }
                continue
            }
            if entry & (DeflateHuffmanTable.endOfBlockFlag | DeflateHuffmanTable.invalidFlag) != 0 {
                exit = entry & DeflateHuffmanTable.endOfBlockFlag != 0 ? .endOfBlock : .invalidLiteralLength
                break decoding
            }
            // Length: at most 15 + 5 bits used so far, 36+ left for the distance's 15 + 13.
            let lengthExtra = UInt64((entry >> 8) & 0xF)
            let length = Int(entry >> 16) &+ Int(bitBuffer & ((1 &<< lengthExtra) &- 1))
            bitBuffer &>>= lengthExtra
            available &-= Int(lengthExtra)

            var distanceEntry = distances[Int(bitBuffer & distanceMask)]
            if distanceEntry & subtableFlag != 0 {
                bitBuffer &>>= UInt64(DeflateHuffmanTable.distanceBits)
                available &-= DeflateHuffmanTable.distanceBits
                distanceEntry = distances[Int(distanceEntry >> 16)
                    &+ Int(bitBuffer & ((1 &<< UInt64((distanceEntry >> 8) & 0xF)) &- 1))]
            }
            if distanceEntry & DeflateHuffmanTable.invalidFlag != 0 {
                exit = .invalidDistance
                break decoding
            }
            bitBuffer &>>= UInt64(distanceEntry & 0x1F)
            available &-= Int(distanceEntry & 0x1F)
            let distanceExtra = UInt64((distanceEntry >> 8) & 0xF)
            let distance = Int(distanceEntry >> 16) &+ Int(bitBuffer & ((1 &<< distanceExtra) &- 1))
            bitBuffer &>>= distanceExtra
            available &-= Int(distanceExtra)
            if distance > output - start || distance > window {
                exit = .tooFarBack(distance)
                break decoding
            }
            // Copy the match. Eight bytes at a time when the source is at least eight back
            // (each word read lies wholly before the write); up to 7 bytes past the match are
            // written into room that is overwritten later (or padding).
            let source = output - distance
            if distance >= 8 {
                var from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(output)
                let stop = to + length
                repeat {
                    to.storeBytes(of: from.loadUnaligned(as: UInt64.self), as: UInt64.self)
                    from += 8
                    to += 8
                } while to < stop
            } else if distance == 1 {
                let word = UInt64(source.pointee) &* 0x0101_0101_0101_0101
                var to = UnsafeMutableRawPointer(output)
                let stop = to + length
                repeat {
                    to.storeBytes(of: word, as: UInt64.self)
                    to += 8
                } while to < stop
            } else {
                for index in 0..<length { output[index] = source[index] }
            }
            output += length
        }
        // Give back whole bytes read ahead (those taken from this input), drop the look-ahead.
        let taken = next - base
        let returned = min(available >> 3, taken)
        next -= returned
        available -= returned << 3
        position = next - base
        bits = available == 64 ? bitBuffer : bitBuffer & ((1 &<< UInt64(available)) &- 1)
        bitCount = available
        out = output - start
        return exit
    }

    // MARK: Blocks and tables

    private func endBlock(_ sink: (UnsafeRawBufferPointer) -> Void) {
        guard finalBlock else {
            state = .blockHeader
            return
        }
        drop(bitCount & 7)
        flush(sink)  // the checks cover every byte before the trailer is read
        headerValue = 0
        headerBytes = 0
        state = format == .raw ? .done : .trailer
    }

    private static let codeLengthOrder: [UInt8] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    private func loadFixedTables() {
        // RFC 1951 §3.2.6.
        for symbol in 0..<144 { lengths[symbol] = 8 }
        for symbol in 144..<256 { lengths[symbol] = 9 }
        for symbol in 256..<280 { lengths[symbol] = 7 }
        for symbol in 280..<288 { lengths[symbol] = 8 }
        for symbol in 288..<320 { lengths[symbol] = 5 }
        // The fixed codes are complete and short: these builds cannot fail.
        try? DeflateHuffmanTable.build(lengths: lengths, count: 288, kind: .literalLength,
                                       primaryBits: DeflateHuffmanTable.literalLengthBits, into: literalTable,
                                       capacity: DeflateHuffmanTable.literalLengthCapacity)
        try? DeflateHuffmanTable.build(lengths: lengths + 288, count: 32, kind: .distance,
                                       primaryBits: DeflateHuffmanTable.distanceBits, into: distanceTable,
                                       capacity: DeflateHuffmanTable.distanceCapacity)
        loadedTables = .fixed
    }

    private func buildDynamicTables(_ position: Int) throws(InflateError) {
        guard lengths[256] != 0 else {
            throw InflateError(.badCodeLengths, offset: currentOffset(position), "no code for end-of-block (256)")
        }
        do {
            try DeflateHuffmanTable.build(lengths: lengths, count: literalCount, kind: .literalLength,
                                          primaryBits: DeflateHuffmanTable.literalLengthBits, into: literalTable,
                                          capacity: DeflateHuffmanTable.literalLengthCapacity)
        } catch {
            throw InflateError(.badCodeLengths, offset: currentOffset(position),
                               "the literal/length code is \(error == .overSubscribed ? "over-subscribed" : "incomplete")")
        }
        do {
            try DeflateHuffmanTable.build(lengths: lengths + literalCount, count: distanceCount, kind: .distance,
                                          primaryBits: DeflateHuffmanTable.distanceBits, into: distanceTable,
                                          capacity: DeflateHuffmanTable.distanceCapacity)
        } catch {
            throw InflateError(.badCodeLengths, offset: currentOffset(position),
                               "the distance code is \(error == .overSubscribed ? "over-subscribed" : "incomplete")")
        }
        loadedTables = .dynamic
    }

    private func checkGzipHeader(_ position: Int) throws(InflateError) {
        let offset = currentOffset(position) &- 10
        // headerValue holds the last 8 of the 10 bytes; the magic was checked as it came.
        let method = UInt8(truncatingIfNeeded: headerValue >> 56)
        let flags = UInt8(truncatingIfNeeded: headerValue >> 48)
        guard method == 8 else {
            throw InflateError(.badHeader, offset: offset &+ 2, "gzip compression method \(method), not 8 (deflate)")
        }
        guard flags & 0xE0 == 0 else {
            throw InflateError(.badHeader, offset: offset &+ 3, "gzip header sets reserved flag bits (FLG 0x\(String(flags, radix: 16)))")
        }
        gzipFlags = flags
        state = flags & 0x04 != 0 ? .gzipExtraLength : flags & 0x08 != 0 ? .gzipName : flags & 0x10 != 0 ? .gzipComment
            : flags & 0x02 != 0 ? .gzipHeaderCRC : .blockHeader
    }

    // MARK: Bits and bytes

    /// Pulls whole bytes into the bit buffer until it holds `count` bits (one byte at a time,
    /// so nothing is read that is not needed). False when the input ran out first.
    @inline(__always)
    private func need(_ count: Int, _ input: UnsafeRawBufferPointer, _ position: inout Int) -> Bool {
        while bitCount < count {
            guard position < input.count else { return false }
            bits |= UInt64(input[position]) << UInt64(bitCount)
            bitCount += 8
            position += 1
        }
        return true
    }

    /// Pulls input into the bit buffer while it holds at most 48 bits (so it never holds more
    /// than 56, which the fast path's refill needs).
    @inline(__always)
    private func stash(_ input: UnsafeRawBufferPointer, _ position: inout Int) {
        while bitCount <= 48 && position < input.count {
            bits |= UInt64(input[position]) << UInt64(bitCount)
            bitCount += 8
            position += 1
        }
    }

    @inline(__always)
    private func drop(_ count: Int) {
        bits = count >= 64 ? 0 : bits >> UInt64(count)
        bitCount -= count
    }

    /// Decodes the next symbol from the bits at hand if they suffice (unknown bits are zero in
    /// the lookup; a result is kept only when its length is within the known bits).
    @inline(__always)
    private func peek(_ table: UnsafeMutablePointer<UInt32>, _ primaryBits: Int) -> (UInt32, Int)? {
        let entry = table[Int(bits & ((1 << UInt64(primaryBits)) - 1))]
        if entry & DeflateHuffmanTable.subtableFlag != 0 {
            guard bitCount >= primaryBits else { return nil }
            let subBits = UInt64((entry >> 8) & 0xF)
            let subEntry = table[Int(entry >> 16) + Int((bits >> UInt64(primaryBits)) & ((1 << subBits) - 1))]
            let length = primaryBits + Int(subEntry & 0x1F)
            return length <= bitCount ? (subEntry, length) : nil
        }
        let length = Int(entry & 0x1F)
        return length <= bitCount ? (entry, length) : nil
    }

    /// The next whole byte (the bit buffer is byte-aligned here): from the bit buffer first.
    @inline(__always)
    private func takeByte(_ input: UnsafeRawBufferPointer, _ position: inout Int) -> UInt8? {
        if bitCount >= 8 {
            let byte = UInt8(truncatingIfNeeded: bits)
            drop(8)
            return byte
        }
        guard position < input.count else { return nil }
        defer { position += 1 }
        return input[position]
    }

    /// Gathers `count` wrapper bytes, big-endian, into `headerValue` (the gzip header's bytes
    /// also go into its CRC, and its magic is checked byte by byte). False when input ran out.
    private func readHeaderBytes(_ count: Int, _ input: UnsafeRawBufferPointer, _ position: inout Int,
                                 crc: Bool = true) throws(InflateError) -> Bool {
        if headerBytes == 0 {
            headerValue = 0
            if state == .gzipHeader { headerCRC = 0 }
        }
        while headerBytes < count {
            guard let byte = takeByte(input, &position) else { return false }
            if state == .gzipHeader && headerBytes < 2 && byte != (headerBytes == 0 ? 0x1F : 0x8B) {
                throw InflateError(.badHeader, offset: currentOffset(position) &- 1, "not a gzip member (magic 1f 8b)")
            }
            if crc && format == .gzip { headerCRC = CRC32.update(headerCRC, byte) }
            headerValue = headerValue << 8 | UInt64(byte)
            headerBytes += 1
        }
        headerBytes = 0
        return true
    }

    /// Stops with `status` after returning whole bytes read ahead from this input.
    private func giveBack(_ status: Status, _ position: inout Int) -> Status {
        let returned = min(bitCount >> 3, position)
        position -= returned
        bitCount -= returned << 3
        bits = bitCount == 0 ? 0 : bits & ((1 << UInt64(bitCount)) - 1)
        return status
    }

    /// Offset in the compressed stream of the byte holding the next unread bit.
    private func currentOffset(_ position: Int) -> UInt64 {
        ((totalIn &+ UInt64(position)) &* 8 &- UInt64(bitCount)) / 8
    }

    // MARK: Output

    /// Gives the bytes decoded since the last flush to the sink, updating the checks.
    private func flush(_ sink: (UnsafeRawBufferPointer) -> Void) {
        guard out > flushed else { return }
        let view = UnsafeRawBufferPointer(start: buffer + flushed, count: out - flushed)
        switch format {
        case .raw: break
        case .zlib: check = Adler32.update(check, view)
        case .gzip:
            check = CRC32.update(check, view)
            memberLength &+= UInt32(truncatingIfNeeded: view.count)
        }
        totalOut &+= UInt64(view.count)
        sink(view)
        flushed = out
    }

    /// Flushes, then keeps only the last window's bytes at the start of the buffer.
    private func slide(_ sink: (UnsafeRawBufferPointer) -> Void) {
        flush(sink)
        let keep = min(out, windowSize)
        buffer.update(from: buffer + (out - keep), count: keep)
        out = keep
        flushed = keep
    }

    private func preset(_ bytes: [UInt8]) {
        let keep = min(bytes.count, windowSize)
        bytes.withUnsafeBufferPointer { source in
            buffer.update(from: source.baseAddress! + (source.count - keep), count: keep)
        }
        out = keep
        flushed = keep
    }

    private func hex(_ value: UInt32) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 8 - text.count) + text
    }
}

extension CRC32 {
    /// One byte (gzip header bytes, read one at a time).
    static func update(_ checksum: UInt32, _ byte: UInt8) -> UInt32 {
        ~(tables[Int((~checksum ^ UInt32(byte)) & 0xFF)] ^ (~checksum >> 8))
    }
}
