import PacketDecoding

/// A segment's payload must lie inside the frame it came from.
func checkDecoded(_ outcome: DecodeOutcome, in frame: UnsafeRawBufferPointer) {
    guard case .tcp(let segment) = outcome else { return }
    fuzzCheck(segment.missingPayloadLength >= 0, "negative missing payload")
    if segment.payload.isEmpty { return }
    guard let start = segment.payload.baseAddress, let frameStart = frame.baseAddress else {
        fuzzCheck(false, "payload without an address")
        return
    }
    fuzzCheck(start >= frameStart && start + segment.payload.count <= frameStart + frame.count,
              "payload outside the frame")
}
