@testable import SwitchedProtocols
import XCTest

final class HTTP2FrameDecoderTests: XCTestCase {
    /// What a decoder reported, flattened for comparison.
    struct Trace: Equatable {
        var events: [String] = []
        var blocks: [[UInt8]] = []
    }

    func decode(_ bytes: [UInt8], isClient: Bool, chunks: [Int]? = nil,
                options: HTTP2FrameDecoder.Options = .init()) -> (HTTP2FrameDecoder, Trace) {
        var decoder = HTTP2FrameDecoder(isClient: isClient, options: options)
        var trace = Trace()
        func handle(_ event: HTTP2FrameDecoder.Event) {
            switch event {
            case .prefaceVerified: trace.events.append("preface")
            case .prefaceMismatch(let first): trace.events.append("mismatch \(first.count)")
            case .frameStart(let header): trace.events.append("start \(header.typeName) \(header.streamID) \(header.length)")
            case .frameComplete(let header): trace.events.append("end \(header.typeName)")
            case .headerBlock(let info, let block):
                trace.events.append("block \(info.frameType.name) \(info.streamID) \(info.promisedStreamID ?? 0) \(info.endStream)")
                trace.blocks.append(Array(block))
            case .headerBlockDropped(let stream, let reason): trace.events.append("dropped \(stream) \(reason)")
            case .setting(let setting): trace.events.append("setting \(setting.text)")
            case .settingsAck: trace.events.append("ack")
            case .goAway(let last, let code): trace.events.append("goaway \(last) \(code)")
            case .rstStream(let stream, let code): trace.events.append("rst \(stream) \(code)")
            }
        }
        var offset = 0
        for size in chunks ?? [bytes.count] {
            let end = min(bytes.count, offset + size)
            decoder.feed(Array(bytes[offset..<end]), handle)
            offset = end
        }
        if offset < bytes.count { decoder.feed(Array(bytes[offset...]), handle) }
        decoder.finish()
        return (decoder, trace)
    }

    /// A client stream exercising every payload path: preface, SETTINGS, WINDOW_UPDATE,
    /// padded+priority HEADERS split over CONTINUATION, DATA with padding, PING, RST_STREAM,
    /// PRIORITY, an unknown type, GOAWAY with debug data.
    static let clientStream: [UInt8] = {
        let block = hpackLiteral("x-long", String(repeating: "a", count: 40)) + [0x82, 0x84, 0x86]
        let firstPart = Array(block[0..<20]), secondPart = Array(block[20...])
        var bytes = HTTP2.clientPreface
        bytes += http2Frame(4, settingsPayload([(1, 8192), (2, 0), (4, 65535)]))
        bytes += http2Frame(8, [0, 0, 0x10, 0])
        // HEADERS, PADDED|PRIORITY, pad length 3, 5 priority bytes, fragment, padding.
        bytes += http2Frame(1, flags: 0x08 | 0x20 | 0x01, stream: 1, [3, 0, 0, 0, 0, 15] + firstPart + [0, 0, 0])
        bytes += http2Frame(9, flags: 0x04, stream: 1, secondPart)
        bytes += http2Frame(0, flags: 0x08, stream: 1, [2, 0x41, 0x42, 0, 0])
        bytes += http2Frame(6, [UInt8](repeating: 7, count: 8))
        bytes += http2Frame(3, stream: 1, [0, 0, 0, 8])
        bytes += http2Frame(2, stream: 3, [0, 0, 0, 1, 16])
        bytes += http2Frame(0xEE, stream: 0, [1, 2, 3])
        bytes += http2Frame(7, [0, 0, 0, 1, 0, 0, 0, 0x0B] + Array("calm down".utf8))
        return bytes
    }()

    static var clientBlock: [UInt8] { hpackLiteral("x-long", String(repeating: "a", count: 40)) + [0x82, 0x84, 0x86] }

    func testWholeStream() {
        let (decoder, trace) = decode(Self.clientStream, isClient: true)
        XCTAssertEqual(trace.events, [
            "preface",
            "start SETTINGS 0 18", "setting HEADER_TABLE_SIZE=8192", "setting ENABLE_PUSH=0",
            "setting INITIAL_WINDOW_SIZE=65535", "end SETTINGS",
            "start WINDOW_UPDATE 0 4", "end WINDOW_UPDATE",
            "start HEADERS 1 29", "end HEADERS",
            "start CONTINUATION 1 \(Self.clientBlock.count - 20)", "block HEADERS 1 0 true", "end CONTINUATION",
            "start DATA 1 5", "end DATA",
            "start PING 0 8", "end PING",
            "start RST_STREAM 1 4", "rst 1 8", "end RST_STREAM",
            "start PRIORITY 3 5", "end PRIORITY",
            "start UNKNOWN_0xee 0 3", "end UNKNOWN_0xee",
            "start GOAWAY 0 17", "goaway 1 11", "end GOAWAY",
        ])
        XCTAssertEqual(trace.blocks, [Self.clientBlock])
        let stats = decoder.statistics
        XCTAssertEqual(stats.frames, 10)
        XCTAssertEqual(stats.frameTypeTexts, ["DATA=1", "HEADERS=1", "PRIORITY=1", "RST_STREAM=1", "SETTINGS=1", "PING=1",
                                              "GOAWAY=1", "WINDOW_UPDATE=1", "CONTINUATION=1", "OTHER=1"])
        XCTAssertEqual(stats.streamsOpened, 1)
        XCTAssertEqual(stats.settingsTexts, ["HEADER_TABLE_SIZE=8192", "ENABLE_PUSH=0", "INITIAL_WINDOW_SIZE=65535"])
        XCTAssertEqual(stats.goAway?.errorCode, 11)
        XCTAssertEqual(stats.rstStreamErrors, 1)
        XCTAssertEqual(stats.malformedFrames, 0)
        XCTAssertEqual(stats.bytes, UInt64(Self.clientStream.count))
        XCTAssertTrue(stats.prefaceSeen)
        XCTAssertEqual(decoder.prefaceState, .verified)
        XCTAssertFalse(stats.incompleteFrameAtEnd)
        XCTAssertNil(decoder.stopReason)
    }

    /// Every split point, and byte-at-a-time, give the same events and statistics.
    func testEverySplitPointGivesTheSameResult() {
        let bytes = Self.clientStream
        let (reference, referenceTrace) = decode(bytes, isClient: true)
        for split in 1..<bytes.count {
            let (decoder, trace) = decode(bytes, isClient: true, chunks: [split])
            XCTAssertEqual(trace, referenceTrace, "split at \(split)")
            XCTAssertEqual(decoder.statistics, reference.statistics, "split at \(split)")
        }
        let (single, singleTrace) = decode(bytes, isClient: true, chunks: [Int](repeating: 1, count: bytes.count))
        XCTAssertEqual(singleTrace, referenceTrace)
        XCTAssertEqual(single.statistics, reference.statistics)
        // Three-way splits around the HEADERS/CONTINUATION region.
        for first in stride(from: 60, to: 140, by: 7) {
            for second in 1..<30 {
                let (decoder, trace) = decode(bytes, isClient: true, chunks: [first, second])
                XCTAssertEqual(trace, referenceTrace, "splits \(first), \(second)")
                XCTAssertEqual(decoder.statistics, reference.statistics)
            }
        }
    }

    func testPrefaceMismatchStopsDecoding() {
        let (decoder, trace) = decode(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), isClient: true)
        XCTAssertEqual(trace.events, ["mismatch 24"])
        XCTAssertEqual(decoder.prefaceState, .missing)
        XCTAssertTrue(decoder.isStopped)
        XCTAssertEqual(decoder.statistics.frames, 0)

        // "PRI * HTTP/2.0\r\n\r\nXX": mismatch at offset 18; the evidence is the matched part plus
        // what the chunk at hand holds.
        let (late, lateTrace) = decode(Array("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n".utf8), isClient: true, chunks: [5, 5, 5, 5])
        XCTAssertEqual(lateTrace.events, ["mismatch 20"])
        XCTAssertEqual(late.stopReason, "client connection preface missing (mismatch at offset 18)")

        let (partial, partialTrace) = decode(Array(HTTP2.clientPreface.prefix(10)), isClient: true)
        XCTAssertEqual(partialTrace.events, [])
        XCTAssertEqual(partial.prefaceState, .partial)
        XCTAssertFalse(partial.isStopped)
    }

    func testSettingsFloodCostsConstantMemory() {
        var decoder = HTTP2FrameDecoder(isClient: false)
        var settingEvents = 0
        let frame = http2Frame(4, settingsPayload([(1, 4096), (3, 100), (0x99, 1)]))
        var flood: [UInt8] = []
        for _ in 0..<1000 { flood += frame }
        for _ in 0..<20 {
            decoder.feed(flood) { if case .setting = $0 { settingEvents += 1 } }
        }
        let stats = decoder.statistics
        XCTAssertEqual(stats.count(of: .settings), 20_000)
        XCTAssertEqual(stats.settingsEntries, 60_000)
        XCTAssertEqual(stats.unknownSettings, 20_000)
        XCTAssertEqual(settingEvents, 60_000)
        XCTAssertEqual(stats.settingsTexts, ["HEADER_TABLE_SIZE=4096", "MAX_CONCURRENT_STREAMS=100"])
        XCTAssertEqual(stats.settingsValues.count, 10)
        XCTAssertLessThanOrEqual(decoder.scratch.capacity, 64)
        XCTAssertEqual(decoder.blockBuffer.capacity, 0)
    }

    func testHeaderBlockLimitDropsTheBlock() {
        var options = HTTP2FrameDecoder.Options()
        options.maxHeaderBlockBytes = 100
        let bytes = http2Frame(4) + http2Frame(1, stream: 1, [UInt8](repeating: 0x82, count: 80))
            + http2Frame(9, flags: 0x04, stream: 1, [UInt8](repeating: 0x82, count: 80))
            + http2Frame(1, flags: 0x04, stream: 3, [0x82])
        let (decoder, trace) = decode(bytes, isClient: false, options: options)
        XCTAssertTrue(trace.events.contains("dropped 1 header block larger than 100 bytes"))
        XCTAssertEqual(trace.blocks, [[0x82]], "later blocks still arrive; the session decides about HPACK")
        XCTAssertEqual(decoder.statistics.droppedHeaderBlocks, 1)
        XCTAssertLessThanOrEqual(decoder.blockBuffer.capacity, 200)
    }

    func testMalformedFramesAreCountedAndFramingKept() {
        let bytes = http2Frame(4, settingsPayload([(2, 5)]))      // invalid ENABLE_PUSH value
            + http2Frame(4, [1, 2, 3])                              // length not a multiple of 6
            + http2Frame(4, flags: 0x01, [0, 0, 0, 0, 0, 0])        // ACK with payload
            + http2Frame(8, stream: 0, [0, 0, 1])                   // WINDOW_UPDATE of 3 bytes
            + http2Frame(1, flags: 0x0C, stream: 1, [9, 0x82])      // pad length 9 > payload
            + http2Frame(9, flags: 0x04, stream: 1, [0x82])         // CONTINUATION without a block
            + http2Frame(1, stream: 3, [0x82])                      // block left open…
            + http2Frame(0, stream: 3, [1])                         // …and interrupted by DATA
            + http2Frame(0, stream: 0, [])                          // DATA on stream 0
            + http2Frame(6, [1])                                    // short PING
            + http2Frame(7, [0, 0])                                 // short GOAWAY
        let (decoder, trace) = decode(bytes, isClient: false)
        let stats = decoder.statistics
        XCTAssertEqual(stats.frames, 11)
        XCTAssertEqual(stats.invalidSettings, 1)
        XCTAssertEqual(stats.malformedFrames, 9)
        XCTAssertEqual(stats.droppedHeaderBlocks, 2)
        XCTAssertTrue(trace.events.contains("dropped 1 HEADERS padding longer than its payload"))
        XCTAssertTrue(trace.events.contains("dropped 3 header block on stream 3 interrupted by DATA"))
        XCTAssertTrue(trace.blocks.isEmpty)
        XCTAssertNil(decoder.stopReason)
    }

    func testPushPromiseOpensServerStreams() {
        let bytes = http2Frame(4)
            + http2Frame(5, flags: 0x04 | 0x08, stream: 1, [2, 0, 0, 0, 2, 0x82, 0x87, 0, 0])
            + http2Frame(1, flags: 0x04, stream: 2, [0x88])
        let (decoder, trace) = decode(bytes, isClient: false)
        XCTAssertEqual(trace.blocks, [[0x82, 0x87], [0x88]])
        XCTAssertTrue(trace.events.contains("block PUSH_PROMISE 1 2 false"))
        XCTAssertEqual(decoder.statistics.streamsOpened, 1)
        XCTAssertEqual(decoder.statistics.highestStreamOpened, 2)
    }

    func testGapStopsDecodingExceptInsideSkippedPayload() {
        var decoder = HTTP2FrameDecoder(isClient: false)
        decoder.feed(http2Frame(4) + Array(http2Frame(0, stream: 1, [UInt8](repeating: 1, count: 100)).prefix(30))) { _ in }
        decoder.gap(length: 50)                  // inside the DATA payload: bridged
        XCTAssertNil(decoder.stopReason)
        decoder.feed([UInt8](repeating: 1, count: 29) + http2Frame(8, stream: 0, [0, 0, 0, 1])) { _ in }
        XCTAssertEqual(decoder.statistics.frames, 3)
        XCTAssertEqual(decoder.statistics.gapsBridged, 1)
        decoder.gap(length: 10)                  // at a frame boundary: framing is lost
        XCTAssertEqual(decoder.stopReason, "decoding stopped after a gap at offset 131")
        decoder.feed(http2Frame(4)) { _ in XCTFail("no events after stopping") }
        XCTAssertEqual(decoder.statistics.frames, 3)

        var strict = HTTP2FrameDecoder(isClient: false)
        strict.feed(Array(http2Frame(1, stream: 1, [0x82, 0x84]).prefix(10))) { _ in }
        strict.gap(length: 1)                    // inside a header block: stop
        XCTAssertEqual(strict.stopReason, "decoding stopped after a gap at offset 10")
    }

    func testImplausibleFirstFrameStops() {
        // The server answered with HTTP/1.1 after all: "HTT" is a 4.7 MB frame of type 0x50 ('P').
        let (decoder, trace) = decode(Array("HTTP/1.1 200 OK\r\n\r\n".utf8), isClient: false)
        XCTAssertEqual(trace.events, ["start UNKNOWN_0x50 \(0x312E3120 as UInt32) 4740180"])
        XCTAssertEqual(decoder.stopReason, "first frame is not HTTP/2 framing (type 0x50, length 4740180)")
        // A plausible non-SETTINGS first frame is decoded on (the session reports it).
        let (headersFirst, _) = decode(http2Frame(1, flags: 0x04, stream: 1, [0x88]), isClient: false)
        XCTAssertNil(headersFirst.stopReason)
        XCTAssertEqual(headersFirst.statistics.frames, 1)
    }

    func testFrameLengthLimitAndOversizedFrames() {
        var options = HTTP2FrameDecoder.Options()
        options.maxFrameLength = 1000
        let (limited, _) = decode(http2Frame(4) + http2Frame(0, stream: 1, [UInt8](repeating: 0, count: 1001)),
                                  isClient: false, options: options)
        XCTAssertEqual(limited.stopReason, "frame length 1001 above the 1000 limit at offset 9")
        XCTAssertEqual(limited.statistics.frames, 1)

        let (oversized, _) = decode(http2Frame(4) + http2Frame(0, stream: 1, [UInt8](repeating: 0, count: 20_000)),
                                    isClient: false)
        XCTAssertEqual(oversized.statistics.oversizedFrames, 1)
        XCTAssertEqual(oversized.statistics.frames, 2)
    }

    func testIncompleteFrameAtEnd() {
        let (decoder, _) = decode(http2Frame(4) + Array(http2Frame(0, stream: 1, [1, 2, 3]).prefix(10)), isClient: false)
        XCTAssertTrue(decoder.statistics.incompleteFrameAtEnd)
        XCTAssertEqual(decoder.statistics.frames, 1)
        let (header, _) = decode(http2Frame(4) + [0, 0], isClient: false)
        XCTAssertTrue(header.statistics.incompleteFrameAtEnd)
    }
}
