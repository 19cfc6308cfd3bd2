#!/usr/bin/env python3
"""Writes the seed corpus of one fuzz target (called by Scripts/fuzz).

Usage: Fuzz/seeds.py TARGET OUTDIR MAX_LEN

Sources: Captures/*.pcap* and /work/shared/captures-real (or $FUZZ_CAPTURES, colon-separated
folders). capture: the files themselves. decode: single frames, prefixed with the link-type
byte Fuzz/DecodeFuzz.swift expects. http1, upgrade, websocket, http2: TCP streams followed with
tshark (`-qz follow,tcp,raw,N`), in the formats of Fuzz/HTTP1Fuzz.swift and
Fuzz/ChunkScript.swift (websocket and http2 get the bytes after the 101). reassembly, http2's
HPACK mode and a few protocol cases: written by hand below.
"""
import hashlib
import os
import re
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAPTURE_DIRS = os.environ.get("FUZZ_CAPTURES", f"{ROOT}/Captures:/work/shared/captures-real").split(":")
# Fuzz/DecodeFuzz.swift: fuzzLinkTypes (index = first byte).
LINK_TYPES = [1, 101, 0, 108, 113, 228, 229, 276, 239, 12, 14]
PER_FILE_FRAMES = 40
MAX_STREAMS = 120


def capture_files():
    for folder in CAPTURE_DIRS:
        if not os.path.isdir(folder):
            continue
        for base, _, names in sorted(os.walk(folder)):
            for name in sorted(names):
                path = os.path.join(base, name)
                with open(path, "rb") as handle:
                    magic = handle.read(4)
                if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                             b"\xa1\xb2\x3c\x4d", b"\x0a\x0d\x0d\x0a"):
                    yield path


def frames(path):
    """(link type, frame bytes) of every packet, for pcap and pcapng."""
    data = open(path, "rb").read()
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        links, offset = [], 0
        while offset + 12 <= len(data):
            kind, length = struct.unpack(order + "II", data[offset:offset + 8])
            if length < 12 or offset + length > len(data):
                break
            body = data[offset + 8:offset + length - 4]
            if kind == 1:
                links.append(struct.unpack(order + "H", body[:2])[0])
            elif kind == 6 and len(body) >= 20:
                interface, _, _, captured, _ = struct.unpack(order + "IIIII", body[:20])
                if interface < len(links):
                    yield links[interface], body[20:20 + captured]
            elif kind == 3 and links:
                yield links[0], body[4:]
            offset += length
        return
    magic = data[:4]
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    link = struct.unpack(order + "I", data[20:24])[0] & 0x0FFFFFFF
    offset = 24
    while offset + 16 <= len(data):
        captured = struct.unpack(order + "I", data[offset + 8:offset + 12])[0]
        yield link, data[offset + 16:offset + 16 + captured]
        offset += 16 + captured


def follow(path, stream):
    """The chunks of one TCP stream: [(from_client, bytes)] in capture order."""
    try:
        output = subprocess.run(["tshark", "-r", path, "-qz", f"follow,tcp,raw,{stream}"],
                                capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    chunks, started = [], False
    for line in output.splitlines():
        if line.startswith("Node 1:"):
            started = True
            continue
        if not started or line.startswith("====="):
            continue
        text = line.strip()
        if not re.fullmatch(r"[0-9a-fA-F]+", text or "x"):
            continue
        chunks.append((not line.startswith("\t"), bytes.fromhex(text)))
    return chunks


def streams():
    """(path, stream index) of connections worth following: every stream of Captures/ and
    the upgrade streams of the public captures (UPGRADE_PAIRS.tsv)."""
    seen = []
    for folder in CAPTURE_DIRS:
        pairs = os.path.join(folder, "UPGRADE_PAIRS.tsv")
        if os.path.exists(pairs):
            for row in open(pairs).read().splitlines()[1:]:
                fields = row.split("\t")
                if len(fields) > 3 and fields[1] == "101":
                    seen.append((os.path.join(folder, fields[0]), fields[3]))
        elif os.path.isdir(folder):
            for name in sorted(os.listdir(folder)):
                if name.endswith((".pcap", ".pcapng")):
                    seen.append((os.path.join(folder, name), "0"))
    unique = list(dict.fromkeys(seen))
    return unique[:MAX_STREAMS]


def script(chunks):
    """Fuzz/ChunkScript.swift format: alternating client/server records."""
    out, expect_client = bytearray(), True
    for from_client, data in chunks:
        if from_client != expect_client:
            out.append(0)  # an empty record for the other direction
            expect_client = not expect_client
        while len(data) > 0xFFFF:
            out += b"\xf9\xff\xff" + data[:0xFFFF]
            data = data[0xFFFF:]
            out.append(0)
        if len(data) < 0xF0:
            out.append(len(data))
        else:
            out += b"\xf9" + struct.pack(">H", len(data))
        out += data
        expect_client = not expect_client
    return bytes(out)


def after_switch(chunks):
    """The chunks after the 101's head (server) and the upgrade request's head (client), and
    the protocol the 101 names."""
    server = b"".join(d for c, d in chunks if not c)
    client = b"".join(d for c, d in chunks if c)
    match = re.search(rb"HTTP/1\.[01] 101[^\r\n]*\r?\n(.*?)\r?\n\r?\n", server, re.S)
    if not match:
        return None, []
    protocol = re.search(rb"(?im)^upgrade:\s*([^\r\n]*)", match.group(1))
    protocol = protocol.group(1).strip().lower().decode("latin-1") if protocol else ""
    server_cut = match.end()
    request = re.search(rb"(?is)\r?\nupgrade:.*?\r?\n\r?\n", client)
    client_cut = request.end() if request else 0
    cuts, seen, result = {True: client_cut, False: server_cut}, {True: 0, False: 0}, []
    for from_client, data in chunks:
        start, end = seen[from_client], seen[from_client] + len(data)
        seen[from_client] = end
        keep = data[max(0, cuts[from_client] - start):] if end > cuts[from_client] else b""
        if keep:
            result.append((from_client, keep))
    return protocol, result


def write(outdir, data, limit):
    data = data[:limit]
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(outdir, name), "wb") as handle:
        handle.write(data)


def reassembly_seeds():
    """Fuzz/ReassemblyFuzz.swift: mode byte, then (a, flags, seq delta, length, ack delta)."""
    def seg(a, flags, delta, length, ack=0):
        return bytes([a, flags, delta & 0xFF, length, ack & 0xFF])
    syn, ack, psh, fin, rst = 0x02, 0x10, 0x08, 0x01, 0x04
    handshake = seg(0, syn, 0, 0) + seg(1, syn | ack, 0, 0, 0) + seg(0, ack, 0, 0)
    session = (handshake + seg(0, ack | psh, 0, 120) + seg(1, ack | psh, 0, 200) + seg(0, ack | psh, 0, 50)
               + seg(1, ack | fin, 0, 10) + seg(0, ack | fin, 0, 0) + seg(1, ack, 0, 0))
    reordered = (handshake + seg(0, ack, 100, 60) + seg(0, ack, -160, 100) + seg(0, ack, -50, 90)
                 + seg(1, ack, 0, 30, -20) + seg(0, ack | fin, 0, 0))
    lost = handshake + seg(0, ack, 40, 30) + seg(1, ack, 0, 0, 50) + seg(0x20, ack, 0, 10) + seg(0x40, ack | fin, 0, 5)
    conflict = handshake + seg(0, ack, 0, 50) + seg(8, ack, -50, 80) + seg(0, ack, 20, 10) + seg(8, ack, -30, 40)
    many = b"".join(seg(c << 1 | d, syn if i == 0 else ack, 0, 20 * i) for i in range(3) for c in range(4) for d in range(2))
    idle = handshake + seg(0x80, ack, 0, 10) + seg(0x81, ack, 0, 10) + seg(0, rst, 0, 0)
    partial = seg(0, ack | psh, 0, 80) + seg(1, ack | psh, 0, 90, 0) + seg(0, ack, 0, 0, 0)
    seeds = []
    for mode in (0, 1, 2, 4, 8, 16, 32, 0x3F):
        for body in (session, reordered, lost, conflict, many, idle, partial):
            seeds.append(bytes([mode]) + body)
    return seeds


def http1_seeds(chunks):
    client = b"".join(d for c, d in chunks if c)
    server = b"".join(d for c, d in chunks if not c)
    seeds = []
    if client:
        seeds.append(bytes([0x00, 0x00, 0x00, 0x17]) + client)
        seeds.append(bytes([0x18, 0xE4, 0x39, 0x42]) + client)  # gaps, stop at pause, mixed actions
    if server:
        seeds.append(bytes([0x01, 0x00, 0x00, 0x17]) + server)
        seeds.append(bytes([0x13, 0x8D, 0x72, 0x99]) + server)
    return seeds


HANDWRITTEN_HTTP = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
    b"POST /p HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "
    b"dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n\x16\x03\x01\x00\x05hello",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: a\r\n folded\r\nBad Line\r\nX : y\r\n\r\n",
]
HANDWRITTEN_RESPONSES = [
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x02Hi",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.0 304 NM\r\n\r\n",
    b"HTTP/1.0 200 OK\r\n\r\nuntil close",
    b"HTTP/1.1 426 Upgrade Required\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n",
]

# RFC 6455 §5.7 examples and a close frame; masked variants for the client.
WS_SERVER = [b"\x81\x05Hello", b"\x01\x03Hel\x80\x02lo", b"\x89\x05Hello", b"\x8a\x05Hello",
             b"\x82\x7e\x01\x00" + bytes(256), b"\x88\x02\x03\xe8", b"\xc1\x07\xf2\x48\xcd\xc9\xc9\x07\x00"]
WS_CLIENT = [b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", b"\x88\x82\x00\x00\x00\x00\x03\xe8",
             b"\x89\x80\x01\x02\x03\x04"]

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def h2_frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


# RFC 7541 C.3 (requests without Huffman) and C.4 (with Huffman), C.5/C.6 responses.
HPACK_BLOCKS = [
    "828684410f7777772e6578616d706c652e636f6d",
    "828684be58086e6f2d6361636865",
    "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565",
    "828684418cf1e3c2e5f23a6ba0ab90f4ff",
    "828684be5886a8eb10649cbf",
    "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf",
    "4803333032580770726976617465611d4d6f6e2c203231204f637420323031332032303a31333a323120474d546e1768747470733a2f2f7777772e6578616d706c652e636f6d",
    "4883640effc1c0bf",
    "3fe11f82",
]


def http2_seeds():
    settings = h2_frame(4, 0, 0, struct.pack(">HI", 1, 4096) + struct.pack(">HI", 3, 100) + struct.pack(">HI", 8, 1))
    headers = h2_frame(1, 5, 1, bytes.fromhex(HPACK_BLOCKS[0]))
    split_headers = h2_frame(1, 0, 3, bytes.fromhex(HPACK_BLOCKS[1])[:5]) + h2_frame(9, 4, 3, bytes.fromhex(HPACK_BLOCKS[1])[5:])
    data = h2_frame(0, 9, 1, b"\x02ab\x00\x00")
    client = H2_PREFACE + settings + h2_frame(4, 1, 0, b"") + headers + split_headers + h2_frame(8, 0, 0, b"\x00\x01\x00\x00")
    server = settings + h2_frame(4, 1, 0, b"") + h2_frame(1, 4, 1, bytes.fromhex(HPACK_BLOCKS[6])) + data \
        + h2_frame(3, 0, 3, b"\x00\x00\x00\x08") + h2_frame(7, 0, 0, b"\x00\x00\x00\x03\x00\x00\x00\x00") + h2_frame(6, 0, 0, bytes(8))
    seeds = []
    for mode in (0, 2, 4, 8, 0x32):
        seeds.append(bytes([mode]) + script([(True, client), (False, server)]))
        seeds.append(bytes([mode]) + script([(True, client[:30]), (False, server[:20]), (True, client[30:]), (False, server[20:])]))
    for mode in (1, 3, 5, 9):
        blocks = b"".join(bytes([len(bytes.fromhex(h))]) + bytes.fromhex(h) for h in HPACK_BLOCKS[:3])
        seeds.append(bytes([mode]) + blocks)
        blocks = b"".join(bytes([len(bytes.fromhex(h))]) + bytes.fromhex(h) for h in HPACK_BLOCKS[3:])
        seeds.append(bytes([mode]) + blocks)
    return seeds


def inflate_seeds():
    """Streams by Python's zlib (the test vectors and a few more), each under a few modes."""
    import base64
    import json
    import zlib
    fixtures = os.path.join(ROOT, "Tests", "InflateTests", "Fixtures")
    streams = []
    with open(os.path.join(fixtures, "vectors.jsonl")) as f:
        for line in f:
            vector = json.loads(line)
            if vector["dictionary"]:
                continue
            data = base64.b64decode(vector["compressed"])[:30000]
            fmt = {"raw": 0, "zlib": 1, "gzip": 2}[vector["format"]]
            streams.append((fmt | (vector["window_bits"] - 8) << 2, data))
    with open(os.path.join(fixtures, "messages.jsonl")) as f:
        for line in f:
            sequence = json.loads(line)
            payload = b"".join(base64.b64decode(m["compressed"]) + b"\x00\x00\xff\xff" for m in sequence["messages"])
            streams.append(((sequence["window_bits"] - 8) << 2, payload[:30000]))
    dictionary = b"GET / HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\n"
    c = zlib.compressobj(9, zlib.DEFLATED, -15, zdict=dictionary)
    streams.append((3 | 7 << 2, c.compress(dictionary + b"Connection: Upgrade\r\n") + c.flush()))
    streams.append((7 << 2, zlib.compress(bytes(200000), 9)[2:-4]))  # small bomb
    seeds = []
    for number, (mode, data) in enumerate(streams):
        for budget in (0, 2, 4, 7):
            seeds.append(bytes([mode | budget << 5, number & 0xFF]) + data)
    return seeds


def varint(value):
    """A QUIC variable-length integer (RFC 9000 §16), shortest form."""
    length = 1 if value < 1 << 6 else 2 if value < 1 << 14 else 4 if value < 1 << 30 else 8
    raw = bytearray(value.to_bytes(length, "big"))
    raw[0] |= {1: 0x00, 2: 0x40, 4: 0x80, 8: 0xC0}[length]
    return bytes(raw)


def connect_udp_seeds():
    """Capsule streams (RFC 9297 §3.2): UDP payloads in DATAGRAM capsules, a reserved type, an
    extension's capsule then a non-zero Context ID, malformed DATAGRAMs, a cut capsule and an
    HTTP response where capsules were due."""
    def capsule(ctype, value):
        return varint(ctype) + varint(len(value)) + value
    def datagram(payload, context=0):
        return capsule(0, varint(context) + payload)
    client = datagram(b"ping") + capsule(0x17, b"grease") + datagram(b"") + capsule(0x11, b"\x02") + datagram(b"x", 2)
    server = datagram(b"pong") + capsule(0x3FFF, b"\x00" * 40)
    return [
        script([(True, client), (False, server)]),
        script([(True, capsule(0, b"") + capsule(0, b"\x40") + datagram(b"\x07" * 300))]) + b"\xfa",
        script([(True, datagram(b"cut")[:-1]), (False, b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")]) + b"\xfa",
    ]


def main():
    target, outdir, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(outdir, exist_ok=True)
    seeds = []
    if target == "capture":
        for path in capture_files():
            seeds.append(open(path, "rb").read())
    elif target == "decode":
        for path in capture_files():
            for count, (link, frame) in enumerate(frames(path)):
                if count >= PER_FILE_FRAMES:
                    break
                if link in LINK_TYPES:
                    seeds.append(bytes([LINK_TYPES.index(link)]) + frame)
                else:
                    seeds.append(b"\x0b" + struct.pack(">H", link & 0xFFFF) + frame)
    elif target == "reassembly":
        seeds += reassembly_seeds()
    elif target == "inflate":
        seeds += inflate_seeds()
    else:
        followed = [follow(path, stream) for path, stream in streams()]
        followed = [chunks for chunks in followed if chunks]
        if target == "http1":
            for chunks in followed:
                seeds += http1_seeds(chunks)
            for text in HANDWRITTEN_HTTP:
                seeds += http1_seeds([(True, text)])
            for text in HANDWRITTEN_RESPONSES:
                seeds += http1_seeds([(False, text)])
        elif target == "upgrade":
            for chunks in followed:
                for mode in (0, 1, 2, 4):
                    seeds.append(bytes([mode]) + script(chunks))
            for request in HANDWRITTEN_HTTP:
                for response in HANDWRITTEN_RESPONSES:
                    seeds.append(b"\x00" + script([(True, request), (False, response), (True, WS_CLIENT[0])]))
        elif target == "websocket":
            for chunks in followed:
                protocol, switched = after_switch(chunks)
                if switched and "websocket" in protocol:
                    for mode in (0, 1):
                        seeds.append(bytes([mode]) + script(switched))
            for mode in (0, 1, 2, 7):
                pairs = [(i % 2 == 0, (WS_CLIENT if i % 2 == 0 else WS_SERVER)[i // 2 % 3]) for i in range(10)]
                seeds.append(bytes([mode]) + script(pairs))
                seeds.append(bytes([mode]) + script([(False, frame) for frame in WS_SERVER]))
        elif target == "http2":
            for chunks in followed:
                protocol, switched = after_switch(chunks)
                if switched and "h2c" in protocol:
                    for mode in (2, 6):
                        seeds.append(bytes([mode]) + script(switched))
            seeds += http2_seeds()
        elif target == "connectudp":
            for chunks in followed:
                protocol, switched = after_switch(chunks)
                if switched and "connect-udp" in protocol:
                    seeds.append(script(switched))
            seeds += connect_udp_seeds()
        else:
            sys.exit(f"seeds.py: unknown target {target}")
    for seed in seeds:
        write(outdir, seed, limit)
    print(f"seeds.py: {len(set(seeds))} seeds for {target}", file=sys.stderr)


if __name__ == "__main__":
    main()
