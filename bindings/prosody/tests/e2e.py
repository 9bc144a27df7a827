#!/usr/bin/env python3
"""End-to-end test of mod_xmpp_sic in a real Prosody.

Starts a private Prosody on 127.0.0.1 and ::1 (own config in a temporary
directory) that loads mod_xmpp_sic from this repository and xmpp_sic.so
through LUA_CPATH, then drives it with slixmpp and with raw pipelined
clients. Every reply is parsed as XML. Prints one line per check and a last
line "N passed, N failed"; exits non-zero on any failure. The Prosody it
started is stopped by PID, and its directory removed, whatever happens.

    python3 bindings/prosody/tests/e2e.py [--so-dir bindings/lua]
"""

import argparse
import asyncio
import logging
import os
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

from testkit.http import BoshClient, WebSocketClient  # noqa: E402
from testkit.prosody import PrivateProsody  # noqa: E402
from testkit.xmlstream import raw_attribute  # noqa: E402
from testkit.xmpp import RawClient  # noqa: E402

NS0, NS1 = "urn:xmpp:sic:0", "urn:xmpp:sic:1"
CLIENT = "jabber:client"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
LOAD_CLIENTS, LOAD_REQUESTS = 20, 200
PASSWORD = "secret"


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    async def run(self, name, coro_fn, *args):
        try:
            await coro_fn(*args)
        except Exception as e:  # a failed check must not stop the others
            self.failed += 1
            print(f"FAIL {name}: {e}")
            if os.environ.get("XMPP_SIC_E2E_TRACE"):
                traceback.print_exc()
        else:
            self.passed += 1
            print(f"ok   {name}")


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def show(el):
    return ET.tostring(el, encoding="unicode")


def error_condition(iq):
    """(condition, type) of an IQ error, from the parsed stanza."""
    expect(iq.get("type") == "error", f"expected an error, got {show(iq)}")
    err = iq.find(f"{{{CLIENT}}}error")
    expect(err is not None, f"no <error/> in {show(iq)}")
    for child in err:
        if child.tag.startswith(f"{{{STANZAS}}}") and child.tag != f"{{{STANZAS}}}text":
            return child.tag.split("}", 1)[1], err.get("type")
    raise AssertionError(f"no defined condition in {show(iq)}")


def address_of(iq, ns=NS1):
    """(ip, port or None) of a successful sic reply."""
    expect(iq.get("type") == "result", f"expected a result, got {show(iq)}")
    address = iq.find(f"{{{ns}}}address")
    expect(address is not None, f"no <address xmlns='{ns}'/> in {show(iq)}")
    port = address.findtext(f"{{{ns}}}port")
    return address.findtext(f"{{{ns}}}ip"), (int(port) if port is not None else None)


# slixmpp ------------------------------------------------------------------

def slixmpp_client(jid):
    import slixmpp

    client = slixmpp.ClientXMPP(jid, PASSWORD)
    # Plain TCP on loopback: no TLS is configured on this private server.
    client.enable_direct_tls = False
    client.enable_starttls = False
    client.enable_plaintext = True
    client.register_plugin("xep_0030")
    client.register_plugin("xep_0279")
    client.plugin["feature_mechanisms"].unencrypted_plain = True
    return client


async def slixmpp_session(jid, host, port):
    client = slixmpp_client(jid)
    started = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _: started.done() or started.set_result(True))
    client.add_event_handler("failed_auth", lambda _: started.done() or started.set_exception(
        RuntimeError(f"authentication failed for {jid}")))
    client.connect(host, port)
    await asyncio.wait_for(started, 20)
    return client


async def disconnect(client):
    client.disconnect()
    try:
        await asyncio.wait_for(client.disconnected, 10)
    except asyncio.TimeoutError:
        pass


def local_address(client):
    host, port = client.transport.get_extra_info("sockname")[:2]
    return host, port


async def sic1_iq(client, to=None, kind="get", ns=NS1, name="address"):
    """Sends a hand-built Server IP Check IQ through slixmpp and returns the
    reply as parsed XML (an error reply is returned, not raised)."""
    from slixmpp.exceptions import IqError

    iq = client.make_iq(ito=to, itype=kind)
    iq.append(ET.Element(f"{{{ns}}}{name}"))
    try:
        reply = await iq.send(timeout=10)
    except IqError as e:
        reply = e.iq
    # The element tree slixmpp parsed from the stream, namespaces included.
    return reply.xml


# The checks -----------------------------------------------------------------

async def check_slixmpp_check_ip(server, family_host):
    client = await slixmpp_session("alice@localhost", family_host, server.port)
    try:
        reply = await client.plugin["xep_0279"].check_ip(timeout=10)
        ip, _ = local_address(client)
        expect(reply["type"] == "result", f"check_ip() got {reply}")
        got = reply["ip_check"]
        parsed = reply.xml.findtext(f"{{{NS0}}}ip")
        expect(got == ip and parsed == ip, f"check_ip() says {got!r} (XML {parsed!r}), the socket is {ip!r}")
    finally:
        await disconnect(client)


async def check_sic1_address(server, family_host):
    client = await slixmpp_session("alice@localhost", family_host, server.port)
    try:
        ip, port = local_address(client)
        for to, want_from in ((None, None), ("alice@localhost", None), ("localhost", "localhost")):
            reply = await sic1_iq(client, to=to)
            expect(reply.get("from") == want_from, f"to={to}: from={reply.get('from')!r}, want {want_from!r}")
            expect(reply.get("to") == str(client.boundjid), f"to={to}: reply to {reply.get('to')}")
            got = address_of(reply)
            expect(got == (ip, port), f"to={to}: reply says {got}, the socket is {(ip, port)}")
    finally:
        await disconnect(client)


async def check_sic0_address_form(server):
    client = await slixmpp_session("alice@localhost", "127.0.0.1", server.port)
    try:
        reply = await sic1_iq(client, ns=NS0, name="address")
        ip, _ = local_address(client)
        expect(address_of(reply, NS0) == (ip, None), f"sic:0 <address/>: {show(reply)}")
    finally:
        await disconnect(client)


async def check_other_user_forbidden(server):
    client = await slixmpp_session("alice@localhost", "127.0.0.1", server.port)
    try:
        for to in ("bob@localhost", "nobody@localhost"):
            reply = await sic1_iq(client, to=to)
            expect(error_condition(reply) == ("forbidden", "auth"), f"to={to}: {show(reply)}")
    finally:
        await disconnect(client)


async def check_set_not_allowed(server):
    client = await slixmpp_session("alice@localhost", "127.0.0.1", server.port)
    try:
        for to in (None, "localhost"):
            for ns, name in ((NS1, "address"), (NS0, "ip")):
                reply = await sic1_iq(client, to=to, kind="set", ns=ns, name=name)
                expect(error_condition(reply) == ("not-allowed", "cancel"), f"set to={to} {ns}: {show(reply)}")
    finally:
        await disconnect(client)


async def check_disco_features(server):
    client = await slixmpp_session("alice@localhost", "127.0.0.1", server.port)
    try:
        info = await client.plugin["xep_0030"].get_info(jid="localhost", timeout=10)
        parsed = info.xml
        features = {f.get("var") for f in parsed.iter(f"{{{DISCO_INFO}}}feature")}
        expect({NS0, NS1} <= features, f"disco#info lists {sorted(features)}")
    finally:
        await disconnect(client)


def http_session(kind, server, forwarded_for):
    client_class = BoshClient if kind == "BOSH" else WebSocketClient
    return client_class("127.0.0.1", server.http_port, forwarded_for).login("alice", PASSWORD)


async def check_http_transport(server, kind, forwarded_for):
    """Over BOSH no port identifies the client (each request may come on its
    own connection); behind a proxy (X-Forwarded-For from 127.0.0.1, which
    Prosody trusts by default) the address is the forwarded one and the port
    the proxy's, so none is sent. A direct WebSocket keeps its port."""
    client = await asyncio.to_thread(http_session, kind, server, forwarded_for)
    local = client.sockname if kind == "WebSocket" else None
    try:
        request = f"<iq type='get' id='h1' xmlns='{CLIENT}'><address xmlns='{NS1}'/></iq>"
        reply = await asyncio.to_thread(client.iq, request)
    finally:
        await asyncio.to_thread(client.close)
    got = address_of(reply)
    if forwarded_for:
        want = (forwarded_for, None)
    elif kind == "BOSH":
        want = ("127.0.0.1", None)
    else:
        want = tuple(local)
    expect(got == want, f"{kind}, X-Forwarded-For {forwarded_for}: reply says {got}, want {want}")
    expect(reply.get("to") == client.jid, f"reply to {reply.get('to')}, bound {client.jid}")


async def raw_client(server, resource):
    return await RawClient.login("127.0.0.1", server.port, "alice", PASSWORD, resource)


async def check_whitespace_references_in_id(server):
    """The module hands the core no id: the reply carries the id Prosody
    parsed (a newline and a tab), written as Prosody writes every reply's id,
    the same as mod_ping's answer to the same id."""
    client = await raw_client(server, "ids")
    try:
        sic = await client.request_raw(f"<iq type='get' id='a&#10;b&#9;c'><address xmlns='{NS1}'/></iq>")
        ping = await client.request_raw("<iq type='get' id='a&#10;b&#9;c'><ping xmlns='urn:xmpp:ping'/></iq>")
    finally:
        await client.close()
    ours, theirs = raw_attribute(sic.raw, "id"), raw_attribute(ping.raw, "id")
    expect(address_of(sic.element) == tuple(client.sockname[:2]), f"reply {sic.raw!r}")
    expect(ours == "a\nb\tc", f"id as written in the reply: {ours!r} ({sic.raw!r})")
    expect(ours == theirs, f"mod_ping writes the same id as {theirs!r}")


async def check_payload_shapes(server):
    """Attributes are accepted; text or a child element is bad-request, and so
    is a child nested 5 000 deep: the module reads only the payload's own
    children, and the error reply does not echo them."""
    deep = "<x>" * 5000 + "</x>" * 5000
    client = await raw_client(server, "shapes")
    try:
        ip_port = tuple(client.sockname[:2])
        reply = await client.request(f"<iq type='get' id='s1'><address xmlns='{NS1}' foo='bar'/></iq>")
        expect(address_of(reply) == ip_port, f"with an attribute: {show(reply)}")
        for label, payload in (("text", "hello"), ("a child", "<ip>1.2.3.4</ip>"), ("5000 deep", deep)):
            raw = await client.request_raw(f"<iq type='get' id='s2'><address xmlns='{NS1}'>{payload}</address></iq>")
            expect(error_condition(raw.element) == ("bad-request", "modify"), f"{label}: {raw.raw[:300]!r}")
            expect(len(raw.raw) < 1000, f"{label}: a {len(raw.raw)}-byte reply echoes the payload")
            text = raw.element.findtext(f"{{{CLIENT}}}error/{{{STANZAS}}}text") or ""
            expect("Server IP Check" in text, f"{label}: answered by the module? text {text!r}")
        # The same stream still works afterwards.
        reply = await client.request(f"<iq type='get' id='s3'><address xmlns='{NS1}'/></iq>")
        expect(address_of(reply) == ip_port, f"after the deep payload: {show(reply)}")
    finally:
        await client.close()
    expect(server.alive(), "Prosody exited")
    problems = server.log_problems()
    expect(not problems, "Prosody logged errors:\n" + "\n".join(problems[:20]))


async def load_client(server, index):
    """One raw client: LOAD_REQUESTS pipelined sic:1 requests, every reply
    checked against this connection's own address and port."""
    host = "127.0.0.1" if index % 2 == 0 else "::1"
    client = await RawClient.login(host, server.port, f"load{index}", PASSWORD, "load", timeout=30, keep_raw=False)
    try:
        ip, port = client.sockname[:2]
        template = f"<iq type='get' id='c{index}-{{n}}'><address xmlns='{NS1}'/></iq>"
        replies = await client.pipeline(template, LOAD_REQUESTS, window=50)
    finally:
        await client.close()
    ids = set()
    for reply in replies:
        expect(reply.tag == f"{{{CLIENT}}}iq", f"client {index}: unexpected {show(reply)}")
        expect(address_of(reply) == (ip, port), f"client {index}: {show(reply)} for {(ip, port)}")
        expect(reply.get("to") == client.jid, f"client {index}: reply to {reply.get('to')}")
        ids.add(reply.get("id"))
    want = {f"c{index}-{n}" for n in range(LOAD_REQUESTS)}
    expect(ids == want, f"client {index}: {len(want - ids)} replies missing, {len(ids - want)} unexpected")
    return len(replies)


async def check_load(server):
    started = time.monotonic()
    counts = await asyncio.gather(*(load_client(server, i) for i in range(LOAD_CLIENTS)))
    took = time.monotonic() - started
    expect(sum(counts) == LOAD_CLIENTS * LOAD_REQUESTS, f"{sum(counts)} replies")
    print(f"     {LOAD_CLIENTS} clients x {LOAD_REQUESTS} requests: {sum(counts)} correct replies in {took:.2f}s")


async def check_still_up(server):
    expect(server.alive(), "Prosody exited")
    client = await RawClient.login("::1", server.port, "alice", PASSWORD, "last")
    try:
        reply = await client.request(f"<iq type='get' id='last'><address xmlns='{NS1}'/></iq>")
        expect(address_of(reply) == tuple(client.sockname[:2]), f"last request: {show(reply)}")
    finally:
        await client.close()
    problems = server.log_problems()
    expect(not problems, "Prosody logged errors:\n" + "\n".join(problems[:20]))


async def run_all(server, checks):
    for family, host in (("IPv4", "127.0.0.1"), ("IPv6", "::1")):
        await checks.run(f"slixmpp check_ip() (sic:0 <ip/>) over {family}", check_slixmpp_check_ip, server, host)
        await checks.run(f"sic:1 <address/> no to / own bare JID / domain over {family}",
                         check_sic1_address, server, host)
    await checks.run("sic:0 <address/> (ejabberd's form)", check_sic0_address_form, server)
    await checks.run("another user: forbidden", check_other_user_forbidden, server)
    await checks.run("type set: not-allowed", check_set_not_allowed, server)
    await checks.run("disco#info of the domain lists sic:0 and sic:1", check_disco_features, server)
    await checks.run("an id with &#10; and &#9;: the id Prosody parsed, written as mod_ping writes it",
                     check_whitespace_references_in_id, server)
    await checks.run("payload with attributes: answered; text, a child, 5000 deep: bad-request, server fine",
                     check_payload_shapes, server)
    for kind in ("BOSH", "WebSocket"):
        for forwarded_for in (None, "203.0.113.7"):
            how = f"behind a proxy (X-Forwarded-For {forwarded_for})" if forwarded_for else "direct"
            await checks.run(f"{kind} {how}: {'forwarded address, ' if forwarded_for else ''}"
                             f"{'port' if kind == 'WebSocket' and not forwarded_for else 'no port'}",
                             check_http_transport, server, kind, forwarded_for)
    await checks.run(f"{LOAD_CLIENTS} concurrent clients x {LOAD_REQUESTS} requests", check_load, server)
    await checks.run("Prosody still answers, log free of errors", check_still_up, server)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--so-dir", default=str(REPO / "bindings" / "lua"), help="directory of xmpp_sic.so")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # slixmpp's own logging is noise here

    checks = Checks()
    started = time.monotonic()
    users = [("alice", PASSWORD), ("bob", PASSWORD)] + [(f"load{i}", PASSWORD) for i in range(LOAD_CLIENTS)]
    try:
        with PrivateProsody(modules=["xmpp_sic", "bosh", "websocket"],
                            plugin_paths=[str(REPO / "bindings" / "prosody")],
                            lua_cpath_dir=str(Path(args.so_dir).resolve()), users=users) as server:
            print(f"     Prosody PID {server.proc.pid} on 127.0.0.1 and ::1 port {server.port}")
            asyncio.run(run_all(server, checks))
    except Exception as e:
        checks.failed += 1
        print(f"FAIL Prosody setup: {e}")
    print(f"     end-to-end took {time.monotonic() - started:.1f}s")
    print(f"{checks.passed} passed, {checks.failed} failed")
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
