#!/usr/bin/env bash
# The project installed the ways operators install server modules (issue 15):
#   1. `make deb`, lintian with no errors; the packages installed with apt,
#      with service starts refused while apt runs;
#   2. a C program built with nothing but `pkg-config --cflags --libs xmpp-sic`;
#      `require "xmpp_sic"` in lua5.4 with no LUA_CPATH;
#   3. Prosody and ejabberd with the module enabled by name, nothing pointing
#      into the build tree: sic:1 and sic:0 answered with the client's address;
#   4. LuaRocks: `luarocks make` of the rockspec into a private tree;
#   5. ejabberd-contrib: `module_install` into a running ejabberd from a local
#      sources directory (the NIF linked against the installed libxmpp-sic-dev);
#   6. purge: nothing the packages installed is left.
# Last line "N passed, N failed"; the exit status is non-zero on any failure.
# Needs root (apt); the machine's own Prosody and ejabberd are never started.
set -u -o pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
WORK=$(mktemp -d /tmp/xmpp-sic-packages.XXXXXX)
POLICY=/usr/sbin/policy-rc.d
OUR_POLICY=0
cleanup() {
    [ "$OUR_POLICY" = 1 ] && rm -f "$POLICY"
    [ -n "${XMPP_SIC_KEEP_TMP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

PACKAGES=(libxmpp-sic1 libxmpp-sic-dev lua-xmpp-sic prosody-mod-xmpp-sic ejabberd-mod-xmpp-sic)
MODULE_PACKAGES=(prosody-mod-xmpp-sic ejabberd-mod-xmpp-sic lua-xmpp-sic)
LIBRARY_PACKAGES=(libxmpp-sic-dev libxmpp-sic1)
LUA_MODULE=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/lua/5.4/xmpp_sic.so
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
passed=0
failed=0
STARTED=$SECONDS

# check NAME COMMAND...: one counted assertion; its output goes to a log
# that is shown only when it fails.
check() {
    local name=$1 log
    shift
    log="$WORK/check-$((passed + failed)).log"
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        echo "ok   $name"
        # The protocol checks list what they asserted.
        grep -E '^(ok|FAIL) ' "$log" | sed 's/^/     /'
    else
        failed=$((failed + 1))
        echo "FAIL $name"
        tail -n 40 "$log" | sed 's/^/     /'
    fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

with_policy() {
    # Installing a server package (or a module of one) must not start the
    # machine's own server: invoke-rc.d asks policy-rc.d first.
    if [ ! -e "$POLICY" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$POLICY" && chmod 755 "$POLICY" && OUR_POLICY=1
    fi
    DEBIAN_FRONTEND=noninteractive "$@"
    local status=$?
    [ "$OUR_POLICY" = 1 ] && rm -f "$POLICY" && OUR_POLICY=0
    return $status
}

purge() { with_policy apt-get purge -y -q "$@"; }

# nothing_left PACKAGE...: every path the packages listed (dpkg -L, saved
# while installed) that did not exist before the install is gone.
nothing_left() {
    local pkg list path left=0
    for pkg in "$@"; do
        list=$WORK/$pkg.list
        [ -s "$list" ] || { echo "no file list for $pkg"; left=1; continue; }
        while IFS= read -r path; do
            case $path in ''|/.) continue ;; esac
            grep -qxF -- "$path" "$WORK/existed-before" && continue
            if [ -e "$path" ] || [ -L "$path" ]; then echo "left: $path"; left=1; fi
        done < "$list"
    done
    return $left
}

c_consumer() {
    cat > "$WORK/consumer.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <xmpp_sic.h>
int main(void) {
  const char *iq = "<iq id='p' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>";
  unsigned char out[512];
  size_t len = 0;
  sic_status s = sic_handle_iq((const uint8_t *)iq, strlen(iq), "a@b.example/c", 13, NULL, 0, NULL, 0, 0,
                               out, sizeof out, &len);
  if (s != SIC_STATUS_OK || sic_abi_version() != SIC_ABI_VERSION) return 1;
  printf("%s %.*s\n", sic_version(), (int)len, (const char *)out);
  return 0;
}
C
    # shellcheck disable=SC2046 # the flags are words
    cc -std=c99 -Wall -Wextra -Werror -o "$WORK/consumer" "$WORK/consumer.c" $(pkg-config --cflags --libs xmpp-sic) &&
        env -u LD_LIBRARY_PATH "$WORK/consumer" | tee /dev/stderr | grep -q "^$VERSION <iq" &&
        readelf -d "$WORK/consumer" | grep -q 'NEEDED.*libxmpp_sic\.so\.1\]' &&
        readelf -d "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libxmpp_sic.so.1" | grep -q 'SONAME.*libxmpp_sic\.so\.1\]'
}

lua_default_path() {
    env -u LUA_CPATH -u LUA_CPATH_5_4 -u LUA_PATH -u LUA_PATH_5_4 lua5.4 -e '
        local sic = require "xmpp_sic"
        local where = package.searchpath("xmpp_sic", package.cpath)
        print(where, sic.VERSION)
        assert(where == "'"$LUA_MODULE"'", where)
        assert(sic.VERSION == "'"$VERSION"'", sic.VERSION)'
}

luarocks_tree() {
    local tree=$WORK/rocks
    (cd bindings/lua && luarocks --lua-version 5.4 --tree "$tree" make "xmpp-sic-$VERSION-1.rockspec") &&
        luarocks --lua-version 5.4 --tree "$tree" list --porcelain | grep -q "^xmpp-sic"$'\t'"$VERSION-1" &&
        (eval "$(luarocks --lua-version 5.4 --tree "$tree" path)" &&
         TREE=$tree lua5.4 -e '
            local sic = require "xmpp_sic"
            local tree = os.getenv("TREE")
            local where = package.searchpath("xmpp_sic", package.cpath)
            print(where, sic.VERSION)
            assert(where:sub(1, #tree) == tree, where)')
}

no_new_server() {
    # The same ejabberd / prosody processes as before apt ran.
    local now
    now=$(pgrep -u ejabberd,prosody 2>/dev/null | sort | tr '\n' ' ')
    [ "$now" = "$SERVERS_BEFORE" ] || { echo "before: $SERVERS_BEFORE, after: $now"; return 1; }
}

echo "== prerequisites"
check "build and test tools installed (debhelper, lintian, luarocks, pkg-config)" \
    bash testkit/install-deps.sh debhelper lintian luarocks pkgconf dpkg-dev
for pkg in "${PACKAGES[@]}"; do
    installed "$pkg" && { echo "removing $pkg left by an earlier run"; purge "${PACKAGES[@]}" >/dev/null; break; }
done

echo "== make deb"
t0=$SECONDS
check "make deb builds the packages into target/debian, lintian reports no errors" make --no-print-directory deb
echo "   (make deb: $((SECONDS - t0)) s)"
DEBS=()
for pkg in "${PACKAGES[@]}"; do
    deb=$(ls target/debian/"${pkg}"_"${VERSION}"_*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] && DEBS+=("./$deb")
done
check "all ${#PACKAGES[@]} packages built at version $VERSION" test "${#DEBS[@]}" -eq "${#PACKAGES[@]}"
[ "${#DEBS[@]}" -eq "${#PACKAGES[@]}" ] || { echo "$passed passed, $((failed + 1)) failed"; exit 1; }

echo "== install with apt"
: > "$WORK/existed-before"
for deb in "${DEBS[@]}"; do
    dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' | grep -v '^$' |
        while IFS= read -r path; do [ -e "$path" ] && echo "$path"; done >> "$WORK/existed-before"
done
echo / >> "$WORK/existed-before"
SERVERS_BEFORE=$(pgrep -u ejabberd,prosody 2>/dev/null | sort | tr '\n' ' ')
check "apt-get install ./target/debian/*.deb" with_policy apt-get install -y -q "${DEBS[@]}"
check "installing started no Prosody or ejabberd service" no_new_server
for pkg in "${PACKAGES[@]}"; do
    dpkg -L "$pkg" > "$WORK/$pkg.list" 2>/dev/null
    check "$pkg is installed" installed "$pkg"
done

echo "== installed: C, Lua, LuaRocks"
check "a C program built with only pkg-config --cflags --libs xmpp-sic runs (NEEDED libxmpp_sic.so.1)" c_consumer
check "lua5.4 -e 'require \"xmpp_sic\"' with no LUA_CPATH loads $LUA_MODULE" lua_default_path
check "luarocks make xmpp-sic-$VERSION-1.rockspec into a private tree; require works from it" luarocks_tree

echo "== installed: Prosody and ejabberd, module enabled by name"
check "Prosody: prosody-mod-xmpp-sic answers sic:1 and sic:0" python3 scripts/packages_e2e.py prosody
check "ejabberd: ejabberd-mod-xmpp-sic answers sic:1 and sic:0" python3 scripts/packages_e2e.py ejabberd

echo "== purge the module packages"
check "apt-get purge ${MODULE_PACKAGES[*]}" purge "${MODULE_PACKAGES[@]}"
check "nothing of ${MODULE_PACKAGES[*]} is left" \
    nothing_left "${MODULE_PACKAGES[@]}"
check "lua5.4 no longer finds xmpp_sic" bash -c '! env -u LUA_CPATH -u LUA_CPATH_5_4 lua5.4 -e "require \"xmpp_sic\""'

echo "== ejabberd-contrib: module_install from a local sources directory"
check "contrib-tree.sh writes the sources tree" \
    bindings/ejabberd/mod_xmpp_sic/contrib-tree.sh "$WORK/contrib/sources/mod_xmpp_sic"
check "module_install mod_xmpp_sic into a running ejabberd answers sic:1 and sic:0" \
    python3 scripts/packages_e2e.py contrib "$WORK/contrib"

echo "== purge the library packages"
check "apt-get purge ${LIBRARY_PACKAGES[*]}" purge "${LIBRARY_PACKAGES[@]}"
check "nothing of ${LIBRARY_PACKAGES[*]} is left" nothing_left "${LIBRARY_PACKAGES[@]}"
check "pkg-config no longer knows xmpp-sic" bash -c '! pkg-config --exists xmpp-sic'
for pkg in "${PACKAGES[@]}"; do
    check "$pkg is not installed" bash -c "! dpkg-query -W -f='\${Status}' $pkg 2>/dev/null | grep -q installed"
done

echo "   (whole run: $((SECONDS - STARTED)) s)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
