#!/usr/bin/env bash
# A short, bounded fuzz run of each target (FUZZ_SECONDS each, default 60),
# under AddressSanitizer, from the committed seeds. cargo-fuzz needs nightly
# flags; RUSTC_BOOTSTRAP=1 lets this machine's stable toolchain accept them.
# Long campaigns: see README, "Reliability".
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_EACH=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked --version 0.13.2
fi
cd "$ROOT/fuzz"
cargo fuzz build --release
passed=0 failed=0
for target in raw structured agree; do
  corpus=$(mktemp -d "/tmp/xmpp-sic-corpus-$target.XXXXXX")
  seeds=()
  [ -d "seeds/$target" ] && seeds=("seeds/$target")
  log=$(mktemp)
  if cargo fuzz run --release "$target" "$corpus" "${seeds[@]}" -- \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    passed=$((passed + 1))
    runs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1)
    echo "fuzz $target: $runs(s), corpus $(ls "$corpus" | wc -l) inputs, no crash"
  else
    failed=$((failed + 1))
    tail -n 60 "$log"
    echo "fuzz $target: FAILED; the crashing input is under fuzz/artifacts/$target"
  fi
  rm -rf "$corpus" "$log"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
