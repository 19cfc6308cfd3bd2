import Foundation

/// `/proc/PID/status` (proc(5)) as name → value, for tests that check a process's
/// credentials: `Uid` and `Gid` keep the tabs between their four fields, `Groups` is "" when
/// there are none, capability sets are 16 hex digits.
public enum ProcessStatus {
    public static func fields(_ pid: Int32? = nil) throws -> [String: String] {
        let text = try String(contentsOfFile: "/proc/\(pid.map(String.init) ?? "self")/status", encoding: .utf8)
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }
}
