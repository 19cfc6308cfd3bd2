import Findings
import PacketCapture
import SwitchyardKit
#if canImport(Glibc)
import Glibc
#endif

// Exit codes: 0 nothing at or above --fail-on, 1 something was, 2 unusable input, usage
// error, or output lost (docs/OUTPUT.md).
signal(SIGPIPE, SIG_IGN)
// Past a file size limit (ulimit -f) write(2) then fails with EFBIG, reported like a full disk,
// instead of the signal killing the process halfway through a record.
signal(SIGXFSZ, SIG_IGN)
let arguments = Array(CommandLine.arguments.dropFirst())
let status: Int32
do {
    status = try runCommand(arguments)
} catch let error as Arguments.UsageError {
    printError("switchyard: \(error.message)")
    printError("Try 'switchyard help'.")
    status = 2
}
exit(status)
