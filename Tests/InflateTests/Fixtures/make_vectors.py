#!/usr/bin/env python3
"""Writes the inflater's test vectors, compressed by Python's zlib (another implementation).

    python3 Tests/InflateTests/Fixtures/make_vectors.py      # rewrites the files next to it

Files:
  input-text.bin, input-binary.bin, input-mixed.bin   the uncompressed inputs (deterministic)
  vectors.jsonl   one vector per line:
    name, format (raw | zlib | gzip), window_bits, dictionary (input name or null),
    compressed (base64), input (name), start, end (the expected output is input[start:end];
    gzip with several members: "members" lists [input, start, end] per member)
  bomb-10MiB-zeros.deflate   10 MiB of zeros, raw deflate, level 9
  messages.jsonl  permessage-deflate style message sequences (RFC 7692 §7.2.1):
    name, window_bits, takeover (true: one compressor for all messages), messages: list of
    {compressed: base64 with the 00 00 ff ff tail removed, input, start, end}
The deflate data always comes from zlib; gzip headers with FEXTRA / FCOMMENT / FHCRC (which
Python's gzip module never writes) are assembled here around zlib's raw deflate output.
"""
import base64
import json
import os
import random
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def make_inputs():
    rng = random.Random(1951)
    words = ("the of and to in is that it for as with was on be by this are from at or an "
             "upgrade switching protocols websocket deflate window frame message header "
             "connection server client stream capture packet finding analyzer").split()
    text = []
    size = 0
    while size < 32 * 1024:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 14))).capitalize() + ".\n"
        text.append(line)
        size += len(line)
    text = "".join(text).encode()[: 32 * 1024]
    binary = rng.randbytes(4 * 1024)
    block = rng.randbytes(2048)
    mixed = bytearray()
    mixed += block                      # reappears ~30 KB later: distances above 24577
    mixed += b"A" * 3000                # distance-1 run
    for period in range(2, 9):          # short periods (distances 2..8)
        mixed += bytes(range(period)) * (300 // period)
    mixed += text[: 28 * 1024]
    mixed += block
    mixed += bytes(rng.randrange(4) for _ in range(4000))  # skewed alphabet: long Huffman codes
    return {"text": text, "binary": binary, "mixed": bytes(mixed)}


def raw_deflate(data, level=6, wbits=15, strategy=zlib.Z_DEFAULT_STRATEGY, zdict=None, mem_level=8):
    args = dict(level=level, method=zlib.DEFLATED, wbits=-wbits, memLevel=mem_level, strategy=strategy)
    if zdict is not None:
        args["zdict"] = zdict
    c = zlib.compressobj(**args)
    return c.compress(data) + c.flush()


def gzip_member(data, flags=0, extra=b"", name=b"", comment=b"", level=6):
    header = bytearray(b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", 1700000000) + b"\x00\x03")
    if flags & 0x04:
        header += struct.pack("<H", len(extra)) + extra
    if flags & 0x08:
        header += name + b"\x00"
    if flags & 0x10:
        header += comment + b"\x00"
    if flags & 0x02:
        header += struct.pack("<H", zlib.crc32(header) & 0xFFFF)
    return bytes(header) + raw_deflate(data, level) + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def main():
    inputs = make_inputs()
    for name, data in inputs.items():
        with open(os.path.join(HERE, f"input-{name}.bin"), "wb") as f:
            f.write(data)
    vectors = []

    def add(name, fmt, compressed, source, start=0, end=None, wbits=15, dictionary=None, members=None):
        data = inputs[source]
        end = len(data) if end is None else end
        vector = dict(name=name, format=fmt, window_bits=wbits, dictionary=dictionary,
                      compressed=base64.b64encode(compressed).decode(), input=source, start=start, end=end)
        if members:
            vector["members"] = members
        # Self-check: zlib itself inflates it back.
        expected = b"".join(inputs[m][s:e] for m, s, e in members) if members else data[start:end]
        if fmt == "raw":
            d = zlib.decompressobj(-wbits, zdict=inputs[dictionary]) if dictionary else zlib.decompressobj(-wbits)
            assert d.decompress(compressed) == expected, name
        elif fmt == "zlib":
            d = zlib.decompressobj(wbits, zdict=inputs[dictionary]) if dictionary else zlib.decompressobj(wbits)
            assert d.decompress(compressed) == expected, name
        vectors.append(vector)

    strategies = {"default": zlib.Z_DEFAULT_STRATEGY, "fixed": zlib.Z_FIXED, "huffman_only": zlib.Z_HUFFMAN_ONLY,
                  "rle": zlib.Z_RLE, "filtered": zlib.Z_FILTERED}
    text_size = len(inputs["text"])
    for level in (0, 1, 6, 9):
        end = 6000 if level == 0 else text_size
        add(f"raw-text-level{level}", "raw", raw_deflate(inputs["text"][:end], level), "text", 0, end)
    for level in (1, 9):
        add(f"raw-mixed-level{level}", "raw", raw_deflate(inputs["mixed"], level), "mixed")
    for strategy in ("fixed", "huffman_only", "rle", "filtered"):
        end = 12000 if strategy in ("huffman_only", "rle") else text_size
        add(f"raw-text-{strategy}", "raw", raw_deflate(inputs["text"][:end], 6, strategy=strategies[strategy]),
            "text", 0, end)
    add("raw-mixed-rle", "raw", raw_deflate(inputs["mixed"][2048:9000], 6, strategy=zlib.Z_RLE), "mixed", 2048, 9000)
    for wbits in (9, 12, 14):
        add(f"raw-mixed-wbits{wbits}", "raw", raw_deflate(inputs["mixed"], 9, wbits=wbits), "mixed", wbits=wbits)
    # memLevel 1 makes zlib emit many small blocks.
    add("raw-text-memlevel1", "raw", raw_deflate(inputs["text"], 9, mem_level=1), "text")
    add("raw-binary-level6", "raw", raw_deflate(inputs["binary"][:4096], 6), "binary", 0, 4096)
    # Stored, fixed and dynamic blocks in one stream: three compressors' byte-aligned output
    # (Z_SYNC_FLUSH ends each with an empty stored block), the last one finished.
    text = inputs["text"]
    stored = zlib.compressobj(0, zlib.DEFLATED, -15)
    fixed = zlib.compressobj(6, zlib.DEFLATED, -15, 8, zlib.Z_FIXED)
    dynamic = zlib.compressobj(9, zlib.DEFLATED, -15, 1)
    add("raw-stored-fixed-dynamic", "raw",
        stored.compress(text[:300]) + stored.flush(zlib.Z_SYNC_FLUSH)
        + fixed.compress(text[300:1200]) + fixed.flush(zlib.Z_SYNC_FLUSH)
        + dynamic.compress(text[1200:3000]) + dynamic.flush(), "text", 0, 3000)
    add("raw-empty", "raw", raw_deflate(b""), "text", 0, 0)
    add("raw-one-byte", "raw", raw_deflate(inputs["text"][:1]), "text", 0, 1)
    add("raw-text-dictionary", "raw", raw_deflate(inputs["text"][20000:24000], 9, zdict=inputs["text"]),
        "text", 20000, 24000, dictionary="text")

    add("zlib-text-level6", "zlib", zlib.compress(inputs["text"], 6), "text")
    add("zlib-mixed-wbits10", "zlib", (lambda c: c.compress(inputs["mixed"]) + c.flush())(
        zlib.compressobj(9, zlib.DEFLATED, 10)), "mixed", wbits=10)
    add("zlib-empty", "zlib", zlib.compress(b""), "text", 0, 0)
    c = zlib.compressobj(9, zlib.DEFLATED, 15, zdict=inputs["text"])
    add("zlib-text-fdict", "zlib", c.compress(inputs["text"][1000:9000]) + c.flush(), "text", 1000, 9000,
        dictionary="text")

    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    add("gzip-text-zlib", "gzip", c.compress(inputs["text"]) + c.flush(), "text")
    add("gzip-mixed-all-flags", "gzip",
        gzip_member(inputs["mixed"], 0x1E, extra=b"AB\x02\x00hi", name=b"mixed.bin", comment=b"switchyard test"),
        "mixed")
    add("gzip-empty-fname", "gzip", gzip_member(b"", 0x08, name=b"empty"), "text", 0, 0)
    members = [("text", 0, 10000), ("binary", 0, 1000), ("mixed", 100, 100), ("mixed", 0, 12000)]
    add("gzip-members", "gzip", b"".join(gzip_member(inputs[m][s:e]) for m, s, e in members), "text",
        members=[list(m) for m in members])

    with open(os.path.join(HERE, "vectors.jsonl"), "w") as f:
        for vector in vectors:
            f.write(json.dumps(vector) + "\n")

    # permessage-deflate: each message compressed and flushed with Z_SYNC_FLUSH, tail removed.
    sequences = []
    text = inputs["text"]
    cuts = [(0, 200), (200, 260), (260, 260), (260, 5000), (5000, 5200), (100, 300), (5200, 20000), (0, 200)]
    for wbits in (15, 9):
        for takeover in (True, False):
            messages = []
            shared = zlib.compressobj(6, zlib.DEFLATED, -wbits)
            for start, end in cuts:
                c = shared if takeover else zlib.compressobj(6, zlib.DEFLATED, -wbits)
                payload = c.compress(text[start:end]) + c.flush(zlib.Z_SYNC_FLUSH)
                assert payload.endswith(b"\x00\x00\xff\xff")
                messages.append(dict(compressed=base64.b64encode(payload[:-4]).decode(), input="text",
                                     start=start, end=end))
            sequences.append(dict(name=f"wbits{wbits}-{'takeover' if takeover else 'no-takeover'}",
                                  window_bits=wbits, takeover=takeover, messages=messages))
    # A message ending with a BFINAL block (RFC 7692 §7.2.3.4): Z_FINISH, then a fresh compressor.
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    final = c.compress(text[:300]) + c.flush(zlib.Z_FINISH)
    sequences.append(dict(name="bfinal", window_bits=15, takeover=False, messages=[
        dict(compressed=base64.b64encode(final).decode(), input="text", start=0, end=300)]))
    with open(os.path.join(HERE, "messages.jsonl"), "w") as f:
        for sequence in sequences:
            f.write(json.dumps(sequence) + "\n")

    # A decompression bomb: 10 MiB of zeros, raw deflate at level 9 (about 10 KB).
    with open(os.path.join(HERE, "bomb-10MiB-zeros.deflate"), "wb") as f:
        f.write(raw_deflate(bytes(10 * 1024 * 1024), 9))


if __name__ == "__main__":
    main()
