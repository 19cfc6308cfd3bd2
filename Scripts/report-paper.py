#!/usr/bin/env python3
"""report-paper.py IN.html OUT.html SIZE: the report with @page{size:SIZE} (A4, letter), its CSP hash updated.

Headless Chromium prints on its default paper; the report leaves the paper to the reader, so
Scripts/render-report makes copies pinned to A4 and Letter to check that the layout fits both.
"""
import base64, hashlib, sys
src, dst, size = sys.argv[1], sys.argv[2], sys.argv[3]
page = open(src, encoding="utf-8").read()
start = page.index("<style>") + len("<style>")
end = page.index("</style>", start)
old = page[start:end]
new = old.replace("@page{", "@page{size:%s;" % size, 1)
def digest(text): return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"
page = page[:start] + new + page[end:]
page = page.replace(digest(old), digest(new), 1)
open(dst, "w", encoding="utf-8").write(page)
