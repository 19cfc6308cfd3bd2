import XCTest
final class SwitchyardKitPlaceholderTests: XCTestCase { func testPlaceholder() {} }
