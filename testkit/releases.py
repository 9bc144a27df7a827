"""Which server release a test runs: Debian 12's own (Prosody 0.12,
ejabberd 23.01, "system") or the newer ones from bookworm-backports
(Prosody 13, ejabberd 24.12), unpacked by testkit/fetch-backports.sh into a
cache the tests own (see docs/releases.md).

The launchers (testkit.prosody.PrivateProsody, testkit.ejabberd.EjabberdNode)
take `release=`; when it is not given, XMPP_SIC_PROSODY_RELEASE and
XMPP_SIC_EJABBERD_RELEASE choose, so an existing script runs unchanged
against another release."""

import glob
import os
import shutil
import subprocess
from pathlib import Path

FETCH = Path(__file__).resolve().parent / "fetch-backports.sh"

# Names a caller may use for each release (an empty variable is the
# system's).
PROSODY = {"system": ("system", "0.12", ""), "13": ("13", "13.0")}
EJABBERD = {"system": ("system", "23.01", ""), "24.12": ("24.12",)}

# Lua libraries Prosody 13 needs from bookworm (the backports launcher
# checks for them at start; lua-unbound is not a dependency of 0.12).
PROSODY_13_LUA_PACKAGES = ("lua-bitop", "lua-expat", "lua-filesystem", "lua-sec", "lua-socket", "lua-unbound")

_cache_dir = None


def canonical(name, table, what):
    for key, aliases in table.items():
        if name in aliases:
            return key
    raise ValueError(f"unknown {what} release {name!r}: one of {sorted(a for v in table.values() for a in v if a)}")


def prosody_release(release=None):
    """The canonical Prosody release: `release`, else XMPP_SIC_PROSODY_RELEASE, else "system"."""
    name = release if release is not None else os.environ.get("XMPP_SIC_PROSODY_RELEASE", "system")
    return canonical(name, PROSODY, "Prosody")


def ejabberd_release(release=None):
    """The canonical ejabberd release: `release`, else XMPP_SIC_EJABBERD_RELEASE, else "system"."""
    name = release if release is not None else os.environ.get("XMPP_SIC_EJABBERD_RELEASE", "system")
    return canonical(name, EJABBERD, "ejabberd")


def backports_dir():
    """The unpacked backports cache, fetched on first use (a no-op when
    already complete; safe when another process fetches at the same time)."""
    global _cache_dir
    if _cache_dir is None:
        out = subprocess.run(["bash", str(FETCH)], capture_output=True, text=True, timeout=900)
        if out.returncode != 0:
            raise RuntimeError(f"fetching bookworm-backports failed:\n{out.stderr}{out.stdout}")
        _cache_dir = out.stdout.strip().splitlines()[-1]
    return _cache_dir


def missing_debs(packages):
    missing = []
    for pkg in packages:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        if "install ok installed" not in out.stdout:
            missing.append(pkg)
    return missing


def prosody_commands(release=None):
    """(prosody, prosodyctl) to run for this release."""
    if prosody_release(release) == "system":
        return shutil.which("prosody") or "prosody", shutil.which("prosodyctl") or "prosodyctl"
    missing = missing_debs(PROSODY_13_LUA_PACKAGES)
    if missing:
        # Prosody 13 would start and then fail on its first DNS lookup or
        # not at all: say so at once (testkit/run-matrix.sh installs them).
        raise RuntimeError("Prosody 13 needs these Debian packages: apt-get install " + " ".join(missing))
    root = os.path.join(backports_dir(), "root", "usr", "bin")
    return os.path.join(root, "prosody"), os.path.join(root, "prosodyctl")


def ejabberd_code(release=None):
    """(ejabberd lib dir, ERL_LIBS value or None) for this release. For a
    backports release ERL_LIBS puts its erlang-p1-*, jose... libraries ahead
    of the system's (same names, newer versions) on the code path."""
    if ejabberd_release(release) == "system":
        return None, None
    root = os.path.join(backports_dir(), "root")
    libs = sorted(glob.glob(os.path.join(root, "usr", "lib", "*", "ejabberd-*", "ebin", "ejabberd.beam")))
    if not libs:
        raise RuntimeError(f"no ejabberd in {root}")
    return os.path.dirname(os.path.dirname(libs[0])), os.path.join(root, "usr", "lib", "erlang", "lib")


def prosody_modules_dir():
    """A plugin path holding only bookworm-backports' prosody-modules
    (mod_net_proxy for the PROXY protocol, mod_ipcheck...): usable with
    either Prosody release. Prosody 13's own plugin directory would not do
    for 0.12: its core modules would shadow 0.12's."""
    return os.path.join(backports_dir(), "prosody-modules")
