import XCTest
final class UpgradeAnalysisPlaceholderTests: XCTestCase { func testPlaceholder() {} }
