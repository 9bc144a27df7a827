/*
 * xmpp_sic: the Lua binding of xmpp-sic (XEP-0279 Server IP Check).
 *
 * Thin by design: Lua values are checked and converted, the C ABI does the
 * protocol, and its status is mapped to Lua's idiom. Misuse (a wrong type,
 * a port out of range, unknown flag bits) raises; an expected failure (an
 * unparsable IP, a rejected stanza or JID) returns nil, message, status.
 * handle_stanza is the same call for hosts that hold stanzas as Prosody-style
 * trees: the conversions both ways are in tree_write.c and tree_read.c.
 *
 * Builds against Lua 5.4 and against LuaJIT/Lua 5.1 from the same source.
 * Not linked with liblua: the interpreter that loads us exports the API.
 */

#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <lauxlib.h>
#include <lua.h>

#include "buffer.h"
#include "tree.h"
#include "xmpp_sic.h"

/* Overridable only so that a test build can prove the load-time check. */
#ifndef XMPP_SIC_EXPECTED_ABI
#define XMPP_SIC_EXPECTED_ABI SIC_ABI_VERSION
#endif

/* PUC Lua 5.1 has no luaL_newlib (LuaJIT 2.1 does). */
#if LUA_VERSION_NUM < 502 && !defined(luaL_newlib)
#define luaL_newlib(L, l) (lua_newtable(L), luaL_register((L), NULL, (l)))
#endif

#define KNOWN_FLAGS (SIC_FLAG_OMIT_PORT | SIC_FLAG_KEEP_V4_MAPPED | SIC_FLAG_NO_SIC0)

/* Raises with Lua's own wording ("string expected, got nil"). */
static int type_error(lua_State *L, int arg, const char *expected)
{
    const char *msg = lua_pushfstring(L, "%s expected, got %s", expected, luaL_typename(L, arg));
    return luaL_argerror(L, arg, msg);
}

/*
 * Only real strings: luaL_checklstring would also take numbers, and a number
 * where a stanza or JID belongs is a bug in the caller.
 */
static const char *check_string(lua_State *L, int arg, size_t *len)
{
    if (lua_type(L, arg) != LUA_TSTRING) {
        type_error(L, arg, "string");
    }
    return lua_tolstring(L, arg, len);
}

static const char *opt_string(lua_State *L, int arg, size_t *len)
{
    *len = 0;
    if (lua_isnoneornil(L, arg)) {
        return NULL;
    }
    return check_string(L, arg, len);
}

/*
 * A whole number in [0, max]. Checked by hand rather than with
 * luaL_checkinteger so that 5.1 (which truncates 1.5 to 1) and 5.4 (which
 * refuses it) behave alike, and strings are refused on both.
 */
static uint32_t opt_whole(lua_State *L, int arg, uint32_t max, const char *what)
{
    lua_Number n;

    if (lua_isnoneornil(L, arg)) {
        return 0;
    }
    if (lua_type(L, arg) != LUA_TNUMBER) {
        type_error(L, arg, "number");
    }
    n = lua_tonumber(L, arg);
    if (!(n >= 0 && n <= (lua_Number)max) || (lua_Number)(uint32_t)n != n) {
        luaL_argerror(L, arg, lua_pushfstring(L, "%s must be a whole number from 0 to %f", what, (lua_Number)max));
    }
    return (uint32_t)n;
}

static uint32_t opt_flags(lua_State *L, int arg)
{
    uint32_t flags = opt_whole(L, arg, UINT32_MAX, "flags");

    if (flags & ~(uint32_t)KNOWN_FLAGS) {
        luaL_argerror(L, arg, "unknown flag bits");
    }
    return flags;
}

union peer {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

/*
 * A zone is accepted because luasocket reports link-local peers as
 * "fe80::1%eth0"; the reply never shows it, but a zone that names no
 * interface still makes the text unparsable.
 */
static int parse_zone(const char *zone, uint32_t *scope)
{
    char *end;
    unsigned long n;

    if (*zone == '\0') {
        return 0;
    }
    *scope = if_nametoindex(zone);
    if (*scope != 0) {
        return 1;
    }
    n = strtoul(zone, &end, 10);
    if (*end != '\0' || zone[0] < '0' || zone[0] > '9' || n > UINT32_MAX) {
        return 0;
    }
    *scope = (uint32_t)n;
    return 1;
}

/* Returns the sockaddr length, or 0 when `ip` is not an address. */
static socklen_t parse_peer(const char *ip, size_t len, uint16_t port, union peer *peer)
{
    char text[INET6_ADDRSTRLEN + 1 + IF_NAMESIZE];
    char *zone;

    /* inet_pton stops at a NUL that Lua strings may carry inside. */
    if (len == 0 || len >= sizeof text || memchr(ip, '\0', len) != NULL) {
        return 0;
    }
    memcpy(text, ip, len);
    text[len] = '\0';
    memset(peer, 0, sizeof *peer);

    if (memchr(text, ':', len) == NULL) {
        peer->in.sin_family = AF_INET;
        peer->in.sin_port = htons(port);
        if (inet_pton(AF_INET, text, &peer->in.sin_addr) != 1) {
            return 0;
        }
        return (socklen_t)sizeof peer->in;
    }

    peer->in6.sin6_family = AF_INET6;
    peer->in6.sin6_port = htons(port);
    zone = strchr(text, '%');
    if (zone != NULL) {
        *zone++ = '\0';
        if (!parse_zone(zone, &peer->in6.sin6_scope_id)) {
            return 0;
        }
    }
    if (inet_pton(AF_INET6, text, &peer->in6.sin6_addr) != 1) {
        return 0;
    }
    return (socklen_t)sizeof peer->in6;
}

static int push_failure(lua_State *L, const char *message, sic_status status)
{
    lua_pushnil(L);
    lua_pushstring(L, message);
    lua_pushinteger(L, (lua_Integer)status);
    return 3;
}

/*
 * The reply is rendered straight into the memory that becomes the Lua
 * string: a luaL_Buffer. Its built-in space (LUAL_BUFFERSIZE: 1 KiB on 5.4,
 * 8 KiB on LuaJIT) is offered first, capped at sic_reply_bound, because the
 * bound assumes every byte escapes sixfold and so exceeds 1 KiB for ordinary
 * requests whose replies are ~200 bytes; asking for the bound up front would
 * heap-allocate a buffer box on every call (a third of the binding's cost).
 * A reply that does not fit is retried at the exact length the library
 * reports, which never exceeds the bound. 5.1 has no sized buffers: there a
 * userdata holds the rare long reply.
 */
struct reply_area {
    luaL_Buffer b;
#if LUA_VERSION_NUM < 502
    char *big;
#endif
};

static char *reply_area_init(lua_State *L, struct reply_area *area, size_t cap)
{
#if LUA_VERSION_NUM >= 502
    return luaL_buffinitsize(L, &area->b, cap);
#else
    area->big = NULL;
    luaL_buffinit(L, &area->b);
    (void)cap; /* never above LUAL_BUFFERSIZE here */
    return luaL_prepbuffer(&area->b);
#endif
}

/* Only called while the area holds nothing yet, so nothing is lost. */
static char *reply_area_grow(lua_State *L, struct reply_area *area, size_t cap)
{
#if LUA_VERSION_NUM >= 502
    (void)L;
    return luaL_prepbuffsize(&area->b, cap);
#else
    area->big = lua_newuserdata(L, cap);
    return area->big;
#endif
}

static void reply_area_push(lua_State *L, struct reply_area *area, size_t len)
{
#if LUA_VERSION_NUM >= 502
    (void)L;
    luaL_pushresultsize(&area->b, len);
#else
    if (area->big != NULL) {
        lua_pushlstring(L, area->big, len);
        return;
    }
    luaL_addsize(&area->b, len);
    luaL_pushresult(&area->b);
#endif
}

/* Arguments 2..6 of handle_iq and handle_stanza, checked and converted. */
struct request {
    const char *sender;
    size_t sender_len;
    const char *target;
    size_t target_len;
    union peer peer;
    socklen_t peer_len;
    uint32_t flags;
};

/* Raises on misuse; returns 0 when the IP text is not an address. */
static int check_request(lua_State *L, struct request *req)
{
    size_t ip_len;
    const char *ip;
    uint16_t port;

    req->sender = check_string(L, 2, &req->sender_len);
    req->target = opt_string(L, 3, &req->target_len);
    ip = opt_string(L, 4, &ip_len);
    port = (uint16_t)opt_whole(L, 5, 65535, "port");
    req->flags = opt_flags(L, 6);
    req->peer_len = 0;
    if (ip != NULL) {
        req->peer_len = parse_peer(ip, ip_len, port, &req->peer);
        return req->peer_len != 0;
    }
    return 1;
}

static sic_status call(const struct request *req, const char *iq, size_t iq_len, char *out, size_t cap,
                       size_t *out_len)
{
    return sic_handle_iq((const uint8_t *)iq, iq_len, req->sender, req->sender_len, req->target, req->target_len,
                         req->peer_len ? &req->peer.sa : NULL, req->peer_len, req->flags, (uint8_t *)out, cap, out_len);
}

/* A first buffer of the bound, capped at what is at hand without allocating. */
static size_t first_cap(const struct request *req, size_t iq_len, size_t at_hand)
{
    size_t bound = sic_reply_bound(iq_len, req->sender_len, req->target_len);
    return bound < at_hand ? bound : at_hand;
}

/*
 * handle_iq(stanza, sender, target|nil, ip|nil, port|nil [, flags])
 *   -> reply string | false (pass) | nil, message, status
 */
/* What both entry points return for every status but OK: false on PASS,
 * nil, message, status otherwise. */
static int push_not_ok(lua_State *L, sic_status status)
{
    if (status == SIC_STATUS_PASS) {
        lua_pushboolean(L, 0);
        return 1;
    }
    return push_failure(L, sic_status_str(status), status);
}

static int l_handle_iq(lua_State *L)
{
    size_t iq_len, cap, out_len = 0;
    const char *iq = check_string(L, 1, &iq_len);
    struct request req;
    struct reply_area area;
    char *out;
    sic_status status;

    if (!check_request(L, &req)) {
        return push_failure(L, "invalid IP address", SIC_STATUS_INVALID_ARGUMENT);
    }
    cap = first_cap(&req, iq_len, LUAL_BUFFERSIZE);
    out = reply_area_init(L, &area, cap);
    status = call(&req, iq, iq_len, out, cap, &out_len);
    if (status == SIC_STATUS_BUFFER_TOO_SMALL) {
        cap = out_len;
        out = reply_area_grow(L, &area, cap);
        status = call(&req, iq, iq_len, out, cap, &out_len);
    }

    if (status != SIC_STATUS_OK) {
        return push_not_ok(L, status);
    }
    reply_area_push(L, &area, out_len);
    return 1;
}

/*
 * handle_stanza(tree, sender, target|nil, ip|nil, port|nil [, flags [, metatable]])
 *   -> reply tree | reply string | false (pass) | nil, message, status
 * The reply comes back as a tree with `metatable` on every element; as text
 * only if it could not be read back as a tree (never seen: a safety net).
 */
static int l_handle_stanza(lua_State *L)
{
    struct request req;
    struct xbuf iq, reply;
    size_t cap, out_len = 0;
    sic_status status;
    const char *tree_error;
    int mt;

    if (!lua_istable(L, 1)) {
        return type_error(L, 1, "table");
    }
    if (!check_request(L, &req)) {
        return push_failure(L, "invalid IP address", SIC_STATUS_INVALID_ARGUMENT);
    }
    if (!lua_isnoneornil(L, 7) && !lua_istable(L, 7)) {
        return type_error(L, 7, "table");
    }
    lua_settop(L, 7);
    mt = lua_isnil(L, 7) ? 0 : 7;

    xbuf_init(L, &iq);
    if (!tree_write(L, 1, &iq)) {
        return push_failure(L, sic_status_str(SIC_STATUS_MALFORMED_STANZA), SIC_STATUS_MALFORMED_STANZA);
    }
    xbuf_init(L, &reply);
    cap = first_cap(&req, iq.len, reply.cap);
    status = call(&req, iq.p, iq.len, reply.p, cap, &out_len);
    if (status == SIC_STATUS_BUFFER_TOO_SMALL) {
        cap = out_len;
        xbuf_reserve(&reply, cap);
        status = call(&req, iq.p, iq.len, reply.p, cap, &out_len);
    }

    if (status != SIC_STATUS_OK) {
        return push_not_ok(L, status);
    }
    if (!tree_push(L, reply.p, out_len, mt, &tree_error)) {
        lua_pushlstring(L, reply.p, out_len);
    }
    return 1;
}

/* features([flags]) -> { "urn:xmpp:sic:1", ... } */
static int l_features(lua_State *L)
{
    uint32_t flags = opt_flags(L, 1);
    const char *feature;
    size_t i;

    lua_newtable(L);
    for (i = 0; (feature = sic_feature(flags, i)) != NULL; i++) {
        lua_pushstring(L, feature);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static const luaL_Reg functions[] = {
    {"handle_iq", l_handle_iq},
    {"features", l_features},
    {"handle_stanza", l_handle_stanza},
    {"to_tree", l_to_tree},
    {"to_xml", l_to_xml},
    {NULL, NULL},
};

struct constant {
    const char *name;
    lua_Integer value;
};

static const struct constant constants[] = {
    {"FLAG_OMIT_PORT", SIC_FLAG_OMIT_PORT},
    {"FLAG_KEEP_V4_MAPPED", SIC_FLAG_KEEP_V4_MAPPED},
    {"FLAG_NO_SIC0", SIC_FLAG_NO_SIC0},
    {"STATUS_OK", SIC_STATUS_OK},
    {"STATUS_PASS", SIC_STATUS_PASS},
    {"STATUS_BUFFER_TOO_SMALL", SIC_STATUS_BUFFER_TOO_SMALL},
    {"STATUS_NULL_ARGUMENT", SIC_STATUS_NULL_ARGUMENT},
    {"STATUS_INVALID_ARGUMENT", SIC_STATUS_INVALID_ARGUMENT},
    {"STATUS_MALFORMED_STANZA", SIC_STATUS_MALFORMED_STANZA},
    {"STATUS_PANIC", SIC_STATUS_PANIC},
    {"ABI_VERSION", SIC_ABI_VERSION},
    {"MAX_STANZA_LEN", SIC_MAX_STANZA_LEN},
    {NULL, 0},
};

int luaopen_xmpp_sic(lua_State *L);

int luaopen_xmpp_sic(lua_State *L)
{
    const struct constant *c;

    /* A mismatch means the header and the library disagree on the
     * calling convention: refusing to load beats corrupting the server. */
    if (sic_abi_version() != XMPP_SIC_EXPECTED_ABI) {
        return luaL_error(L, "xmpp_sic: library ABI version %d, module built for %d",
                          (int)sic_abi_version(), (int)XMPP_SIC_EXPECTED_ABI);
    }

    luaL_newlib(L, functions);
    for (c = constants; c->name != NULL; c++) {
        lua_pushinteger(L, c->value);
        lua_setfield(L, -2, c->name);
    }
    lua_pushstring(L, sic_version());
    lua_setfield(L, -2, "VERSION");
    return 1;
}
