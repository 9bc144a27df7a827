#!/usr/bin/env bash
# Prosody rows for bench/run.sh: inside one Prosody 0.12, mod_xmpp_sic against
# mod_ping and a native Lua handler (wire_cost.py); mod_xmpp_sic against
# mod_ipcheck on the same pipelined loopback IQs (iq_cost.py); the handlers in
# one lua5.4 process (handler_cost.lua). Prints markdown.
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
if [ "${BENCH_QUICK:-0}" = 1 ]; then iqs=2000 rounds=1; else iqs=20000 rounds=7; fi
echo "### Prosody 0.12: a Server IP Check against a ping and a native handler, in one server"
echo
echo "| request, handler | Prosody CPU time per IQ, median of $rounds interleaved rounds × $iqs pipelined |"
echo "|---|---|"
wire_out=$(python3 bindings/prosody/bench/wire_cost.py --iqs "$iqs" --rounds "$rounds")
sed -nE 's/^ +\(([abc])\) (.*[^ ]) +median +([0-9.]+ us\/IQ).*/| (\1) \2 | \3 |/p' <<<"$wire_out"
echo
grep -E "^ratio " <<<"$wire_out"
if [ "${BENCH_QUICK:-0}" != 1 ]; then
  echo
  echo "Instructions per IQ, whole Prosody (callgrind; the same on every run):"
  echo
  python3 bindings/prosody/bench/wire_cost.py --callgrind |
    sed -nE -e 's/^ +\(([abc])\) (.*[^ ]) +([0-9]+) instructions\/IQ/- (\1) \2: \3/p' -e 's/^(ratio .*)/- \1/p'
fi
echo
echo "### Prosody 0.12: mod_xmpp_sic against mod_ipcheck"
echo
echo "| request | measure | mod_xmpp_sic | mod_ipcheck | ratio |"
echo "|---|---|---|---|---|"
python3 bindings/prosody/bench/iq_cost.py --iqs "$iqs" --rounds "$rounds" |
  sed -nE -e "s/^ +(sic:[01] <[a-z]+\/>) +mod_xmpp_sic +([0-9.]+ us\/IQ) +mod_ipcheck +([0-9.]+ us\/IQ) +ratio ([0-9.]+)/| \`\1\` | Prosody CPU time per IQ, median of $rounds × $iqs pipelined | \2 | \3 | \4 |/p" \
          -e "s/^ +(sic:[01] <[a-z]+\/>) +mod_xmpp_sic +([0-9.]+ IQ\/s) +mod_ipcheck +([0-9.]+ IQ\/s) +ratio ([0-9.]+)/| \`\1\` | IQs per second on the wire, one raw client, same rounds | \2 | \3 | \4 |/p"
if [ "${BENCH_QUICK:-0}" != 1 ]; then
  python3 bindings/prosody/bench/iq_cost.py --callgrind |
    sed -nE 's/^ +(sic:[01] <[a-z]+\/>) +mod_xmpp_sic +([0-9.]+[a-z]* [a-z\/A-Z]+) +mod_ipcheck +([0-9.]+[a-z]* [a-z\/A-Z]+) +ratio ([0-9.]+)/| `\1` | instructions per IQ, whole Prosody (callgrind) | \2 | \3 | \4 |/p'
fi

# Inside one lua5.4 process with Prosody's own libraries: the handlers, and
# the whole path from the request's bytes against the library alone.
if [ "${BENCH_QUICK:-0}" = 1 ]; then calls=2000 lrounds=1; else calls=20000 lrounds=5; fi
lua_out=$(LUA_CPATH="bindings/lua/?.so;;" lua5.4 bindings/prosody/bench/handler_cost.lua \
  bindings/prosody/mod_xmpp_sic/mod_xmpp_sic.lua /usr/lib/prosody/modules/mod_ipcheck/mod_ipcheck.lua \
  "$calls" "$lrounds")
for part in "mod_" "bytes: "; do
  echo
  case $part in
    mod_) echo "### One lua5.4 process with Prosody 0.12's libraries: the handlers, given the parsed stanza" ;;
    *) echo "### The same process, from the request's bytes (sic:1): Prosody's own path against the library" ;;
  esac
  echo
  echo "| path | median / min µs per IQ ($lrounds rounds × $calls) |"
  echo "|---|---|"
  sed -nE "s/^(${part}.*[^ ]) +([0-9.]+ \/ +[0-9.]+) us\/IQ$/| \1 | \2 |/p" <<<"$lua_out"
  echo
  grep -E "^ratio " <<<"$lua_out" | { [ "$part" = "mod_" ] && head -1 || tail -1; }
done
