#!/usr/bin/env bash
# ejabberd rows for bench/run.sh: per-IQ cost inside one ejabberd 23.01 node
# (timer:tc), mod_sic against mod_xmpp_sic on the same IQ. Prints markdown.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$ROOT"
WORK=$(mktemp -d /tmp/xmpp-sic-ejbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
bindings/ejabberd/mod_xmpp_sic/build.sh "$WORK/mod_xmpp_sic" --with-bench >"$WORK/build.log" 2>&1
python3 bindings/ejabberd/mod_xmpp_sic/test/e2e.py "$WORK/mod_xmpp_sic" --bench >"$WORK/e2e.log" 2>&1
echo "### ejabberd 23.01: one node, per IQ (handler and reply encoding; median / min µs)"
echo
echo "| path | median / min |"
echo "|---|---|"
sed -nE 's/^ +(mod_sic.*[^ ]|mod_xmpp_sic.*[^ ]|variant:.*[^ ]|hook:.*[^ ]) {2,}([0-9.]+ \/ +[0-9.]+ us)$/| \1 | \2 |/p' "$WORK/e2e.log"
grep -E "^ +load: " "$WORK/e2e.log" | sed -E 's/^ +load: (.*)/\nOn the wire with mod_xmpp_sic: \1./'
