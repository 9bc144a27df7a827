/*
 * Reply text -> Lua element tree, without an XML parser written in Lua.
 *
 * Why: Prosody needs the reply as a stanza object, and util.xml.parse costs
 * about 40 us per reply (a new expat parser, closures, a Lua callback per
 * event): several times the whole request otherwise. Building the tables
 * here costs about 1.5 us.
 *
 * What it reads: the XML the library writes, and no more: elements with
 * unprefixed names, attributes quoted with ' or " (names may use the xml:
 * prefix, as in xml:lang), character data, the five predefined entities and
 * character references. Anything else (comments, processing instructions,
 * CDATA, a DOCTYPE, namespace prefixes, invalid UTF-8, a second root) is
 * refused with a message, so a caller can fall back to a full parser.
 */

#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "tree.h"

struct reader {
    lua_State *L;
    const unsigned char *p;
    const unsigned char *end;
    int mt; /* stack index of the metatable, 0 for none */
    const char *error;
};

static int fail(struct reader *r, const char *why)
{
    if (r->error == NULL) {
        r->error = why;
    }
    return 0;
}

static int is_name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int is_name_char(unsigned char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_space(struct reader *r)
{
    while (r->p < r->end && is_space(*r->p)) {
        r->p++;
    }
}

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF) and no
 * control characters XML forbids, checked once over the whole input, so
 * every string handed to Lua is valid and the scanners never meet a NUL. */
static int valid_xml_text(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n, k;
        uint32_t cp;

        if (c < 0x80) {
            if (c < 0x20 && !is_space(c)) {
                return 0;
            }
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i <= n) {
            return 0;
        }
        for (k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
            return 0;
        }
        i += n + 1;
    }
    return 1;
}

/* A Char of XML 1.0 that a reference may produce. */
static int is_xml_char(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= 0x10FFFF);
}

static void add_utf8(luaL_Buffer *b, uint32_t cp)
{
    if (cp < 0x80) {
        luaL_addchar(b, (char)cp);
    } else if (cp < 0x800) {
        luaL_addchar(b, (char)(0xC0 | (cp >> 6)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        luaL_addchar(b, (char)(0xE0 | (cp >> 12)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        luaL_addchar(b, (char)(0xF0 | (cp >> 18)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    }
}

static unsigned hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return 16;
}

/* Decodes the reference at s (just after '&') into b; returns the bytes
 * consumed including ';', or 0 when it is not a valid reference. */
static size_t add_reference(luaL_Buffer *b, const unsigned char *s, const unsigned char *end)
{
    static const struct {
        const char *name;
        size_t len;
        char c;
    } predefined[] = {{"lt;", 3, '<'}, {"gt;", 3, '>'}, {"amp;", 4, '&'}, {"apos;", 5, '\''}, {"quot;", 5, '"'}};
    size_t i, left = (size_t)(end - s);
    uint32_t cp = 0;
    int digits = 0, hex;

    for (i = 0; i < sizeof predefined / sizeof predefined[0]; i++) {
        if (left >= predefined[i].len && memcmp(s, predefined[i].name, predefined[i].len) == 0) {
            luaL_addchar(b, predefined[i].c);
            return predefined[i].len;
        }
    }
    if (left < 3 || s[0] != '#') {
        return 0;
    }
    hex = s[1] == 'x';
    /* cp stays below 0x10FFFF * 16 + 15 before the range check: no overflow. */
    for (i = hex ? 2 : 1; i < left && s[i] != ';'; i++, digits++) {
        unsigned v = hex ? hex_value(s[i]) : (s[i] >= '0' && s[i] <= '9') ? (unsigned)(s[i] - '0') : 16;
        if (v >= (hex ? 16u : 10u) || cp > 0x10FFFF) {
            return 0;
        }
        cp = cp * (hex ? 16 : 10) + v;
    }
    if (i >= left || digits == 0 || !is_xml_char(cp)) {
        return 0;
    }
    add_utf8(b, cp);
    return i + 1;
}

/* Pushes the decoded text up to '<', the closing `quote` (0 for character
 * data) or the end, and moves past it. */
static int push_text(struct reader *r, unsigned char quote)
{
    const unsigned char *start = r->p, *s;
    luaL_Buffer b;

    while (r->p < r->end && *r->p != '<' && *r->p != '&' && *r->p != quote) {
        r->p++;
    }
    if (r->p >= r->end || *r->p != '&') {
        lua_pushlstring(r->L, (const char *)start, (size_t)(r->p - start));
        return 1;
    }
    /* References are rare; nothing else touches the stack meanwhile. */
    luaL_buffinit(r->L, &b);
    luaL_addlstring(&b, (const char *)start, (size_t)(r->p - start));
    for (s = r->p; s < r->end && *s != '<' && *s != quote; s++) {
        if (*s == '&') {
            size_t used = add_reference(&b, s + 1, r->end);
            if (used == 0) {
                luaL_pushresult(&b);
                return fail(r, "bad character or entity reference");
            }
            s += used;
        } else {
            luaL_addchar(&b, (char)*s);
        }
    }
    r->p = s;
    luaL_pushresult(&b);
    return 1;
}

static size_t name_length(const unsigned char *p, const unsigned char *end)
{
    const unsigned char *s = p;

    if (s >= end || !is_name_start(*s)) {
        return 0;
    }
    while (s < end && is_name_char(*s)) {
        s++;
    }
    return (size_t)(s - p);
}

/* Reads attributes into the table on top of the stack, up to '>' or '/>'. */
static int read_attributes(struct reader *r, int *empty)
{
    lua_State *L = r->L;

    for (;;) {
        int had_space = r->p < r->end && is_space(*r->p);
        size_t n;
        unsigned char quote;

        skip_space(r);
        if (r->p >= r->end) {
            return fail(r, "unexpected end in a tag");
        }
        if (*r->p == '>' || (*r->p == '/' && r->p + 1 < r->end && r->p[1] == '>')) {
            *empty = *r->p == '/';
            r->p += *empty ? 2 : 1;
            return 1;
        }
        n = name_length(r->p, r->end);
        if (n == 0 || !had_space) {
            return fail(r, "bad attribute");
        }
        if (r->p + n < r->end && r->p[n] == ':') {
            /* The one prefix bound without a declaration (xml:lang); any
             * other needs namespace processing a stanza tree lacks. */
            size_t local = name_length(r->p + n + 1, r->end);
            if (n != 3 || memcmp(r->p, "xml", 3) != 0 || local == 0) {
                return fail(r, "namespace prefixes are not supported");
            }
            n += 1 + local;
        }
        lua_pushlstring(L, (const char *)r->p, n);
        r->p += n;
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (!lua_isnil(L, -1)) {
            return fail(r, "duplicate attribute");
        }
        lua_pop(L, 1);
        skip_space(r);
        if (r->p >= r->end || *r->p != '=') {
            return fail(r, "attribute without a value");
        }
        r->p++;
        skip_space(r);
        if (r->p >= r->end || (*r->p != '\'' && *r->p != '"')) {
            return fail(r, "unquoted attribute value");
        }
        quote = *r->p++;
        if (!push_text(r, quote)) {
            return 0;
        }
        if (r->p >= r->end || *r->p != quote) {
            return fail(r, "'<' or end of input in an attribute value");
        }
        r->p++;
        lua_rawset(L, -3);
    }
}

/*
 * Leaves the element's namespace on the stack (a string, or nil for none)
 * and writes it into attr.xmlns when inherited: Prosody's parsers (util.xml,
 * util.xmppstream) give every element in a namespace its xmlns, and
 * stanza:get_child(name, xmlns) relies on it.
 */
static void resolve_namespace(lua_State *L, int attr, int parent_ns)
{
    lua_pushliteral(L, "xmlns");
    lua_rawget(L, attr);
    if (lua_isnil(L, -1) && parent_ns != 0) {
        lua_pop(L, 1);
        lua_pushvalue(L, parent_ns);
        lua_pushliteral(L, "xmlns");
        lua_pushvalue(L, -2);
        lua_rawset(L, attr);
    } else if (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) == 0) {
        /* xmlns='' takes the element out of any namespace. */
        lua_pop(L, 1);
        lua_pushliteral(L, "xmlns");
        lua_pushnil(L);
        lua_rawset(L, attr);
        lua_pushnil(L);
    }
}

/* Reads the element at r->p (which is at '<') and pushes its table;
 * `parent_ns` is the stack index of the parent's namespace, 0 for none. */
static int read_element(struct reader *r, int depth, int parent_ns)
{
    lua_State *L = r->L;
    const unsigned char *name;
    size_t name_len;
    int element, attr, ns, tags, empty = 0, nchildren = 0, ntags = 0;

    if (depth > TREE_MAX_DEPTH) {
        return fail(r, "nested too deeply");
    }
    luaL_checkstack(L, 12, "xmpp_sic: reading a reply");
    r->p++; /* '<' */
    name = r->p;
    name_len = name_length(r->p, r->end);
    if (name_len == 0) {
        return fail(r, "markup other than an element");
    }
    r->p += name_len;
    if (r->p < r->end && *r->p == ':') {
        return fail(r, "namespace prefixes are not supported");
    }

    /* Sized for the common shapes (one child, a few attributes): growing
     * tables while they fill is most of the cost otherwise. */
    lua_createtable(L, 1, 3);
    element = lua_gettop(L);
    lua_pushlstring(L, (const char *)name, name_len);
    lua_setfield(L, element, "name");
    lua_createtable(L, 0, 4);
    attr = lua_gettop(L);
    if (!read_attributes(r, &empty)) {
        return 0;
    }
    lua_pushvalue(L, attr);
    lua_setfield(L, element, "attr");
    resolve_namespace(L, attr, parent_ns);
    ns = lua_isnil(L, -1) ? 0 : lua_gettop(L);
    lua_createtable(L, empty ? 0 : 1, 0);
    tags = lua_gettop(L);

    while (!empty) {
        if (r->p >= r->end) {
            return fail(r, "unclosed element");
        }
        if (*r->p != '<') {
            if (!push_text(r, 0)) {
                return 0;
            }
            lua_rawseti(L, element, ++nchildren);
        } else if (r->p + 1 < r->end && r->p[1] == '/') {
            r->p += 2;
            if ((size_t)(r->end - r->p) < name_len || memcmp(r->p, name, name_len) != 0) {
                return fail(r, "mismatched end tag");
            }
            r->p += name_len;
            skip_space(r);
            if (r->p >= r->end || *r->p != '>') {
                return fail(r, "mismatched end tag");
            }
            r->p++;
            break;
        } else {
            if (!read_element(r, depth + 1, ns)) {
                return 0;
            }
            lua_pushvalue(L, -1);
            lua_rawseti(L, tags, ++ntags);
            lua_rawseti(L, element, ++nchildren);
        }
    }
    lua_setfield(L, element, "tags");
    if (r->mt != 0) {
        lua_pushvalue(L, r->mt);
        lua_setmetatable(L, element);
    }
    lua_settop(L, element);
    return 1;
}

int tree_push(lua_State *L, const char *xml, size_t len, int mt, const char **error)
{
    struct reader r;
    int top = lua_gettop(L);

    r.L = L;
    r.p = (const unsigned char *)xml;
    r.end = r.p + len;
    r.mt = mt;
    r.error = NULL;

    if (!valid_xml_text(r.p, len)) {
        fail(&r, "invalid UTF-8 or a control character");
    } else {
        skip_space(&r);
        if (r.p >= r.end || *r.p != '<') {
            fail(&r, "no root element");
        } else if (read_element(&r, 1, 0)) {
            skip_space(&r);
            if (r.p == r.end) {
                return 1;
            }
            fail(&r, "content after the root element");
        }
    }
    lua_settop(L, top);
    *error = r.error;
    return 0;
}

/* to_tree(xml [, metatable]) -> tree | nil, message */
int l_to_tree(lua_State *L)
{
    const char *xml, *error;
    size_t len;

    if (lua_type(L, 1) != LUA_TSTRING) {
        return luaL_argerror(L, 1, lua_pushfstring(L, "string expected, got %s", luaL_typename(L, 1)));
    }
    if (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TTABLE) {
        return luaL_argerror(L, 2, lua_pushfstring(L, "table expected, got %s", luaL_typename(L, 2)));
    }
    lua_settop(L, 2);
    xml = lua_tolstring(L, 1, &len);
    if (tree_push(L, xml, len, lua_isnil(L, 2) ? 0 : 2, &error)) {
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, error);
    return 2;
}
