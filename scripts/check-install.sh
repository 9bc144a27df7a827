#!/usr/bin/env bash
# `make install` into a scratch prefix, then builds a program the way a C
# server author would: pkg-config flags only, linked against the SONAME.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PREFIX=$(mktemp -d /tmp/xmpp-sic-prefix.XXXXXX)
trap 'rm -rf "$PREFIX"' EXIT
make -C "$ROOT" --no-print-directory install PREFIX="$PREFIX" >/dev/null
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
readelf -d "$PREFIX/lib/libxmpp_sic.so" | grep -q "SONAME.*libxmpp_sic.so.1"
cat > "$PREFIX/consumer.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <xmpp_sic.h>
int main(void) {
  const char *iq = "<iq id='p' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>";
  unsigned char out[512];
  size_t len = 0;
  sic_status s = sic_handle_iq((const uint8_t *)iq, strlen(iq), "a@b.example/c", 13, NULL, 0, NULL, 0, 0, out, sizeof out, &len);
  return s == SIC_STATUS_OK && sic_abi_version() == SIC_ABI_VERSION ? 0 : 1;
}
C
# shellcheck disable=SC2046
cc -std=c99 -Wall -Werror -o "$PREFIX/consumer" "$PREFIX/consumer.c" $(pkg-config --cflags --libs xmpp-sic)
LD_LIBRARY_PATH="$PREFIX/lib" "$PREFIX/consumer"
readelf -d "$PREFIX/consumer" | grep -q "NEEDED.*libxmpp_sic.so.1"
echo "installed into a scratch prefix; a pkg-config consumer links against libxmpp_sic.so.1 and runs"
