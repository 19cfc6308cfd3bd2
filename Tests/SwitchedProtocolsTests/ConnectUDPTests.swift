import Findings
import PacketCapture
import PacketDecoding
import TestSupport
import XCTest
@testable import SwitchedProtocols

typealias VarInt = VariableLengthIntegerReader

/// A capsule: type and length as variable-length integers (shortest unless given), then the value.
func capsule(_ type: UInt64, _ value: [UInt8], typeLength: Int? = nil, lengthLength: Int? = nil) -> [UInt8] {
    VarInt.encode(type, length: typeLength) + VarInt.encode(UInt64(value.count), length: lengthLength) + value
}

func datagram(context: UInt64 = 0, _ payload: [UInt8]) -> [UInt8] {
    capsule(CapsuleDecoder.datagramType, VarInt.encode(context) + payload)
}

/// Everything a decoder counted and reported, to compare feedings.
func snapshot(_ decoder: CapsuleDecoder, _ reports: [CapsuleDecoder.Report]) -> String {
    "\(decoder.state) offset=\(decoder.offset) capsules=\(decoder.capsules) types=\(decoder.capsulesByType.map { "\($0.value):\($0.count)" }) "
        + "unlisted=\(decoder.unlistedTypeCapsules) datagrams=\(decoder.datagrams) "
        + "contexts=\(decoder.datagramsByContextID.map { "\($0.value):\($0.count)" }) udp=\(decoder.udpPayloadBytes) "
        + "malformed=\(decoder.malformedCapsules) unregistered=\(decoder.unregisteredContextDatagrams) "
        + "extension=\(decoder.sentExtensionCapsule) end=\(decoder.incompleteAtEnd) reports=\(reports.map { "\($0.issue)@\($0.offset)" })"
}

func decodeCapsules(_ chunks: [[UInt8]], finish: Bool = true) -> (CapsuleDecoder, [CapsuleDecoder.Report]) {
    var decoder = CapsuleDecoder()
    var reports: [CapsuleDecoder.Report] = []
    for chunk in chunks {
        decoder.feed(chunk)
        reports += decoder.takeReports()
    }
    if finish { decoder.finish() }
    reports += decoder.takeReports()
    return (decoder, reports)
}

final class VariableLengthIntegerTests: XCTestCase {
    /// RFC 9000 Appendix A.1's examples, and the limits of each length.
    func testDecodesTheRFCExamplesAndEdges() {
        XCTAssertEqual(VarInt.decode([0x25])?.value, 37)
        XCTAssertEqual(VarInt.decode([0x40, 0x25])?.value, 37)   // non-minimal: allowed
        XCTAssertEqual(VarInt.decode([0x40, 0x25])?.length, 2)
        XCTAssertEqual(VarInt.decode([0x7B, 0xBD])?.value, 15_293)
        XCTAssertEqual(VarInt.decode([0x9D, 0x7F, 0x3E, 0x7D])?.value, 494_878_333)
        XCTAssertEqual(VarInt.decode([0xC2, 0x19, 0x7C, 0x5E, 0xFF, 0x14, 0xE8, 0x8C])?.value, 151_288_809_941_952_652)
        XCTAssertEqual(VarInt.decode([UInt8](repeating: 0xFF, count: 8))?.value, VarInt.maxValue)
        XCTAssertEqual(VarInt.decode([0x3F, 0x00])?.length, 1)   // trailing bytes are not part of it
        XCTAssertNil(VarInt.decode([UInt8]()))
        XCTAssertNil(VarInt.decode([0x40]))
        XCTAssertNil(VarInt.decode([0xC0, 0, 0, 0, 0, 0, 0]))
    }

    func testEncodingRoundTripsAtEveryLengthBoundary() {
        for value: UInt64 in [0, 63, 64, 16_383, 16_384, (1 << 30) - 1, 1 << 30, VarInt.maxValue] {
            let encoded = VarInt.encode(value)
            XCTAssertEqual(encoded.count, value < 64 ? 1 : value < 16_384 ? 2 : value < 1 << 30 ? 4 : 8, "\(value)")
            XCTAssertEqual(VarInt.decode(encoded)?.value, value)
            XCTAssertEqual(VarInt.decode(VarInt.encode(value, length: 8))?.value, value)
        }
        XCTAssertEqual(VarInt.encode(37, length: 2), [0x40, 0x25])
    }
}

final class CapsuleDecoderTests: XCTestCase {
    /// A well-formed stream: UDP payloads, an empty one, a reserved type, an unknown 2-byte
    /// type, an empty unknown capsule, a DATAGRAM whose length is encoded on 4 bytes.
    static let stream: [UInt8] =
        datagram(Array("hello".utf8))
        + datagram([])
        + capsule(0x17, [1, 2, 3])                         // reserved (0x29 * 0 + 0x17)
        + capsule(0x1234, [9, 9])
        + capsule(0x3F, [])
        + capsule(0, [0x00] + Array("four".utf8), lengthLength: 4)

    func testWellFormedStreamAtEverySplit() {
        let (reference, referenceReports) = decodeCapsules([Self.stream])
        XCTAssertEqual(reference.capsules, 6)
        XCTAssertEqual(reference.datagrams, 3)
        XCTAssertEqual(reference.udpPayloadBytes, 9)
        XCTAssertEqual(reference.capsulesByType.map(\.value), [0x00, 0x17, 0x1234, 0x3F])
        XCTAssertEqual(reference.capsulesByType.map(\.count), [3, 1, 1, 1])
        XCTAssertEqual(reference.datagramsByContextID.map(\.value), [0])
        XCTAssertEqual(reference.malformedCapsules, 0)
        XCTAssertTrue(reference.sentExtensionCapsule)              // 0x1234 and 0x3F are not reserved
        XCTAssertTrue(referenceReports.isEmpty)
        XCTAssertEqual(reference.offset, UInt64(Self.stream.count))
        let expected = snapshot(reference, referenceReports)
        for (label, chunks) in everyChunking(of: Self.stream) {
            let (decoder, reports) = decodeCapsules(chunks)
            XCTAssertEqual(snapshot(decoder, reports), expected, label)
        }
    }

    func testReservedTypes() {
        XCTAssertTrue(CapsuleDecoder.isReserved(0x17))
        XCTAssertTrue(CapsuleDecoder.isReserved(0x17 + 0x29 * 1000))
        XCTAssertFalse(CapsuleDecoder.isReserved(0x00))
        XCTAssertFalse(CapsuleDecoder.isReserved(0x18))
        var decoder = CapsuleDecoder()
        decoder.feed(capsule(0x40, [1]))                           // 0x29 + 0x17
        XCTAssertFalse(decoder.sentExtensionCapsule)
        XCTAssertEqual(decoder.capsules, 1)
    }

    func testMalformedDatagramsAreReportedOnceAndCounted() {
        let bytes = capsule(0, []) + capsule(0, [0x40]) + capsule(0, []) + datagram(Array("ok".utf8))
        let (reference, reports) = decodeCapsules([bytes])
        XCTAssertEqual(reports.map(\.issue), [.datagramWithoutContextID, .contextIDTruncated(length: 1)])
        XCTAssertEqual(reports.map(\.offset), [0, 2])
        XCTAssertEqual(reference.malformedCapsules, 3)
        XCTAssertEqual(reference.capsules, 4)
        XCTAssertEqual(reference.datagrams, 1)                     // only the one with a whole Context ID
        XCTAssertEqual(reference.udpPayloadBytes, 2)
        let expected = snapshot(reference, reports)
        for (label, chunks) in everyChunking(of: bytes) {
            let (decoder, chunkReports) = decodeCapsules(chunks)
            XCTAssertEqual(snapshot(decoder, chunkReports), expected, label)
        }
    }

    /// RFC 9298 §5: 65527 bytes is the longest UDP payload; one more must abort the stream.
    func testUDPPayloadLongerThan65527() {
        let longest = datagram([UInt8](repeating: 7, count: 65_527))
        let (fine, fineReports) = decodeCapsules([longest])
        XCTAssertTrue(fineReports.isEmpty)
        XCTAssertEqual(fine.udpPayloadBytes, 65_527)
        let tooLong = datagram([UInt8](repeating: 7, count: 65_528))
        let (decoder, reports) = decodeCapsules(stride(from: 0, to: tooLong.count, by: 1000).map {
            Array(tooLong[$0..<min($0 + 1000, tooLong.count)]) })
        XCTAssertEqual(reports.map(\.issue), [.udpPayloadTooLong(65_528)])
        XCTAssertEqual(decoder.malformedCapsules, 1)
        XCTAssertEqual(decoder.udpPayloadBytes, 0)
        XCTAssertEqual(decoder.capsules, 1)
    }

    func testUnregisteredContextIDs() {
        let (plain, reports) = decodeCapsules([datagram(context: 2, [1]) + datagram(context: 4, [2])])
        XCTAssertEqual(reports.map(\.issue), [.unregisteredContextID(2)])     // once per direction
        XCTAssertEqual(plain.unregisteredContextDatagrams, 2)
        XCTAssertEqual(plain.datagramsByContextID.map(\.value), [2, 4])
        XCTAssertEqual(plain.udpPayloadBytes, 0)
        // An extension's capsule before it, from either side, may have registered it.
        let (registered, none) = decodeCapsules([capsule(0x11, [2]) + datagram(context: 2, [1])])
        XCTAssertTrue(none.isEmpty)
        XCTAssertEqual(registered.unregisteredContextDatagrams, 0)
        var peer = CapsuleDecoder()
        peer.peerSentExtensionCapsule = true
        peer.feed(datagram(context: 2, [1]))
        XCTAssertTrue(peer.takeReports().isEmpty)
    }

    func testTruncatedAtTheEnd() {
        let bytes = datagram([1, 2]) + capsule(0, [0, 1, 2, 3]).dropLast(2)
        let (decoder, reports) = decodeCapsules([Array(bytes)])
        XCTAssertEqual(reports.map(\.issue), [.truncatedAtEnd(type: 0, length: 4, missing: 2)])
        XCTAssertEqual(reports.first?.offset, 5)
        XCTAssertTrue(decoder.incompleteAtEnd)
        // Ending inside the header, and at a boundary.
        XCTAssertEqual(decodeCapsules([[0x40]]).1.map(\.issue), [.truncatedAtEnd(type: nil, length: nil, missing: nil)])
        XCTAssertEqual(decodeCapsules([[0x05]]).1.map(\.issue), [.truncatedAtEnd(type: 5, length: nil, missing: nil)])
        XCTAssertTrue(decodeCapsules([datagram([1])]).1.isEmpty)
        XCTAssertTrue(decodeCapsules([]).1.isEmpty)
    }

    /// Nothing is buffered: a capsule that claims 2^62-1 bytes is skipped as it comes, and the
    /// tables of counts stop listing at their limits.
    func testLimits() {
        var decoder = CapsuleDecoder()
        decoder.feed(VarInt.encode(0x21) + VarInt.encode(VarInt.maxValue))
        let chunk = [UInt8](repeating: 0xAB, count: 1 << 16)
        for _ in 0..<64 { decoder.feed(chunk) }
        XCTAssertEqual(decoder.state, .value(type: 0x21, remaining: VarInt.maxValue - (1 << 22), udpPayload: false))
        decoder.gap(length: 1 << 40)
        XCTAssertFalse(decoder.isStopped)
        XCTAssertEqual(decoder.capsules, 0)

        var many = CapsuleDecoder()
        for type in UInt64(1)...20 { many.feed(capsule(type, [])) }
        for context in UInt64(1)...20 { many.feed(datagram(context: context, [])) }
        XCTAssertEqual(many.capsulesByType.count, 16)
        XCTAssertEqual(many.unlistedTypeCapsules, 24)            // 17...20, then the 20 DATAGRAMs (type 0 came 17th)
        XCTAssertEqual(many.datagramsByContextID.count, 16)
        XCTAssertEqual(many.unlistedContextDatagrams, 4)
        XCTAssertTrue(many.listsOverflowed)
        XCTAssertEqual(many.capsules, 40)
    }

    func testGaps() {
        var inside = CapsuleDecoder()
        inside.feed([0x00, 0x0A, 0x00, 1, 2])
        inside.gap(length: 7)
        XCTAssertEqual(inside.state, .capsuleType)
        inside.feed(datagram([1]))
        XCTAssertEqual(inside.capsules, 2)
        var across = CapsuleDecoder()
        across.feed([0x00, 0x02, 0x00])
        across.gap(length: 3)
        XCTAssertTrue(across.isStopped)
        across.feed(datagram([1]))
        XCTAssertEqual(across.capsules, 0)
        across.finish()
        XCTAssertTrue(across.takeReports().isEmpty)
    }
}

final class ConnectUDPRequestTests: XCTestCase {
    func target(_ text: String) -> ConnectUDPTarget.Parsed { ConnectUDPTarget.parse(requestTarget: text) }

    func testDefaultTemplate() {
        XCTAssertEqual(target("/.well-known/masque/udp/192.0.2.6/443/"),
                       .target(ConnectUDPTarget(template: .wellKnown, host: "192.0.2.6", port: 443)))
        XCTAssertEqual(target("https://example.org/.well-known/masque/udp/192.0.2.6/443/"),
                       .target(ConnectUDPTarget(template: .wellKnown, host: "192.0.2.6", port: 443)))
        XCTAssertEqual(target("/.well-known/masque/udp/2001%3Adb8%3A%3A42/53/"),
                       .target(ConnectUDPTarget(template: .wellKnown, host: "2001:db8::42", port: 53)))
        XCTAssertEqual(target("/.well-known/masque/udp/%3A%3Affff%3A192.0.2.1/00053/"),
                       .target(ConnectUDPTarget(template: .wellKnown, host: "::ffff:192.0.2.1", port: 53)))
        XCTAssertEqual(target("/.well-known/masque/udp/dns.example/53/"),
                       .target(ConnectUDPTarget(template: .wellKnown, host: "dns.example", port: 53)))
    }

    func testQueryTemplateAndOthers() {
        XCTAssertEqual(target("/masque?target_host=dns.example&target_port=53"),
                       .target(ConnectUDPTarget(template: .query, host: "dns.example", port: 53)))
        XCTAssertEqual(target("/masque/dns.example/53/"), .unrecognised)
        XCTAssertEqual(target("/masque?h=dns.example&p=53"), .unrecognised)
    }

    func testInvalidVariables() {
        func reason(_ text: String) -> String? {
            if case .invalid(_, let why) = target(text) { return why }
            return nil
        }
        XCTAssertNotNil(reason("/.well-known/masque/udp//53/"))
        XCTAssertNotNil(reason("/.well-known/masque/udp/h/0/"))
        XCTAssertNotNil(reason("/.well-known/masque/udp/h/65536/"))
        XCTAssertNotNil(reason("/.well-known/masque/udp/h/99999999999999999999/"))
        XCTAssertNotNil(reason("/.well-known/masque/udp/h/5x/"))
        XCTAssertNotNil(reason("/.well-known/masque/udp/h/53"))                      // no trailing slash
        XCTAssertNotNil(reason("/.well-known/masque/udp/h/53/extra"))
        XCTAssertEqual(reason("/.well-known/masque/udp/2001:db8::1/53/"),
                       "target_host has an unencoded ':' (an IPv6 literal's colons must be percent-encoded)")
        XCTAssertNotNil(reason("/.well-known/masque/udp/[2001%3Adb8%3A%3A1]/53/"))
        XCTAssertNotNil(reason("/.well-known/masque/udp/fe80%3A%3A1%25eth0/53/"))   // zone identifier
        XCTAssertNotNil(reason("/.well-known/masque/udp/1%3A2%3A3/53/"))             // not an IPv6 address
        XCTAssertNotNil(reason("/.well-known/masque/udp/h%zz/53/"))
        XCTAssertNotNil(reason("/masque?target_host=&target_port=53"))
        XCTAssertNotNil(reason("*"))
        XCTAssertNil(reason("/.well-known/masque/udp/1%3A2%3A3%3A4%3A5%3A6%3A7%3A8/1/"))
    }

    func testIPv6Syntax() {
        for good in ["::", "::1", "1::", "1:2:3:4:5:6:7:8", "1::8", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4"] {
            XCTAssertTrue(ConnectUDPTarget.isIPv6Address(good), good)
        }
        for bad in [":", ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "1:2:3:4:5:6:7", "::1.2.3.256", "1.2.3.4::", "g::"] {
            XCTAssertFalse(ConnectUDPTarget.isIPv6Address(bad), bad)
        }
    }

    func testCapsuleProtocolField() {
        func field(_ values: String...) -> CapsuleProtocolField {
            CapsuleProtocolField(HandshakeMessage(version: "HTTP/1.1", headers: values.map { ("Capsule-Protocol", $0) }))
        }
        XCTAssertEqual(field("?1"), .isTrue)
        XCTAssertEqual(field(" ?1;future=1 "), .isTrue)
        XCTAssertEqual(field("?0"), .isFalse)
        XCTAssertEqual(field(), .absent)
        if case .ignored = field("1") {} else { XCTFail("1 is an Integer, not a Boolean") }
        if case .ignored = field("?1", "?1") {} else { XCTFail("two fields are a List") }
    }
}

final class ConnectUDPSessionTests: XCTestCase {
    static let request = HandshakeMessage(method: "GET", target: "/.well-known/masque/udp/127.0.0.1/9999/", version: "HTTP/1.1", headers: [
        ("Host", "proxy.example"), ("Connection", "Upgrade"), ("Upgrade", "connect-udp"), ("Capsule-Protocol", "?1")])
    static let response = HandshakeMessage(version: "HTTP/1.1", status: 101, headers: [
        ("Connection", "Upgrade"), ("Upgrade", "connect-udp"), ("Capsule-Protocol", "?1")])

    func context(request: HandshakeMessage? = request, response: HandshakeMessage = response) -> SwitchContext {
        SwitchContext(connection: ConnectionRef(client: Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: 40000),
                                                server: Endpoint(address: IPAddress(ipv4: 0x7F00_0001), port: 8443), partial: false),
                      selectedToken: "connect-udp", protocolName: "connect-udp", request: request, requestFrame: 4,
                      requestTimestamp: .zero, response: response, responseFrame: 6, responseTimestamp: .zero,
                      limits: SwitchedSessionLimits())
    }

    func start(request: HandshakeMessage? = request, response: HandshakeMessage = response) -> (ConnectUDPSession, SwitchStart) {
        let start = SwitchedProtocolTable.start(context(request: request, response: response))
        return (start.session as! ConnectUDPSession, start)
    }

    func testGoodExchange() {
        let (session, start) = start()
        XCTAssertTrue(start.violations.isEmpty, "\(start.violations.map(\.message))")
        XCTAssertEqual(start.evidence["connect_udp_target"],
                       .object(["template": .text("default"), "host": .text("127.0.0.1"), "port": .integer(9999)]))
        let client = datagram(Array("ping".utf8)) + capsule(0x17, [0])
        let server = datagram(Array("pong!".utf8))
        client.withUnsafeBytes { session.data(fromClient: true, $0, frame: 8, timestamp: .zero) }
        server.withUnsafeBytes { session.data(fromClient: false, $0, frame: 9, timestamp: .zero) }
        session.end(fromClient: true, frame: 10, timestamp: .zero)
        session.end(fromClient: false, frame: 11, timestamp: .zero)
        session.finish()
        XCTAssertTrue(session.takeViolations().isEmpty)
        guard case .object(let summary) = session.evidence["connect_udp"] else { return XCTFail("no summary") }
        XCTAssertEqual(summary["client_capsules"], .integer(2))
        XCTAssertEqual(summary["client_capsules_by_type"], .object(["0x0": .integer(1), "0x17": .integer(1)]))
        XCTAssertEqual(summary["client_udp_payload_bytes"], .integer(4))
        XCTAssertEqual(summary["server_datagrams_by_context_id"], .object(["0": .integer(1)]))
        XCTAssertEqual(summary["server_udp_payload_bytes"], .integer(5))
        XCTAssertNil(summary["server_incomplete_capsule"])
    }

    func testMalformedRequestAndResponse() {
        let request = HandshakeMessage(method: "POST", target: "/.well-known/masque/udp/2001:db8::1/0/", version: "HTTP/1.1",
                                       headers: [("Upgrade", "connect-udp"), ("Content-Length", "0"), ("Capsule-Protocol", "?0")])
        let response = HandshakeMessage(version: "HTTP/1.1", status: 101, headers: [("Upgrade", "connect-udp, websocket")])
        let (_, start) = start(request: request, response: response)
        XCTAssertEqual(start.violations.map(\.rule.id), ["connect_udp_request_malformed", "connect_udp_capsule_protocol_missing",
                                                         "connect_udp_response_malformed", "connect_udp_capsule_protocol_missing"])
        XCTAssertEqual(start.violations[0].evidence["problems"], .texts([
            "the method is POST, not GET", "0 Host fields instead of one",
            "target_host has an unencoded ':' (an IPv6 literal's colons must be percent-encoded)",
            "the request carries Content-Length"]))
        XCTAssertEqual(start.evidence["connect_udp_target"], .object(["template": .text("default")]))
        // No request in the capture: only the 101 is checked.
        let withoutRequest = self.start(request: nil).1
        XCTAssertTrue(withoutRequest.violations.isEmpty)
        XCTAssertNil(withoutRequest.evidence["connect_udp_target"])
    }

    /// A proxy that says 101 and then answers in HTTP: not capsules, however TCP cut the bytes.
    func testHTTPAfterThe101IsNotCapsules() {
        let bytes = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        for (label, chunks) in everyChunking(of: bytes) {
            let (session, _) = start()
            for chunk in chunks { chunk.withUnsafeBytes { session.data(fromClient: false, $0, frame: 7, timestamp: .zero) } }
            session.end(fromClient: false, frame: 8, timestamp: .zero)
            session.finish()
            let violations = session.takeViolations()
            XCTAssertEqual(violations.map(\.rule.id), ["connect_udp_not_capsules"], label)
            XCTAssertEqual(violations.first?.evidence["observed_protocol"], .text("http1"), label)
            guard case .object(let summary) = session.evidence["connect_udp"] else { return XCTFail("no summary") }
            XCTAssertEqual(summary["server_capsules"], .integer(0), label)
        }
    }

    /// Bytes no sniffer knows whose first "capsule" never completes before the FIN.
    func testFirstCapsuleNeverCompletes() {
        let (session, _) = start()
        let bytes: [UInt8] = [0x7F, 0xFF, 0x50, 0x00] + [UInt8](repeating: 0x5A, count: 30)
        bytes.withUnsafeBytes { session.data(fromClient: true, $0, frame: 7, timestamp: .zero) }
        session.end(fromClient: true, frame: 8, timestamp: .zero)
        let violations = session.takeViolations()
        XCTAssertEqual(violations.map(\.rule.id), ["connect_udp_not_capsules"])
        XCTAssertEqual(violations.first?.message,
                       "After the 101 to connect-udp the client does not speak the Capsule Protocol: its first capsule never completed: type 0x3fff declared 4096 bytes of value, 4066 of them never came, and the direction ended after 34 bytes.")
    }

    /// The capture stopped inside a capsule (no FIN or RST): evidence only, no finding.
    func testCaptureStopsInsideACapsule() {
        let (session, _) = start()
        let bytes = datagram(Array("one".utf8)) + Array(datagram(Array("two".utf8)).dropLast())
        bytes.withUnsafeBytes { session.data(fromClient: true, $0, frame: 7, timestamp: .zero) }
        session.finish()
        XCTAssertTrue(session.takeViolations().isEmpty)
        guard case .object(let summary) = session.evidence["connect_udp"] else { return XCTFail("no summary") }
        XCTAssertEqual(summary["client_incomplete_capsule"], .flag(true))
        XCTAssertEqual(summary["client_capsules"], .integer(1))
    }

    func testStreamEndsInsideACapsule() {
        let (session, _) = start()
        let bytes = datagram(Array("one".utf8)) + Array(datagram(Array("two".utf8)).dropLast())
        bytes.withUnsafeBytes { session.data(fromClient: true, $0, frame: 7, timestamp: .zero) }
        session.end(fromClient: true, frame: 9, timestamp: .zero)
        let violations = session.takeViolations()
        XCTAssertEqual(violations.map(\.rule.id), ["connect_udp_capsule_malformed"])
        XCTAssertEqual(violations.first?.evidence["problem"], .text("truncated_at_end"))
        XCTAssertEqual(violations.first?.frame, 9)
    }

    /// Fewer than 24 bytes in all: judged when the direction ends.
    func testShortDirectionIsJudgedAtTheEnd() {
        let (session, _) = start()
        let bytes = datagram([1, 2, 3])
        bytes.withUnsafeBytes { session.data(fromClient: true, $0, frame: 7, timestamp: .zero) }
        session.finish()
        XCTAssertTrue(session.takeViolations().isEmpty)
        guard case .object(let summary) = session.evidence["connect_udp"] else { return XCTFail("no summary") }
        XCTAssertEqual(summary["client_datagrams"], .integer(1))
    }
}

final class ConnectUDPRobustnessTests: XCTestCase {
    /// Pseudo-random bytes (a fixed xorshift seed), cut at pseudo-random points: the decoder
    /// never traps and ends in the same state as when fed whole.
    func testRandomBytesAtRandomSplits() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        for round in 0..<200 {
            // Mostly small types and lengths, so that many capsules complete.
            let bytes = (0..<Int(next() % 300)).map { _ in UInt8(truncatingIfNeeded: next() % 4 == 0 ? next() : next() % 12) }
            let (whole, wholeReports) = decodeCapsules([bytes])
            var chunks: [[UInt8]] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + 1 + Int(next() % 17))
                chunks.append(Array(bytes[start..<end]))
                start = end
            }
            let (cut, cutReports) = decodeCapsules(chunks)
            XCTAssertEqual(snapshot(cut, cutReports), snapshot(whole, wholeReports), "round \(round)")
            XCTAssertLessThanOrEqual(wholeReports.count, 5)      // each kind at most once
        }
    }

    /// Fuzz regression (Fuzz/ConnectUDPFuzz.swift): an empty chunk must not move the frame that a
    /// finding about bytes held for judging points to.
    func testEmptyChunkDoesNotMoveTheFrame() {
        let session = ConnectUDPSession(connection: nil)
        capsule(0, []).withUnsafeBytes { session.data(fromClient: false, $0, frame: 6, timestamp: .zero) }
        [UInt8]().withUnsafeBytes { session.data(fromClient: false, $0, frame: 22, timestamp: .zero) }
        session.finish()
        XCTAssertEqual(session.takeViolations().map(\.frame), [6])
    }

    /// Past the tables' limits the session says so once per direction, naming the limit.
    func testListLimitFinding() {
        let session = ConnectUDPSession(connection: nil)
        let bytes = (UInt64(1)...40).flatMap { capsule($0 * 2, []) }
        for _ in 0..<2 { bytes.withUnsafeBytes { session.data(fromClient: true, $0, frame: 3, timestamp: .zero) } }
        let limits = session.takeViolations()
        XCTAssertEqual(limits.map(\.rule.id), ["analyzer_limit_reached"])
        XCTAssertEqual(limits.first?.evidence["limit"], .text("connect_udp_listed_types"))
        guard case .object(let summary) = session.evidence["connect_udp"] else { return XCTFail("no summary") }
        XCTAssertEqual(summary["client_capsules"], .integer(80))
        XCTAssertEqual(summary["client_capsules_of_unlisted_types"], .integer(48))
    }
}
