"""What real HTTP clients accept in a 101 response's status line and header lines.

A small raw-socket server on loopback answers a WebSocket upgrade request with a 101 that
deviates from RFC 9112 in one way per case (an odd status line, an odd header line), and
each real client is asked whether it took the response, and as what:

- curl (Debian's curl 7.88): `curl -w %{http_code}` with the upgrade headers;
- Python's http.client (Debian's /usr/bin/python3): `getresponse().status`;
- the `websockets` client (Debian's python3-websockets 10.4): whether the handshake opened;
- Node's http client (node v20, llhttp): whether `http.request` fires `upgrade`, `response`
  or `error`;
- Chromium (Debian's chromium, headless): whether `new WebSocket(...)` opens (the page sends
  a frame on open; the server reports whether it arrived).

Usage (from the repository root):

    /usr/bin/python3 Captures/client_acceptance.py            # the table (Markdown) on stdout
    /usr/bin/python3 Captures/client_acceptance.py --json     # one JSON object per case and client
    /usr/bin/python3 Captures/client_acceptance.py CASE...    # only these cases

A client that is not installed is reported as "n/a". Switchyard's HTTP/1 parser accepts a
deviation when at least one client here accepts it, and reports it (docs/RULES.md).
"""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from misbehaving_peers import WS_KEY, ws_accept  # noqa: E402

TIMEOUT = 5.0
ACCEPT = ws_accept(WS_KEY).encode()


def ok_fields(accept=ACCEPT):
    return b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n"


def response(status_line, fields=None, eol=b"\r\n"):
    """A 101 head: status line, fields (with the right accept for `key`), blank line."""
    def build(accept):
        body = fields(accept) if fields else ok_fields(accept)
        return (status_line + b"\r\n" + body + b"\r\n").replace(b"\r\n", eol)
    return build


# name → (what the deviation is, head builder). The head builder gets the accept value.
CASES = {
    "baseline": ("`HTTP/1.1 101 Switching Protocols` (no deviation)",
                 response(b"HTTP/1.1 101 Switching Protocols")),
    "version-2.0": ("`HTTP/2.0 101 Switching Protocols`",
                    response(b"HTTP/2.0 101 Switching Protocols")),
    "version-1.2": ("`HTTP/1.2 101 Switching Protocols`",
                    response(b"HTTP/1.2 101 Switching Protocols")),
    "version-1.0": ("`HTTP/1.0 101 Switching Protocols`",
                    response(b"HTTP/1.0 101 Switching Protocols")),
    "version-lowercase": ("`http/1.1 101 Switching Protocols`",
                          response(b"http/1.1 101 Switching Protocols")),
    "version-no-minor": ("`HTTP/1 101 Switching Protocols`",
                         response(b"HTTP/1 101 Switching Protocols")),
    "two-spaces": ("`HTTP/1.1  101 Switching Protocols` (two spaces after the version)",
                   response(b"HTTP/1.1  101 Switching Protocols")),
    "tab-separator": ("`HTTP/1.1<HTAB>101 Switching Protocols`",
                      response(b"HTTP/1.1\t101 Switching Protocols")),
    "no-reason": ("`HTTP/1.1 101` (no space, no reason)",
                  response(b"HTTP/1.1 101")),
    "no-reason-space": ("`HTTP/1.1 101 ` (space, empty reason)",
                        response(b"HTTP/1.1 101 ")),
    "status-0101": ("`HTTP/1.1 0101 Switching Protocols` (four digits)",
                    response(b"HTTP/1.1 0101 Switching Protocols")),
    "status-garbage": ("`HTTP/1.1 101x Switching Protocols` (garbage after the code)",
                       response(b"HTTP/1.1 101x Switching Protocols")),
    "status-2-digits": ("`HTTP/1.1 10 Switching Protocols` (two digits)",
                        response(b"HTTP/1.1 10 Switching Protocols")),
    "bare-lf": ("every line ends in a bare LF",
                response(b"HTTP/1.1 101 Switching Protocols", eol=b"\n")),
    "header-without-colon": ("a header line without a colon (`X-No-Colon`) before Upgrade",
                             response(b"HTTP/1.1 101 Switching Protocols",
                                      lambda a: b"X-No-Colon\r\n" + ok_fields(a))),
    "obs-fold": ("a folded header line (`X-Folded: a` + ` b`) before Upgrade",
                 response(b"HTTP/1.1 101 Switching Protocols",
                          lambda a: b"X-Folded: a\r\n b\r\n" + ok_fields(a))),
    "leading-whitespace": ("the first header line starts with a space (` X-Lead: 1`)",
                           response(b"HTTP/1.1 101 Switching Protocols",
                                    lambda a: b" X-Lead: 1\r\n" + ok_fields(a))),
    "space-before-colon": ("`Upgrade : websocket`",
                           response(b"HTTP/1.1 101 Switching Protocols",
                                    lambda a: ok_fields(a).replace(b"Upgrade:", b"Upgrade :"))),
    "invalid-name": ("a header name with a space inside (`X Bad: 1`)",
                     response(b"HTTP/1.1 101 Switching Protocols",
                              lambda a: b"X Bad: 1\r\n" + ok_fields(a))),
    "nul-in-value": ("a NUL in a header value (`X-Ctl: a<NUL>b`)",
                     response(b"HTTP/1.1 101 Switching Protocols",
                              lambda a: b"X-Ctl: a\x00b\r\n" + ok_fields(a))),
    "control-in-value": ("a 0x01 byte in a header value",
                         response(b"HTTP/1.1 101 Switching Protocols",
                                  lambda a: b"X-Ctl: a\x01b\r\n" + ok_fields(a))),
    "empty-upgrade": ("`Upgrade:` present but empty",
                      response(b"HTTP/1.1 101 Switching Protocols",
                               lambda a: ok_fields(a).replace(b"Upgrade: websocket", b"Upgrade:"))),
}


class Server:
    """Accepts connections on a loopback port; answers each request head with the case's
    101, then keeps reading for a while to see whether the client spoke after the switch."""

    def __init__(self, case):
        self.build = CASES[case][1]
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.data_after_switch = False
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        conn.settimeout(TIMEOUT)
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head = buf[:buf.index(b"\r\n\r\n")]
            key = WS_KEY
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"sec-websocket-key":
                    key = value.strip().decode()
            conn.sendall(self.build(ws_accept(key).encode()))
            conn.settimeout(1.5)
            try:
                if conn.recv(65536):
                    self.data_after_switch = True
            except socket.timeout:
                pass
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stopping = True
        self.sock.close()


UPGRADE_HEADERS = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": WS_KEY,
}


def try_curl(port):
    if not shutil.which("curl"):
        return "n/a"
    args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3"]
    for name, value in UPGRADE_HEADERS.items():
        args += ["-H", f"{name}: {value}"]
    args.append(f"http://127.0.0.1:{port}/")
    run = subprocess.run(args, capture_output=True, text=True, timeout=10)
    # After a 101 curl reads on until the server closes, then says "Empty reply from server"
    # (exit 52): the status code it reports is what tells whether it took the response.
    if run.stdout.strip() not in ("", "000"):
        return f"accepts: {run.stdout.strip()}"
    return "rejects: " + (run.stderr.strip().splitlines() or [f"exit {run.returncode}"])[-1].replace("curl: ", "")


def try_http_client(port):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        conn.request("GET", "/", headers=UPGRADE_HEADERS)
        res = conn.getresponse()
        upgrade = res.getheader("Upgrade")
        return f"accepts: {res.status}" + ("" if upgrade == "websocket" else f" (Upgrade {upgrade!r})")
    except Exception as error:  # noqa: BLE001 - we report what the client said
        return f"rejects: {type(error).__name__}"
    finally:
        conn.close()


def try_websockets(port):
    try:
        import websockets
    except ImportError:
        return "n/a"

    async def attempt():
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/", open_timeout=3, close_timeout=0.2,
                                          compression=None):
                return "accepts: open"
        except Exception as error:  # noqa: BLE001
            return f"rejects: {type(error).__name__}"
    return asyncio.run(attempt())


NODE_SCRIPT = r"""
const http = require('http');
const req = http.request({host: '127.0.0.1', port: Number(process.argv[1]), path: '/', headers: JSON.parse(process.argv[2])});
const done = (s) => { console.log(s); process.exit(0); };
req.on('upgrade', (res, socket) => { socket.destroy(); done('accepts: upgrade ' + res.statusCode +
  (res.headers.upgrade === 'websocket' ? '' : ' (Upgrade ' + JSON.stringify(res.headers.upgrade) + ')')); });
req.on('response', (res) => done('accepts: response ' + res.statusCode));
req.on('error', (e) => done('rejects: ' + (e.code || e.message)));
setTimeout(() => done('rejects: timeout'), 3000);
req.end();
"""


def try_node(port):
    if not shutil.which("node"):
        return "n/a"
    run = subprocess.run(["node", "-e", NODE_SCRIPT, str(port), json.dumps(UPGRADE_HEADERS)],
                         capture_output=True, text=True, timeout=10)
    return run.stdout.strip() or f"rejects: exit {run.returncode}"


CHROMIUM_PAGE = """<title>t</title><script>
let opened = false;
const ws = new WebSocket('ws://127.0.0.1:PORT/');
ws.onopen = () => { opened = true; ws.send('opened'); document.title = 'open'; };
ws.onerror = () => { if (!opened) document.title = 'error'; };
</script>"""


def chromium_binary():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def try_chromium(server):
    binary = chromium_binary()
    if not binary:
        return "n/a"
    with tempfile.TemporaryDirectory() as profile:
        # A file page: a data: URL's opaque origin does not open the WebSocket here.
        page = os.path.join(profile, "page.html")
        with open(page, "w") as out:
            out.write(CHROMIUM_PAGE.replace("PORT", str(server.port)))
        args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                f"--user-data-dir={profile}/profile", "--virtual-time-budget=3000", "--dump-dom",
                "file://" + page]
        try:
            run = subprocess.run(args, capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return "n/a (timed out)"
    if "<title>open</title>" in run.stdout or server.data_after_switch:
        return "accepts: open"
    if "<title>error</title>" in run.stdout:
        return "rejects: error"
    return "n/a (no answer)"


CLIENTS = [
    ("curl", lambda s: try_curl(s.port)),
    ("Python http.client", lambda s: try_http_client(s.port)),
    ("websockets", lambda s: try_websockets(s.port)),
    ("Node http", lambda s: try_node(s.port)),
    ("Chromium", try_chromium),
]


def run_case(case):
    results = {}
    for name, attempt in CLIENTS:
        server = Server(case)
        try:
            results[name] = attempt(server)
        except Exception as error:  # noqa: BLE001
            results[name] = f"error: {type(error).__name__}: {error}"
        finally:
            server.close()
    return results


def main(argv):
    as_json = "--json" in argv
    names = [a for a in argv if not a.startswith("--")] or list(CASES)
    rows = []
    for case in names:
        results = run_case(case)
        rows.append((case, results))
        if as_json:
            print(json.dumps({"case": case, "description": CASES[case][0], "results": results}), flush=True)
    if not as_json:
        header = ["case", "deviation"] + [name for name, _ in CLIENTS]
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for case, results in rows:
            print("| " + " | ".join([f"`{case}`", CASES[case][0]] + [results[n] for n, _ in CLIENTS]) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
