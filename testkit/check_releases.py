"""Checks that each server release the tests name is the one that runs:

- the system's Prosody 0.12 and ejabberd 23.01 are still the installed
  packages, and the launchers start them by default;
- Prosody 13 and ejabberd 24.12 start from the backports cache, chosen by
  the environment variables alone (as the e2e scripts are run), with the
  versions the cache's MANIFEST lists: ejabberd's own and its libraries'
  (application:which_applications(), so the system's older erlang-p1-* did
  not win on the code path);
- two 24.12 nodes joined with testkit.cluster see each other (its
  join_cluster returns before the join is done: the helper waits).

    python3 -m testkit.check_releases

One line per check, the last `N passed, N failed`; exit 1 on any failure.
The four servers start side by side (each is mostly waiting)."""

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from . import releases
from .cluster import ejabberd_cluster
from .ejabberd import EjabberdNode
from .prosody import PrivateProsody


def dpkg_version(pkg):
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", pkg], capture_output=True, text=True)
    return out.stdout.split()[-1] if "install ok installed" in out.stdout else None


def manifest():
    with open(os.path.join(releases.backports_dir(), "MANIFEST")) as f:
        return {name: version for name, version, _ in (line.split() for line in f if line.strip())}


def upstream(version):
    """'1:1.9.4-1~bpo12+1' -> '1.9.4'."""
    return re.sub(r"-[^-]*$", "", version.split(":", 1)[-1])


def prosody_version(release_env):
    """The version a PrivateProsody started with no release argument
    reports, with XMPP_SIC_PROSODY_RELEASE set to `release_env` meanwhile
    (None: unset)."""
    with scoped_env("XMPP_SIC_PROSODY_RELEASE", release_env):
        server = PrivateProsody()
    with server:
        match = re.search(r"Prosody version (\S+)", server.tail(200))
        return match.group(1) if match else None


def ejabberd_apps(release_env):
    with scoped_env("XMPP_SIC_EJABBERD_RELEASE", release_env):
        node = EjabberdNode()
    with node:
        return node.wait_started()


def cluster_of_two(release):
    """Two nodes joined with the kit's helper: each counts both (24.12's
    join_cluster returns before the join is done)."""
    with ejabberd_cluster(2, release=release) as nodes:
        return [n.cluster_nodes() for n in nodes], sorted(n.node for n in nodes), nodes[0].wait_started()["ejabberd"]


class scoped_env:
    """Sets (or unsets) one variable while a launcher reads it in its
    constructor; the launchers read it there only."""

    def __init__(self, name, value):
        self.name, self.value = name, value

    def __enter__(self):
        self.old = os.environ.get(self.name)
        if self.value is None:
            os.environ.pop(self.name, None)
        else:
            os.environ[self.name] = self.value

    def __exit__(self, *exc):
        if self.old is None:
            os.environ.pop(self.name, None)
        else:
            os.environ[self.name] = self.old


def main():
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""))

    pkgs = manifest()
    sys_prosody, sys_ejabberd = dpkg_version("prosody"), dpkg_version("ejabberd")
    check("the system's Prosody package is still 0.12", bool(sys_prosody and sys_prosody.startswith("0.12")),
          str(sys_prosody))
    check("the system's ejabberd package is still 23.01", bool(sys_ejabberd and sys_ejabberd.startswith("23.01")),
          str(sys_ejabberd))

    # The constructors read the environment at once, in this thread; the
    # servers then run side by side.
    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = {
            "prosody system": pool.submit(prosody_version, None),
            "ejabberd system": pool.submit(ejabberd_apps, None),
        }
        futures["prosody 13"] = pool.submit(prosody_version, "13")
        futures["ejabberd 24.12"] = pool.submit(ejabberd_apps, "24.12")
        futures["cluster 24.12"] = pool.submit(cluster_of_two, "24.12")
        got = {}
        for name, future in futures.items():
            try:
                got[name] = future.result(timeout=120)
            except Exception as e:  # noqa: BLE001 - reported as a failed check
                got[name] = e

    def value(name):
        v = got[name]
        return None if isinstance(v, Exception) else v

    v = value("prosody system")
    check("PrivateProsody() runs the system's Prosody by default", bool(v and sys_prosody.startswith(v)),
          f"started {got['prosody system']!r}, package {sys_prosody}")
    v = value("prosody 13")
    want = upstream(pkgs["prosody"])
    check("XMPP_SIC_PROSODY_RELEASE=13 runs the backports' Prosody", v == want,
          f"started {got['prosody 13']!r}, cache has {want}")

    apps = value("ejabberd system") or {}
    check("EjabberdNode() runs the system's ejabberd by default",
          apps.get("ejabberd", "").startswith(upstream(sys_ejabberd)),
          f"ejabberd {apps.get('ejabberd')!r} xmpp {apps.get('xmpp')!r}" if apps else repr(got["ejabberd system"]))
    apps = value("ejabberd 24.12") or {}
    check("XMPP_SIC_EJABBERD_RELEASE=24.12 runs the backports' ejabberd",
          apps.get("ejabberd") == pkgs["ejabberd"], f"{apps.get('ejabberd')!r}, cache has {pkgs['ejabberd']}"
          if apps else repr(got["ejabberd 24.12"]))
    # Its libraries: the cache's versions, not the system's.
    libs = {"xmpp": "erlang-p1-xmpp", "fast_xml": "erlang-p1-xml", "p1_utils": "erlang-p1-utils",
            "fast_tls": "erlang-p1-tls", "stringprep": "erlang-p1-stringprep", "jose": "erlang-jose"}
    wrong = {app: (apps.get(app), upstream(pkgs[pkg])) for app, pkg in libs.items()
             if apps.get(app) != upstream(pkgs[pkg])}
    check("ejabberd 24.12 runs the backports' libraries (" + ", ".join(libs) + ")", bool(apps) and not wrong,
          f"loaded vs cache: {wrong}" if wrong else "")

    v = value("cluster 24.12")
    ok = bool(v) and all(seen == v[1] for seen in v[0]) and v[2] == pkgs["ejabberd"]
    check("two ejabberd 24.12 nodes joined by testkit.cluster each count both", ok,
          "" if ok else repr(got["cluster 24.12"]))

    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
