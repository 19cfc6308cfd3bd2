#!/usr/bin/env python3
"""Writes the adversarial captures of docs/ROBUSTNESS.md ("Adversarial captures").

One classic pcap file (Ethernet, microsecond timestamps) per scenario, deterministic, with
correct sequence numbers, ACKs and IPv4/TCP checksums (tshark accepts them):

  syn-flood.pcap            1,000,000 SYNs, each to a distinct server port (no answers)
  request-flood.pcap        300,000 connections each sending a SYN and the start of a request
  header-line-100mb.pcap    a request whose one header line is 100 MB, then a normal request;
                            the response's status line (reason phrase) is 10 MB
  pipelined-100k.pcap       100,000 pipelined requests on one connection, then their responses
  overlap-conflicts.pcap    one connection whose every segment is re-sent with other bytes
                            (in order, out of order, partial overlaps), 20,000 segments a side
  websocket-2-63.pcap       1,000 WebSocket connections; the client's frame declares 2^63 bytes,
                            the server's 2^63-1; 16 KiB of payload follow in each direction
  hpack-table-4gib.pcap     1,000 HTTP/2 connections (h2c upgrade and prior knowledge): HPACK
                            dynamic table size updates to 4 GiB, 4 GiB - 1 and 2^70
  half-open-upgrades.pcap   10,000 connections each sending an upgrade request and 1 KiB of
                            early data, never answered and never closed
  partial-heads.pcap        2,000 connections that each send 60 KB of an unfinished header line
  hostile-strings.pcap      header values, targets and reason phrases with every control byte,
                            invalid UTF-8, C1 controls and terminal escape sequences (fixed size)

--scale multiplies every count and size (0.001 for the unit tests, 2 for the linearity run).

Usage: gen-adversarial.py [--out DIR] [--scale S] [--only NAME,NAME]
"""
import argparse
import base64
import hashlib
import os
import random
import struct
import sys

MSS = 1460
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
ETHERNET = bytes.fromhex("020000000002" "020000000001") + b"\x08\x00"
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

_ip_header = struct.Struct("!BBHHHBBH4s4s")
_tcp_header = struct.Struct("!HHIIBBHHH")
_record_header = struct.Struct("<IIII")


def checksum(data, initial=0):
    """RFC 1071 checksum: the 16-bit one's complement sum equals the big-endian integer mod 0xFFFF."""
    if len(data) & 1:
        data += b"\x00"
    total = (int.from_bytes(data, "big") + initial) % 0xFFFF
    if total == 0 and (initial or any(data)):
        total = 0xFFFF
    return (~total) & 0xFFFF


class PcapWriter:
    """Classic pcap (draft-ietf-opsawg-pcap), little-endian, microseconds, LINKTYPE_ETHERNET."""

    def __init__(self, path, start=1_700_000_000, step_us=1):
        self.file = open(path, "wb", buffering=1 << 20)
        self.file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.micros = start * 1_000_000
        self.step = step_us
        self.packets = 0
        self.ip_id = 0

    def tcp(self, src, dst, seq, ack, flags, payload=b""):
        (src_ip, src_port), (dst_ip, dst_port) = src, dst
        tcp_length = 20 + len(payload)
        pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, 6, tcp_length)
        header = _tcp_header.pack(src_port, dst_port, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags,
                                  65535, 0, 0)
        tcp_sum = checksum(pseudo + header + payload)
        header = header[:16] + struct.pack("!H", tcp_sum) + header[18:]
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        ip = _ip_header.pack(0x45, 0, 20 + tcp_length, self.ip_id, 0x4000, 64, 6, 0, src_ip, dst_ip)
        ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
        frame = ETHERNET + ip + header + payload
        self.micros += self.step
        self.file.write(_record_header.pack(self.micros // 1_000_000, self.micros % 1_000_000, len(frame), len(frame)))
        self.file.write(frame)
        self.packets += 1

    def close(self):
        self.file.close()


def address(text):
    host, port = text.rsplit(":", 1)
    return bytes(int(part) for part in host.split(".")), int(port)


class Connection:
    """Both directions of one TCP connection with correct sequence and acknowledgment numbers."""

    def __init__(self, writer, client, server, client_isn, server_isn):
        self.w = writer
        self.client = address(client) if isinstance(client, str) else client
        self.server = address(server) if isinstance(server, str) else server
        self.next = {True: client_isn, False: server_isn}  # next sequence number, by "from client"

    def ends(self, from_client):
        return (self.client, self.server) if from_client else (self.server, self.client)

    def packet(self, from_client, flags, payload=b"", seq=None):
        src, dst = self.ends(from_client)
        self.w.tcp(src, dst, self.next[from_client] if seq is None else seq, self.next[not from_client],
                   flags, payload)

    def syn(self):
        self.w.tcp(self.client, self.server, self.next[True], 0, SYN)  # no ACK flag: acknowledgment 0
        self.next[True] += 1

    def handshake(self):
        self.syn()
        self.packet(False, SYN | ACK)
        self.next[False] += 1
        self.packet(True, ACK)

    def send(self, from_client, data, mss=MSS):
        """Sends bytes (or an iterable of byte pieces) in segments of `mss`."""
        pieces = [data] if isinstance(data, (bytes, bytearray)) else data
        pending = bytearray()
        for piece in pieces:
            pending += piece
            start = 0
            while len(pending) - start >= mss:
                self.segment(from_client, bytes(pending[start:start + mss]))
                start += mss
            del pending[:start]
        if pending:
            self.segment(from_client, bytes(pending))

    def segment(self, from_client, payload):
        self.packet(from_client, PSH | ACK, payload)
        self.next[from_client] += len(payload)

    def ack(self, from_client):
        self.packet(from_client, ACK)

    def fin(self, from_client):
        self.packet(from_client, FIN | ACK)
        self.next[from_client] += 1

    def close(self):
        self.fin(True)
        self.fin(False)
        self.ack(True)


def scaled(base, scale):
    return max(1, int(round(base * scale)))


def isn(rng):
    return rng.getrandbits(32)


def websocket_accept(key):
    return base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()


def websocket_key(rng):
    return base64.b64encode(bytes(rng.getrandbits(8) for _ in range(16))).decode()


def masked(payload, key):
    return bytes(b ^ key[i & 3] for i, b in enumerate(payload))


# MARK: - Scenarios

def syn_flood(w, scale, rng):
    """SYNs to distinct (server address, port) pairs, never answered: one new connection each."""
    count = scaled(1_000_000, scale)
    client_ip = bytes([10, 1, 0, 1])
    for i in range(count):
        server_ip = bytes([10, 2, (i // 65535) >> 8 & 0xFF, (i // 65535) & 0xFF])
        server = (server_ip, 1 + i % 65535)
        client = (client_ip, 20000 + (i * 7919) % 40000)
        w.tcp(client, server, isn(rng), 0, SYN)


def request_flood(w, scale, rng):
    """A SYN and the first line of a request on each of 300,000 connections, never answered:
    unlike bare SYNs, each connection now holds state in every stage (reassembly, the history
    of delivered bytes, the HTTP parser's head buffer, the upgrade tracker)."""
    count = scaled(300_000, scale)
    client_ip = bytes([10, 11, 0, 1])
    for i in range(count):
        server = (bytes([10, 12, (i // 65535) >> 8 & 0xFF, (i // 65535) & 0xFF]), 1 + i % 65535)
        c = Connection(w, (client_ip, 20000 + (i * 7919) % 40000), server, isn(rng), isn(rng))
        c.syn()
        c.segment(True, b"GET / HTTP/1.1\r\nHost: x\r\n")


def header_line(w, scale, rng):
    """One header field line of 100 MB, then a normal request; a 10 MB reason phrase back."""
    size = scaled(100_000_000, scale)
    reason_size = scaled(10_000_000, scale)
    c = Connection(w, "10.3.0.1:40000", "10.3.0.2:80", isn(rng), isn(rng))
    c.handshake()
    filler = b"A" * 65536

    def long_request():
        yield b"GET /long HTTP/1.1\r\nHost: example.test\r\nX-Long: "
        left = size
        while left > 0:
            yield filler[:min(left, len(filler))]
            left -= len(filler)
        yield b"\r\n\r\nGET /after HTTP/1.1\r\nHost: example.test\r\n\r\n"

    def long_response():
        yield b"HTTP/1.1 431 "
        left = reason_size
        while left > 0:
            yield filler[:min(left, len(filler))]
            left -= len(filler)
        yield b"\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    c.send(True, long_request())
    c.ack(False)
    c.send(False, long_response())
    c.close()


def pipelined(w, scale, rng):
    """100,000 requests sent back to back, then 100,000 responses: pipelining depth 100,000."""
    count = scaled(100_000, scale)
    c = Connection(w, "10.4.0.1:40000", "10.4.0.2:80", isn(rng), isn(rng))
    c.handshake()
    c.send(True, (b"GET /item/%d HTTP/1.1\r\nHost: example.test\r\n\r\n" % i for i in range(count)))
    c.ack(False)
    c.send(False, (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" for _ in range(count)))
    c.close()


def overlap_conflicts(w, scale, rng):
    """Every segment is sent twice with different bytes, in three patterns (RFC 9293 §3.10.7.4)."""
    segments = scaled(20_000, scale)
    size = 1000
    c = Connection(w, "10.5.0.1:40000", "10.5.0.2:80", isn(rng), isn(rng))
    c.handshake()

    def body(total, letter):
        return bytes([letter]) * total

    def direction(from_client, head, fill, other):
        """head, then `segments` body segments of `size` bytes in groups of three:
        k+1 early (buffered) and again different; k, then half of k and half of k+1 different;
        k+2, then k+2 again different."""
        c.send(from_client, head)
        base = c.next[from_client]
        k = 0
        while k < segments:
            def seg(index, letter, start_fraction=0, length=size):
                seq = base + index * size + start_fraction
                payload = bytes([letter]) * length
                c.packet(from_client, PSH | ACK, payload, seq=seq)
            group = min(3, segments - k)
            if group >= 2:
                seg(k + 1, fill)
                seg(k + 1, other)
                seg(k, fill)
                seg(k, other, size // 2, size)  # half of k, half of k+1: both already delivered
            else:
                seg(k, fill)
                seg(k, other)
            if group == 3:
                seg(k + 2, fill)
                seg(k + 2, other)
            k += group
        c.next[from_client] = base + segments * size

    total = segments * size
    direction(True, b"POST /upload HTTP/1.1\r\nHost: example.test\r\nContent-Length: %d\r\n\r\n" % total,
              ord("a"), ord("b"))
    c.ack(False)
    direction(False, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total, ord("c"), ord("d"))
    c.close()


def websocket_huge_length(w, scale, rng):
    """A valid handshake, then frames declaring 2^63 (top bit set: invalid) and 2^63 - 1 bytes."""
    count = scaled(1000, scale)
    for i in range(count):
        c = Connection(w, "10.6.%d.%d:%d" % (i >> 8 & 0xFF, i & 0xFF, 30000 + i % 30000), "10.6.255.1:80",
                       isn(rng), isn(rng))
        c.handshake()
        key = websocket_key(rng)
        c.send(True, ("GET /socket HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                      % key).encode())
        c.send(False, ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: %s\r\n\r\n" % websocket_accept(key)).encode())
        mask = bytes(rng.getrandbits(8) for _ in range(4))
        payload = bytes(rng.getrandbits(8) for _ in range(64)) * 256  # 16 KiB
        c.send(True, b"\x82\xff" + (1 << 63).to_bytes(8, "big") + mask + masked(payload, mask))
        c.send(False, b"\x82\x7f" + ((1 << 63) - 1).to_bytes(8, "big") + payload)
        c.close()


def hpack_integer(value, prefix_bits, first_byte_flags):
    """RFC 7541 §5.1 integer representation."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte_flags | value])
    out = bytearray([first_byte_flags | limit])
    value -= limit
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def h2_frame(kind, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def hpack_table_size(w, scale, rng):
    """HEADERS whose block starts with a dynamic table size update to 4 GiB (RFC 7541 §6.3: above
    SETTINGS_HEADER_TABLE_SIZE, a decoding error), and a server block with a 70-bit integer."""
    count = scaled(1000, scale)
    settings = h2_frame(4, 0, 0, b"")
    settings_ack = h2_frame(4, 1, 0, b"")
    # :method GET, :path /, :scheme http (static table indices 2, 4, 6), :authority literal.
    fields = b"\x82\x84\x86" + b"\x41\x0cexample.test"
    # 4 GiB exceeds the decoder's 2^32 - 1 integer bound; 4 GiB - 1 fits it but exceeds
    # SETTINGS_HEADER_TABLE_SIZE; a 70-bit integer takes eleven continuation bytes.
    client_blocks = [hpack_integer(1 << 32, 5, 0x20) + fields, hpack_integer((1 << 32) - 1, 5, 0x20) + fields]
    server_blocks = [hpack_integer((1 << 32) - 1, 5, 0x20) + b"\x88", hpack_integer(1 << 70, 5, 0x20) + b"\x88"]
    for i in range(count):
        c = Connection(w, "10.7.%d.%d:%d" % (i >> 8 & 0xFF, i & 0xFF, 30000 + i % 30000), "10.7.255.1:80",
                       isn(rng), isn(rng))
        c.handshake()
        stream = 1
        if i % 2 == 0:
            c.send(True, b"GET / HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                         b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
            c.send(False, b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
                   + settings)
            stream = 3
        c.send(True, H2_PREFACE + settings + h2_frame(1, 0x05, stream, client_blocks[i // 2 % 2]))
        if i % 2 == 1:
            c.send(False, settings)
        c.send(False, settings_ack + h2_frame(1, 0x04, stream, server_blocks[i // 2 % 2])
               + h2_frame(0, 0x01, stream, b"x" * 100))
        c.send(True, settings_ack + h2_frame(7, 0, 0, (0).to_bytes(4, "big") + (0).to_bytes(4, "big")))
        c.close()


def half_open_upgrades(w, scale, rng):
    """Upgrade requests that are never answered on connections that never close. Every second
    request lacks the `upgrade` connection option (one finding each, at the request)."""
    count = scaled(10_000, scale)
    connections = []
    for i in range(count):
        c = Connection(w, "10.8.%d.%d:%d" % (i >> 8 & 0xFF, i & 0xFF, 30000 + i % 30000), "10.8.255.1:80",
                       isn(rng), isn(rng))
        c.handshake()
        connections.append(c)
    for i, c in enumerate(connections):
        option = "Upgrade" if i % 2 == 0 else "keep-alive"
        c.send(True, ("GET /socket/%d HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\n"
                      "Connection: %s\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                      % (i, option, websocket_key(rng))).encode())
    for c in connections:
        mask = bytes(rng.getrandbits(8) for _ in range(4))
        c.send(True, b"\x82\xfe\x04\x00" + mask + masked(b"e" * 1024, mask))  # early data, 1 KiB
        c.ack(False)


def partial_heads(w, scale, rng):
    """Connections that each send 60 KB of one header line and never finish it (slowloris): a
    parser must buffer a head until its end, up to --max-head-bytes per direction."""
    count = scaled(2000, scale)
    connections = []
    for i in range(count):
        c = Connection(w, "10.10.%d.%d:%d" % (i >> 8 & 0xFF, i & 0xFF, 30000 + i % 30000), "10.10.255.1:80",
                       isn(rng), isn(rng))
        c.handshake()
        connections.append(c)
    line = b"GET / HTTP/1.1\r\nHost: example.test\r\nX-Pad: " + b"p" * 60000
    for c in connections:
        c.send(True, line)
        c.ack(False)


CONTROL_BYTES = bytes(b for b in range(0x20) if b not in (0x0A, 0x0D)) + b"\x7f"
ESCAPES = b"\x1b[31mred\x1b[0m \x1b]0;owned\x07 \x1b[2J\x1b[H \x9b31m \x1bP+q\x1b\\"
INVALID_UTF8 = b"\xff\xfe \xc3\x28 \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82"
UNICODE_TRAPS = "\u0085 \u009b31m \u2028 \u2029 \u202e \ufeff".encode()


def hostile_strings(w, scale, rng):
    """Bytes a terminal or a JSON parser could trip on, in every string Switchyard echoes."""
    hostile = CONTROL_BYTES + b" " + ESCAPES + b" " + INVALID_UTF8 + b" " + UNICODE_TRAPS
    cases = []
    # 1: a switch to WebSocket: the request target, Host, User-Agent, Origin and the subprotocol,
    # the reason phrase, a wrong Accept and an unoffered subprotocol all carry the bytes.
    key = websocket_key(rng)
    cases.append((
        b"GET /\x1b[31m" + INVALID_UTF8.replace(b" ", b"") + b" HTTP/1.1\r\nHost: h" + hostile + b"\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nUser-Agent: " + hostile + b"\r\nOrigin: " + ESCAPES + b"\r\n"
        b"Sec-WebSocket-Key: " + key.encode() + b"\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: chat\r\n\r\n",
        b"HTTP/1.1 101 " + hostile + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + ESCAPES + b"\r\nSec-WebSocket-Protocol: " + ESCAPES + b"\r\n"
        b"Server: " + hostile + b"\r\n\r\n" + b"\x81\x05" + ESCAPES[:5]))
    # 2: an upgrade token that is an escape sequence, with a 101 echoing it.
    token = b"\x1b]0;title\x07/1"
    cases.append((
        b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: " + token + b"\r\nConnection: Upgrade\r\n\r\n",
        b"HTTP/1.1 101 \x1b[2JSwitching\r\nUpgrade: " + token + b"\r\nConnection: Upgrade\r\n\r\n" + ESCAPES))
    # 3: a declined upgrade whose reason phrase and headers are hostile, then a tunnel.
    cases.append((
        b"GET /\xff\xfe HTTP/1.1\r\nHost: " + ESCAPES + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: " + key.encode() + b"\r\nSec-WebSocket-Version: 13\r\n\r\n" + ESCAPES + hostile,
        b"HTTP/1.1 403 " + hostile + b"\r\nContent-Length: 0\r\nServer: " + INVALID_UTF8 + b"\r\n\r\n"))
    # 4: malformed messages whose evidence bytes are hostile: a bad start line after a good
    # request, a header name with an escape, a bare CR in a value, obs-fold.
    cases.append((
        b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET /x HTTP/1.1\r\nX\x1b[31m: v\r\n\r\n"
        b"GET /y HTTP/1.1\r\nX-A: a\rb" + ESCAPES + b"\r\n\r\n"
        b"GET /z HTTP/1.1\r\nX-B: a\r\n " + ESCAPES + b"\r\n\r\n"
        b"\x1b[31m" + hostile + b" HTTP/1.1\r\n\r\n",
        b"HTTP/1.1 200 " + ESCAPES + b"\r\nContent-Length: 0\r\n\r\n" + b"HTTP/9.9 2x0 \x1b[2J\r\n\r\n"))
    # 5: HTTP/2 prior knowledge with hostile header names and values (literal, not indexed).
    literal = b"\x00" + bytes([len(b"x-" + ESCAPES[:20])]) + b"x-" + ESCAPES[:20] + bytes([len(hostile[:100])]) + hostile[:100]
    block = b"\x82\x84\x86" + literal + b"\x00\x0aconnection\x07upgrade"
    cases.append((
        H2_PREFACE + h2_frame(4, 0, 0, b"") + h2_frame(1, 0x05, 1, block),
        h2_frame(4, 0, 0, b"") + h2_frame(1, 0x04, 1, b"\x00\x07:status\x03101") + h2_frame(7, 0, 0, bytes(8))))
    repeat = scaled(1, scale)
    for r in range(repeat):
        for i, (request, response) in enumerate(cases):
            c = Connection(w, "10.9.%d.%d:%d" % (r & 0xFF, i, 40000 + i), "10.9.255.1:80", isn(rng), isn(rng))
            c.handshake()
            c.send(True, request)
            c.send(False, response)
            c.close()


SCENARIOS = {
    "syn-flood": syn_flood,
    "request-flood": request_flood,
    "header-line-100mb": header_line,
    "pipelined-100k": pipelined,
    "overlap-conflicts": overlap_conflicts,
    "websocket-2-63": websocket_huge_length,
    "hpack-table-4gib": hpack_table_size,
    "half-open-upgrades": half_open_upgrades,
    "partial-heads": partial_heads,
    "hostile-strings": hostile_strings,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="bench-data/adversarial", help="output directory")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count and size")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        sys.exit("unknown scenario(s): %s (known: %s)" % (", ".join(unknown), ", ".join(SCENARIOS)))
    os.makedirs(args.out, exist_ok=True)
    for name in names:
        path = os.path.join(args.out, name + ".pcap")
        writer = PcapWriter(path + ".tmp")
        SCENARIOS[name](writer, args.scale, random.Random(name))
        writer.close()
        os.replace(path + ".tmp", path)
        print("%s: %d packets, %d bytes" % (path, writer.packets, os.path.getsize(path)))


if __name__ == "__main__":
    main()
