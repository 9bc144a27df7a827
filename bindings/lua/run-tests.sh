#!/usr/bin/env bash
# Every test of the Lua binding and of mod_xmpp_sic, in one command:
#   1. build both modules (Lua 5.4 and LuaJIT) and the test-only variants,
#      and check that each .so needs nothing but libc and the Lua API;
#   2. the binding's unit tests on lua5.4 and on luajit, and on lua5.4 again
#      with the module's C parts built with ASan and UBSan;
#   3. mod_xmpp_sic's Lua tests against Prosody's own libraries;
#   4. luarocks make into a temporary tree, then load what it installed;
#      and brief runs of the benchmarks, to show they still work;
#   5. the end-to-end test: a private Prosody on 127.0.0.1 and ::1 driven by
#      slixmpp, raw clients (testkit/), BOSH and WebSocket.
# Installs what it needs when missing (apt packages, slixmpp). Servers only
# on loopback; the only processes stopped are the ones the tests started.
# The last line is "N passed, N failed", the sum over the suites; the exit
# status is non-zero on any failure.

set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PROSODY_BINDING="$ROOT/bindings/prosody"

PASSED=0
FAILED=0

say() { printf '\n== %s\n' "$*"; }

# --- dependencies -------------------------------------------------------------

# prosody-modules: mod_ipcheck, which the benchmark compares against.
APT_PACKAGES=(lua5.4 liblua5.4-dev luajit libluajit-5.1-dev prosody prosody-modules luarocks make gcc libc6-dev)

missing_apt() {
    local pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || printf '%s\n' "$pkg"
    done
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        echo "need root (or sudo) to run: $*" >&2
        return 1
    fi
}

install_deps() {
    local missing
    missing=$(missing_apt)
    if [ -n "$missing" ]; then
        # shellcheck disable=SC2086 # one package per word
        say "installing apt packages:" $missing
        as_root apt-get update -qq || return 1
        # shellcheck disable=SC2086
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing || return 1
    fi
    if ! python3 -c 'import slixmpp' 2>/dev/null; then
        say "installing slixmpp with pip"
        # A Debian system Python refuses plain pip installs (PEP 668); then
        # the user's site directory is the least intrusive place.
        python3 -m pip install -q slixmpp ||
            python3 -m pip install -q --user --break-system-packages slixmpp || return 1
    fi
    if ! command -v cargo >/dev/null; then
        echo "cargo is missing: the module links the xmpp-sic static library, built with Rust" >&2
        return 1
    fi
    missing=$(missing_apt)
    if [ -n "$missing" ]; then
        echo "still missing after installing: $missing" >&2
        return 1
    fi
}

# --- running suites -----------------------------------------------------------

# Runs a command whose last line is "N passed, N failed" and adds it to the
# totals; a suite that dies without that line counts as one failure.
run_suite() {
    local name=$1
    shift
    say "$name"
    local out status line p f
    out=$(mktemp)
    "$@" 2>&1 | tee "$out"
    status=${PIPESTATUS[0]}
    line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
    rm -f "$out"
    if [ -z "$line" ]; then
        echo "FAIL $name: exited with $status and no summary line"
        FAILED=$((FAILED + 1))
        return
    fi
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited with $status"
        FAILED=$((FAILED + 1))
    fi
}

# A single check outside the Lua/Python runners.
check() {
    local name=$1
    shift
    if "$@"; then
        echo "ok   $name"
        PASSED=$((PASSED + 1))
    else
        echo "FAIL $name"
        FAILED=$((FAILED + 1))
    fi
}

lua_unit() {
    local lua=$1 so_dir=$2 variant=$3
    (
        cd "$HERE/tests" &&
            RUST_BACKTRACE=0 \
            XMPP_SIC_ABI_MISMATCH_SO="$HERE/build/test/$variant-abi/xmpp_sic.so" \
            XMPP_SIC_PANIC_SO="$HERE/build/test/$variant-panic/xmpp_sic.so" \
            LUA_CPATH="$so_dir/?.so;;" LUA_PATH="$HERE/tests/?.lua;;" \
            "$lua" test_binding.lua
    )
}

# The sanitizer runtimes must be in the process before the module is loaded.
sanitized() {
    local asan ubsan
    asan=$(cc -print-file-name=libasan.so)
    ubsan=$(cc -print-file-name=libubsan.so)
    if [ ! -e "$asan" ] || [ ! -e "$ubsan" ]; then
        echo "libasan/libubsan not found (gcc's sanitizer runtimes)"
        echo "0 passed, 1 failed"
        return 1
    fi
    LD_PRELOAD="$asan $ubsan" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$@"
}

module_tests() {
    LUA_CPATH="$HERE/?.so;;" LUA_PATH="$HERE/tests/?.lua;$PROSODY_BINDING/tests/?.lua;;" \
        lua5.4 "$PROSODY_BINDING/tests/test_module.lua" "$PROSODY_BINDING/mod_xmpp_sic/mod_xmpp_sic.lua"
}

rock_installs() {
    local tree
    tree=$(mktemp -d)
    (cd "$HERE" && luarocks --lua-version 5.4 --tree "$tree" make xmpp-sic-*.rockspec >"$tree.log" 2>&1) &&
        lua5.4 -e "
            package.cpath = '$tree/lib/lua/5.4/?.so;' .. package.cpath
            local sic = require 'xmpp_sic'
            assert(package.searchpath('xmpp_sic', package.cpath):find('$tree', 1, true), 'loaded from the tree')
            local reply = assert(sic.handle_iq([[<iq type='get' id='r'><address xmlns='urn:xmpp:sic:1'/></iq>]],
                'a@example.org/r', nil, '192.0.2.1', 5222))
            assert(reply:find('<ip>192.0.2.1</ip>', 1, true), reply)"
    local status=$?
    [ $status -eq 0 ] || cat "$tree.log"
    rm -rf "$tree" "$tree.log"
    return $status
}

# --- the run ------------------------------------------------------------------

started=$SECONDS

say "dependencies"
if ! install_deps; then
    echo "FAIL dependencies could not be installed"
    echo "$PASSED passed, $((FAILED + 1)) failed"
    exit 1
fi
echo "ok   lua5.4, luajit, their headers, prosody, luarocks, slixmpp, cargo"

say "build (make -C bindings/lua all test-builds check)"
if ! make -C "$HERE" all test-builds check; then
    echo "FAIL build"
    echo "$PASSED passed, $((FAILED + 1)) failed"
    exit 1
fi
PASSED=$((PASSED + 1))

run_suite "binding unit tests, Lua 5.4" lua_unit lua5.4 "$HERE" lua54
run_suite "binding unit tests, LuaJIT" lua_unit luajit "$HERE/build/luajit" luajit
run_suite "binding unit tests, Lua 5.4, C parts under ASan+UBSan" \
    sanitized lua_unit lua5.4 "$HERE/build/test/lua54-asan" lua54
run_suite "mod_xmpp_sic with Prosody's libraries" module_tests

say "luarocks"
check "luarocks --lua-version 5.4 make installs a working module" rock_installs

# Benchmarks assert nothing on time; a brief run shows the script still works
# (its handlers answer and it prints its figures).
bench_smoke() {
    local out
    out=$(LUA_CPATH="$HERE/?.so;;" lua5.4 "$PROSODY_BINDING/bench/handler_cost.lua" \
        "$PROSODY_BINDING/mod_xmpp_sic/mod_xmpp_sic.lua" \
        /usr/lib/prosody/modules/mod_ipcheck/mod_ipcheck.lua 200 1) || return 1
    grep -q "^ratio mod_ipcheck path / handle_iq: " <<<"$out"
}
wire_smoke() {
    local out
    out=$(XMPP_SIC_SO_DIR="$HERE" python3 "$PROSODY_BINDING/bench/wire_cost.py" --iqs 300 --rounds 1) || return 1
    grep -q "^ratio (a)/(c): " <<<"$out"
}
say "benchmark smoke run"
check "bindings/prosody/bench/handler_cost.lua runs once, briefly" bench_smoke
check "bindings/prosody/bench/wire_cost.py runs once, briefly (its replies are checked)" wire_smoke

e2e_started=$SECONDS
run_suite "end to end: Prosody + slixmpp" python3 "$PROSODY_BINDING/tests/e2e.py" --so-dir "$HERE"
echo "     (end-to-end suite: $((SECONDS - e2e_started))s; all suites: $((SECONDS - started))s)"

echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
