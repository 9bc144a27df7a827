#!/usr/bin/env bash
# Prosody rows for bench/run.sh: mod_xmpp_sic against mod_ipcheck in the same
# Prosody 0.12, on the same pipelined loopback IQs. Prints markdown.
#   BENCH_QUICK=1  fewer IQs, CPU time only (no callgrind run)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$ROOT"
# mod_ipcheck, the module we compare against, ships in prosody-modules.
if [ ! -d /usr/lib/prosody/modules/mod_ipcheck ]; then
  apt-get install -y -qq --no-install-recommends prosody-modules >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends prosody-modules >/dev/null; }
fi
make --no-print-directory -C bindings/lua >/dev/null
if [ "${BENCH_QUICK:-0}" = 1 ]; then iqs=2000 rounds=1; else iqs=20000 rounds=5; fi
echo "### Prosody 0.12: mod_xmpp_sic against mod_ipcheck"
echo
echo "| request | measure | mod_xmpp_sic | mod_ipcheck | ratio |"
echo "|---|---|---|---|---|"
python3 bindings/prosody/bench/iq_cost.py --iqs "$iqs" --rounds "$rounds" |
  sed -nE "s/^ +(sic:[01] <[a-z]+\/>) +mod_xmpp_sic +([0-9.]+ us\/IQ) +mod_ipcheck +([0-9.]+ us\/IQ) +ratio ([0-9.]+)/| \`\1\` | Prosody CPU time per IQ, best of $rounds × $iqs pipelined | \2 | \3 | \4 |/p"
if [ "${BENCH_QUICK:-0}" != 1 ]; then
  python3 bindings/prosody/bench/iq_cost.py --callgrind |
    sed -nE 's/^ +(sic:[01] <[a-z]+\/>) +mod_xmpp_sic +([0-9.]+[a-z]* [a-z\/A-Z]+) +mod_ipcheck +([0-9.]+[a-z]* [a-z\/A-Z]+) +ratio ([0-9.]+)/| `\1` | instructions per IQ, whole Prosody (callgrind) | \2 | \3 | \4 |/p'
fi
