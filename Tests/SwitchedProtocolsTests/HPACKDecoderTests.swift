@testable import SwitchedProtocols
import XCTest

/// RFC 7541 Appendix C, verbatim: the encoded blocks, the decoded lists, and the dynamic
/// table (newest first) and its size after each block.
final class HPACKDecoderTests: XCTestCase {
    typealias Step = (hex: String, fields: [(String, String)], table: [(String, String)], size: Int)

    func run(_ steps: [Step], tableSize: Int = 4096, file: StaticString = #filePath, line: UInt = #line) {
        var decoder = HPACKDecoder(maxAllowedTableSize: tableSize)
        for (number, step) in steps.enumerated() {
            let block: HPACKHeaderBlock
            do {
                block = try decoder.decode(hexBytes(step.hex))
            } catch {
                XCTFail("step \(number): \(error)", file: file, line: line)
                return
            }
            XCTAssertEqual(block.fields.map { [$0.name, $0.value] }, step.fields.map { [$0.0, $0.1] },
                           "step \(number) fields", file: file, line: line)
            XCTAssertEqual(decoder.dynamicTable.map { [$0.name, $0.value] }, step.table.map { [$0.0, $0.1] },
                           "step \(number) table", file: file, line: line)
            XCTAssertEqual(decoder.tableSize, step.size, "step \(number) table size", file: file, line: line)
            XCTAssertFalse(block.truncated, file: file, line: line)
        }
    }

    // C.2.1–C.2.4: one representation each, fresh decoder.
    func testC2LiteralAndIndexedRepresentations() throws {
        run([("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
              [("custom-key", "custom-header")], [("custom-key", "custom-header")], 55)])
        run([("040c 2f73 616d 706c 652f 7061 7468", [(":path", "/sample/path")], [], 0)])
        run([("1008 7061 7373 776f 7264 0673 6563 7265 74", [("password", "secret")], [], 0)])
        run([("82", [(":method", "GET")], [], 0)])

        var decoder = HPACKDecoder()
        let neverIndexed = try decoder.decode(hexBytes("1008 7061 7373 776f 7264 0673 6563 7265 74"))
        XCTAssertEqual(neverIndexed.fields, [HPACKHeaderField(name: "password", value: "secret", neverIndexed: true)])
        let withoutIndexing = try decoder.decode(hexBytes("040c 2f73 616d 706c 652f 7061 7468"))
        XCTAssertFalse(withoutIndexing.fields[0].neverIndexed)
    }

    static let requests: [(fields: [(String, String)], table: [(String, String)], size: Int)] = [
        ([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com")],
         [(":authority", "www.example.com")], 57),
        ([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "www.example.com"),
          ("cache-control", "no-cache")],
         [("cache-control", "no-cache"), (":authority", "www.example.com")], 110),
        ([(":method", "GET"), (":scheme", "https"), (":path", "/index.html"), (":authority", "www.example.com"),
          ("custom-key", "custom-value")],
         [("custom-key", "custom-value"), ("cache-control", "no-cache"), (":authority", "www.example.com")], 164),
    ]

    func testC3RequestsWithoutHuffman() {
        let blocks = ["8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                      "8286 84be 5808 6e6f 2d63 6163 6865",
                      "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"]
        run(zip(blocks, Self.requests).map { ($0, $1.fields, $1.table, $1.size) })
    }

    func testC4RequestsWithHuffman() {
        let blocks = ["8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                      "8286 84be 5886 a8eb 1064 9cbf",
                      "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"]
        run(zip(blocks, Self.requests).map { ($0, $1.fields, $1.table, $1.size) })
    }

    static let date1 = "Mon, 21 Oct 2013 20:13:21 GMT"
    static let date2 = "Mon, 21 Oct 2013 20:13:22 GMT"
    static let cookie = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
    static let responses: [(fields: [(String, String)], table: [(String, String)], size: Int)] = [
        ([(":status", "302"), ("cache-control", "private"), ("date", date1), ("location", "https://www.example.com")],
         [("location", "https://www.example.com"), ("date", date1), ("cache-control", "private"), (":status", "302")], 222),
        ([(":status", "307"), ("cache-control", "private"), ("date", date1), ("location", "https://www.example.com")],
         [(":status", "307"), ("location", "https://www.example.com"), ("date", date1), ("cache-control", "private")], 222),
        ([(":status", "200"), ("cache-control", "private"), ("date", date2), ("location", "https://www.example.com"),
          ("content-encoding", "gzip"), ("set-cookie", cookie)],
         [("set-cookie", cookie), ("content-encoding", "gzip"), ("date", date2)], 215),
    ]

    /// SETTINGS_HEADER_TABLE_SIZE 256: evictions happen.
    func testC5ResponsesWithoutHuffman() {
        let blocks = ["""
            4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
            2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d
            """,
            "4803 3330 37c1 c0bf",
            """
            88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
            54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
            5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31
            """]
        run(zip(blocks, Self.responses).map { ($0, $1.fields, $1.table, $1.size) }, tableSize: 256)
    }

    func testC6ResponsesWithHuffman() {
        let blocks = ["""
            4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
            2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3
            """,
            "4883 640e ffc1 c0bf",
            """
            88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
            77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
            9587 3160 65c0 03ed 4ee5 b106 3d50 07
            """]
        run(zip(blocks, Self.responses).map { ($0, $1.fields, $1.table, $1.size) }, tableSize: 256)
    }

    // MARK: Integers (RFC 7541 §5.1, C.1)

    func integer(_ bytes: [UInt8], prefix: Int) throws(HPACKError) -> UInt64 {
        var index = 0
        var result: Result<UInt64, HPACKError> = .success(0)
        bytes.withUnsafeBytes { raw in
            do throws(HPACKError) { result = .success(try HPACKDecoder.integer(raw, &index, prefixBits: prefix)) } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }

    func testIntegerExamplesFromC1() throws {
        XCTAssertEqual(try integer([0x0A], prefix: 5), 10)
        XCTAssertEqual(try integer([0x1F, 0x9A, 0x0A], prefix: 5), 1337)
        XCTAssertEqual(try integer([0x2A], prefix: 8), 42)
        XCTAssertEqual(try integer([0x7F, 0x00], prefix: 7), 127)
        XCTAssertEqual(try integer([0x1F, 0xE0, 0xFF, 0xFF, 0xFF, 0x0F], prefix: 5), 0xFFFF_FFFF)
    }

    func testIntegerOverflowAndTruncationAreErrors() {
        // 2^32 (one above the limit) and an endless continuation.
        XCTAssertThrowsError(try integer([0x1F, 0xE1, 0xFF, 0xFF, 0xFF, 0x0F], prefix: 5)) { error in
            XCTAssertEqual(error as? HPACKError, .integerOverflow(offset: 0))
        }
        XCTAssertThrowsError(try integer([0x7F] + [UInt8](repeating: 0x80, count: 40) + [0x01], prefix: 7)) { error in
            XCTAssertEqual(error as? HPACKError, .integerOverflow(offset: 0))
        }
        XCTAssertThrowsError(try integer([0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F], prefix: 7)) { error in
            XCTAssertEqual(error as? HPACKError, .integerOverflow(offset: 0))
        }
        XCTAssertThrowsError(try integer([0x1F, 0x9A], prefix: 5)) { error in
            XCTAssertEqual(error as? HPACKError, .truncated(offset: 0))
        }
    }

    // MARK: Dynamic table size updates (§4.2, §6.3)

    func testTableSizeUpdateToFourGiBIsRejectedWithoutAllocating() {
        var decoder = HPACKDecoder()
        // 0x3f e1 ff ff ff 0f = 31 + 4294967265 = 2^32: an overflow before any use.
        XCTAssertThrowsError(try decoder.decode([0x3F, 0xE1, 0xFF, 0xFF, 0xFF, 0x0F, 0x82])) { error in
            XCTAssertEqual(error as? HPACKError, .integerOverflow(offset: 0))
        }
        // 2^32 - 1: a valid integer, above the advertised 4096.
        XCTAssertThrowsError(try decoder.decode([0x3F, 0xE0, 0xFF, 0xFF, 0xFF, 0x0F, 0x82])) { error in
            XCTAssertEqual(error as? HPACKError,
                           .tableSizeUpdateTooLarge(requested: 0xFFFF_FFFF, limit: 4096, offset: 0))
        }
        XCTAssertEqual(decoder.tableCapacity, 4096)
    }

    func testTableSizeUpdateEvictsAndMustComeFirst() throws {
        var decoder = HPACKDecoder()
        _ = try decoder.decode(hpackIndexedLiteral("a", "1") + hpackIndexedLiteral("b", "2"))
        XCTAssertEqual(decoder.tableSize, 68)
        // Update to 40: only the newest entry ("b") fits.
        let block = try decoder.decode([0x3F, 0x09] + [0xBE])
        XCTAssertEqual(decoder.tableCapacity, 40)
        XCTAssertEqual(decoder.dynamicTable, [HPACKHeaderField(name: "b", value: "2")])
        XCTAssertEqual(block.fields, [HPACKHeaderField(name: "b", value: "2")])
        XCTAssertThrowsError(try decoder.decode([0x82, 0x20])) { error in
            XCTAssertEqual(error as? HPACKError, .tableSizeUpdateAfterField(offset: 1))
        }
        // Update to 0 empties the table; two updates in a row are allowed.
        var fresh = HPACKDecoder()
        _ = try fresh.decode(hpackIndexedLiteral("a", "1"))
        _ = try fresh.decode([0x20, 0x3F, 0xE1, 0x1F])
        XCTAssertEqual(fresh.tableSize, 0)
        XCTAssertEqual(fresh.tableCapacity, 4096)
        XCTAssertTrue(fresh.dynamicTable.isEmpty)
    }

    func testEntryLargerThanTableEmptiesIt() throws {
        var decoder = HPACKDecoder(maxAllowedTableSize: 64)
        _ = try decoder.decode(hpackIndexedLiteral("a", "1"))
        XCTAssertEqual(decoder.tableSize, 34)
        _ = try decoder.decode(hpackIndexedLiteral("name", String(repeating: "x", count: 40)))
        XCTAssertEqual(decoder.tableSize, 0)
        XCTAssertTrue(decoder.dynamicTable.isEmpty)
    }

    func testBadIndicesAndTruncatedStrings() {
        var decoder = HPACKDecoder()
        XCTAssertThrowsError(try decoder.decode([0x80])) { XCTAssertEqual($0 as? HPACKError, .indexOutOfRange(index: 0, offset: 0)) }
        XCTAssertThrowsError(try decoder.decode([0xBE])) { XCTAssertEqual($0 as? HPACKError, .indexOutOfRange(index: 62, offset: 0)) }
        XCTAssertThrowsError(try decoder.decode([0x7E, 0x01, 0x61])) {
            XCTAssertEqual($0 as? HPACKError, .indexOutOfRange(index: 62, offset: 0))
        }
        XCTAssertThrowsError(try decoder.decode([0x00, 0x05, 0x61])) { XCTAssertEqual($0 as? HPACKError, .truncated(offset: 1)) }
        XCTAssertThrowsError(try decoder.decode([0x00, 0x01, 0x61])) { XCTAssertEqual($0 as? HPACKError, .truncated(offset: 3)) }
        // A string length of 2^32-1 in a 10-byte block: rejected as truncated, nothing allocated.
        XCTAssertThrowsError(try decoder.decode([0x00, 0x7F, 0x80, 0xFF, 0xFF, 0xFF, 0x0F])) {
            XCTAssertEqual($0 as? HPACKError, .truncated(offset: 1))
        }
    }

    func testHuffmanErrorsCarryTheStringOffset() {
        var decoder = HPACKDecoder()
        // Name "a" then a Huffman value of 0xFF 0xFF (16 one bits: padding too long).
        XCTAssertThrowsError(try decoder.decode([0x00, 0x01, 0x61, 0x82, 0xFF, 0xFF])) {
            XCTAssertEqual($0 as? HPACKError, .huffman(.invalidPadding, offset: 3))
        }
    }

    func testHeaderListSizeBoundKeepsTableInStep() throws {
        var decoder = HPACKDecoder(maxHeaderListSize: 100)
        let big = String(repeating: "v", count: 60)
        // Field 1 fits (1 + 60 + 32 = 93); field 2 overflows the list but still enters the table.
        let block = try decoder.decode(hpackLiteral("a", big) + hpackIndexedLiteral("b", big))
        XCTAssertTrue(block.truncated)
        XCTAssertEqual(block.fields.count, 1)
        XCTAssertEqual(block.listSize, 186)
        XCTAssertEqual(decoder.dynamicTable.map(\.name), ["b"])
        // An indexed reference repeated thousands of times costs no memory beyond the limit.
        let amplified = try decoder.decode([UInt8](repeating: 0xBE, count: 10_000))
        XCTAssertTrue(amplified.truncated)
        XCTAssertEqual(amplified.fields.count, 1)
        XCTAssertEqual(amplified.listSize, 10_000 * 93)
    }

    func testInvalidUTF8KeepsOctetSizes() throws {
        var decoder = HPACKDecoder()
        _ = try decoder.decode([0x40, 0x01, 0x61, 0x02, 0xC3, 0x28])
        XCTAssertEqual(decoder.tableSize, 35)
        let block = try decoder.decode([0x7E, 0x01, 0x62])   // name from dynamic entry 62 ("a", 1 octet)
        XCTAssertEqual(block.fields.first?.name, "a")
        XCTAssertEqual(decoder.tableSize, 35 + 34)
    }
}
