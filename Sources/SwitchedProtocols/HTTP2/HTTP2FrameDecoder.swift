/// Where a header block came from.
public struct HTTP2HeaderBlockInfo: Sendable, Equatable {
    public var streamID: UInt32
    /// HEADERS or PUSH_PROMISE (the frame that started the block).
    public var frameType: HTTP2FrameType
    /// PUSH_PROMISE only: the stream the server reserved.
    public var promisedStreamID: UInt32?
    /// HEADERS only: END_STREAM was set.
    public var endStream: Bool

    public init(streamID: UInt32, frameType: HTTP2FrameType, promisedStreamID: UInt32? = nil, endStream: Bool = false) {
        self.streamID = streamID
        self.frameType = frameType
        self.promisedStreamID = promisedStreamID
        self.endStream = endStream
    }
}

/// Incremental HTTP/2 frame decoder for one direction (RFC 9113 §4, §6).
///
/// Fed chunks of any size. Payloads are skipped by length without copying, except header
/// block fragments (HEADERS, PUSH_PROMISE, CONTINUATION), which are gathered up to
/// `maxHeaderBlockBytes` so that HPACK can decode them, and the few fixed bytes of SETTINGS,
/// GOAWAY and RST_STREAM. Memory is fixed after the first header block whatever the input.
public struct HTTP2FrameDecoder: Sendable {
    public struct Options: Sendable {
        /// Header block bytes gathered per block (HEADERS plus CONTINUATIONs); beyond, the
        /// block is dropped and reported, and HPACK can no longer follow the connection.
        public var maxHeaderBlockBytes = 65_536
        /// Declared frame lengths above this stop decoding: the bytes are not HTTP/2 framing.
        /// The 24-bit length field caps it at 16 MiB - 1 anyway; a lower value can be set.
        public var maxFrameLength = 16_777_215
        /// Keep framing across a gap that falls entirely inside a payload being skipped (DATA,
        /// padding, PING…): no decoded state depends on those bytes.
        public var bridgeGapsInSkippedPayload = true

        public init() {}
    }

    public enum Event {
        /// The 24-byte client preface was complete and correct.
        case prefaceVerified
        /// The client direction did not start with the preface; decoding stopped. `firstBytes`
        /// are up to 24 bytes from the start of the direction.
        case prefaceMismatch(firstBytes: [UInt8])
        /// A frame header was read (the payload follows).
        case frameStart(HTTP2FrameHeader)
        /// A header block is complete; the bytes are valid only during the call.
        case headerBlock(HTTP2HeaderBlockInfo, UnsafeRawBufferPointer)
        /// A header block was lost (too big, malformed, interrupted); HPACK state is now unknown.
        case headerBlockDropped(streamID: UInt32, reason: String)
        case setting(HTTP2Setting)
        case settingsAck
        case goAway(lastStreamID: UInt32, errorCode: UInt32)
        case rstStream(streamID: UInt32, errorCode: UInt32)
        /// The whole frame (header and payload) was consumed.
        case frameComplete(HTTP2FrameHeader)
    }

    enum Phase: Sendable { case preface, header, payload, stopped }
    enum Step: Sendable {
        case collect(Int)   // gather n fixed bytes into scratch
        case fragment(Int)  // n header block bytes
        case settings       // 6-byte parameters until the payload ends
        case skip           // the rest of the payload
    }

    public let isClient: Bool
    public let options: Options
    /// The receiver's SETTINGS_MAX_FRAME_SIZE; longer frames are counted as oversized.
    public var peerMaxFrameSize = HTTP2.defaultMaxFrameSize
    public private(set) var statistics = HTTP2DirectionStatistics()
    /// Why decoding stopped, with the direction offset; nil while decoding.
    public private(set) var stopReason: String?

    var phase: Phase
    var prefaceMatched = 0
    var scratch: [UInt8] = []
    var header = HTTP2FrameHeader(length: 0, type: 0, flags: 0, streamID: 0)
    var payloadRemaining = 0
    var step = Step.skip
    /// Bytes of the HEADERS/PUSH_PROMISE prefix (pad length, priority, promised id).
    var prefixLength = 0

    // The header block in progress (RFC 9113 §4.3: it must continue on the same stream
    // with CONTINUATION frames and nothing in between).
    var blockOpen = false
    var blockInfo = HTTP2HeaderBlockInfo(streamID: 0, frameType: .headers)
    var blockBuffer: [UInt8] = []
    var blockOverflow = false
    var sawFrame = false
    let expectsPreface: Bool
    var prefaceMissing = false

    /// `isClient`: the client-to-server direction, which starts with the connection preface
    /// (pass `expectsPreface: false` when the preface was already consumed elsewhere).
    public init(isClient: Bool, expectsPreface: Bool? = nil, options: Options = Options()) {
        self.isClient = isClient
        self.options = options
        self.expectsPreface = expectsPreface ?? isClient
        phase = self.expectsPreface ? .preface : .header
        scratch.reserveCapacity(9)
    }

    public var isStopped: Bool { phase == .stopped }
    public enum PrefaceState: Sendable { case notExpected, pending, partial, verified, missing }

    /// Where the client connection preface stands.
    public var prefaceState: PrefaceState {
        if statistics.prefaceSeen { return .verified }
        if prefaceMissing { return .missing }
        if !expectsPreface { return .notExpected }
        return prefaceMatched > 0 ? .partial : .pending
    }

    // MARK: Input

    public mutating func feed(_ bytes: [UInt8], _ handler: (Event) -> Void) {
        bytes.withUnsafeBytes { feed($0, handler) }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ handler: (Event) -> Void) {
        var index = 0
        let count = bytes.count
        while index < count {
            let available = count - index
            switch phase {
            case .stopped:
                return
            case .preface:
                let expected = HTTP2.clientPreface
                while index < count && prefaceMatched < expected.count {
                    if bytes[index] != expected[prefaceMatched] {
                        var first = Array(expected[0..<prefaceMatched])
                        let take = min(count - index, expected.count - prefaceMatched)
                        first.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                        prefaceMissing = true
                        stop("client connection preface missing (mismatch at offset \(statistics.bytes))")
                        handler(.prefaceMismatch(firstBytes: first))
                        return
                    }
                    prefaceMatched += 1
                    index += 1
                    statistics.bytes &+= 1
                }
                if prefaceMatched == expected.count {
                    statistics.prefaceSeen = true
                    phase = .header
                    handler(.prefaceVerified)
                }
            case .header:
                let take = min(HTTP2.frameHeaderLength - scratch.count, available)
                scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                index += take
                statistics.bytes &+= UInt64(take)
                if scratch.count == HTTP2.frameHeaderLength, let parsed = HTTP2FrameHeader(scratch) {
                    scratch.removeAll(keepingCapacity: true)
                    startFrame(parsed, handler)
                }
            case .payload:
                let used = payloadStep(UnsafeRawBufferPointer(rebasing: bytes[index...]), handler)
                index += used
            }
        }
    }

    /// `length` bytes of this direction are missing.
    public mutating func gap(length: UInt64) {
        guard phase != .stopped else { return }
        if options.bridgeGapsInSkippedPayload, phase == .payload, case .skip = step,
           length <= UInt64(payloadRemaining) {
            payloadRemaining -= Int(length)
            statistics.bytes &+= length
            statistics.gapsBridged &+= 1
            if payloadRemaining == 0 { finishFrameQuietly() }
            return
        }
        stop("decoding stopped after a gap at offset \(statistics.bytes)")
    }

    /// The direction ended; notes a frame cut short.
    public mutating func finish() {
        if phase == .payload || (phase == .header && !scratch.isEmpty) {
            statistics.incompleteFrameAtEnd = true
        }
    }

    // MARK: Frames

    mutating func stop(_ reason: String) {
        phase = .stopped
        stopReason = reason
        blockBuffer = []
    }

    mutating func startFrame(_ frame: HTTP2FrameHeader, _ handler: (Event) -> Void) {
        if frame.length > options.maxFrameLength {
            stop("frame length \(frame.length) above the \(options.maxFrameLength) limit at offset \(statistics.bytes - 9)")
            return
        }
        header = frame
        payloadRemaining = frame.length
        phase = .payload
        step = .skip
        if frame.length > peerMaxFrameSize { statistics.oversizedFrames &+= 1 }
        let first = statistics.frames == 0 && !sawFrame
        sawFrame = true
        handler(.frameStart(frame))
        // RFC 9113 §3.4: each side's first frame is SETTINGS. Another first frame of an
        // unregistered type or beyond the frame size limit means these bytes are not HTTP/2.
        if first && frame.type != HTTP2FrameType.settings.rawValue
            && (frame.type > HTTP2FrameType.continuation.rawValue || frame.length > peerMaxFrameSize) {
            stop("first frame is not HTTP/2 framing (type 0x\(String(frame.type, radix: 16)), length \(frame.length))")
            return
        }

        if blockOpen && (frame.type != HTTP2FrameType.continuation.rawValue || frame.streamID != blockInfo.streamID) {
            statistics.malformedFrames &+= 1
            dropBlock("header block on stream \(blockInfo.streamID) interrupted by \(frame.typeName)", handler)
        }

        let flags = frame.flags
        let padded = flags & HTTP2Flags.padded != 0
        switch HTTP2FrameType(rawValue: frame.type) {
        case .headers:
            if frame.streamID == 0 { statistics.malformedFrames &+= 1 }
            noteStreamOpened(frame.streamID)
            openBlock(HTTP2HeaderBlockInfo(streamID: frame.streamID, frameType: .headers,
                                           endStream: flags & HTTP2Flags.endStream != 0))
            prefixLength = (padded ? 1 : 0) + (flags & HTTP2Flags.priority != 0 ? 5 : 0)
            beginPrefixedBlock(handler)
        case .pushPromise:
            if frame.streamID == 0 { statistics.malformedFrames &+= 1 }
            openBlock(HTTP2HeaderBlockInfo(streamID: frame.streamID, frameType: .pushPromise))
            prefixLength = (padded ? 1 : 0) + 4
            beginPrefixedBlock(handler)
        case .continuation:
            if blockOpen {
                beginFragment(frame.length, handler)
            } else {
                statistics.malformedFrames &+= 1
            }
        case .settings:
            if frame.streamID != 0 { statistics.malformedFrames &+= 1 }
            if flags & HTTP2Flags.ack != 0 {
                if frame.length != 0 { statistics.malformedFrames &+= 1 }
                handler(.settingsAck)
            } else if frame.length % 6 != 0 {
                statistics.malformedFrames &+= 1
            } else {
                step = .settings
            }
        case .goAway:
            if frame.streamID != 0 { statistics.malformedFrames &+= 1 }
            if frame.length >= 8 { step = .collect(8) } else { statistics.malformedFrames &+= 1 }
        case .rstStream:
            if frame.streamID == 0 { statistics.malformedFrames &+= 1 }
            if frame.length == 4 { step = .collect(4) } else { statistics.malformedFrames &+= 1 }
        case .windowUpdate:
            if frame.length != 4 { statistics.malformedFrames &+= 1 }
        case .ping:
            if frame.length != 8 || frame.streamID != 0 { statistics.malformedFrames &+= 1 }
        case .priority:
            if frame.length != 5 || frame.streamID == 0 { statistics.malformedFrames &+= 1 }
        case .data:
            if frame.streamID == 0 { statistics.malformedFrames &+= 1 }
        case nil:
            break
        }
        if payloadRemaining == 0 { completeFrame(handler) }
    }

    mutating func noteStreamOpened(_ streamID: UInt32) {
        // RFC 9113 §5.1.1: stream ids only grow; clients open odd ones, servers even ones.
        let ownParity: UInt32 = isClient ? 1 : 0
        guard streamID != 0, streamID & 1 == ownParity, streamID > statistics.highestStreamOpened else { return }
        statistics.highestStreamOpened = streamID
        statistics.streamsOpened &+= 1
    }

    mutating func openBlock(_ info: HTTP2HeaderBlockInfo) {
        blockOpen = true
        blockInfo = info
        blockBuffer.removeAll(keepingCapacity: true)
        blockOverflow = false
    }

    mutating func dropBlock(_ reason: String, _ handler: (Event) -> Void) {
        statistics.droppedHeaderBlocks &+= 1
        let streamID = blockInfo.streamID
        blockOpen = false
        blockOverflow = false
        blockBuffer.removeAll(keepingCapacity: true)
        handler(.headerBlockDropped(streamID: streamID, reason: reason))
    }

    mutating func beginPrefixedBlock(_ handler: (Event) -> Void) {
        if prefixLength > header.length {
            statistics.malformedFrames &+= 1
            dropBlock("\(header.typeName) frame shorter than its fixed fields", handler)
        } else if prefixLength > 0 {
            step = .collect(prefixLength)
        } else {
            beginFragment(header.length, handler)
        }
    }

    mutating func beginFragment(_ length: Int, _ handler: (Event) -> Void) {
        if length == 0 {
            fragmentDone(handler)
        } else {
            step = .fragment(length)
        }
    }

    /// The fragment of the current frame is complete: the block ends here with END_HEADERS.
    mutating func fragmentDone(_ handler: (Event) -> Void) {
        step = .skip
        guard header.flags & HTTP2Flags.endHeaders != 0, blockOpen else { return }
        if blockOverflow {
            dropBlock("header block larger than \(options.maxHeaderBlockBytes) bytes", handler)
            return
        }
        blockOpen = false
        let info = blockInfo
        blockBuffer.withUnsafeBytes { handler(.headerBlock(info, $0)) }
        blockBuffer.removeAll(keepingCapacity: true)
    }

    /// Fixed fields gathered in `scratch` for the current frame.
    mutating func collectDone(_ handler: (Event) -> Void) {
        switch HTTP2FrameType(rawValue: header.type) {
        case .headers, .pushPromise:
            let padLength = header.flags & HTTP2Flags.padded != 0 ? Int(scratch[0]) : 0
            if header.type == HTTP2FrameType.pushPromise.rawValue {
                let at = prefixLength - 4
                let promised = (UInt32(scratch[at]) << 24 | UInt32(scratch[at + 1]) << 16
                    | UInt32(scratch[at + 2]) << 8 | UInt32(scratch[at + 3])) & 0x7FFF_FFFF
                blockInfo.promisedStreamID = promised
                noteStreamOpened(promised)
            }
            scratch.removeAll(keepingCapacity: true)
            let fragmentLength = header.length - prefixLength - padLength
            if fragmentLength < 0 {
                statistics.malformedFrames &+= 1
                step = .skip
                dropBlock("\(header.typeName) padding longer than its payload", handler)
            } else {
                beginFragment(fragmentLength, handler)
            }
        case .goAway:
            let lastStream = (UInt32(scratch[0]) << 24 | UInt32(scratch[1]) << 16
                | UInt32(scratch[2]) << 8 | UInt32(scratch[3])) & 0x7FFF_FFFF
            let code = UInt32(scratch[4]) << 24 | UInt32(scratch[5]) << 16 | UInt32(scratch[6]) << 8 | UInt32(scratch[7])
            scratch.removeAll(keepingCapacity: true)
            statistics.goAway = (lastStream, code)
            step = .skip
            handler(.goAway(lastStreamID: lastStream, errorCode: code))
        case .rstStream:
            let code = UInt32(scratch[0]) << 24 | UInt32(scratch[1]) << 16 | UInt32(scratch[2]) << 8 | UInt32(scratch[3])
            scratch.removeAll(keepingCapacity: true)
            if code != 0 { statistics.rstStreamErrors &+= 1 }
            step = .skip
            handler(.rstStream(streamID: header.streamID, errorCode: code))
        default:
            scratch.removeAll(keepingCapacity: true)
            step = .skip
        }
    }

    /// Consumes payload bytes of the current frame; returns how many were used.
    mutating func payloadStep(_ bytes: UnsafeRawBufferPointer, _ handler: (Event) -> Void) -> Int {
        var index = 0
        while index < bytes.count && payloadRemaining > 0 && phase == .payload {
            let available = min(bytes.count - index, payloadRemaining)
            var used = 0
            switch step {
            case .collect(let wanted):
                used = min(wanted - scratch.count, available)
                scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + used)]))
                consume(used, &index)
                if scratch.count == wanted { collectDone(handler) }
            case .fragment(let wanted):
                used = min(wanted, available)
                if !blockOverflow {
                    if blockBuffer.count + used > options.maxHeaderBlockBytes {
                        blockOverflow = true
                        blockBuffer = []
                    } else {
                        blockBuffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + used)]))
                    }
                }
                consume(used, &index)
                if used == wanted { fragmentDone(handler) } else { step = .fragment(wanted - used) }
            case .settings:
                used = min(6 - scratch.count, available)
                scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + used)]))
                consume(used, &index)
                if scratch.count == 6 {
                    let setting = HTTP2Setting(sixBytes: scratch)
                    scratch.removeAll(keepingCapacity: true)
                    record(setting)
                    handler(.setting(setting))
                }
            case .skip:
                used = available
                consume(used, &index)
            }
        }
        if phase == .payload && payloadRemaining == 0 { completeFrame(handler) }
        return index
    }

    mutating func consume(_ count: Int, _ index: inout Int) {
        index += count
        payloadRemaining -= count
        statistics.bytes &+= UInt64(count)
    }

    mutating func record(_ setting: HTTP2Setting) {
        statistics.settingsEntries &+= 1
        if setting.id >= 1 && Int(setting.id) < statistics.settingsValues.count {
            statistics.settingsValues[Int(setting.id)] = setting.value
        } else {
            statistics.unknownSettings &+= 1
        }
        if setting.invalidReason != nil { statistics.invalidSettings &+= 1 }
    }

    mutating func completeFrame(_ handler: (Event) -> Void) {
        finishFrameQuietly()
        handler(.frameComplete(header))
    }

    mutating func finishFrameQuietly() {
        statistics.frames &+= 1
        statistics.framesByType[header.type < 10 ? Int(header.type) : 10] &+= 1
        scratch.removeAll(keepingCapacity: true)
        step = .skip
        phase = .header
    }
}
