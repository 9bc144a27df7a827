#!/usr/bin/env bash
# The test kit's own tests and the agreement test, in one command:
#   1. build the library (cargo build --release: the agreement test calls
#      target/release/libxmpp_sic.so, and both modules link it);
#   2. the kit's unit tests (python3 -m unittest);
#   3. the agreement test: the corpus over real c2s streams to a private
#      Prosody and a private ejabberd, each with mod_xmpp_sic, compared with
#      the library's sic_handle_iq (it builds both modules itself).
# Installs what it needs first (testkit/install-deps.sh: apt packages, with
# service starts refused during the install). Servers run on loopback only
# and are stopped by PID. Prints the wall time of each part; the last line
# is "N passed, N failed" (the sum); the exit status is non-zero on any
# failure.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PASSED=0
FAILED=0
TIMES=()

say() { printf '\n== %s\n' "$*"; }

# part NAME COUNTER COMMAND...: runs it, shows its output and wall time, adds its
# counts (from the function named COUNTER) to the totals. A part that
# prints no counts or exits non-zero without a failure counts one.
part() {
    local name=$1 counter=$2
    shift 2
    local out start rc p f
    out=$(mktemp)
    say "$name"
    start=$(date +%s.%N)
    "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    read -r p f < <("$counter" "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited with $rc"
        f=1
    fi
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    local took
    took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    TIMES+=("$name: ${took}s ($p passed, $f failed)")
    echo "-- $name: ${took}s wall, $p passed, $f failed"
    rm -f "$out"
}

# Counts of a part that is one check.
one_check() { if grep -q '^BUILD OK$' "$1"; then echo "1 0"; else echo "0 1"; fi; }

# unittest: "Ran N tests" and "FAILED (failures=a, errors=b, skipped=c)".
unittest_counts() {
    awk '/^Ran [0-9]+ test/ { ran = $2 }
         /^(FAILED|OK)/ { while (match($0, /(failures|errors|skipped)=[0-9]+/)) {
             split(substr($0, RSTART, RLENGTH), kv, "="); n[kv[1]] = kv[2]; $0 = substr($0, RSTART + RLENGTH) } }
         END { bad = n["failures"] + n["errors"]; print ran - bad - n["skipped"], bad + n["skipped"] + (ran == "" ? 1 : 0) }' "$1"
}

# The agreement test prints its own last line "N passed, N failed".
summary_counts() {
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
    if [ -z "$line" ]; then echo "0 1"; else sed -E 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/' <<<"$line"; fi
}

build_library() {
    if ! command -v cargo >/dev/null; then
        echo "cargo is missing: install a Rust toolchain (rustup); the library is built with it"
        return 1
    fi
    cargo build --release --quiet && [ -f target/release/libxmpp_sic.so ] && echo "BUILD OK"
}

if ! bash "$ROOT/testkit/install-deps.sh"; then
    echo "FAIL installing dependencies"
    FAILED=$((FAILED + 1))
fi
part "build the library" one_check build_library
# Skipped tests would count as failures: the kit has none, and must not.
part "unit tests (testkit/tests)" unittest_counts python3 -m unittest discover -s testkit/tests -t .
part "agreement: Prosody and ejabberd against sic_handle_iq" summary_counts python3 -m testkit.agreement

say "wall time per part"
printf '  %s\n' "${TIMES[@]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
