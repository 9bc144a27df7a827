-- mod_xmpp_sic: XEP-0279 Server IP Check, answered by the xmpp-sic library.
--
-- The protocol (which requests to answer, which errors, how addresses are
-- written) lives in the library; this module only gathers what Prosody knows
-- about the connection, hands it over, and sends back the stanza it gets.
-- It replaces mod_ipcheck.

local stanza_mt = require "util.stanza".stanza_mt;
local xml_parse = require "util.xml".parse;

-- Found on package.cpath (LUA_CPATH, a LuaRocks tree) or, failing that, as
-- xmpp_sic.so next to this file, so that one plugin directory can hold both.
local function load_library()
	local ok, lib = pcall(require, "xmpp_sic");
	if ok then
		return lib;
	end
	local beside = module:get_directory() .. "/xmpp_sic.so";
	local open = package.loadlib(beside, "luaopen_xmpp_sic");
	if open then
		return open();
	end
	error("mod_xmpp_sic needs the xmpp_sic Lua module (xmpp_sic.so) on package.cpath or in "
		.. module:get_directory() .. ": " .. tostring(lib));
end

local sic = load_library();
local handle_stanza = sic.handle_stanza;
local OMIT_PORT = sic.FLAG_OMIT_PORT;
-- A client can send a request the library refuses to read (over 64 KiB, say):
-- not worth more than a debug line. A caught panic is a bug in the library.
local MALFORMED, PANIC = sic.STATUS_MALFORMED_STANZA, sic.STATUS_PANIC;

-- Flags are distinct bits, so adding them is OR on every Lua Prosody runs on.
local base_flags = 0;
if not module:get_option_boolean("xmpp_sic_legacy", true) then
	base_flags = base_flags + sic.FLAG_NO_SIC0;
end
if module:get_option_boolean("xmpp_sic_keep_v4_mapped", false) then
	base_flags = base_flags + sic.FLAG_KEEP_V4_MAPPED;
end
local omit_port_flags = base_flags + OMIT_PORT;

for _, feature in ipairs(sic.features(base_flags)) do
	module:add_feature(feature);
end

-- The address and port to report for a c2s session, and the flags to use.
--
-- The port is only meaningful when origin.ip is the peer of the TCP
-- connection we hold:
-- * BOSH: origin.conn is whichever HTTP request arrived last; a client spreads
--   its requests over several connections, so no port identifies it. Every
--   BOSH session has bosh_wait (mod_bosh refuses a session without 'wait';
--   'ver', behind bosh_version, is optional).
-- * Behind a trusted HTTP proxy (WebSocket or BOSH), mod_http replaces the
--   request's ip with the X-Forwarded-For address while the connection's own
--   peer stays the proxy: the two differ, and the port would be the proxy's.
-- Plain c2s (and PROXY-protocol connections, whose conn reports the real
-- client) keep the port. conn:ip() and conn:clientport() are the names
-- Prosody recorded when the connection was accepted; the socket itself is not
-- asked (getpeername fails on a socket wrapped by STARTTLS).
local function peer_of(origin)
	local ip, conn = origin.ip, origin.conn;
	if not (ip and conn) or origin.bosh_wait then
		return ip, nil, omit_port_flags;
	end
	if conn.ip and conn:ip() ~= ip then
		return ip, nil, omit_port_flags;
	end
	if conn.clientport then
		return ip, conn:clientport(), base_flags;
	elseif conn.port then
		return ip, conn:port(), base_flags;
	end
	return ip, nil, omit_port_flags;
end

local function on_request(event)
	local origin, stanza = event.origin, event.stanza;
	local sender, ip, port, flags;
	if origin.type == "c2s" then
		sender = origin.full_jid;
		ip, port, flags = peer_of(origin);
	else
		-- From a remote server or a component: the connection's address is
		-- not the requester's, so none is given (the library refuses anyway
		-- to reveal an address to anyone but the account itself).
		sender, flags = stanza.attr.from, base_flags;
	end
	if not sender then
		return; -- not expected after authentication; let Prosody answer
	end

	-- handle_stanza is handle_iq(tostring(stanza), ...) with both
	-- conversions done in C: it serialises the stanza exactly as tostring()
	-- would, and returns the reply as a util.stanza object, so that
	-- origin.send goes through stanza filters and stream management's
	-- counters (raw text would bypass both). Done in Lua, the serialising
	-- and above all util.xml.parse made each IQ cost several times more.
	local reply, err, code = handle_stanza(stanza, sender, stanza.attr.to, ip, port, flags, stanza_mt);
	if type(reply) == "string" then
		-- The library's reply could not be read back as a plain tree: never
		-- seen, but the full parser is the right fallback.
		local parsed, parse_err = xml_parse(reply);
		if not parsed then
			module:log("error", "Could not parse the reply to IQ %s from %s: %s", stanza.attr.id, sender, parse_err);
			return;
		end
		reply = parsed;
	end
	if reply then
		origin.send(reply);
		return true;
	elseif reply == nil then
		local level = code == MALFORMED and "debug" or code == PANIC and "error" or "warn";
		module:log(level, "xmpp-sic could not handle IQ %s from %s: %s (status %s)",
			stanza.attr.id, sender, err, tostring(code));
	end
	-- Pass, or a failure already logged: let the next handler (or Prosody's
	-- service-unavailable) deal with it.
end

-- iq/bare and iq/host fire "iq/<to>/<xmlns>:<name>" for get and set alike
-- before the typed events, so one hook per payload sees both: a set must
-- reach the library to get its not-allowed. "bare" covers IQs with no 'to'
-- and to any local account; "host" those to the domain itself.
for _, payload in ipairs({ "urn:xmpp:sic:1:address", "urn:xmpp:sic:0:ip", "urn:xmpp:sic:0:address" }) do
	module:hook("iq/bare/" .. payload, on_request);
	module:hook("iq/host/" .. payload, on_request);
end

local function warn_about_ipcheck()
	module:log("warn", "mod_ipcheck is loaded on %s too; mod_xmpp_sic replaces it, remove it from modules_enabled", module.host);
end
if require "core.modulemanager".is_loaded(module.host, "ipcheck") then
	warn_about_ipcheck();
end
module:hook("module-loaded", function(event)
	if event.module == "ipcheck" then
		warn_about_ipcheck();
	end
end);
