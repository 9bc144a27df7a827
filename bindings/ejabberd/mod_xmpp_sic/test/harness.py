"""Runs Debian's ejabberd 23.01 from a temporary directory for the tests.

The node is started with plain `erl` (no ejabberdctl, no su), listens for
c2s only on loopback, uses its own node name and cookie, and runs without
epmd: `-start_epmd false` with a fixed free distribution port. It is stopped
by its own node name (init:stop over distribution) and then by its PID, and
the directory is removed, whatever happens in between.

This is a thin stand-in for bindings/testkit's EjabberdHost, kept here so the
Erlang binding's tests do not depend on a sibling's work in progress.
"""

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    """A TCP port that is free now on `host` (the kernel picks it)."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ejabberd_lib():
    """Debian installs ejabberd outside Erlang's lib dir, versioned."""
    override = os.environ.get("EJABBERD_LIB")
    if override:
        return override
    for pattern in ("/usr/lib/*/ejabberd-*", "/usr/lib/ejabberd-*", "/usr/lib/erlang/lib/ejabberd-*"):
        for path in sorted(glob.glob(pattern)):
            if os.path.isfile(os.path.join(path, "ebin", "ejabberd.beam")):
                return path
    raise RuntimeError("ejabberd not found: apt-get install ejabberd, or set EJABBERD_LIB")


CONFIG = """\
hosts:
  - {domain}
loglevel: info
certfiles: []
hide_sensitive_log_data: false
# backlog: ejabberd's default of 5 makes simultaneous connects wait for a
# SYN retransmission (1 s).
listen:
  -
    port: {port_v4}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    shaper: none
    max_stanza_size: 262144
    backlog: 128
  -
    port: {port_v6}
    ip: "::1"
    module: ejabberd_c2s
    starttls: false
    shaper: none
    max_stanza_size: 262144
    backlog: 128
  # An IPv6 socket bound to a v4-mapped address: IPv4 clients of 127.0.0.1
  # reach it and are reported as ::ffff:127.0.0.1, as on a dual-stack
  # listener, while nothing but loopback is exposed.
  -
    port: {port_mapped}
    ip: "::ffff:127.0.0.1"
    module: ejabberd_c2s
    starttls: false
    shaper: none
    max_stanza_size: 262144
    backlog: 128
auth_method: internal
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


class EjabberdNode:
    """Context manager: a running ejabberd with `modules` (YAML lines)."""

    def __init__(self, ebin_dirs, modules_yaml, domain="localhost", start_timeout=30,
                 contrib_dir=None):
        """`contrib_dir`, if given, is ejabberd's contrib modules directory
        (CONTRIB_MODULES_PATH): modules installed there are put on the code
        path by ejabberd itself, as on an operator's server."""
        self.ebin_dirs = list(ebin_dirs)
        self.contrib_dir = contrib_dir
        self.modules_yaml = modules_yaml
        self.domain = domain
        self.start_timeout = start_timeout
        self.dir = None
        self.proc = None
        self.node = f"xsic{os.getpid()}x{secrets.token_hex(3)}@localhost"
        self.cookie = secrets.token_hex(16)
        self._ctl_seq = 0

    # --- life cycle -------------------------------------------------------

    def __enter__(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="xsic-ejabberd-")
        self.port_v4 = free_port()
        self.port_v6 = free_port(socket.AF_INET6, "::1")
        self.port_mapped = free_port()
        self.port_dist = free_port()
        self.config_path = os.path.join(self.dir, "ejabberd.yml")
        self.log_path = os.path.join(self.dir, "ejabberd.log")
        with open(self.config_path, "w") as f:
            f.write(CONFIG.format(domain=self.domain, port_v4=self.port_v4, port_v6=self.port_v6,
                                  port_mapped=self.port_mapped, modules=self.modules_yaml))
        lib = ejabberd_lib()
        cmd = ["erl", "-sname", self.node, "-setcookie", self.cookie,
               "-erl_epmd_port", str(self.port_dist), "-start_epmd", "false",
               "-kernel", "inet_dist_use_interface", "{127,0,0,1}",
               # Idle schedulers sleep instead of spinning, so the node's CPU
               # time (and its schedulers' busy time) is the work it did.
               "+sbwt", "none", "+sbwtdcpu", "none", "+sbwtdio", "none",
               "-pa", os.path.join(lib, "ebin")]
        for d in self.ebin_dirs:
            cmd += ["-pa", d]
        # The watchdog halts the node and removes its directory when the
        # test process is gone, even if it was killed before it could.
        cleanup = "" if os.environ.get("XSIC_KEEP_TMP") == "1" else f"rm -rf '{self.dir}'"
        watchdog = ("spawn(fun Watch() -> timer:sleep(2000), "
                    "case os:cmd(\"kill -0 %d 2>/dev/null && echo alive\") of "
                    "\"alive\\n\" -> Watch(); _ -> os:cmd(\"%s\"), halt() end end)"
                    % (os.getpid(), cleanup))
        cmd += ["-mnesia", "dir", '"%s"' % os.path.join(self.dir, "spool"), "-noinput",
                "-eval", watchdog,
                "-eval", "case application:ensure_all_started(ejabberd) of "
                         "{ok, _} -> ok; Err -> io:format(\"ejabberd failed: ~p~n\", [Err]), halt(3) end"]
        env = dict(os.environ, EJABBERD_CONFIG_PATH=self.config_path,
                   EJABBERD_LOG_PATH=self.log_path, HOME=self.dir)
        # An empty directory otherwise, so nothing installed for the real
        # server in ~/.ejabberd-modules leaks in.
        env["CONTRIB_MODULES_PATH"] = self.contrib_dir or os.path.join(self.dir, "contrib")
        self.stdout = open(os.path.join(self.dir, "stdout.log"), "w")
        self.proc = subprocess.Popen(cmd, cwd=self.dir, env=env, stdout=self.stdout,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ejabberd exited with {self.proc.returncode}:\n{self.output()}")
            if all(self._accepts(h, p) for h, p in (("127.0.0.1", self.port_v4), ("::1", self.port_v6),
                                                    ("127.0.0.1", self.port_mapped))):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"ejabberd did not open its ports in {self.start_timeout}s:\n{self.output()}")
            time.sleep(0.1)

    @staticmethod
    def _accepts(host, port):
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stops only our node: by node name first, then by PID."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.rpc("init:stop()", timeout=10)
            except Exception:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
        if getattr(self, "stdout", None):
            self.stdout.close()
            self.stdout = None
        if self.dir and os.environ.get("XSIC_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def output(self):
        text = ""
        for name in ("stdout.log", "ejabberd.log"):
            try:
                with open(os.path.join(self.dir, name), errors="replace") as f:
                    text += f"--- {name}\n" + f.read()[-4000:]
            except OSError:
                pass
        return text

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # --- remote calls -----------------------------------------------------

    def rpc(self, expr, timeout=60, extra_pa=()):
        """Evaluates the Erlang expression `expr` on the node and returns
        what it prints with ~p, as text. A hidden node that does not listen
        (-dist_listen false) makes the call, so no port or epmd is needed."""
        self._ctl_seq += 1
        ctl = f"ctl{os.getpid()}x{self._ctl_seq}x{secrets.token_hex(2)}@localhost"
        code = ("R = rpc:call('%s', erlang, apply, [fun() -> %s end, []], %d), "
                "io:format(\"~p~n\", [R]), halt()." % (self.node, expr, timeout * 1000))
        cmd = ["erl", "-sname", ctl, "-setcookie", self.cookie, "-hidden",
               "-erl_epmd_port", str(self.port_dist), "-start_epmd", "false",
               "-dist_listen", "false", "-noshell"]
        for d in extra_pa:
            cmd += ["-pa", d]
        cmd += ["-eval", code]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30,
                             stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise RuntimeError(f"rpc failed ({out.returncode}): {out.stderr}{out.stdout}")
        return out.stdout.strip()

    def register(self, users, password):
        exprs = ", ".join(f'ejabberd_auth:try_register(<<"{u}">>, <<"{self.domain}">>, <<"{password}">>)'
                          for u in users)
        result = self.rpc(f"[{exprs}]")
        if result != "[" + ",".join(["ok"] * len(users)) + "]":
            raise RuntimeError(f"registering {users} failed: {result}")
