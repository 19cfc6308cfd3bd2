#if canImport(Glibc)
import Glibc
#endif

/// One thing to read: a file, or standard input.
public enum CaptureInput: Equatable, Sendable {
    case file(String)
    case standardInput
    /// An argument that names nothing readable (the reason is one line for stderr).
    case unusable(name: String, reason: String)

    public var name: String {
        switch self {
        case .file(let path): return path
        case .standardInput: return "-"
        case .unusable(let name, _): return name
        }
    }
}

/// Expands command-line arguments: `-` is standard input, a directory is every capture
/// file below it (recursively, sorted by path, recognised by its magic number so that
/// scripts and notes beside captures are passed over), anything else is a file.
public enum InputResolver {
    public static let maxDepth = 16

    public static func resolve(_ arguments: [String]) -> [CaptureInput] {
        var inputs: [CaptureInput] = []
        for argument in arguments {
            if argument == "-" {
                inputs.append(.standardInput)
                continue
            }
            var info = stat()
            guard stat(argument, &info) == 0 else {
                inputs.append(.unusable(name: argument, reason: String(cString: strerror(errno))))
                continue
            }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                var found: [String] = []
                collect(directory: argument, depth: 0, into: &found)
                if found.isEmpty {
                    inputs.append(.unusable(name: argument, reason: "directory contains no pcap or pcapng files"))
                } else {
                    inputs.append(contentsOf: found.sorted().map(CaptureInput.file))
                }
            } else {
                inputs.append(.file(argument))
            }
        }
        return inputs
    }

    private static func collect(directory: String, depth: Int, into found: inout [String]) {
        guard depth < maxDepth, let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." || name.hasPrefix(".") { continue }
            names.append(name)
        }
        for name in names.sorted() {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            let type = info.st_mode & S_IFMT
            if type == S_IFDIR {
                collect(directory: path, depth: depth + 1, into: &found)
            } else if type == S_IFREG && hasCaptureMagic(path) {
                found.append(path)
            }
        }
    }

    /// pcap (either byte order, µs or ns) or pcapng (Section Header Block).
    public static func hasCaptureMagic(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var magic: UInt32 = 0
        guard read(fd, &magic, 4) == 4 else { return false }
        let known: Set<UInt32> = [0xA1B2_C3D4, 0xD4C3_B2A1, 0xA1B2_3C4D, 0x4D3C_B2A1, 0x0A0D_0D0A]
        return known.contains(magic) || known.contains(magic.byteSwapped)
    }
}
