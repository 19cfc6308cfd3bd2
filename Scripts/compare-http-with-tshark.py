#!/usr/bin/env python3
"""Counts the HTTP/1.x requests and responses Switchyard parses in each capture and compares
them with tshark's (`http.request`, `http.response`, HTTP/1.x only), so every difference can
be looked at and explained (docs/BENCHMARK.md, "HTTP messages against tshark").

usage: Scripts/compare-http-with-tshark.py [--switchyard PATH] DIR_OR_FILE...

tshark dissects HTTP on its registered ports and by heuristics; Switchyard parses every TCP
connection whose first bytes look like HTTP. Both see HTTP inside tunnels they decode. Prints one
line per capture where the counts differ, then the totals.
"""
import argparse
import json
import os
import subprocess
import sys

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz")


def captures(paths):
    for path in paths:
        if os.path.isdir(path):
            for root, _, files in os.walk(path):
                for name in sorted(files):
                    if name.endswith(CAPTURE_SUFFIXES):
                        yield os.path.join(root, name)
        else:
            yield path


def tshark_counts(path):
    """(requests, responses) of HTTP/1.x as tshark 4.x dissects them."""
    fields = ["-T", "fields", "-e", "http.request", "-e", "http.response"]
    # Heads, not whole messages: without this tshark counts a response only once its body is
    # complete in the capture, while Switchyard counts every parsed head.
    out = subprocess.run(["tshark", "-n", "-o", "http.desegment_body:FALSE", "-r", path, "-Y", "http", *fields],
                         capture_output=True, text=True).stdout
    requests = responses = 0
    for line in out.splitlines():
        columns = line.split("\t")
        # One frame may carry several messages: the fields repeat, comma-separated.
        requests += len([v for v in columns[0].split(",") if v]) if columns else 0
        responses += len([v for v in columns[1].split(",") if v]) if len(columns) > 1 else 0
    return requests, responses


def switchyard_counts(binary, path):
    out = subprocess.run([binary, "analyze", "--quiet", "--jobs", "1", "--fail-on", "never", path],
                         capture_output=True, text=True).stdout
    for line in reversed(out.splitlines()):
        record = json.loads(line)
        if record.get("type") == "summary":
            messages = record.get("http_messages", {})
            return messages.get("requests", 0), messages.get("responses", 0)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switchyard", default=".build/release/switchyard")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args()
    totals = [0, 0, 0, 0]
    differing = 0
    for path in captures(args.paths):
        theirs = tshark_counts(path)
        ours = switchyard_counts(args.switchyard, path)
        if ours is None:
            print(f"{path}\tno summary from switchyard", file=sys.stderr)
            continue
        totals[0] += theirs[0]
        totals[1] += theirs[1]
        totals[2] += ours[0]
        totals[3] += ours[1]
        if ours != theirs:
            differing += 1
            print(f"{path}\ttshark {theirs[0]} requests {theirs[1]} responses\t"
                  f"switchyard {ours[0]} requests {ours[1]} responses")
    print(f"total\ttshark {totals[0]} requests {totals[1]} responses\t"
          f"switchyard {totals[2]} requests {totals[3]} responses\t{differing} captures differ")


if __name__ == "__main__":
    main()
