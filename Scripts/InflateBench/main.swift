// Throughput of the Inflate module on files given as arguments (built by Scripts/inflate-bench
// with swiftc -O against Sources/Inflate; never part of the package).
// Usage: inflate-bench FORMAT(raw|zlib|gzip) RUNS FILE…  — prints one line per file:
//   name, compressed bytes, output bytes, best seconds, MB/s of output (10^6 bytes).
import Foundation
import Inflate

let arguments = CommandLine.arguments
guard arguments.count >= 4, let runs = Int(arguments[2]) else {
    FileHandle.standardError.write(Data("usage: inflate-bench raw|zlib|gzip RUNS FILE…\n".utf8))
    exit(2)
}
let format: Inflater.Format = arguments[1] == "zlib" ? .zlib : arguments[1] == "gzip" ? .gzip : .raw
for path in arguments[3...] {
    let input = [UInt8](FileManager.default.contents(atPath: path) ?? Data())
    var best = Double.infinity
    var produced = 0
    var checksum: UInt8 = 0
    // Output is copied into one preallocated buffer, as zlib.decompress(bufsize=) writes into its result.
    var size = 0
    _ = try? Inflater(format: format).inflate(input) { size += $0.count }
    let destination = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, size), alignment: 16)
    for _ in 0..<runs {
        let inflater = Inflater(format: format)
        produced = 0
        let start = DispatchTime.now().uptimeNanoseconds
        do {
            let result = try inflater.inflate(input) { chunk in
                UnsafeMutableRawBufferPointer(rebasing: destination[produced..<(produced + chunk.count)])
                    .copyMemory(from: chunk)
                produced += chunk.count
            }
            checksum ^= destination[produced - 1]
            precondition(result.status == .streamEnd, "\(path): stream did not end (\(result.status))")
        } catch {
            print("\(path): \(error)")
            exit(1)
        }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    let name = (path as NSString).lastPathComponent
    print(String(format: "%@ %d %d %.4f %.1f %d", name, input.count, produced, best, Double(produced) / best / 1e6,
                 Int(checksum)))
}
