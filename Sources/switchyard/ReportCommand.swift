import Reporting
import SwitchyardKit
#if canImport(Glibc)
import Glibc
#endif

let reportUsage = """
    Usage: switchyard report FINDINGS.jsonl… [OPTIONS]

    Turns the JSON Lines output of 'switchyard analyze' into a report people can read and hand
    over. Several findings files are merged ('-' reads standard input).

    Options:
      --format html|markdown|json   html: one self-contained page with charts (default);
                                    markdown: the same without charts, for tickets and pull requests;
                                    json: the summary for dashboards
      -o, --output FILE             write the report to FILE instead of stdout
      --baseline OLD.jsonl          compare with an earlier audit: new, fixed and unchanged findings,
                                    matched by rule, client IP, server IP and server port (repeatable)
      --title TEXT                  the report's title
      --generated-at TEXT           a generation time to print (none by default, so the same input
                                    gives the same bytes)
      --max-details N               findings shown in full (default 1000; all are counted and listed)

    Exit status: 0 report written, 2 usage error, unreadable input or output not written.
    """

/// Largest findings file read (a report of a larger audit should use --min-severity upstream).
let reportMaxInputBytes = 1 << 30

func reportCommand(_ arguments: [String]) throws -> Int32 {
    if let first = arguments.first, first == "--help" || first == "-h" {
        print(reportUsage)
        return 0
    }
    let parsed = try Arguments(
        arguments, valued: ["format", "output", "baseline", "title", "generated-at", "max-details"],
        flagNames: [], aliases: ["o": "output"])
    guard !parsed.positional.isEmpty else { throw Arguments.UsageError(message: "no findings file given (JSON Lines from 'switchyard analyze')") }
    guard let format = ReportFormat(rawValue: parsed.value("format") ?? "html") else {
        throw Arguments.UsageError(message: "--format takes html, markdown or json")
    }
    var options = ReportOptions(sources: parsed.positional, baselineSources: parsed.all("baseline"))
    if let title = parsed.value("title") { options.title = title }
    options.generatedAt = parsed.value("generated-at")
    if let limit = try parsed.integer("max-details", range: 0...1_000_000) { options.maxDetailedFindings = limit }

    var records: [ReportRecord] = []
    var invalidLines = 0
    for path in parsed.positional {
        guard let bytes = readWholeFile(path) else { return 2 }
        let document = parseJSONLinesDocument(bytes)
        if !document.invalidLines.isEmpty {
            let shown = document.invalidLines.prefix(5).map(String.init).joined(separator: ", ")
            printError("switchyard: \(path): \(document.invalidLines.count) line(s) are not findings records (line \(shown)); skipped")
        }
        records += document.records
        invalidLines += document.invalidLines.count
    }
    var baseline: [ReportRecord]?
    for path in parsed.all("baseline") {
        guard let bytes = readWholeFile(path) else { return 2 }
        baseline = (baseline ?? []) + parseJSONLines(bytes)
    }

    let report = AuditReport(records: records, baseline: baseline, invalidLines: invalidLines, options: options)
    let text = report.render(format)

    let stream: RecordStream
    if let path = parsed.value("output") {
        switch RecordStream.file(path: path) {
        case .success(let opened): stream = opened
        case .failure(let error):
            printError("switchyard: cannot write report: \(error.message)")
            return 2
        }
    } else {
        stream = RecordStream(descriptor: 1)
    }
    stream.write(record: Array(text.utf8))
    stream.close()
    if let failure = stream.failure {
        printError("switchyard: report: \(failure)")
        return 2
    }
    return 0
}

/// The whole file (`-`: standard input), or nil after printing why it could not be read.
func readWholeFile(_ path: String) -> [UInt8]? {
    let descriptor = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        printError("switchyard: \(path): \(String(cString: strerror(errno)))")
        return nil
    }
    defer { if descriptor != 0 { _ = close(descriptor) } }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            printError("switchyard: \(path): \(String(cString: strerror(errno)))")
            return nil
        }
        if count == 0 { return bytes }
        bytes.append(contentsOf: chunk[0..<count])
        if bytes.count > reportMaxInputBytes {
            printError("switchyard: \(path): larger than \(reportMaxInputBytes >> 20) MiB; not read")
            return nil
        }
    }
}
