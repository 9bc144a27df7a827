"""A private ejabberd node on loopback for tests (see /work/shared/HOSTS.md):
the system's 23.01 by default, or 24.12 from bookworm-backports with
release="24.12" or XMPP_SIC_EJABBERD_RELEASE=24.12 (testkit/releases.py,
docs/releases.md).

Started with plain `erl` (no ejabberdctl, no su, no epmd: a fixed free
distribution port), with its own node name, cookie, config and spool in a
temporary directory. c2s listens on 127.0.0.1, ::1 and ::ffff:127.0.0.1 (an
IPv6 socket that IPv4 clients reach, as on a dual-stack listener); with
tls=True also on a STARTTLS and a direct TLS port, with a certificate made
by openssl; with http=True BOSH and WebSocket on one HTTP port. Stopped
by node name (init:stop) and then by PID; a watchdog in the node halts it
if the test process dies first. The directory is removed afterwards
(XMPP_SIC_KEEP_TMP=1 keeps it)."""

import glob
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time

from . import logs, ports, process, releases, tls

LISTENER = """\
  -
    port: {port}
    ip: "{ip}"
    module: ejabberd_c2s
    starttls: {starttls}
    tls: {direct_tls}
    shaper: none
    max_stanza_size: 262144
    # ejabberd's default backlog of 5 makes simultaneous connects wait for
    # a SYN retransmission (1 s).
    backlog: 128
"""

HTTP_LISTENER = """\
  -
    port: {port}
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /http-bind: mod_bosh
      /xmpp-websocket: ejabberd_http_ws
"""

CONFIG = """\
hosts:
  - {domain}
loglevel: info
certfiles: [{certfiles}]
hide_sensitive_log_data: false
listen:
{listeners}
auth_method: internal
# No server-to-server traffic: a stanza to a remote domain is bounced at
# once instead of after a DNS lookup and connection attempt.
s2s_access: none
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
shaper_rules:
  c2s_shaper: none
  max_user_sessions: 100
modules:
{modules}
"""


def ejabberd_lib():
    """Debian installs ejabberd outside Erlang's lib dir, versioned
    (EJABBERD_LIB overrides)."""
    override = os.environ.get("EJABBERD_LIB")
    if override:
        return override
    for pattern in ("/usr/lib/*/ejabberd-*", "/usr/lib/ejabberd-*", "/usr/lib/erlang/lib/ejabberd-*"):
        for path in sorted(glob.glob(pattern)):
            if os.path.isfile(os.path.join(path, "ebin", "ejabberd.beam")):
                return path
    raise RuntimeError("ejabberd not found: apt-get install ejabberd, or set EJABBERD_LIB")


class EjabberdNode:
    """Context manager: a running node with `modules_yaml` (the lines under
    `modules:`), `ebin_dirs` on the code path (-pa) and, if given,
    `contrib_dir` as ejabberd's contrib modules directory (modules installed
    there are put on the code path by ejabberd itself). `users`: (name,
    password) pairs registered once the node is up. `http=True` adds an
    HTTP listener on `port_http` with BOSH (/http-bind) and WebSocket
    (/xmpp-websocket); `tls=True` a STARTTLS and a direct TLS listener.
    `release`: "system" (23.01) or "24.12", XMPP_SIC_EJABBERD_RELEASE when
    not given. For a cluster (testkit/cluster.py): `epmd_port`, a private
    epmd the nodes register with instead of each having a fixed
    distribution port, and one `cookie` for all of them."""

    def __init__(self, ebin_dirs=(), modules_yaml="  mod_disco: {}\n", domain="localhost", start_timeout=30,
                 contrib_dir=None, tls=False, users=(), http=False, release=None, epmd_port=None,
                 cookie=None):
        self.ebin_dirs = list(ebin_dirs)
        self.modules_yaml = modules_yaml
        self.domain = domain
        self.start_timeout = start_timeout
        self.contrib_dir = contrib_dir
        self.tls = tls
        self.users = list(users)
        self.http = http
        self.release = releases.ejabberd_release(release)
        # The system's: ejabberd_lib() (EJABBERD_LIB overrides); a backports
        # one: its lib dir, and its libraries ahead of the system's.
        self.lib_dir, self.erl_libs = releases.ejabberd_code(self.release)
        self.lib_dir = self.lib_dir or ejabberd_lib()
        self.port_http = None
        self.dir = self.proc = None
        self.cert = None
        self.node = f"xsic{os.getpid()}x{secrets.token_hex(3)}@localhost"
        self.cookie = cookie or secrets.token_hex(16)
        self.epmd_port = epmd_port
        self._rpc_seq = 0

    @property
    def log_path(self):
        return os.path.join(self.dir, "ejabberd.log")

    @property
    def log_paths(self):
        return [self.log_path, os.path.join(self.dir, "stdout.log")]

    # --- life cycle ---------------------------------------------------------

    def __enter__(self):
        return process.enter(self)

    def __exit__(self, *exc):
        self.stop()
        return False

    def _listeners(self):
        plain = [(self.port_v4, "127.0.0.1"), (self.port_v6, "::1"), (self.port_mapped, "::ffff:127.0.0.1")]
        text = "".join(LISTENER.format(port=p, ip=ip, starttls="false", direct_tls="false") for p, ip in plain)
        if self.tls:
            text += LISTENER.format(port=self.port_starttls, ip="127.0.0.1", starttls="true", direct_tls="false")
            text += LISTENER.format(port=self.port_tls, ip="127.0.0.1", starttls="false", direct_tls="true")
        if self.http:
            text += HTTP_LISTENER.format(port=self.port_http)
        return text

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="xmpp-sic-ejabberd-")
        v4 = lambda: ports.free_port(socket.AF_INET)  # noqa: E731
        self.port_v4, self.port_mapped, self.port_dist, self.port_starttls, self.port_tls, self.port_http = \
            ports.distinct_ports(6, v4)
        self.port_v6 = ports.free_port(socket.AF_INET6)
        certfiles = ""
        if self.tls:
            cert, key = tls.self_signed(os.path.join(self.dir, "certs"), self.domain)
            self.cert = cert
            certfiles = '"%s"' % tls.combined_pem(cert, key, os.path.join(self.dir, "certs", "both.pem"))
        self.config_path = os.path.join(self.dir, "ejabberd.yml")  # must end in .yml
        with open(self.config_path, "w") as f:
            f.write(CONFIG.format(domain=self.domain, certfiles=certfiles, listeners=self._listeners(),
                                  modules=self.modules_yaml))
        command = ["erl", "-sname", self.node, "-setcookie", self.cookie] + self._distribution() + [
                   "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
                   "-pa", os.path.join(self.lib_dir, "ebin")]
        for d in self.ebin_dirs:
            command += ["-pa", d]
        cleanup = "" if os.environ.get("XMPP_SIC_KEEP_TMP") else f"rm -rf '{self.dir}'"
        # Halts the node (and removes its directory) once the test process
        # is gone, even if it was killed before it could stop the node.
        watchdog = ("spawn(fun Watch() -> timer:sleep(2000), "
                    "case os:cmd(\"kill -0 %d 2>/dev/null && echo alive\") of "
                    "\"alive\\n\" -> Watch(); _ -> os:cmd(\"%s\"), halt() end end)"
                    % (os.getpid(), cleanup))
        command += ["-mnesia", "dir", '"%s"' % os.path.join(self.dir, "spool"), "-noinput",
                    "-eval", watchdog,
                    "-eval", "case application:ensure_all_started(ejabberd) of "
                             "{ok, _} -> ok; Err -> io:format(\"ejabberd failed: ~p~n\", [Err]), halt(3) end"]
        env = dict(os.environ, EJABBERD_CONFIG_PATH=self.config_path, EJABBERD_LOG_PATH=self.log_path,
                   HOME=self.dir)
        if self.epmd_port:
            env["ERL_EPMD_PORT"] = str(self.epmd_port)
        if self.erl_libs:
            # Code path order: -pa dirs, then ERL_LIBS, then OTP's lib dir,
            # where the system's older erlang-p1-* live.
            env["ERL_LIBS"] = self.erl_libs
        # An empty directory otherwise, so nothing installed for a real
        # server in ~/.ejabberd-modules leaks in.
        env["CONTRIB_MODULES_PATH"] = self.contrib_dir or os.path.join(self.dir, "contrib")
        self.proc = process.start(command, os.path.join(self.dir, "stdout.log"), env=env, cwd=self.dir)
        process.wait_for_ports(self.proc, self._endpoints(), self.start_timeout, self.output)
        for user, password in self.users:
            self.register([user], password)

    def _endpoints(self):
        endpoints = [("127.0.0.1", self.port_v4), ("::1", self.port_v6), ("127.0.0.1", self.port_mapped)]
        if self.tls:
            endpoints += [("127.0.0.1", self.port_starttls), ("127.0.0.1", self.port_tls)]
        if self.http:
            endpoints.append(("127.0.0.1", self.port_http))
        return endpoints

    def wait_ready(self, timeout=30.0):
        """Waits until ejabberd has started and every listener accepts
        again: joining a cluster restarts ejabberd on the joining node."""
        self.wait_started(timeout)
        process.wait_for_ports(self.proc, self._endpoints(), timeout, self.output)

    def _distribution(self):
        """Alone, a node needs no epmd: it listens on a fixed port that its
        callers are told (-erl_epmd_port). Nodes that must reach each other
        each listen on their own port and find one another through a
        private epmd (ERL_EPMD_PORT)."""
        if self.epmd_port:
            return ["-start_epmd", "false", "-kernel", "inet_dist_listen_min", str(self.port_dist),
                    "inet_dist_listen_max", str(self.port_dist)]
        return ["-erl_epmd_port", str(self.port_dist), "-start_epmd", "false"]

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self):
        return process.cpu_seconds(self.proc.pid)

    def stop(self):
        """Stops only our node: by its name first, then by its PID."""
        if self.alive():
            try:
                self.rpc("init:stop()", timeout=10)
            except Exception:  # noqa: BLE001 - the PID is the fallback
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.stop(self.proc, term_timeout=5, kill_timeout=5)
        if self.dir and not os.environ.get("XMPP_SIC_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- logs ---------------------------------------------------------------

    def output(self):
        return logs.tail(self.log_paths, 60)

    def log(self):
        return logs.read(self.log_path)

    def log_problems(self):
        return logs.problems(self.log_paths, logs.EJABBERD_ERRORS)

    def assert_clean_log(self):
        logs.assert_clean(self.log_paths, logs.EJABBERD_ERRORS, "ejabberd")

    # --- remote calls -------------------------------------------------------

    def rpc(self, expr, timeout=60, extra_pa=()):
        """Evaluates the Erlang expression `expr` on the node and returns
        what it prints with ~p, as text. The caller is a hidden node that
        does not listen (-dist_listen false): no port or epmd needed."""
        self._rpc_seq += 1
        caller = f"ctl{os.getpid()}x{self._rpc_seq}x{secrets.token_hex(2)}@localhost"
        code = ("R = rpc:call('%s', erlang, apply, [fun() -> %s end, []], %d), "
                "io:format(\"~p~n\", [R]), halt()." % (self.node, expr, timeout * 1000))
        command = ["erl", "-sname", caller, "-setcookie", self.cookie, "-hidden", "-start_epmd", "false",
                   "-dist_listen", "false", "-noshell"]
        if not self.epmd_port:
            command += ["-erl_epmd_port", str(self.port_dist)]
        for d in extra_pa:
            command += ["-pa", d]
        command += ["-eval", code]
        env = dict(os.environ, ERL_EPMD_PORT=str(self.epmd_port)) if self.epmd_port else None
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 30,
                             stdin=subprocess.DEVNULL, env=env)
        if out.returncode != 0:
            raise RuntimeError(f"rpc failed ({out.returncode}): {out.stderr}{out.stdout}")
        return out.stdout.strip()

    def applications(self):
        """{application: version} of what the node has loaded, to be sure
        which release's libraries run (ERL_LIBS against the system's)."""
        text = self.rpc("[{A, V} || {A, _, V} <- application:which_applications()]")
        return dict(re.findall(r'\{\s*([a-z0-9_]+)\s*,\s*"([^"]*)"\s*\}', text))

    def wait_started(self, timeout=30.0):
        """Waits until ejabberd's application has started: its c2s ports
        open before its start function returns, and a node asked to join
        a cluster (which restarts ejabberd) meanwhile fails to start."""
        deadline = time.monotonic() + timeout
        while "ejabberd" not in (apps := self.applications()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"ejabberd not started on {self.node} after {timeout} s: {sorted(apps)}")
            time.sleep(0.2)
        return apps

    def cluster_nodes(self):
        """The node names ejabberd counts in its cluster (this one
        included). Raises while the node cannot say (ejabberd restarting
        during a join answers with a badrpc)."""
        text = self.rpc("ejabberd_cluster:get_nodes()")
        if not re.fullmatch(r"\[[\w@.,'\s-]*\]", text):
            raise RuntimeError(f"ejabberd_cluster:get_nodes() on {self.node}: {text}")
        return sorted(re.findall(r"[\w.-]+@[\w.-]+", text))

    def wait_for_cluster(self, nodes, timeout=30.0):
        """Waits until the cluster seen from this node is exactly `nodes`
        (names). ejabberd 24.12's join_cluster returns before the join is
        done ("Trying to join that cluster, wait a few seconds"), 23.01's
        when it is: polling serves both. While the joining node restarts
        ejabberd it answers with errors: they are waited out too."""
        want = sorted(nodes)
        deadline = time.monotonic() + timeout
        while True:
            try:
                seen = self.cluster_nodes()
            except RuntimeError as e:
                seen = str(e)
            if seen == want:
                return seen
            if time.monotonic() > deadline:
                raise RuntimeError(f"cluster of {self.node}: {seen}, expected {want} after {timeout} s")
            time.sleep(0.3)

    def join_cluster(self, other, timeout=30.0):
        """Joins this node to `other`'s cluster (an EjabberdNode or a node
        name) and waits until this node counts `other`'s cluster and
        itself. The nodes must reach each other over distribution (same
        cookie, one epmd: testkit/cluster.py sets that up)."""
        if isinstance(other, EjabberdNode):
            name = other.node
            other.wait_started(timeout)
            want = set(other.cluster_nodes()) | {self.node}
        else:
            name = str(other)
            want = {name, self.node}
        self.wait_started(timeout)
        result = self.rpc(f'ejabberd_admin:join_cluster(<<"{name}">>)', timeout=int(timeout) + 30)
        if "error" in result:
            raise RuntimeError(f"join_cluster({name}) on {self.node}: {result}")
        return self.wait_for_cluster(want, timeout)

    def register(self, users, password, timeout=30.0):
        """Creates accounts: `users` is a list of names with one password
        (or a single name). Retried while the node is still creating its
        tables: its ports open before ejabberd_auth's table exists."""
        if isinstance(users, str):
            users = [users]
        exprs = ", ".join(f'ejabberd_auth:try_register(<<"{u}">>, <<"{self.domain}">>, <<"{password}">>)'
                          for u in users)
        want = "[" + ",".join(["ok"] * len(users)) + "]"
        deadline = time.monotonic() + timeout
        while True:
            result = self.rpc(f"[{exprs}]")
            if result.replace(" ", "").replace("\n", "") == want:
                return
            if "no_exists" not in result or time.monotonic() > deadline:
                raise RuntimeError(f"registering {users} failed: {result}")
            time.sleep(0.2)
