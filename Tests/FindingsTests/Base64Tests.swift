import Findings
import XCTest

final class Base64Tests: XCTestCase {
    /// RFC 4648 §10.
    static let vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    func testRFC4648Vectors() {
        for (plain, encoded) in Self.vectors {
            XCTAssertEqual(Base64.encode(Array(plain.utf8)), encoded)
            XCTAssertEqual(Base64.decode(encoded), Array(plain.utf8), encoded)
            // base64url without padding.
            let unpadded = String(encoded.filter { $0 != "=" })
            XCTAssertEqual(Base64.encode(Array(plain.utf8), alphabet: .url, padding: false), unpadded)
            XCTAssertEqual(Base64.decode(unpadded, alphabet: .url), Array(plain.utf8), unpadded)
            XCTAssertEqual(Base64.decode(encoded, alphabet: .url, padding: .optional), Array(plain.utf8))
        }
    }

    func testAlphabetsDiffer() {
        let bytes: [UInt8] = [0xFB, 0xFF, 0xBF]
        XCTAssertEqual(Base64.encode(bytes), "+/+/")
        XCTAssertEqual(Base64.encode(bytes, alphabet: .url), "-_-_")
        XCTAssertEqual(Base64.decode("+/+/"), bytes)
        XCTAssertEqual(Base64.decode("-_-_", alphabet: .url), bytes)
        XCTAssertNil(Base64.decode("-_-_"))
        XCTAssertNil(Base64.decode("+/+/", alphabet: .url))
    }

    func testAllByteValuesRoundTrip() {
        let bytes = (0...255).map { UInt8($0) }
        for length in 0...bytes.count {
            let slice = Array(bytes.prefix(length))
            XCTAssertEqual(Base64.decode(Base64.encode(slice)), slice)
            XCTAssertEqual(Base64.decode(Base64.encode(slice, alphabet: .url, padding: false), alphabet: .url), slice)
        }
    }

    func testStrictDecodingRejects() {
        let invalid: [(String, String)] = [
            ("Zg", "missing padding"),
            ("Zg=", "short padding"),
            ("Zg===", "too much padding"),
            ("Z===", "three pad characters"),
            ("Z", "single leftover character"),
            ("Zh==", "non-zero pad bits (RFC 4648 §3.5)"),
            ("Zm9=", "non-zero pad bits in a two-byte tail"),
            ("Zm 9v", "whitespace"),
            ("Zm9v\n", "line break"),
            ("Zg==Zg==", "padding in the middle"),
            ("Zm9v!A==", "character outside the alphabet"),
            ("====", "padding only"),
            ("=", "lone padding"),
        ]
        for (text, why) in invalid {
            XCTAssertNil(Base64.decode(text), "\(text): \(why)")
        }
        XCTAssertNil(Base64.decode("Zg==", alphabet: .url), "padding forbidden by default for base64url")
        XCTAssertNil(Base64.decode("Zg=", alphabet: .url, padding: .optional), "incomplete padding")
    }
}
