#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM during `analyze` or `flows`: reading stops at the next check (every 16,384
/// packets), what was read is flushed, the summary is written, and the exit status says a
/// signal ended the run — instead of dying between two records (or, on a pipe, in the middle
/// of one). The handler only stores the signal number; a second signal kills at once.
nonisolated(unsafe) private var interruptSignalNumber: Int32 = 0

private func interruptHandler(_ signal: Int32) {
    if interruptSignalNumber != 0 {
        _ = Glibc.signal(signal, SIG_DFL)
        _ = raise(signal)
        return
    }
    interruptSignalNumber = signal
}

enum InterruptSignals {
    static func install() {
        interruptSignalNumber = 0
        _ = signal(SIGINT, interruptHandler)
        _ = signal(SIGTERM, interruptHandler)
    }

    /// The signal received, if any.
    static var received: Int32? { interruptSignalNumber == 0 ? nil : interruptSignalNumber }

    static func name(_ signal: Int32) -> String {
        signal == SIGINT ? "SIGINT" : signal == SIGTERM ? "SIGTERM" : "signal \(signal)"
    }
}
