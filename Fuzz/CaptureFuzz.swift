import PacketCapture
import PacketDecoding

/// libFuzzer target `capture`: CaptureFileReader(bytes:) reading every packet of a pcap or
/// pcapng file, once with the default 1 MiB buffer and once with the smallest (64 bytes, so
/// every record refills or grows it). Both reads must return the same packets and end the
/// same way; every packet is also decoded (from an exact-size copy, so ASan sees overreads).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCapture(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let large = read(bytes, bufferSize: CaptureFileReader.defaultBufferSize, decode: true)
    let small = read(bytes, bufferSize: 64, decode: false)
    fuzzCheck(large == small, "buffer size changed the result:\n\(large)\n\(small)")
    return 0
}

private struct ReadResult: Equatable, CustomStringConvertible {
    var opened: CaptureError?
    var packets: [PacketDigest] = []
    var error: CaptureError?
    var linkTypes: [LinkType] = []

    var description: String {
        "opened \(opened.map { "\($0)" } ?? "ok") packets \(packets.count) error \(error.map { "\($0)" } ?? "none")"
    }
}

private struct PacketDigest: Equatable {
    var frameNumber: UInt64
    var timestamp: Timestamp
    var linkType: LinkType
    var originalLength: Int
    var count: Int
    var hash: UInt64
}

private func read(_ bytes: [UInt8], bufferSize: Int, decode: Bool) -> ReadResult {
    var result = ReadResult()
    var reader: CaptureFileReader
    do {
        reader = try CaptureFileReader(bytes: bytes, name: "fuzz", bufferSize: bufferSize)
    } catch {
        result.opened = error
        return result
    }
    var decoder = PacketDecoder()
    var previousFrame: UInt64 = 0
    while true {
        let packet: CapturedPacket?
        do {
            packet = try reader.nextPacket()
        } catch {
            result.error = error
            // After an error later calls return nil.
            fuzzCheck((try? reader.nextPacket()) == nil, "a packet after an error")
            break
        }
        guard let packet else { break }
        fuzzCheck(packet.frameNumber == previousFrame + 1, "frame numbers not consecutive")
        previousFrame = packet.frameNumber
        fuzzCheck(packet.bytes.count <= bytes.count, "packet larger than the file")
        fuzzCheck(packet.originalLength >= 0, "negative original length")
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in packet.bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        result.packets.append(PacketDigest(frameNumber: packet.frameNumber, timestamp: packet.timestamp,
                                           linkType: packet.linkType, originalLength: packet.originalLength,
                                           count: packet.bytes.count, hash: hash))
        if decode {
            withExactCopy(packet.bytes) { copy in
                checkDecoded(decoder.decode(linkType: packet.linkType, bytes: copy,
                                            originalLength: packet.originalLength), in: copy)
            }
        }
        fuzzCheck(reader.bytesRead <= UInt64(bytes.count), "bytesRead beyond the input")
    }
    result.linkTypes = reader.linkTypes
    if decode { fuzzCheck(decoder.counters.total == UInt64(result.packets.count), "a packet counted twice or not at all") }
    return result
}
