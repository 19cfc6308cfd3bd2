import Inflate

/// What the frame decoder reports, in stream order.
public enum WebSocketFrameEvent: Sendable, Equatable {
    /// A header was read; its payload follows.
    case frameStart(WebSocketFrameHeader)
    /// A rule broken by this frame (header issues right after `frameStart`, payload issues
    /// when met, close and end-of-message issues just before `frameEnd`).
    case issue(WebSocketFrameIssue, WebSocketFrameHeader)
    /// The frame's payload is complete. For control frames `controlPayload` now holds the
    /// (unmasked) payload, its first 125 bytes at most.
    case frameEnd(WebSocketFrameHeader)
    /// A data message ended with this frame (FIN). `compressed`: its first frame set RSV bits
    /// of a negotiated extension (permessage-deflate); its text was validated only if it was
    /// inflated (`WebSocketFrameDecoder.inflatedMessages`).
    case messageEnd(opcode: UInt8, length: UInt64, compressed: Bool)
    /// A gap outside a payload of known length: the decoder lost frame sync at `offset` and
    /// ignores the rest of this direction.
    case decodingStopped(offset: UInt64)
}

/// Decodes one direction of a WebSocket connection (RFC 6455 §5) from chunks of any size:
/// frames may be split at any byte, many may share a chunk.
///
/// Pull-style: call `next(in:at:)` with the chunk until it returns nil. Headers are parsed in
/// place (copied into a 14-byte inline buffer only when split across chunks); payload bytes
/// are not copied, except control payloads (at most 125 bytes, for close codes and reasons).
/// Text payloads are unmasked on the fly while validated, so a data frame costs no heap
/// allocation and a declared 2^63-byte payload is only a counter.
///
/// permessage-deflate (RFC 7692): when `Configuration.inflation` is set, a message whose first
/// frame has RSV1 is unmasked into a 4 KiB buffer and inflated, with the empty-block tail
/// 00 00 ff ff appended at its end (§7.2.2); the UTF-8 check and the first-message bytes then
/// apply to the inflated text. The inflater is made at the first compressed message.
/// Not `Sendable`: it owns that inflater (a class); each decoder stays on its thread.
public struct WebSocketFrameDecoder {
    public struct Configuration: Sendable, Equatable {
        /// Client frames must be masked, server frames must not (RFC 6455 §5.1).
        public var fromClient: Bool
        /// RSV bits some negotiated extension defines (see `WebSocketNegotiation.allowedRSVBits`).
        public var allowedRSVBits: UInt8
        /// permessage-deflate is the only extension: RSV1 is legal on first data frames only.
        public var permessageDeflateOnly: Bool

        /// Inflate compressed messages (permessage-deflate); nil: count them only.
        public var inflation: WebSocketInflation?

        public init(fromClient: Bool, allowedRSVBits: UInt8 = 0, permessageDeflateOnly: Bool = false,
                    inflation: WebSocketInflation? = nil) {
            self.fromClient = fromClient
            self.allowedRSVBits = allowedRSVBits
            self.permessageDeflateOnly = permessageDeflateOnly
            self.inflation = inflation
        }

        public init(fromClient: Bool, negotiation: WebSocketNegotiation,
                    maxInflatedMessageBytes: Int = WebSocketInflation.defaultMaxMessageBytes) {
            self.init(fromClient: fromClient, allowedRSVBits: negotiation.allowedRSVBits,
                      permessageDeflateOnly: negotiation.permessageDeflate != nil && !negotiation.hasUnknownExtension,
                      inflation: WebSocketInflation(fromClient: fromClient, negotiation: negotiation,
                                                    maxMessageBytes: maxInflatedMessageBytes))
        }
    }

    public let configuration: Configuration

    /// Bytes of this direction consumed so far, gaps included.
    public private(set) var offset: UInt64 = 0
    /// Where sync was lost, once it was.
    public private(set) var stoppedAt: UInt64?
    /// The frame whose payload is being read, if any.
    public private(set) var current: WebSocketFrameHeader?
    /// Bytes of `current`'s payload not yet seen.
    public private(set) var remaining: UInt64 = 0
    /// Bytes of a header split across chunks, waiting for the rest.
    public var partialHeaderBytes: Int { headerCount }

    // Header split across chunks.
    private var headerBuffer: (UInt64, UInt64) = (0, 0)
    private var headerCount = 0
    private var payloadPosition: UInt64 = 0

    // Control payload (≤ 125 bytes kept) and close-reason validation.
    private var controlBuffer: [UInt8]
    private var controlLost = false
    private var controlLength: UInt64 = 0
    private var closeValidator = UTF8Validator()

    // The data message in progress (RFC 6455 §5.4).
    private var messageOpcode: UInt8?
    private var messageLength: UInt64 = 0
    private var messageTransformed = false
    private var messageValidating = false
    private var messageValidator = UTF8Validator()
    private var frameOrphan = false
    /// The first bytes of the first uncompressed data message, unmasked (what a tunnel inside
    /// WebSocket starts with: an SSH banner, a TLS ClientHello, an HTTP request).
    public private(set) var firstMessageBytes: [UInt8] = []
    private var firstMessageDone = false
    public static let firstMessageBytesKept = 64

    // permessage-deflate.
    private let inflaterMemory: InflaterMemoryBudget?
    private var messageInflater: MessageInflater?
    /// The current message is being inflated.
    private var messageInflating = false
    private var messageInflatedBytes: UInt64 = 0
    private var messageCompressedStart: UInt64 = 0
    /// Compressed messages inflated to their end, and their inflated bytes.
    public private(set) var inflatedMessages: UInt64 = 0
    public private(set) var inflatedBytes: UInt64 = 0
    /// Why this direction stopped inflating (a failure with context takeover loses the window
    /// every later message builds on), with the stream offset; nil while it inflates.
    public private(set) var inflationStopped: String?

    private var closeSent = false
    private var dataAfterCloseReported = false
    private var previousMaskKey: UInt32?

    // Events waiting to be returned (a step can produce several); reused, never shrinks.
    private var pending: [WebSocketFrameEvent] = []
    private var pendingHead = 0

    public init(configuration: Configuration, inflaterMemory: InflaterMemoryBudget? = nil) {
        self.configuration = configuration
        self.inflaterMemory = inflaterMemory
        controlBuffer = []
        controlBuffer.reserveCapacity(125)
        pending.reserveCapacity(16)
    }

    public init(fromClient: Bool) {
        self.init(configuration: Configuration(fromClient: fromClient))
    }

    /// The current or last control frame's payload, unmasked, at most 125 bytes.
    public var controlPayload: [UInt8] { controlBuffer }

    /// True when the last control payload is only part of the frame's (gap or > 125 bytes).
    public var controlPayloadIncomplete: Bool { controlLost || controlLength > 125 }

    public var isStopped: Bool { stoppedAt != nil }

    /// A fragmented message is open (its final frame not yet seen).
    public var inFragmentedMessage: Bool { messageOpcode != nil }

    // MARK: Feeding

    /// The next event from `bytes[index...]`, advancing `index`; nil once the chunk is used up
    /// (call again with the next chunk). Pending events from `gap` come out first.
    public mutating func next(in bytes: UnsafeRawBufferPointer, at index: inout Int) -> WebSocketFrameEvent? {
        while true {
            if let event = popPending() { return event }
            guard index < bytes.count else { return nil }
            if stoppedAt != nil {
                offset &+= UInt64(bytes.count - index)
                index = bytes.count
                return nil
            }
            if current != nil {
                consumePayload(bytes, &index)
            } else {
                consumeHeader(bytes, &index)
            }
        }
    }

    /// Events left by `gap(length:)`.
    public mutating func nextPendingEvent() -> WebSocketFrameEvent? {
        popPending()
    }

    /// `length` bytes of this direction are missing. Inside a payload of known length they are
    /// skipped (text validation of that message is given up); anywhere else sync is lost and
    /// the decoder stops (`decodingStopped`). Drain events with `nextPendingEvent()`.
    public mutating func gap(length: UInt64) {
        guard length > 0, stoppedAt == nil else {
            offset &+= length
            return
        }
        if let header = current, headerCount == 0, length <= remaining {
            offset &+= length
            remaining -= length
            payloadPosition &+= length
            if header.isControl { controlLost = true }
            if header.isData && !frameOrphan {
                messageValidating = false
                messageLength &+= length
                if messageInflating { stopInflating("a gap inside a compressed message at offset \(offset &- length)") }
            }
            if remaining == 0 { finishFrame(header) }
            return
        }
        stoppedAt = offset
        push(.decodingStopped(offset: offset))
        offset &+= length
        current = nil
        headerCount = 0
    }

    /// Convenience for tests: every event from one chunk.
    public mutating func decode(_ bytes: [UInt8]) -> [WebSocketFrameEvent] {
        var events: [WebSocketFrameEvent] = []
        bytes.withUnsafeBytes { raw in
            var index = 0
            while let event = next(in: raw, at: &index) { events.append(event) }
        }
        return events
    }

    // MARK: Header

    private mutating func consumeHeader(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) {
        let available = bytes.count - index
        if headerCount == 0 && available >= 2 {
            let needed = WebSocketFrameHeader.headerLength(secondByte: bytes[index + 1])
            if available >= needed,
               let header = WebSocketFrameHeader.parse(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + needed)]),
                                                      offset: offset) {
                index += needed
                offset &+= UInt64(needed)
                startFrame(header)
                return
            }
        }
        // Split header: gather it in the inline buffer.
        withUnsafeMutableBytes(of: &headerBuffer) { buffer in
            let needed = headerCount >= 2 ? WebSocketFrameHeader.headerLength(secondByte: buffer[1]) : 2
            let take = min(needed - headerCount, bytes.count - index)
            for i in 0..<take { buffer[headerCount + i] = bytes[index + i] }
            headerCount += take
            index += take
            offset &+= UInt64(take)
        }
        guard headerCount >= 2 else { return }
        let header = withUnsafeBytes(of: headerBuffer) { buffer in
            WebSocketFrameHeader.parse(UnsafeRawBufferPointer(rebasing: buffer[0..<headerCount]),
                                       offset: offset &- UInt64(headerCount))
        }
        if let header {
            headerCount = 0
            startFrame(header)
        }
    }

    private mutating func startFrame(_ header: WebSocketFrameHeader) {
        current = header
        remaining = header.payloadLength
        payloadPosition = 0
        push(.frameStart(header))

        // Masking (RFC 6455 §5.1, §5.3).
        if configuration.fromClient {
            if !header.masked {
                push(.issue(.unmaskedClientFrame, header))
            } else if header.maskKey == 0 {
                push(.issue(.zeroMaskKey, header))
            } else if previousMaskKey == header.maskKey {
                push(.issue(.repeatedMaskKey(header.maskKey), header))
            }
            if header.masked { previousMaskKey = header.maskKey }
        } else if header.masked {
            push(.issue(.maskedServerFrame, header))
        }

        // RSV bits (RFC 6455 §5.2; RFC 7692 §6.1).
        if header.rsv != 0 {
            let unnegotiated = header.rsv & ~configuration.allowedRSVBits
            if unnegotiated != 0 {
                push(.issue(.rsvBits(bits: unnegotiated, negotiated: false), header))
            } else if configuration.permessageDeflateOnly && header.rsv & 0b100 != 0 && (header.isControl || header.opcode == 0) {
                push(.issue(.rsvBits(bits: 0b100, negotiated: true), header))
            }
        }
        if header.isReservedOpcode { push(.issue(.reservedOpcode(header.opcode), header)) }

        // Length encoding (RFC 6455 §5.2).
        if header.extendedLengthBytes == 2 && header.payloadLength < 126 {
            push(.issue(.nonMinimalLength(length: header.payloadLength, lengthBytes: 2), header))
        } else if header.extendedLengthBytes == 8 {
            if header.payloadLength >> 63 != 0 {
                push(.issue(.lengthTopBitSet(length: header.payloadLength), header))
            } else if header.payloadLength <= 0xFFFF {
                push(.issue(.nonMinimalLength(length: header.payloadLength, lengthBytes: 8), header))
            }
        }

        if header.isControl {
            // RFC 6455 §5.5.
            if header.payloadLength > 125 { push(.issue(.controlFrameTooLong(length: header.payloadLength), header)) }
            if !header.fin { push(.issue(.fragmentedControlFrame, header)) }
            controlBuffer.removeAll(keepingCapacity: true)
            controlLost = false
            controlLength = header.payloadLength
            closeValidator.reset()
        } else if header.isData {
            if closeSent && !dataAfterCloseReported {
                dataAfterCloseReported = true
                push(.issue(.dataAfterClose, header))
            }
            frameOrphan = false
            if header.opcode == 0 {
                if messageOpcode == nil {
                    frameOrphan = true
                    push(.issue(.continuationWithoutStart, header))
                }
            } else {
                if let open = messageOpcode { push(.issue(.dataFrameInsideMessage(openOpcode: open), header)) }
                messageOpcode = header.opcode
                messageLength = 0
                messageTransformed = header.rsv & configuration.allowedRSVBits != 0
                messageInflating = false
                if messageTransformed && header.rsv & 0b100 != 0, let inflation = configuration.inflation {
                    startInflating(inflation, header)
                }
                messageValidating = header.opcode == 1 && (!messageTransformed || messageInflating)
                messageValidator.reset()
            }
        }
        if header.opcode == 8 { closeSent = true }
        if remaining == 0 { finishFrame(header) }
    }

    // MARK: Payload

    private mutating func consumePayload(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) {
        guard let header = current else { return }
        let available = UInt64(bytes.count - index)
        let count = Int(min(remaining, available))
        let slice = UnsafeRawBufferPointer(rebasing: bytes[index..<(index + count)])
        let phase = Int(payloadPosition & 3)
        if header.isControl {
            // Keep (unmasked) what fits in 125 bytes.
            let keep = min(count, 125 - controlBuffer.count)
            if keep > 0 && !controlLost {
                for i in 0..<keep { controlBuffer.append(slice[i] ^ maskByte(header.maskKey, phase + i)) }
            }
            if header.opcode == 8 && payloadPosition &+ UInt64(count) > 2 && !controlLost {
                let skip = payloadPosition >= 2 ? 0 : Int(2 - payloadPosition)
                let reason = UnsafeRawBufferPointer(rebasing: slice[skip...])
                closeValidator.validate(reason, maskKey: header.maskKey, maskPhase: (phase + skip) & 3)
            }
        } else if header.isData && !frameOrphan && messageInflating {
            messageLength &+= UInt64(count)
            inflate(slice, maskKey: header.maskKey, maskPhase: phase, header)
        } else if header.isData && !frameOrphan {
            if !firstMessageDone && !messageTransformed && firstMessageBytes.count < Self.firstMessageBytesKept {
                let keep = min(count, Self.firstMessageBytesKept - firstMessageBytes.count)
                for i in 0..<keep { firstMessageBytes.append(slice[i] ^ maskByte(header.maskKey, phase + i)) }
            }
            messageLength &+= UInt64(count)
            if messageValidating && messageValidator.isValid {
                if !messageValidator.validate(slice, maskKey: header.maskKey, maskPhase: phase) {
                    push(.issue(.invalidUTF8(offset: messageValidator.failureOffset ?? 0, inCloseReason: false), header))
                }
            }
        }
        index += count
        offset &+= UInt64(count)
        remaining -= UInt64(count)
        payloadPosition &+= UInt64(count)
        if remaining == 0 { finishFrame(header) }
    }

    private mutating func finishFrame(_ header: WebSocketFrameHeader) {
        if header.opcode == 8 && !controlLost {
            if header.payloadLength == 1 {
                push(.issue(.closeOneBytePayload, header))
            } else if header.payloadLength >= 2 && controlBuffer.count >= 2 {
                let code = UInt16(controlBuffer[0]) << 8 | UInt16(controlBuffer[1])
                let validity = WebSocketCloseCode.validity(code)
                if validity != .valid { push(.issue(.closeCode(code: code, validity: validity), header)) }
                if !closeValidator.finish() {
                    push(.issue(.invalidUTF8(offset: closeValidator.failureOffset ?? 0, inCloseReason: true), header))
                }
            }
        }
        let endsMessage = header.isData && !frameOrphan && header.fin
        if endsMessage && messageInflating { finishInflating(header) }
        if endsMessage && messageValidating && messageValidator.isValid && !messageValidator.finish() {
            push(.issue(.invalidUTF8(offset: messageValidator.failureOffset ?? 0, inCloseReason: false), header))
        }
        push(.frameEnd(header))
        if endsMessage, let opcode = messageOpcode {
            push(.messageEnd(opcode: opcode, length: messageLength, compressed: messageTransformed))
            if !firstMessageBytes.isEmpty { firstMessageDone = true }
            messageOpcode = nil
        }
        current = nil
        frameOrphan = false
    }

    // MARK: permessage-deflate (RFC 7692 §7.2.2)

    private mutating func startInflating(_ inflation: WebSocketInflation, _ header: WebSocketFrameHeader) {
        guard inflationStopped == nil else { return }
        if messageInflater == nil {
            guard let made = MessageInflater(inflation, budget: inflaterMemory) else {
                inflationStopped = "the inflater memory limit was reached at offset \(header.offset)"
                push(.issue(.inflaterMemoryExhausted(limit: inflaterMemory?.limit ?? 0), header))
                return
            }
            messageInflater = made
        }
        guard let inflater = messageInflater?.inflater else { return }
        if !inflation.contextTakeover {
            inflater.reset()
        } else if inflater.isFinished {
            // The previous message ended with a BFINAL block: a new stream, same window.
            inflater.reset(keepingWindow: true)
        }
        messageInflating = true
        messageInflatedBytes = 0
        messageCompressedStart = inflater.totalIn
    }

    /// Unmasks `slice` piece by piece into the scratch buffer and inflates it.
    private mutating func inflate(_ slice: UnsafeRawBufferPointer, maskKey: UInt32, maskPhase: Int,
                                  _ header: WebSocketFrameHeader) {
        guard let messageInflater else { return }
        let scratch = messageInflater.scratch
        var done = 0
        while done < slice.count && messageInflating {
            let count = min(slice.count - done, MessageInflater.scratchSize)
            // Eight bytes at a time: the key repeated from this piece's phase, in memory order.
            var pattern: UInt64 = 0
            withUnsafeMutableBytes(of: &pattern) { raw in
                for j in 0..<8 { raw[j] = maskByte(maskKey, maskPhase + done + j) }
            }
            var i = 0
            while count - i >= 8 {
                let word = slice.loadUnaligned(fromByteOffset: done + i, as: UInt64.self) ^ pattern
                scratch.storeBytes(of: word, toByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < count {
                scratch[i] = slice[done + i] ^ maskByte(maskKey, maskPhase + done + i)
                i += 1
            }
            done += count
            inflatePiece(UnsafeRawBufferPointer(rebasing: scratch[0..<count]), header)
        }
    }

    private static let emptyBlockTail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    /// The message's last frame ended: the sender removed the tail of its sync flush, the
    /// receiver appends it (RFC 7692 §7.2.2).
    private mutating func finishInflating(_ header: WebSocketFrameHeader) {
        Self.emptyBlockTail.withUnsafeBytes { inflatePiece($0, header) }
        guard messageInflating else { return }
        messageInflating = false
        inflatedMessages &+= 1
    }

    private mutating func inflatePiece(_ piece: UnsafeRawBufferPointer, _ header: WebSocketFrameHeader) {
        guard let messageInflater, let inflation = configuration.inflation else { return }
        let inflater = messageInflater.inflater
        let budget = UInt64(inflation.maxMessageBytes)
        let attempt = Result { () throws(InflateError) in
            try inflater.inflate(piece, maxOutput: Int(clamping: budget &- messageInflatedBytes)) { output in
                acceptInflated(output, header)
            }
        }
        switch attempt {
        case .success(let result):
            if result.status == .outputLimitReached {
                push(.issue(.decompressionBomb(limit: inflation.maxMessageBytes,
                                               compressedBytes: inflater.totalIn &- messageCompressedStart), header))
                abandonMessage(inflation, "a message exceeded the inflated-size budget at offset \(header.offset)")
            }
            // .streamEnd: a BFINAL block ended the message's stream; bytes after it are ignored
            // (RFC 7692 §7.2.3.4 lets them be padding), the next message starts a new stream.
        case .failure(let error):
            push(.issue(.inflateFailed(error.kind, messageOffset: error.offset &- messageCompressedStart), header))
            abandonMessage(inflation, "inflation failed at offset \(header.offset)")
        }
    }

    private mutating func acceptInflated(_ output: UnsafeRawBufferPointer, _ header: WebSocketFrameHeader) {
        messageInflatedBytes &+= UInt64(output.count)
        inflatedBytes &+= UInt64(output.count)
        if !firstMessageDone && firstMessageBytes.count < Self.firstMessageBytesKept {
            firstMessageBytes.append(contentsOf: output.prefix(Self.firstMessageBytesKept - firstMessageBytes.count))
        }
        if messageValidating && messageValidator.isValid && !messageValidator.validate(output) {
            push(.issue(.invalidUTF8(offset: messageValidator.failureOffset ?? 0, inCloseReason: false), header))
        }
    }

    /// The rest of this message is not inflated (nor its text checked); with context takeover
    /// no later message of this direction can be either.
    private mutating func abandonMessage(_ inflation: WebSocketInflation, _ reason: String) {
        messageInflating = false
        messageValidating = false
        if inflation.contextTakeover { inflationStopped = reason }
    }

    private mutating func stopInflating(_ reason: String) {
        guard let inflation = configuration.inflation else { return }
        abandonMessage(inflation, reason)
    }

    @inline(__always)
    private func maskByte(_ key: UInt32, _ position: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: key >> UInt32(24 - 8 * (position & 3)))
    }

    private mutating func push(_ event: WebSocketFrameEvent) {
        pending.append(event)
    }

    private mutating func popPending() -> WebSocketFrameEvent? {
        guard pendingHead < pending.count else { return nil }
        let event = pending[pendingHead]
        pendingHead += 1
        if pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        }
        return event
    }
}
