import SwitchedProtocols
import XCTest

final class WebSocketFrameDecoderTests: XCTestCase {
    struct Case {
        var name: String
        var fromClient: Bool
        var bytes: [UInt8]
        var frames: Int
        var issues: [WebSocketFrameIssue]
        var configuration: WebSocketFrameDecoder.Configuration?
    }

    static let key: UInt32 = 0x37FA_213D
    static let euro: [UInt8] = [0xE2, 0x82, 0xAC]  // U+20AC
    static let pileOfPoo: [UInt8] = [0xF0, 0x9F, 0x92, 0xA9]  // U+1F4A9
    static let deflate = WebSocketFrameDecoder.Configuration(fromClient: false, allowedRSVBits: 0b100, permessageDeflateOnly: true)

    static let cases: [Case] = [
        // RFC 6455 §5.7 examples.
        Case(name: "unmasked Hello", fromClient: false, bytes: [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], frames: 1, issues: []),
        Case(name: "masked Hello", fromClient: true,
             bytes: [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58], frames: 1, issues: []),
        Case(name: "fragmented Hello", fromClient: false,
             bytes: [0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F], frames: 2, issues: []),
        Case(name: "ping and masked pong", fromClient: false, bytes: [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], frames: 1, issues: []),
        Case(name: "7/16/64-bit lengths", fromClient: false,
             bytes: frame(2, Array(repeating: 7, count: 125)) + frame(2, Array(repeating: 8, count: 126))
                 + frame(2, Array(repeating: 9, count: 65535)) + frame(2, Array(repeating: 10, count: 65536)),
             frames: 4, issues: []),
        Case(name: "16-bit length for 5 bytes", fromClient: false, bytes: frame(2, [1, 2, 3, 4, 5], lengthBytes: 2),
             frames: 1, issues: [.nonMinimalLength(length: 5, lengthBytes: 2)]),
        Case(name: "64-bit length for 200 bytes", fromClient: false, bytes: frame(2, Array(repeating: 0, count: 200), lengthBytes: 8),
             frames: 1, issues: [.nonMinimalLength(length: 200, lengthBytes: 8)]),
        Case(name: "64-bit length for 65535 bytes", fromClient: false,
             bytes: frame(2, Array(repeating: 0, count: 65535), lengthBytes: 8),
             frames: 1, issues: [.nonMinimalLength(length: 65535, lengthBytes: 8)]),
        Case(name: "7-bit length 0", fromClient: false, bytes: frame(2) + frame(9) + frame(10), frames: 3, issues: []),
        Case(name: "ping of 126 bytes", fromClient: false, bytes: frame(9, Array(repeating: 0x61, count: 126)),
             frames: 1, issues: [.controlFrameTooLong(length: 126)]),
        Case(name: "fragmented ping", fromClient: false, bytes: frame(9, [1], fin: false),
             frames: 1, issues: [.fragmentedControlFrame]),
        Case(name: "continuation without start", fromClient: false, bytes: frame(0, [1, 2]),
             frames: 1, issues: [.continuationWithoutStart]),
        Case(name: "text inside fragmented binary", fromClient: false,
             bytes: frame(2, [1], fin: false) + text("x") + frame(0, [2]),
             frames: 3, issues: [.dataFrameInsideMessage(openOpcode: 2), .continuationWithoutStart]),
        Case(name: "ping between fragments", fromClient: false,
             bytes: text("MALWARE", fin: false) + frame(9, [1]) + frame(0, Array(" cmd".utf8)), frames: 3, issues: []),
        Case(name: "reserved opcodes", fromClient: false, bytes: frame(3, [1]) + frame(0xB),
             frames: 2, issues: [.reservedOpcode(3), .reservedOpcode(0xB)]),
        Case(name: "RSV1 without extension", fromClient: false, bytes: frame(1, Array("hi".utf8), rsv: 0b100),
             frames: 1, issues: [.rsvBits(bits: 0b100, negotiated: false)]),
        Case(name: "RSV1 with permessage-deflate", fromClient: false,
             bytes: frame(1, [0xFF, 0xFE], fin: false, rsv: 0b100) + frame(0, [0xC0]), frames: 2, issues: [],
             configuration: deflate),
        Case(name: "RSV1 on a continuation and a ping with permessage-deflate", fromClient: false,
             bytes: frame(2, [1], fin: false) + frame(0, [2], rsv: 0b100) + frame(9, [], rsv: 0b100), frames: 3,
             issues: [.rsvBits(bits: 0b100, negotiated: true), .rsvBits(bits: 0b100, negotiated: true)],
             configuration: deflate),
        Case(name: "RSV2 with permessage-deflate", fromClient: false, bytes: frame(2, [1], rsv: 0b110), frames: 1,
             issues: [.rsvBits(bits: 0b010, negotiated: false)], configuration: deflate),
        Case(name: "unmasked client frame", fromClient: true, bytes: text("hi"), frames: 1, issues: [.unmaskedClientFrame]),
        Case(name: "masked server frame", fromClient: false, bytes: text("hi", mask: 0x0102_0304), frames: 1,
             issues: [.maskedServerFrame]),
        Case(name: "zero mask", fromClient: true, bytes: text("hi", mask: 0), frames: 1, issues: [.zeroMaskKey]),
        Case(name: "repeated mask", fromClient: true,
             bytes: text("a", mask: key) + text("b", mask: key) + text("c", mask: 0x0102_0304) + text("d", mask: key),
             frames: 4, issues: [.repeatedMaskKey(key)]),
        // Close frames (RFC 6455 §5.5.1, §7.4).
        Case(name: "close 1000 with reason", fromClient: false, bytes: frame(8, closePayload(1000, Array("bye".utf8))),
             frames: 1, issues: []),
        Case(name: "empty close", fromClient: true, bytes: frame(8, [], mask: key), frames: 1, issues: []),
        Case(name: "close with 1-byte body", fromClient: false, bytes: frame(8, [0x03]), frames: 1, issues: [.closeOneBytePayload]),
        Case(name: "close 1005", fromClient: false, bytes: frame(8, closePayload(1005)), frames: 1,
             issues: [.closeCode(code: 1005, validity: .notForTheWire)]),
        Case(name: "close 1006", fromClient: false, bytes: frame(8, closePayload(1006)), frames: 1,
             issues: [.closeCode(code: 1006, validity: .notForTheWire)]),
        Case(name: "close 1015", fromClient: true, bytes: frame(8, closePayload(1015), mask: key), frames: 1,
             issues: [.closeCode(code: 1015, validity: .notForTheWire)]),
        Case(name: "close 1004", fromClient: false, bytes: frame(8, closePayload(1004)), frames: 1,
             issues: [.closeCode(code: 1004, validity: .reserved)]),
        Case(name: "close 999", fromClient: false, bytes: frame(8, closePayload(999)), frames: 1,
             issues: [.closeCode(code: 999, validity: .outOfRange)]),
        Case(name: "close 5000", fromClient: false, bytes: frame(8, closePayload(5000)), frames: 1,
             issues: [.closeCode(code: 5000, validity: .outOfRange)]),
        Case(name: "close 3000, 4000, 1009", fromClient: false,
             bytes: frame(8, closePayload(3000)) + frame(8, closePayload(4000)) + frame(8, closePayload(1009)), frames: 3, issues: []),
        Case(name: "data after close", fromClient: false, bytes: frame(8, closePayload(1000)) + text("late") + text("later"),
             frames: 3, issues: [.dataAfterClose]),
        Case(name: "close reason invalid UTF-8", fromClient: true,
             bytes: frame(8, closePayload(1000, [0x61, 0xC0, 0x80]), mask: key), frames: 1,
             issues: [.invalidUTF8(offset: 1, inCloseReason: true)]),
        Case(name: "close reason cut inside a character", fromClient: false,
             bytes: frame(8, closePayload(1001, [0x61, 0xE2, 0x82])), frames: 1,
             issues: [.invalidUTF8(offset: 3, inCloseReason: true)]),
        Case(name: "oversized close", fromClient: false,
             bytes: frame(8, closePayload(1000, Array(repeating: 0x61, count: 256))), frames: 1,
             issues: [.controlFrameTooLong(length: 258)]),
        // UTF-8 (RFC 6455 §8.1) across fragments; chunk boundaries come from the split test.
        Case(name: "euro split across fragments", fromClient: false,
             bytes: frame(1, [0x61, euro[0]], fin: false) + frame(0, [euro[1]], fin: false) + frame(0, [euro[2], 0x62]),
             frames: 3, issues: []),
        Case(name: "4-byte character split across masked fragments", fromClient: true,
             bytes: frame(1, Array(pileOfPoo[0..<1]), fin: false, mask: 0x1111_1111)
                 + frame(9, [0x70], mask: 0x2222_2222)
                 + frame(0, Array(pileOfPoo[1...]) + Array("long ascii run after it".utf8), mask: 0x3333_3333),
             frames: 3, issues: []),
        Case(name: "invalid continuation in the second fragment", fromClient: false,
             bytes: frame(1, [0x61, euro[0]], fin: false) + frame(0, [euro[1], 0x41]),
             frames: 2, issues: [.invalidUTF8(offset: 3, inCloseReason: false)]),
        Case(name: "message ends inside a character", fromClient: true,
             bytes: frame(1, [0x61, euro[0]], fin: false, mask: 0xA1B2_C3D4) + frame(0, [euro[1]], mask: 0x0506_0708),
             frames: 2, issues: [.invalidUTF8(offset: 3, inCloseReason: false)]),
        Case(name: "surrogate and overlong", fromClient: false,
             bytes: frame(1, [0xED, 0xA0, 0x80]) + frame(1, [0xC0, 0xAF]) + frame(1, [0xF4, 0x90, 0x80, 0x80]),
             frames: 3, issues: [.invalidUTF8(offset: 1, inCloseReason: false), .invalidUTF8(offset: 0, inCloseReason: false),
                                 .invalidUTF8(offset: 1, inCloseReason: false)]),
        Case(name: "invalid after a long ASCII run, masked", fromClient: true,
             bytes: frame(1, Array(repeating: 0x41, count: 37) + [0xFF] + Array(repeating: 0x42, count: 20), mask: 0xDEAD_BEEF),
             frames: 1, issues: [.invalidUTF8(offset: 37, inCloseReason: false)]),
        Case(name: "binary is not UTF-8-checked", fromClient: false, bytes: frame(2, [0xFF, 0xFE]), frames: 1, issues: []),
        Case(name: "compressed text is not UTF-8-checked", fromClient: false, bytes: frame(1, [0xFF, 0xFE], rsv: 0b100),
             frames: 1, issues: [], configuration: deflate),
        Case(name: "2^63-byte frame", fromClient: false,
             bytes: [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0] + Array(repeating: 0x55, count: 40),
             frames: 0, issues: [.lengthTopBitSet(length: 1 << 63)]),
    ]

    func testCases() {
        for testCase in Self.cases {
            let events = decodeInChunks(testCase.bytes, chunk: testCase.bytes.count, fromClient: testCase.fromClient,
                                        configuration: testCase.configuration)
            XCTAssertEqual(completedFrames(events).count, testCase.frames, testCase.name)
            XCTAssertEqual(issues(events), testCase.issues, testCase.name)
        }
    }

    /// Every chunk size 1…n and every two-piece split give the same events as one chunk.
    func testEverySplitGivesIdenticalEvents() {
        for testCase in Self.cases where testCase.bytes.count <= 400 {
            let whole = decodeInChunks(testCase.bytes, chunk: testCase.bytes.count, fromClient: testCase.fromClient,
                                       configuration: testCase.configuration)
            for chunk in 1..<max(testCase.bytes.count, 2) {
                let events = decodeInChunks(testCase.bytes, chunk: chunk, fromClient: testCase.fromClient,
                                            configuration: testCase.configuration)
                if events != whole {
                    XCTFail("\(testCase.name): chunk size \(chunk) differs")
                    break
                }
            }
            for split in 1..<max(testCase.bytes.count, 2) {
                var decoder = WebSocketFrameDecoder(configuration: testCase.configuration ?? .init(fromClient: testCase.fromClient))
                var events: [WebSocketFrameEvent] = []
                for piece in [Array(testCase.bytes[..<split]), Array(testCase.bytes[split...])] {
                    events += decoder.decode(piece)
                }
                if events != whole {
                    XCTFail("\(testCase.name): split at \(split) differs")
                    break
                }
            }
        }
    }

    /// The large cases, in a few awkward chunk sizes.
    func testLargeFramesInOddChunks() {
        for testCase in Self.cases where testCase.bytes.count > 400 {
            let whole = decodeInChunks(testCase.bytes, chunk: testCase.bytes.count, fromClient: testCase.fromClient)
            for chunk in [1, 2, 3, 7, 125, 126, 127, 1460, 65537] {
                XCTAssertEqual(decodeInChunks(testCase.bytes, chunk: chunk, fromClient: testCase.fromClient), whole,
                               "\(testCase.name) chunk \(chunk)")
            }
        }
    }

    func testHeaderFields() {
        var decoder = WebSocketFrameDecoder(fromClient: true)
        let events = decoder.decode([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
                                    + frame(2, Array(repeating: 0, count: 70000), mask: 0x0102_0304))
        let headers = completedFrames(events)
        XCTAssertEqual(headers.count, 2)
        XCTAssertEqual(headers[0], WebSocketFrameHeader(fin: true, rsv: 0, opcode: 1, masked: true, maskKey: 0x37FA_213D,
                                                        payloadLength: 5, headerLength: 6, extendedLengthBytes: 0, offset: 0))
        XCTAssertEqual(headers[1].payloadLength, 70000)
        XCTAssertEqual(headers[1].headerLength, 14)
        XCTAssertEqual(headers[1].extendedLengthBytes, 8)
        XCTAssertEqual(headers[1].offset, 11)
        XCTAssertEqual(decoder.offset, 11 + 14 + 70000)
        XCTAssertTrue(events.contains(.messageEnd(opcode: 1, length: 5, compressed: false)))
    }

    func testControlPayloadIsUnmasked() {
        var decoder = WebSocketFrameDecoder(fromClient: true)
        let bytes = frame(8, closePayload(1001, Array("going away".utf8)), mask: 0x0BAD_F00D)
        var closeSeen = false
        bytes.withUnsafeBytes { raw in
            var index = 0
            while let event = decoder.next(in: raw, at: &index) {
                if case .frameEnd(let header) = event, header.opcode == 8 {
                    XCTAssertEqual(decoder.controlPayload, closePayload(1001, Array("going away".utf8)))
                    closeSeen = true
                }
            }
        }
        XCTAssertTrue(closeSeen)
    }

    func testHugeDeclaredLengthIsOnlyACounter() {
        var decoder = WebSocketFrameDecoder(fromClient: false)
        let header: [UInt8] = [0x81, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]
        XCTAssertEqual(issues(decoder.decode(header)), [.lengthTopBitSet(length: 1 << 63)])
        let chunk = [UInt8](repeating: 0x41, count: 1 << 16)
        for _ in 0..<16 { XCTAssertEqual(decoder.decode(chunk), []) }
        XCTAssertEqual(decoder.remaining, (1 << 63) - (1 << 20))
        // A gap inside the declared payload just skips.
        decoder.gap(length: 1 << 40)
        XCTAssertNil(decoder.nextPendingEvent())
        XCTAssertFalse(decoder.isStopped)
        // 2^63 - 1 has the top bit clear: legal, only flagged if not minimal (it is).
        var legal = WebSocketFrameDecoder(fromClient: false)
        XCTAssertEqual(issues(legal.decode([0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])), [])
        // 2^64 - 1.
        var maximal = WebSocketFrameDecoder(fromClient: false)
        XCTAssertEqual(issues(maximal.decode([0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])),
                       [.lengthTopBitSet(length: .max)])
    }

    // MARK: Gaps

    func testGapInsidePayloadSkips() {
        var decoder = WebSocketFrameDecoder(fromClient: false)
        let payload = Array(repeating: UInt8(0x41), count: 20)
        let bytes = frame(1, payload) + text("next")
        // Header + 5 bytes, gap of 10, then the rest.
        var events = decoder.decode(Array(bytes[..<7]))
        decoder.gap(length: 10)
        while let event = decoder.nextPendingEvent() { events.append(event) }
        events += decoder.decode(Array(bytes[17...]))
        XCTAssertEqual(completedFrames(events).count, 2)
        XCTAssertFalse(decoder.isStopped)
        XCTAssertEqual(decoder.offset, UInt64(bytes.count))
    }

    func testGapEndingAFrameExactly() {
        var decoder = WebSocketFrameDecoder(fromClient: false)
        let bytes = frame(2, Array(repeating: 1, count: 10)) + frame(2, [1])
        var events = decoder.decode(Array(bytes[..<2]))
        decoder.gap(length: 10)
        while let event = decoder.nextPendingEvent() { events.append(event) }
        XCTAssertEqual(completedFrames(events).count, 1)
        events += decoder.decode(Array(bytes[12...]))
        XCTAssertEqual(completedFrames(events).count, 2)
    }

    func testGapSkipsUTF8ValidationOfThatMessage() {
        var decoder = WebSocketFrameDecoder(fromClient: false)
        let bytes = frame(1, [0x61, 0x62, 0xE2, 0x82, 0xAC, 0xFF])
        var events = decoder.decode(Array(bytes[..<4]))
        decoder.gap(length: 2)
        while let event = decoder.nextPendingEvent() { events.append(event) }
        events += decoder.decode(Array(bytes[6...]))
        XCTAssertEqual(issues(events), [], "bytes after a gap cannot be judged")
        XCTAssertEqual(completedFrames(events).count, 1)
    }

    func testGapInCloseFrameSkipsCloseChecks() {
        var decoder = WebSocketFrameDecoder(fromClient: false)
        let bytes = frame(8, closePayload(1005))
        var events = decoder.decode(Array(bytes[..<2]))
        decoder.gap(length: 2)
        while let event = decoder.nextPendingEvent() { events.append(event) }
        XCTAssertEqual(issues(events), [])
        XCTAssertTrue(decoder.controlPayloadIncomplete)
    }

    func testGapLosesSyncOutsidePayload() {
        // Between frames, inside a header, and longer than the payload left.
        let bytes = text("one") + text("two")
        for (prefix, gap) in [(5, 3), (6, 1), (1, 1), (3, 10)] {
            var decoder = WebSocketFrameDecoder(fromClient: false)
            var events = decoder.decode(Array(bytes[..<prefix]))
            decoder.gap(length: UInt64(gap))
            while let event = decoder.nextPendingEvent() { events.append(event) }
            XCTAssertEqual(events.last, .decodingStopped(offset: UInt64(prefix)), "prefix \(prefix) gap \(gap)")
            XCTAssertTrue(decoder.isStopped)
            let after = decoder.decode(text("three"))
            XCTAssertEqual(after, [], "nothing decoded once stopped")
            XCTAssertEqual(decoder.offset, UInt64(prefix + gap + 7))
            decoder.gap(length: 5)
            XCTAssertNil(decoder.nextPendingEvent(), "stopped once only")
        }
    }
}
