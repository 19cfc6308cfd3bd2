import Findings
import PacketCapture
import PacketDecoding
import ProxyCorrelation
import StreamReassembly
import SwitchedProtocols
import UpgradeAnalysis
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// When a live run stops by itself, and what it reports while it runs.
public struct LiveRunOptions: Sendable {
    /// Wall-clock seconds to capture; nil runs until a signal.
    public var duration: Double?
    /// Packets to read (after the filter); nil for no limit.
    public var packetCount: UInt64?
    /// Seconds between statistics lines handed to `report`; nil for none.
    public var statsInterval: Double?

    public init() {}
}

/// Why a live run ended.
public enum LiveStopReason: Equatable, Sendable {
    case signal(Int32)
    case duration
    case packetCount
    /// Writing findings failed (the reader of a pipe went away, or the disk is full).
    case outputFailed
    /// libpcap reported an error (the interface went down or disappeared).
    case captureFailed(String)
    /// The capture was broken off without a signal (`breakLoop()`).
    case stopped
}

/// `switchyard live`: the same decoder → reassembler → analysis consumer as `analyzeSource`,
/// fed from a live capture instead of a file.
///
/// Differences from a file, all about time: the `switch` record is written at the 101
/// (`emitSwitchAtResponse`) with a `switch_end` when the connection ends; idle connections
/// expire on the wall clock even when no packet arrives; and the run stops on a signal, after
/// `duration`, after `packetCount` packets, or when output fails. Open connections are then
/// flushed as at the end of a file, and libpcap's counters go into the capture's account.
/// Memory is bounded by the same `ReassemblyLimits` as offline analysis.
public func runLive(
    _ capture: LiveCapture, options: PipelineOptions, run: LiveRunOptions, sink: OutputSink,
    dumper: PcapDumper? = nil, report: (String) -> Void = { _ in }
) -> LiveStopReason {
    let name = capture.options.interface
    var analysis = options.analysis
    analysis.emitSwitchAtResponse = true
    analysis.webSocket.inflaterMemory = InflaterMemoryBudget(limit: options.maxInflaterMemoryBytes)
    var account = CaptureAccount(name: name, format: "live")
    let exchanges = ExchangeCollector(capture: name, byteLimit: options.proxy.maxExchangeBytes)
    var consumer = AccountingConsumer(inner: AnalysisConsumer(sink: sink, capture: name, options: analysis,
                                                              exchanges: exchanges))
    var decoder = PacketDecoder(verifiesChecksums: options.reassembly.checksums != .off,
                                fragmentLimits: options.reassembly.fragments)
    var reassembler = TCPReassembler(limits: options.reassembly)
    var packets: UInt64 = 0
    var bytes: UInt64 = 0
    var first: Timestamp?
    var last = Timestamp.zero

    let started = LiveClock.monotonic()
    let startedAt = LiveClock.wallClock()
    var lastHousekeeping = started
    var lastStats = started
    var packetsAtLastStats: UInt64 = 0
    let deadline = run.duration.map { started + $0 }
    var reason: LiveStopReason?
    var reportedDown = false

    while reason == nil {
        switch capture.next() {
        case .packet(let packet):
            packets &+= 1
            bytes &+= UInt64(packet.bytes.count)
            if first == nil { first = packet.timestamp }
            last = packet.timestamp
            dumper?.writeCurrentPacket(of: capture)
            if case .tcp(let segment) = decoder.decode(packet) {
                reassembler.process(segment, frame: packet.frameNumber, timestamp: packet.timestamp, into: &consumer)
            }
            if decoder.hasNotices {
                for notice in decoder.takeNotices() { consumer.decodeNotice(notice) }
            }
            if let limit = run.packetCount, packets >= limit { reason = .packetCount }
        case .timeout:
            break
        case .stopped:
            reason = LiveCapture.stopSignal.map(LiveStopReason.signal) ?? .stopped
        case .failed(let error):
            account.error = error.description
            reason = .captureFailed(error.description)
        }
        if reason == nil, let signal = LiveCapture.stopSignal { reason = .signal(signal) }
        if reason == nil, sink.stream.failure != nil { reason = .outputFailed }

        let now = LiveClock.monotonic()
        if reason == nil, let deadline, now >= deadline { reason = .duration }
        if now - lastHousekeeping >= 1 {
            // Once a second: idle connections expire on the wall clock (the packets' clock),
            // and saved packets reach the file.
            lastHousekeeping = now
            reassembler.expireIdle(now: LiveClock.wallClock(), into: &consumer)
            dumper?.flush()
        }
        if capture.interfaceDown != reportedDown {
            reportedDown = capture.interfaceDown
            report(reportedDown ? "switchyard: warning: interface '\(name)' went down; waiting for it to come back"
                                : "switchyard: interface '\(name)' is up again")
        }
        if let interval = run.statsInterval, now - lastStats >= interval {
            let rate = Double(packets &- packetsAtLastStats) / max(now - lastStats, 1e-3)
            lastStats = now
            packetsAtLastStats = packets
            report(LiveRunner.statsLine(elapsed: now - started, packets: packets, bytes: bytes, rate: rate,
                                        pcap: capture.statistics(), reassembly: reassembler.statistics,
                                        tally: sink.tally))
        }
    }

    reassembler.finish(into: &consumer)
    decoder.finish()
    dumper?.close()
    if let stats = capture.statistics() {
        account.liveReceived = stats.received
        account.liveDropped = stats.dropped
        account.liveInterfaceDropped = stats.interfaceDropped
    }
    account.packets = packets
    account.bytes = bytes
    // Live time is wall-clock time: the run spans from the start of capture to its stop,
    // also when no packet came.
    account.firstTimestamp = min(first ?? startedAt, startedAt)
    account.lastTimestamp = max(last, LiveClock.wallClock())
    account.decode = decoder.counters
    account.tcpNotBelieved = TCPDisbelief(reassembler.statistics, clockSteps: 0)
    account.tcpNotBelieved.ackPaddingIgnored = decoder.counters.ackPaddingIgnored
    account.connections = consumer.connections
    account.gaps = consumer.gaps
    account.gapBytes = consumer.gapBytes
    sink.tally.http.add(consumer.inner.http)
    sink.tally.captures.append(account)
    sink.addExchanges([exchanges], capture: name, options: options.pairing)
    return reason ?? .stopped
}

public enum LiveRunner {
    /// One `key=value` line for `--stats-interval` (stderr), easy to read and to parse.
    static func statsLine(elapsed: Double, packets: UInt64, bytes: UInt64, rate: Double,
                          pcap: LiveCaptureStatistics?, reassembly: ReassemblyStatistics,
                          tally: RunTally) -> String {
        var line = "switchyard: stats elapsed=\(Int(elapsed.rounded()))s packets=\(packets) bytes=\(bytes)"
        line += " packets_per_s=\(Int(rate.rounded()))"
        if let pcap {
            line += " received=\(pcap.received) dropped=\(pcap.dropped) interface_dropped=\(pcap.interfaceDropped)"
        }
        line += " connections=\(reassembly.connectionsSeen) open=\(reassembly.connectionsOpen)"
        line += " buffered_bytes=\(reassembly.bufferedBytes)"
        line += " switches=\(tally.switchesByProtocol.values.reduce(0, +))"
        line += " violations=\(tally.violationsByRule.values.reduce(0, +))"
        return line
    }
}

/// Clocks for the live loop: monotonic for durations, wall clock for packet time.
enum LiveClock {
    static func monotonic() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    static func wallClock() -> Timestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Timestamp(seconds: Int64(time.tv_sec), nanoseconds: UInt32(clamping: time.tv_nsec))
    }
}
