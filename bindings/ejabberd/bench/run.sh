#!/usr/bin/env bash
# ejabberd rows for bench/run.sh, as markdown: per IQ inside one ejabberd
# 23.01 node, from request bytes to reply bytes, (a) mod_xmpp_sic, (b)
# mod_ping, (c) a native handler building the same sic:1 reply (e2e.py
# --bench, mod_xmpp_sic_bench.erl); then IQs per second on the wire through
# a node with mod_sic against one with mod_xmpp_sic.
#   BENCH_QUICK=1  fewer rounds and IQs
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$ROOT"
WORK=$(mktemp -d /tmp/xmpp-sic-ejbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# Single rounds' ratios swing by 10-25% on a shared machine, and the
# median of 101 of them by about ±0.045 (its 95% confidence interval, which
# e2e.py prints); 301 rounds (about 30 s) narrow that to ±0.015-0.025.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    iqs=2000 rounds=1 node_iqs=500 node_rounds=11
else
    iqs=20000 rounds=9 node_iqs=1000 node_rounds=301
fi
bindings/ejabberd/mod_xmpp_sic/build.sh "$WORK/mod_xmpp_sic" --with-bench >"$WORK/build.log" 2>&1
python3 bindings/ejabberd/mod_xmpp_sic/test/e2e.py "$WORK/mod_xmpp_sic" --bench \
    --bench-iqs "$node_iqs" --bench-rounds "$node_rounds" >"$WORK/e2e.log" 2>&1
python3 bindings/ejabberd/bench/wire.py "$WORK/mod_xmpp_sic" --iqs "$iqs" --rounds "$rounds" >"$WORK/wire.log"

python3 - "$WORK/e2e.log" "$WORK/wire.log" <<'EOF2'
import re
import sys

e2e = open(sys.argv[1]).read()
rows = re.findall(r"^ {7}(\([abc]\) .*?) {2,}([0-9.]+) / +([0-9.]+) +busy +([0-9.]+)$", e2e, re.M)
head = re.search(r"^ {5}per IQ inside one node.*?(\d+) interleaved rounds x (\d+)", e2e, re.M)
ratios = re.search(r"^ {5}ratios, .*$", e2e, re.M)
if len(rows) != 3 or not head or not ratios:
    sys.exit("the in-node bench printed no figures:\n" + e2e[-3000:])
print(f"### ejabberd 23.01, one node: µs per IQ from request bytes to reply bytes "
      f"({head.group(1)} interleaved rounds × {head.group(2)} pipelined IQs)")
print()
print("| path | wall median / min | schedulers busy, median |")
print("|---|---|---|")
for label, wall, low, busy in rows:
    print(f"| {label} | {float(wall):.2f} / {float(low):.2f} | {float(busy):.2f} |")
print()
print(ratios.group(0).strip())
print()
handlers = re.findall(r"^ {7}(\([ac]\) [^:]+: hook \+ process_iq) +([0-9.]+) / +([0-9.]+)$", e2e, re.M)
if handlers:
    print("What (a) and (c) differ in, alone (each module's hook and handler on a decoded IQ, "
          "median / min of 41 rounds): "
          + "; ".join(f"{label} {float(us):.2f} / {float(low):.2f} µs" for label, us, low in handlers))
    print()
print("### ejabberd 23.01 on the wire, mod_sic against mod_xmpp_sic")
print()
wire = open(sys.argv[2]).read()
print(wire.splitlines()[0])
print()
print("| module | IQ/s | node CPU per IQ | rounds (IQ/s) |")
print("|---|---|---|---|")
for m in re.finditer(r"^  (mod_\w+) +([0-9]+) IQ/s +([0-9.]+) us node CPU/IQ +rounds: (.*)$", wire, re.M):
    print(f"| {m.group(1)} | {m.group(2)} | {m.group(3)} µs | {m.group(4)} |")
print()
for line in wire.splitlines():
    if line.startswith("  ratio") or line.startswith("FAIL"):
        print(line.strip())
EOF2
grep -E "^ +load: " "$WORK/e2e.log" | sed -E 's/^ +load: (.*)/\nEnd-to-end load test with mod_xmpp_sic: \1./'
