import PacketCapture
import PacketDecoding

/// Link types the first input byte chooses from (index = byte % count); the last entry
/// means "the next two bytes are the raw value", to reach the unsupported-type path.
let fuzzLinkTypes: [UInt32] = [1, 101, 0, 108, 113, 228, 229, 276, 239, 12, 14, 0xFFFF_FFFF]

/// libFuzzer target `decode`: PacketDecoder.decode(linkType:bytes:originalLength:) on one
/// frame. Byte 0 picks the link type (`fuzzLinkTypes`); the rest is the frame, decoded as
/// captured whole and again as if the wire frame was longer (snaplen cut), from an
/// exact-size copy so AddressSanitizer catches any read past its end; and the header route of
/// `--jobs` workers (`PacketDecoder.route`) against the decoder's walk.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecode(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let choice = Int(input.byte()) % fuzzLinkTypes.count
    var raw = fuzzLinkTypes[choice]
    if raw == 0xFFFF_FFFF { raw = UInt32(input.uint16()) }
    let linkType = LinkType.fromFileValue(raw)
    let frame = input.rest()
    var decoder = PacketDecoder()
    withExactCopy(frame) { copy in
        // The header route (--jobs, --shard) must decide as the decoder's walk does.
        for original in [copy.count, copy.count + 1000, 0] {
            let packet = CapturedPacket(frameNumber: 1, timestamp: .zero, linkType: linkType, bytes: copy,
                                        originalLength: original)
            fuzzCheck(PacketDecoder.route(packet) == PacketDecoder.routeByWalk(packet), "route differs from the walk")
        }
        let whole = decoder.decode(linkType: linkType, bytes: copy, originalLength: copy.count)
        checkDecoded(whole, in: copy)
        let cut = decoder.decode(linkType: linkType, bytes: copy, originalLength: copy.count + 1000)
        checkDecoded(cut, in: copy)
        // Claiming a shorter wire length than captured must not matter.
        let short = decoder.decode(linkType: linkType, bytes: copy, originalLength: 0)
        checkDecoded(short, in: copy)
        if case .tcp(let a) = whole, case .tcp(let b) = short {
            fuzzCheck(a.payload.count == b.payload.count && a.missingPayloadLength == b.missingPayloadLength,
                      "original length below captured changed the segment")
        }
        if case .tcp(let a) = whole, case .tcp(let b) = cut {
            fuzzCheck(a.sequenceNumber == b.sequenceNumber && a.payload.count >= b.payload.count,
                      "snaplen cut changed the segment")
        }
    }
    fuzzCheck(decoder.counters.total == 3, "each decode counted once")
    return 0
}
