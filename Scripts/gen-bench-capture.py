#!/usr/bin/env python3
"""Write a large, deterministic benchmark capture of clean HTTP/1.1 traffic with upgrades.

Usage: Scripts/gen-bench-capture.py OUT.pcap --size-mb N [--seed S] [--truth OUT.truth.jsonl]

The capture is classic pcap, Ethernet link type, microsecond timestamps, all on 127.0.0.0/8 with
zero MAC addresses (as `tcpdump -i lo` writes them). Many TCP connections run at once, each with a
three-way handshake, MSS-sized segments (1448 bytes with the timestamp option, so 1514-byte frames),
delayed ACKs, correct sequence and acknowledgement numbers, IPv4 and TCP checksums, and a FIN
teardown. Traffic per connection:

  * HTTP/1.1 keep-alive (most connections): GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS with
    varied header sizes (cookies and tokens up to a few KB, so some heads span segments), bodies
    framed by Content-Length or chunked (some chunk extensions and trailers), `Expect:
    100-continue`, 204 / 304 / HEAD answers without a body, and now and then an HTTP/1.0 GET
    answered by a close-delimited HTTP/1.0 response (never a HEAD: a HEAD answer has no body).
  * ~3 % WebSocket upgrades (RFC 6455): Sec-WebSocket-Accept = base64(SHA-1(key + GUID)), optional
    subprotocol and permessage-deflate (RSV1 on the first frame of a compressed message), masked
    client frames with fresh random keys, unmasked server frames, 7/16/64-bit lengths in their
    shortest form, fragmented messages, ping/pong, and a close handshake.
  * ~2 % h2c upgrades (RFC 7540 §3.2): HTTP2-Settings is the base64url of a SETTINGS payload, the
    101 (sometimes with the server's SETTINGS in the same segment), the client preface + SETTINGS,
    HEADERS/DATA with simple HPACK (indexed :status 200 = 0x88, literals without indexing),
    SETTINGS ACKs, WINDOW_UPDATE, PING, GOAWAY.
  * ~0.5 % declined upgrades: Upgrade offered, a 200 answers, the connection stays HTTP/1.1.
  * ~0.3 % of data segments are swapped with the next one (out of order) and ~0.5 % are
    retransmitted later with the same bytes.

--compressed-websocket makes the variant that exercises the inflater: a third of the connections are
WebSocket, every one negotiates permessage-deflate (RFC 7692) with context takeover, as browsers
do, and every data message is compressed with one zlib context per direction, kept across messages
(so later messages refer back to earlier ones, as real peers' do).

Everything derives from --seed: the same arguments give the same bytes. --truth writes one JSON
line per upgrade attempt, in frame order: client and server "ip:port", protocol (`websocket` or
`h2c`), result (`switched` or `declined`) and response_frame, the 1-based frame that completed the
head of the 101 (or of the declining answer), counting out-of-order delivery.

Python 3 standard library only.
"""
import argparse
import base64
import email.utils
import hashlib
import heapq
import json
import random
import struct
import sys
import time
import zlib

MSS = 1448
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
M32 = 0xFFFFFFFF
WINDOW = 6000                       # with window scale 7: ~750 KB
ETHERNET = bytes(12) + b"\x08\x00"  # zero MACs, EtherType IPv4
P_OUT_OF_ORDER = 0.003
P_RETRANSMIT = 0.005
P_WEBSOCKET = 0.03
P_H2C = 0.02
P_DECLINED = 0.005
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# IPv4 header + TCP header with NOP NOP Timestamps (12 option bytes): 52 bytes.
HEADERS = struct.Struct("!BBHHHBBHIIHHIIBBHHHHHII")
RECORD = struct.Struct("<IIII")


def fold(total):
    """One's-complement checksum of a sum of 16-bit words (any size: 2^16 = 1 mod 0xFFFF)."""
    r = total % 0xFFFF
    return 0xFFFF - r if r else (0 if total else 0xFFFF)


def ip_text(addr):
    return "%d.%d.%d.%d" % (addr >> 24, (addr >> 16) & 255, (addr >> 8) & 255, addr & 255)


class PcapWriter:
    def __init__(self, path):
        self.file = open(path, "wb")
        self.file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.parts = []
        self.pending = 0
        self.frames = 0
        self.size = 24

    def write(self, t, packet):
        n = len(packet)
        self.parts.append(RECORD.pack(t // 1000000, t % 1000000, n, n))
        self.parts.append(packet)
        self.frames += 1
        self.size += 16 + n
        self.pending += 16 + n
        if self.pending >= 1 << 23:
            self.flush()
        return self.frames

    def flush(self):
        self.file.write(b"".join(self.parts))
        self.parts = []
        self.pending = 0

    def close(self):
        self.flush()
        self.file.close()


class Connection:
    """Both directions' TCP state. Index 0 = client to server, 1 = server to client."""

    __slots__ = ("ip", "port", "nxt", "reach", "pending", "tsoff", "lastts", "ipid", "host", "ua",
                 "cookie", "serial", "mask", "deflaters")

    def __init__(self, cip, cport, sip, sport):
        self.ip = (cip, sip)
        self.port = (cport, sport)
        self.nxt = [0, 0]        # next sequence number to send (unbounded int; masked when written)
        self.reach = [0, 0]      # what the receiver holds contiguously (what it acknowledges)
        self.pending = [None, None]  # one segment that arrived ahead of `reach`
        self.tsoff = [0, 0]
        self.lastts = [0, 0]
        self.ipid = [0, 0]
        self.mask = b""
        self.deflaters = None    # per direction, with --compressed-websocket


class Generator:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.writer = PcapWriter(args.output)
        self.target = int(args.size_mb * 1_000_000)
        self.t = 1_763_000_000_000_000  # microseconds
        self.truth = []
        self.date_cache = (0, b"")
        self.counter = 0
        self.ports = {}
        self.compressed_websocket = args.compressed_websocket
        self.p_websocket = 0.33 if args.compressed_websocket else P_WEBSOCKET
        self.build_corpus()

    # ------------------------------------------------------------------ content
    def build_corpus(self):
        rng = self.rng
        words = (b"api v1 v2 users items orders static assets img css js search products cart "
                 b"checkout account login session data feed events stream health metrics status "
                 b"config index page list detail comments reviews media upload download report "
                 b"export settings profile avatar thumbnails news archive tags").split()
        self.words = words
        parts, n = [], 0
        while n < 4 << 20:
            r = rng.random()
            if r < 0.45:
                s = b'{"id":%d,"name":"%s","kind":"%s","score":%d.%02d,"active":%s,"tags":["%s","%s"]},\n' % (
                    rng.randrange(1, 10 ** 7), rng.choice(words), rng.choice(words), rng.randrange(1000),
                    rng.randrange(100), rng.choice((b"true", b"false")), rng.choice(words), rng.choice(words))
            elif r < 0.85:
                s = b'<li class="%s"><a href="/%s/%d">%s</a></li>\n' % (
                    rng.choice(words), rng.choice(words), rng.randrange(10 ** 5),
                    b" ".join(rng.choice(words) for _ in range(rng.randint(1, 9))))
            else:
                s = b"%s { margin: %dpx; color: #%06x; }\n" % (rng.choice(words), rng.randrange(40),
                                                               rng.randrange(1 << 24))
            parts.append(s)
            n += len(s)
        self.text = b"".join(parts)
        self.binary = rng.randbytes(2 << 20)
        alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        self.tokens = bytes(alphabet[b & 63] for b in rng.randbytes(1 << 16))
        self.hex = rng.randbytes(1 << 14).hex().encode()

    def text_bytes(self, n):
        out = []
        while n > 0:
            k = min(n, 1 << 20)
            o = self.rng.randrange(len(self.text) - k + 1)
            out.append(self.text[o:o + k])
            n -= k
        return b"".join(out)

    def binary_bytes(self, n):
        out = []
        while n > 0:
            k = min(n, 1 << 20)
            o = self.rng.randrange(len(self.binary) - k + 1)
            out.append(self.binary[o:o + k])
            n -= k
        return b"".join(out)

    def token(self, n):
        o = self.rng.randrange(len(self.tokens) - n)
        return self.tokens[o:o + n]

    def hex_token(self, n):
        o = self.rng.randrange(len(self.hex) - n)
        return self.hex[o:o + n]

    def body_size(self):
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            return rng.randint(0, 1024)
        if r < 0.80:
            return rng.randint(1024, 16384)
        if r < 0.97:
            return rng.randint(16384, 131072)
        return rng.randint(131072, 1 << 20)

    def body(self, n):
        """(Content-Type, bytes)."""
        rng = self.rng
        if rng.random() < 0.3:
            return rng.choice((b"application/octet-stream", b"font/woff2", b"application/x-custom-binary")), \
                self.binary_bytes(n)
        return rng.choice((b"application/json", b"text/html; charset=utf-8", b"text/css",
                           b"application/javascript", b"text/plain")), self.text_bytes(n)

    def path(self):
        rng = self.rng
        p = b"/" + b"/".join(rng.choice(self.words) for _ in range(rng.randint(1, 5)))
        if rng.random() < 0.35:
            p += b"?" + b"&".join(b"%s=%d" % (rng.choice(self.words), rng.randrange(10 ** 6))
                                  for _ in range(rng.randint(1, 6)))
        return p

    def date(self):
        second = self.t // 1000000
        if self.date_cache[0] != second:
            self.date_cache = (second, email.utils.formatdate(second, usegmt=True).encode())
        return self.date_cache[1]

    def request_head(self, c, method, target, extra, version=b"HTTP/1.1"):
        rng = self.rng
        h = [b"%s %s %s\r\nHost: %s\r\n" % (method, target, version, c.host)]
        if rng.random() < 0.9:
            h.append(b"User-Agent: " + c.ua + b"\r\n")
        if rng.random() < 0.8:
            h.append(rng.choice((b"Accept: */*\r\n", b"Accept: application/json\r\n",
                                 b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
                                 b"image/avif,image/webp,*/*;q=0.8\r\n")))
        if rng.random() < 0.6:
            h.append(b"Accept-Encoding: gzip, deflate, br\r\n")
        if rng.random() < 0.4:
            h.append(b"Accept-Language: en-US,en;q=0.9,de;q=0.7\r\n")
        if c.cookie:
            h.append(b"Cookie: " + c.cookie + b"\r\n")
        if rng.random() < 0.15:
            h.append(b"Authorization: Bearer " + self.token(rng.randint(64, 1200)) + b"\r\n")
        if rng.random() < 0.2:
            h.append(b"X-Request-ID: " + self.hex_token(32) + b"\r\n")
        if rng.random() < 0.1:
            h.append(b"Referer: http://" + c.host + self.path() + b"\r\n")
        h.extend(extra)
        h.append(b"\r\n")
        return b"".join(h)

    def response_head(self, status, reason, extra, version=b"HTTP/1.1"):
        rng = self.rng
        h = [b"%s %d %s\r\nDate: %s\r\n" % (version, status, reason, self.date())]
        if rng.random() < 0.7:
            h.append(rng.choice((b"Server: nginx/1.24.0\r\n", b"Server: Apache/2.4.62 (Debian)\r\n",
                                 b"Server: envoy\r\n", b"Server: gunicorn\r\n", b"Server: Kestrel\r\n")))
        if rng.random() < 0.3:
            h.append(rng.choice((b"Cache-Control: no-store\r\n", b"Cache-Control: max-age=600\r\n",
                                 b"Cache-Control: public, max-age=31536000, immutable\r\n")))
        if rng.random() < 0.25:
            h.append(b'ETag: W/"' + self.hex_token(rng.randint(8, 40)) + b'"\r\n')
        if rng.random() < 0.15:
            h.append(b"Set-Cookie: sid=" + self.token(rng.randint(16, 400)) + b"; Path=/; HttpOnly; SameSite=Lax\r\n")
        if rng.random() < 0.1:
            h.append(b"Vary: Accept-Encoding\r\n")
        if rng.random() < 0.05:
            h.append(b"Content-Security-Policy: default-src 'self'; img-src * data:; script-src 'self' "
                     + self.token(rng.randint(10, 2000)) + b"\r\n")
        h.extend(extra)
        h.append(b"\r\n")
        return b"".join(h)

    def chunked(self, body):
        rng = self.rng
        out, i, n = [], 0, len(body)
        while i < n:
            k = min(n - i, rng.choice((rng.randint(1, 256), rng.randint(256, 8192), rng.randint(8192, 65536))))
            ext = b";v=%d" % rng.randrange(100) if rng.random() < 0.03 else b""
            out.append(b"%x%s\r\n" % (k, ext))
            out.append(body[i:i + k])
            out.append(b"\r\n")
            i += k
        out.append(b"0\r\n")
        if rng.random() < 0.08:
            out.append(b"X-Checksum: " + self.hex_token(40) + b"\r\n")
        out.append(b"\r\n")
        return b"".join(out)

    # ------------------------------------------------------------------ packets
    def emit(self, c, d, flags, payload=b"", seq=None):
        """Write one TCP segment of direction d (0 client->server) at the current time."""
        t = self.t
        src, dst = c.ip[d], c.ip[1 - d]
        sport, dport = c.port[d], c.port[1 - d]
        if seq is None:
            seq = c.nxt[d]
        seq &= M32
        ack = c.reach[1 - d] & M32 if flags & ACK else 0
        tsval = (t // 1000 + c.tsoff[d]) & M32
        tsecr = c.lastts[1 - d]
        c.lastts[d] = tsval
        n = len(payload)
        tcplen = 32 + n
        ipid = c.ipid[d] = (c.ipid[d] + 1) & 0xFFFF
        ipsum = fold(0x4500 + 20 + tcplen + ipid + 0x4000 + 0x4006 + src + dst)
        p = int.from_bytes(payload, "big")
        if n & 1:
            p <<= 8
        tcpsum = fold(src + dst + 6 + tcplen + sport + dport + seq + ack + (0x8000 | flags) + WINDOW
                      + 0x0101 + 0x080A + tsval + tsecr + p)
        frame = self.writer.write(t, ETHERNET + HEADERS.pack(
            0x45, 0, 20 + tcplen, ipid, 0x4000, 64, 6, ipsum, src, dst,
            sport, dport, seq, ack, 0x80, flags, WINDOW, tcpsum, 0, 0x0101, 0x080A, tsval, tsecr) + payload)
        if n:
            self.deliver(c, d, seq, n)
        return frame

    def deliver(self, c, d, seq32, n):
        """Advance what the receiver of direction d holds in order, given a segment just sent."""
        reach = c.reach[d]
        s = reach + ((seq32 - reach) & M32)
        if s > reach + (1 << 31):
            s -= 1 << 32   # old data (a retransmission)
        e = s + n
        if s <= reach:
            if e > reach:
                reach = e
            pend = c.pending[d]
            if pend is not None and pend[0] <= reach:
                reach = max(reach, pend[1])
                c.pending[d] = None
        else:
            c.pending[d] = (s, e)
        c.reach[d] = reach

    def emit_syn(self, c, d):
        t = self.t
        src, dst = c.ip[d], c.ip[1 - d]
        tsval = (t // 1000 + c.tsoff[d]) & M32
        tsecr = c.lastts[1 - d]
        c.lastts[d] = tsval
        flags = SYN | (ACK if d else 0)
        ack = c.reach[1 - d] & M32 if d else 0
        options = struct.pack("!HHHHIIBBBB", 0x0204, MSS + 12, 0x0402, 0x080A, tsval, tsecr, 1, 3, 3, 7)
        ipid = c.ipid[d] = (c.ipid[d] + 1) & 0xFFFF
        tcp = struct.pack("!HHIIBBHHH", c.port[d], c.port[1 - d], c.nxt[d] & M32, ack, 0xA0, flags,
                          64240, 0, 0) + options
        tcpsum = fold(src + dst + 6 + 40 + int.from_bytes(tcp, "big"))
        tcp = tcp[:16] + struct.pack("!H", tcpsum) + tcp[18:]
        ipsum = fold(0x4500 + 60 + ipid + 0x4000 + 0x4006 + src + dst)
        self.writer.write(t, ETHERNET + struct.pack("!BBHHHBBHII", 0x45, 0, 60, ipid, 0x4000, 64, 6, ipsum,
                                                    src, dst) + tcp)
        c.nxt[d] += 1
        c.reach[d] = c.nxt[d]

    def send(self, c, d, data, mark=None, ack=True):
        """Generator: send `data` from direction d as MSS segments (a few out of order or
        retransmitted), with the receiver's delayed ACKs. Returns the frame after which the
        receiver holds the first `mark` bytes in order (None without mark)."""
        rng = self.rng
        base = c.nxt[d]
        n = len(data)
        target = base + mark if mark is not None else None
        mark_frame = None
        count = (n + MSS - 1) // MSS
        i = 0
        unacked = 0
        retransmit = None
        while i < count:
            if i + 1 < count and rng.random() < P_OUT_OF_ORDER:
                order = (i + 1, i)
                i += 2
            else:
                order = (i,)
                i += 1
            for k in order:
                yield rng.randint(1, 12)
                o = k * MSS
                e = min(o + MSS, n)
                frame = self.emit(c, d, ACK | PSH if e == n else ACK, data[o:e], base + o)
                if mark_frame is None and target is not None and c.reach[d] >= target:
                    mark_frame = frame
                unacked += 1
            if retransmit is not None:
                yield rng.randint(20, 400)
                o, e = retransmit
                self.emit(c, d, ACK | PSH, data[o:e], base + o)
                retransmit = None
            if len(order) == 1 and rng.random() < P_RETRANSMIT:
                retransmit = (order[0] * MSS, min(order[0] * MSS + MSS, n))
            if unacked >= 2 and i < count:
                yield rng.randint(1, 8)
                self.emit(c, 1 - d, ACK)
                unacked = 0
        if retransmit is not None:
            yield rng.randint(20, 400)
            o, e = retransmit
            self.emit(c, d, ACK | PSH, data[o:e], base + o)
        c.nxt[d] = base + n
        if ack:
            yield rng.randint(5, 40)
            self.emit(c, 1 - d, ACK)
        return mark_frame

    def handshake(self, c):
        yield 0
        self.emit_syn(c, 0)
        yield self.rng.randint(10, 60)
        self.emit_syn(c, 1)
        yield self.rng.randint(10, 60)
        self.emit(c, 0, ACK)

    def teardown(self, c, first):
        rng = self.rng
        yield rng.randint(5, 200)
        self.emit(c, first, FIN | ACK)
        c.nxt[first] += 1
        c.reach[first] += 1
        yield rng.randint(5, 60)
        self.emit(c, 1 - first, FIN | ACK)
        c.nxt[1 - first] += 1
        c.reach[1 - first] += 1
        yield rng.randint(5, 60)
        self.emit(c, first, ACK)

    def full(self):
        """The file has its size: connections wind down instead of starting more exchanges."""
        return self.writer.size >= self.target

    def think(self, low=100, high=20000):
        return self.rng.randint(low, high)

    # ------------------------------------------------------------------ HTTP/1.x
    def exchange(self, c, keep_open=True):
        """Generator: one HTTP request and its answer. Returns False when the server closes
        the connection after it (an HTTP/1.0 close-delimited response)."""
        rng = self.rng
        r = rng.random()
        method = (b"GET" if r < 0.70 else b"POST" if r < 0.82 else b"HEAD" if r < 0.89 else
                  b"PUT" if r < 0.93 else b"PATCH" if r < 0.95 else b"DELETE" if r < 0.98 else b"OPTIONS")
        close_delimited = not keep_open and method == b"GET" and rng.random() < 0.1
        target = b"*" if method == b"OPTIONS" and rng.random() < 0.3 else self.path()
        extra = []
        body = b""
        expect = False
        if method in (b"POST", b"PUT", b"PATCH"):
            ctype, content = self.body(min(self.body_size(), 256 << 10))
            extra.append(b"Content-Type: " + ctype + b"\r\n")
            if rng.random() < 0.12:
                extra.append(b"Transfer-Encoding: chunked\r\n")
                body = self.chunked(content)
            else:
                extra.append(b"Content-Length: %d\r\n" % len(content))
                body = content
            if len(content) > 1024 and rng.random() < 0.1:
                extra.append(b"Expect: 100-continue\r\n")
                expect = True
        conditional = method == b"GET" and rng.random() < 0.1
        if conditional:
            extra.append(b'If-None-Match: W/"' + self.hex_token(16) + b'"\r\n')
        if close_delimited:
            head = self.request_head(c, method, target, extra, b"HTTP/1.0")
        else:
            if not keep_open and rng.random() < 0.5:
                extra.append(b"Connection: close\r\n")
            elif rng.random() < 0.2:
                extra.append(b"Connection: keep-alive\r\n")
            head = self.request_head(c, method, target, extra)
        if expect:
            yield from self.send(c, 0, head, ack=False)
            yield rng.randint(20, 500)
            yield from self.send(c, 1, b"HTTP/1.1 100 Continue\r\n\r\n", ack=False)
            yield rng.randint(10, 100)
            yield from self.send(c, 0, body, ack=False)
        else:
            yield from self.send(c, 0, head + body, ack=False)
        yield rng.randint(30, 3000)

        # The answer.
        r = rng.random()
        if close_delimited:
            ctype, content = self.body(self.body_size())
            response = self.response_head(200, b"OK", [b"Content-Type: " + ctype + b"\r\n"], b"HTTP/1.0") + content
            yield from self.send(c, 1, response, ack=False)
            return False
        if conditional and r < 0.6:
            response = self.response_head(304, b"Not Modified", [b'ETag: W/"' + self.hex_token(16) + b'"\r\n'])
        elif method == b"OPTIONS":
            response = self.response_head(204, b"No Content", [b"Allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\r\n"])
        elif method == b"DELETE" and r < 0.7:
            response = self.response_head(204, b"No Content", [])
        elif method == b"HEAD":
            if r < 0.15:
                response = self.response_head(404, b"Not Found", [b"Content-Type: text/html\r\n",
                                                                  b"Content-Length: %d\r\n" % rng.randint(100, 900)])
            elif r < 0.3:
                response = self.response_head(200, b"OK", [b"Content-Type: text/html\r\n",
                                                           b"Transfer-Encoding: chunked\r\n"])
            else:
                response = self.response_head(200, b"OK", [b"Content-Type: application/octet-stream\r\n",
                                                           b"Content-Length: %d\r\n" % self.body_size()])
        else:
            if r < 0.03:
                status, reason, n = 404, b"Not Found", rng.randint(50, 2000)
            elif r < 0.05:
                status, reason, n = 302, b"Found", rng.randint(0, 300)
            elif r < 0.06:
                status, reason, n = 500, b"Internal Server Error", rng.randint(20, 500)
            elif method == b"POST" and r < 0.3:
                status, reason, n = 201, b"Created", rng.randint(20, 2000)
            elif r < 0.08:
                status, reason, n = 204, b"No Content", 0
            else:
                status, reason, n = 200, b"OK", self.body_size()
            extra = [b"Location: " + self.path() + b"\r\n"] if status in (201, 302) else []
            if not keep_open:
                extra.append(b"Connection: close\r\n")
            if status == 204:
                response = self.response_head(status, reason, extra)
            else:
                ctype, content = self.body(n)
                extra.append(b"Content-Type: " + ctype + b"\r\n")
                if rng.random() < 0.25:
                    extra.append(b"Transfer-Encoding: chunked\r\n")
                    response = self.response_head(status, reason, extra) + self.chunked(content)
                else:
                    extra.append(b"Content-Length: %d\r\n" % n)
                    response = self.response_head(status, reason, extra) + content
        yield from self.send(c, 1, response)
        return True

    # ------------------------------------------------------------------ connections
    def new_connection(self):
        rng = self.rng
        self.counter += 1
        i = self.counter
        cip = (127 << 24) | (1 << 16) | (i % 2000 + 2)
        port = self.ports.get(cip, 32768 + rng.randrange(20000)) + rng.randint(1, 9)
        if port > 60999:
            port -= 28000
        self.ports[cip] = port
        sip = (127 << 24) | rng.choice((1, 1, 1, 2, 3, 0x0100 + 10))
        sport = rng.choice((80, 80, 8080, 8000, 3000, 5000))
        c = Connection(cip, port, sip, sport)
        for d in (0, 1):
            isn = rng.getrandbits(32)
            c.nxt[d] = isn
            c.reach[d] = isn
            c.tsoff[d] = rng.getrandbits(31)
            c.ipid[d] = rng.getrandbits(16)
        c.host = rng.choice((b"localhost", b"127.0.0.1:%d" % sport, b"api.internal", b"app.local",
                             b"static.local:%d" % sport, b"svc-%d.cluster.local" % rng.randrange(50)))
        c.ua = rng.choice((b"curl/8.5.0", b"python-requests/2.32.3", b"Go-http-client/1.1", b"okhttp/4.12.0",
                           b"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                           b"Chrome/131.0.0.0 Safari/537.36",
                           b"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0"))
        c.cookie = (b"session=" + self.token(rng.randint(16, 64)) +
                    (b"; prefs=" + self.token(rng.randint(10, 3000)) if rng.random() < 0.4 else b"")
                    ) if rng.random() < 0.5 else b""
        r = rng.random()
        if r < self.p_websocket:
            return self.websocket_connection(c)
        if r < self.p_websocket + P_H2C:
            return self.h2c_connection(c)
        if r < self.p_websocket + P_H2C + P_DECLINED:
            return self.declined_connection(c)
        return self.http_connection(c)

    def record(self, c, protocol, result, frame):
        self.truth.append({"client": "%s:%d" % (ip_text(c.ip[0]), c.port[0]),
                           "server": "%s:%d" % (ip_text(c.ip[1]), c.port[1]),
                           "protocol": protocol, "result": result, "response_frame": frame})

    def http_connection(self, c):
        rng = self.rng
        yield from self.handshake(c)
        count = min(int(rng.expovariate(1 / 6)) + 1, 60)
        for k in range(count):
            yield self.think(20, 400) if k == 0 else self.think()
            last = k == count - 1 or self.full()
            open_after = yield from self.exchange(c, keep_open=not last or rng.random() < 0.6)
            if not open_after:
                yield from self.teardown(c, 1)
                return
            if last:
                break
        yield from self.teardown(c, 0 if rng.random() < 0.7 else 1)

    def declined_connection(self, c):
        rng = self.rng
        yield from self.handshake(c)
        for _ in range(rng.randint(0, 2)):
            yield self.think()
            yield from self.exchange(c)
        yield self.think()
        if rng.random() < 0.6:
            protocol = "websocket"
            key = base64.b64encode(rng.randbytes(16))
            extra = [b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                     b"\r\nSec-WebSocket-Version: 13\r\n"]
            target = b"/ws"
        else:
            protocol = "h2c"
            extra = [b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " +
                     self.http2_settings_header() + b"\r\n"]
            target = self.path()
        yield from self.send(c, 0, self.request_head(c, b"GET", target, extra), ack=False)
        yield rng.randint(30, 2000)
        ctype, content = self.body(rng.randint(20, 20000))
        head = self.response_head(200, b"OK", [b"Content-Type: " + ctype + b"\r\n",
                                               b"Content-Length: %d\r\n" % len(content)])
        frame = yield from self.send(c, 1, head + content, mark=len(head))
        self.record(c, protocol, "declined", frame)
        for _ in range(rng.randint(1, 4)):
            if self.full():
                break
            yield self.think()
            yield from self.exchange(c)
        yield from self.teardown(c, 0)

    # ------------------------------------------------------------------ WebSocket
    def mask_key(self, c):
        while True:
            key = self.rng.randbytes(4)
            if key != b"\0\0\0\0" and key != c.mask:
                c.mask = key
                return key

    def ws_frame(self, c, client, opcode, payload, fin=True, rsv1=False):
        n = len(payload)
        b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
        m = 0x80 if client else 0
        if n < 126:
            head = bytes((b0, m | n))
        elif n < 65536:
            head = struct.pack("!BBH", b0, m | 126, n)
        else:
            head = struct.pack("!BBQ", b0, m | 127, n)
        if not client:
            return head + payload
        key = self.mask_key(c)
        if n:
            stream = (key * ((n + 3) >> 2))[:n]
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")
        return head + key + payload

    def ws_message(self, c, client, deflate):
        """Bytes of one data message (possibly fragmented, possibly compressed)."""
        rng = self.rng
        r = rng.random()
        n = (rng.randint(0, 125) if r < 0.6 else rng.randint(126, 4000) if r < 0.85 else
             rng.randint(4000, 65535) if r < 0.97 else rng.randint(65536, 300000))
        if rng.random() < 0.7:
            opcode, payload = 1, self.text_bytes(n)
        else:
            opcode, payload = 2, self.binary_bytes(n)
        compressed = deflate and (self.compressed_websocket or rng.random() < 0.5)
        if compressed and c.deflaters:
            # Context takeover: one compressor per direction for the whole connection.
            payload = c.deflaters[0 if client else 1].compress(payload)
            payload += c.deflaters[0 if client else 1].flush(zlib.Z_SYNC_FLUSH)
            payload = payload[:-4]   # RFC 7692 §7.2.1: drop the 00 00 ff ff tail
        elif compressed:
            z = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = z.compress(payload) + z.flush(zlib.Z_SYNC_FLUSH)
            payload = payload[:-4]   # RFC 7692 §7.2.1: drop the 00 00 ff ff tail
        if len(payload) > 64 and rng.random() < 0.1:
            cuts = sorted(rng.sample(range(1, len(payload)), rng.randint(1, 3)))
            pieces = [payload[a:b] for a, b in zip([0] + cuts, cuts + [len(payload)])]
            frames = []
            for k, piece in enumerate(pieces):
                frames.append(self.ws_frame(c, client, opcode if k == 0 else 0, piece,
                                            fin=k == len(pieces) - 1, rsv1=compressed and k == 0))
            return b"".join(frames)
        return self.ws_frame(c, client, opcode, payload, rsv1=compressed)

    def websocket_connection(self, c):
        rng = self.rng
        yield from self.handshake(c)
        yield self.think(20, 400)
        key = base64.b64encode(rng.randbytes(16))
        accept = base64.b64encode(hashlib.sha1(key + WS_GUID).digest())
        request = [b"Upgrade: websocket\r\n",
                   rng.choice((b"Connection: Upgrade\r\n", b"Connection: keep-alive, Upgrade\r\n")),
                   b"Sec-WebSocket-Key: " + key + b"\r\n", b"Sec-WebSocket-Version: 13\r\n"]
        if rng.random() < 0.5:
            request.append(b"Origin: http://" + c.host + b"\r\n")
        subprotocol = rng.random() < 0.3
        if subprotocol:
            request.append(b"Sec-WebSocket-Protocol: chat, superchat\r\n")
        offer_deflate = self.compressed_websocket or rng.random() < 0.4
        if offer_deflate:
            request.append(b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
        yield from self.send(c, 0, self.request_head(c, b"GET", b"/ws/" + rng.choice(self.words), request),
                             ack=False)
        yield rng.randint(30, 2000)
        response = [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Accept: " + accept + b"\r\n"]
        if subprotocol:
            response.append(b"Sec-WebSocket-Protocol: " + rng.choice((b"chat", b"superchat")) + b"\r\n")
        deflate = offer_deflate and (self.compressed_websocket or rng.random() < 0.7)
        if deflate and self.compressed_websocket:
            c.deflaters = [zlib.compressobj(6, zlib.DEFLATED, -15) for _ in (0, 1)]
        if deflate:
            response.append(b"Sec-WebSocket-Extensions: permessage-deflate\r\n")
        if rng.random() < 0.5:
            response.append(b"Date: " + self.date() + b"\r\n")
        response.append(b"\r\n")
        head = b"".join(response)
        greeting = self.ws_message(c, False, deflate) if rng.random() < 0.3 else b""
        frame = yield from self.send(c, 1, head + greeting, mark=len(head))
        self.record(c, "websocket", "switched", frame)

        for _ in range(min(int(rng.expovariate(1 / 25)) + 1, 400)):
            if self.full():
                break
            yield self.think(10, 30000)
            r = rng.random()
            if r < 0.4:
                yield from self.send(c, 0, self.ws_message(c, True, deflate), ack=False)
                yield rng.randint(20, 500)
                yield from self.send(c, 1, self.ws_message(c, False, deflate))
            elif r < 0.8:
                burst = b"".join(self.ws_message(c, False, deflate) for _ in range(rng.randint(1, 4)))
                yield from self.send(c, 1, burst)
            elif r < 0.9:
                yield from self.send(c, 0, self.ws_message(c, True, deflate))
            else:
                data = self.token(rng.randint(0, 125))
                client = rng.random() < 0.5
                ping = self.ws_frame(c, client, 0x9, data)
                yield from self.send(c, 0 if client else 1, ping, ack=False)
                yield rng.randint(20, 300)
                yield from self.send(c, 1 if client else 0, self.ws_frame(c, not client, 0xA, data))
        # Close handshake (RFC 6455 §5.5.1, §7.1.1): the server closes TCP first.
        yield self.think(10, 5000)
        client_first = rng.random() < 0.7
        code, reason = rng.choice(((1000, b""), (1000, b"bye"), (1001, b"going away"), (1000, b"normal closure")))
        payload = struct.pack("!H", code) + reason
        yield from self.send(c, 0 if client_first else 1, self.ws_frame(c, client_first, 0x8, payload), ack=False)
        yield rng.randint(20, 300)
        yield from self.send(c, 1 if client_first else 0,
                             self.ws_frame(c, not client_first, 0x8, struct.pack("!H", code)), ack=False)
        yield from self.teardown(c, 1)

    # ------------------------------------------------------------------ h2c
    def http2_settings_header(self):
        rng = self.rng
        entries = [(0x3, 100), (0x4, 1 << 20)]
        if rng.random() < 0.5:
            entries.append((0x2, 0))
        if rng.random() < 0.3:
            entries.append((0x6, 1 << 16))
        payload = b"".join(struct.pack("!HI", k, v) for k, v in entries)
        return base64.urlsafe_b64encode(payload).rstrip(b"=")

    @staticmethod
    def h2_frame(kind, flags, stream, payload=b""):
        n = len(payload)
        return struct.pack("!BHBBI", n >> 16, n & 0xFFFF, kind, flags, stream) + payload

    @staticmethod
    def hpack_int(value, bits, first):
        limit = (1 << bits) - 1
        if value < limit:
            return bytes((first | value,))
        out = [first | limit]
        value -= limit
        while value >= 128:
            out.append((value & 127) | 128)
            value >>= 7
        out.append(value)
        return bytes(out)

    def hpack_string(self, s):
        return self.hpack_int(len(s), 7, 0) + s

    def hpack_literal(self, index, value):
        """Literal header field without indexing, indexed name (RFC 7541 §6.2.2)."""
        return self.hpack_int(index, 4, 0) + self.hpack_string(value)

    def h2_response(self, c, stream):
        """HEADERS + DATA frames answering one stream."""
        rng = self.rng
        ctype, content = self.body(min(self.body_size(), 256 << 10))
        block = [b"\x88", self.hpack_literal(31, ctype), self.hpack_literal(28, b"%d" % len(content)),
                 self.hpack_literal(33, self.date())]
        if rng.random() < 0.5:
            block.append(self.hpack_literal(54, b"envoy"))
        if rng.random() < 0.3:
            block.append(b"\x00" + self.hpack_string(b"x-request-id") + self.hpack_string(self.hex_token(32)))
        frames = []
        if content:
            frames.append(self.h2_frame(0x1, 0x4, stream, b"".join(block)))
            for o in range(0, len(content), 16384):
                piece = content[o:o + 16384]
                frames.append(self.h2_frame(0x0, 0x1 if o + 16384 >= len(content) else 0, stream, piece))
        else:
            frames.append(self.h2_frame(0x1, 0x5, stream, b"".join(block)))
        return b"".join(frames), len(content)

    def h2_request(self, c, stream):
        block = (b"\x82\x86" + self.hpack_literal(4, self.path()) + self.hpack_literal(1, c.host) +
                 self.hpack_literal(58, c.ua) + self.hpack_literal(19, b"*/*"))
        return self.h2_frame(0x1, 0x5, stream, block)

    def h2c_connection(self, c):
        rng = self.rng
        yield from self.handshake(c)
        for _ in range(rng.randint(0, 1)):
            yield self.think(20, 400)
            yield from self.exchange(c)
        yield self.think(20, 400)
        extra = [b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: " +
                 self.http2_settings_header() + b"\r\n"]
        yield from self.send(c, 0, self.request_head(c, b"GET", self.path(), extra), ack=False)
        yield rng.randint(30, 2000)
        head = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        server_settings = self.h2_frame(0x4, 0, 0, struct.pack("!HIHI", 0x3, 128, 0x4, 65535))
        together = rng.random() < 0.5
        frame = yield from self.send(c, 1, head + server_settings if together else head, mark=len(head))
        self.record(c, "h2c", "switched", frame)
        yield rng.randint(10, 200)
        client_settings = self.h2_frame(0x4, 0, 0, struct.pack("!HIHI", 0x3, 100, 0x4, 1 << 20))
        yield from self.send(c, 0, H2_PREFACE + client_settings +
                             self.h2_frame(0x8, 0, 0, struct.pack("!I", 15 << 20)), ack=False)
        yield rng.randint(10, 300)
        answer, received = self.h2_response(c, 1)   # stream 1 is the upgrade request (RFC 7540 §3.2)
        yield from self.send(c, 1, (b"" if together else server_settings) + self.h2_frame(0x4, 0x1, 0) + answer,
                             ack=False)
        yield rng.randint(10, 200)
        yield from self.send(c, 0, self.h2_frame(0x4, 0x1, 0))
        stream = 1
        for _ in range(min(int(rng.expovariate(1 / 5)), 40)):
            if self.full():
                break
            yield self.think(50, 20000)
            batch = []
            for _ in range(rng.randint(1, 3)):
                stream += 2
                batch.append(stream)
            yield from self.send(c, 0, b"".join(self.h2_request(c, s) for s in batch), ack=False)
            yield rng.randint(30, 2000)
            answers = []
            for s in batch:
                data, n = self.h2_response(c, s)
                answers.append(data)
                received += n
            yield from self.send(c, 1, b"".join(answers))
            if received > 1 << 20:
                yield rng.randint(5, 50)
                yield from self.send(c, 0, self.h2_frame(0x8, 0, 0, struct.pack("!I", received)), ack=False)
                received = 0
            if rng.random() < 0.1:
                opaque = rng.randbytes(8)
                yield rng.randint(5, 50)
                yield from self.send(c, 0, self.h2_frame(0x6, 0, 0, opaque), ack=False)
                yield rng.randint(5, 50)
                yield from self.send(c, 1, self.h2_frame(0x6, 0x1, 0, opaque))
        yield self.think(50, 5000)
        yield from self.send(c, 1, self.h2_frame(0x7, 0, 0, struct.pack("!II", stream, 0)))
        yield from self.teardown(c, 0 if rng.random() < 0.5 else 1)

    # ------------------------------------------------------------------ driver
    def run(self, concurrency):
        rng = self.rng
        queue = []
        ident = 0
        for _ in range(concurrency):
            ident += 1
            heapq.heappush(queue, (self.t + rng.randint(0, 20000), ident, self.new_connection()))
        writer = self.writer
        while queue:
            when, ident_now, conn = heapq.heappop(queue)
            if when > self.t:
                self.t = when
            try:
                delay = next(conn)
            except StopIteration:
                if writer.size < self.target:
                    ident += 1
                    heapq.heappush(queue, (self.t + rng.randint(0, 3000), ident, self.new_connection()))
                continue
            heapq.heappush(queue, (self.t + delay, ident_now, conn))
        writer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output")
    parser.add_argument("--size-mb", type=float, default=100, help="approximate file size in MB (10^6 bytes)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--truth", help="write the upgrades made here (JSON Lines)")
    parser.add_argument("--compressed-websocket", action="store_true",
                        help="a third of connections WebSocket, all with permessage-deflate and context takeover")
    parser.add_argument("--concurrency", type=int, default=200, help="connections open at once")
    args = parser.parse_args()
    start = time.time()
    gen = Generator(args)
    gen.run(args.concurrency)
    if args.truth:
        with open(args.truth, "w") as f:
            for entry in sorted(gen.truth, key=lambda e: e["response_frame"]):
                f.write(json.dumps(entry) + "\n")
    print("%s: %d frames, %d bytes, %d connections, %d upgrade attempts, %.1f s" % (
        args.output, gen.writer.frames, gen.writer.size, gen.counter, len(gen.truth), time.time() - start),
        file=sys.stderr)


if __name__ == "__main__":
    main()
