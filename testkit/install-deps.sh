#!/usr/bin/env bash
# Installs what the test kit and the host tests need, when missing:
#   testkit/install-deps.sh [EXTRA_APT_PACKAGE...]
# apt packages (Prosody 0.12, ejabberd 23.01, Erlang and Lua build tools,
# openssl) with a policy-rc.d that refuses service starts while apt runs,
# so installing a server never starts the machine's own copy; slixmpp with
# pip when XMPP_SIC_WANT_SLIXMPP=1. apt-get update only when something is
# missing. Exit status non-zero when anything is still missing.
set -u -o pipefail

PACKAGES=(python3 openssl prosody ejabberd erlang-dev erlang-nox rebar3 lua5.4 liblua5.4-dev
          libluajit-5.1-dev gcc make libc6-dev "$@")

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else echo "need root (or sudo) to run: $*" >&2; return 1
    fi
}

missing() {
    local pkg
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || printf '%s ' "$pkg"
    done
}

status=0
todo=$(missing)
if [ -n "$todo" ]; then
    echo "installing: $todo"
    policy=/usr/sbin/policy-rc.d
    ours=0
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy" && ours=1
    fi
    # shellcheck disable=SC2086 # one package per word
    as_root apt-get update -qq &&
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $todo \
            >/dev/null || status=1
    [ "$ours" = 1 ] && as_root rm -f "$policy"
    todo=$(missing)
    if [ -n "$todo" ]; then
        echo "still missing after installing: $todo" >&2
        status=1
    fi
fi
if [ "${XMPP_SIC_WANT_SLIXMPP:-0}" = 1 ] && ! python3 -c 'import slixmpp' 2>/dev/null; then
    # A Debian system Python refuses plain pip installs (PEP 668).
    python3 -m pip install -q slixmpp 2>/dev/null ||
        python3 -m pip install -q --break-system-packages slixmpp || status=1
fi
exit $status
