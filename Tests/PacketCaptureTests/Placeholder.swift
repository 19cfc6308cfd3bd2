import XCTest
final class PacketCapturePlaceholderTests: XCTestCase { func testPlaceholder() {} }
