import HTTP1
import XCTest

/// Messy traffic built from HTTP fragments, corruption and gaps: the parser must not trap, must
/// keep the feed contract, and must report the same events however the input is cut.
final class FuzzTests: XCTestCase {
    private static let requestLines = ["GET / HTTP/1.1\r\n", "POST /p HTTP/1.1\r\n", "CONNECT h:443 HTTP/1.1\r\n",
                                       "GET /x HTTP/1.0\n", "PRI * HTTP/2.0\r\n", "get / http/1.1\r\n"]
    private static let statusLines = ["HTTP/1.1 200 OK\r\n", "HTTP/1.1 101\r\n", "HTTP/1.0 304 NM\r\n",
                                      "HTTP/1.1 100 Continue\r\n", "HTTP/1.1 204 \n", "HTTP/2 200\r\n"]
    private static let fieldLines = ["Content-Length: 3\r\n", "Content-Length: 3, 4\r\n", "Content-Length: 0\r\n",
                                     "Transfer-Encoding: chunked\r\n", "Transfer-Encoding: gzip\r\n", "Host: x\r\n",
                                     " folded\r\n", "Bad Line\r\n", "Upgrade: websocket\n", "X : y\r\n"]
    private static let bodies = ["abc", "5;a=\"b\"\r\nhello\r\n0\r\n\r\n", "0\r\nT: v\r\n\r\n", "3\r\nab", "\r\n", ""]

    func testRandomTrafficIsSplitInvariantAndNeverTraps() {
        var random = SplitMix(seed: 0x5EED)
        var headCount = 0
        for _ in 0..<160 {
            let role: HTTPRole = random.next(upTo: 2) == 0 ? .request : .response
            let startLines = role == .request ? Self.requestLines : Self.statusLines
            var steps: [DirectionStep] = []
            var current: [UInt8] = []
            for _ in 0..<(1 + random.next(upTo: 4)) {
                // Mostly plausible start lines, sometimes odd ones or one of the other role.
                let pick = random.next(upTo: 10)
                let line = pick < 8 ? startLines[random.next(upTo: 3)]
                    : pick == 8 ? startLines[random.next(upTo: startLines.count)] : Self.requestLines[0]
                current += bytes(line)
                for _ in 0..<random.next(upTo: 4) {
                    current += bytes(Self.fieldLines[random.next(upTo: Self.fieldLines.count)])
                }
                current += bytes(random.next(upTo: 4) == 0 ? "\n" : "\r\n")
                current += bytes(Self.bodies[random.next(upTo: Self.bodies.count)])
                switch random.next(upTo: 8) {
                case 0:
                    current += (0..<random.next(upTo: 8)).map { _ in UInt8(truncatingIfNeeded: random.next(upTo: 256)) }
                case 1:
                    steps.append(.bytes(current))
                    current = []
                    steps.append(.gap(UInt64(random.next(upTo: 6) + 1)))
                default:
                    break
                }
            }
            steps.append(.bytes(current))
            if random.next(upTo: 2) == 0 { steps.append(.finish) }
            let actions: [HTTPHeadAction] = (0..<6).map { _ in
                [.proceed, .proceed, .proceed, .skipBody, .pauseAfterMessage, .switchProtocols][random.next(upTo: 6)]
            }
            var options = HTTPParserOptions()
            if random.next(upTo: 4) == 0 { options.maxHeadBytes = 24 + random.next(upTo: 40) }
            let policy: PausePolicy = random.next(upTo: 4) == 0 ? .stop : .resume

            let outcome = assertParsesIdentically(steps, role: role, options: options, actions: actions, onPause: policy)
            headCount += outcome.heads.count
            let total = steps.reduce(UInt64(0)) { sum, step in
                switch step {
                case .bytes(let chunk): return sum + UInt64(chunk.count)
                case .gap(let length): return sum + length
                case .finish: return sum
                }
            }
            XCTAssertLessThanOrEqual(outcome.streamOffset, total)
            XCTAssertTrue(outcome.errors.allSatisfy { $0.evidence.count <= HTTPMessageParser.evidenceLimit })
        }
        XCTAssertGreaterThan(headCount, 100, "the generator should mostly produce parseable traffic")
    }
}

/// A small deterministic generator (SplitMix64), so that failures reproduce.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(upTo bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int(z % UInt64(bound))
    }
}
