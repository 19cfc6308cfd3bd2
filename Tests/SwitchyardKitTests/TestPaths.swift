import Foundation

/// Paths for end-to-end tests, found from this file's location so any checkout works.
enum TestPaths {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let captures = repositoryRoot.appendingPathComponent("Captures")
    static let expected = captures.appendingPathComponent("expected")
    /// `../shared/captures-real` beside the checkout (or `$SWITCHYARD_PUBLIC_CAPTURES`, for a
    /// worktree elsewhere); absent on machines without it.
    static let publicCaptures = ProcessInfo.processInfo.environment["SWITCHYARD_PUBLIC_CAPTURES"].map { URL(fileURLWithPath: $0) }
        ?? repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/captures-real")

    static func captureFiles(in directory: URL) -> [URL] {
        guard let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return [] }
        return enumerator.compactMap { $0 as? URL }
            .filter { ["pcap", "pcapng"].contains($0.pathExtension) && !$0.path.contains("/expected/") }
            .sorted { $0.path < $1.path }
    }

    /// The built `switchyard` executable, beside the test bundle.
    static var executable: URL? {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = directory.appendingPathComponent("switchyard")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        let fallback = repositoryRoot.appendingPathComponent(".build/debug/switchyard")
        return FileManager.default.isExecutableFile(atPath: fallback.path) ? fallback : nil
    }
}
