#!/usr/bin/env python3
"""Prosody's cost per Server IP Check IQ: mod_xmpp_sic against mod_ipcheck.

Starts a private Prosody on 127.0.0.1 (own config in a temporary directory)
with one of the two modules, logs in one raw client and pipelines IQs through
it. Two measures of the same thing:

  time (default)  the server process's CPU time (utime + stime from /proc)
                  per reply, and replies per second of wall time (IQ/s on
                  the wire). One Prosody per module runs for the whole
                  measurement, each with its logged-in client; short rounds
                  alternate between them, so drifting load from elsewhere
                  on the machine hits both alike, and the median of the
                  rounds is reported. Still noisy on a shared machine.
  --callgrind     instructions the server executes per reply, counted by
                  valgrind's callgrind (zeroed after a warm-up, dumped after
                  the measured IQs): slow, but the same on every run and
                  blind to other load.

    python3 bindings/prosody/bench/iq_cost.py [--iqs N] [--rounds R]
    python3 bindings/prosody/bench/iq_cost.py --callgrind [--iqs N]

Needs bindings/lua/xmpp_sic.so (make -C bindings/lua) and mod_ipcheck
(apt-get install prosody-modules). The Prosody it starts is stopped by PID.
"""

import argparse
import contextlib
import asyncio
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from testkit.prosody import PrivateProsody  # noqa: E402
from testkit.xmpp import RawClient  # noqa: E402

IPCHECK_DIR = "/usr/lib/prosody/modules"
REQUESTS = {
    "sic:1 <address/>": "<iq type='get' id='b{n}'><address xmlns='urn:xmpp:sic:1'/></iq>",
    "sic:0 <ip/>": "<iq type='get' id='b{n}'><ip xmlns='urn:xmpp:sic:0'/></iq>",
}
MODULES = {
    "mod_xmpp_sic": dict(module="xmpp_sic", plugin_paths=[str(HERE.parent)]),
    "mod_ipcheck": dict(module="ipcheck", plugin_paths=[IPCHECK_DIR]),
}
WARM_UP = 1000


def check_reply(stanza):
    if stanza.get("type") != "result":
        raise AssertionError("not a result: " + str(stanza.attrib))


async def cpu_per_iq(server, client, template, count):
    """(CPU microseconds per IQ, IQs per second of wall time)."""
    before = server.cpu_seconds()
    started = time.monotonic()
    replies = await client.pipeline(template, count)
    wall = time.monotonic() - started
    used = server.cpu_seconds() - before
    for reply in replies:
        check_reply(reply)
    return used / count * 1e6, count / wall


def measure_time(iqs, rounds):
    """Alternating rounds on two long-lived servers; {(module, request): [(cpu, rate)]}."""
    results = {}
    with contextlib.ExitStack() as stack:
        servers = {label: stack.enter_context(server_for(label)) for label in MODULES}

        async def run():
            clients = {}
            try:
                for label, server in servers.items():
                    clients[label] = await RawClient.login("127.0.0.1", server.port, "bench", "secret", "bench",
                                                          keep_raw=False)
                    for template in REQUESTS.values():
                        for reply in await clients[label].pipeline(template, WARM_UP):
                            check_reply(reply)
                for _ in range(rounds):
                    for label, server in servers.items():
                        for name, template in REQUESTS.items():
                            value = await cpu_per_iq(server, clients[label], template, iqs)
                            results.setdefault((label, name), []).append(value)
            finally:
                for client in clients.values():
                    await client.close()

        asyncio.run(run())
        for server in servers.values():
            server.assert_clean_log()
    return results


async def instructions_per_iq(server, template, count, dump_dir):
    client = await RawClient.login("127.0.0.1", server.port, "bench", "secret", "bench", timeout=300,
                                   keep_raw=False)
    pid = str(server.proc.pid)
    try:
        await client.pipeline(template, WARM_UP)
        subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True, timeout=60)
        before = set(glob.glob(os.path.join(dump_dir, "*")))
        replies = await client.pipeline(template, count)
        subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True, timeout=60)
    finally:
        await client.close()
    for reply in replies:
        check_reply(reply)
    (dump,) = set(glob.glob(os.path.join(dump_dir, "*"))) - before
    with open(dump) as f:
        totals = [int(line.split()[1]) for line in f if line.startswith("summary:")]
    return totals[0] / count


def server_for(label, dump_dir=None):
    opts = MODULES[label]
    wrapper, timeout = (), 15.0
    if dump_dir is not None:
        wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={dump_dir}/callgrind.out.%p", "lua5.4"]
        timeout = 120.0
    return PrivateProsody(modules=[opts["module"]], plugin_paths=opts["plugin_paths"],
                          lua_cpath_dir=str(CPATH_DIR), users=[("bench", "secret")],
                          wrapper=wrapper, start_timeout=timeout)


def measure_callgrind(label, iqs, results, dump_dir):
    with server_for(label, dump_dir) as server:
        for name, template in REQUESTS.items():
            value = asyncio.run(instructions_per_iq(server, template, iqs, dump_dir))
            results.setdefault((label, name), []).append(value)
        server.assert_clean_log()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iqs", type=int, help="IQs per measurement (default 20000, or 2000 with --callgrind)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per module (time only)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions instead of CPU time")
    args = parser.parse_args()
    iqs = args.iqs or (2000 if args.callgrind else 20000)

    if not (CPATH_DIR / "xmpp_sic.so").exists():
        sys.exit(f"{CPATH_DIR}/xmpp_sic.so is missing: run make -C bindings/lua")
    if not Path(IPCHECK_DIR, "mod_ipcheck", "mod_ipcheck.lua").exists():
        sys.exit("mod_ipcheck is missing: apt-get install prosody-modules")

    results = {}
    if args.callgrind:
        with tempfile.TemporaryDirectory(prefix="xmpp-sic-callgrind-") as dump_dir:
            for label in MODULES:
                measure_callgrind(label, iqs, results, dump_dir)
        print(f"Instructions Prosody executes per IQ (callgrind, {iqs} pipelined IQs after {WARM_UP} to warm up):")
        report({k: v[0] for k, v in results.items()}, "instructions/IQ", "{:9.0f}")
    else:
        results = measure_time(iqs, args.rounds)
        print(f"Prosody CPU time per IQ, median of {args.rounds} rounds of {iqs} pipelined IQs "
              "(one client, loopback):")
        report({k: statistics.median(cpu for cpu, _ in v) for k, v in results.items()}, "us/IQ", "{:9.1f}")
        print("IQs per second on the wire, median of the same rounds:")
        report({k: statistics.median(rate for _, rate in v) for k, v in results.items()}, "IQ/s", "{:9.0f}")


def report(values, unit, fmt):
    for name in REQUESTS:
        ours, theirs = values[("mod_xmpp_sic", name)], values[("mod_ipcheck", name)]
        print(f"  {name:17} mod_xmpp_sic {fmt.format(ours)} {unit}   mod_ipcheck {fmt.format(theirs)} {unit}"
              f"   ratio {ours / theirs:.2f}")


CPATH_DIR = Path(os.environ.get("XMPP_SIC_SO_DIR", HERE.parents[1] / "lua"))

if __name__ == "__main__":
    main()
