#!/usr/bin/python3
"""Captures of upgrades through real proxies (issue #14): both legs in one file.

    sudo /usr/bin/python3 Captures/make_proxy_captures.py            # every proxy capture
    sudo /usr/bin/python3 Captures/make_proxy_captures.py NAME...    # only these
    /usr/bin/python3 Captures/make_proxy_captures.py --list

Same conventions as make_captures.py (whose helpers this uses), with two ports: the proxy's
front port and the backend's port are picked free, tcpdump captures
`tcp port FRONT or tcp port BACK` on lo, so the file holds the client -> proxy leg and the
proxy -> backend leg, as a capture on a proxy host with `-i any` would. The proxies are
Debian's nginx 1.22, HAProxy 2.6 and Varnish 7.1, run in the foreground with the
configuration files in Captures/proxy/ (ports filled in); the backends are websockets 10.4,
aiohttp 3.8 and nghttpx (h2c) + nghttpd; the clients are websockets, curl and raw sockets.
Two scenarios use a small misbehaving proxy written here (raw sockets), because no real proxy
does what they show; Captures/README.md says which.
"""

import asyncio
import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True
import make_captures as mc  # noqa: E402
import misbehaving_peers as peers  # noqa: E402

CONFIGS = HERE / "proxy"
SAMPLE_KEY = "dGhlIHNhbXBsZSBub25jZQ=="   # RFC 6455 §1.3


@dataclass(frozen=True)
class Scenario:
    name: str
    runner: str
    connections: int
    max_size: int = mc.MAX_SIZE
    iface: str = "lo"
    tool: str = "tcpdump"

    @property
    def filename(self):
        return f"{self.name}.pcap"


SCENARIOS = [
    Scenario("proxy-nginx-websocket", "nginx_websocket", 2),
    Scenario("proxy-varnish-pipe-declined", "varnish_pipe_declined", 2),
    Scenario("proxy-haproxy-h2c", "haproxy_h2c", 2),
    Scenario("proxy-nginx-websocket-h2c", "nginx_websocket_h2c", 2),
    Scenario("proxy-nginx-no-upgrade-headers", "nginx_no_upgrade_headers", 2),
    Scenario("proxy-nginx-keepalive", "nginx_keepalive", 3),
    Scenario("proxy-early-101", "early_101", 2),
    Scenario("proxy-switch-mismatch", "switch_mismatch", 2),
    Scenario("proxy-blocks-after-101", "blocks_after_101", 2),
]


# ---------------------------------------------------------------- proxies

def config(name, prefix, front, back):
    text = (CONFIGS / name).read_text()
    text = text.replace("@PREFIX@", str(prefix)).replace("@FRONT@", str(front)).replace("@BACK@", str(back))
    path = Path(prefix, name)
    path.write_text(text)
    return path


def start_nginx(conf_name, prefix, front, back):
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        Path(prefix, sub).mkdir(exist_ok=True)
    conf = config(conf_name, prefix, front, back)
    proc = subprocess.Popen(["nginx", "-p", str(prefix), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mc.wait_listening(front, proc)
    return proc


def start_haproxy(prefix, front, back):
    conf = config("haproxy-h2c.cfg", prefix, front, back)
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mc.wait_listening(front, proc)
    return proc


def start_varnish(prefix, front, back):
    vcl = config("varnish-pipe.vcl", prefix, front, back)
    workdir = Path(prefix, "varnish")
    workdir.mkdir()
    shutil.chown(prefix, "varnish")
    os.chmod(prefix, 0o755)
    os.chmod(vcl, 0o644)
    proc = subprocess.Popen(["varnishd", "-F", "-n", str(workdir), "-a", f"127.0.0.1:{front}", "-f", str(vcl),
                             "-s", "malloc,16m", "-T", "none"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    mc.wait_listening(front, proc, timeout=15)
    return proc


# ---------------------------------------------------------------- backends

def websockets_echo_backend(port):
    """websockets 10.4 echo server in a thread; returns a stop function."""
    import websockets
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state = {}

    async def echo(ws, *_path):
        async for message in ws:
            await ws.send(message)

    async def main():
        server = await websockets.serve(echo, "127.0.0.1", port, compression=None, ping_interval=None)
        state["server"] = server
        ready.set()
        await server.wait_closed()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    ready.wait(5)
    mc.wait_listening(port)

    def stop_backend():
        loop.call_soon_threadsafe(state["server"].close)
        thread.join(5)
    return stop_backend


def aiohttp_backend(port):
    """aiohttp 3.8: "/" and "/internal" plain, "/chat" a plain page (declines upgrades)."""
    from aiohttp import web
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop_event = {}

    async def index(request):
        return web.Response(text="hello from aiohttp\n")

    async def chat(request):
        return web.Response(text="this endpoint does not speak WebSocket\n")

    async def internal(request):
        return web.Response(text="internal: the proxy should never have let you in\n")

    async def main():
        app = web.Application()
        app.router.add_get("/", index)
        app.router.add_get("/chat", chat)
        app.router.add_get("/internal", internal)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        stop_event["event"] = asyncio.Event()
        ready.set()
        await stop_event["event"].wait()
        await runner.cleanup()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    ready.wait(5)
    mc.wait_listening(port)

    def stop_backend():
        loop.call_soon_threadsafe(stop_event["event"].set)
        thread.join(5)
    return stop_backend


# ---------------------------------------------------------------- clients

def websocket_client(front, path="/echo", expect_switch=True):
    import websockets

    async def main():
        try:
            async with websockets.connect(f"ws://127.0.0.1:{front}{path}", compression=None, ping_interval=None,
                                          close_timeout=2) as ws:
                await ws.send("hello through the proxy")
                assert await ws.recv() == "hello through the proxy"
        except websockets.exceptions.InvalidStatusCode:
            if expect_switch:
                raise
    asyncio.run(asyncio.wait_for(main(), 10))


def read_response(sock):
    """One HTTP/1.1 response with Content-Length (all the backends here send one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


# ---------------------------------------------------------------- scenarios

def nginx_websocket(front, back):
    """Negative control: nginx set up for WebSocket; both legs switch, frames relayed."""
    with tempfile.TemporaryDirectory() as prefix:
        stop_backend = websockets_echo_backend(back)
        proxy = start_nginx("nginx-websocket.conf", prefix, front, back)
        try:
            websocket_client(front)
        finally:
            mc.stop(proxy, signal.SIGQUIT)
            stop_backend()


def nginx_no_upgrade_headers(front, back):
    """nginx without proxy_set_header Upgrade/Connection: the backend gets a plain GET with
    the client's Sec-WebSocket-Key and answers 426, which nginx passes back."""
    with tempfile.TemporaryDirectory() as prefix:
        stop_backend = websockets_echo_backend(back)
        proxy = start_nginx("nginx-no-upgrade-headers.conf", prefix, front, back)
        try:
            websocket_client(front, expect_switch=False)
        finally:
            mc.stop(proxy, signal.SIGQUIT)
            stop_backend()


def nginx_keepalive(front, back):
    """Negative control: two plain GETs on one client connection through nginx (nginx opens
    one backend connection per request: no upstream keepalive configured)."""
    with tempfile.TemporaryDirectory() as prefix:
        stop_backend = aiohttp_backend(back)
        proxy = start_nginx("nginx-websocket.conf", prefix, front, back)
        try:
            base = f"http://127.0.0.1:{front}"
            subprocess.run(["curl", "-sS", "--max-time", "5", "-o", "/dev/null", f"{base}/",
                            "-o", "/dev/null", f"{base}/"], check=True, timeout=10)
        finally:
            mc.stop(proxy, signal.SIGQUIT)
            stop_backend()


def varnish_pipe_declined(front, back):
    """Varnish pipes the Upgrade request; aiohttp's /chat declines with 200; the raw client
    then sends GET /internal on the same connection, which reaches the backend through the
    pipe, unseen by Varnish (WebSocket smuggling, 0ang3el/websocket-smuggle)."""
    with tempfile.TemporaryDirectory() as prefix:
        stop_backend = aiohttp_backend(back)
        proxy = start_varnish(prefix, front, back)
        try:
            with socket.create_connection(("127.0.0.1", front), timeout=5) as sock:
                sock.sendall((f"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:{front}\r\nUpgrade: websocket\r\n"
                              f"Connection: Upgrade\r\nSec-WebSocket-Key: {SAMPLE_KEY}\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n").encode())
                first = read_response(sock)
                assert first.startswith(b"HTTP/1.1 200"), first
                sock.sendall(f"GET /internal HTTP/1.1\r\nHost: 127.0.0.1:{front}\r\n\r\n".encode())
                second = read_response(sock)
                assert b"internal" in second, second
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(4096):
                    pass
        finally:
            mc.stop(proxy)
            stop_backend()


def haproxy_h2c(front, back):
    """HAProxy forwards curl's Upgrade: h2c to nghttpx, which switches: the backend speaks
    HTTP/2 behind a proxy that now only tunnels (h2c smuggling, Bishop Fox 2020)."""
    h2c_through(front, back, lambda root: start_haproxy(root, front, back))


def nginx_websocket_h2c(front, back):
    """The nginx set up for WebSocket (the negative control's configuration) passes any
    Upgrade on, h2c included: nghttpx switches behind it (Bishop Fox's point about
    `proxy_set_header Upgrade $http_upgrade`)."""
    h2c_through(front, back, lambda root: start_nginx("nginx-websocket.conf", root, front, back),
                stop_signal=signal.SIGQUIT)


def h2c_through(front, back, start_proxy, stop_signal=signal.SIGUSR1):
    """curl --http2 (Upgrade: h2c) through a proxy to nghttpx (h2c frontend) backed by
    nghttpd; nghttpd's port is not captured."""
    with tempfile.TemporaryDirectory() as root:
        docroot = Path(root, "www")
        docroot.mkdir()
        Path(docroot, "index.html").write_text("<p>hello from nghttpd</p>\n")
        os.utime(Path(docroot, "index.html"), (1_700_000_000, 1_700_000_000))
        origin_port = mc.free_port()
        null = subprocess.DEVNULL
        nghttpd = subprocess.Popen(["nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", str(docroot), str(origin_port)],
                                   stdout=null, stderr=null)
        nghttpx = proxy = None
        try:
            mc.wait_listening(origin_port, nghttpd)
            nghttpx = subprocess.Popen([
                "nghttpx", "--conf=/dev/null", "--single-process", "--workers=1",
                f"--frontend=127.0.0.1,{back};no-tls", f"--backend=127.0.0.1,{origin_port};;proto=h2",
                f"--pid-file={root}/nghttpx.pid", "--errorlog-file=/dev/null", "--accesslog-file=/dev/null",
            ], stdout=null, stderr=null)
            mc.wait_listening(back, nghttpx)
            proxy = start_proxy(root)
            subprocess.run(["curl", "-sS", "--http2", "--max-time", "5", "-o", "/dev/null",
                            f"http://127.0.0.1:{front}/index.html"], check=True, timeout=10, stdout=null)
        finally:
            if proxy is not None:
                mc.stop(proxy, stop_signal)
            if nghttpx is not None:
                mc.stop(nghttpx)
            mc.stop(nghttpd)


def accept_for(key):
    digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
    return base64.b64encode(digest).decode()


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


def relay(a, b):
    """Copies a -> b until a ends, then half-closes b."""
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def misbehaving_proxy(front, back, handle):
    """A one-connection raw proxy on `front`; `handle(client_sock, backend_sock)` does the
    handshake, then bytes are relayed both ways until both sides closed."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", front))
    listener.listen(1)

    def serve():
        client, _ = listener.accept()
        client.settimeout(5)
        backend = socket.create_connection(("127.0.0.1", back), timeout=5)
        handle(client, backend)
        up = threading.Thread(target=relay, args=(client, backend))
        up.start()
        relay(backend, client)
        up.join(5)
        client.close()
        backend.close()
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    mc.wait_listening(front)
    return thread


def early_101(front, back):
    """A raw proxy answers the client's WebSocket upgrade with its own 101 at once, and only
    then forwards the request to the websockets backend (whose 101 it drops)."""
    def handle(client, backend):
        head, rest = read_head(client)
        key = next(line.split(b":", 1)[1].strip().decode() for line in head.split(b"\r\n")
                   if line.lower().startswith(b"sec-websocket-key:"))
        client.sendall((f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Accept: {accept_for(key)}\r\n\r\n").encode())
        time.sleep(0.05)
        backend.sendall(head + rest)
        answer, extra = read_head(backend)
        assert answer.startswith(b"HTTP/1.1 101"), answer
        if extra:
            client.sendall(extra)

    stop_backend = websockets_echo_backend(back)
    thread = misbehaving_proxy(front, back, handle)
    try:
        websocket_client(front)
        thread.join(10)
    finally:
        stop_backend()


def switch_mismatch(front, back):
    """A raw "translating" proxy turns curl's Upgrade: h2c into a WebSocket upgrade towards
    the websockets backend and answers curl with a 101 to h2c: the legs switch to different
    protocols. curl's HTTP/2 preface then reaches a WebSocket server, which fails the
    connection (close 1002)."""
    def handle(client, backend):
        head, rest = read_head(client)
        lines = head.split(b"\r\n")
        kept = [line for line in lines[1:] if line and not line.lower().startswith(
            (b"upgrade:", b"connection:", b"http2-settings:"))]
        request = b"\r\n".join([lines[0]] + kept + [
            b"Upgrade: websocket", b"Connection: Upgrade", f"Sec-WebSocket-Key: {SAMPLE_KEY}".encode(),
            b"Sec-WebSocket-Version: 13"]) + b"\r\n\r\n"
        backend.sendall(request + rest)
        answer, extra = read_head(backend)
        assert answer.startswith(b"HTTP/1.1 101"), answer
        client.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n" + extra)

    stop_backend = websockets_echo_backend(back)
    thread = misbehaving_proxy(front, back, handle)
    try:
        subprocess.run(["curl", "-sS", "--http2", "--max-time", "5", "-o", "/dev/null",
                        f"http://127.0.0.1:{front}/echo"], timeout=10, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)   # fails by design: the backend speaks WebSocket
        thread.join(10)
    finally:
        stop_backend()


def blocks_after_101(front, back):
    """A raw proxy (a WAF that decides late) forwards the client's WebSocket upgrade, gets the
    backend's 101, and answers the client 403 instead; then it closes both connections."""
    def handle(client, backend):
        head, rest = read_head(client)
        backend.sendall(head + rest)
        answer, _ = read_head(backend)
        assert answer.startswith(b"HTTP/1.1 101"), answer
        client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        client.shutdown(socket.SHUT_WR)
        backend.shutdown(socket.SHUT_WR)

    stop_backend = websockets_echo_backend(back)
    thread = misbehaving_proxy(front, back, handle)
    try:
        websocket_client(front, expect_switch=False)
        thread.join(10)
    finally:
        stop_backend()


RUNNERS = {s.runner: globals()[s.runner] for s in SCENARIOS}


# ---------------------------------------------------------------- driver

def make(scenario):
    front, back = mc.free_port(), mc.free_port()
    while back == front:
        back = mc.free_port()
    final = HERE / scenario.filename
    tmp = HERE / (scenario.filename + ".tmp")
    tmp.unlink(missing_ok=True)
    capture, _ = mc.start_capture(scenario, None, tmp, bpf=f"tcp port {front} or tcp port {back}")
    try:
        child = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--peer", scenario.runner,
                                str(front), str(back)], timeout=mc.SCENARIO_TIMEOUT, capture_output=True, text=True)
        time.sleep(0.5)
    finally:
        mc.stop(capture, signal.SIGINT)
    if child.returncode != 0:
        raise RuntimeError(f"scenario exited {child.returncode}:\n{child.stdout}{child.stderr}")
    summary = mc.check_capture(tmp, scenario)
    os.chmod(tmp, 0o644)
    os.replace(tmp, final)
    return summary


def main(argv):
    if argv[:1] == ["--peer"]:
        RUNNERS[argv[1]](int(argv[2]), int(argv[3]))
        return 0
    return mc.cli(argv, SCENARIOS, make, "make_proxy_captures.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
