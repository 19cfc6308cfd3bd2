"""Small raw-socket peers for the capture corpus (see make_captures.py and README.md).

Each public scenario function takes ``(port, host)``, runs a server (in a thread)
and a client (in the calling thread) on real loopback sockets, and returns only
after both sides have closed their sockets.  Most of them break exactly one
HTTP/1.1 Upgrade or WebSocket rule; a few (Docker attach, the raw client used
against aiohttp) are well-behaved peers that no library provides.

Every socket has a timeout, so a scenario that goes wrong fails instead of hanging.
Byte content is deterministic: the WebSocket key and masking key are the RFC 6455
examples, so Sec-WebSocket-Accept is always s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.

Run with Debian's /usr/bin/python3 (standard library only here).
"""

import base64
import contextlib
import hashlib
import shutil
import socket
import subprocess
import struct
import threading
import time

TIMEOUT = 5.0

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="          # RFC 6455 §1.3 sample nonce
WS_OTHER_KEY = "x3JJHMbDL1EzLkh9GBhXDw=="    # RFC 6455 §4.2.1 example key (for the wrong accept)
MASK = bytes.fromhex("37fa213d")             # RFC 6455 §5.7 example masking key
# Fixed keys for a client's later frames: a key that repeats the previous frame's key is a
# websocket_weak_mask finding, so the newer scenarios give each client frame its own key.
MASK2 = bytes.fromhex("0a0b0c0d")
MASK3 = bytes.fromhex("5c6d7e8f")

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 §3.4
H2_SETTINGS_B64 = "AAMAAABkAAQCAAAAAAIAAAAA"      # what curl 7.88 sends in HTTP2-Settings


def ws_accept(key):
    """Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2 item 5.4)."""
    digest = hashlib.sha1((key + WS_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def ws_frame(opcode, payload=b"", mask=None, fin=True, rsv=0, length16=False):
    """One WebSocket frame (RFC 6455 §5.2); mask=None sends it unmasked; length16 forces
    the 16-bit extended length even for a short payload (not minimal, §5.2)."""
    first = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if n < 126 and not length16:
        head = bytes([first, mask_bit | n])
    elif n < 65536:
        head = bytes([first, mask_bit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([first, mask_bit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def ws_close_body(code, reason=b""):
    return struct.pack("!H", code) + reason


def h2_frame(ftype, flags, stream, payload=b""):
    """One HTTP/2 frame (RFC 9113 §4.1)."""
    return struct.pack("!I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack("!I", stream) + payload


H2_SETTINGS = h2_frame(4, 0, 0)
H2_SETTINGS_ACK = h2_frame(4, 1, 0)
# HEADERS on stream 1, END_STREAM|END_HEADERS, HPACK static index 8 = ":status: 200".
H2_RESPONSE_200 = h2_frame(1, 0x05, 1, b"\x88")
H2_GOAWAY = h2_frame(7, 0, 0, struct.pack("!II", 0, 0))   # client: no server-initiated streams


class Conn:
    """A socket plus a receive buffer, with the few reads the scenarios need."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        sock.settimeout(TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("peer closed")
        self.buf += chunk

    def read_head(self):
        """Bytes up to and including the blank line that ends an HTTP head."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n\r\n") + 4
        head, self.buf = self.buf[:i], self.buf[i:]
        return head

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self):
        """One HTTP/1.1 response framed by Content-Length (all our servers use it)."""
        head = self.read_head()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        return head, self.read_exact(length)

    def read_ws_frame(self):
        """(opcode, payload, was_masked) of the next frame, unmasking if needed."""
        b0, b1 = self.read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.read_exact(8))[0]
        key = self.read_exact(4) if b1 & 0x80 else None
        payload = self.read_exact(n)
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return b0 & 0x0F, payload, key is not None

    def read_h2_frame(self):
        """(type, flags, stream, payload) of the next HTTP/2 frame."""
        head = self.read_exact(9)
        n = int.from_bytes(head[:3], "big")
        stream = struct.unpack("!I", head[5:9])[0] & 0x7FFFFFFF
        return head[3], head[4], stream, self.read_exact(n)

    def drain(self):
        """Read (and discard) until the peer's FIN, so closing never sends a RST."""
        self.buf = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return

    def close_first(self):
        """Send our FIN, wait for the peer's, close."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
            self.drain()
        finally:
            self.sock.close()

    def close_second(self):
        """Wait for the peer's FIN, then close (our FIN goes second)."""
        try:
            self.drain()
        finally:
            self.sock.close()


def run_with_server(port, host, server_fn, client_action, listener_options=()):
    """Listen on (host, port), serve one connection in a thread, run `client_action()` here.
    `listener_options` are (level, option, value) set on the listening socket before listen()."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    for level, option, value in listener_options:
        lsock.setsockopt(level, option, value)
    lsock.bind((host, port))
    lsock.listen(1)
    lsock.settimeout(TIMEOUT)
    errors = []

    def serve():
        try:
            sock, _ = lsock.accept()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(("server accept", exc))
            return
        conn = Conn(sock)
        try:
            server_fn(conn)
        except Exception as exc:  # noqa: BLE001
            errors.append(("server", exc))
        finally:
            conn.sock.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        client_action()
    except Exception as exc:  # noqa: BLE001
        errors.append(("client", exc))
    thread.join(2 * TIMEOUT)
    lsock.close()
    if thread.is_alive():
        errors.append(("server", "did not finish"))
    if errors:
        raise RuntimeError(f"scenario failed: {errors!r}")


def run_pair(port, host, server_fn, client_fn, listener_options=(), connect=None):
    """Listen on (host, port), serve one connection in a thread, run the client here.
    `connect(host, port)` replaces socket.create_connection for the client."""
    def client_action():
        sock = connect(host, port) if connect else socket.create_connection((host, port), timeout=TIMEOUT)
        conn = Conn(sock)
        try:
            client_fn(conn)
        finally:
            conn.sock.close()

    run_with_server(port, host, server_fn, client_action, listener_options)


def authority(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---------------------------------------------------------------- message builders

def ws_request(host, port, path="/chat", version="HTTP/1.1", connection="Upgrade",
               upgrade="websocket", ws_version="13", key=WS_KEY, extra=()):
    """A WebSocket opening handshake; key=None leaves Sec-WebSocket-Key out, `extra`
    header lines follow the key."""
    lines = [f"GET {path} {version}", f"Host: {authority(host, port)}"]
    if upgrade is not None:
        lines.append(f"Upgrade: {upgrade}")
    lines.append(f"Connection: {connection}")
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    lines += [*extra, f"Sec-WebSocket-Version: {ws_version}", "", ""]
    return "\r\n".join(lines).encode("ascii")


def plain_get(host, port, path="/", extra=()):
    lines = [f"GET {path} HTTP/1.1", f"Host: {authority(host, port)}", *extra, "", ""]
    return "\r\n".join(lines).encode("ascii")


def response(status_line, headers=(), body=b""):
    return ("\r\n".join([status_line, *headers, "", ""]).encode("ascii")) + body


WS_101 = response("HTTP/1.1 101 Switching Protocols",
                  ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Accept: {ws_accept(WS_KEY)}"])


def h2c_request(host, port, method="GET", path="/", connection="Upgrade, HTTP2-Settings",
                settings=True, extra=()):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {authority(host, port)}", *extra,
             f"Connection: {connection}", "Upgrade: h2c"]
    if settings:
        lines.append(f"HTTP2-Settings: {H2_SETTINGS_B64}")
    lines += ["", ""]
    return "\r\n".join(lines).encode("ascii")


H2C_101 = response("HTTP/1.1 101 Switching Protocols", ["Connection: Upgrade", "Upgrade: h2c"])


# ---------------------------------------------------------------- protocol sessions after a switch

def ws_client_session(c, text=b"hello", close_mask=MASK):
    """Masked text frame, expect the echo, then the client-initiated close handshake."""
    c.send(ws_frame(0x1, text, MASK))
    opcode, payload, _ = c.read_ws_frame()
    assert (opcode, payload) == (0x1, text), (opcode, payload)
    ws_client_close(c, mask=close_mask)


def ws_client_close(c, code=1000, mask=MASK):
    c.send(ws_frame(0x8, ws_close_body(code), mask))
    opcode, _, _ = c.read_ws_frame()
    assert opcode == 0x8, opcode
    c.close_second()   # RFC 6455 §7.1.1: the server closes TCP first


def ws_server_session(s):
    """Echo data frames until the client's close, answer it, close TCP first."""
    while True:
        opcode, payload, _ = s.read_ws_frame()
        if opcode == 0x8:
            s.send(ws_frame(0x8, payload[:2]))
            s.close_first()
            return
        s.send(ws_frame(opcode, payload))


def ws_server_fail(s, code):
    """Fail the connection (RFC 6455 §7.1.7): close frame with an error code, then close TCP."""
    s.send(ws_frame(0x8, ws_close_body(code)))
    s.close_first()


def ws_client_answer_fail(c, mask=MASK):
    """Client side of a server-failed connection: echo the close code, then close."""
    opcode, payload, _ = c.read_ws_frame()
    assert opcode == 0x8, opcode
    c.send(ws_frame(0x8, payload[:2], mask))
    c.close_first()


def h2_server_session(s, body_len=0, response=H2_RESPONSE_200):
    """After an h2c 101: server preface, read the rest of the HTTP/1.1 request body
    (RFC 7540 §3.2), the client preface and SETTINGS, answer stream 1 with `response`
    (frames ending the stream), close."""
    s.send(H2_SETTINGS)
    if body_len:
        s.read_exact(body_len)
    preface = s.read_exact(len(H2_PREFACE))
    assert preface == H2_PREFACE, preface
    got_settings = got_ack = False
    while not (got_settings and got_ack):
        ftype, flags, _, _ = s.read_h2_frame()
        if ftype == 4 and not flags & 1:
            got_settings = True
            s.send(H2_SETTINGS_ACK + response)
        elif ftype == 4:
            got_ack = True
    s.close_second()


def h2_client_session(c, body=b""):
    """After an h2c 101: the rest of the request body, client preface, SETTINGS,
    ACK the server's SETTINGS (and PINGs), wait for the end of the stream-1 response,
    GOAWAY, close."""
    c.send(body + H2_PREFACE + H2_SETTINGS)
    got_response = got_ack = False
    while not (got_response and got_ack):
        ftype, flags, stream, payload = c.read_h2_frame()
        if ftype == 4 and not flags & 1:
            c.send(H2_SETTINGS_ACK)
        elif ftype == 4:
            got_ack = True
        elif ftype == 6 and not flags & 1:
            c.send(h2_frame(6, 1, 0, payload))   # PING ACK (RFC 9113 §6.7)
        elif ftype == 1 and stream == 1 and flags & 1:
            got_response = True
    c.send(H2_GOAWAY)
    c.close_first()


# ---------------------------------------------------------------- well-behaved raw peers

def _docker_attach(port, host, content_type, multiplexed, stderr_stream=2):
    query = "stream=1&stdin=1&stdout=1" + ("&stderr=1" if multiplexed else "")
    request = ("\r\n".join([
        f"POST /v1.43/containers/abc/attach?{query} HTTP/1.1",
        f"Host: {authority(host, port)}",
        "User-Agent: Docker-Client/24.0.5 (linux)",
        "Content-Length: 0",
        "Connection: Upgrade",
        "Content-Type: text/plain",
        "Upgrade: tcp",
        "", ""])).encode("ascii")
    lines = [b"hello docker\n", b"second line\n"]

    def frame(stream, data):
        # Docker's stdcopy header: stream byte, 3 zero bytes, big-endian uint32 length.
        return bytes([stream, 0, 0, 0]) + struct.pack(">I", len(data)) + data

    def server(s):
        head = s.read_head()
        assert head.startswith(b"POST /v1.43/containers/abc/attach?"), head
        s.send(response("HTTP/1.1 101 UPGRADED", [
            f"Content-Type: {content_type}", "Connection: Upgrade", "Upgrade: tcp"]))
        for i, line in enumerate(lines):
            data = s.read_exact(len(line))   # the container is `cat`: stdin echoed to stdout
            if multiplexed:
                s.send(frame(1, data))
                if i == 0:
                    s.send(frame(stderr_stream, b"cat: warning on stderr\n"))
            else:
                s.send(data)
        s.close_second()   # stdin closed by the client: the container exits

    def client(c):
        c.send(request)
        head = c.read_head()
        assert head.startswith(b"HTTP/1.1 101 UPGRADED"), head
        for i, line in enumerate(lines):
            c.send(line)
            if multiplexed:
                expected = frame(1, line) + (frame(stderr_stream, b"cat: warning on stderr\n") if i == 0 else b"")
            else:
                expected = line
            got = c.read_exact(len(expected))
            assert got == expected, got
        c.close_first()    # CloseWrite on stdin, then read until the daemon closes

    run_pair(port, host, server, client)


def docker_attach_tcp(port, host):
    _docker_attach(port, host, "application/vnd.docker.raw-stream", multiplexed=False)


def docker_attach_multiplexed(port, host):
    _docker_attach(port, host, "application/vnd.docker.multiplexed-stream", multiplexed=True)


def keepalive_then_upgrade_client(port, host):
    """Client for the aiohttp server: GET / (keep-alive), then the WebSocket upgrade
    on the same connection, one masked text frame, close handshake."""
    c = Conn(socket.create_connection((host, port), timeout=TIMEOUT))
    try:
        c.send(plain_get(host, port, "/"))
        head, body = c.read_response()
        assert head.startswith(b"HTTP/1.1 200"), head
        c.send(ws_request(host, port, "/ws"))
        head = c.read_head()
        assert head.startswith(b"HTTP/1.1 101"), head
        ws_client_session(c, b"hello after keep-alive")
    finally:
        c.sock.close()


def upgrade_declined_client(port, host):
    """Client for the aiohttp server: a WebSocket upgrade to a plain route (answered 200,
    no switch), then another GET on the same connection."""
    c = Conn(socket.create_connection((host, port), timeout=TIMEOUT))
    try:
        c.send(ws_request(host, port, "/chat"))
        head, _ = c.read_response()
        assert head.startswith(b"HTTP/1.1 200"), head
        c.send(plain_get(host, port, "/"))
        head, _ = c.read_response()
        assert head.startswith(b"HTTP/1.1 200"), head
        c.close_first()
    finally:
        c.sock.close()


# ---------------------------------------------------------------- HTTP/1.1 Upgrade rule breakers

def http_101_missing_upgrade(port, host):
    def server(s):
        s.read_head()
        s.send(response("HTTP/1.1 101 Switching Protocols",
                        ["Connection: Upgrade", f"Sec-WebSocket-Accept: {ws_accept(WS_KEY)}"]))
        s.close_second()

    def client(c):
        c.send(ws_request(host, port))
        c.read_head()
        c.close_first()   # RFC 6455 §4.1: no Upgrade header -> fail the connection

    run_pair(port, host, server, client)


def http_101_unsolicited(port, host):
    def server(s):
        s.read_head()
        s.send(response("HTTP/1.1 101 Switching Protocols", ["Upgrade: websocket", "Connection: Upgrade"]))
        s.close_second()

    def client(c):
        c.send(plain_get(host, port, "/"))
        c.read_head()
        c.close_first()

    run_pair(port, host, server, client)


def http_101_without_request(port, host):
    def server(s):
        s.send(response("HTTP/1.1 101 Switching Protocols", ["Upgrade: websocket", "Connection: Upgrade"]))
        s.close_second()

    def client(c):
        c.read_head()     # connect, send nothing, read what the server pushes
        c.close_first()

    run_pair(port, host, server, client)


def http_101_protocol_not_offered(port, host):
    def server(s):
        s.read_head()
        s.send(H2C_101)
        s.send(H2_SETTINGS)   # the server goes on in the protocol it picked
        s.close_second()

    def client(c):
        c.send(ws_request(host, port))
        c.read_head()
        c.read_exact(len(H2_SETTINGS))
        c.close_first()

    run_pair(port, host, server, client)


def http_upgrade_missing_connection_token(port, host):
    def server(s):
        s.read_head()
        s.send(WS_101)
        ws_server_session(s)

    def client(c):
        c.send(ws_request(host, port, connection="keep-alive"))
        c.read_head()
        ws_client_session(c)

    run_pair(port, host, server, client)


def http_connection_upgrade_without_upgrade(port, host):
    def server(s):
        s.read_head()
        s.send(response("HTTP/1.1 200 OK", ["Content-Type: text/plain", "Content-Length: 3"], b"ok\n"))
        s.close_second()

    def client(c):
        c.send(plain_get(host, port, "/", ["Connection: upgrade"]))
        c.read_response()
        c.close_first()

    run_pair(port, host, server, client)


def http_101_to_http10_request(port, host):
    def server(s):
        s.read_head()
        s.send(WS_101)
        ws_server_session(s)

    def client(c):
        c.send(ws_request(host, port, version="HTTP/1.0", connection="upgrade"))
        c.read_head()
        ws_client_session(c)

    run_pair(port, host, server, client)


def http_101_http10_response(port, host):
    def server(s):
        s.read_head()
        s.send(WS_101.replace(b"HTTP/1.1 101", b"HTTP/1.0 101", 1))
        ws_server_session(s)

    def client(c):
        c.send(ws_request(host, port))
        c.read_head()
        ws_client_session(c)

    run_pair(port, host, server, client)


def http_101_before_100_continue(port, host):
    body = b"0123456789"

    def server(s):
        s.read_head()
        s.send(H2C_101)          # RFC 9110 §7.8 wants a 100 (Continue) first
        h2_server_session(s, body_len=len(body))

    def client(c):
        c.send(h2c_request(host, port, "POST", "/upload",
                           extra=["Expect: 100-continue", f"Content-Length: {len(body)}"]))
        head = c.read_head()     # wait for the interim response before sending the body
        assert head.startswith(b"HTTP/1.1 101"), head
        h2_client_session(c, body)

    run_pair(port, host, server, client)


def http_1xx_with_content(port, host):
    def server(s):
        s.read_head()
        s.send(WS_101.replace(b"\r\n\r\n", b"\r\nContent-Length: 5\r\n\r\n"))
        s.send(ws_frame(0x1, b"hello"))   # first bytes of the new protocol
        ws_server_session(s)

    def client(c):
        c.send(ws_request(host, port))
        c.read_head()
        opcode, payload, _ = c.read_ws_frame()
        assert (opcode, payload) == (0x1, b"hello")
        ws_client_close(c)

    run_pair(port, host, server, client)


def http_switch_before_request_complete(port, host):
    body = b"field=value&more=abc"   # 20 bytes

    def server(s):
        s.read_head()
        s.send(H2C_101)          # before the 20-byte body has arrived
        h2_server_session(s, body_len=len(body))

    def client(c):
        c.send(h2c_request(host, port, "POST", "/submit", extra=[f"Content-Length: {len(body)}"]))
        c.read_head()            # the 101 arrives while the body is still unsent
        h2_client_session(c, body)

    run_pair(port, host, server, client)


def http_client_data_before_101(port, host):
    def server(s):
        s.read_head()
        time.sleep(0.2)
        s.send(WS_101)
        ws_server_session(s)

    def client(c):
        c.send(ws_request(host, port))
        c.send(ws_frame(0x1, b"early", MASK))   # next write, before any response
        c.read_head()
        opcode, payload, _ = c.read_ws_frame()
        assert (opcode, payload) == (0x1, b"early")
        ws_client_close(c)

    run_pair(port, host, server, client)


def http_request_pipelined_after_upgrade(port, host):
    def server(s):
        s.read_head()
        s.send(WS_101)
        s.close_second()

    def client(c):
        c.send(ws_request(host, port) + plain_get(host, port, "/other"))   # one send
        c.read_head()
        c.close_first()

    run_pair(port, host, server, client)


def http_101_then_http_response(port, host):
    ok = response("HTTP/1.1 200 OK", ["Content-Type: text/plain", "Content-Length: 3"], b"ok\n")

    def server(s):
        s.read_head()
        s.send(WS_101)
        s.send(ok)
        s.close_second()

    def client(c):
        c.send(ws_request(host, port))
        c.read_head()
        c.read_exact(len(ok))
        c.close_first()

    run_pair(port, host, server, client)


def http_upgrade_declined_then_tunnel(port, host):
    def server(s):
        s.read_head()
        s.send(response("HTTP/1.1 403 Forbidden", ["Content-Length: 0"]))
        ws_server_session(s)     # ...but the backend speaks WebSocket anyway

    def client(c):
        c.send(ws_request(host, port))
        head = c.read_head()
        assert head.startswith(b"HTTP/1.1 403"), head
        ws_client_session(c, b"smuggled")

    run_pair(port, host, server, client)


def http_426_missing_upgrade(port, host):
    def server(s):
        s.read_head()
        s.send(response("HTTP/1.1 426 Upgrade Required", ["Content-Length: 0"]))
        s.close_second()

    def client(c):
        c.send(plain_get(host, port, "/"))
        c.read_response()
        c.close_first()

    run_pair(port, host, server, client)


def http_426_with_upgrade(port, host):
    def server(s):
        s.read_head()
        s.send(response("HTTP/1.1 426 Upgrade Required",
                        ["Upgrade: websocket", "Connection: Upgrade", "Content-Length: 0"]))
        s.close_second()

    def client(c):
        c.send(plain_get(host, port, "/"))
        c.read_response()
        c.close_first()

    run_pair(port, host, server, client)


# ---------------------------------------------------------------- WebSocket / h2c / TLS rule breakers

def websocket_wrong_accept(port, host):
    def server(s):
        s.read_head()
        s.send(WS_101.replace(ws_accept(WS_KEY).encode(), ws_accept(WS_OTHER_KEY).encode()))
        s.close_second()

    def client(c):
        c.send(ws_request(host, port))
        c.read_head()
        c.close_first()   # RFC 6455 §4.1: accept mismatch -> fail the connection

    run_pair(port, host, server, client)


def _ws_server_rejects(port, host, client_frame, code):
    """Correct handshake; the client sends one bad frame; the server fails the connection."""
    def server(s):
        s.read_head()
        s.send(WS_101)
        s.read_exact(len(client_frame))
        ws_server_fail(s, code)

    def client(c):
        c.send(ws_request(host, port))
        c.read_head()
        c.send(client_frame)
        ws_client_answer_fail(c)

    run_pair(port, host, server, client)


def websocket_unmasked_client_frame(port, host):
    _ws_server_rejects(port, host, ws_frame(0x1, b"hello"), 1002)


def websocket_bad_close(port, host):
    _ws_server_rejects(port, host, ws_frame(0x8, b"\x03", MASK), 1002)


def websocket_invalid_utf8(port, host):
    _ws_server_rejects(port, host, ws_frame(0x1, b"\xff\xfe", MASK), 1007)


def websocket_reserved_opcode(port, host):
    _ws_server_rejects(port, host, ws_frame(0x3, b"x", MASK), 1002)


def websocket_masked_server_frame(port, host):
    def server(s):
        s.read_head()
        s.send(WS_101)
        opcode, payload, _ = s.read_ws_frame()
        s.send(ws_frame(opcode, payload, MASK))   # servers must not mask (RFC 6455 §5.1)
        opcode, payload, _ = s.read_ws_frame()
        assert opcode == 0x8
        s.send(ws_frame(0x8, payload[:2]))
        s.close_first()

    def client(c):
        c.send(ws_request(host, port))
        c.read_head()
        c.send(ws_frame(0x1, b"hello", MASK))
        _, _, masked = c.read_ws_frame()
        assert masked
        ws_client_close(c, 1002)

    run_pair(port, host, server, client)


def websocket_bad_version(port, host):
    def server(s):
        s.read_head()
        s.send(response("HTTP/1.1 426 Upgrade Required", [
            "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13", "Content-Length: 0"]))
        s.close_second()

    def client(c):
        c.send(ws_request(host, port, ws_version="8"))
        c.read_response()
        c.close_first()

    run_pair(port, host, server, client)


def h2c_missing_settings(port, host):
    def server(s):
        s.read_head()
        s.send(H2C_101)
        h2_server_session(s)

    def client(c):
        c.send(h2c_request(host, port, connection="Upgrade", settings=False))
        c.read_head()
        h2_client_session(c)

    run_pair(port, host, server, client)


def tls_upgrade_not_tls(port, host):
    def server(s):
        s.read_head()
        s.send(response("HTTP/1.1 101 Switching Protocols", ["Upgrade: TLS/1.2, HTTP/1.1", "Connection: Upgrade"]))
        s.read_exact(5)     # expects a TLS record header; gets text, gives up
        s.close_first()

    def client(c):
        c.send(("\r\n".join(["OPTIONS * HTTP/1.1", f"Host: {authority(host, port)}",
                             "Upgrade: TLS/1.2", "Connection: Upgrade", "", ""])).encode("ascii"))
        c.read_head()
        c.send(b"this is not a TLS ClientHello\r\n")
        c.close_second()

    run_pair(port, host, server, client)


def switch_protocol_mismatch(port, host):
    def server(s):
        s.read_head()
        s.send(WS_101)
        s.read_exact(len(H2_PREFACE) + len(H2_SETTINGS))
        s.close_first()     # not WebSocket: give up

    def client(c):
        c.send(ws_request(host, port))
        c.read_head()
        c.send(H2_PREFACE + H2_SETTINGS)   # speaks HTTP/2 after agreeing to WebSocket
        c.close_second()

    run_pair(port, host, server, client)


# ---------------------------------------------------------------- HTTP/1.1 syntax rule breakers

OK_RESPONSE = response("HTTP/1.1 200 OK", ["Content-Type: text/plain", "Content-Length: 3"], b"ok\n")
CHUNKED_HELLO = b"5\r\nhello\r\n0\r\n\r\n"   # RFC 9112 §7.1: one 5-byte chunk, last chunk


def http_obs_fold(port, host):
    def server(s):
        s.read_head()
        s.send(OK_RESPONSE)   # a lenient server: accepts the fold instead of answering 400
        s.close_second()

    def client(c):
        c.send(plain_get(host, port, "/", ["X-Folded: first part", " second part"]))   # obs-fold
        c.read_response()
        c.close_first()

    run_pair(port, host, server, client)


def http_whitespace_before_colon(port, host):
    request = ("\r\n".join(["POST /upload HTTP/1.1", f"Host: {authority(host, port)}",
                            "Transfer-Encoding : chunked", "", ""])).encode("ascii") + CHUNKED_HELLO

    def server(s):
        s.read_head()
        s.read_exact(len(CHUNKED_HELLO))
        # RFC 9112 §5.1: a server MUST reject whitespace before the colon with 400.
        s.send(response("HTTP/1.1 400 Bad Request", ["Connection: close", "Content-Length: 0"]))
        s.close_first()

    def client(c):
        c.send(request)
        c.read_response()
        c.close_second()

    run_pair(port, host, server, client)


def http_conflicting_content_length(port, host):
    def server(s):
        s.read_head()
        s.send(response("HTTP/1.1 200 OK", ["Content-Type: text/plain", "Content-Length: 5",
                                            "Content-Length: 6"], b"hello"))
        s.close_first()    # the close is what ends the 5 bytes actually sent

    def client(c):
        c.send(plain_get(host, port, "/"))
        c.read_head()
        c.close_second()   # reads the body up to the server's FIN

    run_pair(port, host, server, client)


def http_content_length_with_transfer_encoding(port, host):
    # The Content-Length agrees with the chunked body's size, so only the combination is wrong.
    request = ("\r\n".join(["POST /upload HTTP/1.1", f"Host: {authority(host, port)}",
                            "Content-Type: text/plain", f"Content-Length: {len(CHUNKED_HELLO)}",
                            "Transfer-Encoding: chunked", "", ""])).encode("ascii") + CHUNKED_HELLO

    def server(s):
        s.read_head()
        s.read_exact(len(CHUNKED_HELLO))
        # RFC 9112 §6.1: chunked wins, and the server must close after responding.
        s.send(response("HTTP/1.1 200 OK", ["Content-Type: text/plain", "Connection: close",
                                            "Content-Length: 3"], b"ok\n"))
        s.close_first()

    def client(c):
        c.send(request)
        c.read_response()
        c.close_second()

    run_pair(port, host, server, client)


def http_malformed_message(port, host):
    garbage = b"GET /x HTTP/9.9 extra\r\n\r\n"

    def server(s):
        s.read_head()
        s.send(OK_RESPONSE)
        s.read_head()
        s.send(response("HTTP/1.1 400 Bad Request", ["Connection: close", "Content-Length: 0"]))
        s.close_first()

    def client(c):
        c.send(plain_get(host, port, "/"))
        c.read_response()
        c.send(garbage)   # second request on the keep-alive connection: not a valid start line
        c.read_response()
        c.close_second()

    run_pair(port, host, server, client)


def analyzer_limit_reached(port, host):
    """A 70,000-byte Cookie makes the head larger than Switchyard's 64 KiB
    http_max_head_bytes; the server refuses it with 431 (RFC 6585 §5)."""
    cookie = "Cookie: session=" + "x" * 70_000

    def server(s):
        s.read_head()
        s.send(response("HTTP/1.1 431 Request Header Fields Too Large",
                        ["Connection: close", "Content-Length: 0"]))
        s.close_first()

    def client(c):
        c.send(plain_get(host, port, "/", [cookie]))
        c.read_response()
        c.close_second()

    run_pair(port, host, server, client)


# ---------------------------------------------------------------- TCP: overlapping segments with different bytes

def _checksum(data):
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _forged_copy(ip, payload):
    """The IPv4 packet `ip` (one TCP segment) with its TCP payload replaced by `payload` of
    the same length: same ports, seq, ack, flags, window and options; new checksums."""
    ihl = (ip[0] & 0x0F) * 4
    offset = (ip[ihl + 12] >> 4) * 4
    old = ip[ihl + offset:]
    assert len(payload) == len(old)
    header = bytearray(ip[:ihl])
    header[4:6] = struct.pack("!H", (struct.unpack_from("!H", ip, 4)[0] + 1) & 0xFFFF)   # next IP id
    header[10:12] = b"\x00\x00"
    header[10:12] = struct.pack("!H", _checksum(bytes(header)))
    tcp = bytearray(ip[ihl:ihl + offset]) + payload
    tcp[16:18] = b"\x00\x00"
    pseudo = ip[12:20] + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp[16:18] = struct.pack("!H", _checksum(pseudo + bytes(tcp)))
    return bytes(header) + bytes(tcp)


def _lo_sniffer():
    """An AF_PACKET socket on `lo` that sees every IPv4 packet the loopback interface
    receives (tcpdump's view), to find a real segment to copy or answer."""
    sniffer = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    sniffer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sniffer.bind(("lo", 0x0800))
    sniffer.settimeout(TIMEOUT)
    return sniffer


class Seen:
    """The fields of one sniffed IPv4/TCP packet that the forgeries copy."""

    def __init__(self, ip):
        ihl = (ip[0] & 0x0F) * 4
        offset = (ip[ihl + 12] >> 4) * 4
        self.ip = ip
        self.src, self.dst = ip[12:16], ip[16:20]
        self.sport, self.dport, self.seq, self.ack = struct.unpack_from("!HHII", ip, ihl)
        self.flags = ip[ihl + 13]
        self.window = struct.unpack_from("!H", ip, ihl + 14)[0]
        self.options = ip[ihl + 20:ihl + offset]
        self.payload = ip[ihl + offset:]
        self.ip_id = struct.unpack_from("!H", ip, 4)[0]


def _sniff(sniffer, match):
    """The next IPv4/TCP packet on lo for which match(Seen) is true."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        ip = sniffer.recv(65600)[14:]
        if ip[9] != socket.IPPROTO_TCP:
            continue
        seen = Seen(ip[:struct.unpack_from("!H", ip, 2)[0]])
        if match(seen):
            return seen
    raise TimeoutError("segment not seen on lo")


def _inject(sniffer, ip):
    sniffer.send(bytes(12) + b"\x08\x00" + ip)   # a zero Ethernet header, as lo uses


TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20


def _tcp_packet(src, dst, sport, dport, seq, ack, flags, window, options=b"", payload=b"",
                ttl=64, ip_id=0, checksum_xor=0):
    """An IPv4 packet (DF, no IP options) carrying one TCP segment with correct IPv4 and TCP
    checksums, unless checksum_xor spoils the TCP one on purpose."""
    assert len(options) % 4 == 0
    tcp = bytearray(struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (5 + len(options) // 4) << 4,
                                flags, window, 0, 0) + options + payload)
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp[16:18] = struct.pack("!H", _checksum(pseudo + bytes(tcp)) ^ checksum_xor)
    header = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id, 0x4000, ttl,
                                   socket.IPPROTO_TCP, 0, src, dst))
    header[10:12] = struct.pack("!H", _checksum(bytes(header)))
    return bytes(header) + bytes(tcp)


def _inject_after_request(port, host, forge):
    """A real client and server; once the client's `GET /safe` segment is on `lo`, the client
    process injects (AF_PACKET) the IPv4 packets `forge(ip)` makes from that segment's packet.
    The server must read `GET /safe` only: the receiving kernel drops what was forged."""
    assert ":" not in host, "the forged packets are IPv4"
    original = plain_get(host, port, "/safe")
    sniffer = _lo_sniffer()
    injected = threading.Event()

    def server(s):
        head = s.read_head()
        assert head == original, head   # the kernel delivered the first copy only
        assert injected.wait(TIMEOUT), "no injection"
        time.sleep(0.1)                 # let the duplicate ACK go out first
        s.send(OK_RESPONSE)
        s.close_second()

    def client(c):
        try:
            c.send(original)
            seen = _sniff(sniffer, lambda p: p.dport == port and p.payload == original)
            for packet in forge(seen.ip):
                _inject(sniffer, packet)
        finally:
            injected.set()
        c.read_response()
        c.close_first()

    try:
        run_pair(port, host, server, client)
    finally:
        sniffer.close()


def tcp_overlap_conflict(port, host):
    """A real client and server; after the server has read `GET /safe`, the client process
    injects (AF_PACKET on lo) a copy of that segment, same sequence number and length,
    whose bytes say `GET /evil`. The receiving kernel drops it as a duplicate (and sends a
    duplicate ACK), so the server only ever sees /safe; a monitor that kept the second copy
    would see /evil. IPv4 only."""
    forged = plain_get(host, port, "/evil")
    _inject_after_request(port, host, lambda ip: [_forged_copy(ip, forged)])


def _overlapping_fragments(ip, overlap_bytes):
    """The IPv4 packet `ip` as two fragments (RFC 791 §3.2) that overlap by 8 bytes at the
    end of the first: the second fragment carries `overlap_bytes` (8) there instead."""
    ihl = (ip[0] & 0x0F) * 4
    header, data = bytearray(ip[:ihl]), ip[ihl:]
    split = 48                                   # the first fragment: data[0:48], MF set
    assert len(data) > split and len(overlap_bytes) == 8

    def fragment(offset, chunk, more):
        h = bytearray(header)
        h[2:4] = struct.pack("!H", ihl + len(chunk))
        h[6:8] = struct.pack("!H", (0x2000 if more else 0) | offset // 8)
        h[10:12] = b"\x00\x00"
        h[10:12] = struct.pack("!H", _checksum(bytes(h)))
        return bytes(h) + chunk

    first = fragment(0, data[:split], True)
    second = fragment(split - 8, overlap_bytes + data[split:], False)
    return first, second


def ip_fragment_overlap_conflict(port, host):
    """As `tcp_overlap_conflict`, but the `GET /evil` copy is sent as two IPv4 fragments
    that overlap by 8 bytes with different contents. The receiving kernel discards the whole
    datagram (Linux since 4.19, as RFC 5722 asks for IPv6), so the server only ever sees
    /safe. IPv4 only."""
    forged = plain_get(host, port, "/evil")
    _inject_after_request(port, host, lambda ip: _overlapping_fragments(_forged_copy(ip, forged), b"XXXXXXXX"))


# ---------------------------------------------------------------- WebSocket handshake rule breakers

def _ws_echo_after(port, host, request, reply):
    """The client sends `request`, the server answers `reply` (a 101), then one masked
    text frame is echoed and the client closes (a fresh mask key per client frame)."""
    def server(s):
        s.read_head()
        s.send(reply)
        ws_server_session(s)

    def client(c):
        c.send(request)
        head = c.read_head()
        assert head.startswith(b"HTTP/1.1 101"), head
        ws_client_session(c, close_mask=MASK2)

    run_pair(port, host, server, client)


def _ws_client_fails_after(port, host, request, reply):
    """The server answers `reply` (a 101 the client must not accept); the client fails the
    connection (RFC 6455 §4.1) by closing TCP without sending a frame."""
    def server(s):
        s.read_head()
        s.send(reply)
        s.close_second()

    def client(c):
        c.send(request)
        c.read_head()
        c.close_first()

    run_pair(port, host, server, client)


def websocket_missing_key(port, host):
    reply = response("HTTP/1.1 101 Switching Protocols",
                     ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Accept: {ws_accept('')}"])
    _ws_echo_after(port, host, ws_request(host, port, key=None), reply)


def websocket_bad_key(port, host):
    key = base64.b64encode(b"the sample").decode("ascii")   # 10 bytes, not 16: dGhlIHNhbXBsZQ==
    reply = response("HTTP/1.1 101 Switching Protocols",
                     ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Accept: {ws_accept(key)}"])
    _ws_echo_after(port, host, ws_request(host, port, key=key), reply)


def websocket_duplicate_header(port, host):
    request = ws_request(host, port, extra=[f"Sec-WebSocket-Key: {WS_OTHER_KEY}"])
    _ws_echo_after(port, host, request, WS_101)   # the server used the first key


def websocket_subprotocol_not_offered(port, host):
    request = ws_request(host, port, extra=["Sec-WebSocket-Protocol: superchat"])
    reply = WS_101.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Protocol: chat\r\n\r\n")
    _ws_client_fails_after(port, host, request, reply)


def websocket_extension_not_offered(port, host):
    reply = WS_101.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    _ws_client_fails_after(port, host, ws_request(host, port), reply)


# ---------------------------------------------------------------- WebSocket frame rule breakers

def _ws_server_rejects_fresh_mask(port, host, client_frame, code, extra=(), reply=WS_101):
    """As _ws_server_rejects, but the client's close uses a second mask key; `extra` request
    header lines and the 101 `reply` can be given (permessage-deflate)."""
    def server(s):
        s.read_head()
        s.send(reply)
        s.read_exact(len(client_frame))
        ws_server_fail(s, code)

    def client(c):
        c.send(ws_request(host, port, extra=extra))
        c.read_head()
        c.send(client_frame)
        ws_client_answer_fail(c, mask=MASK2)

    run_pair(port, host, server, client)


def websocket_rsv_without_extension(port, host):
    _ws_server_rejects_fresh_mask(port, host, ws_frame(0x1, b"hello", MASK, rsv=0b100), 1002)


# permessage-deflate offered and accepted bare.
DEFLATE_OFFER = ["Sec-WebSocket-Extensions: permessage-deflate"]
WS_101_DEFLATE = WS_101.replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")


def websocket_inflate_failed(port, host):
    # RSV1 text frame whose payload 0xff 0xff starts a block of type 3 (reserved, RFC 1951
    # §3.2.3); the server closes with 1007 (invalid frame payload data) as Python websockets does.
    _ws_server_rejects_fresh_mask(port, host, ws_frame(0x1, b"\xff\xff", MASK, rsv=0b100), 1007,
                                  DEFLATE_OFFER, WS_101_DEFLATE)


def websocket_decompression_bomb(port, host):
    # 9 MiB of zeros, compressed by zlib (raw, sync flush, tail removed: RFC 7692 §7.2.1), about
    # 9 KB on the wire; the server closes with 1009 (message too big).
    import zlib
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = compressor.compress(bytes(9 << 20)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert payload.endswith(b"\x00\x00\xff\xff")
    _ws_server_rejects_fresh_mask(port, host, ws_frame(0x1, payload[:-4], MASK, rsv=0b100), 1009,
                                  DEFLATE_OFFER, WS_101_DEFLATE)


def websocket_non_minimal_length(port, host):
    _ws_server_rejects_fresh_mask(port, host, ws_frame(0x1, b"hello", MASK, length16=True), 1002)


def websocket_bad_fragmentation(port, host):
    _ws_server_rejects_fresh_mask(port, host, ws_frame(0x0, b"hello", MASK), 1002)   # continuation, nothing to continue


def websocket_bad_control_frame(port, host):
    """The server sends a ping with 126 payload bytes (control frames carry at most 125,
    RFC 6455 §5.5); the client fails the connection with close 1002."""
    def server(s):
        s.read_head()
        s.send(WS_101)
        s.send(ws_frame(0x9, bytes(range(126))))
        opcode, payload, _ = s.read_ws_frame()
        assert opcode == 0x8, opcode
        s.send(ws_frame(0x8, payload[:2]))
        s.close_first()

    def client(c):
        c.send(ws_request(host, port))
        c.read_head()
        opcode, payload, _ = c.read_ws_frame()
        assert (opcode, len(payload)) == (0x9, 126), (opcode, len(payload))
        ws_client_close(c, 1002)

    run_pair(port, host, server, client)


# ---------------------------------------------------------------- h2c / HTTP/2 rule breakers

def h2c_missing_client_preface(port, host):
    """After the 101 the client sends a wrong connection magic (FOO/BAR in place of the
    PRI/SM of RFC 9113 §3.4) and a SETTINGS frame. Unrecognisable bytes, not HTTP/1.1 text:
    Switchyard calls HTTP/1.1 text after an h2c 101 switch_protocol_mismatch instead."""
    wrong_preface = b"FOO * HTTP/2.0\r\n\r\nBAR\r\n\r\n"
    goaway = h2_frame(7, 0, 0, struct.pack("!II", 1, 1))   # last stream 1, PROTOCOL_ERROR

    def server(s):
        s.read_head()
        s.send(H2C_101 + H2_SETTINGS)
        got = s.read_exact(len(wrong_preface) + len(H2_SETTINGS))
        assert not got.startswith(H2_PREFACE), got
        s.send(goaway)                  # RFC 9113 §3.4: connection error PROTOCOL_ERROR
        s.close_first()

    def client(c):
        c.send(h2c_request(host, port))
        c.read_head()
        c.send(wrong_preface + H2_SETTINGS)
        ftype, _, _, _ = c.read_h2_frame()
        assert ftype == 4, ftype
        ftype, _, _, _ = c.read_h2_frame()
        assert ftype == 7, ftype
        c.close_second()

    run_pair(port, host, server, client)


def h2c_server_first_frame_not_settings(port, host):
    def server(s):
        s.read_head()
        s.send(H2C_101)
        s.send(h2_frame(6, 0, 0, b"switchyd"))   # PING before the SETTINGS preface
        h2_server_session(s)

    def client(c):
        c.send(h2c_request(host, port))
        c.read_head()
        h2_client_session(c)

    run_pair(port, host, server, client)


def http2_status_101(port, host):
    # HPACK (RFC 7541 §6.2.2): literal without indexing, name = static index 8 (:status),
    # value "101" (3 bytes, no Huffman). HEADERS with END_HEADERS only: it is an interim
    # response, so the stream ends with a normal :status 200 (0x88).
    interim = h2_frame(1, 0x04, 1, b"\x08\x03101")
    _h2c_answer(port, host, interim + H2_RESPONSE_200)


def http2_connection_specific_header(port, host):
    # ":status: 200" (static index 8) plus "connection: keep-alive" as a literal without
    # indexing with a new name (RFC 7541 §6.2.2), no Huffman.
    block = b"\x88" + b"\x00\x0aconnection" + b"\x0akeep-alive"
    _h2c_answer(port, host, h2_frame(1, 0x05, 1, block))


def _h2c_answer(port, host, frames):
    """A correct h2c upgrade whose stream-1 response is `frames`."""
    def server(s):
        s.read_head()
        s.send(H2C_101)
        h2_server_session(s, response=frames)

    def client(c):
        c.send(h2c_request(host, port))
        c.read_head()
        h2_client_session(c)

    run_pair(port, host, server, client)


# ---------------------------------------------------------------- Docker

def docker_bad_stream_header(port, host):
    """Docker attach, multiplexed, but the stderr frame's header says stream 7."""
    _docker_attach(port, host, "application/vnd.docker.multiplexed-stream", multiplexed=True, stderr_stream=7)


# ---------------------------------------------------------------- MASQUE CONNECT-UDP (RFC 9298)
#
# No CONNECT-UDP over HTTP/1.1 implementation is packaged in Debian or on PyPI (aioquic
# implements QUIC and HTTP/3 only), so both ends are written here after RFC 9298 §3.2, §3.3 and
# RFC 9297 §3: a client that sends UDP payloads in DATAGRAM capsules (Context ID 0) and a proxy
# that really forwards them over a UDP socket to an echo server on 127.0.0.1 and wraps the
# replies in DATAGRAM capsules. Only the HTTP connection is captured (`tcp port`).

def varint(value, length=None):
    """A QUIC variable-length integer (RFC 9000 §16), shortest unless `length` is given."""
    length = length or (1 if value < 1 << 6 else 2 if value < 1 << 14 else 4 if value < 1 << 30 else 8)
    prefix = {1: 0x00, 2: 0x40, 4: 0x80, 8: 0xC0}[length]
    raw = bytearray(value.to_bytes(length, "big"))
    raw[0] |= prefix
    return bytes(raw)


def capsule(ctype, value):
    return varint(ctype) + varint(len(value)) + value


def udp_datagram(payload, context=0):
    """A DATAGRAM capsule (RFC 9297 §3.5) carrying a UDP payload (RFC 9298 §5)."""
    return capsule(0x00, varint(context) + payload)


def read_varint(conn):
    first = conn.read_exact(1)[0]
    length = 1 << (first >> 6)
    value = first & 0x3F
    for byte in conn.read_exact(length - 1):
        value = value << 8 | byte
    return value


def read_capsule(conn):
    """(type, value) of the next capsule; EOFError at the end of the stream."""
    ctype = read_varint(conn)
    return ctype, conn.read_exact(read_varint(conn))


def split_varint(data):
    length = 1 << (data[0] >> 6)
    value = data[0] & 0x3F
    for byte in data[1:length]:
        value = value << 8 | byte
    return value, data[length:]


@contextlib.contextmanager
def udp_echo_server(host="127.0.0.1"):
    """A UDP echo target (RFC 862 style) in a thread; yields its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except socket.timeout:
                continue
            sock.sendto(data, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def connect_udp_request(host, port, target_path, capsule_protocol=True):
    lines = [f"GET {target_path} HTTP/1.1", f"Host: {authority(host, port)}", "Connection: Upgrade",
             "Upgrade: connect-udp"]
    if capsule_protocol:
        lines.append("Capsule-Protocol: ?1")
    return ("\r\n".join(lines + ["", ""])).encode("ascii")


CONNECT_UDP_101 = response("HTTP/1.1 101 Switching Protocols",
                           ["Connection: Upgrade", "Upgrade: connect-udp", "Capsule-Protocol: ?1"])
UDP_PAYLOADS = [b"ping 1", b"second datagram", b"\x00\x01binary\xff"]


def _connect_udp_proxy(s, udp_port, response_head=CONNECT_UDP_101):
    """The proxy side: read the request, open a connected UDP socket to the target the path
    names, answer 101, then relay DATAGRAM capsules both ways until the client's FIN. A
    malformed DATAGRAM (no whole Context ID) aborts relaying, as RFC 9297 §3.3 requires;
    capsules of other types are skipped (RFC 9297 §3.2)."""
    head = s.read_head()
    path = head.split(b" ")[1].decode()
    parts = path.split("/.well-known/masque/udp/", 1)[1].split("/")
    assert parts[0] == "127.0.0.1" and int(parts[1]) == udp_port, path
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.settimeout(TIMEOUT)
    udp.connect(("127.0.0.1", udp_port))
    s.send(response_head)
    try:
        while True:
            try:
                ctype, value = read_capsule(s)
            except EOFError:
                break
            if ctype != 0x00:
                continue
            if not value:
                break   # malformed: stop relaying, wait for the client's end
            context, payload = split_varint(value)
            if context != 0:
                continue   # unknown Context ID: dropped (RFC 9298 §4)
            udp.send(payload)
            s.send(udp_datagram(udp.recv(65535)))
    finally:
        udp.close()
    s.close_second()


def _connect_udp_client(c, payloads, extra=b""):
    head = c.read_head()
    assert head.startswith(b"HTTP/1.1 101"), head
    for payload in payloads:
        c.send(udp_datagram(payload))
        ctype, value = read_capsule(c)
        assert ctype == 0 and split_varint(value) == (0, payload), (ctype, value)
    if extra:
        c.send(extra)
    c.close_first()


def connect_udp_echo(port, host):
    """A well-behaved exchange: three UDP payloads to the echo target and back, a reserved
    capsule type (0x29 * 1 + 0x17, RFC 9297 §5.4) that the proxy skips."""
    with udp_echo_server() as udp_port:
        path = f"/.well-known/masque/udp/127.0.0.1/{udp_port}/"

        def client(c):
            c.send(connect_udp_request(host, port, path))
            head = c.read_head()
            assert head.startswith(b"HTTP/1.1 101"), head
            for i, payload in enumerate(UDP_PAYLOADS):
                if i == 1:
                    c.send(capsule(0x40, b"grease"))
                c.send(udp_datagram(payload))
                ctype, value = read_capsule(c)
                assert ctype == 0 and split_varint(value) == (0, payload), (ctype, value)
            c.close_first()

        run_pair(port, host, lambda s: _connect_udp_proxy(s, udp_port), client)


def connect_udp_not_capsules(port, host):
    """The proxy answers 101, then, having failed to reach the target, an HTTP 502 instead of
    capsules; the client's capsules go unanswered."""
    with udp_echo_server() as udp_port:
        path = f"/.well-known/masque/udp/127.0.0.1/{udp_port}/"

        def server(s):
            s.read_head()
            s.send(CONNECT_UDP_101)
            s.read_exact(len(udp_datagram(UDP_PAYLOADS[0])))
            s.send(response("HTTP/1.1 502 Bad Gateway", ["Content-Length: 11", "Content-Type: text/plain"], b"bad gateway"))
            s.close_first()

        def client(c):
            c.send(connect_udp_request(host, port, path))
            head = c.read_head()
            assert head.startswith(b"HTTP/1.1 101"), head
            c.send(udp_datagram(UDP_PAYLOADS[0]))
            c.close_second()

        run_pair(port, host, server, client)


def connect_udp_capsule_malformed(port, host):
    """After one echoed datagram the client sends a DATAGRAM with a Context ID nothing
    registered, an empty DATAGRAM (no Context ID), and ends its stream inside a capsule."""
    with udp_echo_server() as udp_port:
        path = f"/.well-known/masque/udp/127.0.0.1/{udp_port}/"
        extra = (udp_datagram(b"unregistered", context=2) + capsule(0x00, b"")
                 + udp_datagram(b"cut short")[:-4])

        def client(c):
            c.send(connect_udp_request(host, port, path))
            _connect_udp_client(c, UDP_PAYLOADS[:1], extra)

        run_pair(port, host, lambda s: _connect_udp_proxy(s, udp_port), client)


def connect_udp_handshake_malformed(port, host):
    """A lenient proxy switches on a request whose path lacks the default template's trailing
    slash and that, like its 101, has no Capsule-Protocol: ?1; the 101 carries a Content-Type,
    which no message starting the Capsule Protocol may (RFC 9297 §3.2)."""
    with udp_echo_server() as udp_port:
        path = f"/.well-known/masque/udp/127.0.0.1/{udp_port}"
        head_101 = response("HTTP/1.1 101 Switching Protocols",
                            ["Connection: Upgrade", "Upgrade: connect-udp", "Content-Type: application/octet-stream"])

        def client(c):
            c.send(connect_udp_request(host, port, path, capsule_protocol=False))
            _connect_udp_client(c, UDP_PAYLOADS[:1])

        run_pair(port, host, lambda s: _connect_udp_proxy(s, udp_port, head_101), client)


# ---------------------------------------------------------------- TCP: what the receiving host believed
#
# Real peers doing a WebSocket upgrade, one echoed frame and the close handshake; where a packet
# is forged, the peer process injects it through AF_PACKET on lo at a real sequence number it
# has just seen, and the capture holds the receiving kernel's real reaction. IPv4 only.

FAKE_200 = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


@contextlib.contextmanager
def _sysctl(name, value):
    path = "/proc/sys/" + name.replace(".", "/")
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write(str(value))
    try:
        yield
    finally:
        with open(path, "w") as f:
            f.write(old)


@contextlib.contextmanager
def _lo_routes_injected_packets():
    """Let lo's input routing take packets we inject. A packet the kernel itself sends over lo
    keeps its route; an AF_PACKET-injected one has none, and the input lookup refuses
    127.0.0.0/8 addresses arriving from outside (drop reasons IP_LOCALNET, IP_LOCAL_SOURCE,
    seen with the skb:kfree_skb tracepoint) before TCP ever sees them, unless the receiving
    socket's early demux supplies a cached route. With route_localnet and accept_local on lo
    (restored afterwards) the injected packet reaches TCP, which then judges it as it would
    any other: that judgement is what the capture must show."""
    with _sysctl("net.ipv4.conf.lo.route_localnet", 1), _sysctl("net.ipv4.conf.lo.accept_local", 1):
        yield



def _ws_session_pair(port, host, request=None, after_request=None, after_101=None, client_send=None,
                     listener_options=(), connect=None):
    """A correct WebSocket upgrade, one echoed text frame, client-initiated close. Hooks:
    after_request(s, head) runs in the server before its 101, after_101(s) after it;
    client_send(c, request) replaces the client's plain send of its request. The client
    sends its frame only once the server's hooks are done."""
    request = request or ws_request(host, port)
    hooks_done = threading.Event()

    def server(s):
        try:
            head = s.read_head()
            assert head == request, head
            if after_request:
                after_request(s, head)
            s.send(WS_101)
            if after_101:
                after_101(s)
        finally:
            hooks_done.set()
        ws_server_session(s)

    def client(c):
        (client_send or Conn.send)(c, request)
        head = c.read_head()
        assert head.startswith(b"HTTP/1.1 101"), head
        assert hooks_done.wait(TIMEOUT), "server hooks did not finish"
        ws_client_session(c, close_mask=MASK2)

    run_pair(port, host, server, client, listener_options=listener_options, connect=connect)


def _server_to_client(sniffer, port, request):
    """(seen request segment, the server's next sequence number): the request's ACK field is
    the server's SND.NXT before it answers."""
    seen = _sniff(sniffer, lambda p: p.dport == port and p.payload == request)
    return seen, seen.ack


def _reply_packet(seen, seq, flags, payload=b"", **kw):
    """A server→client packet answering the client segment `seen` (ports and addresses swapped)."""
    return _tcp_packet(seen.dst, seen.src, seen.dport, seen.sport, seq, (seen.seq + len(seen.payload)) & 0xFFFFFFFF,
                       flags, 512, payload=payload, **kw)


def tcp_bad_checksum_fake_response(port, host):
    """Before its real 101, the server process injects, at its own next sequence number, a
    `200 OK` whose TCP checksum is the correct one XOR 0x5a5a (not the offload pattern). The
    client's kernel drops it (TcpInCsumErrors); the real 101 then takes those sequence numbers."""
    request = ws_request(host, port)
    sniffer = _lo_sniffer()

    def forge_200(s, head):
        seen, seq = _server_to_client(sniffer, port, request)
        _inject(sniffer, _reply_packet(seen, seq, TCP_PSH | TCP_ACK, FAKE_200, checksum_xor=0x5A5A))
        time.sleep(0.1)

    try:
        with _lo_routes_injected_packets():
            _ws_session_pair(port, host, request, after_request=forge_200)
    finally:
        sniffer.close()


def tcp_low_ttl_data(port, host):
    """Before its real 101, the server process injects, at its own next sequence number, a
    `200 OK` with IP TTL 1 and a correct checksum; the drop rule on lo stops it after tcpdump saw
    it, as the last router before the client would (the insertion attack of Ptacek and Newsham).
    The real 101 then takes those sequence numbers, with the usual TTL."""
    request = ws_request(host, port)
    sniffer = _lo_sniffer()

    def forge_200(s, head):
        seen, seq = _server_to_client(sniffer, port, request)
        _inject(sniffer, _reply_packet(seen, seq, TCP_PSH | TCP_ACK, FAKE_200, ttl=1))
        time.sleep(0.1)

    try:
        with dropping_ttl1_on_lo(), _lo_routes_injected_packets():
            _ws_session_pair(port, host, request, after_request=forge_200)
    finally:
        sniffer.close()


def tcp_rst_ignored(port, host):
    """After its 101, the server process injects two RSTs toward the client: one in the
    window but 1000 past RCV.NXT (the client's kernel sends a challenge ACK, RFC 5961 §3.2),
    one 2^30 past it, far outside the window (dropped silently). The session goes on."""
    request = ws_request(host, port)
    sniffer = _lo_sniffer()

    def forge_resets(s):
        seen, seq = _server_to_client(sniffer, port, request)
        nxt = (seq + len(WS_101)) & 0xFFFFFFFF
        for offset in (1000, 1 << 30):
            _inject(sniffer, _reply_packet(seen, (nxt + offset) & 0xFFFFFFFF, TCP_RST | TCP_ACK))
            time.sleep(0.1)   # the challenge ACK (first RST only) goes out before anything else

    try:
        with _lo_routes_injected_packets():
            _ws_session_pair(port, host, request, after_101=forge_resets)
    finally:
        sniffer.close()


@contextlib.contextmanager
def dropping_ttl1_on_lo():
    """Drop IPv4 packets with TTL 1 arriving on lo, after tcpdump's tap has seen them (the
    packet taps run before tc ingress and netfilter's PREROUTING). tc ingress + u32 + gact
    first; where the kernel lacks the tc action module, nftables at raw PREROUTING. Always
    removed on the way out. Only our forged/steered packets carry TTL 1 on lo."""
    def run(*cmd):
        return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    if shutil.which("tc") and run("tc", "qdisc", "add", "dev", "lo", "ingress"):
        if run("tc", "filter", "add", "dev", "lo", "parent", "ffff:", "protocol", "ip", "u32",
               "match", "u8", "1", "0xff", "at", "8", "action", "drop"):
            try:
                yield "tc"
            finally:
                run("tc", "qdisc", "del", "dev", "lo", "ingress")
            return
        run("tc", "qdisc", "del", "dev", "lo", "ingress")
    if not shutil.which("nft"):
        raise RuntimeError("cannot drop TTL-1 packets on lo: tc's drop action is unavailable and nft "
                           "is not installed (apt-get install nftables)")
    table = "switchyard_captures"
    if not (run("nft", "add", "table", "ip", table)
            and run("nft", "add", "chain", "ip", table, "pre",
                    "{ type filter hook prerouting priority raw; }")
            and run("nft", "add", "rule", "ip", table, "pre", "iif", "lo", "ip", "ttl", "1", "drop")):
        run("nft", "delete", "table", "ip", table)
        raise RuntimeError("nft could not install the TTL-1 drop rule on lo")
    try:
        yield "nft"
    finally:
        run("nft", "delete", "table", "ip", table)


def tcp_rst_not_honoured(port, host):
    """After its 101, the server process injects an RST at exactly the client's RCV.NXT, with
    IP TTL 1; a drop rule on lo (tc ingress or nft raw PREROUTING) stops it after tcpdump has
    seen it, as a router would have dropped a TTL-1 packet before the client. The client never
    gets it, so the session goes on and the server keeps sending."""
    request = ws_request(host, port)
    sniffer = _lo_sniffer()

    def forge_reset(s):
        seen, seq = _server_to_client(sniffer, port, request)
        _inject(sniffer, _reply_packet(seen, (seq + len(WS_101)) & 0xFFFFFFFF, TCP_RST | TCP_ACK, ttl=1))
        time.sleep(0.1)

    try:
        with dropping_ttl1_on_lo(), _lo_routes_injected_packets():
            _ws_session_pair(port, host, request, after_101=forge_reset)
    finally:
        sniffer.close()


def tcp_fin_not_honoured(port, host):
    """After its 101, the server process injects a FIN,ACK at exactly the client's RCV.NXT, with
    IP TTL 1, dropped on lo after tcpdump has seen it (as tcp_rst_not_honoured does). The client
    never gets it: the server's echo then takes the FIN's sequence number, and the client's ACK
    covers the echo, past the FIN: a monitor that ended the stream at the FIN misses the rest."""
    request = ws_request(host, port)
    sniffer = _lo_sniffer()

    def forge_fin(s):
        seen, seq = _server_to_client(sniffer, port, request)
        _inject(sniffer, _reply_packet(seen, (seq + len(WS_101)) & 0xFFFFFFFF, TCP_FIN | TCP_ACK, ttl=1))
        time.sleep(0.1)

    try:
        with dropping_ttl1_on_lo(), _lo_routes_injected_packets():
            _ws_session_pair(port, host, request, after_101=forge_fin)
    finally:
        sniffer.close()


def tcp_urgent_data(port, host):
    """No crafting: the client sends its request line in pieces with one byte `X` sent as
    urgent data (MSG_OOB) in the middle of it. The server reads with plain recv (no
    SO_OOBINLINE), so its stream never holds the X and it answers 101."""
    request = ws_request(host, port)
    cut = request.index(b"/chat") + 3     # GET /ch | X | at HTTP/1.1 ...

    def send_with_urgent_byte(c, data):
        c.send(data[:cut])
        time.sleep(0.05)
        c.sock.send(b"X", socket.MSG_OOB)
        time.sleep(0.05)
        c.send(data[cut:])

    _ws_session_pair(port, host, request, client_send=send_with_urgent_byte)


def tcp_syn_data_not_acknowledged(port, host):
    """The client connects normally to a server whose listener uses TCP_DEFER_ACCEPT (as
    nginx's `deferred` does), so the server side stays in SYN-RECEIVED after the bare ACK.
    The client process sniffs its own SYN and injects a copy (same ISN, ports, options,
    timestamps) carrying `GET /evil HTTP/1.1\\r\\n`. The server's kernel takes it for a
    retransmitted SYN: it sends the SYN-ACK again, acknowledging ISN+1 only, and keeps none
    of the data. The client then sends its real request, `GET /chat ...`."""
    request = ws_request(host, port)
    sniffer = _lo_sniffer()

    def connect_then_forge(h, p):
        sock = socket.create_connection((h, p), timeout=TIMEOUT)
        syn = _sniff(sniffer, lambda s: s.dport == port and s.flags == TCP_SYN)
        _inject(sniffer, _tcp_packet(syn.src, syn.dst, syn.sport, syn.dport, syn.seq, 0, TCP_SYN, syn.window,
                                     syn.options, b"GET /evil HTTP/1.1\r\n", ip_id=(syn.ip_id + 1) & 0xFFFF))
        time.sleep(0.1)   # the second SYN-ACK and the client's ACK to it
        return sock

    try:
        with _lo_routes_injected_packets():
            _ws_session_pair(port, host, request, connect=connect_then_forge,
                             listener_options=[(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5)])
    finally:
        sniffer.close()


def tcp_fastopen_fallback(port, host):
    """Negative control: a real Linux TCP Fast Open client (net.ipv4.tcp_fastopen = 5, client
    enabled without a cookie, restored afterwards) sends its request in the SYN with sendto
    (MSG_FASTOPEN) to a server without TFO; the SYN-ACK acknowledges only the SYN and the
    client's kernel sends the same bytes again after the handshake."""
    request = ws_request(host, port)

    def fastopen_connect(h, p):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.sendto(request, socket.MSG_FASTOPEN, (h, p))   # blocking: returns once connected
        return sock

    with _sysctl("net.ipv4.tcp_fastopen", 0x1 | 0x4):
        _ws_session_pair(port, host, request, connect=fastopen_connect, client_send=lambda c, data: None)


def tcp_retransmissions_and_probes(port, host):
    """Negative control: ordinary traffic in which the kernels themselves retransmit and
    probe. The server sends its 101 with IP_TTL 1 so the TTL-1 drop rule on lo (see
    dropping_ttl1_on_lo) loses it after tcpdump saw it; the TTL goes back to 64 and the
    server's kernel retransmits the 101 on its timer. The server's receive buffer is small
    and it stops reading while the client sends a 6000-byte message: the window closes and the
    client's kernel sends zero-window probes until the server reads. After the echo the client
    idles with keep-alive on (1 s), so its kernel sends a keep-alive probe."""
    request = ws_request(host, port)
    message = bytes(range(32, 127)) * 63 + b"!!!"     # 6000 bytes of text

    def lose_101(s):
        s.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
        s.send(WS_101)
        time.sleep(0.05)
        s.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 64)

    def server(s):
        head = s.read_head()
        assert head == request, head
        lose_101(s)
        time.sleep(1.5)                   # not reading: the client meets a zero window
        opcode, payload, _ = s.read_ws_frame()
        assert (opcode, payload) == (0x1, message)
        s.send(ws_frame(0x1, payload))
        ws_server_session(s)

    def client(c):
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        c.send(request)
        head = c.read_head()
        assert head.startswith(b"HTTP/1.1 101"), head
        c.send(ws_frame(0x1, message, MASK))
        opcode, payload, _ = c.read_ws_frame()
        assert (opcode, payload) == (0x1, message)
        time.sleep(1.6)                   # idle: one keep-alive probe
        ws_client_close(c, mask=MASK2)

    with dropping_ttl1_on_lo():
        run_pair(port, host, server, client, listener_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)])


# ---------------------------------------------------------------- odd responses to real clients
# A raw server answers a real client's WebSocket upgrade request with a 101 that deviates in one
# way (the cases of client_acceptance.py); the client is the real program, here curl or
# Python's http.client, so the capture shows what a client that took the response received.

CURL_WS_HEADERS = ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
                   f"Sec-WebSocket-Key: {WS_KEY}"]
WS_FIELDS = ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Accept: {ws_accept(WS_KEY)}"]


def run_server_with_client(port, host, server_fn, client_fn):
    """Like run_pair, but the client is a real program started by `client_fn(url)`."""
    run_with_server(port, host, server_fn, lambda: client_fn(f"http://{authority(host, port)}/chat"))


def curl_client(expect_code):
    """curl with the WebSocket upgrade headers; checks the status code curl reports ("000":
    curl rejected the response)."""
    def run(url):
        import subprocess
        args = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"]
        for header in CURL_WS_HEADERS:
            args += ["-H", header]
        done = subprocess.run(args + [url], capture_output=True, text=True, timeout=15)
        if done.stdout.strip() != expect_code:
            raise RuntimeError(f"curl reported {done.stdout!r} ({done.stderr.strip()}), expected {expect_code}")
    return run


def http_client_client(expect_status):
    """Python's http.client with the WebSocket upgrade headers; checks the status it reports."""
    def run(url):
        import http.client
        import urllib.parse
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
        conn.request("GET", parts.path, headers=dict(h.split(": ", 1) for h in CURL_WS_HEADERS))
        status = conn.getresponse().status
        conn.sock.shutdown(socket.SHUT_WR)
        while conn.sock.recv(65536):
            pass
        conn.close()
        if status != expect_status:
            raise RuntimeError(f"http.client reported {status}, expected {expect_status}")
    return run


def _odd_101(port, host, head, client):
    def server(s):
        s.read_head()
        s.send(head)
        s.close_first()   # the client reads a 101's aftermath until our FIN

    run_server_with_client(port, host, server, client)


def _ws_101(status_line="HTTP/1.1 101 Switching Protocols", before=(), fields=WS_FIELDS):
    return response(status_line, [*before, *fields])


def http_lenient_version(port, host):
    _odd_101(port, host, _ws_101("HTTP/2.0 101 Switching Protocols"), curl_client("101"))


def http_status_line_whitespace(port, host):
    _odd_101(port, host, _ws_101("HTTP/1.1  101 Switching Protocols"), curl_client("101"))


def http_lenient_status_code(port, host):
    _odd_101(port, host, _ws_101("HTTP/1.1 101x Switching Protocols"), curl_client("101"))


def http_lenient_status_code_zeros(port, host):
    _odd_101(port, host, _ws_101("HTTP/1.1 0101 Switching Protocols"), http_client_client(101))


def http_header_line_without_colon(port, host):
    _odd_101(port, host, _ws_101(before=["X-No-Colon"]), curl_client("101"))


def http_invalid_field_name(port, host):
    _odd_101(port, host, _ws_101(before=["X Bad: 1"]), curl_client("101"))


def http_not_http(port, host):
    """A two-digit status code: no client measured by client_acceptance.py takes it."""
    _odd_101(port, host, _ws_101("HTTP/1.1 10 Switching Protocols"), curl_client("000"))


def http_101_empty_upgrade(port, host):
    fields = ["Upgrade:", "Connection: Upgrade", f"Sec-WebSocket-Accept: {ws_accept(WS_KEY)}"]
    _odd_101(port, host, _ws_101(fields=fields), curl_client("101"))


# ---------------------------------------------------------------- limits that cut analysis short

def analyzer_limit_held_bytes(port, host):
    """The client sends 70,000 bytes of WebSocket frames right after its upgrade request (an
    optimistic client); the server answers 101 only once they are all in, then echoes nothing
    and closes. More than Switchyard's 64 KiB upgrade_held_bytes."""
    frames = b"".join(ws_frame(0x2, bytes(7000), MASK if i % 2 == 0 else MASK2) for i in range(10))

    def server(s):
        s.read_head()
        s.read_exact(len(frames))
        s.send(WS_101)
        s.close_second()

    def client(c):
        c.send(ws_request(host, port))
        c.send(frames)
        c.read_head()
        c.close_first()

    run_pair(port, host, server, client)


def http_101_after_head_limit(port, host):
    """An upgrade request whose head (a 70,000-byte Cookie) is over Switchyard's 64 KiB
    http_max_head_bytes; the server answers 101 anyway. The request was sent, only not read by
    Switchyard: no http_101_without_request."""
    cookie = "Cookie: session=" + "x" * 70_000

    def server(s):
        s.read_head()
        s.send(WS_101)
        s.close_second()

    def client(c):
        c.send(ws_request(host, port, extra=[cookie]))
        c.read_head()
        c.close_first()

    run_pair(port, host, server, client)


# ---------------------------------------------------------------- prior-knowledge HTTP/2, preface cut small

def http2_prior_knowledge_segmented(port, host):
    """nghttpd (prior knowledge, --no-tls) is the real server; the raw client sends the
    connection preface 8 bytes per TCP segment (TCP_NODELAY, a pause between writes), then
    SETTINGS, a GET / on stream 1, and GOAWAY once the response ended."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        with open(f"{root}/index.html", "w") as page:
            page.write("<p>hello</p>\n")
        server = subprocess.Popen(["nghttpd", "--no-tls", "-a", host, "-d", root, str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + TIMEOUT
            while True:
                with open("/proc/net/tcp") as table:
                    if any(line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"
                           for line in table.readlines()[1:]):
                        break
                if time.time() > deadline:
                    raise RuntimeError("nghttpd did not listen")
                time.sleep(0.05)
            c = Conn(socket.create_connection((host, port), timeout=TIMEOUT))
            for i in range(0, len(H2_PREFACE), 8):
                c.send(H2_PREFACE[i:i + 8])
                time.sleep(0.05)
            authority_value = authority(host, port).encode()
            block = b"\x82\x86\x84\x41" + bytes([len(authority_value)]) + authority_value
            c.send(H2_SETTINGS + h2_frame(1, 0x05, 1, block))   # GET / (END_STREAM | END_HEADERS)
            ended = False
            while not ended:
                ftype, flags, stream, _ = c.read_h2_frame()
                if ftype == 4 and not flags & 1:
                    c.send(H2_SETTINGS_ACK)
                ended = stream == 1 and flags & 0x01 and ftype in (0, 1)
            c.send(H2_GOAWAY)
            c.close_first()
        finally:
            server.terminate()
            server.wait(5)
