#!/bin/sh
# Builds mod_xmpp_sic for Debian's ejabberd 23.01 into OUT_DIR:
#   OUT_DIR/ebin/  mod_xmpp_sic.beam, xmpp_sic.beam, xmpp_sic.app
#   OUT_DIR/priv/  xmpp_sic_nif.so (the NIF with the Rust library linked in)
#   OUT_DIR/mod_xmpp_sic.spec
# which is the layout of an installed contrib module: with OUT_DIR =
# ~ejabberd/.ejabberd-modules/mod_xmpp_sic, ejabberd puts ebin/ on its code
# path at start, and the module is enabled in ejabberd.yml. (conf/ is left
# out on purpose: ejabberd would load it as well, and a module configured
# in both places stops ejabberd with "Duplicated option".) Any other
# directory works too, with -pa OUT_DIR/ebin in ERL_OPTIONS.
#
#   build.sh OUT_DIR [--with-bench]
#
# EJABBERD_LIB overrides where ejabberd's ebin/ and include/ are found.
set -eu

usage() { echo "usage: $0 OUT_DIR [--with-bench]" >&2; exit 2; }
[ $# -ge 1 ] || usage
OUT=$1
BENCH=no
[ "${2:-}" = "--with-bench" ] && BENCH=yes

HERE=$(cd "$(dirname "$0")" && pwd)
NIF_APP=$(cd "$HERE/../../erlang" && pwd)

if [ -z "${EJABBERD_LIB:-}" ]; then
    # Debian installs ejabberd outside Erlang's lib dir, versioned.
    for dir in /usr/lib/*/ejabberd-* /usr/lib/ejabberd-* /usr/lib/erlang/lib/ejabberd-*; do
        [ -f "$dir/ebin/ejabberd.beam" ] && EJABBERD_LIB=$dir
    done
fi
if [ -z "${EJABBERD_LIB:-}" ] || [ ! -f "$EJABBERD_LIB/ebin/ejabberd.beam" ]; then
    echo "ejabberd not found: install it (apt-get install ejabberd) or set EJABBERD_LIB" >&2
    exit 1
fi

# -include_lib("xmpp/...") cannot resolve on Debian, whose directory is
# p1_xmpp-VSN while the application is xmpp: ask the code server instead.
XMPP_INCLUDE=$(erl -noshell -eval '
    case code:which(xmpp) of
        non_existing -> halt(1);
        Beam -> io:format("~s", [filename:join(filename:dirname(filename:dirname(Beam)), "include")]), halt()
    end.')

(cd "$NIF_APP" && rebar3 compile) >&2

mkdir -p "$OUT/ebin" "$OUT/priv"
cp "$NIF_APP/_build/default/lib/xmpp_sic/ebin/xmpp_sic.beam" \
   "$NIF_APP/_build/default/lib/xmpp_sic/ebin/xmpp_sic.app" "$OUT/ebin/"
# A node that has the NIF loaded crashes if its file is rewritten in place:
# give the copy a new inode.
cp "$NIF_APP/priv/xmpp_sic_nif.so" "$OUT/priv/xmpp_sic_nif.so.tmp"
mv -f "$OUT/priv/xmpp_sic_nif.so.tmp" "$OUT/priv/xmpp_sic_nif.so"

cp "$HERE/mod_xmpp_sic.spec" "$OUT/"

SOURCES="$HERE/src/mod_xmpp_sic.erl"
[ "$BENCH" = yes ] && SOURCES="$SOURCES $HERE/test/mod_xmpp_sic_bench.erl $HERE/test/mod_xmpp_sic_bench_native.erl"
# shellcheck disable=SC2086 # SOURCES is a list of paths without spaces
erlc -o "$OUT/ebin" -I "$XMPP_INCLUDE" -I "$EJABBERD_LIB/include" \
     -pa "$EJABBERD_LIB/ebin" -pa "$OUT/ebin" \
     +debug_info +warnings_as_errors +warn_missing_spec $SOURCES
