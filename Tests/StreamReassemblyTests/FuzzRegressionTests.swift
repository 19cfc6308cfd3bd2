import XCTest
import PacketCapture
import PacketDecoding
@testable import StreamReassembly

/// Inputs the `reassembly` fuzz target (Fuzz/ReassemblyFuzz.swift) crashed on, replayed as
/// segments; the fuzz input is kept in hex for `Scripts/fuzz reassembly repro`.
final class FuzzRegressionTests: XCTestCase {
    /// Fuzz input 414e613ff8004e61ff00ff: a FIN segment whose payload was partly cut by the
    /// snaplen ends the direction; a later empty segment at the FIN's sequence number, also
    /// claiming cut bytes, was delivered as empty `streamData` after `streamEnd` (the fast
    /// path did not notice that clamping at the FIN left nothing).
    func testCutSegmentAtFINAfterDirectionEndedDeliversNothing() {
        let script = Script()
        let segments = [
            script.c(0, "abc", flags: [.fin, .ack], missing: 100),
            script.c(103, "", flags: [.fin, .ack], missing: 100),
            script.c(103, "", flags: [.ack], missing: 5),
        ]
        let (consumer, _) = reassemble(segments)
        XCTAssertEqual(consumer.violations, [])
        XCTAssertEqual(consumer.events.map(\.description), [
            "opened(1 client=10.0.0.1:40000 partial=true)",
            "data(1 client_to_server \"abc\" f1)",
            "gap(1 client_to_server 100 f1)",
            "end(1 client_to_server f1)",
            "closed(1 endOfInput)",
        ])
    }
}
