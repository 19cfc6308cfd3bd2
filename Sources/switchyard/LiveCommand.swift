import Findings
import PacketCapture
import SwitchyardKit
#if canImport(Glibc)
import Glibc
#endif

let liveUsage = """
    live options:
      -i, --interface IF       capture on IF (see 'switchyard interfaces'; 'any' for all)
      -f, --filter BPF         capture filter, pcap-filter(7) syntax (default 'tcp')
      --snaplen N              bytes kept per packet (default 262144)
      --promiscuous            put the interface into promiscuous mode
      --buffer-size MiB        kernel capture buffer (default 16)
      --duration S             stop after S seconds (default: run until SIGINT/SIGTERM)
      -c, --packet-count N     stop after N packets
      -w, --write FILE.pcap    also save the captured packets to FILE.pcap
      --stats-interval S       print a statistics line on stderr every S seconds
      -Z, --user USER          once the capture and output files are open, switch from root
                               to USER (default 'nobody') and drop every capability; started
                               without root (setcap), only the capabilities are dropped
      --no-drop                keep root (or the capabilities) while capturing; so does -Z root
      --format, -o/--output, --min-severity, --rules, --fail-on, -q/--quiet and the limits
                               as for analyze; --idle-timeout counts wall-clock seconds
    """

/// `switchyard live`: audit upgrades on an interface as they happen; records are written and
/// flushed the moment they are known, the summary when capture stops (signal, --duration,
/// --packet-count, closed output, or a capture error).
func liveCommand(_ arguments: [String]) throws -> Int32 {
    let parsed = try Arguments(
        arguments,
        valued: AnalysisArguments.valued.union(["interface", "filter", "snaplen", "buffer-size", "duration",
                                                 "packet-count", "write", "stats-interval", "user"]),
        flagNames: ["promiscuous", "quiet", "no-drop"],
        aliases: ["i": "interface", "f": "filter", "w": "write", "o": "output", "c": "packet-count", "q": "quiet",
                  "Z": "user"])
    guard parsed.positional.isEmpty else {
        throw Arguments.UsageError(message: "unexpected argument '\(parsed.positional[0])' (a filter goes after -f)")
    }
    guard let interface = parsed.value("interface"), !interface.isEmpty else {
        throw Arguments.UsageError(message: "live needs --interface IF (see 'switchyard interfaces')")
    }
    var captureOptions = LiveCaptureOptions(interface: interface)
    if let filter = parsed.value("filter") { captureOptions.filter = filter }
    if let n = try parsed.integer("snaplen", range: 64...262_144) { captureOptions.snapshotLength = Int32(n) }
    if let n = try parsed.integer("buffer-size", range: 1...2047) { captureOptions.bufferSizeBytes = Int32(n) << 20 }
    captureOptions.promiscuous = parsed.flag("promiscuous")

    var run = LiveRunOptions()
    run.duration = try seconds(parsed, "duration")
    run.statsInterval = try seconds(parsed, "stats-interval")
    if let n = try parsed.integer("packet-count", range: 1...Int.max) { run.packetCount = UInt64(n) }

    let shared = try AnalysisArguments(parsed)
    let options = shared.options
    let quiet = parsed.flag("quiet")
    // Decided before anything is opened: an unknown -Z user stops here.
    let privileges: PrivilegeDropPlan
    do {
        privileges = try PrivilegeDrop.plan(user: parsed.value("user"), keep: parsed.flag("no-drop"))
    } catch {
        printError("switchyard: \(error.description)")
        return 2
    }

    let capture: LiveCapture
    do {
        capture = try LiveCapture(options: captureOptions)
    } catch {
        printError("switchyard: \(error.description)")
        return 2
    }
    defer { capture.close() }
    for warning in capture.warnings { printError("switchyard: warning: \(warning)") }

    guard let stream = openOutput(parsed.value("output")) else { return 2 }
    stream.flushEachRecord = true
    var dumper: PcapDumper?
    if let path = parsed.value("write") {
        do { dumper = try PcapDumper(capture: capture, path: path) } catch {
            printError("switchyard: \(error.description)")
            return 2
        }
    }

    // Everything the run needs is open (capture handle, filter, -o, --write): from here on the
    // parsers read hostile bytes, so without privileges (docs/LIVE.md, *Privileges*).
    do {
        let state = try PrivilegeDrop.apply(privileges)
        if let line = privilegeLine(privileges, state) {
            if privileges == .keep { printError(line) } else if !quiet { printError(line) }
        }
    } catch {
        printError("switchyard: \(error.description)")
        return 2
    }

    let sink = OutputSink(stream: stream, format: shared.format, filter: shared.filter)
    capture.stopOnSignals()
    if !quiet {
        printError("switchyard: listening on \(interface), link-type \(capture.linkTypeName), "
                   + "snapshot length \(captureOptions.snapshotLength) bytes, filter '\(captureOptions.filter)'")
    }
    let reason = runLive(capture, options: options, run: run, sink: sink, dumper: dumper,
                         report: { printError($0) })
    let statistics = capture.statistics()
    sink.writeSummary()
    stream.close()

    var status = shared.exitStatus(sink.tally)
    if case .captureFailed(let message) = reason {
        printError("switchyard: \(message); open connections were flushed and the summary written")
        status = 2
    }
    if let failure = dumper?.failure {
        printError("switchyard: \(failure)")
        status = 2
    }
    if let failure = stream.failure {
        // A reader that went away (`switchyard live | head`) is an ordinary way to stop.
        if failure != String(cString: strerror(EPIPE)) {
            printError("switchyard: output: \(failure); findings were lost")
            status = 2
        }
    }
    if !quiet {
        var line = "switchyard: \(sink.tally.totalPackets) packets captured"
        if let statistics {
            line += ", \(statistics.received) received by filter, \(statistics.dropped) dropped by kernel"
            line += ", \(statistics.interfaceDropped) dropped by interface"
        }
        printError(line)
    }
    return status
}

/// What the process runs with after `PrivilegeDrop.apply`: a warning when it kept root or
/// capabilities, else a note of the user it runs as.
private func privilegeLine(_ plan: PrivilegeDropPlan, _ state: PrivilegeState) -> String? {
    switch plan {
    case .keep:
        if state.uids.effective == 0 {
            return "switchyard: warning: capturing as root (--no-drop or -Z root): "
                + "a parser bug in live capture would be a root compromise"
        }
        guard state.effective != 0 || state.permitted != 0 else { return nil }
        return "switchyard: warning: keeping the capabilities while capturing (--no-drop or -Z root)"
    case .capabilitiesOnly:
        return "switchyard: dropped all capabilities; running as uid \(state.uids.effective)"
    case .switchUser(let user):
        return "switchyard: dropped privileges; running as \(user.name) (uid \(user.uid), gid \(user.gid)) "
            + "without capabilities"
    }
}

/// A positive number of seconds (fractions allowed).
private func seconds(_ parsed: Arguments, _ name: String) throws -> Double? {
    guard let text = parsed.value(name) else { return nil }
    guard let value = Double(text), value > 0, value <= 1e9 else {
        throw Arguments.UsageError(message: "option '--\(name)' takes a positive number of seconds")
    }
    return value
}

/// `switchyard interfaces`: the capture devices, as `tcpdump -D` lists them, with addresses.
func interfacesCommand(_ arguments: [String]) throws -> Int32 {
    let parsed = try Arguments(arguments, valued: ["format"], flagNames: [])
    guard parsed.positional.isEmpty else {
        throw Arguments.UsageError(message: "unexpected argument '\(parsed.positional[0])'")
    }
    let json: Bool
    switch parsed.value("format") ?? "text" {
    case "text": json = false
    case "json": json = true
    default: throw Arguments.UsageError(message: "--format takes json or text")
    }
    let devices: [CaptureDevice]
    do { devices = try CaptureDevice.all() } catch {
        printError("switchyard: \(error.description)")
        return 2
    }
    for (index, device) in devices.enumerated() {
        if json {
            var writer = JSONWriter()
            writer.beginObject()
            writer.key("name"); writer.string(device.name)
            writer.key("description")
            if let description = device.description { writer.string(description) } else { writer.null() }
            writer.key("addresses")
            writer.beginArray()
            for address in device.addresses { writer.string(address) }
            writer.endArray()
            writer.key("up"); writer.bool(device.isUp)
            writer.key("running"); writer.bool(device.isRunning)
            writer.key("loopback"); writer.bool(device.isLoopback)
            writer.key("wireless"); writer.bool(device.isWireless)
            writer.key("connection_status"); writer.string(device.connectionStatus.rawValue)
            writer.endObject()
            print(String(decoding: writer.bytes, as: UTF8.self))
        } else {
            var line = "\(index + 1).\(device.name)"
            if let description = device.description { line += " (\(description))" }
            if !device.flagNames.isEmpty { line += " [\(device.flagNames.joined(separator: ", "))]" }
            if !device.addresses.isEmpty { line += " " + device.addresses.joined(separator: " ") }
            print(line)
        }
    }
    return 0
}
