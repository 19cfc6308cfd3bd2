/// One record of `switchyard analyze` output (docs/OUTPUT.md): its `type` and the whole object.
public struct ReportRecord: Sendable, Equatable {
    /// `violation`, `switch`, `upgrade_declined`, `prior_knowledge`, `flow`, `summary`, or
    /// whatever a (possibly forged) file says: unknown types are kept and ignored by the report.
    public var type: String
    public var value: JSONValue

    public init(type: String, value: JSONValue) {
        self.type = type
        self.value = value
    }

    /// A record from a JSON value; nil unless it is an object with a string `type`.
    public init?(_ value: JSONValue) {
        guard let type = value["type"]?.stringValue else { return nil }
        self.init(type: type, value: value)
    }
}

/// The records of a JSON Lines document, and how many non-blank lines were not records.
public struct JSONLinesDocument: Sendable, Equatable {
    public var records: [ReportRecord]
    /// 1-based numbers of non-blank lines that were not a JSON object with a string `type`.
    public var invalidLines: [Int]

    public init(records: [ReportRecord] = [], invalidLines: [Int] = []) {
        self.records = records
        self.invalidLines = invalidLines
    }
}

/// Parses `analyze` output: one JSON object per line (LF or CRLF). Blank lines are skipped;
/// lines that are not records are skipped and counted (a file cut short by a crash keeps
/// every complete line).
public func parseJSONLinesDocument(_ data: [UInt8]) -> JSONLinesDocument {
    var document = JSONLinesDocument()
    var start = 0
    var lineNumber = 0
    while start <= data.count {
        var end = start
        while end < data.count && data[end] != 0x0A { end += 1 }
        lineNumber += 1
        let line = data[start..<end]
        if line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) {
            if let value = JSONParser.parse(line), let record = ReportRecord(value) {
                document.records.append(record)
            } else {
                document.invalidLines.append(lineNumber)
            }
        }
        start = end + 1
    }
    return document
}

/// The records of `analyze` output; lines that are not records are skipped.
public func parseJSONLines(_ data: [UInt8]) -> [ReportRecord] {
    parseJSONLinesDocument(data).records
}
