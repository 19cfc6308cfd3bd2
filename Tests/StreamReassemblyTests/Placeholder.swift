import XCTest
final class StreamReassemblyPlaceholderTests: XCTestCase { func testPlaceholder() {} }
