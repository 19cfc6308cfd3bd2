/// Reads structure out of a libFuzzer input: small numbers for choices, then byte runs.
/// Compiled into every fuzz target (see Scripts/fuzz); never part of the package.
struct FuzzInput {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(_ data: UnsafePointer<UInt8>, _ size: Int) {
        bytes = UnsafeRawBufferPointer(start: data, count: size)
    }

    var isEmpty: Bool { index >= bytes.count }
    var remainingCount: Int { bytes.count - index }

    /// The next byte, or 0 once the input is used up.
    mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func uint16() -> UInt16 { UInt16(byte()) << 8 | UInt16(byte()) }

    mutating func uint32() -> UInt32 { UInt32(uint16()) << 16 | UInt32(uint16()) }

    /// Up to `count` of the next bytes, as a view into the input (fewer at the end).
    mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let end = min(bytes.count, index + max(0, count))
        defer { index = end }
        return UnsafeRawBufferPointer(rebasing: bytes[index..<end])
    }

    /// Everything not consumed yet.
    mutating func rest() -> UnsafeRawBufferPointer { take(remainingCount) }
}

/// Copies `view` into its own exactly-sized heap block for the call, so AddressSanitizer
/// flags any read past its end (a view into a larger buffer would hide such reads).
func withExactCopy<R>(_ view: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: view.count, alignment: 1)
    defer { copy.deallocate() }
    if !view.isEmpty { copy.copyMemory(from: view) }
    return body(UnsafeRawBufferPointer(copy))
}

/// Stops the run with a message libFuzzer records as a crash (an invariant broke).
func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
               file: StaticString = #file, line: UInt = #line) {
    if !condition() { fatalError("invariant: \(message())", file: file, line: line) }
}
