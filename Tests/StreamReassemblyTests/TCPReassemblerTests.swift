import XCTest
import PacketCapture
import PacketDecoding
@testable import StreamReassembly

/// One scenario: segments in capture order (frame = position + 1) → the exact event list,
/// plus optional checks of the summaries and reassembler statistics.
struct ReassemblyCase {
    var name: String
    var limits = ReassemblyLimits()
    var segments: [Seg]
    var expected: [Event]
    var check: ((RecordingConsumer, ReassemblerSnapshot) -> [String])?
}

private let t = Script()
private let hs = t.handshake()
private let opened1 = Event.opened(1, client: "10.0.0.1:40000", partial: false)

private func limits(_ change: (inout ReassemblyLimits) -> Void) -> ReassemblyLimits {
    var value = ReassemblyLimits()
    change(&value)
    return value
}

/// `failures` collects mismatches of `actual` vs `expected` for the case's check closure.
private func expect<T: Equatable>(_ actual: T?, _ expected: T, _ what: String) -> [String] {
    actual == expected ? [] : ["\(what): \(String(describing: actual)) != \(expected)"]
}

private var cases: [ReassemblyCase] { [
    ReassemblyCase(
        name: "in-order both directions, closed when the last FIN is acknowledged",
        segments: hs + [
            t.c(0, "GET / HTTP/1.1\r\n\r\n"),
            t.s(0, "HTTP/1.1 200 OK\r\n\r\n", ack: 18),
            t.c(18, flags: [.fin, .ack], ack: 19),
            t.s(19, flags: [.fin, .ack], ack: 19),
            t.c(19, flags: [.ack], ack: 20),
        ],
        expected: [
            opened1,
            .data(1, c2s, "GET / HTTP/1.1\r\n\r\n", frame: 4),
            .data(1, s2c, "HTTP/1.1 200 OK\r\n\r\n", frame: 5),
            .end(1, c2s, frame: 6),
            .end(1, s2c, frame: 7),
            .closed(1, .fin),
        ],
        check: { consumer, reassembler in
            let summary = consumer.summary(1)
            var failures = expect(summary?[c2s].packets, 5, "client packets")
            failures += expect(summary?[s2c].packets, 3, "server packets")
            failures += expect(summary?[c2s].payloadBytes, 18, "client payload")
            failures += expect(summary?[s2c].payloadBytes, 19, "server payload")
            failures += expect(summary?[c2s].sawSYN, true, "client SYN")
            failures += expect(summary?[s2c].sawFIN, true, "server FIN")
            failures += expect(summary?.lastFrame, 8, "last frame")
            failures += expect(reassembler.statistics.connectionsOpen, 0, "open")
            failures += expect(reassembler.statistics.connectionsSeen, 1, "seen")
            return failures
        }),
    ReassemblyCase(
        name: "IPv6 endpoints",
        segments: {
            let v6 = Script(client: Endpoint(address: IPAddress(ipv6High: 0x2001_0db8_0000_0000, low: 1), port: 40000),
                            server: Endpoint(address: IPAddress(ipv6High: 0x2001_0db8_0000_0000, low: 2), port: 443))
            return v6.handshake() + [v6.c(0, "hello"), v6.s(0, "world")]
        }(),
        expected: [
            .opened(1, client: "[2001:db8::1]:40000", partial: false),
            .data(1, c2s, "hello", frame: 4),
            .data(1, s2c, "world", frame: 5),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "out-of-order segments are buffered and delivered with their own frames",
        segments: hs + [t.c(3, "def"), t.c(0, "abc"), t.c(6, "ghi")],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 5),
            .data(1, c2s, "def", frame: 4),
            .data(1, c2s, "ghi", frame: 6),
            .closed(1, .endOfInput),
        ],
        check: { consumer, reassembler in
            expect(consumer.summary(1)?[c2s].outOfOrderSegments, 1, "out of order")
                + expect(consumer.summary(1)?[c2s].retransmittedBytes, 0, "retransmitted")
                + expect(reassembler.statistics.peakBufferedBytes, 3 + BufferedChunk.overheadBytes, "peak")
                + expect(reassembler.statistics.bufferedBytes, 0, "buffered now")
        }),
    ReassemblyCase(
        name: "duplicates of delivered and of buffered segments are dropped",
        segments: hs + [t.c(0, "abc"), t.c(0, "abc"), t.c(6, "ghi"), t.c(6, "ghi"), t.c(3, "def")],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .data(1, c2s, "def", frame: 8),
            .data(1, c2s, "ghi", frame: 6),
            .closed(1, .endOfInput),
        ],
        check: { consumer, _ in
            expect(consumer.summary(1)?[c2s].retransmittedBytes, 6, "retransmitted")
                + expect(consumer.summary(1)?[c2s].payloadBytes, 9, "payload")
        }),
    ReassemblyCase(
        name: "overlaps with the same bytes deliver only the new part",
        segments: hs + [t.c(0, "abcd"), t.c(2, "cdef"), t.c(8, "ijkl"), t.c(6, "ghijkl")],
        expected: [
            opened1,
            .data(1, c2s, "abcd", frame: 4),
            .data(1, c2s, "ef", frame: 5),
            .data(1, c2s, "gh", frame: 7),
            .data(1, c2s, "ijkl", frame: 6),
            .closed(1, .endOfInput),
        ],
        check: { consumer, _ in
            expect(consumer.summary(1)?[c2s].retransmittedBytes, 6, "retransmitted")
                + expect(consumer.summary(1)?[c2s].overlapConflicts, 0, "conflicts")
        }),
    ReassemblyCase(
        name: "overlap differing from delivered bytes keeps the first version",
        segments: hs + [t.c(0, "abcdefgh"), t.c(4, "eXgYijk")],
        expected: [
            opened1,
            .data(1, c2s, "abcdefgh", frame: 4),
            .conflict(1, c2s, sequence: 1006, kept: "fgh", discarded: "XgY", keptFrame: 4),
            .data(1, c2s, "ijk", frame: 5),
            .closed(1, .endOfInput),
        ],
        check: { consumer, _ in
            expect(consumer.summary(1)?[c2s].overlapConflicts, 1, "conflicts")
                + expect(consumer.findings.first?.frame, 5, "finding frame")
        }),
    ReassemblyCase(
        name: "overlap differing from buffered bytes keeps the first version",
        segments: hs + [t.c(4, "efgh"), t.c(0, "abcdeXgh")],
        expected: [
            opened1,
            .conflict(1, c2s, sequence: 1006, kept: "fgh", discarded: "Xgh", keptFrame: 4),
            .data(1, c2s, "abcd", frame: 5),
            .data(1, c2s, "efgh", frame: 4),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "conflict with an older delivered segment names the frame that carried it",
        segments: hs + [t.c(0, "abcd"), t.c(4, "efgh"), t.c(2, "cdXfgh")],
        expected: [
            opened1,
            .data(1, c2s, "abcd", frame: 4),
            .data(1, c2s, "efgh", frame: 5),
            .conflict(1, c2s, sequence: 1005, kept: "efgh", discarded: "Xfgh", keptFrame: 5),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "conflict in the older of two delivered segments names the older frame",
        segments: hs + [t.c(0, "abcd"), t.c(4, "efgh"), t.c(1, "bXdefgh")],
        expected: [
            opened1,
            .data(1, c2s, "abcd", frame: 4),
            .data(1, c2s, "efgh", frame: 5),
            .conflict(1, c2s, sequence: 1003, kept: "cdefgh", discarded: "Xdefgh", keptFrame: 4),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "mid-stream: data before the first captured byte is dropped as old",
        segments: {
            let m = Script(clientISN: 0x7FFF_FFF0)
            return [m.c(4, "GET / HTTP/1.1\r\n"), m.c(0, "abcd"), m.c(2, "xyGE"), m.c(24, "more")]
        }(),
        expected: [
            .opened(1, client: "10.0.0.1:40000", partial: true),
            .data(1, c2s, "GET / HTTP/1.1\r\n", frame: 1),
            .gap(1, c2s, 4, frame: 4),
            .data(1, c2s, "more", frame: 4),
            .closed(1, .endOfInput),
        ],
        check: { consumer, _ in
            expect(consumer.summary(1)?[c2s].retransmittedBytes, 8, "retransmitted")
                + expect(consumer.summary(1)?[c2s].outOfOrderSegments, 1, "out of order")
        }),
    ReassemblyCase(
        name: "overlaps older than the history window are dropped without comparison",
        limits: limits { $0.historyBytes = 16 },
        segments: hs + [t.c(0, "0123456789abcdefghijklmnopqrstuvwxyzABCD"), t.c(0, "X123"), t.c(36, "ABXD")],
        expected: [
            opened1,
            .data(1, c2s, "0123456789abcdefghijklmnopqrstuvwxyzABCD", frame: 4),
            .conflict(1, c2s, sequence: 1039, kept: "CD", discarded: "XD", keptFrame: 4),
            .closed(1, .endOfInput),
        ],
        check: { consumer, _ in
            expect(consumer.summary(1)?[c2s].retransmittedBytes, 8, "retransmitted")
                + expect(consumer.summary(1)?[c2s].overlapConflicts, 1, "conflicts")
        }),
    ReassemblyCase(
        name: "conflict findings per direction are capped, conflicts still counted",
        limits: limits { $0.overlapFindingsPerDirection = 1 },
        segments: hs + [t.c(0, "abcd"), t.c(0, "Xbcd"), t.c(0, "aXcd")],
        expected: [
            opened1,
            .data(1, c2s, "abcd", frame: 4),
            .conflict(1, c2s, sequence: 1001, kept: "abcd", discarded: "Xbcd", keptFrame: 4),
            .closed(1, .endOfInput),
        ],
        check: { consumer, _ in expect(consumer.summary(1)?[c2s].overlapConflicts, 2, "conflicts") }),
    ReassemblyCase(
        name: "keep-alive probe is neither data nor a conflicting retransmission",
        segments: hs + [t.c(0, "abc"), t.c(2, "\u{0}", flags: [.ack])],
        expected: [opened1, .data(1, c2s, "abc", frame: 4), .closed(1, .endOfInput)],
        check: { consumer, _ in expect(consumer.summary(1)?[c2s].retransmittedBytes, 0, "retransmitted") }),
    ReassemblyCase(
        name: "sequence numbers wrapping around 2^32, in and out of order",
        segments: {
            let w = Script(clientISN: 0xFFFF_FFFC, serverISN: 0xFFFF_FFF0)
            return w.handshake() + [
                w.c(0, "abc"), w.c(6, "ghi"), w.c(3, "def"),
                w.s(0, "0123456789abcdefghij", ack: 9),
                w.c(9, flags: [.fin, .ack], ack: 20),
                w.s(20, flags: [.fin, .ack], ack: 10),
            ]
        }(),
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .data(1, c2s, "def", frame: 6),
            .data(1, c2s, "ghi", frame: 5),
            .data(1, s2c, "0123456789abcdefghij", frame: 7),
            .end(1, c2s, frame: 8),
            .end(1, s2c, frame: 9),
            .closed(1, .fin),
        ]),
    ReassemblyCase(
        name: "conflict sequence number across the wrap",
        segments: {
            let w = Script(clientISN: 0xFFFF_FFFC)
            return w.handshake() + [w.c(0, "abcdef"), w.c(0, "abcdXf")]
        }(),
        expected: [
            opened1,
            .data(1, c2s, "abcdef", frame: 4),
            .conflict(1, c2s, sequence: 1, kept: "ef", discarded: "Xf", keptFrame: 4),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "gap when the peer acknowledges beyond the hole",
        segments: hs + [t.c(0, "abc"), t.c(6, "ghi"), t.s(0, flags: [.ack], ack: 9)],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .gap(1, c2s, 3, frame: 6),
            .data(1, c2s, "ghi", frame: 5),
            .closed(1, .endOfInput),
        ],
        check: { consumer, _ in
            expect(consumer.summary(1)?[c2s].gaps, 1, "gaps") + expect(consumer.summary(1)?[c2s].gapBytes, 3, "gap bytes")
        }),
    ReassemblyCase(
        name: "acknowledgment of part of the hole declares only that part missing",
        segments: hs + [t.c(0, "abc"), t.c(6, "ghi"), t.s(0, flags: [.ack], ack: 4), t.c(4, "ef")],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .gap(1, c2s, 1, frame: 6),
            .data(1, c2s, "ef", frame: 7),
            .data(1, c2s, "ghi", frame: 5),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "acknowledged FIN after lost data: gap then end",
        segments: hs + [t.c(0, "abc"), t.c(6, flags: [.fin, .ack]), t.s(0, flags: [.ack], ack: 7)],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .gap(1, c2s, 3, frame: 6),
            .end(1, c2s, frame: 5),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "no gap without acknowledgment beyond the hole (data still expected)",
        segments: hs + [t.c(0, "abc"), t.c(6, "ghi"), t.s(0, flags: [.ack], ack: 3), t.c(3, "def")],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .data(1, c2s, "def", frame: 7),
            .data(1, c2s, "ghi", frame: 5),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "buffered data at end of input: gap, then the data",
        segments: hs + [t.c(0, "abc"), t.c(6, "ghi"), t.c(12, "mno")],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .gap(1, c2s, 3, frame: 6),
            .data(1, c2s, "ghi", frame: 5),
            .gap(1, c2s, 3, frame: 6),
            .data(1, c2s, "mno", frame: 6),
            .closed(1, .endOfInput),
        ],
        check: { _, reassembler in expect(reassembler.statistics.bufferedBytes, 0, "buffered") }),
    ReassemblyCase(
        name: "snaplen-cut payload in order: captured bytes, then a gap",
        segments: hs + [t.c(0, "abc", missing: 5), t.c(8, "xyz")],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .gap(1, c2s, 5, frame: 4),
            .data(1, c2s, "xyz", frame: 5),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "snaplen-cut payload out of order",
        segments: hs + [t.c(3, "def", missing: 2), t.c(0, "abc"), t.c(8, "ij")],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 5),
            .data(1, c2s, "def", frame: 4),
            .gap(1, c2s, 2, frame: 4),
            .data(1, c2s, "ij", frame: 6),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "FIN with data before earlier data: the end waits for the data",
        segments: hs + [t.c(3, "def", flags: [.fin, .ack, .psh]), t.c(0, "abc"), t.s(0, flags: [.fin, .ack], ack: 7)],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 5),
            .data(1, c2s, "def", frame: 4),
            .end(1, c2s, frame: 4),
            .end(1, s2c, frame: 6),
            .closed(1, .fin),
        ]),
    ReassemblyCase(
        name: "buffered data beyond a FIN is never delivered",
        segments: hs + [t.c(6, "ghij"), t.c(3, "def", flags: [.fin, .ack, .psh]), t.c(0, "abc"), t.c(6, "GHIJ")],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 6),
            .data(1, c2s, "def", frame: 5),
            .end(1, c2s, frame: 5),
            .closed(1, .endOfInput),
        ],
        check: { _, reassembler in expect(reassembler.statistics.bufferedBytes, 0, "buffered") }),
    ReassemblyCase(
        name: "bare FIN before the data",
        segments: hs + [t.c(3, flags: [.fin, .ack]), t.c(0, "abc"), t.c(0, "abcdef")],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 5),
            .end(1, c2s, frame: 4),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "RST flushes waiting data, ends both directions; later packets absorbed",
        limits: limits { $0.resetHoldSeconds = 0 },
        segments: hs + [t.c(0, "abc"), t.c(6, "ghi"), t.s(0, flags: [.rst]), t.c(9, "jkl")],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .gap(1, c2s, 3, frame: 6),
            .data(1, c2s, "ghi", frame: 5),
            .end(1, c2s, frame: 6),
            .end(1, s2c, frame: 6),
            .closed(1, .reset),
        ],
        check: { consumer, _ in
            expect(consumer.summary(1)?[s2c].sawRST, true, "RST") + expect(consumer.summary(1)?.lastFrame, 6, "last")
        }),
    ReassemblyCase(
        name: "RST on a connection seen only as ACKs opens it (roles by port) and closes it",
        segments: [t.s(0, flags: [.ack]), t.c(0, flags: [.rst])],
        expected: [
            .opened(1, client: "10.0.0.1:40000", partial: true),
            .end(1, c2s, frame: 2),
            .end(1, s2c, frame: 2),
            .closed(1, .reset),
        ]),
    ReassemblyCase(
        name: "SYN on a closed 4-tuple starts a new connection",
        segments: {
            let next = Script(clientISN: 90000, serverISN: 70000)
            return hs + [
                t.c(0, "abc"), t.c(3, flags: [.fin, .ack]), t.s(0, flags: [.fin, .ack], ack: 4), t.c(4, flags: [.ack], ack: 1),
            ] + next.handshake() + [next.c(0, "new")]
        }(),
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .end(1, c2s, frame: 5),
            .end(1, s2c, frame: 6),
            .closed(1, .fin),
            .opened(2, client: "10.0.0.1:40000", partial: false),
            .data(2, c2s, "new", frame: 11),
            .closed(2, .endOfInput),
        ]),
    ReassemblyCase(
        name: "SYN with a new ISN on an open 4-tuple closes the old connection as reused",
        segments: {
            let next = Script(clientISN: 90000, serverISN: 70000)
            return hs + [t.c(0, "abc"), t.c(6, "ghi")] + next.handshake() + [next.c(0, "x")]
        }(),
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .gap(1, c2s, 3, frame: 6),
            .data(1, c2s, "ghi", frame: 5),
            .closed(1, .reused),
            .opened(2, client: "10.0.0.1:40000", partial: false),
            .data(2, c2s, "x", frame: 9),
            .closed(2, .endOfInput),
        ],
        check: { consumer, reassembler in
            expect(consumer.summary(1)?.lastFrame, 5, "old last frame")
                + expect(reassembler.statistics.connectionsSeen, 2, "seen")
        }),
    ReassemblyCase(
        name: "retransmitted SYN (same ISN) is the same connection",
        segments: hs + [hs[0], t.c(0, "abc")],
        expected: [opened1, .data(1, c2s, "abc", frame: 5), .closed(1, .endOfInput)]),
    ReassemblyCase(
        name: "SYN-ACK without the SYN: receiver is the client, its ISN comes from the ACK",
        segments: [hs[1], hs[2], t.c(0, "abc"), t.s(0, "xyz")],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 3),
            .data(1, s2c, "xyz", frame: 4),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "mid-stream: request line decides the client although the server's ACK comes first",
        segments: {
            // The client uses port 8080, which the port heuristic alone would call the server.
            let m = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 8080),
                           server: Endpoint(address: IPAddress(ipv4: 0x0A00_0002), port: 3456),
                           clientISN: 3000, serverISN: 7000)
            return [m.s(0, flags: [.ack]), m.c(0, "GET / HTTP/1.1\r\n"), m.s(0, "HTTP/1.1 200 OK\r\n", ack: 16)]
        }(),
        expected: [
            .opened(1, client: "10.0.0.1:8080", partial: true),
            .data(1, c2s, "GET / HTTP/1.1\r\n", frame: 2),
            .data(1, s2c, "HTTP/1.1 200 OK\r\n", frame: 3),
            .closed(1, .endOfInput),
        ],
        check: { consumer, _ in
            expect(consumer.summary(1)?[s2c].packets, 2, "server packets")
                + expect(consumer.summary(1)?.connection.firstFrame, 1, "first frame")
        }),
    ReassemblyCase(
        name: "mid-stream: status line sent first marks its sender as the server",
        segments: {
            let m = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 8080),
                           server: Endpoint(address: IPAddress(ipv4: 0x0A00_0002), port: 3456),
                           clientISN: 3000, serverISN: 7000)
            return [m.s(0, "HTTP/1.1 200 OK\r\n"), m.c(0, "GET / HTTP/1.1\r\n")]
        }(),
        expected: [
            .opened(1, client: "10.0.0.1:8080", partial: true),
            .data(1, s2c, "HTTP/1.1 200 OK\r\n", frame: 1),
            .data(1, c2s, "GET / HTTP/1.1\r\n", frame: 2),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "mid-stream: a well-known port marks the server",
        segments: {
            let m = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0003), port: 51000),
                           server: Endpoint(address: IPAddress(ipv4: 0x0A00_0009), port: 443))
            return [m.s(0, "\u{17}\u{3}\u{3}srv"), m.c(0, "\u{17}\u{3}\u{3}cli")]
        }(),
        expected: [
            .opened(1, client: "10.0.0.3:51000", partial: true),
            .data(1, s2c, "\u{17}\u{3}\u{3}srv", frame: 1),
            .data(1, c2s, "\u{17}\u{3}\u{3}cli", frame: 2),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "mid-stream: otherwise the lower port is the server",
        segments: {
            let m = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0003), port: 40001),
                           server: Endpoint(address: IPAddress(ipv4: 0x0A00_0004), port: 5555))
            return [m.c(0, "hello")]
        }(),
        expected: [
            .opened(1, client: "10.0.0.3:40001", partial: true),
            .data(1, c2s, "hello", frame: 1),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "idle connection is evicted as capture time advances, with its buffered data",
        limits: limits { $0.idleTimeoutSeconds = 60 },
        segments: {
            let other = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 40001))
            return hs.map { $0.with { $0.seconds = 0 } } + [
                t.c(0, "abc").with { $0.seconds = 5 },
                t.c(6, "ghi").with { $0.seconds = 10 },
                other.handshake()[0].with { $0.seconds = 60 },
                other.c(0, "x").with { $0.seconds = 75 },
            ]
        }(),
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .opened(2, client: "10.0.0.1:40001", partial: false),
            .gap(1, c2s, 3, frame: 5),
            .data(1, c2s, "ghi", frame: 5),
            .closed(1, .idleTimeout),
            .data(2, c2s, "x", frame: 7),
            .closed(2, .endOfInput),
        ],
        check: { _, reassembler in expect(reassembler.statistics.connectionsTimedOut, 1, "timed out") }),
    ReassemblyCase(
        name: "a confirmed pause past the idle timeout does not expire the connection whose packets end it",
        limits: limits { $0.idleTimeoutSeconds = 60 },
        segments: hs.map { $0.with { $0.seconds = 0 } }
            + [t.c(0, "abc").with { $0.seconds = 200 }, t.c(3, "def").with { $0.seconds = 201 }],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .data(1, c2s, "def", frame: 5),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "a confirmed pause expires the connections idle across it; a late packet starts a new one",
        limits: limits { $0.idleTimeoutSeconds = 60 },
        segments: hs.map { $0.with { $0.seconds = 0 } } + [
            Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0009), port: 40009)).c(0, "x").with { $0.seconds = 200 },
            Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0009), port: 40009)).c(1, "y").with { $0.seconds = 201 },
            t.c(0, "abc").with { $0.seconds = 202 },
        ],
        expected: [
            opened1,
            .opened(2, client: "10.0.0.9:40009", partial: true),
            .data(2, c2s, "x", frame: 4),
            .closed(1, .idleTimeout),
            .data(2, c2s, "y", frame: 5),
            .opened(3, client: "10.0.0.1:40000", partial: true),
            .data(3, c2s, "abc", frame: 6),
            .closed(2, .endOfInput),
            .closed(3, .endOfInput),
        ]),
    ReassemblyCase(
        name: "one packet stamped past the idle timeout, then the clock as before: nothing expires",
        limits: limits { $0.idleTimeoutSeconds = 60 },
        segments: hs.map { $0.with { $0.seconds = 0 } }
            + [t.c(0, "abc").with { $0.seconds = 65_000 }, t.c(3, "def").with { $0.seconds = 1 }],
        expected: [
            opened1,
            .data(1, c2s, "abc", frame: 4),
            .data(1, c2s, "def", frame: 5),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "connection buffer limit: stop waiting, gap to the earliest buffered data",
        limits: limits { $0.connectionBufferBytes = 2 * (4 + BufferedChunk.overheadBytes) + 4 },
        segments: hs + [t.c(0, "aaaa"), t.c(8, "cccc"), t.c(16, "eeee"), t.c(24, "gggg")],
        expected: [
            opened1,
            .data(1, c2s, "aaaa", frame: 4),
            .limit(1, "reassembly_connection_buffer"),
            .gap(1, c2s, 4, frame: 7),
            .data(1, c2s, "cccc", frame: 5),
            .gap(1, c2s, 4, frame: 7),
            .data(1, c2s, "eeee", frame: 6),
            .gap(1, c2s, 4, frame: 7),
            .data(1, c2s, "gggg", frame: 7),
            .closed(1, .endOfInput),
        ],
        check: { _, reassembler in
            expect(reassembler.statistics.peakBufferedBytes, 2 * (4 + BufferedChunk.overheadBytes), "peak")
                + expect(reassembler.statistics.bufferedBytes, 0, "buffered")
        }),
    ReassemblyCase(
        name: "connection buffer segment limit",
        limits: limits { $0.connectionBufferSegments = 1 },
        segments: hs + [t.c(0, "aaaa"), t.c(8, "cccc"), t.c(16, "eeee")],
        expected: [
            opened1,
            .data(1, c2s, "aaaa", frame: 4),
            .limit(1, "reassembly_connection_buffer"),
            .gap(1, c2s, 4, frame: 6),
            .data(1, c2s, "cccc", frame: 5),
            .gap(1, c2s, 4, frame: 6),
            .data(1, c2s, "eeee", frame: 6),
            .closed(1, .endOfInput),
        ]),
    ReassemblyCase(
        name: "global buffer limit: a connection without buffered data gives up its own hole",
        limits: limits { $0.globalBufferBytes = 100 },
        segments: {
            let other = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 40001))
            return hs + other.handshake() + [t.c(4, "bbbb"), other.c(4, "yyyy")]
        }(),
        expected: [
            opened1,
            .opened(2, client: "10.0.0.1:40001", partial: false),
            .limit(2, "reassembly_global_buffer"),
            .gap(2, c2s, 4, frame: 8),
            .data(2, c2s, "yyyy", frame: 8),
            .gap(1, c2s, 4, frame: 7),
            .data(1, c2s, "bbbb", frame: 7),
            .closed(1, .endOfInput),
            .closed(2, .endOfInput),
        ]),
    ReassemblyCase(
        name: "connection table limit evicts the least recently active, reported once",
        limits: limits { $0.maxConnections = 2 },
        segments: (0..<4).map { index -> Seg in
            Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 40000 + UInt16(index))).handshake()[0]
        }.enumerated().flatMap { index, syn -> [Seg] in
            // Connection 1 is active again before the third SYN, so connection 2 goes first.
            index == 2 ? [t.c(0, flags: [.ack]), syn] : [syn]
        },
        expected: [
            opened1,
            .opened(2, client: "10.0.0.1:40001", partial: false),
            .limit(2, "reassembly_max_connections"),
            .closed(2, .limit),
            .opened(3, client: "10.0.0.1:40002", partial: false),
            .closed(1, .limit),
            .opened(4, client: "10.0.0.1:40003", partial: false),
            .closed(3, .endOfInput),
            .closed(4, .endOfInput),
        ],
        check: { _, reassembler in
            expect(reassembler.statistics.connectionsEvicted, 2, "evicted")
                + expect(reassembler.statistics.connectionsSeen, 4, "seen")
                + expect(reassembler.statistics.connectionsOpen, 0, "open")
        }),
] }

final class TCPReassemblerTests: XCTestCase {
    func testCases() {
        for testCase in cases {
            let (consumer, reassembler) = reassemble(testCase.segments, limits: testCase.limits)
            XCTAssertEqual(consumer.violations, [], testCase.name)
            if consumer.events != testCase.expected {
                XCTFail("""
                    \(testCase.name)
                    expected:
                      \(testCase.expected.map(\.description).joined(separator: "\n  "))
                    actual:
                      \(consumer.events.map(\.description).joined(separator: "\n  "))
                    """)
            }
            for failure in testCase.check?(consumer, reassembler) ?? [] {
                XCTFail("\(testCase.name): \(failure)")
            }
        }
    }

    func testFindingEvidenceAndStatisticsMapToRoles() {
        // Roles decided late (server's packets first) must still map side statistics correctly.
        let m = Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0005), port: 50000),
                       server: Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 80),
                       clientISN: 100, serverISN: 200)
        let (consumer, _) = reassemble([m.s(0, flags: [.ack]), m.s(0, flags: [.ack]), m.c(0, "POST /x HTTP/1.1\r\n")])
        XCTAssertEqual(consumer.summary(1)?.connection.client, m.client)
        XCTAssertEqual(consumer.summary(1)?[s2c].packets, 2)
        XCTAssertEqual(consumer.summary(1)?[c2s].packets, 1)
        XCTAssertEqual(consumer.summary(1)?[c2s].payloadBytes, 18)
    }

    func testConnectionSeenOnlyAsACKsIsOpenedAndClosedAtEnd() {
        let (consumer, _) = reassemble([t.s(0, flags: [.ack]), t.c(0, flags: [.ack])])
        XCTAssertEqual(consumer.events, [.opened(1, client: "10.0.0.1:40000", partial: true), .closed(1, .endOfInput)])
        XCTAssertEqual(consumer.summary(1)?[c2s].packets, 1)
    }

    func testFinishClosesInConnectionIDOrder() {
        let segments = (0..<20).map { index in
            Script(client: Endpoint(address: IPAddress(ipv4: 0x0A00_0001), port: 40000 + UInt16(index))).c(0, "x")
        }
        let (consumer, _) = reassemble(segments)
        let closed = consumer.events.compactMap { event -> UInt64? in
            if case let .closed(id, _) = event { return id }
            return nil
        }
        XCTAssertEqual(closed, Array(1...20))
    }

    func testHugeMissingLengthAndAbsurdAcknowledgmentsDoNotTrap() {
        let (consumer, _) = reassemble(hs + [
            t.c(0, "abc", missing: Int.max),
            t.c(0, "abc", missing: -5),
            t.s(0, flags: [.ack], ack: Int(Int32.max)),
            t.c(Int(UInt32.max), "zz"),
        ], keepStreams: false)
        XCTAssertEqual(consumer.violations, [])
        XCTAssertEqual(consumer.events.first, opened1)
        XCTAssertEqual(consumer.events.last, .closed(1, .endOfInput))
        XCTAssertEqual(consumer.events[2], .gap(1, c2s, 1 << 30, frame: 4))
    }

    func testRoleInference() {
        func request(_ text: String) -> Bool { Array(text.utf8).withUnsafeBytes { RoleInference.looksLikeRequest($0) } }
        func response(_ text: String) -> Bool { Array(text.utf8).withUnsafeBytes { RoleInference.looksLikeResponse($0) } }
        XCTAssertTrue(request("GET / HTTP/1.1"))
        XCTAssertTrue(request("PRI * HTTP/2.0\r\n"))
        XCTAssertTrue(request("VERSION-CONTROL /a HTTP/1.1"))
        XCTAssertTrue(request("UPDATEREDIRECTREF /"))
        XCTAssertFalse(request("GE / HTTP/1.1"))
        XCTAssertFalse(request("get / HTTP/1.1"))
        XCTAssertFalse(request("GET"))
        XCTAssertFalse(request("HTTP/1.1 200 OK"))
        XCTAssertFalse(request("ABCDEFGHIJKLMNOPQRSTU /"))
        XCTAssertFalse(request("-GET /"))
        XCTAssertTrue(response("HTTP/1.0 200 OK"))
        XCTAssertFalse(response("HTTP/2 200"))
        XCTAssertFalse(response("HTTP/1"))
        XCTAssertEqual(RoleInference.clientSide(byPorts: (443, 80), sender: 0), 0)  // both known: lower is server
        XCTAssertEqual(RoleInference.clientSide(byPorts: (8080, 1234), sender: 0), 1)
        XCTAssertEqual(RoleInference.clientSide(byPorts: (5555, 5555), sender: 1), 1)
    }
}
