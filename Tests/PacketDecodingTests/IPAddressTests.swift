import PacketDecoding
import TestSupport
import XCTest

final class IPAddressTests: XCTestCase {
    func address(_ text: String) -> IPAddress {
        let bytes = PacketBuilder.parseAddress(text)
        return bytes.withUnsafeBytes { IPAddress(bytes: $0, offset: 0, isIPv6: bytes.count == 16) }
    }

    func testIPv4Description() {
        XCTAssertEqual(IPAddress(ipv4: 0x0a00_0001).description, "10.0.0.1")
        XCTAssertEqual(IPAddress(ipv4: 0).description, "0.0.0.0")
        XCTAssertEqual(IPAddress(ipv4: 0xffff_ffff).description, "255.255.255.255")
        XCTAssertEqual(address("192.168.100.254").description, "192.168.100.254")
    }

    /// RFC 5952 §4: lowercase, no leading zeros, the longest run of two or more zero groups
    /// compressed (the first when tied), a single zero group left alone.
    func testIPv6DescriptionFollowsRFC5952() {
        let cases: [(String, String)] = [
            ("0:0:0:0:0:0:0:0", "::"),
            ("0:0:0:0:0:0:0:1", "::1"),
            ("1:0:0:0:0:0:0:0", "1::"),
            ("2001:0db8:0:0:0:0:0:0001", "2001:db8::1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("2001:DB8:AAAA:BBBB:CCCC:DDDD:EEEE:FFFF", "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff"),
            ("fe80:0:0:0:0200:5eff:fe00:5301", "fe80::200:5eff:fe00:5301"),
            ("0:0:0:0:0:ffff:c000:0201", "::ffff:192.0.2.1"),
            ("2001:db8::", "2001:db8::"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(address(input).description, expected, input)
        }
    }

    func testStoredWordsAndOrdering() {
        let v6 = address("2001:db8::1")
        XCTAssertEqual(v6.high, 0x2001_0db8_0000_0000)
        XCTAssertEqual(v6.low, 1)
        XCTAssertTrue(v6.isIPv6)
        XCTAssertEqual(address("10.0.0.1"), IPAddress(ipv4: 0x0a00_0001))
        XCTAssertLessThan(address("10.0.0.1"), address("10.0.0.2"))
        XCTAssertLessThan(address("255.255.255.255"), address("::"), "IPv4 sorts before IPv6")
        XCTAssertNotEqual(address("::"), address("0.0.0.0"))
    }

    func testEndpointDescription() {
        XCTAssertEqual(Endpoint(address: address("10.0.0.1"), port: 80).description, "10.0.0.1:80")
        XCTAssertEqual(Endpoint(address: address("::1"), port: 8080).description, "[::1]:8080")
        XCTAssertEqual(Endpoint(address: address("2001:db8::1"), port: 0).description, "[2001:db8::1]:0")
        XCTAssertLessThan(Endpoint(address: address("10.0.0.1"), port: 80),
                          Endpoint(address: address("10.0.0.1"), port: 81))
    }

    func testBuilderParsesEndpoints() {
        XCTAssertEqual(PacketBuilder.parseEndpoint("10.0.0.1:1234").port, 1234)
        XCTAssertEqual(PacketBuilder.parseEndpoint("10.0.0.1:1234").address, [10, 0, 0, 1])
        let v6 = PacketBuilder.parseEndpoint("[2001:db8::1]:443")
        XCTAssertEqual(v6.port, 443)
        XCTAssertEqual(v6.address, [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1])
    }
}
