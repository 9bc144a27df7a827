#!/usr/bin/env bash
# Tests of the Erlang binding (EUnit, NIF) and of mod_xmpp_sic in ejabberd
# (end to end, on loopback). Installs what it needs when missing, prints
# `N passed, N failed` as its last line and exits non-zero on any failure.
#
#   bindings/erlang/run-tests.sh [--no-bench]
#
# --no-bench skips the in-node benchmark (mod_xmpp_sic, mod_ping and a native
# handler, request bytes to reply bytes; about 5 s) and the brief run of the
# wire benchmark (about 10 s); the figures are printed, never asserted.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
MODULE_DIR="$REPO/bindings/ejabberd/mod_xmpp_sic"
BENCH=--bench
[ "${1:-}" = "--no-bench" ] && BENCH=

passed=0
failed=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/xsic-erlang-tests.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

note() { printf '== %s\n' "$*"; }
fail_setup() {
    echo "FAIL $*"
    failed=$((failed + 1))
    echo "$passed passed, $failed failed"
    exit 1
}

# --- dependencies ----------------------------------------------------------

missing_deps() {
    local missing=()
    command -v erl >/dev/null && command -v erlc >/dev/null || missing+=(erlang-nox)
    [ -f /usr/lib/erlang/usr/include/erl_nif.h ] || missing+=(erlang-dev)
    ls /usr/lib/erlang/lib/eunit-*/ebin/eunit.beam >/dev/null 2>&1 || missing+=(erlang-eunit)
    ls /usr/lib/erlang/lib/xmerl-*/ebin/xmerl_scan.beam >/dev/null 2>&1 || missing+=(erlang-xmerl)
    command -v rebar3 >/dev/null || missing+=(rebar3)
    ls /usr/lib/*/ejabberd-*/ebin/ejabberd.beam >/dev/null 2>&1 || missing+=(ejabberd)
    ls /usr/lib/erlang/lib/p1_xml-*/ebin/fxml_stream.beam >/dev/null 2>&1 || missing+=(erlang-p1-xml)
    command -v make >/dev/null && command -v cc >/dev/null || missing+=(build-essential)
    echo "${missing[*]}"
}

install_apt() {
    # Installing ejabberd must not start Debian's own server on port 5222:
    # a policy-rc.d that refuses service starts is put in place meanwhile.
    local policy=/usr/sbin/policy-rc.d created=no
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=yes
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
    local rc=$?
    [ "$created" = yes ] && rm -f "$policy"
    return $rc
}

ensure_deps() {
    local missing
    missing=$(missing_deps)
    if [ -n "$missing" ] || ! python3 -c 'import slixmpp' 2>/dev/null; then
        if [ -x "$REPO/testkit/install-deps.sh" ]; then
            note "installing dependencies with testkit/install-deps.sh"
            "$REPO/testkit/install-deps.sh" || echo "install-deps.sh failed; trying directly" >&2
            missing=$(missing_deps)
        fi
    fi
    if [ -n "$missing" ]; then
        note "installing: $missing"
        # shellcheck disable=SC2086 # a list of package names
        install_apt $missing || fail_setup "apt-get install $missing"
        missing=$(missing_deps)
        [ -z "$missing" ] || fail_setup "still missing after install: $missing"
    fi
    if ! python3 -c 'import slixmpp' 2>/dev/null; then
        note "installing slixmpp"
        # A Debian system Python refuses plain pip installs (PEP 668).
        python3 -m pip install --quiet slixmpp ||
            python3 -m pip install --quiet --break-system-packages slixmpp ||
            fail_setup "pip install slixmpp"
        python3 -c 'import slixmpp' || fail_setup "slixmpp does not import after install"
    fi
    command -v cargo >/dev/null || fail_setup "cargo not found: the NIF links the Rust library"
}

ensure_deps

# --- EUnit -----------------------------------------------------------------

note "EUnit tests of the NIF (rebar3 eunit)"
started=$SECONDS
# A caught panic prints its message; a backtrace per panic would flood the log.
(cd "$HERE" && RUST_BACKTRACE=0 rebar3 eunit) >"$WORK/eunit.log" 2>&1
eunit_rc=$?
grep -E 'us/call|Failed:|tests passed|\*failed\*' "$WORK/eunit.log" | tail -40
eunit_passed=0
eunit_failed=0
if line=$(grep -E '^\s*All [0-9]+ tests passed' "$WORK/eunit.log"); then
    eunit_passed=$(echo "$line" | grep -oE '[0-9]+' | head -1)
elif line=$(grep -E 'Failed: [0-9]+\.\s+Skipped: [0-9]+\.\s+Passed: [0-9]+' "$WORK/eunit.log"); then
    eunit_failed=$(echo "$line" | sed -E 's/.*Failed: ([0-9]+).*/\1/')
    eunit_passed=$(echo "$line" | sed -E 's/.*Passed: ([0-9]+).*/\1/')
    skipped=$(echo "$line" | sed -E 's/.*Skipped: ([0-9]+).*/\1/')
    # A skipped or cancelled test is a failure here: nothing is skipped silently.
    eunit_failed=$((eunit_failed + skipped))
fi
if [ "$eunit_rc" -ne 0 ] && [ "$eunit_failed" -eq 0 ]; then
    tail -60 "$WORK/eunit.log"
    echo "FAIL rebar3 eunit exited with $eunit_rc"
    eunit_failed=1
fi
passed=$((passed + eunit_passed))
failed=$((failed + eunit_failed))
echo "EUnit: $eunit_passed tests passed, $eunit_failed failed ($((SECONDS - started)) s)"

# --- the same EUnit tests against the NIF built with ASan and UBSan --------

note "EUnit under AddressSanitizer + UndefinedBehaviorSanitizer"
started=$SECONDS
asan_ok=no
ASAN_DIR="$HERE/_build/asan"
if make -C "$HERE/c_src" asan >"$WORK/asan-build.log" 2>&1 &&
    nm -D "$ASAN_DIR/priv/xmpp_sic_nif.so" >"$WORK/asan.syms" &&
    grep -q __asan_init "$WORK/asan.syms"; then
    # A directory not named after the application: xmpp_sic finds priv/
    # beside its ebin/, the layout mod_xmpp_sic is installed in too.
    rm -rf "$ASAN_DIR/ebin" && mkdir -p "$ASAN_DIR/ebin" &&
        cp "$HERE"/_build/test/lib/xmpp_sic/ebin/*.beam "$HERE"/_build/test/lib/xmpp_sic/ebin/*.app \
            "$HERE"/_build/test/lib/xmpp_sic/test/*.beam "$ASAN_DIR/ebin/"
    preload="$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)"
    ASAN_OPTIONS=detect_leaks=0 RUST_BACKTRACE=0 LD_PRELOAD="$preload" \
        timeout 600 erl -noshell -pa "$ASAN_DIR/ebin" \
        -eval 'case eunit:test(xmpp_sic_tests, []) of ok -> halt(0); _ -> halt(1) end.' \
        >"$WORK/asan.log" 2>&1
    asan_rc=$?
    if [ "$asan_rc" -eq 0 ] && ! grep -qE 'ERROR: AddressSanitizer|runtime error:' "$WORK/asan.log"; then
        asan_ok=yes
    else
        grep -E 'ERROR: AddressSanitizer|runtime error:|Failed:|failed' "$WORK/asan.log" | head -20
    fi
else
    tail -20 "$WORK/asan-build.log"
    echo "the sanitizer build failed or has no ASan runtime linked"
fi
if [ "$asan_ok" = yes ]; then
    echo "PASS EUnit under ASan+UBSan: $(grep -oE 'All [0-9]+ tests passed' "$WORK/asan.log"), no report ($((SECONDS - started)) s)"
    passed=$((passed + 1))
else
    echo "FAIL EUnit under ASan+UBSan"
    failed=$((failed + 1))
fi

# --- end to end ------------------------------------------------------------

note "end-to-end: mod_xmpp_sic in ejabberd, driven by slixmpp"
started=$SECONDS
if "$MODULE_DIR/build.sh" "$WORK/mod_xmpp_sic" --with-bench >"$WORK/build.log" 2>&1; then
    # shellcheck disable=SC2086 # BENCH is empty or one flag
    # Only the last line of this script may read `N passed, N failed`, so a
    # caller that sums such lines counts nothing twice.
    timeout --signal=TERM 400 python3 "$MODULE_DIR/test/e2e.py" "$WORK/mod_xmpp_sic" $BENCH >"$WORK/e2e.log" 2>&1
    sed -E 's/^([0-9]+) passed, ([0-9]+) failed$/end-to-end checks, \1 passing and \2 failing/' "$WORK/e2e.log"
    if line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/e2e.log" | tail -1); then
        e2e_passed=$(echo "$line" | cut -d' ' -f1)
        e2e_failed=$(echo "$line" | cut -d' ' -f3)
    else
        echo "FAIL the end-to-end test ended without a summary"
        e2e_passed=0
        e2e_failed=1
    fi
else
    tail -40 "$WORK/build.log"
    echo "FAIL building mod_xmpp_sic"
    e2e_passed=0
    e2e_failed=1
fi
passed=$((passed + e2e_passed))
failed=$((failed + e2e_failed))
echo "end to end: $e2e_passed checks passed, $e2e_failed failed ($((SECONDS - started)) s with the build)"

# The wire benchmark asserts nothing on time; a brief run shows it still
# works: two nodes start, every pipelined IQ gets a result.
if [ -n "$BENCH" ]; then
    note "benchmark smoke run: bindings/ejabberd/bench/wire.py"
    if [ -d "$WORK/mod_xmpp_sic/ebin" ] &&
        timeout --signal=TERM 300 python3 "$REPO/bindings/ejabberd/bench/wire.py" "$WORK/mod_xmpp_sic" \
            --iqs 300 --rounds 1 >"$WORK/wire.log" 2>&1; then
        sed 's/^/    /' "$WORK/wire.log"
        echo "PASS the wire benchmark runs once, briefly, and every IQ is answered"
        passed=$((passed + 1))
    else
        tail -20 "$WORK/wire.log" 2>/dev/null
        echo "FAIL the wire benchmark"
        failed=$((failed + 1))
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
