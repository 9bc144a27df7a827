/*
 * xmpp_sic: the Lua binding of xmpp-sic (XEP-0279 Server IP Check).
 *
 * Thin by design: Lua values are checked and converted, the C ABI decides,
 * and its answer is handed back as plain values for the host to build its
 * reply with its own XML library. No XML is read or written here. Misuse (a
 * wrong type, a port out of range, unknown flag bits, a table that is not a
 * stanza) raises; an expected failure (an unparsable IP, a JID the library
 * rejects) returns nil, message, status.
 *
 * Builds against Lua 5.4 and against LuaJIT/Lua 5.1 from the same source.
 * Not linked with liblua: the interpreter that loads us exports the API.
 */

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <lauxlib.h>
#include <lua.h>

#include "xmpp_sic.h"

/* Overridable only so that a test build can prove the load-time check. */
#ifndef XMPP_SIC_EXPECTED_ABI
#define XMPP_SIC_EXPECTED_ABI SIC_ABI_VERSION
#endif

/* PUC Lua 5.1 has no luaL_newlib (LuaJIT 2.1 does), nor lua_rawlen. */
#if LUA_VERSION_NUM < 502 && !defined(luaL_newlib)
#define luaL_newlib(L, l) (lua_newtable(L), luaL_register((L), NULL, (l)))
#endif
#if LUA_VERSION_NUM < 502
#define lua_rawlen lua_objlen
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

static int push_failure(lua_State *L, const char *message, sic_status status)
{
    lua_pushnil(L);
    lua_pushstring(L, message);
    lua_pushinteger(L, (lua_Integer)status);
    return 3;
}

/* Every status but OK: false on PASS, nil, message, status otherwise. */
static int push_not_ok(lua_State *L, sic_status status)
{
    if (status == SIC_STATUS_PASS) {
        lua_pushboolean(L, 0);
        return 1;
    }
    return push_failure(L, sic_status_str(status), status);
}

/* The client's address and port (arguments ip_arg, ip_arg + 1): *addr_len
 * is 0 when no IP is given; returns 0 when the IP text is not an address
 * (the library decides), which the caller reports. */
static int check_peer(lua_State *L, int ip_arg, struct sockaddr_storage *addr, socklen_t *addr_len)
{
    size_t ip_len;
    const char *ip = opt_string(L, ip_arg, &ip_len);
    uint16_t port = (uint16_t)opt_whole(L, ip_arg + 1, 65535, "port");

    *addr_len = 0;
    if (ip == NULL) {
        return 1;
    }
    return sic_sockaddr_from_text(ip, ip_len, port, addr, addr_len) == SIC_STATUS_OK;
}

/* ---- handle_iq: the raw entry, on the library's own parser -------------- */

static sic_status call_raw(const char *iq, size_t iq_len, const char *sender, size_t sender_len, const char *target,
                           size_t target_len, const struct sockaddr_storage *peer, socklen_t peer_len, uint32_t flags,
                           char *out, size_t cap, size_t *out_len)
{
    return sic_handle_iq((const uint8_t *)iq, iq_len, sender, sender_len, target, target_len,
                         peer_len ? (const struct sockaddr *)peer : NULL, peer_len, flags, (uint8_t *)out, cap,
                         out_len);
}

/*
 * handle_iq(stanza, sender, target|nil, ip|nil, port|nil [, flags])
 *   -> reply string | false (pass) | nil, message, status
 * Ordinary replies fit the C-stack buffer; a longer one is retried once in a
 * userdata of the exact length the library reports.
 */
static int l_handle_iq(lua_State *L)
{
    size_t iq_len, sender_len, target_len, out_len = 0;
    const char *iq = check_string(L, 1, &iq_len);
    const char *sender = check_string(L, 2, &sender_len);
    const char *target = opt_string(L, 3, &target_len);
    uint32_t flags = opt_flags(L, 6);
    struct sockaddr_storage peer;
    socklen_t peer_len;
    char local[1024];
    char *out = local;
    sic_status status;

    if (!check_peer(L, 4, &peer, &peer_len)) {
        return push_failure(L, "invalid IP address", SIC_STATUS_INVALID_ARGUMENT);
    }
    status = call_raw(iq, iq_len, sender, sender_len, target, target_len, &peer, peer_len, flags, out, sizeof local,
                      &out_len);
    if (status == SIC_STATUS_BUFFER_TOO_SMALL) {
        out = (char *)lua_newuserdata(L, out_len);
        status = call_raw(iq, iq_len, sender, sender_len, target, target_len, &peer, peer_len, flags, out, out_len,
                          &out_len);
    }
    if (status != SIC_STATUS_OK) {
        return push_not_ok(L, status);
    }
    lua_pushlstring(L, out, out_len);
    return 1;
}

/* ---- handle_parsed: the stanza Prosody already parsed -------------------- */

/* Raised for anything that does not have util.stanza's shape. */
static int not_a_stanza(lua_State *L, const char *what)
{
    return luaL_argerror(L, 1, lua_pushfstring(L, "not a stanza: %s", what));
}

/* Pushes t[key] without metamethods: a stanza's fields are raw, and a
 * garbage table's __index must not run. */
static int raw_field(lua_State *L, int t, const char *key)
{
    lua_pushstring(L, key);
    lua_rawget(L, t);
    return lua_type(L, -1);
}

/* Byte-exact: a Lua string may hold a NUL that strcmp would stop at. */
static int is(const char *s, size_t len, const char *literal)
{
    return len == strlen(literal) && memcmp(s, literal, len) == 0;
}


/*
 * `element_bit` when the element at `el` has a child element (other than the
 * one at `skip`, if any), `text_bit` when it has text other than XML
 * whitespace: one pass over its direct children only, so the cost never
 * depends on the depth below.
 */
static uint32_t content_shape(lua_State *L, int el, uint32_t element_bit, uint32_t text_bit, int skip)
{
    size_t i, n = lua_rawlen(L, el);
    uint32_t shape = 0;
    const char *text;
    size_t len;

    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, el, (int)i);
        switch (lua_type(L, -1)) {
        case LUA_TTABLE:
            /* The payload itself, in the IQ's list, is not its own sibling. */
            if (!(skip && lua_rawequal(L, -1, skip))) {
                shape |= element_bit;
            }
            break;
        case LUA_TSTRING:
            text = lua_tolstring(L, -1, &len);
            if (!sic_text_is_blank(text, len)) {
                shape |= text_bit;
            }
            break;
        default:
            return (uint32_t)not_a_stanza(L, lua_pushfstring(L, "a child is a %s", luaL_typename(L, -1)));
        }
        lua_pop(L, 1);
    }
    return shape;
}

static uint32_t iq_type(lua_State *L, int attr)
{
    static const char *const names[] = {"get", "set", "result", "error"};
    static const uint32_t types[] = {SIC_IQ_GET, SIC_IQ_SET, SIC_IQ_RESULT, SIC_IQ_ERROR};
    const char *s;
    size_t i, len;

    switch (raw_field(L, attr, "type")) {
    case LUA_TNIL:
        return SIC_IQ_OTHER;
    case LUA_TSTRING:
        s = lua_tolstring(L, -1, &len);
        for (i = 0; i < sizeof names / sizeof names[0]; i++) {
            if (is(s, len, names[i])) {
                return types[i];
            }
        }
        return SIC_IQ_OTHER;
    default:
        return (uint32_t)not_a_stanza(L, "attr.type is not a string");
    }
}

/*
 * Reads the stanza at index 1 into `iq`, leaving what its pointers point
 * into on the stack. Only the IQ's own fields, its first child element and
 * that element's direct children are looked at.
 */
static void read_stanza(lua_State *L, struct sic_iq *iq)
{
    int stanza = 1, attr, tags, payload, pattr;

    if (raw_field(L, stanza, "attr") != LUA_TTABLE) {
        not_a_stanza(L, "attr is not a table");
    }
    attr = lua_gettop(L);
    iq->type = iq_type(L, attr);
    lua_pop(L, 1);

    if (raw_field(L, stanza, "tags") != LUA_TTABLE) {
        not_a_stanza(L, "tags is not a table");
    }
    tags = lua_gettop(L);
    lua_rawgeti(L, tags, 1);
    payload = lua_gettop(L);
    iq->payload_name = iq->payload_ns = NULL;
    iq->payload_name_len = iq->payload_ns_len = 0;
    iq->payload_shape = 0;
    if (lua_isnil(L, payload)) {
        iq->payload_shape = content_shape(L, stanza, SIC_SHAPE_SIBLINGS, SIC_SHAPE_SIBLINGS, 0);
        return;
    }
    if (!lua_istable(L, payload)) {
        not_a_stanza(L, "tags[1] is not a table");
    }
    if (raw_field(L, payload, "name") != LUA_TSTRING) {
        not_a_stanza(L, "tags[1].name is not a string");
    }
    iq->payload_name = lua_tolstring(L, -1, &iq->payload_name_len);
    if (raw_field(L, payload, "attr") != LUA_TTABLE) {
        not_a_stanza(L, "tags[1].attr is not a table");
    }
    pattr = lua_gettop(L);
    switch (raw_field(L, pattr, "xmlns")) {
    case LUA_TNIL:
        break;
    case LUA_TSTRING:
        iq->payload_ns = lua_tolstring(L, -1, &iq->payload_ns_len);
        break;
    default:
        not_a_stanza(L, "tags[1].attr.xmlns is not a string");
    }
    /* Prosody keeps namespace declarations out of attr, except the element's
     * own xmlns: any other key is an attribute. */
    lua_pushnil(L);
    while (lua_next(L, pattr) != 0) {
        size_t len = 0;
        const char *key = NULL;

        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING) {
            key = lua_tolstring(L, -1, &len);
        }
        if (key == NULL || !is(key, len, "xmlns")) {
            iq->payload_shape |= SIC_SHAPE_ATTRIBUTES;
            lua_pop(L, 1);
            break;
        }
    }
    iq->payload_shape |= content_shape(L, payload, SIC_SHAPE_CHILDREN, SIC_SHAPE_TEXT, 0);
    iq->payload_shape |= content_shape(L, stanza, SIC_SHAPE_SIBLINGS, SIC_SHAPE_SIBLINGS, payload);
}

/* Pushes the answer as plain values: no table is built. */
static int push_answer(lua_State *L, const struct sic_answer *answer)
{
    if (answer->kind == SIC_ANSWER_RESULT) {
        lua_pushliteral(L, "result");
        lua_pushstring(L, answer->name);
        lua_pushstring(L, answer->ns);
        lua_pushlstring(L, answer->ip, answer->ip_len);
        if (answer->port != 0) {
            lua_pushinteger(L, answer->port);
        } else {
            lua_pushnil(L);
        }
        return 5;
    }
    lua_pushliteral(L, "error");
    lua_pushstring(L, answer->error_type);
    lua_pushstring(L, answer->error_condition);
    lua_pushstring(L, answer->error_text); /* nil when NULL */
    return 4;
}

/*
 * handle_parsed(stanza, sender, target|nil, ip|nil, port|nil
 *               [, transport [, source [, flags]]])
 *   -> "result", name, ns, ip, port|nil
 *    | "error", type, condition, text|nil
 *    | false (pass)
 *    | nil, message, status
 */
static int l_handle_parsed(lua_State *L)
{
    struct sic_iq iq;
    struct sic_peer peer;
    struct sic_answer answer;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    uint32_t flags;
    sic_status status;

    if (!lua_istable(L, 1)) {
        return type_error(L, 1, "table");
    }
    lua_settop(L, 8);
    iq.sender = check_string(L, 2, &iq.sender_len);
    iq.target = opt_string(L, 3, &iq.target_len);
    peer.transport = opt_whole(L, 6, UINT32_MAX, "transport");
    if (peer.transport > SIC_TRANSPORT_BOSH) {
        luaL_argerror(L, 6, "unknown transport");
    }
    peer.source = opt_whole(L, 7, UINT32_MAX, "source");
    if (peer.source > SIC_SOURCE_FORWARDED) {
        luaL_argerror(L, 7, "unknown source");
    }
    flags = opt_flags(L, 8);
    read_stanza(L, &iq);
    if (!check_peer(L, 4, &addr, &addr_len)) {
        return push_failure(L, "invalid IP address", SIC_STATUS_INVALID_ARGUMENT);
    }
    peer.addr = addr_len ? (const struct sockaddr *)&addr : NULL;
    peer.addr_len = addr_len;

    status = sic_handle_parsed(&iq, &peer, flags, &answer);
    if (status != SIC_STATUS_OK) {
        return push_not_ok(L, status);
    }
    return push_answer(L, &answer);
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
    {"handle_parsed", l_handle_parsed},
    {"handle_iq", l_handle_iq},
    {"features", l_features},
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
    {"TRANSPORT_STREAM", SIC_TRANSPORT_STREAM},
    {"TRANSPORT_WEBSOCKET", SIC_TRANSPORT_WEBSOCKET},
    {"TRANSPORT_BOSH", SIC_TRANSPORT_BOSH},
    {"SOURCE_SOCKET", SIC_SOURCE_SOCKET},
    {"SOURCE_PROXY_PROTOCOL", SIC_SOURCE_PROXY_PROTOCOL},
    {"SOURCE_FORWARDED", SIC_SOURCE_FORWARDED},
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
