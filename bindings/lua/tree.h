/*
 * Conversions between XML text and Prosody's stanza tree shape:
 *   { name = "iq", attr = { ... }, tags = { child elements },
 *     [1], [2], ... = child elements and text strings in document order }
 */
#ifndef XMPP_SIC_LUA_TREE_H
#define XMPP_SIC_LUA_TREE_H

#include <stddef.h>

#include <lua.h>

#include "buffer.h"

#if LUA_VERSION_NUM < 502
#define lua_rawlen lua_objlen
#endif

/* Elements nested deeper are refused both ways; the library's own limit. */
#define TREE_MAX_DEPTH 128

/*
 * Reads the XML the library writes (see tree_read.c) and pushes its tree,
 * with the metatable at stack index `mt` (0 for none) on every element.
 * Returns 1, or 0 with *error set and nothing useful pushed.
 */
int tree_push(lua_State *L, const char *xml, size_t len, int mt, const char **error);

/*
 * Appends the element tree at stack index `idx` to `out`, as util.stanza's
 * tostring() would write it. Raises on a value a stanza tree cannot hold;
 * returns 0 (and writes garbage) when it is nested deeper than
 * TREE_MAX_DEPTH.
 */
int tree_write(lua_State *L, int idx, struct xbuf *out);

int l_to_tree(lua_State *L);
int l_to_xml(lua_State *L);

#endif
