/*
 * A growable byte buffer for the tree conversions: a C-stack array for the
 * common case, a userdata anchored at a fixed stack slot beyond it, so that
 * nothing leaks when a Lua error unwinds. (A luaL_Buffer cannot be used
 * while the stack is also walked through nested tables, and on 5.1 its
 * content is not contiguous.)
 */
#ifndef XMPP_SIC_LUA_BUFFER_H
#define XMPP_SIC_LUA_BUFFER_H

#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

/* Replies and ordinary requests are a few hundred bytes. */
#define XBUF_LOCAL 4096

struct xbuf {
    lua_State *L;
    char *p;
    size_t len;
    size_t cap;
    int slot;
    char local[XBUF_LOCAL];
};

/* Pushes one value (the anchor slot): keep the stack balanced around it. */
static inline void xbuf_init(lua_State *L, struct xbuf *b)
{
    b->L = L;
    b->p = b->local;
    b->len = 0;
    b->cap = sizeof b->local;
    lua_pushnil(L);
    b->slot = lua_gettop(L);
}

/* Room for n more bytes at b->p + b->len. */
static inline char *xbuf_reserve(struct xbuf *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap;
        char *p;

        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) {
                luaL_error(b->L, "xmpp_sic: buffer size overflow");
            }
            cap *= 2;
        }
        p = (char *)lua_newuserdata(b->L, cap);
        memcpy(p, b->p, b->len);
        lua_replace(b->L, b->slot);
        b->p = p;
        b->cap = cap;
    }
    return b->p + b->len;
}

static inline void xbuf_add(struct xbuf *b, const char *s, size_t n)
{
    memcpy(xbuf_reserve(b, n), s, n);
    b->len += n;
}

#define xbuf_addliteral(b, s) xbuf_add((b), "" s, sizeof(s) - 1)

#endif
