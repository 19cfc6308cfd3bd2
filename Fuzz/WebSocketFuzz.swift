import Findings
import PacketCapture
import PacketDecoding
import SwitchedProtocols

/// libFuzzer target `websocket`: a WebSocketSession fed client and server chunks alternately
/// (Fuzz/ChunkScript.swift; a direction's end is ignored, the session has no per-direction end).
///
/// Byte 0 = negotiation: bits 0–1 none / permessage-deflate / an unknown extension /
/// both; bit 2 limits findings to 2 per rule. The script runs twice, the second time with
/// each data chunk cut into pieces (same frame): statistics and violations must not change.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebSocket(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let mode = input.byte()
    let steps = chunkSteps(&input)
    let deflate = WebSocketExtension(name: "permessage-deflate")
    let unknown = WebSocketExtension(name: "x-custom", parameters: [.init(name: "a", value: "1")])
    let negotiation: WebSocketNegotiation
    switch mode & 3 {
    case 0: negotiation = WebSocketNegotiation()
    case 1: negotiation = WebSocketNegotiation(extensions: [deflate], permessageDeflate: PerMessageDeflateParameters(deflate))
    case 2: negotiation = WebSocketNegotiation(extensions: [unknown])
    default: negotiation = WebSocketNegotiation(extensions: [deflate, unknown],
                                                permessageDeflate: PerMessageDeflateParameters(deflate))
    }
    let limits = WebSocketSession.Limits(maxFindingsPerRule: mode & 4 != 0 ? 2 : 100)
    let whole = run(steps, negotiation: negotiation, limits: limits, split: false)
    let split = run(steps, negotiation: negotiation, limits: limits, split: true)
    fuzzCheck(whole == split, "segmentation changed the outcome:\n\(whole)\n--- split:\n\(split)")
    return 0
}

private struct Outcome: Equatable, CustomStringConvertible {
    var client: WebSocketDirectionStatistics
    var server: WebSocketDirectionStatistics
    var violations: [Violation]
    var firstClient: [UInt8]
    var firstServer: [UInt8]
    var summary: Evidence
    var observedInner: SniffResult?

    var description: String {
        "client \(client)\nserver \(server)\nviolations \(violations.map { "\($0.rule.id) f\($0.frame) \($0.message)" })"
    }
}

private func run(_ steps: [ChunkStep], negotiation: WebSocketNegotiation, limits: WebSocketSession.Limits,
                 split: Bool) -> Outcome {
    let session = WebSocketSession(negotiation: negotiation, connection: nil, limits: limits)
    var violations: [Violation] = []
    for (index, step) in steps.enumerated() {
        let frame = UInt64(index + 1)
        let time = Timestamp(seconds: 1_700_000_000 + Int64(index), nanoseconds: 0)
        switch step {
        case .data(let fromClient, let bytes):
            let ranges = split ? pieces(count: bytes.count, seed: UInt64(index)) : [0..<bytes.count]
            for range in ranges {
                withExactCopy(UnsafeRawBufferPointer(rebasing: bytes[range])) { copy in
                    if fromClient {
                        session.clientData(copy, frame: frame, timestamp: time)
                    } else {
                        session.serverData(copy, frame: frame, timestamp: time)
                    }
                }
            }
        case .gap(let fromClient, let length):
            session.gap(fromClient: fromClient, length: length, frame: frame, timestamp: time)
        case .end:
            break
        }
        violations += session.takeViolations()
    }
    session.finish()
    violations += session.takeViolations()
    let statistics = [session.clientStatistics, session.serverStatistics]
    for side in statistics {
        fuzzCheck(side.framesByOpcode.count == 16 && side.messagesByOpcode.count == 16, "opcode table size")
        fuzzCheck(side.framesByOpcode.reduce(0, &+) == side.frames, "frames by opcode do not add up")
    }
    let first = session.firstMessageBytes
    fuzzCheck(first.client.count <= WebSocketFrameDecoder.firstMessageBytesKept
              && first.server.count <= WebSocketFrameDecoder.firstMessageBytesKept, "first message bytes unbounded")
    return Outcome(client: session.clientStatistics, server: session.serverStatistics, violations: violations,
                   firstClient: first.client, firstServer: first.server, summary: session.summary,
                   observedInner: session.observedInner)
}
