import Foundation
import XCTest
@testable import Reporting

/// A value that tries every way out of its context: HTML tags and attributes, script end,
/// Markdown links, tables, code fences, headings, emphasis, mentions, math, control and
/// bidirectional characters. `tag` (letters only) shows where the value landed.
func hostile(_ tag: String) -> String {
    "\(tag)<script>alert('\(tag)')</script>\"'&amp;<img src=x onerror=alert(2)>[x](javascript:alert(1))"
        + "|cell|`code`*em*_u_\n# Injected \(tag)\n```\n</pre></td><svg onload=alert(3)>\u{202E}evil\u{2028}\u{0}@everyone $x$ ~~s~~ {{t}}"
}

func json(_ value: JSONValue) -> String { value.serialized() }

func object(_ members: [(String, JSONValue)]) -> JSONValue { .object(members.map { JSONMember($0.0, $0.1) }) }

func str(_ text: String) -> JSONValue { .string(text) }

func int(_ value: Int) -> JSONValue { .number(String(value)) }

func connection(client: String, clientPort: Int, server: String, serverPort: Int, partial: Bool = false) -> JSONValue {
    object([
        ("client", object([("ip", str(client)), ("port", int(clientPort))])),
        ("server", object([("ip", str(server)), ("port", int(serverPort))])),
        ("partial", .bool(partial)),
    ])
}

func violation(rule: String, severity: String = "high", capture: String = "a.pcap", ts: String = "2026-01-02T03:04:05.000001Z",
               client: String = "10.0.0.1", clientPort: Int = 40000, server: String = "10.0.0.2", serverPort: Int = 80,
               frame: Int = 6, message: String = "A message.", reference: String = "RFC 9110 §7.8",
               evidence: JSONValue = object([])) -> ReportRecord {
    ReportRecord(object([
        ("type", str("violation")), ("ts", str(ts)), ("capture", str(capture)),
        ("connection", connection(client: client, clientPort: clientPort, server: server, serverPort: serverPort)),
        ("rule", str(rule)), ("severity", str(severity)), ("message", str(message)), ("reference", str(reference)),
        ("frame", int(frame)), ("direction", str("server_to_client")), ("evidence", evidence),
    ]))!
}

func head(request: Bool, _ fields: [(String, JSONValue)], headers: [(String, String)], frame: Int) -> JSONValue {
    object(fields + [
        ("upgrade", .array([str("websocket")])),
        ("headers", object(headers.map { ($0.0, str($0.1)) })),
        ("frame", int(frame)), ("ts", str("2026-01-02T03:04:05.000001Z")),
    ])
}

func switchRecord(capture: String = "a.pcap", protocolName: String = "websocket", observed: String = "websocket",
                  client: String = "10.0.0.1", clientPort: Int = 40000, server: String = "10.0.0.2", serverPort: Int = 80,
                  ts: String = "2026-01-02T03:04:05.000001Z") -> ReportRecord {
    ReportRecord(object([
        ("type", str("switch")), ("ts", str(ts)), ("capture", str(capture)),
        ("connection", connection(client: client, clientPort: clientPort, server: server, serverPort: serverPort)),
        ("protocol", str(protocolName)),
        ("request", head(request: true, [("method", str("GET")), ("target", str("/chat")), ("version", str("HTTP/1.1"))],
                         headers: [("upgrade", "websocket"), ("connection", "Upgrade")], frame: 4)),
        ("response", head(request: false, [("version", str("HTTP/1.1")), ("status", int(101)), ("reason", str("Switching Protocols"))],
                          headers: [("upgrade", "websocket")], frame: 6)),
        ("request_frame", int(4)), ("response_frame", int(6)),
        ("observed", object([("protocol", str(observed)), ("confidence", str("high")), ("reason", str("frames")),
                             ("client_first_bytes", object([("hex", str("8185")), ("text", str(".."))]))])),
    ]))!
}

func summaryRecord(captures: [(String, Int)], first: String, last: String, packets: Int, connections: Int,
                   violations: Int, parseErrors: [(String, Int)] = []) -> ReportRecord {
    ReportRecord(object([
        ("type", str("summary")), ("ts", str(last)), ("capture", str("*")), ("first_ts", str(first)), ("last_ts", str(last)),
        ("captures", .array(captures.map { capture in
            object([("capture", str(capture.0)), ("format", str("pcap")), ("packets", int(capture.1)), ("bytes", int(capture.1 * 100)),
                    ("connections", int(1)), ("error", .null)])
        })),
        ("unreadable", .array([])), ("packets", int(packets)), ("bytes", int(packets * 100)),
        ("packet_disposition", object([("tcp", int(packets)), ("non_tcp", int(0))])),
        ("connections", int(connections)), ("gaps", int(0)), ("gap_bytes", int(0)),
        ("http_messages", object([("requests", int(2)), ("responses", int(2)), ("non_http_directions", int(0)),
                                  ("parse_errors", object(parseErrors.map { ($0.0, int($0.1)) }))])),
        ("violations", int(violations)), ("suppressed_findings", int(0)),
    ]))!
}

/// A deterministic shuffle (xorshift), so a failing order can be reproduced.
func shuffled<T>(_ items: [T], seed: UInt64) -> [T] {
    var state = seed | 1
    var result = items
    guard result.count > 1 else { return result }
    for index in stride(from: result.count - 1, to: 0, by: -1) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        result.swapAt(index, Int(state % UInt64(index + 1)))
    }
    return result
}

func realRecords() -> [ReportRecord] { parseJSONLines(Array(realAnalyzeOutput.utf8)) }

func occurrences(of needle: String, in text: String) -> Int {
    text.components(separatedBy: needle).count - 1
}
