import Findings
import PacketCapture
import PacketDecoding
import SwitchedProtocols

/// libFuzzer target `connectudp`: a ConnectUDPSession (the Capsule Protocol after a 101 to
/// connect-udp, RFC 9298 / RFC 9297) fed client and server chunks alternately, with gaps and
/// each direction's end (Fuzz/ChunkScript.swift). No header byte.
///
/// The script runs twice, the second time with each data chunk cut into pieces (same frame):
/// the evidence and the violations must not change. Counts must add up and stay within the
/// tables' limits.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnectUDP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(data, size)
    let steps = chunkSteps(&input)
    let whole = run(steps, split: false)
    let split = run(steps, split: true)
    fuzzCheck(whole == split, "segmentation changed the outcome:\n\(whole)\n--- split:\n\(split)")
    return 0
}

private struct Outcome: Equatable, CustomStringConvertible {
    var evidence: Evidence
    var violations: [Violation]

    var description: String {
        "evidence \(evidence)\nviolations \(violations.map { "\($0.rule.id) f\($0.frame) \($0.message)" })"
    }
}

private func run(_ steps: [ChunkStep], split: Bool) -> Outcome {
    let session = ConnectUDPSession(connection: nil)
    var violations: [Violation] = []
    for (index, step) in steps.enumerated() {
        let frame = UInt64(index + 1)
        let time = Timestamp(seconds: 1_700_000_000 + Int64(index), nanoseconds: 0)
        switch step {
        case .data(let fromClient, let bytes):
            forEachPiece(of: bytes, step: index, split: split) {
                session.data(fromClient: fromClient, $0, frame: frame, timestamp: time)
            }
        case .gap(let fromClient, let length):
            session.gap(fromClient: fromClient, length: length, frame: frame, timestamp: time)
        case .end(let fromClient):
            session.end(fromClient: fromClient, frame: frame, timestamp: time)
        }
        violations += session.takeViolations()
    }
    session.finish()
    violations += session.takeViolations()
    let evidence = session.evidence
    if case .object(let summary)? = evidence["connect_udp"] {
        for side in ["client_", "server_"] {
            guard case .integer(let capsules)? = summary[side + "capsules"],
                  case .object(let byType)? = summary[side + "capsules_by_type"],
                  case .object(let byContext)? = summary[side + "datagrams_by_context_id"],
                  case .integer(let datagrams)? = summary[side + "datagrams"] else {
                fuzzCheck(false, "summary fields missing or of another type: \(summary)")
                continue
            }
            func total(_ table: Evidence, _ unlisted: String) -> Int64 {
                table.entries.reduce(0) { sum, entry in
                    if case .integer(let count) = entry.value { return sum + count }
                    return sum
                } + { if case .integer(let n)? = summary[side + unlisted] { return n } else { return 0 } }()
            }
            fuzzCheck(byType.entries.count <= 16 && byContext.entries.count <= 16, "tables past their limits")
            fuzzCheck(total(byType, "capsules_of_unlisted_types") == capsules, "capsules by type do not add up")
            fuzzCheck(total(byContext, "datagrams_of_unlisted_context_ids") == datagrams, "datagrams by context do not add up")
        }
    } else {
        fuzzCheck(false, "no connect_udp summary")
    }
    return Outcome(evidence: evidence, violations: violations)
}
