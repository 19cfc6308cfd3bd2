#if canImport(Glibc)
import Glibc
#endif

/// `--shard K/N`: this run analyses part K (0-based) of N, so that N machines (or N jobs of a
/// cluster) share one analysis and `switchyard merge` puts their outputs back together.
///
/// - One capture file: shard K analyses the connections whose `FlowHash` falls in it, and
///   every shard walks the whole file (for the capture clock and the capture's counts).
/// - Several inputs (a directory, several files): shard K analyses a contiguous run of the
///   inputs, balanced by size, so that the shards' outputs concatenated are in input order.
public struct ShardSelection: Sendable, Equatable {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    public enum Mode: String, Sendable {
        case connections
        case files
    }

    /// Environment variables that carry a job's index in a cluster, in the order tried:
    /// Kubernetes Indexed Jobs, Slurm job arrays (minus `SLURM_ARRAY_TASK_MIN`), and ours.
    public static let indexVariables = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "SWITCHYARD_SHARD_INDEX"]
    /// Environment variables that carry the number of jobs (Kubernetes has none: give `auto/N`).
    public static let countVariables = ["SLURM_ARRAY_TASK_COUNT", "SWITCHYARD_SHARD_COUNT"]

    /// Parses `K/N`, `auto/N` or `auto` (index, and count if not given, from the environment).
    /// Returns an error message for anything else.
    public static func parse(_ text: String, environment: [String: String]) -> Result<ShardSelection, ShardError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count <= 2, !parts[0].isEmpty else {
            return .failure(ShardError("--shard takes K/N (0 <= K < N), auto/N or auto"))
        }
        var count: Int?
        if parts.count == 2 {
            guard let n = Int(parts[1]), n >= 1, n <= 1 << 20 else {
                return .failure(ShardError("--shard: N must be a whole number from 1 to \(1 << 20)"))
            }
            count = n
        }
        let index: Int
        if parts[0] == "auto" {
            guard let (name, value) = indexVariables.lazy.compactMap({ name in environment[name].map { (name, $0) } }).first,
                  var found = Int(value) else {
                return .failure(ShardError("--shard auto: none of \(indexVariables.joined(separator: ", ")) holds a number"))
            }
            if name == "SLURM_ARRAY_TASK_ID", let minimum = environment["SLURM_ARRAY_TASK_MIN"].flatMap({ Int($0) }) {
                found -= minimum
            }
            index = found
            if count == nil {
                guard let text = countVariables.lazy.compactMap({ environment[$0] }).first, let n = Int(text),
                      n >= 1, n <= 1 << 20 else {
                    return .failure(ShardError("--shard auto: give the number of shards (auto/N); "
                                               + "none of \(countVariables.joined(separator: ", ")) holds it"))
                }
                count = n
            }
        } else {
            guard let k = Int(parts[0]) else { return .failure(ShardError("--shard takes K/N (0 <= K < N), auto/N or auto")) }
            guard let n = count else { return .failure(ShardError("--shard K needs the number of shards: K/N")) }
            _ = n
            index = k
        }
        guard let count, index >= 0, index < count else {
            return .failure(ShardError("--shard: the index must be from 0 to N-1"))
        }
        return .success(ShardSelection(index: index, count: count))
    }

    /// The inputs of this shard when sharding by files: contiguous, balanced by size. Input
    /// `i` goes to the shard where the middle of its bytes falls in the whole list's bytes
    /// (by position when every size is zero), so the choice is monotonic in `i` and the same on
    /// every machine that sees the same files.
    public func inputs(of all: [CaptureInput], sizes: [UInt64]) -> [CaptureInput] {
        precondition(sizes.count == all.count)
        let total = sizes.reduce(0, +)
        var before: UInt64 = 0
        var mine: [CaptureInput] = []
        for (i, input) in all.enumerated() {
            let owner: Int
            if total == 0 {
                owner = i * count / max(all.count, 1)
            } else {
                // (before + size / 2) / total * count, in integers: the same on every machine.
                let twiceMiddle = 2 &* before &+ sizes[i]
                let product = twiceMiddle.multipliedFullWidth(by: UInt64(count))
                owner = min(count - 1, Int((2 &* total).dividingFullWidth(product).quotient))
            }
            before += sizes[i]
            if owner == index { mine.append(input) }
        }
        return mine
    }

    /// Size of each input for `inputs(of:sizes:)` (0 for what cannot be read).
    public static func sizes(of inputs: [CaptureInput]) -> [UInt64] {
        inputs.map { input in
            guard case .file(let path) = input else { return 0 }
            var info = stat()
            return stat(path, &info) == 0 ? UInt64(max(0, info.st_size)) : 0
        }
    }
}

public struct ShardError: Error, Equatable {
    public var message: String
    init(_ message: String) { self.message = message }
}
