-- LuaRocks package of the xmpp_sic Lua C module. `luarocks make` builds in
-- the current directory, so run it from bindings/lua:
--   cd bindings/lua && luarocks --lua-version 5.4 [--tree DIR] make
-- Building needs a C compiler and Rust's cargo: the module links the
-- xmpp-sic static library, which the Makefile builds from the repository.
rockspec_format = "3.0"
package = "xmpp-sic"
version = "0.2.0-1"

source = {
   -- Replace with the project's public repository when it has one.
   url = "git+https://example.invalid/xmpp-sic.git",
   tag = "v0.2.0",
}

description = {
   summary = "XEP-0279 Server IP Check for XMPP servers (Lua binding of xmpp-sic)",
   detailed = [[
      Answers XEP-0279 Server IP Check requests (urn:xmpp:sic:0 and
      urn:xmpp:sic:1) through the xmpp-sic Rust library, linked in
      statically. Used by Prosody's mod_xmpp_sic.
   ]],
   license = "MIT OR Apache-2.0",
}

dependencies = {
   "lua >= 5.1, < 5.5",
}

build = {
   type = "make",
   makefile = "Makefile",
   build_target = "rock",
   build_variables = {
      ROCK_LUA_INC = "$(LUA_INCDIR)",
      CFLAGS = "$(CFLAGS)",
   },
   install_target = "install-rock",
   install_variables = {
      ROCK_LUA_INC = "$(LUA_INCDIR)",
      INST_LIBDIR = "$(LIBDIR)",
   },
}
