"""A raw XMPP client on an asyncio stream: stream open, STARTTLS or direct
TLS, SASL PLAIN, resource binding, then raw XML out and parsed stanzas in
(each with the bytes it arrived as, see xmlstream). Pipelining for load.

Nothing is matched as text: every stanza read is parsed XML."""

import asyncio
import base64
import ssl

from .xmlstream import STREAM_NS, PullStreamReader, StreamReader, escape_attr, escape_text, show

CLIENT_NS = "jabber:client"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND_NS = "urn:ietf:params:xml:ns:xmpp-bind"
TLS_NS = "urn:ietf:params:xml:ns:xmpp-tls"
STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"


class StreamClosed(ConnectionError):
    """The server closed the stream or the connection."""


def tls_context(ca_file=None):
    """A client context that trusts `ca_file` (the test's self-signed
    certificate) and checks the name; without one, no verification."""
    if ca_file:
        return ssl.create_default_context(cafile=ca_file)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class RawClient:
    """One client connection. Either

        client = await RawClient.login(host, port, "alice", "secret", "res")

    or construct it and `await client.connect()`. `tls` is None (plain
    TCP), "starttls" or "direct"; `ca_file` is the certificate to trust.
    With keep_raw=False stanzas are parsed about twice as fast but carry
    no raw bytes (for load). `preamble`: bytes written as soon as the TCP
    connection is up, before the stream or STARTTLS (a PROXY protocol
    header; not with direct TLS); `bind=False` stops after SASL, for a
    client that resumes a XEP-0198 session instead of binding."""

    def __init__(self, host, port, user, domain="localhost", password="secret", resource="testkit",
                 *, tls=None, ca_file=None, timeout=20.0, keep_raw=True, preamble=b"", bind=True):
        if tls not in (None, "starttls", "direct"):
            raise ValueError(f"tls must be None, 'starttls' or 'direct', not {tls!r}")
        self.host, self.port = host, port
        self.user, self.domain, self.password, self.resource = user, domain, password, resource
        self.tls, self.ca_file, self.timeout, self.keep_raw = tls, ca_file, timeout, keep_raw
        if preamble and tls == "direct":
            raise ValueError("a preamble goes before the stream: not with direct TLS")
        self.preamble, self.bind = preamble, bind
        self.reader = self.writer = None
        self.jid = None
        self.features = None
        self._stream = None

    # --- connection --------------------------------------------------------

    @classmethod
    async def login(cls, host, port, user, password, resource="testkit", timeout=20.0, **options):
        client = cls(host, port, user, password=password, resource=resource, timeout=timeout, **options)
        await client.connect()
        return client

    async def connect(self, timeout=None):
        timeout = timeout or self.timeout
        ssl_ctx = tls_context(self.ca_file) if self.tls == "direct" else None
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, ssl=ssl_ctx,
                                    server_hostname=self.domain if ssl_ctx else None), timeout)
        if self.preamble:
            self.send(self.preamble)
        self.features = await self._open_stream(timeout)
        if self.tls == "starttls":
            if self.features.find(f"{{{TLS_NS}}}starttls") is None:
                raise RuntimeError(f"no STARTTLS offered: {show(self.features)}")
            self.send(f"<starttls xmlns='{TLS_NS}'/>")
            await self._expect(f"{{{TLS_NS}}}proceed", timeout)
            await self.writer.start_tls(tls_context(self.ca_file), server_hostname=self.domain)
            self.features = await self._open_stream(timeout)
        mechanisms = [m.text for m in self.features.iter(f"{{{SASL_NS}}}mechanism")]
        if "PLAIN" not in mechanisms:
            raise RuntimeError(f"no SASL PLAIN among {mechanisms}")
        token = base64.b64encode(f"\0{self.user}\0{self.password}".encode()).decode()
        self.send(f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>{token}</auth>")
        await self._expect(f"{{{SASL_NS}}}success", timeout)
        self.features = await self._open_stream(timeout)
        if not self.bind:
            return self
        self.send(f"<iq type='set' id='bind-1'><bind xmlns='{BIND_NS}'>"
                  f"<resource>{escape_text(self.resource)}</resource></bind></iq>")
        bound = await self._expect(f"{{{CLIENT_NS}}}iq", timeout)
        self.jid = bound.findtext(f"{{{BIND_NS}}}bind/{{{BIND_NS}}}jid")
        if bound.get("type") != "result" or not self.jid:
            raise RuntimeError(f"bind failed: {show(bound)}")
        return self

    async def _open_stream(self, timeout):
        """Opens (or restarts) the stream and returns its <features/>."""
        self._stream = StreamReader() if self.keep_raw else PullStreamReader()
        self.send(f"<?xml version='1.0'?><stream:stream to='{escape_attr(self.domain)}' "
                  f"xmlns='{CLIENT_NS}' xmlns:stream='{STREAM_NS}' version='1.0'>")
        return await self._expect(f"{{{STREAM_NS}}}features", timeout)

    async def _expect(self, tag, timeout):
        element = await self.next_stanza(timeout)
        if element.tag != tag:
            raise RuntimeError(f"expected {tag}, got {show(element)}")
        return element

    @property
    def sockname(self):
        """(host, port, ...) of this end of the connection: the address
        and port the server sees for this client."""
        return self.writer.get_extra_info("sockname")

    @property
    def local_addr(self):
        return tuple(self.sockname[:2])

    # --- stanzas -----------------------------------------------------------

    def send(self, data):
        self.writer.write(data.encode() if isinstance(data, str) else data)

    async def drain(self):
        await self.writer.drain()

    async def next_raw(self, timeout=None):
        """The next top-level element (a Stanza: .element and .raw). A
        <stream:error/> is returned like any other; StreamClosed is raised
        when the server ends the stream or the connection."""
        stream = self._stream
        while not stream.stanzas:
            if stream.closed:
                raise StreamClosed("the server closed the stream")
            data = await asyncio.wait_for(self.reader.read(65536), timeout or self.timeout)
            if not data:
                raise StreamClosed("the server closed the connection")
            stream.feed(data)
        return stream.stanzas.pop(0)

    async def next_stanza(self, timeout=None):
        return (await self.next_raw(timeout)).element

    async def next_element(self, timeout=None):
        return await self.next_stanza(timeout)

    async def request_raw(self, data, timeout=None):
        """Sends one stanza and returns the next Stanza that arrives."""
        self.send(data)
        await self.writer.drain()
        return await self.next_raw(timeout)

    async def request(self, data, timeout=None):
        return (await self.request_raw(data, timeout)).element

    async def pipeline(self, template, count, window=1000):
        """Sends template.format(n=0..count-1) keeping at most `window`
        unanswered, and returns the replies (elements) in arrival order."""
        replies, sent = [], 0
        stream = self._stream
        while len(replies) < count:
            burst = []
            while sent < count and sent - len(replies) < window:
                burst.append(template.format(n=sent))
                sent += 1
            if burst:
                self.send("".join(burst))
                await self.writer.drain()
            replies.append(await self.next_stanza())
            while stream.stanzas and len(replies) < count:
                replies.append(stream.stanzas.pop(0).element)
        return replies

    async def close(self):
        if self.writer is None:
            return
        try:
            self.send("</stream:stream>")
            await asyncio.wait_for(self.writer.drain(), 5)
        except (ConnectionError, OSError, RuntimeError, asyncio.TimeoutError):
            pass
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 5)
        except (ConnectionError, OSError, RuntimeError, asyncio.TimeoutError, ssl.SSLError):
            pass


def error_of(element):
    """(error type, defined condition) of an IQ error element, or None."""
    error = element.find(f"{{{CLIENT_NS}}}error")
    if error is None:
        return None
    for child in error:
        if child.tag.startswith(f"{{{STANZAS_NS}}}") and child.tag != f"{{{STANZAS_NS}}}text":
            return error.get("type"), child.tag.split("}", 1)[1]
    return error.get("type"), None
