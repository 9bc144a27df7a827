"""A minimal XMPP client on a raw asyncio socket, for load: plain TCP, SASL
PLAIN, resource binding, then pipelined IQs. Replies are parsed with an
incremental XML parser, never matched as text."""

import asyncio
import base64
import xml.etree.ElementTree as ET

STREAM_NS = "http://etherx.jabber.org/streams"
CLIENT_NS = "jabber:client"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND_NS = "urn:ietf:params:xml:ns:xmpp-bind"


def xml_attr(value):
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace("'", "&apos;")
            .replace('"', "&quot;").replace(">", "&gt;"))


class RawClient:
    def __init__(self, host, port, user, domain, password, resource):
        self.host, self.port = host, port
        self.user, self.domain, self.password, self.resource = user, domain, password, resource
        self.reader = self.writer = None
        self.jid = None
        self.local_addr = None
        self._queue = []

    async def connect(self, timeout=10):
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), timeout)
        self.local_addr = self.writer.get_extra_info("sockname")[:2]
        await self._open_stream()
        features = await self.next_element(timeout)
        mechs = [m.text for m in features.iter(f"{{{SASL_NS}}}mechanism")]
        if "PLAIN" not in mechs:
            raise RuntimeError(f"no PLAIN among {mechs}")
        token = base64.b64encode(f"\0{self.user}\0{self.password}".encode()).decode()
        self.send(f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>{token}</auth>")
        result = await self.next_element(timeout)
        if result.tag != f"{{{SASL_NS}}}success":
            raise RuntimeError(f"authentication failed: {ET.tostring(result)!r}")
        await self._open_stream()
        await self.next_element(timeout)  # features after the restart
        self.send(f"<iq type='set' id='bind-1'><bind xmlns='{BIND_NS}'>"
                  f"<resource>{self.resource}</resource></bind></iq>")
        bound = await self.next_element(timeout)
        jid = bound.find(f"{{{BIND_NS}}}bind/{{{BIND_NS}}}jid")
        if bound.get("type") != "result" or jid is None:
            raise RuntimeError(f"bind failed: {ET.tostring(bound)!r}")
        self.jid = jid.text

    async def _open_stream(self):
        self._parser = ET.XMLPullParser(events=("start", "end"))
        self._depth = 0
        self._queue = []
        self.send(f"<?xml version='1.0'?><stream:stream to='{self.domain}' xmlns='{CLIENT_NS}' "
                  f"xmlns:stream='{STREAM_NS}' version='1.0'>")

    def send(self, text):
        self.writer.write(text.encode())

    async def drain(self):
        await self.writer.drain()

    async def next_element(self, timeout):
        """The next complete top-level element of the stream."""
        while not self._queue:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("stream closed by the server")
            self._parser.feed(data)
            for event, el in self._parser.read_events():
                if event == "start":
                    self._depth += 1
                    if self._depth == 1:
                        self._stream_root = el
                else:
                    self._depth -= 1
                    if self._depth == 1:
                        self._queue.append(el)
                        # Keeps memory flat over thousands of stanzas.
                        self._stream_root.remove(el)
        return self._queue.pop(0)

    async def close(self):
        if self.writer is not None:
            try:
                self.send("</stream:stream>")
                await self.writer.drain()
            except (ConnectionError, RuntimeError):
                pass
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except (ConnectionError, RuntimeError):
                pass
