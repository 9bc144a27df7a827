/*
 * The xmpp_sic NIF: converts Erlang terms to the arguments of the C ABI in
 * xmpp_sic.h, calls it, and maps the result to Erlang's idiom (badarg for
 * terms of the wrong type, {error, Atom} for expected failures, plain terms
 * for answers, from which the caller builds its own stanza).
 *
 * Reading ejabberd's terms (the IQ's children) is Erlang's part, in
 * xmpp_sic.erl, where pattern matching does it in a few lines and the VM
 * counts its reductions; handle_parts/10 gets the plain values it found.
 *
 * Every call runs on the normal scheduler: handle_parts/10 reads a few
 * terms, text_is_blank/1 scans about 16 KiB in 10 us, and handle_iq/5 reads
 * at most 64 KiB (about 0.4 ms for the costliest stanza); the last two
 * report the bytes they read with enif_consume_timeslice.
 */
#define _POSIX_C_SOURCE 200809L

#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <erl_nif.h>

#include "xmpp_sic.h"

/* Test builds load the same code under another module name. */
#ifndef NIF_MODULE
#define NIF_MODULE xmpp_sic
#endif

/* A test build sets this to another number to prove that load() refuses. */
#ifndef EXPECTED_ABI_VERSION
#define EXPECTED_ABI_VERSION SIC_ABI_VERSION
#endif

/*
 * sic_reply_bound() grows with the JID lengths, so an absurd sender would
 * make handle_iq/5 allocate several times its size before the library
 * refused it as longer than a JID can be.
 */
#define MAX_JID_BYTES SIC_MAX_JID_LEN

/* Bytes of the costliest stanza the library reads in 1% of a 1 ms slice. */
#define BYTES_PER_PERCENT 1024
/* Bytes sic_text_is_blank() scans in 1% of a 1 ms slice (1.6-2 GB/s
 * measured on a busy 2-core VM), rounded down. */
#define BLANK_BYTES_PER_PERCENT 16384

static ERL_NIF_TERM atom_ok, atom_error, atom_pass, atom_result, atom_undefined;
static ERL_NIF_TERM atom_invalid_argument, atom_malformed_stanza, atom_panic;
static ERL_NIF_TERM atom_no_memory, atom_unknown_status, atom_unknown_answer;
static ERL_NIF_TERM atom_true, atom_false;

/* Atoms standing for the library's values, each list in value order. */
static const char *const flag_names[] = {"omit_port", "keep_v4_mapped", "no_sic0"}; /* bit i */
static const char *const shape_names[] = {"children", "text", "attributes", "siblings"}; /* bit i */
static const char *const type_names[] = {"get", "set", "result", "error"};      /* SIC_IQ_* - 1 */
static const char *const transport_names[] = {"stream", "websocket", "bosh"};  /* SIC_TRANSPORT_* */
static const char *const source_names[] = {"socket", "proxy_protocol", "forwarded"}; /* SIC_SOURCE_* */
static const char *const form_names[] = {"sic1_address", "sic0_address", "sic0_ip"}; /* SIC_FORM_* - 1 */
/* The error types and conditions the library answers with today; a newer
 * library's other one is made when met. */
static const char *const error_words[] = {
    "auth", "cancel", "modify", "bad-request", "forbidden", "not-allowed", "service-unavailable",
};
/* The lists above follow the header's numbering; a build against a header
 * that renumbered them fails here. */
typedef char values_in_list_order[(SIC_FLAG_OMIT_PORT == 1 && SIC_FLAG_KEEP_V4_MAPPED == 2 &&
                                   SIC_FLAG_NO_SIC0 == 4 && SIC_SHAPE_CHILDREN == 1 &&
                                   SIC_SHAPE_TEXT == 2 && SIC_SHAPE_ATTRIBUTES == 4 &&
                                   SIC_SHAPE_SIBLINGS == 8 && SIC_IQ_SET == SIC_IQ_GET + 1 &&
                                   SIC_IQ_RESULT == SIC_IQ_GET + 2 && SIC_IQ_ERROR == SIC_IQ_GET + 3 &&
                                   SIC_TRANSPORT_STREAM == 0 && SIC_TRANSPORT_WEBSOCKET == 1 &&
                                   SIC_TRANSPORT_BOSH == 2 && SIC_SOURCE_SOCKET == 0 &&
                                   SIC_SOURCE_PROXY_PROTOCOL == 1 && SIC_SOURCE_FORWARDED == 2 &&
                                   SIC_FORM_SIC0_ADDRESS == SIC_FORM_SIC1_ADDRESS + 1 &&
                                   SIC_FORM_SIC0_IP == SIC_FORM_SIC1_ADDRESS + 2) ? 1 : -1];
#define COUNT(array) (sizeof array / sizeof array[0])
static ERL_NIF_TERM flag_atoms[COUNT(flag_names)], shape_atoms[COUNT(shape_names)];
static ERL_NIF_TERM type_atoms[COUNT(type_names)];
static ERL_NIF_TERM transport_atoms[COUNT(transport_names)], source_atoms[COUNT(source_names)];
static ERL_NIF_TERM form_atoms[COUNT(form_names)], error_word_atoms[COUNT(error_words)];

union peer_addr {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
};

static void make_atom_list(ErlNifEnv *env, const char *const *names, size_t count, ERL_NIF_TERM *atoms)
{
    for (size_t i = 0; i < count; i++)
        atoms[i] = enif_make_atom(env, names[i]);
}

#define MAKE_ATOM_LIST(env, names, atoms) make_atom_list(env, names, COUNT(names), atoms)

static void make_atoms(ErlNifEnv *env)
{
    atom_ok = enif_make_atom(env, "ok");
    atom_error = enif_make_atom(env, "error");
    atom_pass = enif_make_atom(env, "pass");
    atom_result = enif_make_atom(env, "result");
    atom_undefined = enif_make_atom(env, "undefined");
    atom_invalid_argument = enif_make_atom(env, "invalid_argument");
    atom_malformed_stanza = enif_make_atom(env, "malformed_stanza");
    atom_panic = enif_make_atom(env, "panic");
    atom_no_memory = enif_make_atom(env, "no_memory");
    atom_unknown_status = enif_make_atom(env, "unknown_status");
    atom_unknown_answer = enif_make_atom(env, "unknown_answer");
    atom_true = enif_make_atom(env, "true");
    atom_false = enif_make_atom(env, "false");
    MAKE_ATOM_LIST(env, flag_names, flag_atoms);
    MAKE_ATOM_LIST(env, shape_names, shape_atoms);
    MAKE_ATOM_LIST(env, type_names, type_atoms);
    MAKE_ATOM_LIST(env, transport_names, transport_atoms);
    MAKE_ATOM_LIST(env, source_names, source_atoms);
    MAKE_ATOM_LIST(env, form_names, form_atoms);
    MAKE_ATOM_LIST(env, error_words, error_word_atoms);
}

/* The position of `term` in `atoms`, or -1. */
static int atom_index(ERL_NIF_TERM term, const ERL_NIF_TERM *atoms, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (enif_is_identical(term, atoms[i]))
            return (int)i;
    }
    return -1;
}

#define ATOM_INDEX(term, atoms) atom_index(term, atoms, COUNT(atoms))

static int load(ErlNifEnv *env, void **priv_data, ERL_NIF_TERM load_info)
{
    (void)priv_data;
    (void)load_info;
    /* A library built from another ABI would misread our arguments. */
    if (sic_abi_version() != EXPECTED_ABI_VERSION)
        return 1;
    make_atoms(env);
    return 0;
}

static int upgrade(ErlNifEnv *env, void **priv_data, void **old_priv_data, ERL_NIF_TERM load_info)
{
    (void)old_priv_data;
    return load(env, priv_data, load_info);
}

static ERL_NIF_TERM error_tuple(ErlNifEnv *env, ERL_NIF_TERM reason)
{
    return enif_make_tuple2(env, atom_error, reason);
}

/* What a call that produced no answer returns. NULL_ARGUMENT and
 * BUFFER_TOO_SMALL cannot happen: every pointer and size is ours. */
static ERL_NIF_TERM status_term(ErlNifEnv *env, sic_status status)
{
    switch (status) {
    case SIC_STATUS_PASS: return atom_pass;
    case SIC_STATUS_INVALID_ARGUMENT: return error_tuple(env, atom_invalid_argument);
    case SIC_STATUS_MALFORMED_STANZA: return error_tuple(env, atom_malformed_stanza);
    case SIC_STATUS_PANIC: return error_tuple(env, atom_panic);
    default: return error_tuple(env, atom_unknown_status);
    }
}

static void consume(ErlNifEnv *env, size_t units, size_t per_percent)
{
    size_t percent = 1 + units / per_percent;
    enif_consume_timeslice(env, percent > 100 ? 100 : (int)percent);
}

/* A list of atoms, each standing for 1 << its position in `atoms`. */
static int get_bits(ErlNifEnv *env, ERL_NIF_TERM list, const ERL_NIF_TERM *atoms, size_t count,
                    uint32_t *out)
{
    ERL_NIF_TERM head;
    uint32_t bits = 0;
    int bit;

    while (enif_get_list_cell(env, list, &head, &list)) {
        if ((bit = atom_index(head, atoms, count)) < 0)
            return 0;
        bits |= 1u << bit;
    }
    *out = bits;
    return enif_is_empty_list(env, list);
}

#define GET_BITS(env, list, atoms, out) get_bits(env, list, atoms, COUNT(atoms), out)

static int get_flags(ErlNifEnv *env, ERL_NIF_TERM list, uint32_t *flags)
{
    return GET_BITS(env, list, flag_atoms, flags);
}

static int get_bounded_uint(ErlNifEnv *env, ERL_NIF_TERM term, unsigned max, unsigned *out)
{
    return enif_get_uint(env, term, out) && *out <= max;
}

/*
 * An inet:ip_address() 4-tuple becomes AF_INET and an 8-tuple AF_INET6,
 * v4-mapped ones included: the library unmaps them (or keeps them with
 * keep_v4_mapped), so the choice stays in one place. *len is 0 for
 * `undefined`.
 */
static int get_peer(ErlNifEnv *env, ERL_NIF_TERM term, union peer_addr *peer, socklen_t *len)
{
    const ERL_NIF_TERM *pair, *parts;
    int arity, i;
    unsigned port, part;

    memset(peer, 0, sizeof *peer);
    *len = 0;
    if (enif_is_identical(term, atom_undefined))
        return 1;
    if (!enif_get_tuple(env, term, &arity, &pair) || arity != 2 ||
        !get_bounded_uint(env, pair[1], 65535, &port) ||
        !enif_get_tuple(env, pair[0], &arity, &parts))
        return 0;
    if (arity == 4) {
        unsigned char *octets = (unsigned char *)&peer->v4.sin_addr;
        for (i = 0; i < 4; i++) {
            if (!get_bounded_uint(env, parts[i], 255, &part))
                return 0;
            octets[i] = (unsigned char)part;
        }
        peer->v4.sin_family = AF_INET;
        peer->v4.sin_port = htons((uint16_t)port);
        *len = sizeof peer->v4;
        return 1;
    }
    if (arity == 8) {
        for (i = 0; i < 8; i++) {
            if (!get_bounded_uint(env, parts[i], 65535, &part))
                return 0;
            peer->v6.sin6_addr.s6_addr[2 * i] = (unsigned char)(part >> 8);
            peer->v6.sin6_addr.s6_addr[2 * i + 1] = (unsigned char)(part & 0xFF);
        }
        peer->v6.sin6_family = AF_INET6;
        peer->v6.sin6_port = htons((uint16_t)port);
        *len = sizeof peer->v6;
        return 1;
    }
    return 0;
}

/* `undefined` and <<>> are both "no target". */
static int get_target(ErlNifEnv *env, ERL_NIF_TERM term, ErlNifBinary *target)
{
    if (enif_is_identical(term, atom_undefined)) {
        memset(target, 0, sizeof *target);
        return 1;
    }
    return enif_inspect_binary(env, term, target);
}

/* For the target and the payload's name and namespace, whose absence is
 * (NULL, 0). */
static const char *bytes_or_null(const ErlNifBinary *bin)
{
    return bin->size ? (const char *)bin->data : NULL;
}

/* For the sender, which is required: an empty one is an invalid JID, not
 * a missing argument. */
static const char *bytes(const ErlNifBinary *bin)
{
    return bin->size ? (const char *)bin->data : "";
}

/* --- handle_parts/10: what xmpp_sic:handle_parsed/8 read ------------------- */

/* Any other atom is a type attribute the library answers bad-request. */
static int get_iq_type(ErlNifEnv *env, ERL_NIF_TERM term, uint32_t *type)
{
    int known = ATOM_INDEX(term, type_atoms);

    *type = known >= 0 ? (uint32_t)known + SIC_IQ_GET : SIC_IQ_OTHER;
    return known >= 0 || enif_is_atom(env, term);
}

static int get_connection(ERL_NIF_TERM transport, ERL_NIF_TERM source, struct sic_peer *peer)
{
    int t = ATOM_INDEX(transport, transport_atoms), s = ATOM_INDEX(source, source_atoms);

    peer->transport = (uint32_t)t;
    peer->source = (uint32_t)s;
    return t >= 0 && s >= 0;
}

static ERL_NIF_TERM make_text(ErlNifEnv *env, const char *text, size_t len)
{
    ERL_NIF_TERM term;

    memcpy(enif_make_new_binary(env, len, &term), text, len);
    return term;
}

static ERL_NIF_TERM error_word(ErlNifEnv *env, const char *word)
{
    for (size_t i = 0; i < COUNT(error_words); i++) {
        if (strcmp(word, error_words[i]) == 0)
            return error_word_atoms[i];
    }
    return enif_make_atom(env, word);
}

static ERL_NIF_TERM answer_term(ErlNifEnv *env, const struct sic_answer *answer)
{
    size_t form = answer->form - (size_t)SIC_FORM_SIC1_ADDRESS;

    if (answer->kind == SIC_ANSWER_ERROR && answer->error_type && answer->error_condition) {
        const char *text = answer->error_text ? answer->error_text : "";
        return enif_make_tuple4(env, atom_error, error_word(env, answer->error_type),
                                error_word(env, answer->error_condition),
                                make_text(env, text, strlen(text)));
    }
    if (answer->kind != SIC_ANSWER_RESULT || form >= COUNT(form_atoms) ||
        answer->ip_len >= sizeof answer->ip)
        return error_tuple(env, atom_unknown_answer);
    return enif_make_tuple4(env, atom_result, form_atoms[form],
                            make_text(env, answer->ip, answer->ip_len),
                            answer->port ? enif_make_uint(env, answer->port) : atom_undefined);
}

/*
 * handle_parts(Type, Name, Ns, Shape, Sender, Target, Peer, Transport,
 * Source, Flags): the payload's local name and namespace as binaries, <<>>
 * for none, and its shape as a list of shape_names; the rest as for
 * handle_parsed/8 in xmpp_sic.erl.
 */
static ERL_NIF_TERM nif_handle_parts(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    struct sic_iq iq;
    struct sic_peer peer;
    struct sic_answer answer;
    union peer_addr addr;
    ErlNifBinary name, ns, sender, target;
    uint32_t flags;
    sic_status status;

    (void)argc;
    if (!get_iq_type(env, argv[0], &iq.type) || !enif_inspect_binary(env, argv[1], &name) ||
        !enif_inspect_binary(env, argv[2], &ns) ||
        !GET_BITS(env, argv[3], shape_atoms, &iq.payload_shape) ||
        !enif_inspect_binary(env, argv[4], &sender) || !get_target(env, argv[5], &target) ||
        !get_peer(env, argv[6], &addr, &peer.addr_len) ||
        !get_connection(argv[7], argv[8], &peer) || !get_flags(env, argv[9], &flags))
        return enif_make_badarg(env);
    iq.payload_name = bytes_or_null(&name);
    iq.payload_name_len = name.size;
    iq.payload_ns = bytes_or_null(&ns);
    iq.payload_ns_len = ns.size;
    iq.sender = bytes(&sender);
    iq.sender_len = sender.size;
    iq.target = bytes_or_null(&target);
    iq.target_len = target.size;
    peer.addr = peer.addr_len ? &addr.sa : NULL;
    status = sic_handle_parsed(&iq, &peer, flags, &answer);
    return status == SIC_STATUS_OK ? answer_term(env, &answer) : status_term(env, status);
}

/* The library's rule for XML whitespace, asked of each text in and beside
 * the payload, so that the rule lives in one place. */
static ERL_NIF_TERM nif_text_is_blank(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifBinary text;
    uint32_t blank;

    (void)argc;
    if (!enif_inspect_binary(env, argv[0], &text))
        return enif_make_badarg(env);
    blank = sic_text_is_blank((const char *)text.data, text.size);
    if (text.size >= BLANK_BYTES_PER_PERCENT)
        consume(env, text.size, BLANK_BYTES_PER_PERCENT);
    return blank ? atom_true : atom_false;
}

/* --- handle_iq/5: the raw stanza, on the library's own parser --------------- */

static ERL_NIF_TERM nif_handle_iq(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    ErlNifBinary iq, sender, target, out;
    union peer_addr addr;
    socklen_t addr_len;
    uint32_t flags;
    size_t len;
    sic_status status;

    (void)argc;
    if (!enif_inspect_iolist_as_binary(env, argv[0], &iq) ||
        !enif_inspect_binary(env, argv[1], &sender) || !get_target(env, argv[2], &target) ||
        !get_peer(env, argv[3], &addr, &addr_len) || !get_flags(env, argv[4], &flags))
        return enif_make_badarg(env);
    if (sender.size > MAX_JID_BYTES || target.size > MAX_JID_BYTES)
        return error_tuple(env, atom_invalid_argument);
    if (!enif_alloc_binary(sic_reply_bound(iq.size, sender.size, target.size), &out))
        return error_tuple(env, atom_no_memory);
    status = sic_handle_iq(iq.data, iq.size, bytes(&sender), sender.size,
                           bytes_or_null(&target), target.size, addr_len ? &addr.sa : NULL,
                           addr_len, flags, out.data, out.size, &len);
    consume(env, iq.size, BYTES_PER_PERCENT);
    if (status != SIC_STATUS_OK || !enif_realloc_binary(&out, len)) {
        enif_release_binary(&out);
        return status == SIC_STATUS_OK ? error_tuple(env, atom_no_memory)
                                       : status_term(env, status);
    }
    return enif_make_tuple2(env, atom_ok, enif_make_binary(env, &out));
}

/* --- the rest --------------------------------------------------------------- */

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
        if (feature == NULL)
            break;
        features[n] = make_text(env, feature, strlen(feature));
    }
    return enif_make_list_from_array(env, features, (unsigned)n);
}

static ERL_NIF_TERM nif_version(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    const char *version = sic_version();

    (void)argc;
    (void)argv;
    return make_text(env, version, strlen(version));
}

static ERL_NIF_TERM nif_abi_version(ErlNifEnv *env, int argc, const ERL_NIF_TERM argv[])
{
    (void)argc;
    (void)argv;
    return enif_make_uint(env, sic_abi_version());
}

static ErlNifFunc nif_funcs[] = {
    {"handle_parts", 10, nif_handle_parts, 0},
    {"text_is_blank", 1, nif_text_is_blank, 0},
    {"handle_iq", 5, nif_handle_iq, 0},
    {"features", 1, nif_features, 0},
    {"version", 0, nif_version, 0},
    {"abi_version", 0, nif_abi_version, 0},
};

/* The extra level expands NIF_MODULE before ERL_NIF_INIT stringifies it. */
#define NIF_INIT(module) ERL_NIF_INIT(module, nif_funcs, load, NULL, upgrade, NULL)
NIF_INIT(NIF_MODULE)
