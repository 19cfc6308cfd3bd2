import Findings
import PacketCapture
import ProxyCorrelation
import Reporting
import UpgradeAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// `switchyard merge SHARD.jsonl…`: the outputs of `analyze --shard K/N` for every K, put
/// back into what one run over the same inputs writes: the same records in the same order,
/// then one summary.
///
/// How the order is recovered: a shard writes each record with one extra member at its end,
/// `"shard_key":[SECTION,NANOSECONDS]` (section 0: a capture's records, 1: the proxy pairing's,
/// written after every capture), the full-precision time that orders records (`ts` shows
/// microseconds only). Each shard's records are in the run's order already, so the merge is a
/// streaming k-way merge that holds one record per shard:
/// - by connections (one capture): by section, then time, then the record's JSON text, the
///   order of a `--jobs` run (docs/OUTPUT.md);
/// - by files (several inputs): a shard holds a contiguous run of the inputs, so the capture
///   records are the shards' in shard order, and the pairing records are merged by time.
/// The member is taken off again, so every record is byte for byte what one run writes.
///
/// The legs of a proxied upgrade may have been analysed in two shards, so shards do not pair
/// them: each writes its upgrade exchanges as `shard_exchange` records (ShardExchanges, section
/// 1), and the merge pairs them over the whole set with the run's `ProxyCorrelator`, writes the
/// pairing's records with the shards' filter (their summary names it) and adds its counts.
///
/// The summary is the sum of the shards' where a count belongs to connections (each connection,
/// and each packet, is counted by one shard), and the capture's own where it belongs to the
/// capture (packets and bytes read, clock steps, format, errors: every shard read the whole
/// capture, so they agree), as `RunTally.writeSummary` writes them.
public enum ShardMerge {
    public static let keyMember = "shard_key"

    public struct MergeError: Error, Equatable {
        public var message: String
        init(_ message: String) { self.message = message }
    }

    /// Merges the shard files at `paths` into `output`. Every shard of one `--shard K/N` set must
    /// be given, once each, in any order.
    public static func merge(paths: [String], into output: RecordStream) -> Result<Void, MergeError> {
        var shards: [ShardFile] = []
        for path in paths {
            switch ShardFile.open(path) {
            case .success(let shard): shards.append(shard)
            case .failure(let error): return .failure(error)
            }
        }
        guard let first = shards.first else { return .failure(MergeError("no shard output given")) }
        let count = first.count
        guard shards.allSatisfy({ $0.count == count && $0.mode == first.mode }) else {
            return .failure(MergeError("the outputs come from different --shard sets (N or mode differ)"))
        }
        shards.sort { $0.index < $1.index }
        guard shards.map(\.index) == Array(0..<count) else {
            let have = Set(shards.map(\.index))
            let missing = (0..<count).filter { !have.contains($0) }.map(String.init)
            return .failure(MergeError(missing.isEmpty ? "a shard is given twice"
                                                       : "shard(s) \(missing.joined(separator: ", ")) of \(count) missing"))
        }
        let byFiles = first.mode == .files
        // k-way merge: the smallest head record goes first.
        var heads: [ShardRecord?] = []
        for shard in shards {
            switch shard.nextRecord() {
            case .success(let record): heads.append(record)
            case .failure(let error): return .failure(error)
            }
        }
        // The shards' upgrade exchanges, by capture, for the pairing at the end.
        var exchanges: [String: [UpgradeExchange]] = [:]
        let exchangePrefix = Array("{\"type\":\"\(ShardExchanges.recordType)\"".utf8)
        while true {
            var best: Int?
            for i in heads.indices {
                guard let head = heads[i] else { continue }
                if let b = best, let current = heads[b], !head.precedes(current, byFiles: byFiles) { continue }
                best = i
            }
            guard let b = best, let record = heads[b] else { break }
            if record.json.starts(with: exchangePrefix) {
                guard let value = JSONValue.parse(record.json[...]), let (capture, exchange) = ShardExchanges.read(value) else {
                    return .failure(MergeError("\(shards[b].path): a malformed \(ShardExchanges.recordType) record"))
                }
                exchanges[capture, default: []].append(exchange)
            } else {
                var line = record.json
                line.append(0x0A)
                output.write(record: line)
            }
            switch shards[b].nextRecord() {
            case .success(let next): heads[b] = next
            case .failure(let error): return .failure(error)
            }
        }
        // The pairing over the whole set, written and counted as one run does it.
        let filter = shardFilter(first.summary)
        let pairing = OutputSink(stream: output, format: .json, filter: filter)
        var options = ProxyCorrelationOptions()
        options.disabledRules = filter.disabledRules
        var summaries = shards.map(\.summary)
        let captureNames = byFiles ? summaries.flatMap(captureNames) : summaries.first.map(captureNames) ?? []
        for name in captureNames {
            let collector = ExchangeCollector(capture: name, byteLimit: options.maxExchangeBytes)
            for exchange in exchanges[name] ?? [] { collector.exchange(exchange) }
            pairing.addExchanges([collector], capture: name, options: options)
        }
        pairing.emitProxiedUpgrades()
        summaries.append(pairingCounts(pairing.tally))
        let summary = mergeSummaries(summaries, byFiles: byFiles)
        var writer = JSONWriter()
        write(summary, into: &writer)
        writer.newline()
        output.write(record: writer.bytes)
        output.flush()
        if let failure = output.failure { return .failure(MergeError("output: \(failure)")) }
        return .success(())
    }

    // MARK: - Summaries

    /// The names of a summary's captures, in order.
    static func captureNames(_ summary: [JSONMember]) -> [String] {
        (value(summary, "captures")?.arrayValue ?? []).compactMap { $0["capture"]?.stringValue }
    }

    /// The filter a shard wrote its records with (its summary's `shard` member).
    static func shardFilter(_ summary: [JSONMember]) -> FindingFilter {
        var filter = FindingFilter()
        let shard = value(summary, "shard")
        if let name = shard?["min_severity"]?.stringValue, let severity = Severity(name: name) {
            filter.minimumSeverity = severity
        }
        filter.onlyRules = Set((shard?["only_rules"]?.arrayValue ?? []).compactMap(\.stringValue))
        filter.disabledRules = Set((shard?["disabled_rules"]?.arrayValue ?? []).compactMap(\.stringValue))
        return filter
    }

    /// The pairing's counts as summary members, in the writer's order, to be added to the
    /// shards' (which counted no pairing).
    static func pairingCounts(_ tally: RunTally) -> [JSONMember] {
        func counts(_ map: [String: UInt64]) -> JSONValue {
            .object(map.sorted { $0.key < $1.key }.map { JSONMember($0.key, .number(String($0.value))) })
        }
        var members = [JSONMember("upgrades_declined", .number("0"))]
        if tally.proxiedUpgrades > 0 { members.append(JSONMember("proxied_upgrades", .number(String(tally.proxiedUpgrades)))) }
        members += [
            JSONMember("violations", .number(String(tally.violationsByRule.values.reduce(0, +)))),
            JSONMember("violations_by_severity", counts(tally.violationsBySeverity)),
            JSONMember("violations_by_rule", counts(tally.violationsByRule)),
            JSONMember("suppressed_findings", .number(String(tally.suppressed))),
        ]
        return members
    }

    /// Counts that belong to a capture, not to its connections: every shard that read the
    /// capture has the same value, taken once.
    static let captureLevelKeys: Set<String> = ["capture", "format", "packets", "bytes", "capture_clock_steps",
                                                "error", "pcap_stats"]
    /// Top-level members that sum the captures' (recomputed from the merged captures).
    static let captureTotals: [String] = ["packets", "bytes", "packet_disposition", "tcp_not_believed",
                                          "ip_defragmentation", "connections"]
    /// Objects whose members are written sorted by key (`RunTally.writeCounts`).
    static let sortedCounts: Set<String> = ["parse_errors", "switches_by_protocol", "prior_knowledge_by_protocol",
                                            "violations_by_severity", "violations_by_rule"]

    static func mergeSummaries(_ summaries: [[JSONMember]], byFiles: Bool) -> [JSONMember] {
        // The captures: concatenated (by files: each shard has its own), or merged one by one
        // (by connections: every shard has the same capture).
        var captures: [JSONValue] = []
        if byFiles {
            for summary in summaries { captures += value(summary, "captures")?.arrayValue ?? [] }
        } else {
            let lists = summaries.map { value($0, "captures")?.arrayValue ?? [] }
            for i in 0..<(lists.map(\.count).max() ?? 0) {
                let accounts = lists.compactMap { i < $0.count ? $0[i].members : nil }
                captures.append(.object(mergeCounts(accounts, captureLevel: true)))
            }
        }
        var merged = mergeCounts(summaries.map { $0.filter { $0.key != "shard" } }, captureLevel: false)
        let accounts = captures.compactMap(\.members)
        let totals = mergeCounts(accounts, captureLevel: false)
        let names = accounts.compactMap { value($0, "capture")?.stringValue }
        let firsts = summaries.compactMap { value($0, "first_ts")?.stringValue }
        let lasts = summaries.compactMap { value($0, "last_ts")?.stringValue }
        let last: JSONValue = lasts.max().map(JSONValue.string) ?? .null
        for i in merged.indices {
            switch merged[i].key {
            case "type": merged[i].value = .string("summary")
            case "schema_version": merged[i].value = .number(String(OutputSchema.version))
            case "ts": merged[i].value = lasts.max().map(JSONValue.string) ?? .string(Timestamp.zero.rfc3339)
            case "capture": merged[i].value = .string(names.count == 1 ? names[0] : "*")
            case "first_ts": merged[i].value = firsts.min().map(JSONValue.string) ?? .null
            case "last_ts": merged[i].value = last
            case "captures": merged[i].value = .array(captures)
            case "unreadable":
                // By connections every shard was given the same input: its errors are listed once.
                let lists = summaries.map { value($0, "unreadable")?.arrayValue ?? [] }
                merged[i].value = .array(byFiles ? lists.flatMap { $0 } : lists.first ?? [])
            case let key where captureTotals.contains(key):
                merged[i].value = value(totals, key) ?? merged[i].value
            default: break
            }
        }
        return merged
    }

    /// Member-wise merge of objects written by one writer: numbers are summed, except the
    /// capture-level ones of a capture's account (taken from the first); strings and nulls
    /// are the first non-null; objects merge recursively. Members missing from some objects
    /// (written only when non-zero) keep the writer's order.
    static func mergeCounts(_ objects: [[JSONMember]], captureLevel: Bool, sorted: Bool = false) -> [JSONMember] {
        var keys: [String] = []
        for object in objects {
            var previous: Int?
            for member in object {
                if let at = keys.firstIndex(of: member.key) {
                    previous = at
                } else {
                    let at = previous.map { $0 + 1 } ?? 0
                    keys.insert(member.key, at: at)
                    previous = at
                }
            }
        }
        if sorted { keys.sort() }
        return keys.map { key in
            let values = objects.compactMap { value($0, key) }
            guard let first = values.first else { return JSONMember(key, .null) }
            if captureLevel && captureLevelKeys.contains(key) {
                return JSONMember(key, values.first { !$0.isNull } ?? first)
            }
            switch first {
            case .number:
                let sum = values.reduce(Int64(0)) { $0 &+ ($1.integerValue ?? 0) }
                return JSONMember(key, .number(String(sum)))
            case .object:
                return JSONMember(key, .object(mergeCounts(values.compactMap(\.members), captureLevel: captureLevel,
                                                           sorted: sortedCounts.contains(key))))
            default:
                return JSONMember(key, values.first { !$0.isNull } ?? first)
            }
        }
    }

    static func value(_ object: [JSONMember], _ key: String) -> JSONValue? {
        object.first { $0.key == key }?.value
    }

    /// Writes a parsed summary back with the writer that wrote it, so the bytes are the same.
    static func write(_ value: JSONValue, into writer: inout JSONWriter) {
        switch value {
        case .null: writer.null()
        case .bool(let flag): writer.bool(flag)
        case .number(let text): writer.raw(Array(text.utf8))
        case .string(let text): writer.string(text)
        case .array(let items):
            writer.beginArray()
            for item in items { write(item, into: &writer) }
            writer.endArray()
        case .object(let members):
            write(members, into: &writer)
        }
    }

    static func write(_ members: [JSONMember], into writer: inout JSONWriter) {
        writer.beginObject()
        for member in members {
            writer.key(member.key)
            write(member.value, into: &writer)
        }
        writer.endObject()
    }
}

/// A record of a shard's output, with its place in the run's order.
struct ShardRecord {
    /// The record as one run writes it (the `shard_key` member taken off).
    var json: [UInt8]
    var section: Int64
    var nanoseconds: Int64
    var shard: Int

    func precedes(_ other: ShardRecord, byFiles: Bool) -> Bool {
        if section != other.section { return section < other.section }
        if byFiles && section == 0 && shard != other.shard { return shard < other.shard }
        if nanoseconds != other.nanoseconds { return nanoseconds < other.nanoseconds }
        return json.lexicographicallyPrecedes(other.json)
    }
}

/// One shard's output, read line by line (bounded: one line at a time, at most `maxLine`).
final class ShardFile {
    static let maxLine = 64 << 20
    let path: String
    let index: Int
    let count: Int
    let mode: ShardSelection.Mode
    let summary: [JSONMember]
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private var position = 0
    private var ended = false
    private var lineNumber = 0

    private init(path: String, descriptor: Int32, summary: [JSONMember], index: Int, count: Int,
                 mode: ShardSelection.Mode) {
        self.path = path
        self.descriptor = descriptor
        self.summary = summary
        self.index = index
        self.count = count
        self.mode = mode
    }

    deinit { _ = close(descriptor) }

    /// Opens a shard's output and reads its summary (the last line) first.
    static func open(_ path: String) -> Result<ShardFile, ShardMerge.MergeError> {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            return .failure(.init("\(path): \(String(cString: strerror(errno)))"))
        }
        // The summary is the last line: read the tail of the file.
        let size = lseek(descriptor, 0, SEEK_END)
        let tail = Int(min(Int64(maxLine), max(0, Int64(size))))
        var bytes = [UInt8](repeating: 0, count: tail)
        let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, tail, off_t(size) - off_t(tail)) }
        guard got == tail else {
            _ = close(descriptor)
            return .failure(.init("\(path): cannot read"))
        }
        while bytes.last == 0x0A { bytes.removeLast() }
        let start = (bytes.lastIndex(of: 0x0A) ?? -1) + 1
        guard let summary = JSONValue.parse(bytes[start...])?.members,
              ShardMerge.value(summary, "type")?.stringValue == "summary" else {
            _ = close(descriptor)
            return .failure(.init("\(path): does not end with a summary record (not a finished analyze run)"))
        }
        guard let shard = ShardMerge.value(summary, "shard"), let index = shard["index"]?.integerValue,
              let count = shard["count"]?.integerValue,
              let mode = shard["by"]?.stringValue.flatMap(ShardSelection.Mode.init(rawValue:)) else {
            _ = close(descriptor)
            return .failure(.init("\(path): not the output of 'analyze --shard' (its summary names no shard)"))
        }
        _ = lseek(descriptor, 0, SEEK_SET)
        return .success(ShardFile(path: path, descriptor: descriptor, summary: summary, index: Int(index),
                                  count: Int(count), mode: mode))
    }

    /// The next record before the summary, or nil at the summary.
    func nextRecord() -> Result<ShardRecord?, ShardMerge.MergeError> {
        while true {
            guard let line = nextLine() else {
                return .failure(.init("\(path): ends without its summary"))
            }
            lineNumber += 1
            if line.isEmpty { continue }
            if line.starts(with: Array("{\"type\":\"summary\"".utf8)) { return .success(nil) }
            // `…,"shard_key":[SECTION,NANOSECONDS]}` at the end of the line.
            let marker = Array(",\"\(ShardMerge.keyMember)\":[".utf8)
            guard line.last == UInt8(ascii: "}"), line.count >= marker.count + 4,
                  let open = lastRange(of: marker, in: line) else {
                return .failure(.init("\(path): line \(lineNumber) has no \(ShardMerge.keyMember)"))
            }
            let inside = line[(open + marker.count)..<(line.count - 2)]
            let parts = inside.split(separator: UInt8(ascii: ","))
            guard line[line.count - 2] == UInt8(ascii: "]"), parts.count == 2,
                  let section = Int64(String(decoding: parts[0], as: UTF8.self)),
                  let nanoseconds = Int64(String(decoding: parts[1], as: UTF8.self)) else {
                return .failure(.init("\(path): line \(lineNumber) has a malformed \(ShardMerge.keyMember)"))
            }
            var json = Array(line[..<open])
            json.append(UInt8(ascii: "}"))
            return .success(ShardRecord(json: json, section: section, nanoseconds: nanoseconds, shard: index))
        }
    }

    private func lastRange(of marker: [UInt8], in line: [UInt8]) -> Int? {
        var at = line.count - marker.count
        while at >= 0 {
            if line[at] == marker[0] && Array(line[at..<(at + marker.count)]) == marker { return at }
            at -= 1
        }
        return nil
    }

    /// The next line without its newline; nil at the end of the file.
    private func nextLine() -> [UInt8]? {
        while true {
            if let newline = buffer[position...].firstIndex(of: 0x0A) {
                let line = Array(buffer[position..<newline])
                position = newline + 1
                return line
            }
            if ended {
                guard position < buffer.count else { return nil }
                let line = Array(buffer[position...])
                position = buffer.count
                return line
            }
            if position > 0 {
                buffer.removeFirst(position)
                position = 0
            }
            guard buffer.count <= Self.maxLine else { return nil }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let got = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if got <= 0 {
                ended = true
            } else {
                buffer.append(contentsOf: chunk[0..<got])
            }
        }
    }
}
