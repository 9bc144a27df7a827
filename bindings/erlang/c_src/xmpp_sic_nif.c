/*
 * The xmpp_sic NIF: converts Erlang terms to the arguments of the C ABI in
 * xmpp_sic.h, calls it, and maps the status to Erlang's idiom (badarg for
 * terms of the wrong type, {error, Atom} for expected failures).
 *
 * Every call runs on the normal scheduler and reports its work with
 * enif_consume_timeslice: a typical IQ (under 200 bytes) takes one or two
 * microseconds, and the costliest input the library accepts, a stanza of
 * just under 64 KiB made of character references, about 0.4 ms here (the
 * library refuses anything longer at once). See README.md for the figures.
 */
#define _POSIX_C_SOURCE 200809L

#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <erl_nif.h>

#include "xmpp_sic.h"
#include "reply_term.h"

/* Test builds load the same code under another module name. */
#ifndef NIF_MODULE
#define NIF_MODULE xmpp_sic
#endif

/* A test build sets this to another number to prove that load() refuses. */
#ifndef EXPECTED_ABI_VERSION
#define EXPECTED_ABI_VERSION SIC_ABI_VERSION
#endif

/*
 * RFC 7622 caps each of the three JID parts at 1023 bytes. The library
 * refuses longer JIDs itself, but sic_reply_bound() grows with the JID
 * lengths without limit, so an absurd sender would make us allocate several
 * times its size before the library could refuse it.
 */
#define MAX_JID_BYTES (3 * 1023 + 2)

/*
 * Bytes of a worst-case stanza the library handles in 1% of a 1 ms
 * timeslice, rounded down (measured: about 1.8 KiB), so a scheduler is never
 * told less work than was done.
 */
#define BYTES_PER_PERCENT 1024

static ERL_NIF_TERM atom_ok, atom_error, atom_pass, atom_undefined;
static ERL_NIF_TERM atom_omit_port, atom_keep_v4_mapped, atom_no_sic0;
static ERL_NIF_TERM atom_buffer_too_small, atom_null_argument, atom_invalid_argument;
static ERL_NIF_TERM atom_malformed_stanza, atom_panic, atom_unknown_status;
static ERL_NIF_TERM atom_no_memory, atom_malformed_reply;
static struct reply_atoms reply_atoms;

struct request {
    ErlNifBinary iq;
    ErlNifBinary sender;
    ErlNifBinary target; /* size 0 when there is no target */
    union {
        struct sockaddr sa;
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } peer;
    socklen_t peer_len; /* 0 when the peer is unknown */
    uint32_t flags;
};

static void make_atoms(ErlNifEnv *env)
{
    atom_ok = enif_make_atom(env, "ok");
    atom_error = enif_make_atom(env, "error");
    atom_pass = enif_make_atom(env, "pass");
    atom_undefined = enif_make_atom(env, "undefined");
    atom_omit_port = enif_make_atom(env, "omit_port");
    atom_keep_v4_mapped = enif_make_atom(env, "keep_v4_mapped");
    atom_no_sic0 = enif_make_atom(env, "no_sic0");
    atom_buffer_too_small = enif_make_atom(env, "buffer_too_small");
    atom_null_argument = enif_make_atom(env, "null_argument");
    atom_invalid_argument = enif_make_atom(env, "invalid_argument");
    atom_malformed_stanza = enif_make_atom(env, "malformed_stanza");
    atom_panic = enif_make_atom(env, "panic");
    atom_unknown_status = enif_make_atom(env, "unknown_status");
    atom_no_memory = enif_make_atom(env, "no_memory");
    atom_malformed_reply = enif_make_atom(env, "malformed_reply");
    reply_atoms.xmlel = enif_make_atom(env, "xmlel");
    reply_atoms.xmlcdata = enif_make_atom(env, "xmlcdata");
}

static int load(ErlNifEnv *env, void **priv_data, ERL_NIF_TERM load_info)
{
    (void)priv_data;
    (void)load_info;
    /* A library built from another ABI would misread our arguments. */
    if (sic_abi_version() != EXPECTED_ABI_VERSION)
        return 1;
    make_atoms(env);
    reply_term_init();
    return 0;
}

static int upgrade(ErlNifEnv *env, void **priv_data, void **old_priv_data,
                   ERL_NIF_TERM load_info)
{
    (void)old_priv_data;
    return load(env, priv_data, load_info);
}

static ERL_NIF_TERM error_tuple(ErlNifEnv *env, ERL_NIF_TERM reason)
{
    return enif_make_tuple2(env, atom_error, reason);
}

static ERL_NIF_TERM status_atom(sic_status status)
{
    switch (status) {
    case SIC_STATUS_PASS: return atom_pass;
    case SIC_STATUS_BUFFER_TOO_SMALL: return atom_buffer_too_small;
    case SIC_STATUS_NULL_ARGUMENT: return atom_null_argument;
    case SIC_STATUS_INVALID_ARGUMENT: return atom_invalid_argument;
    case SIC_STATUS_MALFORMED_STANZA: return atom_malformed_stanza;
    case SIC_STATUS_PANIC: return atom_panic;
    default: return atom_unknown_status;
    }
}

static int get_flags(ErlNifEnv *env, ERL_NIF_TERM list, uint32_t *flags)
{
    ERL_NIF_TERM head;
    unsigned len;
    uint32_t bits = 0;

    /* enif_get_list_length fails on improper lists. */
    if (!enif_get_list_length(env, list, &len))
        return 0;
    while (enif_get_list_cell(env, list, &head, &list)) {
        if (enif_is_identical(head, atom_omit_port))
            bits |= SIC_FLAG_OMIT_PORT;
        else if (enif_is_identical(head, atom_keep_v4_mapped))
            bits |= SIC_FLAG_KEEP_V4_MAPPED;
        else if (enif_is_identical(head, atom_no_sic0))
            bits |= SIC_FLAG_NO_SIC0;
        else
            return 0;
    }
    *flags = bits;
    return 1;
}

static int get_bounded_uint(ErlNifEnv *env, ERL_NIF_TERM term, unsigned max, unsigned *out)
{
    return enif_get_uint(env, term, out) && *out <= max;
}

/*
 * An inet:ip_address() 4-tuple becomes AF_INET and an 8-tuple AF_INET6,
 * v4-mapped ones included: the library unmaps them (or keeps them with
 * keep_v4_mapped), so the choice stays in one place.
 */
static int get_peer(ErlNifEnv *env, ERL_NIF_TERM term, struct request *req)
{
    const ERL_NIF_TERM *pair, *parts;
    int arity, i;
    unsigned port, part;

    memset(&req->peer, 0, sizeof req->peer);
    req->peer_len = 0;
    if (enif_is_identical(term, atom_undefined))
        return 1;
    if (!enif_get_tuple(env, term, &arity, &pair) || arity != 2)
        return 0;
    if (!get_bounded_uint(env, pair[1], 65535, &port))
        return 0;
    if (!enif_get_tuple(env, pair[0], &arity, &parts))
        return 0;
    if (arity == 4) {
        unsigned char *octets = (unsigned char *)&req->peer.v4.sin_addr;
        for (i = 0; i < 4; i++) {
            if (!get_bounded_uint(env, parts[i], 255, &part))
                return 0;
            octets[i] = (unsigned char)part;
        }
        req->peer.v4.sin_family = AF_INET;
        req->peer.v4.sin_port = htons((uint16_t)port);
        req->peer_len = sizeof req->peer.v4;
    } else if (arity == 8) {
        for (i = 0; i < 8; i++) {
            if (!get_bounded_uint(env, parts[i], 65535, &part))
                return 0;
            req->peer.v6.sin6_addr.s6_addr[2 * i] = (unsigned char)(part >> 8);
            req->peer.v6.sin6_addr.s6_addr[2 * i + 1] = (unsigned char)(part & 0xFF);
        }
        req->peer.v6.sin6_family = AF_INET6;
        req->peer.v6.sin6_port = htons((uint16_t)port);
        req->peer_len = sizeof req->peer.v6;
    } else {
        return 0;
    }
    return 1;
}

/* Returns 0 when a term has the wrong type: the caller raises badarg. */
static int get_request(ErlNifEnv *env, const ERL_NIF_TERM argv[], struct request *req)
{
    if (!enif_inspect_iolist_as_binary(env, argv[0], &req->iq))
        return 0;
    if (!enif_inspect_binary(env, argv[1], &req->sender))
        return 0;
    if (enif_is_identical(argv[2], atom_undefined))
        memset(&req->target, 0, sizeof req->target);
    else if (!enif_inspect_binary(env, argv[2], &req->target))
        return 0;
    if (!get_peer(env, argv[3], req))
        return 0;
    return get_flags(env, argv[4], &req->flags);
}

static sic_status call_library(ErlNifEnv *env, const struct request *req,
                               unsigned char *out, size_t cap, size_t *len)
{
    sic_status status = sic_handle_iq(req->iq.data, req->iq.size,
                                      (const char *)req->sender.data, req->sender.size,
                                      (const char *)req->target.data, req->target.size,
                                      req->peer_len ? &req->peer.sa : NULL, req->peer_len,
                                      req->flags, out, cap, len);
    size_t percent = 1 + req->iq.size / BYTES_PER_PERCENT;

    enif_consume_timeslice(env, percent > 100 ? 100 : (int)percent);
    return status;
}

/* What a call that produced no reply returns. */
static ERL_NIF_TERM status_term(ErlNifEnv *env, sic_status status)
{
    return status == SIC_STATUS_PASS ? atom_pass : error_tuple(env, status_atom(status));
}

/*
 * Runs the library into a fresh binary of `cap` bytes (or a NULL buffer
 * when `null_out` is set, which only tests use). On OK, `out` holds the
 * reply and 1 is returned; otherwise `out` has been released and
 * `*result` is the term to return.
 */
static int run(ErlNifEnv *env, const struct request *req, size_t cap, int null_out,
               ErlNifBinary *out, size_t *len, ERL_NIF_TERM *result)
{
    sic_status status;

    if (!enif_alloc_binary(cap, out)) {
        *result = error_tuple(env, atom_no_memory);
        return 0;
    }
    status = call_library(env, req, null_out ? NULL : out->data, out->size, len);
    if (status == SIC_STATUS_OK)
        return 1;
    enif_release_binary(out);
    *result = status_term(env, status);
    return 0;
}

static int jids_too_long(const struct request *req)
{
    return req->sender.size > MAX_JID_BYTES || req->target.size > MAX_JID_BYTES;
}

static size_t reply_bound(const struct request *req)
{
    return sic_reply_bound(req->iq.size, req->sender.size, req->target.size);
}

static ERL_NIF_TERM reply_binary(ErlNifEnv *env, const struct request *req, size_t cap, int null_out)
{
    ErlNifBinary out;
    ERL_NIF_TERM result;
    size_t len;

    if (!run(env, req, cap, null_out, &out, &len, &result))
        return result;
    if (!enif_realloc_binary(&out, len)) {
        enif_release_binary(&out);
        return error_tuple(env, atom_no_memory);
    }
    return enif_make_tuple2(env, atom_ok, enif_make_binary(env, &out));
}

/* Replies to ordinary requests fit here, sparing an allocation per IQ. */
#define STACK_REPLY_BYTES 2048

static ERL_NIF_TERM reply_xmlel(ErlNifEnv *env, const struct request *req)
{
    unsigned char stack_buf[STACK_REPLY_BYTES];
    unsigned char *buf = stack_buf;
    size_t cap = reply_bound(req), len;
    sic_status status;
    ERL_NIF_TERM el;
    int parsed;

    if (cap > sizeof stack_buf && (buf = enif_alloc(cap)) == NULL)
        return error_tuple(env, atom_no_memory);
    status = call_library(env, req, buf, cap, &len);
    parsed = status == SIC_STATUS_OK && reply_to_xmlel(env, &reply_atoms, buf, len, &el);
    if (buf != stack_buf)
        enif_free(buf);
    if (status != SIC_STATUS_OK)
        return status_term(env, status);
    if (!parsed)
        return error_tuple(env, atom_malformed_reply);
    return enif_make_tuple2(env, atom_ok, el);
}

enum reply_form { AS_BINARY, AS_XMLEL };

static ERL_NIF_TERM handle(ErlNifEnv *env, const ERL_NIF_TERM argv[], enum reply_form form)
{
    struct request req;

    if (!get_request(env, argv, &req))
        return enif_make_badarg(env);
    if (jids_too_long(&req))
        return error_tuple(env, atom_invalid_argument);
    if (form == AS_BINARY)
        return reply_binary(env, &req, reply_bound(&req), 0);
    return reply_xmlel(env, &req);
}

static ERL_NIF_TERM nif_handle_iq(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return handle(env, argv, AS_BINARY);
}

static ERL_NIF_TERM nif_handle_iq_el(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    return handle(env, argv, AS_XMLEL);
}

static ERL_NIF_TERM nif_features(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    /* The library advertises two features at most; the bound keeps the loop finite. */
    enum { MAX_FEATURES = 16 };
    ERL_NIF_TERM features[MAX_FEATURES];
    uint32_t flags;
    size_t n;

    (void)argc;
    if (!get_flags(env, argv[0], &flags))
        return enif_make_badarg(env);
    for (n = 0; n < MAX_FEATURES; n++) {
        const char *feature = sic_feature(flags, n);
        size_t flen;
        unsigned char *dst;
        if (feature == NULL)
            break;
        flen = strlen(feature);
        dst = enif_make_new_binary(env, flen, &features[n]);
        memcpy(dst, feature, flen);
    }
    return enif_make_list_from_array(env, features, (unsigned)n);
}

static ERL_NIF_TERM nif_version(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    const char *version = sic_version();
    size_t len = strlen(version);
    ERL_NIF_TERM term;

    (void)argc;
    (void)argv;
    memcpy(enif_make_new_binary(env, len, &term), version, len);
    return term;
}

static ERL_NIF_TERM nif_abi_version(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    (void)argv;
    return enif_make_uint(env, sic_abi_version());
}

#ifdef XMPP_SIC_TEST_HOOKS
/*
 * handle_iq_cap(Iq, Sender, Target, Peer, Flags, Cap): like handle_iq but
 * with a chosen buffer size, or a NULL buffer for Cap = null, so tests reach
 * the statuses and error paths that the real entry points never provoke.
 */
static ERL_NIF_TERM nif_handle_iq_cap(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct request req;
    unsigned long cap;
    int null_out = 0;

    (void)argc;
    if (!get_request(env, argv, &req))
        return enif_make_badarg(env);
    if (enif_is_identical(argv[5], enif_make_atom(env, "null"))) {
        null_out = 1;
        cap = 1;
    } else if (!enif_get_ulong(env, argv[5], &cap)) {
        return enif_make_badarg(env);
    }
    return reply_binary(env, &req, cap, null_out);
}

/* parse_reply(Text): the reply parser alone, for fuzzing it. */
static ERL_NIF_TERM nif_parse_reply(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifBinary text;
    unsigned char *copy;
    ERL_NIF_TERM el;
    int parsed;

    (void)argc;
    if (!enif_inspect_binary(env, argv[0], &text))
        return enif_make_badarg(env);
    /* An exact-size copy, so ASan sees any read past the end. */
    if ((copy = enif_alloc(text.size ? text.size : 1)) == NULL)
        return error_tuple(env, atom_no_memory);
    if (text.size)
        memcpy(copy, text.data, text.size);
    parsed = reply_to_xmlel(env, &reply_atoms, copy, text.size, &el);
    enif_free(copy);
    return parsed ? enif_make_tuple2(env, atom_ok, el) : atom_error;
}
#endif

static ErlNifFunc nif_funcs[] = {
    {"handle_iq", 5, nif_handle_iq, 0},
    {"handle_iq_el", 5, nif_handle_iq_el, 0},
    {"features", 1, nif_features, 0},
    {"version", 0, nif_version, 0},
    {"abi_version", 0, nif_abi_version, 0},
#ifdef XMPP_SIC_TEST_HOOKS
    {"handle_iq_cap", 6, nif_handle_iq_cap, 0},
    {"parse_reply", 1, nif_parse_reply, 0},
#endif
};

/* The extra level expands NIF_MODULE before ERL_NIF_INIT stringifies it. */
#define NIF_INIT(module) ERL_NIF_INIT(module, nif_funcs, load, NULL, upgrade, NULL)
NIF_INIT(NIF_MODULE)
