import XCTest
final class PacketDecodingPlaceholderTests: XCTestCase { func testPlaceholder() {} }
