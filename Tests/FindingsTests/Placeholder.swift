import XCTest
final class FindingsPlaceholderTests: XCTestCase { func testPlaceholder() {} }
