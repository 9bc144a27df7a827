"""A private Prosody and a raw XMPP client, for the benchmark (and as the
fallback of the end-to-end test when bindings/testkit is not available).

PrivateProsody runs Prosody on 127.0.0.1 and ::1 from a temporary directory
with its own config, as HOSTS.md describes: absolute paths, no rate limits,
run_as_root, s2s disabled. It is stopped by the PID it was started with, and
the directory is removed, whatever happens in between.
"""

import asyncio
import base64
import collections
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

STREAM_NS = "http://etherx.jabber.org/streams"
CLIENT_NS = "jabber:client"
SASL_NS = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND_NS = "urn:ietf:params:xml:ns:xmpp-bind"

CONFIG = """\
-- Written by prosody_env.py for one test run.
pidfile = {dir!r} .. "/prosody.pid"
data_path = {dir!r} .. "/data"
certificates = {dir!r} .. "/certs"
plugin_paths = {{ {plugin_paths} }}
log = {{ {{ levels = {{ min = {log_level!r} }}, to = "file", filename = {dir!r} .. "/prosody.log" }} }}
interfaces = {{ "127.0.0.1", "::1" }}
c2s_ports = {{ {port} }}
http_ports = {{ {http_port} }}
http_interfaces = {{ "127.0.0.1", "::1" }}
https_ports = {{ }}
modules_enabled = {{ "saslauth", "disco", "roster", "ping", {modules} }}
modules_disabled = {{ "s2s" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
run_as_root = true
{extra}
VirtualHost "localhost"
"""


def free_port():
    """A TCP port free on both loopback addresses."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s4:
            s4.bind(("127.0.0.1", 0))
            port = s4.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s6:
                    s6.bind(("::1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no port free on both 127.0.0.1 and ::1")


def lua_list(items):
    return ", ".join(repr(str(i)) for i in items)


class PrivateProsody:
    def __init__(self, modules, plugin_paths, lua_cpath_dir, users=(), extra_config="", log_level="info",
                 start_timeout=15.0, wrapper=()):
        self.modules = list(modules)
        self.plugin_paths = list(plugin_paths)
        self.lua_cpath_dir = lua_cpath_dir
        self.users = list(users)
        self.extra_config = extra_config
        self.log_level = log_level
        self.start_timeout = start_timeout
        # A command to run Prosody under (valgrind, for the benchmark).
        self.wrapper = list(wrapper)
        self.dir = None
        self.proc = None
        self.port = None
        self.http_port = None

    @property
    def log_path(self):
        return os.path.join(self.dir, "prosody.log")

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="xmpp-sic-prosody-")
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self):
        self.port, self.http_port = free_port(), free_port()
        os.makedirs(os.path.join(self.dir, "data"))
        os.makedirs(os.path.join(self.dir, "certs"))
        self.config_path = os.path.join(self.dir, "prosody.cfg.lua")
        with open(self.config_path, "w") as f:
            f.write(CONFIG.format(dir=self.dir, port=self.port, http_port=self.http_port,
                                  plugin_paths=lua_list(self.plugin_paths), modules=lua_list(self.modules),
                                  log_level=self.log_level, extra=self.extra_config))
        env = dict(os.environ)
        env.pop("LUA_CPATH_5_4", None)
        # The trailing ";;" keeps Lua's default path, where Prosody's own C
        # modules live; without it Prosody exits at start.
        env["LUA_CPATH"] = os.path.join(self.lua_cpath_dir, "?.so") + ";;"
        self.env = env
        for user, password in self.users:
            subprocess.run(["prosodyctl", "--config", self.config_path, "register", user, "localhost", password],
                           env=env, check=True, timeout=30, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.stdio = open(os.path.join(self.dir, "stdio.log"), "wb")
        command = self.wrapper + [shutil.which("prosody") or "prosody", "-F", "--config", self.config_path]
        self.proc = subprocess.Popen(command, env=env,
                                     stdout=self.stdio, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        pending = {("127.0.0.1", socket.AF_INET), ("::1", socket.AF_INET6)}
        while pending:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Prosody exited with {self.proc.returncode} at start:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Prosody did not open port {self.port} in {self.start_timeout}s:\n{self.tail()}")
            for host, family in list(pending):
                try:
                    with socket.socket(family, socket.SOCK_STREAM) as s:
                        s.settimeout(0.5)
                        s.connect((host, self.port))
                    pending.discard((host, family))
                except OSError:
                    pass
            if pending:
                time.sleep(0.02)

    def tail(self, lines=40):
        out = []
        for name in ("stdio.log", "prosody.log"):
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out.append(f"--- {name}\n" + "".join(f.readlines()[-lines:]))
        return "\n".join(out)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of stat(5); [0] here is field 3.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_problems(self):
        """Lines of Prosody's log that show an error or a Lua traceback."""
        bad = re.compile(r"\terror\t|traceback|\.lua:\d+:|attempt to (index|call)", re.IGNORECASE)
        problems = []
        for name in ("prosody.log", "stdio.log"):
            path = os.path.join(self.dir, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    problems += [f"{name}: {line.rstrip()}" for line in f if bad.search(line)]
        return problems

    def assert_clean_log(self):
        problems = self.log_problems()
        if problems:
            raise AssertionError("Prosody logged errors:\n" + "\n".join(problems[:20]))

    def __exit__(self, *exc):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "stdio", None):
            self.stdio.close()
        if self.dir and not os.environ.get("XMPP_SIC_KEEP_PROSODY_DIR"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return False


class RawClient:
    """An XMPP client on a bare asyncio stream: SASL PLAIN, bind, then
    pipelined stanzas. Top-level stanzas are read with an incremental XML
    parser, so replies are checked as XML, never as text."""

    def __init__(self, reader, writer, timeout):
        self.reader, self.writer, self.timeout = reader, writer, timeout
        self.stanzas = collections.deque()
        self.jid = None
        self._restart_parser()

    def _restart_parser(self):
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.root = None

    @property
    def sockname(self):
        return self.writer.get_extra_info("sockname")

    def _feed(self, data):
        self.parser.feed(data)
        for event, el in self.parser.read_events():
            if event == "start":
                self.depth += 1
                if self.depth == 1:
                    self.root = el
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.stanzas.append(el)
                    self.root.remove(el)

    async def next_stanza(self):
        while not self.stanzas:
            data = await asyncio.wait_for(self.reader.read(65536), self.timeout)
            if not data:
                raise ConnectionError("the server closed the stream")
            self._feed(data)
        return self.stanzas.popleft()

    def send(self, text):
        self.writer.write(text.encode() if isinstance(text, str) else text)

    def _open_stream(self):
        self.send("<?xml version='1.0'?><stream:stream to='localhost' xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")

    async def _expect(self, tag):
        el = await self.next_stanza()
        if el.tag != tag:
            raise RuntimeError(f"expected {tag}, got {ET.tostring(el, encoding='unicode')}")
        return el

    @classmethod
    async def login(cls, host, port, user, password, resource, timeout=20.0):
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        client = cls(reader, writer, timeout)
        client._open_stream()
        await client._expect(f"{{{STREAM_NS}}}features")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        client.send(f"<auth xmlns='{SASL_NS}' mechanism='PLAIN'>{token}</auth>")
        await client._expect(f"{{{SASL_NS}}}success")
        client._restart_parser()
        client._open_stream()
        await client._expect(f"{{{STREAM_NS}}}features")
        client.send(f"<iq type='set' id='bind'><bind xmlns='{BIND_NS}'><resource>{resource}</resource></bind></iq>")
        iq = await client._expect(f"{{{CLIENT_NS}}}iq")
        client.jid = iq.findtext(f"{{{BIND_NS}}}bind/{{{BIND_NS}}}jid")
        if iq.get("type") != "result" or not client.jid:
            raise RuntimeError("bind failed: " + ET.tostring(iq, encoding="unicode"))
        return client

    async def request(self, text):
        """Sends one stanza and returns the next stanza that arrives."""
        self.send(text)
        await self.writer.drain()
        return await self.next_stanza()

    async def pipeline(self, template, count, window=1000):
        """Sends template.format(n=0..count-1) keeping at most `window`
        unanswered, and returns the replies in order of arrival."""
        replies, sent = [], 0
        while len(replies) < count:
            burst = []
            while sent < count and sent - len(replies) < window:
                burst.append(template.format(n=sent))
                sent += 1
            if burst:
                self.send("".join(burst))
                await self.writer.drain()
            replies.append(await self.next_stanza())
            while self.stanzas and len(replies) < count:
                replies.append(self.stanzas.popleft())
        return replies

    async def close(self):
        try:
            self.send("</stream:stream>")
            await self.writer.drain()
        except (ConnectionError, OSError):
            pass
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 5)
        except (ConnectionError, OSError, asyncio.TimeoutError):
            pass
