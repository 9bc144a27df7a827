#!/usr/bin/env python3
"""Agreement over the wire: every request of the corpus (corpus.py) is sent
over real c2s streams to a private Prosody with mod_xmpp_sic and to a
private ejabberd with mod_xmpp_sic, and each server's reply is compared
with what the library's raw entry sic_handle_iq answers for the same bytes,
sender full JID, target and the client's own address and port: IQ type,
id (decoded), error type and condition, payload (name, namespace, ip, port
and the order of its children).

How a case is judged:
  PASS   the server's reply equals the library's; or the library passes the
         IQ (not a Server IP Check request) and the server answers it as it
         answers the same IQ with the payload's namespace replaced by one no
         module handles (the "twin").
  SERVER the server refused or routed the request before the module saw
         it: a stream error, or an answer identical to the twin's for a
         case whose server_first reason says so. Printed with the server's
         answer; not counted as agreement.
  FAIL   anything else, with both answers and the side it points at.
Afterwards each server must still answer a fresh login and keep a clean
error log. The last line is `N passed, N failed`; exit status 1 on failure.

    python3 -m testkit.agreement [--hosts prosody,ejabberd] [--filter TEXT]
        [--lua-dir bindings/lua] [--ejabberd-dir BUILD_DIR]

`make -C bindings/lua` is run first (--lua-dir names where xmpp_sic.so is
then found); without --ejabberd-dir, bindings/ejabberd/mod_xmpp_sic/build.sh
builds the ejabberd module into a temporary directory."""

import sys
from pathlib import Path

if __name__ == "__main__" and not __package__:
    # Run as a file: import the package from the repository root, and keep
    # testkit/ itself off the path (its http.py would shadow the stdlib's).
    sys.path[0] = str(Path(__file__).resolve().parents[1])
    __package__ = "testkit"  # noqa: A001

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import namedtuple  # noqa: E402

from .answers import describe, differences, summarize  # noqa: E402
from .corpus import SIC1, Context, corpus  # noqa: E402
from .ejabberd import EjabberdNode  # noqa: E402
from .library import Library  # noqa: E402
from .prosody import PrivateProsody  # noqa: E402
from .xmlstream import STREAM_NS, parse_one  # noqa: E402
from .xmpp import CLIENT_NS, RawClient, StreamClosed  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
USER, OTHER_USER, PASSWORD = "alice", "bob", "secret"
EXCHANGE_TIMEOUT = 15.0

# What came back for one request: kind is 'reply' (one IQ result or error),
# 'none' (nothing before the marker ping's answer), 'self' (the server
# delivered the IQ to this very client), 'stream-error', 'closed',
# 'timeout' or 'several'; answers are the Answers of what arrived.
Outcome = namedtuple("Outcome", "kind answers detail")


def envelope(answer):
    """The fields the server's own handling is compared on (an error may
    echo the request's payload, which differs in the twin by design)."""
    return (answer.kind, answer.type, answer.id, answer.error_type, answer.condition)


def same_as_twin(outcome, twin):
    if outcome.kind != twin.kind:
        return False
    if outcome.kind != "reply":
        return True
    return envelope(outcome.answers[0]) == envelope(twin.answers[0])


def show_outcome(outcome):
    if outcome.kind == "reply":
        return describe(outcome.answers[0])
    if outcome.kind == "self":
        return "the server delivered the IQ to the sender itself"
    if outcome.kind == "none":
        return "no reply"
    return f"{outcome.kind}: {outcome.detail}"


def short(text, limit=160):
    text = text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


class Host:
    """One server under test and the clients connected to it."""

    def __init__(self, name, server, endpoints):
        self.name, self.server, self.endpoints = name, server, endpoints
        self.clients = {}
        self.markers = 0

    async def client(self, via):
        client = self.clients.get(via)
        if client is None:
            host, port, tls = self.endpoints[via]
            client = await RawClient.login(host, port, USER, PASSWORD, f"agree-{via}", tls=tls,
                                           ca_file=self.server.cert, timeout=EXCHANGE_TIMEOUT)
            self.clients[via] = client
        return client

    async def drop(self, via):
        client = self.clients.pop(via, None)
        if client is not None:
            await client.close()

    async def exchange(self, via, text):
        """Sends `text`, then a ping as a marker, and returns the Outcome of
        everything that arrived before the ping's answer."""
        client = await self.client(via)
        self.markers += 1
        marker = f"testkit-marker-{self.markers}"
        client.send(text)
        client.send(f"<iq type='get' id='{marker}'><ping xmlns='urn:xmpp:ping'/></iq>")
        got = []
        try:
            await client.drain()
            while True:
                stanza = await client.next_raw(EXCHANGE_TIMEOUT)
                if stanza.element.tag == f"{{{CLIENT_NS}}}iq" and stanza.element.get("id") == marker:
                    break
                got.append(stanza)
                if stanza.element.tag == f"{{{STREAM_NS}}}error":
                    await self.drop(via)
                    answer = summarize(stanza)
                    return Outcome("stream-error", [answer], f"<{answer.condition}/>")
        except StreamClosed as e:
            await self.drop(via)
            return Outcome("closed", [summarize(s) for s in got], str(e))
        except (asyncio.TimeoutError, ConnectionError, OSError) as e:
            await self.drop(via)
            return Outcome("timeout", [summarize(s) for s in got], f"{type(e).__name__} {e}")
        answers = [summarize(s) for s in got]
        if not got:
            return Outcome("none", [], "")
        if len(got) == 1 and got[0].element.get("type") in ("get", "set"):
            return Outcome("self", answers, "")
        if len(got) == 1:
            as_parsed = got[0].element.get("id")
            seen = "" if as_parsed == answers[0].id else f"a client's parser reads the id as {as_parsed!r}"
            return Outcome("reply", answers, seen)
        return Outcome("several", answers, "; ".join(describe(a) for a in answers))

    async def close(self):
        for via in list(self.clients):
            await self.drop(via)


class Tally:
    def __init__(self):
        self.passed = self.failed = 0
        self.server_handled = []
        self.outcomes = {}  # (host, case name) -> Outcome

    def record(self, verdict, host, name, detail):
        if verdict == "PASS":
            self.passed += 1
        elif verdict == "FAIL":
            self.failed += 1
        else:
            self.server_handled.append(f"[{host}] {name}: {detail}")
        print(f"{verdict:<6} [{host}] {name}: {detail}", flush=True)


async def judge(host, lib, case, tally):
    """Runs one case on one host and records its verdict."""
    client = await host.client(case.via)
    ctx = Context(USER, host.server.domain, client.jid, OTHER_USER)
    peer = tuple(client.sockname[:2])
    text, target = case.make(ctx)
    status, reply = lib.handle_iq(text, client.jid, target, peer)
    outcome = await host.exchange(case.via, text)
    tally.outcomes[(host.name, case.name)] = outcome
    server_said = show_outcome(outcome)
    if status == "OK":
        expected = summarize(parse_one(reply))
        library_said = describe(expected)
    elif status == "PASS":
        expected = None
        library_said = "pass (not a Server IP Check request)"
    else:
        expected = None
        library_said = f"no answer, status {status}"
    agrees = outcome.kind == "reply" and expected is not None and outcome.answers[0] == expected

    if outcome.kind in ("stream-error", "closed", "timeout") and not host.server.alive():
        return tally.record("FAIL", host.name, case.name, f"the server died: {server_said}")
    if outcome.kind in ("stream-error", "closed"):
        return tally.record("SERVER", host.name, case.name,
                            f"the server refused it: {server_said} (library: {library_said})")
    if outcome.kind == "timeout":
        return tally.record("FAIL", host.name, case.name, f"no answer to the marker ping: {server_said}")
    twin = await host.exchange(case.via, case.twin(ctx)[0])
    if not host.server.alive():
        return tally.record("FAIL", host.name, case.name,
                            f"the server died after answering {server_said} (to the request or its twin "
                            f"{short(case.twin(ctx)[0], 80)})")
    as_without_module = same_as_twin(outcome, twin)
    if status == "PASS" and as_without_module:
        return tally.record("PASS", host.name, case.name,
                            f"library passes; the server answers as with no module: {server_said}")
    if status == "OK" and as_without_module and (case.server_first or agrees or (
            outcome.kind == "reply" and envelope(outcome.answers[0]) == envelope(expected))):
        reason = case.server_first or "the server answers so with no module too"
        return tally.record("SERVER", host.name, case.name,
                            f"{reason}: {server_said} (library alone: {library_said})")
    if agrees:
        return tally.record("PASS", host.name, case.name, server_said)
    if status not in ("OK", "PASS"):
        side = "library side, it gives no answer"
    elif as_without_module:
        side = "module side, the server answered as if no module were loaded"
    else:
        side = "module side"
    if expected is not None and outcome.kind == "reply":
        detail = "differs in " + "; ".join(differences(outcome.answers[0], expected))
    else:
        detail = f"server {server_said}; library {library_said}"
    known = case.known.get(host.name)
    if known:
        reason, delivered = known
        delivered_text, delivered_target = delivered(ctx)
        d_status, d_reply = lib.handle_iq(delivered_text, client.jid, delivered_target, peer)
        if (d_status == "OK" and outcome.kind == "reply"
                and outcome.answers[0] == summarize(parse_one(d_reply))):
            return tally.record("SERVER", host.name, case.name,
                                f"{reason}; the server's answer is the library's to the request as delivered, "
                                f"{short(delivered_text)}: {server_said} (library on the bytes sent: {library_said})")
        side = f"known cause: {reason}, yet the answer is not the library's to the request as delivered either"
    tally.record("FAIL", host.name, case.name, f"{side}: {detail}; request {short(text)}")


async def after_checks(host, lib, tally):
    """The server is alive (a fresh login is answered, as the library
    answers it) and its error log is clean."""
    name = "still alive: a fresh login's sic:1 request is answered as the library answers it"
    try:
        if not host.server.alive():
            raise RuntimeError("the server process has exited")
        client = await RawClient.login("127.0.0.1", host.endpoints["v4"][1], OTHER_USER, PASSWORD, "last",
                                       timeout=EXCHANGE_TIMEOUT)
        try:
            text = f"<iq type='get' id='last'><address xmlns='{SIC1}'/></iq>"
            _, want = lib.handle_iq(text, client.jid, None, tuple(client.sockname[:2]))
            got = summarize(await client.request_raw(text))
            if got != summarize(parse_one(want)):
                raise RuntimeError(f"server {describe(got)}, library {describe(summarize(parse_one(want)))}")
        finally:
            await client.close()
        tally.record("PASS", host.name, name, "ok")
    except Exception as e:  # noqa: BLE001 - a failed check is reported, not raised
        tally.record("FAIL", host.name, name, f"{type(e).__name__}: {e}")
    problems = host.server.log_problems()
    if problems:
        tally.record("FAIL", host.name, "error log clean", f"{len(problems)} lines: " + " | ".join(problems[:5]))
    else:
        tally.record("PASS", host.name, "error log clean", "no error, crash or traceback lines")


def portless(answer):
    """Each client has its own port: servers are compared on its presence."""
    return answer._replace(port=answer.port is not None)


def print_known_differences(tally, cases, hosts):
    """Where the two servers' answers differ from each other."""
    if len(hosts) < 2:
        return
    a, b = hosts
    print(f"\nKnown differences between {a} and {b} (same request, different answers):")
    found = 0
    for case in cases:
        oa, ob = tally.outcomes.get((a, case.name)), tally.outcomes.get((b, case.name))
        if oa is None or ob is None:
            continue
        if oa.kind == ob.kind == "reply":
            diff = differences(portless(oa.answers[0]), portless(ob.answers[0]))
            if diff:
                found += 1
                print(f"  {case.name}: {a} != {b} in " + "; ".join(diff))
        elif oa.kind != ob.kind:
            found += 1
            print(f"  {case.name}: {a} {show_outcome(oa)} | {b} {show_outcome(ob)}")
    for name, note in tally.notes:
        found += 1
        print(f"  {name}: {note}")
    if not found:
        print("  none")


def build_lua(lua_dir):
    """`make -C bindings/lua` (incremental), then the module's path."""
    done = subprocess.run(["make", "--no-print-directory", "-C", str(REPO / "bindings" / "lua")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"make -C bindings/lua failed ({done.returncode}):\n" + done.stdout[-3000:])
    so = Path(lua_dir) / "xmpp_sic.so"
    if not so.exists():
        raise RuntimeError(f"{so} is missing after make")
    return str(lua_dir)


def build_ejabberd(out_dir):
    done = subprocess.run([str(REPO / "bindings/ejabberd/mod_xmpp_sic/build.sh"), out_dir],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"build.sh failed ({done.returncode}):\n" + done.stdout[-3000:])
    return out_dir


def prosody_host(args):
    server = PrivateProsody(modules=["xmpp_sic"], plugin_paths=[str(REPO / "bindings" / "prosody")],
                            lua_cpath_dir=build_lua(args.lua_dir), users=[(USER, PASSWORD), (OTHER_USER, PASSWORD)],
                            tls=True)
    return server, lambda s: {"v4": ("127.0.0.1", s.port, None), "v6": ("::1", s.port, None),
                              "starttls": ("127.0.0.1", s.port, "starttls"),
                              "tls": ("127.0.0.1", s.tls_port, "direct")}


def ejabberd_host(args, scratch):
    build = args.ejabberd_dir or build_ejabberd(os.path.join(scratch, "mod_xmpp_sic"))
    server = EjabberdNode([os.path.join(build, "ebin")],
                          "  mod_disco: {}\n  mod_ping: {}\n  mod_xmpp_sic: {}\n", tls=True,
                          users=[(USER, PASSWORD), (OTHER_USER, PASSWORD)])
    return server, lambda s: {"v4": ("127.0.0.1", s.port_v4, None), "v6": ("::1", s.port_v6, None),
                              "starttls": ("127.0.0.1", s.port_starttls, "starttls"),
                              "tls": ("127.0.0.1", s.port_tls, "direct")}


async def run_cases(host, lib, cases, tally):
    for case in cases:
        try:
            await judge(host, lib, case, tally)
        except Exception as e:  # noqa: BLE001 - one broken case must not hide the others
            await host.drop(case.via)
            tally.record("FAIL", host.name, case.name, f"{type(e).__name__}: {short(str(e), 300)}")


def note_id_normalisation(tally, host_name):
    """An id written with a literal tab, newline or CR is read back as a
    space by any conforming parser (attribute-value normalisation): the
    server meant the right value, which is what the cases compare, but its
    clients see another. Noted once per server."""
    for (name, case), outcome in tally.outcomes.items():
        if name == host_name and outcome.kind == "reply" and outcome.detail:
            tally.notes.append((f"{host_name}, {case}",
                                f"the reply's id is written with raw whitespace: {outcome.detail}, "
                                f"not {outcome.answers[0].id!r}"))
            return


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="prosody,ejabberd")
    parser.add_argument("--filter", default="", help="run only cases whose name contains this")
    parser.add_argument("--lua-dir", default=str(REPO / "bindings" / "lua"))
    parser.add_argument("--ejabberd-dir", help="a tree built by bindings/ejabberd/mod_xmpp_sic/build.sh")
    parser.add_argument("--list", action="store_true", help="print the corpus and exit")
    args = parser.parse_args()
    cases = [c for c in corpus() if args.filter in c.name]
    if args.list:
        for c in cases:
            print(f"{c.via:8} {c.name}")
        return 0
    lib = Library()
    tally = Tally()
    tally.notes = []
    hosts = [h for h in args.hosts.split(",") if h]
    print(f"{len(cases)} requests per server; library {lib.path} (version {lib.version()})")
    scratch = tempfile.mkdtemp(prefix="xmpp-sic-agreement-")
    try:
        for name in hosts:
            started = time.monotonic()
            try:
                server, endpoints = prosody_host(args) if name == "prosody" else ejabberd_host(args, scratch)
                with server:
                    host = Host(name, server, endpoints(server))

                    async def run():
                        try:
                            await run_cases(host, lib, cases, tally)
                            await after_checks(host, lib, tally)
                        finally:
                            await host.close()
                    asyncio.run(run())
                gone = not server.alive() and (os.environ.get("XMPP_SIC_KEEP_TMP") or not os.path.exists(server.dir))
                tally.record("PASS" if gone else "FAIL", name, "stopped by its PID, its directory removed",
                             f"exit status {server.proc.returncode}" if gone else
                             f"alive={server.alive()}, {server.dir} exists={os.path.exists(server.dir)}")
            except Exception as e:  # noqa: BLE001 - a host that cannot start is a failure
                tally.record("FAIL", name, "server setup", f"{type(e).__name__}: {e}")
            note_id_normalisation(tally, name)
            print(f"       [{name}] took {time.monotonic() - started:.1f}s", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print_known_differences(tally, cases, hosts)
    print(f"\nserver-handled, not compared: {len(tally.server_handled)}")
    for line in tally.server_handled:
        print(f"  {line}")
    print(f"{tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
