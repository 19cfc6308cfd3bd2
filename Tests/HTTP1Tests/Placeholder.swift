import XCTest
final class HTTP1PlaceholderTests: XCTestCase { func testPlaceholder() {} }
