import Foundation
import XCTest
import PacketCapture
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Issue #20: `switchyard live` gives up root and every capability once the capture and the
/// output files are open, and keeps capturing. Each test reads `/proc/PID/status` of the running
/// capture after its first record, and checks the switches on loopback are still reported.
/// (The default drop to `nobody` is checked in `LiveCaptureTests.testLiveFindingsArriveWhileCapturing`.)
final class LivePrivilegeTests: XCTestCase {

    /// `-Z USER` for a user made for the test; `-o` and `--write` name files in a directory only
    /// root may enter, so that they are written after the drop proves they were opened before.
    func testUserNamedByZKeepsWritingFilesOpenedBeforeTheDrop() throws {
        let executable = try requireRootLoopbackAndExecutable()
        let user = try TemporaryUser()
        defer { user.remove() }

        let directory = try privateDirectory(mode: 0o700)
        defer { try? FileManager.default.removeItem(at: directory) }
        let records = directory.appendingPathComponent("findings.jsonl")
        let saved = directory.appendingPathComponent("packets.pcap")

        let run = try runAgainstPeers(executable, ["-Z", user.name, "-o", records.path, "-w", saved.path],
                                      recordsFile: records)
        assertDropped(run.status, uid: user.uid, gid: user.gid, boundingCleared: true)
        XCTAssertTrue(run.stderr.contains("running as \(user.name) (uid \(user.uid)"), run.stderr)

        // Opened by root before the drop, written by the user after it.
        for file in [records, saved] {
            let attributes = try FileManager.default.attributesOfItem(atPath: file.path)
            XCTAssertEqual((attributes[.ownerAccountID] as? NSNumber)?.intValue, 0, "\(file.lastPathComponent) created by root")
        }
        XCTAssertEqual(run.records.last?["type"] as? String, "summary", "the -o file got the summary at the end")
        XCTAssertEqual(run.records.last?["switches"] as? Int, 2)
        var reader = try CaptureFileReader(path: saved.path)
        var packets = 0
        while try reader.nextPacket() != nil { packets += 1 }
        let captured = (run.records.last?["captures"] as? [[String: Any]])?.first?["packets"] as? Int
        XCTAssertEqual(packets, captured, "every captured packet reached the --write file")
        XCTAssertGreaterThan(packets, 10)
    }

    /// Started as an unprivileged user from a copy of the binary holding only CAP_NET_RAW and
    /// CAP_NET_ADMIN (`setcap … =eip`, the README's way to run without root): the capabilities
    /// are dropped once the capture is open, the uid stays.
    func testFileCapabilitiesAreDroppedAfterOpening() throws {
        let executable = try requireRootLoopbackAndExecutable()
        guard let setcap = ["/usr/sbin/setcap", "/sbin/setcap"].first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else { throw XCTSkip("setcap not found: install Debian's libcap2-bin (.ci/run does)") }
        let setpriv = "/usr/bin/setpriv"
        guard FileManager.default.isExecutableFile(atPath: setpriv) else { throw XCTSkip("setpriv (util-linux) not found") }
        let user = try TemporaryUser()
        defer { user.remove() }

        // A copy the user can reach: the build directory may not be traversable for it.
        let directory = try privateDirectory(mode: 0o755)
        defer { try? FileManager.default.removeItem(at: directory) }
        let copy = directory.appendingPathComponent("switchyard")
        try FileManager.default.copyItem(at: executable, to: copy)
        chmod(copy.path, 0o755)
        let granted = try runTool(setcap, ["cap_net_raw,cap_net_admin=eip", copy.path])
        guard granted.status == 0 else {
            throw XCTSkip("file capabilities unavailable here: setcap said \(granted.output)")
        }
        let asUser = ["--reuid", "\(user.uid)", "--regid", "\(user.gid)", "--clear-groups", copy.path]
        // File capabilities are ignored on a nosuid mount and the copy needs the toolchain's
        // libraries readable by the user: if it cannot even start capturing, say why and skip.
        let probe = try runTool(setpriv, asUser + ["live", "-i", "lo", "-f", "tcp port 9", "--duration", "0.1", "-q"])
        guard probe.status == 0 else {
            throw XCTSkip("a setcap'd copy cannot capture as uid \(user.uid) here (\(probe.output.prefix(300)))")
        }

        let run = try runAgainstPeers(URL(fileURLWithPath: setpriv), [], prefix: asUser)
        // The bounding set stays (clearing it needs CAP_SETPCAP); no_new_privs covers it.
        assertDropped(run.status, uid: user.uid, gid: user.gid, boundingCleared: false)
        XCTAssertTrue(run.stderr.contains("dropped all capabilities; running as uid \(user.uid)"), run.stderr)

        // Without root the uid cannot change: naming another user is refused before capturing.
        let other = try runTool(setpriv, asUser + ["live", "-i", "lo", "-Z", "nobody", "--duration", "1"])
        XCTAssertEqual(other.status, 2, other.output)
        XCTAssertEqual(other.output, "switchyard: cannot drop privileges: switching to user 'nobody' needs root "
                                     + "(running as uid \(user.uid)); leave out -Z\n")
    }

    func testUnknownUserAndKeepingRoot() throws {
        let executable = try requireRootLoopbackAndExecutable()
        let unknown = try runTool(executable.path, ["live", "-i", "lo", "-Z", "no-such-user-20", "--duration", "1"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertEqual(unknown.output, "switchyard: cannot drop privileges: no user 'no-such-user-20' "
                                       + "(name another with -Z USER, or keep root with --no-drop)\n",
                       "one line, before the capture starts (no summary)")

        for keep in [["-Z", "root"], ["--no-drop"]] {
            let live = try Child(executable, ["live", "-i", "lo", "-f", "tcp port 9", "--duration", "10"] + keep)
            defer { live.stop() }
            XCTAssertTrue(live.stderr.wait(seconds: 5) { $0.contains { $0.text.contains("listening on lo") } }, live.stderr.text)
            let status = try ProcessStatus.fields(live.process.processIdentifier)
            XCTAssertEqual(status["Uid"], "0\t0\t0\t0", "\(keep) keeps root")
            XCTAssertTrue(live.stderr.text.contains("warning: capturing as root (--no-drop or -Z root)"), live.stderr.text)
        }
    }

    // MARK: - Helpers

    private func requireRootLoopbackAndExecutable() throws -> URL {
        guard getuid() == 0 else { throw XCTSkip("these tests start live capture as root and create users; run as root") }
        guard LiveCaptureTests.hasLoopback else { throw XCTSkip("no interface 'lo'") }
        guard let executable = TestPaths.executable else { throw XCTSkip("switchyard executable not built") }
        return executable
    }

    /// A fresh directory under /tmp with `mode`, owned by root.
    private func privateDirectory(mode: mode_t) throws -> URL {
        var template = Array("/tmp/switchyard-privdrop.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw XCTSkip("mkdtemp failed: \(String(cString: strerror(errno)))") }
        let path = String(cString: made)
        chmod(path, mode)
        return URL(fileURLWithPath: path)
    }

    /// Runs `live -i lo` (after `prefix`, e.g. setpriv's arguments) against the WebSocket peers of
    /// `LiveCaptureTests`, reads its /proc status after the first `switch` record, then closes the
    /// connections and stops it with SIGINT. Records come from stdout, or `recordsFile` (`-o`).
    private func runAgainstPeers(_ launcher: URL, _ options: [String], prefix: [String] = [], recordsFile: URL? = nil)
        throws -> (status: [String: String], records: [[String: Any]], stderr: String) {
        let (peers, ports) = try LiveCaptureTests.startPeers()
        defer { peers.stop() }

        let live = try Child(launcher, prefix + ["live", "-i", "lo", "-f", "tcp port \(ports[0]) or tcp port \(ports[1])",
                                                 "--duration", "15"] + options)
        defer { live.stop() }
        XCTAssertTrue(live.stderr.wait(seconds: 5) { $0.contains { $0.text.contains("listening on lo") } },
                      "capture did not start: \(live.stderr.text)")
        func records() -> [[String: Any]] {
            let lines = recordsFile.map { (try? String(contentsOf: $0, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? [] }
                ?? live.stdout.lines.map(\.text)
            return lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        peers.send("open")
        XCTAssertTrue(peers.stdout.wait(seconds: 5) { $0.contains { $0.text == "opened" } }, peers.stderr.text)
        let switched = live.stdout.wait(seconds: 5) { _ in records().contains { $0["type"] as? String == "switch" } }
        XCTAssertTrue(switched, "no switch record while capturing: \(records())\n\(live.stderr.text)")
        XCTAssertTrue(live.process.isRunning, live.stderr.text)
        let status = try ProcessStatus.fields(live.process.processIdentifier)

        peers.send("close")
        XCTAssertTrue(peers.stdout.wait(seconds: 5) { $0.contains { $0.text == "closed" } })
        kill(live.process.processIdentifier, SIGINT)
        XCTAssertTrue(live.waitForExit(seconds: 10), "SIGINT did not stop the capture")
        XCTAssertTrue([0, 1].contains(live.process.terminationStatus), live.stderr.text)
        _ = live.stdout.wait(seconds: 5) { _ in live.stdout.ended }
        _ = live.stderr.wait(seconds: 5) { _ in live.stderr.ended }
        let all = records()
        XCTAssertEqual(all.filter { $0["type"] as? String == "switch" }.count, 2, "both switches reported after the drop")
        XCTAssertTrue(all.contains { $0["rule"] as? String == "http_101_unsolicited" })
        return (status, all, live.stderr.text)
    }

    /// Runs a command to its end; stdout and stderr together.
    private func runTool(_ path: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// A system user with its own group and no home, removed by `remove()`.
    private struct TemporaryUser {
        let name: String
        let uid: UInt32
        let gid: UInt32

        init() throws {
            guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/useradd") else {
                throw XCTSkip("useradd not found")
            }
            name = "swy-privdrop-\(getpid())"
            let process = try Process.run(URL(fileURLWithPath: "/usr/sbin/useradd"),
                                          arguments: ["--system", "--no-create-home", "--user-group",
                                                      "--shell", "/usr/sbin/nologin", name])
            process.waitUntilExit()
            guard process.terminationStatus == 0, let entry = getpwnam(name) else {
                throw XCTSkip("useradd \(name) failed (status \(process.terminationStatus))")
            }
            uid = entry.pointee.pw_uid
            gid = entry.pointee.pw_gid
        }

        func remove() {
            if let process = try? Process.run(URL(fileURLWithPath: "/usr/sbin/userdel"), arguments: [name]) {
                process.waitUntilExit()
            }
        }
    }
}

/// The four uids and gids are the user's, no supplementary groups, no capability in any set,
/// and no_new_privs set.
func assertDropped(_ status: [String: String], uid: UInt32, gid: UInt32, boundingCleared: Bool,
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(status["Uid"], "\(uid)\t\(uid)\t\(uid)\t\(uid)", "real, effective, saved, filesystem uid", file: file, line: line)
    XCTAssertEqual(status["Gid"], "\(gid)\t\(gid)\t\(gid)\t\(gid)", file: file, line: line)
    XCTAssertEqual(status["Groups"], "", "supplementary groups cleared", file: file, line: line)
    for set in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
        XCTAssertEqual(status[set], "0000000000000000", set, file: file, line: line)
    }
    if boundingCleared { XCTAssertEqual(status["CapBnd"], "0000000000000000", file: file, line: line) }
    XCTAssertEqual(status["NoNewPrivs"], "1", file: file, line: line)
    print("observed /proc status:", ["Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs"]
        .map { "\($0): \(status[$0] ?? "?")" }.joined(separator: " | "))
}
