import Reporting
import SwitchyardKit
#if canImport(Glibc)
import Glibc
#endif

let reportUsage = """
    Usage: switchyard report FINDINGS.jsonl… [OPTIONS]

    Turns the JSON Lines output of 'switchyard analyze' into a report people can read and hand
    over: services first, then findings grouped by rule and service (server IP and port), each
    group with examples and the jq filter that extracts its findings. Several findings files are
    merged ('-' reads standard input). The input is streamed: memory stays bounded whatever its size.

    Options:
      --format html|markdown|json   html: one self-contained page with charts (default);
                                    markdown: a short summary for tickets and pull requests
                                    (summary, top risks, services; a few dozen lines);
                                    json: the summary for dashboards
      --long                        markdown: every section (groups, details, scope, switches)
      -o, --output FILE             write the report to FILE instead of stdout
      --baseline OLD.jsonl          compare with an earlier audit: new, fixed and unchanged groups,
                                    matched by rule, server IP and server port (repeatable)
      --title TEXT                  the report's title
      --generated-at TEXT           a generation time to print (none by default, so the same input
                                    gives the same bytes)
      --max-details N               groups shown in full, with evidence and handshake (default 40)

    Exit status: 0 report written, 2 usage error, unreadable input or output not written.
    """

func reportCommand(_ arguments: [String]) throws -> Int32 {
    if let first = arguments.first, first == "--help" || first == "-h" {
        print(reportUsage)
        return 0
    }
    let parsed = try Arguments(
        arguments, valued: ["format", "output", "baseline", "title", "generated-at", "max-details"],
        flagNames: ["long"], aliases: ["o": "output"])
    guard !parsed.positional.isEmpty else { throw Arguments.UsageError(message: "no findings file given (JSON Lines from 'switchyard analyze')") }
    guard let format = ReportFormat(rawValue: parsed.value("format") ?? "html") else {
        throw Arguments.UsageError(message: "--format takes html, markdown or json")
    }
    var options = ReportOptions(sources: parsed.positional, baselineSources: parsed.all("baseline"))
    if let title = parsed.value("title") { options.title = title }
    options.generatedAt = parsed.value("generated-at")
    options.longMarkdown = parsed.flag("long")
    if let limit = try parsed.integer("max-details", range: 0...100_000) { options.maxDetailedGroups = limit }
    guard parsed.positional.filter({ $0 == "-" }).count <= 1 else {
        throw Arguments.UsageError(message: "standard input ('-') can be read only once")
    }

    var builder = AuditReportBuilder(options: options, baseline: !parsed.all("baseline").isEmpty)
    // Pass 1: every record aggregated as it is read. Standard input is kept in an unlinked
    // temporary file for pass 2 (a pipe cannot be read twice).
    var stdinCopy: Int32?
    defer { if let stdinCopy { _ = close(stdinCopy) } }
    for path in parsed.positional {
        if path == "-" {
            guard let copy = temporaryFile() else { return 2 }
            stdinCopy = copy
        }
        let status = streamLines(path, maxLineBytes: options.limits.maxLineBytes, copyTo: path == "-" ? stdinCopy : nil) { line in
            builder.add(line: line)
        }
        guard let counts = status else { return 2 }
        builder.addInvalidLines(counts.tooLong)
        if counts.invalid > 0 {
            let shown = counts.invalidLines.map(String.init).joined(separator: ", ")
            printError("switchyard: \(path): \(counts.invalid) line(s) are not findings records (line \(shown)\(counts.invalid > counts.invalidLines.count ? ", …" : "")); skipped")
        }
    }
    for path in parsed.all("baseline") {
        guard streamLines(path, maxLineBytes: options.limits.maxLineBytes, copyTo: nil, { line in builder.addBaseline(line: line); return true }) != nil else { return 2 }
    }
    // Pass 2: the handshakes of the example findings.
    if builder.needsHandshakes {
        for path in parsed.positional {
            let source = path == "-" ? stdinCopy.map { "/proc/self/fd/\($0)" } ?? path : path
            if let stdinCopy, path == "-" { _ = lseek(stdinCopy, 0, SEEK_SET) }
            guard streamLines(source, maxLineBytes: options.limits.maxLineBytes, copyTo: nil, { line in builder.addHandshake(line: line); return true }) != nil else { return 2 }
        }
    }

    let text = builder.report().render(format)
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

/// The report of one findings file, read in two streaming passes; nil after printing why not.
func reportFromFile(_ path: String, options: ReportOptions) -> AuditReport? {
    var builder = AuditReportBuilder(options: options)
    guard let counts = streamLines(path, maxLineBytes: options.limits.maxLineBytes, copyTo: nil, { builder.add(line: $0) }) else { return nil }
    builder.addInvalidLines(counts.tooLong)
    if builder.needsHandshakes {
        guard streamLines(path, maxLineBytes: options.limits.maxLineBytes, copyTo: nil, { builder.addHandshake(line: $0); return true }) != nil else { return nil }
    }
    return builder.report()
}

/// Lines of a findings file that were not records: how many, the first few, and how many were too long.
struct LineCounts {
    var invalid = 0
    var invalidLines: [Int] = []
    var tooLong = 0
}

/// Reads `path` (`-`: standard input) in 1 MiB chunks and hands each line to `line`, which
/// says whether it was a record. Memory: the chunk and one line (at most `maxLineBytes`).
/// `copyTo` gets a copy of every byte read (standard input, for a second pass). Nil after
/// printing why the file could not be read.
func streamLines(_ path: String, maxLineBytes: Int, copyTo: Int32?, _ line: (ArraySlice<UInt8>) -> Bool) -> LineCounts? {
    let descriptor = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
        printError("switchyard: \(path): \(String(cString: strerror(errno)))")
        return nil
    }
    defer { if descriptor != 0 { _ = close(descriptor) } }
    var counts = LineCounts()
    var splitter = JSONLinesSplitter(maxLineBytes: maxLineBytes)
    func handle(_ text: ArraySlice<UInt8>, _ number: Int) {
        if !line(text) {
            counts.invalid += 1
            if counts.invalidLines.count < 5 { counts.invalidLines.append(number) }
        }
    }
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0 {
            if errno == EINTR { continue }
            printError("switchyard: \(path): \(String(cString: strerror(errno)))")
            return nil
        }
        if count == 0 { break }
        if let copyTo {
            guard chunk.withUnsafeBytes({ writeAll(copyTo, UnsafeRawBufferPointer(rebasing: $0[0..<count])) }) else {
                printError("switchyard: \(path): cannot keep a copy of standard input: \(String(cString: strerror(errno)))")
                return nil
            }
        }
        splitter.push(chunk, count: count, handle)
    }
    splitter.finish(handle)
    counts.tooLong = splitter.tooLong
    return counts
}

private func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            return false
        }
        offset += written
    }
    return true
}

/// An unlinked temporary file (gone when closed), or nil after printing why not.
func temporaryFile() -> Int32? {
    let directory = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    var template = Array("\(directory)/switchyard-report-XXXXXX".utf8CString)
    let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard descriptor >= 0 else {
        printError("switchyard: cannot create a temporary file in \(directory): \(String(cString: strerror(errno)))")
        return nil
    }
    template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    return descriptor
}
