"""A private Prosody on loopback for tests (see /work/shared/HOSTS.md): the
system's 0.12 by default, or 13 from bookworm-backports with release="13"
or XMPP_SIC_PROSODY_RELEASE=13 (testkit/releases.py, docs/releases.md).

It runs from a temporary directory with its own config (absolute paths, no
rate limits, run_as_root, s2s off), listens on 127.0.0.1 and ::1 only, is
stopped by the PID it was started with, and its directory is removed,
whatever happens in between (XMPP_SIC_KEEP_TMP=1 keeps it)."""

import os
import shutil
import subprocess
import tempfile

from . import logs, ports, process, releases, tls

CONFIG = """\
-- Written by testkit/prosody.py for one test run.
pidfile = {dir!r} .. "/prosody.pid"
data_path = {dir!r} .. "/data"
certificates = {dir!r} .. "/certs"
plugin_paths = {{ {plugin_paths} }}
log = {{ {{ levels = {{ min = {log_level!r} }}, to = "file", filename = {dir!r} .. "/prosody.log" }} }}
interfaces = {{ "127.0.0.1", "::1" }}
c2s_ports = {{ {port} }}
c2s_direct_tls_ports = {{ {direct_tls_ports} }}
http_ports = {{ {http_port} }}
http_interfaces = {{ "127.0.0.1", "::1" }}
https_ports = {{ }}
modules_enabled = {{ "saslauth", "disco", "roster", "ping", {modules} }}
modules_disabled = {{ "s2s" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
run_as_root = true
{tls}
{extra}
VirtualHost {domain!r}
"""


# Modules that serve over Prosody's HTTP port.
HTTP_MODULES = {"bosh", "websocket", "http", "http_files", "http_file_share"}


def lua_list(items):
    return ", ".join(repr(str(i)) for i in items)


def lua_cpath(dirs):
    """LUA_CPATH for these directories. The trailing ';;' keeps Lua's
    default path, where Prosody's own C modules live: without it Prosody
    exits at start."""
    return "".join(os.path.join(d, "?.so") + ";" for d in dirs) + (";" if dirs else ";;")


class PrivateProsody:
    """Context manager. `modules`: extra modules to enable; `plugin_paths`:
    where to find them; `lua_cpath_dir` (or a list of them): where Lua C
    modules they require live; `users`: (name, password) pairs registered
    before start; `tls=True` makes a certificate with openssl and adds a
    direct TLS port (`tls_port`) beside STARTTLS on the plain one; `wrapper`:
    a command to run Prosody under (valgrind...); `release`: "system"
    (0.12) or "13", XMPP_SIC_PROSODY_RELEASE when not given."""

    def __init__(self, modules=(), plugin_paths=(), lua_cpath_dir=(), users=(), extra_config="",
                 log_level="info", start_timeout=15.0, wrapper=(), domain="localhost", tls=False,
                 release=None):
        self.modules = list(modules)
        self.plugin_paths = list(plugin_paths)
        self.cpath_dirs = [lua_cpath_dir] if isinstance(lua_cpath_dir, (str, os.PathLike)) else list(lua_cpath_dir)
        self.users = list(users)
        self.extra_config = extra_config
        self.log_level = log_level
        self.start_timeout = start_timeout
        self.wrapper = list(wrapper)
        self.domain = domain
        self.tls = tls
        self.release = releases.prosody_release(release)
        self.prosody_cmd, self.prosodyctl_cmd = releases.prosody_commands(self.release)
        self.dir = self.proc = None
        self.port = self.http_port = self.tls_port = None
        self.cert = self.key = None

    @property
    def log_path(self):
        return os.path.join(self.dir, "prosody.log")

    @property
    def log_paths(self):
        return [self.log_path, os.path.join(self.dir, "stdio.log")]

    def __enter__(self):
        return process.enter(self)

    def __exit__(self, *exc):
        self.stop()
        return False

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="xmpp-sic-prosody-")
        self.port, self.http_port, self.tls_port = ports.distinct_ports(3)
        os.makedirs(os.path.join(self.dir, "data"))
        tls_lines = ""
        modules = list(self.modules)
        if self.tls:
            modules.append("tls")  # STARTTLS; direct TLS needs only the port
            self.cert, self.key = tls.self_signed(os.path.join(self.dir, "certs"), self.domain)
            tls_lines = f"ssl = {{ certificate = {self.cert!r}, key = {self.key!r} }}"
        else:
            os.makedirs(os.path.join(self.dir, "certs"))
        self.config_path = os.path.join(self.dir, "prosody.cfg.lua")
        with open(self.config_path, "w") as f:
            f.write(CONFIG.format(dir=self.dir, port=self.port, http_port=self.http_port,
                                  direct_tls_ports=self.tls_port if self.tls else "",
                                  plugin_paths=lua_list(self.plugin_paths), modules=lua_list(modules),
                                  log_level=self.log_level, tls=tls_lines, extra=self.extra_config,
                                  domain=self.domain))
        env = dict(os.environ)
        env.pop("LUA_CPATH_5_4", None)  # it would win over LUA_CPATH
        env["LUA_CPATH"] = lua_cpath(self.cpath_dirs)
        self.env = env
        for user, password in self.users:
            self.register(user, password)
        command = self.wrapper + [self.prosody_cmd, "-F", "--config", self.config_path]
        self.proc = process.start(command, os.path.join(self.dir, "stdio.log"), env=env)
        endpoints = [("127.0.0.1", self.port), ("::1", self.port)]
        if self.tls:
            endpoints.append(("127.0.0.1", self.tls_port))
        if HTTP_MODULES & set(modules):
            # mod_http opens its port when the first HTTP module loads,
            # which may be after c2s is up (seen on a busy machine).
            endpoints += [("127.0.0.1", self.http_port), ("::1", self.http_port)]
        process.wait_for_ports(self.proc, endpoints, self.start_timeout, self.tail)

    def register(self, user, password):
        """Creates an account (before or after start: accounts are files)."""
        subprocess.run([self.prosodyctl_cmd, "--config", self.config_path, "register", user, self.domain, password],
                       env=self.env, check=True, timeout=30, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def tail(self, lines=40):
        return logs.tail(self.log_paths, lines)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self):
        return process.cpu_seconds(self.proc.pid)

    def log_problems(self):
        """Lines of Prosody's logs that show an error or a Lua traceback."""
        return logs.problems(self.log_paths, logs.PROSODY_ERRORS)

    def assert_clean_log(self):
        logs.assert_clean(self.log_paths, logs.PROSODY_ERRORS, "Prosody")

    def stop(self):
        process.stop(self.proc)
        if self.dir and not os.environ.get("XMPP_SIC_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)
