/*
 * The structured entry, sic_handle_parsed, as a host that parsed the stanza
 * itself would call it: every answer field, every status, the port rules per
 * transport and address source, and agreement with sic_handle_iq on the same
 * requests; and sic_sockaddr_from_text, which makes the peer address from
 * the text a host holds. Every string is handed over in a heap block of
 * exactly its length, with no NUL after it, and the structs in heap blocks
 * of exactly their size, so that ASan and valgrind see any read past them.
 */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "check.h"
#include "sockaddrs.h"
#include "xmpp_sic.h"

static const char SENDER[] = "alice@example.com/phone";
static const char SIC1[] = "urn:xmpp:sic:1";
static const char SIC0[] = "urn:xmpp:sic:0";

/* A copy of the string's bytes alone: reading one byte more is an error. */
static char *exact(const char *s) {
  size_t n = s ? strlen(s) : 0;
  char *copy;
  if (!s) {
    return NULL;
  }
  copy = malloc(n ? n : 1);
  memcpy(copy, s, n);
  return copy;
}

struct request {
  uint32_t type;
  const char *name; /* NULL: the IQ has no child element */
  const char *ns;
  uint32_t shape;
  const char *target; /* NULL: no 'to' */
  const void *addr;
  socklen_t addr_len;
  uint32_t transport;
  uint32_t source;
  uint32_t flags;
};

struct outcome {
  sic_status status;
  sic_answer answer;
};

/* The answer's bytes before the call, to prove untouched-on-failure. */
static const unsigned char SENTINEL = 0xA5;

static struct outcome run(const struct request *r) {
  struct outcome o;
  sic_iq *iq = malloc(sizeof *iq);
  sic_peer *peer = malloc(sizeof *peer);
  sic_answer *answer = malloc(sizeof *answer);
  void *addr = NULL;
  char *name = exact(r->name), *ns = exact(r->ns), *sender = exact(SENDER), *target = exact(r->target);

  if (r->addr) {
    addr = malloc(r->addr_len);
    memcpy(addr, r->addr, r->addr_len);
  }
  iq->type = r->type;
  iq->payload_name = name;
  iq->payload_name_len = r->name ? strlen(r->name) : 0;
  iq->payload_ns = ns;
  iq->payload_ns_len = r->ns ? strlen(r->ns) : 0;
  iq->payload_shape = r->shape;
  iq->sender = sender;
  iq->sender_len = strlen(SENDER);
  iq->target = target;
  iq->target_len = r->target ? strlen(r->target) : 0;
  peer->addr = addr;
  peer->addr_len = r->addr ? r->addr_len : 0;
  peer->transport = r->transport;
  peer->source = r->source;
  memset(answer, SENTINEL, sizeof *answer);

  o.status = sic_handle_parsed(iq, peer, r->flags, answer);
  o.answer = *answer;
  free(iq);
  free(peer);
  free(answer);
  free(addr);
  free(name);
  free(ns);
  free(sender);
  free(target);
  return o;
}

/* Whether bytes [from, to) of *p all hold `value`. */
static int all_bytes(const void *p, size_t from, size_t to, unsigned char value) {
  const unsigned char *b = p;
  for (; from < to; from++) {
    if (b[from] != value) {
      return 0;
    }
  }
  return 1;
}

static int untouched(const sic_answer *a) {
  return all_bytes(a, 0, sizeof *a, SENTINEL);
}

static int is_error(const struct outcome *o, const char *type, const char *condition) {
  return o->status == SIC_STATUS_OK && o->answer.kind == SIC_ANSWER_ERROR && o->answer.form == 0 &&
         o->answer.name == NULL && o->answer.ns == NULL && o->answer.ip[0] == '\0' && o->answer.ip_len == 0 &&
         o->answer.port == 0 && strcmp(o->answer.error_type, type) == 0 &&
         strcmp(o->answer.error_condition, condition) == 0 && o->answer.error_text != NULL &&
         strlen(o->answer.error_text) > 10;
}

static void test_results(void) {
  struct sockaddr_in a4 = v4("203.0.113.7", 40123);
  struct sockaddr_in6 a6 = v6("2001:db8::7", 5222);
  struct sockaddr_in6 mapped = v6("::ffff:127.0.0.1", 5222);
  struct request r = {SIC_IQ_GET, "address", SIC1, 0, NULL, &a4, sizeof a4, 0, 0, 0};
  struct outcome o = run(&r);

  CHECK(o.status == SIC_STATUS_OK);
  CHECK(o.answer.kind == SIC_ANSWER_RESULT);
  CHECK(o.answer.form == SIC_FORM_SIC1_ADDRESS);
  CHECK(strcmp(o.answer.name, "address") == 0 && strcmp(o.answer.ns, SIC1) == 0);
  CHECK(strcmp(o.answer.ip, "203.0.113.7") == 0 && o.answer.ip_len == 11);
  CHECK(o.answer.port == 40123);
  CHECK(o.answer.error_type == NULL && o.answer.error_condition == NULL && o.answer.error_text == NULL);

  r.addr = &a6;
  r.addr_len = sizeof a6;
  r.target = "alice@example.com";
  o = run(&r);
  CHECK(o.status == SIC_STATUS_OK && strcmp(o.answer.ip, "2001:db8::7") == 0 && o.answer.port == 5222);

  r.target = "example.com";
  r.addr = &mapped;
  r.addr_len = sizeof mapped;
  o = run(&r);
  CHECK(o.status == SIC_STATUS_OK && strcmp(o.answer.ip, "127.0.0.1") == 0);
  r.flags = SIC_FLAG_KEEP_V4_MAPPED;
  o = run(&r);
  CHECK(o.status == SIC_STATUS_OK && strcmp(o.answer.ip, "::ffff:127.0.0.1") == 0 && o.answer.ip_len == 16);
  r.flags = 0;

  /* sic:0 forms answer in their own form and never carry a port. */
  r.name = "ip";
  r.ns = SIC0;
  o = run(&r);
  CHECK(o.status == SIC_STATUS_OK && o.answer.form == SIC_FORM_SIC0_IP && strcmp(o.answer.name, "ip") == 0 &&
        strcmp(o.answer.ns, SIC0) == 0 && o.answer.port == 0);
  r.name = "address";
  o = run(&r);
  CHECK(o.status == SIC_STATUS_OK && o.answer.form == SIC_FORM_SIC0_ADDRESS && strcmp(o.answer.ns, SIC0) == 0 &&
        o.answer.port == 0);
  r.flags = SIC_FLAG_NO_SIC0;
  CHECK(run(&r).status == SIC_STATUS_PASS);

  /* Attributes on the payload are accepted. */
  r.ns = SIC1;
  r.flags = 0;
  r.shape = SIC_SHAPE_ATTRIBUTES;
  CHECK(run(&r).answer.kind == SIC_ANSWER_RESULT);
}

static void test_errors(void) {
  struct sockaddr_in a4 = v4("203.0.113.7", 40123);
  struct sockaddr_un un;
  struct request r = {SIC_IQ_GET, "address", SIC1, 0, NULL, &a4, sizeof a4, 0, 0, 0};
  struct outcome o;
  uint32_t shape;

  for (shape = 1; shape <= SIC_SHAPE_ALL; shape++) {
    r.shape = shape;
    o = run(&r);
    if (shape == SIC_SHAPE_ATTRIBUTES) {
      CHECK(o.answer.kind == SIC_ANSWER_RESULT);
    } else {
      CHECK(is_error(&o, "modify", "bad-request"));
    }
  }
  r.shape = 0;
  r.type = SIC_IQ_OTHER;
  CHECK(is_error((o = run(&r), &o), "modify", "bad-request"));
  r.type = SIC_IQ_SET;
  CHECK(is_error((o = run(&r), &o), "cancel", "not-allowed"));
  r.type = SIC_IQ_GET;
  r.target = "bob@example.com";
  CHECK(is_error((o = run(&r), &o), "auth", "forbidden"));
  /* Forbidden comes before not-allowed: a set learns nothing about others. */
  r.type = SIC_IQ_SET;
  CHECK(is_error((o = run(&r), &o), "auth", "forbidden"));
  r.type = SIC_IQ_GET;
  r.target = NULL;

  memset(&un, 0, sizeof un);
  un.sun_family = AF_UNIX;
  r.addr = &un;
  r.addr_len = sizeof un;
  CHECK(is_error((o = run(&r), &o), "cancel", "service-unavailable"));
  r.addr = NULL;
  CHECK(is_error((o = run(&r), &o), "cancel", "service-unavailable"));
}

static void test_passes(void) {
  struct sockaddr_in a4 = v4("203.0.113.7", 40123);
  struct request r = {SIC_IQ_RESULT, "address", SIC1, 0, NULL, &a4, sizeof a4, 0, 0, 0};
  struct outcome o = run(&r);

  CHECK(o.status == SIC_STATUS_PASS && untouched(&o.answer));
  r.type = SIC_IQ_ERROR;
  CHECK(run(&r).status == SIC_STATUS_PASS);
  r.type = SIC_IQ_GET;
  r.name = NULL;
  r.ns = NULL;
  CHECK(run(&r).status == SIC_STATUS_PASS);
  r.name = "query";
  r.ns = "jabber:iq:version";
  CHECK(run(&r).status == SIC_STATUS_PASS);
  /* Names and namespaces compare exactly: the host resolved them already. */
  r.name = "Address";
  r.ns = SIC1;
  CHECK(run(&r).status == SIC_STATUS_PASS);
  r.name = "address";
  r.ns = "urn:xmpp:sic:1 ";
  CHECK(run(&r).status == SIC_STATUS_PASS);
  r.ns = "urn:xmpp:sic:2";
  CHECK(run(&r).status == SIC_STATUS_PASS);
}

/* The port is the client's own connection's, or none. */
static void test_port_policy(void) {
  struct sockaddr_in a4 = v4("198.51.100.2", 4444);
  struct sockaddr_in zero = v4("198.51.100.2", 0);
  struct request r = {SIC_IQ_GET, "address", SIC1, 0, NULL, &a4, sizeof a4, 0, 0, 0};
  static const struct {
    uint32_t transport, source;
    int port;
  } cases[] = {
      {SIC_TRANSPORT_STREAM, SIC_SOURCE_SOCKET, 1},       {SIC_TRANSPORT_STREAM, SIC_SOURCE_PROXY_PROTOCOL, 1},
      {SIC_TRANSPORT_WEBSOCKET, SIC_SOURCE_SOCKET, 1},    {SIC_TRANSPORT_WEBSOCKET, SIC_SOURCE_FORWARDED, 0},
      {SIC_TRANSPORT_WEBSOCKET, SIC_SOURCE_PROXY_PROTOCOL, 1}, {SIC_TRANSPORT_BOSH, SIC_SOURCE_SOCKET, 0},
      {SIC_TRANSPORT_BOSH, SIC_SOURCE_FORWARDED, 0},      {SIC_TRANSPORT_STREAM, SIC_SOURCE_FORWARDED, 0},
  };
  size_t i;
  struct outcome o;

  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    r.transport = cases[i].transport;
    r.source = cases[i].source;
    r.flags = 0;
    o = run(&r);
    CHECK(o.status == SIC_STATUS_OK && strcmp(o.answer.ip, "198.51.100.2") == 0);
    CHECK(o.answer.port == (cases[i].port ? 4444 : 0));
    r.flags = SIC_FLAG_OMIT_PORT;
    CHECK(run(&r).answer.port == 0);
  }
  r.transport = r.source = r.flags = 0;
  r.addr = &zero;
  CHECK(run(&r).answer.port == 0);
}

static void test_arguments(void) {
  struct sockaddr_in a4 = v4("203.0.113.7", 40123);
  struct request r = {SIC_IQ_GET, "address", SIC1, 0, NULL, &a4, sizeof a4, 0, 0, 0};
  sic_iq iq;
  sic_peer peer;
  sic_answer answer;
  struct outcome o;

  r.type = 0;
  CHECK((o = run(&r)).status == SIC_STATUS_INVALID_ARGUMENT && untouched(&o.answer));
  r.type = SIC_IQ_OTHER + 1;
  CHECK(run(&r).status == SIC_STATUS_INVALID_ARGUMENT);
  r.type = SIC_IQ_GET;
  r.shape = SIC_SHAPE_ALL + 1;
  CHECK(run(&r).status == SIC_STATUS_INVALID_ARGUMENT);
  r.shape = 0x80000000u;
  CHECK(run(&r).status == SIC_STATUS_INVALID_ARGUMENT);
  r.shape = 0;
  r.transport = 3;
  CHECK(run(&r).status == SIC_STATUS_INVALID_ARGUMENT);
  r.transport = 0;
  r.source = 3;
  CHECK(run(&r).status == SIC_STATUS_INVALID_ARGUMENT);
  r.source = 0;
  r.flags = SIC_FLAG_ALL + 1;
  CHECK(run(&r).status == SIC_STATUS_INVALID_ARGUMENT);
  r.flags = 0;
  r.addr_len = sizeof a4 - 1;
  CHECK(run(&r).status == SIC_STATUS_INVALID_ARGUMENT);
  r.addr_len = sizeof a4;
  r.target = "not a jid@";
  CHECK(run(&r).status == SIC_STATUS_INVALID_ARGUMENT);
  r.target = "alice@example.com/\xff";
  CHECK(run(&r).status == SIC_STATUS_INVALID_ARGUMENT);
  r.target = NULL;
  r.name = "addr\xc3";
  CHECK(run(&r).status == SIC_STATUS_INVALID_ARGUMENT);

  /* NULL rules: the three structs, the sender, a pointer with a length. */
  memset(&iq, 0, sizeof iq);
  memset(&peer, 0, sizeof peer);
  iq.type = SIC_IQ_GET;
  iq.sender = SENDER;
  iq.sender_len = strlen(SENDER);
  CHECK(sic_handle_parsed(NULL, &peer, 0, &answer) == SIC_STATUS_NULL_ARGUMENT);
  CHECK(sic_handle_parsed(&iq, NULL, 0, &answer) == SIC_STATUS_NULL_ARGUMENT);
  CHECK(sic_handle_parsed(&iq, &peer, 0, NULL) == SIC_STATUS_NULL_ARGUMENT);
  CHECK(sic_handle_parsed(&iq, &peer, 0, &answer) == SIC_STATUS_PASS);
  iq.payload_name_len = 3;
  CHECK(sic_handle_parsed(&iq, &peer, 0, &answer) == SIC_STATUS_NULL_ARGUMENT);
  iq.payload_name_len = 0;
  iq.target_len = 1;
  CHECK(sic_handle_parsed(&iq, &peer, 0, &answer) == SIC_STATUS_NULL_ARGUMENT);
  iq.target_len = 0;
  peer.addr_len = sizeof a4;
  CHECK(sic_handle_parsed(&iq, &peer, 0, &answer) == SIC_STATUS_NULL_ARGUMENT);
  peer.addr_len = 0;
  iq.sender = NULL;
  iq.sender_len = 0;
  CHECK(sic_handle_parsed(&iq, &peer, 0, &answer) == SIC_STATUS_NULL_ARGUMENT);
}

/* Both entries on the same requests: the raw stanza, and its parts. */
static void test_agreement(void) {
  static const struct {
    const char *stanza;
    uint32_t type;
    const char *name, *ns;
    uint32_t shape;
    const char *target;
  } cases[] = {
      {"<iq id='a' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>", SIC_IQ_GET, "address", SIC1, 0, NULL},
      {"<iq id='a' type='get'><s:address xmlns:s='urn:xmpp:sic:1'/></iq>", SIC_IQ_GET, "address", SIC1, 0, NULL},
      {"<iq id='a' type='get'><ip xmlns='urn:xmpp:sic:0'/></iq>", SIC_IQ_GET, "ip", SIC0, 0, "example.com"},
      {"<iq id='a' type='set'><address xmlns='urn:xmpp:sic:0'/></iq>", SIC_IQ_SET, "address", SIC0, 0, NULL},
      {"<iq id='a' type='get'><address xmlns='urn:xmpp:sic:1'/></iq>", SIC_IQ_GET, "address", SIC1, 0,
       "bob@example.com"},
      {"<iq id='a' type='x'><address xmlns='urn:xmpp:sic:1'/></iq>", SIC_IQ_OTHER, "address", SIC1, 0, NULL},
      {"<iq id='a' type='get'><address xmlns='urn:xmpp:sic:1'>t</address></iq>", SIC_IQ_GET, "address", SIC1,
       SIC_SHAPE_TEXT, NULL},
      {"<iq id='a' type='get'><address xmlns='urn:xmpp:sic:1'/><x/></iq>", SIC_IQ_GET, "address", SIC1,
       SIC_SHAPE_SIBLINGS, NULL},
      {"<iq id='a' type='get'><address xmlns='urn:xmpp:sic:1' a='1'/></iq>", SIC_IQ_GET, "address", SIC1,
       SIC_SHAPE_ATTRIBUTES, NULL},
      {"<iq id='a' type='get'><query xmlns='jabber:iq:version'/></iq>", SIC_IQ_GET, "query", "jabber:iq:version",
       0, NULL},
      {"<iq id='a' type='result'><address xmlns='urn:xmpp:sic:1'/></iq>", SIC_IQ_RESULT, "address", SIC1, 0, NULL},
  };
  struct sockaddr_in6 a6 = v6("2001:db8::1", 5222);
  size_t i;

  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct request r = {cases[i].type, cases[i].name, cases[i].ns, cases[i].shape, cases[i].target,
                        &a6, sizeof a6, 0, 0, 0};
    struct outcome o = run(&r);
    size_t cap = sic_reply_bound(strlen(cases[i].stanza), strlen(SENDER),
                                 cases[i].target ? strlen(cases[i].target) : 0);
    uint8_t *out = malloc(cap);
    size_t len = 0;
    sic_status raw = sic_handle_iq((const uint8_t *)cases[i].stanza, strlen(cases[i].stanza), SENDER,
                                   strlen(SENDER), cases[i].target, cases[i].target ? strlen(cases[i].target) : 0,
                                   (const struct sockaddr *)&a6, sizeof a6, 0, out, cap, &len);
    char *reply = calloc(1, len + 1);

    memcpy(reply, out, len);
    CHECK(raw == o.status);
    if (raw == SIC_STATUS_OK && o.answer.kind == SIC_ANSWER_RESULT) {
      char want[128];
      snprintf(want, sizeof want, "<%s xmlns='%s'>", o.answer.name, o.answer.ns);
      CHECK(strstr(reply, "type='result'") && strstr(reply, want) && strstr(reply, o.answer.ip));
      snprintf(want, sizeof want, "<port>%u</port>", (unsigned)o.answer.port);
      CHECK((o.answer.port != 0) == (strstr(reply, want) != NULL));
    } else if (raw == SIC_STATUS_OK) {
      char want[128];
      snprintf(want, sizeof want, "<error type='%s'><%s xmlns=", o.answer.error_type, o.answer.error_condition);
      CHECK(strstr(reply, "type='error'") && strstr(reply, want) && strstr(reply, o.answer.error_text));
    }
    if (checks_failed) {
      fprintf(stderr, "case %zu: %s -> %s\n", i, cases[i].stanza, reply);
    }
    free(reply);
    free(out);
  }
}

static void test_blank(void) {
  char *t = exact(" \t\r\n ");
  CHECK(sic_text_is_blank(t, 5) == 1);
  free(t);
  t = exact(" \t x");
  CHECK(sic_text_is_blank(t, 4) == 0);
  free(t);
  /* Not XML whitespace: form feed, vertical tab, NBSP (U+00A0). */
  CHECK(sic_text_is_blank("\f", 1) == 0);
  CHECK(sic_text_is_blank("\v", 1) == 0);
  CHECK(sic_text_is_blank("\xc2\xa0", 2) == 0);
  CHECK(sic_text_is_blank(NULL, 0) == 1);
  CHECK(sic_text_is_blank(NULL, 3) == 0);
  CHECK(sic_text_is_blank("x", 0) == 1);
}

/* sic_sockaddr_from_text on the first `len` bytes of `text`, copied into a
 * heap block of exactly that size; `*out` and `*out_len` start as sentinel
 * bytes, in heap blocks of exactly their size too. */
struct converted {
  sic_status status;
  struct sockaddr_storage out;
  socklen_t out_len;
};

static struct converted to_sockaddr_n(const char *text, size_t len, uint16_t port) {
  struct converted r;
  char *copy = malloc(len ? len : 1);
  struct sockaddr_storage *out = malloc(sizeof *out);
  socklen_t *out_len = malloc(sizeof *out_len);

  memcpy(copy, text, len);
  memset(out, SENTINEL, sizeof *out);
  memset(out_len, SENTINEL, sizeof *out_len);
  r.status = sic_sockaddr_from_text(copy, len, port, out, out_len);
  r.out = *out;
  r.out_len = *out_len;
  free(copy);
  free(out);
  free(out_len);
  return r;
}

static struct converted to_sockaddr(const char *text, uint16_t port) {
  return to_sockaddr_n(text, strlen(text), port);
}

static int is_v4(const struct converted *r, const char *ip, uint16_t port) {
  const struct sockaddr_in *sin = (const struct sockaddr_in *)&r->out;
  struct sockaddr_in want = v4(ip, port);
  return r->status == SIC_STATUS_OK && r->out_len == sizeof(struct sockaddr_in) && sin->sin_family == AF_INET &&
         sin->sin_port == htons(port) && sin->sin_addr.s_addr == want.sin_addr.s_addr &&
         all_bytes(&r->out, sizeof *sin, sizeof r->out, 0) && all_bytes(sin->sin_zero, 0, sizeof sin->sin_zero, 0);
}

static int is_v6(const struct converted *r, const char *ip, uint16_t port, uint32_t scope) {
  const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&r->out;
  struct sockaddr_in6 want = v6(ip, port);
  return r->status == SIC_STATUS_OK && r->out_len == sizeof(struct sockaddr_in6) && sin6->sin6_family == AF_INET6 &&
         sin6->sin6_port == htons(port) && memcmp(&sin6->sin6_addr, &want.sin6_addr, sizeof want.sin6_addr) == 0 &&
         sin6->sin6_scope_id == scope && sin6->sin6_flowinfo == 0 && all_bytes(&r->out, sizeof *sin6, sizeof r->out, 0);
}

/* Refused: INVALID_ARGUMENT, *out_len 0, *out as it was. */
static int is_refused(const struct converted *r) {
  return r->status == SIC_STATUS_INVALID_ARGUMENT && r->out_len == 0 && all_bytes(&r->out, 0, sizeof r->out, SENTINEL);
}

static void test_sockaddr_from_text(void) {
  static const char *const refused[] = {
      "1.2.3", "01.2.3.4", "1.2.3.04", "256.1.1.1", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4:5222",
      "[::1]", "[::1]:5222", "localhost", "::g", ":::", "1:2:3:4:5:6:7:8:9", "::ffff:01.2.3.4", "1.2.3.4%lo",
      "fe80::1%", "fe80::1%nosuchif", "fe80::1%%lo", "fe80::1%-1", "fe80::1%4294967296",
      "fe80::1%1234567890123456", "0000000000000000000000000000000000000000000000000000000000001.2.3.4",
  };
  unsigned int lo = if_nametoindex("lo");
  struct converted r;
  struct sockaddr_storage ss;
  socklen_t len;
  struct sockaddr_storage outer;
  char *inside = (char *)&outer + 8;
  size_t i;

  r = to_sockaddr("192.0.2.1", 5222);
  CHECK(is_v4(&r, "192.0.2.1", 5222));
  r = to_sockaddr("0.0.0.0", 0);
  CHECK(is_v4(&r, "0.0.0.0", 0));
  r = to_sockaddr("2001:db8::1", 40123);
  CHECK(is_v6(&r, "2001:db8::1", 40123, 0));
  r = to_sockaddr("2001:DB8:0:0:0:0:0:1", 1);
  CHECK(is_v6(&r, "2001:db8::1", 1, 0));
  /* v4-mapped stays IPv6: the reply unmaps it, unless asked not to. */
  r = to_sockaddr("::ffff:192.0.2.1", 5222);
  CHECK(is_v6(&r, "::ffff:192.0.2.1", 5222, 0));
  /* Zones: a number, or an interface name ("lo" exists everywhere). */
  r = to_sockaddr("fe80::1%2", 5222);
  CHECK(is_v6(&r, "fe80::1", 5222, 2));
  r = to_sockaddr("fe80::1%4294967295", 5222);
  CHECK(is_v6(&r, "fe80::1", 5222, 4294967295u));
  CHECK(lo != 0);
  r = to_sockaddr("fe80::1%lo", 5222);
  CHECK(is_v6(&r, "fe80::1", 5222, lo));
  /* The port goes out in network byte order. */
  r = to_sockaddr("192.0.2.1", 0x1234);
  CHECK(r.status == SIC_STATUS_OK && ((unsigned char *)&((struct sockaddr_in *)&r.out)->sin_port)[0] == 0x12 &&
        ((unsigned char *)&((struct sockaddr_in *)&r.out)->sin_port)[1] == 0x34);
  r = to_sockaddr("2001:db8::1", 0xfe01);
  CHECK(r.status == SIC_STATUS_OK && ((unsigned char *)&((struct sockaddr_in6 *)&r.out)->sin6_port)[0] == 0xfe &&
        ((unsigned char *)&((struct sockaddr_in6 *)&r.out)->sin6_port)[1] == 0x01);
  /* Only ip_len bytes are read: a longer text cut short is its prefix. */
  r = to_sockaddr_n("192.0.2.10", 9, 1);
  CHECK(is_v4(&r, "192.0.2.1", 1));

  for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
    int ok;
    r = to_sockaddr(refused[i], 5222);
    ok = is_refused(&r);
    CHECK(ok);
    if (!ok) {
      fprintf(stderr, "accepted: %s\n", refused[i]);
    }
  }
  r = to_sockaddr("", 5222);
  CHECK(is_refused(&r));
  /* A NUL inside is refused, not read as the end. */
  r = to_sockaddr_n("1.2.3.4\0", 8, 1);
  CHECK(is_refused(&r));
  r = to_sockaddr_n("::1\0junk", 8, 1);
  CHECK(is_refused(&r));
  r = to_sockaddr_n("fe80::1%lo\0x", 12, 1);
  CHECK(is_refused(&r));

  /* NULL rules, and an output overlapping the text. */
  len = 77;
  CHECK(sic_sockaddr_from_text(NULL, 0, 1, &ss, &len) == SIC_STATUS_NULL_ARGUMENT && len == 0);
  len = 77;
  CHECK(sic_sockaddr_from_text(NULL, 9, 1, &ss, &len) == SIC_STATUS_NULL_ARGUMENT && len == 0);
  len = 77;
  CHECK(sic_sockaddr_from_text("192.0.2.1", 9, 1, NULL, &len) == SIC_STATUS_NULL_ARGUMENT && len == 0);
  memset(&ss, SENTINEL, sizeof ss);
  CHECK(sic_sockaddr_from_text("192.0.2.1", 9, 1, &ss, NULL) == SIC_STATUS_NULL_ARGUMENT &&
        all_bytes(&ss, 0, sizeof ss, SENTINEL));
  memset(&outer, 0, sizeof outer);
  memcpy(inside, "192.0.2.1", 9);
  len = 77;
  CHECK(sic_sockaddr_from_text(inside, 9, 1, &outer, &len) == SIC_STATUS_INVALID_ARGUMENT && len == 0 &&
        memcmp(inside, "192.0.2.1", 9) == 0);
}

/* The host's text, through sic_sockaddr_from_text, to the answer. */
static void test_text_to_answer(void) {
  static const struct {
    const char *text;
    uint32_t flags;
    const char *ip;
  } cases[] = {
      {"203.0.113.7", 0, "203.0.113.7"},
      {"2001:DB8:0::7", 0, "2001:db8::7"},
      {"::ffff:203.0.113.7", 0, "203.0.113.7"},
      {"::ffff:203.0.113.7", SIC_FLAG_KEEP_V4_MAPPED, "::ffff:203.0.113.7"},
      {"fe80::1%lo", 0, "fe80::1"},
  };
  size_t i;

  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    struct converted t = to_sockaddr(cases[i].text, 40123);
    struct request r = {SIC_IQ_GET, "address", SIC1, 0, NULL, &t.out, t.out_len, 0, 0, cases[i].flags};
    struct outcome o = run(&r);
    CHECK(t.status == SIC_STATUS_OK);
    CHECK(o.status == SIC_STATUS_OK && strcmp(o.answer.ip, cases[i].ip) == 0 && o.answer.port == 40123);
  }
}

int main(void) {
  test_results();
  test_errors();
  test_passes();
  test_port_policy();
  test_arguments();
  test_agreement();
  test_blank();
  test_sockaddr_from_text();
  test_text_to_answer();
  return checks_report();
}
