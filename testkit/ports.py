"""Free TCP ports on loopback, chosen by the kernel."""

import socket

LOOPBACK = {socket.AF_INET: "127.0.0.1", socket.AF_INET6: "::1"}


def free_port(family=socket.AF_INET, host=None):
    """A TCP port free now on `host` (default: the family's loopback)."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host or LOOPBACK[family], 0))
        return s.getsockname()[1]


def free_dual_port(attempts=50):
    """A TCP port free on both 127.0.0.1 and ::1, for a server that listens
    on both with one port number (Prosody's c2s_ports)."""
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s4:
            s4.bind(("127.0.0.1", 0))
            port = s4.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s6:
                    s6.bind(("::1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no port free on both 127.0.0.1 and ::1 in {attempts} attempts")


def distinct_ports(count, picker=free_dual_port):
    """`count` different free ports: the kernel may hand the same ephemeral
    port out twice when each probe socket is closed before the next."""
    ports = []
    for _ in range(count * 20):
        port = picker()
        if port not in ports:
            ports.append(port)
        if len(ports) == count:
            return ports
    raise RuntimeError(f"could not find {count} distinct free ports")
