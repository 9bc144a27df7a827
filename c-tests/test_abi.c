/*
 * The C ABI as a server would use it: every status, every NULL rule, every
 * peer length, exact buffer sizes, and many threads at once. Buffers are
 * heap-allocated at their exact size so that ASan and valgrind see any byte
 * written or read past them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "check.h"
#include "sockaddrs.h"
#include "xmpp_sic.h"

/* The ABI promises these are usable in constant expressions and 4 bytes. */
typedef char status_is_four_bytes[sizeof(sic_status) == 4 ? 1 : -1];
enum { ALL_FLAGS = SIC_FLAG_OMIT_PORT | SIC_FLAG_KEEP_V4_MAPPED | SIC_FLAG_NO_SIC0 };
typedef char all_flags_macro_matches[SIC_FLAG_ALL == ALL_FLAGS ? 1 : -1];
typedef char abi_starts_at_one[SIC_ABI_VERSION >= 1 ? 1 : -1];

static const char SIC1[] = "<iq xmlns='jabber:client' id='c1' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>";
static const char SIC0[] = "<iq xmlns='jabber:client' id='c0' type='get'><ip xmlns='urn:xmpp:sic:0'/></iq>";
static const char SENDER[] = "alice@example.com/phone";

struct result {
  sic_status status;
  size_t len;
  char text[2048];
};

/* Calls the handler with an exactly sized heap buffer from sic_reply_bound. */
static struct result call(const char *iq, const char *sender, const char *target,
                          const void *peer, socklen_t peer_len, uint32_t flags) {
  struct result r;
  size_t iq_len = strlen(iq), sender_len = strlen(sender);
  size_t target_len = target ? strlen(target) : 0;
  size_t cap = sic_reply_bound(iq_len, sender_len, target_len);
  uint8_t *out = malloc(cap);
  r.len = (size_t)-1;
  r.status = sic_handle_iq((const uint8_t *)iq, iq_len, sender, sender_len, target, target_len,
                           (const struct sockaddr *)peer, peer_len, flags, out, cap, &r.len);
  r.text[0] = '\0';
  if (r.status == SIC_STATUS_OK && r.len < sizeof r.text) {
    memcpy(r.text, out, r.len);
    r.text[r.len] = '\0';
  }
  free(out);
  return r;
}

static int contains(const char *haystack, const char *needle) { return strstr(haystack, needle) != NULL; }

static void test_answers(void) {
  struct sockaddr_in a4 = v4("203.0.113.7", 40123);
  struct sockaddr_in6 a6 = v6("2001:db8::7", 5222);
  struct sockaddr_in6 mapped = v6("::ffff:127.0.0.1", 5222);
  struct result r;

  r = call(SIC1, SENDER, NULL, &a4, sizeof a4, 0);
  CHECK(r.status == SIC_STATUS_OK);
  CHECK(r.len == strlen(r.text));
  CHECK(contains(r.text, "<ip>203.0.113.7</ip><port>40123</port>"));
  CHECK(contains(r.text, "type='result'") && contains(r.text, "id='c1'") && contains(r.text, "to='alice@example.com/phone'"));

  r = call(SIC1, SENDER, NULL, &a6, sizeof a6, SIC_FLAG_OMIT_PORT);
  CHECK(r.status == SIC_STATUS_OK && contains(r.text, "<ip>2001:db8::7</ip></address>"));

  r = call(SIC1, SENDER, NULL, &mapped, sizeof mapped, 0);
  CHECK(r.status == SIC_STATUS_OK && contains(r.text, "<ip>127.0.0.1</ip>"));
  r = call(SIC1, SENDER, NULL, &mapped, sizeof mapped, SIC_FLAG_KEEP_V4_MAPPED);
  CHECK(r.status == SIC_STATUS_OK && contains(r.text, "<ip>::ffff:127.0.0.1</ip>"));

  r = call(SIC0, SENDER, NULL, &a4, sizeof a4, 0);
  CHECK(r.status == SIC_STATUS_OK && contains(r.text, "<ip xmlns='urn:xmpp:sic:0'>203.0.113.7</ip>"));
  r = call(SIC0, SENDER, NULL, &a4, sizeof a4, SIC_FLAG_NO_SIC0);
  CHECK(r.status == SIC_STATUS_PASS);

  r = call(SIC1, SENDER, "bob@example.com", &a4, sizeof a4, 0);
  CHECK(r.status == SIC_STATUS_OK && contains(r.text, "<forbidden ") && contains(r.text, "type='auth'"));
  CHECK(!contains(r.text, "203.0.113.7"));
  r = call(SIC1, SENDER, "Example.COM.", &a4, sizeof a4, 0);
  CHECK(r.status == SIC_STATUS_OK && contains(r.text, "from='Example.COM.'") && contains(r.text, "<ip>"));

  r = call("<iq id='s' type='set'><address xmlns='urn:xmpp:sic:1'/></iq>", SENDER, NULL, &a4, sizeof a4, 0);
  CHECK(r.status == SIC_STATUS_OK && contains(r.text, "<not-allowed ") && contains(r.text, "type='cancel'"));
  r = call("<iq id='b' type='get'><address xmlns='urn:xmpp:sic:1'><x/></address></iq>", SENDER, NULL, &a4, sizeof a4, 0);
  CHECK(r.status == SIC_STATUS_OK && contains(r.text, "<bad-request ") && contains(r.text, "type='modify'"));
  r = call(SIC1, SENDER, NULL, NULL, 0, 0);
  CHECK(r.status == SIC_STATUS_OK && contains(r.text, "<service-unavailable "));

  r = call("<iq id='r' type='result'><address xmlns='urn:xmpp:sic:1'/></iq>", SENDER, NULL, &a4, sizeof a4, 0);
  CHECK(r.status == SIC_STATUS_PASS);
  r = call("<iq id='v' type='get'><query xmlns='jabber:iq:version'/></iq>", SENDER, NULL, &a4, sizeof a4, 0);
  CHECK(r.status == SIC_STATUS_PASS);
  r = call("<iq id='m' type='get'><!-- x --><address xmlns='urn:xmpp:sic:1'/></iq>", SENDER, NULL, &a4, sizeof a4, 0);
  CHECK(r.status == SIC_STATUS_MALFORMED_STANZA);
  r = call(SIC1, "not a jid@example.com", NULL, &a4, sizeof a4, 0);
  CHECK(r.status == SIC_STATUS_INVALID_ARGUMENT);
  r = call(SIC1, SENDER, "@example.com", &a4, sizeof a4, 0);
  CHECK(r.status == SIC_STATUS_INVALID_ARGUMENT);
  r = call(SIC1, SENDER, NULL, &a4, sizeof a4, 8);
  CHECK(r.status == SIC_STATUS_INVALID_ARGUMENT);
  r = call(SIC1, SENDER, NULL, &a4, sizeof a4, 0x80000000u);
  CHECK(r.status == SIC_STATUS_INVALID_ARGUMENT);
}

static void test_null_rules(void) {
  struct sockaddr_in a4 = v4("192.0.2.1", 1);
  const uint8_t *iq = (const uint8_t *)SIC1;
  size_t n = strlen(SIC1), s = strlen(SENDER), len = 12345;
  uint8_t out[1024];

  CHECK(sic_handle_iq(NULL, n, SENDER, s, NULL, 0, NULL, 0, 0, out, sizeof out, &len) == SIC_STATUS_NULL_ARGUMENT);
  CHECK(sic_handle_iq(NULL, 0, SENDER, s, NULL, 0, NULL, 0, 0, out, sizeof out, &len) == SIC_STATUS_NULL_ARGUMENT);
  CHECK(sic_handle_iq(iq, n, NULL, s, NULL, 0, NULL, 0, 0, out, sizeof out, &len) == SIC_STATUS_NULL_ARGUMENT);
  CHECK(sic_handle_iq(iq, n, SENDER, s, NULL, 0, NULL, 0, 0, out, sizeof out, NULL) == SIC_STATUS_NULL_ARGUMENT);
  CHECK(sic_handle_iq(iq, n, SENDER, s, NULL, 5, NULL, 0, 0, out, sizeof out, &len) == SIC_STATUS_NULL_ARGUMENT);
  CHECK(sic_handle_iq(iq, n, SENDER, s, NULL, 0, NULL, sizeof a4, 0, out, sizeof out, &len) == SIC_STATUS_NULL_ARGUMENT);
  CHECK(sic_handle_iq(iq, n, SENDER, s, NULL, 0, NULL, 0, 0, NULL, 10, &len) == SIC_STATUS_NULL_ARGUMENT);
  CHECK(len == 12345); /* untouched on failure */
  /* An empty sender is present but not a JID. */
  CHECK(sic_handle_iq(iq, n, SENDER, 0, NULL, 0, NULL, 0, 0, out, sizeof out, &len) == SIC_STATUS_INVALID_ARGUMENT);
  /* A target of length 0 is no target, whatever the pointer. */
  CHECK(sic_handle_iq(iq, n, SENDER, s, "x", 0, (const struct sockaddr *)&a4, sizeof a4, 0, out, sizeof out, &len) == SIC_STATUS_OK);
  /* out may be NULL with out_cap 0: the size comes back. */
  len = 0;
  CHECK(sic_handle_iq(iq, n, SENDER, s, NULL, 0, (const struct sockaddr *)&a4, sizeof a4, 0, NULL, 0, &len) == SIC_STATUS_BUFFER_TOO_SMALL);
  CHECK(len > 0 && len <= sic_reply_bound(n, s, 0));
  /* Output overlapping the input is refused rather than corrupting it. */
  {
    uint8_t shared[2048];
    memcpy(shared, SIC1, n);
    CHECK(sic_handle_iq(shared, n, SENDER, s, NULL, 0, NULL, 0, 0, shared + 10, sizeof shared - 10, &len) == SIC_STATUS_INVALID_ARGUMENT);
    CHECK(memcmp(shared, SIC1, n) == 0);
  }
}

static void test_peer_lengths(void) {
  struct sockaddr_storage storage;
  struct sockaddr_in a4 = v4("198.51.100.2", 7);
  struct sockaddr_in6 a6 = v6("2001:db8::2", 7);
  struct sockaddr_un un;
  socklen_t len;
  struct result r;

  memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  for (len = 0; len <= sizeof storage; len++) {
    /* Each peer sits at the very end of an exact heap block, so a read past
     * peer_len is a heap overflow the sanitizers report. */
    unsigned char *p4 = malloc(len ? len : 1), *p6 = malloc(len ? len : 1), *pu = malloc(len ? len : 1);
    memcpy(p4, &a4, len < sizeof a4 ? len : sizeof a4);
    memcpy(p6, &a6, len < sizeof a6 ? len : sizeof a6);
    memcpy(pu, &un, len < sizeof un ? len : sizeof un);
    if (len >= sizeof a4) memset(p4 + sizeof a4, 0, len - sizeof a4);
    if (len >= sizeof a6) memset(p6 + sizeof a6, 0, len - sizeof a6);
    if (len >= sizeof un) memset(pu + sizeof un, 0, len - sizeof un);

    r = call(SIC1, SENDER, NULL, p4, len, 0);
    if (len == 0) CHECK(r.status == SIC_STATUS_OK && contains(r.text, "service-unavailable"));
    else if (len < sizeof a4) CHECK(r.status == SIC_STATUS_INVALID_ARGUMENT);
    else CHECK(r.status == SIC_STATUS_OK && contains(r.text, "<ip>198.51.100.2</ip>"));

    r = call(SIC1, SENDER, NULL, p6, len, 0);
    if (len == 0) CHECK(r.status == SIC_STATUS_OK && contains(r.text, "service-unavailable"));
    else if (len < sizeof a6) CHECK(r.status == SIC_STATUS_INVALID_ARGUMENT);
    else CHECK(r.status == SIC_STATUS_OK && contains(r.text, "<ip>2001:db8::2</ip>"));

    r = call(SIC1, SENDER, NULL, pu, len, 0);
    if (len == 1) CHECK(r.status == SIC_STATUS_INVALID_ARGUMENT);
    else CHECK(r.status == SIC_STATUS_OK && contains(r.text, "service-unavailable"));
    free(p4);
    free(p6);
    free(pu);
  }
}

static void test_buffer_sizes(void) {
  struct sockaddr_in6 a6 = v6("2001:db8:1:2:3:4:5:6", 65535);
  size_t n = strlen(SIC1), s = strlen(SENDER), needed = 0, len = 0;
  uint8_t *exact, *short_buf;

  CHECK(sic_handle_iq((const uint8_t *)SIC1, n, SENDER, s, NULL, 0, (const struct sockaddr *)&a6, sizeof a6, 0, NULL, 0, &needed) == SIC_STATUS_BUFFER_TOO_SMALL);
  exact = malloc(needed);
  CHECK(sic_handle_iq((const uint8_t *)SIC1, n, SENDER, s, NULL, 0, (const struct sockaddr *)&a6, sizeof a6, 0, exact, needed, &len) == SIC_STATUS_OK);
  CHECK(len == needed);
  short_buf = malloc(needed - 1);
  memset(short_buf, 0x5A, needed - 1);
  len = 0;
  CHECK(sic_handle_iq((const uint8_t *)SIC1, n, SENDER, s, NULL, 0, (const struct sockaddr *)&a6, sizeof a6, 0, short_buf, needed - 1, &len) == SIC_STATUS_BUFFER_TOO_SMALL);
  CHECK(len == needed);
  {
    size_t i, untouched = 1;
    for (i = 0; i < needed - 1; i++) untouched &= short_buf[i] == 0x5A;
    CHECK(untouched);
  }
  free(exact);
  free(short_buf);
  /* Absurd lengths count as the valid maxima: the bound stays allocatable. */
  CHECK(sic_reply_bound((size_t)-1, (size_t)-1, (size_t)-1) == sic_reply_bound(SIC_MAX_STANZA_LEN, SIC_MAX_JID_LEN, SIC_MAX_JID_LEN));
  CHECK(sic_reply_bound((size_t)-1, (size_t)-1, (size_t)-1) < 512 * 1024);
}

static void test_metadata(void) {
  uint32_t v;
  CHECK(sic_abi_version() == SIC_ABI_VERSION);
  CHECK(strcmp(sic_version(), SIC_VERSION) == 0);
  for (v = 0; v <= SIC_STATUS_PANIC; v++) CHECK(sic_status_str(v) != NULL && strlen(sic_status_str(v)) > 0);
  CHECK(strcmp(sic_status_str(999), "unknown status") == 0);
  CHECK(strcmp(sic_status_str(0xFFFFFFFFu), "unknown status") == 0);
  CHECK(strcmp(sic_feature(0, 0), "urn:xmpp:sic:1") == 0);
  CHECK(strcmp(sic_feature(0, 1), "urn:xmpp:sic:0") == 0);
  CHECK(sic_feature(0, 2) == NULL);
  CHECK(strcmp(sic_feature(SIC_FLAG_NO_SIC0, 0), "urn:xmpp:sic:1") == 0);
  CHECK(sic_feature(SIC_FLAG_NO_SIC0, 1) == NULL);
  CHECK(sic_feature(ALL_FLAGS + 1, 0) == NULL);
}

#define THREADS 4
#define CALLS 20000

static void *worker(void *arg) {
  long *bad = arg;
  struct sockaddr_in a4 = v4("203.0.113.9", 1234);
  struct sockaddr_in6 a6 = v6("2001:db8::9", 4321);
  int i;
  for (i = 0; i < CALLS; i++) {
    struct result r = (i % 2) ? call(SIC1, SENDER, NULL, &a4, sizeof a4, 0) : call(SIC0, SENDER, "example.com", &a6, sizeof a6, 0);
    const char *want = (i % 2) ? "<ip>203.0.113.9</ip><port>1234</port>" : ">2001:db8::9</ip>";
    if (r.status != SIC_STATUS_OK || !contains(r.text, want)) (*bad)++;
  }
  return NULL;
}

static void test_threads(void) {
  pthread_t threads[THREADS];
  long bad[THREADS] = {0};
  int i;
  for (i = 0; i < THREADS; i++) CHECK(pthread_create(&threads[i], NULL, worker, &bad[i]) == 0);
  for (i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
    CHECK(bad[i] == 0);
  }
}

int main(void) {
  test_answers();
  test_null_rules();
  test_peer_lengths();
  test_buffer_sizes();
  test_metadata();
  test_threads();
  return checks_report();
}
