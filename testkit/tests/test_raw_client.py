"""RawClient against a scripted server on loopback: the login sequence,
requests, pipelining, stream errors and closed connections."""

import asyncio
import base64
import re
import ssl
import tempfile
import unittest

from testkit import tls
from testkit.xmpp import RawClient, StreamClosed, error_of

OPEN = (b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        b"xmlns:stream='http://etherx.jabber.org/streams' id='s' from='localhost' version='1.0'>")
FEATURES_AUTH = (b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                 b"<mechanism>PLAIN</mechanism></mechanisms></stream:features>")
FEATURES_BIND = b"<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"
FEATURES_TLS = b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>"


class FakeServer:
    """Answers the login, then each `<iq id=X>...</iq>` (never self-closed)
    with a result whose id is X, until it reads 'BYE' (stream error) or
    'DROP' (close)."""

    def __init__(self, starttls_ctx=None):
        self.auth = None
        self.starttls_ctx = starttls_ctx
        self.encrypted = False

    async def handle(self, reader, writer):
        buf = b""

        async def until(marker):
            nonlocal buf
            while marker not in buf:
                data = await reader.read(4096)
                if not data:
                    raise ConnectionError
                buf += data
            head, _, buf = buf.partition(marker)
            return head
        try:
            await until(b"version='1.0'>")
            if self.starttls_ctx is not None:
                writer.write(OPEN + FEATURES_TLS)
                await until(b"/>")
                writer.write(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
                await writer.drain()
                await writer.start_tls(self.starttls_ctx)
                self.encrypted = writer.get_extra_info("ssl_object") is not None
                await until(b"version='1.0'>")
            writer.write(OPEN + FEATURES_AUTH)
            self.auth = await until(b"</auth>")
            writer.write(b"<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
            await until(b"version='1.0'>")
            writer.write(OPEN + FEATURES_BIND)
            bind = await until(b"</iq>")
            resource = re.search(rb"<resource>(.*)</resource>", bind).group(1)
            writer.write(b"<iq type='result' id='bind-1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                         b"<jid>alice@localhost/" + resource + b"</jid></bind></iq>")
            while True:
                stanza = await until(b"</iq>")
                if b"BYE" in stanza:
                    writer.write(b"<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
                                 b"</stream:error></stream:stream>")
                    break
                if b"DROP" in stanza:
                    break
                iq_id = re.search(rb"id='([^']*)'", stanza).group(1)
                writer.write(b"<iq type='result' id='" + iq_id + b"'/>")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


class RawClientTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.fake = FakeServer()
        self.server = await asyncio.start_server(self.fake.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def asyncTearDown(self):
        self.server.close()
        await self.server.wait_closed()

    async def test_login_and_request(self):
        client = await RawClient.login("127.0.0.1", self.port, "alice", "pw", "r 1", timeout=5)
        try:
            self.assertEqual(client.jid, "alice@localhost/r 1")
            self.assertEqual(base64.b64decode(re.search(rb">(.*)$", self.fake.auth).group(1)), b"\0alice\0pw")
            self.assertEqual(client.local_addr[0], "127.0.0.1")
            stanza = await client.request_raw("<iq type='get' id='a&amp;b'><x xmlns='urn:e'/></iq>")
            self.assertEqual(stanza.raw, b"<iq type='result' id='a&amp;b'/>")
            self.assertEqual(stanza.element.get("id"), "a&b")
        finally:
            await client.close()

    async def test_constructor_and_connect_like_the_ejabberd_harness(self):
        client = RawClient("127.0.0.1", self.port, "alice", "localhost", "pw", "res")
        await client.connect(timeout=5)
        try:
            client.send("<iq type='get' id='n1'></iq>")
            await client.drain()
            self.assertEqual((await client.next_element(5)).get("id"), "n1")
        finally:
            await client.close()

    async def test_pipeline_keeps_order_and_count(self):
        for keep_raw in (True, False):
            client = await RawClient.login("127.0.0.1", self.port, "alice", "pw", keep_raw=keep_raw, timeout=5)
            try:
                replies = await client.pipeline("<iq type='get' id='p{n}'></iq>", 500, window=64)
                self.assertEqual([r.get("id") for r in replies], [f"p{n}" for n in range(500)])
            finally:
                await client.close()

    async def test_stream_error_then_closed(self):
        client = await RawClient.login("127.0.0.1", self.port, "alice", "pw", timeout=5)
        try:
            error = await client.request("<iq type='get' id='BYE'></iq>")
            self.assertEqual(error.tag, "{http://etherx.jabber.org/streams}error")
            with self.assertRaises(StreamClosed):
                await client.next_stanza(5)
        finally:
            await client.close()

    async def test_connection_closed(self):
        client = await RawClient.login("127.0.0.1", self.port, "alice", "pw", timeout=5)
        try:
            with self.assertRaises(StreamClosed):
                await client.request("<iq type='get' id='DROP'></iq>")
        finally:
            await client.close()

    async def test_bad_tls_mode(self):
        with self.assertRaises(ValueError):
            RawClient("127.0.0.1", self.port, "a", tls="ssl")

    async def test_starttls_and_direct_tls_with_a_generated_certificate(self):
        with tempfile.TemporaryDirectory() as d:
            cert, key = tls.self_signed(d, "localhost")
            server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_ctx.load_cert_chain(cert, key)
            starttls = FakeServer(starttls_ctx=server_ctx)
            direct = FakeServer()
            servers = [await asyncio.start_server(starttls.handle, "127.0.0.1", 0),
                       await asyncio.start_server(direct.handle, "127.0.0.1", 0, ssl=server_ctx)]
            try:
                for server, mode in zip(servers, ("starttls", "direct")):
                    port = server.sockets[0].getsockname()[1]
                    client = await RawClient.login("127.0.0.1", port, "alice", "pw", tls=mode, ca_file=cert,
                                                   timeout=5)
                    try:
                        self.assertIsNotNone(client.writer.get_extra_info("ssl_object"), mode)
                        self.assertEqual((await client.request("<iq type='get' id='t'></iq>")).get("id"), "t")
                    finally:
                        await client.close()
                self.assertTrue(starttls.encrypted)
                # The name is checked against the certificate (the fake
                # server's side of the aborted handshake is not news).
                asyncio.get_running_loop().set_exception_handler(lambda loop, context: None)
                port = servers[1].sockets[0].getsockname()[1]
                with self.assertRaises(ssl.SSLError):
                    await RawClient.login("127.0.0.1", port, "alice", "pw", domain="other.example", tls="direct",
                                          ca_file=cert, timeout=5)
            finally:
                for server in servers:
                    server.close()
                    await server.wait_closed()

    def test_error_of(self):
        import xml.etree.ElementTree as ET
        iq = ET.fromstring("<iq xmlns='jabber:client' type='error'><error type='cancel'>"
                           "<not-allowed xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")
        self.assertEqual(error_of(iq), ("cancel", "not-allowed"))
        self.assertIsNone(error_of(ET.fromstring("<iq xmlns='jabber:client'/>")))


if __name__ == "__main__":
    unittest.main()
