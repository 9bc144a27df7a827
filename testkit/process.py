"""Child processes of a test: started with their output in a file, waited
for with a timeout, stopped by their own PID, and their CPU time read from
/proc. Nothing here looks a process up by name."""

import os
import signal
import socket
import subprocess
import time


def start(command, log_path, env=None, cwd=None):
    """Popen with stdin closed and stdout+stderr appended to `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(command, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT)


def stop(proc, term_timeout=10.0, kill_timeout=10.0):
    """SIGTERM, then SIGKILL after `term_timeout`; returns the exit code
    (None when the process could not be reaped)."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=term_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            try:
                proc.wait(timeout=kill_timeout)
            except subprocess.TimeoutExpired:
                return None
    return proc.returncode


# What a server says when a port it was given was taken meanwhile: a port
# found free by a probe is free only until someone else binds it, and suites
# run side by side.
PORT_TAKEN = ("address already in use", "eaddrinuse", "Failed to open server port")


def enter(server, attempts=3):
    """Starts `server` for a `with` block: its `_start` picks fresh ports
    and a fresh directory each time, so a start that lost a port to another
    process is tried again (at most `attempts` times); any other failure,
    or the last, stops it and is raised."""
    for attempt in range(attempts):
        try:
            server._start()
            return server
        except BaseException as failure:
            server.stop()
            if attempt + 1 == attempts or not any(s in str(failure) for s in PORT_TAKEN):
                raise
    raise AssertionError("unreachable")


def parse_stat(text):
    """(utime, stime) in clock ticks from the text of /proc/PID/stat. The
    command name (field 2) may hold spaces and parentheses, so the fields
    are counted from the last ')'."""
    fields = text.rsplit(")", 1)[1].split()
    # fields[0] is stat(5)'s field 3 (state); utime and stime are 14 and 15.
    return int(fields[11]), int(fields[12])


def cpu_times(pid):
    """(user, system) CPU time the process has used, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        utime, stime = parse_stat(f.read())
    tick = os.sysconf("SC_CLK_TCK")
    return utime / tick, stime / tick


def cpu_seconds(pid):
    """User + system CPU time the process has used, in seconds."""
    return sum(cpu_times(pid))


def accepts(host, port, timeout=0.5):
    """Whether a TCP connect to (host, port) succeeds now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect((host, port))
        return True
    except OSError:
        return False


def wait_for_ports(proc, endpoints, timeout, describe=lambda: ""):
    """Waits until every (host, port) accepts a connection. Raises if `proc`
    exits first or `timeout` seconds pass; `describe()` is appended to the
    error (a log tail, say)."""
    deadline = time.monotonic() + timeout
    pending = list(endpoints)
    while pending:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} at start\n{describe()}")
        pending = [(h, p) for h, p in pending if not accepts(h, p)]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{pending} not accepting after {timeout}s\n{describe()}")
        time.sleep(0.02)


def settle(pid, limit=90.0, quiet_cpu=0.02, interval=0.5, quiet_rounds=3):
    """Waits until the process is idle (less than `quiet_cpu` seconds of CPU
    per `interval`, `quiet_rounds` times in a row): servers open their ports
    before they finish loading, and that work would be billed to whatever
    is measured first. Returns whether it settled within `limit`."""
    deadline = time.monotonic() + limit
    quiet = 0
    while quiet < quiet_rounds and time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(interval)
        quiet = quiet + 1 if cpu_seconds(pid) - before <= quiet_cpu else 0
    return quiet >= quiet_rounds
