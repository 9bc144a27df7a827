"""XMPP over HTTP for tests: a BOSH client (XEP-0124/0206) and a WebSocket
client (RFC 6455 framing, RFC 7395 XMPP subprotocol), each able to log in
with SASL PLAIN, bind, and exchange IQs, optionally as if behind a proxy
(an X-Forwarded-For header). Blocking sockets; every reply is parsed XML."""

import base64
import hashlib
import http.client
import os
import socket
import struct
import xml.etree.ElementTree as ET

from .xmpp import BIND_NS, CLIENT_NS, SASL_NS
from .xmlstream import STREAM_NS

HTTPBIND_NS = "http://jabber.org/protocol/httpbind"
XBOSH_NS = "urn:xmpp:xbosh"
FRAMING_NS = "urn:ietf:params:xml:ns:xmpp-framing"
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 20


def plain_token(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def _bind_request():
    return f"<iq type='set' id='bind' xmlns='{CLIENT_NS}'><bind xmlns='{BIND_NS}'/></iq>"


class BoshClient:
    """One HTTP request at a time: each carries our stanzas, and its
    response whatever the server had for us (it answers at once when it has
    data, else after `wait`)."""

    def __init__(self, host, port, forwarded_for=None, domain="localhost", path="/http-bind", headers=None,
                 preamble=b""):
        self.conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        if preamble:
            # A PROXY protocol header opens the one connection every
            # request then uses (keep-alive).
            self.conn.connect()
            self.conn.sock.sendall(preamble)
        self.domain, self.path = domain, path
        self.headers = {"Content-Type": "text/xml; charset=utf-8", "Host": f"{domain}:{port}"}
        if forwarded_for:
            self.headers["X-Forwarded-For"] = forwarded_for
        self.headers.update(headers or {})  # e.g. an RFC 7239 Forwarded header
        self.rid = int.from_bytes(os.urandom(4), "big") >> 2  # room to count up (XEP-0124 §14)
        self.sid = None
        self.jid = None
        self.pending = []

    @property
    def sockname(self):
        """This end of the HTTP connection used last."""
        return self.conn.sock.getsockname()[:2]

    def _post(self, attrs="", payload=""):
        self.rid += 1
        sid = f" sid='{self.sid}'" if self.sid else ""
        body = (f"<body rid='{self.rid}'{sid} {attrs} xmlns='{HTTPBIND_NS}' xmlns:xmpp='{XBOSH_NS}'>"
                f"{payload}</body>")
        self.conn.request("POST", self.path, body.encode(), self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"BOSH HTTP {response.status}: {data[:200]!r}")
        root = ET.fromstring(data)
        if root.get("type") == "terminate":
            raise RuntimeError(f"BOSH session terminated: {data[:300]!r}")
        return root

    def _next(self, tag, polls=10):
        """The next element with this tag, polling while the server has none."""
        for _ in range(polls):
            while self.pending:
                element = self.pending.pop(0)
                if element.tag == tag:
                    return element
            self.pending.extend(self._post())
        raise RuntimeError(f"no {tag} from the BOSH session")

    def login(self, user, password):
        # No 'ver': optional in XEP-0124, and a module must not rely on it.
        root = self._post(f"to='{self.domain}' xml:lang='en' wait='10' hold='1' xmpp:version='1.0'")
        self.sid = root.get("sid")
        self.pending.extend(root)
        self._next(f"{{{STREAM_NS}}}features")
        self.pending.extend(self._post(
            payload=f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>{plain_token(user, password)}</auth>"))
        self._next(f"{{{SASL_NS}}}success")
        self.pending.extend(self._post(f"to='{self.domain}' xml:lang='en' xmpp:restart='true'"))
        self._next(f"{{{STREAM_NS}}}features")
        self.jid = self.iq(_bind_request()).findtext(f"{{{BIND_NS}}}bind/{{{BIND_NS}}}jid")
        return self

    def iq(self, text):
        """Sends `text` (one stanza, xmlns='jabber:client' set) and returns
        the next IQ that comes back."""
        self.pending.extend(self._post(payload=text))
        return self._next(f"{{{CLIENT_NS}}}iq")

    def close(self):
        try:
            self._post("type='terminate'")
        except (RuntimeError, OSError, http.client.HTTPException):
            pass
        self.conn.close()


class WebSocketClient:
    """Masked text frames out, one XML element per text frame in."""

    def __init__(self, host, port, forwarded_for=None, domain="localhost", path="/xmpp-websocket", headers=None,
                 preamble=b""):
        self.domain = domain
        self.jid = None
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        if preamble:
            self.sock.sendall(preamble)  # a PROXY protocol header
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        extra = f"X-Forwarded-For: {forwarded_for}\r\n" if forwarded_for else ""
        extra += "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {domain}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Sec-WebSocket-Protocol: xmpp\r\n{extra}\r\n").encode())
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        if not head.startswith("HTTP/1.1 101"):
            raise RuntimeError("WebSocket upgrade refused: " + head.splitlines()[0])
        headers = {}
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        want = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != want:
            raise RuntimeError("bad Sec-WebSocket-Accept")

    @property
    def sockname(self):
        return self.sock.getsockname()[:2]

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("WebSocket closed")
        self.buf += data

    def _read(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_until(self, marker):
        while marker not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def receive(self):
        """The element of the next text message (fragments joined; pings
        answered)."""
        message = b""
        while True:
            first, second = self._read(2)
            n = second & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._read(8))
            data = self._read(n)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise ConnectionError("WebSocket closed by the server")
            if opcode == 0x9:
                self._send_frame(0xA, data)
                continue
            if opcode in (0x0, 0x1):
                message += data
                if first & 0x80:
                    return ET.fromstring(message)

    def _next(self, tag, frames=20):
        for _ in range(frames):
            element = self.receive()
            if element.tag == tag:
                return element
        raise RuntimeError(f"no {tag} on the WebSocket")

    def _open(self):
        self.send(f"<open xmlns='{FRAMING_NS}' to='{self.domain}' version='1.0'/>")
        self._next(f"{{{FRAMING_NS}}}open")
        self._next(f"{{{STREAM_NS}}}features")

    def login(self, user, password):
        self._open()
        self.send(f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>{plain_token(user, password)}</auth>")
        self._next(f"{{{SASL_NS}}}success")
        self._open()
        self.jid = self.iq(_bind_request()).findtext(f"{{{BIND_NS}}}bind/{{{BIND_NS}}}jid")
        return self

    def iq(self, text):
        self.send(text)
        return self._next(f"{{{CLIENT_NS}}}iq")

    def close(self):
        try:
            self.send(f"<close xmlns='{FRAMING_NS}'/>")
        except OSError:
            pass
        self.sock.close()
