/// What one direction of an HTTP/2 connection carried. Fixed size whatever the traffic:
/// settings are kept as the last value per known parameter plus counts (a SETTINGS flood
/// costs nothing), frames as counts per type.
public struct HTTP2DirectionStatistics: Sendable, Equatable {
    /// Bytes consumed, the connection preface included.
    public internal(set) var bytes: UInt64 = 0
    public internal(set) var prefaceSeen = false
    /// Complete frames (header and whole payload seen).
    public internal(set) var frames: UInt64 = 0
    /// Complete frames by type: index 0...9 are DATA...CONTINUATION, index 10 any other type.
    public internal(set) var framesByType = [UInt64](repeating: 0, count: 11)
    /// Streams this endpoint opened: client HEADERS on new stream ids, server PUSH_PROMISE.
    public internal(set) var streamsOpened: UInt64 = 0
    public internal(set) var highestStreamOpened: UInt32 = 0
    /// Parameters seen in SETTINGS frames (counted, not stored).
    public internal(set) var settingsEntries: UInt64 = 0
    /// Last value seen per parameter id 1...9 (index = id).
    public internal(set) var settingsValues = [UInt32?](repeating: nil, count: 10)
    public internal(set) var unknownSettings: UInt64 = 0
    /// Settings whose value is not allowed (RFC 9113 §6.5.2).
    public internal(set) var invalidSettings: UInt64 = 0
    public internal(set) var goAway: (lastStreamID: UInt32, errorCode: UInt32)?
    public internal(set) var rstStreamErrors: UInt64 = 0
    /// Frames violating RFC 9113 §6 structure: wrong length for the type, wrong stream id,
    /// padding longer than the payload, CONTINUATION out of sequence.
    public internal(set) var malformedFrames: UInt64 = 0
    /// Frames longer than the receiver's SETTINGS_MAX_FRAME_SIZE.
    public internal(set) var oversizedFrames: UInt64 = 0
    /// Header blocks not handed on (over the size limit or malformed).
    public internal(set) var droppedHeaderBlocks: UInt64 = 0
    /// Gaps that fell inside a payload the decoder skips anyway, so framing was kept.
    public internal(set) var gapsBridged: UInt64 = 0
    public internal(set) var incompleteFrameAtEnd = false

    public init() {}

    public func count(of type: HTTP2FrameType) -> UInt64 { framesByType[Int(type.rawValue)] }

    /// Non-zero counts as `TYPE=n`, in type order.
    public var frameTypeTexts: [String] {
        var texts: [String] = []
        for (index, count) in framesByType.enumerated() where count > 0 {
            texts.append(index < 10 ? "\(HTTP2.frameTypeName(UInt8(index)))=\(count)" : "OTHER=\(count)")
        }
        return texts
    }

    /// Last value per parameter as `NAME=value`, in id order.
    public var settingsTexts: [String] {
        var texts: [String] = []
        for (id, value) in settingsValues.enumerated() {
            if let value { texts.append(HTTP2Setting(id: UInt16(id), value: value).text) }
        }
        return texts
    }

    public static func == (a: HTTP2DirectionStatistics, b: HTTP2DirectionStatistics) -> Bool {
        a.bytes == b.bytes && a.prefaceSeen == b.prefaceSeen && a.frames == b.frames
            && a.framesByType == b.framesByType && a.streamsOpened == b.streamsOpened
            && a.highestStreamOpened == b.highestStreamOpened && a.settingsEntries == b.settingsEntries
            && a.settingsValues == b.settingsValues && a.unknownSettings == b.unknownSettings
            && a.invalidSettings == b.invalidSettings && a.goAway?.lastStreamID == b.goAway?.lastStreamID
            && a.goAway?.errorCode == b.goAway?.errorCode && a.rstStreamErrors == b.rstStreamErrors
            && a.malformedFrames == b.malformedFrames && a.oversizedFrames == b.oversizedFrames
            && a.droppedHeaderBlocks == b.droppedHeaderBlocks && a.gapsBridged == b.gapsBridged
            && a.incompleteFrameAtEnd == b.incompleteFrameAtEnd
    }
}
