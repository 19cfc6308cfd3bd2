#!/usr/bin/env python3
"""Writes a pcap of N half-open WebSocket upgrades, each followed by EARLY bytes of client data
that no 101 ever answers (issue #13's memory check). Crafted packets, not a capture of real
programs: it measures Switchyard's memory, it is not a test corpus. Usage:

    python3 Scripts/half-open-upgrades.py OUT.pcap [N=10000] [EARLY=65536]
    /usr/bin/time -v .build/release/switchyard analyze --quiet --fail-on never OUT.pcap > /dev/null

Each connection: SYN, SYN-ACK, ACK, the upgrade request, then EARLY bytes in 16 KiB segments,
in order, no FIN (the connections stay open until the capture ends).
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Captures"))
from misbehaving_peers import _checksum as checksum  # noqa: E402  RFC 1071

REQUEST = (b"GET /chat HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def packet(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = struct.pack("!4s4sBBH", src, dst, 0, 6, len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp + payload)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return b"\0" * 12 + b"\x08\x00" + ip + tcp + payload   # Ethernet, zero MACs


def main(argv):
    out = argv[1]
    count = int(argv[2]) if len(argv) > 2 else 10_000
    early = int(argv[3]) if len(argv) > 3 else 65536
    chunk = 16384
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        time = 1_700_000_000 * 1_000_000

        def write(data):
            nonlocal time
            time += 10
            f.write(struct.pack("<IIII", time // 1_000_000, time % 1_000_000, len(data), len(data)) + data)

        server = bytes([10, 0, 0, 1])
        for index in range(count):
            client = bytes([10, 1 + index // 65000, (index // 250) % 256, 1 + index % 250])
            sport = 10000 + index % 50000
            cseq, sseq = 1000, 5000
            write(packet(client, server, sport, 80, cseq, 0, 0x02))
            write(packet(server, client, 80, sport, sseq, cseq + 1, 0x12))
            write(packet(client, server, sport, 80, cseq + 1, sseq + 1, 0x10))
            seq = cseq + 1
            write(packet(client, server, sport, 80, seq, sseq + 1, 0x18, REQUEST))
            seq += len(REQUEST)
            sent = 0
            while sent < early:
                size = min(chunk, early - sent)
                write(packet(client, server, sport, 80, seq, sseq + 1, 0x18, bytes([0x82]) * size))
                seq += size
                sent += size


if __name__ == "__main__":
    main(sys.argv)
