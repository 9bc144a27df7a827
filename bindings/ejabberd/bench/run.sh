#!/usr/bin/env bash
# ejabberd rows for bench/run.sh, as markdown: per-IQ cost inside one
# ejabberd 23.01 node (timer:tc), mod_sic against mod_xmpp_sic and ejabberd's
# own path from the request's bytes against the library; then IQs per second
# on the wire through a node with each module.
#   BENCH_QUICK=1  fewer IQs on the wire
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$ROOT"
WORK=$(mktemp -d /tmp/xmpp-sic-ejbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
bindings/ejabberd/mod_xmpp_sic/build.sh "$WORK/mod_xmpp_sic" --with-bench >"$WORK/build.log" 2>&1
python3 bindings/ejabberd/mod_xmpp_sic/test/e2e.py "$WORK/mod_xmpp_sic" --bench >"$WORK/e2e.log" 2>&1
# Rounds swing by ±20% on a shared machine: nine give a steadier median.
if [ "${BENCH_QUICK:-0}" = 1 ]; then iqs=2000 rounds=1; else iqs=20000 rounds=9; fi
python3 bindings/ejabberd/bench/wire.py "$WORK/mod_xmpp_sic" --iqs "$iqs" --rounds "$rounds" >"$WORK/wire.log"

python3 - "$WORK/e2e.log" "$WORK/wire.log" <<'EOF'
import re
import sys

rows = []
for line in open(sys.argv[1]):
    m = re.match(r"^ {7}((?:mod_|variant:|bytes:|hook:).*?) {2,}([0-9.]+) / +([0-9.]+) us$", line)
    if m:
        rows.append((m.group(1), float(m.group(2)), float(m.group(3))))
if len(rows) < 7:
    sys.exit("the in-node bench printed no figures:\n" + open(sys.argv[1]).read()[-3000:])
median = {label: med for label, med, _ in rows}

def find(prefix):
    return next(med for label, med in median.items() if label.startswith(prefix))

print("### ejabberd 23.01: one node, µs per IQ (median / min of 15 rounds × 5000)")
print()
print("| path | median / min |")
print("|---|---|")
for label, med, low in rows:
    print(f"| {label} | {med:.2f} / {low:.2f} |")
print()
print(f"mod_xmpp_sic / mod_sic: {find('mod_xmpp_sic (hook') / find('mod_sic'):.2f}; "
      f"ejabberd's own path from the bytes / xmpp_sic:handle_iq/5 on them: "
      f"{find('bytes: ejabberd') / find('bytes: xmpp_sic'):.1f}")
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
EOF
grep -E "^ +load: " "$WORK/e2e.log" | sed -E 's/^ +load: (.*)/\nEnd-to-end load test with mod_xmpp_sic: \1./'
