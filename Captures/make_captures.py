#!/usr/bin/python3
"""Regenerate the capture corpus in this folder.

    sudo /usr/bin/python3 Captures/make_captures.py            # every capture
    sudo /usr/bin/python3 Captures/make_captures.py NAME...    # only these
    /usr/bin/python3 Captures/make_captures.py --list

For each scenario: pick a free loopback port, start tcpdump (or dumpcap) on it and
wait for "listening on", run the scenario's real server and client in a child
process (bounded by a timeout; the child returns only when every connection is
closed), sleep 0.3 s, stop the capture with SIGINT, sanity-check the file
(one or more complete TCP connections, FIN both ways, no RST but the forged ones a
scenario declares, under 50 KB unless the scenario allows more) and move it into place.  Needs root (packet capture), Debian's python3-websockets and
python3-aiohttp, curl, nghttp2-server (nghttpd) and nghttp2-proxy (nghttpx).

Scenario peers: websockets / aiohttp / curl+nghttpx+nghttpd are driven from here;
raw-socket peers (the misbehaving ones, Docker attach) live in misbehaving_peers.py.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True   # keep __pycache__ out of Captures/
import misbehaving_peers as peers  # noqa: E402
import tunnels  # noqa: E402

SCENARIO_TIMEOUT = 30.0   # seconds for one scenario's child process
MAX_SIZE = 50_000         # bytes per capture file


@dataclass(frozen=True)
class Scenario:
    name: str
    runner: str                  # function name in RUNNERS
    host: str = "127.0.0.1"
    iface: str = "lo"
    tool: str = "tcpdump"        # "tcpdump" writes pcap, "dumpcap" writes pcapng
    connections: int = 1         # TCP connections the capture must contain
    max_size: int = MAX_SIZE     # bytes the capture file may take
    resets: int = 0              # RST segments the capture must contain (forged ones)
    extra_syns: int = 0          # SYNs beyond one per connection (a forged copy of a SYN)
    extra_fins: int = 0          # FINs beyond two per connection (forged ones)
    drops_ttl1: bool = False     # needs a TTL-1 drop rule on lo: tc (with act_gact) or nft
    fragments: bool = False      # also record IPv4 fragments after the first (they have no ports)
    tunnel: str = ""             # a tunnels.KINDS kind: two namespaces, capture on the underlay

    @property
    def filename(self):
        return f"{self.name}.{'pcapng' if self.tool == 'dumpcap' else 'pcap'}"


SCENARIOS = [
    # Real programs, no violations expected.
    Scenario("websocket-echo", "websocket_echo"),
    Scenario("websocket-echo-deflate", "websocket_echo_deflate"),
    Scenario("websocket-echo-sll", "websocket_echo", iface="any"),
    Scenario("websocket-echo-ipv6", "websocket_echo", host="::1"),
    Scenario("websocket-echo-ng", "websocket_echo", tool="dumpcap"),
    Scenario("h2c-upgrade-curl", "h2c_upgrade_curl"),
    Scenario("h2c-upgrade-nghttp-requests", "h2c_upgrade_nghttp_requests"),
    Scenario("http2-extended-connect-websocket", "http2_extended_connect_websocket"),
    Scenario("docker-attach-tcp", "docker_attach_tcp"),
    Scenario("docker-attach-multiplexed", "docker_attach_multiplexed"),
    Scenario("keepalive-then-upgrade", "keepalive_then_upgrade"),
    Scenario("upgrade-declined", "upgrade_declined"),
    # One HTTP/1.1 Upgrade rule broken per capture.
    Scenario("http-101-missing-upgrade", "http_101_missing_upgrade"),
    Scenario("http-101-unsolicited", "http_101_unsolicited"),
    Scenario("http-101-without-request", "http_101_without_request"),
    Scenario("http-101-protocol-not-offered", "http_101_protocol_not_offered"),
    Scenario("http-upgrade-missing-connection-token", "http_upgrade_missing_connection_token"),
    Scenario("http-connection-upgrade-without-upgrade", "http_connection_upgrade_without_upgrade"),
    Scenario("http-101-to-http10-request", "http_101_to_http10_request"),
    Scenario("http-101-http10-response", "http_101_http10_response"),
    Scenario("http-101-before-100-continue", "http_101_before_100_continue"),
    Scenario("http-1xx-with-content", "http_1xx_with_content"),
    Scenario("http-switch-before-request-complete", "http_switch_before_request_complete"),
    Scenario("http-client-data-before-101", "http_client_data_before_101"),
    Scenario("http-request-pipelined-after-upgrade", "http_request_pipelined_after_upgrade"),
    Scenario("http-101-then-http-response", "http_101_then_http_response"),
    Scenario("http-upgrade-declined-then-tunnel", "http_upgrade_declined_then_tunnel"),
    Scenario("http-426-missing-upgrade", "http_426_missing_upgrade"),
    Scenario("http-426-with-upgrade", "http_426_with_upgrade"),
    # For the WebSocket / HTTP/2 / TLS analysis.
    Scenario("websocket-wrong-accept", "websocket_wrong_accept"),
    Scenario("websocket-unmasked-client-frame", "websocket_unmasked_client_frame"),
    Scenario("websocket-masked-server-frame", "websocket_masked_server_frame"),
    Scenario("websocket-bad-close", "websocket_bad_close"),
    Scenario("websocket-invalid-utf8", "websocket_invalid_utf8"),
    Scenario("websocket-reserved-opcode", "websocket_reserved_opcode"),
    Scenario("websocket-bad-version", "websocket_bad_version"),
    Scenario("h2c-missing-settings", "h2c_missing_settings"),
    Scenario("tls-upgrade-not-tls", "tls_upgrade_not_tls"),
    Scenario("switch-protocol-mismatch", "switch_protocol_mismatch"),
    Scenario("http2-extended-connect-without-setting", "http2_extended_connect_without_setting"),
    # HTTP/1.1 message syntax.
    Scenario("http-obs-fold", "http_obs_fold"),
    Scenario("http-whitespace-before-colon", "http_whitespace_before_colon"),
    Scenario("http-conflicting-content-length", "http_conflicting_content_length"),
    Scenario("http-content-length-with-transfer-encoding", "http_content_length_with_transfer_encoding"),
    Scenario("http-malformed-message", "http_malformed_message"),
    # TCP: a forged segment injected into a real connection (AF_PACKET on lo, IPv4 only).
    Scenario("tcp-overlap-conflict", "tcp_overlap_conflict"),
    # TCP: what the receiving host believed. Forged packets injected into real connections
    # (AF_PACKET on lo, IPv4 only), and the receiving kernel's real reaction.
    Scenario("tcp-bad-checksum-fake-response", "tcp_bad_checksum_fake_response"),
    Scenario("tcp-rst-ignored", "tcp_rst_ignored", resets=2),
    Scenario("tcp-rst-not-honoured", "tcp_rst_not_honoured", resets=1, drops_ttl1=True),
    Scenario("tcp-low-ttl-data", "tcp_low_ttl_data", drops_ttl1=True),
    Scenario("tcp-fin-not-honoured", "tcp_fin_not_honoured", extra_fins=1, drops_ttl1=True),
    Scenario("tcp-urgent-data", "tcp_urgent_data"),
    Scenario("tcp-syn-data-not-acknowledged", "tcp_syn_data_not_acknowledged", extra_syns=1),
    # Negative controls: real kernels' TCP Fast Open fallback, retransmissions and probes.
    Scenario("tcp-fastopen-fallback", "tcp_fastopen_fallback"),
    Scenario("tcp-retransmissions-and-probes", "tcp_retransmissions_and_probes", drops_ttl1=True),
    # IP: a forged copy of a segment injected as two overlapping IPv4 fragments.
    Scenario("ip-fragment-overlap-conflict", "ip_fragment_overlap_conflict", fragments=True),
    # WebSocket handshake and frames.
    Scenario("websocket-missing-key", "websocket_missing_key"),
    Scenario("websocket-bad-key", "websocket_bad_key"),
    Scenario("websocket-duplicate-header", "websocket_duplicate_header"),
    Scenario("websocket-subprotocol-not-offered", "websocket_subprotocol_not_offered"),
    Scenario("websocket-extension-not-offered", "websocket_extension_not_offered"),
    Scenario("websocket-rsv-without-extension", "websocket_rsv_without_extension"),
    Scenario("websocket-bad-control-frame", "websocket_bad_control_frame"),
    Scenario("websocket-non-minimal-length", "websocket_non_minimal_length"),
    Scenario("websocket-bad-fragmentation", "websocket_bad_fragmentation"),
    # permessage-deflate agreed, then a message that does not inflate / inflates past 8 MiB.
    Scenario("websocket-inflate-failed", "websocket_inflate_failed"),
    Scenario("websocket-decompression-bomb", "websocket_decompression_bomb"),
    # h2c and HTTP/2.
    Scenario("h2c-missing-client-preface", "h2c_missing_client_preface"),
    Scenario("h2c-server-first-frame-not-settings", "h2c_server_first_frame_not_settings"),
    Scenario("http2-status-101", "http2_status_101"),
    Scenario("http2-connection-specific-header", "http2_connection_specific_header"),
    # Docker multiplexed stream.
    Scenario("docker-bad-stream-header", "docker_bad_stream_header"),
    # MASQUE CONNECT-UDP (RFC 9298): crafted client and proxy, the proxy forwarding real UDP.
    Scenario("connect-udp-echo", "connect_udp_echo"),
    Scenario("connect-udp-not-capsules", "connect_udp_not_capsules"),
    Scenario("connect-udp-capsule-malformed", "connect_udp_capsule_malformed"),
    Scenario("connect-udp-handshake-malformed", "connect_udp_handshake_malformed"),
    # A 70,000-byte request head: over Switchyard's 64 KiB http_max_head_bytes.
    Scenario("analyzer-limit-reached", "analyzer_limit_reached", max_size=100_000),
    # Odd 101s that real clients (curl, Python's http.client) take; see client_acceptance.py.
    Scenario("http-lenient-version", "http_lenient_version"),
    Scenario("http-status-line-whitespace", "http_status_line_whitespace"),
    Scenario("http-lenient-status-code", "http_lenient_status_code"),
    Scenario("http-lenient-status-code-zeros", "http_lenient_status_code_zeros"),
    Scenario("http-header-line-without-colon", "http_header_line_without_colon"),
    Scenario("http-invalid-field-name", "http_invalid_field_name"),
    Scenario("http-not-http", "http_not_http"),
    Scenario("http-101-empty-upgrade", "http_101_empty_upgrade"),
    # Limits and segmentation (issue #13).
    Scenario("analyzer-limit-held-bytes", "analyzer_limit_held_bytes", max_size=100_000),
    Scenario("http-101-after-head-limit", "http_101_after_head_limit", max_size=100_000),
    Scenario("http2-prior-knowledge-segmented", "http2_prior_knowledge_segmented"),
    # Encapsulated (issue #12): tunnels between two network namespaces (tunnels.py).
    Scenario("tunnel-vxlan-websocket", "tunnel_websocket", host=tunnels.INNER[tunnels.SERVER_NS], tunnel="vxlan"),
    # This kernel has no Geneve or GRE: Open vSwitch's userspace datapath encapsulates (tunnels.py).
    Scenario("tunnel-geneve-websocket", "tunnel_websocket", host=tunnels.INNER[tunnels.SERVER_NS], tunnel="geneve"),
    Scenario("tunnel-gretap-websocket", "tunnel_websocket", host=tunnels.INNER[tunnels.SERVER_NS], tunnel="gretap"),
]


# ---------------------------------------------------------------- ports

def free_port(host="127.0.0.1"):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def is_listening(port):
    """Look the port up in /proc/net/tcp{,6} (state 0A = LISTEN) without connecting,
    so that readiness checks never add a connection to the capture."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except OSError:
            pass
    return False


def wait_listening(port, proc=None, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_listening(port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} before listening")
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


def stop(proc, sig=signal.SIGTERM, timeout=5.0):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


# ---------------------------------------------------------------- scenarios run by real programs

def websocket_echo(port, host, compression=None):
    """websockets 10.4 echo server and client: text, binary, ping, clean close."""
    import websockets

    async def echo(ws, *_path):
        async for message in ws:
            await ws.send(message)

    async def main():
        async with websockets.serve(echo, host, port, compression=compression, ping_interval=None):
            uri = f"ws://{peers.authority(host, port)}/echo"
            async with websockets.connect(uri, compression=compression, ping_interval=None,
                                          close_timeout=2) as ws:
                for message in ["hello", b"\x00\x01\x02\x03binary", "second text message", bytes(range(200))]:
                    await ws.send(message)
                    reply = await ws.recv()
                    assert reply == message, reply
                pong = await ws.ping(b"ping-1")
                await asyncio.wait_for(pong, 2)
            # leaving the block ran the close handshake and waited for the TCP close

    asyncio.run(asyncio.wait_for(main(), 15))


def websocket_echo_deflate(port, host):
    websocket_echo(port, host, compression="deflate")


def _nghttpd_behind_nghttpx(port, host, files, client):
    """nghttpd (prior knowledge only: it does not support Upgrade) serving `files` behind
    nghttpx, whose cleartext frontend on PORT does the h2c upgrade; `client(base_url)` runs
    against the frontend. Only the client<->nghttpx port is captured."""
    with tempfile.TemporaryDirectory() as root:
        docroot = Path(root, "www")
        docroot.mkdir()
        for name, text in files.items():
            Path(docroot, name).write_text(text)
            os.utime(Path(docroot, name), (1_700_000_000, 1_700_000_000))   # stable Last-Modified
        backend_port = free_port()
        null = subprocess.DEVNULL
        nghttpd = subprocess.Popen(["nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", str(docroot),
                                    str(backend_port)], stdout=null, stderr=null)
        nghttpx = None
        try:
            wait_listening(backend_port, nghttpd)
            nghttpx = _nghttpx_frontend(port, host, f"127.0.0.1,{backend_port};;proto=h2", root)
            client(f"http://{peers.authority(host, port)}")
        finally:
            if nghttpx is not None:
                stop(nghttpx)
            stop(nghttpd)


def _nghttpx_frontend(port, host, backend, root):
    """nghttpx with a cleartext frontend on PORT (h2c upgrade and prior knowledge) and one
    backend (`127.0.0.1,BPORT;;proto=h2` or an HTTP/1.1 one)."""
    null = subprocess.DEVNULL
    proc = subprocess.Popen([
        "nghttpx", "--conf=/dev/null", "--single-process", "--workers=1",
        f"--frontend={host},{port};no-tls", f"--backend={backend}",
        f"--pid-file={root}/nghttpx.pid", "--errorlog-file=/dev/null", "--accesslog-file=/dev/null",
    ], stdout=null, stderr=null)
    wait_listening(port, proc)
    return proc


def h2c_upgrade_curl(port, host):
    """curl --http2 on plain http (Upgrade: h2c) against nghttpx, whose frontend does the
    h2c upgrade, backed by nghttpd. Two GETs, the second on stream 3 of the same connection."""
    def client(base):
        subprocess.run(["curl", "-sS", "--http2", "--max-time", "5",
                        "-o", "/dev/null", f"{base}/index.html",
                        "-o", "/dev/null", f"{base}/second.txt"],
                       check=True, timeout=10, stdout=subprocess.DEVNULL)

    _nghttpd_behind_nghttpx(port, host, {"index.html": "<p>hello from nghttpd</p>\n",
                                         "second.txt": "second file\n"}, client)


def h2c_upgrade_nghttp_requests(port, host):
    """nghttp 1.52 (`-u`: HTTP/1.1 Upgrade to h2c) with three URIs on one connection against
    nghttpx (h2c frontend) backed by nghttpd. nghttp upgrades with GET /a.txt (stream 1), opens
    idle streams 3-11 with PRIORITY frames only (its dependency tree), then GETs /b.txt and
    /missing.txt (a 404) on streams 13 and 15."""
    def client(base):
        subprocess.run(["nghttp", "-u", "-n", "-t", "5", f"{base}/a.txt", f"{base}/b.txt", f"{base}/missing.txt"],
                       check=True, timeout=10, stdout=subprocess.DEVNULL)

    _nghttpd_behind_nghttpx(port, host, {"a.txt": "first file\n", "b.txt": "second file, a little longer\n"},
                            client)


def _h2_client(host, port, exchange):
    """A python3-h2 4.1 client connection with prior knowledge (RFC 9113 §3.3): sends the
    preface, reads the server's SETTINGS, runs `exchange(conn, sock, events)` (which reads
    with `events()`), then GOAWAY and a clean close."""
    import h2.config
    import h2.connection
    import h2.events

    sock = socket.create_connection((host, port), timeout=5)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())

    def events():
        data = sock.recv(65536)
        if not data:
            raise RuntimeError("server closed")
        found = conn.receive_data(data)
        sock.sendall(conn.data_to_send())
        return found

    while not any(isinstance(e, h2.events.RemoteSettingsChanged) for e in events()):
        pass
    exchange(conn, sock, events)
    conn.close_connection()
    sock.sendall(conn.data_to_send())
    sock.shutdown(socket.SHUT_WR)
    while sock.recv(65536):
        pass
    sock.close()


def _h2_wait(events, stream_id, kinds):
    import h2.events
    while True:
        for event in events():
            if getattr(event, "stream_id", None) == stream_id and isinstance(event, kinds):
                return event
            if isinstance(event, h2.events.StreamReset) and event.stream_id == stream_id:
                return event


def _masked_text_frame(text, key=b"\x37\xfa\x21\x3d"):
    """One masked WebSocket text frame (RFC 6455 §5.2), short payloads only."""
    payload = text.encode()
    return bytes([0x81, 0x80 | len(payload)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def http2_extended_connect_websocket(port, host):
    """RFC 8441 WebSocket over HTTP/2: a python3-h2 4.1 client (prior knowledge) sends a GET /
    on stream 1, then an extended CONNECT (`:protocol websocket`, `:path /echo`) on stream 3 to
    nghttpx 1.52, which announces SETTINGS_ENABLE_CONNECT_PROTOCOL=1 and bridges it to a
    websockets 10.4 echo server over HTTP/1.1 Upgrade. The client sends one masked text frame
    (built here) in DATA, reads the echo, then a close frame and END_STREAM. Only the
    client<->nghttpx port is captured."""
    import h2.events
    import websockets

    def exchange(conn, sock, events):
        authority_value = peers.authority(host, port)
        conn.send_headers(1, [(":method", "GET"), (":scheme", "http"), (":authority", authority_value),
                              (":path", "/")], end_stream=True)
        sock.sendall(conn.data_to_send())
        _h2_wait(events, 1, (h2.events.StreamEnded,))
        assert conn.remote_settings.enable_connect_protocol == 1
        conn.send_headers(3, [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
                              (":authority", authority_value), (":path", "/echo"),
                              ("sec-websocket-version", "13")])
        sock.sendall(conn.data_to_send())
        response = _h2_wait(events, 3, (h2.events.ResponseReceived,))
        assert dict(response.headers)[":status"] == "200", response.headers
        conn.send_data(3, _masked_text_frame("hello over h2"))
        sock.sendall(conn.data_to_send())
        _h2_wait(events, 3, (h2.events.DataReceived,))
        conn.send_data(3, b"\x88\x82" + b"\x0a\x0b\x0c\x0d" + bytes([0x03 ^ 0x0a, 0xe8 ^ 0x0b]), end_stream=True)
        sock.sendall(conn.data_to_send())
        _h2_wait(events, 3, (h2.events.StreamEnded,))

    async def echo(ws, *_path):
        async for message in ws:
            await ws.send(message)

    async def main(backend_port, root):
        async with websockets.serve(echo, "127.0.0.1", backend_port, compression=None, ping_interval=None):
            nghttpx = _nghttpx_frontend(port, host, f"127.0.0.1,{backend_port}", root)
            try:
                await asyncio.get_running_loop().run_in_executor(None, _h2_client, host, port, exchange)
            finally:
                stop(nghttpx)

    with tempfile.TemporaryDirectory() as root:
        asyncio.run(asyncio.wait_for(main(free_port(), root), 15))


def http2_extended_connect_without_setting(port, host):
    """A python3-h2 4.1 client (prior knowledge) sends an extended CONNECT (`:protocol
    websocket`) to nghttpd 1.52, whose SETTINGS do not carry SETTINGS_ENABLE_CONNECT_PROTOCOL:
    h2 does not check the peer's setting before sending `:protocol` (RFC 8441 §4 says the
    client MUST NOT). nghttpd resets the stream; the client then closes with GOAWAY."""
    import h2.events

    def exchange(conn, sock, events):
        assert conn.remote_settings.enable_connect_protocol == 0
        conn.send_headers(1, [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
                              (":authority", peers.authority(host, port)), (":path", "/chat"),
                              ("sec-websocket-version", "13")])
        sock.sendall(conn.data_to_send())
        _h2_wait(events, 1, (h2.events.StreamEnded, h2.events.ResponseReceived))

    with tempfile.TemporaryDirectory() as root:
        null = subprocess.DEVNULL
        nghttpd = subprocess.Popen(["nghttpd", "--no-tls", "-a", host, "-d", root, str(port)],
                                   stdout=null, stderr=null)
        try:
            wait_listening(port, nghttpd)
            _h2_client(host, port, exchange)
        finally:
            stop(nghttpd)


def _aiohttp_scenario(port, host, client):
    """An aiohttp 3.8 server with a plain route ("/", "/chat") and a WebSocket echo
    route ("/ws"); `client` (a raw-socket client) runs in a worker thread."""
    from aiohttp import web, WSMsgType

    async def index(request):
        return web.Response(text="hello from aiohttp\n")

    async def chat(request):
        return web.Response(text="this endpoint does not speak WebSocket\n")

    async def ws_echo(request):
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    async def main():
        app = web.Application()
        app.router.add_get("/", index)
        app.router.add_get("/chat", chat)
        app.router.add_get("/ws", ws_echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        try:
            await asyncio.get_running_loop().run_in_executor(None, client, port, host)
        finally:
            await runner.cleanup()

    asyncio.run(asyncio.wait_for(main(), 15))


def keepalive_then_upgrade(port, host):
    _aiohttp_scenario(port, host, peers.keepalive_then_upgrade_client)


def upgrade_declined(port, host):
    _aiohttp_scenario(port, host, peers.upgrade_declined_client)


def tunnel_websocket(port, host):
    """The raw peers' correct WebSocket upgrade, echo and close across a tunnel: this process
    runs in the server namespace (tunnels.peer_command); the client's socket is made in the
    client namespace, so the connection crosses the tunnel."""
    def connect(host, port):
        with tunnels.entered(tunnels.CLIENT_NS):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(peers.TIMEOUT)
        sock.connect((host, port))
        return sock

    peers._ws_session_pair(port, host, connect=connect)


RUNNERS = {name: getattr(peers, name) for name in dir(peers)
           if name.startswith(("http_", "http2_", "websocket_", "h2c_", "tls_", "switch_", "docker_",
                               "tcp_", "ip_", "analyzer_", "connect_udp_"))}
RUNNERS.update({
    "websocket_echo": websocket_echo,
    "websocket_echo_deflate": websocket_echo_deflate,
    "h2c_upgrade_curl": h2c_upgrade_curl,
    "h2c_upgrade_nghttp_requests": h2c_upgrade_nghttp_requests,
    "http2_extended_connect_websocket": http2_extended_connect_websocket,
    "http2_extended_connect_without_setting": http2_extended_connect_without_setting,
    "keepalive_then_upgrade": keepalive_then_upgrade,
    "upgrade_declined": upgrade_declined,
    "tunnel_websocket": tunnel_websocket,
})


# ---------------------------------------------------------------- sanity check of a capture

def tcp_packets(path):
    """Yield (src, dst, flags, payload_len) for each TCP packet in a pcap or pcapng
    file with Ethernet or Linux cooked v2 link type."""
    data = Path(path).read_bytes()

    def frames():
        magic = data[:4]
        if magic == b"\x0a\x0d\x0d\x0a":          # pcapng
            links, off = [], 0
            while off + 12 <= len(data):
                btype, blen = struct.unpack_from("<II", data, off)
                if btype == 1:                    # Interface Description Block
                    links.append(struct.unpack_from("<H", data, off + 8)[0])
                elif btype == 6:                  # Enhanced Packet Block
                    iface, _, _, caplen = struct.unpack_from("<IIII", data, off + 8)
                    yield links[iface], data[off + 28: off + 28 + caplen]
                off += blen
        else:                                     # pcap, little-endian as tcpdump writes it here
            link = struct.unpack_from("<I", data, 20)[0]
            off = 24
            while off + 16 <= len(data):
                caplen = struct.unpack_from("<I", data, off + 8)[0]
                yield link, data[off + 16: off + 16 + caplen]
                off += 16 + caplen

    for link, frame in frames():
        if link == 1:
            ethertype, ip = struct.unpack_from("!H", frame, 12)[0], frame[14:]
        elif link == 276:
            ethertype, ip = struct.unpack_from("!H", frame, 0)[0], frame[20:]
        else:
            raise ValueError(f"unexpected link type {link}")
        yield from _tcp_in(ethertype, ip)


def _tcp_in(ethertype, ip):
    """The TCP segment in an IP packet, looking through VXLAN (UDP 4789, RFC 7348), Geneve
    (UDP 6081, RFC 8926) and Ethernet over GRE (RFC 2784/2890): the tunnel captures. Other IP
    protocols are not TCP and are skipped."""
    if ethertype == 0x0800:
        if struct.unpack_from("!H", ip, 6)[0] & 0x3FFF:
            return                                # a fragment, not a whole segment
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack_from("!H", ip, 2)[0]
        protocol, src, dst, body = ip[9], ip[12:16], ip[16:20], ip[ihl:total]
    elif ethertype == 0x86DD:
        protocol, src, dst = ip[6], ip[8:24], ip[24:40]
        body = ip[40:40 + struct.unpack_from("!H", ip, 4)[0]]
    else:
        return
    if protocol == 17:                            # UDP: VXLAN (8 bytes) or Geneve (8 + options)
        dport = struct.unpack_from("!H", body, 2)[0]
        if dport == 4789:
            inner = body[16:]
        elif dport == 6081 and struct.unpack_from("!H", body, 10)[0] == 0x6558:
            inner = body[16 + (body[8] & 0x3F) * 4:]
        else:
            return
        yield from _tcp_in(struct.unpack_from("!H", inner, 12)[0], inner[14:])
    elif protocol == 47:                          # GRE: checksum, key and sequence fields are optional
        flags, kind = struct.unpack_from("!HH", body, 0)
        if kind == 0x6558:                        # transparent Ethernet bridging
            inner = body[4 + 4 * bin(flags & 0xB000).count("1"):]
            yield from _tcp_in(struct.unpack_from("!H", inner, 12)[0], inner[14:])
    elif protocol == 6:
        sport, dport = struct.unpack_from("!HH", body, 0)
        offset = (body[12] >> 4) * 4
        yield (src, sport), (dst, dport), body[13], len(body) - offset


def check_capture(path, scenario):
    """Return a one-line summary; raise if the capture is not what a scenario must produce."""
    size = Path(path).stat().st_size
    packets = syns = fins = rsts = 0
    payload = 0
    for _, _, flags, n in tcp_packets(path):
        packets += 1
        payload += n
        syns += (flags & 0x12) == 0x02
        fins += bool(flags & 0x01)
        rsts += bool(flags & 0x04)
    summary = (f"{packets} packets, {syns} connection(s), {payload} payload bytes, "
               f"{fins} FIN, {rsts} RST, {size} bytes")
    problems = []
    if syns != scenario.connections + scenario.extra_syns:
        problems.append(f"expected {scenario.connections} connection(s) and {scenario.extra_syns} extra SYN(s)")
    if fins != 2 * scenario.connections + scenario.extra_fins:
        problems.append("not every connection closed with FIN both ways")
    if rsts != scenario.resets:
        problems.append(f"{rsts} RST seen, expected {scenario.resets}")
    if size > scenario.max_size:
        problems.append("capture too big")
    if problems:
        raise RuntimeError(f"{summary}: {'; '.join(problems)}")
    return summary


# ---------------------------------------------------------------- capture driver

def start_capture(scenario, port, out, bpf=None):
    """`bpf` replaces the filter `tcp port PORT` (make_proxy_captures.py captures two ports)."""
    bpf = bpf or f"tcp port {port}"
    if scenario.fragments:
        bpf += " or (ip proto 6 and ip[6:2] & 0x1fff != 0)"
    if scenario.tunnel:
        cmd = tunnels.capture_command(scenario.tunnel, out)
        ready = "listening on"
    elif scenario.tool == "dumpcap":
        cmd = ["dumpcap", "-q", "-i", scenario.iface, "-s", "0", "-f", bpf, "-w", str(out)]
        ready = "Capturing on"
    else:
        # -Z root: keep root's identity so the file is root's (Debian drops to "tcpdump");
        # --immediate-mode: hand every packet over at once so SIGINT loses none.
        cmd = ["tcpdump", "-Z", "root", "-i", scenario.iface, "--immediate-mode", "-U", "-s", "0",
               "-w", str(out), bpf]
        ready = "listening on"
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    started = threading.Event()
    log = []

    def read_stderr():
        for line in proc.stderr:
            log.append(line.rstrip())
            if ready in line:
                started.set()

    threading.Thread(target=read_stderr, daemon=True).start()
    if not started.wait(10):
        stop(proc, signal.SIGINT)
        raise RuntimeError(f"{cmd[0]} did not start: {log}")
    return proc, cmd


def make(scenario):
    if scenario.drops_ttl1 and not (shutil.which("tc") or shutil.which("nft")):
        raise RuntimeError("needs tc (iproute2, with the gact action) or nft (nftables) to drop TTL-1 "
                           "packets on lo: apt-get install iproute2 nftables")
    # A tunnel scenario's namespaces are new, so any port is free there.
    port = free_port("127.0.0.1" if scenario.tunnel else scenario.host)
    final = HERE / scenario.filename
    tmp = HERE / (scenario.filename + ".tmp")
    tmp.unlink(missing_ok=True)
    peer = [sys.executable, str(Path(__file__).resolve()), "--peer", scenario.runner, scenario.host, str(port)]
    with tunnels.tunnel_pair(scenario.tunnel) if scenario.tunnel else contextlib.nullcontext():
        capture, cmd = start_capture(scenario, port, tmp)
        try:
            child = subprocess.run(tunnels.peer_command(peer) if scenario.tunnel else peer,
                                   timeout=SCENARIO_TIMEOUT, capture_output=True, text=True)
            time.sleep(0.3)
        finally:
            stop(capture, signal.SIGINT)
    if child.returncode != 0:
        raise RuntimeError(f"scenario exited {child.returncode}:\n{child.stdout}{child.stderr}")
    summary = check_capture(tmp, scenario)
    os.replace(tmp, final)
    return summary


def main(argv):
    if argv[:1] == ["--peer"]:                 # child: run one scenario's peers
        runner, host, port = argv[1], argv[2], int(argv[3])
        RUNNERS[runner](port, host)
        return 0
    return cli(argv, SCENARIOS, make, "make_captures.py")


def cli(argv, scenarios, make_one, script):
    """The command line shared with make_proxy_captures.py: --list, or make the named
    scenarios (all by default); a failed scenario leaves its old capture alone."""
    if argv[:1] == ["--list"]:
        for s in scenarios:
            print(s.filename)
        return 0
    by_name = {s.name: s for s in scenarios}
    names = [a.removesuffix(".pcapng").removesuffix(".pcap") for a in argv]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; see --list", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print(f"packet capture needs root: sudo /usr/bin/python3 Captures/{script}", file=sys.stderr)
        return 2
    failed = 0
    for scenario in [by_name[n] for n in names] if names else scenarios:
        try:
            print(f"{scenario.filename}: {make_one(scenario)}", flush=True)
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            failed += 1
            print(f"{scenario.filename}: FAILED: {exc}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
