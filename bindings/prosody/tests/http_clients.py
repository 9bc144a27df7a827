"""Minimal BOSH (XEP-0124/0206) and WebSocket (RFC 7395) XMPP clients, enough
to log in and send IQs, so the end-to-end test can reach mod_xmpp_sic through
Prosody's HTTP transports, with and without a proxy's X-Forwarded-For header.
Blocking sockets; every reply is parsed as XML."""

import base64
import hashlib
import http.client
import os
import socket
import struct
import xml.etree.ElementTree as ET

HTTPBIND = "http://jabber.org/protocol/httpbind"
XBOSH = "urn:xmpp:xbosh"
FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND = "urn:ietf:params:xml:ns:xmpp-bind"
CLIENT = "jabber:client"
TIMEOUT = 20


def plain_token(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


class BoshClient:
    """One request at a time: each carries stanzas, and its response carries
    what the server had for us (Prosody answers at once when it has data)."""

    def __init__(self, host, port, forwarded_for=None):
        self.conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
        self.headers = {"Content-Type": "text/xml; charset=utf-8", "Host": f"localhost:{port}"}
        if forwarded_for:
            self.headers["X-Forwarded-For"] = forwarded_for
        self.rid = 4242
        self.sid = None
        self.pending = []

    def _post(self, attrs="", payload=""):
        self.rid += 1
        sid = f" sid='{self.sid}'" if self.sid else ""
        body = (f"<body rid='{self.rid}'{sid} {attrs} xmlns='{HTTPBIND}' xmlns:xmpp='{XBOSH}'>"
                f"{payload}</body>")
        self.conn.request("POST", "/http-bind", body.encode(), self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"BOSH HTTP {response.status}: {data[:200]!r}")
        root = ET.fromstring(data)
        if root.get("type") == "terminate":
            raise RuntimeError(f"BOSH session terminated: {data[:300]!r}")
        return root

    def _next(self, tag):
        """The next stanza with this tag, polling while the server has none."""
        for _ in range(10):
            while self.pending:
                el = self.pending.pop(0)
                if el.tag == tag:
                    return el
            self.pending.extend(list(self._post()))
        raise RuntimeError(f"no {tag} from the BOSH session")

    def login(self, user, password):
        # No 'ver': optional in XEP-0124, and the module must not rely on it.
        root = self._post("to='localhost' xml:lang='en' wait='10' hold='1' xmpp:version='1.0'")
        self.sid = root.get("sid")
        self.pending.extend(list(root))
        self._next("{http://etherx.jabber.org/streams}features")
        self.pending.extend(list(self._post(
            payload=f"<auth xmlns='{SASL}' mechanism='PLAIN'>{plain_token(user, password)}</auth>")))
        self._next(f"{{{SASL}}}success")
        self.pending.extend(list(self._post("to='localhost' xml:lang='en' xmpp:restart='true'")))
        self._next("{http://etherx.jabber.org/streams}features")
        bound = self.iq(f"<iq type='set' id='bind' xmlns='{CLIENT}'><bind xmlns='{BIND}'/></iq>")
        self.jid = bound.findtext(f"{{{BIND}}}bind/{{{BIND}}}jid")
        return self

    def iq(self, text):
        self.pending.extend(list(self._post(payload=text)))
        return self._next(f"{{{CLIENT}}}iq")

    def close(self):
        try:
            self._post("type='terminate'")
        except (RuntimeError, OSError, http.client.HTTPException):
            pass
        self.conn.close()


class WebSocketClient:
    """RFC 6455 framing by hand: masked text frames out, one XML element per
    frame in (RFC 7395)."""

    def __init__(self, host, port, forwarded_for=None):
        self.sock = socket.create_connection((host, port), timeout=TIMEOUT)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        extra = f"X-Forwarded-For: {forwarded_for}\r\n" if forwarded_for else ""
        self.sock.sendall((f"GET /xmpp-websocket HTTP/1.1\r\nHost: localhost:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Sec-WebSocket-Protocol: xmpp\r\n{extra}\r\n").encode())
        head = self._read_until(b"\r\n\r\n").decode("latin-1")
        if not head.startswith("HTTP/1.1 101"):
            raise RuntimeError("WebSocket upgrade refused: " + head.splitlines()[0])
        headers = dict(line.split(":", 1) for line in head.splitlines()[1:] if ":" in line)
        headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
        if headers.get("sec-websocket-accept") != accept.decode():
            raise RuntimeError("bad Sec-WebSocket-Accept")

    @property
    def sockname(self):
        return self.sock.getsockname()[:2]

    def _read(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("WebSocket closed")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read_until(self, marker):
        while marker not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed during the handshake")
            self.buf += data
        head, self.buf = self.buf.split(marker, 1)
        return head

    def send(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def receive(self):
        """The next text frame's element."""
        while True:
            first, second = self._read(2)
            n = second & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._read(8))
            data = self._read(n)
            opcode = first & 0x0F
            if opcode == 0x1:
                return ET.fromstring(data)
            if opcode == 0x8:
                raise ConnectionError("WebSocket closed by the server")

    def _next(self, tag):
        for _ in range(20):
            el = self.receive()
            if el.tag == tag:
                return el
        raise RuntimeError(f"no {tag} on the WebSocket")

    def _open(self):
        self.send(f"<open xmlns='{FRAMING}' to='localhost' version='1.0'/>")
        self._next(f"{{{FRAMING}}}open")
        self._next("{http://etherx.jabber.org/streams}features")

    def login(self, user, password):
        self._open()
        self.send(f"<auth xmlns='{SASL}' mechanism='PLAIN'>{plain_token(user, password)}</auth>")
        self._next(f"{{{SASL}}}success")
        self._open()
        bound = self.iq(f"<iq type='set' id='bind' xmlns='{CLIENT}'><bind xmlns='{BIND}'/></iq>")
        self.jid = bound.findtext(f"{{{BIND}}}bind/{{{BIND}}}jid")
        return self

    def iq(self, text):
        self.send(text)
        return self._next(f"{{{CLIENT}}}iq")

    def close(self):
        try:
            self.send(f"<close xmlns='{FRAMING}'/>")
        except OSError:
            pass
        self.sock.close()
