#!/usr/bin/env bash
# Runs every benchmark of xmpp-sic and prints one markdown report.
#   bench/run.sh           full runs (several minutes)
#   BENCH_QUICK=1 bench/run.sh   short runs, to see that everything works
# Medians throughout; quote ratios, since absolute times drift on a shared machine.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=$(mktemp -d /tmp/xmpp-sic-bench.XXXXXX)
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  CRITERION=(--warm-up-time 0.2 --measurement-time 0.5 --sample-size 10)
  CALLS=200000 RSS_CALLS=200000
else
  CRITERION=(--warm-up-time 2 --measurement-time 5)
  CALLS=2000000 RSS_CALLS=10000000
fi

echo "core: criterion" >&2
cargo bench --bench handle_iq --quiet -- "${CRITERION[@]}" >"$OUT/criterion.txt" 2>&1
echo "core: threads, allocations, RSS" >&2
cargo run --release --quiet --example throughput -- "$CALLS" 2 >"$OUT/throughput.txt"
cargo run --release --quiet --example alloc_count >"$OUT/allocations.txt"
make --no-print-directory -C c-tests build/test_stress >/dev/null
SIC_THREADS=0 SIC_CALLS=0 SIC_RSS_CALLS=$RSS_CALLS c-tests/build/test_stress >"$OUT/rss.txt"

# Host comparisons: each binding's bench script prints markdown of its own
# (bindings/prosody/bench/run.sh: mod_xmpp_sic vs mod_ipcheck in one Prosody;
# bindings/ejabberd/bench/run.sh: mod_xmpp_sic vs mod_sic in one ejabberd node).
for host_bench in bindings/*/bench/run.sh; do
  [ -e "$host_bench" ] || continue
  echo "host: $host_bench" >&2
  BENCH_QUICK=${BENCH_QUICK:-0} bash "$host_bench" >"$OUT/host-$(basename "$(dirname "$(dirname "$host_bench")")").md"
done

python3 bench/report.py "$ROOT/target/criterion" "$OUT"
