/*
 * Many threads, many calls: every reply must equal the single-threaded
 * answer for the same request, and resident memory must not grow over
 * millions of calls. Counts come from the environment so the same program
 * runs full-size natively and smaller under ThreadSanitizer:
 *   SIC_THREADS (8), SIC_CALLS per thread (1000000), SIC_RSS_CALLS (10000000)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "xmpp_sic.h"

struct request {
  const char *iq;
  const char *target;
  int family;
  uint32_t flags;
};

static const struct request REQUESTS[] = {
    {"<iq xmlns='jabber:client' id='a1' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>", NULL, AF_INET, 0},
    {"<iq xmlns='jabber:client' id='a2' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>", NULL, AF_INET6, 0},
    {"<iq id='a3' type='get'><ip xmlns='urn:xmpp:sic:0'/></iq>", "alice@example.com", AF_INET, 0},
    {"<iq id='a4' type='get'><address xmlns='urn:xmpp:sic:0'/></iq>", "example.com", AF_INET6, SIC_FLAG_KEEP_V4_MAPPED},
    {"<iq id='a5' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>", "bob@example.com", AF_INET, 0},
    {"<iq id='a6' type='set'><address xmlns='urn:xmpp:sic:1'/></iq>", NULL, AF_INET, 0},
    {"<iq id='a7' type='get'><address xmlns='urn:xmpp:sic:1'><x/></address></iq>", NULL, AF_INET, 0},
    {"<iq id='a8' type='get'><query xmlns='jabber:iq:version'/></iq>", NULL, AF_INET, 0},
    {"<iq id='a9' type='get'><!-- no --></iq>", NULL, AF_INET, 0},
    {"<iq id='&quot;10&lt;' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>", "ALICE@Example.COM.", AF_INET6, SIC_FLAG_OMIT_PORT},
};
#define NREQ (sizeof REQUESTS / sizeof REQUESTS[0])
static const char SENDER[] = "alice@example.com/phone";

struct answer {
  sic_status status;
  size_t len;
  uint8_t bytes[1024];
};
static struct answer expected[NREQ];

static sic_status run(size_t i, uint8_t *out, size_t cap, size_t *len) {
  struct sockaddr_in sin;
  struct sockaddr_in6 sin6;
  const struct request *r = &REQUESTS[i];
  memset(&sin, 0, sizeof sin);
  memset(&sin6, 0, sizeof sin6);
  sin.sin_family = AF_INET;
  sin.sin_port = htons((unsigned short)(1000 + i));
  inet_pton(AF_INET, "198.51.100.77", &sin.sin_addr);
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons((unsigned short)(2000 + i));
  inet_pton(AF_INET6, i % 2 ? "2001:db8::77" : "::ffff:198.51.100.78", &sin6.sin6_addr);
  return sic_handle_iq((const uint8_t *)r->iq, strlen(r->iq), SENDER, strlen(SENDER), r->target,
                       r->target ? strlen(r->target) : 0,
                       r->family == AF_INET ? (const struct sockaddr *)&sin : (const struct sockaddr *)&sin6,
                       r->family == AF_INET ? sizeof sin : sizeof sin6, r->flags, out, cap, len);
}

static long env_long(const char *name, long fallback) {
  const char *v = getenv(name);
  return v && *v ? atol(v) : fallback;
}

static long calls_per_thread;

static void *worker(void *arg) {
  long *mismatches = arg, n;
  uint8_t out[1024];
  for (n = 0; n < calls_per_thread; n++) {
    size_t i = (size_t)n % NREQ, len = 0;
    sic_status s = run(i, out, sizeof out, &len);
    if (s != expected[i].status || (s == SIC_STATUS_OK && (len != expected[i].len || memcmp(out, expected[i].bytes, len) != 0)))
      (*mismatches)++;
  }
  return NULL;
}

/* Anonymous resident memory (RssAnon): where a leak would live. The total
 * RSS also counts file-backed code pages, which the kernel may evict and
 * fault back in at any time, so it moves without the program doing anything. */
static long resident_kib(void) {
  char line[256];
  long kib = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "RssAnon: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

/* Runs `calls` requests cycling over the first `nreq`, then reads the RSS. */
static long rss_after(long calls, size_t nreq, long n) {
  uint8_t out[1024];
  for (n = 0; n < calls; n++) {
    size_t len;
    run((size_t)n % nreq, out, sizeof out, &len);
  }
  return resident_kib();
}

int main(void) {
  long threads = env_long("SIC_THREADS", 8), rss_calls = env_long("SIC_RSS_CALLS", 10000000), t;
  pthread_t *ids;
  long *mismatches;
  size_t i;
  int statuses_seen = 0;
  calls_per_thread = env_long("SIC_CALLS", 1000000);

  for (i = 0; i < NREQ; i++) {
    expected[i].len = 0;
    expected[i].status = run(i, expected[i].bytes, sizeof expected[i].bytes, &expected[i].len);
    statuses_seen |= 1 << expected[i].status;
  }
  /* The mix covers answers, passes and malformed stanzas. */
  CHECK(statuses_seen == ((1 << SIC_STATUS_OK) | (1 << SIC_STATUS_PASS) | (1 << SIC_STATUS_MALFORMED_STANZA)));

  ids = calloc((size_t)threads, sizeof *ids);
  mismatches = calloc((size_t)threads, sizeof *mismatches);
  for (t = 0; t < threads; t++) CHECK(pthread_create(&ids[t], NULL, worker, &mismatches[t]) == 0);
  for (t = 0; t < threads; t++) {
    pthread_join(ids[t], NULL);
    CHECK(mismatches[t] == 0);
  }
  printf("threads: %ld x %ld calls, every reply equal to the single-threaded one\n", threads, calls_per_thread);
  free(ids);
  free(mismatches);

  if (rss_calls > 0) {
    /* Phase 1: requests on the allocation-free path only (all but the last,
     * whose Unicode-case target goes through the allocating jid crate): the
     * resident set must not move. Phase 2: the whole mix; malloc may settle
     * in a few pages, but growth must stay far below the ~10 MB that a leak
     * of one byte per call would show. */
    long before = rss_after(1000000, NREQ - 1, 0), after = rss_after(rss_calls, NREQ - 1, 0);
    printf("anonymous rss, allocation-free mix: %ld KiB before, %ld KiB after %ld calls\n", before, after, rss_calls);
    CHECK(before > 0 && after - before <= 8);
    before = rss_after(1000000, NREQ, 0);
    after = rss_after(rss_calls, NREQ, 0);
    printf("anonymous rss, whole mix: %ld KiB before, %ld KiB after %ld calls\n", before, after, rss_calls);
    CHECK(after - before <= 512);
  }
  return checks_report();
}
