#!/usr/bin/env bash
# Runs every test of xmpp-sic, installing what it needs first. This is the
# one command README.md gives and .ci/run calls. Each suite's own closing line
# is read for its counts; the last line of output sums them:
#   N passed, N failed
# A suite that cannot run (a tool will not install, a build fails) counts as
# failed, never as skipped.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LOGS=$(mktemp -d /tmp/xmpp-sic-tests.XXXXXX)
TOTAL_PASSED=0
TOTAL_FAILED=0
FAILED_SUITES=()
export CARGO_TERM_COLOR=never

log() { printf '\n==> %s\n' "$*"; }

# Installs Debian packages that are missing; apt-get update only when needed.
need_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A suite's counts from its output: the sum of cargo's "test result:" lines,
# or of the plain "N passed, N failed" lines (SUM_LINES=1, for runs of several
# programs), or the last such line alone (a script that prints its own total).
count() {
  local out=$1 lines
  if grep -q '^test result:' "$out"; then
    lines=$(grep '^test result:' "$out" | sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/')
  else
    lines=$(grep -E '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | sed -E 's/^([A-Za-z-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2 \3/')
    [ "${SUM_LINES:-0}" = 1 ] || lines=$(tail -n 1 <<<"$lines")
  fi
  awk '{p += $1; f += $2} END {print p + 0, f + 0}' <<<"$lines"
}

# suite NAME COMMAND...: runs it, shows its output, records its counts. A
# suite that exits non-zero counts at least one failure.
suite() {
  local name=$1; shift
  local out="$LOGS/$name.log" start=$SECONDS rc
  log "$name"
  "$@" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  read -r p f < <(count "$out")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  TOTAL_PASSED=$((TOTAL_PASSED + p))
  TOTAL_FAILED=$((TOTAL_FAILED + f))
  [ "$f" -ne 0 ] && FAILED_SUITES+=("$name")
  printf -- '--- %s: %s passed, %s failed, exit %s, %ss\n' "$name" "$p" "$f" "$rc" $((SECONDS - start))
}

# Checks that print no counts of their own: one check, pass or fail.
check() {
  "$@" && echo "1 passed, 0 failed" || { echo "0 passed, 1 failed"; return 1; }
}

need_apt build-essential g++ pkg-config valgrind binutils
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install a Rust toolchain (rustup) first" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

suite format check cargo fmt --check
suite clippy check cargo clippy --all-targets -- -D warnings
suite docs check env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
# build.rs regenerates the header: it must equal the committed one.
suite header-drift check bash -c 'cargo build --release --quiet && git diff --exit-code -- include/xmpp_sic.h'
suite rust-tests cargo test --release
suite panic-boundary cargo test --release --features panic-probe --test panic_boundary
SUM_LINES=1 suite c-tests make --no-print-directory c-tests
suite install check scripts/check-install.sh
suite demo check bash -c 'make --no-print-directory demo | tee /dev/stderr | grep -q "<ip>192.168.4.1</ip><port>12345</port>"'
suite fuzz-smoke scripts/fuzz-smoke.sh
# Benchmarks are not tests: run each once to prove they work, assert nothing on time.
suite bench-smoke check cargo bench --bench handle_iq --quiet -- --test
for binding in bindings/*/run-tests.sh; do
  [ -e "$binding" ] || continue
  suite "$(basename "$(dirname "$binding")")" bash "$binding"
done
# The shared host test kit's own tests, and the agreement corpus: the same
# requests over real streams to Prosody and ejabberd, each reply compared
# with what sic_handle_iq answers.
suite testkit bash testkit/run-tests.sh
# The address in every deployment shape (docs/deployments.md): TLS, PROXY
# protocol, WebSocket and BOSH through trusted and untrusted proxies,
# XEP-0198, an ejabberd cluster, hostile requests; Prosody and ejabberd side by side.
suite deployments bash testkit/run-deployments.sh
# Installed as operators install it (docs/install.md): the Debian packages
# built, apt-installed, exercised (pkg-config, lua5.4, Prosody, ejabberd),
# LuaRocks, ejabberd-contrib's module_install, then purged.
suite packages bash scripts/test-packages.sh
# Prosody 13 and ejabberd 24.12 from bookworm-backports (fetched through a
# private apt configuration into /var/cache/xmpp-sic-tests/backports): the
# protocol e2e, the agreement corpus and the deployments suite on each
# (docs/releases.md).
suite releases bash testkit/run-matrix.sh

echo
if [ ${#FAILED_SUITES[@]} -ne 0 ]; then
  echo "failed suites: ${FAILED_SUITES[*]} (logs in $LOGS)"
fi
echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
[ "$TOTAL_FAILED" -eq 0 ]
