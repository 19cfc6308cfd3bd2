import Foundation

/// Appends fixed-width integers in a chosen byte order; shared by the capture file writers.
struct CaptureFileBytes {
    var bigEndian: Bool

    func append(_ value: UInt16, to bytes: inout [UInt8]) {
        let ordered = bigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: ordered) { bytes.append(contentsOf: $0) }
    }

    func append(_ value: UInt32, to bytes: inout [UInt8]) {
        let ordered = bigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: ordered) { bytes.append(contentsOf: $0) }
    }

    func append(_ value: UInt64, to bytes: inout [UInt8]) {
        let ordered = bigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: ordered) { bytes.append(contentsOf: $0) }
    }

    /// Overwrites four bytes at `offset` (block lengths known only after the body).
    func put(_ value: UInt32, at offset: Int, in bytes: inout [UInt8]) {
        let ordered = bigEndian ? value.bigEndian : value.littleEndian
        withUnsafeBytes(of: ordered) { raw in
            for index in 0..<4 { bytes[offset + index] = raw[index] }
        }
    }
}

extension Array where Element == UInt8 {
    /// Writes the bytes to `path`, replacing any file there.
    func writeCaptureFile(to path: String) throws {
        try Data(self).write(to: URL(fileURLWithPath: path))
    }
}
