/*
 * Lua element tree -> XML text, byte for byte what util.stanza's tostring()
 * writes for the same tree (same attribute order, since lua_next walks a
 * table as pairs() does; same escaping; same ns1, ns2... prefixes for
 * namespaced attributes, which Prosody keys as "uri\1name").
 *
 * Why: the library takes the request as text. Prosody's serialiser is Lua
 * that builds a table of small strings per stanza; in C the text goes into
 * one buffer with no garbage, which is most of what lets mod_xmpp_sic cost
 * less per IQ than mod_ipcheck.
 */

#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "tree.h"

/* Escapes exactly the five characters util.stanza's xml_escape does. */
static void add_escaped(struct xbuf *out, const char *s, size_t len)
{
    size_t run = 0, i;

    for (i = 0; i < len; i++) {
        const char *esc;
        size_t esc_len;

        switch (s[i]) {
        case '\'':
            esc = "&apos;", esc_len = 6;
            break;
        case '"':
            esc = "&quot;", esc_len = 6;
            break;
        case '<':
            esc = "&lt;", esc_len = 4;
            break;
        case '>':
            esc = "&gt;", esc_len = 4;
            break;
        case '&':
            esc = "&amp;", esc_len = 5;
            break;
        default:
            continue;
        }
        xbuf_add(out, s + run, i - run);
        xbuf_add(out, esc, esc_len);
        run = i + 1;
    }
    xbuf_add(out, s + run, len - run);
}

static void add_decimal(struct xbuf *out, unsigned n)
{
    char digits[16];
    size_t i = sizeof digits;

    do {
        digits[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0);
    xbuf_add(out, digits + i, sizeof digits - i);
}

/* Strings found in the tree stay referenced by it (argument 1 of every
 * caller) after they are popped, so their pointers stay valid. */
static const char *raw_string(lua_State *L, int table, const char *key, size_t *len)
{
    const char *s;

    lua_pushstring(L, key);
    lua_rawget(L, table);
    s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, len) : NULL;
    lua_pop(L, 1);
    return s;
}

static void write_attributes(lua_State *L, int element, struct xbuf *out, const char *parent_ns,
                             size_t parent_ns_len, const char **own_ns, size_t *own_ns_len)
{
    unsigned nsid = 0;
    int attr;

    *own_ns = NULL;
    *own_ns_len = 0;
    lua_pushliteral(L, "attr");
    lua_rawget(L, element);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    if (!lua_istable(L, -1)) {
        luaL_error(L, "xmpp_sic: stanza tree: attr is a %s, not a table", luaL_typename(L, -1));
    }
    attr = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, attr) != 0) {
        size_t k_len, v_len;
        const char *k, *v, *sep;

        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
            luaL_error(L, "xmpp_sic: stanza tree: attributes must map strings to strings");
        }
        k = lua_tolstring(L, -2, &k_len);
        v = lua_tolstring(L, -1, &v_len);
        sep = memchr(k, '\1', k_len);
        if (sep != NULL) {
            size_t uri_len = (size_t)(sep - k);
            xbuf_addliteral(out, " xmlns:ns");
            add_decimal(out, ++nsid);
            xbuf_addliteral(out, "='");
            add_escaped(out, k, uri_len);
            xbuf_addliteral(out, "' ns");
            add_decimal(out, nsid);
            xbuf_addliteral(out, ":");
            xbuf_add(out, sep + 1, k_len - uri_len - 1);
        } else {
            if (k_len == 5 && memcmp(k, "xmlns", 5) == 0) {
                *own_ns = v;
                *own_ns_len = v_len;
                if (parent_ns != NULL && parent_ns_len == v_len && memcmp(parent_ns, v, v_len) == 0) {
                    lua_pop(L, 1);
                    continue;
                }
            }
            xbuf_addliteral(out, " ");
            xbuf_add(out, k, k_len);
        }
        xbuf_addliteral(out, "='");
        add_escaped(out, v, v_len);
        xbuf_addliteral(out, "'");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int write_element(lua_State *L, int element, struct xbuf *out, const char *parent_ns, size_t parent_ns_len,
                         int depth)
{
    const char *name, *ns;
    size_t name_len, ns_len, n, i;

    if (depth > TREE_MAX_DEPTH) {
        return 0;
    }
    luaL_checkstack(L, 6, "xmpp_sic: writing a stanza");
    name = raw_string(L, element, "name", &name_len);
    if (name == NULL) {
        luaL_error(L, "xmpp_sic: stanza tree: an element has no name");
    }
    xbuf_addliteral(out, "<");
    xbuf_add(out, name, name_len);
    write_attributes(L, element, out, parent_ns, parent_ns_len, &ns, &ns_len);

    n = (size_t)lua_rawlen(L, element);
    if (n == 0) {
        xbuf_addliteral(out, "/>");
        return 1;
    }
    xbuf_addliteral(out, ">");
    for (i = 1; i <= n; i++) {
        lua_rawgeti(L, element, (int)i);
        if (lua_type(L, -1) == LUA_TSTRING) {
            size_t len;
            const char *text = lua_tolstring(L, -1, &len);
            add_escaped(out, text, len);
        } else if (lua_istable(L, -1)) {
            /* As util.stanza does, children inherit only an xmlns written
             * on this element, not one this element inherited. */
            if (!write_element(L, lua_gettop(L), out, ns, ns_len, depth + 1)) {
                return 0;
            }
        } else {
            luaL_error(L, "xmpp_sic: stanza tree: child %d is a %s", (int)i, luaL_typename(L, -1));
        }
        lua_pop(L, 1);
    }
    xbuf_addliteral(out, "</");
    xbuf_add(out, name, name_len);
    xbuf_addliteral(out, ">");
    return 1;
}

int tree_write(lua_State *L, int idx, struct xbuf *out)
{
    return write_element(L, idx, out, NULL, 0, 1);
}

/* to_xml(tree) -> string | nil, message */
int l_to_xml(lua_State *L)
{
    struct xbuf out;

    if (!lua_istable(L, 1)) {
        return luaL_argerror(L, 1, lua_pushfstring(L, "table expected, got %s", luaL_typename(L, 1)));
    }
    lua_settop(L, 1);
    xbuf_init(L, &out);
    if (!tree_write(L, 1, &out)) {
        lua_pushnil(L);
        lua_pushliteral(L, "stanza nested too deeply");
        return 2;
    }
    lua_pushlstring(L, out.p, out.len);
    return 1;
}
