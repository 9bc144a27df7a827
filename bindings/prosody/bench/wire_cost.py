#!/usr/bin/env python3
"""What a Server IP Check costs inside a running Prosody, against a ping.

One private Prosody 0.12 on 127.0.0.1 loads mod_xmpp_sic, Prosody's own
mod_ping and mod_bench_native_sic (this directory: the same sic:1 reply
built in plain Lua with no library call, on a namespace of its own). One raw
client pipelines IQs of each kind in turn:

  (a) sic:1 <address/>, answered by mod_xmpp_sic
  (b) a ping, answered by mod_ping
  (c) <address xmlns='urn:bench:sic1'/>, answered by mod_bench_native_sic

and the server process's CPU time (utime + stime from /proc) per reply is
taken for each: request bytes to reply bytes through Prosody's parser,
router, handler and serialiser. Rounds interleave the three kinds (rotating
which goes first), so load from elsewhere on the machine hits them alike;
the medians of the rounds and of the per-round ratios are printed. Every
reply is checked; nothing is asserted on time.

    python3 bindings/prosody/bench/wire_cost.py [--iqs N] [--rounds R]
    python3 bindings/prosody/bench/wire_cost.py --callgrind [--iqs N]

With --callgrind, Prosody runs under valgrind's callgrind and the
instructions it executes per IQ are counted instead (zeroed after a warm-up,
dumped after each kind's IQs): slow, and blind to other load on the machine,
but not quite the same on every run. Lua seeds its string hashes from the
clock, and whole collector cycles fall into one kind's IQs or another's, so
a kind's count moves by up to about 1 % between runs at the default 2 000
IQs (--iqs 20000 narrows that, at about four minutes a run): compare the
mean of several runs, or (a) with (c) of the same run.

Needs bindings/lua/xmpp_sic.so (make -C bindings/lua; XMPP_SIC_SO_DIR picks
another directory, --module-dir another mod_xmpp_sic.lua). The Prosody it
starts is stopped by PID.
"""

import argparse
import asyncio
import glob
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

from testkit.process import cpu_times, settle  # noqa: E402
from testkit.prosody import PrivateProsody  # noqa: E402
from testkit.xmpp import RawClient  # noqa: E402

NS1 = "urn:xmpp:sic:1"
# Requests of equal length, so the parser's share is alike.
KINDS = {
    "a": ("mod_xmpp_sic, sic:1 <address/>", f"<iq type='get' id='a{{n}}'><address xmlns='{NS1}'/></iq>"),
    "b": ("mod_ping, <ping/>", "<iq type='get' id='b{n}'><ping xmlns='urn:xmpp:ping'/></iq>"),
    "c": ("native Lua handler, same reply", "<iq type='get' id='c{n}'><address xmlns='urn:bench:sic1'/></iq>"),
}
WARM_UP = 2000


def check(kind, reply, sockname):
    if reply.get("type") != "result":
        raise AssertionError(f"({kind}) not a result: {reply.attrib}")
    if kind != "b":
        ip = reply.findtext(f"{{{NS1}}}address/{{{NS1}}}ip")
        port = reply.findtext(f"{{{NS1}}}address/{{{NS1}}}port")
        if (ip, port) != (sockname[0], str(sockname[1])):
            raise AssertionError(f"({kind}) reply says {(ip, port)}, the socket is {sockname[:2]}")


async def measure(server, iqs, rounds):
    """{kind: [CPU microseconds per IQ, one per round]}, and the same for
    the system (kernel) part of it."""
    client = await RawClient.login("127.0.0.1", server.port, "bench", "secret", "bench", timeout=60,
                                   keep_raw=False)
    sockname = client.sockname
    results = {kind: [] for kind in KINDS}
    system = {kind: [] for kind in KINDS}
    try:
        for kind, (_, template) in KINDS.items():
            for reply in await client.pipeline(template, WARM_UP):
                check(kind, reply, sockname)
        settle(server.proc.pid, limit=20)
        order = list(KINDS)
        for r in range(rounds):
            for kind in order[r % 3:] + order[:r % 3]:
                user0, sys0 = cpu_times(server.proc.pid)
                replies = await client.pipeline(KINDS[kind][1], iqs)
                user1, sys1 = cpu_times(server.proc.pid)
                results[kind].append((user1 - user0 + sys1 - sys0) / iqs * 1e6)
                system[kind].append((sys1 - sys0) / iqs * 1e6)
                for reply in replies:
                    check(kind, reply, sockname)
    finally:
        await client.close()
    return results, system


async def count_instructions(server, iqs, dump_dir):
    """{kind: instructions per IQ}."""
    client = await RawClient.login("127.0.0.1", server.port, "bench", "secret", "bench", timeout=300,
                                   keep_raw=False)
    sockname, pid = client.sockname, str(server.proc.pid)
    counts = {}
    try:
        for kind, (_, template) in KINDS.items():
            for reply in await client.pipeline(template, WARM_UP // 4):
                check(kind, reply, sockname)
        for kind, (_, template) in KINDS.items():
            subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True, timeout=120)
            before = set(glob.glob(os.path.join(dump_dir, "*")))
            replies = await client.pipeline(template, iqs)
            subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True, timeout=120)
            for reply in replies:
                check(kind, reply, sockname)
            (dump,) = set(glob.glob(os.path.join(dump_dir, "*"))) - before
            with open(dump) as f:
                totals = [int(line.split()[1]) for line in f if line.startswith("summary:")]
            counts[kind] = totals[0] / iqs
    finally:
        await client.close()
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iqs", type=int, help="IQs per kind and round (default 20000; 2000 with --callgrind)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--module-dir", default=str(HERE.parent),
                        help="where mod_xmpp_sic.lua is (another build of it, to compare)")
    parser.add_argument("--callgrind", action="store_true", help="count instructions instead of CPU time")
    args = parser.parse_args()
    so_dir = Path(os.environ.get("XMPP_SIC_SO_DIR", REPO / "bindings" / "lua")).resolve()
    if not (so_dir / "xmpp_sic.so").exists():
        sys.exit(f"{so_dir}/xmpp_sic.so is missing: run make -C bindings/lua")

    options = dict(modules=["xmpp_sic", "bench_native_sic"], plugin_paths=[args.module_dir, str(HERE)],
                   lua_cpath_dir=str(so_dir), users=[("bench", "secret")])
    if args.callgrind:
        iqs = args.iqs or 2000
        with tempfile.TemporaryDirectory(prefix="xmpp-sic-callgrind-") as dump_dir:
            wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={dump_dir}/callgrind.out.%p", "lua5.4"]
            with PrivateProsody(wrapper=wrapper, start_timeout=120, **options) as server:
                counts = asyncio.run(count_instructions(server, iqs, dump_dir))
                server.assert_clean_log()
        print(f"Instructions Prosody executes per IQ (callgrind, {iqs} pipelined IQs of each kind):")
        for kind, (label, _) in KINDS.items():
            print(f"  ({kind}) {label:32} {counts[kind]:9.0f} instructions/IQ")
        for top, bottom in (("a", "b"), ("a", "c"), ("c", "b")):
            print(f"ratio ({top})/({bottom}): {counts[top] / counts[bottom]:.3f} (instructions)")
        return

    wrapper = []
    if len(os.sched_getaffinity(0)) >= 2:
        # Prosody on one CPU, this client on another: the client's parsing
        # never competes with the server it measures.
        cpus = sorted(os.sched_getaffinity(0))
        wrapper = ["taskset", "-c", str(cpus[-1])]
        os.sched_setaffinity(0, {cpus[0]})
    iqs = args.iqs or 20000
    with PrivateProsody(wrapper=wrapper, **options) as server:
        results, system = asyncio.run(measure(server, iqs, args.rounds))
        server.assert_clean_log()

    print(f"Prosody CPU time per IQ, request bytes to reply bytes, {args.rounds} interleaved rounds of "
          f"{iqs} pipelined IQs (one client, loopback):")
    for kind, (label, _) in KINDS.items():
        xs = results[kind]
        print(f"  ({kind}) {label:32} median {statistics.median(xs):6.1f} us/IQ   min {min(xs):6.1f}   "
              f"of which system (kernel) median {statistics.median(system[kind]):5.1f}")
    for top, bottom in (("a", "b"), ("a", "c"), ("c", "b")):
        per_round = [x / y for x, y in zip(results[top], results[bottom])]
        of_medians = statistics.median(results[top]) / statistics.median(results[bottom])
        print(f"ratio ({top})/({bottom}): {of_medians:.3f} (medians)   {statistics.median(per_round):.3f} "
              f"(median of per-round ratios, {min(per_round):.3f}..{max(per_round):.3f})")


if __name__ == "__main__":
    main()
