#!/usr/bin/env python3
"""Compare `switchyard flows --write-streams` with tshark's `follow,tcp,raw` output.

For every capture given (files or directories; default: ../shared/captures-real and Captures/),
every TCP connection tshark can follow is matched to Switchyard's flow by its endpoints (and by
order when a 4-tuple is reused), and each direction's bytes are compared. tshark runs with
`-o tcp.reassemble_out_of_order:TRUE`, as Switchyard also reorders segments.

Prints one line per differing direction and a closing line
'N passed, M failed' (directions identical / different). Exit status 1 if any differ.

Usage: Scripts/compare-flows-with-tshark.py [--switchyard PATH] [CAPTURE|DIR ...]
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def captures(paths):
    for path in paths:
        if os.path.isdir(path):
            for base, _, files in sorted(os.walk(path)):
                for name in sorted(files):
                    if name.endswith((".pcap", ".pcapng")):
                        yield os.path.join(base, name)
        else:
            yield path


def tshark_streams(capture):
    out = subprocess.run(["tshark", "-r", capture, "-T", "fields", "-e", "tcp.stream"],
                         capture_output=True, text=True, check=False).stdout
    return sorted({int(x) for x in out.split() if x.strip().isdigit()})


def tshark_follow(capture, stream):
    """Returns ((node0, bytes0), (node1, bytes1)) for one tcp.stream."""
    out = subprocess.run(["tshark", "-r", capture, "-o", "tcp.reassemble_out_of_order:TRUE",
                          "-qz", "follow,tcp,raw,%d" % stream],
                         capture_output=True, text=True, check=False).stdout
    nodes = {}
    data = {0: bytearray(), 1: bytearray()}
    in_body = False
    for line in out.splitlines():
        if line.startswith("Node 0:"):
            nodes[0] = line.split(":", 1)[1].strip()
            continue
        if line.startswith("Node 1:"):
            nodes[1] = line.split(":", 1)[1].strip()
            in_body = True
            continue
        if not in_body or line.startswith("===="):
            continue
        who = 1 if line.startswith("\t") else 0
        hexpart = line.strip()
        try:
            data[who] += bytes.fromhex(hexpart)
        except ValueError:
            pass
    # tshark writes a text marker where bytes are missing; Switchyard reports gaps instead
    # (counted in the flow record), so the markers are taken out before comparing.
    marker = re.compile(rb"\[\d+ bytes missing in capture file\][\n\x00]?")
    return (nodes.get(0), marker.sub(b"", bytes(data[0]))), (nodes.get(1), marker.sub(b"", bytes(data[1])))


def endpoint_text(ep):
    ip = ep["ip"]
    return ("[%s]:%d" % (ip, ep["port"])) if ":" in ip else ("%s:%d" % (ip, ep["port"]))


def normalise_node(text):
    # tshark prints IPv6 nodes as "::1:8765"; rebuild as "[::1]:8765".
    if text is None or text.startswith("["):
        return text
    host, _, port = text.rpartition(":")
    return ("[%s]:%s" % (host, port)) if ":" in host else text


def run_switchyard(binary, capture, outdir):
    proc = subprocess.run([binary, "flows", "--quiet", "--write-streams", outdir, capture],
                          capture_output=True, text=True, check=False)
    flows = []
    for line in proc.stdout.splitlines():
        record = json.loads(line)
        if record.get("type") == "flow":
            flows.append(record)
    return flows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--switchyard", default=os.path.join(ROOT, ".build", "release", "switchyard"))
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args()
    paths = args.paths or [os.path.join(ROOT, "..", "shared", "captures-real"), os.path.join(ROOT, "Captures")]
    passed = failed = 0
    for capture in captures(paths):
        with tempfile.TemporaryDirectory() as outdir:
            flows = run_switchyard(args.switchyard, capture, outdir)
            by_pair = collections.defaultdict(list)
            for flow in flows:
                # A connection attempt that carried no data (e.g. SYN, RST, then the same SYN
                # again) is its own flow here; tshark folds it into the next stream when the
                # ISN repeats. Only flows with data are matched.
                if not (flow["client_to_server"]["payload_bytes"] or flow["server_to_client"]["payload_bytes"]):
                    continue
                key = frozenset([endpoint_text(flow["connection"]["client"]), endpoint_text(flow["connection"]["server"])])
                by_pair[key].append(flow)
            used = collections.Counter()
            for stream in tshark_streams(capture):
                (n0, b0), (n1, b1) = tshark_follow(capture, stream)
                n0, n1 = normalise_node(n0), normalise_node(n1)
                if n0 is None or n1 is None or not (b0 or b1):
                    continue
                key = frozenset([n0, n1])
                candidates = by_pair.get(key, [])
                if used[key] >= len(candidates):
                    if b0 or b1:
                        print("%s stream %d: no matching Switchyard flow for %s <-> %s" % (capture, stream, n0, n1))
                        failed += 1
                    continue
                flow = candidates[used[key]]
                used[key] += 1
                client = endpoint_text(flow["connection"]["client"])
                files = {f.rsplit(".", 1)[1]: f for f in flow.get("stream_files", [])}
                ours = {}
                for suffix in ("c2s", "s2c"):
                    path = files.get(suffix)
                    ours[suffix] = open(path, "rb").read() if path and os.path.exists(path) else b""
                theirs = {"c2s": b0 if n0 == client else b1, "s2c": b1 if n0 == client else b0}
                for suffix in ("c2s", "s2c"):
                    if ours[suffix] == theirs[suffix]:
                        passed += 1
                    else:
                        failed += 1
                        a, b = ours[suffix], theirs[suffix]
                        at = next((i for i in range(min(len(a), len(b))) if a[i] != b[i]), min(len(a), len(b)))
                        print("%s stream %d %s (%s -> %s): switchyard %d bytes, tshark %d bytes, first difference at %d"
                              % (os.path.relpath(capture), stream, suffix, client, endpoint_text(flow["connection"]["server"]),
                                 len(a), len(b), at))
    print("compare-flows-with-tshark: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
