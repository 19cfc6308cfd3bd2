#if canImport(Glibc)
import Glibc
#endif

/// The progress line on stderr for long inputs, only when stderr is a terminal:
/// bytes done / total, MB/s and ETA, redrawn at most twice a second.
final class ProgressLine {
    let enabled: Bool
    private var name = ""
    private var started = 0.0
    private var lastDraw = 0.0
    private var drawn = false

    init(enabled: Bool) {
        self.enabled = enabled
    }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    func start(_ name: String) {
        guard enabled else { return }
        self.name = name
        started = Self.now()
        lastDraw = started
    }

    func update(_ done: UInt64, _ total: UInt64?) {
        let now = Self.now()
        guard enabled, now - lastDraw >= 0.5 else { return }
        lastDraw = now
        let elapsed = max(now - started, 1e-6)
        let rate = Double(done) / elapsed / 1e6
        var text = "\r\(name): \(done / 1_000_000) MB"
        if let total, total > 0 {
            let remaining = rate > 0 ? Double(total - min(done, total)) / 1e6 / rate : 0
            text += " / \(total / 1_000_000) MB (\(done * 100 / total)%), \(Int(rate)) MB/s, ETA \(Int(remaining)) s"
        } else {
            text += ", \(Int(rate)) MB/s"
        }
        text += "\u{1B}[K"
        printRaw(text)
        drawn = true
    }

    func finish() {
        if drawn { printRaw("\r\u{1B}[K") }
        drawn = false
    }

    private func printRaw(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { _ = write(2, $0.baseAddress!, $0.count) }
    }
}
