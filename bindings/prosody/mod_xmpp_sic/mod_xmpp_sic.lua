-- mod_xmpp_sic: XEP-0279 Server IP Check, answered by the xmpp-sic library.
--
-- The protocol (which requests to answer, which errors, how addresses are
-- written) lives in the library; this module only gathers what Prosody parsed
-- and knows about the connection, hands it over, and builds the reply the
-- library describes with Prosody's own util.stanza.
-- It replaces mod_ipcheck.

local st = require "util.stanza";
local stanza_mt, error_reply = st.stanza_mt, st.error_reply;
local setmetatable, tostring = setmetatable, tostring;

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
local handle_parsed = sic.handle_parsed;
local STREAM, WEBSOCKET, BOSH = sic.TRANSPORT_STREAM, sic.TRANSPORT_WEBSOCKET, sic.TRANSPORT_BOSH;
local SOCKET, PROXY_PROTOCOL, FORWARDED = sic.SOURCE_SOCKET, sic.SOURCE_PROXY_PROTOCOL, sic.SOURCE_FORWARDED;
-- A caught panic is a bug in the library; anything else it refuses (a JID
-- it finds invalid) is worth a warning.
local PANIC = sic.STATUS_PANIC;

-- Flags are distinct bits, so adding them is OR on every Lua Prosody runs on.
local flags = 0;
if not module:get_option_boolean("xmpp_sic_legacy", true) then
	flags = flags + sic.FLAG_NO_SIC0;
end
if module:get_option_boolean("xmpp_sic_keep_v4_mapped", false) then
	flags = flags + sic.FLAG_KEEP_V4_MAPPED;
end

for _, feature in ipairs(sic.features(flags)) do
	module:add_feature(feature);
end

-- Facts about a c2s session's connection; whether they allow a <port/> is
-- the library's decision.
-- * Every BOSH session has bosh_wait (mod_bosh refuses a session without
--   'wait'); mod_websocket keeps the upgrade request in websocket_request.
-- * Behind a trusted HTTP proxy, mod_http replaces the request's ip with the
--   X-Forwarded-For address while the connection's own peer stays the proxy:
--   the two differ. mod_net_proxy makes a PROXY-protocol connection report
--   the client from the header as its peer, and keeps the proxy's own
--   address in conn.proxyip.
-- conn:ip() and conn:clientport() are what Prosody recorded when the
-- connection was accepted; the socket itself is not asked (getpeername
-- fails on a socket wrapped by STARTTLS).
local function peer_of(origin)
	local ip, conn = origin.ip, origin.conn;
	local transport = origin.bosh_wait and BOSH or origin.websocket_request and WEBSOCKET or STREAM;
	if not (ip and conn) then
		return ip, nil, transport, SOCKET;
	end
	local source = (conn.ip and conn:ip() ~= ip) and FORWARDED or conn.proxyip and PROXY_PROTOCOL or SOCKET;
	if conn.clientport then
		return ip, conn:clientport(), transport, source;
	elseif conn.port then
		return ip, conn:port(), transport, source;
	end
	return ip, nil, transport, source;
end

-- The reply is util.stanza's data structure, built as plain tables: inside
-- Prosody every table and string a reply allocates is paid again by the
-- garbage collector, and util.stanza's builders (st.reply, :tag, :text)
-- re-validate every name and value they are given. The tables are exactly
-- what those builders produce.

-- A child element holding text, as :tag(name):text(text) makes it (the
-- namespace is the parent's).
local function leaf(name, text)
	return setmetatable({ name = name, attr = {}, tags = {}, text }, stanza_mt);
end

-- The payload of a result: sic:0 <ip/> holds the address as text,
-- <address/> (sic:0 and sic:1) an <ip/> and, when the library says so, a
-- <port/>.
local function payload_of(name, ns, ip, port)
	if name == "ip" then
		return setmetatable({ name = name, attr = { xmlns = ns }, tags = {}, ip }, stanza_mt);
	end
	local ip_el = leaf("ip", ip);
	if port then
		local port_el = leaf("port", tostring(port));
		return setmetatable({ name = name, attr = { xmlns = ns }, tags = { ip_el, port_el }, ip_el, port_el }, stanza_mt);
	end
	return setmetatable({ name = name, attr = { xmlns = ns }, tags = { ip_el }, ip_el }, stanza_mt);
end

-- st.reply(stanza) for an IQ, with the payload in it. The id, to and from
-- are the values Prosody parsed and stamped, which it has validated
-- already: st.reply would check them again, and that check alone costs
-- about a tenth of the whole request inside Prosody.
local function result_of(stanza, payload)
	local attr = stanza.attr;
	return setmetatable({ name = "iq", attr = { id = attr.id, type = "result", to = attr.from, from = attr.to },
		tags = { payload }, payload }, stanza_mt);
end

local function on_request(event)
	local origin, stanza = event.origin, event.stanza;
	local sender, ip, port, transport, source;
	if origin.type == "c2s" then
		sender = origin.full_jid;
		ip, port, transport, source = peer_of(origin);
	else
		-- From a remote server or a component: the connection's address is
		-- not the requester's, so none is given (the library refuses anyway
		-- to reveal an address to anyone but the account itself).
		sender = stanza.attr.from;
	end
	if not sender then
		return; -- not expected after authentication; let Prosody answer
	end

	-- The library reads the parts Prosody parsed (type, the payload's name,
	-- namespace and shape) and answers with plain values; the reply is
	-- built here as a util.stanza object, with Prosody's own id, from and
	-- to, and origin.send takes it through stanza filters and stream
	-- management.
	-- "result", name, ns, ip, port | "error", type, condition, text | false
	-- (not ours) | nil, message, status (a failure).
	local kind, a, b, c, d = handle_parsed(stanza, sender, stanza.attr.to, ip, port, transport, source, flags);
	if kind == "result" then
		origin.send(result_of(stanza, payload_of(a, b, c, d)));
		return true;
	elseif kind == "error" then
		origin.send(error_reply(stanza, a, b, c));
		return true;
	elseif kind == nil then
		module:log(b == PANIC and "error" or "warn", "xmpp-sic could not handle IQ %s from %s: %s (status %s)",
			stanza.attr.id, sender, a, tostring(b));
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
