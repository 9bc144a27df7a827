/*
 * sic-demo: feeds one IQ through xmpp-sic as a server would and prints the
 * status and the reply.
 *
 *   sic-demo --sender JID [--target JID] [--peer IP:PORT | --peer [IPv6]:PORT]
 *            [--omit-port] [--keep-v4-mapped] [--no-sic0] [FILE]
 *
 * The stanza is read from FILE, or from standard input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "xmpp_sic.h"

static int usage(void) {
  fputs("usage: sic-demo --sender JID [--target JID] [--peer IP:PORT|[IPv6]:PORT]\n"
        "                [--omit-port] [--keep-v4-mapped] [--no-sic0] [FILE]\n", stderr);
  return 2;
}

/* Parses "1.2.3.4:5222" or "[2001:db8::1]:5222" into a sockaddr: the port
 * is split off here, the address is the library's to read. */
static int parse_peer(const char *text, struct sockaddr_storage *ss, socklen_t *len) {
  const char *colon;
  const char *start = text;
  size_t host_len;
  long port;
  char *end;
  if (*text == '[') {
    const char *close = strchr(text, ']');
    if (!close || close[1] != ':') return -1;
    start = text + 1;
    host_len = (size_t)(close - start);
    colon = close + 1;
  } else {
    colon = strrchr(text, ':');
    if (!colon) return -1;
    host_len = (size_t)(colon - text);
  }
  port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535) return -1;
  return sic_sockaddr_from_text(start, host_len, (uint16_t)port, ss, len) == SIC_STATUS_OK ? 0 : -1;
}

static char *read_all(FILE *in, size_t *len) {
  size_t cap = 4096, n = 0, got;
  char *buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, in)) > 0) {
    n += got;
    if (n == cap) {
      char *bigger = cap > SIC_MAX_STANZA_LEN ? NULL : realloc(buf, cap * 2);
      if (!bigger) break; /* the library reports the oversize stanza */
      buf = bigger;
      cap *= 2;
    }
  }
  *len = n;
  return buf;
}

int main(int argc, char **argv) {
  const char *sender = NULL, *target = NULL, *file = NULL;
  struct sockaddr_storage peer;
  socklen_t peer_len = 0;
  uint32_t flags = 0;
  size_t iq_len, cap, out_len = 0;
  char *iq;
  uint8_t *out;
  sic_status status;
  FILE *in = stdin;
  int i;

  if (sic_abi_version() != SIC_ABI_VERSION) {
    fprintf(stderr, "library ABI %u, built for %u\n", (unsigned)sic_abi_version(), (unsigned)SIC_ABI_VERSION);
    return 1;
  }
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sender") && i + 1 < argc) sender = argv[++i];
    else if (!strcmp(argv[i], "--target") && i + 1 < argc) target = argv[++i];
    else if (!strcmp(argv[i], "--peer") && i + 1 < argc) {
      if (parse_peer(argv[++i], &peer, &peer_len) != 0) {
        fprintf(stderr, "bad --peer %s: want IP:PORT or [IPv6]:PORT\n", argv[i]);
        return 2;
      }
    } else if (!strcmp(argv[i], "--omit-port")) flags |= SIC_FLAG_OMIT_PORT;
    else if (!strcmp(argv[i], "--keep-v4-mapped")) flags |= SIC_FLAG_KEEP_V4_MAPPED;
    else if (!strcmp(argv[i], "--no-sic0")) flags |= SIC_FLAG_NO_SIC0;
    else if (argv[i][0] != '-' && !file) file = argv[i];
    else return usage();
  }
  if (!sender) return usage();
  if (file && !(in = fopen(file, "rb"))) {
    perror(file);
    return 1;
  }
  iq = read_all(in, &iq_len);
  if (in != stdin) fclose(in);
  if (!iq) return 1;

  /* One allocation, sized once: the bound always suffices. */
  cap = sic_reply_bound(iq_len, strlen(sender), target ? strlen(target) : 0);
  out = malloc(cap);
  status = sic_handle_iq((const uint8_t *)iq, iq_len, sender, strlen(sender), target, target ? strlen(target) : 0,
                         peer_len ? (const struct sockaddr *)&peer : NULL, peer_len, flags, out, cap, &out_len);
  printf("status: %u (%s)\n", (unsigned)status, sic_status_str(status));
  if (status == SIC_STATUS_OK) printf("%.*s\n", (int)out_len, (const char *)out);
  free(out);
  free(iq);
  return status == SIC_STATUS_OK || status == SIC_STATUS_PASS ? 0 : 1;
}
