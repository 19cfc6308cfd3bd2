import Foundation
import XCTest
import Findings
import PacketCapture
import PacketDecoding
import StreamReassembly
import SwitchyardKit
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// `switchyard live` and the pieces it adds: wall-clock idle expiry, libpcap counters in the
/// summary, clear errors, and (as root, on `lo`) an end-to-end run against real servers that
/// checks findings arrive while the capture is still running.
final class LiveCaptureTests: XCTestCase {

    // MARK: - Without privileges

    func testExpireIdleClosesIdleConnectionsWhenNoPacketArrives() throws {
        var limits = ReassemblyLimits()
        limits.idleTimeoutSeconds = 60
        var reassembler = TCPReassembler(limits: limits)
        var consumer = ClosingConsumer()
        var decoder = PacketDecoder()
        let start = Timestamp(seconds: 1_000_000, nanoseconds: 0)
        let packets = [
            PacketBuilder.tcp(src: "10.0.0.1:40000", dst: "10.0.0.2:80", seq: 100, flags: PacketBuilder.TCPFlagBits.syn),
            PacketBuilder.tcp(src: "10.0.0.1:40000", dst: "10.0.0.2:80", seq: 101, payload: Array("GET / HTTP/1.1\r\n".utf8)),
        ]
        for (index, packet) in packets.enumerated() {
            packet.withUnsafeBytes { bytes in
                guard case .tcp(let segment) = decoder.decode(linkType: .raw, bytes: bytes) else {
                    return XCTFail("packet \(index) did not decode as TCP")
                }
                reassembler.process(segment, frame: UInt64(index + 1), timestamp: start, into: &consumer)
            }
        }
        XCTAssertEqual(consumer.closed, [])
        reassembler.expireIdle(now: Timestamp(seconds: start.seconds + 30, nanoseconds: 0), into: &consumer)
        XCTAssertEqual(consumer.closed, [], "30 s idle is within the 60 s timeout")
        reassembler.expireIdle(now: Timestamp(seconds: start.seconds + 10, nanoseconds: 0), into: &consumer)
        XCTAssertEqual(consumer.closed, [], "time going backwards changes nothing")
        reassembler.expireIdle(now: Timestamp(seconds: start.seconds + 61, nanoseconds: 0), into: &consumer)
        XCTAssertEqual(consumer.closed, [.idleTimeout])
        XCTAssertEqual(reassembler.statistics.connectionsTimedOut, 1)
        XCTAssertEqual(reassembler.statistics.connectionsOpen, 0)
    }

    func testSummaryCarriesPcapStatsOnlyForLiveCaptures() throws {
        var file = CaptureAccount(name: "a.pcap", format: "pcap")
        file.packets = 3
        var live = CaptureAccount(name: "lo", format: "live")
        live.liveReceived = 40
        live.liveDropped = 2
        live.liveInterfaceDropped = 1
        var tally = RunTally()
        tally.captures = [file, live]
        var json = JSONWriter()
        tally.writeSummary(into: &json)
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.bytes)) as? [String: Any])
        let captures = try XCTUnwrap(summary["captures"] as? [[String: Any]])
        XCTAssertNil(captures[0]["pcap_stats"], "files have no libpcap counters")
        let stats = try XCTUnwrap(captures[1]["pcap_stats"] as? [String: Any])
        XCTAssertEqual(stats["received"] as? Int, 40)
        XCTAssertEqual(stats["dropped"] as? Int, 2)
        XCTAssertEqual(stats["interface_dropped"] as? Int, 1)
    }

    func testUsageErrorsAndUnknownInterface() throws {
        let missing = try runToEnd(["live"])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("--interface"), missing.stderr)

        let stray = try runToEnd(["live", "-i", "lo", "tcp"])
        XCTAssertEqual(stray.status, 2)
        XCTAssertTrue(stray.stderr.contains("unexpected argument 'tcp'"), stray.stderr)

        let badDuration = try runToEnd(["live", "-i", "lo", "--duration", "soon"])
        XCTAssertEqual(badDuration.status, 2)

        let unknown = try runToEnd(["live", "-i", "no-such-if0", "--duration", "1"])
        XCTAssertEqual(unknown.status, 2)
        let lines = unknown.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("no such interface 'no-such-if0'"), unknown.stderr)
        if Self.hasLoopback { XCTAssertTrue(unknown.stderr.contains("lo"), "lists the known interfaces: \(unknown.stderr)") }
        XCTAssertEqual(unknown.stdout, "", "no summary when capture never started")
    }

    func testInterfacesListsLoopback() throws {
        guard Self.hasLoopback else { throw XCTSkip("no interface 'lo'") }
        let result = try runToEnd(["interfaces", "--format", "json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let devices = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let loopback = try XCTUnwrap(devices.first { $0["name"] as? String == "lo" }, result.stdout)
        XCTAssertEqual(loopback["loopback"] as? Bool, true)
        XCTAssertEqual(loopback["up"] as? Bool, true)
        XCTAssertTrue((loopback["addresses"] as? [String] ?? []).contains("127.0.0.1"), result.stdout)

        let text = try runToEnd(["interfaces"])
        XCTAssertTrue(text.stdout.split(separator: "\n").contains { $0.contains(".lo [Up, Running, Loopback] 127.0.0.1") },
                      "like tcpdump -D, with addresses: \(text.stdout)")
    }

    // MARK: - As root on lo

    func testFilterAndPermissionErrors() throws {
        try requireRootAndLoopback()
        let filter = try runToEnd(["live", "-i", "lo", "-f", "tcp port", "--duration", "1"])
        XCTAssertEqual(filter.status, 2)
        XCTAssertTrue(filter.stderr.contains("invalid capture filter: 'tcp port'"), filter.stderr)
        XCTAssertTrue(filter.stderr.contains("syntax error"), "libpcap's own message: \(filter.stderr)")

        let setpriv = "/usr/bin/setpriv"
        guard FileManager.default.isExecutableFile(atPath: setpriv), let executable = TestPaths.executable else { return }
        // The same binary as an unprivileged user (nobody): a permission error naming the capabilities.
        let denied = try runToEnd(["--reuid", "65534", "--regid", "65534", "--clear-groups", executable.path,
                                   "live", "-i", "lo", "--duration", "1"], launcher: URL(fileURLWithPath: setpriv))
        guard !denied.stderr.contains("setpriv:") else { return }  // e.g. no permission to traverse the build path
        XCTAssertEqual(denied.status, 2, denied.stderr)
        XCTAssertTrue(denied.stderr.contains("no permission to capture on 'lo'"), denied.stderr)
        XCTAssertTrue(denied.stderr.contains("CAP_NET_RAW"), denied.stderr)
    }

    /// Servers and clients on loopback while `switchyard live` captures: the `switch` record and
    /// the `http_101_unsolicited` violation must be on stdout while the connections are still
    /// open and the process still runs; SIGINT then ends the run with the summary last.
    func testLiveFindingsArriveWhileCapturing() throws {
        try requireRootAndLoopback()
        guard let executable = TestPaths.executable else { throw XCTSkip("switchyard executable not built") }
        let (peers, ports) = try Self.startPeers()
        defer { peers.stop() }

        let live = try Child(executable, ["live", "-i", "lo", "-f", "tcp port \(ports[0]) or tcp port \(ports[1])",
                                          "--duration", "15"])
        defer { live.stop() }
        XCTAssertTrue(live.stderr.wait(seconds: 5) { $0.contains { $0.text.contains("listening on lo") } },
                      "capture did not start: \(live.stderr.text)")

        peers.send("open")
        XCTAssertTrue(peers.stdout.wait(seconds: 5) { $0.contains { $0.text == "opened" } }, peers.stderr.text)
        func records() -> [(record: [String: Any], time: Date)] {
            live.stdout.lines.compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.text.utf8)) as? [String: Any]).map { ($0, line.time) }
            }
        }
        func isSwitch(_ record: [String: Any]) -> Bool {
            record["type"] as? String == "switch" && record["protocol"] as? String == "websocket"
        }
        func isUnsolicited(_ record: [String: Any]) -> Bool {
            record["type"] as? String == "violation" && record["rule"] as? String == "http_101_unsolicited"
        }
        let arrived = live.stdout.wait(seconds: 5) { _ in
            records().contains { isSwitch($0.record) } && records().contains { isUnsolicited($0.record) }
        }
        XCTAssertTrue(arrived, "findings did not arrive while capturing: \(live.stdout.text)\n\(live.stderr.text)")
        XCTAssertTrue(live.process.isRunning, "the findings came from a running capture")
        // Root was given up once the capture was open (issue #20): by default to nobody.
        let nobody = try XCTUnwrap(getpwnam("nobody"), "Debian has a user nobody").pointee
        assertDropped(try ProcessStatus.fields(live.process.processIdentifier), uid: nobody.pw_uid, gid: nobody.pw_gid,
                      boundingCleared: true)
        XCTAssertTrue(live.stderr.text.contains("running as nobody"), live.stderr.text)
        XCTAssertFalse(records().contains { $0.record["type"] as? String == "switch_end" },
                       "the connections are still open: the switch record came at the 101, not at the end")

        let closing = Date()
        peers.send("close")
        XCTAssertTrue(peers.stdout.wait(seconds: 5) { $0.contains { $0.text == "closed" } })
        XCTAssertTrue(live.stdout.wait(seconds: 5) { _ in
            records().filter { $0.record["type"] as? String == "switch_end" }.count >= 2
        }, "switch_end records when the connections close: \(live.stdout.text)")

        kill(live.process.processIdentifier, SIGINT)
        XCTAssertTrue(live.waitForExit(seconds: 10), "SIGINT did not stop the capture")
        let exited = Date()
        XCTAssertEqual(live.process.terminationReason, .exit)
        XCTAssertTrue([0, 1].contains(live.process.terminationStatus), "status \(live.process.terminationStatus)")
        XCTAssertTrue(live.stdout.wait(seconds: 5) { _ in live.stdout.ended }, "stdout closed")

        let all = records()
        let firstSwitch = try XCTUnwrap(all.first { isSwitch($0.record) })
        let unsolicited = try XCTUnwrap(all.first { isUnsolicited($0.record) })
        XCTAssertLessThan(firstSwitch.time, closing, "switch written before its connection ended")
        XCTAssertLessThan(unsolicited.time, closing)
        XCTAssertLessThan(unsolicited.time, exited)

        let summary = try XCTUnwrap(all.last?.record)
        XCTAssertEqual(summary["type"] as? String, "summary", "the summary comes last")
        let capture = try XCTUnwrap((summary["captures"] as? [[String: Any]])?.first)
        XCTAssertEqual(capture["capture"] as? String, "lo")
        XCTAssertEqual(capture["format"] as? String, "live")
        let stats = try XCTUnwrap(capture["pcap_stats"] as? [String: Any], "pcap_stats in \(capture)")
        XCTAssertGreaterThanOrEqual(stats["received"] as? Int ?? 0, capture["packets"] as? Int ?? .max)
        XCTAssertEqual(stats["dropped"] as? Int, 0)
        XCTAssertEqual((summary["violations_by_rule"] as? [String: Any])?["http_101_unsolicited"] as? Int, 1)
        XCTAssertEqual(summary["switches"] as? Int, 2)
        XCTAssertTrue(live.stderr.text.contains("packets captured"), live.stderr.text)
    }

    // MARK: - Helpers

    static var hasLoopback: Bool { FileManager.default.fileExists(atPath: "/sys/class/net/lo") }

    private func requireRootAndLoopback() throws {
        guard getuid() == 0 else { throw XCTSkip("live capture needs root") }
        guard Self.hasLoopback else { throw XCTSkip("no interface 'lo'") }
    }

    static var python3: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/python3" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts `peersScript`; returns it with its two ports (WebSocket server, unsolicited-101 server).
    static func startPeers() throws -> (Child, [Int]) {
        guard let python = python3 else { throw XCTSkip("python3 not found") }
        let peers = try Child(URL(fileURLWithPath: python), ["-c", peersScript])
        let started = peers.stdout.wait(seconds: 10) { $0.count >= 1 }
        let ports = peers.stdout.lines.first?.text.split(separator: " ").compactMap { Int($0) } ?? []
        guard started, ports.count == 2 else {
            peers.stop()
            throw PeersDidNotStart(output: peers.stdout.text + peers.stderr.text)
        }
        return (peers, ports)
    }

    private func runToEnd(_ arguments: [String], launcher: URL? = nil) throws
        -> (status: Int32, stdout: String, stderr: String) {
        guard let executable = launcher ?? TestPaths.executable else { throw XCTSkip("switchyard executable not built") }
        let child = try Child(executable, arguments)
        XCTAssertTrue(child.waitForExit(seconds: 20), "\(arguments) did not finish")
        _ = child.stdout.wait(seconds: 5) { _ in child.stdout.ended }
        _ = child.stderr.wait(seconds: 5) { _ in child.stderr.ended }
        return (child.process.terminationStatus, child.stdout.text, child.stderr.text)
    }

    /// A WebSocket server that answers correctly, a server that answers a plain GET with 101,
    /// and clients driven by commands on stdin (`open` keeps both connections open, `close`).
    static let peersScript = #"""
import base64, hashlib, socket, sys, threading
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
def head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    return data
def drain(conn):
    try:
        while conn.recv(4096):
            pass
    finally:
        conn.close()
def websocket(conn):
    request = head(conn)
    if request is None:
        return conn.close()
    key = b""
    for line in request.split(b"\r\n"):
        if line.lower().startswith(b"sec-websocket-key:"):
            key = line.split(b":", 1)[1].strip()
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n" + b"\x81\x02hi")
    drain(conn)
def unsolicited(conn):
    if head(conn) is None:
        return conn.close()
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    drain(conn)
def listen(handler):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    def loop():
        while True:
            conn, _ = server.accept()
            threading.Thread(target=handler, args=(conn,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
    return server.getsockname()[1]
ws_port, bad_port = listen(websocket), listen(unsolicited)
print(ws_port, bad_port, flush=True)
clients = []
for command in sys.stdin:
    command = command.strip()
    if command == "open":
        ws = socket.create_connection(("127.0.0.1", ws_port))
        ws.sendall(b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        reply = b""
        while not reply.endswith(b"hi"):
            reply += ws.recv(4096)
        ws.sendall(b"\x81\x82\x01\x02\x03\x04" + bytes(a ^ b for a, b in zip(b"ok", b"\x01\x02")))
        bad = socket.create_connection(("127.0.0.1", bad_port))
        bad.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += bad.recv(4096)
        clients += [ws, bad]
        print("opened", flush=True)
    elif command == "close":
        for client in clients:
            client.close()
        clients = []
        print("closed", flush=True)
"""#
}

struct PeersDidNotStart: Error {
    var output: String
}

/// Records how each connection closed.
private struct ClosingConsumer: StreamConsumer {
    var closed: [CloseReason] = []
    mutating func connectionOpened(_ connection: Connection) {}
    mutating func streamData(_ connection: Connection, _ direction: Direction, _ bytes: UnsafeRawBufferPointer,
                             frame: UInt64, timestamp: Timestamp) {}
    mutating func streamGap(_ connection: Connection, _ direction: Direction, length: UInt64,
                            frame: UInt64, timestamp: Timestamp) {}
    mutating func streamEnd(_ connection: Connection, _ direction: Direction, frame: UInt64, timestamp: Timestamp) {}
    mutating func connectionClosed(_ summary: ConnectionSummary) { closed.append(summary.closeReason) }
    mutating func reassemblyFinding(_ finding: ReassemblyFinding) {}
}

/// Lines read from a pipe as they come, each with the time it arrived.
final class LineCollector: @unchecked Sendable {
    struct Line {
        var text: String
        var time: Date
    }
    private let lock = NSLock()
    private var pending = Data()
    private var collected: [Line] = []
    private var finished = false

    init(_ pipe: Pipe) {
        pipe.fileHandleForReading.readabilityHandler = { [self] handle in
            let data = handle.availableData
            let now = Date()
            lock.lock()
            defer { lock.unlock() }
            if data.isEmpty {
                finished = true
                handle.readabilityHandler = nil
                return
            }
            pending.append(data)
            while let newline = pending.firstIndex(of: 0x0A) {
                collected.append(Line(text: String(decoding: pending[pending.startIndex..<newline], as: UTF8.self), time: now))
                pending.removeSubrange(pending.startIndex...newline)
            }
        }
    }

    var lines: [Line] { lock.lock(); defer { lock.unlock() }; return collected }
    var ended: Bool { lock.lock(); defer { lock.unlock() }; return finished }
    var text: String { lines.map(\.text).joined(separator: "\n") }

    /// Polls until `condition` holds for the lines so far, or the time is up.
    func wait(seconds: Double, until condition: ([Line]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition(lines) { return true }
            usleep(20_000)
        }
        return condition(lines)
    }
}

/// A child process whose stdout and stderr are read while it runs.
final class Child {
    let process = Process()
    let stdout: LineCollector
    let stderr: LineCollector
    private let input = Pipe()

    init(_ executable: URL, _ arguments: [String]) throws {
        let out = Pipe(), err = Pipe()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        stdout = LineCollector(out)
        stderr = LineCollector(err)
        try process.run()
    }

    func send(_ line: String) {
        input.fileHandleForWriting.write(Data((line + "\n").utf8))
    }

    func waitForExit(seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return !process.isRunning
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning {
            process.terminate()
            if !waitForExit(seconds: 3) { kill(process.processIdentifier, SIGKILL) }
        }
    }
}
