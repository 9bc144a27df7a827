#!/bin/bash
# The deployments suite (testkit/deployments.py, docs/deployments.md) on
# both servers: installs what it needs, builds the library, fetches
# bookworm-backports' prosody-modules (mod_net_proxy), runs the Prosody and
# the ejabberd half side by side, then checks both gave the same answers to
# the hostile requests. Prints each case's wall time and the total; the last
# line is `N passed, N failed`, and the exit status is non-zero on any
# failure.
#
#   bash testkit/run-deployments.sh
#
# XMPP_SIC_PROSODY_RELEASE=13 / XMPP_SIC_EJABBERD_RELEASE=24.12 run the
# newer releases instead (testkit/releases.py).
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
START=$(date +%s.%N)
OUT=$(mktemp -d /tmp/xmpp-sic-deployments.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
SETUP_FAILED=0

step() {
    local name=$1
    shift
    if ! "$@" >"$OUT/$name.log" 2>&1; then
        echo "FAIL setup: $name"
        tail -n 30 "$OUT/$name.log"
        SETUP_FAILED=$((SETUP_FAILED + 1))
        return 1
    fi
}

# The Lua libraries Prosody 13 needs too: one case runs it (RFC 7239).
step install-deps bash testkit/install-deps.sh \
    $(python3 -c 'from testkit import releases; print(" ".join(releases.PROSODY_13_LUA_PACKAGES))')
if ! command -v cargo >/dev/null; then
    echo "FAIL setup: cargo is missing (install a Rust toolchain with rustup)"
    SETUP_FAILED=$((SETUP_FAILED + 1))
else
    step build-library cargo build --release --quiet
fi
step fetch-backports python3 -c 'from testkit import releases; print(releases.prosody_modules_dir())'
echo "setup: $(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')s"

# The two halves share nothing but the machine: each starts its own
# servers on free loopback ports.
python3 -m testkit.deployments --host prosody --json "$OUT/prosody.json" >"$OUT/prosody.out" 2>&1 &
PROSODY_PID=$!
python3 -m testkit.deployments --host ejabberd --json "$OUT/ejabberd.json" >"$OUT/ejabberd.out" 2>&1 &
EJABBERD_PID=$!
wait "$PROSODY_PID"
wait "$EJABBERD_PID"

PASSED=0
FAILED=$SETUP_FAILED
count() {
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $(basename "$1"): no summary line"
        FAILED=$((FAILED + 1))
        return
    fi
    PASSED=$((PASSED + $(cut -d' ' -f1 <<<"$line")))
    FAILED=$((FAILED + $(cut -d' ' -f3 <<<"$line")))
}

for half in prosody ejabberd; do
    printf '\n== %s\n' "$half"
    sed '$d' "$OUT/$half.out"
    count "$OUT/$half.out"
done

printf '\n== the same answer to each hostile request in both servers\n'
if [ -f "$OUT/prosody.json" ] && [ -f "$OUT/ejabberd.json" ]; then
    python3 -m testkit.deployments --compare "$OUT/prosody.json" "$OUT/ejabberd.json" >"$OUT/compare.out" 2>&1
    sed '$d' "$OUT/compare.out"
    count "$OUT/compare.out"
else
    echo "FAIL same-answer: a half wrote no answers"
    FAILED=$((FAILED + 1))
fi

echo
echo "total: $(awk -v s="$START" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')s wall"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
