#!/usr/bin/env bash
# Fetches the newer server releases the tests run besides Debian 12's own:
# Prosody 13.0.x (with prosody-modules) and ejabberd 24.12 (with the
# erlang-p1-*, erlang-jose... libraries at the versions it was built with),
# all from bookworm-backports, unpacked into a cache directory the tests own:
#
#   testkit/fetch-backports.sh            # prints the cache directory
#   testkit/fetch-backports.sh --mirror   # prints the mirror and keyring it would use
#
# XMPP_SIC_BACKPORTS_CACHE overrides the directory
# (default /var/cache/xmpp-sic-tests/backports). Layout once complete:
#   DIR/root/      every package unpacked with dpkg -x (usr/lib/prosody,
#                  usr/lib/erlang/lib/*, usr/lib/x86_64-linux-gnu/ejabberd-24.12...)
#   DIR/root/usr/bin/prosody, prosodyctl   their CFG_SOURCEDIR/CFG_PLUGINDIR
#                  pointed into DIR/root instead of /usr/lib/prosody
#   DIR/prosody-modules/  a symlink per module of the prosody-modules
#                  package (mod_net_proxy, mod_ipcheck...) and nothing else:
#                  a plugin path that adds them to any Prosody (0.12 too)
#                  without Prosody 13's core modules shadowing its own
#   DIR/MANIFEST   one line per package: name version sha256-of-the-.deb
#   DIR/COMPLETE   written last: the directory is whole
#
# Why a private apt configuration rather than a debootstrap chroot: the
# backports releases run on the system's own Lua 5.4 and Erlang/OTP 25 and
# need only some thirty packages from one suite; a chroot would be a second
# Debian (hundreds of MB, minutes to build, root and mounts to run the
# servers in it) for the same result. apt here reads only its own sources
# file, lists, cache and an empty dpkg status (-o Dir::...), so the
# machine's apt sources, its lists and its installed packages are never
# touched, and its Prosody 0.12 and ejabberd 23.01 keep working. apt
# still checks the suite's signature (the system's Debian keyring) and each
# .deb's hash.
#
# Safe to run twice at once (a lock; the second waits and reuses) and after
# an interrupted run: everything is built in DIR.tmp.* and renamed to DIR
# only when complete; leftovers of an interrupted run are removed.
set -euo pipefail

CACHE=${XMPP_SIC_BACKPORTS_CACHE:-/var/cache/xmpp-sic-tests/backports}
# Where the machine's apt configuration is read (the kit's tests point it
# at sample files).
APT_ETC=${XMPP_SIC_APT_ETC:-/etc/apt}
MODE=${1:-fetch}
# What the tests start; the rest is what these depend on within the suite.
ROOTS=(prosody prosody-modules ejabberd)

log() { printf 'fetch-backports: %s\n' "$*" >&2; }

# A complete cache: the stamp, and the files the launchers use.
valid() {
    local d=$1
    [ -f "$d/COMPLETE" ] && [ -s "$d/MANIFEST" ] &&
        [ -x "$d/root/usr/bin/prosody" ] && [ -f "$d/root/usr/lib/prosody/prosody.version" ] &&
        [ -d "$d/root/usr/lib/prosody/modules" ] && [ -f "$d/prosody-modules/mod_net_proxy/mod_net_proxy.lua" ] &&
        compgen -G "$d/root/usr/lib/*/ejabberd-*/ebin/ejabberd.beam" >/dev/null &&
        compgen -G "$d/root/usr/lib/erlang/lib/p1_xmpp-*/ebin/xmpp.beam" >/dev/null &&
        grep -q "CFG_SOURCEDIR='$d/root/usr/lib/prosody'" "$d/root/usr/bin/prosody"
}

if [ "$MODE" = fetch ] && valid "$CACHE"; then
    echo "$CACHE"
    exit 0
fi

CODENAME=${XMPP_SIC_CODENAME:-$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")}
SUITE=$CODENAME-backports

# The mirror the machine's apt already uses for its release (one-line
# sources.list entries or deb822 .sources files), and the keyring it trusts.
find_mirror() {
    local f
    for f in "$APT_ETC/sources.list" "$APT_ETC"/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$CODENAME" '
            /^[ \t]*deb[ \t]/ {
                key = ""; i = 2
                if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) { if ($i ~ /signed-by=/) key = $i; i++ }
                                  if ($i ~ /signed-by=/) key = $i; i++ }
                uri = $i; s = $(i + 1)
                sub(/.*signed-by=/, "", key); sub(/\]$/, "", key)
                if (s == suite && uri ~ /^https?:/) { print uri, key; exit }
            }' "$f"
    done
    for f in "$APT_ETC"/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # deb822: stanzas separated by blank lines; a stanza whose Suites
        # name the release and whose Types include deb.
        awk -v suite="$CODENAME" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uri ~ /^https?:/) { print uri, key; found = 1; exit }
                types = suites = uri = key = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^#/ { next }
            tolower($1) == "types:" { $1 = ""; types = substr($0, 2) }
            tolower($1) == "suites:" { $1 = ""; suites = substr($0, 2) }
            tolower($1) == "uris:" { uri = $2 }
            tolower($1) == "signed-by:" { key = $2 }
            END { if (!found) flush() }' "$f"
    done
}

read -r MIRROR KEYRING < <(find_mirror | head -n 1) || true
if [ -z "${MIRROR:-}" ]; then
    log "no apt source for $CODENAME found in $APT_ETC/sources.list{,.d}: cannot tell which mirror to use"
    exit 1
fi
# No Signed-By: apt's own trusted keys, which Debian's keyring package fills.
[ -n "${KEYRING:-}" ] || KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
if [ "$MODE" = --mirror ]; then
    echo "$MIRROR $KEYRING"
    exit 0
fi
log "mirror $MIRROR, suite $SUITE, keyring $KEYRING"

mkdir -p "$(dirname "$CACHE")"
exec 9>"$CACHE.lock"
flock -w 900 9 || { log "timed out waiting for $CACHE.lock"; exit 1; }
# Another run may have finished while this one waited.
if valid "$CACHE"; then
    echo "$CACHE"
    exit 0
fi
# Holding the lock, nothing else writes here: whatever is left is from an
# interrupted run.
rm -rf "$CACHE".tmp.* "$CACHE".old.*

TMP=$(mktemp -d "$CACHE.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/apt/lists/partial" "$TMP/apt/cache/archives/partial" "$TMP/debs" "$TMP/root"
echo "deb [signed-by=$KEYRING] $MIRROR $SUITE main" >"$TMP/apt/sources.list"
: >"$TMP/apt/status"
APT_OPTS=(-o "Dir::Etc::SourceList=$TMP/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o "Dir::State::Lists=$TMP/apt/lists" -o "Dir::Cache=$TMP/apt/cache"
          -o "Dir::State::status=$TMP/apt/status"
          -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
          -o APT::Get::List-Cleanup=false -o Debug::NoLocking=true)
# apt drops to the _apt user to download, who cannot write into a
# directory made by mktemp (mode 700): as root, download as root into it.
[ "$(id -u)" -eq 0 ] && APT_OPTS+=(-o APT::Sandbox::User=root)

apt-get "${APT_OPTS[@]}" -qq update
# With an empty status file, the private apt knows only the suite's
# packages: these are the names backports has.
apt-cache "${APT_OPTS[@]}" pkgnames | sort -u >"$TMP/suite-names"

# The roots and, transitively, their dependencies that the suite has: a
# dependency backports does not carry comes from the system (Lua, OTP...);
# one it carries is the version the backported server was built with.
# Recursing only through backports packages keeps unrelated system
# libraries (libsystemd0 via procps...) out.
declare -A SEEN=()
QUEUE=("${ROOTS[@]}")
while [ ${#QUEUE[@]} -gt 0 ]; do
    pkg=${QUEUE[0]}
    QUEUE=("${QUEUE[@]:1}")
    [ -n "${SEEN[$pkg]:-}" ] && continue
    SEEN[$pkg]=1
    while read -r dep; do
        if [ -z "${SEEN[$dep]:-}" ] && grep -qxF "$dep" "$TMP/suite-names"; then
            QUEUE+=("$dep")
        fi
    done < <(apt-cache "${APT_OPTS[@]}" depends --no-recommends --no-suggests --no-conflicts --no-breaks \
                 --no-replaces --no-enhances "$pkg" | sed -nE 's/^ +(Pre)?Depends: <?([^ >]+)>?.*/\2/p')
done
PACKAGES=("${!SEEN[@]}")
for pkg in "${ROOTS[@]}"; do
    grep -qxF "$pkg" "$TMP/suite-names" || { log "$SUITE has no package $pkg"; exit 1; }
done
log "downloading ${#PACKAGES[@]} packages: ${PACKAGES[*]}"
(cd "$TMP/debs" && apt-get "${APT_OPTS[@]}" -qq download "${PACKAGES[@]}")

for deb in "$TMP"/debs/*.deb; do
    dpkg-deb -x "$deb" "$TMP/root"
    printf '%s %s %s\n' "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)" \
        "$(sha256sum "$deb" | cut -d' ' -f1)" >>"$TMP/MANIFEST"
done
sort -o "$TMP/MANIFEST" "$TMP/MANIFEST"

mkdir "$TMP/prosody-modules"
dpkg-deb -c "$TMP"/debs/prosody-modules_*.deb |
    sed -nE 's|.* \./usr/lib/prosody/modules/(mod_[^/]+)/$|\1|p' | while read -r mod; do
        ln -s "../root/usr/lib/prosody/modules/$mod" "$TMP/prosody-modules/$mod"
    done

# Prosody's launchers carry their install paths; point them at the cache
# (their final location, after the rename below).
for tool in prosody prosodyctl prosody-migrator; do
    sed -i -E -e "s|^CFG_SOURCEDIR=.*|CFG_SOURCEDIR='$CACHE/root/usr/lib/prosody';|" \
              -e "s|^CFG_PLUGINDIR=.*|CFG_PLUGINDIR='$CACHE/root/usr/lib/prosody/modules/';|" \
              "$TMP/root/usr/bin/$tool"
done
rm -rf "$TMP/debs" "$TMP/apt/cache"
date -u +%FT%TZ >"$TMP/COMPLETE"

if [ -e "$CACHE" ]; then
    # An older or broken copy: moved aside first so the rename is whole.
    old=$(mktemp -d "$CACHE.old.XXXXXX")
    mv "$CACHE" "$old/"
    rm -rf "$old"
fi
mv "$TMP" "$CACHE"
trap - EXIT
chmod 755 "$CACHE"
valid "$CACHE" || { log "the unpacked cache is not usable: $CACHE"; exit 1; }
log "$(wc -l <"$CACHE/MANIFEST") packages in $CACHE ($(du -sh "$CACHE" | cut -f1))"
echo "$CACHE"
