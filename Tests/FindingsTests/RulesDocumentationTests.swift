import XCTest
@testable import Findings

/// docs/RULES.md must explain every rule in the catalogue (and name no rule that does not exist).
final class RulesDocumentationTests: XCTestCase {
    func testEveryRuleHasASectionInRulesDoc() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/RULES.md"), encoding: .utf8)
        let documented = Set(text.split(separator: "\n").filter { $0.hasPrefix("### ") }.map { String($0.dropFirst(4)) })
        for rule in Rule.catalogue {
            XCTAssertTrue(documented.contains(rule.id), "docs/RULES.md has no section for \(rule.id)")
            XCTAssertTrue(text.contains("**\(rule.severity.name)** · \(rule.reference)"),
                          "docs/RULES.md states another severity or reference for \(rule.id)")
        }
        let known = Set(Rule.catalogue.map(\.id))
        for id in documented {
            XCTAssertTrue(known.contains(id), "docs/RULES.md documents \(id), which is not in the catalogue")
        }
    }
}
