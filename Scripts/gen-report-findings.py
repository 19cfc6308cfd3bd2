#!/usr/bin/env python3
"""Builds a large findings file for Scripts/bench-report from a real one.

    gen-report-findings.py REAL.jsonl COUNT OUT.jsonl

REAL.jsonl is the output of a real run (`switchyard analyze Captures/`). It is replicated as
many times as needed for COUNT violation records: each copy is one invented site's run, with its
capture paths moved under /srv/audits/<region>/<site>/host-<n>/, its servers mapped onto a fleet
of 50 server addresses x 2 ports (with invented Host names), its clients onto 172.16.0.0/12 and
its dates moved forward one day per 50 copies (times of day, and any timestamps of other dates,
as the real run had them). Every record of a copy is kept (switches, declined upgrades, the
summary), so the file has the real mix; the last copy is cut at COUNT violations and its
summary's count adjusted. Deterministic: the same arguments give the same bytes.
"""
import datetime
import json
import re
import sys

CONNECTION = re.compile(r'"connection":\{"client":\{"ip":"([^"]*)","port":(\d+)\},"server":\{"ip":"([^"]*)","port":(\d+)\}')
HOST = re.compile(r'"host":"[^"]*"')
REGIONS = ["eu-west", "eu-central", "us-east", "us-west", "ap-south"]


def templates(path):
    lines = []
    with open(path, encoding="utf-8") as handle:
        for text in handle:
            text = text.rstrip("\n")
            if not text:
                continue
            kind = json.loads(text).get("type")
            match = CONNECTION.search(text)
            server = int(match.group(4)) if match else None
            client = int(match.group(2)) if match else None
            if match:
                text = text[:match.start()] + "{CONNECTION}" + text[match.end():]
            text = HOST.sub('"host":"{HOST}"', text)
            lines.append((kind, text.replace("{", "{{").replace("}", "}}")
                          .replace("{{CONNECTION}}", "{connection}").replace("{{HOST}}", "{host}"), server, client))
    return lines


def main():
    real, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    lines = templates(real)
    dates = {m for _, t, _, _ in lines for m in re.findall(r'(\d{4}-\d\d-\d\d)T', t)}
    base = max(dates, key=lambda d: sum(t.count(d) for _, t, _, _ in lines))
    start = datetime.date.fromisoformat(base)
    written = 0
    copy = 0
    with open(out, "w", encoding="utf-8") as handle:
        while written < count:
            site = f"site-{copy % 97:02d}"
            prefix = f"/srv/audits/{REGIONS[copy % len(REGIONS)]}/{site}/host-{copy:05d}/"
            day = (start + datetime.timedelta(days=copy // 50)).isoformat()
            in_copy = 0
            buffered = []
            for kind, template, server, client in lines:
                if kind == "violation":
                    if written + in_copy >= count:
                        continue
                    in_copy += 1
                if server is not None:
                    fleet = (server * 31 + copy * 7) % 100
                    ip, port = f"10.20.{fleet // 2}.{10 + fleet % 7}", (443 if fleet % 2 == 0 else 8080)
                    connection = (f'"connection":{{"client":{{"ip":"172.16.{copy % 256}.{(client or 0) % 250 + 1}",'
                                  f'"port":{client}}},"server":{{"ip":"{ip}","port":{port}}}')
                    host = f"svc-{fleet // 2:02d}.{site}.example.internal:{port}"
                else:
                    connection, host = "", f"{site}.example.internal"
                text = template.format(connection=connection, host=host)
                text = text.replace('"Captures/', '"' + prefix).replace(base + "T", day + "T")
                buffered.append((kind, text))
            for kind, text in buffered:
                if kind == "summary" and in_copy < sum(1 for k, _, _, _ in lines if k == "violation"):
                    text = re.sub(r'"violations":\d+', f'"violations":{in_copy}', text, count=1)
                handle.write(text + "\n")
            written += in_copy
            copy += 1
    print(f"gen-report-findings: {written} violations in {copy} copies of {real} -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
