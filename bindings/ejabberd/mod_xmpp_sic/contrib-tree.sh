#!/bin/sh
# Writes mod_xmpp_sic as an ejabberd-contrib source tree into DIR:
#   DIR/mod_xmpp_sic.spec   what `ejabberdctl modules_available` lists
#   DIR/src/                mod_xmpp_sic.erl, xmpp_sic.erl, xmpp_sic.app
#   DIR/c_src/              the NIF's C source and its Makefile (pkg-config xmpp-sic)
#   DIR/conf/               the module's default configuration
#   DIR/README.txt, DIR/COPYING
# With DIR = ~ejabberd/.ejabberd-modules/sources/mod_xmpp_sic (or
# $CONTRIB_MODULES_PATH/sources/mod_xmpp_sic), `ejabberdctl module_install
# mod_xmpp_sic` builds, installs and starts it in the running ejabberd, with
# no network. The NIF links the system's libxmpp_sic (libxmpp-sic-dev, or
# `make install` from a checkout).
#
#   contrib-tree.sh DIR
set -eu

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../.." && pwd)
NIF_APP=$REPO/bindings/erlang

mkdir -p "$OUT/src" "$OUT/c_src" "$OUT/conf"
cp "$HERE/mod_xmpp_sic.spec" "$OUT/"
cp "$HERE/src/mod_xmpp_sic.erl" "$NIF_APP/src/xmpp_sic.erl" "$OUT/src/"
# module_install copies src/*.app (not .app.src) into ebin/.
cp "$NIF_APP/src/xmpp_sic.app.src" "$OUT/src/xmpp_sic.app"
cp "$NIF_APP/c_src/xmpp_sic_nif.c" "$HERE/contrib/c_src/Makefile" "$OUT/c_src/"
cp "$HERE/conf/mod_xmpp_sic.yml" "$OUT/conf/"
cp "$HERE/README.md" "$OUT/README.txt"
cat "$REPO/LICENSE-MIT" "$REPO/LICENSE-APACHE" > "$OUT/COPYING"
