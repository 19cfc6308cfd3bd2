import XCTest
import PacketCapture
import PacketDecoding
@testable import StreamReassembly

/// What the endpoints believed: checksums, resets, SYN data and urgent data. Tables of
/// segments → deliveries, as the other reassembly tests.
final class EndpointViewTests: XCTestCase {
    private let t = Script()
    private var hs: [Seg] { t.handshake().map { $0.with { $0.checksum = .valid } } }
    private let opened1 = Event.opened(1, client: "10.0.0.1:40000", partial: false)

    private func limits(_ change: (inout ReassemblyLimits) -> Void) -> ReassemblyLimits {
        var value = ReassemblyLimits()
        change(&value)
        return value
    }

    private func check(_ segments: [Seg], _ expected: [Event], limits: ReassemblyLimits = ReassemblyLimits(),
                       file: StaticString = #filePath, line: UInt = #line) -> (RecordingConsumer, ReassemblerSnapshot) {
        let (consumer, reassembler) = reassemble(segments, limits: limits)
        XCTAssertEqual(consumer.events, expected, "\n" + consumer.events.map(\.description).joined(separator: "\n"),
                       file: file, line: line)
        XCTAssertEqual(consumer.violations, [], file: file, line: line)
        return (consumer, reassembler)
    }

    // MARK: Checksums

    func testABadChecksumFake101IsNotBelievedWhereTheDirectionHasValidChecksums() {
        let fake = t.s(0, "HTTP/1.1 200 OK\r\n\r\n").with { $0.checksum = .badTCP }
        let real = t.s(0, "HTTP/1.1 101 Switching Protocols\r\n\r\n").with { $0.checksum = .valid }
        let (consumer, reassembler) = check(hs + [t.c(0, "GET").with { $0.checksum = .valid }, fake, real], [
            opened1,
            .data(1, c2s, "GET", frame: 4),
            .notBelieved(1, s2c, "bad_checksum", frame: 5),
            .data(1, s2c, "HTTP/1.1 101 Switching Protocols\r\n\r\n", frame: 6),
            .closed(1, .endOfInput),
        ])
        XCTAssertEqual(reassembler.statistics.segmentsDroppedBadChecksum, 1)
        XCTAssertEqual(consumer.findings.count, 1)
    }

    func testBadChecksumDataTheReceiverAcknowledgesIsDelivered() {
        // Rewritten after the capture point (Zeek's Geneve capture): the receiver's ACK covers
        // the bytes and nothing else came in their place, so it got them intact.
        let rewritten = t.s(0, "HTTP/1.1 200 OK\r\n\r\n", ack: 3).with { $0.checksum = .badTCP }
        let (consumer, reassembler) = check(hs + [t.c(0, "GET").with { $0.checksum = .valid },
                                                  t.s(0, "", ack: 3).with { $0.checksum = .valid }, rewritten,
                                                  t.c(3, ack: 19).with { $0.checksum = .valid }], [
            opened1, .data(1, c2s, "GET", frame: 4), .data(1, s2c, "HTTP/1.1 200 OK\r\n\r\n", frame: 6),
            .closed(1, .endOfInput),
        ])
        XCTAssertEqual(consumer.findings.count, 0)
        XCTAssertEqual(reassembler.statistics.badChecksumAcknowledged, 1)
        XCTAssertEqual(reassembler.statistics.segmentsDroppedBadChecksum, 0)
        XCTAssertEqual(reassembler.statistics.bufferedBytes, 0)
    }

    func testBadChecksumDataNeverAcknowledgedIsReportedAtTheClose() {
        let (consumer, _) = reassemble(hs + [t.s(0, "", ack: 0).with { $0.checksum = .valid },
                                             t.s(0, "FAKE").with { $0.checksum = .badTCP }])
        XCTAssertEqual(consumer.events.filter { if case .data = $0 { return true } else { return false } }.count, 0)
        XCTAssertTrue(consumer.events.contains(.notBelieved(1, s2c, "bad_checksum", frame: 5)), consumer.events.description)
    }

    func testABadChecksumRSTDoesNotCloseTheConnection() {
        let reset = t.s(0, flags: [.rst]).with { $0.checksum = .badIPv4Header }
        _ = check(hs + [reset, t.s(0, "data").with { $0.checksum = .valid }], [
            opened1,
            .notBelieved(1, s2c, "bad_checksum", frame: 4),
            .data(1, s2c, "data", frame: 5),
            .closed(1, .endOfInput),
        ])
    }

    func testARetransmissionWithABadChecksumIsOnlyCounted() {
        let again = t.c(0, "GET").with { $0.checksum = .badTCP }
        let (_, reassembler) = check(hs + [t.c(0, "GET").with { $0.checksum = .valid }, again], [
            opened1, .data(1, c2s, "GET", frame: 4), .closed(1, .endOfInput),
        ])
        XCTAssertEqual(reassembler.statistics.segmentsDroppedBadChecksum, 1)
    }

    func testOffloadedChecksumsOfALoopbackCaptureAreBelieved() {
        // tcpdump on `lo`: every TCP checksum is the pseudo-header sum the NIC never completed.
        let segments = t.handshake().map { $0.with { $0.checksum = .offloadPartial } }
            + [t.c(0, "GET").with { $0.checksum = .offloadPartial }, t.s(0, "OK").with { $0.checksum = .offloadPartial }]
        let (_, reassembler) = check(segments, [
            opened1, .data(1, c2s, "GET", frame: 4), .data(1, s2c, "OK", frame: 5), .closed(1, .endOfInput),
        ])
        XCTAssertEqual(reassembler.statistics.segmentsDroppedBadChecksum, 0)
        // A forged packet among them, with a checksum that is neither right nor the offload
        // pattern, is dropped: its receiver's kernel drops it too.
        let forged = t.s(2, "HTTP/1.1 200 OK").with { $0.checksum = .badTCP }
        let (withForged, _) = reassemble(segments + [forged, t.s(2, "!").with { $0.checksum = .offloadPartial }])
        XCTAssertTrue(withForged.events.contains(.notBelieved(1, s2c, "bad_checksum", frame: 6)))
        XCTAssertTrue(withForged.events.contains(.data(1, s2c, "!", frame: 7)))
    }

    func testADirectionWithOnlyWrongChecksumsIsTakenForOffloadUnderAuto() {
        let segments = t.handshake().map { $0.with { $0.checksum = .badTCP } } + [t.c(0, "GET").with { $0.checksum = .badTCP }]
        _ = check(segments, [opened1, .data(1, c2s, "GET", frame: 4), .closed(1, .endOfInput)])
        // `on` drops them all (the connection is never seen); `off` never looks.
        let (strict, _) = reassemble(segments, limits: limits { $0.checksums = .on })
        XCTAssertEqual(strict.events, [])
        let (lax, _) = reassemble(segments, limits: limits { $0.checksums = .off })
        XCTAssertEqual(lax.events.count, 3)
    }

    // MARK: Low TTL (the insertion attack)

    func testDataWithALowerTTLReplacedByOtherBytesIsNotBelieved() {
        let fake = t.s(0, "HTTP/1.1 200 OK\r\n\r\n").with { $0.ttl = 1 }
        let real = t.s(0, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
        let (_, reassembler) = check(hs + [t.c(0, "GET"), fake, real], [
            opened1, .data(1, c2s, "GET", frame: 4), .notBelieved(1, s2c, "ttl_below_direction", frame: 5),
            .data(1, s2c, "HTTP/1.1 101 Switching Protocols\r\n\r\n", frame: 6), .closed(1, .endOfInput),
        ])
        XCTAssertEqual(reassembler.statistics.lowTTLDataDropped, 1)
        XCTAssertEqual(reassembler.statistics.bufferedBytes, 0)
    }

    func testDataWithALowerTTLThatTheReceiverAcknowledgesIsDelivered() {
        // A path change (fewer hops left) is not an attack when the receiver takes the bytes.
        let (consumer, reassembler) = check(hs + [t.s(0, "OK").with { $0.ttl = 50 }, t.c(0, ack: 2)], [
            opened1, .data(1, s2c, "OK", frame: 4), .closed(1, .endOfInput),
        ])
        XCTAssertEqual(consumer.findings.count, 0)
        XCTAssertEqual(reassembler.statistics.lowTTLDataAcknowledged, 1)
    }

    // MARK: Resets

    func testAnRSTOutsideTheWindowIsIgnored() {
        let reset = t.s(0, flags: [.rst]).with { $0.sequence &+= 0x4000_0000 }
        let (_, reassembler) = check(hs + [t.c(0, "GET"), reset, t.s(0, "OK")], [
            opened1, .data(1, c2s, "GET", frame: 4), .notBelieved(1, s2c, "reset_out_of_window", frame: 5),
            .data(1, s2c, "OK", frame: 6), .closed(1, .endOfInput),
        ])
        XCTAssertEqual(reassembler.statistics.resetsIgnored, 1)
    }

    func testAnRSTInTheWindowButOffTheExpectedSequenceIsIgnored() {
        _ = check(hs + [t.s(10, flags: [.rst]), t.s(0, "OK")], [
            opened1, .notBelieved(1, s2c, "reset_not_at_expected_sequence", frame: 4),
            .data(1, s2c, "OK", frame: 5), .closed(1, .endOfInput),
        ])
    }

    func testAnRSTWhoseSenderGoesOnIsNotHonoured() {
        // Believed (right sequence number), then the server itself sends data: it never reset.
        let (_, reassembler) = check(hs + [t.c(0, "GET"), t.s(0, flags: [.rst]), t.s(0, "HTTP/1.1 101"), t.c(3, "more")], [
            opened1, .data(1, c2s, "GET", frame: 4),
            .resetNotHonoured(1, resetFrame: 5, frame: 6),
            .data(1, s2c, "HTTP/1.1 101", frame: 6), .data(1, c2s, "more", frame: 7),
            .closed(1, .endOfInput),
        ])
        XCTAssertEqual(reassembler.statistics.resetsNotHonoured, 1)
    }

    func testABelievedRSTClosesAfterTheHoldAtItsOwnFrame() {
        let a = Script(), b = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0003), port: 40001))
        var segments = a.handshake() + [a.c(0, "GET"), a.s(0, flags: [.rst, .ack], ack: 3)]
        // Ten seconds of another connection's traffic: the hold (5 s) passes.
        segments += b.handshake().map { $0.with { $0.seconds = 1010 } }
        let (consumer, _) = reassemble(segments)
        let closes = consumer.events.compactMap { event -> String? in
            if case .closed(let id, let reason) = event { return "\(id) \(reason)" } else { return nil }
        }
        XCTAssertEqual(closes, ["1 reset", "2 endOfInput"])
        XCTAssertTrue(consumer.events.contains(.end(1, s2c, frame: 5)))
    }

    func testAnRSTAnsweringTheSYNMustAcknowledgeIt() {
        let syn = t.handshake()[0]
        let refused = Seg(source: t.server, destination: t.client, sequence: 0, acknowledgment: t.clientISN &+ 1,
                          flags: [.rst, .ack])
        let blind = refused.with { $0.acknowledgment = 77 }
        let (consumer, _) = reassemble([syn, blind])
        XCTAssertTrue(consumer.events.contains(.notBelieved(1, s2c, "reset_not_acknowledging_syn", frame: 2)),
                      consumer.events.description)
        let (accepted, _) = reassemble([syn, refused], limits: limits { $0.resetHoldSeconds = 0 })
        XCTAssertEqual(accepted.events.last, .closed(1, .reset))
    }

    // MARK: FINs

    func testAFINWhoseReceiverAcknowledgesDataPastItIsNotHonoured() {
        // The server's FIN at offset 2 never reached the client: its data then takes that place,
        // and the client acknowledges the data, past the FIN.
        let segments = hs + [t.c(0, "GET"), t.s(0, "OK", ack: 3), t.s(2, flags: [.fin, .ack], ack: 3),
                             t.s(2, "MORE", ack: 3), t.c(3, ack: 6)]
        let (_, reassembler) = check(segments, [
            opened1, .data(1, c2s, "GET", frame: 4), .data(1, s2c, "OK", frame: 5),
            .finNotHonoured(1, finFrame: 6, frame: 8), .data(1, s2c, "MORE", frame: 7),
            .closed(1, .endOfInput),
        ])
        XCTAssertEqual(reassembler.statistics.finsNotHonoured, 1)
        XCTAssertEqual(reassembler.statistics.bufferedBytes, 0)
    }

    func testAFINTheReceiverAcknowledgesEndsTheDirectionAndDataPastItIsDropped() {
        let segments = hs + [t.s(0, "OK"), t.s(2, flags: [.fin, .ack]), t.s(2, "MORE"), t.c(0, ack: 3)]
        let (_, reassembler) = check(segments, [
            opened1, .data(1, s2c, "OK", frame: 4), .end(1, s2c, frame: 5), .closed(1, .endOfInput),
        ])
        XCTAssertEqual(reassembler.statistics.bufferedBytes, 0)
    }

    func testAnUnacknowledgedFINEndsItsDirectionAfterTheHold() {
        let a = Script(), b = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0003), port: 40001))
        var segments = a.handshake() + [a.c(0, "GET"), a.c(3, flags: [.fin, .ack])]
        segments += b.handshake().map { $0.with { $0.seconds = 1010 } }
        let (consumer, _) = reassemble(segments)
        let endIndex = consumer.events.firstIndex(of: .end(1, c2s, frame: 5))
        let secondOpened = consumer.events.firstIndex { if case .opened(2, _, _) = $0 { return true } else { return false } }
        XCTAssertNotNil(endIndex)
        XCTAssertNotNil(secondOpened)
        if let endIndex, let secondOpened { XCTAssertLessThan(endIndex, secondOpened, consumer.events.description) }
    }

    // MARK: SYN data

    func testSYNDataTheSYNACKDoesNotAcknowledgeIsNotDelivered() {
        let syn = Seg(source: t.client, destination: t.server, sequence: t.clientISN, flags: [.syn],
                      payload: Array("GET /fake HTTP/1.1\r\n".utf8))
        let synAck = t.handshake()[1]   // acknowledges ISN+1: the SYN only
        let (consumer, reassembler) = check([syn, synAck, t.handshake()[2], t.c(0, "GET /real HTTP/1.1\r\n")], [
            opened1,
            .synDataNotAcknowledged(1, syn: "GET /fake HTTP/1", later: "GET /real HTTP/1"),
            .data(1, c2s, "GET /real HTTP/1.1\r\n", frame: 4),
            .closed(1, .endOfInput),
        ])
        XCTAssertEqual(reassembler.statistics.synPayloadsNotAcknowledged, 1)
        XCTAssertEqual(reassembler.statistics.bufferedBytes, 0)
        XCTAssertEqual(consumer.findings.count, 1)
    }

    func testTCPFastOpenDataTheSYNACKAcknowledgesIsDelivered() {
        let syn = Seg(source: t.client, destination: t.server, sequence: t.clientISN, flags: [.syn],
                      payload: Array("GET / HTTP/1.1\r\n".utf8))
        let synAck = t.handshake()[1].with { $0.acknowledgment = t.clientISN &+ 1 &+ 16 }
        _ = check([syn, synAck, t.c(16, "Host: x\r\n")], [
            opened1, .data(1, c2s, "GET / HTTP/1.1\r\n", frame: 1), .data(1, c2s, "Host: x\r\n", frame: 3),
            .closed(1, .endOfInput),
        ])
    }

    func testASYNResentWithTheSameDataIsNotAFinding() {
        let syn = Seg(source: t.client, destination: t.server, sequence: t.clientISN, flags: [.syn],
                      payload: Array("GET".utf8))
        _ = check([syn, t.handshake()[1], t.c(0, "GET")], [
            opened1, .data(1, c2s, "GET", frame: 3), .closed(1, .endOfInput),
        ])
    }

    // MARK: Urgent data

    func testTheUrgentByteIsTakenOutOfTheStream() {
        let urgent = t.c(0, "GET!/").with { $0.flags = [.ack, .psh, .urg]; $0.urgentPointer = 4 }
        let (_, reassembler) = check(hs + [urgent, t.c(5, " HTTP/1.1")], [
            opened1, .data(1, c2s, "GET", frame: 4), .data(1, c2s, "/", frame: 4),
            .urgent(1, c2s, removed: true), .data(1, c2s, " HTTP/1.1", frame: 5), .closed(1, .endOfInput),
        ])
        XCTAssertEqual(reassembler.statistics.urgentBytesRemoved, 1)
    }

    func testAnUrgentSegmentOutOfOrderKeepsItsByteAndSaysSo() {
        let urgent = t.c(3, "!/").with { $0.flags = [.ack, .urg]; $0.urgentPointer = 1 }
        _ = check(hs + [urgent, t.c(0, "GET")], [
            opened1, .urgent(1, c2s, removed: false), .data(1, c2s, "GET", frame: 5), .data(1, c2s, "!/", frame: 4),
            .closed(1, .endOfInput),
        ])
    }

    // MARK: Negative controls

    func testOrdinaryTrafficWithRetransmissionsAndProbesGivesNoFinding() {
        let segments = hs + [
            t.c(0, "GET / HTTP/1.1\r\n\r\n").with { $0.checksum = .valid },
            t.c(0, "GET / HTTP/1.1\r\n\r\n").with { $0.checksum = .valid },      // retransmission
            t.s(0, "HTTP/1.1 200 OK\r\n").with { $0.checksum = .valid },
            t.c(17, "\n", ack: 17).with { $0.checksum = .valid },                // keep-alive probe (last byte again)
            t.c(18, ack: 17).with { $0.checksum = .valid },                      // zero-window probe ACK
            t.c(18, flags: [.fin, .ack], ack: 17).with { $0.checksum = .valid },
            t.s(17, flags: [.fin, .ack], ack: 19).with { $0.checksum = .valid },
            t.c(19, ack: 18).with { $0.checksum = .valid },
        ]
        let (consumer, _) = reassemble(segments)
        XCTAssertEqual(consumer.findings.count, 0)
        XCTAssertEqual(consumer.events.last, .closed(1, .fin))
    }
}
