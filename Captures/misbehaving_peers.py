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
import hashlib
import socket
import struct
import threading
import time

TIMEOUT = 5.0

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="          # RFC 6455 §1.3 sample nonce
WS_OTHER_KEY = "x3JJHMbDL1EzLkh9GBhXDw=="    # RFC 6455 §4.2.1 example key (for the wrong accept)
MASK = bytes.fromhex("37fa213d")             # RFC 6455 §5.7 example masking key

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 §3.4
H2_SETTINGS_B64 = "AAMAAABkAAQCAAAAAAIAAAAA"      # what curl 7.88 sends in HTTP2-Settings


def ws_accept(key):
    """Sec-WebSocket-Accept for a key (RFC 6455 §4.2.2 item 5.4)."""
    digest = hashlib.sha1((key + WS_GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def ws_frame(opcode, payload=b"", mask=None, fin=True, rsv=0):
    """One WebSocket frame (RFC 6455 §5.2); mask=None sends it unmasked."""
    first = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    n = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if n < 126:
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


def run_pair(port, host, server_fn, client_fn):
    """Listen on (host, port), serve one connection in a thread, run the client here."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
        conn = Conn(socket.create_connection((host, port), timeout=TIMEOUT))
        try:
            client_fn(conn)
        finally:
            conn.sock.close()
    except Exception as exc:  # noqa: BLE001
        errors.append(("client", exc))
    thread.join(2 * TIMEOUT)
    lsock.close()
    if thread.is_alive():
        errors.append(("server", "did not finish"))
    if errors:
        raise RuntimeError(f"scenario failed: {errors!r}")


def authority(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---------------------------------------------------------------- message builders

def ws_request(host, port, path="/chat", version="HTTP/1.1", connection="Upgrade",
               upgrade="websocket", ws_version="13", key=WS_KEY):
    lines = [f"GET {path} {version}", f"Host: {authority(host, port)}"]
    if upgrade is not None:
        lines.append(f"Upgrade: {upgrade}")
    lines += [f"Connection: {connection}", f"Sec-WebSocket-Key: {key}",
              f"Sec-WebSocket-Version: {ws_version}", "", ""]
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

def ws_client_session(c, text=b"hello"):
    """Masked text frame, expect the echo, then the client-initiated close handshake."""
    c.send(ws_frame(0x1, text, MASK))
    opcode, payload, _ = c.read_ws_frame()
    assert (opcode, payload) == (0x1, text), (opcode, payload)
    ws_client_close(c)


def ws_client_close(c, code=1000):
    c.send(ws_frame(0x8, ws_close_body(code), MASK))
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


def ws_client_answer_fail(c):
    """Client side of a server-failed connection: echo the close code, then close."""
    opcode, payload, _ = c.read_ws_frame()
    assert opcode == 0x8, opcode
    c.send(ws_frame(0x8, payload[:2], MASK))
    c.close_first()


def h2_server_session(s, body_len=0):
    """After an h2c 101: server preface, read the rest of the HTTP/1.1 request body
    (RFC 7540 §3.2), the client preface and SETTINGS, answer stream 1, close."""
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
            s.send(H2_SETTINGS_ACK + H2_RESPONSE_200)
        elif ftype == 4:
            got_ack = True
    s.close_second()


def h2_client_session(c, body=b""):
    """After an h2c 101: the rest of the request body, client preface, SETTINGS,
    ACK the server's SETTINGS, wait for the stream-1 response, GOAWAY, close."""
    c.send(body + H2_PREFACE + H2_SETTINGS)
    got_response = got_ack = False
    while not (got_response and got_ack):
        ftype, flags, stream, _ = c.read_h2_frame()
        if ftype == 4 and not flags & 1:
            c.send(H2_SETTINGS_ACK)
        elif ftype == 4:
            got_ack = True
        elif ftype == 1 and stream == 1:
            got_response = True
    c.send(H2_GOAWAY)
    c.close_first()


# ---------------------------------------------------------------- well-behaved raw peers

def _docker_attach(port, host, content_type, multiplexed):
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
                    s.send(frame(2, b"cat: warning on stderr\n"))
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
                expected = frame(1, line) + (frame(2, b"cat: warning on stderr\n") if i == 0 else b"")
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
