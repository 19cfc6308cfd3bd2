/// Incremental HTTP/1.x parser for one direction of a connection (RFC 9112).
/// IMPLEMENTATION PENDING (helper).
public struct HTTPMessageParser {
    public let role: HTTPRole
    public let options: HTTPParserOptions
    /// Bytes of this direction consumed so far, gaps included.
    public private(set) var streamOffset: UInt64 = 0
    /// True once the direction was found not to carry HTTP; further input is ignored cheaply.
    public private(set) var isSkipping = false
    public private(set) var isPaused = false

    public init(role: HTTPRole, options: HTTPParserOptions = HTTPParserOptions()) {
        self.role = role
        self.options = options
    }

    public mutating func feed<D: HTTPParserDelegate>(_ bytes: UnsafeRawBufferPointer, delegate: inout D) -> HTTPParseResult {
        fatalError("pending")
    }

    public mutating func gap<D: HTTPParserDelegate>(length: UInt64, delegate: inout D) {
        fatalError("pending")
    }

    public mutating func finish<D: HTTPParserDelegate>(delegate: inout D) {
        fatalError("pending")
    }

    public mutating func resume() {
        isPaused = false
    }
}
