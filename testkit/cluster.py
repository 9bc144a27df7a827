"""Clustered private ejabberd nodes on loopback, for tests that need a
session on each of two nodes (either release).

    with ejabberd_cluster(2, ebin_dirs=[...], modules_yaml=..., users=[...]) as (a, b):
        ...   # a and b are EjabberdNodes in one cluster, each with its own ports

A lone EjabberdNode needs no epmd (a fixed distribution port its callers
are told); clustered nodes must find each other's ports, so they register
with one private epmd on 127.0.0.1, started and stopped here by its PID,
and share a cookie. The machine's own epmd (port 4369), if any, is not
used."""

import contextlib
import os
import secrets
import shutil
import socket
import tempfile

from . import ports, process
from .ejabberd import EjabberdNode


class PrivateEpmd:
    """Context manager: `epmd` on 127.0.0.1 and a free port (`.port`)."""

    def __init__(self, start_timeout=10.0):
        self.start_timeout = start_timeout
        self.port = self.proc = self.dir = None

    def __enter__(self):
        self.port = ports.free_port(socket.AF_INET)
        self.dir = tempfile.mkdtemp(prefix="xmpp-sic-epmd-")
        epmd = shutil.which("epmd") or "epmd"
        # Foreground (no -daemon): the process we started is the epmd.
        self.proc = process.start([epmd, "-port", str(self.port), "-address", "127.0.0.1"],
                                  os.path.join(self.dir, "epmd.log"))
        try:
            process.wait_for_ports(self.proc, [("127.0.0.1", self.port)], self.start_timeout,
                                   lambda: open(os.path.join(self.dir, "epmd.log")).read())
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        process.stop(self.proc)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False


@contextlib.contextmanager
def ejabberd_cluster(count=2, join_timeout=60.0, **node_kwargs):
    """`count` EjabberdNodes (same arguments for each, e.g. release=,
    ebin_dirs=, modules_yaml=, users=) joined into one cluster; yields the
    list once every node counts all of them. Users are registered on the
    first node only, after the join (the cluster shares its accounts)."""
    users = node_kwargs.pop("users", ())
    cookie = secrets.token_hex(16)
    with contextlib.ExitStack() as stack:
        epmd = stack.enter_context(PrivateEpmd())
        nodes = [stack.enter_context(EjabberdNode(epmd_port=epmd.port, cookie=cookie, **node_kwargs))
                 for _ in range(count)]
        names = [n.node for n in nodes]
        for node in nodes[1:]:
            node.join_cluster(nodes[0], timeout=join_timeout)
        for node in nodes:
            node.wait_for_cluster(names, timeout=join_timeout)
            node.wait_ready(timeout=join_timeout)
        for user, password in users:
            nodes[0].register([user], password)
        yield nodes
