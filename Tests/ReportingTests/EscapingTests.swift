import Foundation
import XCTest
@testable import Reporting

/// Every field of every record that reaches a report carries a hostile value; the reports must
/// show each of them as inert text.
final class EscapingTests: XCTestCase {
    /// Hex of bytes that spell HTML, so the hex dump's ASCII column carries markup too.
    private let markupHex = Array("<script>alert(1)</script>|`[x](javascript:y)".utf8).map { String(format: "%02x", $0) }.joined()

    private func hostileRecords() -> (records: [ReportRecord], baseline: [ReportRecord]) {
        let conn = object([
            ("client", object([("ip", str(hostile("zqclientip"))), ("port", int(1))])),
            ("server", object([("ip", str(hostile("zqserverip"))), ("port", int(2))])),
            ("partial", .bool(true)),
        ])
        let evidence = object([
            (hostile("zqevidencekey"), str(hostile("zqevidencevalue"))),
            ("list", .array([str(hostile("zqevidencelist"))])),
            ("nested", object([(hostile("zqnestedkey"), str(hostile("zqnestedvalue")))])),
            ("first_bytes", object([("hex", str(markupHex)), ("text", str(hostile("zqbytestext")))])),
            ("broken_bytes", object([("hex", str(hostile("zqbadhex"))), ("text", str("x"))])),
            ("request_frame", int(4)),
        ])
        let violationValue = object([
            ("type", str("violation")), ("ts", str(hostile("zqts"))), ("capture", str(hostile("zqcapture"))),
            ("connection", conn), ("rule", str(hostile("zqrule"))), ("severity", str(hostile("zqseverity"))),
            ("message", str(hostile("zqmessage"))), ("reference", str(hostile("zqreference"))),
            ("frame", int(6)), ("direction", str(hostile("zqdirection"))), ("evidence", evidence),
        ])
        func message(_ fields: [(String, JSONValue)]) -> JSONValue {
            object(fields + [
                ("upgrade", .array([str(hostile("zqupgradetoken"))])),
                ("headers", object([(hostile("zqheadername"), str(hostile("zqheadervalue")))])),
                ("frame", int(4)), ("ts", str("2026-01-02T03:04:05.000001Z")),
            ])
        }
        let switchValue = object([
            ("type", str("switch")), ("ts", str("2026-01-02T03:04:05.000001Z")), ("capture", str(hostile("zqcapture"))),
            ("connection", conn), ("protocol", str(hostile("zqagreed"))),
            ("request", message([("method", str(hostile("zqmethod"))), ("target", str(hostile("zqtarget"))), ("version", str(hostile("zqversion")))])),
            ("response", message([("version", str("HTTP/1.1")), ("status", int(101)), ("reason", str(hostile("zqreason")))])),
            ("request_frame", int(4)), ("response_frame", int(6)),
            ("observed", object([
                ("protocol", str(hostile("zqobserved"))), ("confidence", str(hostile("zqconfidence"))),
                ("reason", str(hostile("zqobservedreason"))),
                ("client_first_bytes", object([("hex", str(markupHex)), ("text", str("x"))])),
                ("server_first_bytes", object([("hex", str(markupHex)), ("text", str("x"))])),
            ])),
        ])
        let declinedValue = object([
            ("type", str("upgrade_declined")), ("ts", str("2026-01-02T03:04:06.000001Z")), ("capture", str(hostile("zqdeclinedcapture"))),
            ("connection", conn),
            ("request", message([("method", str(hostile("zqdeclinedmethod"))), ("target", str("/")), ("version", str("HTTP/1.1"))])),
            ("response", message([("version", str("HTTP/1.1")), ("status", int(400)), ("reason", str(hostile("zqdeclinedreason")))])),
        ])
        let priorValue = object([
            ("type", str("prior_knowledge")), ("ts", str("2026-01-02T03:04:07.000001Z")), ("capture", str(hostile("zqpriorcapture"))),
            ("connection", conn), ("protocol", str(hostile("zqpriorprotocol"))), ("first_frame", int(1)),
        ])
        let summaryValue = object([
            ("type", str("summary")), ("ts", str("2026-01-02T03:04:08.000001Z")), ("capture", str("*")),
            ("first_ts", str("2026-01-02T03:04:05.000001Z")), ("last_ts", str("2026-01-02T03:04:08.000001Z")),
            ("captures", .array([object([("capture", str(hostile("zqsummarycapture"))), ("format", str(hostile("zqformat"))),
                                         ("packets", int(3)), ("bytes", int(300)), ("connections", int(1)),
                                         ("error", str(hostile("zqcaptureerror")))])])),
            ("unreadable", .array([object([("capture", str(hostile("zqunreadable"))), ("error", str(hostile("zqunreadablereason")))])])),
            ("packets", int(3)), ("bytes", int(300)),
            ("packet_disposition", object([(hostile("zqdisposition"), int(1))])),
            ("connections", int(1)),
            ("http_messages", object([("requests", int(1)), ("responses", int(1)), ("non_http_directions", int(0)),
                                      ("parse_errors", object([(hostile("zqparseerror"), int(1))]))])),
            ("violations", int(1)),
        ])
        let records = [violationValue, switchValue, declinedValue, priorValue, summaryValue].compactMap(ReportRecord.init)
        // In the baseline, the same rule on another server: reported as fixed, with its message.
        var baselineValue = violationValue
        if case .object(var members) = baselineValue {
            members = members.map { member in
                switch member.key {
                case "rule": return JSONMember("rule", str(hostile("zqbaselinerule")))
                case "message": return JSONMember("message", str(hostile("zqbaselinemessage")))
                default: return member
                }
            }
            baselineValue = .object(members)
        }
        return (records, [ReportRecord(baselineValue)!])
    }

    /// With the long Markdown form: every section, so every field lands somewhere.
    private func hostileReport() -> AuditReport {
        let (records, baseline) = hostileRecords()
        return AuditReport(records: records, baseline: baseline, invalidLines: 1, options: ReportOptions(
            title: hostile("zqtitle"), generatedAt: hostile("zqgenerated"), sources: [hostile("zqsource")],
            baselineSources: [hostile("zqbaselinesource")], longMarkdown: true))
    }

    // MARK: HTML

    func testHTMLHasOnlyTheReportsOwnMarkup() {
        let html = hostileReport().html()
        // Remove the page's own script (it legitimately contains `<` in comparisons).
        let page = html.replacingOccurrences(of: HTMLAssets.script, with: "")
        XCTAssertEqual(occurrences(of: "<script", in: html), 2)
        XCTAssertEqual(occurrences(of: "</script", in: html), 2)
        let allowed: Set<String> = [
            "html", "head", "meta", "title", "style", "body", "header", "div", "h1", "h2", "h3", "h4", "h5", "p", "nav", "a",
            "main", "section", "span", "strong", "em", "ol", "ul", "li", "code", "table", "thead", "tbody", "tr", "th", "td",
            "svg", "rect", "text", "line", "br", "wbr", "article", "dl", "dt", "dd", "pre", "footer", "script",
        ]
        for tag in tags(in: page) {
            let name = String(tag.dropFirst().prefix { $0.isLetter || $0.isNumber || $0 == "/" || $0 == "!" }).lowercased()
            let bare = name.hasPrefix("/") ? String(name.dropFirst()) : name
            if bare == "!doctype" { continue }
            XCTAssertTrue(allowed.contains(bare), "unexpected tag \(tag.prefix(80))")
            // Attribute values are always double-quoted (a `"` inside is &quot;): what is left
            // outside quotes are the attribute names, none of which may be an event handler.
            let names = tag.replacingOccurrences(of: #""[^"]*""#, with: "\"\"", options: .regularExpression)
            XCTAssertNil(names.range(of: #"\son[a-z]+\s*="#, options: [.regularExpression, .caseInsensitive]), "event handler in \(tag.prefix(120))")
            if let href = tag.range(of: #"href="[^"]*""#, options: .regularExpression) {
                let value = tag[href].dropFirst(6).dropLast()
                XCTAssertTrue(value.hasPrefix("#") || value.hasPrefix("https://www.rfc-editor.org/rfc/rfc"), "link \(value)")
            }
        }
        for forbidden in ["<img", "<svg onload", "javascript:alert(1)\"", "\u{202E}", "\u{2028}", "\u{0}"] {
            XCTAssertFalse(html.contains(forbidden), "found \(forbidden.debugDescription)")
        }
    }

    func testHTMLShowsEveryHostileFieldEscaped() {
        let html = hostileReport().html()
        let fields = ["zqclientip", "zqserverip", "zqevidencekey", "zqevidencevalue", "zqevidencelist", "zqnestedkey",
                      "zqnestedvalue", "zqbadhex", "zqts", "zqcapture", "zqrule", "zqmessage", "zqreference", "zqdirection",
                      "zqheadername", "zqheadervalue", "zqmethod", "zqtarget", "zqversion", "zqreason", "zqagreed",
                      "zqobserved", "zqconfidence", "zqobservedreason", "zqdeclinedcapture", "zqdeclinedmethod",
                      "zqdeclinedreason", "zqpriorcapture", "zqpriorprotocol", "zqsummarycapture", "zqformat",
                      "zqcaptureerror", "zqunreadable", "zqunreadablereason", "zqdisposition", "zqparseerror", "zqtitle",
                      "zqgenerated", "zqsource", "zqbaselinesource", "zqbaselinerule", "zqbaselinemessage"]
        for field in fields {
            XCTAssertTrue(html.contains("\(field)&lt;script&gt;alert(&#39;\(field)&#39;)&lt;/script&gt;"), "\(field) not shown escaped")
        }
        XCTAssertTrue(html.contains("\\u{202E}evil\\u{2028}\\x00"), "invisible characters are made visible")
        XCTAssertTrue(html.contains("\\x0a# Injected"), "line breaks are made visible")
        // The hex dump's ASCII column holds captured markup: escaped too.
        XCTAssertTrue(html.contains("|&lt;script&gt;alert(1"))
    }

    func testEmbeddedSummaryCannotEndItsScriptElement() throws {
        let html = hostileReport().html()
        let open = "<script type=\"application/json\" id=\"switchyard-summary\">"
        let start = try XCTUnwrap(html.range(of: open)).upperBound
        let end = try XCTUnwrap(html.range(of: "</script>", range: start..<html.endIndex)).lowerBound
        let data = String(html[start..<end])
        XCTAssertFalse(data.contains("<"))
        XCTAssertFalse(data.contains(">"))
        XCTAssertFalse(data.contains("&"))
        XCTAssertFalse(data.contains("\u{2028}"))
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any])
        XCTAssertEqual(parsed["title"] as? String, hostile("zqtitle"))
    }

    func testContentSecurityPolicyPinsTheInlineStyleAndScript() {
        let html = hostileReport().html()
        XCTAssertTrue(html.contains("default-src 'none'; style-src \(SHA256.cspSource(HTMLAssets.style)); script-src \(SHA256.cspSource(HTMLAssets.script));"))
        XCTAssertTrue(html.contains("<style>\(HTMLAssets.style)</style>"))
        XCTAssertTrue(html.contains("<script>\(HTMLAssets.script)</script>"))
        XCTAssertFalse(html.contains(" style=\""), "inline style attributes would be blocked by the policy")
        XCTAssertFalse(html.contains("http://"), "no network address in the page")
    }

    // MARK: Markdown

    func testMarkdownValuesCannotBecomeMarkup() {
        // Code blocks show captured text verbatim, and inertly (their fences are checked below).
        let full = hostileReport().markdown()
        let markdown = withoutCodeBlocks(full)
        XCTAssertTrue(markdown.contains("(code block)"))
        for forbidden in ["<script", "<img", "<svg", "</pre>", "](javascript", "\u{202E}", "\u{2028}", "\u{0}", "`code`", "*em*"] {
            XCTAssertFalse(markdown.contains(forbidden), "found \(forbidden.debugDescription)")
        }
        var index = markdown.startIndex
        while let link = markdown.range(of: "](", range: index..<markdown.endIndex) {
            XCTAssertTrue(markdown[link.upperBound...].hasPrefix("https://www.rfc-editor.org/rfc/rfc"), "link in \(markdown[link.lowerBound...].prefix(60))")
            index = link.upperBound
        }
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            XCTAssertFalse(line.hasPrefix("# Injected"), "a value started a heading")
        }
        for field in ["zqcapture", "zqrule", "zqmessage", "zqheadervalue", "zqtarget", "zqevidencekey", "zqevidencevalue",
                      "zqclientip", "zqtitle", "zqsummarycapture", "zqbaselinerule", "zqobservedreason", "zqsource"] {
            XCTAssertTrue(full.contains(field), "\(field) not shown")
        }
    }

    func testMarkdownTablesKeepTheirColumns() {
        let markdown = hostileReport().markdown()
        var expected: Int?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("|") else { expected = nil; continue }
            let pipes = unescapedPipes(String(line))
            if let expected { XCTAssertEqual(pipes, expected, "row breaks its table: \(line.prefix(100))") } else { expected = pipes }
        }
    }

    func testMarkdownCodeBlocksCannotBeClosedByContent() {
        let markdown = hostileReport().markdown()
        var fence: Int?
        var blocks = 0
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            let ticks = line.prefix { $0 == "`" }.count
            if let open = fence {
                if ticks >= 3 && line.allSatisfy({ $0 == "`" }) {
                    XCTAssertEqual(ticks, open, "content closed a code block")
                    fence = nil
                }
            } else if ticks >= 3 {
                XCTAssertTrue(line.hasSuffix("text"), "stray fence \(line)")
                fence = ticks
                blocks += 1
            }
        }
        XCTAssertNil(fence)
        XCTAssertGreaterThan(blocks, 2)
        XCTAssertEqual(Escape.markdownCodeBlock(["a ````` b"]), "``````text\na ````` b\n``````\n")
    }

    // MARK: JSON

    func testJSONSummaryEscapesAndRoundTrips() throws {
        let text = hostileReport().json()
        XCTAssertFalse(text.contains("<"))
        let parsed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(parsed["title"] as? String, hostile("zqtitle"))
        let rules = try XCTUnwrap(parsed["violations_by_rule"] as? [String: Any])
        XCTAssertEqual(rules[hostile("zqrule")] as? Int, 1)
    }

    // MARK: Helpers

    private func tags(in html: String) -> [Substring] {
        var result: [Substring] = []
        var index = html.startIndex
        while let open = html[index...].firstIndex(of: "<") {
            guard let close = html[open...].firstIndex(of: ">") else { break }
            result.append(html[open...close])
            index = html.index(after: close)
        }
        return result
    }

    private func withoutCodeBlocks(_ markdown: String) -> String {
        var lines: [Substring] = []
        var fence: Substring?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if let open = fence {
                if line == open { fence = nil }
            } else if line.hasPrefix("```") {
                fence = line.prefix { $0 == "`" }
                lines.append("(code block)")
            } else {
                lines.append(line)
            }
        }
        return lines.joined(separator: "\n")
    }

    private func unescapedPipes(_ line: String) -> Int {
        var count = 0
        var escaped = false
        for character in line {
            if escaped { escaped = false; continue }
            if character == "\\" { escaped = true } else if character == "|" { count += 1 }
        }
        return count
    }
}
