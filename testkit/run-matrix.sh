#!/usr/bin/env bash
# The newer server releases, Prosody 13 and ejabberd 24.12 from
# bookworm-backports, through the same tests the system's Prosody 0.12 and
# ejabberd 23.01 pass in bindings/*/run-tests.sh and testkit/run-tests.sh:
#
#   bash testkit/run-matrix.sh
#
#   releases   which release each launcher starts (testkit.check_releases),
#              and that the system's packages are untouched
#   prosody-13 bindings/prosody/tests/e2e.py with XMPP_SIC_PROSODY_RELEASE=13
#   ejabberd-24.12  bindings/ejabberd/mod_xmpp_sic/test/e2e.py with
#              XMPP_SIC_EJABBERD_RELEASE=24.12, the module built against
#              24.12's headers and libraries
#   agreement  the corpus (testkit.agreement) on Prosody 13 and ejabberd 24.12
#   deployments  the deployments suite (testkit/run-deployments.sh: proxies,
#              BOSH, WebSocket, TLS, XEP-0198, a cluster, hostile requests)
#              on Prosody 13 and ejabberd 24.12
#
# First: installs what it needs (testkit/install-deps.sh, plus the Lua
# libraries Prosody 13 uses), builds the library and the Lua module, and
# fetches the backports into their cache (testkit/fetch-backports.sh; reused
# when complete), checking that the machine's apt sources and installed
# packages are the same afterwards. The rows then run side by side (each
# is mostly waiting on its servers), and each row's counts and wall time are
# printed; the last line is "N passed, N failed", the exit status non-zero
# on any failure.
set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xmpp-sic-matrix.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PASSED=0
FAILED=0
START=$(date +%s.%N)

say() { printf '\n== %s\n' "$*"; }
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
setup_failed() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }

# The counts of a row: its own last "N passed, N failed" line.
counts() {
    local line
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$1" | tail -n 1)
    if [ -z "$line" ]; then echo "0 0"; else sed -E 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/' <<<"$line"; fi
}

say "dependencies"
XMPP_SIC_WANT_SLIXMPP=1 bash testkit/install-deps.sh lua-bitop lua-expat lua-filesystem lua-sec lua-socket \
    lua-unbound || setup_failed "installing dependencies"

say "building the library and the Lua module"
{ cargo build --release --quiet && make --no-print-directory -C bindings/lua >/dev/null; } ||
    setup_failed "cargo build --release / make -C bindings/lua"

say "fetching bookworm-backports (cached)"
# What must not change: the machine's apt sources and its installed packages.
system_state() {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | sha256sum
    dpkg-query -W -f='${Package} ${Version} ${Status}\n' | sha256sum
}
before=$(system_state)
t=$(date +%s.%N)
if CACHE=$(bash testkit/fetch-backports.sh); then
    echo "cache $CACHE ($(elapsed "$t") s): $(wc -l <"$CACHE/MANIFEST") packages"
    awk '{ printf "  %s %s\n", $1, $2 }' "$CACHE/MANIFEST"
else
    setup_failed "testkit/fetch-backports.sh"
    CACHE=
fi
if [ "$(system_state)" = "$before" ]; then
    echo "ok   apt sources and installed packages unchanged by the fetch"
    PASSED=$((PASSED + 1))
else
    setup_failed "the fetch changed the machine's apt sources or installed packages"
fi

MODULE=$WORK/ejabberd/mod_xmpp_sic
if [ -n "$CACHE" ]; then
    say "building mod_xmpp_sic against ejabberd 24.12"
    EJABBERD_24=$(ls -d "$CACHE"/root/usr/lib/*/ejabberd-24.12 2>/dev/null | head -n 1)
    # Its headers and the backports' xmpp include dir (build.sh asks the
    # code server, which ERL_LIBS points at the cache).
    if EJABBERD_LIB=$EJABBERD_24 ERL_LIBS=$CACHE/root/usr/lib/erlang/lib \
        bindings/ejabberd/mod_xmpp_sic/build.sh "$MODULE" >"$WORK/build.log" 2>&1; then
        echo "built in $MODULE"
    else
        tail -20 "$WORK/build.log"
        setup_failed "bindings/ejabberd/mod_xmpp_sic/build.sh against ejabberd 24.12"
    fi
fi

# Each module copes with differences between releases by detecting what the
# server offers (a function, a record field), never by reading its version.
say "no version-string tests in the modules"
VERSION_USE='prosody\.version|_VERSION|get_version|ejabberd_option:version|get_key\(ejabberd|ejabberd:version|ejabberd_config:version|vsn'
if hits=$(grep -nE "$VERSION_USE" bindings/prosody/mod_xmpp_sic/*.lua bindings/ejabberd/mod_xmpp_sic/src/*.erl); then
    echo "$hits"
    setup_failed "a module reads the server's version"
else
    echo "ok   neither module reads the server's version"
    PASSED=$((PASSED + 1))
fi

# row NAME COMMAND...: started in the background, output to its own log.
NAMES=()
declare -A PIDS=() BEGAN=()
row() {
    local name=$1
    shift
    NAMES+=("$name")
    BEGAN[$name]=$(date +%s.%N)
    ( "$@" >"$WORK/$name.log" 2>&1; echo $? >"$WORK/$name.rc"; date +%s.%N >"$WORK/$name.end" ) &
    PIDS[$name]=$!
}

say "rows, side by side"
row releases timeout 300 python3 -m testkit.check_releases
row prosody-13 env XMPP_SIC_PROSODY_RELEASE=13 \
    timeout 400 python3 bindings/prosody/tests/e2e.py --so-dir "$ROOT/bindings/lua"
row ejabberd-24.12 env XMPP_SIC_EJABBERD_RELEASE=24.12 \
    timeout 400 python3 bindings/ejabberd/mod_xmpp_sic/test/e2e.py "$MODULE"
row agreement env XMPP_SIC_PROSODY_RELEASE=13 XMPP_SIC_EJABBERD_RELEASE=24.12 \
    timeout 600 python3 -m testkit.agreement --lua-dir "$ROOT/bindings/lua" --ejabberd-dir "$MODULE"
row deployments env XMPP_SIC_PROSODY_RELEASE=13 XMPP_SIC_EJABBERD_RELEASE=24.12 \
    timeout 900 bash testkit/run-deployments.sh

SUMMARY=()
for name in "${NAMES[@]}"; do
    wait "${PIDS[$name]}"
    say "$name"
    cat "$WORK/$name.log"
    rc=$(cat "$WORK/$name.rc" 2>/dev/null || echo 1)
    read -r p f < <(counts "$WORK/$name.log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited with $rc"
        f=1
    fi
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: no counts printed"
        f=1
    fi
    took=$(awk -v s="${BEGAN[$name]}" -v e="$(cat "$WORK/$name.end" 2>/dev/null || date +%s.%N)" \
        'BEGIN { printf "%.1f", e - s }')
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    SUMMARY+=("$(printf '%-15s %4d passed, %d failed, %6.1f s wall' "$name" "$p" "$f" "$took")")
done

say "rows (run side by side; total $(elapsed "$START") s wall including setup)"
printf '  %s\n' "${SUMMARY[@]}"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
