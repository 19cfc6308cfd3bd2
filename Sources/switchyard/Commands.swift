import Foundation
import Findings
import PacketCapture
import Reporting
import SwitchyardKit
#if canImport(Glibc)
import Glibc
#endif

let version = "0.1.0"

let usage = """
    Usage: switchyard COMMAND [OPTIONS] CAPTURE…

    Commands:
      analyze CAPTURE…|DIR|-   audit HTTP/1.1 upgrades; JSON Lines findings on stdout
      flows CAPTURE…|DIR|-     one JSON line per TCP connection (--write-streams DIR)
      live -i IF [-f BPF]      audit upgrades on an interface as they happen (root or setcap;
                               privileges are dropped once the capture is open)
      interfaces               list capture devices (--format json)
      rules                    list the rule catalogue
      report FINDINGS.jsonl…   HTML, Markdown or JSON audit report (see 'switchyard report --help')
      merge SHARD.jsonl…       one run's output from the outputs of 'analyze --shard K/N' (-o FILE)
      version                  print the version

    analyze options:
      --format json|text|eve   output format (default json; eve: Suricata's EVE layout)
      -o, --output FILE        write findings to FILE instead of stdout
      --min-severity S         write only violations at or above S (info, low, medium, high)
      --rules LIST             comma-separated rule ids: ids keep only those, -id disables one
      --fail-on S|never        exit 1 when a violation at or above S is written (default low)
      -q, --quiet              no progress line on stderr
      --report FILE            also write an audit report (HTML; .md Markdown, .json summary)
      -j, --jobs N             analysis threads for capture files (default: the number of cores);
                               with N > 1 the records of each capture are written sorted by
                               time, then text (standard input is read by one thread)
      --shard K/N|auto[/N]     analyse part K of N (0-based): of one file's connections, or of
                               several files; join the parts with 'switchyard merge'; auto reads
                               K from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID (docs/CLUSTER.md)
    limits (analyze and flows):
      --max-head-bytes N       largest HTTP header block (default 65536)
      --connection-buffer N    out-of-order bytes per connection (default 1048576)
      --global-buffer N        out-of-order bytes overall (default 268435456)
      --max-connections N      connections tracked at once (default 65536)
      --max-buffered-heads N   HTTP header bytes buffered over all connections (default 67108864)
      --max-held-early-data N  client bytes held before upgrade answers, all connections (default 67108864)
      --idle-timeout S         seconds of capture time before an idle connection closes (default 120)
      --max-fragment-datagrams N  IP datagrams reassembled at once (default 1024)
      --max-fragment-bytes N   IP fragment bytes held over all datagrams (default 4194304)
      --checksums MODE         auto (default): drop packets with a wrong IPv4/TCP checksum unless the
                               capture shows checksum offload; on: drop every wrong checksum; off: ignore
      --max-inflated-message N bytes a permessage-deflate message may inflate to (default 8388608)
      --max-inflater-memory N  memory of all WebSocket inflaters at once (default 67108864)
      --max-http2-requests N   HTTP/2 requests listed per connection in the record (default 32)
      --max-http2-value-bytes N  octets kept of each listed :path, :authority… (default 512)
    flows options:
      --write-streams DIR      write each direction's reassembled bytes under DIR/<capture>/
      --gap-fill none|zero     leave gaps out of stream files (default) or fill them with zeros
    \(liveUsage)

    Exit status: 0 nothing at or above --fail-on, 1 something was, 2 usage error,
    no readable input, or output lost; 130/143 interrupted by SIGINT/SIGTERM (summary written).
    """

/// The `-o FILE` stream, or standard output; nil (after a message) when FILE cannot be written.
func openOutput(_ path: String?) -> RecordStream? {
    guard let path else { return RecordStream(descriptor: 1) }
    switch RecordStream.file(path: path) {
    case .success(let opened): return opened
    case .failure(let error):
        printError("switchyard: cannot write output: \(error.message)")
        return nil
    }
}

func printError(_ text: String) {
    var line = Array(text.utf8)
    line.append(0x0A)
    line.withUnsafeBytes { _ = write(2, $0.baseAddress!, $0.count) }
}

func runCommand(_ arguments: [String]) throws -> Int32 {
    guard let command = arguments.first else {
        print(usage)
        return 2
    }
    let rest = Array(arguments.dropFirst())
    switch command {
    case "analyze": return try analyzeCommand(rest, flows: false)
    case "flows": return try analyzeCommand(rest, flows: true)
    case "rules": return try rulesCommand(rest)
    case "report": return try reportCommand(rest)
    case "live": return try liveCommand(rest)
    case "merge": return try mergeCommand(rest)
    case "interfaces": return try interfacesCommand(rest)
    case "version", "--version": print("switchyard \(version)"); return 0
    case "help", "--help", "-h": print(usage); return 0
    default: throw Arguments.UsageError(message: "unknown command '\(command)'")
    }
}

func rulesCommand(_ arguments: [String]) throws -> Int32 {
    let parsed = try Arguments(arguments, valued: ["format"], flagNames: [])
    if parsed.value("format") == "json" {
        for rule in Rule.catalogue {
            var json = JSONWriter()
            json.beginObject()
            json.key("rule"); json.string(rule.id)
            json.key("severity"); json.string(rule.severity.name)
            json.key("reference"); json.string(rule.reference)
            json.key("summary"); json.string(rule.summary)
            json.endObject()
            print(String(decoding: json.bytes, as: UTF8.self))
        }
        return 0
    }
    let width = Rule.catalogue.map(\.id.count).max() ?? 0
    for rule in Rule.catalogue {
        let padded = rule.id + String(repeating: " ", count: width - rule.id.count)
        let severity = rule.severity.name + String(repeating: " ", count: 6 - rule.severity.name.count)
        print("\(padded)  \(severity)  \(rule.reference)\n\(String(repeating: " ", count: width + 10))\(rule.summary)")
    }
    return 0
}

func parseRules(_ text: String, filter: inout FindingFilter, options: inout PipelineOptions) throws {
    for item in text.split(separator: ",").map({ $0.trimmingCharacters() }) where !item.isEmpty {
        let disable = item.hasPrefix("-")
        let id = disable ? String(item.dropFirst()) : item
        guard Rule.named(id) != nil else { throw Arguments.UsageError(message: "unknown rule '\(id)' (see 'switchyard rules')") }
        if disable {
            filter.disabledRules.insert(id)
            options.analysis.disabledRules.insert(id)
        } else {
            filter.onlyRules.insert(id)
        }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

func analyzeCommand(_ arguments: [String], flows: Bool) throws -> Int32 {
    let parsed = try Arguments(
        arguments,
        valued: AnalysisArguments.valued.union(["write-streams", "gap-fill", "report", "jobs", "shard"]),
        flagNames: ["quiet"], aliases: ["o": "output", "q": "quiet", "j": "jobs"])
    guard !parsed.positional.isEmpty else { throw Arguments.UsageError(message: "no capture given") }

    let shared = try AnalysisArguments(parsed)
    let options = shared.options
    let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    let jobs = try parsed.integer("jobs", range: 1...256) ?? cores
    var shard: ShardSelection?
    if let text = parsed.value("shard") {
        guard !flows else { throw Arguments.UsageError(message: "--shard belongs to 'switchyard analyze'") }
        switch ShardSelection.parse(text, environment: ProcessInfo.processInfo.environment) {
        case .success(let selection): shard = selection
        case .failure(let error): throw Arguments.UsageError(message: error.message)
        }
    }
    let gapFill: GapFill
    switch parsed.value("gap-fill") ?? "none" {
    case "none": gapFill = .none
    case "zero": gapFill = .zero
    default: throw Arguments.UsageError(message: "--gap-fill takes none or zero")
    }
    if !flows && (parsed.value("write-streams") != nil || parsed.value("gap-fill") != nil) {
        throw Arguments.UsageError(message: "--write-streams and --gap-fill belong to 'switchyard flows'")
    }

    guard let stream = openOutput(parsed.value("output")) else { return 2 }
    if parsed.value("output") == nil { stream.flushEachRecord = isatty(1) != 0 }
    let sink = OutputSink(stream: stream, format: shared.format, filter: shared.filter)
    let reportPath = parsed.value("report")
    var copyDescriptor: Int32 = -1
    defer { if copyDescriptor >= 0 { _ = close(copyDescriptor) } }
    if reportPath != nil {
        guard !flows else { throw Arguments.UsageError(message: "--report belongs to 'switchyard analyze'") }
        guard let descriptor = temporaryFile() else { return 2 }
        copyDescriptor = descriptor
        sink.jsonCopy = RecordStream(descriptor: descriptor)
    }
    let progress = ProgressLine(enabled: !parsed.flag("quiet") && isatty(2) != 0)

    var readable = 0
    var inputs = InputResolver.resolve(parsed.positional)
    var shardMode = ShardSelection.Mode.connections
    if let shard {
        guard shared.format == .json else { throw Arguments.UsageError(message: "--shard writes JSON Lines (for 'switchyard merge')") }
        guard !inputs.contains(.standardInput) else {
            throw Arguments.UsageError(message: "--shard reads files (every shard reads its input): not standard input")
        }
        if inputs.count > 1 {
            shardMode = .files
            inputs = shard.inputs(of: inputs, sizes: ShardSelection.sizes(of: inputs))
        }
        sink.tally.shard = (shard, shardMode)
        sink.tally.shardFilter = shared.filter
    }
    InterruptSignals.install()
    for input in inputs {
        if stream.failure != nil || InterruptSignals.received != nil { break }
        let name = input.name
        var reader: CaptureFileReader
        switch input {
        case .unusable(let name, let reason):
            printError("switchyard: \(name): \(reason)")
            sink.tally.unreadable.append((name, reason))
            continue
        case .file(let path) where (jobs > 1 || shard != nil && shardMode == .connections) && !flows:
            readable += 1
            progress.start(name)
            let handler: ProgressHandler? = progress.enabled ? { progress.update($0, $1) } : nil
            do {
                let part = shardMode == .connections ? shard.map { ($0.index, $0.count) } ?? (0, 1) : (0, 1)
                try ParallelAnalysis.analyzeFile(path: path, name: name, options: options, sink: sink, jobs: jobs,
                                                 shard: part, progress: handler, shouldStop: { stream.failure != nil || InterruptSignals.received != nil })
            } catch {
                readable -= 1
                progress.finish()
                printError("switchyard: \(path): \(error.description)")
                sink.tally.unreadable.append((path, error.description))
                continue
            }
            progress.finish()
            if let error = sink.tally.captures.last?.error {
                printError("switchyard: \(name): \(error); the packets before it were analysed")
            }
            continue
        case .file(let path):
            do { reader = try CaptureFileReader(path: path) } catch {
                printError("switchyard: \(path): \(error.description)")
                sink.tally.unreadable.append((path, error.description))
                continue
            }
        case .standardInput:
            do { reader = try CaptureFileReader(path: "-") } catch {
                printError("switchyard: -: \(error.description)")
                sink.tally.unreadable.append(("-", error.description))
                continue
            }
        }
        readable += 1
        progress.start(name)
        let handler: ProgressHandler? = progress.enabled ? { progress.update($0, $1) } : nil
        if flows {
            let errors = flowsSource(&reader, name: name, format: reader.formatName, options: options, sink: sink,
                                     streamDirectory: parsed.value("write-streams"), gapFill: gapFill, progress: handler,
                                     shouldStop: { stream.failure != nil || InterruptSignals.received != nil })
            for error in errors.prefix(5) { printError("switchyard: cannot write stream file: \(error)") }
        } else {
            analyzeSource(&reader, name: name, format: reader.formatName, options: options, sink: sink,
                          progress: handler, shouldStop: { stream.failure != nil || InterruptSignals.received != nil })
        }
        progress.finish()
        if let error = sink.tally.captures.last?.error {
            printError("switchyard: \(name): \(error); the packets before it were analysed")
        }
    }
    if let signal = InterruptSignals.received {
        let name = InterruptSignals.name(signal)
        if let last = sink.tally.captures.indices.last, sink.tally.captures[last].error == nil {
            sink.tally.captures[last].error = "interrupted by \(name)"
        }
        printError("switchyard: interrupted by \(name); the findings and summary cover what was read until then")
    }
    sink.writeSummary()
    stream.close()
    if let reportPath, let copy = sink.jsonCopy {
        let lowered = reportPath.lowercased()
        let reportFormat: ReportFormat = lowered.hasSuffix(".md") ? .markdown : lowered.hasSuffix(".json") ? .json : .html
        copy.flush()
        if let failure = copy.failure {
            printError("switchyard: cannot keep the findings for the report: \(failure)")
            return 2
        }
        // The report streams the copy back, so a large run needs no more memory for it.
        guard let report = reportFromFile("/proc/self/fd/\(copyDescriptor)", options: ReportOptions(sources: parsed.positional)) else { return 2 }
        let text = report.render(reportFormat)
        switch RecordStream.file(path: reportPath) {
        case .success(let file):
            file.write(record: Array(text.utf8))
            file.close()
            if let failure = file.failure {
                printError("switchyard: cannot write report \(reportPath): \(failure)")
                return 2
            }
        case .failure(let error):
            printError("switchyard: cannot write report: \(error.message)")
            return 2
        }
    }
    if let failure = stream.failure {
        printError("switchyard: output: \(failure); findings were lost")
        return 2
    }
    if let signal = InterruptSignals.received { return 128 + signal }
    // A shard may get no files of a directory: that is its share, not an error.
    if readable == 0 && !(shardMode == .files && inputs.isEmpty) { return 2 }
    return shared.exitStatus(sink.tally)
}
