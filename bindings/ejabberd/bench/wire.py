#!/usr/bin/env python3
"""IQs per second on the wire: ejabberd 23.01 with mod_sic against the same
ejabberd with mod_xmpp_sic, from the same pipelined raw loopback client.

Starts two nodes (one per module, each its own temporary directory, ports
and node name, on 127.0.0.1), logs one raw client into each and pipelines N
sic:1 gets through it, reading replies while it writes. Rounds alternate
between the nodes, so load from elsewhere on the machine hits both alike;
the median of the rounds is reported, with the node's CPU time per IQ
(utime + stime of its process over the round, from /proc).

    python3 bindings/ejabberd/bench/wire.py BUILD_DIR [--iqs N] [--rounds R]

BUILD_DIR is what mod_xmpp_sic/build.sh produced (named mod_xmpp_sic).
Prints a line per module and a ratio line; exits non-zero when a reply is
missing or is not a result.
"""

import argparse
import asyncio
import os
import statistics
import sys
import time

# The repository root, for the shared test kit (testkit/README.md).
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
from testkit.ejabberd import EjabberdNode  # noqa: E402
from testkit.process import cpu_seconds, settle  # noqa: E402
from testkit.xmpp import RawClient  # noqa: E402

DOMAIN = "localhost"
USER, PASSWORD = "bench", "secret"
REQUEST = "<iq type='get' id='w{n}'><address xmlns='urn:xmpp:sic:1'/></iq>"
# The client writes this many IQs, then lets the server catch up before
# the next batch, so neither side's socket buffer can fill while the other
# waits on it.
BATCH = 500
WARM_UP = 1000
MODULES = {
    "mod_sic": "  mod_disco: {}\n  mod_sic: {}\n",
    "mod_xmpp_sic": "  mod_disco: {}\n  mod_xmpp_sic: {}\n",
}


async def pipeline(client, count, first):
    """Sends `count` IQs in batches and reads every reply; returns the
    problems found (missing, duplicated or non-result replies)."""
    pending = set()
    problems = []

    async def read_until(limit):
        while len(pending) > limit:
            el = await client.next_element(30)
            if el.tag != "{jabber:client}iq":
                continue
            iq_id = el.get("id")
            if iq_id not in pending:
                problems.append(f"unexpected id {iq_id!r}")
            elif el.get("type") != "result":
                problems.append(f"{iq_id}: type {el.get('type')}")
            pending.discard(iq_id)

    for start in range(first, first + count, BATCH):
        for n in range(start, min(start + BATCH, first + count)):
            pending.add(f"w{n}")
            client.send(REQUEST.format(n=n))
        await client.drain()
        # At most one batch in flight beyond the one just sent.
        await read_until(BATCH)
    await read_until(0)
    return problems


async def round_on(node, count):
    client = RawClient("127.0.0.1", node.port_v4, USER, DOMAIN, PASSWORD, "wire", keep_raw=False)
    await client.connect()
    try:
        problems = await pipeline(client, WARM_UP, 0)
        cpu_before = cpu_seconds(node.proc.pid)
        started = time.monotonic()
        problems += await pipeline(client, count, WARM_UP)
        wall = time.monotonic() - started
        cpu = cpu_seconds(node.proc.pid) - cpu_before
    finally:
        await client.close()
    return count / wall, cpu / count * 1e6, problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build_dir")
    parser.add_argument("--iqs", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    build_dir = os.path.abspath(args.build_dir)
    rates = {label: [] for label in MODULES}
    cpus = {label: [] for label in MODULES}
    failures = []
    # The same contrib modules directory for both, so the nodes differ only
    # in the module enabled.
    contrib = os.path.dirname(build_dir)
    with EjabberdNode([], MODULES["mod_sic"], contrib_dir=contrib) as sic_node, \
            EjabberdNode([], MODULES["mod_xmpp_sic"], contrib_dir=contrib) as our_node:
        nodes = {"mod_sic": sic_node, "mod_xmpp_sic": our_node}
        for node in nodes.values():
            node.register([USER], PASSWORD)
        # ejabberd opens its ports before it has finished loading every
        # application's modules in the background (tens of ms of CPU per IQ
        # in the first seconds), which would be billed to whichever module's
        # round came first.
        for node in nodes.values():
            if not settle(node.proc.pid):
                print(f"warning: node {node.node} still busy after 90 s", file=sys.stderr)
        for _ in range(args.rounds):
            for label, node in nodes.items():
                rate, cpu, problems = asyncio.run(round_on(node, args.iqs))
                rates[label].append(rate)
                cpus[label].append(cpu)
                failures += [f"{label}: {p}" for p in problems[:5]]
    print(f"{args.rounds} alternating rounds of {args.iqs} pipelined sic:1 IQs, one raw client on "
          f"127.0.0.1 (medians):")
    for label in MODULES:
        print(f"  {label:<13} {statistics.median(rates[label]):9.0f} IQ/s   "
              f"{statistics.median(cpus[label]):6.1f} us node CPU/IQ   "
              f"rounds: {', '.join(f'{r:.0f}' for r in rates[label])}")
    ratio = statistics.median(rates["mod_xmpp_sic"]) / statistics.median(rates["mod_sic"])
    cpu_ratio = statistics.median(cpus["mod_xmpp_sic"]) / statistics.median(cpus["mod_sic"])
    print(f"  ratio mod_xmpp_sic/mod_sic: IQ/s {ratio:.2f}, node CPU per IQ {cpu_ratio:.2f}")
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
