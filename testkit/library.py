"""The library's raw entry point, sic_handle_iq, through ctypes: what the
core answers for a request given as bytes, for tests that compare a server
with it. Loads target/release/libxmpp_sic.so (XMPP_SIC_LIB overrides)."""

import ctypes
import os
import socket
import struct
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "target" / "release" / "libxmpp_sic.so"

# enum sic_status in include/xmpp_sic.h (values never renumbered).
STATUS_NAMES = {0: "OK", 1: "PASS", 2: "BUFFER_TOO_SMALL", 3: "NULL_ARGUMENT", 4: "INVALID_ARGUMENT",
                5: "MALFORMED_STANZA", 6: "PANIC"}
FLAG_OMIT_PORT, FLAG_KEEP_V4_MAPPED, FLAG_NO_SIC0 = 1, 2, 4


def sockaddr(host, port):
    """The bytes of a struct sockaddr_in or sockaddr_in6 (Linux layout:
    family in host order, port in network order)."""
    if ":" in host:
        return (struct.pack("=H", socket.AF_INET6) + struct.pack("!H", port) + struct.pack("=I", 0)
                + socket.inet_pton(socket.AF_INET6, host) + struct.pack("=I", 0))
    return (struct.pack("=H", socket.AF_INET) + struct.pack("!H", port)
            + socket.inet_pton(socket.AF_INET, host) + bytes(8))


class Library:
    def __init__(self, path=None):
        self.path = str(path or os.environ.get("XMPP_SIC_LIB") or DEFAULT_PATH)
        lib = ctypes.CDLL(self.path)
        size_t, u32, char_p = ctypes.c_size_t, ctypes.c_uint32, ctypes.c_char_p
        lib.sic_handle_iq.argtypes = [char_p, size_t, char_p, size_t, char_p, size_t, char_p, u32, u32,
                                      ctypes.c_void_p, size_t, ctypes.POINTER(size_t)]
        lib.sic_handle_iq.restype = u32
        lib.sic_reply_bound.argtypes = [size_t, size_t, size_t]
        lib.sic_reply_bound.restype = size_t
        lib.sic_status_str.argtypes = [u32]
        lib.sic_status_str.restype = char_p
        lib.sic_version.restype = char_p
        self._lib = lib

    def version(self):
        return self._lib.sic_version().decode()

    def status_text(self, status):
        return self._lib.sic_status_str(status).decode()

    def handle_iq(self, iq, sender, target=None, peer=None, flags=0):
        """(status name, reply bytes or None) for the stanza `iq` (bytes or
        str) from `sender` (a full JID) to `target` (a JID or None), over a
        connection from `peer` ((host, port) or None)."""
        iq = iq.encode() if isinstance(iq, str) else bytes(iq)
        sender_b = sender.encode()
        target_b = target.encode() if target is not None else None
        addr = sockaddr(*peer) if peer is not None else None
        cap = self._lib.sic_reply_bound(len(iq), len(sender_b), len(target_b or b""))
        out = ctypes.create_string_buffer(max(cap, 1))
        out_len = ctypes.c_size_t(0)
        status = self._lib.sic_handle_iq(iq, len(iq), sender_b, len(sender_b),
                                         target_b, len(target_b or b""),
                                         addr, len(addr or b""), flags, out, cap, ctypes.byref(out_len))
        name = STATUS_NAMES.get(status, f"status {status}")
        return name, (out.raw[:out_len.value] if status == 0 else None)
