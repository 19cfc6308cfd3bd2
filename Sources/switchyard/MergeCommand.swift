import SwitchyardKit
#if canImport(Glibc)
import Glibc
#endif

/// `switchyard merge [-o FILE] SHARD.jsonl…`: one run's output from the outputs of
/// `analyze --shard K/N` for every K (ShardMerge).
func mergeCommand(_ arguments: [String]) throws -> Int32 {
    let parsed = try Arguments(arguments, valued: ["output"], flagNames: [], aliases: ["o": "output"])
    guard !parsed.positional.isEmpty else { throw Arguments.UsageError(message: "no shard output given") }
    guard let stream = openOutput(parsed.value("output")) else { return 2 }
    defer { stream.close() }
    switch ShardMerge.merge(paths: parsed.positional, into: stream) {
    case .success: return 0
    case .failure(let error):
        printError("switchyard: merge: \(error.message)")
        return 2
    }
}
